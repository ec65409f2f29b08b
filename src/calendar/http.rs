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
use crate::startup::AppState;

/// The holiday routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/holidays", get(list).post(add)).route("/api/v1/holidays/{date}", delete(remove))
}

async fn list(State(state): State<AppState>, _caller: ApiCaller) -> AppResult<Json<serde_json::Value>> {
    Ok(Json(serde_json::json!({ "holidays": store::all(state.db.pool()).await? })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HolidayBody {
    pub(crate) date: String,
    pub(crate) name_ms: String,
    pub(crate) name_en: String,
}

pub(crate) async fn add(
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
    let holiday = Holiday {
        date: checked(date)?.to_string(),
        name_ms: checked(name_ms)?.as_str().to_owned(),
        name_en: checked(name_en)?.as_str().to_owned(),
    };
    let created = store::upsert(state.db.pool(), &holiday).await?;
    let (actor, subject) = (caller.actor(), format!("holiday:{}", holiday.date));
    let audit = crate::audit::Record {
        actor: &actor,
        action: "holiday.set",
        subject: &subject,
        before: None,
        after: serde_json::to_value(&holiday).ok(),
        at_ms: state.clock.now_ms(),
    };
    crate::audit::record_alone(state.db.pool(), &audit).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(holiday)))
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(date): Path<String>,
) -> AppResult<StatusCode> {
    caller.require_admin()?;
    let mut transaction = state.db.begin_write().await?;
    let Some(removed) = store::delete(&mut transaction, &date).await? else {
        return Err(AppError::NotFound(format!("{date} is not a holiday")));
    };
    let (actor, subject) = (caller.actor(), format!("holiday:{date}"));
    let audit = crate::audit::Record {
        actor: &actor,
        action: "holiday.delete",
        subject: &subject,
        before: serde_json::to_value(&removed).ok(),
        after: None,
        at_ms: state.clock.now_ms(),
    };
    crate::audit::record(&mut transaction, &audit).await?;
    transaction.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
