//! Tests of taking snapshots: from the connection's Marathon only, leader checks, the size bound,
//! the connection clock, and the loop's waiting and retrying.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;
use url::Url;

use super::*;
use crate::config::{Config, Secret};
use crate::connection::LeaderMismatch;
use crate::metrics::Metrics;
use crate::state::{MesosState, Store};
use marathon_sim::fake::{FakeMarathon, FakeOptions, payload};

const BOUND: Duration = Duration::from_secs(10);
const WEB: &str = "/prod/web";

fn resync(config: &Config, connection: Watcher) -> Resync {
    let metrics = Metrics::new(Store::new().reader(), Arc::new(|| 0));
    Resync {
        client: Arc::new(MarathonClient::new(config).expect("client")),
        clock: Arc::new(SharedClock::new()),
        connection,
        interval: Duration::from_secs(300),
        backoff_max: Duration::from_millis(100),
        max_bytes: config.max_snapshot_bytes,
        metrics: metrics.exporter.clone(),
        readiness: Arc::new(Readiness::new()),
    }
}

fn connection(id: u64, url: &str, leader: Option<&str>) -> Connection {
    Connection {
        id,
        base: Url::parse(url).expect("url"),
        leader: leader.map(str::to_owned),
        with_auth: true,
        date: None,
        received: Instant::now(),
    }
}

fn quiet() -> Watcher {
    watch::channel(None).1
}

async fn fake_with_state() -> FakeMarathon {
    let fake = FakeMarathon::start().await.expect("fake");
    let task = payload::task(&payload::task_id(WEB, 1, 1), WEB, "TASK_RUNNING", 0);
    fake.set_tasks(vec![task]);
    fake.set_apps(vec![payload::app(WEB, 1, Some((60, 600)))]);
    fake
}

#[tokio::test]
async fn a_snapshot_holds_app_and_pod_tasks_from_the_connections_marathon() {
    let fake = fake_with_state().await;
    let pod_task = "db.instance-7.pg.1";
    fake.set_pods(Some(vec![payload::pod_status(
        "/db",
        &[("db.instance-7", &[("pg", pod_task, "TASK_STAGING")])],
        None,
    )]));
    let other = FakeMarathon::start().await.expect("fake");
    // The configured URL is another instance: snapshots follow the connection, not the config.
    let r = resync(
        &Config::for_tests(Url::parse(&other.url()).unwrap()),
        quiet(),
    );
    let c = connection(1, &fake.url(), Some(&fake.url()));
    let s = r.snapshot(&c).await.expect("snapshot");
    let tasks: Vec<_> = s
        .tasks
        .iter()
        .map(|t| (t.id, t.app, t.state, t.pod))
        .collect();
    let app_task = payload::task_id(WEB, 1, 1);
    assert_eq!(
        tasks,
        [
            (app_task.as_str(), WEB, MesosState::Running, false),
            (pod_task, "/db", MesosState::Staging, true)
        ]
    );
    assert_eq!(s.apps.len(), 1);
    let pods: Vec<_> = s
        .pods
        .expect("pods listed")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(pods, ["/db"]);
    for path in ["/v2/tasks", "/v2/apps", "/v2/pods/::status"] {
        assert_eq!(fake.count_requests(path), 1, "{path}");
        assert_eq!(other.count_requests(path), 0, "{path}");
    }
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.accept == ["application/json"])
    );
}

#[tokio::test]
async fn the_answer_time_is_marathons_date_to_the_end_of_its_second() {
    let fake = fake_with_state().await;
    let hour = 3_600_000;
    fake.set_clock_offset(hour);
    let r = resync(
        &Config::for_tests(Url::parse(&fake.url()).unwrap()),
        quiet(),
    );
    let c = connection(1, &fake.url(), Some(&fake.url()));
    let before = payload::now_ms() + hour;
    let s = r.snapshot(&c).await.expect("snapshot");
    let after = payload::now_ms() + hour;
    let answered = s.answered_at.expect("the fake sends Date");
    assert_eq!(answered % 1000, 999, "whole seconds, to the end of one");
    assert!(
        (before - 1000..after + 1000).contains(&answered),
        "{before} <= {answered} <= {after}, on Marathon's clock"
    );
}

#[tokio::test]
async fn a_marathon_without_pods_leaves_them_alone() {
    let fake = fake_with_state().await;
    let r = resync(
        &Config::for_tests(Url::parse(&fake.url()).unwrap()),
        quiet(),
    );
    let s = r
        .snapshot(&connection(1, &fake.url(), Some(&fake.url())))
        .await
        .expect("a 404 of the pods is no failure");
    assert_eq!((s.tasks.len(), s.pods), (1, None));
}

#[tokio::test]
async fn answers_from_another_leader_are_discarded() {
    let fake = fake_with_state().await;
    let r = resync(
        &Config::for_tests(Url::parse(&fake.url()).unwrap()),
        quiet(),
    );
    let c = connection(1, &fake.url(), Some(&fake.url()));
    fake.set_leader_header(Some("http://deposed:8080".into()));
    let e = r.snapshot(&c).await.unwrap_err();
    assert!(
        matches!(&e, ResyncError::Leader { reason: LeaderMismatch::Other { .. }, url } if url.ends_with("/v2/tasks")),
        "{e}"
    );
    assert!(e.to_string().contains("http://deposed:8080"), "{e}");
    fake.set_leader_header(None);
    let e = r.snapshot(&c).await.unwrap_err();
    assert!(
        matches!(
            &e,
            ResyncError::Leader {
                reason: LeaderMismatch::Missing { .. },
                ..
            }
        ),
        "{e}"
    );
    // A stream that named no leader accepts answers naming none, or the host it reads from.
    let unnamed = connection(1, &fake.url(), None);
    assert!(r.snapshot(&unnamed).await.is_ok());
    fake.set_leader_header(Some(fake.url()));
    assert!(r.snapshot(&unnamed).await.is_ok());
    fake.set_leader_header(Some("http://elsewhere:8080".into()));
    assert!(matches!(
        r.snapshot(&unnamed).await,
        Err(ResyncError::Leader {
            reason: LeaderMismatch::NotTheStreamHost { .. },
            ..
        })
    ));
}

#[tokio::test]
async fn a_pods_404_must_come_from_the_leader_too() {
    let fake = fake_with_state().await;
    let r = resync(
        &Config::for_tests(Url::parse(&fake.url()).unwrap()),
        quiet(),
    );
    let c = connection(1, &fake.url(), Some("http://m1:8080"));
    fake.set_leader_header(Some("http://m1:8080".into()));
    assert!(r.snapshot(&c).await.is_ok());
    let e = r
        .snapshot(&connection(1, &fake.url(), Some("http://m2:8080")))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("/v2/tasks"), "{e}");
}

#[tokio::test]
async fn credentials_go_only_where_the_stream_sent_them() {
    let fake = FakeMarathon::start_with(FakeOptions {
        basic_auth: Some(("ops".into(), "s3cret".into())),
        ..FakeOptions::default()
    })
    .await
    .expect("fake");
    let mut config = Config::for_tests(Url::parse("http://configured:8080").unwrap());
    config.username = Some("ops".into());
    config.password = Some(Secret::new("s3cret".into()));
    let r = resync(&config, quiet());
    let mut c = connection(1, &fake.url(), Some(&fake.url()));
    assert!(r.snapshot(&c).await.is_ok());
    c.with_auth = false;
    let e = r.snapshot(&c).await.unwrap_err();
    assert!(matches!(e, ResyncError::Status { status: 401, .. }), "{e}");
    assert!(!e.to_string().contains("s3cret"));
    let sent: Vec<bool> = fake
        .requests()
        .iter()
        .map(|r| r.authorization.is_some())
        .collect();
    // tasks, apps, pods and deployments with them; the first body without them fails.
    assert_eq!(sent, [true, true, true, true, false]);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_by_its_length() {
    let fake = FakeMarathon::start().await.expect("fake");
    let task = payload::task(&payload::task_id(WEB, 1, 1), WEB, "TASK_RUNNING", 0);
    // The fake writes `{"tasks":[…]}` compactly, with a Content-Length; the other bodies are smaller.
    let size = serde_json::json!({ "tasks": [task] }).to_string().len();
    fake.set_tasks(vec![task]);
    let c = connection(1, &fake.url(), Some(&fake.url()));
    let mut config = Config::for_tests(Url::parse(&fake.url()).unwrap());
    config.max_snapshot_bytes = size - 1;
    let e = resync(&config, quiet()).snapshot(&c).await.unwrap_err();
    assert!(
        matches!(e, ResyncError::TooLarge { size: s, limit, .. } if s == size as u64 && limit == size - 1),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&format!("{size} bytes")) && text.contains("/v2/tasks"),
        "{text}"
    );
    config.max_snapshot_bytes = size;
    assert!(
        resync(&config, quiet()).snapshot(&c).await.is_ok(),
        "exactly the limit fits"
    );
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_stops_being_read() {
    // A server that sends a chunked body with no length and never ends it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0);
            request.extend_from_slice(&buf[..n]);
        }
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        socket.write_all(head.as_bytes()).await.unwrap();
        let piece = format!("{:x}\r\n{}\r\n", 1000, " ".repeat(1000));
        for _ in 0..5 {
            socket.write_all(piece.as_bytes()).await.unwrap();
        }
        socket.flush().await.unwrap();
        // Hold the connection open without ending the body.
        std::future::pending::<()>().await;
    });
    let mut config = Config::for_tests(Url::parse(&url).unwrap());
    config.max_snapshot_bytes = 2500;
    let r = resync(&config, quiet());
    let e = timeout(BOUND, r.snapshot(&connection(1, &url, None)))
        .await
        .expect("reading stopped at the limit, not at the end of the body")
        .unwrap_err();
    assert!(
        matches!(e, ResyncError::TooLargeRead { read, limit: 2500, .. } if read > 2500 && read <= 3000),
        "{e}"
    );
    assert!(e.to_string().contains("2500"), "{e}");
    server.abort();
}

#[tokio::test]
async fn requested_at_is_on_the_connection_clock() {
    let r = resync(
        &Config::for_tests(Url::parse("http://m:8080").unwrap()),
        quiet(),
    );
    let mut c = connection(3, "http://m:8080", None);
    c.date = Some(1_000_000);
    let at = r.requested_at(&c);
    assert!(
        (1_000_000..1_000_000 + 5_000).contains(&at),
        "the Date: {at}"
    );
    // Once the writer has seen an event of the connection, its timestamp rules, even behind now.
    let mut live = crate::clock::LiveClock::new(Arc::clone(&r.clock));
    live.connected(3);
    live.begin();
    live.observe(500_000);
    live.end();
    let at = r.requested_at(&c);
    assert!((500_000..500_000 + 5_000).contains(&at), "the event: {at}");
    // Another connection's events do not count for it.
    let mut other = connection(4, "http://m:8080", None);
    other.date = Some(2_000_000);
    let at = r.requested_at(&other);
    assert!((2_000_000..2_000_000 + 5_000).contains(&at), "{at}");
    other.date = None;
    let engine_now = r.clock.now();
    assert!(
        r.requested_at(&other) >= engine_now,
        "no Date: the engine's now"
    );
}

#[tokio::test]
async fn the_loop_waits_for_a_connection_and_retakes_a_snapshot_overtaken_by_a_reconnect() {
    let fake = fake_with_state().await;
    let (publish, watcher) = watch::channel(None);
    let r = resync(
        &Config::for_tests(Url::parse(&fake.url()).unwrap()),
        watcher,
    );
    let metrics = r.metrics.clone();
    let (trigger, triggers) = mpsc::channel(1);
    let (tx, mut taken) = mpsc::channel(1);
    let cancel = CancellationToken::new();
    let running = tokio::spawn(r.run(triggers, tx, cancel.clone()));
    trigger.send(()).await.unwrap();
    fake.hold_snapshots(true);
    publish.send_replace(Some(connection(1, &fake.url(), Some(&fake.url()))));
    let held = timeout(BOUND, async {
        while fake.count_requests("/v2/tasks") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(held.is_ok(), "the snapshot for connection 1 is asked for");
    // The stream reconnects while the answer is held back.
    publish.send_replace(Some(connection(2, &fake.url(), Some(&fake.url()))));
    fake.hold_snapshots(false);
    let got = timeout(BOUND, taken.recv())
        .await
        .expect("a snapshot")
        .unwrap();
    assert_eq!(got.connection, 2, "taken again for the new connection");
    assert_eq!(got.snapshot.tasks.len(), 1);
    assert_eq!(metrics.resyncs_failure.get(), 1, "the overtaken one");
    assert_eq!(metrics.resyncs_success.get(), 1);
    assert_eq!(fake.count_requests("/v2/tasks"), 2);
    cancel.cancel();
    running.await.unwrap();
}

#[tokio::test]
async fn a_discarded_answer_is_retried_and_counted_as_a_failure() {
    let fake = fake_with_state().await;
    fake.set_leader_header(Some("http://deposed:8080".into()));
    let (publish, watcher) = watch::channel(None);
    let r = resync(
        &Config::for_tests(Url::parse(&fake.url()).unwrap()),
        watcher,
    );
    let (metrics, readiness) = (r.metrics.clone(), Arc::clone(&r.readiness));
    let (trigger, triggers) = mpsc::channel(1);
    let (tx, mut taken) = mpsc::channel(1);
    let cancel = CancellationToken::new();
    let running = tokio::spawn(r.run(triggers, tx, cancel.clone()));
    publish.send_replace(Some(connection(1, &fake.url(), Some(&fake.url()))));
    trigger.send(()).await.unwrap();
    let retried = timeout(BOUND, async {
        while metrics.resyncs_failure.get() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(retried.is_ok(), "discarded and retried");
    readiness.set_connected(true);
    readiness.set_problem(None);
    let reason = timeout(BOUND, async {
        loop {
            if let Some(reason) = readiness.reason().filter(|r| r.contains("deposed")) {
                return reason;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the reason is shown");
    assert!(
        reason.contains("not from the event stream's leader"),
        "{reason}"
    );
    assert!(taken.try_recv().is_err(), "nothing handed over");
    fake.set_leader_header(Some(fake.url()));
    let got = timeout(BOUND, taken.recv())
        .await
        .expect("a snapshot")
        .unwrap();
    assert_eq!(got.connection, 1);
    assert_eq!(metrics.resyncs_success.get(), 1);
    cancel.cancel();
    running.await.unwrap();
}

#[test]
fn a_snapshot_from_the_same_leader_is_never_earlier_than_the_last() {
    let mut last = None;
    let leader = Some("http://m1:8080");
    let mut at = |connection: &Connection, requested_at: Millis| {
        let mut snapshot = Snapshot {
            requested_at,
            ..Snapshot::default()
        };
        no_earlier(&mut last, connection, &mut snapshot);
        snapshot.requested_at
    };
    let first = connection(1, "http://m1:8080", leader);
    assert_eq!(at(&first, 5_800), 5_800);
    // Reconnected within the same second: the new connection's clock, read from its `Date`,
    // says 5.000 s.
    let second = connection(2, "http://m1:8080", leader);
    assert_eq!(at(&second, 5_050), 5_800);
    assert_eq!(at(&second, 7_000), 7_000);
    // Another leader has a clock of its own.
    let other = connection(3, "http://m2:8080", Some("http://m2:8080"));
    assert_eq!(at(&other, 6_000), 6_000);
    // Without a leader header, the host the stream reads from names it.
    let unnamed = connection(4, "http://m3:8080", None);
    assert_eq!(at(&unnamed, 5_500), 5_500);
    assert_eq!(at(&unnamed, 5_400), 5_500);
}
