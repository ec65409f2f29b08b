//! The rules of the quota ledger, free of I/O: amounts, entry kinds, hold
//! states, and how each entry moves a balance. The store applies the same
//! moves in SQL; `ledger verify` and the property tests check both agree.

use std::collections::HashMap;
use std::fmt;

/// Largest amount of units in one operation.
pub const UNITS_MAX: i64 = 1_000_000;
/// Longest reference or reason text.
pub const REFERENCE_MAX_CHARS: usize = 200;
/// Longest idempotency key.
pub const IDEMPOTENCY_KEY_MAX_CHARS: usize = 255;
/// Hold lifetime bounds and default, in seconds.
pub const HOLD_EXPIRY_SECONDS_MAX: i64 = 86_400;
/// Hold lifetime when the caller gives none.
pub const HOLD_EXPIRY_SECONDS_DEFAULT: i64 = 900;

/// Why an amount or text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerFieldError {
    /// Units outside 1..=1,000,000.
    #[error("units must be a whole number from 1 to {UNITS_MAX}")]
    Units,
    /// Signed units zero or beyond ±1,000,000.
    #[error("units must be a non-zero whole number from -{UNITS_MAX} to {UNITS_MAX}")]
    SignedUnits,
    /// Empty or overlong reference.
    #[error("must be 1 to {REFERENCE_MAX_CHARS} characters without control characters")]
    Reference,
    /// Idempotency key of the wrong length or with non-printable characters.
    #[error("the Idempotency-Key header must be 1 to {IDEMPOTENCY_KEY_MAX_CHARS} printable ASCII characters")]
    IdempotencyKey,
    /// Hold lifetime out of range.
    #[error("expires_in_seconds must be a whole number from 1 to {HOLD_EXPIRY_SECONDS_MAX}")]
    HoldExpiry,
}

/// A positive amount of units, 1..=1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Units(i64);

impl Units {
    /// Checks the range.
    ///
    /// # Errors
    /// Outside 1..=1,000,000.
    pub fn new(units: i64) -> Result<Self, LedgerFieldError> {
        if (1..=UNITS_MAX).contains(&units) { Ok(Self(units)) } else { Err(LedgerFieldError::Units) }
    }

    /// The amount.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A non-zero signed amount for adjustments, |units| ≤ 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SignedUnits(i64);

impl SignedUnits {
    /// Checks the range.
    ///
    /// # Errors
    /// Zero or beyond ±1,000,000.
    pub fn new(units: i64) -> Result<Self, LedgerFieldError> {
        if units != 0 && (-UNITS_MAX..=UNITS_MAX).contains(&units) {
            Ok(Self(units))
        } else {
            Err(LedgerFieldError::SignedUnits)
        }
    }

    /// The amount.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

/// A caller's reference (certificate request id, reason of an adjustment).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reference(String);

impl Reference {
    /// Trims and checks the text.
    ///
    /// # Errors
    /// Empty, longer than 200 characters, or with control characters.
    pub fn new(text: &str) -> Result<Self, LedgerFieldError> {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > REFERENCE_MAX_CHARS || text.chars().any(char::is_control) {
            return Err(LedgerFieldError::Reference);
        }
        Ok(Self(text.to_owned()))
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client's idempotency key: 1..=255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Checks the key.
    ///
    /// # Errors
    /// Empty, too long, or with characters outside printable ASCII.
    pub fn new(text: &str) -> Result<Self, LedgerFieldError> {
        let printable = text.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if text.is_empty() || text.len() > IDEMPOTENCY_KEY_MAX_CHARS || !printable {
            return Err(LedgerFieldError::IdempotencyKey);
        }
        Ok(Self(text.to_owned()))
    }

    /// The key.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lifetime of a hold in seconds, 1..=86,400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldExpiry(i64);

impl HoldExpiry {
    /// Checks the range; `None` means the default of 900 s.
    ///
    /// # Errors
    /// Outside 1..=86,400.
    pub fn new(seconds: Option<i64>) -> Result<Self, LedgerFieldError> {
        let seconds = seconds.unwrap_or(HOLD_EXPIRY_SECONDS_DEFAULT);
        if (1..=HOLD_EXPIRY_SECONDS_MAX).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(LedgerFieldError::HoldExpiry)
        }
    }

    /// The lifetime in milliseconds.
    #[must_use]
    pub fn as_millis(self) -> i64 {
        self.0 * 1000
    }

    /// The lifetime in seconds.
    #[must_use]
    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// What an entry did to its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// Purchased units added.
    Credit,
    /// Units used directly.
    Consume,
    /// Units reserved: available → held.
    Hold,
    /// A hold used: held → consumed.
    HoldCommit,
    /// A hold given back: held → available.
    HoldRelease,
    /// A hold that timed out: held → available.
    HoldExpire,
    /// A signed correction by staff, with a reason.
    Adjust,
}

impl EntryKind {
    /// Every kind, in a fixed order.
    pub const ALL: [Self; 7] =
        [Self::Credit, Self::Consume, Self::Hold, Self::HoldCommit, Self::HoldRelease, Self::HoldExpire, Self::Adjust];

    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Consume => "consume",
            Self::Hold => "hold",
            Self::HoldCommit => "hold_commit",
            Self::HoldRelease => "hold_release",
            Self::HoldExpire => "hold_expire",
            Self::Adjust => "adjust",
        }
    }

    /// The kind with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    /// Units are held.
    Pending,
    /// Units were consumed.
    Committed,
    /// Units went back to available by request.
    Released,
    /// Units went back to available because the hold timed out.
    Expired,
}

impl HoldStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
        }
    }

    /// The status with this stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Committed, Self::Released, Self::Expired].into_iter().find(|s| s.as_str() == text)
    }
}

/// How a pending hold ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldSettlement {
    /// held → consumed.
    Commit,
    /// held → available.
    Release,
    /// held → available, by time.
    Expire,
}

impl HoldSettlement {
    /// The entry kind it writes.
    #[must_use]
    pub fn entry_kind(self) -> EntryKind {
        match self {
            Self::Commit => EntryKind::HoldCommit,
            Self::Release => EntryKind::HoldRelease,
            Self::Expire => EntryKind::HoldExpire,
        }
    }

    /// The status the hold ends in.
    #[must_use]
    pub fn final_status(self) -> HoldStatus {
        match self {
            Self::Commit => HoldStatus::Committed,
            Self::Release => HoldStatus::Released,
            Self::Expire => HoldStatus::Expired,
        }
    }
}

/// The balance of one account. `available = credited − consumed − held`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Balance {
    /// Units bought or adjusted in (net of negative adjustments).
    pub credited: i64,
    /// Units used.
    pub consumed: i64,
    /// Units reserved by pending holds.
    pub held: i64,
    /// Units that can be used or held now.
    pub available: i64,
}

/// A move refused because it would make a part of the balance negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not enough available units")]
pub struct WouldGoNegative;

impl Balance {
    /// The balance after one entry, or `WouldGoNegative` if any part would
    /// drop below zero. This is the ledger's rule; the SQL mirrors it.
    ///
    /// # Errors
    /// When the entry would take `available` (or `held`) below zero.
    pub fn apply(self, kind: EntryKind, units: i64) -> Result<Self, WouldGoNegative> {
        let mut next = self;
        match kind {
            EntryKind::Credit | EntryKind::Adjust => next.credited += units,
            EntryKind::Consume => next.consumed += units,
            EntryKind::Hold => next.held += units,
            EntryKind::HoldCommit => {
                next.held -= units;
                next.consumed += units;
            }
            EntryKind::HoldRelease | EntryKind::HoldExpire => next.held -= units,
        }
        next.available = next.credited - next.consumed - next.held;
        if next.available < 0 || next.held < 0 || next.credited < 0 || next.consumed < 0 {
            return Err(WouldGoNegative);
        }
        Ok(next)
    }

    /// The balance implied by a sequence of entries, or `None` if some entry
    /// would have made it negative.
    #[must_use]
    pub fn from_entries(entries: impl IntoIterator<Item = (EntryKind, i64)>) -> Option<Self> {
        entries.into_iter().try_fold(Self::default(), |balance, (kind, units)| balance.apply(kind, units).ok())
    }

    /// True when the parts agree with each other and none is negative.
    #[must_use]
    pub fn is_consistent(self) -> bool {
        self.available == self.credited - self.consumed - self.held
            && self.credited >= 0
            && self.consumed >= 0
            && self.held >= 0
            && self.available >= 0
    }
}

/// One consumption of a writer's group, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask<'a> {
    /// `(client, key, request hash)` when the write carries an idempotency key.
    pub key: Option<(i64, &'a str, &'a str)>,
    /// True when an earlier batch already stored an answer for the key.
    pub answered_before: bool,
    /// The account: `(developer, product)`.
    pub account: (i64, &'a str),
    /// Units asked for.
    pub units: i64,
}

/// What becomes of one consumption of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An earlier batch answered this key: replay (or refuse) that answer.
    AnsweredBefore,
    /// The same key and request as consumption `n` of this group: its answer.
    SameAs(usize),
    /// The same key as an earlier consumption of this group with another request.
    KeyReused,
    /// Not enough units: nothing moves.
    Refused {
        /// Units available at the time.
        available: i64,
    },
    /// Consumed from the account, leaving `available`.
    Consumed {
        /// The account's id.
        account_id: i64,
        /// Available after this consumption.
        available: i64,
    },
}

/// Decides a group of consumptions in order against the locked balances —
/// `(account id, available)` per `(developer, product)`, absent when the
/// account does not exist — and takes each consumed amount off them. Pure:
/// the writer does the reading, locking and writing around it.
#[must_use]
pub fn plan_consumptions<'a>(asks: &[Ask<'a>], balances: &mut HashMap<(i64, &'a str), (i64, i64)>) -> Vec<Decision> {
    let mut first_with_key: HashMap<(i64, &str), (usize, &str)> = HashMap::new();
    let mut decisions = Vec::with_capacity(asks.len());
    for (index, ask) in asks.iter().enumerate() {
        if let Some((client, key, request)) = ask.key {
            if ask.answered_before {
                decisions.push(Decision::AnsweredBefore);
                continue;
            }
            if let Some((first, first_request)) = first_with_key.get(&(client, key)) {
                decisions.push(if *first_request == request { Decision::SameAs(*first) } else { Decision::KeyReused });
                continue;
            }
            first_with_key.insert((client, key), (index, request));
        }
        match balances.get_mut(&ask.account) {
            Some((account_id, available)) if *available >= ask.units => {
                *available -= ask.units;
                decisions.push(Decision::Consumed { account_id: *account_id, available: *available });
            }
            account => decisions.push(Decision::Refused { available: account.map_or(0, |(_, available)| *available) }),
        }
    }
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_accept_one_to_a_million_only() {
        assert!(Units::new(1).is_ok());
        assert!(Units::new(UNITS_MAX).is_ok());
        assert_eq!(Units::new(0), Err(LedgerFieldError::Units));
        assert_eq!(Units::new(-5), Err(LedgerFieldError::Units));
        assert_eq!(Units::new(UNITS_MAX + 1), Err(LedgerFieldError::Units));
    }

    #[test]
    fn signed_units_refuse_zero() {
        assert!(SignedUnits::new(-3).is_ok());
        assert_eq!(SignedUnits::new(0), Err(LedgerFieldError::SignedUnits));
        assert_eq!(SignedUnits::new(-UNITS_MAX - 1), Err(LedgerFieldError::SignedUnits));
    }

    #[test]
    fn idempotency_keys_are_printable_ascii_up_to_255() {
        assert!(IdempotencyKey::new("req-2026/abc 1").is_ok());
        assert!(IdempotencyKey::new(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::new(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("tab\there").is_err());
        assert!(IdempotencyKey::new("kunci-é").is_err());
    }

    #[test]
    fn hold_expiry_defaults_to_fifteen_minutes() {
        assert_eq!(HoldExpiry::new(None).map(HoldExpiry::seconds), Ok(900));
        assert!(HoldExpiry::new(Some(0)).is_err());
        assert!(HoldExpiry::new(Some(86_401)).is_err());
    }

    #[test]
    fn available_quota_never_goes_negative() {
        let balance = Balance::default().apply(EntryKind::Credit, 5).unwrap_or_default();
        assert_eq!(balance.apply(EntryKind::Consume, 6), Err(WouldGoNegative));
        assert_eq!(balance.apply(EntryKind::Hold, 6), Err(WouldGoNegative));
        assert_eq!(balance.apply(EntryKind::Adjust, -6), Err(WouldGoNegative));
        assert_eq!(balance.apply(EntryKind::Consume, 5).map(|b| b.available), Ok(0));
    }

    #[test]
    fn a_hold_moves_units_from_available_to_held_and_back() {
        let held = Balance::from_entries([(EntryKind::Credit, 10), (EntryKind::Hold, 4)]);
        assert_eq!(held, Some(Balance { credited: 10, consumed: 0, held: 4, available: 6 }));
        let committed = held.and_then(|b| b.apply(EntryKind::HoldCommit, 4).ok());
        assert_eq!(committed, Some(Balance { credited: 10, consumed: 4, held: 0, available: 6 }));
        let released = held.and_then(|b| b.apply(EntryKind::HoldExpire, 4).ok());
        assert_eq!(released, Some(Balance { credited: 10, consumed: 0, held: 0, available: 10 }));
    }

    #[test]
    fn entry_kinds_round_trip_through_their_names() {
        for kind in EntryKind::ALL {
            assert_eq!(EntryKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EntryKind::parse("refund"), None);
    }

    fn ask(key: Option<(i64, &'static str, &'static str)>, product: &'static str, units: i64) -> Ask<'static> {
        Ask { key, answered_before: false, account: (1, product), units }
    }

    #[test]
    fn a_group_consumes_in_order_and_refuses_what_is_not_there() {
        let mut balances = HashMap::from([((1, "CERT-1Y"), (10, 5))]);
        let asks = [ask(None, "CERT-1Y", 3), ask(None, "CERT-1Y", 3), ask(None, "CERT-1Y", 2), ask(None, "CERT-1M", 1)];
        let decisions = plan_consumptions(&asks, &mut balances);
        assert_eq!(
            decisions,
            [
                Decision::Consumed { account_id: 10, available: 2 },
                Decision::Refused { available: 2 },
                Decision::Consumed { account_id: 10, available: 0 },
                Decision::Refused { available: 0 },
            ]
        );
        assert_eq!(balances[&(1, "CERT-1Y")], (10, 0));
    }

    #[test]
    fn a_key_is_answered_once_per_group() {
        let mut balances = HashMap::from([((1, "CERT-1Y"), (10, 100))]);
        let asks = [
            ask(Some((7, "k1", "r1")), "CERT-1Y", 1),
            ask(Some((7, "k1", "r1")), "CERT-1Y", 1),
            ask(Some((7, "k1", "r2")), "CERT-1Y", 1),
            ask(Some((8, "k1", "r1")), "CERT-1Y", 1),
            Ask { answered_before: true, ..ask(Some((7, "k2", "r1")), "CERT-1Y", 1) },
        ];
        let decisions = plan_consumptions(&asks, &mut balances);
        assert_eq!(decisions[1], Decision::SameAs(0));
        assert_eq!(decisions[2], Decision::KeyReused);
        assert_eq!(decisions[3], Decision::Consumed { account_id: 10, available: 98 });
        assert_eq!(decisions[4], Decision::AnsweredBefore);
        assert_eq!(balances[&(1, "CERT-1Y")], (10, 98), "only two units moved");
    }

    proptest::proptest! {
        #[test]
        fn a_group_never_takes_more_than_was_available(
            start in 0_i64..50,
            asked in proptest::collection::vec(1_i64..20, 0..30),
        ) {
            let mut balances = HashMap::from([((1, "P"), (10, start))]);
            let asks: Vec<Ask<'_>> = asked.iter().map(|units| ask(None, "P", *units)).collect();
            let decisions = plan_consumptions(&asks, &mut balances);
            let consumed: i64 = decisions
                .iter()
                .zip(&asked)
                .filter(|(decision, _)| matches!(decision, Decision::Consumed { .. }))
                .map(|(_, units)| units)
                .sum();
            proptest::prop_assert_eq!(balances[&(1, "P")].1, start - consumed);
            proptest::prop_assert!(balances[&(1, "P")].1 >= 0);
        }
    }
}
