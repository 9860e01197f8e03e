//! Hostile and odd input on a live stream: every frame is counted where PRODUCT.md says, and the
//! stream goes on (the event after each one still counts, and the connection never drops).

mod common;

use std::collections::BTreeMap;

use common::{PATIENCE, parse, scrape, until_ready};
use marathon_sim::fake::{FakeMarathon, payload};
use marathon_task_exporter::Exporter;
use serde_json::{Value, json};

const WEB: &str = "/prod/web";
const ATTACHED: &str = "marathon_exporter_events_total{type=\"event_stream_attached\"}";
const STATUS: &str = "marathon_exporter_events_total{type=\"status_update_event\"}";
const INSTANCE: &str = "marathon_exporter_events_total{type=\"instance_changed_event\"}";
const UNKNOWN: &str = "marathon_exporter_events_total{type=\"unknown\"}";
const DEPLOYMENT_INFO: &str = "marathon_exporter_events_total{type=\"deployment_info\"}";
const MALFORMED: &str = "marathon_exporter_event_errors_total{kind=\"malformed\"}";
const OVERSIZED: &str = "marathon_exporter_event_errors_total{kind=\"oversized\"}";
const UNKNOWN_STATUS: &str = "marathon_exporter_event_errors_total{kind=\"unknown_status\"}";
const STALE: &str = "marathon_exporter_event_errors_total{kind=\"stale\"}";
const MAX_EVENT_BYTES: usize = 1024;

/// Every series the steps below may move, each checked exactly after every step.
const WATCHED: [&str; 13] = [
    ATTACHED,
    STATUS,
    INSTANCE,
    UNKNOWN,
    DEPLOYMENT_INFO,
    MALFORMED,
    OVERSIZED,
    UNKNOWN_STATUS,
    STALE,
    "marathon_exporter_stream_disconnects_total{reason=\"eof\"}",
    "marathon_exporter_stream_disconnects_total{reason=\"idle_timeout\"}",
    "marathon_exporter_stream_disconnects_total{reason=\"error\"}",
    "marathon_exporter_stream_connects_total{result=\"success\"}",
];

/// One SSE frame as Jetty writes it, with `data` as given (no escaping, no validation).
fn frame(event_type: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("event: {event_type}\r\ndata: ").into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

fn event(value: &Value) -> Vec<u8> {
    let event_type = value["eventType"].as_str().unwrap_or("x");
    frame(event_type, value.to_string().as_bytes())
}

fn status(n: u32, state: &str, at: i64) -> Value {
    payload::status_update(&payload::task_id(WEB, n, 1), WEB, state, at)
}

/// A status update whose `field` holds `bytes` verbatim (inside the quotes).
fn status_with_raw_field(field: &str, bytes: &[u8]) -> Vec<u8> {
    let mut value = status(9, "TASK_RUNNING", payload::now_ms());
    value[field] = json!("@@");
    let text = value.to_string();
    let (before, after) = text.split_once("@@").unwrap();
    let mut data = before.as_bytes().to_vec();
    data.extend_from_slice(bytes);
    data.extend_from_slice(after.as_bytes());
    frame("status_update_event", &data)
}

struct Run {
    fake: FakeMarathon,
    exporter: Exporter,
    want: BTreeMap<&'static str, f64>,
}

impl Run {
    /// Sends `bytes`, then a marker event; once the marker is counted, every watched series must
    /// have moved by exactly `deltas`.
    async fn step(&mut self, what: &str, bytes: &[u8], deltas: &[(&'static str, f64)]) {
        assert_eq!(self.fake.push_raw(bytes), 1, "{what}: the stream is open");
        let marker = payload::stream_attached("10.0.5.21", payload::now_ms());
        assert_eq!(self.fake.push_raw(&event(&marker)), 1);
        *self.want.entry(ATTACHED).or_default() += 1.0;
        for (series, delta) in deltas {
            *self.want.entry(series).or_default() += delta;
        }
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let marked = self.want[ATTACHED];
        let samples = loop {
            let samples = parse(&scrape(&self.exporter).await);
            if common::value(&samples, ATTACHED) >= marked {
                break samples;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: marker never counted"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        for series in WATCHED {
            let want = self.want.get(series).copied().unwrap_or(0.0);
            assert_eq!(common::value(&samples, series), want, "{what}: {series}");
        }
    }
}

/// The exporter connected to a fake Marathon, its first event counted.
async fn start() -> Run {
    let fake = FakeMarathon::start().await.unwrap();
    fake.set_apps(vec![payload::app(WEB, 3, Some((60, 300)))]);
    let mut config = common::config(&fake.url());
    config.max_event_bytes = MAX_EVENT_BYTES;
    let exporter = Exporter::start(config).await.unwrap();
    until_ready(&exporter).await;
    // The stream's own event_stream_attached comes first.
    common::until_value(&exporter, ATTACHED, 1.0).await;
    Run {
        fake,
        exporter,
        want: BTreeMap::from([
            (ATTACHED, 1.0),
            (
                "marathon_exporter_stream_connects_total{result=\"success\"}",
                1.0,
            ),
        ]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_frames_are_counted_and_the_stream_goes_on() {
    let mut run = start().await;

    let now = payload::now_ms();
    run.step(
        "malformed JSON",
        &frame(
            "status_update_event",
            b"{\"eventType\":\"status_update_event\",",
        ),
        &[(MALFORMED, 1.0)],
    )
    .await;
    run.step(
        "an array",
        &frame(
            "status_update_event",
            b"[{\"eventType\":\"status_update_event\"}]",
        ),
        &[(MALFORMED, 1.0)],
    )
    .await;
    run.step(
        "invalid UTF-8 in a used field",
        &status_with_raw_field("taskId", b"prod_web.instance-\xff\xfe._app.1"),
        &[(MALFORMED, 1.0)],
    )
    .await;
    let mut big = status(1, "TASK_RUNNING", now);
    big["message"] = json!("x".repeat(10 * 1024));
    run.step("10 KB event", &event(&big), &[(OVERSIZED, 1.0)])
        .await;
    let scheduled = payload::instance_changed(&payload::instance_id(WEB, 5), WEB, "Scheduled", now);
    assert!(scheduled["agentId"].is_null() && scheduled["host"].is_null());
    run.step(
        "null agentId and host",
        &event(&scheduled),
        &[(INSTANCE, 1.0)],
    )
    .await;
    let mut no_task = status(1, "TASK_RUNNING", now);
    no_task.as_object_mut().unwrap().remove("taskId");
    run.step("no taskId", &event(&no_task), &[(MALFORMED, 1.0)])
        .await;
    let mut null_task = status(1, "TASK_RUNNING", now);
    null_task["taskId"] = Value::Null;
    run.step("null taskId", &event(&null_task), &[(MALFORMED, 1.0)])
        .await;
    let mut wrong_type = status(1, "TASK_RUNNING", now);
    wrong_type["taskStatus"] = json!(1);
    run.step(
        "numeric taskStatus",
        &event(&wrong_type),
        &[(MALFORMED, 1.0)],
    )
    .await;
    run.step(
        "unknown status",
        &event(&status(1, "TASK_EXPLODED", now)),
        &[(STATUS, 1.0), (UNKNOWN_STATUS, 1.0)],
    )
    .await;
    let exploded = payload::instance_changed(&payload::instance_id(WEB, 1), WEB, "Exploded", now);
    run.step(
        "unknown condition",
        &event(&exploded),
        &[(INSTANCE, 1.0), (UNKNOWN_STATUS, 1.0)],
    )
    .await;
    run.step(
        "unknown eventType",
        &event(&json!({ "eventType": "something_new", "timestamp": payload::timestamp(now) })),
        &[(UNKNOWN, 1.0)],
    )
    .await;
    run.step(
        "numeric eventType",
        &frame("x", b"{\"eventType\":7}"),
        &[(MALFORMED, 1.0)],
    )
    .await;
    run.step(
        "duplicate eventType",
        &frame(
            "x",
            b"{\"eventType\":\"deployment_info\",\"eventType\":\"status_update_event\"}",
        ),
        &[(MALFORMED, 1.0)],
    )
    .await;
    let info: Value = serde_json::from_str(include_str!(
        "fixtures/marathon/events/deployment_info.json"
    ))
    .unwrap();
    run.step(
        "unsubscribed type",
        &event(&info),
        &[(DEPLOYMENT_INFO, 1.0)],
    )
    .await;
    let mut nonsense = status(1, "TASK_RUNNING", now);
    nonsense["taskId"] = json!("nonsense");
    run.step("unparseable taskId", &event(&nonsense), &[(MALFORMED, 1.0)])
        .await;
    run.step(
        "a line of spaces",
        &frame("status_update_event", &[b' '; 500]),
        &[(MALFORMED, 1.0)],
    )
    .await;
    run.step(
        "a huge line of spaces",
        &frame("status_update_event", &vec![b' '; 100 * MAX_EVENT_BYTES]),
        &[(OVERSIZED, 1.0)],
    )
    .await;
    run.step(
        "running",
        &event(&status(1, "TASK_RUNNING", now)),
        &[(STATUS, 1.0)],
    )
    .await;
    run.step(
        "older news",
        &event(&status(1, "TASK_STAGING", now - 5_000)),
        &[(STATUS, 1.0), (STALE, 1.0)],
    )
    .await;
    run.step(
        "a normal event",
        &event(&status(2, "TASK_RUNNING", now + 1)),
        &[(STATUS, 1.0)],
    )
    .await;

    let samples = parse(&scrape(&run.exporter).await);
    let v = |series: String| common::value(&samples, &series);
    let running = |from: &str| {
        format!("marathon_task_transitions_total{{app=\"{WEB}\",from=\"{from}\",to=\"running\"}}")
    };
    assert_eq!(v(running("none")), 2.0, "tasks 1 and 2 started");
    assert_eq!(
        v(running("staging")),
        0.0,
        "the stale staging was not applied"
    );
    assert_eq!(v("marathon_exporter_tracked_tasks".into()), 2.0);
    assert_eq!(v("marathon_exporter_stream_up".into()), 1.0);
    run.exporter.shutdown().await;
}

/// Invalid UTF-8 in a field the exporter does not read (here `slaveId`) does not cost the status
/// update: dropping a real transition because of a broken unused field would make the counts drift.
/// The same bytes in a field it reads make the frame `malformed` (see the hostile frames above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_field_nobody_reads_keeps_the_event() {
    let mut run = start().await;
    run.step(
        "invalid UTF-8 in a field nobody reads",
        &status_with_raw_field("slaveId", b"c3a9e2f1-S\xff"),
        &[(STATUS, 1.0)],
    )
    .await;
    run.exporter.shutdown().await;
}
