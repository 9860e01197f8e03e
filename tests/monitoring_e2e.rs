//! The dashboards and the rules against a real Prometheus. Two exporter replicas follow the fake
//! Marathon through a scripted scenario (deploys, failures, an unreachable partition, a LOST, an
//! unknown instance terminated) while a Prometheus on loopback scrapes both every second and
//! evaluates the rule file. Then every dashboard query and every rule expression goes through
//! Prometheus's HTTP API, with one job and with two selected: all parse, every panel has data,
//! per-app panels stay within their `topk`, the rules evaluate without error, the metric names they
//! read are the exporter's, and the two replicas are counted once. Last, the annotations: silent in
//! steady state, one marker when Marathon's leader changes, and the restarted replica when one
//! restarts.

mod common;
mod monitoring_support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{config, parse, scrape, until_ready};
use marathon_sim::fake::{FakeMarathon, Mode, payload};
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::Config;
use monitoring_support::{
    GOLDEN_EXPOSITION, RULES, Vars, dashboards, exposition_names, label_values, path, read,
    recorded, rules, unknown_names,
};
use serde_json::Value;

const JOB: &str = "marathon-task-exporter";
/// Two jobs selected in Grafana's `job` variable, as it writes them into `job=~"..."`.
const TWO_JOBS: &str = "(marathon-task-exporter|staging-marathon-task-exporter)";
const WEB: &str = "/prod/web";
const API: &str = "/prod/api";
const REPORT: &str = "/batch/report";
/// Upper bound for Prometheus to start, scrape, or catch up with the scenario.
const PATIENCE: Duration = Duration::from_secs(30);

/// A Prometheus server on loopback, killed when dropped (a failed test included).
struct Prometheus {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn prometheus_binary() -> PathBuf {
    std::env::var_os("PROMETHEUS").map_or_else(|| PathBuf::from("prometheus"), PathBuf::from)
}

/// A port that was free a moment ago (Prometheus does not report the port it bound for `:0`).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` as job `JOB` every second and evaluating the rule
    /// file every second; retries on another port if the one picked was taken meanwhile.
    async fn start(targets: &[SocketAddr]) -> Prometheus {
        let mut last_log = String::new();
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
            let config = format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - '{}'\n\
                 scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: [{}]\n",
                path(RULES).display(),
                targets.join(", ")
            );
            let config_file = dir.path().join("prometheus.yml");
            std::fs::write(&config_file, config).expect("write prometheus.yml");
            let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log file");
            let port = free_port();
            let child = Command::new(prometheus_binary())
                .arg(format!("--config.file={}", config_file.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log handle"))
                .stderr(log)
                .spawn()
                .expect("prometheus on PATH (Debian package prometheus); scripts/test installs it");
            let mut server = Prometheus {
                child,
                url: format!("http://127.0.0.1:{port}"),
                dir,
            };
            if server.until_ready().await {
                return server;
            }
            last_log = server.log();
        }
        panic!("Prometheus did not start:\n{last_log}");
    }

    /// Waits for `/-/ready`; false if the process ended (a port taken meanwhile) or took too long.
    async fn until_ready(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            let ready = reqwest::get(format!("{}/-/ready", self.url)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// Runs an instant query now: the result's samples, or Prometheus's error.
    async fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let mut url = url::Url::parse(&format!("{}/api/v1/query", self.url)).expect("a URL");
        url.query_pairs_mut().append_pair("query", promql);
        let text = reqwest::get(url)
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        let data = &body["data"];
        match data["resultType"].as_str() {
            Some("vector" | "matrix") => Ok(data["result"].as_array().cloned().unwrap_or_default()),
            _ => Ok(vec![data["result"].clone()]),
        }
    }

    /// The value of a query that must return exactly one sample.
    async fn value(&self, promql: &str) -> f64 {
        let result = self
            .query(promql)
            .await
            .unwrap_or_else(|e| panic!("{promql}: {e}"));
        assert_eq!(result.len(), 1, "{promql}: {result:?}");
        sample_value(&result[0])
    }

    /// Polls `promql` until `holds` accepts its samples; `what` says what was awaited.
    async fn until_samples(&self, promql: &str, what: &str, holds: impl Fn(&[Value]) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let got = self.query(promql).await;
            if got.as_deref().is_ok_and(&holds) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{promql} never gave {what}: {got:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Polls `promql` until it returns one sample equal to `want`.
    async fn until_value(&self, promql: &str, want: f64) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let got = self.query(promql).await;
            if let Ok(samples) = &got
                && samples.len() == 1
                && sample_value(&samples[0]) == want
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{promql} never became {want}: {got:?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn api(&self, endpoint: &str) -> Value {
        let text = reqwest::get(format!("{}/api/v1/{endpoint}", self.url))
            .await
            .expect("Prometheus answers")
            .text()
            .await
            .expect("a body");
        serde_json::from_str(&text).expect("JSON")
    }
}

fn sample_value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Pushes one event to every connected stream: both replicas must get it.
fn push(fake: &FakeMarathon, event: &Value) {
    assert_eq!(fake.push_event(event), 2, "both replicas are connected");
}

fn status(id: &str, app: &str, state: &str, at_ms: i64) -> Value {
    payload::status_update(id, app, state, at_ms)
}

/// Waits until Prometheus has scraped `series` (of job `JOB`) with value `want` from both
/// replicas, so that a later increment shows as an increase.
async fn until_both_scraped(prometheus: &Prometheus, series: &str, want: f64) {
    prometheus
        .until_value(
            &format!("count(sum by (instance) ({series}) == {want})"),
            2.0,
        )
        .await;
}

/// The scenario. Event timestamps are the wall clock, as Marathon's would be; a task that takes
/// time to start is staged in the past. Where a histogram observes for the second time, the
/// scenario first waits for Prometheus to scrape the first observation, so rates are not zero.
async fn run_scenario(fake: &FakeMarathon, prometheus: &Prometheus) {
    let web = |n| payload::task_id(WEB, n, 1);
    let api = |n| payload::task_id(API, n, 1);
    let report = payload::task_id(REPORT, 1, 1);
    let now = payload::now_ms;

    // Deploys: web scales up, a batch job runs to completion, api gets a second task.
    push(fake, &status(&web(4), WEB, "TASK_STAGING", now() - 4000));
    push(fake, &status(&web(4), WEB, "TASK_RUNNING", now()));
    push(fake, &status(&report, REPORT, "TASK_STAGING", now() - 2000));
    push(fake, &status(&report, REPORT, "TASK_RUNNING", now()));
    push(fake, &status(&api(2), API, "TASK_STAGING", now() - 7000));
    push(fake, &status(&api(2), API, "TASK_RUNNING", now()));
    let web_started =
        format!("marathon_task_time_to_running_seconds_count{{job=\"{JOB}\", app=\"{WEB}\"}}");
    until_both_scraped(prometheus, &web_started, 1.0).await;

    // The batch job finishes; an api task crashes, another one cannot launch; web deploys again.
    push(fake, &status(&report, REPORT, "TASK_FINISHED", now()));
    push(
        fake,
        &payload::status_update_with_message(
            &api(1),
            API,
            "TASK_FAILED",
            "Command exited with status 1",
            now(),
        ),
    );
    push(fake, &status(&api(3), API, "TASK_STAGING", now()));
    push(fake, &status(&api(3), API, "TASK_ERROR", now()));
    push(fake, &status(&web(5), WEB, "TASK_STAGING", now() - 12_000));
    push(fake, &status(&web(5), WEB, "TASK_RUNNING", now()));

    // Operators' questions: a deployment of api starts (and is still in progress at the end); a web
    // task fails its health checks, is killed for it and replaced; another one turns unhealthy.
    push(fake, &payload::deployment_info("d-1", &[API], now()));
    push(
        fake,
        &payload::health_status_changed(&payload::instance_id(WEB, 5), WEB, false, now()),
    );
    push(
        fake,
        &payload::unhealthy_instance_kill(&web(5), WEB, "503 Service Unavailable", now()),
    );
    push(fake, &status(&web(5), WEB, "TASK_KILLED", now()));
    push(
        fake,
        &payload::health_status_changed(&payload::instance_id(WEB, 4), WEB, false, now()),
    );

    // A partition: three web tasks become unreachable at once.
    for n in 1..=3 {
        push(fake, &status(&web(n), WEB, "TASK_UNREACHABLE", now()));
        push(
            fake,
            &payload::instance_changed(&payload::instance_id(WEB, n), WEB, "Unreachable", now()),
        );
    }

    // A TASK_LOST without reason, resolved by its instance event; the first web task comes back.
    push(
        fake,
        &payload::status_update_with_message(&api(2), API, "TASK_LOST", "Agent removed", now()),
    );
    push(
        fake,
        &payload::instance_changed(&payload::instance_id(API, 2), API, "Gone", now()),
    );
    push(fake, &status(&web(1), WEB, "TASK_RUNNING", now()));
    let back = format!("marathon_task_unreachable_duration_seconds_count{{job=\"{JOB}\"}}");
    until_both_scraped(prometheus, &back, 1.0).await;

    // A web instance that Marathon had forgotten (expunged while unreachable) is killed.
    push(
        fake,
        &payload::unknown_instance_terminated(&payload::instance_id(WEB, 9), WEB, "Killed", now()),
    );

    // The third comes back too; the second stays unreachable.
    push(fake, &status(&web(3), WEB, "TASK_RUNNING", now()));
}

/// The apps and tasks Marathon starts with: the fake leader's, and the standby's, which takes over
/// at the end.
fn seed(fake: &FakeMarathon) {
    let seeded = payload::now_ms() - 600_000;
    fake.set_apps(vec![
        payload::app(WEB, 5, Some((0, 600))),
        payload::app(API, 2, Some((0, 600))),
        payload::app(REPORT, 1, None),
    ]);
    fake.set_tasks(vec![
        payload::task(&payload::task_id(WEB, 1, 1), WEB, "TASK_RUNNING", seeded),
        payload::task(&payload::task_id(WEB, 2, 1), WEB, "TASK_RUNNING", seeded),
        payload::task(&payload::task_id(WEB, 3, 1), WEB, "TASK_RUNNING", seeded),
        payload::task(&payload::task_id(API, 1, 1), API, "TASK_RUNNING", seeded),
    ]);
}

/// A replica's config: the leader first, then the standby.
fn replica_config(leader: &FakeMarathon, standby: &FakeMarathon) -> Config {
    let mut config = config(&leader.url());
    config
        .marathon_urls
        .push(url::Url::parse(&standby.url()).expect("a URL"));
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_rules_work_against_a_real_prometheus_with_two_replicas() {
    let fake = FakeMarathon::start().await.expect("fake Marathon");
    let standby = FakeMarathon::start().await.expect("standby fake Marathon");
    seed(&fake);
    seed(&standby);
    let replica_a = Exporter::start(replica_config(&fake, &standby))
        .await
        .expect("replica a");
    let replica_b = Exporter::start(replica_config(&fake, &standby))
        .await
        .expect("replica b");
    until_ready(&replica_a).await;
    until_ready(&replica_b).await;

    let prometheus = Prometheus::start(&[replica_a.local_addr(), replica_b.local_addr()]).await;
    // Both replicas scraped a few times before anything happens, so the scenario's series are
    // born while Prometheus watches (as in production).
    prometheus
        .until_value(
            &format!("count(count_over_time(up{{job=\"{JOB}\"}}[1m]) >= 3)"),
            2.0,
        )
        .await;

    run_scenario(&fake, &prometheus).await;

    // Prometheus has caught up: both replicas were scraped after the last event, and the rules
    // have seen it.
    let back = format!("marathon_task_unreachable_duration_seconds_count{{job=\"{JOB}\"}}");
    until_both_scraped(&prometheus, &back, 2.0).await;
    prometheus
        .until_value(
            &format!(
                "count(app_le:marathon_task_unreachable_duration_seconds_bucket:rate5m{{job=\"{JOB}\"}} > 0) > bool 0"
            ),
            1.0,
        )
        .await;

    // The unknown termination has reached its recording rule.
    prometheus
        .until_value(
            &format!(
                "count(app:marathon_task_unknown_terminations:increase5m{{job=\"{JOB}\", app=\"{WEB}\"}} > 0)"
            ),
            1.0,
        )
        .await;

    let exposed = exposed_names(&replica_a).await;
    let recorded = recorded();
    let mut failures = Vec::new();

    // Every dashboard query parses, has data, and reads only the exporter's metrics, with one job
    // selected and with two. Every annotation query parses and reads only the exporter's metrics.
    for job in [JOB, TWO_JOBS] {
        let vars = Vars::new(job, ".*", ".*", "10s", "5m");
        for dashboard in dashboards() {
            for query in dashboard.queries() {
                let unknown = unknown_names(&query.expr, &exposed, &recorded);
                if !unknown.is_empty() {
                    failures.push(format!("{}: names {unknown:?}", query.place));
                }
                let promql = vars.substitute(&query.expr);
                match prometheus.query(&promql).await {
                    Err(e) => failures.push(format!("{}: {e}\n  {promql}", query.place)),
                    Ok(samples) if samples.is_empty() => {
                        failures.push(format!("{}: no data\n  {promql}", query.place));
                    }
                    Ok(samples) => {
                        if let Some(problem) = unbounded_per_app(&query.expr, &samples) {
                            failures.push(format!("{}: {problem}", query.place));
                        }
                    }
                }
            }
            for query in dashboard.annotation_queries() {
                let unknown = unknown_names(&query.expr, &exposed, &recorded);
                if !unknown.is_empty() {
                    failures.push(format!("{}: names {unknown:?}", query.place));
                }
                let promql = vars.substitute(&query.expr);
                if let Err(e) = prometheus.query(&promql).await {
                    failures.push(format!("{}: {e}\n  {promql}", query.place));
                }
            }
            for var in dashboard.variables() {
                let Some((selector, label)) = var["query"].as_str().and_then(label_values) else {
                    continue;
                };
                let promql = format!("count by ({label}) ({})", vars.substitute(&selector));
                match prometheus.query(&promql).await {
                    Ok(samples) if !samples.is_empty() => {}
                    other => {
                        failures.push(format!("{} ${}: {other:?}", dashboard.file, var["name"]));
                    }
                }
            }
        }
    }

    // Every rule expression parses and reads only the exporter's metrics; recording rules have data.
    for rule in rules() {
        let unknown = unknown_names(&rule.expr, &exposed, &recorded);
        if !unknown.is_empty() {
            failures.push(format!("rule {}: names {unknown:?}", rule.name()));
        }
        match prometheus.query(&rule.expr).await {
            Err(e) => failures.push(format!("rule {}: {e}", rule.name())),
            Ok(samples) if samples.is_empty() && rule.record.is_some() => {
                failures.push(format!("recording rule {}: no data", rule.name()));
            }
            Ok(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Prometheus evaluates every rule of the file without error.
    let loaded = prometheus.api("rules").await;
    let mut evaluated = 0;
    for group in loaded["data"]["groups"].as_array().into_iter().flatten() {
        for rule in group["rules"].as_array().into_iter().flatten() {
            evaluated += 1;
            assert_eq!(
                rule["health"], "ok",
                "{}: {}",
                rule["name"], rule["lastError"]
            );
        }
    }
    assert_eq!(evaluated, rules().len(), "every rule is loaded");

    // Prometheus asked for OpenMetrics and parsed it: it keeps the `_created` samples as series.
    assert!(
        prometheus
            .value(&format!(
                "count(marathon_exporter_events_created{{job=\"{JOB}\"}})"
            ))
            .await
            > 0.0,
        "scraped in OpenMetrics"
    );

    // Two replicas, counted once: what Prometheus answers is what one exporter says.
    let one = parse(&scrape(&replica_a).await);
    let running: f64 = one
        .iter()
        .filter(|(k, _)| k.starts_with("marathon_app_tasks{") && k.contains("state=\"running\""))
        .map(|(_, v)| v)
        .sum();
    let running_query = format!(
        "sum(max without (instance) (marathon_app_tasks{{job=\"{JOB}\", state=\"running\"}}))"
    );
    assert_eq!(prometheus.value(&running_query).await, running);
    assert_eq!(
        running, 3.0,
        "web tasks 1, 3 and 4 (5 was killed for failing its health checks)"
    );
    let once = |family: &str| format!("sum(max without (instance) ({family}{{job=\"{JOB}\"}}))");
    assert_eq!(
        prometheus
            .value(&once("marathon_task_health_kills_total"))
            .await,
        1.0
    );
    assert_eq!(
        prometheus
            .value(&once("marathon_app_unhealthy_tasks"))
            .await,
        1.0,
        "web task 4"
    );
    assert_eq!(
        prometheus
            .value(&once("marathon_app_deployment_active"))
            .await,
        1.0,
        "the api deployment"
    );
    assert_eq!(
        prometheus
            .value(&format!(
                "sum(app_to:marathon_task_transitions:increase5m{{job=\"{JOB}\", to=\"unreachable\"}})"
            ))
            .await,
        3.0,
        "the partition's three tasks, once, including the increments that created the series"
    );
    assert_eq!(
        prometheus
            .value(&format!(
                "sum(max without (instance) (marathon_app_tasks{{job=\"{JOB}\", state=~\"unreachable|unreachable_inactive\"}}))"
            ))
            .await,
        1.0
    );

    // The partition took 3 of the app's tasks: MarathonAppTasksUnreachableSpike is pending for it.
    let spike = rules()
        .into_iter()
        .find(|r| r.alert.as_deref() == Some("MarathonAppTasksUnreachableSpike"))
        .expect("the alert");
    let hits = prometheus
        .query(&spike.expr)
        .await
        .expect("the alert's expression");
    let apps: Vec<&str> = hits
        .iter()
        .filter_map(|s| s["metric"]["app"].as_str())
        .collect();
    assert_eq!(apps, [WEB], "{hits:?}");
    assert_eq!(sample_value(&hits[0]), 3.0);

    // Annotations. Windows of 10 s ($__rate_interval here), so the test sees each event come and go.
    let vars = Vars::new(TWO_JOBS, ".*", ".*", "10s", "5m");
    let annotation = |name: &str| -> Vec<String> {
        dashboards()
            .iter()
            .map(|d| {
                let found = d
                    .annotation(name)
                    .unwrap_or_else(|| panic!("{}: no annotation {name}", d.file));
                vars.substitute(found["target"]["expr"].as_str().expect("an expr"))
            })
            .collect()
    };
    let (leader_changes, restarts) = (
        annotation("Leader changes"),
        annotation("Exporter restarts"),
    );
    // Steady state: no marker (the replicas' first scrapes have left the window).
    for promql in leader_changes.iter().chain(&restarts) {
        prometheus
            .until_samples(promql, "nothing", <[Value]>::is_empty)
            .await;
    }

    // Marathon's leader fails over to the standby: both replicas follow it, one marker.
    fake.set_mode(Mode::Status(502));
    fake.disconnect_all();
    until_both_scraped(
        &prometheus,
        &format!("marathon_exporter_leader_changes_total{{job=\"{JOB}\"}}"),
        1.0,
    )
    .await;
    for promql in &leader_changes {
        prometheus
            .until_samples(promql, "one marker for both replicas", |s| {
                s.len() == 1 && s[0]["metric"]["instance"].is_null() && sample_value(&s[0]) > 0.0
            })
            .await;
    }

    // Replica b restarts at the same address: a marker for b, none for a.
    let address = replica_b.local_addr();
    let config_b = replica_config(&fake, &standby);
    replica_b.shutdown().await;
    let replica_b = Exporter::start_on(config_b, rebind(address).await)
        .await
        .expect("replica b again");
    until_ready(&replica_b).await;
    let b = address.to_string();
    for promql in &restarts {
        prometheus
            .until_samples(promql, "a marker for replica b only", |s| {
                instances(s) == BTreeMap::from([(b.clone(), 1)])
            })
            .await;
    }

    drop(prometheus);
    replica_a.shutdown().await;
    replica_b.shutdown().await;
    fake.shutdown().await;
    standby.shutdown().await;
}

/// How many samples name each `instance`.
fn instances(samples: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for sample in samples {
        let instance = sample["metric"]["instance"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        *out.entry(instance).or_default() += 1;
    }
    out
}

/// Listens on `address` again once the replica that had it is gone.
async fn rebind(address: SocketAddr) -> tokio::net::TcpListener {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => return listener,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "{address} stays taken: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A problem when a query draws one series per app without `topk(k, ...)` bounding it, or draws
/// more than k.
fn unbounded_per_app(expr: &str, samples: &[Value]) -> Option<String> {
    if !samples.iter().any(|s| s["metric"]["app"].is_string()) {
        return None;
    }
    let k = expr
        .strip_prefix("topk(")
        .and_then(|rest| rest.split(',').next())
        .and_then(|k| k.trim().parse::<usize>().ok());
    match k {
        None => Some("one series per app, without topk".to_owned()),
        Some(k) if samples.len() > k => {
            Some(format!("{} series, more than topk {k}", samples.len()))
        }
        Some(_) => None,
    }
}

/// Metric names the exporter exposes: a scrape of the running exporter, and the golden
/// exposition (for families without a sample in this scenario).
async fn exposed_names(exporter: &Exporter) -> BTreeSet<String> {
    let mut names = exposition_names(&scrape(exporter).await);
    names.extend(exposition_names(&read(GOLDEN_EXPOSITION)));
    names
}
