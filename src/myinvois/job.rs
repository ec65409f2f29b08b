//! The e-invoice submission job, durable like the mail outbox: every issued
//! invoice has a row (queued in the issuing transaction); a worker on any
//! node claims due rows with a lease, builds the document once (checked by
//! the rule checker first; a problem blocks it, named, until the data is
//! corrected), signs it and keeps those exact bytes before the first
//! submission, submits them (waiting as MyInvois says on 422 and 429, backing
//! off on outages; never again after a 202), then polls until MyInvois says
//! Valid or Invalid.

use std::sync::Arc;

use super::client::{Client, DocumentState, Submitted};
use super::signature::Signer;
use super::store::{self, EInvoiceRow, Progress};
use crate::state::AppState;

/// E-invoicing as configured: the MyInvois client and the signer.
#[derive(Clone)]
pub struct EInvoicing {
    /// MyInvois.
    pub client: Client,
    /// Signs every document.
    pub signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for EInvoicing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EInvoicing").field("client", &self.client).finish_non_exhaustive()
    }
}

/// How long a claimed e-invoice is a worker's before another may take it.
pub const LEASE_MS: i64 = 60_000;
/// How often a blocked e-invoice is looked at again (its data may have been
/// corrected meanwhile).
pub const BLOCKED_RETRY_MS: i64 = 3_600_000;
/// Most e-invoices one run works on.
pub const BATCH: i64 = 20;

/// The wait before attempt `attempts + 1` after an outage: 5 s doubling, at
/// most 15 minutes.
#[must_use]
pub fn backoff_ms(attempts: i64) -> i64 {
    (5_000_i64 << attempts.clamp(0, 8)).min(900_000)
}

/// Works on every due e-invoice once; returns how many. Safe on several
/// nodes at once: each row is one worker's while its lease lasts.
///
/// # Errors
/// A database fault.
pub async fn run_once(state: &AppState, owner: &str) -> anyhow::Result<usize> {
    let Some(e_invoicing) = state.e_invoicing.clone() else { return Ok(0) };
    let now_ms = state.clock.now_ms();
    let mut worked = 0;
    for id in store::due(state.db.pool(), now_ms, BATCH).await? {
        let Some(row) = store::claim(state.db.pool(), id, owner, now_ms, now_ms + LEASE_MS).await? else { continue };
        work(state, &e_invoicing, row, owner).await?;
        worked += 1;
    }
    Ok(worked)
}

async fn work(state: &AppState, e_invoicing: &EInvoicing, row: EInvoiceRow, owner: &str) -> anyhow::Result<()> {
    let now_ms = state.clock.now_ms();
    let progress = match row.status.as_str() {
        "submitted" => poll(e_invoicing, &row, now_ms).await,
        _ => {
            let document = match &row.document {
                Some(document) => document.clone(),
                None => match build(state, e_invoicing, &row, owner).await? {
                    Ok(document) => document,
                    Err((english, malay)) => {
                        let blocked = Progress {
                            status: "blocked",
                            errors: Some((&english, &malay)),
                            next_attempt_at: now_ms + BLOCKED_RETRY_MS,
                            ..Progress::default()
                        };
                        store::progress(state.db.pool(), row.id, owner, &blocked, now_ms).await?;
                        return Ok(());
                    }
                },
            };
            return submit(state, e_invoicing, &row, owner, &document).await;
        }
    };
    let (status, long_id, errors, next) = progress;
    let valid = long_id.map(|long_id| {
        let url = e_invoicing.client.validation_url(row.uuid.as_deref().unwrap_or_default(), &long_id);
        (long_id, url)
    });
    let change = Progress {
        status,
        long_id: valid.as_ref().map(|(long_id, url)| (long_id.as_str(), url.as_str())),
        errors: errors.as_ref().map(|(en, ms)| (en.as_str(), ms.as_str())),
        next_attempt_at: next,
        ..Progress::default()
    };
    let recorded = store::progress(state.db.pool(), row.id, owner, &change, now_ms).await?;
    if recorded && valid.is_some() {
        // The invoice's PDF is produced again with the e-invoice's QR code
        // (the earlier bytes are kept).
        crate::documents::supersede(state, &row.document_number).await?;
        // Its notes waited for its uuid.
        store::wake_notes_of(state.db.pool(), &row.document_number, now_ms).await?;
    }
    Ok(())
}

type Polled = (&'static str, Option<String>, Option<(String, String)>, i64);

async fn poll(e_invoicing: &EInvoicing, row: &EInvoiceRow, now_ms: i64) -> Polled {
    let (Some(uid), Some(uuid)) = (&row.submission_uid, &row.uuid) else {
        return ("queued", None, None, now_ms);
    };
    let wait = i64::try_from(super::client::POLL_EVERY.as_millis()).unwrap_or(4_000);
    match e_invoicing.client.state(uid, uuid, now_ms).await {
        Ok(DocumentState::Pending) => ("submitted", None, None, now_ms + wait),
        Ok(DocumentState::Valid(long_id)) => ("valid", Some(long_id), None, now_ms),
        Ok(DocumentState::Invalid(english, malay)) => ("invalid", None, Some((english, malay)), now_ms),
        Ok(DocumentState::Cancelled) => ("cancelled", None, None, now_ms),
        Err(error) => {
            tracing::warn!(%error, uuid, "MyInvois could not be asked about a submission");
            ("submitted", None, None, now_ms + backoff_ms(row.attempts))
        }
    }
}

/// Builds, checks and signs the e-invoice, and keeps the bytes; the rule
/// checker's problems (English, Malay) when it cannot be submitted.
async fn build(
    state: &AppState,
    e_invoicing: &EInvoicing,
    row: &EInvoiceRow,
    owner: &str,
) -> anyhow::Result<Result<String, (String, String)>> {
    let now = state.clock.now();
    let mut connection = state.db.pool().acquire().await?;
    let Some(document) = super::compose::document(&mut connection, &row.document_number, now).await? else {
        let missing = format!("{} does not exist", row.document_number);
        return Ok(Err((missing.clone(), missing)));
    };
    drop(connection);
    let text = document.to_json();
    let node = super::json::parse(&text)?;
    let mut problems = super::rules::check(&node);
    problems.extend(super::rules::check_totals(&node));
    if !problems.is_empty() {
        let english = problems.iter().map(super::rules::Problem::english).collect::<Vec<_>>().join("; ");
        let malay = problems.iter().map(super::rules::Problem::malay).collect::<Vec<_>>().join("; ");
        return Ok(Err((english, malay)));
    }
    let signing_time = now.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let signed = super::signature::sign(&text, e_invoicing.signer.as_ref(), &signing_time)?;
    let sha256 = crate::digest::sha256_hex(signed.as_bytes());
    if !store::keep_document(state.db.pool(), row.id, owner, &signed, &sha256).await? {
        anyhow::bail!("the lease of e-invoice {} was lost before its document was kept", row.document_number);
    }
    Ok(Ok(signed))
}

async fn submit(
    state: &AppState,
    e_invoicing: &EInvoicing,
    row: &EInvoiceRow,
    owner: &str,
    document: &str,
) -> anyhow::Result<()> {
    let now_ms = state.clock.now_ms();
    let submitted = e_invoicing.client.submit(document.as_bytes(), &row.document_number, now_ms).await;
    let wait = i64::try_from(super::client::POLL_EVERY.as_millis()).unwrap_or(4_000);
    let base = Progress { attempted: true, ..Progress::default() };
    let change = match &submitted {
        Submitted::Accepted { submission_uid, uuid } => Progress {
            status: "submitted",
            submitted: Some((submission_uid, uuid)),
            next_attempt_at: now_ms + wait,
            ..base
        },
        Submitted::Rejected(error) | Submitted::Refused(error) => {
            Progress { status: "invalid", errors: Some((error, error)), next_attempt_at: now_ms, ..base }
        }
        Submitted::RetryAfter(seconds) => Progress {
            status: "queued",
            next_attempt_at: now_ms + i64::try_from(*seconds).unwrap_or(60) * 1_000,
            ..base
        },
        Submitted::Unavailable(error) => {
            tracing::warn!(%error, number = row.document_number, "MyInvois is unavailable; the e-invoice waits");
            Progress { status: "queued", next_attempt_at: now_ms + backoff_ms(row.attempts), ..base }
        }
    };
    let recorded = store::progress(state.db.pool(), row.id, owner, &change, now_ms).await?;
    if let (false, Submitted::Accepted { submission_uid, uuid }) = (recorded, &submitted) {
        // The lease ran out meanwhile: what MyInvois accepted must not be lost.
        store::record_accepted(state.db.pool(), row.id, (submission_uid, uuid), now_ms).await?;
    }
    Ok(())
}

/// Runs the job every `every` on this node until it stops.
pub fn spawn(state: AppState, every: std::time::Duration) {
    // Unique per worker, also for two servers in one process.
    let mut nonce = [0_u8; 6];
    let _ = getrandom::fill(&mut nonce);
    let owner = format!("node:{}:{}", std::process::id(), crate::digest::to_hex(&nonce));
    let jobs = state.jobs.clone();
    jobs.every(every, "e-invoice submission run", move || {
        let (state, owner) = (state.clone(), owner.clone());
        async move { run_once(&state, &owner).await.map(drop) }
    });
}
