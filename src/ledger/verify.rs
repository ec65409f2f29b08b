//! Proof that the balances are right: every account's balance row equals the
//! sum of its entries, no part is negative, and `held` equals the units of its
//! pending holds. `kuota ledger verify` prints what this finds.

use sqlx::AnyPool;

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
    let rows = super::store::account_tallies(pool).await?;
    let mut wrong = Vec::new();
    for row in rows.iter() {
        let stored = row.stored;
        let (credited, consumed, held) = (row.entries_credited, row.entries_consumed, row.entries_held);
        let from_entries = Balance { credited, consumed, held, available: credited - consumed - held };
        let pending_hold_units = row.pending_hold_units;
        if stored != from_entries || !stored.is_consistent() || pending_hold_units != stored.held {
            wrong.push(Discrepancy {
                account_id: row.account_id,
                developer: row.developer.clone(),
                product: row.product.clone(),
                stored,
                from_entries,
                pending_hold_units,
            });
        }
    }
    Ok((rows.len(), wrong))
}
