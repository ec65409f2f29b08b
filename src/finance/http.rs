//! Invoices and receivables over the API.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiJson, ApiQuery};
use crate::auth::{ApiCaller, Role};
use crate::clock::today_local;
use crate::error::{AppError, AppResult};
use crate::ledger::Reference;
use crate::startup::AppState;

/// The finance routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/invoices", get(list)).route("/api/v1/invoices/{number}/settlement", post(settle))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    status: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<Json<Value>> {
    if caller.role == Role::Hims {
        return Err(AppError::Forbidden("HIMS does not see invoices".into()));
    }
    if let Some(status) = query.status.as_deref() {
        if status != "paid" && status != "unpaid" {
            return Err(AppError::invalid_field("status", "status must be paid or unpaid"));
        }
    }
    let today = today_local(state.clock.now());
    let invoices: Vec<Value> = super::store::list(state.db.pool(), query.status.as_deref())
        .await?
        .into_iter()
        .filter(|invoice| caller.may_see_developer(invoice.developer_id))
        .map(|invoice| {
            let age_days = invoice
                .issued_on
                .parse::<Date>()
                .ok()
                .and_then(|issued| (today - issued).get_days().into())
                .unwrap_or(0);
            let mut body = json!(invoice);
            if let Some(object) = body.as_object_mut() {
                object.insert("age_days".into(), json!(age_days));
            }
            body
        })
        .collect();
    Ok(Json(json!({"invoices": invoices})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettlementBody {
    pub(crate) paid_on: String,
    pub(crate) reference: String,
}

pub(crate) async fn settle(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<SettlementBody>,
) -> AppResult<Json<Value>> {
    caller.require(&[Role::Finance], "the finance department")?;
    let paid_on: Date =
        body.paid_on.parse().map_err(|_| AppError::invalid_field("paid_on", "must be a date as YYYY-MM-DD"))?;
    let reference = Reference::new(&body.reference).map_err(|e| AppError::invalid_field("reference", e.to_string()))?;
    let invoice = super::store::find(state.db.pool(), &number)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("invoice {number} does not exist")))?;
    if !super::store::settle(state.db.pool(), &number, &paid_on.to_string(), reference.as_str()).await? {
        return Err(AppError::conflict(
            "invoice-not-unpaid",
            format!("invoice {number} is already {}", invoice.payment_status),
        ));
    }
    let settled = super::store::find(state.db.pool(), &number).await?;
    Ok(Json(json!(settled)))
}
