//! Soak benchmark: the real exporter, in-process, against a fake Marathon streaming a steady rate of
//! realistic events with constant task churn (launches, kills, failures, LOSTs, unreachable
//! episodes that the exporter's timers expunge) and app churn (apps deleted, new ones created, some
//! deleted ids created again), scraped now and then. It samples this process's resident memory and
//! asserts it is flat after warm-up. Run: `cargo bench --bench soak -- --duration 3600` for an hour
//! (the default with `--bench`); `cargo test --benches` runs a 16-second version.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use marathon_sim::fake::{FakeMarathon, FakeOptions, payload};
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::Config;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::time::{MissedTickBehavior, interval};

const MIB: f64 = 1024.0 * 1024.0;
/// Real time between two batches of events.
const STEP: Duration = Duration::from_millis(100);
/// Upper bound for the exporter to become ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// Sizes and durations of one run.
#[derive(Clone, Debug)]
struct Plan {
    full: bool,
    duration: Duration,
    /// Memory is judged against its value at the end of this.
    warm_up: Duration,
    sample_every: Duration,
    /// Rows of the printed table are this far apart.
    row_every: Duration,
    /// Events per second pushed to the stream.
    rate: u64,
    apps: usize,
    tasks_per_app: usize,
    /// `--tombstone.ttl` and `--app.retention` of the exporter.
    retention: Duration,
    /// `expungeAfterSeconds` of every app (inactiveAfterSeconds is 0).
    expunge_after_s: u64,
    /// One app is deleted and one created this often.
    app_churn_every: Duration,
    resync: Duration,
    /// Allowed growth past the warm-up value, as a fraction of it, plus a fixed slack.
    tolerance: f64,
    slack_mib: f64,
}

impl Plan {
    fn new(full: bool, duration: Option<Duration>) -> Plan {
        if full {
            let duration = duration.unwrap_or(Duration::from_secs(3600));
            let warm_up = (duration / 4).min(Duration::from_secs(600));
            let retention = (warm_up / 5).min(Duration::from_secs(120));
            Plan {
                full,
                duration,
                warm_up,
                sample_every: Duration::from_secs(10),
                row_every: Duration::from_secs(60),
                rate: 300,
                apps: 40,
                tasks_per_app: 8,
                retention,
                expunge_after_s: (retention.as_secs() / 2).max(1),
                app_churn_every: Duration::from_secs(5),
                resync: Duration::from_secs(60),
                tolerance: 0.10,
                slack_mib: 2.0,
            }
        } else {
            let duration = duration.unwrap_or(Duration::from_secs(16));
            Plan {
                full,
                duration,
                warm_up: duration * 3 / 8,
                sample_every: Duration::from_millis(250),
                row_every: Duration::from_secs(1),
                rate: 300,
                apps: 10,
                tasks_per_app: 5,
                retention: Duration::from_millis(1500),
                expunge_after_s: 1,
                app_churn_every: Duration::from_millis(400),
                resync: Duration::from_secs(3),
                tolerance: 0.15,
                slack_mib: 4.0,
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Staging,
    Starting,
    Running,
    Killing,
    Unreachable,
}

impl Phase {
    fn status(self) -> &'static str {
        match self {
            Phase::Staging => "TASK_STAGING",
            Phase::Starting => "TASK_STARTING",
            Phase::Running => "TASK_RUNNING",
            Phase::Killing => "TASK_KILLING",
            Phase::Unreachable => "TASK_UNREACHABLE",
        }
    }

    fn condition(self) -> &'static str {
        match self {
            Phase::Staging => "Staging",
            Phase::Starting => "Starting",
            Phase::Running => "Running",
            Phase::Killing => "Killing",
            Phase::Unreachable => "Unreachable",
        }
    }
}

struct SimTask {
    n: u32,
    phase: Phase,
    staged_at: i64,
    /// When the current unreachable episode began.
    since: i64,
}

struct SimApp {
    id: String,
    tasks: Vec<SimTask>,
}

/// A cluster whose tasks and apps keep changing; what it does is pushed as events and mirrored in
/// `/v2/tasks` and `/v2/apps`.
struct Sim {
    rng: fastrand::Rng,
    apps: Vec<SimApp>,
    /// Recently deleted app ids, some of which are created again.
    deleted: VecDeque<String>,
    next_app: u64,
    next_task: u32,
    tasks_per_app: usize,
    expunge_after_s: u64,
    events: Vec<Value>,
}

impl Sim {
    fn new(plan: &Plan, now: i64) -> Sim {
        let mut sim = Sim {
            rng: fastrand::Rng::with_seed(7),
            apps: Vec::new(),
            deleted: VecDeque::new(),
            next_app: 0,
            next_task: 0,
            tasks_per_app: plan.tasks_per_app,
            expunge_after_s: plan.expunge_after_s,
            events: Vec::new(),
        };
        for _ in 0..plan.apps {
            let id = sim.new_app_id();
            let tasks = (0..plan.tasks_per_app)
                .map(|_| SimTask {
                    n: sim.task_number(),
                    phase: Phase::Running,
                    staged_at: now,
                    since: now,
                })
                .collect();
            sim.apps.push(SimApp { id, tasks });
        }
        sim
    }

    fn new_app_id(&mut self) -> String {
        self.next_app += 1;
        format!("/soak/team-{}/svc-{}", self.next_app % 7, self.next_app)
    }

    fn task_number(&mut self) -> u32 {
        self.next_task = self.next_task.wrapping_add(1);
        self.next_task
    }

    fn tasks(&self) -> usize {
        self.apps.iter().map(|a| a.tasks.len()).sum()
    }

    /// A status update and the instance event Marathon publishes with it.
    fn emit(&mut self, app: &str, n: u32, status: &str, condition: &str, now: i64) {
        let task = payload::task_id(app, n, 1);
        self.events
            .push(payload::status_update(&task, app, status, now));
        let instance = payload::instance_id(app, n);
        self.events
            .push(payload::instance_changed(&instance, app, condition, now));
    }

    /// One change somewhere in the cluster.
    fn act(&mut self, now: i64) {
        let a = self.rng.usize(..self.apps.len());
        let id = self.apps[a].id.clone();
        if self.apps[a].tasks.len() < self.tasks_per_app {
            let n = self.task_number();
            self.apps[a].tasks.push(SimTask {
                n,
                phase: Phase::Staging,
                staged_at: now,
                since: now,
            });
            self.emit(&id, n, "TASK_STAGING", "Staging", now);
            return;
        }
        let t = self.rng.usize(..self.apps[a].tasks.len());
        let task = &self.apps[a].tasks[t];
        let (n, phase) = (task.n, task.phase);
        let roll = self.rng.u8(..100);
        let next = match phase {
            Phase::Staging => Some(Phase::Starting),
            Phase::Starting => Some(Phase::Running),
            Phase::Killing => None,
            Phase::Unreachable if roll < 60 => Some(Phase::Running),
            // Left alone: the exporter's timer expunges it; Marathon then forgets it too.
            Phase::Unreachable => {
                if now - task.since >= (self.expunge_after_s * 1000) as i64 {
                    self.apps[a].tasks.swap_remove(t);
                }
                return;
            }
            Phase::Running => match roll {
                0..=34 => Some(Phase::Running),
                35..=64 => Some(Phase::Killing),
                65..=79 => {
                    self.apps[a].tasks.swap_remove(t);
                    self.emit(&id, n, "TASK_FAILED", "Failed", now);
                    return;
                }
                80..=87 => {
                    self.apps[a].tasks.swap_remove(t);
                    self.emit(&id, n, "TASK_FINISHED", "Finished", now);
                    return;
                }
                88..=93 => {
                    self.apps[a].tasks.swap_remove(t);
                    self.emit(&id, n, "TASK_LOST", "Gone", now);
                    return;
                }
                _ => Some(Phase::Unreachable),
            },
        };
        match next {
            Some(phase) => {
                let task = &mut self.apps[a].tasks[t];
                if phase == Phase::Unreachable {
                    task.since = now;
                }
                task.phase = phase;
                self.emit(&id, n, phase.status(), phase.condition(), now);
            }
            None => {
                self.apps[a].tasks.swap_remove(t);
                self.emit(&id, n, "TASK_KILLED", "Killed", now);
            }
        }
    }

    /// Deletes one app (its tasks are killed first) and creates another, sometimes under an id
    /// deleted earlier.
    fn churn_apps(&mut self, now: i64) {
        let a = self.rng.usize(..self.apps.len());
        let app = self.apps.swap_remove(a);
        for task in &app.tasks {
            self.emit(&app.id, task.n, "TASK_KILLED", "Killed", now);
        }
        self.events.push(payload::app_terminated(&app.id, now));
        let id = if self.deleted.len() > 4 && self.rng.u8(..100) < 30 {
            self.deleted.pop_front().expect("not empty")
        } else {
            self.new_app_id()
        };
        self.deleted.push_back(app.id);
        if self.deleted.len() > 16 {
            self.deleted.pop_front();
        }
        let strategy = Some((0, self.expunge_after_s));
        self.events.push(payload::api_post_app(&id, strategy, now));
        self.apps.push(SimApp {
            id,
            tasks: Vec::new(),
        });
    }

    fn tasks_body(&self) -> Vec<Value> {
        self.apps
            .iter()
            .flat_map(|app| {
                app.tasks.iter().map(|t| {
                    let id = payload::task_id(&app.id, t.n, 1);
                    payload::task(&id, &app.id, t.phase.status(), t.staged_at)
                })
            })
            .collect()
    }

    fn apps_body(&self) -> Vec<Value> {
        let strategy = Some((0, self.expunge_after_s));
        self.apps
            .iter()
            .map(|app| payload::app(&app.id, self.tasks_per_app as u32, strategy))
            .collect()
    }
}

/// What one sample saw.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    at: Duration,
    rss: u64,
    tracked: f64,
    apps: usize,
    events: f64,
    connects: f64,
    pushed: u64,
    sim_tasks: usize,
}

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Reads the figures the soak follows from a scrape.
fn read_scrape(text: &str, sample: &mut Sample) {
    let mut apps = std::collections::HashSet::new();
    let mut events = 0.0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        if series == "marathon_exporter_tracked_tasks" {
            sample.tracked = value;
        } else if series.starts_with("marathon_exporter_events_total{") {
            events += value;
        } else if series == "marathon_exporter_stream_connects_total{result=\"success\"}" {
            sample.connects = value;
        } else if let Some(labels) = series.strip_prefix("marathon_app_tasks{")
            && let Some(app) = labels.split(',').find_map(|l| l.strip_prefix("app="))
        {
            apps.insert(app.to_owned());
        }
    }
    sample.events = events;
    sample.apps = apps.len();
}

async fn wait_ready(exporter: &Exporter, fake: &FakeMarathon) {
    let deadline = Instant::now() + READY_WITHIN;
    while !(exporter.readiness().is_ready() && fake.connected_streams() > 0) {
        assert!(
            Instant::now() < deadline,
            "the exporter was not ready within {READY_WITHIN:?}: {:?}",
            exporter.readiness().reason()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(plan: &Plan) -> Vec<Sample> {
    let fake = FakeMarathon::start_with(FakeOptions {
        heartbeat: Some(Duration::from_secs(10)),
        ..FakeOptions::default()
    })
    .await
    .expect("fake Marathon starts");
    let mut sim = Sim::new(plan, payload::now_ms());
    fake.set_apps(sim.apps_body());
    fake.set_tasks(sim.tasks_body());

    let mut config = Config::for_tests(url::Url::parse(&fake.url()).expect("valid URL"));
    config.tombstone_ttl = plan.retention;
    config.app_retention = plan.retention;
    config.resync_interval = plan.resync;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let exporter = Exporter::start_on(config, listener)
        .await
        .expect("exporter starts");
    wait_ready(&exporter, &fake).await;
    let client = reqwest::Client::new();
    let metrics_url = format!("http://{}/metrics", exporter.local_addr());

    let started = Instant::now();
    let mut pushed = 0u64;
    let mut samples = Vec::new();
    let mut next_sample = Duration::ZERO;
    let mut next_row = Duration::ZERO;
    print_header(plan);
    let mut next_churn = plan.app_churn_every;
    let mut step = interval(STEP);
    step.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        step.tick().await;
        let elapsed = started.elapsed();
        if elapsed >= plan.duration {
            break;
        }
        let now = payload::now_ms();
        if elapsed >= next_churn {
            sim.churn_apps(now);
            next_churn += plan.app_churn_every;
        }
        let due = (plan.rate as f64 * elapsed.as_secs_f64()) as u64;
        while pushed + (sim.events.len() as u64) < due {
            sim.act(now);
        }
        for event in sim.events.drain(..) {
            fake.push_event(&event);
            pushed += 1;
        }
        fake.set_apps(sim.apps_body());
        fake.set_tasks(sim.tasks_body());
        if elapsed >= next_sample {
            next_sample += plan.sample_every;
            let mut sample = Sample {
                at: elapsed,
                rss: rss_bytes().unwrap_or(0),
                pushed,
                sim_tasks: sim.tasks(),
                ..Sample::default()
            };
            let text = client
                .get(&metrics_url)
                .send()
                .await
                .expect("scrape")
                .text()
                .await
                .expect("scrape body");
            read_scrape(&text, &mut sample);
            if elapsed >= next_row {
                next_row += plan.row_every;
                print_row(plan, &sample);
            }
            samples.push(sample);
        }
    }
    exporter.shutdown().await;
    fake.shutdown().await;
    samples
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB
}

/// The plan and the table header, printed before the run.
fn print_header(plan: &Plan) {
    println!(
        "soak: {:?} at {} events/s, {} apps x {} tasks, app churn every {:?}, tombstone TTL and app retention {:?}, warm-up {:?}",
        plan.duration,
        plan.rate,
        plan.apps,
        plan.tasks_per_app,
        plan.app_churn_every,
        plan.retention,
        plan.warm_up
    );
    let unit = if plan.full { "min" } else { "s" };
    println!(
        "{unit:>6} {:>9} {:>14} {:>10} {:>6} {:>12}",
        "RSS MiB", "tracked tasks", "sim tasks", "apps", "events"
    );
}

/// One row of the table, printed as the run goes.
fn print_row(plan: &Plan, s: &Sample) {
    use std::io::Write as _;
    let at = s.at.as_secs_f64() / plan.row_every.as_secs_f64();
    println!(
        "{:>6.0} {:>9.1} {:>14} {:>10} {:>6} {:>12}",
        at.floor(),
        mib(s.rss),
        s.tracked,
        s.sim_tasks,
        s.apps,
        s.events
    );
    let _ = std::io::stdout().flush();
}

/// Prints the table and the verdict; panics when memory was not flat or the exporter fell behind.
fn report(plan: &Plan, samples: &[Sample]) {
    assert!(samples.len() >= 8, "too few samples: {}", samples.len());
    let last = samples.last().expect("samples");
    // The value at the end of warm-up: the largest over its last tenth (one sample at least).
    let window = plan.warm_up / 10;
    let baseline = samples
        .iter()
        .filter(|s| s.at <= plan.warm_up && s.at + window >= plan.warm_up)
        .map(|s| s.rss)
        .max()
        .or_else(|| samples.iter().find(|s| s.at >= plan.warm_up).map(|s| s.rss))
        .expect("a sample at the end of warm-up");
    let half = plan.duration / 2;
    let tail: Vec<&Sample> = samples.iter().filter(|s| s.at >= half).collect();
    let peak = tail
        .iter()
        .map(|s| s.rss)
        .max()
        .expect("samples in the last half");
    let limit = mib(baseline) * (1.0 + plan.tolerance) + plan.slack_mib;
    println!(
        "soak: RSS at end of warm-up {:.1} MiB; max over the last half {:.1} MiB ({:+.1} %); limit {:.1} MiB (+{:.0} % + {} MiB); {} events pushed, {} decoded",
        mib(baseline),
        mib(peak),
        (peak as f64 / baseline as f64 - 1.0) * 100.0,
        limit,
        plan.tolerance * 100.0,
        plan.slack_mib,
        last.pushed,
        last.events
    );
    assert!(
        mib(peak) <= limit,
        "memory grew after warm-up: {:.1} MiB > {limit:.1} MiB",
        mib(peak)
    );
    // The map follows the live population: never more than it plus what is mid-churn.
    let live = (plan.apps * plan.tasks_per_app) as f64;
    for s in &tail {
        assert!(
            s.tracked <= live * 1.5 + 20.0,
            "tracked tasks {} at {:?} for a cluster of {live}",
            s.tracked,
            s.at
        );
        assert!(
            s.apps <= plan.apps * 3,
            "{} apps known at {:?} for a cluster of {}",
            s.apps,
            s.at,
            plan.apps
        );
    }
    assert!(last.tracked > 0.0, "nothing tracked at the end");
    assert_eq!(
        last.connects, 1.0,
        "the stream was reconnected (dropped as a slow consumer?)"
    );
    assert!(
        last.events >= last.pushed as f64 * 0.95,
        "the exporter fell behind: {} of {} events decoded",
        last.events,
        last.pushed
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench");
    let duration = args
        .iter()
        .position(|a| a == "--duration")
        .and_then(|i| args.get(i + 1))
        .map(|s| {
            Duration::from_secs(s.parse().unwrap_or_else(|_| {
                panic!("--duration takes whole seconds, not {s:?}");
            }))
        });
    let plan = Plan::new(full, duration);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let samples = runtime.block_on(run(&plan));
    report(&plan, &samples);
}
