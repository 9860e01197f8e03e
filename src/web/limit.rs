//! The cap on concurrent scrapes of the telemetry path: a scrape over the cap gets 503 at once
//! instead of queueing another render of the whole exposition.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Permits for scrapes in flight; clones share them.
#[derive(Clone, Debug)]
pub struct ScrapeLimiter {
    permits: Arc<Semaphore>,
    limit: usize,
}

impl ScrapeLimiter {
    /// At most `limit` scrapes at once (at least one).
    pub fn new(limit: usize) -> ScrapeLimiter {
        let limit = limit.max(1);
        ScrapeLimiter {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }

    /// A permit for one scrape, held until its response body is sent; `None` when all are taken.
    pub fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permits).try_acquire_owned().ok()
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The one-line reason a refused scrape gets.
    pub fn refusal(&self) -> String {
        format!(
            "too many concurrent scrapes (limit {}); try again later\n",
            self.limit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_run_out_at_the_limit_and_come_back_when_dropped() {
        let limiter = ScrapeLimiter::new(2);
        let first = limiter.try_acquire().expect("first");
        let second = limiter
            .clone()
            .try_acquire()
            .expect("second, through a clone");
        assert!(limiter.try_acquire().is_none());
        drop(first);
        let third = limiter.try_acquire();
        assert!(third.is_some());
        drop(second);
        drop(third);
        assert!(limiter.try_acquire().is_some());
    }

    #[test]
    fn a_limit_of_zero_still_lets_one_scrape_in() {
        let limiter = ScrapeLimiter::new(0);
        assert_eq!(limiter.limit(), 1);
        let held = limiter.try_acquire();
        assert!(held.is_some());
        assert!(limiter.try_acquire().is_none());
        assert!(limiter.refusal().contains("limit 1"));
    }
}
