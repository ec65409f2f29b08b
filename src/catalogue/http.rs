//! Products and prices over the API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::civil::Date;
use serde::Deserialize;

use crate::api::{ApiJson, Validator, checked};
use crate::auth::ApiCaller;
use crate::clock::today_local;
use crate::error::AppResult;
use crate::money::Sen;
use crate::state::AppState;

/// The catalogue routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/products", get(list)).route("/api/v1/products/{code}/prices", post(add_price))
}

async fn list(State(state): State<AppState>, _caller: ApiCaller) -> AppResult<Json<serde_json::Value>> {
    let today = today_local(state.clock.now()).to_string();
    Ok(Json(serde_json::json!({ "products": super::products(state.db.pool(), &today).await? })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceBody {
    unit_price: String,
    effective_from: String,
}

async fn add_price(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<PriceBody>,
) -> AppResult<(StatusCode, Json<serde_json::Value>)> {
    caller.require_admin()?;
    let mut validator = Validator::default();
    let price = validator.check("unit_price", body.unit_price.parse::<Sen>());
    let from = validator
        .check("effective_from", body.effective_from.parse::<Date>().map_err(|_| "must be a date as YYYY-MM-DD"));
    validator.finish()?;
    let (price, from) = (checked(price)?, checked(from)?);
    super::service::add_price(&state, &caller, &code, price, from).await?;
    let added = serde_json::json!({"product": code, "unit_price": price, "effective_from": from.to_string()});
    Ok((StatusCode::CREATED, Json(added)))
}
