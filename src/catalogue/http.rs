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
use crate::db::is_unique_violation;
use crate::error::{AppError, AppResult};
use crate::money::Sen;
use crate::startup::AppState;

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
pub(crate) struct PriceBody {
    pub(crate) unit_price: String,
    pub(crate) effective_from: String,
}

pub(crate) async fn add_price(
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
    if !crate::ledger::store::is_product(state.db.pool(), &code).await? {
        return Err(AppError::NotFound(format!("product {code} does not exist")));
    }
    let (price, from) = (checked(price)?, checked(from)?.to_string());
    let result = sqlx::query(
        "INSERT INTO product_prices (product_code, unit_price_sen, effective_from, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&code)
    .bind(price.get())
    .bind(&from)
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await;
    match result {
        Ok(_) => {
            let after = serde_json::json!({"product": code, "unit_price": price, "effective_from": from});
            let subject = format!("product:{code}");
            let actor = caller.actor();
            let audit = crate::audit::Record {
                actor: &actor,
                action: "price.add",
                subject: &subject,
                before: None,
                after: Some(after.clone()),
                at_ms: state.clock.now_ms(),
            };
            crate::audit::record_alone(state.db.pool(), &audit).await?;
            Ok((StatusCode::CREATED, Json(after)))
        }
        Err(error) if is_unique_violation(&error) => {
            Err(AppError::conflict("price-exists", format!("{code} already has a price effective from {from}")))
        }
        Err(error) => Err(error.into()),
    }
}
