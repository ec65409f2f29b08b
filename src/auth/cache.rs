//! A short-lived cache of authenticated tokens, so the hot API path does not
//! read `api_clients` on every request. Only successful look-ups are cached,
//! for [`TOKEN_CACHE_TTL`]: a revoked token keeps working on a node for at
//! most that long.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ApiCaller;

/// How long an authenticated token is trusted without asking the database.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);
/// Most tokens cached; the cache is emptied when full.
pub const TOKEN_CACHE_MAX: usize = 10_000;

/// Token hash → caller, with the time it was read.
#[derive(Clone, Default)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<String, (ApiCaller, Instant)>>>,
}

impl TokenCache {
    /// The cached caller for this token hash, if fresh.
    #[must_use]
    pub fn get(&self, token_sha256: &str) -> Option<ApiCaller> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(token_sha256)
            .filter(|(_, read_at)| read_at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(caller, _)| caller.clone())
    }

    /// Forgets every cached token: after a revocation, this node stops
    /// accepting it at once (other nodes within [`TOKEN_CACHE_TTL`]).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// Remembers a token's caller.
    pub fn insert(&self, token_sha256: String, caller: ApiCaller) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
            entries.insert(token_sha256, (caller, crate::clock::monotonic_now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;

    #[test]
    fn cached_callers_are_returned_until_they_expire() {
        let cache = TokenCache::default();
        assert!(cache.get("h").is_none());
        cache.insert("h".into(), ApiCaller::client(3, Scope::Hims));
        assert_eq!(cache.get("h").and_then(|c| c.client_id), Some(3));
        if let Ok(mut entries) = cache.entries.lock() {
            if let Some(entry) = entries.get_mut("h") {
                entry.1 = crate::clock::monotonic_now().checked_sub(TOKEN_CACHE_TTL).unwrap_or(entry.1);
            }
        }
        assert!(cache.get("h").is_none());
    }
}
