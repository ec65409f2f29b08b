//! Public holidays over the API: anyone signed in reads them, administrators
//! edit them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use jiff::civil::Date;
use serde::Deserialize;

use super::store::{self, Holiday};
use crate::api::{ApiJson, Validator, checked};
use crate::auth::ApiCaller;
use crate::developer::DisplayName;
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// The holiday routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/holidays", get(list).post(add)).route("/api/v1/holidays/{date}", delete(remove))
}

async fn list(State(state): State<AppState>, _caller: ApiCaller) -> AppResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::json!({ "holidays": store::all(state.db.pool()).await? })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayBody {
    date: String,
    name_ms: String,
    name_en: String,
}

async fn add(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<HolidayBody>,
) -> AppResult<(StatusCode, Json<Holiday>)> {
    caller.require_admin()?;
    let mut validator = Validator::default();
    let date = validator.check("date", body.date.parse::<Date>().map_err(|_| "must be a date as YYYY-MM-DD"));
    let name_ms = validator.check("name_ms", body.name_ms.parse::<DisplayName>());
    let name_en = validator.check("name_en", body.name_en.parse::<DisplayName>());
    validator.finish()?;
    let (holiday, created) =
        super::service::set(&state, &caller, checked(date)?, &checked(name_ms)?, &checked(name_en)?).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(holiday)))
}

async fn remove(State(state): State<AppState>, caller: ApiCaller, Path(date): Path<String>) -> AppResult<StatusCode> {
    caller.require_admin()?;
    let date: Date = date.parse().map_err(|_| AppError::NotFound(format!("{date} is not a holiday")))?;
    super::service::remove(&state, &caller, date).await?;
    Ok(StatusCode::NO_CONTENT)
}
