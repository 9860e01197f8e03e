//! The `demo` subcommand: within a bounded wait at high speed, `/metrics` shows every kind of count
//! the product is about; the simulation is reproducible from its seed; the binary says where
//! `/metrics` is and stops cleanly on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::lint::{openmetrics_to_text, promtool_check_metrics};
use common::{Samples, parse, scrape};
use marathon_sim::{CYCLE, Scenario};
use marathon_task_exporter::cmd::demo::{Demo, DemoOptions};

const BIN: &str = env!("CARGO_BIN_EXE_marathon-task-exporter");

/// Sum of the samples of `family` whose labels contain every one of `labels`.
fn sum(samples: &Samples, family: &str, labels: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{family}{{")) || *k == family)
        .filter(|(k, _)| labels.iter().all(|l| k.contains(l)))
        .map(|(_, v)| v)
        .sum()
}

/// Reasons of `family` with a non-zero total.
fn reasons(samples: &Samples, family: &str) -> Vec<String> {
    let mut found: Vec<String> = samples
        .iter()
        .filter(|(k, v)| k.starts_with(&format!("{family}{{")) && **v > 0.0)
        .filter_map(|(k, _)| k.split("reason=\"").nth(1))
        .map(|r| r.split('"').next().unwrap_or_default().to_owned())
        .collect();
    found.sort();
    found.dedup();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_every_kind_of_count_within_a_bounded_wait() {
    let options = DemoOptions {
        seed: 3,
        speed: 100.0,
        ..DemoOptions::default()
    };
    let demo = Demo::start(common::config("http://127.0.0.1:9"), options)
        .await
        .expect("the demo starts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let mut missing;
    // Seen at some scrape: gauges that are up only while it lasts.
    let (mut deploying, mut unhealthy) = (false, false);
    loop {
        let samples = parse(&scrape(demo.exporter()).await);
        deploying |= sum(&samples, "marathon_app_deployment_active", &[]) > 0.0;
        unhealthy |= sum(&samples, "marathon_app_unhealthy_tasks", &[]) > 0.0;
        let replacements = reasons(&samples, "marathon_task_replacements_total");
        let expunges = reasons(&samples, "marathon_task_expunges_total");
        let checks = [
            (
                "transitions",
                sum(&samples, "marathon_task_transitions_total", &[]) > 0.0,
            ),
            ("replacement reasons", replacements.len() >= 3),
            ("expunge reasons", expunges.len() >= 3),
            (
                "unreachable_timeout expunges",
                expunges.contains(&"unreachable_timeout".to_owned()),
            ),
            (
                "unreachable episodes",
                sum(
                    &samples,
                    "marathon_task_unreachable_duration_seconds_count",
                    &[],
                ) > 0.0,
            ),
            (
                "LOST resolved as gone",
                sum(
                    &samples,
                    "marathon_task_status_updates_total",
                    &["status=\"lost\""],
                ) > 0.0
                    && sum(
                        &samples,
                        "marathon_task_transitions_total",
                        &["to=\"gone\""],
                    ) > 0.0,
            ),
            (
                "unknown terminations",
                sum(&samples, "marathon_task_unknown_terminations_total", &[]) > 0.0,
            ),
            (
                "time to running",
                sum(&samples, "marathon_task_time_to_running_seconds_count", &[]) > 0.0,
            ),
            (
                "health-check kills, replaced as unhealthy",
                sum(&samples, "marathon_task_health_kills_total", &[]) > 0.0
                    && replacements.contains(&"unhealthy".to_owned()),
            ),
            (
                "a finished deployment",
                sum(
                    &samples,
                    "marathon_deployments_total",
                    &["result=\"success\""],
                ) > 0.0,
            ),
            ("a deployment in progress", deploying),
            (
                "team labels",
                sum(
                    &samples,
                    "marathon_app_labels",
                    &["label_team=\"payments\""],
                ) > 0.0,
            ),
            (
                "desired instances",
                sum(&samples, "marathon_app_instances", &[]) > 0.0,
            ),
            (
                "unreachable tasks by named agent",
                sum(
                    &samples,
                    "marathon_agent_tasks",
                    &["state=\"unreachable", "agent=\"10.0.4."],
                ) > 0.0,
            ),
            ("unhealthy tasks", unhealthy),
        ];
        missing = checks
            .iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| *name)
            .collect::<Vec<_>>();
        if missing.is_empty() {
            assert_eq!(
                sum(&samples, "marathon_exporter_event_errors_total", &[]),
                0.0,
                "the simulated Marathon sends only valid, in-order events"
            );
            lint_both_formats(demo.exporter()).await;
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still missing after 40 s: {missing:?} ({} events pushed)",
            demo.events_pushed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    demo.shutdown().await;
}

/// With every kind of series present, `/metrics` as served passes `promtool check metrics` in
/// the text format, and in OpenMetrics (asked for as Prometheus does, gzipped) it is valid for the
/// reference parser and the families it parsed pass promtool too.
async fn lint_both_formats(exporter: &marathon_task_exporter::Exporter) {
    let text = scrape(exporter).await;
    let said = promtool_check_metrics(&text).expect("promtool check metrics passes on the text");
    assert!(
        said.trim().is_empty(),
        "promtool warned on the text:\n{said}"
    );

    let response = reqwest::Client::new()
        .get(format!("http://{}/metrics", exporter.local_addr()))
        .header(
            "Accept",
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        )
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .expect("scrape");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        header("content-type").starts_with("application/openmetrics-text; version=1.0.0"),
        "{}",
        header("content-type")
    );
    assert_eq!(header("content-encoding"), "gzip");
    let gzipped = response.bytes().await.expect("body");
    let mut openmetrics = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&gzipped[..]),
        &mut openmetrics,
    )
    .expect("a gzip body");
    let parsed = openmetrics_to_text(&openmetrics).expect("valid OpenMetrics");
    let said = promtool_check_metrics(&parsed).expect("promtool passes on what OpenMetrics said");
    assert!(
        said.trim().is_empty(),
        "promtool warned on the OpenMetrics families:\n{said}"
    );
}

#[test]
fn the_same_seed_gives_the_same_event_sequence() {
    const START: i64 = 1_700_000_000_000;
    let run = |seed: u64, step: i64| {
        let mut scenario = Scenario::new(seed, START, 0.5);
        let mut events = Vec::new();
        let mut t = START;
        while t < START + 2 * CYCLE {
            t = (t + step).min(START + 2 * CYCLE);
            events.extend(scenario.advance_to(t));
        }
        (events, scenario.tasks_body(), scenario.apps_body())
    };
    let (events, tasks, apps) = run(7, 1000);
    assert!(events.len() > 1000, "{} events", events.len());
    let (again, again_tasks, again_apps) = run(7, 7_919);
    assert_eq!(events, again, "same seed, different stepping");
    assert_eq!((tasks, apps), (again_tasks, again_apps));
    let (other, _, _) = run(8, 1000);
    assert_ne!(events, other, "another seed gives another run");
    let stamps: Vec<&str> = events
        .iter()
        .map(|e| e["timestamp"].as_str().expect("timestamp"))
        .collect();
    assert!(stamps.is_sorted(), "events come in timestamp order");
}

#[test]
fn the_demo_command_says_where_metrics_are_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args([
            "demo",
            "--web.listen-address",
            "127.0.0.1:0",
            "--speed",
            "50",
            "--seed",
            "5",
        ])
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    assert!(
        first.starts_with("Demo running: metrics at http://127.0.0.1:"),
        "{first}"
    );
    assert!(first.ends_with("; ctrl-c to stop"), "{first}");
    let url = first
        .split("metrics at ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .expect("a URL")
        .to_owned();
    assert!(url.ends_with("/metrics"), "{url}");
    std::thread::spawn(move || for _ in lines {});
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + common::PATIENCE;
    loop {
        let body = runtime.block_on(async { reqwest::get(&url).await?.text().await });
        let body = body.expect("the demo serves its metrics");
        let samples = parse(&body);
        if sum(&samples, "marathon_task_transitions_total", &[]) > 0.0 {
            break;
        }
        assert!(Instant::now() < deadline, "no transition counted:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + common::PATIENCE;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
}
