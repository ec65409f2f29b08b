//! Approvals waiting for a second person over the API (retail, admin).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::service::{self, Confirmed};
use crate::api::ApiJson;
use crate::auth::ApiCaller;
use crate::clock::format_rfc3339_local;
use crate::error::{AppError, AppResult};
use crate::request::domain::Message;
use crate::state::AppState;

/// The routes of second approvals.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/second-approvals", get(list))
        .route("/api/v1/second-approvals/{id}/confirmation", post(confirm))
        .route("/api/v1/second-approvals/{id}/cancellation", post(cancel))
}

/// The 202 answer of an approval or adjustment that now waits for a second
/// person (nothing was credited).
#[must_use]
pub fn awaiting(approval_id: i64) -> Response {
    let body = json!({
        "status": "awaiting_second_approval",
        "second_approval": approval_id,
        "confirm": format!("/api/v1/second-approvals/{approval_id}/confirmation"),
    });
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn approval_id(text: &str) -> AppResult<i64> {
    crate::api::whole_number(text)
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::NotFound(format!("no approval {text} is waiting for a second person")))
}

async fn list(State(state): State<AppState>, caller: ApiCaller) -> AppResult<Json<Value>> {
    let rows = service::pending(&state, &caller).await?;
    let approvals: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            json!({
                "id": row.id,
                "kind": row.kind,
                "developer": row.developer_code,
                "units": row.units,
                "payment": row.payment_id,
                "request": row.request.map(|(id, number)| json!({"id": id, "number": number})),
                "product": row.product,
                "reason": row.reason,
                "requested_by": row.requested_by,
                "requested_at": format_rfc3339_local(row.requested_at_ms),
            })
        })
        .collect();
    Ok(Json(json!({"second_approvals": approvals})))
}

async fn confirm(State(state): State<AppState>, caller: ApiCaller, Path(id): Path<String>) -> AppResult<Response> {
    let id = approval_id(&id)?;
    match service::confirm(&state, &caller, id).await? {
        Confirmed::Payment { request_id } => {
            Ok(Json(json!({"second_approval": id, "status": "confirmed", "request": request_id})).into_response())
        }
        Confirmed::Adjustment(outcome) => {
            let answer = outcome.response();
            Ok(crate::ledger::http::stored_response(&answer, false))
        }
    }
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
    let id = approval_id(&id)?;
    let reason =
        body.reason.parse::<Message>().map_err(|error| AppError::invalid_field("reason", error.to_string()))?;
    service::cancel(&state, &caller, id, &reason).await?;
    Ok(Json(json!({"second_approval": id, "status": "cancelled"})))
}
