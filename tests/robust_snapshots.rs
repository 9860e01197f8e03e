//! Snapshots against Marathon's leadership and clocks (RULES.md, Time and Snapshot): taken only from
//! the leader the event stream reads, used only while the stream is on the connection they were
//! taken for, dated on that connection's clock, bounded in size, and with the pods.

mod common;

use std::time::Duration;

use common::{PATIENCE, Samples, eventually, get, parse, scrape, until_ready, until_value};
use marathon_sim::fake::{FakeMarathon, Mode, payload};
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::Config;
use serde_json::Value;

const WEB: &str = "/prod/web";
const ADDED: &str = "marathon_exporter_resync_corrections_total{kind=\"added\"}";
const STATE: &str = "marathon_exporter_resync_corrections_total{kind=\"state\"}";
const REMOVED: &str = "marathon_exporter_resync_corrections_total{kind=\"removed\"}";
const RESYNC_OK: &str = "marathon_exporter_resyncs_total{result=\"success\"}";
const RESYNC_FAILED: &str = "marathon_exporter_resyncs_total{result=\"failure\"}";
const TRACKED: &str = "marathon_exporter_tracked_tasks";

fn unobserved() -> String {
    format!("marathon_task_expunges_total{{app=\"{WEB}\",reason=\"unobserved\"}}")
}

fn tasks_in(state: &str) -> String {
    format!("marathon_app_tasks{{app=\"{WEB}\",state=\"{state}\"}}")
}

/// A config for `urls` that reconnects and retries fast; streams are not dropped for silence.
fn config(urls: &[&FakeMarathon]) -> Config {
    let mut config = common::config(&urls[0].url());
    config.marathon_urls = urls
        .iter()
        .map(|f| url::Url::parse(&f.url()).expect("valid URL"))
        .collect();
    config.backoff_max = Duration::from_millis(200);
    config
}

fn task(n: u32, state: &str) -> Value {
    payload::task(
        &payload::task_id(WEB, n, 1),
        WEB,
        state,
        payload::now_ms() - 600_000,
    )
}

fn status(n: u32, state: &str, at: i64) -> Value {
    payload::status_update(&payload::task_id(WEB, n, 1), WEB, state, at)
}

async fn start(urls: &[&FakeMarathon], apply: impl FnOnce(&mut Config)) -> Exporter {
    let mut config = config(urls);
    apply(&mut config);
    Exporter::start(config).await.expect("exporter")
}

async fn samples(exporter: &Exporter) -> Samples {
    parse(&scrape(exporter).await)
}

/// Waits until `fake` has had at least `n` requests for `path`.
async fn until_requests(fake: &FakeMarathon, path: &str, n: usize) {
    let seen = eventually(|| async { fake.count_requests(path) >= n }).await;
    assert!(
        seen,
        "{path} asked {} times, not {n}",
        fake.count_requests(path)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_answering_from_stale_state_is_never_used() {
    let old = FakeMarathon::start().await.unwrap();
    let new = FakeMarathon::start().await.unwrap();
    for fake in [&old, &new] {
        fake.set_apps(vec![payload::app(WEB, 2, Some((60, 600)))]);
    }
    old.set_tasks(vec![task(1, "TASK_RUNNING")]);
    new.set_mode(Mode::RedirectTo(old.url()));
    let exporter = start(&[&old, &new], |c| {
        c.resync_interval = Duration::from_secs(1);
    })
    .await;
    until_ready(&exporter).await;
    assert_eq!(common::value(&samples(&exporter).await, TRACKED), 1.0);

    // Leadership moves. The old leader sends its stream to the new one, but still answers
    // /v2/tasks from its own stale state (without task 2), with its own leader header.
    new.set_tasks(vec![task(1, "TASK_RUNNING"), task(2, "TASK_RUNNING")]);
    new.set_mode(Mode::Leader);
    old.set_mode(Mode::RedirectTo(new.url()));
    old.close_streams();
    assert!(new.wait_for_streams(1, PATIENCE).await);
    until_value(&exporter, ADDED, 1.0).await;
    let asked_of_old = old.count_requests("/v2/tasks");
    // Several periodic resyncs later (one a second), all from the new leader.
    let from_new = new.count_requests("/v2/tasks");
    until_requests(&new, "/v2/tasks", from_new + 3).await;
    let s = until_value(&exporter, TRACKED, 2.0).await;
    assert_eq!(common::value(&s, &unobserved()), 0.0, "a live task removed");
    assert_eq!(common::value(&s, REMOVED), 0.0);
    assert_eq!(common::value(&s, &tasks_in("running")), 2.0);
    assert_eq!(old.count_requests("/v2/tasks"), asked_of_old);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_naming_another_leader_is_discarded_and_taken_again() {
    let fake = FakeMarathon::start().await.unwrap();
    fake.set_apps(vec![payload::app(WEB, 2, Some((60, 600)))]);
    fake.set_tasks(vec![task(1, "TASK_RUNNING")]);
    let exporter = start(&[&fake], |c| {
        c.resync_interval = Duration::from_secs(1);
    })
    .await;
    until_ready(&exporter).await;
    let failed_before = common::value(&samples(&exporter).await, RESYNC_FAILED);

    // The stream's leader named itself; its snapshot answers now name another leader.
    fake.set_tasks(vec![task(1, "TASK_RUNNING"), task(2, "TASK_RUNNING")]);
    fake.set_leader_header(Some("http://other-leader.invalid:8080".into()));
    let retried = eventually(|| async {
        common::value(&samples(&exporter).await, RESYNC_FAILED) >= failed_before + 2.0
    })
    .await;
    assert!(retried, "{}", scrape(&exporter).await);
    let s = samples(&exporter).await;
    assert_eq!(
        common::value(&s, ADDED),
        0.0,
        "a discarded answer is not used"
    );
    assert_eq!(common::value(&s, TRACKED), 1.0);

    fake.set_leader_header(Some(fake.url()));
    let s = until_value(&exporter, ADDED, 1.0).await;
    assert_eq!(common::value(&s, TRACKED), 2.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_overtaken_by_a_reconnect_is_taken_again_from_the_new_leader() {
    let a = FakeMarathon::start().await.unwrap();
    let b = FakeMarathon::start().await.unwrap();
    for fake in [&a, &b] {
        fake.set_apps(vec![payload::app(WEB, 2, Some((60, 600)))]);
    }
    a.set_tasks(vec![task(1, "TASK_RUNNING")]);
    b.set_mode(Mode::RedirectTo(a.url()));
    let exporter = start(&[&a, &b], |_| {}).await;
    until_ready(&exporter).await;

    // The stream reconnects to `a`, whose snapshot answer is held back; `a`'s state is stale by
    // the time it answers (it lists nothing).
    a.hold_snapshots(true);
    a.set_tasks(vec![]);
    a.close_streams();
    until_requests(&a, "/v2/tasks", 2).await;
    // Before it answers, leadership moves to `b` and the stream follows.
    b.set_tasks(vec![task(1, "TASK_RUNNING"), task(2, "TASK_RUNNING")]);
    b.set_mode(Mode::Leader);
    a.set_mode(Mode::RedirectTo(b.url()));
    a.close_streams();
    assert!(b.wait_for_streams(1, PATIENCE).await);
    let s = until_value(&exporter, ADDED, 1.0).await;
    assert_eq!(common::value(&s, TRACKED), 2.0);
    assert!(common::value(&s, RESYNC_FAILED) >= 1.0, "the overtaken one");
    a.hold_snapshots(false);
    let s = samples(&exporter).await;
    assert_eq!(common::value(&s, &unobserved()), 0.0);
    assert_eq!(common::value(&s, TRACKED), 2.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_whose_clock_lags_is_not_judged_on_the_old_leaders_clock() {
    let ahead = FakeMarathon::start().await.unwrap();
    let lagging = FakeMarathon::start().await.unwrap();
    ahead.set_clock_offset(5 * 60_000);
    for fake in [&ahead, &lagging] {
        fake.set_apps(vec![payload::app(WEB, 3, Some((60, 600)))]);
    }
    lagging.set_mode(Mode::RedirectTo(ahead.url()));
    let exporter = start(&[&ahead, &lagging], |_| {}).await;
    until_ready(&exporter).await;
    // An event on the old leader's clock, five minutes ahead: `now` follows it and never goes back.
    assert_eq!(
        ahead.push_event(&status(1, "TASK_RUNNING", ahead.now_ms())),
        1
    );
    until_value(&exporter, &tasks_in("running"), 1.0).await;

    // The new leader lists task 2 as staging and task 3 (a marker) as running; its snapshot
    // answer is held until task 2's running event, stamped after the request, has been applied.
    lagging.set_tasks(vec![task(2, "TASK_STAGING"), task(3, "TASK_RUNNING")]);
    lagging.hold_snapshots(true);
    lagging.set_mode(Mode::Leader);
    ahead.set_mode(Mode::RedirectTo(lagging.url()));
    ahead.close_streams();
    until_requests(&lagging, "/v2/tasks", 1).await;
    let pushed = lagging.push_event(&status(2, "TASK_RUNNING", lagging.now_ms() + 100));
    assert_eq!(pushed, 1);
    until_value(&exporter, &tasks_in("running"), 2.0).await;
    lagging.hold_snapshots(false);

    let s = until_value(&exporter, ADDED, 1.0).await;
    assert_eq!(
        common::value(&s, STATE),
        0.0,
        "a snapshot requested before the event does not override it"
    );
    assert_eq!(common::value(&s, &tasks_in("running")), 3.0);
    assert_eq!(common::value(&s, &tasks_in("staging")), 0.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marathon_whose_clock_lags_the_host_is_read_on_its_own_clock() {
    let fake = FakeMarathon::start().await.unwrap();
    fake.set_clock_offset(-3_600_000);
    fake.set_apps(vec![payload::app(WEB, 2, Some((60, 600)))]);
    fake.set_tasks(vec![task(1, "TASK_STAGING"), task(2, "TASK_RUNNING")]);
    fake.hold_snapshots(true);
    let exporter = start(&[&fake], |_| {}).await;
    until_requests(&fake, "/v2/tasks", 1).await;
    // An hour behind the host's clock, yet fresh: tracked, not stale.
    assert_eq!(
        fake.push_event(&status(1, "TASK_RUNNING", fake.now_ms() + 100)),
        1
    );
    let s = until_value(&exporter, &tasks_in("running"), 1.0).await;
    assert_eq!(
        common::value(&s, "marathon_exporter_event_errors_total{kind=\"stale\"}"),
        0.0
    );
    fake.hold_snapshots(false);
    until_ready(&exporter).await;
    let s = samples(&exporter).await;
    assert_eq!(
        common::value(&s, &tasks_in("running")),
        2.0,
        "the seed, requested before the event, keeps it running"
    );
    assert_eq!(common::value(&s, &tasks_in("staging")), 0.0);

    // Timers run on Marathon's clock too: a task unreachable just now is not ten minutes over
    // its expungeAfter because the host's clock runs an hour ahead.
    assert_eq!(
        fake.push_event(&status(3, "TASK_UNREACHABLE", fake.now_ms())),
        1
    );
    let s = until_value(&exporter, &tasks_in("unreachable"), 1.0).await;
    let age = format!("marathon_app_unreachable_oldest_age_seconds{{app=\"{WEB}\"}}");
    assert!(
        common::value(&s, &age) < 50.0,
        "{}",
        common::value(&s, &age)
    );
    let timeouts =
        format!("marathon_task_expunges_total{{app=\"{WEB}\",reason=\"unreachable_timeout\"}}");
    assert_eq!(common::value(&s, &timeouts), 0.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_size_limit_fails_the_resync_with_its_size() {
    let fake = FakeMarathon::start().await.unwrap();
    let tasks = vec![task(1, "TASK_RUNNING"), task(2, "TASK_RUNNING")];
    let size = serde_json::json!({ "tasks": tasks }).to_string().len();
    fake.set_tasks(tasks);
    let exporter = start(&[&fake], |c| c.max_snapshot_bytes = size - 1).await;
    let failed =
        eventually(|| async { common::value(&samples(&exporter).await, RESYNC_FAILED) >= 1.0 })
            .await;
    assert!(failed, "{}", scrape(&exporter).await);
    let explained = eventually(|| async {
        let (status, reason) = get(&exporter, "/readyz").await;
        status == 503 && reason.contains(&format!("{size} bytes")) && reason.contains("max-bytes")
    })
    .await;
    assert!(explained, "{:?}", get(&exporter, "/readyz").await);
    let s = samples(&exporter).await;
    assert_eq!(common::value(&s, RESYNC_OK), 0.0);
    assert_eq!(common::value(&s, TRACKED), 0.0);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_tasks_come_from_the_pods_status() {
    let fake = FakeMarathon::start().await.unwrap();
    fake.set_apps(vec![payload::app(WEB, 1, Some((60, 600)))]);
    fake.set_tasks(vec![task(1, "TASK_RUNNING")]);
    let instance = payload::instance_id("/db", 1);
    let pg = format!("{instance}.pg.1");
    let sidecar = format!("{instance}.log.1");
    let containers = [
        ("pg", pg.as_str(), "TASK_RUNNING"),
        ("log", sidecar.as_str(), "TASK_STAGING"),
    ];
    fake.set_pods(Some(vec![payload::pod_status(
        "/db",
        &[(instance.as_str(), &containers)],
        None,
    )]));
    let exporter = start(&[&fake], |_| {}).await;
    until_ready(&exporter).await;
    let s = until_value(&exporter, TRACKED, 3.0).await;
    let db = |state: &str| format!("marathon_app_tasks{{app=\"/db\",state=\"{state}\"}}");
    assert_eq!(common::value(&s, &db("running")), 1.0);
    assert_eq!(common::value(&s, &db("staging")), 1.0);
    assert_eq!(fake.count_requests("/v2/pods/::status"), 1);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marathon_without_pods_is_resynced_all_the_same() {
    let fake = FakeMarathon::start().await.unwrap();
    fake.set_tasks(vec![task(1, "TASK_RUNNING")]);
    let exporter = start(&[&fake], |_| {}).await;
    until_ready(&exporter).await;
    let s = samples(&exporter).await;
    assert_eq!(common::value(&s, RESYNC_FAILED), 0.0, "a 404 of the pods");
    assert_eq!(common::value(&s, TRACKED), 1.0);
    assert!(fake.count_requests("/v2/pods/::status") >= 1);
    exporter.shutdown().await;
}
