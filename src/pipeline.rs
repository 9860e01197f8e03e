//! The whole ingest path without I/O: bytes → SSE frames → decoded events → rules → effects.
//! The live writer, a replay and the benchmarks all drive this same path.

use crate::marathon::events::{EventKind, decode};
use crate::sse::{Decoder, Frame};
use crate::state::{Effects, Engine, EventError, MarathonClock, Millis, Snapshot, Tally};

/// An [`Effects`] that also counts decoded events by type.
pub trait Ingest: Effects {
    fn event_decoded(&mut self, kind: EventKind);
}

impl Ingest for crate::metrics::Sink {
    fn event_decoded(&mut self, kind: EventKind) {
        crate::metrics::Sink::event_decoded(self, kind.index(), kind.label());
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
}

impl Clock for std::sync::Arc<crate::clock::SharedClock> {
    fn observe(&mut self, timestamp: Millis) {
        crate::clock::SharedClock::observe(self, timestamp);
    }
    fn now(&mut self) -> Millis {
        crate::clock::SharedClock::now(self)
    }
}

/// The clock of a replay: event timestamps only, no local time passing.
pub struct ReplayClock(MarathonClock);

impl ReplayClock {
    /// Starts at `start` (the recording's first snapshot time) until the first event.
    pub fn new(start: Millis) -> Self {
        ReplayClock(MarathonClock::new(start, 0))
    }
}

impl Clock for ReplayClock {
    fn observe(&mut self, timestamp: Millis) {
        self.0.observe(timestamp, 0);
    }
    fn now(&mut self) -> Millis {
        self.0.now(0)
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
}

impl<F: Ingest, C: Clock> Pipeline<F, C> {
    pub fn new(engine: Engine, fx: F, clock: C, max_event_bytes: usize) -> Self {
        Pipeline {
            decoder: Decoder::new(max_event_bytes),
            engine,
            fx,
            clock,
        }
    }

    /// Feeds bytes as read from the stream.
    pub fn feed(&mut self, chunk: &[u8]) -> Fed {
        let Pipeline {
            decoder,
            engine,
            fx,
            clock,
        } = self;
        let mut fed = Fed::default();
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
        fed
    }

    /// A new connection: forget any partial event of the previous one.
    pub fn reset_stream(&mut self) {
        self.decoder.reset();
    }

    pub fn apply_snapshot(&mut self, snapshot: &Snapshot) {
        let now = self.clock.now();
        self.engine.apply_snapshot(snapshot, now, &mut self.fx);
    }

    /// Runs the timers due by now.
    pub fn tick(&mut self) {
        let now = self.clock.now();
        self.engine.tick(now, &mut self.fx);
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
    if let Some(timestamp) = raw.timestamp() {
        clock.observe(timestamp);
    }
    if let Some(input) = input {
        let now = clock.now();
        engine.apply(&input, now, fx);
    }
    true
}
