//! Users: people with a role and their personal API tokens, and the people
//! who manage them (deactivation, activation, roles, token revocation, one's
//! own password). Signing in is `auth::service`.

use sqlx::{AnyConnection, AnyPool};

use super::{ApiCaller, Role, password, token};
use crate::db::is_unique_violation;
use crate::developer::{DisplayName, EmailAddress};
use crate::error::{AppError, AppResult};
use crate::request::domain::Message;
use crate::state::AppState;

/// The language a user reads kuota in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Bahasa Melayu (the default).
    Ms,
    /// English.
    En,
}

impl Language {
    /// The stored code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ms => "ms",
            Self::En => "en",
        }
    }
}

impl std::str::FromStr for Language {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ms" => Ok(Self::Ms),
            "en" => Ok(Self::En),
            other => Err(format!("unknown language {other:?}; expected ms or en")),
        }
    }
}

/// A user to create, validated.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Sign-in address.
    pub email: EmailAddress,
    /// Full name.
    pub name: DisplayName,
    /// Language of pages and mail.
    pub language: Language,
    /// Role.
    pub role: Role,
    /// Company, for developer roles (required for them, refused for others).
    pub developer_id: Option<i64>,
}

/// Inserts a user with an already hashed password; a taken e-mail is a 409.
///
/// # Errors
/// Conflict, a role/company mismatch (400), or a database fault.
pub async fn insert(
    connection: &mut AnyConnection,
    (audit_key, actor): (&crate::audit::Key, &str),
    user: &NewUser,
    password_hash: &str,
    now_ms: i64,
) -> AppResult<i64> {
    if user.role.is_developer() != user.developer_id.is_some() {
        return Err(AppError::invalid_field(
            "developer",
            "developer roles need a developer company, and only they may have one",
        ));
    }
    let result = super::store::insert_user(&mut *connection, user, password_hash, now_ms).await;
    match result {
        Ok(id) => {
            let subject = format!("user:{id}");
            let after = serde_json::json!({"email": user.email.as_str(), "role": user.role.as_str(), "developer_id": user.developer_id});
            let audit = crate::audit::Record {
                actor,
                action: "user.create",
                subject: &subject,
                before: None,
                after: Some(after),
                at_ms: now_ms,
            };
            crate::audit::record(connection, audit_key, &audit).await?;
            Ok(id)
        }
        Err(error) if is_unique_violation(&error) => {
            Err(AppError::conflict("user-exists", format!("a user with e-mail {} already exists", user.email.as_str())))
        }
        Err(error) => Err(error.into()),
    }
}

/// How long a personal token works when its maker does not choose.
pub const TOKEN_DEFAULT_DAYS: i64 = 90;
/// The longest a personal token may work.
pub const TOKEN_MAX_DAYS: i64 = 365;
/// A token's last use is written at most this often (not on every call).
const LAST_USED_RESOLUTION_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// How many days a new personal token works: 1 to [`TOKEN_MAX_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetime(i64);

impl TokenLifetime {
    /// The lifetime of `days`.
    ///
    /// # Errors
    /// Outside 1 to [`TOKEN_MAX_DAYS`].
    pub fn days(days: i64) -> Result<Self, String> {
        if (1..=TOKEN_MAX_DAYS).contains(&days) {
            Ok(Self(days))
        } else {
            Err(format!("must be 1 to {TOKEN_MAX_DAYS} days"))
        }
    }

    /// The number of days.
    #[must_use]
    pub fn in_days(self) -> i64 {
        self.0
    }
}

impl Default for TokenLifetime {
    fn default() -> Self {
        Self(TOKEN_DEFAULT_DAYS)
    }
}

/// Creates a personal token for a user, working for `lifetime`, audited as
/// made by `actor` (the user, or `cli`); returns it (shown once).
///
/// # Errors
/// A database fault, or no randomness.
pub async fn create_token(
    pool: &AnyPool,
    (audit_key, actor): (&crate::audit::Key, &str),
    user_id: i64,
    lifetime: TokenLifetime,
    now_ms: i64,
) -> anyhow::Result<String> {
    let secret = token::generate()?;
    let mut transaction = pool.begin().await?;
    let expires_at_ms = now_ms + lifetime.in_days() * DAY_MS;
    let id = super::store::insert_user_token(&mut transaction, user_id, &token::hash(&secret), now_ms, expires_at_ms)
        .await?;
    let audit = crate::audit::Record {
        actor,
        action: "user_token.create",
        subject: &format!("user_token:{id}"),
        before: None,
        after: Some(serde_json::json!({"user": user_id, "expires_at": expires_at_ms})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, audit_key, &audit).await?;
    transaction.commit().await?;
    Ok(secret)
}

/// The caller holding a live personal token (the user active, the token
/// neither revoked nor expired); notes its use, to the minute.
///
/// # Errors
/// A database fault.
pub async fn caller_of_token(state: &AppState, token_sha256: &str) -> sqlx::Result<Option<ApiCaller>> {
    let now_ms = state.clock.now_ms();
    let pool = state.db.pool();
    let Some((id, last_used_ms, caller)) = super::store::find_user_by_token_hash(pool, token_sha256, now_ms).await?
    else {
        return Ok(None);
    };
    if last_used_ms.is_none_or(|last| now_ms - last >= LAST_USED_RESOLUTION_MS) {
        super::store::touch_user_token(pool, id, now_ms).await?;
    }
    Ok(Some(caller))
}

/// Why a change to a user was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// No such user or token, or one the caller does not manage (404).
    #[error("there is no such user or token, or it is not one you manage")]
    NotFound,
    /// The caller manages no one (403).
    #[error("only an administrator, or a developer company's administrator for its own users, may manage users")]
    Forbidden,
    /// One may not deactivate oneself or change one's own role (409).
    #[error("you cannot {0} your own account")]
    OwnAccount(&'static str),
    /// The role is not one this user may have (409).
    #[error("{role} is not a role this user may have; allowed: {allowed}")]
    RoleNotAllowed {
        /// The role asked for.
        role: &'static str,
        /// The roles allowed.
        allowed: String,
    },
    /// Deactivating an inactive user, or activating an active one (409).
    #[error("the user is already {0}")]
    Already(&'static str),
    /// The current password is wrong (the portal's password change).
    #[error("the current password is wrong")]
    WrongPassword,
    /// Too many wrong current passwords (429).
    #[error("too many failed attempts; try again in 15 minutes")]
    Throttled,
    /// The password checker is full (429).
    #[error(transparent)]
    Busy(password::HashError),
    /// A fault.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for UserError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<password::HashError> for UserError {
    fn from(error: password::HashError) -> Self {
        match error {
            password::HashError::Busy => Self::Busy(error),
            password::HashError::Failed(cause) => Self::Internal(cause),
        }
    }
}

impl From<UserError> for AppError {
    fn from(error: UserError) -> Self {
        let detail = error.to_string();
        match error {
            UserError::NotFound => Self::NotFound(detail),
            UserError::Forbidden => Self::Forbidden(detail),
            UserError::OwnAccount(_) => Self::conflict("own-account", detail),
            UserError::Already(_) => Self::conflict("user-state", detail),
            // The user's kind (developer or staff) is the state it conflicts with.
            UserError::RoleNotAllowed { .. } => Self::conflict("role-not-allowed", detail),
            UserError::WrongPassword => Self::Unauthorized(detail),
            UserError::Throttled | UserError::Busy(_) => Self::TooManyRequests(detail),
            UserError::Internal(cause) => Self::Internal(cause),
        }
    }
}

/// What a manager does to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Signs them out everywhere and stops every token; they cannot sign in.
    Deactivate,
    /// Lets them sign in again (their old tokens stay revoked).
    Activate,
    /// Gives them another role of the same kind (staff or developer).
    Role(Role),
}

impl Change {
    fn action(self) -> &'static str {
        match self {
            Self::Deactivate => "user.deactivate",
            Self::Activate => "user.activate",
            Self::Role(_) => "user.change_role",
        }
    }
}

/// Refuses callers who manage no one, before anything is read.
fn require_manager(caller: &ApiCaller) -> Result<(), UserError> {
    if matches!(caller.role, Role::Admin | Role::DeveloperAdmin) { Ok(()) } else { Err(UserError::Forbidden) }
}

/// True when `caller` manages `user`: administrators everyone, a developer
/// company's administrator the users of that company.
fn manages(caller: &ApiCaller, user_developer_id: Option<i64>) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::DeveloperAdmin => caller.developer_id.is_some() && caller.developer_id == user_developer_id,
        _ => false,
    }
}

/// The roles a user of this role's kind (developer or staff) may be given.
#[must_use]
pub fn allowed_roles(current: Role) -> &'static [Role] {
    if current.is_developer() {
        &[Role::DeveloperAdmin, Role::DeveloperMember]
    } else {
        &[Role::Retail, Role::Finance, Role::Admin]
    }
}

/// The users the caller manages with ids above `after_id`, oldest first.
///
/// # Errors
/// Not a manager, or a fault.
pub async fn managed_users(
    state: &AppState,
    caller: &ApiCaller,
    after_id: i64,
    limit: i64,
) -> Result<Vec<super::store::UserRow>, UserError> {
    require_manager(caller)?;
    let whose = match caller.role {
        Role::Admin => super::store::Whose::Everyone,
        _ => super::store::Whose::Company(caller.developer_id.ok_or(UserError::Forbidden)?),
    };
    Ok(super::store::users(state.db.pool(), whose, after_id, limit).await?)
}

/// The user `caller` manages with this id, read on `connection` (and locked
/// when `lock_clause` is `Db::row_lock_clause`); a user they do not manage is
/// not found.
async fn find_managed(
    connection: &mut sqlx::AnyConnection,
    caller: &ApiCaller,
    user_id: i64,
    lock_clause: &str,
) -> Result<super::store::ManagedUser, UserError> {
    require_manager(caller)?;
    super::store::find_managed_user(connection, user_id, lock_clause)
        .await?
        .filter(|user| manages(caller, user.developer_id))
        .ok_or(UserError::NotFound)
}

/// A user the caller manages.
///
/// # Errors
/// Not a manager, not found (or not managed), or a fault.
pub async fn managed_user(
    state: &AppState,
    caller: &ApiCaller,
    user_id: i64,
) -> Result<super::store::ManagedUser, UserError> {
    let mut connection = state.db.pool().acquire().await?;
    find_managed(&mut connection, caller, user_id, "").await
}

/// The personal tokens of the caller, or of a user the caller manages.
///
/// # Errors
/// Not found (or not managed), or a fault.
pub async fn tokens_of(
    state: &AppState,
    caller: &ApiCaller,
    user_id: i64,
) -> Result<Vec<super::store::UserTokenRow>, UserError> {
    if caller.user_id != Some(user_id) {
        managed_user(state, caller, user_id).await.map_err(|_| UserError::NotFound)?;
    }
    Ok(super::store::user_tokens(state.db.pool(), user_id).await?)
}

/// A user after a change: their role and whether they may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserState {
    /// Role.
    pub role: Role,
    /// False once deactivated.
    pub active: bool,
}

impl UserState {
    fn json(self, reason: Option<&Message>) -> serde_json::Value {
        serde_json::json!({"role": self.role.as_str(), "active": self.active, "reason": reason.map(Message::as_str)})
    }
}

/// Deactivates, activates or changes the role of a user the caller manages,
/// with the reason, in one transaction with its audit record; a
/// deactivation ends the user's sessions, revokes their tokens and unused
/// password links, and every node forgets their cached tokens at COMMIT.
/// Returns the user as they are now.
///
/// # Errors
/// Not a manager, not found (or not managed), one's own account, a role of
/// the wrong kind, already in that state, or a fault.
pub async fn change(
    state: &AppState,
    caller: &ApiCaller,
    user_id: i64,
    change: Change,
    reason: &Message,
) -> Result<UserState, UserError> {
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let user = find_managed(&mut transaction, caller, user_id, state.db.row_lock_clause()).await?;
    let role: Role = user.role.parse().map_err(|error: String| UserError::Internal(anyhow::anyhow!(error)))?;
    let before = UserState { role, active: user.deactivated_at_ms.is_none() };
    let is_self = caller.user_id == Some(user.id);
    let after = match change {
        Change::Deactivate if is_self => return Err(UserError::OwnAccount("deactivate")),
        Change::Role(_) if is_self => return Err(UserError::OwnAccount("change the role of")),
        Change::Deactivate if !before.active => return Err(UserError::Already("deactivated")),
        Change::Activate if before.active => return Err(UserError::Already("active")),
        Change::Deactivate => {
            super::store::set_user_deactivated(&mut transaction, user.id, Some(now_ms)).await?;
            super::store::delete_user_sessions(&mut transaction, user.id).await?;
            super::store::revoke_user_tokens(&mut transaction, user.id, now_ms).await?;
            super::store::end_password_links(&mut transaction, user.id, now_ms).await?;
            UserState { active: false, ..before }
        }
        Change::Activate => {
            super::store::set_user_deactivated(&mut transaction, user.id, None).await?;
            UserState { active: true, ..before }
        }
        Change::Role(new_role) => {
            let allowed = allowed_roles(role);
            if !allowed.contains(&new_role) {
                let allowed = allowed.iter().map(|role| role.as_str()).collect::<Vec<_>>().join(", ");
                return Err(UserError::RoleNotAllowed { role: new_role.as_str(), allowed });
            }
            super::store::set_user_role(&mut transaction, user.id, new_role.as_str()).await?;
            UserState { role: new_role, ..before }
        }
    };
    let actor = caller.actor();
    let record = crate::audit::Record {
        actor: &actor,
        action: change.action(),
        subject: &format!("user:{}", user.id),
        before: Some(before.json(None)),
        after: Some(after.json(Some(reason))),
        at_ms: now_ms,
    };
    commit_access_change(state, transaction, &record).await?;
    Ok(after)
}

/// Records a change of someone's access with its audit record, tells every
/// node (at COMMIT) to forget cached tokens, and commits.
async fn commit_access_change(
    state: &AppState,
    mut transaction: sqlx::Transaction<'static, sqlx::Any>,
    record: &crate::audit::Record<'_>,
) -> Result<(), UserError> {
    crate::audit::record(&mut transaction, &state.audit_key, record).await?;
    crate::db::announce_access_change(&mut transaction).await?;
    transaction.commit().await?;
    state.token_cache.clear();
    Ok(())
}

/// Revokes a personal token: the caller's own, or one of a user the caller
/// manages; audited with the reason, and forgotten by every node at COMMIT.
///
/// # Errors
/// Not found (or not the caller's to revoke), already revoked, or a fault.
pub async fn revoke_token(
    state: &AppState,
    caller: &ApiCaller,
    token_id: i64,
    reason: Option<&Message>,
) -> Result<(), UserError> {
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    let owner = super::store::user_token_owner(&mut transaction, token_id).await?.ok_or(UserError::NotFound)?;
    if caller.user_id != Some(owner) {
        // Another's token: only theirs to revoke who manage them; to anyone
        // else it does not exist.
        find_managed(&mut transaction, caller, owner, state.db.row_lock_clause())
            .await
            .map_err(|error| if matches!(error, UserError::Internal(_)) { error } else { UserError::NotFound })?;
    }
    if !super::store::revoke_user_token(&mut transaction, token_id, now_ms).await? {
        return Err(UserError::Already("revoked"));
    }
    let actor = caller.actor();
    let record = crate::audit::Record {
        actor: &actor,
        action: "user_token.revoke",
        subject: &format!("user_token:{token_id}"),
        before: Some(serde_json::json!({"user": owner})),
        after: reason.map(|reason| serde_json::json!({"reason": reason.as_str()})),
        at_ms: now_ms,
    };
    commit_access_change(state, transaction, &record).await
}

/// Changes a signed-in user's own password: the current one is checked
/// (throttled like a sign-in from this address), every other session of the
/// user ends and their personal tokens are revoked; the session with
/// `kept_session_sha256` stays.
///
/// # Errors
/// Wrong current password, throttled, busy, or a fault.
pub async fn change_password(
    state: &AppState,
    user_id: i64,
    kept_session_sha256: &str,
    current: &str,
    new: &str,
    address: &str,
) -> Result<(), UserError> {
    let account = format!("user:{user_id}");
    let stored = super::store::password_hash(state.db.pool(), user_id).await?.ok_or(UserError::NotFound)?;
    match super::service::check_password(state, &account, address, current, &stored).await {
        Ok(true) => {}
        Ok(false) => return Err(UserError::WrongPassword),
        Err(super::service::SignInError::Throttled) => return Err(UserError::Throttled),
        Err(super::service::SignInError::Busy(busy)) => return Err(UserError::Busy(busy)),
        Err(super::service::SignInError::Internal(cause)) => return Err(UserError::Internal(cause)),
        Err(super::service::SignInError::Refused) => return Err(UserError::WrongPassword),
    }
    let hash = state.hasher.hash(new).await?;
    let now_ms = state.clock.now_ms();
    let mut transaction = state.db.begin_write().await?;
    super::store::set_password_hash(&mut transaction, user_id, &hash).await?;
    super::store::delete_other_sessions(&mut transaction, user_id, kept_session_sha256).await?;
    super::store::end_password_links(&mut transaction, user_id, now_ms).await?;
    // As with a reset: whoever knew the old password may have made tokens.
    super::store::revoke_user_tokens(&mut transaction, user_id, now_ms).await?;
    crate::db::announce_access_change(&mut transaction).await?;
    let record = crate::audit::Record {
        actor: &account,
        action: "user.password_change",
        subject: &account,
        before: None,
        after: Some(serde_json::json!({"address": address})),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, &state.audit_key, &record).await?;
    transaction.commit().await?;
    state.token_cache.clear();
    Ok(())
}
