//! Quota requests over the API: every workflow step, for developers, retail
//! and finance, each refused with 403 (wrong role), 404 (not yours) or 409
//! (wrong state) and nothing changed.

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Value, json};

use super::domain::{Message, Status};
use super::party_of;
use super::payment::{Method, PAYMENT_BODY_MAX_BYTES};
use super::service::{self, NewLine, NewPayment};
use super::store::{self, ListFilter, RequestRow};
use crate::api::extract::ApiMultipart;
use crate::api::{ApiJson, ApiQuery, Validator, checked};
use crate::auth::{ApiCaller, Role};
use crate::clock::{format_rfc3339_local, today_local};
use crate::developer::DeveloperCode;
use crate::error::{AppError, AppResult};
use crate::money::{BasisPoints, Sen};
use crate::state::AppState;

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
        .route("/api/v1/quota-requests/{id}/invoice", post(crate::finance::http::issue_invoice))
        .route("/api/v1/payments/{id}/approval", post(approve_payment))
        .route("/api/v1/payments/{id}/rejection", post(reject_payment))
        .route("/api/v1/payments/{id}/document", get(payment_document))
}

/// A path id: a positive integer, or 404 naming `what`.
pub(crate) fn id_from(text: &str, what: &str) -> AppResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::NotFound(format!("{what} {text} does not exist")))
}

fn message(text: &str, field: &str) -> AppResult<Message> {
    text.parse().map_err(|e: super::domain::MessageError| AppError::invalid_field(field, e.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineBody {
    product: String,
    units: i64,
}

fn new_lines(lines: &[LineBody]) -> Vec<NewLine> {
    lines.iter().map(|line| NewLine { product: line.product.clone(), units: line.units }).collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    developer: String,
    lines: Vec<LineBody>,
    #[serde(default)]
    note: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<CreateBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let code: DeveloperCode = body
        .developer
        .parse()
        .map_err(|_| AppError::NotFound(format!("developer {} does not exist", body.developer)))?;
    let note = match body.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(note) => Some(message(note, "note")?),
        None => None,
    };
    let id = service::submit(&state, &caller, &code, &new_lines(&body.lines), note.as_ref()).await?;
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
    let asked = crate::api::PageQuery::parse(query.limit.as_deref(), query.after.as_deref(), 50, REQUEST_PAGE_MAX)?;
    // Newest first: the cursor is the id the next page stays below.
    let (limit, before_id) = (asked.limit, asked.after.unwrap_or(i64::MAX));
    if let Some(status) = &query.status {
        if Status::parse(status).is_none() {
            return Err(AppError::invalid_field("status", format!("{status} is not a request status")));
        }
    }
    let overdue_on = match query.overdue.as_deref() {
        None | Some("false") => None,
        Some("true") => Some(today_local(state.clock.now()).to_string()),
        Some(_) => return Err(AppError::invalid_field("overdue", "overdue must be true or false")),
    };
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
    let filter =
        ListFilter { status: query.status, developer_id, overdue_on, search: None, before_id, limit: limit + 1 };
    let mut rows = store::list(state.db.pool(), &filter).await?;
    let page = asked.rows();
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
        for note in crate::finance::store::notes_of_invoice(&mut connection, &invoice.number).await? {
            let number = &note.number;
            documents
                .push(json!({"kind": note.kind, "number": number, "url": format!("/api/v1/documents/{number}.pdf")}));
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
                   "to": event.to, "message": event.message, "due_at": event.due_on, "overdue": overdue,
                   "by": if super::is_system_actor(&event.actor) { "system" } else { "person" }})
        })
        .collect();
    let staff_actions = events.iter().filter(|event| super::is_staff_action(&event.action, &event.actor)).count();
    let online_payments: Vec<crate::billplz::service::BillView> =
        crate::billplz::store::for_request(&mut connection, id).await?.iter().map(Into::into).collect();
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
        object.insert("staff_actions".into(), json!(staff_actions));
        object.insert("online_payments".into(), json!(online_payments));
    }
    Ok(body)
}

fn quotation_json(q: &store::QuotationRow) -> Value {
    json!({
        "number": q.number, "revision": q.revision, "superseded": q.superseded,
        "lines": q.lines.iter().map(|l| json!({"product": l.product, "units": l.units, "unit_price": l.unit_price, "amount": l.amount})).collect::<Vec<_>>(),
        "subtotal": q.subtotal, "discount_percent": q.discount_rate,
        "discount": q.discount, "tax_rate": q.tax_rate,
        "tax": q.tax, "total": q.total, "issued_on": q.issued_on, "valid_until": q.valid_until,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    message: String,
}

async fn request_info(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MessageBody>,
) -> AppResult<Json<Value>> {
    let text = message(&body.message, "message")?;
    let id = id_from(&id, "quota request")?;
    service::request_info(&state, &caller, id, &text).await?;
    Ok(Json(view(&state, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoResponseBody {
    message: String,
    #[serde(default)]
    lines: Option<Vec<LineBody>>,
}

async fn respond_info(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<InfoResponseBody>,
) -> AppResult<Json<Value>> {
    let text = message(&body.message, "message")?;
    let lines = body.lines.as_deref().map(new_lines);
    let id = id_from(&id, "quota request")?;
    service::respond_info(&state, &caller, id, &text, lines.as_deref()).await?;
    Ok(Json(view(&state, id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuotationBody {
    #[serde(default)]
    discount_percent: Option<String>,
}

async fn issue_quotation(
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
    let id = id_from(&id, "quota request")?;
    service::issue_quotation(&state, &caller, id, discount).await?;
    let mut connection = state.db.pool().acquire().await?;
    let quotation = store::current_quotation(&mut connection, id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("quotation vanished")))?;
    Ok((StatusCode::CREATED, Json(quotation_json(&quotation))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

async fn cancel(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    let reason = message(&body.reason, "reason")?;
    let id = id_from(&id, "quota request")?;
    service::cancel(&state, &caller, id, &reason).await?;
    Ok(Json(view(&state, id).await?))
}

/// The fields of a payment form.
#[derive(Default)]
struct PaymentForm {
    method: Option<String>,
    reference: Option<String>,
    amount: Option<String>,
    paid_on: Option<String>,
    document: Option<(Option<String>, Vec<u8>)>,
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

/// The typed payment of a form, or every field that was wrong.
fn parse_payment(form: PaymentForm) -> AppResult<NewPayment> {
    let mut validator = Validator::default();
    let method = validator.check("method", form.method.as_deref().unwrap_or_default().parse::<Method>());
    let reference =
        validator.check("reference", crate::ledger::Reference::new(form.reference.as_deref().unwrap_or_default()));
    let amount = validator.check("amount", form.amount.as_deref().unwrap_or_default().parse::<Sen>());
    let paid_on = validator.check(
        "paid_on",
        form.paid_on.as_deref().unwrap_or_default().parse::<Date>().map_err(|_| "must be a date as YYYY-MM-DD"),
    );
    let document = validator.check("document", form.document.ok_or("a PDF, PNG or JPEG document is required"));
    validator.finish()?;
    let (file_name, document) = checked(document)?;
    Ok(NewPayment {
        method: checked(method)?,
        reference: checked(reference)?,
        amount: checked(amount)?,
        paid_on: checked(paid_on)?,
        file_name,
        document,
    })
}

async fn submit_payment(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiMultipart(multipart): ApiMultipart,
) -> AppResult<(StatusCode, Json<Value>)> {
    let request_id = id_from(&id, "quota request")?;
    let payment = parse_payment(read_payment_form(multipart).await?)?;
    let payment_id = service::submit_payment(&state, &caller, request_id, payment).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": payment_id, "status": "submitted", "request": view(&state, request_id).await?})),
    ))
}

async fn approve_payment(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> AppResult<axum::response::Response> {
    let payment_id = id_from(&id, "payment")?;
    match service::approve_payment(&state, &caller, payment_id, None).await? {
        service::Approval::Credited(request_id) => Ok(Json(view(&state, request_id).await?).into_response()),
        service::Approval::AwaitingSecond { approval_id, .. } => Ok(crate::approval::http::awaiting(approval_id)),
    }
}

async fn reject_payment(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    let reason = message(&body.reason, "reason")?;
    let payment_id = id_from(&id, "payment")?;
    let request_id = service::reject_payment(&state, &caller, payment_id, &reason).await?;
    Ok(Json(view(&state, request_id).await?))
}

async fn payment_document(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let payment_id = id_from(&id, "payment")?;
    let (media_type, bytes) = service::payment_document(&state, &caller, payment_id).await?;
    let extension = match media_type.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        _ => "jpg",
    };
    // An upload is never run in kuota's origin: a download, sandboxed if opened.
    let disposition = format!("attachment; filename=\"payment-{payment_id}.{extension}\"");
    let headers = [
        (axum::http::header::CONTENT_TYPE, media_type),
        (axum::http::header::CONTENT_DISPOSITION, disposition),
        (axum::http::header::CONTENT_SECURITY_POLICY, "sandbox; frame-ancestors 'self'".to_owned()),
    ];
    Ok((headers, bytes).into_response())
}
