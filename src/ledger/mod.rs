//! The quota ledger: one account per (developer, product), append-only
//! entries, and a balance row updated in the same transaction as each entry.
//! Writes go through the [`writer`] (group commit); reads go to the pool.
//!
//! Invariants, enforced by the code and by CHECK constraints:
//! `available = credited − consumed − held`, every part ≥ 0, and the balance
//! equals the sum of the entries (`kuota ledger verify` proves it).

pub mod domain;
pub mod http;
pub mod outcome;
pub mod service;
pub mod store;
pub mod verify;
mod writer;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

pub use domain::{Balance, HoldExpiry, HoldSettlement, IdempotencyKey, Reference, SignedUnits, Units};
pub use outcome::{HoldView, Outcome, Rejection};
pub use store::StoredResponse;

use crate::clock::Clock;
use crate::db::Db;
use crate::error::AppError;

/// The actor named on entries written when a hold times out.
pub const EXPIRY_ACTOR: &str = "system:hold-expiry";

/// A change to the ledger, with its inputs already validated.
#[derive(Debug, Clone)]
pub enum Operation {
    /// Use units now.
    Consume {
        /// Developer id.
        developer_id: i64,
        /// Product code (known to exist).
        product: String,
        /// Units.
        units: Units,
        /// Caller's reference.
        reference: Reference,
    },
    /// Reserve units until committed, released or expired.
    PlaceHold {
        /// Developer id.
        developer_id: i64,
        /// Developer code, for the answer.
        developer_code: String,
        /// Product code.
        product: String,
        /// Units.
        units: Units,
        /// Caller's reference.
        reference: Reference,
        /// Lifetime.
        expiry: HoldExpiry,
    },
    /// End a pending hold.
    SettleHold {
        /// Hold id.
        hold_id: i64,
        /// Commit or release (expiry is the sweeper's).
        settlement: HoldSettlement,
    },
    /// Signed correction by staff.
    Adjust {
        /// Developer id.
        developer_id: i64,
        /// Product code.
        product: String,
        /// Signed units.
        units: SignedUnits,
        /// Why.
        reason: Reference,
    },
    /// Give back the units of holds past their expiry (all, or one developer's).
    ExpireDueHolds {
        /// Only this developer's, when given.
        developer_id: Option<i64>,
    },
}

/// An idempotent request's identity: the client, its key, and a hash of what
/// was asked (method, path and canonical body).
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// API client id; keys are per client.
    pub client_id: i64,
    /// The key.
    pub key: IdempotencyKey,
    /// SHA-256 of the request.
    pub request_sha256: String,
}

/// One write to perform.
#[derive(Debug, Clone)]
pub struct Command {
    /// What to do.
    pub operation: Operation,
    /// Who does it.
    pub actor: String,
    /// Present for idempotent requests.
    pub idempotency: Option<Idempotency>,
}

/// The result of a write: new, or the stored answer to an earlier identical one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// Done now.
    Fresh(Outcome),
    /// Done before; this is the first answer again.
    Replayed(StoredResponse),
}

impl Written {
    /// The HTTP answer.
    #[must_use]
    pub fn response(&self) -> StoredResponse {
        match self {
            Self::Fresh(outcome) => outcome.response(),
            Self::Replayed(response) => response.clone(),
        }
    }
}

/// Why a write did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The key was used before with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    KeyReused,
    /// The outcome is unknown (commit failed, writer gone); safe to retry
    /// with the same key.
    #[error("{0}")]
    Unconfirmed(String),
    /// A concurrent process stored the same idempotency key first.
    #[error("a request with the same Idempotency-Key is being processed; retry it")]
    IdempotencyRace,
    /// A database fault inside one command.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<LedgerError> for AppError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::KeyReused => Self::Unprocessable { slug: "idempotency-key-reused", detail: error.to_string() },
            LedgerError::Unconfirmed(detail) => Self::Unavailable(detail),
            LedgerError::IdempotencyRace => Self::Unavailable(error.to_string()),
            LedgerError::Database(cause) => Self::Internal(cause.into()),
        }
    }
}

/// Credits purchased units inside the caller's transaction, so the workflow
/// step that verifies a payment and the quota it buys commit together. (HIMS
/// writes go through the writer; a credit is rare and must share the
/// request's transaction, so it takes the same guarded SQL directly.)
///
/// # Errors
/// A database fault.
pub async fn credit(
    connection: &mut sqlx::AnyConnection,
    audit_key: &crate::audit::Key,
    (developer_id, product, units): (i64, &str, i64),
    reference: &str,
    actor: &str,
    now_ms: i64,
) -> sqlx::Result<i64> {
    let (account_id, _) = store::add_credited(connection, developer_id, product, units)
        .await?
        .ok_or_else(|| sqlx::Error::Protocol("a credit cannot take available below zero".into()))?;
    let entry = store::NewEntry {
        account_id,
        developer_id,
        kind: domain::EntryKind::Credit,
        units,
        reference,
        actor,
        hold_id: None,
        at_ms: now_ms,
    };
    let entry_id = store::insert_entry(connection, &entry).await?;
    let subject = format!("ledger_account:{account_id}");
    let after = serde_json::json!({"entry": entry_id, "kind": "credit", "product": product, "units": units, "reference": reference});
    let audit = crate::audit::Record {
        actor,
        action: "ledger.credit",
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record(connection, audit_key, &audit).await?;
    Ok(entry_id)
}

/// Books an adjustment inside the caller's transaction — a second person's
/// confirmation and the entry it books commit together. Takes the audit head
/// before the account, in the writer's order.
///
/// # Errors
/// A database fault. Insufficient quota is an [`Outcome::Rejected`].
pub async fn adjust_within(
    connection: &mut sqlx::AnyConnection,
    audit_key: &crate::audit::Key,
    (developer_id, product): (i64, &str),
    units: SignedUnits,
    reason: &Reference,
    actor: &str,
    now_ms: i64,
) -> Result<Outcome, LedgerError> {
    crate::audit::store::lock_head(connection).await?;
    writer::adjust(connection, audit_key, (developer_id, product), units, reason, actor, now_ms).await
}

/// The ledger service: writes through the group-commit writer, reads from the pool.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
    clock: Arc<dyn Clock>,
    writer: mpsc::Sender<writer::Job>,
}

impl Ledger {
    /// Starts the ledger's writer task; it audits every entry under `audit_key`.
    #[must_use]
    pub fn start(
        db: Db,
        clock: Arc<dyn Clock>,
        audit_key: Arc<crate::audit::Key>,
        metrics: crate::metrics::Metrics,
    ) -> Self {
        let writer = writer::spawn(db.clone(), clock.clone(), audit_key, metrics);
        Self { db, clock, writer }
    }

    /// Performs one write and waits until it is committed.
    ///
    /// # Errors
    /// Key reused, unconfirmed, or a database fault.
    pub async fn write(&self, command: Command) -> Result<Written, LedgerError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || LedgerError::Unconfirmed("the ledger writer has stopped; nothing was written".into());
        self.writer.send(writer::Job { command, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Expires the developer's due holds, if any, so a read never shows units
    /// held by a hold that has run out.
    ///
    /// # Errors
    /// A database fault.
    pub async fn expire_due_holds_of(&self, developer_id: i64) -> Result<(), LedgerError> {
        if store::has_due_holds(self.db.pool(), developer_id, self.clock.now_ms()).await? {
            let operation = Operation::ExpireDueHolds { developer_id: Some(developer_id) };
            self.write(Command { operation, actor: EXPIRY_ACTOR.into(), idempotency: None }).await?;
        }
        Ok(())
    }

    /// Expires every due hold (one sweep, at most a batch); returns how many.
    ///
    /// # Errors
    /// A database fault.
    pub async fn expire_due_holds(&self) -> Result<usize, LedgerError> {
        let operation = Operation::ExpireDueHolds { developer_id: None };
        match self.write(Command { operation, actor: EXPIRY_ACTOR.into(), idempotency: None }).await? {
            Written::Fresh(Outcome::HoldsExpired(count)) => Ok(count),
            _ => Ok(0),
        }
    }

    /// Balances of every active product, after expiring due holds.
    ///
    /// # Errors
    /// A database fault.
    pub async fn balances(&self, developer_id: i64) -> Result<Vec<(String, Balance)>, LedgerError> {
        self.expire_due_holds_of(developer_id).await?;
        Ok(store::balances(self.db.pool(), developer_id).await?)
    }

    /// The database, for reads.
    #[must_use]
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
}
