//! Size and latency figures of a large cluster: resident memory per tracked task at 200,000 tasks
//! over 5,000 apps, the time to parse and apply a `/v2/tasks` snapshot of 100,000 tasks, and the
//! time to render `/metrics` for that cluster. Run: `cargo bench --bench footprint`
//! (`cargo test --benches` runs it on a small cluster, as a smoke test).

#[path = "support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use marathon_task_exporter::fake_marathon::payload;
use marathon_task_exporter::marathon::api::parse_tasks;
use marathon_task_exporter::metrics::Metrics;
use std::fmt::Write as _;

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

/// A `/v2/tasks` body of `tasks` running tasks over `apps` apps.
fn tasks_body(tasks: usize, apps: usize) -> Vec<u8> {
    let now = payload::now_ms();
    let list: Vec<serde_json::Value> = (0..tasks)
        .map(|i| {
            let app = format!("/bench/group-{}/app-{}", (i % apps) % 17, i % apps);
            let n = u32::try_from(i).expect("small");
            payload::task(&payload::task_id(&app, n, 1), &app, "TASK_RUNNING", now)
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "tasks": list })).expect("serializable")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Tracks `tasks` running tasks over `apps` apps, one status update at a time (no large transient
/// allocation, so the growth of the resident set is the map's own).
fn track(engine: &mut Engine, sink: &mut impl Effects, tasks: usize, apps: usize) {
    let now = payload::now_ms();
    let mut app = String::new();
    let mut id = String::new();
    for i in 0..tasks {
        app.clear();
        let a = i % apps;
        write!(app, "/bench/group-{}/app-{a}", a % 17).expect("to a String");
        id.clear();
        id.push_str(&payload::task_id(&app, u32::try_from(i).expect("small"), 1));
        let task = parse_task_id(&id).expect("valid id");
        let update = StatusUpdate {
            task,
            app: &app,
            status: Status::Known(MesosState::Running),
            message: "",
            reason: None,
            timestamp: now,
        };
        engine.apply(&Input::Status(update), now, sink);
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (tasks, apps, snapshot_tasks) = if full {
        (200_000, 5_000, 100_000)
    } else {
        (2_000, 50, 1_000)
    };

    // Memory per tracked task, measured first, before anything large was allocated and freed.
    let mut engine = Engine::new(Settings::default());
    let metrics = Metrics::new(engine.reader(), Arc::new(payload::now_ms));
    let mut sink = metrics.sink();
    let before = rss_bytes();
    track(&mut engine, &mut sink, tasks, apps);
    let after = rss_bytes();
    assert_eq!(engine.tasks(), tasks);
    assert_eq!(
        engine.known_apps(),
        apps,
        "the workload spreads over exactly `apps` apps"
    );

    // Scrapes of that cluster.
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
    let mut seeded = Engine::new(Settings::default());
    let snapshot = Snapshot {
        requested_at: payload::now_ms(),
        tasks: list.tasks,
        apps: Vec::new(),
    };
    seeded.apply_snapshot(&snapshot, snapshot.requested_at, &mut Tally::new());
    let snapshot_time = started.elapsed();
    assert_eq!(seeded.tasks(), snapshot_tasks);

    println!("snapshot of {snapshot_tasks} tasks parsed and applied: {snapshot_time:?}");
    if let (Some(before), Some(after)) = (before, after) {
        let per_task = after.saturating_sub(before) as f64 / tasks as f64;
        println!(
            "resident memory per tracked task at {tasks} tasks over {apps} apps: {per_task:.0} bytes"
        );
    }
    println!(
        "/metrics render at {tasks} tasks over {apps} apps: p50 {:?}, p99 {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}
