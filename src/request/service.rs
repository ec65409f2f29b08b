//! The purchase workflow's services: each step a developer, retail or admin
//! takes on a request, decided and written here in one transaction — the
//! state change, its timeline event, audit record and outbox messages (all
//! through [`act`]) and the step's own rows. The API and the portal call
//! these with typed inputs and map the typed [`RequestError`] to their own
//! words; neither decides anything about the workflow itself.

use std::collections::BTreeSet;

use anyhow::Context as _;
use jiff::civil::Date;
use sqlx::{Any, Transaction};

use super::domain::{Action, Message, Party, transition};
use super::numbering::{NumberKind, next_number};
use super::payment::{Method, PaymentStatus, sniff};
use super::store::{self, RequestRow};
use super::{ActionContext, LINE_UNITS_MAX, LINES_MAX, LineProblem, RequestError, act, party_of};
use crate::auth::{ApiCaller, Role};
use crate::calendar::WorkingCalendar;
use crate::clock::today_local;
use crate::db::is_unique_violation;
use crate::developer::DeveloperCode;
use crate::developer::domain::DeveloperStatus;
use crate::digest::sha256_hex;
use crate::ledger::Reference;
use crate::money::{BasisPoints, Sen};
use crate::state::AppState;

/// One line of a new request, as asked for: checked by [`submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    /// Product code.
    pub product: String,
    /// Units asked for.
    pub units: i64,
}

/// A payment as submitted by the developer (seed step 4).
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// How it was paid.
    pub method: Method,
    /// PO number or transfer reference.
    pub reference: Reference,
    /// The amount paid; must be the quotation's total.
    pub amount: Sen,
    /// When it was paid.
    pub paid_on: Date,
    /// The uploaded file's name, if it had one.
    pub file_name: Option<String>,
    /// The uploaded proof: PDF, PNG or JPEG by content.
    pub document: Vec<u8>,
}

/// The actor of what kuota does by itself (instant quotation, invoice on
/// credit, recording an online payment).
pub const SYSTEM_ACTOR: &str = "system";

/// The request an action is taken on, with everything the action needs
/// besides the write transaction it runs in.
pub(crate) struct Step {
    pub(crate) row: RequestRow,
    pub(crate) party: Party,
    pub(crate) calendar: WorkingCalendar,
    pub(crate) actor: String,
    pub(crate) today: Date,
    pub(crate) now_ms: i64,
}

impl Step {
    /// Opens a write transaction with the request and the caller's party in it.
    pub(crate) async fn begin(
        state: &AppState,
        caller: &ApiCaller,
        id: i64,
    ) -> Result<(Transaction<'static, Any>, Self), RequestError> {
        let calendar = crate::settings::working_calendar(state.db.pool()).await?;
        let mut transaction = state.db.begin_write().await?;
        let row = store::find_for_update(&mut transaction, id, state.db.row_lock_clause())
            .await?
            .ok_or(RequestError::NotFound(id))?;
        let party = party_of(caller, &row)?;
        let step = Self {
            row,
            party,
            calendar,
            actor: caller.actor(),
            today: today_local(state.clock.now()),
            now_ms: state.clock.now_ms(),
        };
        Ok((transaction, step))
    }

    /// Opens a write transaction with the request in it, for kuota itself
    /// acting (recording an online payment the gateway confirmed).
    pub(crate) async fn begin_as_system(
        state: &AppState,
        id: i64,
    ) -> Result<(Transaction<'static, Any>, Self), RequestError> {
        let calendar = crate::settings::working_calendar(state.db.pool()).await?;
        let mut transaction = state.db.begin_write().await?;
        let row = store::find_for_update(&mut transaction, id, state.db.row_lock_clause())
            .await?
            .ok_or(RequestError::NotFound(id))?;
        let step = Self {
            row,
            party: Party::System,
            calendar,
            actor: SYSTEM_ACTOR.to_owned(),
            today: today_local(state.clock.now()),
            now_ms: state.clock.now_ms(),
        };
        Ok((transaction, step))
    }

    /// This step taken by kuota itself instead of the caller.
    fn into_system(self) -> Self {
        Self { party: Party::System, actor: SYSTEM_ACTOR.to_owned(), ..self }
    }

    /// The same moment and calendar, with kuota itself acting on `row` (the
    /// request as it stands now): instant quotation, invoice on credit.
    pub(crate) fn as_system(&self, row: RequestRow) -> Self {
        Self {
            row,
            party: Party::System,
            calendar: self.calendar.clone(),
            actor: SYSTEM_ACTOR.to_owned(),
            today: self.today,
            now_ms: self.now_ms,
        }
    }

    /// The one place an [`ActionContext`] is made for a caller's action.
    pub(crate) fn context<'a>(
        &'a self,
        state: &'a AppState,
        message: Option<&'a str>,
        reference: Option<&'a str>,
        valid_until: Option<Date>,
    ) -> ActionContext<'a> {
        ActionContext {
            actor: &self.actor,
            party: self.party,
            calendar: &self.calendar,
            today: self.today,
            now_ms: self.now_ms,
            valid_until,
            message,
            portal_url: &state.public_url,
            reference,
            audit_key: &state.audit_key,
            invoice_follows: false,
        }
    }
}

/// Checks request lines: 1 to 10, units 1..=100,000, one line per active product.
async fn check_lines(state: &AppState, lines: &[NewLine]) -> Result<Vec<(String, i64)>, RequestError> {
    if lines.is_empty() || lines.len() > LINES_MAX {
        return Err(RequestError::LineCount);
    }
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if !(1..=LINE_UNITS_MAX).contains(&line.units) {
            problems.push((index, LineProblem::UnitsOutOfRange));
        }
        if !seen.insert(line.product.as_str()) {
            problems.push((index, LineProblem::DuplicateProduct));
        } else if !crate::catalogue::is_active_product(state.db.pool(), &line.product).await? {
            problems.push((index, LineProblem::InactiveProduct(line.product.clone())));
        }
    }
    if problems.is_empty() {
        Ok(lines.iter().map(|line| (line.product.clone(), line.units)).collect())
    } else {
        Err(RequestError::Lines(problems))
    }
}

/// A developer user submits a request for its verified company (seed step
/// 2); retail is told. Returns the new request's id.
///
/// # Errors
/// Not a developer user, another company, a company not verified, lines
/// that break a rule, or a fault.
pub async fn submit(
    state: &AppState,
    caller: &ApiCaller,
    developer: &DeveloperCode,
    lines: &[NewLine],
    note: Option<&Message>,
) -> Result<i64, RequestError> {
    let party = match caller.role {
        Role::DeveloperAdmin | Role::DeveloperMember => Party::Developer,
        Role::Admin => Party::Admin,
        Role::Hims => return Err(RequestError::NotAParty),
        Role::Retail => Party::Retail,
        Role::Finance => Party::Finance,
    };
    let to = transition(None, Action::Submit, party)?;
    let company = crate::developer::store::find_by_code(state.db.pool(), developer)
        .await?
        .filter(|company| caller.may_see_developer(company.id))
        .ok_or_else(|| RequestError::DeveloperNotFound(developer.to_string()))?;
    if company.status != DeveloperStatus::Verified {
        return Err(RequestError::DeveloperNotVerified { code: company.code, status: company.status });
    }
    let lines = check_lines(state, lines).await?;
    let calendar = crate::settings::working_calendar(state.db.pool()).await?;
    let actor = caller.actor();
    let context = ActionContext {
        actor: &actor,
        party,
        calendar: &calendar,
        today: today_local(state.clock.now()),
        now_ms: state.clock.now_ms(),
        valid_until: None,
        message: None,
        portal_url: &state.public_url,
        reference: None,
        audit_key: &state.audit_key,
        invoice_follows: false,
    };
    let due = super::due_on(to, &context).map(|date| date.to_string());
    let note = note.map_or("", Message::as_str);
    let settings = crate::settings::load(state.db.pool()).await?;
    let mut transaction = state.db.begin_write().await?;
    let number = next_number(&mut transaction, NumberKind::Request, context.today.year()).await?;
    let id = store::insert_request(&mut transaction, &number, company.id, note, &actor, due.as_deref(), context.now_ms)
        .await?;
    store::replace_lines(&mut transaction, id, &lines).await?;
    let row = store::find(&mut transaction, id).await?.ok_or(RequestError::NotFound(id))?;
    let details = serde_json::json!({"number": number, "lines": lines});
    let step = super::Recorded { from: None, to, action: Action::Submit, due: due.as_deref(), details: Some(details) };
    super::record(&mut transaction, &row, &step, &context).await?;
    let (today, now_ms) = (context.today, context.now_ms);
    let mut quoted = None;
    if settings.instant_quotation {
        let system = Step { row, party, calendar, actor, today, now_ms }.into_system();
        quoted = quote_at_list_price(&mut transaction, state, &system, &settings).await?;
    }
    transaction.commit().await?;
    if let Some(number) = quoted {
        render_issued(state, &[number.as_str()]).await;
    }
    Ok(id)
}

/// Instant quotation: revision 1 at list price by the system, when every
/// line's product has a price today; `None` (retail quotes) otherwise.
async fn quote_at_list_price(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    step: &Step,
    settings: &crate::settings::Settings,
) -> Result<Option<String>, RequestError> {
    match quote(connection, state, step, BasisPoints::default(), settings).await {
        Ok(number) => Ok(Some(number)),
        Err(RequestError::NoPrice { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Retail asks the developer for missing details.
///
/// # Errors
/// The rules' refusal, not found, or a fault.
pub async fn request_info(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    message: &Message,
) -> Result<(), RequestError> {
    ending_quotation(state, caller, id, Action::RequestInfo, message).await
}

/// Applies an action that ends the quotation's force (information asked
/// after an instant quotation, cancellation): the request's pending online
/// bill is withdrawn with it, and deleted at the gateway after COMMIT.
async fn ending_quotation(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    action: Action,
    message: &Message,
) -> Result<(), RequestError> {
    let (mut transaction, step) = Step::begin(state, caller, id).await?;
    let context = step.context(state, Some(message.as_str()), None, None);
    act(&mut transaction, &step.row, action, &context).await?;
    let withdrawn = crate::billplz::store::withdraw_pending(&mut transaction, id, step.now_ms).await?;
    transaction.commit().await?;
    crate::billplz::service::delete_at_gateway(state, &withdrawn).await;
    Ok(())
}

/// The developer answers an information request, optionally with new lines.
///
/// # Errors
/// The rules' refusal, lines that break a rule, not found, or a fault.
pub async fn respond_info(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    message: &Message,
    lines: Option<&[NewLine]>,
) -> Result<(), RequestError> {
    let lines = match lines {
        Some(lines) => Some(check_lines(state, lines).await?),
        None => None,
    };
    let (mut transaction, step) = Step::begin(state, caller, id).await?;
    let context = step.context(state, Some(message.as_str()), None, None);
    act(&mut transaction, &step.row, Action::RespondInfo, &context).await?;
    if let Some(lines) = lines {
        store::replace_lines(&mut transaction, id, &lines).await?;
    }
    transaction.commit().await?;
    Ok(())
}

/// The developer or retail withdraws the request.
///
/// # Errors
/// The rules' refusal, not found, or a fault.
pub async fn cancel(state: &AppState, caller: &ApiCaller, id: i64, reason: &Message) -> Result<(), RequestError> {
    ending_quotation(state, caller, id, Action::Cancel, reason).await
}

/// Retail issues a quotation (or a revision) at today's prices with an
/// optional discount (seed step 3); the developer gets it by mail with the
/// procedure attachments. Returns the quotation's number.
///
/// # Errors
/// The rules' refusal, a product without a price today, figures too large,
/// not found, or a fault.
pub async fn issue_quotation(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    discount: BasisPoints,
) -> Result<String, RequestError> {
    let settings = crate::settings::load(state.db.pool()).await?;
    let (mut transaction, step) = Step::begin(state, caller, id).await?;
    let number = quote(&mut transaction, state, &step, discount, &settings).await?;
    let withdrawn = crate::billplz::store::withdraw_pending(&mut transaction, id, step.now_ms).await?;
    transaction.commit().await?;
    render_issued(state, &[number.as_str()]).await;
    crate::billplz::service::delete_at_gateway(state, &withdrawn).await;
    Ok(number)
}

/// Prices the request's lines at today's prices less `discount`, stores the
/// quotation (a revision supersedes the one before) and moves the request to
/// `quoted` as `step`'s party, in the caller's transaction. Returns the
/// quotation's number; the caller renders it after COMMIT.
async fn quote(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    step: &Step,
    discount: BasisPoints,
    settings: &crate::settings::Settings,
) -> Result<String, RequestError> {
    let (id, today) = (step.row.id, step.today);
    // Lock order: request row, audit head, then the document counters (as
    // the invoice and every other numbered step takes them).
    crate::audit::store::lock_head(&mut *connection).await?;
    let mut priced_lines = Vec::new();
    for (product, units) in store::lines(&mut *connection, id).await? {
        let price = crate::catalogue::price_on(&mut *connection, &product, &today.to_string())
            .await?
            .ok_or_else(|| RequestError::NoPrice { product: product.clone(), on: today })?;
        priced_lines.push((product, units, price));
    }
    let rate = crate::settings::sst_rate_on(&mut *connection, today).await?;
    let pricing = super::quotation::price(&priced_lines, discount, rate)?;
    let valid_until = step.calendar.add_working_days(today, settings.quotation_validity_working_days);
    let number = next_number(&mut *connection, NumberKind::Quotation, today.year()).await?;
    let summary = format!("{} · {}", crate::format::rm(pricing.total), crate::format::date(valid_until));
    let context = step.context(state, Some(&summary), Some(&number), Some(valid_until));
    act(&mut *connection, &step.row, Action::IssueQuotation, &context).await?;
    store::insert_quotation(
        &mut *connection,
        id,
        &number,
        &pricing,
        &today.to_string(),
        &valid_until.to_string(),
        step.now_ms,
    )
    .await?;
    Ok(number)
}

/// The developer submits proof of payment or a PO for the quotation's total
/// (seed step 4); retail is told. Returns the payment's id.
///
/// # Errors
/// The rules' refusal, no quotation, a wrong amount, an unacceptable
/// document, a duplicate, not found, or a fault.
pub async fn submit_payment(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    payment: NewPayment,
) -> Result<i64, RequestError> {
    let media_type = sniff(&payment.document, payment.file_name.as_deref())?;
    let sha256 = sha256_hex(&payment.document);
    // Decided first in a transaction that is rolled back, so a refused proof
    // is never stored; then stored (with S3 a network call) while no lock is
    // held; then decided again and recorded.
    let (transaction, _, _) = record_payment(state, caller, id, &payment, (&sha256, media_type)).await?;
    transaction.rollback().await?;
    state.blobs.put(&sha256, &payment.document).await.context("storing the proof of payment")?;
    let (transaction, payment_id, withdrawn) =
        record_payment(state, caller, id, &payment, (&sha256, media_type)).await?;
    transaction.commit().await?;
    crate::billplz::service::delete_at_gateway(state, &withdrawn).await;
    Ok(payment_id)
}

/// The payment's row and its effects, in a transaction left open: the
/// payment's id and the ids of the online bills it withdrew.
async fn record_payment(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
    payment: &NewPayment,
    (sha256, media_type): (&str, &'static str),
) -> Result<(Transaction<'static, Any>, i64, Vec<String>), RequestError> {
    let (mut transaction, step) = Step::begin(state, caller, id).await?;
    let quotation = store::current_quotation(&mut transaction, id).await?;
    let context = step.context(state, None, Some(payment.reference.as_str()), None);
    act(&mut transaction, &step.row, Action::SubmitPayment, &context).await?;
    let quotation = quotation.ok_or(RequestError::NoQuotation)?;
    let total = quotation.total;
    if payment.amount != total {
        return Err(RequestError::AmountMismatch { total });
    }
    let new_payment = store::NewPayment {
        request_id: id,
        developer_id: step.row.developer_id,
        quotation_id: quotation.id,
        method: payment.method,
        reference: payment.reference.as_str(),
        amount: payment.amount,
        paid_on: payment.paid_on,
        document_sha256: sha256,
        document_type: media_type,
        submitted_by: &step.actor,
        now_ms: step.now_ms,
    };
    let payment_id = match store::insert_payment(&mut transaction, &new_payment).await {
        Ok(payment_id) => payment_id,
        Err(error) if is_unique_violation(&error) => return Err(RequestError::DuplicatePayment),
        Err(error) => return Err(error.into()),
    };
    // Paid another way: the online bill must not be paid as well.
    let withdrawn = crate::billplz::store::withdraw_pending(&mut transaction, id, step.now_ms).await?;
    Ok((transaction, payment_id, withdrawn))
}

/// Opens a step on the request of a payment; another company's payment is
/// not found.
async fn begin_on_payment(
    state: &AppState,
    caller: &ApiCaller,
    payment_id: i64,
) -> Result<(Transaction<'static, Any>, Step, store::PaymentRow), RequestError> {
    let not_found = || RequestError::PaymentNotFound(payment_id);
    let mut connection = state.db.pool().acquire().await?;
    let payment = store::find_payment(&mut connection, payment_id).await?.ok_or_else(not_found)?;
    drop(connection);
    let (transaction, step) = Step::begin(state, caller, payment.request_id).await.map_err(|error| match error {
        RequestError::NotFound(_) => not_found(),
        other => other,
    })?;
    Ok((transaction, step, payment))
}

/// What a payment approval did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// The request was credited (its id).
    Credited(i64),
    /// More units than the setting `approval_second_person_above_units`:
    /// nothing is credited until a second person confirms this approval.
    AwaitingSecond {
        /// The request.
        request_id: i64,
        /// The approval waiting.
        approval_id: i64,
    },
}

/// Retail verifies a payment (`confirming` an approval that waits for a
/// second person, when given): the request is credited and every line's units
/// are added to the company's balance in the same transaction; the developer
/// and finance are told (seed step 5). Above the second-person threshold the
/// first approval only asks for a second person, and the approval of a
/// different retail officer or administrator credits.
///
/// # Errors
/// The rules' refusal, a payment already decided, the same person twice, not
/// found, or a fault.
pub async fn approve_payment(
    state: &AppState,
    caller: &ApiCaller,
    payment_id: i64,
    confirming: Option<i64>,
) -> Result<Approval, RequestError> {
    let (mut transaction, step, payment) = begin_on_payment(state, caller, payment_id).await?;
    // Read again under the request's lock: it may have been decided meanwhile.
    let payment =
        store::find_payment(&mut transaction, payment.id).await?.ok_or(RequestError::PaymentNotFound(payment_id))?;
    let lines = store::lines(&mut transaction, step.row.id).await?;
    let units: i64 = lines.iter().map(|(_, units)| units).sum();
    let threshold = crate::settings::load_in(&mut transaction).await?.approval_second_person_above_units;
    let waiting = crate::approval::store::pending_for_payment(&mut transaction, payment.id).await?;
    if (units > threshold || waiting.is_some()) && caller.user_id.is_none() {
        return Err(RequestError::PersonRequired);
    }
    // Confirming approval `id` confirms that one or nothing (never asks anew).
    if let Some(id) = confirming {
        if waiting.as_ref().map(|(waiting, _)| *waiting) != Some(id) {
            return Err(RequestError::ApprovalNotWaiting(id));
        }
    }
    match waiting {
        None if units > threshold => {
            let approval_id = ask_second_person(&mut transaction, state, &step, &payment, units).await?;
            transaction.commit().await?;
            return Ok(Approval::AwaitingSecond { request_id: step.row.id, approval_id });
        }
        None => {}
        Some((_, requested_by)) if requested_by == step.actor => return Err(RequestError::SecondPersonRequired),
        Some((approval_id, _)) => {
            crate::approval::store::decide(&mut transaction, approval_id, true, &step.actor, None, step.now_ms).await?;
        }
    }
    // The request's rules first (a request credited already is the wrong
    // status), then the payment's own.
    transition(Some(step.row.status), Action::ApprovePayment, step.party)?;
    if !store::decide_payment(&mut transaction, payment.id, PaymentStatus::Approved, None, step.now_ms).await? {
        return Err(RequestError::PaymentNotPending { id: payment.id, status: payment.status.as_str().to_owned() });
    }
    let issued = credit(&mut transaction, state, &step, Action::ApprovePayment, &lines).await?;
    let request_id = step.row.id;
    transaction.commit().await?;
    render_issued(state, &issued.iter().map(String::as_str).collect::<Vec<_>>()).await;
    Ok(Approval::Credited(request_id))
}

/// Moves the request in `step` to `credited` by `action` (a payment
/// approved, paid online, a late payment credited), credits every line to
/// its company and, with the setting `invoice_on_credit`, issues the invoice
/// and delivery order — all in the caller's transaction, with the approved
/// payment already recorded. Returns the document numbers to render after
/// COMMIT.
///
/// Lock order: request row (taken by `step`), audit head (in `act`), then
/// accounts — the ledger writer also takes the audit head before accounts.
pub(crate) async fn credit(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    step: &Step,
    action: Action,
    lines: &[(String, i64)],
) -> Result<Vec<String>, RequestError> {
    let invoice_on_credit = crate::settings::load_in(&mut *connection).await?.invoice_on_credit;
    let context = ActionContext { invoice_follows: invoice_on_credit, ..step.context(state, None, None, None) };
    act(&mut *connection, &step.row, action, &context).await?;
    let (developer_id, number) = (step.row.developer_id, step.row.number.as_str());
    for (product, units) in lines {
        let line = (developer_id, product.as_str(), *units);
        crate::ledger::credit(&mut *connection, &state.audit_key, line, number, &step.actor, step.now_ms).await?;
    }
    if !invoice_on_credit {
        return Ok(Vec::new());
    }
    let row = store::find(&mut *connection, step.row.id).await?.ok_or(RequestError::NotFound(step.row.id))?;
    let issued = crate::finance::service::issue_within(&mut *connection, state, &step.as_system(row)).await?;
    Ok(vec![issued.invoice_number, issued.delivery_order_number])
}

/// The first approval of a large payment: checks it could be approved now,
/// then records that it waits for a second person, with its audit record.
async fn ask_second_person(
    connection: &mut sqlx::AnyConnection,
    state: &AppState,
    step: &Step,
    payment: &store::PaymentRow,
    units: i64,
) -> Result<i64, RequestError> {
    transition(Some(step.row.status), Action::ApprovePayment, step.party)?;
    if payment.status != PaymentStatus::Submitted {
        return Err(RequestError::PaymentNotPending { id: payment.id, status: payment.status.as_str().to_owned() });
    }
    let asked = (payment.id, step.row.developer_id, units);
    let id = crate::approval::store::insert_payment(&mut *connection, asked, &step.actor, step.now_ms).await?;
    let audit = crate::audit::Record {
        actor: &step.actor,
        action: "approval.request",
        subject: &format!("second_approval:{id}"),
        before: None,
        after: Some(
            serde_json::json!({"kind": "payment", "payment": payment.id, "request": step.row.number, "units": units}),
        ),
        at_ms: step.now_ms,
    };
    crate::audit::record(connection, &state.audit_key, &audit).await?;
    Ok(id)
}

/// Retail refuses a payment with a reason; the request is quoted again until
/// its quotation's valid-until date. Returns the request's id.
///
/// # Errors
/// The rules' refusal, a payment already decided, not found, or a fault.
pub async fn reject_payment(
    state: &AppState,
    caller: &ApiCaller,
    payment_id: i64,
    reason: &Message,
) -> Result<i64, RequestError> {
    let (mut transaction, step, payment) = begin_on_payment(state, caller, payment_id).await?;
    let quotation = store::current_quotation(&mut transaction, step.row.id).await?;
    let valid_until = quotation.map(|q| q.valid_until);
    let context = step.context(state, Some(reason.as_str()), None, valid_until);
    act(&mut transaction, &step.row, Action::RejectPayment, &context).await?;
    if !store::decide_payment(&mut transaction, payment.id, PaymentStatus::Rejected, Some(reason.as_str()), step.now_ms)
        .await?
    {
        return Err(RequestError::PaymentNotPending { id: payment.id, status: payment.status.as_str().to_owned() });
    }
    // A rejected payment's approval no longer waits for anyone.
    if let Some((approval_id, _)) = crate::approval::store::pending_for_payment(&mut transaction, payment.id).await? {
        let (actor, now_ms) = (&step.actor, step.now_ms);
        crate::approval::store::decide(&mut transaction, approval_id, false, actor, Some(reason.as_str()), now_ms)
            .await?;
        let record = crate::audit::Record {
            actor,
            action: "approval.cancel",
            subject: &format!("second_approval:{approval_id}"),
            before: Some(serde_json::json!({"kind": "payment", "payment": payment.id})),
            after: Some(serde_json::json!({"decided_by": actor, "reason": reason.as_str(), "by": "payment rejection"})),
            at_ms: now_ms,
        };
        crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    }
    let request_id = step.row.id;
    transaction.commit().await?;
    Ok(request_id)
}

/// The stored proof of a payment the caller may see: its media type and bytes.
///
/// # Errors
/// Not found (also for another company's payment), or a fault.
pub async fn payment_document(
    state: &AppState,
    caller: &ApiCaller,
    payment_id: i64,
) -> Result<(String, Vec<u8>), RequestError> {
    let not_found = || RequestError::PaymentNotFound(payment_id);
    let mut connection = state.db.pool().acquire().await?;
    let payment = store::find_payment(&mut connection, payment_id).await?.ok_or_else(not_found)?;
    let row = store::find(&mut connection, payment.request_id).await?.ok_or_else(not_found)?;
    drop(connection);
    party_of(caller, &row).map_err(|_| not_found())?;
    let bytes = state.blobs.get(&payment.document_sha256).await.context("reading the proof of payment")?;
    Ok((payment.document_type, bytes))
}

/// Renders and stores newly issued documents. A failure here loses nothing:
/// the document is rendered on its first download instead.
pub(crate) async fn render_issued(state: &AppState, numbers: &[&str]) {
    for number in numbers {
        if let Err(error) = crate::documents::fetch(&state.db, &state.blobs, number, state.clock.now_ms()).await {
            tracing::warn!(number, error = %error, "document not rendered at issue; it will be on first download");
        }
    }
}
