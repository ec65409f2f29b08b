//! Settings over the API (administrators).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::Settings;
use crate::api::ApiJson;
use crate::auth::{ApiCaller, Role};
use crate::error::AppResult;
use crate::state::AppState;

/// The settings routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/settings", get(show).put(replace))
}

async fn show(State(state): State<AppState>, caller: ApiCaller) -> AppResult<Json<Settings>> {
    caller.require(&[Role::Retail, Role::Finance], "staff")?;
    Ok(Json(super::load(state.db.pool()).await?))
}

/// Replaces the settings; keys left out take their defaults, unknown keys are refused.
async fn replace(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(settings): ApiJson<Settings>,
) -> AppResult<Json<Settings>> {
    Ok(Json(super::service::replace(&state, &caller, settings).await?))
}
