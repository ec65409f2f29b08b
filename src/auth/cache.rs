//! A short-lived cache of authenticated tokens, so the hot API path does not
//! read `api_clients` on every request. Only successful look-ups are cached,
//! for [`TOKEN_CACHE_TTL`]. A revocation or deactivation is announced to every
//! node sharing the database ([`crate::db::announce_access_change`]), and each
//! empties its cache when it hears it ([`follow_access_changes`]); while a
//! node cannot hear (its listening connection is down) it caches nothing, so
//! no revoked token keeps working anywhere.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ApiCaller;
use crate::db::Db;

/// How long an authenticated token is trusted without asking the database.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);
/// Most tokens cached; the cache is emptied when full.
pub const TOKEN_CACHE_MAX: usize = 10_000;

/// Token hash → caller, with the time it was read.
#[derive(Clone, Default)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<String, (ApiCaller, Instant)>>>,
    /// True while this node hears every access change (always on SQLite).
    live: Arc<AtomicBool>,
    /// Bumped at every clear: a look-up that started before a clear must
    /// not store what it read (it may be a token revoked meanwhile).
    generation: Arc<AtomicU64>,
}

impl TokenCache {
    /// A cache that is used at once (`live`) or only once it hears changes.
    #[must_use]
    pub fn new(live: bool) -> Self {
        Self { entries: Arc::default(), live: Arc::new(AtomicBool::new(live)), generation: Arc::default() }
    }

    /// The generation to read before looking a token up in the database.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Turns caching on (the node hears every change) or off.
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::SeqCst);
        self.clear();
    }

    /// The cached caller for this token hash, if fresh.
    #[must_use]
    pub fn get(&self, token_sha256: &str) -> Option<ApiCaller> {
        if !self.live.load(Ordering::SeqCst) {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        entries
            .get(token_sha256)
            .filter(|(_, read_at)| read_at.elapsed() < TOKEN_CACHE_TTL)
            .map(|(caller, _)| caller.clone())
    }

    /// Forgets every cached token: after a revocation, this node stops
    /// accepting it at once (other nodes within [`TOKEN_CACHE_TTL`]).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// Remembers a token's caller read from the database since `generation`
    /// (from [`TokenCache::generation`]); nothing when the cache was cleared
    /// meanwhile.
    pub fn insert(&self, generation: u64, token_sha256: String, caller: ApiCaller) {
        if !self.live.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            // Checked under the lock that `clear` also takes after bumping.
            if self.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            if entries.len() >= TOKEN_CACHE_MAX {
                entries.clear();
            }
            entries.insert(token_sha256, (caller, crate::clock::monotonic_now()));
        }
    }
}

/// Empties the cache whenever any node announces an access change, for as
/// long as the process runs (PostgreSQL only; on SQLite there is one node and
/// it clears its own cache). While not listening, the cache is off.
pub async fn follow_access_changes(db: Db, cache: TokenCache) {
    loop {
        match db.access_changes().await {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                cache.set_live(true);
                // `Ok(None)`: the connection dropped, and changes may have
                // been missed; forget everything and listen again.
                while let Ok(Some(_)) = listener.try_recv().await {
                    cache.clear();
                }
                tracing::warn!("stopped hearing access changes; tokens are read from the database until it resumes");
            }
            Err(error) => tracing::warn!(error = %error, "cannot listen for access changes"),
        }
        cache.set_live(false);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Scope;

    #[test]
    fn cached_callers_are_returned_until_they_expire() {
        let cache = TokenCache::new(true);
        assert!(cache.get("h").is_none());
        cache.insert(cache.generation(), "h".into(), ApiCaller::client(3, Scope::Hims));
        assert_eq!(cache.get("h").and_then(|c| c.client_id), Some(3));
        if let Ok(mut entries) = cache.entries.lock() {
            if let Some(entry) = entries.get_mut("h") {
                entry.1 = crate::clock::monotonic_now().checked_sub(TOKEN_CACHE_TTL).unwrap_or(entry.1);
            }
        }
        assert!(cache.get("h").is_none());
    }

    #[test]
    fn a_cache_that_cannot_hear_changes_keeps_nothing() {
        let cache = TokenCache::new(false);
        cache.insert(cache.generation(), "h".into(), ApiCaller::client(3, Scope::Hims));
        assert!(cache.get("h").is_none());
        cache.set_live(true);
        cache.insert(cache.generation(), "h".into(), ApiCaller::client(3, Scope::Hims));
        assert!(cache.get("h").is_some());
        cache.set_live(false);
        assert!(cache.get("h").is_none());
    }

    #[test]
    fn a_look_up_that_raced_a_revocation_is_not_kept() {
        let cache = TokenCache::new(true);
        let before = cache.generation();
        cache.clear();
        cache.insert(before, "h".into(), ApiCaller::client(3, Scope::Hims));
        assert!(cache.get("h").is_none(), "read before the clear: not stored");
        cache.insert(cache.generation(), "h".into(), ApiCaller::client(3, Scope::Hims));
        assert!(cache.get("h").is_some());
    }
}
