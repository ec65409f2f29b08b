//! Proof that the balances are right: every account's balance row equals the
//! sum of its entries, no part is negative, and `held` equals the units of its
//! pending holds. `kuota ledger verify` prints what this finds.

use sqlx::{AnyPool, Row};

use super::domain::Balance;

/// An account whose stored balance disagrees with its entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    /// Account id.
    pub account_id: i64,
    /// Developer code.
    pub developer: String,
    /// Product code.
    pub product: String,
    /// The balance row.
    pub stored: Balance,
    /// The balance the entries add up to.
    pub from_entries: Balance,
    /// Units of pending holds.
    pub pending_hold_units: i64,
}

impl std::fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (s, e) = (self.stored, self.from_entries);
        write!(
            f,
            "account {} ({} {}): stored credited={} consumed={} held={} available={}; entries give credited={} consumed={} held={} available={}; pending holds={}",
            self.account_id,
            self.developer,
            self.product,
            s.credited,
            s.consumed,
            s.held,
            s.available,
            e.credited,
            e.consumed,
            e.held,
            e.available,
            self.pending_hold_units
        )
    }
}

/// Checks every account; returns the number checked and those that are wrong.
///
/// # Errors
/// A database fault.
pub async fn verify(pool: &AnyPool) -> sqlx::Result<(usize, Vec<Discrepancy>)> {
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
    let mut wrong = Vec::new();
    for row in &rows {
        let stored = Balance {
            credited: row.try_get(3)?,
            consumed: row.try_get(4)?,
            held: row.try_get(5)?,
            available: row.try_get(6)?,
        };
        let (credited, consumed, held): (i64, i64, i64) = (row.try_get(7)?, row.try_get(8)?, row.try_get(9)?);
        let from_entries = Balance { credited, consumed, held, available: credited - consumed - held };
        let pending_hold_units: i64 = row.try_get(10)?;
        if stored != from_entries || !stored.is_consistent() || pending_hold_units != stored.held {
            wrong.push(Discrepancy {
                account_id: row.try_get(0)?,
                developer: row.try_get(1)?,
                product: row.try_get(2)?,
                stored,
                from_entries,
                pending_hold_units,
            });
        }
    }
    Ok((rows.len(), wrong))
}
