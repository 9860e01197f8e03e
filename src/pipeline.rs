//! The whole ingest path without I/O: bytes → SSE frames → decoded events → rules → effects.
//! The live writer, a replay and the benchmarks all drive this same path.

use crate::marathon::events::{EventKind, decode};
use crate::metrics::ApplyLock;
use crate::sse::{Decoder, Frame};
use crate::state::{
    ActiveState, AppSlot, Correction, Effects, Engine, EventError, ExpungeReason, MarathonClock,
    MesosState, Millis, ReplacementReason, Snapshot, State, Tally,
};

/// An [`Effects`] that also counts decoded events by type.
pub trait Ingest: Effects {
    fn event_decoded(&mut self, kind: EventKind);
    /// The end of a chunk: counts kept back per event are published.
    fn flush(&mut self) {}
    /// What to hold while one unit of input is applied, so scrapes see whole units only.
    fn apply_lock(&self) -> Option<ApplyLock> {
        None
    }
}

impl Ingest for crate::metrics::Sink {
    fn event_decoded(&mut self, kind: EventKind) {
        crate::metrics::Sink::event_decoded(self, kind.index(), kind.label());
    }
    fn flush(&mut self) {
        crate::metrics::Sink::flush(self);
    }
    fn apply_lock(&self) -> Option<ApplyLock> {
        Some(crate::metrics::Sink::apply_lock(self).clone())
    }
}

impl Ingest for Tally {
    fn event_decoded(&mut self, _: EventKind) {}
}

/// Marathon's clock as the pipeline reads it.
pub trait Clock {
    /// An event stamped `timestamp` arrived.
    fn observe(&mut self, timestamp: Millis);
    fn now(&mut self) -> Millis;
    /// A unit of work (a chunk, a snapshot, a tick) starts; the clock may stand still until `end`.
    fn begin(&mut self) {}
    fn end(&mut self) {}
}

impl Clock for crate::clock::LiveClock {
    fn observe(&mut self, timestamp: Millis) {
        crate::clock::LiveClock::observe(self, timestamp);
    }
    fn now(&mut self) -> Millis {
        crate::clock::LiveClock::now(self)
    }
    fn begin(&mut self) {
        crate::clock::LiveClock::begin(self);
    }
    fn end(&mut self) {
        crate::clock::LiveClock::end(self);
    }
}

/// The clock of a replay: event timestamps, and the local time a recording gives each chunk
/// ([`ReplayClock::set_local`]); without it local time stands still at 0.
pub struct ReplayClock {
    clock: MarathonClock,
    local: Millis,
}

impl ReplayClock {
    /// Starts at `start` (the recording's first snapshot time, or the wall clock at its local
    /// time 0) until the first event.
    pub fn new(start: Millis) -> Self {
        ReplayClock {
            clock: MarathonClock::new(start, 0),
            local: 0,
        }
    }

    /// The local time (ms since the recording started) of what is fed next; never goes back.
    pub fn set_local(&mut self, local: Millis) {
        self.local = self.local.max(local);
    }

    pub fn local(&self) -> Millis {
        self.local
    }
}

impl Clock for ReplayClock {
    fn observe(&mut self, timestamp: Millis) {
        self.clock.observe(timestamp, self.local);
    }
    fn now(&mut self) -> Millis {
        self.clock.now(self.local)
    }
}

/// Feeds every effect to two sinks: a replay's metrics and its per-app [`Tally`].
pub struct Tee<A, B>(pub A, pub B);

impl<A: Effects, B: Effects> Effects for Tee<A, B> {
    fn app_known(&mut self, slot: AppSlot, label: &str) {
        self.0.app_known(slot, label);
        self.1.app_known(slot, label);
    }
    fn app_retired(&mut self, slot: AppSlot) {
        self.0.app_retired(slot);
        self.1.app_retired(slot);
    }
    fn transition(&mut self, slot: AppSlot, from: Option<ActiveState>, to: State) {
        self.0.transition(slot, from, to);
        self.1.transition(slot, from, to);
    }
    fn status_update(&mut self, slot: AppSlot, status: MesosState) {
        self.0.status_update(slot, status);
        self.1.status_update(slot, status);
    }
    fn replacement(&mut self, slot: AppSlot, reason: ReplacementReason) {
        self.0.replacement(slot, reason);
        self.1.replacement(slot, reason);
    }
    fn expunge(&mut self, slot: AppSlot, reason: ExpungeReason) {
        self.0.expunge(slot, reason);
        self.1.expunge(slot, reason);
    }
    fn unreachable_duration(&mut self, slot: AppSlot, seconds: f64) {
        self.0.unreachable_duration(slot, seconds);
        self.1.unreachable_duration(slot, seconds);
    }
    fn time_to_running(&mut self, slot: AppSlot, seconds: f64) {
        self.0.time_to_running(slot, seconds);
        self.1.time_to_running(slot, seconds);
    }
    fn unknown_termination(&mut self, slot: AppSlot) {
        self.0.unknown_termination(slot);
        self.1.unknown_termination(slot);
    }
    fn event_error(&mut self, kind: EventError) {
        self.0.event_error(kind);
        self.1.event_error(kind);
    }
    fn correction(&mut self, kind: Correction) {
        self.0.correction(kind);
        self.1.correction(kind);
    }
    fn health_kill(&mut self, slot: AppSlot) {
        self.0.health_kill(slot);
        self.1.health_kill(slot);
    }
    fn deployment(&mut self, result: crate::state::DeploymentResult) {
        self.0.deployment(result);
        self.1.deployment(result);
    }
}

impl<A: Ingest, B: Ingest> Ingest for Tee<A, B> {
    fn event_decoded(&mut self, kind: EventKind) {
        self.0.event_decoded(kind);
        self.1.event_decoded(kind);
    }
    fn apply_lock(&self) -> Option<ApplyLock> {
        self.0.apply_lock().or_else(|| self.1.apply_lock())
    }
    fn flush(&mut self) {
        self.0.flush();
        self.1.flush();
    }
}

/// What one chunk of bytes amounted to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Events decoded and counted in `events_total`.
    pub events: usize,
    /// Frames counted in `event_errors_total` as malformed or oversized.
    pub errors: usize,
}

pub struct Pipeline<F, C> {
    decoder: Decoder,
    engine: Engine,
    fx: F,
    clock: C,
    lock: Option<ApplyLock>,
}

impl<F: Ingest, C: Clock> Pipeline<F, C> {
    pub fn new(engine: Engine, fx: F, clock: C, max_event_bytes: usize) -> Self {
        let lock = fx.apply_lock();
        Pipeline {
            decoder: Decoder::new(max_event_bytes),
            engine,
            fx,
            clock,
            lock,
        }
    }

    /// Feeds bytes as read from the stream.
    pub fn feed(&mut self, chunk: &[u8]) -> Fed {
        let Pipeline {
            decoder,
            engine,
            fx,
            clock,
            lock,
        } = self;
        let _unit = lock.as_ref().map(ApplyLock::applying);
        let mut fed = Fed::default();
        clock.begin();
        decoder.feed(chunk, &mut |frame| match frame {
            Frame::Oversized { .. } => {
                fx.event_error(EventError::Oversized);
                fed.errors += 1;
            }
            Frame::Event(data) => {
                if handle_event(data, engine, fx, clock) {
                    fed.events += 1;
                } else {
                    fed.errors += 1;
                }
            }
        });
        fx.flush();
        clock.end();
        fed
    }

    /// A new connection: forget any partial event of the previous one.
    pub fn reset_stream(&mut self) {
        self.decoder.reset();
    }

    pub fn apply_snapshot(&mut self, snapshot: &Snapshot) {
        let _unit = self.lock.as_ref().map(ApplyLock::applying);
        self.clock.begin();
        let now = self.clock.now();
        self.engine.apply_snapshot(snapshot, now, &mut self.fx);
        self.clock.end();
    }

    /// Runs the timers due by now.
    pub fn tick(&mut self) {
        let _unit = self.lock.as_ref().map(ApplyLock::applying);
        self.clock.begin();
        let now = self.clock.now();
        self.engine.tick(now, &mut self.fx);
        self.clock.end();
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn effects(&self) -> &F {
        &self.fx
    }

    pub fn clock_mut(&mut self) -> &mut C {
        &mut self.clock
    }

    pub fn into_parts(self) -> (Engine, F, C) {
        (self.engine, self.fx, self.clock)
    }
}

/// One SSE event: decode, move the clock, apply. `false` when the frame could not be used.
fn handle_event(
    data: &[u8],
    engine: &mut Engine,
    fx: &mut impl Ingest,
    clock: &mut impl Clock,
) -> bool {
    let Ok(raw) = decode(data) else {
        fx.event_error(EventError::Malformed);
        return false;
    };
    let fallback = clock.now();
    let input = match raw.input(fallback) {
        Ok(input) => input,
        Err(_) => {
            fx.event_error(EventError::Malformed);
            return false;
        }
    };
    fx.event_decoded(raw.kind());
    // An input read its timestamp already: parse it once.
    let timestamp = match &input {
        Some(input) => raw.has_timestamp().then(|| input.timestamp()),
        None => raw.timestamp(),
    };
    if let Some(timestamp) = timestamp {
        clock.observe(timestamp);
    }
    if let Some(input) = input {
        let now = clock.now();
        engine.apply(&input, now, fx);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{DeploymentResult, ReplacementReason, State, Tally};

    /// `Effects` methods do nothing by default: a combinator that forgets one loses that count.
    #[test]
    fn a_tee_hands_every_counted_effect_to_both_sides() {
        let mut tee = Tee(Tally::new(), Tally::new());
        let web = AppSlot(1);
        tee.app_known(web, "/web");
        tee.transition(web, None, State::Active(ActiveState::Running));
        tee.replacement(web, ReplacementReason::Failed);
        tee.expunge(web, ExpungeReason::Failed);
        tee.unreachable_duration(web, 1.0);
        tee.time_to_running(web, 1.0);
        tee.health_kill(web);
        tee.deployment(DeploymentResult::Success);
        assert_eq!(tee.0.rule_total(), 7);
        assert_eq!(tee.1.rule_total(), 7);
    }
}
