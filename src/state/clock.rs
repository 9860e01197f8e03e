//! Marathon's clock as RULES.md defines it: the largest event timestamp plus the local time elapsed
//! since that event arrived, never going backwards. Pure: local time is passed in.

use super::types::Millis;

/// `now` for the engine. `local` arguments are readings of a local monotonic clock in milliseconds
/// (a replay passes a constant, so its `now` is simply the largest timestamp seen).
#[derive(Clone, Debug)]
pub struct MarathonClock {
    /// Before any event: local wall time minus local monotonic time.
    wall_offset: Millis,
    /// The largest `timestamp - local` over the events observed.
    event_offset: Option<Millis>,
    /// The last `now` handed out.
    floor: Millis,
}

impl MarathonClock {
    /// A clock that reads `wall_now` at local monotonic time `local` until the first event.
    pub fn new(wall_now: Millis, local: Millis) -> Self {
        MarathonClock {
            wall_offset: wall_now - local,
            event_offset: None,
            floor: Millis::MIN,
        }
    }

    /// An event stamped `timestamp` arrived at local monotonic time `local`.
    pub fn observe(&mut self, timestamp: Millis, local: Millis) {
        let offset = timestamp.saturating_sub(local);
        self.event_offset = Some(self.event_offset.map_or(offset, |o| o.max(offset)));
    }

    /// The current time on Marathon's clock; never less than any earlier answer.
    pub fn now(&mut self, local: Millis) -> Millis {
        let offset = self.event_offset.unwrap_or(self.wall_offset);
        self.floor = self.floor.max(offset.saturating_add(local));
        self.floor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_any_event_the_wall_clock_is_used() {
        let mut c = MarathonClock::new(1_000_000, 50);
        assert_eq!(c.now(50), 1_000_000);
        assert_eq!(c.now(1050), 1_001_000);
    }

    #[test]
    fn event_time_plus_local_elapsed() {
        let mut c = MarathonClock::new(0, 0);
        c.observe(5_000_000, 100);
        assert_eq!(c.now(100), 5_000_000);
        assert_eq!(c.now(400), 5_000_300);
    }

    #[test]
    fn an_older_event_does_not_move_the_clock_back() {
        let mut c = MarathonClock::new(0, 0);
        c.observe(5_000_000, 100);
        c.observe(4_000_000, 200);
        assert_eq!(c.now(200), 5_000_100);
    }

    #[test]
    fn never_goes_backwards_when_events_lag_the_wall_clock() {
        let mut c = MarathonClock::new(9_000_000, 0);
        assert_eq!(c.now(0), 9_000_000);
        c.observe(5_000_000, 10);
        assert_eq!(c.now(20), 9_000_000);
        c.observe(9_500_000, 30);
        assert_eq!(c.now(30), 9_500_000);
    }

    #[test]
    fn replay_with_constant_local_time_follows_timestamps() {
        let mut c = MarathonClock::new(0, 0);
        c.observe(1_000, 0);
        assert_eq!(c.now(0), 1_000);
        c.observe(3_000, 0);
        assert_eq!(c.now(0), 3_000);
    }
}
