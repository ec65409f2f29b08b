//! The node's background work, and stopping it. Every periodic job runs
//! through [`Jobs::every`] (the mail worker takes its items through
//! [`Jobs::start_item`]); when the node stops, [`Jobs::stop`] starts no new
//! item and lets the item each job is working on finish — so a claimed row is
//! recorded by the node that claimed it instead of waiting for its lease to
//! run out on another — within the grace.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
struct Inner {
    stopping: AtomicBool,
    busy: AtomicUsize,
}

/// The background work of one node (cheap to clone: clones share it).
#[derive(Debug, Clone, Default)]
pub struct Jobs(Arc<Inner>);

/// An item of work in progress; the node waits for it when stopping.
#[derive(Debug)]
pub struct Busy(Arc<Inner>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Jobs {
    /// True once the node is stopping.
    #[must_use]
    pub fn is_stopping(&self) -> bool {
        self.0.stopping.load(Ordering::SeqCst)
    }

    /// Starts an item of work, unless the node is stopping.
    #[must_use]
    pub fn start_item(&self) -> Option<Busy> {
        // Counted before the check, so `stop` either sees it or it sees `stop`.
        self.0.busy.fetch_add(1, Ordering::SeqCst);
        let busy = Busy(self.0.clone());
        (!self.is_stopping()).then_some(busy)
    }

    /// Runs `work` every `period`, the first time at once, until the node stops.
    pub fn every<F, Fut>(&self, period: Duration, what: &'static str, work: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.every_from(Duration::ZERO, period, what, work);
    }

    /// Runs `work` every `period`, the first time after `first`, until the node stops.
    pub fn every_from<F, Fut>(&self, first: Duration, period: Duration, what: &'static str, mut work: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let jobs = self.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::from_std(crate::clock::monotonic_now() + first);
            let mut ticker = tokio::time::interval_at(start, period);
            loop {
                ticker.tick().await;
                let Some(_busy) = jobs.start_item() else { break };
                if let Err(error) = work().await {
                    tracing::warn!(error = format!("{error:#}"), "{what} failed");
                }
            }
        });
    }

    /// Starts no more work and waits, at most `grace`, for the items in
    /// progress; true when they all finished.
    pub async fn stop(&self, grace: Duration) -> bool {
        self.0.stopping.store(true, Ordering::SeqCst);
        let deadline = crate::clock::monotonic_now() + grace;
        while self.0.busy.load(Ordering::SeqCst) > 0 {
            if crate::clock::monotonic_now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_job(jobs: &Jobs, work_ms: u64) -> (Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let (started, finished) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (s, f) = (started.clone(), finished.clone());
        jobs.every(Duration::from_millis(20), "test job", move || {
            let (s, f) = (s.clone(), f.clone());
            async move {
                s.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(work_ms)).await;
                f.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
        });
        (started, finished)
    }

    #[tokio::test]
    async fn stopping_lets_the_item_in_progress_finish_and_starts_no_other() {
        let jobs = Jobs::default();
        let (started, finished) = counting_job(&jobs, 150);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!((started.load(Ordering::SeqCst), finished.load(Ordering::SeqCst)), (1, 0), "mid-item");
        assert!(jobs.stop(Duration::from_secs(5)).await, "the item finished within the grace");
        assert_eq!(finished.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(started.load(Ordering::SeqCst), 1, "nothing starts after stop");
        assert!(jobs.start_item().is_none());
    }

    #[tokio::test]
    async fn an_item_longer_than_the_grace_is_left_to_its_lease() {
        let jobs = Jobs::default();
        let (_, finished) = counting_job(&jobs, 2_000);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!jobs.stop(Duration::from_millis(100)).await);
        assert_eq!(finished.load(Ordering::SeqCst), 0);
    }
}
