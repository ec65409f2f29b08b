//! Online payment through Billplz: a developer starts one on a quoted
//! request (one bill per quotation in force, made once); the gateway's
//! signed callback, the payer's signed redirect and reconciliation all end
//! in [`settle`], which reads the bill back from Billplz, checks it against
//! our record and — in one transaction — records the payment and credits the
//! quota (and, with `invoice_on_credit`, issues the invoice), exactly once
//! however many times and in whatever order it is told. A bill paid for a
//! quotation no longer in force, or for another amount, is recorded and
//! waits for retail's decision: credit it, or mark it for refund.

use anyhow::Context as _;

use super::client::{Bill, GatewayError};
use super::signature;
use super::store::{self, BillRow, BillStatus};
use crate::auth::{ApiCaller, Role};
use crate::request::domain::{Action, Party, Status};
use crate::request::service::{SYSTEM_ACTOR, Step};
use crate::request::{Message, RequestError};
use crate::state::AppState;

/// What online payment refuses, and its faults.
#[derive(Debug, thiserror::Error)]
pub enum OnlinePaymentError {
    /// The workflow refuses the step (see [`RequestError`]).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The four `KUOTA_BILLPLZ_*` variables are not all set (409).
    #[error("online payment is not offered here; pay by transfer, at the counter or with a PO")]
    NotOffered,
    /// Only a user of the request's company pays online (403); only retail
    /// decides a late payment.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The gateway could not be reached, or refused (503: try again).
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// A signature missing or wrong (401): nothing was read further.
    #[error("the payment gateway's signature is missing or wrong")]
    BadSignature,
    /// A callback or redirect about a bill we never made (404).
    #[error("there is no online bill {0}")]
    UnknownBill(String),
    /// No such online payment, or another company's (404).
    #[error("online payment {0} does not exist")]
    NotFound(i64),
    /// The bill does not wait for a decision (409).
    #[error("online payment {id} is {status}, not waiting for a decision")]
    NotWaiting {
        /// The bill.
        id: i64,
        /// Where it stands.
        status: &'static str,
    },
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for OnlinePaymentError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<OnlinePaymentError> for crate::error::AppError {
    fn from(error: OnlinePaymentError) -> Self {
        let detail = error.to_string();
        match error {
            OnlinePaymentError::Request(error) => error.into(),
            OnlinePaymentError::NotOffered => Self::conflict("online-payment-not-offered", detail),
            OnlinePaymentError::Forbidden(_) => Self::Forbidden(detail),
            OnlinePaymentError::Gateway(GatewayError::Refused { .. }) => {
                Self::conflict("payment-gateway-refused", detail)
            }
            OnlinePaymentError::Gateway(_) => Self::Unavailable(detail),
            OnlinePaymentError::BadSignature => Self::Unauthorized(detail),
            OnlinePaymentError::UnknownBill(_) | OnlinePaymentError::NotFound(_) => Self::NotFound(detail),
            OnlinePaymentError::NotWaiting { .. } => Self::conflict("online-payment-not-waiting", detail),
            OnlinePaymentError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// An online bill as the developer and the API see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BillView {
    /// Our id.
    pub id: i64,
    /// `billplz`.
    pub provider: &'static str,
    /// The gateway's bill id.
    pub bill_id: String,
    /// The payment page to send the payer to.
    pub url: String,
    /// Amount in sen.
    pub amount: i64,
    /// `pending`, `credited`, `needs_decision`, `refund` or `deleted`.
    pub status: &'static str,
}

impl From<&BillRow> for BillView {
    fn from(row: &BillRow) -> Self {
        Self {
            id: row.id,
            provider: "billplz",
            bill_id: row.bill_id.clone(),
            url: row.url.clone(),
            amount: row.amount.get(),
            status: row.status.as_str(),
        }
    }
}

/// Path of the callback, under `KUOTA_PUBLIC_URL`.
pub const CALLBACK_PATH: &str = "/api/v1/payment-gateways/billplz/callback";
/// Path of the payer's return, under `KUOTA_PUBLIC_URL`.
pub const RETURN_PATH: &str = "/payments/billplz/return";

fn gateway(state: &AppState) -> Result<&super::client::Client, OnlinePaymentError> {
    state.billplz.as_deref().ok_or(OnlinePaymentError::NotOffered)
}

/// A developer user starts paying a quoted request online: the bill for the
/// quotation in force — the pending one when there is one (never a second),
/// else a new one made at Billplz. Returns it and whether it is new.
///
/// # Errors
/// Not offered, not the company's user, not quoted, the gateway down, or a fault.
pub async fn start(
    state: &AppState,
    caller: &ApiCaller,
    request_id: i64,
) -> Result<(BillView, bool), OnlinePaymentError> {
    let mut connection = state.db.pool().acquire().await?;
    let row =
        crate::request::store::find(&mut connection, request_id).await?.ok_or(RequestError::NotFound(request_id))?;
    if crate::request::party_of(caller, &row)? != Party::Developer {
        return Err(OnlinePaymentError::Forbidden("only a user of the developer pays online"));
    }
    let client = gateway(state)?;
    if row.status != Status::Quoted {
        return Err(RequestError::ChangedMeanwhile(row.number.clone()).into());
    }
    let quotation = crate::request::store::current_quotation(&mut connection, request_id)
        .await?
        .ok_or(RequestError::NoQuotation)?;
    let pending = |bills: Vec<BillRow>| {
        bills.into_iter().find(|b| b.quotation_id == quotation.id && b.status == BillStatus::Pending)
    };
    if let Some(existing) = pending(store::for_request(&mut connection, request_id).await?) {
        return Ok((BillView::from(&existing), false));
    }
    let code: crate::developer::DeveloperCode =
        row.developer_code.parse().map_err(|_| anyhow::anyhow!("stored developer code {:?}", row.developer_code))?;
    let company = crate::developer::store::find_by_code(state.db.pool(), &code)
        .await?
        .context("the request's developer vanished")?;
    drop(connection);
    let (callback_url, redirect_url) =
        (format!("{}{CALLBACK_PATH}", state.public_url), format!("{}{RETURN_PATH}", state.public_url));
    let description = format!("Kuota sijil digital HIMS · {} · {}", quotation.number, row.number);
    let bill = client
        .create_bill(&super::client::NewBill {
            email: &company.email,
            name: &company.name.chars().take(255).collect::<String>(),
            amount: quotation.total,
            description: &description.chars().take(200).collect::<String>(),
            reference_1: &row.number,
            callback_url: &callback_url,
            redirect_url: &redirect_url,
        })
        .await?;
    if bill.amount != quotation.total.get() || bill.collection_id != client.account().collection_id {
        delete_at_gateway(state, std::slice::from_ref(&bill.id)).await;
        return Err(GatewayError::Malformed(format!("bill {} is not the one asked for", bill.id)).into());
    }
    record_new_bill(state, caller, &row, quotation.id, &bill).await
}

/// Stores a bill just made at Billplz, under the request's lock; when
/// another caller stored one for the same quotation meanwhile, or the
/// request moved on, ours is deleted at Billplz again.
async fn record_new_bill(
    state: &AppState,
    caller: &ApiCaller,
    request: &crate::request::store::RequestRow,
    quotation_id: i64,
    bill: &Bill,
) -> Result<(BillView, bool), OnlinePaymentError> {
    let (actor, now_ms) = (caller.actor(), state.clock.now_ms());
    let mut transaction = state.db.begin_write().await?;
    let locked = crate::request::store::find_for_update(&mut transaction, request.id, state.db.row_lock_clause())
        .await?
        .ok_or(RequestError::NotFound(request.id))?;
    let current = crate::request::store::current_quotation(&mut transaction, request.id).await?.map(|q| q.id);
    if locked.status != Status::Quoted || current != Some(quotation_id) {
        drop(transaction);
        delete_at_gateway(state, std::slice::from_ref(&bill.id)).await;
        return Err(RequestError::ChangedMeanwhile(request.number.clone()).into());
    }
    let amount = crate::money::Sen::new(bill.amount).context("the gateway's amount")?;
    let new = store::NewBill {
        bill_id: &bill.id,
        request_id: request.id,
        quotation_id,
        developer_id: request.developer_id,
        amount,
        url: &bill.url,
        created_by: &actor,
        now_ms,
    };
    match store::insert(&mut transaction, &new).await {
        Ok(id) => {
            let audit = crate::audit::Record {
                actor: &actor,
                action: "online_payment.start",
                subject: &format!("quota_request:{}", request.id),
                before: None,
                after: Some(serde_json::json!({"online_payment": id, "bill_id": bill.id, "amount_sen": bill.amount})),
                at_ms: now_ms,
            };
            crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
            transaction.commit().await?;
            let row = store::find(&mut *state.db.pool().acquire().await?, id).await?.context("bill just stored")?;
            Ok((BillView::from(&row), true))
        }
        Err(error) if crate::db::is_unique_violation(&error) => {
            drop(transaction);
            delete_at_gateway(state, std::slice::from_ref(&bill.id)).await;
            let bills = store::for_request(&mut *state.db.pool().acquire().await?, request.id).await?;
            let winner = bills.iter().find(|b| b.quotation_id == quotation_id && b.status == BillStatus::Pending);
            Ok((BillView::from(winner.ok_or(RequestError::ChangedMeanwhile(request.number.clone()))?), false))
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes withdrawn bills at Billplz, after the COMMIT that withdrew them.
/// A failure is logged, not raised: a deleted bill can be paid anyway, and
/// such a payment waits for a decision.
pub async fn delete_at_gateway(state: &AppState, bill_ids: &[String]) {
    let Some(client) = state.billplz.as_deref() else { return };
    for id in bill_ids {
        if let Err(error) = client.delete_bill(id).await {
            tracing::warn!(bill = %id, %error, "a withdrawn bill could not be deleted at Billplz");
        }
    }
}

/// What a callback, a redirect or reconciliation did to a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Paid and credited now (the request's id).
    Credited(i64),
    /// Paid, recorded, waiting for retail's decision.
    NeedsDecision(i64),
    /// Nothing to do: decided before (its status now).
    Already(i64, BillStatus),
    /// Not paid at Billplz (a failed attempt, or still due).
    NotPaid(i64),
}

impl Settled {
    /// The request concerned.
    #[must_use]
    pub fn request_id(self) -> i64 {
        match self {
            Self::Credited(id) | Self::NeedsDecision(id) | Self::Already(id, _) | Self::NotPaid(id) => id,
        }
    }
}

/// Where the gateway's word came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The server-to-server callback (form fields).
    Callback,
    /// The payer's browser coming back (`billplz[…]` query parameters).
    Redirect,
}

/// The gateway told us about a bill (callback or redirect): the signature is
/// checked before anything else; the event is stored as received; a paid
/// bill is settled.
///
/// # Errors
/// Not offered, a bad signature, an unknown bill, the gateway down, or a fault.
pub async fn receive(
    state: &AppState,
    source: Source,
    fields: &[(String, String)],
) -> Result<Settled, OnlinePaymentError> {
    let client = gateway(state)?;
    if !signature::verify(&client.account().x_signature_key, fields) {
        return Err(OnlinePaymentError::BadSignature);
    }
    let field = |name: &str| {
        let key = match source {
            Source::Callback => name.to_owned(),
            Source::Redirect => format!("billplz[{name}]"),
        };
        fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str()).unwrap_or_default()
    };
    let bill_id = field("id").to_owned();
    let body =
        serde_json::to_string(&fields.iter().map(|(k, v)| (k, v)).collect::<Vec<_>>()).context("event as JSON")?;
    let kind = if source == Source::Callback { "callback" } else { "redirect" };
    let mut connection = state.db.pool().acquire().await?;
    store::insert_event(&mut connection, &bill_id, kind, &body, state.clock.now_ms()).await?;
    let row = store::find_by_bill_id(&mut connection, &bill_id)
        .await?
        .ok_or_else(|| OnlinePaymentError::UnknownBill(bill_id.clone()))?;
    drop(connection);
    let says_paid = field("paid") == "true" && (source == Source::Redirect || field("state") == "paid");
    if !says_paid {
        return Ok(Settled::NotPaid(row.request_id));
    }
    settle(state, &row).await
}

/// Settles a bill the gateway says is paid: read back from Billplz, checked
/// against our record, then recorded in one transaction — credited when it
/// paid the quotation in force of a quoted request in full, else waiting for
/// a decision. Exactly once, whoever calls and however often.
///
/// # Errors
/// The gateway down, or a fault.
pub async fn settle(state: &AppState, row: &BillRow) -> Result<Settled, OnlinePaymentError> {
    if !row.status.awaits_payment() {
        return Ok(Settled::Already(row.request_id, row.status));
    }
    let client = gateway(state)?;
    let bill = client.get_bill(&row.bill_id).await?;
    let collection = &client.account().collection_id;
    if bill.id != row.bill_id || &bill.collection_id != collection || !bill.is_paid() {
        tracing::warn!(bill = %row.bill_id, "a bill said to be paid is not paid at Billplz (or not ours)");
        return Ok(Settled::NotPaid(row.request_id));
    }
    let body = serde_json::to_vec(&bill_json(&bill)).context("bill as JSON")?;
    let mut connection = state.db.pool().acquire().await?;
    let text = String::from_utf8_lossy(&body);
    store::insert_event(&mut connection, &row.bill_id, "query", &text, state.clock.now_ms()).await?;
    drop(connection);
    record_payment(state, row, &bill, &body).await
}

fn bill_json(bill: &Bill) -> serde_json::Value {
    serde_json::json!({
        "id": bill.id, "collection_id": bill.collection_id, "paid": bill.paid, "state": bill.state,
        "amount": bill.amount, "paid_amount": bill.paid_amount, "paid_at": bill.paid_at, "url": bill.url,
    })
}

/// Why a paid bill cannot be credited by itself, if it cannot.
fn problem_of(row: &BillRow, bill: &Bill, status: Status, current_quotation: Option<i64>) -> Option<&'static str> {
    if bill.amount != row.amount.get() || bill.paid_amount != row.amount.get() {
        Some("amount")
    } else if status == Status::Cancelled {
        Some("request_cancelled")
    } else if status == Status::Expired {
        Some("request_expired")
    } else if status != Status::Quoted {
        Some("request_moved_on")
    } else if current_quotation != Some(row.quotation_id) {
        Some("quotation_superseded")
    } else {
        None
    }
}

/// Records a verified paid bill in one transaction (see [`settle`]).
async fn record_payment(
    state: &AppState,
    row: &BillRow,
    bill: &Bill,
    evidence: &[u8],
) -> Result<Settled, OnlinePaymentError> {
    // Stored before any lock is taken (with S3 a network call); unused when
    // another callback won, which is harmless for a content-addressed blob.
    let evidence_sha256 = store_evidence(state, evidence).await?;
    let (mut transaction, step) = Step::begin_as_system(state, row.request_id).await?;
    // Read again under the request's lock: another callback may have won.
    let Some(row) = store::find(&mut transaction, row.id).await? else {
        return Err(OnlinePaymentError::UnknownBill(row.bill_id.clone()));
    };
    if !row.status.awaits_payment() {
        return Ok(Settled::Already(row.request_id, row.status));
    }
    let current = crate::request::store::current_quotation(&mut transaction, row.request_id).await?.map(|q| q.id);
    let problem = if row.status == BillStatus::Deleted {
        Some(problem_of(&row, bill, step.row.status, current).unwrap_or("bill_deleted"))
    } else {
        problem_of(&row, bill, step.row.status, current)
    };
    let paid_amount = crate::money::Sen::new(bill.paid_amount).context("the gateway's paid amount")?;
    let mut paid = store::Paid {
        status: BillStatus::NeedsDecision,
        paid_amount,
        paid_at: bill.paid_at.as_deref(),
        problem,
        payment_id: None,
    };
    let mut issued = Vec::new();
    if problem.is_none() {
        let payment_id = insert_online_payment(&mut transaction, &step, &row, bill, &evidence_sha256).await?;
        let lines = crate::request::store::lines(&mut transaction, row.request_id).await?;
        issued = crate::request::service::credit(&mut transaction, state, &step, Action::PayOnline, &lines).await?;
        paid = store::Paid { status: BillStatus::Credited, payment_id: Some(payment_id), ..paid };
    }
    if !store::mark_paid(&mut transaction, row.id, &paid, step.now_ms).await? {
        return Ok(Settled::Already(row.request_id, row.status));
    }
    audit_paid(&mut transaction, state, &step, &row, &paid).await?;
    if let Some(problem) = problem {
        tell_retail(&mut transaction, state, &row, problem, step.now_ms).await?;
    }
    transaction.commit().await?;
    crate::request::service::render_issued(state, &issued.iter().map(String::as_str).collect::<Vec<_>>()).await;
    Ok(if problem.is_none() { Settled::Credited(row.request_id) } else { Settled::NeedsDecision(row.request_id) })
}

/// Retail is told a paid bill waits for its decision, in the same transaction.
async fn tell_retail(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    row: &BillRow,
    problem: &str,
    now_ms: i64,
) -> Result<(), OnlinePaymentError> {
    use crate::notify::{Facts, MessageKind, Outgoing, recipients};
    let facts = Facts {
        request_number: row.request_number.clone(),
        developer: row.developer_code.clone(),
        detail: Some(problem.to_owned()),
        reference: Some(row.bill_id.clone()),
        lines: Vec::new(),
    };
    let message =
        Outgoing::new(MessageKind::OnlinePaymentNeedsDecision, &facts, Some(row.request_id), &state.public_url);
    let to = recipients::team(&mut *connection, recipients::Team::Retail).await?;
    crate::notify::enqueue(connection, &message, &to, now_ms).await?;
    Ok(())
}

async fn audit_paid(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    step: &Step,
    row: &BillRow,
    paid: &store::Paid<'_>,
) -> Result<(), OnlinePaymentError> {
    let audit = crate::audit::Record {
        actor: &step.actor,
        action: "online_payment.paid",
        subject: &format!("online_payment:{}", row.id),
        before: Some(serde_json::json!({"status": row.status.as_str()})),
        after: Some(serde_json::json!({
            "status": paid.status.as_str(), "bill_id": row.bill_id, "paid_amount_sen": paid.paid_amount.get(),
            "paid_at": paid.paid_at, "problem": paid.problem, "payment": paid.payment_id,
        })),
        at_ms: step.now_ms,
    };
    crate::audit::record(connection, &state.audit_key, &audit).await?;
    Ok(())
}

/// Stores the gateway's record of a bill; returns its SHA-256.
async fn store_evidence(state: &AppState, evidence: &[u8]) -> Result<String, OnlinePaymentError> {
    Ok(state.blobs.store(evidence).await.context("storing the gateway's record of the bill")?)
}

/// The payment row of a paid bill: method `online`, the bill id as its
/// reference, the gateway's record of the bill (stored already under
/// `evidence_sha256`) as its proof; approved.
async fn insert_online_payment(
    connection: &mut sqlx::AnyConnection,
    step: &Step,
    row: &BillRow,
    bill: &Bill,
    evidence_sha256: &str,
) -> Result<i64, OnlinePaymentError> {
    let paid_on = bill
        .paid_at
        .as_deref()
        .and_then(|text| text.get(..10))
        .and_then(|day| day.parse::<jiff::civil::Date>().ok())
        .unwrap_or(step.today);
    let payment = crate::request::store::NewPayment {
        request_id: row.request_id,
        developer_id: row.developer_id,
        quotation_id: row.quotation_id,
        method: crate::request::payment::Method::Online,
        reference: &row.bill_id,
        // What Billplz says was paid (the bill's amount, unless retail
        // credits a payment of another amount).
        amount: crate::money::Sen::new(bill.paid_amount).context("the gateway's paid amount")?,
        paid_on,
        document_sha256: evidence_sha256,
        document_type: "application/json",
        submitted_by: SYSTEM_ACTOR,
        now_ms: step.now_ms,
    };
    let id = crate::request::store::insert_payment(&mut *connection, &payment).await?;
    let approved = crate::request::payment::PaymentStatus::Approved;
    crate::request::store::decide_payment(&mut *connection, id, approved, None, step.now_ms).await?;
    Ok(id)
}

/// Retail's decision on a paid bill that waits for one.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Credit the quotation it paid (the request moves to `credited`).
    Credit,
    /// The money goes back (done at Billplz); the reason is kept.
    Refund(Message),
}

/// Retail decides a late or odd online payment: credit at the paid
/// quotation (its lines, in one transaction with the payment record and,
/// with `invoice_on_credit`, the invoice), or mark it for refund.
///
/// # Errors
/// Not retail, not found, not waiting, a request that cannot be credited
/// now, or a fault.
pub async fn decide(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    decision: &Decision,
) -> Result<BillView, OnlinePaymentError> {
    if !matches!(caller.role, Role::Retail | Role::Admin) {
        return Err(OnlinePaymentError::Forbidden("only retail decides a late online payment"));
    }
    let row = store::find(&mut *state.db.pool().acquire().await?, id).await?.ok_or(OnlinePaymentError::NotFound(id))?;
    let (mut transaction, step) = Step::begin(state, caller, row.request_id).await?;
    let row = store::find(&mut transaction, id).await?.ok_or(OnlinePaymentError::NotFound(id))?;
    if row.status != BillStatus::NeedsDecision {
        return Err(OnlinePaymentError::NotWaiting { id, status: row.status.as_str() });
    }
    let (mut issued, mut withdrawn) = (Vec::new(), Vec::new());
    let decided = match decision {
        Decision::Credit => {
            let bill = Bill {
                id: row.bill_id.clone(),
                collection_id: String::new(),
                paid: true,
                state: "paid".into(),
                amount: row.amount.get(),
                paid_amount: row.paid_amount.map_or(0, crate::money::Sen::get),
                url: row.url.clone(),
                paid_at: row.paid_at.clone(),
            };
            let evidence = serde_json::to_vec(&bill_json(&bill)).context("bill as JSON")?;
            // Made from the row read under the lock, so stored here: a
            // person's rare decision may wait for one small upload.
            let evidence_sha256 = store_evidence(state, &evidence).await?;
            let payment_id = insert_online_payment(&mut transaction, &step, &row, &bill, &evidence_sha256).await?;
            let quotations = crate::request::store::quotations(&mut transaction, row.request_id).await?;
            let paid = quotations.into_iter().find(|q| q.id == row.quotation_id).context("the paid quotation")?;
            let lines: Vec<(String, i64)> = paid.lines.into_iter().map(|l| (l.product, l.units)).collect();
            let action = Action::CreditLatePayment;
            issued = crate::request::service::credit(&mut transaction, state, &step, action, &lines).await?;
            // Paid now: a bill still pending for a newer quotation must not be paid too.
            withdrawn = store::withdraw_pending(&mut transaction, row.request_id, step.now_ms).await?;
            (BillStatus::Credited, Some(payment_id), None)
        }
        Decision::Refund(reason) => (BillStatus::Refund, None, Some(reason.as_str())),
    };
    if !store::decide(&mut transaction, id, decided, &step.actor, step.now_ms).await? {
        return Err(OnlinePaymentError::NotWaiting { id, status: row.status.as_str() });
    }
    let audit = crate::audit::Record {
        actor: &step.actor,
        action: "online_payment.decide",
        subject: &format!("online_payment:{id}"),
        before: Some(serde_json::json!({"status": row.status.as_str(), "problem": row.problem})),
        after: Some(serde_json::json!({"status": decided.0.as_str(), "payment": decided.1, "reason": decided.2})),
        at_ms: step.now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &audit).await?;
    transaction.commit().await?;
    crate::request::service::render_issued(state, &issued.iter().map(String::as_str).collect::<Vec<_>>()).await;
    delete_at_gateway(state, &withdrawn).await;
    let row = store::find(&mut *state.db.pool().acquire().await?, id).await?.ok_or(OnlinePaymentError::NotFound(id))?;
    Ok(BillView::from(&row))
}

/// Days back reconciliation looks at bills that are no longer pending.
pub const RECONCILE_DAYS: i64 = 7;
/// Billplz bills expire 30 days after creation by default: a withdrawn bill
/// is asked about for that long (it may still be paid), then no more.
pub const BILL_LIFETIME_DAYS: i64 = 30;

/// One difference reconciliation found between Billplz and kuota.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// The gateway's bill id.
    pub bill_id: String,
    /// Our request number.
    pub request_number: String,
    /// `paid_not_credited`, `credited_not_paid`, `amount_differs`, `not_ours` or `unreachable`.
    pub kind: String,
    /// What reconciliation did about it: `credited`, `needs_decision`, or none.
    pub outcome: Option<String>,
}

/// A reconciliation run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reconciliation {
    /// Bills asked about.
    pub checked: usize,
    /// What differed.
    pub findings: Vec<Finding>,
}

/// Asks Billplz about every pending or withdrawn bill and every bill changed
/// in the last [`RECONCILE_DAYS`] days; a bill paid there but not here is
/// settled through the one single-credit path. The run is stored (the
/// finance page shows the latest) and, when it found anything, mailed to
/// retail and finance.
///
/// # Errors
/// Not offered, or a fault (an unreachable bill is a finding, not an error).
pub async fn reconcile(state: &AppState) -> Result<Reconciliation, OnlinePaymentError> {
    let client = gateway(state)?;
    let now_ms = state.clock.now_ms();
    let since = now_ms - RECONCILE_DAYS * 86_400_000;
    let withdrawn_since = now_ms - BILL_LIFETIME_DAYS * 86_400_000;
    let rows = store::to_reconcile(&mut *state.db.pool().acquire().await?, since, withdrawn_since).await?;
    let mut findings = Vec::new();
    for row in &rows {
        let finding = |kind: &str, outcome: Option<&str>| Finding {
            bill_id: row.bill_id.clone(),
            request_number: row.request_number.clone(),
            kind: kind.to_owned(),
            outcome: outcome.map(str::to_owned),
        };
        let bill = match client.get_bill(&row.bill_id).await {
            Ok(bill) => bill,
            Err(error) => {
                tracing::warn!(bill = %row.bill_id, %error, "reconciliation could not read a bill");
                findings.push(finding("unreachable", None));
                continue;
            }
        };
        if bill.amount != row.amount.get() || (bill.is_paid() && bill.paid_amount != row.amount.get()) {
            findings.push(finding("amount_differs", None));
        }
        if bill.id != row.bill_id || bill.collection_id != client.account().collection_id {
            findings.push(finding("not_ours", None));
        } else if bill.is_paid() && row.status.awaits_payment() {
            let evidence = serde_json::to_vec(&bill_json(&bill)).context("bill as JSON")?;
            let outcome = match record_payment(state, row, &bill, &evidence).await {
                Ok(Settled::Credited(_)) => Some("credited"),
                Ok(Settled::NeedsDecision(_)) => Some("needs_decision"),
                Ok(Settled::Already(..) | Settled::NotPaid(_)) => None,
                Err(error) => {
                    tracing::warn!(bill = %row.bill_id, %error, "reconciliation could not record a paid bill");
                    Some("not_recorded")
                }
            };
            findings.push(finding("paid_not_credited", outcome));
        } else if row.status == BillStatus::Credited && !bill.is_paid() {
            findings.push(finding("credited_not_paid", None));
        } else if row.status == BillStatus::Deleted && bill.state == "due" {
            // Withdrawn here (an expired quotation) but still payable there.
            delete_at_gateway(state, std::slice::from_ref(&row.bill_id)).await;
        }
    }
    let report = Reconciliation { checked: rows.len(), findings };
    store_report(state, &report, now_ms).await?;
    Ok(report)
}

async fn store_report(state: &AppState, report: &Reconciliation, now_ms: i64) -> Result<(), OnlinePaymentError> {
    use crate::notify::{Facts, MessageKind, Outgoing, recipients};
    let findings = serde_json::to_string(&report.findings).context("findings as JSON")?;
    let mut transaction = state.db.begin_write().await?;
    let checked = i64::try_from(report.checked).unwrap_or(i64::MAX);
    store::insert_reconciliation(&mut transaction, now_ms, checked, &findings).await?;
    if !report.findings.is_empty() {
        let lines = report
            .findings
            .iter()
            .map(|f| {
                let outcome = f.outcome.as_deref().map(|o| format!(" → {o}")).unwrap_or_default();
                format!("{} · {} · {}{outcome}", f.bill_id, f.request_number, f.kind)
            })
            .collect();
        let facts = Facts {
            detail: Some(crate::format::day_of(now_ms)),
            reference: Some(report.findings.len().to_string()),
            lines,
            ..Facts::default()
        };
        let message = Outgoing::new(MessageKind::PaymentReconciliation, &facts, None, &state.public_url);
        let mut to = recipients::team(&mut transaction, recipients::Team::Retail).await?;
        to.extend(recipients::team(&mut transaction, recipients::Team::Finance).await?);
        crate::notify::enqueue(&mut transaction, &message, &to, now_ms).await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// The latest reconciliation run: when (Unix ms), bills checked, findings.
///
/// # Errors
/// A fault.
pub async fn latest_reconciliation(state: &AppState) -> Result<Option<(i64, i64, Vec<Finding>)>, OnlinePaymentError> {
    let latest = store::latest_reconciliation(&mut *state.db.pool().acquire().await?).await?;
    Ok(latest.map(|(at, checked, findings)| (at, checked, serde_json::from_str(&findings).unwrap_or_default())))
}
