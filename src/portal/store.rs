//! SQL for portal sessions.

use sqlx::{AnyConnection, AnyPool, Row};

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
         WHERE s.token_sha256 = $1 AND s.expires_at > $2",
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

/// Stores a new session.
///
/// # Errors
/// A database fault.
pub async fn insert_session(
    pool: &AnyPool,
    token_sha256: &str,
    user_id: i64,
    csrf_token: &str,
    now_ms: i64,
    expires_at_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (token_sha256, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_sha256)
    .bind(user_id)
    .bind(csrf_token)
    .bind(now_ms)
    .bind(expires_at_ms)
    .execute(pool)
    .await?;
    Ok(())
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
