//! Who is calling, and what they may do. Machine callers (HIMS, operations
//! scripts) are API clients with a scope; people are users with a role, who
//! may also use personal tokens over the API. Only SHA-256 of any token is
//! stored; passwords are Argon2id.

pub mod address;
pub mod admission;
pub mod cache;
pub mod http;
pub mod password;
pub mod second_factor;
pub mod service;
pub mod session;
pub mod store;
pub mod token;
pub mod users;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::state::AppState;

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

/// The part a caller plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The HIMS system (an API client).
    Hims,
    /// A developer company's administrator: requests quota, invites members.
    DeveloperAdmin,
    /// A developer company's member: requests quota.
    DeveloperMember,
    /// Pos Digicert retail officer.
    Retail,
    /// Pos Digicert finance officer.
    Finance,
    /// Administrator: everything.
    Admin,
}

impl Role {
    /// Every role a user can have.
    pub const USER_ROLES: [Self; 5] =
        [Self::DeveloperAdmin, Self::DeveloperMember, Self::Retail, Self::Finance, Self::Admin];

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hims => "hims",
            Self::DeveloperAdmin => "developer_admin",
            Self::DeveloperMember => "developer_member",
            Self::Retail => "retail",
            Self::Finance => "finance",
            Self::Admin => "admin",
        }
    }

    /// True for the two roles bound to one developer company.
    #[must_use]
    pub fn is_developer(self) -> bool {
        matches!(self, Self::DeveloperAdmin | Self::DeveloperMember)
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::USER_ROLES.into_iter().find(|role| role.as_str() == text).ok_or_else(|| {
            format!("unknown role {text:?}; expected developer_admin, developer_member, retail, finance or admin")
        })
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    /// The API client, for machine callers; idempotency keys are scoped to it.
    pub client_id: Option<i64>,
    /// The user, for people.
    pub user_id: Option<i64>,
    /// What they may do.
    pub role: Role,
    /// The company of a developer user.
    pub developer_id: Option<i64>,
}

impl ApiCaller {
    /// A machine caller.
    #[must_use]
    pub fn client(client_id: i64, scope: Scope) -> Self {
        let role = match scope {
            Scope::Hims => Role::Hims,
            Scope::Admin => Role::Admin,
        };
        Self { client_id: Some(client_id), user_id: None, role, developer_id: None }
    }

    /// How the caller is named in ledger entries and timelines.
    #[must_use]
    pub fn actor(&self) -> String {
        match (self.client_id, self.user_id) {
            (Some(id), _) => format!("api_client:{id}"),
            (None, Some(id)) => format!("user:{id}"),
            (None, None) => "anonymous".to_owned(),
        }
    }

    /// Refuses callers without the admin role.
    ///
    /// # Errors
    /// 403 when the role is not admin.
    pub fn require_admin(&self) -> Result<(), AppError> {
        self.require(&[Role::Admin], "an administrator")
    }

    /// Refuses callers whose role is not in `roles` (admin always passes).
    ///
    /// # Errors
    /// 403 naming who may do it.
    pub fn require(&self, roles: &[Role], who: &str) -> Result<(), AppError> {
        if self.role == Role::Admin || roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("only {who} may do this")))
        }
    }

    /// The API client id, for operations that are made by machines with an
    /// idempotency key.
    ///
    /// # Errors
    /// 403 for a personal token.
    pub fn require_client(&self) -> Result<i64, AppError> {
        self.client_id.ok_or_else(|| AppError::Forbidden("this operation is made by API clients such as HIMS".into()))
    }

    /// True when the caller may see this developer's data. Developer users
    /// see only their own company; everyone else sees all.
    #[must_use]
    pub fn may_see_developer(&self, developer_id: i64) -> bool {
        !self.role.is_developer() || self.developer_id == Some(developer_id)
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // A portal session may read (documents, payment proofs) but never
        // write through the API: writes need a token, so no CSRF is possible.
        let reads = parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD;
        if reads && parts.headers.get(AUTHORIZATION).is_none() {
            if let Some(user) = session::find(state, &parts.headers).await? {
                return Ok(user.caller);
            }
        }
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
        let generation = state.token_cache.generation();
        let caller = match store::find_active_by_token_hash(state.db.pool(), &token_sha256).await? {
            Some(caller) => caller,
            None => users::caller_of_token(state, &token_sha256).await?.ok_or_else(|| {
                AppError::Unauthorized("the token is not known, has expired or has been revoked".into())
            })?,
        };
        state.token_cache.insert(generation, token_sha256, caller.clone());
        Ok(caller)
    }
}
