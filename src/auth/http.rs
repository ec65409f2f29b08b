//! Sign-in over the API: an e-mail and password buy a personal token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::ApiJson;
use crate::error::AppResult;
use crate::state::AppState;

/// The sign-in route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/tokens", post(sign_in))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    address: super::address::ClientAddress,
    ApiJson(body): ApiJson<Credentials>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let now_ms = state.clock.now_ms();
    let caller = super::service::sign_in(&state, &body.email, &body.password, &address.0).await?;
    let user_id = caller.user_id.unwrap_or_default();
    let token = super::users::create_token(state.db.pool(), user_id, now_ms).await?;
    Ok((StatusCode::CREATED, Json(json!({"token": token, "role": caller.role.as_str()}))))
}
