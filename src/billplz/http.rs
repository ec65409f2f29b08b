//! Online payment over the API: a developer starts one; Billplz posts its
//! callback (form-encoded, no auth: the X-Signature is the authentication);
//! retail lists and decides paid bills that wait for a decision; finance
//! reads the latest reconciliation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse as _, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::service::{self, Decision, Source};
use super::store::{self, BillStatus};
use crate::api::{ApiJson, ApiQuery};
use crate::auth::{ApiCaller, Role};
use crate::error::{AppError, AppResult};
use crate::request::http::id_from;
use crate::state::AppState;

/// The online-payment routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/quota-requests/{id}/online-payments", post(start))
        .route(service::CALLBACK_PATH, post(callback))
        .route("/api/v1/online-payments", get(list))
        .route("/api/v1/online-payments/{id}/decision", post(decide))
        .route("/api/v1/online-payments/reconciliation", get(reconciliation))
}

async fn start(State(state): State<AppState>, caller: ApiCaller, Path(id): Path<String>) -> AppResult<Response> {
    let id = id_from(&id, "quota request")?;
    let (bill, created) = service::start(&state, &caller, id).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(bill)).into_response())
}

/// The form fields of a body, in order; an unreadable body is a 400.
fn form_fields(body: &[u8]) -> AppResult<Vec<(String, String)>> {
    std::str::from_utf8(body)
        .ok()
        .and_then(crate::billplz::signature::form_fields)
        .ok_or_else(|| AppError::invalid_field("body", "must be application/x-www-form-urlencoded UTF-8"))
}

/// Billplz's callback: 200 only once the payment is recorded (or was
/// before); 401 for a wrong signature, with nothing written; 503 when
/// Billplz itself could not be asked (it retries).
async fn callback(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<Json<Value>> {
    let content_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(AppError::UnsupportedMediaType(
            "the body must be form data with Content-Type: application/x-www-form-urlencoded".into(),
        ));
    }
    let fields = form_fields(&body)?;
    let settled = service::receive(&state, Source::Callback, &fields).await?;
    let outcome = match settled {
        service::Settled::Credited(_) => "credited",
        service::Settled::NeedsDecision(_) => "needs_decision",
        service::Settled::Already(_, status) => status.as_str(),
        service::Settled::NotPaid(_) => "not_paid",
    };
    Ok(Json(json!({"status": outcome})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    status: Option<String>,
}

fn staff(caller: &ApiCaller) -> AppResult<()> {
    if matches!(caller.role, Role::Retail | Role::Finance | Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden("only retail, finance and administrators see online payments here".into()))
    }
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<Json<Value>> {
    staff(&caller)?;
    let status = match query.status.as_deref() {
        None => BillStatus::NeedsDecision,
        Some(text) => BillStatus::parse(text).ok_or_else(|| {
            AppError::invalid_field("status", "must be pending, credited, needs_decision, refund or deleted")
        })?,
    };
    let rows = store::with_status(&mut *state.db.pool().acquire().await?, status).await?;
    let items: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "id": row.id, "provider": "billplz", "bill_id": row.bill_id, "url": row.url,
                "amount": row.amount.get(), "status": row.status.as_str(),
                "request": {"id": row.request_id, "number": row.request_number},
                "quotation": row.quotation_number, "developer": row.developer_code,
                "paid_amount": row.paid_amount.map(crate::money::Sen::get), "paid_at": row.paid_at,
                "problem": row.problem, "payment_id": row.payment_id, "decided_by": row.decided_by,
                "decision_reason": row.decision_reason,
            })
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: String,
    #[serde(default)]
    reason: Option<String>,
}

async fn decide(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> AppResult<Json<service::BillView>> {
    let decision = match (body.decision.as_str(), body.reason.as_deref()) {
        ("credit", _) => Decision::Credit,
        ("refund", Some(reason)) => Decision::Refund(
            reason
                .parse()
                .map_err(|e: crate::request::domain::MessageError| AppError::invalid_field("reason", e.to_string()))?,
        ),
        ("refund", None) => return Err(AppError::invalid_field("reason", "a refund needs a reason")),
        _ => return Err(AppError::invalid_field("decision", "must be credit or refund")),
    };
    let id = id_from(&id, "online payment")?;
    Ok(Json(service::decide(&state, &caller, id, &decision).await?))
}

async fn reconciliation(State(state): State<AppState>, caller: ApiCaller) -> AppResult<Json<Value>> {
    staff(&caller)?;
    let latest = service::latest_reconciliation(&state).await?;
    Ok(Json(match latest {
        Some((at, checked, findings)) => json!({
            "ran_at": crate::clock::format_rfc3339_local(at), "checked": checked, "findings": findings,
        }),
        None => json!({"ran_at": null, "checked": 0, "findings": []}),
    }))
}
