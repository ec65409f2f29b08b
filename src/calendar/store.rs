//! SQL for public holidays.

use jiff::civil::Date;
use sqlx::{AnyPool, Row};

/// One public holiday.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holiday {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Name in Malay.
    pub name_ms: String,
    /// Name in English.
    pub name_en: String,
}

/// Every holiday, in date order.
///
/// # Errors
/// A database fault.
pub async fn all(pool: &AnyPool) -> sqlx::Result<Vec<Holiday>> {
    let rows = sqlx::query("SELECT day, name_ms, name_en FROM holidays ORDER BY day").fetch_all(pool).await?;
    rows.iter()
        .map(|row| Ok(Holiday { date: row.try_get(0)?, name_ms: row.try_get(1)?, name_en: row.try_get(2)? }))
        .collect()
}

/// The holiday dates, for the working-day calendar.
///
/// # Errors
/// A database fault.
pub async fn dates(pool: &AnyPool) -> sqlx::Result<Vec<Date>> {
    Ok(all(pool).await?.iter().filter_map(|holiday| holiday.date.parse().ok()).collect())
}

/// Adds or renames a holiday; true when it was new.
///
/// # Errors
/// A database fault.
pub async fn upsert(connection: &mut sqlx::AnyConnection, holiday: &Holiday) -> sqlx::Result<bool> {
    let existed = sqlx::query("SELECT day FROM holidays WHERE day = $1")
        .bind(&holiday.date)
        .fetch_optional(&mut *connection)
        .await?
        .is_some();
    sqlx::query(
        "INSERT INTO holidays (day, name_ms, name_en) VALUES ($1, $2, $3)
         ON CONFLICT (day) DO UPDATE SET name_ms = excluded.name_ms, name_en = excluded.name_en",
    )
    .bind(&holiday.date)
    .bind(&holiday.name_ms)
    .bind(&holiday.name_en)
    .execute(connection)
    .await?;
    Ok(!existed)
}

/// Removes a holiday inside the caller's transaction; the removed one, if there was one.
///
/// # Errors
/// A database fault.
pub async fn delete(connection: &mut sqlx::AnyConnection, date: &str) -> sqlx::Result<Option<Holiday>> {
    let row = sqlx::query("DELETE FROM holidays WHERE day = $1 RETURNING day, name_ms, name_en")
        .bind(date)
        .fetch_optional(connection)
        .await?;
    row.map(|row| Ok(Holiday { date: row.try_get(0)?, name_ms: row.try_get(1)?, name_en: row.try_get(2)? })).transpose()
}
