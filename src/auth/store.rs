//! SQL for API clients and users.

use sqlx::{AnyConnection, AnyPool, Row};

use super::users::NewUser;
use super::{ApiCaller, Role, Scope, token};
use crate::developer::EmailAddress;

/// Creates an API client, with its audit record in the same transaction, and
/// returns its id and its token, which is not stored anywhere and cannot be
/// shown again.
///
/// # Errors
/// A database fault, or no randomness.
pub async fn create_client(
    pool: &AnyPool,
    audit_key: &crate::audit::Key,
    name: &str,
    scope: Scope,
    actor: &str,
    now_ms: i64,
) -> anyhow::Result<(i64, String)> {
    let secret = token::generate()?;
    let mut transaction = pool.begin().await?;
    let row = sqlx::query(
        "INSERT INTO api_clients (name, scope, token_sha256, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(scope.as_str())
    .bind(token::hash(&secret))
    .bind(now_ms)
    .fetch_one(&mut *transaction)
    .await?;
    let id: i64 = row.try_get(0)?;
    let subject = format!("api_client:{id}");
    let after = serde_json::json!({"name": name, "scope": scope.as_str()});
    let audit = crate::audit::Record {
        actor,
        action: "api_client.create",
        subject: &subject,
        before: None,
        after: Some(after),
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, audit_key, &audit).await?;
    transaction.commit().await?;
    Ok((id, secret))
}

/// Revokes an API client's token, with its audit record in the same
/// transaction; false when there is no such active client.
///
/// # Errors
/// A database fault.
pub async fn revoke_client(
    db: &crate::db::Db,
    audit_key: &crate::audit::Key,
    id: i64,
    actor: &str,
    now_ms: i64,
) -> crate::error::AppResult<bool> {
    let mut transaction = db.begin_write().await?;
    let revoked = sqlx::query(
        "UPDATE api_clients SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING name, scope",
    )
    .bind(now_ms)
    .bind(id)
    .fetch_optional(&mut *transaction)
    .await?;
    let Some(row) = revoked else { return Ok(false) };
    let before = serde_json::json!({"name": row.try_get::<String, _>(0)?, "scope": row.try_get::<String, _>(1)?});
    let subject = format!("api_client:{id}");
    let audit = crate::audit::Record {
        actor,
        action: "api_client.revoke",
        subject: &subject,
        before: Some(before),
        after: None,
        at_ms: now_ms,
    };
    crate::audit::record(&mut transaction, audit_key, &audit).await?;
    crate::db::announce_access_change(&mut transaction).await?;
    transaction.commit().await?;
    Ok(true)
}

/// The active client whose token has this SHA-256, if any.
///
/// # Errors
/// A database fault.
pub async fn find_active_by_token_hash(pool: &AnyPool, token_sha256: &str) -> sqlx::Result<Option<ApiCaller>> {
    let row = sqlx::query("SELECT id, scope FROM api_clients WHERE token_sha256 = $1 AND revoked_at IS NULL")
        .bind(token_sha256)
        .fetch_optional(pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let client_id: i64 = row.try_get(0)?;
    let scope: String = row.try_get(1)?;
    Ok(scope.parse().ok().map(|scope| ApiCaller::client(client_id, scope)))
}

/// Inserts a user with an already hashed password and returns its id.
///
/// # Errors
/// A database fault, a unique violation when the e-mail is taken.
pub async fn insert_user(
    connection: &mut AnyConnection,
    user: &NewUser,
    password_hash: &str,
    now_ms: i64,
) -> sqlx::Result<i64> {
    let row = sqlx::query(
        "INSERT INTO users (email, name, language, role, developer_id, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(user.email.as_str())
    .bind(user.name.as_str())
    .bind(user.language.as_str())
    .bind(user.role.as_str())
    .bind(user.developer_id)
    .bind(password_hash)
    .bind(now_ms)
    .fetch_one(connection)
    .await?;
    row.try_get(0)
}

/// Stores the SHA-256 of a new personal token of a user, working until
/// `expires_at_ms`; returns its id.
///
/// # Errors
/// A database fault.
pub async fn insert_user_token(
    connection: &mut AnyConnection,
    user_id: i64,
    token_sha256: &str,
    now_ms: i64,
    expires_at_ms: i64,
) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO user_tokens (user_id, token_sha256, created_at, expires_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(user_id)
    .bind(token_sha256)
    .bind(now_ms)
    .bind(expires_at_ms)
    .fetch_one(connection)
    .await?
    .try_get(0)
}

/// A user as sign-in reads it.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// Id.
    pub id: i64,
    /// Stored role name.
    pub role: String,
    /// Company, for developer roles.
    pub developer_id: Option<i64>,
    /// Argon2id hash.
    pub password_hash: String,
}

impl UserCredentials {
    /// The caller this user is, `None` for an unknown role.
    #[must_use]
    pub fn caller(&self) -> Option<ApiCaller> {
        caller_from(self.id, &self.role, self.developer_id)
    }
}

fn caller_from(user_id: i64, role: &str, developer_id: Option<i64>) -> Option<ApiCaller> {
    let role = role.parse::<Role>().ok()?;
    Some(ApiCaller { client_id: None, user_id: Some(user_id), role, developer_id })
}

/// The active user holding this live (unrevoked, unexpired) personal token,
/// with the token's id and when it was last used; `None` too for an unknown
/// role.
///
/// # Errors
/// A database fault.
pub async fn find_user_by_token_hash(
    pool: &AnyPool,
    token_sha256: &str,
    now_ms: i64,
) -> sqlx::Result<Option<(i64, Option<i64>, ApiCaller)>> {
    let row = sqlx::query(
        "SELECT u.id, u.role, u.developer_id, t.id, t.last_used_at FROM user_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.deactivated_at IS NULL",
    )
    .bind(token_sha256)
    .bind(now_ms)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get(1)?;
    let (token_id, last_used_at_ms) = (row.try_get(3)?, row.try_get(4)?);
    Ok(caller_from(row.try_get(0)?, &role, row.try_get(2)?).map(|caller| (token_id, last_used_at_ms, caller)))
}

/// Notes that a personal token was used at `now_ms`.
///
/// # Errors
/// A database fault.
pub async fn touch_user_token(pool: &AnyPool, id: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE user_tokens SET last_used_at = $1 WHERE id = $2").bind(now_ms).bind(id).execute(pool).await?;
    Ok(())
}

/// The id of the user with this e-mail, if any.
///
/// # Errors
/// A database fault.
pub async fn find_user_id_by_email(pool: &AnyPool, email: &EmailAddress) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query("SELECT id FROM users WHERE email = $1").bind(email.as_str()).fetch_optional(pool).await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// The user with this e-mail and their password hash, for sign-in.
///
/// # Errors
/// A database fault.
pub async fn find_user_credentials(pool: &AnyPool, email: &EmailAddress) -> sqlx::Result<Option<UserCredentials>> {
    let row = sqlx::query(
        "SELECT id, role, developer_id, password_hash FROM users WHERE email = $1 AND deactivated_at IS NULL",
    )
    .bind(email.as_str())
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(UserCredentials {
            id: row.try_get(0)?,
            role: row.try_get(1)?,
            developer_id: row.try_get(2)?,
            password_hash: row.try_get(3)?,
        })
    })
    .transpose()
}

/// Records a sign-in attempt before its password is checked, as failed;
/// returns its id.
///
/// # Errors
/// A database fault.
pub async fn insert_sign_in_attempt(pool: &AnyPool, account: &str, address: &str, now_ms: i64) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO sign_in_attempts (account, address, succeeded, created_at) VALUES ($1, $2, 0, $3) RETURNING id",
    )
    .bind(account)
    .bind(address)
    .bind(now_ms)
    .fetch_one(pool)
    .await?
    .try_get(0)
}

/// Failed (or not yet checked) attempts since `after_ms`: for this account
/// from this address, from this address for any account, and for this
/// account from any address.
///
/// # Errors
/// A database fault.
pub async fn count_sign_in_failures(
    pool: &AnyPool,
    account: &str,
    address: &str,
    after_ms: i64,
) -> sqlx::Result<(i64, i64, i64)> {
    let row = sqlx::query(
        "SELECT
           (SELECT COUNT(*) FROM sign_in_attempts WHERE account = $1 AND address = $2 AND succeeded = 0 AND created_at > $3),
           (SELECT COUNT(*) FROM sign_in_attempts WHERE address = $2 AND succeeded = 0 AND created_at > $3),
           (SELECT COUNT(*) FROM sign_in_attempts WHERE account = $1 AND succeeded = 0 AND created_at > $3)",
    )
    .bind(account)
    .bind(address)
    .bind(after_ms)
    .fetch_one(pool)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
}

/// Marks an attempt as the right password.
///
/// # Errors
/// A database fault.
pub async fn mark_sign_in_succeeded(pool: &AnyPool, id: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE sign_in_attempts SET succeeded = 1 WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// Stores the SHA-256 of a new single-use password link (`reset` or
/// `invitation`) of a user.
///
/// # Errors
/// A database fault.
pub async fn insert_password_link(
    connection: &mut AnyConnection,
    token_sha256: &str,
    user_id: i64,
    purpose: &str,
    now_ms: i64,
    expires_at_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO password_links (token_sha256, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_sha256)
        .bind(user_id)
        .bind(purpose)
        .bind(now_ms)
        .bind(expires_at_ms)
        .execute(connection)
        .await?;
    Ok(())
}

/// The id and stored language code of the active user with this e-mail, if
/// any.
///
/// # Errors
/// A database fault.
pub async fn find_user_language_by_email(
    connection: &mut AnyConnection,
    email: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT id, language FROM users WHERE email = $1 AND deactivated_at IS NULL")
        .bind(email)
        .fetch_optional(connection)
        .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).transpose()
}

/// The user of an unused, unexpired password link with this SHA-256, and
/// the link's purpose (`reset` or `invitation`).
///
/// # Errors
/// A database fault.
pub async fn find_link_user(pool: &AnyPool, token_sha256: &str, now_ms: i64) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query(
        "SELECT user_id, purpose FROM password_links WHERE token_sha256 = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_sha256)
    .bind(now_ms)
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
}

/// Marks an unused, unexpired password link used; returns its user, `None`
/// when the link does not work.
///
/// # Errors
/// A database fault.
pub async fn use_password_link(
    connection: &mut AnyConnection,
    token_sha256: &str,
    now_ms: i64,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query(
        "UPDATE password_links SET used_at = $1 WHERE token_sha256 = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id",
    )
    .bind(now_ms)
    .bind(token_sha256)
    .fetch_optional(connection)
    .await?;
    row.map(|r| r.try_get(0)).transpose()
}

/// Replaces a user's password hash.
///
/// # Errors
/// A database fault.
pub async fn set_password_hash(connection: &mut AnyConnection, user_id: i64, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Revokes every active personal token of a user.
///
/// # Errors
/// A database fault.
pub async fn revoke_user_tokens(connection: &mut AnyConnection, user_id: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE user_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
        .bind(now_ms)
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Revokes one personal token; false when it was revoked already.
///
/// # Errors
/// A database fault.
pub async fn revoke_user_token(connection: &mut AnyConnection, id: i64, now_ms: i64) -> sqlx::Result<bool> {
    let revoked = sqlx::query("UPDATE user_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms)
        .bind(id)
        .execute(connection)
        .await?;
    Ok(revoked.rows_affected() == 1)
}

/// Whose users a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whose {
    /// Everyone's (administrators).
    Everyone,
    /// One developer company's.
    Company(i64),
}

/// A user as the lists of users show them.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Sign-in address.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Stored role name.
    pub role: String,
    /// Stored language code.
    pub language: String,
    /// The company's code (empty for staff).
    pub company: String,
    /// Made, Unix ms.
    pub created_at_ms: i64,
    /// Deactivated, Unix ms.
    pub deactivated_at_ms: Option<i64>,
}

/// Users with ids above `after_id`, oldest first, at most `limit`.
///
/// # Errors
/// A database fault.
pub async fn users(pool: &AnyPool, whose: Whose, after_id: i64, limit: i64) -> sqlx::Result<Vec<UserRow>> {
    let (everyone, developer_id) = match whose {
        Whose::Everyone => (1_i64, 0_i64),
        Whose::Company(id) => (0, id),
    };
    let rows = sqlx::query(
        "SELECT u.id, u.email, u.name, u.role, u.language, COALESCE(d.code, ''), u.created_at, u.deactivated_at
         FROM users u LEFT JOIN developers d ON d.id = u.developer_id
         WHERE ($1 = 1 OR u.developer_id = $2) AND u.id > $3 ORDER BY u.id LIMIT $4",
    )
    .bind(everyone)
    .bind(developer_id)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(UserRow {
                id: row.try_get(0)?,
                email: row.try_get(1)?,
                name: row.try_get(2)?,
                role: row.try_get(3)?,
                language: row.try_get(4)?,
                company: row.try_get(5)?,
                created_at_ms: row.try_get(6)?,
                deactivated_at_ms: row.try_get(7)?,
            })
        })
        .collect()
}

/// A user as the people who manage them see it.
#[derive(Debug, Clone)]
pub struct ManagedUser {
    /// Id.
    pub id: i64,
    /// Stored role name.
    pub role: String,
    /// Company, for developer roles.
    pub developer_id: Option<i64>,
    /// Deactivated, Unix ms.
    pub deactivated_at_ms: Option<i64>,
    /// Sign-in address.
    pub email: String,
    /// Full name.
    pub name: String,
    /// The company's code (empty for staff).
    pub company: String,
}

/// The user with this id, locked until the transaction ends on PostgreSQL
/// when `lock_clause` is `Db::row_lock_clause` (empty to only read).
///
/// # Errors
/// A database fault.
pub async fn find_managed_user(
    connection: &mut AnyConnection,
    id: i64,
    lock_clause: &str,
) -> sqlx::Result<Option<ManagedUser>> {
    let sql = format!(
        "SELECT u.id, u.role, u.developer_id, u.deactivated_at, u.email, u.name,
                COALESCE((SELECT d.code FROM developers d WHERE d.id = u.developer_id), '')
         FROM users u WHERE u.id = $1 {lock_clause}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(connection).await?;
    row.map(|row| {
        Ok(ManagedUser {
            id: row.try_get(0)?,
            role: row.try_get(1)?,
            developer_id: row.try_get(2)?,
            deactivated_at_ms: row.try_get(3)?,
            email: row.try_get(4)?,
            name: row.try_get(5)?,
            company: row.try_get(6)?,
        })
    })
    .transpose()
}

/// Sets or clears when a user was deactivated.
///
/// # Errors
/// A database fault.
pub async fn set_user_deactivated(
    connection: &mut AnyConnection,
    user_id: i64,
    deactivated_at_ms: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET deactivated_at = $1 WHERE id = $2")
        .bind(deactivated_at_ms)
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Sets a user's role.
///
/// # Errors
/// A database fault.
pub async fn set_user_role(connection: &mut AnyConnection, user_id: i64, role: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET role = $1 WHERE id = $2").bind(role).bind(user_id).execute(connection).await?;
    Ok(())
}

/// The user who owns the personal token with this id, if any.
///
/// # Errors
/// A database fault.
pub async fn user_token_owner(connection: &mut AnyConnection, token_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query("SELECT user_id FROM user_tokens WHERE id = $1")
        .bind(token_id)
        .fetch_optional(connection)
        .await?
        .map(|row| row.try_get(0))
        .transpose()
}

/// Ends every session of a user except the one with this token SHA-256.
///
/// # Errors
/// A database fault.
pub async fn delete_other_sessions(
    connection: &mut AnyConnection,
    user_id: i64,
    kept_token_sha256: &str,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_sha256 <> $2")
        .bind(user_id)
        .bind(kept_token_sha256)
        .execute(connection)
        .await?;
    Ok(())
}

/// The password hash of an active user.
///
/// # Errors
/// A database fault.
pub async fn password_hash(pool: &AnyPool, user_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query("SELECT password_hash FROM users WHERE id = $1 AND deactivated_at IS NULL")
        .bind(user_id)
        .fetch_optional(pool)
        .await?
        .map(|row| row.try_get(0))
        .transpose()
}

/// A personal token of a user, as its list shows it.
#[derive(Debug, Clone)]
pub struct UserTokenRow {
    /// Id.
    pub id: i64,
    /// Created, Unix ms.
    pub created_at_ms: i64,
    /// Stops working, Unix ms.
    pub expires_at_ms: i64,
    /// Last used, Unix ms (to the minute).
    pub last_used_at_ms: Option<i64>,
    /// Revoked, Unix ms.
    pub revoked_at_ms: Option<i64>,
}

/// A user's personal tokens, newest first.
///
/// # Errors
/// A database fault.
pub async fn user_tokens(pool: &AnyPool, user_id: i64) -> sqlx::Result<Vec<UserTokenRow>> {
    let rows = sqlx::query(
        "SELECT id, created_at, expires_at, last_used_at, revoked_at FROM user_tokens WHERE user_id = $1 ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(UserTokenRow {
                id: row.try_get(0)?,
                created_at_ms: row.try_get(1)?,
                expires_at_ms: row.try_get(2)?,
                last_used_at_ms: row.try_get(3)?,
                revoked_at_ms: row.try_get(4)?,
            })
        })
        .collect()
}

/// How many users there are.
///
/// # Errors
/// A database fault.
pub async fn count_users(pool: &AnyPool) -> sqlx::Result<i64> {
    sqlx::query("SELECT COUNT(*) FROM users").fetch_one(pool).await?.try_get(0)
}

/// The name of the user with this id, if any.
///
/// # Errors
/// A database fault.
pub async fn user_name(connection: &mut AnyConnection, user_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query("SELECT name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(connection)
        .await?
        .map(|r| r.try_get::<String, _>(0))
        .transpose()
}

/// Sets the language a user reads kuota in.
///
/// # Errors
/// A database fault.
pub async fn set_user_language(pool: &AnyPool, user_id: i64, language: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET language = $1 WHERE id = $2").bind(language).bind(user_id).execute(pool).await?;
    Ok(())
}

/// An API client in the administrators' list.
#[derive(Debug, Clone)]
pub struct ClientListRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Stored scope name.
    pub scope: String,
    /// Revoked, Unix ms.
    pub revoked_at_ms: Option<i64>,
}

/// Every API client, oldest first.
///
/// # Errors
/// A database fault.
pub async fn all_clients(pool: &AnyPool) -> sqlx::Result<Vec<ClientListRow>> {
    let rows = sqlx::query("SELECT id, name, scope, revoked_at FROM api_clients ORDER BY id").fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(ClientListRow {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                scope: row.try_get(2)?,
                revoked_at_ms: row.try_get(3)?,
            })
        })
        .collect()
}

/// A live session with its user, as the `Member` extractor reads it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The user's id.
    pub user_id: i64,
    /// Stored role name.
    pub role: String,
    /// Company, for developer roles.
    pub developer_id: Option<i64>,
    /// Sign-in address.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Stored language code.
    pub language: String,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// The company's code, for developer roles.
    pub developer_code: Option<String>,
}

/// The unexpired session with this token SHA-256, with its user.
///
/// # Errors
/// A database fault.
pub async fn find_session(pool: &AnyPool, token_sha256: &str, now_ms: i64) -> sqlx::Result<Option<SessionRow>> {
    let row = sqlx::query(
        "SELECT u.id, u.role, u.developer_id, u.email, u.name, u.language, s.csrf_token, d.code
         FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN developers d ON d.id = u.developer_id
         WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND u.deactivated_at IS NULL AND s.stage = 'full'",
    )
    .bind(token_sha256)
    .bind(now_ms)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(SessionRow {
            user_id: row.try_get(0)?,
            role: row.try_get(1)?,
            developer_id: row.try_get(2)?,
            email: row.try_get(3)?,
            name: row.try_get(4)?,
            language: row.try_get(5)?,
            csrf_token: row.try_get(6)?,
            developer_code: row.try_get(7)?,
        })
    })
    .transpose()
}

/// Deletes the sessions that expired by this moment (Unix ms).
///
/// # Errors
/// A database fault.
pub async fn delete_expired_sessions(pool: &AnyPool, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now_ms).execute(pool).await?;
    Ok(())
}

/// A new session: its token's SHA-256, user, CSRF token, stage (`full`, or
/// `second_factor` / `enrol` while it waits for the second factor) and
/// lifetime.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    /// SHA-256 of the cookie's token.
    pub token_sha256: &'a str,
    /// The user.
    pub user_id: i64,
    /// The forms' CSRF token.
    pub csrf_token: &'a str,
    /// `full`, `second_factor` or `enrol`.
    pub stage: &'a str,
    /// Made, Unix ms.
    pub now_ms: i64,
    /// Ends, Unix ms.
    pub expires_at_ms: i64,
}

/// Stores a new session.
///
/// # Errors
/// A database fault.
pub async fn insert_session(pool: &AnyPool, session: &NewSession<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, expires_at, stage) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(session.token_sha256)
    .bind(session.user_id)
    .bind(session.csrf_token)
    .bind(session.now_ms)
    .bind(session.expires_at_ms)
    .bind(session.stage)
    .execute(pool)
    .await?;
    Ok(())
}

/// A session waiting for the second factor (or for enrolment): its user,
/// stage, CSRF token, and the user's e-mail and language.
#[derive(Debug, Clone)]
pub struct StagedSessionRow {
    /// The user.
    pub user_id: i64,
    /// `second_factor` or `enrol`.
    pub stage: String,
    /// The forms' CSRF token.
    pub csrf_token: String,
    /// Sign-in address (the authenticator's account name).
    pub email: String,
    /// Stored language code.
    pub language: String,
}

/// The unexpired session with this token SHA-256 that waits for the second
/// factor or enrolment, if any.
///
/// # Errors
/// A database fault.
pub async fn find_staged_session(
    pool: &AnyPool,
    token_sha256: &str,
    now_ms: i64,
) -> sqlx::Result<Option<StagedSessionRow>> {
    let row = sqlx::query(
        "SELECT u.id, s.stage, s.csrf_token, u.email, u.language FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND u.deactivated_at IS NULL AND s.stage <> 'full'",
    )
    .bind(token_sha256)
    .bind(now_ms)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(StagedSessionRow {
            user_id: row.try_get(0)?,
            stage: row.try_get(1)?,
            csrf_token: row.try_get(2)?,
            email: row.try_get(3)?,
            language: row.try_get(4)?,
        })
    })
    .transpose()
}

/// A user's second factor: the enrolled secret, the one being enrolled,
/// and the last time step a code was accepted at.
#[derive(Debug, Clone, Default)]
pub struct SecondFactorRow {
    /// Base32 secret, once enrolled.
    pub secret: Option<String>,
    /// Base32 secret being enrolled.
    pub pending_secret: Option<String>,
    /// The last time step accepted.
    pub last_step: Option<i64>,
}

/// A user's second factor.
///
/// # Errors
/// A database fault.
pub async fn second_factor(connection: &mut AnyConnection, user_id: i64) -> sqlx::Result<SecondFactorRow> {
    let row = sqlx::query("SELECT totp_secret, totp_pending_secret, totp_last_step FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(connection)
        .await?;
    row.map_or(Ok(SecondFactorRow::default()), |row| {
        Ok(SecondFactorRow { secret: row.try_get(0)?, pending_secret: row.try_get(1)?, last_step: row.try_get(2)? })
    })
}

/// Sets the secret being enrolled.
///
/// # Errors
/// A database fault.
pub async fn set_pending_secret(connection: &mut AnyConnection, user_id: i64, secret: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET totp_pending_secret = $1 WHERE id = $2")
        .bind(secret)
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Makes the secret being enrolled the user's second factor, with the step
/// its first code was accepted at; false when it changed meanwhile.
///
/// # Errors
/// A database fault.
pub async fn enrol_pending_secret(
    connection: &mut AnyConnection,
    user_id: i64,
    secret: &str,
    step: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, totp_last_step = $1
         WHERE id = $2 AND totp_pending_secret = $3",
    )
    .bind(step)
    .bind(user_id)
    .bind(secret)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Accepts a code's time step once: true when it is later than the last one.
///
/// # Errors
/// A database fault.
pub async fn use_step(connection: &mut AnyConnection, user_id: i64, step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
    )
    .bind(step)
    .bind(user_id)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces a user's recovery codes (their SHA-256).
///
/// # Errors
/// A database fault.
pub async fn replace_recovery_codes(
    connection: &mut AnyConnection,
    user_id: i64,
    sha256s: &[String],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *connection).await?;
    for sha256 in sha256s {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_sha256) VALUES ($1, $2)")
            .bind(user_id)
            .bind(sha256)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// Uses one unused recovery code of the user; false when there is none such.
///
/// # Errors
/// A database fault.
pub async fn use_recovery_code(
    connection: &mut AnyConnection,
    user_id: i64,
    sha256: &str,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_sha256 = $3 AND used_at IS NULL",
    )
    .bind(now_ms)
    .bind(user_id)
    .bind(sha256)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many unused recovery codes the user has.
///
/// # Errors
/// A database fault.
pub async fn recovery_codes_left(pool: &AnyPool, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(pool)
        .await?
        .try_get(0)
}

/// Deletes the session with this token SHA-256.
///
/// # Errors
/// A database fault.
pub async fn delete_session(pool: &AnyPool, token_sha256: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1").bind(token_sha256).execute(pool).await?;
    Ok(())
}

/// Deletes every session of a user.
///
/// # Errors
/// A database fault.
pub async fn delete_user_sessions(connection: &mut AnyConnection, user_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(connection).await?;
    Ok(())
}

/// Users whose address differs from another user's only in case (left as
/// they were by the lower-casing migration).
///
/// # Errors
/// A database fault.
pub async fn email_case_conflicts(pool: &AnyPool) -> sqlx::Result<Vec<String>> {
    let rows =
        sqlx::query("SELECT email FROM users WHERE email <> lower(email) ORDER BY email").fetch_all(pool).await?;
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// Uses up every outstanding link of a user (after one of them was used).
///
/// # Errors
/// A database fault.
pub async fn end_password_links(connection: &mut AnyConnection, user_id: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE password_links SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now_ms)
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Forgets an attempt that was never judged (the password checker was busy).
///
/// # Errors
/// A database fault.
pub async fn delete_sign_in_attempt(pool: &AnyPool, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sign_in_attempts WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// Forgets attempts older than `before_ms` (they no longer count).
///
/// # Errors
/// A database fault.
pub async fn prune_sign_in_attempts(pool: &AnyPool, before_ms: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query("DELETE FROM sign_in_attempts WHERE created_at < $1")
        .bind(before_ms)
        .execute(pool)
        .await?
        .rows_affected())
}

/// Releases the users of a released registration: each is deactivated, its
/// e-mail replaced by a placeholder (so the address can register or be
/// invited again), its sessions, tokens and password links ended. Returns the
/// addresses released.
///
/// # Errors
/// A database fault.
pub async fn release_company_users(
    connection: &mut AnyConnection,
    developer_id: i64,
    now_ms: i64,
) -> sqlx::Result<Vec<String>> {
    let emails: Vec<String> = sqlx::query("SELECT email FROM users WHERE developer_id = $1 ORDER BY id")
        .bind(developer_id)
        .fetch_all(&mut *connection)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<sqlx::Result<_>>()?;
    sqlx::query("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE developer_id = $1)")
        .bind(developer_id)
        .execute(&mut *connection)
        .await?;
    for sql in [
        "UPDATE user_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE developer_id = $1)",
        "UPDATE password_links SET used_at = $2 WHERE used_at IS NULL AND user_id IN (SELECT id FROM users WHERE developer_id = $1)",
        "UPDATE users SET email = 'released-' || CAST(id AS TEXT) || '@kuota.invalid', deactivated_at = COALESCE(deactivated_at, $2) WHERE developer_id = $1",
    ] {
        sqlx::query(sql).bind(developer_id).bind(now_ms).execute(&mut *connection).await?;
    }
    Ok(emails)
}

/// Notes that a user acknowledged the personal-data notice.
///
/// # Errors
/// A database fault.
pub async fn set_privacy_acknowledged(connection: &mut AnyConnection, user_id: i64, now_ms: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET privacy_acknowledged_at = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Users deactivated before `before_ms` whose personal data is still there.
///
/// # Errors
/// A database fault.
pub async fn departed_users(connection: &mut AnyConnection, before_ms: i64) -> sqlx::Result<Vec<(i64, String)>> {
    let rows = sqlx::query(
        "SELECT id, email FROM users WHERE deactivated_at IS NOT NULL AND deactivated_at < $1 AND anonymised_at IS NULL ORDER BY id",
    )
    .bind(before_ms)
    .fetch_all(connection)
    .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// Replaces a departed user's personal data with a pseudonym (`Pengguna #id`,
/// `erased-id@kuota.invalid`), leaves them unable to sign in, and forgets
/// their second factor, recovery codes and sign-in attempts; every record
/// that names `user:id` keeps pointing at the same row. False when the user
/// is no longer due (anonymised already, or reactivated).
///
/// # Errors
/// A database fault.
pub async fn anonymise_user(
    connection: &mut AnyConnection,
    (user_id, email): (i64, &str),
    departed_before_ms: i64,
    now_ms: i64,
) -> sqlx::Result<bool> {
    // Only if still departed and not yet anonymised (another node, or a
    // reactivation, may have come first).
    let done = sqlx::query(
        "UPDATE users SET name = 'Pengguna #' || CAST(id AS TEXT), email = 'erased-' || CAST(id AS TEXT) || '@kuota.invalid',
           password_hash = '!', totp_secret = NULL, totp_pending_secret = NULL, anonymised_at = $1
         WHERE id = $2 AND anonymised_at IS NULL AND deactivated_at IS NOT NULL AND deactivated_at < $3",
    )
    .bind(now_ms)
    .bind(user_id)
    .bind(departed_before_ms)
    .execute(&mut *connection)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *connection).await?;
    sqlx::query("DELETE FROM sign_in_attempts WHERE account = $1 OR account = $2")
        .bind(email)
        .bind(format!("second-factor:user:{user_id}"))
        .execute(connection)
        .await?;
    Ok(true)
}

/// The personal data kept about the users of one company, as exported.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserPersonalData {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: String,
    /// Role.
    pub role: String,
    /// Language.
    pub language: String,
    /// Made, Unix ms.
    pub created_at_ms: i64,
    /// Deactivated, Unix ms.
    pub deactivated_at_ms: Option<i64>,
    /// Acknowledged the personal-data notice, Unix ms.
    pub privacy_acknowledged_at_ms: Option<i64>,
    /// Uses a second factor.
    pub second_factor: bool,
}

/// The users of a company with the personal data kept about them.
///
/// # Errors
/// A database fault.
pub async fn company_personal_data(pool: &AnyPool, developer_id: i64) -> sqlx::Result<Vec<UserPersonalData>> {
    let rows = sqlx::query(
        "SELECT id, name, email, role, language, created_at, deactivated_at, privacy_acknowledged_at,
                CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END
         FROM users WHERE developer_id = $1 ORDER BY id",
    )
    .bind(developer_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(UserPersonalData {
                id: row.try_get(0)?,
                name: row.try_get(1)?,
                email: row.try_get(2)?,
                role: row.try_get(3)?,
                language: row.try_get(4)?,
                created_at_ms: row.try_get(5)?,
                deactivated_at_ms: row.try_get(6)?,
                privacy_acknowledged_at_ms: row.try_get(7)?,
                second_factor: row.try_get::<i64, _>(8)? == 1,
            })
        })
        .collect()
}

/// Failed sign-ins since `since_ms`, from every address.
///
/// # Errors
/// A database fault.
pub async fn failures_since(connection: &mut AnyConnection, since_ms: i64) -> sqlx::Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) FROM sign_in_attempts WHERE succeeded = 0 AND created_at > $1")
        .bind(since_ms)
        .fetch_one(connection)
        .await?;
    row.try_get(0)
}
