//! Workloads shared by the benchmarks: a realistic task lifecycle mix, pre-encoded as the exact SSE
//! bytes Marathon sends, and the baseline every throughput figure is quoted against.
#![allow(dead_code)]

use marathon_sim::fake::payload;

/// Pre-encoded SSE bytes and how many events they hold.
pub struct Workload {
    pub bytes: Vec<u8>,
    pub events: usize,
}

/// Appends `event` framed as Jetty frames it: `event:` line, one `data:` line, empty line, CRLF.
pub fn frame(out: &mut Vec<u8>, event: &serde_json::Value) {
    let kind = event["eventType"].as_str().expect("eventType");
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\r\ndata: ");
    out.extend_from_slice(event.to_string().as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

/// The life of `tasks` tasks over `apps` apps, interleaved as a cluster would interleave them:
/// staging, starting, running, health-flip repeats, some unreachable episodes, LOSTs resolved by
/// their instance event, and an end (killed, failed, finished) for most; every status change is
/// followed by its `instance_changed_event`, like Marathon publishes them.
pub fn lifecycle(tasks: usize, apps: usize, seed: u64) -> Workload {
    lifecycle_at(tasks, apps, seed, 1_602_061_982_771)
}

/// [`lifecycle`] with the first event stamped `start_ms`; each step is one millisecond later, so the
/// last event is stamped at most `start_ms + 8 * tasks` (no script is longer than 8 steps).
pub fn lifecycle_at(tasks: usize, apps: usize, seed: u64, start_ms: i64) -> Workload {
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = start_ms;
    let app_ids: Vec<String> = (0..apps).map(app_id).collect();
    // Per task: a script of (status, condition) steps.
    let scripts: Vec<Vec<(&str, &str)>> = (0..tasks)
        .map(|_| {
            let mut s = vec![
                ("TASK_STAGING", "Staging"),
                ("TASK_STARTING", "Starting"),
                ("TASK_RUNNING", "Running"),
            ];
            if rng.f32() < 0.3 {
                s.push(("TASK_RUNNING", "Running"));
            }
            if rng.f32() < 0.1 {
                s.push(("TASK_UNREACHABLE", "Unreachable"));
                s.push(("TASK_RUNNING", "Running"));
            }
            if rng.f32() < 0.05 {
                s.push(("TASK_LOST", "Gone"));
                return s;
            }
            match rng.u8(0..10) {
                0..=4 => s.push(("TASK_KILLED", "Killed")),
                5..=6 => s.push(("TASK_FAILED", "Failed")),
                7..=8 => s.push(("TASK_FINISHED", "Finished")),
                _ => {}
            }
            s
        })
        .collect();
    let mut bytes = Vec::with_capacity(tasks * 16 * 600);
    let mut events = 0;
    let longest = scripts.iter().map(Vec::len).max().unwrap_or(0);
    let mut t = start;
    for step in 0..longest {
        for (i, script) in scripts.iter().enumerate() {
            let Some((status, condition)) = script.get(step) else {
                continue;
            };
            t += 1;
            let app = &app_ids[i % apps];
            let n = u32::try_from(i).expect("fewer than 2^32 tasks");
            let task = payload::task_id(app, n, 1);
            frame(&mut bytes, &payload::status_update(&task, app, status, t));
            frame(
                &mut bytes,
                &payload::instance_changed(&payload::instance_id(app, n), app, condition, t),
            );
            events += 2;
        }
    }
    Workload { bytes, events }
}

/// The id of app number `a`, as every workload here names it.
pub fn app_id(a: usize) -> String {
    format!("/bench/group-{}/app-{a}", a % 17)
}

/// `MAX_STEPS * tasks` bounds the milliseconds a [`lifecycle_at`] workload spans.
pub const MAX_STEPS: i64 = 8;

/// A `/v2/tasks` body of a steady cluster: `tasks` running tasks, task `i` being instance `i` of app
/// `i % apps` (incarnation 1), all staged at `staged_at_ms`. Written entry by entry, so the only
/// large allocation is the body itself.
pub fn cluster_tasks_body(tasks: usize, apps: usize, staged_at_ms: i64) -> Vec<u8> {
    let app_ids: Vec<String> = (0..apps).map(app_id).collect();
    let mut body = Vec::with_capacity(tasks * 700 + 16);
    body.extend_from_slice(b"{\"tasks\":[");
    for i in 0..tasks {
        if i > 0 {
            body.push(b',');
        }
        let app = &app_ids[i % apps];
        let n = u32::try_from(i).expect("fewer than 2^32 tasks");
        let task = payload::task(
            &payload::task_id(app, n, 1),
            app,
            "TASK_RUNNING",
            staged_at_ms,
        );
        serde_json::to_writer(&mut body, &task).expect("serializable");
    }
    body.extend_from_slice(b"]}");
    body
}

/// The `/v2/apps` body matching [`cluster_tasks_body`]: `apps` apps with Marathon's default
/// unreachable strategy (0 s, 0 s), each counting its share of `tasks`.
pub fn cluster_apps_body(tasks: usize, apps: usize) -> Vec<u8> {
    let list: Vec<serde_json::Value> = (0..apps)
        .map(|a| {
            let instances = tasks / apps + usize::from(a < tasks % apps);
            let instances = u32::try_from(instances).expect("fewer than 2^32 tasks");
            payload::app(&app_id(a), instances, Some((0, 0)))
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "apps": list })).expect("serializable")
}

/// Steady churn on the cluster of [`cluster_tasks_body`]: each change picks a running task and
/// either repeats its `TASK_RUNNING` (a health or reconciliation update, status only), fails it and
/// relaunches the same instance with the next incarnation, or kills it and starts a new instance of
/// the app in its place, with the `instance_changed_event`s Marathon publishes alongside.
pub struct Churn {
    rng: fastrand::Rng,
    apps: Vec<String>,
    /// Per running task: (instance number, incarnation).
    slots: Vec<(u32, u32)>,
    next_instance: u32,
}

impl Churn {
    pub fn new(tasks: usize, apps: usize, seed: u64) -> Churn {
        let last = u32::try_from(tasks).expect("fewer than 2^32 tasks");
        Churn {
            rng: fastrand::Rng::with_seed(seed),
            apps: (0..apps).map(app_id).collect(),
            slots: (0..last).map(|n| (n, 1)).collect(),
            next_instance: last,
        }
    }

    /// Appends one change, stamped `now_ms`, to `out`; returns how many events it framed.
    pub fn step(&mut self, out: &mut Vec<u8>, now_ms: i64) -> usize {
        let slot = self.rng.usize(..self.slots.len());
        let app = &self.apps[slot % self.apps.len()];
        let (n, incarnation) = self.slots[slot];
        let task = payload::task_id(app, n, incarnation);
        let instance = payload::instance_id(app, n);
        let status = |status| payload::status_update(&task, app, status, now_ms);
        let changed = |condition| payload::instance_changed(&instance, app, condition, now_ms);
        match self.rng.u8(0..10) {
            0..=5 => {
                frame(out, &status("TASK_RUNNING"));
                1
            }
            6..=7 => {
                frame(out, &status("TASK_FAILED"));
                frame(out, &changed("Failed"));
                frame(out, &changed("Scheduled"));
                self.slots[slot] = (n, incarnation + 1);
                3 + launch(out, app, n, incarnation + 1, now_ms)
            }
            _ => {
                frame(out, &status("TASK_KILLING"));
                frame(out, &changed("Killing"));
                frame(out, &status("TASK_KILLED"));
                frame(out, &changed("Killed"));
                let fresh = self.next_instance;
                self.next_instance += 1;
                self.slots[slot] = (fresh, 1);
                4 + launch(out, app, fresh, 1, now_ms)
            }
        }
    }
}

/// Staging, starting and running of incarnation `incarnation` of instance `n` of `app`, each status
/// followed by its instance event; returns how many events it framed.
fn launch(out: &mut Vec<u8>, app: &str, n: u32, incarnation: u32, now_ms: i64) -> usize {
    let task = payload::task_id(app, n, incarnation);
    let instance = payload::instance_id(app, n);
    for (status, condition) in [
        ("TASK_STAGING", "Staging"),
        ("TASK_STARTING", "Starting"),
        ("TASK_RUNNING", "Running"),
    ] {
        frame(out, &payload::status_update(&task, app, status, now_ms));
        frame(
            out,
            &payload::instance_changed(&instance, app, condition, now_ms),
        );
    }
    6
}

/// The baseline: split the SSE lines and decode each `data:` JSON into three borrowed fields.
/// Returns how many events it decoded.
pub fn baseline_decode(bytes: &[u8]) -> usize {
    #[derive(serde::Deserialize)]
    struct Three<'a> {
        #[serde(rename = "eventType", borrow)]
        _event_type: &'a str,
        #[serde(rename = "timestamp", borrow)]
        _timestamp: &'a str,
        #[serde(rename = "taskId", borrow, default)]
        _task_id: Option<&'a str>,
    }
    let mut n = 0;
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        let line = &bytes[start..end];
        start = end + 1;
        if let Some(data) = line.strip_prefix(b"data: ") {
            let data = data.strip_suffix(b"\r").unwrap_or(data);
            if serde_json::from_slice::<Three<'_>>(data).is_ok() {
                n += 1;
            }
        }
    }
    n
}
