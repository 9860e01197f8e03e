//! Delays between attempts to reach Marathon (the stream's reconnects, the resync's retries).

use std::time::Duration;

/// Backoff before the first retry.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);

/// Reconnect delays: from about 100 ms, doubling with ±20 % jitter, capped.
#[derive(Clone, Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Self {
        Backoff {
            next: BACKOFF_INITIAL.min(max),
            max,
        }
    }

    /// The delay before the next attempt; `jitter` in `[0, 1)`.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(self.max);
        base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
            .min(self.max)
    }

    pub fn reset(&mut self) {
        self.next = BACKOFF_INITIAL.min(self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_near_100ms_doubles_and_is_capped() {
        let mut b = Backoff::new(Duration::from_secs(1));
        let delays: Vec<_> = (0..6).map(|_| b.next_delay(0.5)).collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(delays[2], Duration::from_millis(400));
        assert_eq!(delays[3], Duration::from_millis(800));
        assert_eq!(delays[4], Duration::from_secs(1));
        assert_eq!(delays[5], Duration::from_secs(1));
        b.reset();
        assert_eq!(b.next_delay(0.5), Duration::from_millis(100));
    }

    #[test]
    fn backoff_jitter_stays_within_twenty_percent() {
        let mut low = Backoff::new(Duration::from_secs(10));
        let mut high = low.clone();
        assert_eq!(low.next_delay(0.0), Duration::from_millis(80));
        assert_eq!(high.next_delay(0.999_999).as_millis(), 119);
    }
}
