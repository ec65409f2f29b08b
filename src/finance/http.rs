//! Invoices and receivables over the API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiJson, ApiQuery, Validator, checked};
use crate::auth::{ApiCaller, Role};
use crate::clock::today_local;
use crate::error::{AppError, AppResult};
use crate::ledger::Reference;
use crate::state::AppState;

/// The finance routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/invoices", get(list))
        .route("/api/v1/invoices/{number}", get(invoice))
        .route("/api/v1/invoices/{number}/credit-notes", post(credit_note))
        .route("/api/v1/invoices/{number}/refund-notes", post(refund_note))
        .route("/api/v1/invoices/{number}/settlement", post(settle))
        .route("/api/v1/invoices/{number}/e-invoice", get(e_invoice))
        .route("/api/v1/invoices/{number}/e-invoice.json", get(e_invoice_document))
        .route("/api/v1/invoices/{number}/e-invoice/resubmission", post(resubmit_e_invoice))
        .route("/api/v1/invoices/{number}/e-invoice/cancellation", post(cancel_e_invoice))
}

/// The developer whose invoice or note `number` is, if it exists.
async fn owner_of(connection: &mut sqlx::AnyConnection, number: &str) -> AppResult<Option<i64>> {
    if super::NoteKind::of_number(number).is_some() {
        return Ok(super::store::find_note(connection, number).await?.map(|note| note.developer_id));
    }
    Ok(super::store::find(connection, number).await?.map(|invoice| invoice.developer_id))
}

/// The latest e-invoice of an invoice or note, for a caller who may see it.
async fn visible_e_invoice(
    state: &AppState,
    caller: &ApiCaller,
    number: &str,
) -> AppResult<crate::myinvois::store::EInvoiceRow> {
    let not_found = || AppError::NotFound(format!("invoice {number} has no e-invoice"));
    if caller.role == Role::Hims || number.len() > 40 {
        return Err(not_found());
    }
    let mut connection = state.db.pool().acquire().await?;
    let owner = owner_of(&mut connection, number).await?.ok_or_else(not_found)?;
    if !caller.may_see_developer(owner) {
        return Err(not_found());
    }
    crate::myinvois::store::latest(&mut connection, number).await?.ok_or_else(not_found)
}

/// An e-invoice as the API shows it.
fn e_invoice_json(state: &AppState, row: &crate::myinvois::store::EInvoiceRow) -> Value {
    let validation_url = match (&state.e_invoicing, &row.uuid, &row.long_id) {
        (Some(e_invoicing), Some(uuid), Some(long_id)) => Some(e_invoicing.client.validation_url(uuid, long_id)),
        _ => row.validation_url.clone(),
    };
    json!({
        "invoice": row.document_number, "version": row.version, "status": row.status, "uuid": row.uuid,
        "long_id": row.long_id, "validation_url": validation_url, "document_sha256": row.document_sha256,
        "errors": row.errors_en.as_ref().map(|en| json!({"en": en, "ms": row.errors_ms})),
    })
}

/// A note as the API shows it, with its e-invoice.
fn note_json(
    state: &AppState,
    note: &super::store::NoteRow,
    e_invoice: Option<&crate::myinvois::store::EInvoiceRow>,
) -> Value {
    let mut body = json!(note);
    if let Some(object) = body.as_object_mut() {
        object.insert("e_invoice".into(), e_invoice.map_or(Value::Null, |row| e_invoice_json(state, row)));
        object.insert("url".into(), json!(format!("/api/v1/documents/{}.pdf", note.number)));
    }
    body
}

/// `GET /api/v1/invoices/{number}`: the invoice, its e-invoice and its notes.
async fn invoice(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
) -> AppResult<Json<Value>> {
    let not_found = || AppError::NotFound(format!("invoice {number} does not exist"));
    if caller.role == Role::Hims || number.len() > 40 {
        return Err(not_found());
    }
    let mut connection = state.db.pool().acquire().await?;
    let invoice = super::store::find(&mut connection, &number).await?.ok_or_else(not_found)?;
    if !caller.may_see_developer(invoice.developer_id) {
        return Err(not_found());
    }
    let e_invoice = crate::myinvois::store::latest(&mut connection, &number).await?;
    let mut notes = Vec::new();
    for note in super::store::notes_of_invoice(&mut connection, &number).await? {
        let row = crate::myinvois::store::latest(&mut connection, &note.number).await?;
        notes.push(note_json(&state, &note, row.as_ref()));
    }
    let mut body = json!(invoice);
    if let Some(object) = body.as_object_mut() {
        object.insert("e_invoice".into(), e_invoice.as_ref().map_or(Value::Null, |row| e_invoice_json(&state, row)));
        object.insert("notes".into(), json!(notes));
        object.insert("url".into(), json!(format!("/api/v1/documents/{number}.pdf")));
    }
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteLineBody {
    product: String,
    units: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoteBody {
    reason: String,
    lines: Vec<NoteLineBody>,
}

/// `POST /api/v1/invoices/{number}/credit-notes`: finance reduces an invoice.
async fn credit_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    issue_note(&state, &caller, &number, super::NoteKind::Credit, body).await
}

/// `POST /api/v1/invoices/{number}/refund-notes`: finance returns money paid on an invoice.
async fn refund_note(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<NoteBody>,
) -> AppResult<(StatusCode, Json<Value>)> {
    issue_note(&state, &caller, &number, super::NoteKind::Refund, body).await
}

async fn issue_note(
    state: &AppState,
    caller: &ApiCaller,
    number: &str,
    kind: super::NoteKind,
    body: NoteBody,
) -> AppResult<(StatusCode, Json<Value>)> {
    let mut validator = Validator::default();
    let reason = validator.check("reason", body.reason.parse::<crate::request::Message>().map_err(|e| e.to_string()));
    if body.lines.is_empty() || body.lines.len() > super::notes::LINES_MAX {
        validator.fail("lines", format!("must hold 1 to {} lines", super::notes::LINES_MAX));
    }
    let mut lines: Vec<(String, i64)> = Vec::with_capacity(body.lines.len());
    for (index, line) in body.lines.into_iter().enumerate() {
        if !(1..=crate::ledger::domain::UNITS_MAX).contains(&line.units) {
            validator
                .fail(format!("lines[{index}].units"), format!("must be 1 to {}", crate::ledger::domain::UNITS_MAX));
        }
        if line.product.is_empty() || line.product.chars().count() > 64 {
            validator.fail(format!("lines[{index}].product"), "must be a product code");
        }
        lines.push((line.product, line.units));
    }
    validator.finish()?;
    let note = super::notes::issue(state, caller, number, kind, &checked(reason)?, &lines).await?;
    let mut connection = state.db.pool().acquire().await?;
    let row = crate::myinvois::store::latest(&mut connection, &note.number).await?;
    Ok((StatusCode::CREATED, Json(note_json(state, &note, row.as_ref()))))
}

/// `GET /api/v1/invoices/{number}/e-invoice.json`: the exact bytes signed
/// and submitted to MyInvois.
async fn e_invoice_document(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
) -> AppResult<axum::response::Response> {
    use axum::response::IntoResponse as _;
    let row = visible_e_invoice(&state, &caller, &number).await?;
    let document =
        row.document.ok_or_else(|| AppError::NotFound(format!("the e-invoice of {number} is not built yet")))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], document).into_response())
}

/// `POST /api/v1/invoices/{number}/e-invoice/resubmission`: finance sends an
/// invalid e-invoice again, as a new version, once the data is corrected.
async fn resubmit_e_invoice(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
) -> AppResult<(StatusCode, Json<Value>)> {
    visible_e_invoice(&state, &caller, &number).await?;
    let row = crate::myinvois::service::resubmit(&state, &caller, &number).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"invoice": row.document_number, "version": row.version, "status": row.status})),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CancellationBody {
    reason: String,
}

/// `POST /api/v1/invoices/{number}/e-invoice/cancellation`: finance cancels a
/// valid e-invoice at MyInvois within 72 hours of its validation.
async fn cancel_e_invoice(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<CancellationBody>,
) -> AppResult<Json<Value>> {
    let reason =
        body.reason.parse::<crate::request::Message>().map_err(|e| AppError::invalid_field("reason", e.to_string()))?;
    visible_e_invoice(&state, &caller, &number).await?;
    let row = crate::myinvois::service::cancel(&state, &caller, &number, &reason).await?;
    Ok(Json(json!({"invoice": row.document_number, "version": row.version, "status": row.status})))
}

/// `GET /api/v1/invoices/{number}/e-invoice`: where its e-invoice stands.
async fn e_invoice(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
) -> AppResult<Json<Value>> {
    let row = visible_e_invoice(&state, &caller, &number).await?;
    Ok(Json(e_invoice_json(&state, &row)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

/// Largest page of invoices.
pub const INVOICE_PAGE_MAX: i64 = 200;

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<Json<Value>> {
    if caller.role == Role::Hims {
        return Err(AppError::Forbidden("HIMS does not see invoices".into()));
    }
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(
            super::InvoiceStatus::parse(text)
                .ok_or_else(|| AppError::invalid_field("status", "status must be paid or unpaid"))?,
        ),
    };
    let asked = crate::api::PageQuery::parse(query.limit.as_deref(), query.after.as_deref(), 100, INVOICE_PAGE_MAX)?;
    let developer_id = caller.developer_id.filter(|_| caller.role.is_developer());
    let after_id = asked.after.unwrap_or(0);
    let filter = super::store::InvoiceFilter { status, developer_id, after_id, limit: asked.limit + 1 };
    let mut rows = super::store::list(state.db.pool(), &filter).await?;
    let page = asked.rows();
    let next = (rows.len() > page).then(|| rows[page - 1].id.to_string());
    rows.truncate(page);
    let today = today_local(state.clock.now());
    let invoices: Vec<Value> = rows
        .into_iter()
        .map(|invoice| {
            let age_days = invoice
                .issued_on
                .parse::<Date>()
                .ok()
                .and_then(|issued| (today - issued).get_days().into())
                .unwrap_or(0);
            let mut body = json!(invoice);
            if let Some(object) = body.as_object_mut() {
                object.insert("age_days".into(), json!(age_days));
            }
            body
        })
        .collect();
    Ok(Json(json!({"invoices": invoices, "next": next})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettlementBody {
    paid_on: String,
    reference: String,
}

async fn settle(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<SettlementBody>,
) -> AppResult<Json<Value>> {
    let mut validator = Validator::default();
    let paid_on = validator.check("paid_on", body.paid_on.parse::<Date>().map_err(|_| "must be a date as YYYY-MM-DD"));
    let reference = validator.check("reference", Reference::new(&body.reference));
    validator.finish()?;
    let settled = super::service::settle(&state, &caller, &number, checked(paid_on)?, &checked(reference)?).await?;
    Ok(Json(json!(settled)))
}

/// `POST /api/v1/quota-requests/{id}/invoice`: finance issues the invoice and delivery order.
pub(crate) async fn issue_invoice(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let request_id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::NotFound(format!("quota request {id} does not exist")))?;
    let issued = super::service::issue_invoice(&state, &caller, request_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "invoice_number": issued.invoice_number,
            "delivery_order_number": issued.delivery_order_number,
            "payment_status": issued.status,
        })),
    ))
}
