//! The ledger's HTTP API: balances, consumptions, holds, adjustments and the
//! entry listing, as HIMS and administrators use them.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::domain::HoldSettlement;
use super::{
    Command, HoldExpiry, Idempotency, Operation, Reference, SignedUnits, StoredResponse, Units, Written, store,
};
use crate::api::{ApiJson, ApiQuery, Validator, checked};
use crate::auth::{ApiCaller, Role};
use crate::clock::format_rfc3339_local;
use crate::developer::{
    DeveloperCode,
    store::{Developer, require_by_code},
};
use crate::digest::sha256_hex;
use crate::error::{AppError, AppResult, PROBLEM_JSON};
use crate::state::AppState;

/// Largest page of ledger entries.
pub const LEDGER_PAGE_MAX: i64 = 500;
/// Page size when none is asked for.
pub const LEDGER_PAGE_DEFAULT: i64 = 100;

/// The ledger's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/developers/{code}/balances", get(balances))
        .route("/api/v1/developers/{code}/consumptions", post(consume))
        .route("/api/v1/developers/{code}/holds", post(place_hold))
        .route("/api/v1/developers/{code}/adjustments", post(adjust))
        .route("/api/v1/developers/{code}/ledger", get(entries))
        .route("/api/v1/holds/{id}", get(hold))
        .route("/api/v1/holds/{id}/commit", post(commit_hold))
        .route("/api/v1/holds/{id}/release", post(release_hold))
}

/// The developer, if the caller may see it; 404 otherwise (a developer user
/// must not learn that another company exists).
async fn developer(state: &AppState, caller: &ApiCaller, code: &str) -> AppResult<Developer> {
    let parsed: DeveloperCode =
        code.parse().map_err(|_| AppError::NotFound(format!("developer {code} does not exist")))?;
    let developer = require_by_code(state.db.pool(), &parsed).await?;
    if !caller.may_see_developer(developer.id) {
        return Err(AppError::NotFound(format!("developer {parsed} does not exist")));
    }
    Ok(developer)
}

/// The developer's id and code (404 if unknown) and a check that the product
/// is active (422 if not), in one query: this is on every write's hot path.
async fn account_owner(state: &AppState, code: &str, product: &str) -> AppResult<(i64, String)> {
    let parsed: DeveloperCode =
        code.parse().map_err(|_| AppError::NotFound(format!("developer {code} does not exist")))?;
    match store::developer_and_product(state.db.pool(), parsed.as_str(), product).await? {
        None => Err(AppError::NotFound(format!("developer {parsed} does not exist"))),
        Some((_, false)) => Err(AppError::Unprocessable {
            slug: "unknown-product",
            detail: format!("product {product} is not in the active catalogue"),
        }),
        Some((developer_id, true)) => Ok((developer_id, parsed.to_string())),
    }
}

fn request_hash<T: Serialize>(method: &Method, uri: &Uri, body: &T) -> String {
    let canonical = serde_json::to_string(body).unwrap_or_default();
    sha256_hex(format!("{method} {}\n{canonical}", uri.path()).as_bytes())
}

async fn write(state: &AppState, command: Command) -> AppResult<Response> {
    let written = state.ledger.write(command).await?;
    Ok(stored_response(&written.response(), matches!(written, Written::Replayed(_))))
}

async fn balances(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
) -> AppResult<Json<Value>> {
    let developer = developer(&state, &caller, &code).await?;
    let balances = state.ledger.balances(developer.id).await?;
    let balances: Vec<Value> = balances
        .into_iter()
        .map(|(product, b)| json!({"product": product, "credited": b.credited, "consumed": b.consumed, "held": b.held, "available": b.available}))
        .collect();
    Ok(Json(json!({"developer": developer.code, "balances": balances})))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ConsumeBody {
    product: String,
    units: i64,
    reference: String,
}

async fn consume(
    State(state): State<AppState>,
    caller: ApiCaller,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<ConsumeBody>,
) -> AppResult<Response> {
    let key = idempotency_key(&headers)?;
    let mut validator = Validator::default();
    let units = validator.check("units", Units::new(body.units));
    let reference = validator.check("reference", Reference::new(&body.reference));
    validator.finish()?;
    let (developer_id, _) = account_owner(&state, &code, &body.product).await?;
    let idempotency =
        Idempotency { client_id: caller.require_client()?, key, request_sha256: request_hash(&method, &uri, &body) };
    let operation = Operation::Consume {
        developer_id,
        product: body.product,
        units: checked(units)?,
        reference: checked(reference)?,
    };
    write(&state, Command { operation, actor: caller.actor(), idempotency: Some(idempotency) }).await
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    product: String,
    units: i64,
    reference: String,
    #[serde(default)]
    expires_in_seconds: Option<i64>,
}

async fn place_hold(
    State(state): State<AppState>,
    caller: ApiCaller,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(code): Path<String>,
    ApiJson(mut body): ApiJson<HoldBody>,
) -> AppResult<Response> {
    let key = idempotency_key(&headers)?;
    let mut validator = Validator::default();
    let units = validator.check("units", Units::new(body.units));
    let reference = validator.check("reference", Reference::new(&body.reference));
    let expiry = validator.check("expires_in_seconds", HoldExpiry::new(body.expires_in_seconds));
    validator.finish()?;
    let (developer_id, developer_code) = account_owner(&state, &code, &body.product).await?;
    let expiry = checked(expiry)?;
    body.expires_in_seconds = Some(expiry.seconds());
    let idempotency =
        Idempotency { client_id: caller.require_client()?, key, request_sha256: request_hash(&method, &uri, &body) };
    let operation = Operation::PlaceHold {
        developer_id,
        developer_code,
        product: body.product,
        units: checked(units)?,
        reference: checked(reference)?,
        expiry,
    };
    write(&state, Command { operation, actor: caller.actor(), idempotency: Some(idempotency) }).await
}

fn hold_id(text: &str) -> AppResult<i64> {
    crate::api::whole_number(text)
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::NotFound(format!("hold {text} does not exist")))
}

async fn hold(State(state): State<AppState>, caller: ApiCaller, Path(id): Path<String>) -> AppResult<Response> {
    let id = hold_id(&id)?;
    let mut connection = state.db.pool().acquire().await?;
    let hold = store::find_hold(&mut connection, id)
        .await?
        .filter(|hold| caller.may_see_developer(hold.developer_id))
        .ok_or_else(|| AppError::NotFound(format!("hold {id} does not exist")))?;
    drop(connection);
    if hold.view.status == super::domain::HoldStatus::Pending && hold.view.expires_at_ms <= state.clock.now_ms() {
        // Past its time: settle the expiry first so the answer is the truth.
        state.ledger.expire_due_holds_of(hold.developer_id).await?;
        let mut connection = state.db.pool().acquire().await?;
        let fresh = store::find_hold(&mut connection, id).await?.map_or(hold.view, |h| h.view);
        return Ok(stored_response(&super::Outcome::HoldSettled(fresh).response(), false));
    }
    Ok(stored_response(&super::Outcome::HoldSettled(hold.view).response(), false))
}

async fn settle(state: &AppState, caller: &ApiCaller, id: &str, settlement: HoldSettlement) -> AppResult<Response> {
    caller.require(&[Role::Hims], "HIMS")?;
    let hold_id = hold_id(id)?;
    let operation = Operation::SettleHold { hold_id, settlement };
    write(state, Command { operation, actor: caller.actor(), idempotency: None }).await
}

async fn commit_hold(State(state): State<AppState>, caller: ApiCaller, Path(id): Path<String>) -> AppResult<Response> {
    settle(&state, &caller, &id, HoldSettlement::Commit).await
}

async fn release_hold(State(state): State<AppState>, caller: ApiCaller, Path(id): Path<String>) -> AppResult<Response> {
    settle(&state, &caller, &id, HoldSettlement::Release).await
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AdjustBody {
    product: String,
    units: i64,
    reason: String,
}

async fn adjust(
    State(state): State<AppState>,
    caller: ApiCaller,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(code): Path<String>,
    ApiJson(body): ApiJson<AdjustBody>,
) -> AppResult<Response> {
    caller.require(&[Role::Retail], "the retail team or an administrator")?;
    let key = headers.get("idempotency-key").map(optional_idempotency_key).transpose()?;
    let idempotency = match key {
        Some(key) => Some(Idempotency {
            client_id: caller.require_client()?,
            key,
            request_sha256: request_hash(&method, &uri, &body),
        }),
        None => None,
    };
    let mut validator = Validator::default();
    let units = validator.check("units", SignedUnits::new(body.units));
    let reason = validator.check("reason", Reference::new(&body.reason));
    validator.finish()?;
    let developer: DeveloperCode =
        code.parse().map_err(|_| AppError::NotFound(format!("developer {code} does not exist")))?;
    let adjustment = super::service::adjust(
        &state,
        &caller,
        &developer,
        &body.product,
        checked(units)?,
        checked(reason)?,
        idempotency,
    )
    .await?;
    match adjustment {
        super::service::Adjustment::Written(written) => {
            Ok(stored_response(&written.response(), matches!(written, Written::Replayed(_))))
        }
        super::service::Adjustment::AwaitingSecond(id) => Ok(crate::approval::http::awaiting(id)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerQuery {
    product: Option<String>,
    limit: Option<String>,
    after: Option<String>,
}

async fn entries(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(code): Path<String>,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> AppResult<Json<Value>> {
    let asked = crate::api::PageQuery::parse(
        query.limit.as_deref(),
        query.after.as_deref(),
        LEDGER_PAGE_DEFAULT,
        LEDGER_PAGE_MAX,
    )?;
    // Newest first: the cursor is the id the next page stays below.
    let (limit, before_id) = (asked.limit, asked.after.unwrap_or(i64::MAX));
    if let Some(product) = &query.product {
        if !crate::catalogue::is_product(state.db.pool(), product).await? {
            return Err(AppError::invalid_field("product", format!("product {product} is not in the catalogue")));
        }
    }
    let developer = developer(&state, &caller, &code).await?;
    state.ledger.expire_due_holds_of(developer.id).await?;
    let mut rows =
        store::entries(state.db.pool(), developer.id, query.product.as_deref(), before_id, limit + 1).await?;
    let has_more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next = if has_more { rows.last().map(|row| row.id.to_string()) } else { None };
    let entries: Vec<Value> = rows
        .into_iter()
        .map(|row| json!({"id": row.id, "kind": row.kind, "product": row.product, "units": row.units, "reference": row.reference, "actor": row.actor, "at": format_rfc3339_local(row.at_ms)}))
        .collect();
    Ok(Json(json!({"entries": entries, "next": next})))
}

/// The `Idempotency-Key` header, required.
///
/// # Errors
/// 400 when missing or malformed.
fn idempotency_key(headers: &HeaderMap) -> Result<super::IdempotencyKey, AppError> {
    let value = headers.get("idempotency-key").ok_or_else(|| {
        AppError::invalid_field("Idempotency-Key", "the Idempotency-Key header is required for this request")
    })?;
    optional_idempotency_key(value)
}

/// Parses an `Idempotency-Key` header value.
///
/// # Errors
/// 400 when malformed.
fn optional_idempotency_key(value: &HeaderValue) -> Result<super::IdempotencyKey, AppError> {
    let text = value.to_str().map_err(|_| {
        AppError::invalid_field("Idempotency-Key", super::domain::LedgerFieldError::IdempotencyKey.to_string())
    })?;
    super::IdempotencyKey::new(text).map_err(|error| AppError::invalid_field("Idempotency-Key", error.to_string()))
}

/// The HTTP response for a stored or fresh ledger answer.
#[must_use]
pub(crate) fn stored_response(response: &StoredResponse, replayed: bool) -> Response {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let content_type = if status.is_success() { "application/json" } else { PROBLEM_JSON };
    let mut answer = (status, response.body.clone()).into_response();
    answer.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if replayed {
        answer.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    answer
}

#[cfg(test)]
mod tests {
    #[test]
    fn field_errors_name_the_rule() {
        assert!(super::super::domain::LedgerFieldError::Units.to_string().contains("1000000"));
    }
}
