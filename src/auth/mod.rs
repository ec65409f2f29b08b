//! Who is calling: API clients (machine callers such as HIMS) with a scope,
//! authenticated by a Bearer token of which only the SHA-256 is stored.

pub mod cache;
pub mod store;
pub mod token;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::startup::AppState;

/// What an API client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// HIMS: reads balances and ledgers, consumes and holds quota.
    Hims,
    /// Administration: everything.
    Admin,
}

impl Scope {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hims => "hims",
            Self::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "hims" => Ok(Self::Hims),
            "admin" => Ok(Self::Admin),
            other => Err(format!("unknown scope {other:?}; expected hims or admin")),
        }
    }
}

/// An authenticated API client.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// Its id; idempotency keys are scoped to it.
    pub client_id: i64,
    /// What it may do.
    pub scope: Scope,
}

impl ApiCaller {
    /// How the caller is named in ledger entries.
    #[must_use]
    pub fn actor(&self) -> String {
        format!("api_client:{}", self.client_id)
    }

    /// Refuses callers without the admin scope.
    ///
    /// # Errors
    /// 403 when the scope is not admin.
    pub fn require_admin(&self) -> Result<(), AppError> {
        match self.scope {
            Scope::Admin => Ok(()),
            Scope::Hims => Err(AppError::Forbidden("this operation needs an API client with the admin scope".into())),
        }
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| AppError::Unauthorized("an Authorization: Bearer token is required".into()))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| AppError::Unauthorized("the Authorization header must be 'Bearer <token>'".into()))?;
        let token_sha256 = token::hash(token);
        if let Some(caller) = state.token_cache.get(&token_sha256) {
            return Ok(caller);
        }
        let caller = store::find_active_by_token_hash(state.db.pool(), &token_sha256)
            .await?
            .ok_or_else(|| AppError::Unauthorized("the token is not known or has been revoked".into()))?;
        state.token_cache.insert(token_sha256, caller.clone());
        Ok(caller)
    }
}
