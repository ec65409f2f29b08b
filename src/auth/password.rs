//! Passwords: Argon2id with a random salt, stored as a PHC string.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// Shortest password accepted.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password accepted (hashing time grows with length).
pub const PASSWORD_MAX_CHARS: usize = 256;

/// Why a password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Too short or too long.
    #[error("the password must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters")]
    Length,
}

/// Checks the length rule.
///
/// # Errors
/// Too short or too long.
pub fn check(password: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&length) { Ok(()) } else { Err(PasswordError::Length) }
}

/// The Argon2id PHC string of a password.
///
/// # Errors
/// No randomness, or the hasher failed.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let hashed =
        Argon2::default().hash_password(password.as_bytes()).map_err(|error| anyhow::anyhow!("hashing: {error}"))?;
    Ok(hashed.to_string())
}

/// True when `password` matches the stored PHC string.
#[must_use]
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), stored).is_ok()
}

/// Why hashing was not done.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every hashing slot is taken and the queue is full: refused at once
    /// rather than stalling the server (429).
    #[error("too many passwords are being checked right now; try again in a moment")]
    Busy,
    /// The hasher failed or its task died.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Runs Argon2 on the blocking pool, at most one per core at a time, with a
/// bounded queue: password hashing is deliberately slow, and on the async
/// workers ~30 guesses a second per core would stall every request — HIMS's
/// consumptions included. Over the queue's bound a request is refused at
/// once.
#[derive(Clone, Debug)]
pub struct Hasher {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    queued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    queue_max: usize,
}

/// Waiting or running hashes per core before more are refused.
pub const HASH_QUEUE_PER_CORE: usize = 8;

/// Counts a hash as queued until it is done or abandoned (the client left).
struct Queued(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Hasher {
    /// At most `workers` hashes at once and `queue_max` waiting or running.
    #[must_use]
    pub fn new(workers: usize, queue_max: usize) -> Self {
        Self {
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(workers.max(1))),
            queued: std::sync::Arc::default(),
            queue_max: queue_max.max(1),
        }
    }

    /// One hash per core of this machine.
    #[must_use]
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Self::new(cores, cores * HASH_QUEUE_PER_CORE)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        use std::sync::atomic::Ordering;
        if self.queued.fetch_add(1, Ordering::SeqCst) >= self.queue_max {
            self.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(HashError::Busy);
        }
        let _queued = Queued(self.queued.clone());
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|e| anyhow::anyhow!("hashing slots closed: {e}"))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| HashError::Failed(anyhow::anyhow!("hashing task: {e}")))
    }

    /// [`verify`] on the blocking pool.
    ///
    /// # Errors
    /// Busy, or the task died.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<bool, HashError> {
        let (password, stored) = (password.to_owned(), stored.to_owned());
        self.run(move || verify(&password, &stored)).await
    }

    /// [`hash`] on the blocking pool.
    ///
    /// # Errors
    /// Busy, or the hasher failed.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        Ok(self.run(move || hash(&password)).await??)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() -> anyhow::Result<()> {
        let stored = hash("kata-laluan-rahsia")?;
        assert!(stored.starts_with("$argon2id$"));
        assert!(!stored.contains("kata-laluan-rahsia"));
        assert!(verify("kata-laluan-rahsia", &stored));
        assert!(!verify("kata-laluan-salah", &stored));
        assert!(!verify("anything", "not a hash"));
        Ok(())
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_its_places() {
        let hasher = Hasher::new(1, 2);
        let stored = hash("kata-laluan-rahsia").unwrap_or_default();
        let (first, second, third) = tokio::join!(
            hasher.verify("kata-laluan-rahsia", &stored),
            hasher.verify("salah", &stored),
            hasher.verify("salah", &stored),
        );
        let results = [first, second, third];
        assert_eq!(results.iter().filter(|r| matches!(r, Err(HashError::Busy))).count(), 1, "{results:?}");
        assert!(matches!(results[0], Ok(true)));
        assert!(matches!(hasher.verify("kata-laluan-rahsia", &stored).await, Ok(true)), "places are given back");
    }

    #[test]
    fn length_is_bounded() {
        assert_eq!(check("short"), Err(PasswordError::Length));
        assert!(check("panjang-cukup").is_ok());
        assert_eq!(check(&"x".repeat(257)), Err(PasswordError::Length));
    }
}
