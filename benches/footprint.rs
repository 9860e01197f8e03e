//! Size and latency figures of a large cluster: resident memory per tracked task at 200,000 tasks
//! over 5,000 apps (tracked event by event, and seeded from one `/v2/tasks` snapshot, each measured
//! in a fresh process so that neither inherits the other's allocator state), the time to parse and
//! apply a `/v2/tasks` snapshot of 100,000 tasks, and the time to render `/metrics` for that
//! cluster. Run: `cargo bench --bench footprint` (`cargo test --benches` runs it on a small
//! cluster, as a smoke test).

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use marathon_sim::fake::payload;
use marathon_task_exporter::marathon::api::parse_tasks;
use marathon_task_exporter::metrics::Metrics;

use marathon_task_exporter::marathon::ids::parse_task_id;
use marathon_task_exporter::state::{
    Effects, Engine, Input, MesosState, Settings, Snapshot, Status, StatusUpdate, Tally,
};

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A `/v2/tasks` body of `tasks` running tasks over `apps` apps, written entry by entry (no large
/// transient allocation).
fn tasks_body(tasks: usize, apps: usize) -> Vec<u8> {
    let now = payload::now_ms();
    let mut body = b"{\"tasks\":[".to_vec();
    for i in 0..tasks {
        if i > 0 {
            body.push(b',');
        }
        let app = app_id(i % apps);
        let n = u32::try_from(i).expect("small");
        let task = payload::task(&payload::task_id(&app, n, 1), &app, "TASK_RUNNING", now);
        serde_json::to_writer(&mut body, &task).expect("serializable");
    }
    body.extend_from_slice(b"]}");
    body
}

/// The id of the `a`th app: 5,000 apps spread over 17 groups.
fn app_id(a: usize) -> String {
    format!("/bench/group-{}/app-{a}", a % 17)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Tracks `tasks` running tasks over `apps` apps, one status update at a time (no large transient
/// allocation, so the growth of the resident set is the map's own).
fn track(engine: &mut Engine, sink: &mut impl Effects, tasks: usize, apps: usize) {
    let now = payload::now_ms();
    for i in 0..tasks {
        let app = app_id(i % apps);
        let id = payload::task_id(&app, u32::try_from(i).expect("small"), 1);
        let task = parse_task_id(&id).expect("valid id");
        let update = StatusUpdate {
            task,
            app: &app,
            status: Status::Known(MesosState::Running),
            message: "",
            reason: None,
            timestamp: now,
            host: None,
        };
        engine.apply(&Input::Status(update), now, sink);
    }
}

/// Which measurement a child process makes (`FOOTPRINT_PART`), printing its figure in bytes.
const PART: &str = "FOOTPRINT_PART";

/// Resident bytes per task after tracking `tasks` tasks event by event, from a fresh engine.
fn per_task_tracked(tasks: usize, apps: usize) -> Option<f64> {
    let mut engine = Engine::new(Settings::default());
    let metrics = Metrics::new(engine.reader(), Arc::new(payload::now_ms));
    let mut sink = metrics.sink();
    let before = rss_bytes()?;
    track(&mut engine, &mut sink, tasks, apps);
    let after = rss_bytes()?;
    assert_eq!(engine.tasks(), tasks);
    assert_eq!(
        engine.known_apps(),
        apps,
        "the workload spreads over exactly `apps` apps"
    );
    Some(after.saturating_sub(before) as f64 / tasks as f64)
}

/// Resident bytes per task after seeding a fresh engine from one `/v2/tasks` body of `tasks` tasks,
/// then rendering `/metrics` `renders` times: the body is built first and kept to the end (the
/// exporter frees it, which would only lower the figure); the parsed snapshot is dropped before the
/// second reading, as the writer drops it, and so is each rendered text, as the server does.
fn per_task_seeded(tasks: usize, apps: usize, renders: usize) -> Option<f64> {
    let body = tasks_body(tasks, apps);
    let mut engine = Engine::new(Settings::default());
    let metrics = Metrics::new(engine.reader(), Arc::new(payload::now_ms));
    let mut sink = metrics.sink();
    let before = rss_bytes()?;
    let snapshot = Snapshot {
        requested_at: payload::now_ms(),
        answered_at: None,
        tasks: parse_tasks(&body).expect("valid body").tasks,
        apps: Vec::new(),
        pods: None,
        deployments: None,
    };
    engine.apply_snapshot(&snapshot, snapshot.requested_at, &mut sink);
    drop(snapshot);
    for _ in 0..renders {
        let text = metrics.render();
        assert!(text.len() > apps * 100);
    }
    let after = rss_bytes()?;
    assert_eq!(engine.tasks(), tasks);
    assert_eq!(engine.known_apps(), apps);
    Some(after.saturating_sub(before) as f64 / tasks as f64)
}

/// Runs this bench again with `FOOTPRINT_PART=part` and returns the figure it prints.
fn in_child(part: &str) -> Option<f64> {
    let output = std::process::Command::new(std::env::current_exe().ok()?)
        .args(std::env::args().skip(1))
        .env(PART, part)
        .output()
        .expect("the bench runs itself");
    assert!(output.status.success(), "{part}: {output:?}");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    match text.trim() {
        "none" => None,
        figure => Some(figure.parse().expect("a number")),
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (tasks, apps, snapshot_tasks) = if full {
        (200_000, 5_000, 100_000)
    } else {
        (2_000, 50, 1_000)
    };
    if let Ok(part) = std::env::var(PART) {
        let figure = match part.as_str() {
            "tracked" => per_task_tracked(tasks, apps),
            "seeded" => per_task_seeded(tasks, apps, 0),
            "scraped" => per_task_seeded(tasks, apps, 10),
            other => panic!("unknown part {other}"),
        };
        println!("{}", figure.map_or("none".into(), |f| format!("{f:.1}")));
        return;
    }
    let tracked = in_child("tracked");
    let seeded = in_child("seeded");
    let scraped = in_child("scraped");

    // Scrapes of a cluster of that size.
    let mut engine = Engine::new(Settings::default());
    let metrics = Metrics::new(engine.reader(), Arc::new(payload::now_ms));
    track(&mut engine, &mut metrics.sink(), tasks, apps);
    let mut times = Vec::new();
    for _ in 0..if full { 50 } else { 3 } {
        let t = Instant::now();
        let text = metrics.render();
        times.push(t.elapsed());
        assert!(text.len() > apps * 100);
    }
    times.sort();

    // Snapshot of `snapshot_tasks`: parse and apply.
    let body = tasks_body(snapshot_tasks, apps);
    let started = Instant::now();
    let list = parse_tasks(&body).expect("valid body");
    let mut seeded_engine = Engine::new(Settings::default());
    let snapshot = Snapshot {
        requested_at: payload::now_ms(),
        answered_at: None,
        tasks: list.tasks,
        apps: Vec::new(),
        pods: None,
        deployments: None,
    };
    seeded_engine.apply_snapshot(&snapshot, snapshot.requested_at, &mut Tally::new());
    let snapshot_time = started.elapsed();
    assert_eq!(seeded_engine.tasks(), snapshot_tasks);

    println!("snapshot of {snapshot_tasks} tasks parsed and applied: {snapshot_time:?}");
    for (how, figure) in [
        ("tracked event by event", tracked),
        ("seeded from one /v2/tasks snapshot", seeded),
        ("the same after 10 renders of /metrics", scraped),
    ] {
        if let Some(per_task) = figure {
            println!(
                "resident memory per tracked task at {tasks} tasks over {apps} apps, {how}: {per_task:.0} bytes"
            );
        }
    }
    println!(
        "/metrics render at {tasks} tasks over {apps} apps: p50 {:?}, p99 {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}
