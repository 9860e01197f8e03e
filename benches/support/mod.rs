//! Workloads shared by the benchmarks: a realistic task lifecycle mix, pre-encoded as the exact SSE
//! bytes Marathon sends, and the baseline every throughput figure is quoted against.
#![allow(dead_code)]

use marathon_task_exporter::fake_marathon::payload;

/// Pre-encoded SSE bytes and how many events they hold.
pub struct Workload {
    pub bytes: Vec<u8>,
    pub events: usize,
}

fn frame(out: &mut Vec<u8>, event: &serde_json::Value) {
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
    let mut rng = fastrand::Rng::with_seed(seed);
    let start = 1_602_061_982_771i64;
    let app_ids: Vec<String> = (0..apps)
        .map(|a| format!("/bench/group-{}/app-{a}", a % 17))
        .collect();
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
