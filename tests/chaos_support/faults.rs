//! The faults of a chaos run: which are on (drawn from the seed, or chosen by a test), and when
//! and how hard each strikes, in simulated time, drawn from the seed too.

use std::fmt;
use std::time::Duration;

use marathon_task_exporter::state::Millis;

const SECOND: Millis = 1000;

/// One kind of trouble Marathon gives its event-stream clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// Event-bus lag: the bodies change at once, the events follow after a delay.
    Lag,
    /// The standby becomes leader; the deposed leader answers snapshots from its stale state.
    Failover,
    /// Marathon's clock off the exporter host's, and the two Marathons' clocks off each other.
    Skew,
    /// Snapshot requests held, then answered with the state at release.
    Held,
    /// The stream is closed: the events until the exporter reconnects are lost.
    Drops,
    /// Many seconds of events pushed at once: the writer falls behind.
    Bursts,
    /// The cluster runs pods and serves `/v2/pods/::status`.
    Pods,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::Lag,
        Fault::Failover,
        Fault::Skew,
        Fault::Held,
        Fault::Drops,
        Fault::Bursts,
        Fault::Pods,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::Lag => "lag",
            Fault::Failover => "failover",
            Fault::Skew => "skew",
            Fault::Held => "held",
            Fault::Drops => "drops",
            Fault::Bursts => "bursts",
            Fault::Pods => "pods",
        }
    }
}

/// A set of faults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults(u8);

impl Faults {
    pub fn none() -> Faults {
        Faults(0)
    }

    pub fn of(faults: &[Fault]) -> Faults {
        Faults(faults.iter().fold(0, |bits, f| bits | 1 << *f as u8))
    }

    /// Each fault on or off with even odds, from `seed`.
    pub fn random(seed: u64) -> Faults {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0xFA17_5EED);
        Faults(rng.u8(..) & ((1 << Fault::ALL.len()) - 1))
    }

    pub fn has(self, fault: Fault) -> bool {
        self.0 & 1 << fault as u8 != 0
    }

    /// No event is lost: every fault but drops.
    pub fn lossless(self) -> bool {
        !self.has(Fault::Drops)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Fault::ALL
            .iter()
            .filter(|x| self.has(**x))
            .map(|x| x.name())
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join("+"))
        }
    }
}

/// Something that happens to the cluster's Marathons at a moment of the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strike {
    /// The standby takes over; the old leader serves its stale bodies for `stale_for` (real time).
    Failover { stale_for: Duration },
    /// The leader closes every stream.
    Drop,
    /// The leader holds snapshot requests for `hold` (real time).
    Hold { hold: Duration },
    /// Nothing is published for `window` (simulated), then bodies and events all at once.
    Burst { window: Millis },
}

/// When and how hard the faults of a run strike; every simulated time is from the run's start.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Marathon's clock minus the exporter host's (both Marathons share it, plus their own skew).
    pub host_offset: Millis,
    /// Each Marathon's own offset, applied to its events' timestamps and its `Date`.
    pub skews: [Millis; 2],
    /// Longest event-bus lag (simulated); 0 without [`Fault::Lag`].
    pub lag_max: Millis,
    /// Strikes in time order.
    pub strikes: Vec<(Millis, Strike)>,
}

/// Marathon's clock ahead of the host's without [`Fault::Skew`]: the harmless direction, so that
/// the stream's own `event_stream_attached` (stamped by the host clock) is never ahead of it.
pub const HOST_LEAD: Millis = 2 * SECOND;
/// Event-bus lag, simulated: well under `--resync.removal-delay` (2 s of Marathon time).
const LAG_MAX: Millis = 1500;
/// Clock skews: the host within 2–8 s of Marathon (both ways; the demo keeps events 5 s or more
/// away from every timer threshold, but no timer runs in the first seconds), each Marathon within
/// 150 ms of the cluster's clock, so two leaders differ by less than the 500 ms that separate two
/// status updates of one task in the simulation (a larger step back would make an event stale).
const HOST_SKEW: (Millis, Millis) = (2 * SECOND, 8 * SECOND);
const LEADER_SKEW: (Millis, Millis) = (20, 150);

impl Schedule {
    /// The schedule of a run of `length` simulated ms with `faults`, from `seed`.
    pub fn new(seed: u64, faults: Faults, length: Millis) -> Schedule {
        let mut clocks = fastrand::Rng::with_seed(seed ^ 0x5C4E_D01E);
        let mut signed = |(min, max): (Millis, Millis)| {
            let v = clocks.i64(min..=max);
            if clocks.bool() { v } else { -v }
        };
        let (host_offset, skews) = if faults.has(Fault::Skew) {
            (
                signed(HOST_SKEW),
                [signed(LEADER_SKEW), signed(LEADER_SKEW)],
            )
        } else {
            (HOST_LEAD, [0, 0])
        };
        let mut strikes = Vec::new();
        let mut every = |rng: &mut fastrand::Rng,
                         gap: (Millis, Millis),
                         strike: &dyn Fn(&mut fastrand::Rng) -> Strike| {
            let mut at = rng.i64(gap.0..gap.1);
            while at < length {
                strikes.push((at, strike(rng)));
                at += rng.i64(gap.0..gap.1);
            }
        };
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x0057_121E);
        if faults.has(Fault::Failover) {
            every(&mut rng, (90 * SECOND, 200 * SECOND), &|r| {
                Strike::Failover {
                    stale_for: Duration::from_millis(r.u64(1500..5000)),
                }
            });
        }
        if faults.has(Fault::Drops) {
            every(&mut rng, (40 * SECOND, 120 * SECOND), &|_| Strike::Drop);
        }
        if faults.has(Fault::Held) {
            every(&mut rng, (15 * SECOND, 45 * SECOND), &|r| Strike::Hold {
                hold: Duration::from_millis(r.u64(200..1200)),
            });
        }
        if faults.has(Fault::Bursts) {
            every(&mut rng, (30 * SECOND, 90 * SECOND), &|r| Strike::Burst {
                window: r.i64(5 * SECOND..40 * SECOND),
            });
        }
        strikes.sort_by_key(|s| s.0);
        Schedule {
            host_offset,
            skews,
            lag_max: if faults.has(Fault::Lag) { LAG_MAX } else { 0 },
            strikes,
        }
    }

    /// `3 failovers, 5 drops, ...` for the report.
    pub fn summary(&self) -> String {
        let count = |f: fn(&Strike) -> bool| self.strikes.iter().filter(|s| f(&s.1)).count();
        let mut parts = Vec::new();
        for (name, n) in [
            ("failovers", count(|s| matches!(s, Strike::Failover { .. }))),
            ("drops", count(|s| matches!(s, Strike::Drop))),
            ("holds", count(|s| matches!(s, Strike::Hold { .. }))),
            ("bursts", count(|s| matches!(s, Strike::Burst { .. }))),
        ] {
            if n > 0 {
                parts.push(format!("{n} {name}"));
            }
        }
        if self.lag_max > 0 {
            parts.push(format!("lag ≤ {} ms", self.lag_max));
        }
        if self.skews != [0, 0] || self.host_offset != HOST_LEAD {
            parts.push(format!(
                "Marathon {:+} ms from the host, leaders {:+}/{:+} ms",
                self.host_offset, self.skews[0], self.skews[1]
            ));
        }
        parts.join(", ")
    }
}
