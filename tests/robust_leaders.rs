//! Robustness against Marathon's leadership and connection behaviour (REFERENCE.md §1.5, §1.6):
//! standby redirects with credentials, failover between configured instances, dropped connections
//! with missed events, silent streams, and leaders that close at once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::{PATIENCE, Samples, eventually, get, parse, scrape, until_ready, until_value};
use marathon_sim::fake::{FakeMarathon, FakeOptions, Mode, payload};
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::{Config, Secret};

const WEB: &str = "/prod/web";
const STATUS_EVENTS: &str = "marathon_exporter_events_total{type=\"status_update_event\"}";
const CONNECT_OK: &str = "marathon_exporter_stream_connects_total{result=\"success\"}";
const CONNECT_FAILED: &str = "marathon_exporter_stream_connects_total{result=\"failure\"}";
const EOF: &str = "marathon_exporter_stream_disconnects_total{reason=\"eof\"}";
const IDLE: &str = "marathon_exporter_stream_disconnects_total{reason=\"idle_timeout\"}";
const ERROR: &str = "marathon_exporter_stream_disconnects_total{reason=\"error\"}";
const LEADER_CHANGES: &str = "marathon_exporter_leader_changes_total";

/// A config for `urls` with short timeouts, so that reconnects happen within a test.
fn fast(urls: &[String]) -> Config {
    let mut config = common::config(&urls[0]);
    config.marathon_urls = urls
        .iter()
        .map(|u| url::Url::parse(u).expect("valid URL"))
        .collect();
    config.idle_timeout = Duration::from_millis(400);
    config.backoff_max = Duration::from_millis(200);
    config
}

async fn samples(exporter: &Exporter) -> Samples {
    parse(&scrape(exporter).await)
}

async fn metric(exporter: &Exporter, series: &str) -> f64 {
    common::value(&samples(exporter).await, series)
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn with_basic_auth() -> FakeOptions {
    FakeOptions {
        basic_auth: Some(("ops".into(), "s3cret".into())),
        ..FakeOptions::default()
    }
}

fn authorizations(fake: &FakeMarathon, path: &str) -> Vec<Option<String>> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.authorization)
        .collect()
}

fn running(n: u32) -> serde_json::Value {
    payload::status_update(
        &payload::task_id(WEB, n, 1),
        WEB,
        "TASK_RUNNING",
        payload::now_ms(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_redirect_is_followed_with_the_credentials() {
    let leader = FakeMarathon::start_with(with_basic_auth()).await.unwrap();
    let standby = FakeMarathon::start_with(with_basic_auth()).await.unwrap();
    standby.set_mode(Mode::RedirectTo(leader.url()));
    let mut config = fast(&[standby.url()]);
    config.username = Some("ops".into());
    config.password = Some(Secret::new("s3cret".into()));
    let exporter = Exporter::start(config).await.unwrap();

    until_ready(&exporter).await;
    assert!(leader.wait_for_streams(1, PATIENCE).await);
    assert_eq!(leader.push_event(&running(1)), 1);
    let s = until_value(&exporter, STATUS_EVENTS, 1.0).await;
    assert_eq!(common::value(&s, CONNECT_OK), 1.0);
    assert_eq!(common::value(&s, CONNECT_FAILED), 0.0);
    assert_eq!(common::value(&s, LEADER_CHANGES), 0.0);

    let want = Some(basic("ops", "s3cret"));
    assert_eq!(authorizations(&standby, "/v2/events"), vec![want.clone()]);
    assert_eq!(authorizations(&leader, "/v2/events"), vec![want.clone()]);
    // Snapshots come from the leader the stream reads, with the credentials: a configured host
    // named it.
    let snapshots = authorizations(&leader, "/v2/tasks");
    assert!(!snapshots.is_empty());
    assert!(snapshots.iter().all(|a| *a == want));
    assert_eq!(standby.count_requests("/v2/tasks"), 0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_do_not_follow_a_second_redirect() {
    // configured standby → the leader it names (gets credentials) → a host nobody configured.
    let stranger = FakeMarathon::start().await.unwrap();
    let named = FakeMarathon::start_with(with_basic_auth()).await.unwrap();
    named.set_mode(Mode::RedirectTo(stranger.url()));
    let standby = FakeMarathon::start_with(with_basic_auth()).await.unwrap();
    standby.set_mode(Mode::RedirectTo(named.url()));
    let mut config = fast(&[standby.url()]);
    config.username = Some("ops".into());
    config.password = Some(Secret::new("s3cret".into()));
    let exporter = Exporter::start(config).await.unwrap();

    until_ready(&exporter).await;
    assert!(stranger.wait_for_streams(1, PATIENCE).await);
    let want = Some(basic("ops", "s3cret"));
    assert_eq!(authorizations(&standby, "/v2/events"), vec![want.clone()]);
    assert_eq!(authorizations(&named, "/v2/events"), vec![want]);
    let seen = stranger.requests();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|r| r.authorization.is_none()),
        "credentials reached a host nobody configured: {seen:?}"
    );
    assert_eq!(metric(&exporter, CONNECT_OK).await, 1.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_between_configured_instances_and_counts_one_leader_change() {
    let a = FakeMarathon::start().await.unwrap();
    let b = FakeMarathon::start().await.unwrap();
    a.set_mode(Mode::Status(503));
    let exporter = Exporter::start(fast(&[a.url(), b.url()])).await.unwrap();

    until_ready(&exporter).await;
    assert!(b.wait_for_streams(1, PATIENCE).await);
    assert_eq!(b.push_event(&running(1)), 1);
    let s = until_value(&exporter, STATUS_EVENTS, 1.0).await;
    assert_eq!(common::value(&s, CONNECT_FAILED), 1.0, "a's 503");
    assert_eq!(common::value(&s, CONNECT_OK), 1.0);
    assert_eq!(common::value(&s, LEADER_CHANGES), 0.0);

    // b loses leadership: it closes its streams and answers 502 until a new leader is known.
    b.set_mode(Mode::Status(502));
    a.set_mode(Mode::Leader);
    b.disconnect_all();
    assert!(a.wait_for_streams(1, PATIENCE).await);
    assert_eq!(a.push_event(&running(2)), 1);
    let s = until_value(&exporter, STATUS_EVENTS, 2.0).await;
    assert_eq!(common::value(&s, LEADER_CHANGES), 1.0);
    assert_eq!(common::value(&s, CONNECT_OK), 2.0);
    assert_eq!(
        common::value(&s, CONNECT_FAILED),
        2.0,
        "a's 503, then b's 502"
    );
    assert_eq!(common::value(&s, EOF), 1.0);
    let updates = format!("marathon_task_status_updates_total{{app=\"{WEB}\",status=\"running\"}}");
    assert_eq!(common::value(&s, &updates), 2.0);
    assert_eq!(
        common::value(
            &s,
            "marathon_exporter_events_total{type=\"event_stream_attached\"}"
        ),
        2.0
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_missed_while_disconnected_are_corrected_by_the_resync() {
    // Marathon's keep-alive, so that a slow machine never sees the stream fall idle.
    let fake = FakeMarathon::start_with(FakeOptions {
        heartbeat: Some(std::time::Duration::from_millis(200)),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let t0 = payload::now_ms() - 600_000;
    let task = |n, state| payload::task(&payload::task_id(WEB, n, 1), WEB, state, t0);
    fake.set_apps(vec![payload::app(WEB, 3, Some((60, 300)))]);
    fake.set_tasks(vec![
        task(1, "TASK_RUNNING"),
        task(2, "TASK_RUNNING"),
        task(3, "TASK_RUNNING"),
    ]);
    // Removed with the snapshot (no removal delay), so the stream has no time to fall idle.
    let mut config = fast(&[fake.url()]);
    config.removal_delay = std::time::Duration::ZERO;
    let exporter = Exporter::start(config).await.unwrap();
    until_ready(&exporter).await;
    assert_eq!(
        metric(&exporter, "marathon_exporter_tracked_tasks").await,
        3.0
    );

    // The connection drops; while no stream is open, task 2 vanishes, task 3 becomes
    // unreachable and task 4 starts, and no event tells of it.
    fake.set_mode(Mode::Status(503));
    fake.disconnect_all();
    until_value(&exporter, EOF, 1.0).await;
    fake.set_tasks(vec![
        task(1, "TASK_RUNNING"),
        task(3, "TASK_UNREACHABLE"),
        task(4, "TASK_RUNNING"),
    ]);
    fake.set_mode(Mode::Leader);

    let corrections =
        |kind: &str| format!("marathon_exporter_resync_corrections_total{{kind=\"{kind}\"}}");
    let s = until_value(&exporter, &corrections("state"), 1.0).await;
    assert_eq!(common::value(&s, &corrections("removed")), 1.0);
    assert_eq!(common::value(&s, &corrections("added")), 1.0);
    let v = |series: String| common::value(&s, &series);
    assert_eq!(
        v(format!(
            "marathon_task_expunges_total{{app=\"{WEB}\",reason=\"unobserved\"}}"
        )),
        1.0
    );
    assert_eq!(
        v(format!(
            "marathon_task_transitions_total{{app=\"{WEB}\",from=\"running\",to=\"unreachable\"}}"
        )),
        1.0
    );
    assert_eq!(
        v(format!(
            "marathon_app_tasks{{app=\"{WEB}\",state=\"running\"}}"
        )),
        2.0
    );
    assert_eq!(
        v(format!(
            "marathon_app_tasks{{app=\"{WEB}\",state=\"unreachable\"}}"
        )),
        1.0
    );
    assert_eq!(v("marathon_exporter_tracked_tasks".into()), 3.0);
    assert_eq!(v(EOF.into()), 1.0);
    assert_eq!(v(IDLE.into()), 0.0);
    assert_eq!(v(ERROR.into()), 0.0);
    assert_eq!(v(CONNECT_OK.into()), 2.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_stream_is_dropped_after_the_idle_timeout() {
    let fake = FakeMarathon::start().await.unwrap();
    let exporter = Exporter::start(fast(&[fake.url()])).await.unwrap();
    until_ready(&exporter).await;
    let reconnected = eventually(|| async {
        metric(&exporter, IDLE).await >= 2.0 && metric(&exporter, CONNECT_OK).await >= 3.0
    })
    .await;
    assert!(reconnected, "{}", scrape(&exporter).await);
    let s = samples(&exporter).await;
    assert_eq!(common::value(&s, EOF), 0.0);
    assert_eq!(common::value(&s, ERROR), 0.0);
    assert!(fake.stream_requests() >= 3);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_alone_keep_a_quiet_stream_connected() {
    let fake = Arc::new(FakeMarathon::start().await.unwrap());
    // Marathon's heartbeat, faster: every 100 ms against an idle timeout of 400 ms, for 4 s at most.
    let beating = Arc::clone(&fake);
    let heart = tokio::spawn(async move {
        for _ in 0..40 {
            beating.heartbeat();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let exporter = Exporter::start(fast(&[fake.url()])).await.unwrap();
    until_ready(&exporter).await;
    let watch_until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < watch_until {
        let s = samples(&exporter).await;
        assert_eq!(common::value(&s, IDLE), 0.0, "a heartbeat is a byte");
        assert_eq!(common::value(&s, CONNECT_OK), 1.0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!heart.is_finished(), "the heartbeats ran the whole time");
    assert_eq!(fake.stream_requests(), 1);
    assert_eq!(metric(&exporter, "marathon_exporter_stream_up").await, 1.0);
    heart.abort();
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_counts_as_a_failed_connect() {
    // Accepts connections and never writes a byte: not even response headers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let exporter = Exporter::start(fast(&[url])).await.unwrap();
    let retried = eventually(|| async { metric(&exporter, CONNECT_FAILED).await >= 2.0 }).await;
    assert!(retried, "{}", scrape(&exporter).await);
    assert_eq!(metric(&exporter, CONNECT_OK).await, 0.0);
    let (status, reason) = get(&exporter, "/readyz").await;
    assert_eq!(status, 503);
    assert!(reason.contains("no response"), "{reason}");
    holder.abort();
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_is_not_ready_is_retried_with_backoff() {
    let fake = FakeMarathon::start().await.unwrap();
    fake.set_mode(Mode::NotReady);
    let exporter = Exporter::start(fast(&[fake.url()])).await.unwrap();
    let closing = eventually(|| async {
        let s = samples(&exporter).await;
        common::value(&s, CONNECT_OK) >= 2.0 && common::value(&s, EOF) >= 2.0
    })
    .await;
    assert!(closing, "{}", scrape(&exporter).await);

    let before = fake.stream_requests();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = fake.stream_requests() - before;
    assert!(
        (1..20).contains(&during),
        "{during} stream requests in a second"
    );

    let s = samples(&exporter).await;
    assert_eq!(common::value(&s, CONNECT_FAILED), 0.0);
    let (ok, eof) = (common::value(&s, CONNECT_OK), common::value(&s, EOF));
    assert!(ok - eof <= 1.0 && eof <= ok, "success {ok}, eof {eof}");
    assert_eq!(common::value(&s, IDLE) + common::value(&s, ERROR), 0.0);
    let explained = eventually(|| async {
        let (status, reason) = get(&exporter, "/readyz").await;
        status == 503 && reason.contains("closed the event stream")
    })
    .await;
    assert!(explained, "{:?}", get(&exporter, "/readyz").await);
    exporter.shutdown().await;
}
