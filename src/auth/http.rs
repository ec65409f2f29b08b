//! People over the API: sign-in buys a personal token; the people who manage
//! users list them, deactivate and reactivate them, change their roles and
//! revoke their tokens (`auth::users` decides).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::second_factor::{self, Needed};
use super::users::{self, Change, TokenLifetime};
use super::{ApiCaller, Role};
use crate::api::{ApiJson, ApiQuery, PageQuery, Validator, checked};
use crate::clock::format_rfc3339_local;
use crate::error::{AppError, AppResult};
use crate::request::domain::Message;
use crate::state::AppState;

/// The routes of people and their tokens.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tokens", post(sign_in))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/users", get(list))
        .route("/api/v1/users/{id}/tokens", get(tokens))
        .route("/api/v1/users/{id}/deactivation", post(deactivate))
        .route("/api/v1/users/{id}/activation", post(activate))
        .route("/api/v1/users/{id}/role", put(change_role))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
    expires_in_days: Option<i64>,
    /// The second factor (a code from the app, or a recovery code), for
    /// staff who enrolled one.
    code: Option<String>,
}

async fn sign_in(
    State(state): State<AppState>,
    admitted: super::admission::Admitted,
    ApiJson(body): ApiJson<Credentials>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let address = admitted.address;
    let lifetime = match body.expires_in_days {
        None => TokenLifetime::default(),
        Some(days) => TokenLifetime::days(days).map_err(|error| AppError::invalid_field("expires_in_days", error))?,
    };
    let now_ms = state.clock.now_ms();
    let caller = super::service::sign_in(&state, &body.email, &body.password, &address).await?;
    let user_id = caller.user_id.unwrap_or_default();
    match second_factor::needed(&state, &caller).await.map_err(second_factor_refusal)? {
        Needed::Nothing => {}
        Needed::Enrolment => {
            return Err(AppError::Forbidden(
                "enrol a second factor in the portal (Akaun) before signing in here".into(),
            ));
        }
        Needed::Code => {
            let code = body.code.as_deref().ok_or_else(|| {
                AppError::SecondFactorRequired(
                    "this account uses a second factor: send its current code in `code`".into(),
                )
            })?;
            second_factor::verify(&state, user_id, code, &address).await.map_err(second_factor_refusal)?;
        }
    }
    let token =
        users::create_token(state.db.pool(), (&state.audit_key, &caller.actor()), user_id, lifetime, now_ms).await?;
    let expires_at = format_rfc3339_local(now_ms + lifetime.in_days() * 86_400_000);
    Ok((StatusCode::CREATED, Json(json!({"token": token, "role": caller.role.as_str(), "expires_at": expires_at}))))
}

/// The API's answer to a refused second factor.
fn second_factor_refusal(error: second_factor::SecondFactorError) -> AppError {
    use second_factor::SecondFactorError;
    let detail = error.to_string();
    match error {
        SecondFactorError::Wrong | SecondFactorError::NotEnrolling => AppError::SecondFactorRequired(detail),
        SecondFactorError::Throttled => AppError::TooManyRequests(detail),
        SecondFactorError::Internal(cause) => AppError::Internal(cause),
    }
}

/// The number in a path, or a 404 naming what was not found.
fn path_id(text: &str, what: &str) -> AppResult<i64> {
    crate::api::whole_number(text)
        .filter(|id| *id > 0)
        .ok_or_else(|| AppError::NotFound(format!("{what} {text} does not exist")))
}

/// Managers only, before anything is read.
fn require_manager(caller: &ApiCaller) -> AppResult<()> {
    caller.require(&[Role::DeveloperAdmin], "an administrator or a developer company's administrator")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<String>,
    after: Option<String>,
}

/// Largest page of users.
pub const USER_PAGE_MAX: i64 = 200;

async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> AppResult<Json<Value>> {
    require_manager(&caller)?;
    let asked = PageQuery::parse(query.limit.as_deref(), query.after.as_deref(), 100, USER_PAGE_MAX)?;
    let rows = users::managed_users(&state, &caller, asked.after.unwrap_or(0), asked.limit + 1).await?;
    let page = asked.rows();
    let next = (rows.len() > page).then(|| rows[page - 1].id.to_string());
    let users: Vec<Value> = rows
        .into_iter()
        .take(page)
        .map(|row| {
            json!({
                "id": row.id,
                "email": row.email,
                "name": row.name,
                "role": row.role,
                "language": row.language,
                "developer": (!row.company.is_empty()).then_some(row.company),
                "active": row.deactivated_at_ms.is_none(),
                "created_at": format_rfc3339_local(row.created_at_ms),
                "deactivated_at": row.deactivated_at_ms.map(format_rfc3339_local),
            })
        })
        .collect();
    Ok(Json(json!({"users": users, "next": next})))
}

async fn tokens(State(state): State<AppState>, caller: ApiCaller, Path(id): Path<String>) -> AppResult<Json<Value>> {
    let id = path_id(&id, "user")?;
    let rows = users::tokens_of(&state, &caller, id).await?;
    let tokens: Vec<Value> = rows
        .into_iter()
        .map(|row| {
            json!({
                "id": row.id,
                "created_at": format_rfc3339_local(row.created_at_ms),
                "expires_at": format_rfc3339_local(row.expires_at_ms),
                "last_used_at": row.last_used_at_ms.map(format_rfc3339_local),
                "revoked_at": row.revoked_at_ms.map(format_rfc3339_local),
            })
        })
        .collect();
    Ok(Json(json!({"tokens": tokens})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
    reason: String,
}

async fn deactivate(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    apply(&state, &caller, &id, Change::Deactivate, &body.reason).await
}

async fn activate(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonBody>,
) -> AppResult<Json<Value>> {
    apply(&state, &caller, &id, Change::Activate, &body.reason).await
}

async fn change_role(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RoleBody>,
) -> AppResult<Json<Value>> {
    let role = body.role.parse::<Role>().map_err(|error| AppError::invalid_field("role", error))?;
    apply(&state, &caller, &id, Change::Role(role), &body.reason).await
}

async fn apply(state: &AppState, caller: &ApiCaller, id: &str, change: Change, reason: &str) -> AppResult<Json<Value>> {
    require_manager(caller)?;
    let id = path_id(id, "user")?;
    let mut validator = Validator::default();
    let reason = validator.check("reason", reason.parse::<Message>());
    validator.finish()?;
    let reason = checked(reason)?;
    let now = users::change(state, caller, id, change, &reason).await?;
    Ok(Json(json!({"id": id, "role": now.role.as_str(), "active": now.active})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeQuery {
    reason: Option<String>,
}

async fn revoke_token(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<RevokeQuery>,
) -> AppResult<StatusCode> {
    if caller.user_id.is_none() {
        caller.require_admin()?;
    }
    let id = path_id(&id, "token")?;
    let reason = match query.reason.as_deref() {
        None => None,
        Some(text) => {
            Some(text.parse::<Message>().map_err(|error| AppError::invalid_field("reason", error.to_string()))?)
        }
    };
    users::revoke_token(&state, &caller, id, reason.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
