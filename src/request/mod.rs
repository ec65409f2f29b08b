//! Quota requests: seed steps 2–6 as states of one request — the request and
//! its lines, information requests, quotations, payments, crediting and the
//! hand-over to finance. Every action goes through [`act`], which applies the
//! pure rules of [`domain`], records the timeline event with its due date,
//! and refuses a concurrent change.

pub mod domain;
pub mod error;
pub mod http;
pub mod numbering;
pub mod payment;
pub mod quotation;
pub mod service;
pub mod store;

use jiff::civil::Date;
use sqlx::AnyConnection;

use crate::auth::{ApiCaller, Role};
use crate::calendar::WorkingCalendar;
use domain::{Action, Deadline, Party, Status};
pub use domain::{MESSAGE_MAX_CHARS, Message};
pub use error::{LineProblem, RequestError};
use store::RequestRow;

/// Largest units on one line.
pub const LINE_UNITS_MAX: i64 = 100_000;
/// Most lines on one request.
pub const LINES_MAX: usize = 10;

/// The party a caller plays on a request. Developer users act only on their
/// own company's requests; callers who may not see the request get 404.
///
/// # Errors
/// Not found for another company's request; not a party for HIMS.
pub fn party_of(caller: &ApiCaller, request: &RequestRow) -> Result<Party, RequestError> {
    if !caller.may_see_developer(request.developer_id) {
        return Err(RequestError::NotFound(request.id));
    }
    match caller.role {
        Role::DeveloperAdmin | Role::DeveloperMember => Ok(Party::Developer),
        Role::Retail => Ok(Party::Retail),
        Role::Finance => Ok(Party::Finance),
        Role::Admin => Ok(Party::Admin),
        Role::Hims => Err(RequestError::NotAParty),
    }
}

/// What an action needs to know besides the request.
pub struct ActionContext<'a> {
    /// Who.
    pub actor: &'a str,
    /// In which role.
    pub party: Party,
    /// The working calendar.
    pub calendar: &'a WorkingCalendar,
    /// Today in Kuala Lumpur.
    pub today: Date,
    /// Now, Unix ms.
    pub now_ms: i64,
    /// The quotation's valid-until date, for actions that lead to `quoted`.
    pub valid_until: Option<Date>,
    /// A message for the timeline.
    pub message: Option<&'a str>,
    /// The portal's address, for links in e-mail.
    pub portal_url: &'a str,
    /// A document number or payment reference the e-mail should name.
    pub reference: Option<&'a str>,
    /// The key the audit record is chained with.
    pub audit_key: &'a crate::audit::Key,
    /// A crediting whose invoice is issued in the same transaction (the
    /// setting `invoice_on_credit`): finance is not asked to issue it.
    pub invoice_follows: bool,
}

/// The due date of the status being entered.
#[must_use]
pub fn due_on(status: Status, context: &ActionContext<'_>) -> Option<Date> {
    match status.deadline() {
        Deadline::WorkingDays(days) => Some(context.calendar.add_working_days(context.today, days)),
        Deadline::QuotationValidUntil => context.valid_until,
        Deadline::None => None,
    }
}

/// Applies `action` to the request inside the caller's transaction and
/// records it; returns the new status.
///
/// # Errors
/// The rules' refusal, a change made meanwhile, or a database fault.
pub async fn act(
    connection: &mut AnyConnection,
    request: &RequestRow,
    action: Action,
    context: &ActionContext<'_>,
) -> Result<Status, RequestError> {
    let next = domain::transition(Some(request.status), action, context.party)?;
    let due = due_on(next, context).map(|date| date.to_string());
    if !store::set_status(connection, request.id, request.status, next, due.as_deref(), context.now_ms).await? {
        return Err(RequestError::ChangedMeanwhile(request.number.clone()));
    }
    let step = Recorded { from: Some(request.status), to: next, action, due: due.as_deref(), details: None };
    record(connection, request, &step, context).await?;
    Ok(next)
}

/// A move of a request, as the timeline, the audit trail and the mail see it.
pub struct Recorded<'a> {
    /// Where it was (`None` for a new request).
    pub from: Option<Status>,
    /// Where it is now.
    pub to: Status,
    /// What was done.
    pub action: Action,
    /// The new due date, `YYYY-MM-DD`.
    pub due: Option<&'a str>,
    /// More facts for the audit record (a new request's lines).
    pub details: Option<serde_json::Value>,
}

/// Records a move in the caller's transaction: the timeline event with its
/// due date, the audit record and the outbox messages. Every move of every
/// request — submission included — is recorded here and nowhere else.
///
/// # Errors
/// A database fault.
pub async fn record(
    connection: &mut AnyConnection,
    request: &RequestRow,
    step: &Recorded<'_>,
    context: &ActionContext<'_>,
) -> Result<(), RequestError> {
    let event = store::NewEvent {
        request_id: request.id,
        action: step.action.as_str(),
        from: step.from.map(Status::as_str),
        to: step.to.as_str(),
        actor: context.actor,
        message: context.message,
        due_on: step.due,
        at_ms: context.now_ms,
    };
    store::insert_event(connection, &event).await?;
    let subject = format!("quota_request:{}", request.id);
    let mut after = serde_json::json!({"status": step.to.as_str(), "due_on": step.due, "message": context.message});
    if let (Some(object), Some(serde_json::Value::Object(details))) = (after.as_object_mut(), step.details.clone()) {
        object.extend(details);
    }
    let audit = crate::audit::Record {
        actor: context.actor,
        action: step.action.as_str(),
        subject: &subject,
        before: step.from.map(|from| serde_json::json!({"status": from.as_str()})),
        after: Some(after),
        at_ms: context.now_ms,
    };
    crate::audit::record(connection, context.audit_key, &audit).await?;
    notify_action(connection, request, step.action, context).await
}

/// Writes the e-mail an action causes to the outbox, in the action's transaction.
async fn notify_action(
    connection: &mut AnyConnection,
    request: &RequestRow,
    action: Action,
    context: &ActionContext<'_>,
) -> Result<(), RequestError> {
    use crate::notify::recipients::{self, Team};
    use crate::notify::{Attachment, Facts, MessageKind, Outgoing};
    let id = request.developer_id;
    let mut messages = Vec::new();
    match action {
        Action::Submit => {
            messages.push((MessageKind::RequestSubmitted, recipients::team(connection, Team::Retail).await?))
        }
        Action::RequestInfo => {
            messages.push((MessageKind::InfoRequested, recipients::developer(connection, id).await?))
        }
        Action::RespondInfo => {
            messages.push((MessageKind::InfoResponded, recipients::team(connection, Team::Retail).await?))
        }
        Action::IssueQuotation => {
            messages.push((MessageKind::QuotationIssued, recipients::developer(connection, id).await?))
        }
        Action::SubmitPayment => {
            messages.push((MessageKind::PaymentSubmitted, recipients::team(connection, Team::Retail).await?))
        }
        Action::RejectPayment => {
            messages.push((MessageKind::PaymentRejected, recipients::developer(connection, id).await?))
        }
        Action::ApprovePayment | Action::PayOnline | Action::CreditLatePayment => {
            messages.push((MessageKind::QuotaCredited, recipients::developer(connection, id).await?));
            if !context.invoice_follows {
                messages.push((MessageKind::InvoiceDue, recipients::team(connection, Team::Finance).await?));
            }
        }
        Action::IssueInvoice => {
            messages.push((MessageKind::InvoiceIssued, recipients::developer(connection, id).await?))
        }
        Action::Cancel => {
            messages.push((MessageKind::RequestCancelled, recipients::developer(connection, id).await?));
            messages.push((MessageKind::RequestCancelled, recipients::team(connection, Team::Retail).await?));
        }
        Action::Expire => {}
    }
    let facts = Facts {
        request_number: request.number.clone(),
        developer: request.developer_code.clone(),
        detail: context.message.map(str::to_owned),
        reference: context.reference.map(str::to_owned),
        lines: Vec::new(),
    };
    let attachments = match (action, context.reference) {
        (Action::IssueQuotation, Some(number)) => {
            let mut files = vec![Attachment::Document { number: number.to_owned() }];
            let procedures = crate::documents::procedures::current(connection).await?;
            files.extend(
                procedures.into_iter().map(|p| Attachment::Procedure { filename: p.filename, sha256: p.sha256 }),
            );
            files
        }
        (Action::IssueInvoice, Some(number)) => {
            let mut files = vec![Attachment::Document { number: number.to_owned() }];
            files.extend(context.message.map(|delivery| Attachment::Document { number: delivery.to_owned() }));
            files
        }
        _ => Vec::new(),
    };
    for (kind, to) in messages {
        // Documents and procedures go to the developer, not to the teams' mailboxes.
        let files = if matches!(kind, MessageKind::QuotationIssued | MessageKind::InvoiceIssued) {
            attachments.clone()
        } else {
            Vec::new()
        };
        let message =
            Outgoing { attachments: files, ..Outgoing::new(kind, &facts, Some(request.id), context.portal_url) };
        crate::notify::enqueue(connection, &message, &to, context.now_ms).await?;
    }
    Ok(())
}

/// True for an actor that is kuota itself (`system`, `system:quotation-expiry`).
#[must_use]
pub fn is_system_actor(actor: &str) -> bool {
    actor == service::SYSTEM_ACTOR || actor.starts_with("system:")
}

/// True when a timeline event is a step Pos Digicert's staff took by hand
/// (quoting, asking, checking a payment, invoicing), not the developer's
/// own steps and not the system's.
#[must_use]
pub fn is_staff_action(action: &str, actor: &str) -> bool {
    let staff = [
        Action::RequestInfo,
        Action::IssueQuotation,
        Action::ApprovePayment,
        Action::RejectPayment,
        Action::IssueInvoice,
        Action::CreditLatePayment,
    ];
    !is_system_actor(actor) && staff.iter().any(|a| a.as_str() == action)
}

/// Most requests expired by one sweep.
pub const EXPIRY_BATCH_MAX: i64 = 200;

/// Moves quoted requests whose quotation ran out (valid-until before today)
/// to `expired`; returns how many. Each in its own transaction, so one
/// concurrent change costs only itself.
///
/// # Errors
/// A database fault.
pub async fn expire_quotations(
    db: &crate::db::Db,
    clock: &dyn crate::clock::Clock,
    audit_key: &crate::audit::Key,
    portal_url: &str,
) -> Result<usize, RequestError> {
    let today = crate::clock::today_local(clock.now());
    let calendar = crate::settings::working_calendar(db.pool()).await?;
    let ids = store::quoted_past(db.pool(), &today.to_string(), EXPIRY_BATCH_MAX).await?;
    let mut expired = 0;
    for id in ids {
        let mut transaction = db.begin_write().await?;
        let Some(row) = store::find(&mut transaction, id).await? else { continue };
        let context = ActionContext {
            actor: "system:quotation-expiry",
            party: Party::System,
            calendar: &calendar,
            today,
            now_ms: clock.now_ms(),
            valid_until: None,
            message: None,
            portal_url,
            reference: None,
            audit_key,
            invoice_follows: false,
        };
        if act(&mut transaction, &row, Action::Expire, &context).await.is_ok() {
            // Its online bill is withdrawn here; reconciliation deletes it at
            // the gateway (a payment on it meanwhile waits for a decision).
            crate::billplz::store::withdraw_pending(&mut transaction, id, context.now_ms).await?;
            transaction.commit().await?;
            expired += 1;
        }
    }
    Ok(expired)
}
