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
