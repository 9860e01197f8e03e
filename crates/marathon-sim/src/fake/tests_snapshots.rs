//! Tests of the fake's snapshot side: pods, its clock, the leader it names, held snapshots, and
//! closing streams.

use std::time::Duration;

use serde_json::{Value, json};

use super::payload;
use super::*;

const BOUND: Duration = Duration::from_secs(5);

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

async fn get(fake: &FakeMarathon, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", fake.url()))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("answer")
}

async fn json_body(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json")
}

fn leader(resp: &reqwest::Response) -> Option<&str> {
    resp.headers()
        .get("x-marathon-leader")
        .map(|v| v.to_str().expect("ascii"))
}

/// Milliseconds since the epoch of `at`.
fn millis(at: std::time::SystemTime) -> i64 {
    let since = at
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(since.as_millis()).expect("in range")
}

fn parse_http_date(text: &str) -> Option<i64> {
    httpdate::parse_http_date(text).ok().map(millis)
}

fn parse_timestamp(text: &str) -> Option<i64> {
    humantime::parse_rfc3339(text).ok().map(millis)
}

fn date(resp: &reqwest::Response) -> i64 {
    let text = resp.headers()["date"].to_str().expect("ascii");
    parse_http_date(text).expect("an HTTP date")
}

async fn open_stream(fake: &FakeMarathon) -> reqwest::Response {
    client()
        .get(format!("{}/v2/events", fake.url()))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .expect("stream")
}

#[tokio::test]
async fn pods_answer_404_until_set_and_then_the_array() {
    let fake = FakeMarathon::start().await.expect("start");
    let resp = get(&fake, "/v2/pods/::status").await;
    assert_eq!(resp.status(), 404);
    assert_eq!(leader(&resp), Some(fake.url().as_str()), "a leader's 404");
    let task = "web.instance-1.nginx.1";
    let pod = payload::pod_status(
        "/web",
        &[("web.instance-1", &[("nginx", task, "TASK_RUNNING")])],
        Some((0, 600)),
    );
    fake.set_pods(Some(vec![pod.clone()]));
    let resp = get(&fake, "/v2/pods/::status").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body = json_body(resp).await;
    assert_eq!(body, json!([pod]));
    assert_eq!(
        body[0]["instances"][0]["containers"][0]["containerId"],
        task
    );
    assert_eq!(
        body[0]["spec"]["scheduling"]["unreachableStrategy"]["expungeAfterSeconds"],
        600
    );
    fake.set_pods(None);
    assert_eq!(get(&fake, "/v2/pods/::status").await.status(), 404);
    assert_eq!(get(&fake, "/v2/pods/other").await.status(), 404);
    assert_eq!(fake.count_requests("/v2/pods/::status"), 3);
}

#[test]
fn terminal_pod_containers_have_no_container_id() {
    let pod = payload::pod_status(
        "/p",
        &[("p.instance-1", &[("a", "p.instance-1.a.1", "TASK_FAILED")])],
        None,
    );
    let container = &pod["instances"][0]["containers"][0];
    assert!(container.get("containerId").is_none());
    assert_eq!(container["status"], "TASK_FAILED");
    assert_eq!(pod["spec"]["scheduling"]["unreachableStrategy"], "disabled");
}

#[tokio::test]
async fn every_answer_carries_a_date_on_the_fakes_clock() {
    let fake = FakeMarathon::start().await.expect("start");
    let near = |a: i64, b: i64| (a - b).abs() <= 2_000;
    let resp = get(&fake, "/v2/tasks").await;
    assert!(near(date(&resp), payload::now_ms()), "offset 0 by default");
    fake.set_clock_offset(-3_600_000);
    assert!(near(fake.now_ms(), payload::now_ms() - 3_600_000));
    for path in ["/v2/apps", "/ping", "/nowhere", "/v2/pods/::status"] {
        let resp = get(&fake, path).await;
        assert!(near(date(&resp), payload::now_ms() - 3_600_000), "{path}");
    }
    fake.set_clock_offset(7_200_000);
    let mut stream = open_stream(&fake).await;
    assert!(near(date(&stream), payload::now_ms() + 7_200_000));
    let first = stream.chunk().await.expect("read").expect("a chunk");
    let text = String::from_utf8(first.to_vec()).expect("utf-8");
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("data line");
    let attached: Value = serde_json::from_str(data).expect("json");
    assert_eq!(attached["eventType"], "event_stream_attached");
    let stamped = parse_timestamp(attached["timestamp"].as_str().expect("text")).expect("ts");
    assert!(near(stamped, payload::now_ms() + 7_200_000), "{text}");
}

#[tokio::test]
async fn the_leader_header_can_be_changed_or_removed() {
    let fake = FakeMarathon::start().await.expect("start");
    let stream = open_stream(&fake).await;
    assert_eq!(leader(&stream), Some(fake.url().as_str()));
    fake.set_leader_header(Some("http://other:8080".into()));
    assert_eq!(leader(&open_stream(&fake).await), Some("http://other:8080"));
    assert_eq!(
        leader(&get(&fake, "/v2/tasks").await),
        Some("http://other:8080")
    );
    fake.set_leader_header(None);
    for path in ["/v2/tasks", "/v2/apps", "/v2/pods/::status"] {
        assert_eq!(leader(&get(&fake, path).await), None, "{path}");
    }
    assert_eq!(leader(&open_stream(&fake).await), None);
    // `/v2/leader` still names the leader the fake was started with.
    let body = json_body(get(&fake, "/v2/leader").await).await;
    assert_eq!(body["leader"], fake.addr().to_string());
}

#[tokio::test]
async fn held_snapshots_are_answered_with_the_state_at_release() {
    let fake = FakeMarathon::start().await.expect("start");
    fake.hold_snapshots(true);
    let url = fake.url();
    let requests: Vec<_> = ["/v2/tasks", "/v2/apps", "/v2/pods/::status"]
        .into_iter()
        .map(|path| {
            let url = format!("{url}{path}");
            tokio::spawn(async move { client().get(url).send().await.expect("answer") })
        })
        .collect();
    let all_arrived = tokio::time::timeout(BOUND, async {
        while ["/v2/tasks", "/v2/apps", "/v2/pods/::status"]
            .iter()
            .any(|p| fake.count_requests(p) == 0)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(all_arrived.is_ok());
    assert!(requests.iter().all(|r| !r.is_finished()), "held");
    assert_eq!(
        get(&fake, "/ping").await.status(),
        200,
        "other paths answer"
    );
    let task = payload::task("a.instance-1._app.1", "/a", "TASK_RUNNING", 0);
    fake.set_tasks(vec![task.clone()]);
    fake.set_pods(Some(vec![]));
    fake.set_leader_header(Some("http://new:8080".into()));
    fake.hold_snapshots(false);
    let mut answers = Vec::new();
    for request in requests {
        let resp = tokio::time::timeout(BOUND, request)
            .await
            .expect("released")
            .expect("no panic");
        assert_eq!(leader(&resp), Some("http://new:8080"));
        answers.push(json_body(resp).await);
    }
    assert_eq!(answers[0], json!({ "tasks": [task] }));
    assert_eq!(answers[1], json!({ "apps": [] }));
    assert_eq!(answers[2], json!([]));
}

#[tokio::test]
async fn close_streams_ends_every_open_stream_once() {
    let fake = FakeMarathon::start().await.expect("start");
    let mut a = open_stream(&fake).await;
    let mut b = open_stream(&fake).await;
    assert!(fake.wait_for_streams(2, BOUND).await);
    fake.close_streams();
    fake.close_streams();
    assert_eq!(fake.connected_streams(), 0);
    for resp in [&mut a, &mut b] {
        let ended = tokio::time::timeout(BOUND, async {
            while resp.chunk().await.expect("read").is_some() {}
        })
        .await;
        assert!(ended.is_ok(), "EOF");
    }
    let _c = open_stream(&fake).await;
    assert!(
        fake.wait_for_streams(1, BOUND).await,
        "new streams still open"
    );
}
