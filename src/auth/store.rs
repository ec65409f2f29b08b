//! SQL for API clients.

use sqlx::{AnyPool, Row};

use super::{ApiCaller, Scope, token};

/// Creates an API client and returns its id and its token, which is not
/// stored anywhere and cannot be shown again.
///
/// # Errors
/// A database fault, or no randomness.
pub async fn create_client(
    pool: &AnyPool,
    name: &str,
    scope: Scope,
    actor: &str,
    now_ms: i64,
) -> anyhow::Result<(i64, String)> {
    let secret = token::generate()?;
    let row = sqlx::query(
        "INSERT INTO api_clients (name, scope, token_sha256, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(name)
    .bind(scope.as_str())
    .bind(token::hash(&secret))
    .bind(now_ms)
    .fetch_one(pool)
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
    crate::audit::record_alone(pool, &audit).await?;
    Ok((id, secret))
}

/// Revokes an API client's token, with its audit record in the same
/// transaction; false when there is no such active client.
///
/// # Errors
/// A database fault.
pub async fn revoke_client(db: &crate::db::Db, id: i64, actor: &str, now_ms: i64) -> crate::error::AppResult<bool> {
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
    crate::audit::record(&mut transaction, &audit).await?;
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
