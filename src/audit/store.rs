//! SQL for the audit trail: the head row (last sequence id and hash, and the
//! fingerprint of the key that seals the chain) and the chained records.

use sqlx::{AnyConnection, Row};

/// A record as stored, chained.
#[derive(Debug, Clone)]
pub struct AuditRow<'a> {
    /// Sequence id.
    pub id: i64,
    /// Who.
    pub actor: &'a str,
    /// What.
    pub action: &'a str,
    /// To what.
    pub subject: &'a str,
    /// State before, JSON.
    pub before: Option<&'a str>,
    /// State after, JSON.
    pub after: Option<&'a str>,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The hash of the record before.
    pub prev_hash: &'a str,
    /// This record's hash.
    pub hash: &'a str,
}

/// A record as read back for verification.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// Sequence id.
    pub id: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// State before, JSON.
    pub before: Option<String>,
    /// State after, JSON.
    pub after: Option<String>,
    /// When, Unix ms.
    pub at_ms: i64,
    /// The hash of the record before.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// Reserves `count` sequence ids by moving the head's last id (locking the
/// head row); returns the new last id and the hash of the last record
/// before them.
///
/// # Errors
/// A database fault.
pub async fn reserve_seq(connection: &mut AnyConnection, count: i64) -> sqlx::Result<(i64, String)> {
    let head = sqlx::query("UPDATE audit_head SET last_seq = last_seq + $1 WHERE id = 1 RETURNING last_seq, last_hash")
        .bind(count)
        .fetch_one(connection)
        .await?;
    Ok((head.try_get(0)?, head.try_get(1)?))
}

/// Inserts chained records with one statement.
///
/// # Errors
/// A database fault.
pub async fn insert_records(connection: &mut AnyConnection, rows: &[AuditRow<'_>]) -> sqlx::Result<()> {
    let mut sql = String::from(
        "INSERT INTO audit_log (id, actor, action, subject, state_before, state_after, created_at, prev_hash, hash) VALUES ",
    );
    for index in 0..rows.len() {
        let base = index * 9;
        let separator = if index == 0 { "" } else { ", " };
        let placeholders: Vec<String> = (1..=9).map(|n| format!("${}", base + n)).collect();
        sql.push_str(&format!("{separator}({})", placeholders.join(", ")));
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for row in rows {
        query = query
            .bind(row.id)
            .bind(row.actor)
            .bind(row.action)
            .bind(row.subject)
            .bind(row.before)
            .bind(row.after)
            .bind(row.at_ms)
            .bind(row.prev_hash)
            .bind(row.hash);
    }
    query.execute(connection).await?;
    Ok(())
}

/// Sets the hash of the last record in the head row.
///
/// # Errors
/// A database fault.
pub async fn set_head_hash(connection: &mut AnyConnection, hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1").bind(hash).execute(connection).await?;
    Ok(())
}

/// The head row.
#[derive(Debug, Clone)]
pub struct Head {
    /// The last sequence id.
    pub last_seq: i64,
    /// The last record's hash.
    pub last_hash: String,
    /// The fingerprint of the key the chain is sealed with; `None` for a
    /// trail from before the key (plain SHA-256 links).
    pub key_id: Option<String>,
}

/// Every record, in sequence order.
///
/// # Errors
/// A database fault.
pub async fn all_records(connection: &mut AnyConnection) -> sqlx::Result<Vec<StoredRecord>> {
    let rows = sqlx::query(
        "SELECT id, actor, action, subject, state_before, state_after, created_at, prev_hash, hash FROM audit_log ORDER BY id",
    )
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StoredRecord {
                id: row.try_get(0)?,
                actor: row.try_get(1)?,
                action: row.try_get(2)?,
                subject: row.try_get(3)?,
                before: row.try_get(4)?,
                after: row.try_get(5)?,
                at_ms: row.try_get(6)?,
                prev_hash: row.try_get(7)?,
                hash: row.try_get(8)?,
            })
        })
        .collect()
}

/// The head row.
///
/// # Errors
/// A database fault.
pub async fn head(connection: &mut AnyConnection) -> sqlx::Result<Head> {
    let head =
        sqlx::query("SELECT last_seq, last_hash, key_id FROM audit_head WHERE id = 1").fetch_one(connection).await?;
    Ok(Head { last_seq: head.try_get(0)?, last_hash: head.try_get(1)?, key_id: head.try_get(2)? })
}

/// Replaces one record's links (sealing a trail with the key).
///
/// # Errors
/// A database fault.
pub async fn relink(connection: &mut AnyConnection, id: i64, prev_hash: &str, hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE id = $3")
        .bind(prev_hash)
        .bind(hash)
        .bind(id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Names the key the chain is now sealed with, and its last hash.
///
/// # Errors
/// A database fault.
pub async fn seal_head(connection: &mut AnyConnection, last_hash: &str, key_id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE audit_head SET last_hash = $1, key_id = $2 WHERE id = 1")
        .bind(last_hash)
        .bind(key_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// Takes the head row's lock without changing it (a no-op update), so a
/// transaction can take it before any ledger account's.
///
/// # Errors
/// A database fault.
pub async fn lock_head(connection: &mut AnyConnection) -> sqlx::Result<()> {
    sqlx::query("UPDATE audit_head SET last_seq = last_seq WHERE id = 1").execute(connection).await?;
    Ok(())
}
