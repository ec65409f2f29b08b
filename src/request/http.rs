//! Quota requests over the API: every workflow step, for developers, retail
//! and finance, each refused with 403 (wrong role), 404 (not yours) or 409
//! (wrong state) and nothing changed.

use std::collections::BTreeSet;

use crate::api::extract::ApiMultipart;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Value, json};

use super::domain::{Action, Party, Status};
use super::numbering::{NumberKind, next_number};
use super::payment::{Method, PAYMENT_BODY_MAX_BYTES, sniff};
use super::store::{self, ListFilter, RequestRow};
use super::{ActionContext, LINE_UNITS_MAX, MESSAGE_MAX_CHARS, act, party_of};
use crate::api::{ApiJson, ApiQuery, Validator, checked};
use crate::auth::{ApiCaller, Role, token::sha256_hex};
use crate::clock::{format_rfc3339_local, today_local};
use crate::db::is_unique_violation;
use crate::developer::DeveloperCode;
use crate::error::{AppError, AppResult};
use crate::money::{BasisPoints, Sen};
use crate::startup::AppState;

/// Largest page of requests.
pub const REQUEST_PAGE_MAX: i64 = 200;

/// The quota-request routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/quota-requests", post(create).get(list))
        .route("/api/v1/quota-requests/{id}", get(show))
        .route("/api/v1/quota-requests/{id}/info-requests", post(request_info))
        .route("/api/v1/quota-requests/{id}/info-responses", post(respond_info))
        .route("/api/v1/quota-requests/{id}/quotations", post(issue_quotation))
        .route(
            "/api/v1/quota-requests/{id}/payments",
            post(submit_payment).layer(axum::extract::DefaultBodyLimit::max(PAYMENT_BODY_MAX_BYTES)),
        )
        .route("/api/v1/quota-requests/{id}/cancellation", post(cancel))
        .route("/api/v1/quota-requests/{id}/invoice", post(issue_invoice))
        .route("/api/v1/payments/{id}/approval", post(approve_payment))
        .route("/api/v1/payments/{id}/rejection", post(reject_payment))
        .route("/api/v1/payments/{id}/document", get(payment_document))
}

fn id_from(text: &str, what: &str) -> AppResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::NotFound(format!("{what} {text} does not exist")))
}

fn message(text: &str, field: &str) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MESSAGE_MAX_CHARS || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(AppError::invalid_field(field, format!("must be 1 to {MESSAGE_MAX_CHARS} characters")));
    }
    Ok(text.to_owned())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LineBody {
    pub(crate) product: String,
    pub(crate) units: i64,
}

/// Checks request lines: 1..=10 lines, one per active product, units 1..=100,000.
async fn parse_lines(state: &AppState, lines: &[LineBody]) -> AppResult<Vec<(String, i64)>> {
    if lines.is_empty() || lines.len() > 10 {
        return Err(AppError::invalid_field("lines", "a request needs 1 to 10 lines"));
    }
    let mut seen = BTreeSet::new();
    let mut validator = Validator::default();
    for (index, line) in lines.iter().enumerate() {
        if !(1..=LINE_UNITS_MAX).contains(&line.units) {
            validator.check::<(), _>(
                &format!("lines[{index}].units"),
                Err(format!("must be a whole number from 1 to {LINE_UNITS_MAX}")),
            );
        }
        if !seen.insert(line.product.clone()) {
            validator.check::<(), _>(&format!("lines[{index}].product"), Err("only one line per product"));
        } else if !crate::ledger::store::is_active_product(state.db.pool(), &line.product).await? {
            validator.check::<(), _>(
                &format!("lines[{index}].product"),
                Err(format!("{} is not an active product", line.product)),
            );
        }
    }
    validator.finish()?;
    Ok(lines.iter().map(|line| (line.product.clone(), line.units)).collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    pub(crate) developer: String,
    pub(crate) lines: Vec<LineBody>,
    #[serde(default)]
    pub(crate) note: Option<String>,
}

pub(crate) async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<CreateBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    caller.require(&[Role::DeveloperAdmin, Role::DeveloperMember], "users of the developer company")?;
    let code: DeveloperCode = body
        .developer
        .parse()
        .map_err(|_| AppError::NotFound(format!("developer {} does not exist", body.developer)))?;
    let developer = crate::developer::store::require_by_code(state.db.pool(), &code).await?;
    if !caller.may_see_developer(developer.id) {
        return Err(AppError::NotFound(format!("developer {code} does not exist")));
    }
    if developer.status != "verified" {
        return Err(AppError::conflict(
            "developer-not-verified",
            format!("developer {code} is {}; only verified developers can request quota", developer.status),
        ));
    }
    let lines = parse_lines(&state, &body.lines).await?;
    let note = match body.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => message(note, "note")?,
        None => String::new(),
    };
    let calendar = crate::settings::working_calendar(state.db.pool()).await?;
    let (now_ms, today) = (state.clock.now_ms(), today_local(state.clock.now()));
    let due = calendar.add_working_days(today, 2).to_string();
    let actor = caller.actor();
    let mut transaction = state.db.begin_write().await?;
    let number = next_number(&mut transaction, NumberKind::Request, today.year()).await?;
    let id = store::insert_request(&mut transaction, &number, developer.id, &note, &actor, Some(&due), now_ms).await?;
    store::replace_lines(&mut transaction, id, &lines).await?;
    let event = store::NewEvent {
        request_id: id,
        action: "submit",
        from: None,
        to: Status::Submitted.as_str(),
        actor: &actor,
        message: None,
        due_on: Some(&due),
        at_ms: now_ms,
    };
    store::insert_event(&mut transaction, &event).await?;
    let subject = format!("quota_request:{id}");
    let after = json!({"number": number, "status": "submitted", "lines": lines});
    let audit = crate::audit::Record {
        actor: &actor,
        action: "submit",
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &audit).await?;
    let retail = crate::notify::recipients::team(&mut transaction, crate::notify::recipients::Team::Retail).await?;
    let facts = crate::notify::Facts {
        request_number: number.clone(),
        developer: developer.code.clone(),
        detail: None,
        reference: None,
        lines: Vec::new(),
    };
    let kind = crate::notify::MessageKind::RequestSubmitted;
    crate::notify::enqueue(
        &mut transaction,
        &crate::notify::Outgoing::new(kind, &facts, Some(id), &state.public_url),
        &retail,
        now_ms,
    )
    .await?;
    transaction.commit().await?;
    Ok((StatusCode::CREATED, Json(view(&state, id).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    developer: Option<String>,
    overdue: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<Json<Value>> {
    if caller.role == Role::Hims {
        return Err(AppError::Forbidden("HIMS does not take part in the purchase workflow".into()));
    }
    let limit =
        match query.limit.as_deref() {
            None => 50,
            Some(text) => text.parse().ok().filter(|n| (1..=REQUEST_PAGE_MAX).contains(n)).ok_or_else(|| {
                AppError::invalid_field("limit", format!("limit must be from 1 to {REQUEST_PAGE_MAX}"))
            })?,
        };
    let before_id =
        match query.after.as_deref() {
            None => i64::MAX,
            Some(text) => text.parse().ok().filter(|n: &i64| *n > 0).ok_or_else(|| {
                AppError::invalid_field("after", "after must be the 'next' cursor of a previous page")
            })?,
        };
    if let Some(status) = &query.status {
        if Status::parse(status).is_none() {
            return Err(AppError::invalid_field("status", format!("{status} is not a request status")));
        }
    }
    let mut developer_id = caller.developer_id.filter(|_| caller.role.is_developer());
    if let Some(code) = &query.developer {
        let code: DeveloperCode =
            code.parse().map_err(|_| AppError::invalid_field("developer", "not a developer code"))?;
        let developer = crate::developer::store::find_by_code(state.db.pool(), &code).await?;
        match developer {
            Some(d) if caller.may_see_developer(d.id) => developer_id = Some(d.id),
            _ => return Ok(Json(json!({"requests": [], "next": null}))),
        }
    }
    let overdue_on = match query.overdue.as_deref() {
        None | Some("false") => None,
        Some("true") => Some(today_local(state.clock.now()).to_string()),
        Some(_) => return Err(AppError::invalid_field("overdue", "overdue must be true or false")),
    };
    let filter =
        ListFilter { status: query.status, developer_id, overdue_on, search: None, before_id, limit: limit + 1 };
    let mut rows = store::list(state.db.pool(), &filter).await?;
    let page = usize::try_from(limit).unwrap_or(50);
    let next = (rows.len() > page).then(|| rows[page - 1].id.to_string());
    rows.truncate(page);
    let today = today_local(state.clock.now()).to_string();
    let requests: Vec<Value> = rows.iter().map(|row| summary(row, &today)).collect();
    Ok(Json(json!({"requests": requests, "next": next})))
}

fn is_overdue(due_on: Option<&str>, status: Status, today: &str) -> bool {
    status.owner().is_some() && due_on.is_some_and(|due| due < today)
}

fn summary(row: &RequestRow, today: &str) -> Value {
    json!({
        "id": row.id,
        "number": row.number,
        "developer": row.developer_code,
        "status": row.status.as_str(),
        "owner": row.status.owner().map(|p| format!("{p:?}").to_lowercase()),
        "due_on": row.due_on,
        "overdue": is_overdue(row.due_on.as_deref(), row.status, today),
        "created_at": format_rfc3339_local(row.created_at_ms),
    })
}

/// The full view of a request: lines, quotations, payments, documents, timeline.
async fn view(state: &AppState, id: i64) -> AppResult<Value> {
    let mut connection = state.db.pool().acquire().await?;
    let row = store::find(&mut connection, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("quota request {id} does not exist")))?;
    let today = today_local(state.clock.now()).to_string();
    let lines = store::lines(&mut connection, id).await?;
    let quotations = store::quotations(&mut connection, id).await?;
    let payments = store::payments(&mut connection, id).await?;
    let events = store::events(&mut connection, id).await?;
    let invoice = crate::finance::store::invoice_of_request(&mut connection, id).await?;
    let procedures = crate::documents::procedures::current(&mut connection).await?;
    let mut documents: Vec<Value> = quotations
        .iter()
        .map(|q| json!({"kind": "quotation", "number": q.number, "url": format!("/api/v1/documents/{}.pdf", q.number)}))
        .collect();
    if let Some(invoice) = &invoice {
        for (kind, number) in [("invoice", &invoice.number), ("delivery_order", &invoice.delivery_order_number)] {
            documents.push(json!({"kind": kind, "number": number, "url": format!("/api/v1/documents/{number}.pdf")}));
        }
    }
    let timeline: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            // A step is overdue if it ended after its due date, or is still open past it.
            let ended_on = events.get(index + 1).map(|next| today_local(crate::clock::millis_to_timestamp(next.at_ms)).to_string());
            let overdue = event.due_on.as_deref().is_some_and(|due| ended_on.as_deref().unwrap_or(&today) > due);
            json!({"at": format_rfc3339_local(event.at_ms), "actor": event.actor, "action": event.action, "from": event.from,
                   "to": event.to, "message": event.message, "due_at": event.due_on, "overdue": overdue})
        })
        .collect();
    let mut body = summary(&row, &today);
    if let Some(object) = body.as_object_mut() {
        object.insert("note".into(), json!(row.note));
        object.insert(
            "lines".into(),
            json!(lines.iter().map(|(p, u)| json!({"product": p, "units": u})).collect::<Vec<_>>()),
        );
        object.insert("quotations".into(), json!(quotations.iter().map(quotation_json).collect::<Vec<_>>()));
        object.insert("payments".into(), json!(payments));
        object.insert("invoice".into(), json!(invoice));
        object.insert("documents".into(), json!(documents));
        object.insert(
            "procedures".into(),
            json!(procedures.iter().map(crate::documents::procedures::Procedure::json).collect::<Vec<_>>()),
        );
        object.insert("timeline".into(), json!(timeline));
    }
    Ok(body)
}

/// Renders and stores newly issued documents. A failure here loses nothing:
/// the document is rendered on its first download instead.
async fn render_issued(state: &AppState, numbers: &[&str]) {
    for number in numbers {
        if let Err(error) = crate::documents::fetch(&state.db, &state.blobs, number, state.clock.now_ms()).await {
            tracing::warn!(number, error = %error, "document not rendered at issue; it will be on first download");
        }
    }
}

fn sen_text(sen: i64) -> String {
    Sen::new(sen).unwrap_or_default().to_string()
}

fn quotation_json(q: &store::QuotationRow) -> Value {
    json!({
        "number": q.number, "revision": q.revision, "superseded": q.superseded,
        "lines": q.lines.iter().map(|(product, units, price, amount)| json!({"product": product, "units": units, "unit_price": sen_text(*price), "amount": sen_text(*amount)})).collect::<Vec<_>>(),
        "subtotal": sen_text(q.subtotal), "discount_percent": BasisPoints::new(q.discount_bp).unwrap_or_default().to_string(),
        "discount": sen_text(q.discount), "tax_rate": BasisPoints::new(q.tax_bp).unwrap_or_default().to_string(),
        "tax": sen_text(q.tax), "total": sen_text(q.total), "issued_on": q.issued_on, "valid_until": q.valid_until,
    })
}

async fn show(State(state): State<AppState>, caller: ApiCaller, Path(id): Path<String>) -> AppResult<Json<Value>> {
    let id = id_from(&id, "quota request")?;
    let mut connection = state.db.pool().acquire().await?;
    let row = store::find(&mut connection, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("quota request {id} does not exist")))?;
    drop(connection);
    party_of(&caller, &row)?;
    Ok(Json(view(&state, id).await?))
}

/// Opens a write transaction with the request and the caller's party in it.
async fn begin_action(
    state: &AppState,
    caller: &ApiCaller,
    id: i64,
) -> AppResult<(sqlx::Transaction<'static, sqlx::Any>, RequestRow, Party, crate::calendar::WorkingCalendar)> {
    let calendar = crate::settings::working_calendar(state.db.pool()).await?;
    let mut transaction = state.db.begin_write().await?;
    let row = store::find(&mut transaction, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("quota request {id} does not exist")))?;
    let party = party_of(caller, &row)?;
    Ok((transaction, row, party, calendar))
}

/// Runs a simple action (no side effects beyond the transition) and answers with the request.
async fn simple_action(
    state: &AppState,
    caller: &ApiCaller,
    id: &str,
    action: Action,
    text: Option<&str>,
) -> AppResult<Json<Value>> {
    let id = id_from(id, "quota request")?;
    let (mut transaction, row, party, calendar) = begin_action(state, caller, id).await?;
    let actor = caller.actor();
    let context = ActionContext {
        actor: &actor,
        party,
        calendar: &calendar,
        today: today_local(state.clock.now()),
        now_ms: state.clock.now_ms(),
        valid_until: None,
        message: text,
        portal_url: &state.public_url,
        reference: None,
    };
    act(&mut transaction, &row, action, &context).await?;
    transaction.commit().await?;
    Ok(Json(view(state, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MessageBody {
    pub(crate) message: String,
}

pub(crate) async fn request_info(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MessageBody>,
) -> AppResult<Json<Value>> {
    let text = message(&body.message, "message")?;
    simple_action(&state, &caller, &id, Action::RequestInfo, Some(&text)).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InfoResponseBody {
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) lines: Option<Vec<LineBody>>,
}

pub(crate) async fn respond_info(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InfoResponseBody>,
) -> AppResult<Json<Value>> {
    let text = message(&body.message, "message")?;
    let lines = match &body.lines {
        Some(lines) => Some(parse_lines(&state, lines).await?),
        None => None,
    };
    let request_id = id_from(&id, "quota request")?;
    let (mut transaction, row, party, calendar) = begin_action(&state, &caller, request_id).await?;
    let actor = caller.actor();
    let context = ActionContext {
        actor: &actor,
        party,
        calendar: &calendar,
        today: today_local(state.clock.now()),
        now_ms: state.clock.now_ms(),
        valid_until: None,
        message: Some(&text),
        portal_url: &state.public_url,
        reference: None,
    };
    act(&mut transaction, &row, Action::RespondInfo, &context).await?;
    if let Some(lines) = lines {
        store::replace_lines(&mut transaction, request_id, &lines).await?;
    }
    transaction.commit().await?;
    Ok(Json(view(&state, request_id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotationBody {
    #[serde(default)]
    pub(crate) discount_percent: Option<String>,
}

pub(crate) async fn issue_quotation(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<QuotationBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let discount: BasisPoints = body
        .discount_percent
        .as_deref()
        .unwrap_or("0")
        .parse()
        .map_err(|e: crate::money::MoneyError| AppError::invalid_field("discount_percent", e.to_string()))?;
    let request_id = id_from(&id, "quota request")?;
    let settings = crate::settings::load(state.db.pool()).await?;
    let (mut transaction, row, party, calendar) = begin_action(&state, &caller, request_id).await?;
    let today = today_local(state.clock.now());
    let mut priced_lines = Vec::new();
    for (product, units) in store::lines(&mut transaction, request_id).await? {
        let price =
            crate::catalogue::price_on(&mut transaction, &product, &today.to_string()).await?.ok_or_else(|| {
                AppError::conflict(
                    "no-price",
                    format!("{product} has no price in force on {today}; an administrator must add one"),
                )
            })?;
        priced_lines.push((product, units, price));
    }
    let pricing = super::quotation::price(&priced_lines, discount, settings.sst())
        .map_err(|e| AppError::invalid_field("lines", e.to_string()))?;
    let valid_until = calendar.add_working_days(today, settings.quotation_validity_working_days);
    let actor = caller.actor();
    let number = next_number(&mut transaction, NumberKind::Quotation, today.year()).await?;
    let summary = format!("{} · {}", pricing.total.display_rm(), valid_until.strftime("%d/%m/%Y"));
    let context = ActionContext {
        actor: &actor,
        party,
        calendar: &calendar,
        today,
        now_ms: state.clock.now_ms(),
        valid_until: Some(valid_until),
        message: Some(&summary),
        portal_url: &state.public_url,
        reference: Some(&number),
    };
    act(&mut transaction, &row, Action::IssueQuotation, &context).await?;
    store::insert_quotation(
        &mut transaction,
        request_id,
        &number,
        &pricing,
        &today.to_string(),
        &valid_until.to_string(),
        state.clock.now_ms(),
    )
    .await?;
    transaction.commit().await?;
    render_issued(&state, &[number.as_str()]).await;
    let mut connection = state.db.pool().acquire().await?;
    let quotation = store::current_quotation(&mut connection, request_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("quotation vanished")))?;
    Ok((StatusCode::CREATED, Json(quotation_json(&quotation))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReasonBody {
    pub(crate) reason: String,
}

pub(crate) async fn cancel(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    let reason = message(&body.reason, "reason")?;
    simple_action(&state, &caller, &id, Action::Cancel, Some(&reason)).await
}

/// The fields of a payment form.
#[derive(Default)]
pub(crate) struct PaymentForm {
    pub(crate) method: Option<String>,
    pub(crate) reference: Option<String>,
    pub(crate) amount: Option<String>,
    pub(crate) paid_on: Option<String>,
    pub(crate) document: Option<(Option<String>, Vec<u8>)>,
}

async fn read_payment_form(mut multipart: Multipart) -> AppResult<PaymentForm> {
    let mut form = PaymentForm::default();
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::Unprocessable { slug: "invalid-document", detail: "the document is larger than 10 MB".into() }
        } else {
            AppError::invalid_field("body", format!("the multipart form could not be read: {e}"))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "document" => {
                let file_name = field.file_name().map(str::to_owned);
                form.document = Some((file_name, field.bytes().await.map_err(malformed)?.to_vec()));
            }
            "method" | "reference" | "amount" | "paid_on" => {
                let text = field.text().await.map_err(malformed)?;
                let slot = match name.as_str() {
                    "method" => &mut form.method,
                    "reference" => &mut form.reference,
                    "amount" => &mut form.amount,
                    _ => &mut form.paid_on,
                };
                *slot = Some(text);
            }
            other => return Err(AppError::invalid_field(other, "unknown form field")),
        }
    }
    Ok(form)
}

async fn submit_payment(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiMultipart(multipart): ApiMultipart,
) -> AppResult<(StatusCode, Json<Value>)> {
    let request_id = id_from(&id, "quota request")?;
    let form = read_payment_form(multipart).await?;
    record_payment(&state, &caller, request_id, form).await
}

/// Checks a payment form and records the payment (seed step 4).
pub(crate) async fn record_payment(
    state: &AppState,
    caller: &ApiCaller,
    request_id: i64,
    form: PaymentForm,
) -> AppResult<(StatusCode, Json<Value>)> {
    let mut validator = Validator::default();
    let method = validator.check("method", form.method.as_deref().unwrap_or_default().parse::<Method>());
    let reference =
        validator.check("reference", crate::ledger::Reference::new(form.reference.as_deref().unwrap_or_default()));
    let amount = validator.check("amount", form.amount.as_deref().unwrap_or_default().parse::<Sen>());
    let paid_on = validator.check(
        "paid_on",
        form.paid_on.as_deref().unwrap_or_default().parse::<Date>().map_err(|_| "must be a date as YYYY-MM-DD"),
    );
    let has_document =
        validator.check("document", form.document.as_ref().ok_or("a PDF, PNG or JPEG document is required"));
    validator.finish()?;
    checked(has_document)?;
    let (file_name, bytes) = form.document.unwrap_or_default();
    let media_type = sniff(&bytes, file_name.as_deref())
        .map_err(|e| AppError::Unprocessable { slug: "invalid-document", detail: e.to_string() })?;
    let (method, reference, amount, paid_on) =
        (checked(method)?, checked(reference)?, checked(amount)?, checked(paid_on)?);
    let sha256 = sha256_hex(&bytes);
    let (mut transaction, row, party, calendar) = begin_action(state, caller, request_id).await?;
    let quotation = store::current_quotation(&mut transaction, request_id).await?;
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
        reference: Some(reference.as_str()),
    };
    act(&mut transaction, &row, Action::SubmitPayment, &context).await?;
    let quotation = quotation.ok_or_else(|| AppError::conflict("wrong-status", "the request has no quotation"))?;
    if amount.get() != quotation.total {
        return Err(AppError::Unprocessable {
            slug: "amount-mismatch",
            detail: format!("the amount must be the quotation total {}", sen_text(quotation.total)),
        });
    }
    let inserted = sqlx::query(
        "INSERT INTO payments (request_id, quotation_id, method, reference, amount_sen, paid_on, document_sha256, document_type, status, submitted_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'submitted', $9, $10) RETURNING id",
    )
    .bind(request_id)
    .bind(quotation.id)
    .bind(method.as_str())
    .bind(reference.as_str())
    .bind(amount.get())
    .bind(paid_on.to_string())
    .bind(&sha256)
    .bind(media_type)
    .bind(&actor)
    .bind(state.clock.now_ms())
    .fetch_one(&mut *transaction)
    .await;
    let payment_id: i64 = match inserted {
        Ok(row) => sqlx::Row::try_get(&row, 0)?,
        Err(error) if is_unique_violation(&error) => {
            return Err(AppError::conflict(
                "duplicate-payment",
                "this document, or this method and reference, was already submitted for a payment",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    state.blobs.put(&sha256, &bytes).map_err(|e| AppError::Internal(anyhow::anyhow!("storing the document: {e}")))?;
    transaction.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": payment_id, "status": "submitted", "request": view(state, request_id).await?})),
    ))
}

async fn payment_and_request(
    state: &AppState,
    caller: &ApiCaller,
    id: &str,
) -> AppResult<(
    sqlx::Transaction<'static, sqlx::Any>,
    store::PaymentRow,
    RequestRow,
    Party,
    crate::calendar::WorkingCalendar,
)> {
    let payment_id = id_from(id, "payment")?;
    let calendar = crate::settings::working_calendar(state.db.pool()).await?;
    let mut transaction = state.db.begin_write().await?;
    let payment = store::find_payment(&mut transaction, payment_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("payment {payment_id} does not exist")))?;
    let row = store::find(&mut transaction, payment.request_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("payment {payment_id} does not exist")))?;
    let party =
        party_of(caller, &row).map_err(|_| AppError::NotFound(format!("payment {payment_id} does not exist")))?;
    Ok((transaction, payment, row, party, calendar))
}

pub(crate) async fn approve_payment(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let (mut transaction, payment, row, party, calendar) = payment_and_request(&state, &caller, &id).await?;
    let actor = caller.actor();
    let now_ms = state.clock.now_ms();
    let context = ActionContext {
        actor: &actor,
        party,
        calendar: &calendar,
        today: today_local(state.clock.now()),
        now_ms,
        valid_until: None,
        message: None,
        portal_url: &state.public_url,
        reference: None,
    };
    // Lock order: request row, audit head (both in `act`), then accounts —
    // the ledger writer also takes the audit head before accounts.
    act(&mut transaction, &row, Action::ApprovePayment, &context).await?;
    if !store::decide_payment(&mut transaction, payment.id, "approved", None, now_ms).await? {
        return Err(AppError::conflict(
            "payment-not-pending",
            format!("payment {} is already {}", payment.id, payment.status),
        ));
    }
    for (product, units) in store::lines(&mut transaction, row.id).await? {
        crate::ledger::credit(&mut transaction, row.developer_id, &product, units, &row.number, &actor, now_ms).await?;
    }
    transaction.commit().await?;
    Ok(Json(view(&state, row.id).await?))
}

pub(crate) async fn reject_payment(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    let reason = message(&body.reason, "reason")?;
    let (mut transaction, payment, row, party, calendar) = payment_and_request(&state, &caller, &id).await?;
    let actor = caller.actor();
    let now_ms = state.clock.now_ms();
    let mut connection = state.db.pool().acquire().await?;
    let valid_until = store::current_quotation(&mut connection, row.id).await?.and_then(|q| q.valid_until.parse().ok());
    drop(connection);
    let context = ActionContext {
        actor: &actor,
        party,
        calendar: &calendar,
        today: today_local(state.clock.now()),
        now_ms,
        valid_until,
        message: Some(&reason),
        portal_url: &state.public_url,
        reference: None,
    };
    act(&mut transaction, &row, Action::RejectPayment, &context).await?;
    if !store::decide_payment(&mut transaction, payment.id, "rejected", Some(&reason), now_ms).await? {
        return Err(AppError::conflict(
            "payment-not-pending",
            format!("payment {} is already {}", payment.id, payment.status),
        ));
    }
    transaction.commit().await?;
    Ok(Json(view(&state, row.id).await?))
}

async fn payment_document(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let payment_id = id_from(&id, "payment")?;
    let mut connection = state.db.pool().acquire().await?;
    let payment = store::find_payment(&mut connection, payment_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("payment {payment_id} does not exist")))?;
    let row = store::find(&mut connection, payment.request_id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("payment {payment_id} does not exist")))?;
    party_of(&caller, &row).map_err(|_| AppError::NotFound(format!("payment {payment_id} does not exist")))?;
    let bytes = state
        .blobs
        .get(&payment.document_sha256)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("reading document: {e}")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, payment.document_type)], bytes).into_response())
}

pub(crate) async fn issue_invoice(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let request_id = id_from(&id, "quota request")?;
    let (mut transaction, row, party, calendar) = begin_action(&state, &caller, request_id).await?;
    let actor = caller.actor();
    let today = today_local(state.clock.now());
    let invoice_number = next_number(&mut transaction, NumberKind::Invoice, today.year()).await?;
    let delivery_number = next_number(&mut transaction, NumberKind::DeliveryOrder, today.year()).await?;
    let context = ActionContext {
        actor: &actor,
        party,
        calendar: &calendar,
        today,
        now_ms: state.clock.now_ms(),
        valid_until: None,
        message: Some(&delivery_number),
        portal_url: &state.public_url,
        reference: Some(&invoice_number),
    };
    act(&mut transaction, &row, Action::IssueInvoice, &context).await?;
    let quotation = store::current_quotation(&mut transaction, request_id)
        .await?
        .ok_or_else(|| AppError::conflict("wrong-status", "the request has no quotation"))?;
    let paid = store::payments(&mut transaction, request_id).await?.into_iter().rfind(|p| p.status == "approved");
    let paid_method = paid.as_ref().and_then(|p| p.method.parse::<Method>().ok());
    let is_paid = paid_method.is_some_and(Method::is_paid);
    crate::finance::store::insert_invoice(
        &mut transaction,
        &crate::finance::store::NewInvoice {
            number: &invoice_number,
            delivery_order_number: &delivery_number,
            request_id,
            total_sen: quotation.total,
            paid: is_paid,
            issued_on: &today.to_string(),
            paid_on: paid.as_ref().filter(|_| is_paid).map(|p| p.paid_on.as_str()),
            now_ms: state.clock.now_ms(),
        },
    )
    .await?;
    transaction.commit().await?;
    render_issued(&state, &[invoice_number.as_str(), delivery_number.as_str()]).await;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"invoice_number": invoice_number, "delivery_order_number": delivery_number, "payment_status": if is_paid { "paid" } else { "unpaid" }}),
        ),
    ))
}
