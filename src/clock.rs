//! The process's reading of Marathon's clock: the pure [`MarathonClock`] fed with the local
//! monotonic and wall clocks, shared by the writer (which observes events) and readers.

use std::sync::Mutex;
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

    fn local(&self) -> Millis {
        Millis::try_from(self.origin.elapsed().as_millis()).unwrap_or(Millis::MAX)
    }

    /// An event stamped `timestamp` was just received.
    pub fn observe(&self, timestamp: Millis) {
        let local = self.local();
        self.lock().observe(timestamp, local);
    }

    /// Now, on Marathon's clock.
    pub fn now(&self) -> Millis {
        let local = self.local();
        self.lock().now(local)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MarathonClock> {
        // The clock holds plain numbers: a panic elsewhere cannot leave it inconsistent.
        self.clock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Local wall time in milliseconds since the epoch.
pub fn wall_millis() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
        Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX)
    })
}
