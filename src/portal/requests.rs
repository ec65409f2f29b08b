//! Requests in the portal: the list (a developer's own; the retail queue with
//! SLA badges, filters and search), the request page with the six seed steps,
//! its documents and timeline, and the forms for each action the reader's
//! role may take now. Actions go through the workflow's services.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::Form;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::{StatusCode, header};
use serde::Deserialize;

use super::developer::RequestItem;
use super::pages::{Chrome, DoneQuery, PortalQuery, app_error_page, error_page, render};
use super::session::Member;
use crate::auth::Role;
use crate::clock::today_local;
use crate::error::AppError;
use crate::finance::service::FinanceError;
use crate::i18n::Words;
use crate::money::BasisPoints;
use crate::request::RequestError;
use crate::request::domain::{Action, Party, Status, transition};
use crate::request::domain::{Message, MessageError};
use crate::request::payment::{DocumentError, Method};
use crate::request::service::{self, NewPayment};
use crate::request::store::{self, ListFilter};
use crate::state::AppState;

/// Requests per list page.
pub const LIST_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "portal/requests.html")]
struct ListPage {
    chrome: Chrome,
    w: Words,
    staff: bool,
    statuses: Vec<(String, String)>,
    status: String,
    overdue: bool,
    search: String,
    /// `due` (the staff queue, soonest due first) or `all` (newest first).
    view: &'static str,
    requests: Vec<RequestItem>,
    next: Option<String>,
    /// What waits for a second person (retail and administrators).
    approvals: Vec<super::approvals::ApprovalItem>,
    waiting_payments: Vec<super::online_payment::WaitingItem>,
    csrf: String,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    done: Option<String>,
    status: Option<String>,
    overdue: Option<String>,
    q: Option<String>,
    after: Option<String>,
    after_due: Option<String>,
    view: Option<String>,
}

/// `GET /requests`: a developer's requests, or the staff queue.
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    PortalQuery(query): PortalQuery<ListQuery>,
) -> Response {
    let w = member.words;
    let status = query.status.as_deref().and_then(Status::parse);
    let overdue = query.overdue.as_deref() == Some("on");
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty() && q.len() <= 40).map(str::to_owned);
    let today = today_local(state.clock.now()).to_string();
    let staff = !member.is_developer();
    // A closed status has no place in the queue of what is due: show it in the full list.
    let closed = status.is_some_and(|s| s.owner().is_none());
    let view = if staff && query.view.as_deref() != Some("all") && !closed { "due" } else { "all" };
    let after_id = query.after.as_deref().and_then(|a| a.parse::<i64>().ok());
    let rows = if view == "due" {
        due_rows(
            &state,
            status,
            search.as_deref(),
            overdue.then_some(today.as_str()),
            query.after_due.as_deref(),
            after_id,
        )
        .await
    } else {
        let filter = ListFilter {
            status: status.map(|s| s.as_str().to_owned()),
            developer_id: member.caller.developer_id.filter(|_| member.is_developer()),
            overdue_on: overdue.then(|| today.clone()),
            search: search.clone(),
            before_id: after_id.unwrap_or(i64::MAX),
            limit: LIST_PAGE + 1,
        };
        store::list(state.db.pool(), &filter).await
    };
    let mut rows = match rows {
        Ok(rows) => rows,
        Err(error) => return app_error_page(&member, &AppError::from(error)),
    };
    let page_size = usize::try_from(LIST_PAGE).unwrap_or(50);
    let next = (rows.len() > page_size).then(|| {
        let last = &rows[page_size - 1];
        let mut link = format!("/requests?view={view}&after={}", last.id);
        if view == "due" {
            link.push_str(&format!("&after_due={}", last.due_on.as_deref().unwrap_or(UNDATED)));
        }
        if let Some(status) = status {
            link.push_str(&format!("&status={}", status.as_str()));
        }
        if overdue {
            link.push_str("&overdue=on");
        }
        if let Some(q) = &search {
            link.push_str(&format!("&q={}", super::pages::url_encode(q)));
        }
        link
    });
    rows.truncate(page_size);
    let approvals = match super::approvals::items(&state, &member).await {
        Ok(approvals) => approvals,
        Err(error) => return app_error_page(&member, &error),
    };
    let waiting_payments = match super::online_payment::waiting(&state, &member).await {
        Ok(waiting) => waiting,
        Err(error) => return app_error_page(&member, &error),
    };
    let page = ListPage {
        chrome: Chrome::new(&member, "requests", query.done.as_deref()),
        approvals,
        waiting_payments,
        csrf: member.csrf.clone(),
        w,
        staff,
        view,
        statuses: Status::ALL.iter().map(|s| (s.as_str().to_owned(), w.status(s.as_str()))).collect(),
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        overdue,
        search: search.unwrap_or_default(),
        requests: rows.iter().map(|row| RequestItem::new(&w, row, &today)).collect(),
        next,
    };
    render(StatusCode::OK, &page)
}

/// The cursor value for the undated end of the staff queue.
const UNDATED: &str = "none";

/// A page of the staff queue: requests with a due date, soonest first, then
/// those waiting for the developer's information (no due date). The cursor
/// is the last row's `(due_on, id)`, or `("none", id)` in the undated part.
async fn due_rows(
    state: &AppState,
    status: Option<Status>,
    search: Option<&str>,
    overdue_on: Option<&str>,
    after_due: Option<&str>,
    after_id: Option<i64>,
) -> Result<Vec<store::RequestRow>, sqlx::Error> {
    let limit = LIST_PAGE + 1;
    let in_undated_part = after_due == Some(UNDATED);
    let dated_status = status.is_none_or(|s| s.deadline() != crate::request::domain::Deadline::None);
    let mut rows = Vec::new();
    if !in_undated_part && dated_status {
        let after = after_due.filter(|d| d.parse::<jiff::civil::Date>().is_ok()).zip(after_id);
        let queue =
            store::DueQueue { status: status.map(Status::as_str), search, due_before: overdue_on, after, limit };
        rows = store::due_queue(state.db.pool(), &queue).await?;
    }
    // Nothing without a due date is overdue.
    let room = limit - i64::try_from(rows.len()).unwrap_or(limit);
    if room > 0 && overdue_on.is_none() {
        let after = if in_undated_part { after_id.unwrap_or(0) } else { 0 };
        let undated = store::undated_open(state.db.pool(), status.map(Status::as_str), search, after, room).await?;
        rows.extend(undated);
    }
    Ok(rows)
}

/// One of the six seed steps.
pub struct Step {
    label: String,
    state: &'static str,
    hidden: String,
}

/// A quotation as shown.
pub struct QuotationItem {
    number: String,
    revision: i64,
    subtotal: String,
    discount: String,
    tax_rate: String,
    tax: String,
    total: String,
    valid_until: String,
    superseded: bool,
}

/// A payment as shown.
pub struct PaymentItem {
    id: i64,
    method: String,
    reference: String,
    amount: String,
    paid_on: String,
    status: String,
    status_label: String,
    reason: String,
    document_url: String,
    is_image: bool,
}

/// A timeline event as shown.
pub struct EventItem {
    when: String,
    who: String,
    what: String,
    message: String,
    due: String,
}

/// What was typed into one of the page's forms, and what was wrong with it.
#[derive(Debug, Default)]
pub struct Typed {
    /// Which form (`info-request`, `payment`, …).
    pub form: String,
    /// Field → value.
    pub values: HashMap<String, String>,
    /// Field → error.
    pub errors: BTreeMap<String, String>,
}

impl Typed {
    /// The value typed into `field` of `form`.
    #[must_use]
    pub fn value(&self, form: &str, field: &str) -> String {
        if self.form == form { self.values.get(field).cloned().unwrap_or_default() } else { String::new() }
    }

    /// The error of `field` of `form`.
    #[must_use]
    pub fn error(&self, form: &str, field: &str) -> Option<String> {
        if self.form == form { self.errors.get(field).cloned() } else { None }
    }
}

#[derive(Template)]
#[template(path = "portal/request.html")]
struct RequestPage {
    chrome: Chrome,
    w: Words,
    csrf: String,
    id: i64,
    number: String,
    developer: String,
    status: String,
    status_label: String,
    owner: String,
    due: String,
    due_note: String,
    overdue: bool,
    note: String,
    steps: Vec<Step>,
    lines: Vec<(String, i64)>,
    quotations: Vec<QuotationItem>,
    payments: Vec<PaymentItem>,
    documents: Vec<(String, String)>,
    /// The invoice, for finance: its page has the notes.
    invoice_page: Option<String>,
    procedures: Vec<(String, String)>,
    events: Vec<EventItem>,
    can: Vec<&'static str>,
    typed: Typed,
    today: String,
    preview: Option<Preview>,
    /// How many steps Pos Digicert's staff took by hand, in words.
    staff_actions: String,
}

/// What a quotation would say at today's prices, before it is issued.
pub struct Preview {
    lines: Vec<(String, i64, String, String)>,
    subtotal_sen: i64,
    tax_bp: i64,
    subtotal: String,
    tax_rate: String,
    tax: String,
    total: String,
}

impl RequestPage {
    fn may(&self, form: &str) -> bool {
        self.can.contains(&form)
    }

    /// The error summary: a link to each wrong field, with its label.
    fn summary(&self) -> Vec<(String, String)> {
        let w = &self.w;
        self.typed
            .errors
            .iter()
            .map(|(field, error)| {
                let (id, label) = match (self.typed.form.as_str(), field.as_str()) {
                    ("payment", "method") => ("method".to_owned(), w.t("payment-method")),
                    ("payment", "reference") => ("reference".to_owned(), w.t("payment-reference")),
                    ("payment", "amount") => ("amount".to_owned(), w.t("amount-rm")),
                    ("payment", "paid_on") => ("paid_on".to_owned(), w.t("paid-on")),
                    ("payment", _) => ("document".to_owned(), w.t("payment-document")),
                    ("quotation", _) => ("discount".to_owned(), w.t("discount-percent")),
                    ("cancel", _) => ("cancel-reason".to_owned(), w.t("reason")),
                    ("reject", _) => (
                        format!("reject-reason-{}", self.typed.values.get("payment").cloned().unwrap_or_default()),
                        w.t("reject-reason"),
                    ),
                    (form, _) => (format!("{form}-message"), w.t("message")),
                };
                (format!("#{id}"), format!("{label}: {error}"))
            })
            .collect()
    }

    /// What the current quotation asks for, as typed into the amount field.
    fn amount_due(&self) -> String {
        self.quotations
            .iter()
            .find(|q| !q.superseded)
            .map(|q| q.total.trim_start_matches("RM ").replace(',', ""))
            .unwrap_or_default()
    }
}

fn party_of(member: &Member) -> Party {
    match member.role() {
        Role::DeveloperAdmin | Role::DeveloperMember => Party::Developer,
        Role::Retail => Party::Retail,
        Role::Finance => Party::Finance,
        Role::Admin | Role::Hims => Party::Admin,
    }
}

/// Which of the six seed steps a status has reached.
fn steps(words: &Words, status: Status) -> Vec<Step> {
    let reached = match status {
        Status::Submitted | Status::InfoRequested | Status::Cancelled | Status::Expired => 2,
        Status::Quoted => 3,
        Status::PaymentSubmitted => 4,
        Status::Credited => 5,
        Status::Completed => 7,
    };
    let ended = matches!(status, Status::Cancelled | Status::Expired);
    (1..=6)
        .map(|step| {
            let state = if step < reached || (ended && step == reached) {
                "done"
            } else if step == reached && !ended {
                "current"
            } else {
                "todo"
            };
            Step { label: words.t(&format!("step-{step}")), state, hidden: words.t(&format!("step-{state}")) }
        })
        .collect()
}

async fn request_page(
    state: &AppState,
    member: &Member,
    id: i64,
    typed: Typed,
    done: Option<&str>,
) -> Result<RequestPage, AppError> {
    let w = member.words;
    let not_found = || AppError::NotFound(format!("quota request {id} does not exist"));
    let mut connection = state.db.pool().acquire().await?;
    let row = store::find(&mut connection, id).await?.ok_or_else(not_found)?;
    if !member.caller.may_see_developer(row.developer_id) {
        return Err(not_found());
    }
    let today = today_local(state.clock.now());
    let calendar = crate::settings::working_calendar(state.db.pool()).await?;
    let lines = store::lines(&mut connection, id).await?;
    let quotations = store::quotations(&mut connection, id).await?;
    let payments = store::payments(&mut connection, id).await?;
    let events = store::events(&mut connection, id).await?;
    let invoice = crate::finance::store::invoice_of_request(&mut connection, id).await?;
    let notes = match &invoice {
        Some(invoice) => crate::finance::store::notes_of_invoice(&mut connection, &invoice.number).await?,
        None => Vec::new(),
    };
    let procedures = crate::documents::procedures::current(&mut connection).await?;
    let names = actor_names(&mut connection, &events).await?;
    let staff_actions =
        events.iter().filter(|e| crate::request::is_staff_action(&e.action, &e.actor)).count().to_string();
    drop(connection);
    let (due, due_note, overdue) = due_of(&w, &row, &calendar, today);
    let mut can = forms_allowed(row.status, party_of(member));
    if can.contains(&"payment") && party_of(member) == Party::Developer && state.billplz.is_some() {
        can.push("pay-online");
    }
    let mut documents: Vec<(String, String)> =
        quotations.iter().map(|q| (q.number.clone(), format!("/api/v1/documents/{}.pdf", q.number))).collect();
    if let Some(invoice) = &invoice {
        let numbers =
            [&invoice.number, &invoice.delivery_order_number].into_iter().chain(notes.iter().map(|n| &n.number));
        for number in numbers {
            documents.push((number.clone(), format!("/api/v1/documents/{number}.pdf")));
        }
    }
    let invoice_page = invoice.as_ref().filter(|_| member.is_finance()).map(|invoice| invoice.number.clone());
    let preview = if can.contains(&"quotation") { preview(state, &lines).await? } else { None };
    Ok(RequestPage {
        chrome: Chrome::new(member, "requests", done),
        w,
        csrf: member.csrf.clone(),
        id,
        number: row.number.clone(),
        developer: row.developer_code.clone(),
        status: row.status.as_str().to_owned(),
        status_label: w.status(row.status.as_str()),
        owner: row
            .status
            .owner()
            .map(|p| w.t(&format!("party-{}", format!("{p:?}").to_lowercase())))
            .unwrap_or_default(),
        due,
        due_note,
        overdue,
        note: row.note.clone(),
        steps: steps(&w, row.status),
        lines,
        quotations: quotations.iter().rev().map(QuotationItem::new).collect(),
        payments: payments.iter().rev().map(|p| PaymentItem::new(&w, p)).collect(),
        documents,
        invoice_page,
        procedures: procedures.iter().map(|p| (p.filename.clone(), p.url())).collect(),
        events: events.iter().rev().map(|e| EventItem::new(&w, e, &names)).collect(),
        can,
        typed,
        today: today.strftime("%Y-%m-%d").to_string(),
        preview,
        staff_actions: w.f("staff-actions", [("count", staff_actions.as_str())]),
    })
}

/// The names of the people in a timeline, by actor (`user:7` → "Aisyah").
async fn actor_names(
    connection: &mut sqlx::AnyConnection,
    events: &[store::EventRow],
) -> Result<HashMap<String, String>, AppError> {
    let mut names: HashMap<String, String> = HashMap::new();
    for event in events {
        if let Some(user_id) = event.actor.strip_prefix("user:").and_then(|n| n.parse::<i64>().ok()) {
            if !names.contains_key(&event.actor) {
                let name = crate::auth::store::user_name(connection, user_id).await?;
                names.insert(event.actor.clone(), name.unwrap_or_else(|| event.actor.clone()));
            }
        }
    }
    Ok(names)
}

/// The due date of an open request, what it means today, and whether it is late.
fn due_of(
    w: &Words,
    row: &store::RequestRow,
    calendar: &crate::calendar::WorkingCalendar,
    today: jiff::civil::Date,
) -> (String, String, bool) {
    let open = row.status.owner().is_some();
    match row.due_on.as_deref().filter(|_| open).and_then(|d| d.parse::<jiff::civil::Date>().ok()) {
        Some(due) if due < today => {
            let late = calendar.working_days_between(due, today).to_string();
            (crate::format::date(due), w.f("due-late", [("days", late.as_str())]), true)
        }
        Some(due) => {
            let left = calendar.working_days_between(today, due).to_string();
            (crate::format::date(due), w.f("due-left", [("days", left.as_str())]), false)
        }
        None => (String::new(), String::new(), false),
    }
}

/// The forms of the page the rules let this party use in this status.
fn forms_allowed(status: Status, party: Party) -> Vec<&'static str> {
    [
        ("info-request", Action::RequestInfo),
        ("info-response", Action::RespondInfo),
        ("quotation", Action::IssueQuotation),
        ("payment", Action::SubmitPayment),
        ("approve", Action::ApprovePayment),
        ("invoice", Action::IssueInvoice),
        ("cancel", Action::Cancel),
    ]
    .into_iter()
    .filter(|(_, action)| transition(Some(status), *action, party).is_ok())
    .map(|(form, _)| form)
    .collect()
}

impl QuotationItem {
    fn new(q: &store::QuotationRow) -> Self {
        Self {
            number: q.number.clone(),
            revision: q.revision,
            subtotal: crate::format::rm(q.subtotal),
            discount: crate::format::rm(q.discount),
            tax_rate: crate::format::percent(q.tax_rate),
            tax: crate::format::rm(q.tax),
            total: crate::format::rm(q.total),
            valid_until: crate::format::date(q.valid_until),
            superseded: q.superseded,
        }
    }
}

impl PaymentItem {
    fn new(w: &Words, p: &store::PaymentRow) -> Self {
        Self {
            id: p.id,
            method: w.t(&format!("method-{}", p.method.as_str())),
            reference: p.reference.clone(),
            amount: crate::format::rm(p.amount),
            paid_on: crate::format::stored_date(&p.paid_on),
            status: p.status.as_str().to_owned(),
            status_label: w.t(&format!("payment-{}", p.status.as_str())),
            reason: p.reason.clone().unwrap_or_default(),
            document_url: format!("/api/v1/payments/{}/document", p.id),
            is_image: p.document_type.starts_with("image/"),
        }
    }
}

impl EventItem {
    fn new(w: &Words, e: &store::EventRow, names: &HashMap<String, String>) -> Self {
        Self {
            when: crate::format::date_time(e.at_ms),
            who: names.get(&e.actor).cloned().unwrap_or_else(|| w.t("actor-system")),
            what: w.t(&format!("event-{}", e.action)),
            message: e.message.clone().unwrap_or_default(),
            due: e.due_on.as_deref().map(crate::format::stored_date).unwrap_or_default(),
        }
    }
}

/// The quotation the lines would get today without discount; `None` when a
/// product has no price.
async fn preview(state: &AppState, lines: &[(String, i64)]) -> Result<Option<Preview>, AppError> {
    let today = today_local(state.clock.now());
    let day = today.to_string();
    let mut connection = state.db.pool().acquire().await?;
    let rate = crate::settings::sst_rate_on(&mut connection, today).await?;
    let mut priced = Vec::new();
    for (product, units) in lines {
        let Some(price) = crate::catalogue::price_on(&mut connection, product, &day).await? else { return Ok(None) };
        priced.push((product.clone(), *units, price));
    }
    let Ok(pricing) = crate::request::quotation::price(&priced, crate::money::BasisPoints::default(), rate) else {
        return Ok(None);
    };
    let bp = pricing.tax_rate.get();
    Ok(Some(Preview {
        lines: pricing
            .lines
            .iter()
            .map(|l| (l.product.clone(), l.units, crate::format::rm(l.unit_price), crate::format::rm(l.amount)))
            .collect(),
        subtotal_sen: pricing.subtotal.get(),
        tax_bp: bp,
        subtotal: crate::format::rm(pricing.subtotal),
        tax_rate: crate::format::percent(pricing.tax_rate),
        tax: crate::format::rm(pricing.tax),
        total: crate::format::rm(pricing.total),
    }))
}

/// `GET /requests/{id}`: another company's request is a 404.
pub async fn show(
    State(state): State<AppState>,
    member: Member,
    Path(id): Path<String>,
    PortalQuery(query): PortalQuery<DoneQuery>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error_page(&member.words, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    match request_page(&state, &member, id, Typed::default(), query.done.as_deref()).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

/// Reads a form, urlencoded or multipart (the payment form carries a file).
pub(super) async fn read_form(
    request: Request,
    state: &AppState,
) -> Result<(HashMap<String, String>, Option<(Option<String>, Vec<u8>)>), StatusCode> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let Form(fields) =
            Form::<HashMap<String, String>>::from_request(request, state).await.map_err(|_| StatusCode::BAD_REQUEST)?;
        return Ok((fields, None));
    }
    let mut form = Multipart::from_request(request, state).await.map_err(|_| StatusCode::BAD_REQUEST)?;
    let mut fields = HashMap::new();
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return Err(error.status()),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "document" {
            let file_name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(|e| e.status())?;
            if !bytes.is_empty() {
                file = Some((file_name, bytes.to_vec()));
            }
        } else {
            fields.insert(name, field.text().await.map_err(|e| e.status())?);
        }
    }
    Ok((fields, file))
}

/// The message or reason typed into `field`, or its error beside the field.
fn read_message(words: &Words, typed: &mut Typed, field: &str) -> Option<Message> {
    let text = typed.values.get(field).map(String::as_str).unwrap_or_default();
    match text.parse::<Message>() {
        Ok(message) => Some(message),
        Err(error) => {
            let key = match error {
                MessageError::Empty => "error-required",
                MessageError::TooLong => "error-note-long",
                MessageError::ControlCharacter => "error-control-characters",
            };
            typed.errors.insert(field.to_owned(), words.t(key));
            None
        }
    }
}

/// `POST /requests/{id}/{action}`: one action, checked here in the reader's
/// words and carried out by the workflow's service; what the service refuses
/// comes back beside the field it concerns, or as an error page.
pub async fn act(
    State(state): State<AppState>,
    member: Member,
    Path((id, action)): Path<(String, String)>,
    request: Request,
) -> Response {
    let w = member.words;
    let Ok(request_id) = id.parse::<i64>() else {
        return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    };
    if !FORMS.contains(&action.as_str()) {
        return error_page(&w, Some(&member), StatusCode::NOT_FOUND, "error-not-found");
    }
    let (values, file) = match read_form(request, &state).await {
        Ok(form) => form,
        Err(StatusCode::PAYLOAD_TOO_LARGE) => {
            return error_page(&w, Some(&member), StatusCode::PAYLOAD_TOO_LARGE, "error-too-large");
        }
        Err(_) => return error_page(&w, Some(&member), StatusCode::BAD_REQUEST, "error-invalid"),
    };
    if let Some(refused) = member.refuse_bad_csrf(values.get("csrf").map_or("", String::as_str)) {
        return refused;
    }
    if action == "pay-online" {
        return pay_online(&state, &member, request_id).await;
    }
    let mut typed = Typed { form: action.clone(), values, errors: BTreeMap::new() };
    if let Err(error) = perform(&state, &member, request_id, &mut typed, file).await {
        if let Some(error) = place(&w, &mut typed, error) {
            return app_error_page(&member, &error);
        }
    }
    if typed.errors.is_empty() {
        return Redirect::to(&format!("/requests/{request_id}?done={}", typed.form)).into_response();
    }
    match request_page(&state, &member, request_id, typed, None).await {
        Ok(page) => render(StatusCode::BAD_REQUEST, &page),
        Err(error) => app_error_page(&member, &error),
    }
}

/// The forms of the request page, by the name in their address.
const FORMS: [&str; 9] =
    ["info-request", "info-response", "quotation", "payment", "pay-online", "approve", "reject", "invoice", "cancel"];

/// "Bayar dalam talian": the bill for the quotation in force (made once),
/// and the browser goes to its payment page at Billplz.
async fn pay_online(state: &AppState, member: &Member, request_id: i64) -> Response {
    use crate::billplz::service::OnlinePaymentError;
    let w = member.words;
    match crate::billplz::service::start(state, &member.caller, request_id).await {
        Ok((bill, _)) => Redirect::to(&bill.url).into_response(),
        Err(OnlinePaymentError::NotOffered) => {
            error_page(&w, Some(member), StatusCode::CONFLICT, "error-online-unavailable")
        }
        Err(OnlinePaymentError::Gateway(_)) => {
            error_page(&w, Some(member), StatusCode::SERVICE_UNAVAILABLE, "error-gateway-down")
        }
        Err(error) => app_error_page(member, &AppError::from(error)),
    }
}

/// Reads the form of `typed.form` and calls its service. Errors in what was
/// typed are put beside their fields and nothing is called.
async fn perform(
    state: &AppState,
    member: &Member,
    request_id: i64,
    typed: &mut Typed,
    file: Option<(Option<String>, Vec<u8>)>,
) -> Result<(), RequestError> {
    let w = member.words;
    let caller = &member.caller;
    let payment_id = || typed.values.get("payment").and_then(|p| p.parse::<i64>().ok()).unwrap_or(0);
    match typed.form.as_str() {
        "info-request" => match read_message(&w, typed, "message") {
            Some(message) => service::request_info(state, caller, request_id, &message).await,
            None => Ok(()),
        },
        "info-response" => match read_message(&w, typed, "message") {
            Some(message) => service::respond_info(state, caller, request_id, &message, None).await,
            None => Ok(()),
        },
        "quotation" => {
            let discount = typed.values.get("discount_percent").map(|d| d.trim()).unwrap_or_default();
            match (if discount.is_empty() { "0" } else { discount }).parse::<BasisPoints>() {
                Ok(discount) => service::issue_quotation(state, caller, request_id, discount).await.map(drop),
                Err(_) => {
                    typed.errors.insert("discount_percent".into(), w.t("error-percent"));
                    Ok(())
                }
            }
        }
        "payment" => match read_payment(&w, typed, file) {
            Some(payment) => service::submit_payment(state, caller, request_id, payment).await.map(drop),
            None => Ok(()),
        },
        "approve" => {
            if let service::Approval::AwaitingSecond { .. } =
                service::approve_payment(state, caller, payment_id(), None).await?
            {
                // The flash says it waits for a second person.
                typed.form = "approve-awaiting".to_owned();
            }
            Ok(())
        }
        "reject" => {
            let payment_id = payment_id();
            match read_message(&w, typed, "reason") {
                Some(reason) => service::reject_payment(state, caller, payment_id, &reason).await.map(drop),
                None => Ok(()),
            }
        }
        "invoice" => match crate::finance::service::issue_invoice(state, caller, request_id).await {
            Ok(_) => Ok(()),
            Err(FinanceError::Request(error)) => Err(error),
            Err(other) => Err(RequestError::Internal(anyhow::anyhow!("issuing the invoice: {other}"))),
        },
        _ => match read_message(&w, typed, "reason") {
            Some(reason) => service::cancel(state, caller, request_id, &reason).await,
            None => Ok(()),
        },
    }
}

/// Puts a refusal beside the field it concerns, in the reader's words; what
/// belongs to no field is given back for an error page.
fn place(w: &Words, typed: &mut Typed, error: RequestError) -> Option<AppError> {
    let (field, text) = match &error {
        RequestError::AmountMismatch { total } => {
            ("amount", w.f("error-amount-total", [("total", crate::format::rm(*total).as_str())]))
        }
        RequestError::DuplicatePayment => ("reference", w.t("error-duplicate-payment")),
        RequestError::Document(DocumentError::NameMismatch { actual, .. }) => {
            ("document", w.f("error-document-name", [("actual", *actual)]))
        }
        RequestError::Document(DocumentError::TooLarge) => ("document", w.t("error-too-large")),
        RequestError::Document(_) => ("document", w.t("error-document")),
        RequestError::NoPrice { product, .. } => {
            ("discount_percent", w.f("error-no-price", [("product", product.as_str())]))
        }
        RequestError::TooLarge(_) => ("discount_percent", w.t("error-total-too-large")),
        _ => return Some(AppError::from(error)),
    };
    typed.errors.insert(field.to_owned(), text);
    None
}

/// The payment typed into the payment form, or its errors beside the fields.
fn read_payment(w: &Words, typed: &mut Typed, file: Option<(Option<String>, Vec<u8>)>) -> Option<NewPayment> {
    let value = |name: &str| typed.values.get(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let method = value("method").parse::<Method>();
    let reference = crate::ledger::Reference::new(&value("reference"));
    let amount = value("amount").parse::<crate::money::Sen>();
    let paid_on = value("paid_on").parse::<jiff::civil::Date>();
    for (failed, field, key) in [
        (method.is_err(), "method", "error-required"),
        (reference.is_err(), "reference", "error-reference"),
        (amount.is_err(), "amount", "error-amount"),
        (paid_on.is_err(), "paid_on", "error-date"),
        (file.is_none(), "document", "error-document"),
    ] {
        if failed {
            typed.errors.insert(field.to_owned(), w.t(key));
        }
    }
    let ((file_name, document), method, reference, amount, paid_on) =
        (file?, method.ok()?, reference.ok()?, amount.ok()?, paid_on.ok()?);
    Some(NewPayment { method, reference, amount, paid_on, file_name, document })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::users::Language;

    #[test]
    fn the_six_steps_follow_the_status() {
        let w = Words::new(Language::En);
        let states = |status| steps(&w, status).iter().map(|s| s.state).collect::<Vec<_>>();
        assert_eq!(states(Status::Submitted), ["done", "current", "todo", "todo", "todo", "todo"]);
        assert_eq!(states(Status::PaymentSubmitted), ["done", "done", "done", "current", "todo", "todo"]);
        assert_eq!(states(Status::Completed), ["done"; 6]);
        assert_eq!(states(Status::Cancelled), ["done", "done", "todo", "todo", "todo", "todo"]);
    }
}
