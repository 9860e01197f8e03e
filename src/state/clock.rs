//! Marathon's clock as RULES.md defines it (Time): the engine's `now`, which is the largest event
//! timestamp plus the local time elapsed since that event arrived and never goes backwards, and the
//! connection clock snapshots are stamped with. Pure: local time is passed in.

use super::types::Millis;

/// `now` for the engine, and the connection clock. `local` arguments are readings of a local
/// monotonic clock in milliseconds (a replay passes a constant, so its `now` is simply the largest
/// timestamp seen).
#[derive(Clone, Copy, Debug)]
pub struct MarathonClock {
    /// Before any event: `start - local` for the local wall clock, or for the `Date` of the first
    /// response from Marathon once there is one.
    start_offset: Millis,
    /// Whether `start_offset` came from a response's `Date`. Until then `now` is the host's wall
    /// clock, which may run ahead of Marathon's: what it handed out does not hold `now` up once
    /// Marathon's `Date` is known (nothing was decided on it: no event came before any response).
    dated: bool,
    /// The largest `timestamp - local` over the events observed.
    event_offset: Option<Millis>,
    /// The last `now` handed out (on the current source: the wall clock, then Marathon's).
    floor: Millis,
    /// The stream connection whose events are observed now (ids increase with each connection).
    connection: u64,
    /// The largest `timestamp - local` over the events of that connection.
    connection_offset: Option<Millis>,
}

impl MarathonClock {
    /// A clock that reads `wall_now` at local monotonic time `local` until Marathon tells the time.
    pub fn new(wall_now: Millis, local: Millis) -> Self {
        MarathonClock {
            start_offset: wall_now.saturating_sub(local),
            dated: false,
            event_offset: None,
            floor: Millis::MIN,
            connection: 0,
            connection_offset: None,
        }
    }

    /// A response from Marathon carried `Date: date` at local time `local`. Only the first one
    /// before any event counts: from then on `now` starts from Marathon's clock, not the host's,
    /// even where the host's clock ran ahead.
    pub fn response_date(&mut self, date: Millis, local: Millis) {
        if !self.dated && self.event_offset.is_none() {
            self.start_offset = date.saturating_sub(local);
            self.dated = true;
            self.floor = Millis::MIN;
        }
    }

    /// An event stamped `timestamp` arrived at local monotonic time `local`.
    pub fn observe(&mut self, timestamp: Millis, local: Millis) {
        let offset = timestamp.saturating_sub(local);
        self.event_offset = Some(self.event_offset.map_or(offset, |o| o.max(offset)));
        self.connection_offset = Some(self.connection_offset.map_or(offset, |o| o.max(offset)));
    }

    /// The events observed from now on come from stream connection `id` (larger than any before).
    pub fn connected(&mut self, id: u64) {
        if id > self.connection {
            self.connection = id;
            self.connection_offset = None;
        }
    }

    /// The connection clock of connection `id`: the latest event timestamp received on it plus the
    /// local time elapsed since; `None` before its first event (or once another connection is on).
    pub fn connection_now(&self, id: u64, local: Millis) -> Option<Millis> {
        if id != self.connection {
            return None;
        }
        self.connection_offset.map(|o| o.saturating_add(local))
    }

    /// Takes in what a copy of this clock has seen since it was copied.
    pub fn merge(&mut self, other: &MarathonClock) {
        self.event_offset = match (self.event_offset, other.event_offset) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        match (self.dated, other.dated) {
            (false, true) => {
                self.start_offset = other.start_offset;
                self.dated = true;
                self.floor = other.floor;
            }
            (true, false) => {} // the copy still read the wall clock: its floor does not count
            _ => self.floor = self.floor.max(other.floor),
        }
        if other.connection > self.connection {
            self.connection = other.connection;
            self.connection_offset = other.connection_offset;
        } else if other.connection == self.connection {
            self.connection_offset = match (self.connection_offset, other.connection_offset) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }

    /// The current time on Marathon's clock; never less than any earlier answer since the first
    /// response's `Date` (or, without one, ever).
    pub fn now(&mut self, local: Millis) -> Millis {
        let offset = self.event_offset.unwrap_or(self.start_offset);
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
    fn before_any_response_the_wall_clock_is_used() {
        let mut c = MarathonClock::new(1_000_000, 50);
        assert_eq!(c.now(50), 1_000_000);
        assert_eq!(c.now(1050), 1_001_000);
    }

    #[test]
    fn the_first_response_date_replaces_a_wall_clock_that_runs_ahead() {
        let mut c = MarathonClock::new(9_000_000, 0);
        assert_eq!(c.now(100), 9_000_100, "the host's wall clock");
        c.response_date(5_000_000, 200);
        assert_eq!(c.now(300), 5_000_100, "Marathon's Date plus elapsed time");
        c.response_date(7_000_000, 400);
        assert_eq!(c.now(400), 5_000_200, "only the first response counts");
    }

    #[test]
    fn a_response_after_the_first_event_changes_nothing() {
        let mut c = MarathonClock::new(0, 0);
        c.observe(5_000_000, 100);
        c.response_date(1_000, 150);
        assert_eq!(c.now(200), 5_000_100);
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
    fn without_a_date_never_goes_backwards_when_events_lag_the_wall_clock() {
        // A replay, or a server that sends no `Date`: rules may have run on the wall clock.
        let mut c = MarathonClock::new(9_000_000, 0);
        assert_eq!(c.now(0), 9_000_000);
        c.observe(5_000_000, 10);
        assert_eq!(c.now(20), 9_000_000);
        c.observe(9_500_000, 30);
        assert_eq!(c.now(30), 9_500_000);
    }

    #[test]
    fn never_goes_backwards_once_marathon_told_the_time() {
        let mut c = MarathonClock::new(0, 0);
        c.response_date(9_000_000, 0);
        assert_eq!(c.now(10), 9_000_010);
        c.observe(5_000_000, 20);
        assert_eq!(
            c.now(20),
            9_000_010,
            "an event behind the Date holds nothing back"
        );
        let mut d = MarathonClock::new(0, 0);
        d.observe(9_000_000, 0);
        d.now(0);
        d.connected(2);
        d.observe(5_000_000, 10);
        assert_eq!(
            d.now(10),
            9_000_010,
            "a new leader whose clock lags does not move now back"
        );
    }

    #[test]
    fn a_copy_that_read_the_wall_clock_does_not_hold_back_marathons_clock() {
        let mut shared = MarathonClock::new(9_000_000, 0);
        let mut copy = shared;
        assert_eq!(copy.now(10), 9_000_010);
        shared.response_date(5_000_000, 5);
        shared.merge(&copy);
        assert_eq!(shared.now(20), 5_000_015);
        let mut wall = MarathonClock::new(9_000_000, 0);
        wall.now(0);
        wall.merge(&shared);
        assert_eq!(wall.now(20), 5_000_015, "Marathon's clock wins a merge");
    }

    #[test]
    fn replay_with_constant_local_time_follows_timestamps() {
        let mut c = MarathonClock::new(0, 0);
        c.observe(1_000, 0);
        assert_eq!(c.now(0), 1_000);
        c.observe(3_000, 0);
        assert_eq!(c.now(0), 3_000);
    }

    #[test]
    fn the_connection_clock_follows_the_events_of_its_connection_only() {
        let mut c = MarathonClock::new(0, 0);
        c.connected(1);
        assert_eq!(c.connection_now(1, 0), None, "no event on it yet");
        c.observe(9_000_000, 100);
        assert_eq!(c.connection_now(1, 300), Some(9_000_200));
        c.connected(2);
        assert_eq!(c.connection_now(1, 300), None, "another connection is on");
        assert_eq!(c.connection_now(2, 300), None);
        c.observe(5_000_000, 400);
        assert_eq!(
            c.connection_now(2, 500),
            Some(5_000_100),
            "the new leader's clock, behind now"
        );
        assert_eq!(c.now(500), 9_000_400);
        c.observe(4_000_000, 600);
        assert_eq!(
            c.connection_now(2, 600),
            Some(5_000_200),
            "an older event does not move it back"
        );
        c.connected(1);
        assert_eq!(
            c.connection_now(2, 600),
            Some(5_000_200),
            "ids never go back"
        );
    }

    #[test]
    fn the_connection_clock_merges_by_connection() {
        let mut shared = MarathonClock::new(0, 0);
        shared.connected(1);
        let mut copy = shared;
        copy.observe(7_000, 0);
        shared.connected(2);
        shared.merge(&copy);
        assert_eq!(
            shared.connection_now(2, 0),
            None,
            "events of an older connection do not count"
        );
        let mut newer = shared;
        newer.observe(3_000, 0);
        shared.merge(&newer);
        assert_eq!(shared.connection_now(2, 10), Some(3_010));
        let mut older = MarathonClock::new(0, 0);
        older.merge(&shared);
        assert_eq!(older.connection_now(2, 10), Some(3_010));
    }
}
