//! Admission before any work for the doors anyone can knock on (sign-in,
//! the second factor, registration, forgotten password): a token bucket per
//! client address, in memory, checked before the database is touched or a
//! password hashed. A flood from one address is answered 429 at the cost of
//! a map look-up, so HIMS's consumptions keep their database and cores; the
//! per-account and per-address limits in `sign_in_attempts` still judge what
//! is let through. Each node keeps its own buckets (a flood spread over nodes
//! gets each node's allowance, which the database limits then bound).
//!
//! A refused request is answered only after a pause (a tarpit): a client
//! hammering in a closed loop then knocks about once a second per connection
//! instead of thousands of times, so even the refusals stop costing the
//! cores HIMS needs. Waiting costs the server a timer, not a thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Requests an address may make at once.
pub const BURST: u32 = 20;
/// One more request allowed every this long.
pub const REFILL_EVERY: Duration = Duration::from_secs(3);
/// How long a refused request waits for its 429.
pub const TARPIT: Duration = Duration::from_secs(1);
/// Addresses remembered at most; the idle ones are forgotten first.
const ADDRESSES_MAX: usize = 100_000;

/// What a refused request is told.
pub const REFUSAL: &str = "too many requests from this address; try again in a minute";

/// How many requests an address may make: a burst, refilled over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Requests at once.
    pub burst: u32,
    /// One more every this long.
    pub refill_every: Duration,
    /// How long a refused request waits for its answer.
    pub tarpit: Duration,
}

impl Default for Allowance {
    fn default() -> Self {
        Self { burst: BURST, refill_every: REFILL_EVERY, tarpit: TARPIT }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u32,
    updated: Instant,
}

/// The buckets of every client address, shared by the node's handlers.
#[derive(Clone)]
pub struct Admission {
    allowance: Allowance,
    buckets: Arc<Mutex<HashMap<String, Bucket>>>,
    refused: Arc<std::sync::atomic::AtomicU64>,
}

impl Admission {
    /// Buckets with this allowance.
    #[must_use]
    pub fn new(allowance: Allowance) -> Self {
        Self { allowance, buckets: Arc::default(), refused: Arc::default() }
    }

    /// Requests this node refused at the public doors since it started.
    #[must_use]
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// True when `address` may go on now (taking one of its tokens); a
    /// refusal comes after the tarpit's pause.
    pub async fn admit(&self, address: &str) -> bool {
        if self.admit_at(address, crate::clock::monotonic_now()) {
            return true;
        }
        self.refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(self.allowance.tarpit).await;
        false
    }

    fn admit_at(&self, address: &str, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else { return true };
        if buckets.len() >= ADDRESSES_MAX && !buckets.contains_key(address) {
            let full_after = self.allowance.refill_every * self.allowance.burst;
            buckets.retain(|_, bucket| now.duration_since(bucket.updated) < full_after);
            if buckets.len() >= ADDRESSES_MAX {
                // A flood from more addresses than we remember: start afresh
                // rather than grow without bound.
                buckets.clear();
            }
        }
        let allowance = self.allowance;
        let bucket = buckets.entry(address.to_owned()).or_insert(Bucket { tokens: allowance.burst, updated: now });
        let refill = allowance.refill_every.as_millis().max(1);
        let earned = now.duration_since(bucket.updated).as_millis() / refill;
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            bucket.tokens = bucket.tokens.saturating_add(earned).min(allowance.burst);
            bucket.updated += allowance.refill_every * earned;
        }
        if bucket.tokens == 0 {
            return false;
        }
        bucket.tokens -= 1;
        true
    }
}

/// An API request the public door let in: extracted before the body, so a
/// refused request is never read past its headers (429 problem+json).
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The client address it came from.
    pub address: String,
}

impl axum::extract::FromRequestParts<crate::state::AppState> for Admitted {
    type Rejection = crate::error::AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(super::address::ClientAddress(address)) =
            super::address::ClientAddress::from_request_parts(parts, state).await;
        if state.admission.admit(&address).await {
            Ok(Self { address })
        } else {
            Err(crate::error::AppError::TooManyRequests(REFUSAL.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_burst_then_one_per_refill() {
        let allowance = Allowance { burst: 3, refill_every: Duration::from_secs(2), tarpit: Duration::ZERO };
        let admission = Admission::new(allowance);
        let start = crate::clock::monotonic_now();
        let admitted = (0..5).filter(|_| admission.admit_at("203.0.113.5", start)).count();
        assert_eq!(admitted, 3);
        assert!(admission.admit_at("198.51.100.7", start), "another address has its own bucket");
        assert!(!admission.admit_at("203.0.113.5", start + Duration::from_millis(1_999)));
        assert!(admission.admit_at("203.0.113.5", start + Duration::from_secs(2)));
        assert!(!admission.admit_at("203.0.113.5", start + Duration::from_secs(2)));
        // A long rest refills the burst, not more.
        let later = start + Duration::from_secs(600);
        assert_eq!((0..10).filter(|_| admission.admit_at("203.0.113.5", later)).count(), 3);
    }
}
