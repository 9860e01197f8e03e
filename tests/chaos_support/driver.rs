//! The run: advances the simulation in fast simulated time, publishes its state and events to the
//! live Marathons through the faults of the schedule, and feeds every event, as emitted, to the
//! reference.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use marathon_sim::Scenario;
use marathon_sim::format_timestamp;
use marathon_task_exporter::marathon::time::parse_timestamp;
use marathon_task_exporter::state::Millis;
use serde_json::Value;
use tokio::time::{Instant, MissedTickBehavior, interval};

use super::Plan;
use super::faults::{Schedule, Strike};
use super::marathons::{Bodies, Marathons};
use super::reference::Reference;

/// Real time between two steps of the simulation.
const STEP: Duration = Duration::from_millis(10);
/// The most real time one step simulates: a harness held up makes a burst, not a leap in time.
const MAX_STEP: Duration = Duration::from_millis(40);
/// How long the exporter may take to follow a failover to the new leader.
const FOLLOW: Duration = Duration::from_secs(15);
/// The last request of the exporter's snapshots.
const SNAPSHOT_LAST: &str = "/v2/deployments";
/// Events a burst holds before it is pushed anyway: a stream queues 4096 frames before the fake,
/// like Marathon, drops it as a slow consumer (which would lose events).
const BURST_CAP: usize = 2500;

/// What was emitted and what reached a stream.
#[derive(Debug, Default)]
pub struct Stats {
    pub emitted: u64,
    /// Events queued to a connected stream.
    pub delivered: u64,
    /// Events pushed while no stream was connected.
    pub lost: u64,
    /// Every task id seen in a body or an event.
    pub tasks: HashSet<String>,
}

pub struct Driver {
    pub scenario: Scenario,
    pub marathons: Marathons,
    pub reference: Reference,
    pub stats: Stats,
    schedule: Schedule,
    next: usize,
    start: Millis,
    /// Simulated time reached (the cluster's clock, before each Marathon's own skew).
    sim: Millis,
    speed: f64,
    rng: fastrand::Rng,
    /// Event-bus lag: events due to be pushed at a real instant, in order.
    lag: VecDeque<(Instant, Vec<Value>)>,
    /// A burst under way, until this simulated time; what it holds back.
    burst: Option<Millis>,
    held: Vec<Value>,
    held_dirty: bool,
    /// A failover under way: the simulation waits (until this instant at most) for the exporter
    /// to attach to the new leader and read a snapshot from it (the leader had answered this many
    /// `/v2/deployments`, the last request of a snapshot, before).
    following: Option<(Instant, usize)>,
}

impl Driver {
    /// A run of `scenario` whose Marathons serve `bodies`, its state now.
    pub fn new(
        scenario: Scenario,
        marathons: Marathons,
        reference: Reference,
        schedule: Schedule,
        plan: &Plan,
        bodies: &Bodies,
    ) -> Driver {
        let start = scenario.now();
        let mut stats = Stats::default();
        let containers = bodies
            .pods
            .iter()
            .flat_map(|p| p["instances"].as_array().cloned().unwrap_or_default())
            .flat_map(|i| i["containers"].as_array().cloned().unwrap_or_default());
        for id in bodies
            .tasks
            .iter()
            .map(|t| t["id"].clone())
            .chain(containers.map(|c| c["containerId"].clone()))
        {
            if let Some(id) = id.as_str() {
                stats.tasks.insert(id.to_owned());
            }
        }
        let driver = Driver {
            scenario,
            marathons,
            reference,
            stats,
            schedule,
            next: 0,
            start,
            sim: start,
            speed: plan.speed,
            rng: fastrand::Rng::with_seed(plan.seed ^ 0x1A6),
            lag: VecDeque::new(),
            burst: None,
            held: Vec::new(),
            held_dirty: false,
            following: None,
        };
        driver.marathons.set_clocks(driver.clocks());
        driver
    }

    pub fn into_parts(self) -> (Marathons, Stats) {
        (self.marathons, self.stats)
    }

    /// Each Marathon's clock: simulated time plus its own skew. It moves only with the simulation,
    /// so it never runs ahead of the state served (as a clock left running while the simulation
    /// waits, for a failover or a harness held up, would: its events would then come stamped
    /// before a time it already told).
    pub fn clocks(&self) -> [i64; 2] {
        [0, 1].map(|i| self.sim + self.schedule.skews[i])
    }

    /// Runs `length` simulated ms, then on to the first quiet moment (no unreachable task), and
    /// publishes everything held back; every fault is over when this returns.
    pub async fn run(&mut self, length: Millis) -> Result<(), String> {
        let mut every = interval(STEP);
        every.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last = Instant::now();
        loop {
            every.tick().await;
            let now = Instant::now();
            let dt = now.duration_since(last).min(MAX_STEP);
            last = now;
            self.marathons.tick(now);
            self.pump(now);
            if let Some((deadline, snapshots)) = self.following {
                // Time stands still meanwhile: the snapshot the exporter takes on attaching is
                // stamped on a connection clock that runs on while the simulation's does not.
                // Resuming before it is read would let events come stamped before that stamp.
                let leader = self.marathons.leader();
                if leader.connected_streams() == 0
                    || leader.count_requests(SNAPSHOT_LAST) <= snapshots
                {
                    if now >= deadline {
                        return Err(format!(
                            "the exporter did not follow a failover within {FOLLOW:?}"
                        ));
                    }
                    continue;
                }
                self.following = None;
            }
            let target = self.sim + (dt.as_secs_f64() * 1000.0 * self.speed) as Millis;
            if self.strike(target, now) {
                continue;
            }
            self.sim = target;
            // The clock first: what is published from here on is the state at or before it.
            self.marathons.set_clocks(self.clocks());
            let events = self.scenario.advance_to(target);
            self.emit(events, now);
            if self.sim - self.start >= length && self.scenario.is_quiet() && self.burst.is_none() {
                break;
            }
        }
        self.flush();
        self.marathons.settle();
        Ok(())
    }

    /// Applies the strikes due by `target`; `true` when a failover now holds the simulation.
    fn strike(&mut self, target: Millis, now: Instant) -> bool {
        while let Some(&(at, strike)) = self.schedule.strikes.get(self.next) {
            if self.start + at > target {
                break;
            }
            self.next += 1;
            match strike {
                Strike::Failover { stale_for } => {
                    self.flush();
                    self.marathons.fail_over(stale_for);
                    let snapshots = self.marathons.leader().count_requests(SNAPSHOT_LAST);
                    self.following = Some((now + FOLLOW, snapshots));
                    return true;
                }
                Strike::Drop => self.marathons.leader().close_streams(),
                Strike::Hold { hold } => self.marathons.hold(hold),
                Strike::Burst { window } => {
                    if self.burst.is_none() {
                        self.burst = Some(self.start + at + window);
                    }
                }
            }
        }
        false
    }

    /// The events of one step, stamped by the leader's clock: to the reference at once, to the
    /// stream through the faults.
    fn emit(&mut self, mut events: Vec<Value>, now: Instant) {
        let skew = self.schedule.skews[self.marathons.leader_index()];
        for event in &mut events {
            if skew != 0 {
                let stamped = event["timestamp"].as_str().and_then(parse_timestamp);
                if let Some(ts) = stamped {
                    event["timestamp"] = format_timestamp(ts + skew).into();
                }
            }
            if let Some(task) = event["taskId"].as_str() {
                self.stats.tasks.insert(task.to_owned());
            }
        }
        if !events.is_empty() {
            self.reference.feed(&events);
        }
        self.stats.emitted += events.len() as u64;
        let dirty = self.scenario.take_dirty();
        if let Some(end) = self.burst {
            self.held.extend(events);
            self.held_dirty |= dirty;
            if self.sim >= end || self.held.len() >= BURST_CAP {
                self.end_burst(now);
            }
            return;
        }
        if dirty {
            self.publish();
        }
        self.send(events, now);
    }

    fn end_burst(&mut self, now: Instant) {
        self.burst = None;
        if std::mem::take(&mut self.held_dirty) {
            self.publish();
        }
        let held = std::mem::take(&mut self.held);
        self.send(held, now);
    }

    fn publish(&mut self) {
        let bodies = bodies(&self.scenario);
        self.marathons.publish(bodies);
    }

    /// To the stream now, or after the event-bus lag (in order either way).
    fn send(&mut self, events: Vec<Value>, now: Instant) {
        if events.is_empty() {
            return;
        }
        if self.schedule.lag_max == 0 {
            self.push(&events);
            return;
        }
        let lag = self.rng.i64(0..=self.schedule.lag_max) as f64 / self.speed;
        let due = now + Duration::from_secs_f64(lag / 1000.0);
        let due = self.lag.back().map_or(due, |(last, _)| due.max(*last));
        self.lag.push_back((due, events));
    }

    /// Pushes the lagging events due by `now`.
    fn pump(&mut self, now: Instant) {
        while self.lag.front().is_some_and(|(due, _)| *due <= now) {
            if let Some((_, events)) = self.lag.pop_front() {
                self.push(&events);
            }
        }
    }

    /// Publishes and pushes everything held back by a burst or the lag.
    fn flush(&mut self) {
        if self.burst.is_some() {
            self.end_burst(Instant::now());
        }
        while let Some((_, events)) = self.lag.pop_front() {
            self.push(&events);
        }
    }

    fn push(&mut self, events: &[Value]) {
        for event in events {
            if self.marathons.leader().push_event(event) > 0 {
                self.stats.delivered += 1;
            } else {
                self.stats.lost += 1;
            }
        }
    }
}

/// What the cluster's Marathons serve now.
pub fn bodies(scenario: &Scenario) -> Bodies {
    Bodies {
        tasks: scenario.tasks_body(),
        apps: scenario.apps_body(),
        pods: scenario.pods_body(),
        deployments: scenario.deployments_body(),
    }
}
