//! Seed step 1 over the API: a developer registers its company, developer
//! code and first user; retail verifies or rejects it. The decisions are
//! [`super::service`]'s.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::DeveloperCode;
use super::service::{self, Decision, RegistrationForm};
use crate::api::ApiJson;
use crate::auth::ApiCaller;
use crate::error::{AppError, AppResult};
use crate::ledger::Reference;
use crate::state::AppState;

/// The registration routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/registrations", post(register))
        .route("/api/v1/developers/{code}/verification", post(verify))
        .route("/api/v1/developers/{code}/rejection", post(reject))
        .route("/api/v1/developers/{code}/withdrawal", post(withdraw))
}

async fn register(
    State(state): State<AppState>,
    admitted: crate::auth::admission::Admitted,
    ApiJson(form): ApiJson<RegistrationForm>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let registration = form.parse().map_err(|errors| {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        AppError::Validation { detail, errors }
    })?;
    service::register(&state, registration, &admitted.address).await?;
    Ok((StatusCode::CREATED, Json(json!({"developer": form.developer_code, "status": "pending_verification"}))))
}

fn code_of(code: &str) -> AppResult<DeveloperCode> {
    code.parse().map_err(|_| AppError::NotFound(format!("developer {code} does not exist")))
}

async fn verify(State(state): State<AppState>, caller: ApiCaller, Path(code): Path<String>) -> AppResult<Json<Value>> {
    let code = code_of(&code)?;
    service::decide(&state, &caller, &code, &Decision::Verify).await?;
    Ok(Json(json!({"developer": code.as_str(), "status": "verified"})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

impl ReasonBody {
    fn reason(&self) -> AppResult<Reference> {
        Reference::new(&self.reason).map_err(|e| AppError::invalid_field("reason", e.to_string()))
    }
}

async fn reject(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    let reason = body.reason()?;
    let code = code_of(&code)?;
    service::decide(&state, &caller, &code, &Decision::Reject(reason)).await?;
    Ok(Json(json!({"developer": code.as_str(), "status": "rejected"})))
}

async fn withdraw(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    let reason = body.reason()?;
    let code = code_of(&code)?;
    service::withdraw(&state, &caller, &code, &reason).await?;
    Ok(Json(json!({"developer": code.as_str(), "status": "withdrawn"})))
}
