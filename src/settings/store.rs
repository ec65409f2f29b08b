//! SQL for the settings: one JSON document in the row named `settings`.

use sqlx::{AnyConnection, Row};

/// The stored settings document (JSON text), `None` when never saved.
///
/// # Errors
/// A database fault.
pub async fn find_document(connection: &mut AnyConnection) -> sqlx::Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM settings WHERE name = 'settings'").fetch_optional(connection).await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// Stores the settings document (JSON text), replacing the one stored.
///
/// # Errors
/// A database fault.
pub async fn save_document(connection: &mut AnyConnection, text: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ('settings', $1) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        .bind(text)
        .execute(connection)
        .await?;
    Ok(())
}

/// The SST rates by start date (`YYYY-MM-DD`, basis points), oldest first.
///
/// # Errors
/// A database fault.
pub async fn sst_rates(connection: &mut AnyConnection) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT effective_from, rate_bp FROM sst_rates ORDER BY effective_from")
        .fetch_all(connection)
        .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// The SST rate in force on `day` (`YYYY-MM-DD`), in basis points.
///
/// # Errors
/// A database fault.
pub async fn sst_rate_on(connection: &mut AnyConnection, day: &str) -> sqlx::Result<Option<i64>> {
    let row =
        sqlx::query("SELECT rate_bp FROM sst_rates WHERE effective_from <= $1 ORDER BY effective_from DESC LIMIT 1")
            .bind(day)
            .fetch_optional(connection)
            .await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// Adds a rate from `day`.
///
/// # Errors
/// A unique violation when a rate starts that day already; a database fault.
pub async fn insert_sst_rate(
    connection: &mut AnyConnection,
    day: &str,
    rate_bp: i64,
    actor: &str,
    now_ms: i64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO sst_rates (effective_from, rate_bp, created_by, created_at) VALUES ($1, $2, $3, $4)")
        .bind(day)
        .bind(rate_bp)
        .bind(actor)
        .bind(now_ms)
        .execute(connection)
        .await?;
    Ok(())
}
