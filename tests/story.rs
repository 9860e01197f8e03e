//! End to end: the exporter against an in-process Marathon that speaks Jetty's framing, driven
//! through a realistic story; the scraped `/metrics` must show exactly what RULES.md implies.

mod common;

use std::collections::BTreeMap;

use common::{Samples, config, get, normalize, parse, scrape, until_ready, until_value};
use marathon_sim::fake::{FakeMarathon, payload};
use marathon_task_exporter::Exporter;

const WEB: &str = "/prod/web";
const API: &str = "/prod/api";
const REPORT: &str = "/batch/report";

/// The per-app families of the story, as the exposition must show them.
fn expected() -> BTreeMap<String, f64> {
    let mut e = BTreeMap::new();
    let mut put = |series: String, v: f64| {
        e.insert(normalize(&series), v);
    };
    let transitions: &[(&str, &str, &str, f64)] = &[
        (WEB, "none", "staging", 2.0),
        (WEB, "staging", "running", 2.0),
        (WEB, "running", "unreachable", 2.0),
        (WEB, "unreachable", "unreachable_inactive", 2.0),
        (WEB, "unreachable_inactive", "running", 1.0),
        (WEB, "unreachable_inactive", "unknown", 1.0),
        (WEB, "running", "killing", 1.0),
        (WEB, "killing", "killed", 1.0),
        (API, "none", "staging", 2.0),
        (API, "staging", "running", 2.0),
        (API, "running", "failed", 1.0),
        (API, "running", "gone", 1.0),
        (REPORT, "none", "staging", 1.0),
        (REPORT, "staging", "running", 1.0),
        (REPORT, "running", "finished", 1.0),
    ];
    for (app, from, to, n) in transitions {
        put(
            format!("marathon_task_transitions_total{{app=\"{app}\",from=\"{from}\",to=\"{to}\"}}"),
            *n,
        );
    }
    let replacement_reasons = [
        "error",
        "failed",
        "dropped",
        "gone",
        "gone_by_operator",
        "unknown",
        "unreachable",
        "unhealthy",
    ];
    let expunge_reasons = [
        "error",
        "failed",
        "dropped",
        "gone",
        "gone_by_operator",
        "unknown",
        "finished",
        "killed",
        "unreachable_timeout",
        "unobserved",
    ];
    let replaced: &[(&str, &str, f64)] = &[
        (WEB, "unreachable", 2.0),
        (API, "failed", 1.0),
        (API, "gone", 1.0),
    ];
    let expunged: &[(&str, &str, f64)] = &[
        (WEB, "unreachable_timeout", 1.0),
        (WEB, "killed", 1.0),
        (API, "failed", 1.0),
        (API, "gone", 1.0),
        (REPORT, "finished", 1.0),
    ];
    for app in [WEB, API, REPORT] {
        for reason in replacement_reasons {
            let n = replaced
                .iter()
                .find(|(a, r, _)| *a == app && *r == reason)
                .map_or(0.0, |x| x.2);
            put(
                format!("marathon_task_replacements_total{{app=\"{app}\",reason=\"{reason}\"}}"),
                n,
            );
        }
        for reason in expunge_reasons {
            let n = expunged
                .iter()
                .find(|(a, r, _)| *a == app && *r == reason)
                .map_or(0.0, |x| x.2);
            put(
                format!("marathon_task_expunges_total{{app=\"{app}\",reason=\"{reason}\"}}"),
                n,
            );
        }
    }
    let statuses: &[(&str, &str, f64)] = &[
        (WEB, "staging", 2.0),
        (WEB, "running", 3.0),
        (WEB, "unreachable", 2.0),
        (WEB, "killing", 1.0),
        (WEB, "killed", 1.0),
        (API, "staging", 2.0),
        (API, "running", 2.0),
        (API, "failed", 1.0),
        (API, "lost", 1.0),
        (REPORT, "staging", 1.0),
        (REPORT, "running", 1.0),
        (REPORT, "finished", 1.0),
    ];
    for (app, status, n) in statuses {
        put(
            format!("marathon_task_status_updates_total{{app=\"{app}\",status=\"{status}\"}}"),
            *n,
        );
    }
    // (count, sum) of the histograms.
    put(
        format!("marathon_task_unreachable_duration_seconds_count{{app=\"{WEB}\"}}"),
        2.0,
    );
    put(
        format!("marathon_task_unreachable_duration_seconds_sum{{app=\"{WEB}\"}}"),
        370.0,
    );
    for (app, count, sum) in [(WEB, 2.0, 6.0), (API, 2.0, 8.0), (REPORT, 1.0, 2.0)] {
        put(
            format!("marathon_task_time_to_running_seconds_count{{app=\"{app}\"}}"),
            count,
        );
        put(
            format!("marathon_task_time_to_running_seconds_sum{{app=\"{app}\"}}"),
            sum,
        );
    }
    // Every known app has these from 0: one unknown termination, no health-check kill.
    for app in [WEB, API, REPORT] {
        let unknown = if app == WEB { 1.0 } else { 0.0 };
        put(
            format!("marathon_task_unknown_terminations_total{{app=\"{app}\"}}"),
            unknown,
        );
        put(
            format!("marathon_task_health_kills_total{{app=\"{app}\"}}"),
            0.0,
        );
    }
    for (app, running) in [(WEB, 2.0), (API, 1.0), (REPORT, 0.0)] {
        for state in [
            "staging",
            "starting",
            "running",
            "killing",
            "unreachable",
            "unreachable_inactive",
        ] {
            let n = if state == "running" { running } else { 0.0 };
            put(
                format!("marathon_app_tasks{{app=\"{app}\",state=\"{state}\"}}"),
                n,
            );
        }
    }
    e
}

/// The samples of the families `expected()` covers (histogram buckets aside).
fn story_families(samples: &Samples) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|(k, _)| {
            (k.starts_with("marathon_task_") || k.starts_with("marathon_app_tasks{"))
                && !k.contains("_bucket{")
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_realistic_story_gives_exactly_the_counts_the_rules_imply() {
    let fake = FakeMarathon::start().await.expect("fake Marathon");
    // Marathon's clock: the story starts now; event timestamps then run ahead of the wall clock.
    let t0 = payload::now_ms();
    let at = |s: i64| t0 + s * 1000;
    let web = |n| payload::task_id(WEB, n, 1);
    let api = |n| payload::task_id(API, n, 1);
    let report = |n| payload::task_id(REPORT, n, 1);
    fake.set_apps(vec![
        payload::app(WEB, 3, Some((60, 300))),
        payload::app(API, 1, Some((0, 600))),
        payload::app(REPORT, 1, None),
    ]);
    fake.set_tasks(vec![
        payload::task(&web(1), WEB, "TASK_RUNNING", at(-600)),
        payload::task(&web(2), WEB, "TASK_RUNNING", at(-600)),
        payload::task(&api(1), API, "TASK_RUNNING", at(-600)),
    ]);

    let exporter = Exporter::start(config(&fake.url()))
        .await
        .expect("exporter starts");
    until_ready(&exporter).await;
    let seeded = parse(&scrape(&exporter).await);
    assert_eq!(
        common::value(&seeded, "marathon_exporter_tracked_tasks"),
        3.0
    );
    assert_eq!(
        common::value(
            &seeded,
            &format!("marathon_task_replacements_total{{app=\"{WEB}\",reason=\"unreachable\"}}")
        ),
        0.0,
        "series of known apps start at 0"
    );

    let status = |id: &str, app: &str, s: &str, t: i64| payload::status_update(id, app, s, at(t));
    let events = vec![
        // Three apps deploy: a batch job runs to completion, web scales up.
        status(&report(1), REPORT, "TASK_STAGING", 1),
        status(&web(3), WEB, "TASK_STAGING", 2),
        status(&report(1), REPORT, "TASK_RUNNING", 3),
        status(&web(3), WEB, "TASK_RUNNING", 4),
        status(&report(1), REPORT, "TASK_FINISHED", 10),
        // A task fails and is replaced.
        payload::status_update_with_message(
            &api(1),
            API,
            "TASK_FAILED",
            "Command exited with status 137",
            at(20),
        ),
        status(&api(2), API, "TASK_STAGING", 21),
        status(&api(2), API, "TASK_RUNNING", 25),
        // An agent partition: two web tasks become unreachable (inactive after 60 s).
        status(&web(1), WEB, "TASK_UNREACHABLE", 30),
        payload::instance_changed(&payload::instance_id(WEB, 1), WEB, "Unreachable", at(30)),
        status(&web(2), WEB, "TASK_UNREACHABLE", 30),
        payload::instance_changed(&payload::instance_id(WEB, 2), WEB, "Unreachable", at(30)),
        // Marathon starts a replacement; the first task comes back and the surplus is killed.
        status(&web(4), WEB, "TASK_STAGING", 91),
        status(&web(4), WEB, "TASK_RUNNING", 95),
        status(&web(1), WEB, "TASK_RUNNING", 100),
        status(&web(4), WEB, "TASK_KILLING", 110),
        status(&web(4), WEB, "TASK_KILLED", 112),
        // A TASK_LOST without reason, resolved by the instance event that follows.
        payload::status_update_with_message(
            &api(2),
            API,
            "TASK_LOST",
            "Agent 10.0.3.42 removed",
            at(200),
        ),
        payload::instance_changed(&payload::instance_id(API, 2), API, "Gone", at(200) + 1),
        status(&api(3), API, "TASK_STAGING", 201),
        status(&api(3), API, "TASK_RUNNING", 205),
        // Later news moves Marathon's clock past the second task's expunge time (30 s + 300 s).
        payload::api_post_app(WEB, Some((60, 300)), at(340)),
        payload::unknown_instance_terminated(&payload::instance_id(WEB, 2), WEB, "Killed", at(345)),
    ];
    for event in &events {
        assert_eq!(fake.push_event(event), 1, "one stream is connected");
    }

    let series = format!("marathon_task_unknown_terminations_total{{app=\"{WEB}\"}}");
    let samples = until_value(&exporter, &series, 1.0).await;
    assert_eq!(story_families(&samples), expected());

    let v = |s: &str| common::value(&samples, s);
    assert_eq!(v("marathon_exporter_tracked_tasks"), 3.0);
    assert_eq!(
        v("marathon_exporter_events_total{type=\"status_update_event\"}"),
        18.0
    );
    assert_eq!(
        v("marathon_exporter_events_total{type=\"instance_changed_event\"}"),
        3.0
    );
    assert_eq!(
        v("marathon_exporter_events_total{type=\"api_post_event\"}"),
        1.0
    );
    assert_eq!(
        v("marathon_exporter_events_total{type=\"event_stream_attached\"}"),
        1.0
    );
    assert_eq!(v("marathon_exporter_stream_up"), 1.0);
    assert_eq!(
        v("marathon_exporter_stream_connects_total{result=\"success\"}"),
        1.0
    );
    assert!(v("marathon_exporter_resyncs_total{result=\"success\"}") >= 1.0);
    for kind in ["added", "removed", "state"] {
        assert_eq!(
            v(&format!(
                "marathon_exporter_resync_corrections_total{{kind=\"{kind}\"}}"
            )),
            0.0
        );
    }
    for kind in ["malformed", "oversized", "unknown_status", "stale"] {
        assert_eq!(
            v(&format!(
                "marathon_exporter_event_errors_total{{kind=\"{kind}\"}}"
            )),
            0.0
        );
    }
    assert!(v("marathon_exporter_last_event_timestamp_seconds") > 1.6e9);
    assert_eq!(
        samples
            .keys()
            .filter(|k| k.starts_with("marathon_app_unreachable_oldest_age_seconds"))
            .count(),
        0,
        "no task is unreachable at the end"
    );

    // The stream subscribed exactly as Marathon requires.
    let request = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/v2/events")
        .expect("a stream request");
    assert_eq!(request.accept, vec!["text/event-stream".to_owned()]);
    let query = request.query.expect("event_type filter");
    // PRODUCT.md's list, written out here so that the test checks the contract, not the code.
    let types = [
        "status_update_event",
        "instance_changed_event",
        "unknown_instance_terminated_event",
        "app_terminated_event",
        "api_post_event",
        "event_stream_attached",
        "unhealthy_instance_kill_event",
        "unhealthy_task_kill_event",
        "instance_health_changed_event",
        "health_status_changed_event",
        "deployment_info",
        "deployment_success",
        "deployment_failed",
        "pod_created_event",
        "pod_updated_event",
        "pod_deleted_event",
    ];
    let subscribed: std::collections::BTreeSet<&str> = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("event_type="))
        .collect();
    assert_eq!(subscribed, types.into_iter().collect(), "{query}");
    assert!(fake.requests().iter().any(|r| r.path == "/v2/tasks"));
    assert!(fake.requests().iter().any(|r| r.path == "/v2/apps"));

    exporter.shutdown().await;
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_tasks_show_their_oldest_age_while_unreachable() {
    let fake = FakeMarathon::start().await.expect("fake Marathon");
    fake.set_apps(vec![payload::app(WEB, 2, None)]);
    let exporter = Exporter::start(config(&fake.url()))
        .await
        .expect("exporter starts");
    until_ready(&exporter).await;
    let t0 = payload::now_ms();
    let id = payload::task_id(WEB, 1, 1);
    fake.push_event(&payload::status_update(&id, WEB, "TASK_RUNNING", t0));
    fake.push_event(&payload::status_update(
        &id,
        WEB,
        "TASK_UNREACHABLE",
        t0 + 1000,
    ));
    let series = format!("marathon_app_tasks{{app=\"{WEB}\",state=\"unreachable\"}}");
    let samples = until_value(&exporter, &series, 1.0).await;
    let age = common::value(
        &samples,
        &format!("marathon_app_unreachable_oldest_age_seconds{{app=\"{WEB}\"}}"),
    );
    assert!((0.0..60.0).contains(&age), "age {age}");
    exporter.shutdown().await;
    fake.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_why_until_the_first_snapshot_and_a_stream() {
    // Nothing listens on this port: connection refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let exporter = Exporter::start(config(&format!("http://127.0.0.1:{port}")))
        .await
        .expect("starts");
    let (status, body) = get(&exporter, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.starts_with("event stream not connected"), "{body}");
    assert_eq!(get(&exporter, "/healthz").await.0, 200);
    let (status, landing) = get(&exporter, "/").await;
    assert_eq!(status, 200);
    assert!(landing.contains("href=\"/metrics\""));
    exporter.shutdown().await;
}
