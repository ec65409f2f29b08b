//! Settings over the API (administrators).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::Settings;
use crate::api::ApiJson;
use crate::auth::{ApiCaller, Role};
use crate::error::{AppError, AppResult, FieldError};
use crate::startup::AppState;

/// The settings routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/settings", get(show).put(replace))
}

async fn show(State(state): State<AppState>, caller: ApiCaller) -> AppResult<Json<Settings>> {
    caller.require(&[Role::Retail, Role::Finance], "staff")?;
    Ok(Json(super::load(state.db.pool()).await?))
}

/// Replaces the settings; keys left out take their defaults, unknown keys are refused.
pub(crate) async fn replace(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(settings): ApiJson<Settings>,
) -> AppResult<Json<Settings>> {
    caller.require_admin()?;
    let problems = settings.problems();
    if !problems.is_empty() {
        let errors: Vec<FieldError> =
            problems.into_iter().map(|(field, message)| FieldError { field, message }).collect();
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        return Err(AppError::Validation { detail, errors });
    }
    let settings = Settings { sst_rate: settings.sst().to_string(), ..settings };
    let before = super::load(state.db.pool()).await?;
    super::save(state.db.pool(), &settings).await?;
    let actor = caller.actor();
    let audit = crate::audit::Record {
        actor: &actor,
        action: "settings.replace",
        subject: "settings",
        before: serde_json::to_value(&before).ok(),
        after: serde_json::to_value(&settings).ok(),
        at_ms: state.clock.now_ms(),
    };
    crate::audit::record_alone(state.db.pool(), &audit).await?;
    Ok(Json(settings))
}
