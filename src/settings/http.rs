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
    Router::new()
        .route("/api/v1/settings", get(show).put(replace))
        .route("/api/v1/sst-rates", get(sst_rates).post(add_sst_rate))
}

async fn sst_rates(State(state): State<AppState>, caller: ApiCaller) -> AppResult<Json<serde_json::Value>> {
    caller.require(&[Role::Retail, Role::Finance], "staff")?;
    let rates = super::service::sst_rates(&state).await?;
    Ok(Json(serde_json::json!({"rates": rates})))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSstRate {
    rate_percent: String,
    effective_from: String,
}

/// Adds a rate from a date (today or later); 201.
async fn add_sst_rate(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewSstRate>,
) -> AppResult<(axum::http::StatusCode, Json<serde_json::Value>)> {
    let mut validator = crate::api::Validator::default();
    let rate = validator.check("rate_percent", body.rate_percent.parse::<crate::money::BasisPoints>());
    let from = validator.check(
        "effective_from",
        body.effective_from.parse::<jiff::civil::Date>().map_err(|_| "must be a date as YYYY-MM-DD"),
    );
    validator.finish()?;
    let (rate, from) = (crate::api::checked(rate)?, crate::api::checked(from)?);
    super::service::add_sst_rate(&state, &caller, from, rate).await?;
    let rates = super::service::sst_rates(&state).await?;
    Ok((axum::http::StatusCode::CREATED, Json(serde_json::json!({"rates": rates}))))
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
