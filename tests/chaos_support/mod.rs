//! The chaos harness: the exporter, live on loopback, against the demo's simulated cluster served
//! by two fake Marathons through random faults, compared with two ground truths. Used by
//! `tests/chaos.rs` (short) and `benches/chaos.rs` (long).
//!
//! Truths: the simulator's own record (how each task ended, which are active at the end) and a
//! reference run (every event emitted, through the pure pipeline after the same first snapshot).
//! Time: simulated Marathon time runs [`SPEED`] times faster than real time, which is the
//! exporter's local clock; fault delays are drawn in simulated time (or real time for what acts on
//! the exporter's own timers: held snapshots, a deposed leader's stale period).
#![allow(dead_code)]

pub mod compare;
mod driver;
pub mod faults;
mod marathons;
mod reference;

use std::time::Duration;

use marathon_sim::Scenario;
use marathon_sim::fake::payload;
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::Config;
use marathon_task_exporter::state::Millis;
use tokio::time::{Instant, sleep};

use self::compare::{Samples, parse, sum, value};
use self::driver::Driver;
use self::faults::Schedule;
pub use self::faults::{Fault, Faults};
use self::marathons::Marathons;
use self::reference::Reference;

/// Simulated seconds per real second.
pub const SPEED: f64 = 25.0;
/// Instances per app relative to the demo's full cluster (about 500 tasks).
pub const SCALE: f64 = 0.5;
/// Simulated seconds of a short run: one cycle of incidents, up to the quiet after both
/// partitioned agents are back (the run goes on to the first moment no task is unreachable).
pub const SHORT: i64 = 500;
/// The reference is read this long (Marathon time) after its last event: no timer is due then.
const SETTLE: Millis = 30_000;
/// Bound of every wait at the end of a run.
const PATIENCE: Duration = Duration::from_secs(30);

/// One run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub seed: u64,
    pub faults: Faults,
    /// Simulated seconds, at least.
    pub seconds: i64,
    pub speed: f64,
    pub scale: f64,
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    pub plan: Plan,
    /// The strikes of the schedule, in words.
    pub strikes: String,
    pub events: u64,
    pub lost: u64,
    pub tasks: usize,
    /// Simulated and real time the run took.
    pub simulated: Duration,
    pub real: Duration,
    /// Series that differ, with both values; empty when the exporter matched every truth.
    pub drift: Vec<String>,
}

impl Outcome {
    pub fn header(&self) -> String {
        let p = &self.plan;
        format!(
            "seed {} (CHAOS_SEED={} replays it), faults {}{}: {} events ({} lost), {} tasks, {:.0} s simulated in {:.1} s",
            p.seed,
            p.seed,
            p.faults,
            if self.strikes.is_empty() {
                String::new()
            } else {
                format!(" [{}]", self.strikes)
            },
            self.events,
            self.lost,
            self.tasks,
            self.simulated.as_secs_f64(),
            self.real.as_secs_f64(),
        )
    }

    /// A line of the results table: seed, faults, simulated and real time, events, tasks, drift.
    pub fn row(&self) -> String {
        let drift = if self.drift.is_empty() {
            "none".to_owned()
        } else {
            self.summary()
        };
        format!(
            "| {} | {} | {:.1} h | {:.1} min | {} ({} lost) | {} | {} |",
            self.plan.seed,
            self.plan.faults,
            self.simulated.as_secs_f64() / 3600.0,
            self.real.as_secs_f64() / 60.0,
            self.events,
            self.lost,
            self.tasks,
            drift
        )
    }

    /// The drift by family: `expunges_total 4, time_to_running_seconds_bucket 20`.
    pub fn summary(&self) -> String {
        let mut families: Vec<(String, usize)> = Vec::new();
        for line in &self.drift {
            let family = match line.split(['{', ':', ' ']).next().unwrap_or_default() {
                series if series.starts_with("marathon_") => series["marathon_".len()..].to_owned(),
                "harness" => "harness".to_owned(),
                _ => "unaccounted".to_owned(),
            };
            match families.iter_mut().find(|(f, _)| *f == family) {
                Some((_, n)) => *n += 1,
                None => families.push((family, 1)),
            }
        }
        let parts: Vec<String> = families.iter().map(|(f, n)| format!("{f} {n}")).collect();
        parts.join(", ")
    }

    /// The header, then the drift (the first 60 series).
    pub fn report(&self) -> String {
        let mut out = self.header();
        if self.drift.is_empty() {
            out.push_str("\nno drift");
        } else {
            out.push_str(&format!("\ndrift by family: {}", self.summary()));
        }
        for line in self.drift.iter().take(60) {
            out.push_str("\n  ");
            out.push_str(line);
        }
        if self.drift.len() > 60 {
            out.push_str(&format!("\n  ... and {} more", self.drift.len() - 60));
        }
        out
    }
}

/// Seeds to run: `CHAOS_SEED=n` (one), `CHAOS_SEEDS=a,b,c`, `count` new ones with `CHAOS_RANDOM=1`,
/// else `count` fixed ones.
pub fn seeds(count: usize) -> Vec<u64> {
    let read = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(seed) = read("CHAOS_SEED") {
        return vec![seed.trim().parse().expect("CHAOS_SEED is a number")];
    }
    if let Some(seeds) = read("CHAOS_SEEDS") {
        return seeds
            .split(',')
            .map(|s| s.trim().parse().expect("CHAOS_SEEDS is a list of numbers"))
            .collect();
    }
    if read("CHAOS_RANDOM").is_some() {
        return (0..count).map(|_| fastrand::u64(..1_000_000)).collect();
    }
    // Fixed seeds by default, so that a run in CI is the one that passed here: the exporter's
    // timing still varies, the simulation does not. `CHAOS_RANDOM=1` draws new ones.
    FIXED_SEEDS.iter().copied().cycle().take(count).collect()
}

/// The seeds a run takes unless told otherwise (see [`seeds`]).
const FIXED_SEEDS: [u64; 4] = [11, 12, 13, 14];

/// Faults named by `CHAOS_FAULTS` (`lag,drops`, or `none`), if set.
pub fn faults_from_env() -> Option<Faults> {
    let names = std::env::var("CHAOS_FAULTS").ok()?;
    let mut chosen = Vec::new();
    for name in names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != "none")
    {
        let fault = Fault::ALL.iter().find(|f| f.name() == name);
        chosen.push(*fault.unwrap_or_else(|| panic!("CHAOS_FAULTS: no fault {name}")));
    }
    Some(Faults::of(&chosen))
}

/// Simulated seconds per run: `CHAOS_SECONDS`, or `default`.
pub fn seconds(default: i64) -> i64 {
    std::env::var("CHAOS_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Runs `plan`: simulation, faults, quiescence, comparison.
pub async fn run(plan: Plan) -> Outcome {
    let began = std::time::Instant::now();
    let schedule = Schedule::new(plan.seed, plan.faults, plan.seconds * 1000);
    let strikes = schedule.summary();
    eprintln!(
        "chaos: seed {} faults {} [{strikes}] (CHAOS_SEED={} replays it)",
        plan.seed, plan.faults, plan.seed,
    );
    let start = payload::now_ms() + schedule.host_offset;
    let mut scenario = if plan.faults.has(Fault::Pods) {
        Scenario::new(plan.seed, start, plan.scale)
    } else {
        Scenario::without_pods(plan.seed, start, plan.scale)
    };
    scenario.take_dirty();
    let bodies = driver::bodies(&scenario);
    let marathons = Marathons::start(bodies.clone()).await;
    let config = config(&marathons.urls());
    let reference = Reference::new(&config, &bodies, start + schedule.skews[0]);
    let mut driver = Driver::new(scenario, marathons, reference, schedule, &plan, &bodies);
    let exporter = start_exporter(config).await;
    let mut drift = Vec::new();
    if let Err(e) = driver.run(plan.seconds * 1000).await {
        drift.push(format!("harness: {e}"));
    }
    let simulated = Duration::from_millis((driver.scenario.now() - start) as u64);
    drift.extend(settle_and_compare(&exporter, &mut driver, plan.faults.lossless()).await);
    exporter.shutdown().await;
    let (marathons, stats) = driver.into_parts();
    marathons.shutdown().await;
    Outcome {
        plan,
        strikes,
        events: stats.emitted,
        lost: stats.lost,
        tasks: stats.tasks.len(),
        simulated,
        real: began.elapsed(),
        drift,
    }
}

/// The exporter's configuration: both Marathons, a resync every second (so that several race the
/// stream), reconnects within a second.
fn config(urls: &[String; 2]) -> Config {
    let parse = |u: &String| url::Url::parse(u).expect("a fake's URL");
    let mut config = Config::for_tests(parse(&urls[0]));
    config.marathon_urls = urls.iter().map(parse).collect();
    config.resync_interval = Duration::from_secs(1);
    config.backoff_max = Duration::from_secs(1);
    // Simulated time runs `SPEED` times faster than the exporter's: the few milliseconds it takes
    // to read and apply a chunk are a good part of a simulated second, on top of the event-bus lag
    // (at most 1.5 s). The removal delay covers both, as 2 s covers a real Marathon's lag.
    config.removal_delay = Duration::from_secs(4);
    config
}

async fn start_exporter(config: Config) -> Exporter {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("a loopback port");
    let exporter = Exporter::start_on(config, listener)
        .await
        .expect("the exporter starts");
    let deadline = Instant::now() + PATIENCE;
    while !exporter.readiness().is_ready() {
        assert!(
            Instant::now() < deadline,
            "the exporter is not ready after {PATIENCE:?}"
        );
        sleep(Duration::from_millis(10)).await;
    }
    exporter
}

async fn scrape(exporter: &Exporter) -> Samples {
    let url = format!("http://{}/metrics", exporter.local_addr());
    let body = reqwest::get(url).await.expect("a scrape").text().await;
    parse(&body.expect("a scrape body"))
}

/// Waits (bounded) until `done` holds for a scrape; returns that scrape, or an error naming `what`.
async fn until(
    exporter: &Exporter,
    what: &str,
    mut done: impl FnMut(&Samples) -> bool,
) -> Result<Samples, String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let samples = scrape(exporter).await;
        if done(&samples) {
            return Ok(samples);
        }
        if Instant::now() >= deadline {
            return Err(format!("harness: {what} not within {PATIENCE:?}"));
        }
        sleep(Duration::from_millis(50)).await;
    }
}

/// Every delivered event decoded, then three more snapshots applied (the last requested after the
/// last event, and every removal delay of the rules over), then compared with both truths until
/// they match or the patience runs out.
async fn settle_and_compare(
    exporter: &Exporter,
    driver: &mut Driver,
    lossless: bool,
) -> Vec<String> {
    let delivered = driver.stats.delivered as f64;
    let decoded = |s: &Samples| {
        sum(s, "marathon_exporter_events_total", &[])
            - sum(
                s,
                "marathon_exporter_events_total",
                &["type=\"event_stream_attached\""],
            )
    };
    let resyncs = |s: &Samples| value(s, "marathon_exporter_resyncs_total{result=\"success\"}");
    let seen = match until(exporter, "every delivered event decoded", |s| {
        decoded(s) >= delivered
    })
    .await
    {
        Ok(seen) => seen,
        Err(e) => return vec![e],
    };
    let after = resyncs(&seen) + 3.0;
    if let Err(e) = until(exporter, "three snapshots after the last event", |s| {
        resyncs(s) >= after
    })
    .await
    {
        return vec![e];
    }
    let reference = parse(
        &driver
            .reference
            .render_at(driver.reference.latest() + SETTLE),
    );
    let active = driver.scenario.active_tasks();
    let truth = driver.scenario.truth().clone();
    let lost = driver.stats.lost;
    // Most telling first: corrections, then the simulator's record, then the reference.
    let compare = |live: &Samples| {
        let mut drift = Vec::new();
        if lossless {
            if lost > 0 {
                drift.push(format!(
                    "harness: {lost} events pushed while no stream was open, though no drop was planned"
                ));
            }
            let corrections = live.iter().filter(|(k, v)| {
                k.starts_with("marathon_exporter_resync_corrections_total") && **v != 0.0
            });
            for (series, n) in corrections {
                drift.push(format!("{series}: {n} with no event lost"));
            }
        }
        drift.extend(compare::gauges_against_truth(live, &active));
        if lossless {
            drift.extend(compare::counters_against_truth(live, &truth));
            drift.extend(compare::against_reference(live, &reference));
        } else {
            drift.extend(compare::lossy_against_reference(live, &reference));
        }
        drift
    };
    let deadline = Instant::now() + PATIENCE / 3;
    loop {
        let drift = compare(&scrape(exporter).await);
        if drift.is_empty() || Instant::now() >= deadline {
            return drift;
        }
        sleep(Duration::from_millis(250)).await;
    }
}

/// Runs every seed of [`seeds`] with `faults` (`None`: drawn from each seed) for [`SHORT`] simulated
/// seconds (or `CHAOS_SECONDS`); fails with every report if any run drifted.
pub async fn check(faults: Option<Faults>) {
    let mut failed = Vec::new();
    for seed in seeds(1) {
        let plan = Plan {
            seed,
            faults: faults.unwrap_or_else(|| Faults::random(seed)),
            seconds: seconds(SHORT),
            speed: SPEED,
            scale: SCALE,
        };
        let outcome = run(plan).await;
        eprintln!("chaos: {}", outcome.header());
        if !outcome.drift.is_empty() {
            failed.push(outcome.report());
        }
    }
    assert!(failed.is_empty(), "drift found:\n{}", failed.join("\n\n"));
}
