//! `record`/`demo --record` and `replay`: a recording of the demo replays to exactly the live
//! counters; a small hand-made recording gives known counts; the command prints a per-app summary;
//! damaged recordings give a clear error.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::{Samples, parse, scrape};
use marathon_sim::fake::payload;
use marathon_task_exporter::cmd::demo::{Demo, DemoOptions};
use marathon_task_exporter::cmd::replay::replay_file;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_marathon-task-exporter");

/// The series the rules produce: every per-task family (buckets included), the per-app task gauge,
/// and the self-metrics the pipeline feeds.
fn rule_series(samples: &Samples) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|(k, _)| {
            k.starts_with("marathon_task_")
                || k.starts_with("marathon_app_tasks{")
                || k.starts_with("marathon_exporter_events_total")
                || k.starts_with("marathon_exporter_event_errors_total")
                || k.starts_with("marathon_exporter_resync_corrections_total")
                || k.starts_with("marathon_exporter_tracked_tasks")
                || k.starts_with("marathon_exporter_apps_over_limit")
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn total(samples: &Samples, prefix: &str) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_recording_of_the_demo_reproduces_the_live_counters_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.jsonl");
    let config = common::config("http://127.0.0.1:9");
    let options = DemoOptions {
        seed: 21,
        speed: 100.0,
        scale: 0.3,
        record: Some(path.clone()),
    };
    let mut demo = Demo::start(config.clone(), options).await.expect("demo");
    // Past the first partition's expunges, the returning agent and the LOST incident.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let samples = parse(&scrape(demo.exporter()).await);
        let lost = samples
            .iter()
            .any(|(k, v)| k.contains("status=\"lost\"") && *v > 0.0);
        if lost && total(&samples, "marathon_task_unknown_terminations_total") > 0.0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo did not get to its incidents"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    demo.stop_simulation().await;
    let live = parse(&demo.shutdown().await.render());

    let replay = replay_file(&path, &config).expect("the recording replays");
    assert!(replay.stats.ended, "{:?}", replay.warnings);
    assert!(replay.warnings.is_empty(), "{:?}", replay.warnings);
    let replayed = parse(&replay.metrics.render());
    let live = rule_series(&live);
    let replayed = rule_series(&replayed);
    assert!(
        total(&live, "marathon_task_transitions_total") > 100.0,
        "a real run"
    );
    assert!(total(&live, "marathon_task_unreachable_duration_seconds_count") > 0.0);
    let differences: Vec<String> = live
        .keys()
        .chain(replayed.keys())
        .filter(|k| live.get(*k) != replayed.get(*k))
        .map(|k| format!("{k}: live {:?}, replay {:?}", live.get(k), replayed.get(k)))
        .collect();
    assert!(differences.is_empty(), "{differences:#?}");
}

/// Writes a recording: a header, then `(local, record)` lines.
fn write_recording(path: &Path, ticks: bool, records: &[Value]) {
    let mut text = json!({
        "format": "marathon-task-exporter-recording",
        "version": 1,
        "started_at": T0 - 5_000,
        "source": "http://marathon.example:8080",
        "ticks": ticks,
    })
    .to_string();
    text.push('\n');
    for record in records {
        text.push_str(&record.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

const T0: i64 = 1_700_000_000_000;
const WEB: &str = "/prod/web";
const API: &str = "/prod/api";

fn frame(event: &Value) -> String {
    format!(
        "event: {}\r\ndata: {event}\r\n\r\n",
        event["eventType"].as_str().unwrap()
    )
}

fn chunk(local: i64, bytes: &str) -> Value {
    json!({ "t": "chunk", "local": local, "data": STANDARD.encode(bytes) })
}

/// A small story whose counts follow from RULES.md by hand.
fn hand_made(path: &Path) {
    let web = |n| payload::task_id(WEB, n, 1);
    let api = |n| payload::task_id(API, n, 1);
    let at = |s: i64| T0 + s * 1000;
    let tasks = json!({ "tasks": [
        payload::task(&web(1), WEB, "TASK_RUNNING", at(-600)),
        payload::task(&api(1), API, "TASK_RUNNING", at(-600)),
    ]});
    let apps = json!({ "apps": [
        payload::app(WEB, 2, Some((60, 300))),
        payload::app(API, 1, Some((0, 0))),
    ]});
    let status = |id: &str, app: &str, s: &str, t: i64| payload::status_update(id, app, s, at(t));
    let first: String = [
        payload::stream_attached("10.0.0.9", at(0)),
        status(&web(2), WEB, "TASK_STAGING", 1),
        status(&web(2), WEB, "TASK_RUNNING", 4),
        payload::status_update_with_message(&api(1), API, "TASK_FAILED", "exit 1", at(5)),
        status(&api(2), API, "TASK_STAGING", 6),
        status(&api(2), API, "TASK_RUNNING", 8),
        status(&web(1), WEB, "TASK_UNREACHABLE", 10),
    ]
    .iter()
    .map(frame)
    .collect();
    // The return of web 1 is split across two reads.
    let back = frame(&status(&web(1), WEB, "TASK_RUNNING", 50));
    let (head, tail) = back.split_at(40);
    let lost: String = [
        payload::status_update_with_message(&api(2), API, "TASK_LOST", "Agent removed", at(60)),
        payload::instance_changed(&payload::instance_id(API, 2), API, "Gone", at(60)),
        payload::unknown_instance_terminated(&payload::instance_id(API, 1), API, "Killed", at(70)),
        status(&web(3), WEB, "TASK_RUNNING", 75),
        status(&web(3), WEB, "TASK_UNREACHABLE", 80),
    ]
    .iter()
    .map(frame)
    .collect();
    write_recording(
        path,
        false,
        &[
            json!({ "t": "connect", "local": 0, "leader": "http://marathon.example:8080" }),
            json!({
                "t": "snapshot", "local": 5, "requested_at": T0 - 1000,
                "tasks": STANDARD.encode(tasks.to_string()),
                "apps": STANDARD.encode(apps.to_string()),
            }),
            chunk(10, &first),
            // A heartbeat: CR and LF in separate reads.
            chunk(20, "\r"),
            chunk(21, "\n"),
            chunk(30, head),
            chunk(40, tail),
            chunk(50, &lost),
            // Marathon's clock reaches 80 s + 400 s: web 3 is inactive at 140 s and expunged at 380 s.
            json!({ "t": "end", "local": 50 + 400_000 }),
        ],
    );
}

#[test]
fn a_hand_made_recording_gives_exactly_the_known_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.jsonl");
    hand_made(&path);
    let replay = replay_file(&path, &common::config("http://127.0.0.1:9")).expect("replays");
    let t = &replay.tally;
    assert!(replay.warnings.is_empty(), "{:?}", replay.warnings);
    assert_eq!(replay.stats.snapshots, 1);
    assert_eq!(replay.stats.events, 13);
    for (app, from, to, n) in [
        (WEB, "none", "staging", 1),
        (WEB, "staging", "running", 1),
        (WEB, "running", "unreachable", 2),
        (WEB, "unreachable", "running", 1),
        (WEB, "none", "running", 1),
        (WEB, "unreachable", "unreachable_inactive", 1),
        (WEB, "unreachable_inactive", "unknown", 1),
        (API, "running", "failed", 1),
        (API, "none", "staging", 1),
        (API, "staging", "running", 1),
        (API, "running", "gone", 1),
    ] {
        assert_eq!(t.transition_count(app, from, to), n, "{app} {from} -> {to}");
    }
    assert_eq!(t.transitions.values().sum::<u64>(), 12);
    assert_eq!(t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(t.expunge_count(WEB, "unreachable_timeout"), 1);
    assert_eq!(t.replacement_count(API, "failed"), 1);
    assert_eq!(t.replacement_count(API, "gone"), 1);
    assert_eq!(t.expunge_count(API, "failed"), 1);
    assert_eq!(t.expunge_count(API, "gone"), 1);
    assert_eq!(t.replacements.values().sum::<u64>(), 3);
    assert_eq!(t.expunges.values().sum::<u64>(), 3);
    assert_eq!(t.unreachable_durations[WEB], vec![40.0, 300.0]);
    assert_eq!(t.time_to_running[WEB], vec![3.0]);
    assert_eq!(t.time_to_running[API], vec![2.0]);
    assert_eq!(t.unknown_terminations[API], 1);
    assert_eq!(t.status_count(API, "lost"), 1);
    assert!(t.event_errors.is_empty(), "{:?}", t.event_errors);
    let samples = parse(&replay.metrics.render());
    assert_eq!(
        common::value(
            &samples,
            "marathon_app_tasks{app=\"/prod/web\",state=\"running\"}"
        ),
        2.0
    );
    assert_eq!(
        common::value(&samples, "marathon_exporter_tracked_tasks"),
        2.0
    );
}

#[test]
fn the_replay_command_prints_a_summary_table_and_the_exposition() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("story.jsonl");
    hand_made(&path);
    let output = Command::new(BIN)
        .args(["replay", path.to_str().unwrap()])
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("http://marathon.example:8080"),
        "{stdout}"
    );
    assert!(lines[1].starts_with("APP"), "{stdout}");
    for header in [
        "TRANSITIONS",
        "REPLACEMENTS",
        "EXPUNGES",
        "UNREACHABLE EPISODES",
        "TIME TO RUNNING",
    ] {
        assert!(lines[1].contains(header), "{header}: {stdout}");
    }
    let api = lines
        .iter()
        .find(|l| l.starts_with(API))
        .expect("a row for /prod/api");
    assert!(api.contains("failed=1") && api.contains("gone=1"), "{api}");
    let web = lines
        .iter()
        .find(|l| l.starts_with(WEB))
        .expect("a row for /prod/web");
    assert!(web.contains("unreachable_timeout=1"), "{web}");
    assert!(web.contains("2 (40s…5m"), "{web}");
    assert!(!stdout.contains("# TYPE"), "no exposition unless asked");

    let output = Command::new(BIN)
        .args(["replay", "--exposition", path.to_str().unwrap()])
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(
            "marathon_task_expunges_total{app=\"/prod/web\",reason=\"unreachable_timeout\"} 1"
        ),
        "{stdout}"
    );
}

#[test]
fn a_recording_cut_mid_line_replays_what_is_whole_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("story.jsonl");
    hand_made(&good);
    let text = std::fs::read(&good).unwrap();
    let cut = dir.path().join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() * 2 / 3]).unwrap();
    let output = Command::new(BIN)
        .args(["replay", cut.to_str().unwrap()])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("truncated") && stderr.contains("replayed up to the line before"),
        "{stderr}"
    );
    assert!(stdout.starts_with("Recording of "), "the summary: {stdout}");
}

#[test]
fn corrupt_recordings_give_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("story.jsonl");
    hand_made(&good);
    let text = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"\x00\x01 not json at all\n".to_vec(),
            "not a recording",
        ),
        ("empty", Vec::new(), "empty"),
        (
            "bad-line",
            {
                // The end record replaced by a chunk that is not base64.
                let body = &text[..text.len() - 1];
                let cut = body.iter().rposition(|b| *b == b'\n').unwrap() + 1;
                let mut t = text[..cut].to_vec();
                t.extend_from_slice(b"{\"t\":\"chunk\",\"local\":999999999,\"data\":\"!!\"}\n");
                t
            },
            "not base64",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let output = Command::new(BIN)
            .args(["replay", path.to_str().unwrap()])
            .env_clear()
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{name}: {stderr}");
        assert!(stderr.contains(want), "{name}: {stderr}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let output = Command::new(BIN)
        .args(["replay", dir.path().join("missing").to_str().unwrap()])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_of_a_marathon_replays_to_its_counts() {
    use marathon_sim::fake::FakeMarathon;
    use marathon_task_exporter::config::RecordArgs;

    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("marathon.jsonl");
    let fake = FakeMarathon::start().await.expect("fake Marathon");
    let t0 = payload::now_ms();
    let web = |n| payload::task_id(WEB, n, 1);
    fake.set_apps(vec![payload::app(WEB, 2, Some((0, 0)))]);
    fake.set_tasks(vec![payload::task(
        &web(1),
        WEB,
        "TASK_RUNNING",
        t0 - 60_000,
    )]);
    let pod_instance = payload::instance_id("/db", 1);
    let pod_task = format!("{pod_instance}.pg.1");
    let containers = [("pg", pod_task.as_str(), "TASK_RUNNING")];
    fake.set_pods(Some(vec![payload::pod_status(
        "/db",
        &[(pod_instance.as_str(), &containers)],
        None,
    )]));
    let config = common::config(&fake.url());
    let args = RecordArgs {
        output: output.clone(),
        duration: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let recording = tokio::spawn(marathon_task_exporter::cmd::record::run(
        config.clone(),
        args,
        async move {
            let _ = stopped.await;
        },
    ));
    // Snapshot lines are flushed as soon as they are written.
    let snapshot_written = || async {
        std::fs::read_to_string(&output).is_ok_and(|text| text.contains("\"t\":\"snapshot\""))
    };
    assert!(
        common::eventually(snapshot_written).await,
        "the recorder took no snapshot"
    );
    for event in [
        payload::status_update(&web(2), WEB, "TASK_STAGING", t0 + 1000),
        payload::status_update(&web(2), WEB, "TASK_RUNNING", t0 + 3000),
        payload::status_update(&web(1), WEB, "TASK_UNREACHABLE", t0 + 5000),
    ] {
        assert_eq!(fake.push_event(&event), 1);
    }
    fake.heartbeat();
    // Marathon closes the stream: the recorder has read everything once it reconnects.
    fake.disconnect_all();
    assert!(
        common::eventually(|| async { fake.stream_requests() >= 2 }).await,
        "the recorder did not reconnect"
    );
    stop.send(()).unwrap();
    recording.await.unwrap().expect("recording ends cleanly");
    fake.shutdown().await;

    let replay = replay_file(&output, &config).expect("the recording replays");
    assert!(replay.stats.ended);
    assert!(replay.stats.connects >= 1, "{:?}", replay.stats);
    assert!(replay.stats.snapshots >= 1, "{:?}", replay.stats);
    // The attached event of each connection, and the three status updates.
    assert!(
        (4..=3 + replay.stats.connects).contains(&replay.stats.events),
        "{:?}",
        replay.stats
    );
    let t = &replay.tally;
    assert!(
        t.known.iter().any(|a| a == "/db"),
        "the pod from /v2/pods/::status"
    );
    assert_eq!(t.transition_count(WEB, "none", "staging"), 1);
    assert_eq!(t.transition_count(WEB, "staging", "running"), 1);
    assert_eq!(t.transition_count(WEB, "running", "unreachable"), 1);
    assert_eq!(t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(t.expunge_count(WEB, "unreachable_timeout"), 1);
    assert_eq!(t.time_to_running[WEB], vec![2.0]);
}
