//! SQL of the ledger: one function per statement, each taking a connection
//! that is already inside the caller's transaction. Nothing here commits.
//! Every balance change is one guarded `UPDATE … WHERE available >= …`, so two
//! writers can never both spend the same unit, on either backend.

use sqlx::{AnyConnection, AnyPool, Row};

use super::HoldView;
use super::domain::{Balance, EntryKind, HoldStatus};

/// A new entry to append.
pub struct NewEntry<'a> {
    /// Account it belongs to.
    pub account_id: i64,
    /// Developer owning the account.
    pub developer_id: i64,
    /// What it does.
    pub kind: EntryKind,
    /// Units (signed only for adjustments).
    pub units: i64,
    /// Caller's reference or reason.
    pub reference: &'a str,
    /// Who did it.
    pub actor: &'a str,
    /// The hold it belongs to, for hold entries.
    pub hold_id: Option<i64>,
    /// When.
    pub at_ms: i64,
}

/// Appends an entry and returns its id.
///
/// # Errors
/// A database fault.
pub async fn insert_entry(connection: &mut AnyConnection, entry: &NewEntry<'_>) -> sqlx::Result<i64> {
    let ids = insert_entries(connection, std::slice::from_ref(entry)).await?;
    ids.first().copied().ok_or(sqlx::Error::RowNotFound)
}

/// Appends entries with one multi-row INSERT and returns their ids in the
/// order given. Ids are assigned in VALUES order on both backends; the
/// returned ids are sorted to match, and the caller checks each row it gets
/// back against what it inserted.
///
/// # Errors
/// A database fault.
pub async fn insert_entries(connection: &mut AnyConnection, entries: &[NewEntry<'_>]) -> sqlx::Result<Vec<i64>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = String::from(
        "INSERT INTO ledger_entries (account_id, developer_id, kind, units, reference, actor, hold_id, created_at) VALUES ",
    );
    for index in 0..entries.len() {
        let base = index * 8;
        let separator = if index == 0 { "" } else { ", " };
        sql.push_str(&format!(
            "{separator}(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            base + 1,
            base + 2,
            base + 3,
            base + 4,
            base + 5,
            base + 6,
            base + 7,
            base + 8
        ));
    }
    sql.push_str(" RETURNING id, units, reference");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for entry in entries {
        query = query
            .bind(entry.account_id)
            .bind(entry.developer_id)
            .bind(entry.kind.as_str())
            .bind(entry.units)
            .bind(entry.reference)
            .bind(entry.actor)
            .bind(entry.hold_id)
            .bind(entry.at_ms);
    }
    let rows = query.fetch_all(connection).await?;
    let mut inserted = rows
        .iter()
        .map(|row| Ok((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?, row.try_get::<String, _>(2)?)))
        .collect::<sqlx::Result<Vec<_>>>()?;
    inserted.sort_unstable_by_key(|(id, _, _)| *id);
    let matches = inserted.len() == entries.len()
        && inserted
            .iter()
            .zip(entries)
            .all(|((_, units, reference), entry)| *units == entry.units && reference == entry.reference);
    if !matches {
        return Err(sqlx::Error::Protocol("inserted ledger entries came back in an unexpected order".into()));
    }
    Ok(inserted.into_iter().map(|(id, _, _)| id).collect())
}

/// The accounts of these (developer, product) pairs with their available
/// units — `(developer id, product, account id, available)`, pairs without an
/// account left out — locked for the rest of the transaction with one
/// statement, in (developer, product) order so two nodes never lock in
/// opposite orders (`lock_clause` is `FOR UPDATE` on PostgreSQL; SQLite's
/// write transaction already holds the whole database).
///
/// # Errors
/// A database fault.
pub async fn lock_accounts(
    connection: &mut AnyConnection,
    pairs: &[(i64, &str)],
    lock_clause: &str,
) -> sqlx::Result<Vec<(i64, String, i64, i64)>> {
    if pairs.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: Vec<String> = (0..pairs.len())
        .map(|n| format!("(developer_id = ${} AND product_code = ${})", 2 * n + 1, 2 * n + 2))
        .collect();
    let sql = format!(
        "SELECT developer_id, product_code, id, available FROM ledger_accounts WHERE {}
         ORDER BY developer_id, product_code {lock_clause}",
        wanted.join(" OR ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (developer_id, product) in pairs {
        query = query.bind(*developer_id).bind(*product);
    }
    let rows = query.fetch_all(connection).await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?))).collect()
}

/// Consumes `(account id, units)` from locked accounts with one statement;
/// false if any would go negative (which the caller's arithmetic has already
/// excluded), and then the caller must roll back.
///
/// # Errors
/// A database fault.
pub async fn consume_from_accounts(connection: &mut AnyConnection, takes: &[(i64, i64)]) -> sqlx::Result<bool> {
    if takes.is_empty() {
        return Ok(true);
    }
    let units: String =
        (0..takes.len()).map(|n| format!(" WHEN ${} THEN CAST(${} AS BIGINT)", 2 * n + 1, 2 * n + 2)).collect();
    let ids: Vec<String> = (0..takes.len()).map(|n| format!("${}", 2 * n + 1)).collect();
    let sql = format!(
        "UPDATE ledger_accounts SET consumed = consumed + CASE id{units} END, available = available - CASE id{units} END
         WHERE id IN ({}) AND available >= CASE id{units} END",
        ids.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (account_id, units) in takes {
        query = query.bind(*account_id).bind(*units);
    }
    let result = query.execute(connection).await?;
    Ok(result.rows_affected() == takes.len() as u64)
}

/// Moves `units` from available to held, only if enough is available.
/// Returns the account id and the new available, or `None` when there is not
/// enough.
///
/// # Errors
/// A database fault.
pub async fn hold_available(
    connection: &mut AnyConnection,
    developer_id: i64,
    product: &str,
    units: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    let row = sqlx::query(
        "UPDATE ledger_accounts SET held = held + $1, available = available - $1
         WHERE developer_id = $2 AND product_code = $3 AND available >= $1 RETURNING id, available",
    )
    .bind(units)
    .bind(developer_id)
    .bind(product)
    .fetch_optional(connection)
    .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).transpose()
}

/// Adds signed `units` to credited and available, only if available stays
/// non-negative. Returns the account id and new available, or `None`.
///
/// # Errors
/// A database fault.
pub async fn add_credited(
    connection: &mut AnyConnection,
    developer_id: i64,
    product: &str,
    units: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    sqlx::query("INSERT INTO ledger_accounts (developer_id, product_code) VALUES ($1, $2) ON CONFLICT (developer_id, product_code) DO NOTHING")
        .bind(developer_id)
        .bind(product)
        .execute(&mut *connection)
        .await?;
    let row = sqlx::query(
        "UPDATE ledger_accounts SET credited = credited + $1, available = available + $1
         WHERE developer_id = $2 AND product_code = $3 AND available + $1 >= 0 RETURNING id, available",
    )
    .bind(units)
    .bind(developer_id)
    .bind(product)
    .fetch_optional(connection)
    .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).transpose()
}

/// Units available on an account (0 when it has never been used).
///
/// # Errors
/// A database fault.
pub async fn available(connection: &mut AnyConnection, developer_id: i64, product: &str) -> sqlx::Result<i64> {
    let row = sqlx::query("SELECT available FROM ledger_accounts WHERE developer_id = $1 AND product_code = $2")
        .bind(developer_id)
        .bind(product)
        .fetch_optional(connection)
        .await?;
    row.map_or(Ok(0), |row| row.try_get(0))
}

/// Moves a settled hold's units out of `held`: into consumed on commit,
/// back to available on release or expiry.
///
/// # Errors
/// A database fault (including the CHECK constraints, which cannot fail for a
/// pending hold whose units are in `held`).
pub async fn settle_held(
    connection: &mut AnyConnection,
    account_id: i64,
    units: i64,
    commit: bool,
) -> sqlx::Result<()> {
    let (to_consumed, to_available) = if commit { (units, 0) } else { (0, units) };
    sqlx::query("UPDATE ledger_accounts SET held = held - $1, consumed = consumed + $2, available = available + $3 WHERE id = $4")
        .bind(units)
        .bind(to_consumed)
        .bind(to_available)
        .bind(account_id)
        .execute(connection)
        .await?;
    Ok(())
}

/// A new hold, pending.
pub struct NewHold<'a> {
    /// Account whose units are held.
    pub account_id: i64,
    /// Its developer.
    pub developer_id: i64,
    /// Units held.
    pub units: i64,
    /// Caller's reference.
    pub reference: &'a str,
    /// When it was placed.
    pub created_at_ms: i64,
    /// When it gives its units back on its own.
    pub expires_at_ms: i64,
}

/// Inserts a pending hold and returns its id.
///
/// # Errors
/// A database fault.
pub async fn insert_hold(connection: &mut AnyConnection, hold: &NewHold<'_>) -> sqlx::Result<i64> {
    sqlx::query(
        "INSERT INTO holds (account_id, developer_id, units, reference, status, created_at, expires_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6) RETURNING id",
    )
    .bind(hold.account_id)
    .bind(hold.developer_id)
    .bind(hold.units)
    .bind(hold.reference)
    .bind(hold.created_at_ms)
    .bind(hold.expires_at_ms)
    .fetch_one(connection)
    .await?
    .try_get(0)
}

const HOLD_COLUMNS: &str =
    "SELECT h.id, d.code, a.product_code, h.units, h.reference, h.status, h.expires_at, h.account_id, h.developer_id
     FROM holds h JOIN ledger_accounts a ON a.id = h.account_id JOIN developers d ON d.id = h.developer_id";

/// A hold with what is needed to settle it.
pub struct StoredHold {
    /// What the API shows.
    pub view: HoldView,
    /// Its account.
    pub account_id: i64,
    /// Its developer.
    pub developer_id: i64,
}

fn hold_from_row(row: &sqlx::any::AnyRow) -> sqlx::Result<StoredHold> {
    let status: String = row.try_get(5)?;
    Ok(StoredHold {
        view: HoldView {
            id: row.try_get(0)?,
            developer: row.try_get(1)?,
            product: row.try_get(2)?,
            units: row.try_get(3)?,
            reference: row.try_get(4)?,
            status: HoldStatus::parse(&status).unwrap_or(HoldStatus::Pending),
            expires_at_ms: row.try_get(6)?,
        },
        account_id: row.try_get(7)?,
        developer_id: row.try_get(8)?,
    })
}

/// The hold with this id, if any.
///
/// # Errors
/// A database fault.
pub async fn find_hold(connection: &mut AnyConnection, hold_id: i64) -> sqlx::Result<Option<StoredHold>> {
    let sql = format!("{HOLD_COLUMNS} WHERE h.id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hold_id).fetch_optional(connection).await?;
    row.as_ref().map(hold_from_row).transpose()
}

/// Marks a pending hold settled; false when it was no longer pending (another
/// process settled it first).
///
/// # Errors
/// A database fault.
pub async fn mark_hold(
    connection: &mut AnyConnection,
    hold_id: i64,
    status: HoldStatus,
    at_ms: i64,
) -> sqlx::Result<bool> {
    let result = sqlx::query("UPDATE holds SET status = $1, settled_at = $2 WHERE id = $3 AND status = 'pending'")
        .bind(status.as_str())
        .bind(at_ms)
        .bind(hold_id)
        .execute(connection)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Ids of pending holds past their expiry, oldest first, at most `limit`.
///
/// # Errors
/// A database fault.
pub async fn due_holds(
    connection: &mut AnyConnection,
    now_ms: i64,
    developer_id: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<i64>> {
    let rows = match developer_id {
        Some(developer_id) => {
            sqlx::query(
                "SELECT id FROM holds WHERE status = 'pending' AND expires_at <= $1 AND developer_id = $2 ORDER BY expires_at LIMIT $3",
            )
            .bind(now_ms)
            .bind(developer_id)
            .bind(limit)
            .fetch_all(connection)
            .await?
        }
        None => {
            sqlx::query("SELECT id FROM holds WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2")
                .bind(now_ms)
                .bind(limit)
                .fetch_all(connection)
                .await?
        }
    };
    rows.iter().map(|row| row.try_get(0)).collect()
}

/// True when the developer has a pending hold past its expiry.
///
/// # Errors
/// A database fault.
pub async fn has_due_holds(pool: &AnyPool, developer_id: i64, now_ms: i64) -> sqlx::Result<bool> {
    let row =
        sqlx::query("SELECT id FROM holds WHERE status = 'pending' AND developer_id = $1 AND expires_at <= $2 LIMIT 1")
            .bind(developer_id)
            .bind(now_ms)
            .fetch_optional(pool)
            .await?;
    Ok(row.is_some())
}

/// A stored answer to an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// A stored idempotency record: who, which key, what was asked, what was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// API client id.
    pub client_id: i64,
    /// The key.
    pub key: String,
    /// SHA-256 of the request.
    pub request_sha256: String,
    /// The answer.
    pub response: StoredResponse,
}

/// The stored records for the given (client, key) pairs, in one query.
///
/// # Errors
/// A database fault.
pub async fn find_idempotency_records(
    connection: &mut AnyConnection,
    keys: &[(i64, &str)],
) -> sqlx::Result<Vec<IdempotencyRecord>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = String::from(
        "SELECT api_client_id, idempotency_key, request_sha256, response_status, response_body FROM idempotency_records WHERE ",
    );
    for index in 0..keys.len() {
        let separator = if index == 0 { "" } else { " OR " };
        sql.push_str(&format!(
            "{separator}(api_client_id = ${} AND idempotency_key = ${})",
            index * 2 + 1,
            index * 2 + 2
        ));
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (client_id, key) in keys {
        query = query.bind(*client_id).bind(*key);
    }
    let rows = query.fetch_all(connection).await?;
    rows.iter()
        .map(|row| {
            let status: i64 = row.try_get(3)?;
            Ok(IdempotencyRecord {
                client_id: row.try_get(0)?,
                key: row.try_get(1)?,
                request_sha256: row.try_get(2)?,
                response: StoredResponse { status: u16::try_from(status).unwrap_or(500), body: row.try_get(4)? },
            })
        })
        .collect()
}

/// Stores answers to idempotent requests in one statement; returns how many
/// were stored. Fewer than given means a concurrent process stored the same
/// key first (`ON CONFLICT DO NOTHING` waits for it, then skips).
///
/// # Errors
/// A database fault.
pub async fn insert_idempotency_records(
    connection: &mut AnyConnection,
    records: &[IdempotencyRecord],
    at_ms: i64,
) -> sqlx::Result<usize> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut sql = String::from(
        "INSERT INTO idempotency_records (api_client_id, idempotency_key, request_sha256, response_status, response_body, created_at) VALUES ",
    );
    for index in 0..records.len() {
        let base = index * 6;
        let separator = if index == 0 { "" } else { ", " };
        sql.push_str(&format!(
            "{separator}(${}, ${}, ${}, ${}, ${}, ${})",
            base + 1,
            base + 2,
            base + 3,
            base + 4,
            base + 5,
            base + 6
        ));
    }
    sql.push_str(" ON CONFLICT (api_client_id, idempotency_key) DO NOTHING");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for record in records {
        query = query
            .bind(record.client_id)
            .bind(record.key.as_str())
            .bind(record.request_sha256.as_str())
            .bind(i64::from(record.response.status))
            .bind(record.response.body.as_str())
            .bind(at_ms);
    }
    let result = query.execute(connection).await?;
    Ok(usize::try_from(result.rows_affected()).unwrap_or(0))
}

/// Deletes idempotency records older than `before_ms`; returns how many.
///
/// # Errors
/// A database fault.
pub async fn prune_idempotency_records(pool: &AnyPool, before_ms: i64) -> sqlx::Result<u64> {
    let result =
        sqlx::query("DELETE FROM idempotency_records WHERE created_at < $1").bind(before_ms).execute(pool).await?;
    Ok(result.rows_affected())
}

/// Balance of every active product for a developer, zeros included.
///
/// # Errors
/// A database fault.
pub async fn balances(pool: &AnyPool, developer_id: i64) -> sqlx::Result<Vec<(String, Balance)>> {
    let rows = sqlx::query(
        "SELECT p.code, COALESCE(a.credited, 0), COALESCE(a.consumed, 0), COALESCE(a.held, 0), COALESCE(a.available, 0)
         FROM products p LEFT JOIN ledger_accounts a ON a.product_code = p.code AND a.developer_id = $1
         WHERE p.active = 1 ORDER BY p.code",
    )
    .bind(developer_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let balance = Balance {
                credited: row.try_get(1)?,
                consumed: row.try_get(2)?,
                held: row.try_get(3)?,
                available: row.try_get(4)?,
            };
            Ok((row.try_get(0)?, balance))
        })
        .collect()
}

/// The id of the developer with this code, and whether `product` is an
/// active product; `None` when there is no such developer.
///
/// # Errors
/// A database fault.
pub async fn developer_and_product(
    pool: &AnyPool,
    developer_code: &str,
    product: &str,
) -> sqlx::Result<Option<(i64, bool)>> {
    let row = sqlx::query(
        "SELECT d.id, (SELECT COUNT(*) FROM products p WHERE p.code = $1 AND p.active = 1) FROM developers d
         WHERE d.code = $2 AND d.status IN ('pending_verification', 'verified')",
    )
    .bind(product)
    .bind(developer_code)
    .fetch_optional(pool)
    .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get::<i64, _>(1)? > 0))).transpose()
}

/// One entry as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    /// Entry id (the pagination key).
    pub id: i64,
    /// Kind name.
    pub kind: String,
    /// Product code.
    pub product: String,
    /// Units.
    pub units: i64,
    /// Reference.
    pub reference: String,
    /// Actor.
    pub actor: String,
    /// When, Unix ms.
    pub at_ms: i64,
}

/// A developer's entries with id below `before_id`, newest first.
///
/// # Errors
/// A database fault.
pub async fn entries(
    pool: &AnyPool,
    developer_id: i64,
    product: Option<&str>,
    before_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<EntryRow>> {
    let rows = match product {
        Some(product) => {
            sqlx::query(
                "SELECT e.id, e.kind, a.product_code, e.units, e.reference, e.actor, e.created_at
                 FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
                 WHERE e.account_id = (SELECT id FROM ledger_accounts WHERE developer_id = $1 AND product_code = $2)
                   AND e.id < $3 ORDER BY e.id DESC LIMIT $4",
            )
            .bind(developer_id)
            .bind(product)
            .bind(before_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT e.id, e.kind, a.product_code, e.units, e.reference, e.actor, e.created_at
                 FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
                 WHERE e.developer_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3",
            )
            .bind(developer_id)
            .bind(before_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter()
        .map(|row| {
            Ok(EntryRow {
                id: row.try_get(0)?,
                kind: row.try_get(1)?,
                product: row.try_get(2)?,
                units: row.try_get(3)?,
                reference: row.try_get(4)?,
                actor: row.try_get(5)?,
                at_ms: row.try_get(6)?,
            })
        })
        .collect()
}

/// An account's balance row beside what its entries and pending holds add
/// up to.
#[derive(Debug, Clone)]
pub struct AccountTally {
    /// Account id.
    pub account_id: i64,
    /// Developer code.
    pub developer: String,
    /// Product code.
    pub product: String,
    /// The balance row.
    pub stored: Balance,
    /// Sum of credit and adjust entries.
    pub entries_credited: i64,
    /// Sum of consume and hold-commit entries.
    pub entries_consumed: i64,
    /// Holds placed less holds committed, released or expired.
    pub entries_held: i64,
    /// Units of pending holds.
    pub pending_hold_units: i64,
}

/// Every account with its balance row and the sums of its entries and
/// pending holds, by account id.
///
/// # Errors
/// A database fault.
pub async fn account_tallies(pool: &AnyPool) -> sqlx::Result<Vec<AccountTally>> {
    let rows = sqlx::query(
        "SELECT a.id, d.code, a.product_code, a.credited, a.consumed, a.held, a.available,
                COALESCE(s.credited, 0), COALESCE(s.consumed, 0), COALESCE(s.held, 0),
                COALESCE(h.units, 0)
         FROM ledger_accounts a
         JOIN developers d ON d.id = a.developer_id
         LEFT JOIN (
             SELECT account_id,
                    CAST(SUM(CASE WHEN kind IN ('credit', 'adjust') THEN units ELSE 0 END) AS BIGINT) AS credited,
                    CAST(SUM(CASE WHEN kind IN ('consume', 'hold_commit') THEN units ELSE 0 END) AS BIGINT) AS consumed,
                    CAST(SUM(CASE WHEN kind = 'hold' THEN units
                                  WHEN kind IN ('hold_commit', 'hold_release', 'hold_expire') THEN -units
                                  ELSE 0 END) AS BIGINT) AS held
             FROM ledger_entries GROUP BY account_id
         ) s ON s.account_id = a.id
         LEFT JOIN (
             SELECT account_id, CAST(SUM(units) AS BIGINT) AS units FROM holds WHERE status = 'pending' GROUP BY account_id
         ) h ON h.account_id = a.id
         ORDER BY a.id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AccountTally {
                account_id: row.try_get(0)?,
                developer: row.try_get(1)?,
                product: row.try_get(2)?,
                stored: Balance {
                    credited: row.try_get(3)?,
                    consumed: row.try_get(4)?,
                    held: row.try_get(5)?,
                    available: row.try_get(6)?,
                },
                entries_credited: row.try_get(7)?,
                entries_consumed: row.try_get(8)?,
                entries_held: row.try_get(9)?,
                pending_hold_units: row.try_get(10)?,
            })
        })
        .collect()
}

/// Units of one product a developer used on one day.
#[derive(Debug, Clone)]
pub struct DailyUsage {
    /// Day number: (Unix ms + `offset_ms`) / `day_ms`.
    pub day: i64,
    /// Product code.
    pub product: String,
    /// Units consumed or committed from holds.
    pub units: i64,
}

/// A developer's units used (consumptions and committed holds) per day and
/// product since `since_ms`, days counted as (Unix ms + `offset_ms`) /
/// `day_ms`.
///
/// # Errors
/// A database fault.
pub async fn daily_usage(
    pool: &AnyPool,
    developer_id: i64,
    offset_ms: i64,
    day_ms: i64,
    since_ms: i64,
) -> sqlx::Result<Vec<DailyUsage>> {
    let rows = sqlx::query(
        "SELECT (e.created_at + $1) / $2 AS day, a.product_code, CAST(SUM(e.units) AS BIGINT)
         FROM ledger_entries e JOIN ledger_accounts a ON a.id = e.account_id
         WHERE e.developer_id = $3 AND e.kind IN ('consume', 'hold_commit') AND e.created_at >= $4
         GROUP BY (e.created_at + $1) / $2, a.product_code",
    )
    .bind(offset_ms)
    .bind(day_ms)
    .bind(developer_id)
    .bind(since_ms)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| Ok(DailyUsage { day: row.try_get(0)?, product: row.try_get(1)?, units: row.try_get(2)? }))
        .collect()
}
