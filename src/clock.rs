//! The process's reading of Marathon's clock: the pure [`MarathonClock`] fed with the local
//! monotonic and wall clocks, shared by the writer (which observes events through a [`LiveClock`])
//! and readers.

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
