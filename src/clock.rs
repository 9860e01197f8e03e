//! The process's reading of Marathon's clock: the pure [`MarathonClock`] fed with the local
//! monotonic and wall clocks, shared by the writer (which observes events through a [`LiveClock`]),
//! the stream (which hands it the first response's `Date`) and readers (scrapes, and the resync,
//! which stamps snapshots on the connection clock).

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::state::{MarathonClock, Millis};

/// Marathon's clock for a live run.
pub struct SharedClock {
    origin: Instant,
    clock: Mutex<MarathonClock>,
}

impl Default for SharedClock {
    fn default() -> Self {
        SharedClock::new()
    }
}

impl SharedClock {
    pub fn new() -> Self {
        let origin = Instant::now();
        SharedClock {
            origin,
            clock: Mutex::new(MarathonClock::new(wall_millis(), 0)),
        }
    }

    /// The local monotonic clock, in milliseconds since this clock was made.
    pub fn local(&self) -> Millis {
        Millis::try_from(self.origin.elapsed().as_millis()).unwrap_or(Millis::MAX)
    }

    /// Now, on Marathon's clock.
    pub fn now(&self) -> Millis {
        let local = self.local();
        self.lock().now(local)
    }

    /// A copy of the clock as it is now.
    pub fn load(&self) -> MarathonClock {
        *self.lock()
    }

    /// A response from Marathon said `Date: date` (ms since the epoch) just now; the first one
    /// before any event sets where `now` starts.
    pub fn response_date(&self, date: Millis) {
        let local = self.local();
        self.lock().response_date(date, local);
    }

    /// Stream connection `id` is the one whose events are observed from now on.
    pub fn connected(&self, id: u64) {
        self.lock().connected(id);
    }

    /// The connection clock of connection `id` now: `None` until the writer has observed its first
    /// event (see [`MarathonClock::connection_now`]).
    pub fn connection_now(&self, id: u64) -> Option<Millis> {
        let local = self.local();
        self.lock().connection_now(id, local)
    }

    /// Takes in what a copy (see [`SharedClock::load`]) has seen.
    pub fn merge(&self, copy: &MarathonClock) {
        self.lock().merge(copy);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MarathonClock> {
        // The clock holds plain numbers: a panic elsewhere cannot leave it inconsistent.
        self.clock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The writer's view of a [`SharedClock`]: a copy taken when a chunk of work starts, read without
/// locking or reading the system clock per event, and merged back when the chunk is done.
pub struct LiveClock {
    shared: Arc<SharedClock>,
    clock: MarathonClock,
    local: Millis,
}

impl LiveClock {
    pub fn new(shared: Arc<SharedClock>) -> Self {
        let clock = shared.load();
        let local = shared.local();
        LiveClock {
            shared,
            clock,
            local,
        }
    }

    /// A unit of work starts: read the local clock once and take the shared state.
    pub fn begin(&mut self) {
        self.local = self.shared.local();
        self.clock = self.shared.load();
    }

    /// The unit of work is done: hand what it saw back.
    pub fn end(&mut self) {
        self.shared.merge(&self.clock);
    }

    pub fn observe(&mut self, timestamp: Millis) {
        self.clock.observe(timestamp, self.local);
    }

    /// The stream opened connection `id`: its events feed the connection clock from now on.
    /// Called between units of work, so the shared clock is updated at once.
    pub fn connected(&mut self, id: u64) {
        self.shared.connected(id);
        self.clock.connected(id);
    }

    pub fn now(&mut self) -> Millis {
        self.clock.now(self.local)
    }
}

/// Local wall time in milliseconds since the epoch.
pub fn wall_millis() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
        Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_answers_date_sets_where_now_starts() {
        let clock = SharedClock::new();
        assert!(
            clock.now() >= wall_millis() - 1_000,
            "the wall clock before any answer"
        );
        clock.response_date(1_000_000);
        let now = clock.now();
        assert!((1_000_000..1_010_000).contains(&now), "{now}");
    }

    #[test]
    fn the_writers_copy_feeds_the_connection_clock_when_merged() {
        let shared = Arc::new(SharedClock::new());
        let mut live = LiveClock::new(Arc::clone(&shared));
        live.connected(7);
        assert_eq!(shared.connection_now(7), None);
        live.begin();
        live.observe(2_000_000);
        assert_eq!(
            shared.connection_now(7),
            None,
            "not before the chunk is done"
        );
        live.end();
        let at = shared.connection_now(7).expect("merged");
        assert!((2_000_000..2_010_000).contains(&at), "{at}");
        assert_eq!(shared.connection_now(6), None);
    }
}
