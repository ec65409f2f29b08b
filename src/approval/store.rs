//! SQL for approvals awaiting a second person.

use sqlx::{AnyConnection, AnyPool, Row};

use super::Kind;

/// An approval waiting for a second person, as the retail queue shows it.
#[derive(Debug, Clone)]
pub struct PendingApproval {
    /// Id.
    pub id: i64,
    /// Payment or adjustment.
    pub kind: Kind,
    /// The payment, for a payment approval.
    pub payment_id: Option<i64>,
    /// The request the payment is for, and its number.
    pub request: Option<(i64, String)>,
    /// The company.
    pub developer_id: i64,
    /// Its code.
    pub developer_code: String,
    /// The product, for an adjustment.
    pub product: Option<String>,
    /// Units credited (a payment's total), or added or removed (an adjustment).
    pub units: i64,
    /// The adjustment's reason.
    pub reason: Option<String>,
    /// Who asked first (`user:3`, `api_client:1`).
    pub requested_by: String,
    /// Their name (the actor for an API client).
    pub requested_by_name: String,
    /// When, Unix ms.
    pub requested_at_ms: i64,
}

const PENDING_COLUMNS: &str =
    "a.id, a.kind, a.payment_id, p.request_id, r.number, a.developer_id, d.code, a.product_code,
     a.units, a.reason, a.requested_by, a.requested_at, COALESCE(u.name, a.requested_by)
     FROM second_approvals a JOIN developers d ON d.id = a.developer_id
     LEFT JOIN payments p ON p.id = a.payment_id LEFT JOIN quota_requests r ON r.id = p.request_id
     LEFT JOIN users u ON 'user:' || CAST(u.id AS TEXT) = a.requested_by";

fn pending_of(row: &sqlx::any::AnyRow) -> sqlx::Result<PendingApproval> {
    let kind: String = row.try_get(1)?;
    let request_id: Option<i64> = row.try_get(3)?;
    let number: Option<String> = row.try_get(4)?;
    Ok(PendingApproval {
        id: row.try_get(0)?,
        kind: Kind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown approval kind {kind:?}").into()))?,
        payment_id: row.try_get(2)?,
        request: request_id.zip(number),
        developer_id: row.try_get(5)?,
        developer_code: row.try_get(6)?,
        product: row.try_get(7)?,
        units: row.try_get(8)?,
        reason: row.try_get(9)?,
        requested_by: row.try_get(10)?,
        requested_at_ms: row.try_get(11)?,
        requested_by_name: row.try_get(12)?,
    })
}

/// Every approval waiting for a second person, oldest first.
///
/// # Errors
/// A database fault.
pub async fn pending(pool: &AnyPool) -> sqlx::Result<Vec<PendingApproval>> {
    let sql = format!("SELECT {PENDING_COLUMNS} WHERE a.status = 'pending' ORDER BY a.id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
    rows.iter().map(pending_of).collect()
}

/// The pending approval with this id, locked until the transaction ends on
/// PostgreSQL (`lock_clause` from `Db::row_lock_clause`).
///
/// # Errors
/// A database fault.
pub async fn find_pending(
    connection: &mut AnyConnection,
    id: i64,
    lock_clause: &str,
) -> sqlx::Result<Option<PendingApproval>> {
    // `FOR UPDATE` may not lock the nullable side of a join: lock the row alone first.
    let lock = format!("SELECT id FROM second_approvals WHERE id = $1 AND status = 'pending' {lock_clause}");
    if sqlx::query(sqlx::AssertSqlSafe(lock)).bind(id).fetch_optional(&mut *connection).await?.is_none() {
        return Ok(None);
    }
    let sql = format!("SELECT {PENDING_COLUMNS} WHERE a.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(connection).await?;
    row.as_ref().map(pending_of).transpose()
}

/// The pending approval of a payment: its id and who asked for it.
///
/// # Errors
/// A database fault.
pub async fn pending_for_payment(
    connection: &mut AnyConnection,
    payment_id: i64,
) -> sqlx::Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT id, requested_by FROM second_approvals WHERE payment_id = $1 AND status = 'pending'")
        .bind(payment_id)
        .fetch_optional(connection)
        .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).transpose()
}

/// Records that a payment's approval waits for a second person; its id.
///
/// # Errors
/// A database fault (a unique violation when one is pending already).
pub async fn insert_payment(
    connection: &mut AnyConnection,
    (payment_id, developer_id, units): (i64, i64, i64),
    requested_by: &str,
    now_ms: i64,
) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO second_approvals (kind, payment_id, developer_id, units, status, requested_by, requested_at)
         VALUES ('payment', $1, $2, $3, 'pending', $4, $5) RETURNING id",
    )
    .bind(payment_id)
    .bind(developer_id)
    .bind(units)
    .bind(requested_by)
    .bind(now_ms)
    .fetch_one(connection)
    .await?
    .try_get(0)
}

/// An adjustment waiting for a second person.
#[derive(Debug, Clone, Copy)]
pub struct NewAdjustment<'a> {
    /// The company.
    pub developer_id: i64,
    /// The product.
    pub product: &'a str,
    /// Units to add (negative: remove).
    pub units: i64,
    /// Why.
    pub reason: &'a str,
    /// Who asks.
    pub requested_by: &'a str,
}

/// The pending approval of the very same adjustment by the same person, if
/// any (a repeated request asks once).
///
/// # Errors
/// A database fault.
pub async fn find_same_adjustment(
    connection: &mut AnyConnection,
    adjustment: &NewAdjustment<'_>,
) -> sqlx::Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT id FROM second_approvals WHERE kind = 'adjustment' AND status = 'pending' AND developer_id = $1
           AND product_code = $2 AND units = $3 AND reason = $4 AND requested_by = $5",
    )
    .bind(adjustment.developer_id)
    .bind(adjustment.product)
    .bind(adjustment.units)
    .bind(adjustment.reason)
    .bind(adjustment.requested_by)
    .fetch_optional(connection)
    .await?;
    row.map(|row| row.try_get(0)).transpose()
}

/// Records that an adjustment waits for a second person; its id.
///
/// # Errors
/// A database fault.
pub async fn insert_adjustment(
    connection: &mut AnyConnection,
    adjustment: &NewAdjustment<'_>,
    now_ms: i64,
) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO second_approvals (kind, developer_id, product_code, units, reason, status, requested_by, requested_at)
         VALUES ('adjustment', $1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
    )
    .bind(adjustment.developer_id)
    .bind(adjustment.product)
    .bind(adjustment.units)
    .bind(adjustment.reason)
    .bind(adjustment.requested_by)
    .bind(now_ms)
    .fetch_one(connection)
    .await?
    .try_get(0)
}

/// Decides a pending approval (`confirmed` or `cancelled`); false when it
/// was no longer pending.
///
/// # Errors
/// A database fault.
pub async fn decide(
    connection: &mut AnyConnection,
    id: i64,
    confirmed: bool,
    decided_by: &str,
    cancel_reason: Option<&str>,
    now_ms: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE second_approvals SET status = $1, decided_by = $2, decided_at = $3, cancel_reason = $4
         WHERE id = $5 AND status = 'pending'",
    )
    .bind(if confirmed { "confirmed" } else { "cancelled" })
    .bind(decided_by)
    .bind(now_ms)
    .bind(cancel_reason)
    .bind(id)
    .execute(connection)
    .await?;
    Ok(done.rows_affected() == 1)
}
