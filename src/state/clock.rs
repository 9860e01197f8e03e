//! Marathon's clock as RULES.md defines it: the largest event timestamp plus the local time elapsed
//! since that event arrived, never going backwards. Pure: local time is passed in.

use super::types::Millis;

/// `now` for the engine. `local` arguments are readings of a local monotonic clock in milliseconds
/// (a replay passes a constant, so its `now` is simply the largest timestamp seen).
#[derive(Clone, Copy, Debug)]
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

    /// Takes in what a copy of this clock has seen since it was copied.
    pub fn merge(&mut self, other: &MarathonClock) {
        self.event_offset = match (self.event_offset, other.event_offset) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.floor = self.floor.max(other.floor);
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
    fn a_copy_merged_back_keeps_what_either_saw_and_never_goes_back() {
        let mut shared = MarathonClock::new(1_000, 0);
        let mut copy = shared;
        copy.observe(5_000, 10);
        assert_eq!(copy.now(10), 5_000);
        assert_eq!(
            shared.now(20),
            1_020,
            "the original has not seen the event yet"
        );
        shared.merge(&copy);
        assert_eq!(shared.now(20), 5_010);
        let mut stale = MarathonClock::new(0, 0);
        shared.merge(&stale);
        assert_eq!(
            shared.now(20),
            5_010,
            "a copy that saw less changes nothing"
        );
        stale.merge(&shared);
        assert_eq!(stale.now(0), 5_010, "the floor travels with the merge");
    }

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
