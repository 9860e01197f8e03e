use std::time::Duration;

use serde_json::{Value, json};

use super::payload;
use super::*;

const BOUND: Duration = Duration::from_secs(5);
const SSE: &str = "text/event-stream";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn open_stream(fake: &FakeMarathon, query: &str) -> reqwest::Response {
    let resp = client()
        .get(format!("{}/v2/events{query}", fake.url()))
        .header("Accept", SSE)
        .send()
        .await;
    resp.expect("stream request")
}

/// Reads until `buf` holds at least `len` bytes; false on EOF, error or timeout.
async fn read_at_least(resp: &mut reqwest::Response, buf: &mut Vec<u8>, len: usize) -> bool {
    let reading = async {
        while buf.len() < len {
            match resp.chunk().await {
                Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
                _ => return false,
            }
        }
        true
    };
    tokio::time::timeout(BOUND, reading).await.unwrap_or(false)
}

/// Reads the rest of the body; `None` if it does not end within the bound.
async fn read_to_eof(resp: &mut reqwest::Response) -> Option<Vec<u8>> {
    let reading = async {
        let mut buf = Vec::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.extend_from_slice(&chunk);
        }
        buf
    };
    tokio::time::timeout(BOUND, reading).await.ok()
}

async fn json_body(resp: reqwest::Response) -> Value {
    serde_json::from_str(&resp.text().await.expect("body")).expect("json body")
}

async fn get_json(url: String) -> Value {
    json_body(client().get(url).send().await.expect("request")).await
}

fn frame(event: &Value) -> Vec<u8> {
    let event_type = event["eventType"].as_str().expect("eventType");
    format!(
        "event: {event_type}\r\ndata: {}\r\n\r\n",
        serde_json::to_string(event).expect("json")
    )
    .into_bytes()
}

/// Reads the `event_stream_attached` frame every unfiltered stream starts with.
async fn skip_attached(resp: &mut reqwest::Response) -> Vec<u8> {
    let mut buf = Vec::new();
    while !buf.ends_with(b"\r\n\r\n") {
        let want = buf.len() + 1;
        assert!(
            read_at_least(resp, &mut buf, want).await,
            "attached event did not arrive"
        );
    }
    buf
}

#[tokio::test]
async fn stream_request_without_exact_accept_gets_405() {
    let fake = FakeMarathon::start().await.expect("start");
    let url = format!("{}/v2/events", fake.url());
    for accept in [
        None,
        Some("*/*"),
        Some("text/event-stream, */*"),
        Some("text/event-stream;charset=utf-8"),
    ] {
        let mut req = client().get(&url);
        if let Some(accept) = accept {
            req = req.header("Accept", accept);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status(), 405, "accept {accept:?}");
        assert!(resp.text().await.expect("body").contains("not supported"));
    }
    assert_eq!(fake.stream_requests(), 4);
    assert_eq!(fake.connected_streams(), 0);
    // One exact value among several header lines is enough.
    let resp = client()
        .get(&url)
        .header("Accept", "*/*")
        .header("Accept", SSE)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    fake.shutdown().await;
}

#[tokio::test]
async fn stream_response_has_marathon_headers() {
    let fake = FakeMarathon::start().await.expect("start");
    let resp = open_stream(&fake, "").await;
    assert_eq!(resp.status(), 200);
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/event-stream;charset=utf-8")
    );
    assert_eq!(header("connection").as_deref(), Some("close"));
    assert_eq!(
        header("cache-control").as_deref(),
        Some("no-cache, no-store, must-revalidate")
    );
    assert_eq!(header("x-marathon-leader"), Some(fake.url()));
    fake.shutdown().await;

    let options = FakeOptions {
        leader_header: Some("http://marathon-2.example.internal:8080".into()),
        ..FakeOptions::default()
    };
    let fake = FakeMarathon::start_with(options).await.expect("start");
    let resp = open_stream(&fake, "").await;
    assert_eq!(
        resp.headers()["x-marathon-leader"],
        "http://marathon-2.example.internal:8080"
    );
    let leader = get_json(format!("{}/v2/leader", fake.url())).await;
    assert_eq!(
        leader,
        json!({ "leader": "marathon-2.example.internal:8080" })
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn new_stream_first_receives_its_own_attached_event() {
    let fake = FakeMarathon::start().await.expect("start");
    let mut resp = open_stream(&fake, "").await;
    let first = skip_attached(&mut resp).await;
    let text = String::from_utf8(first).expect("utf8");
    let data = text
        .strip_prefix("event: event_stream_attached\r\ndata: ")
        .expect("event line first");
    let event: Value =
        serde_json::from_str(data.strip_suffix("\r\n\r\n").expect("frame end")).expect("json");
    assert_eq!(event["remoteAddress"], "127.0.0.1");
    assert_eq!(event["eventType"], "event_stream_attached");
    let stamp = event["timestamp"].as_str().expect("timestamp");
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect();
    assert_eq!(shape, "0000-00-00T00:00:00.000Z");
    assert_eq!(event.as_object().map(|o| o.len()), Some(3));
    fake.shutdown().await;
}

#[tokio::test]
async fn events_and_raw_bytes_arrive_byte_exact() {
    let fake = FakeMarathon::start().await.expect("start");
    let mut resp = open_stream(&fake, "").await;
    skip_attached(&mut resp).await;
    let event = payload::status_update(
        &payload::task_id("/prod/web", 1, 1),
        "/prod/web",
        "TASK_RUNNING",
        1_602_061_982_771,
    );
    assert_eq!(fake.push_event(&event), 1);
    assert_eq!(fake.push_raw(b"data: {broken\n\n"), 1);
    let mut expected = frame(&event);
    expected.extend_from_slice(b"data: {broken\n\n");
    let mut got = Vec::new();
    assert!(read_at_least(&mut resp, &mut got, expected.len()).await);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
    assert!(got.starts_with(b"event: status_update_event\r\ndata: {\""));
    fake.shutdown().await;
}

#[tokio::test]
async fn heartbeat_sends_cr_and_lf() {
    let fake = FakeMarathon::start().await.expect("start");
    let mut resp = open_stream(&fake, "").await;
    skip_attached(&mut resp).await;
    assert_eq!(fake.heartbeat(), 1);
    assert_eq!(fake.heartbeat(), 1);
    let mut got = Vec::new();
    assert!(read_at_least(&mut resp, &mut got, 4).await);
    assert_eq!(got, b"\r\n\r\n");
    fake.shutdown().await;
}

#[tokio::test]
async fn automatic_heartbeat_runs_at_the_configured_interval() {
    let options = FakeOptions {
        heartbeat: Some(Duration::from_millis(20)),
        ..FakeOptions::default()
    };
    let fake = FakeMarathon::start_with(options).await.expect("start");
    let mut resp = open_stream(&fake, "?event_type=none").await;
    let mut got = Vec::new();
    assert!(read_at_least(&mut resp, &mut got, 4).await, "no heartbeats");
    assert!(got.iter().all(|b| *b == b'\r' || *b == b'\n'));
    assert!(got.starts_with(b"\r\n\r\n"));
    fake.shutdown().await;
}

#[tokio::test]
async fn event_type_filter_admits_only_listed_types() {
    let fake = FakeMarathon::start().await.expect("start");
    let mut both = open_stream(
        &fake,
        "?event_type=status_update_event&event_type=app_terminated_event",
    )
    .await;
    let mut comma = open_stream(
        &fake,
        "?event_type=status_update_event,app_terminated_event",
    )
    .await;
    assert!(fake.wait_for_streams(2, BOUND).await);
    let instance = payload::instance_changed(&payload::instance_id("/a", 1), "/a", "Running", 1000);
    let status = payload::status_update(&payload::task_id("/a", 1, 1), "/a", "TASK_RUNNING", 1001);
    let terminated = payload::app_terminated("/a", 1002);
    assert_eq!(fake.push_event(&instance), 0);
    assert_eq!(fake.push_event(&status), 1);
    assert_eq!(fake.push_event(&terminated), 1);
    fake.disconnect_all();
    let mut expected = frame(&status);
    expected.extend(frame(&terminated));
    assert_eq!(read_to_eof(&mut both).await, Some(expected));
    assert_eq!(read_to_eof(&mut comma).await, Some(Vec::new()));
    fake.shutdown().await;
}

#[tokio::test]
async fn disconnect_all_gives_eof_and_allows_reconnecting() {
    let fake = FakeMarathon::start().await.expect("start");
    let mut first = open_stream(&fake, "").await;
    let mut second = open_stream(&fake, "").await;
    assert!(fake.wait_for_streams(2, BOUND).await);
    fake.disconnect_all();
    assert_eq!(fake.connected_streams(), 0);
    assert!(read_to_eof(&mut first).await.is_some());
    assert!(read_to_eof(&mut second).await.is_some());
    assert_eq!(fake.push_raw(b"x"), 0);
    let mut third = open_stream(&fake, "").await;
    skip_attached(&mut third).await;
    assert_eq!(fake.connected_streams(), 1);
    assert_eq!(fake.stream_requests(), 3);
    fake.shutdown().await;
}

#[tokio::test]
async fn client_that_went_away_is_dropped_on_next_write() {
    let fake = FakeMarathon::start().await.expect("start");
    let resp = open_stream(&fake, "").await;
    assert!(fake.wait_for_streams(1, BOUND).await);
    drop(resp);
    let deadline = tokio::time::Instant::now() + BOUND;
    while fake.connected_streams() > 0 && tokio::time::Instant::now() < deadline {
        fake.heartbeat();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(fake.connected_streams(), 0);
    fake.shutdown().await;
}

#[tokio::test]
async fn slow_consumer_is_dropped_when_its_queue_is_full() {
    // Single-threaded runtime: nothing drains the queue while this test pushes.
    let fake = FakeMarathon::start().await.expect("start");
    let mut resp = open_stream(&fake, "").await;
    skip_attached(&mut resp).await; // the queue is empty now
    let queued: usize = (0..STREAM_CAPACITY).map(|_| fake.push_raw(b"x")).sum();
    assert_eq!(queued, STREAM_CAPACITY);
    assert_eq!(fake.connected_streams(), 1);
    assert_eq!(fake.push_raw(b"x"), 0);
    assert_eq!(fake.connected_streams(), 0);
    let body = read_to_eof(&mut resp).await.expect("eof");
    assert_eq!(body, vec![b'x'; STREAM_CAPACITY]);
    fake.shutdown().await;
}

#[tokio::test]
async fn basic_auth_rejects_missing_or_wrong_credentials() {
    let options = FakeOptions {
        basic_auth: Some(("ops".into(), "s3cret".into())),
        ..FakeOptions::default()
    };
    let fake = FakeMarathon::start_with(options).await.expect("start");
    for path in ["/v2/tasks", "/v2/events", "/ping", "/nowhere"] {
        let resp = client()
            .get(format!("{}{path}", fake.url()))
            .header("Accept", SSE)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 401, "{path}");
        assert_eq!(
            resp.headers()["www-authenticate"],
            "basic realm=\"Mesosphere\""
        );
    }
    let wrong = client()
        .get(format!("{}/v2/tasks", fake.url()))
        .basic_auth("ops", Some("nope"))
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), 401);
    let right = client()
        .get(format!("{}/v2/tasks", fake.url()))
        .basic_auth("ops", Some("s3cret"))
        .send()
        .await
        .expect("request");
    assert_eq!(right.status(), 200);
    let stream = client()
        .get(format!("{}/v2/events", fake.url()))
        .basic_auth("ops", Some("s3cret"))
        .header("Accept", SSE);
    assert_eq!(stream.send().await.expect("request").status(), 200);
    assert_eq!(fake.stream_requests(), 2);
    assert_eq!(
        fake.requests()
            .last()
            .and_then(|r| r.authorization.clone())
            .as_deref(),
        Some("Basic b3BzOnMzY3JldA==")
    );
    fake.shutdown().await;
}

#[tokio::test]
async fn token_auth_follows_rotation() {
    let options = FakeOptions {
        token: Some("first".into()),
        ..FakeOptions::default()
    };
    let fake = FakeMarathon::start_with(options).await.expect("start");
    let status = |auth: Option<&'static str>| {
        let mut req = client().get(format!("{}/v2/apps", fake.url()));
        if let Some(auth) = auth {
            req = req.header("Authorization", auth);
        }
        async move { req.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(status(None).await, 401);
    assert_eq!(status(Some("token=first")).await, 200);
    fake.set_token(Some("second".into()));
    assert_eq!(status(Some("token=first")).await, 401);
    assert_eq!(status(Some("Bearer second")).await, 401);
    assert_eq!(status(Some("token=second")).await, 200);
    fake.set_token(None);
    assert_eq!(status(None).await, 200);
    fake.shutdown().await;
}

#[tokio::test]
async fn redirect_mode_sends_302_keeping_the_query() {
    let leader = FakeMarathon::start().await.expect("start");
    let standby = FakeMarathon::start().await.expect("start");
    standby.set_mode(Mode::RedirectTo(leader.url()));
    let query = "?event_type=status_update_event&event_type=instance_changed_event";
    let resp = no_redirects()
        .get(format!("{}/v2/events{query}", standby.url()))
        .header("Accept", SSE)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 302);
    assert_eq!(
        resp.headers()["location"].to_str().ok(),
        Some(format!("{}/v2/events{query}", leader.url()).as_str())
    );
    let bare = no_redirects()
        .get(format!("{}/v2/events", standby.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(
        bare.headers()["location"].to_str().ok(),
        Some(format!("{}/v2/events", leader.url()).as_str())
    );
    let tasks = client()
        .get(format!("{}/v2/tasks", standby.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(tasks.status(), 200);
    // A client following the redirect ends up streaming from the leader.
    let followed = open_stream(&standby, query).await;
    assert_eq!(followed.status(), 200);
    assert!(leader.wait_for_streams(1, BOUND).await);
    assert_eq!(standby.connected_streams(), 0);
    assert_eq!(standby.stream_requests(), 3);
    standby.shutdown().await;
    leader.shutdown().await;
}

#[tokio::test]
async fn not_ready_mode_answers_200_with_an_empty_body() {
    let fake = FakeMarathon::start().await.expect("start");
    fake.set_mode(Mode::NotReady);
    let mut resp = open_stream(&fake, "").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream;charset=utf-8"
    );
    assert_eq!(read_to_eof(&mut resp).await, Some(Vec::new()));
    assert_eq!(fake.connected_streams(), 0);
    fake.set_mode(Mode::Leader);
    let mut resp = open_stream(&fake, "").await;
    assert!(!skip_attached(&mut resp).await.is_empty());
    fake.shutdown().await;
}

#[tokio::test]
async fn status_mode_answers_every_stream_request() {
    let fake = FakeMarathon::start().await.expect("start");
    for code in [503, 502] {
        fake.set_mode(Mode::Status(code));
        let resp = open_stream(&fake, "").await;
        assert_eq!(resp.status().as_u16(), code);
        assert_eq!(
            resp.text().await.expect("body"),
            "Could not determine the current leader"
        );
    }
    let ping = client()
        .get(format!("{}/ping", fake.url()))
        .send()
        .await
        .expect("request");
    assert_eq!(ping.text().await.expect("body"), "pong");
    assert_eq!(fake.connected_streams(), 0);
    assert_eq!(fake.stream_requests(), 2);
    fake.shutdown().await;
}

#[tokio::test]
async fn tasks_and_apps_serve_what_was_set() {
    let fake = FakeMarathon::start().await.expect("start");
    let task = payload::task(
        &payload::task_id("/prod/web", 1, 1),
        "/prod/web",
        "TASK_RUNNING",
        1_602_061_966_130,
    );
    let app = payload::app("/prod/web", 2, Some((0, 0)));
    fake.set_tasks(vec![task.clone()]);
    fake.set_apps(vec![app.clone()]);
    let resp = client()
        .get(format!("{}/v2/tasks", fake.url()))
        .header("Accept", "application/json")
        .send()
        .await
        .expect("tasks");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(json_body(resp).await, json!({ "tasks": [task] }));
    let resp = client()
        .get(format!("{}/v2/apps?embed=apps.tasks", fake.url()))
        .send()
        .await
        .expect("apps");
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert_eq!(json_body(resp).await, json!({ "apps": [app] }));
    fake.set_tasks(Vec::new());
    let empty = get_json(format!("{}/v2/tasks", fake.url())).await;
    assert_eq!(empty, json!({ "tasks": [] }));
    let info = get_json(format!("{}/v2/info", fake.url())).await;
    assert_eq!(info["elected"], true);
    assert_eq!(info["leader"], fake.addr().to_string());
    assert_eq!(fake.count_requests("/v2/tasks"), 2);
    assert_eq!(fake.count_requests("/v2/apps"), 1);
    let seen = fake.requests();
    let paths: Vec<&str> = seen.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/v2/tasks", "/v2/apps", "/v2/tasks", "/v2/info"]);
    assert_eq!(seen[0].accept, ["application/json"]);
    assert_eq!(seen[1].query.as_deref(), Some("embed=apps.tasks"));
    fake.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams() {
    let fake = FakeMarathon::start().await.expect("start");
    let url = fake.url();
    let mut resp = open_stream(&fake, "").await;
    assert!(fake.wait_for_streams(1, BOUND).await);
    tokio::time::timeout(BOUND, fake.shutdown())
        .await
        .expect("shutdown finished");
    assert!(read_to_eof(&mut resp).await.is_some());
    assert!(client().get(format!("{url}/ping")).send().await.is_err());
}

#[test]
fn timestamp_formats_known_values() {
    assert_eq!(
        payload::timestamp(1_602_061_982_771),
        "2020-10-07T09:13:02.771Z"
    );
    assert_eq!(payload::timestamp(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(payload::timestamp(-1), "1969-12-31T23:59:59.999Z");
    assert_eq!(
        payload::timestamp(951_782_400_000),
        "2000-02-29T00:00:00.000Z"
    );
    assert_eq!(
        payload::timestamp(4_107_542_399_999),
        "2100-02-28T23:59:59.999Z"
    );
}

#[test]
fn status_update_has_the_eleven_marathon_fields() {
    let task_id = payload::task_id("/prod/web", 7, 2);
    let event = payload::status_update(&task_id, "/prod/web", "TASK_RUNNING", 1_602_061_982_771);
    let mut keys: Vec<&str> = event
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = [
        "slaveId",
        "taskId",
        "taskStatus",
        "message",
        "appId",
        "host",
        "ipAddresses",
        "ports",
        "version",
        "eventType",
        "timestamp",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(event["taskId"], task_id.as_str());
    assert_eq!(event["message"], "");
    assert_eq!(event["eventType"], "status_update_event");
    assert_eq!(event["timestamp"], "2020-10-07T09:13:02.771Z");
    assert!(event["slaveId"].as_str().is_some_and(|s| s.contains("-S")));
    assert_eq!(event["ipAddresses"][0]["ipAddress"], event["host"]);
    assert_eq!(event["ipAddresses"][0]["protocol"], "IPv4");
    assert!(event["ports"][0].is_u64());
    let failed = payload::status_update_with_message(
        &task_id,
        "/prod/web",
        "TASK_FAILED",
        "Container exited with status 1",
        5,
    );
    assert_eq!(failed["message"], "Container exited with status 1");
    assert_eq!(failed["host"], event["host"]);
}

#[test]
fn ids_follow_the_marathon_1_8_format() {
    let id = payload::instance_id("/prod/web", 7);
    let uuid = id.strip_prefix("prod_web.instance-").expect("prefix");
    let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert!(uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-'));
    assert_eq!(uuid.as_bytes()[14], b'1', "version-1 uuid");
    assert_eq!(payload::task_id("/prod/web", 7, 3), format!("{id}._app.3"));
    let distinct: std::collections::HashSet<String> =
        (0..10_000).map(|n| payload::instance_id("/a", n)).collect();
    assert_eq!(distinct.len(), 10_000);
    assert_eq!(
        payload::instance_id("/prod/api.v2", 1)
            .split(".instance-")
            .next(),
        Some("prod_api.v2")
    );
}

#[test]
fn instance_events_match_the_reference_shapes() {
    let id = payload::instance_id("/prod/web", 1);
    let scheduled = payload::instance_changed(&id, "/prod/web", "Scheduled", 10);
    assert!(scheduled["agentId"].is_null() && scheduled["host"].is_null());
    assert_eq!(scheduled.as_object().map(|o| o.len()), Some(8));
    let running = payload::instance_changed(&id, "/prod/web", "Running", 10);
    assert!(running["agentId"].is_string() && running["host"].is_string());
    assert_eq!(running["runSpecId"], "/prod/web");
    let status = payload::status_update(
        &payload::task_id("/prod/web", 1, 1),
        "/prod/web",
        "TASK_RUNNING",
        10,
    );
    assert_eq!(
        running["agentId"], status["slaveId"],
        "same instance, same agent"
    );
    let unknown = payload::unknown_instance_terminated(&id, "/prod/web", "Killed", 10);
    assert_eq!(unknown["eventType"], "unknown_instance_terminated_event");
    assert_eq!(unknown.as_object().map(|o| o.len()), Some(5));
    let terminated = payload::app_terminated("/prod/web", 10);
    assert_eq!(
        terminated,
        json!({ "appId": "/prod/web", "eventType": "app_terminated_event", "timestamp": "1970-01-01T00:00:00.010Z" })
    );
}

#[test]
fn app_payloads_carry_the_unreachable_strategy() {
    let disabled = payload::app("/prod/web", 3, None);
    assert_eq!(disabled["unreachableStrategy"], "disabled");
    assert_eq!(disabled["instances"], 3);
    assert_eq!(disabled["tasksRunning"], 3);
    for count in ["tasksStaged", "tasksHealthy", "tasksUnhealthy"] {
        assert!(disabled[count].is_u64(), "{count}");
    }
    let enabled = payload::app("/prod/web", 1, Some((60, 120)));
    assert_eq!(
        enabled["unreachableStrategy"],
        json!({ "inactiveAfterSeconds": 60, "expungeAfterSeconds": 120 })
    );
    let posted = payload::api_post_app("/prod/web", Some((0, 0)), 1_602_061_964_330);
    assert_eq!(posted["eventType"], "api_post_event");
    assert_eq!(posted["uri"], "/v2/apps/prod/web");
    assert_eq!(posted["appDefinition"]["id"], "/prod/web");
    assert_eq!(
        posted["appDefinition"]["unreachableStrategy"],
        json!({ "inactiveAfterSeconds": 0, "expungeAfterSeconds": 0 })
    );
    assert!(posted["appDefinition"].get("tasksRunning").is_none());
    assert_eq!(
        payload::api_post_app("/x", None, 0)["appDefinition"]["unreachableStrategy"],
        "disabled"
    );
}

#[test]
fn task_entries_follow_the_raml_shape() {
    let id = payload::task_id("/prod/web", 4, 1);
    let running = payload::task(&id, "/prod/web", "TASK_RUNNING", 1_602_061_966_130);
    for field in [
        "appId",
        "healthCheckResults",
        "host",
        "id",
        "ipAddresses",
        "ports",
        "servicePorts",
        "slaveId",
        "state",
        "stagedAt",
        "startedAt",
        "version",
        "localVolumes",
        "role",
    ] {
        assert!(running.get(field).is_some(), "{field}");
    }
    assert_eq!(running["stagedAt"], "2020-10-07T09:12:46.130Z");
    assert_eq!(running["role"], "*");
    let staging = payload::task(&id, "/prod/web", "TASK_STAGING", 1_602_061_966_130);
    assert!(staging.get("startedAt").is_none());
    assert_eq!(staging["stagedAt"], running["stagedAt"]);
    let failed = payload::task(&id, "/prod/web", "TASK_FAILED", 1_602_061_966_130);
    assert!(failed.get("stagedAt").is_none() && failed.get("version").is_none());
    assert_eq!(failed["ports"], json!([]));
    let app = payload::app("/prod/web", 1, None);
    assert_eq!(
        running["servicePorts"][0],
        app["portDefinitions"][0]["port"]
    );
}

#[tokio::test]
async fn wire_carries_one_chunk_per_event_and_a_split_heartbeat() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fake = FakeMarathon::start().await.expect("start");
    let mut tcp = tokio::net::TcpStream::connect(fake.addr())
        .await
        .expect("connect");
    let request = "GET /v2/events?event_type=app_terminated_event HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.expect("write");
    assert!(fake.wait_for_streams(1, BOUND).await);
    let event = payload::app_terminated("/a", 0);
    assert_eq!(fake.push_event(&event), 1);
    assert_eq!(fake.heartbeat(), 1);
    fake.disconnect_all();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(BOUND, tcp.read_to_end(&mut raw)).await;
    assert!(read.is_ok_and(|r| r.is_ok()), "connection not closed");
    let raw = String::from_utf8(raw).expect("utf8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(head.to_ascii_lowercase().contains("\r\nconnection: close"));
    let chunks = dechunk(body.as_bytes()).expect("well-formed chunked body");
    assert_eq!(chunks, [frame(&event), b"\r".to_vec(), b"\n".to_vec()]);
    fake.shutdown().await;
}

/// Splits an HTTP/1.1 chunked body into its chunks; `None` if malformed or unterminated.
fn dechunk(mut body: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut chunks = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&body[..line_end]).ok()?, 16).ok()?;
        let rest = &body[line_end + 2..];
        if size == 0 {
            return (rest == b"\r\n").then_some(chunks);
        }
        chunks.push(rest.get(..size)?.to_vec());
        body = rest.get(size..)?.strip_prefix(b"\r\n")?;
    }
}
