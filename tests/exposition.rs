//! The exposition as a contract: a deterministic run through the whole pipeline is rendered and
//! diffed against `tests/golden/exposition.prom` (rewrite it with `UPDATE_GOLDEN=1`); the text
//! passes `promtool check metrics` with no warning, and so does the OpenMetrics exposition once the
//! reference OpenMetrics parser has read it (promtool reads only the text format).

mod common;

use common::lint::{openmetrics_to_text, promtool_check_metrics};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use marathon_sim::fake::payload;
use marathon_task_exporter::metrics::Metrics;
use marathon_task_exporter::pipeline::{Pipeline, ReplayClock};
use marathon_task_exporter::state::{
    Engine, LabelAllowlist, MesosState, Settings, Snapshot, SnapshotApp, SnapshotTask, Strategy,
};
use serde_json::json;

const T0: i64 = 1_602_061_982_771;
const WEB: &str = "/prod/web";
const API: &str = "/prod/api";

fn frame(event: &serde_json::Value) -> Vec<u8> {
    let kind = event["eventType"].as_str().expect("eventType");
    format!("event: {kind}\r\ndata: {event}\r\n\r\n").into_bytes()
}

/// A fixed history: seed, deploys, a failure, a partition with one expunge, a LOST, a bad frame.
/// The metrics after the story, in the text format.
fn render() -> String {
    story().render()
}

/// The metrics after a short story of every kind of input.
fn story() -> Metrics {
    let settings = Settings {
        app_limit: 3,
        ..Settings::default()
    };
    let engine = Engine::new(settings).with_label_allowlist(LabelAllowlist::parse("team"));
    let now_at_scrape = T0 + 400_000;
    let metrics = Metrics::new(engine.reader(), Arc::new(move || now_at_scrape));
    let mut pipeline = Pipeline::new(engine, metrics.sink(), ReplayClock::new(T0), 1 << 20);
    let web = |n| payload::task_id(WEB, n, 1);
    let api = |n| payload::task_id(API, n, 1);
    let listed = [(web(1), WEB), (web(2), WEB), (api(1), API)];
    pipeline.apply_snapshot(&Snapshot {
        requested_at: T0,
        answered_at: None,
        tasks: listed
            .iter()
            .map(|(id, app)| SnapshotTask {
                id,
                instance: id.rsplit_once("._app").expect("1.8 id").0,
                app,
                state: MesosState::Running,
                pod: false,
                host: "10.0.4.10",
                health: None,
            })
            .collect(),
        apps: vec![
            SnapshotApp {
                id: WEB.into(),
                strategy: Some(Strategy::enabled(60_000, 300_000)),
                instances: Some(4),
                labels: Some(vec![
                    ("team".into(), "payments".into()),
                    ("owner".into(), "not exported".into()),
                ]),
            },
            SnapshotApp {
                id: API.into(),
                strategy: None,
                instances: None,
                labels: None,
            },
        ],
        pods: None,
        deployments: None,
    });
    let at = |s: i64| T0 + s * 1000;
    let mut bytes = Vec::new();
    for event in [
        payload::status_update(&web(3), WEB, "TASK_STAGING", at(1)),
        payload::status_update(&web(3), WEB, "TASK_RUNNING", at(4)),
        payload::status_update(&api(1), API, "TASK_FAILED", at(20)),
        payload::status_update(&api(2), API, "TASK_STAGING", at(21)),
        payload::status_update(&api(2), API, "TASK_RUNNING", at(33)),
        payload::status_update(&web(1), WEB, "TASK_UNREACHABLE", at(30)),
        payload::status_update(&web(2), WEB, "TASK_UNREACHABLE", at(30)),
        payload::status_update(&web(1), WEB, "TASK_RUNNING", at(100)),
        payload::status_update(&api(2), API, "TASK_LOST", at(200)),
        payload::instance_changed(&payload::instance_id(API, 2), API, "Unreachable", at(200)),
        payload::status_update("/c.instance-x._app.1", "/c", "TASK_RUNNING", at(201)),
        payload::status_update("/d.instance-y._app.1", "/d", "TASK_RUNNING", at(202)),
        with_labels(payload::api_post_app(WEB, Some((60, 300)), at(340))),
        on_agent(payload::status_update(
            &web(4),
            WEB,
            "TASK_RUNNING",
            at(341),
        )),
        json!({"eventType": "unhealthy_instance_kill_event", "appId": WEB, "taskId": web(4),
            "instanceId": payload::instance_id(WEB, 4), "host": "10.0.4.11",
            "timestamp": payload::timestamp(at(342))}),
        on_agent(payload::status_update(&web(4), WEB, "TASK_KILLED", at(343))),
        json!({"eventType": "instance_health_changed_event", "instanceId": payload::instance_id(WEB, 3),
            "runSpecId": WEB, "healthy": false, "timestamp": payload::timestamp(at(344))}),
        json!({"eventType": "deployment_info", "plan": {"id": "d1", "steps": [{"actions": [
            {"action": "RestartApplication", "app": WEB}]}]}, "timestamp": payload::timestamp(at(345))}),
        json!({"eventType": "deployment_success", "id": "d0", "timestamp": payload::timestamp(at(346))}),
    ] {
        bytes.extend(frame(&event));
    }
    bytes.extend(b"event: status_update_event\r\ndata: {not json\r\n\r\n");
    pipeline.feed(&bytes);
    metrics
}

/// The app definition with a label the allowlist takes and one it leaves out.
fn with_labels(mut event: serde_json::Value) -> serde_json::Value {
    event["appDefinition"]["labels"] = json!({"team": "payments", "owner": "not exported"});
    event
}

/// The status on agent host 10.0.4.11.
fn on_agent(mut event: serde_json::Value) -> serde_json::Value {
    event["host"] = "10.0.4.11".into();
    event
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/exposition.prom")
}

/// The exposition with the `process_*` samples' values (CPU time, memory, file descriptors, start
/// time of this test process) set to 0, and the build's revision written `REVISION`: their
/// families, help and order are what is compared.
fn golden_text() -> String {
    let mut out = String::new();
    let revision = format!("revision=\"{}\"", env!("MARATHON_TASK_EXPORTER_REVISION"));
    for line in render().replace(&revision, "revision=\"REVISION\"").lines() {
        match line.rsplit_once(' ') {
            Some((series, _)) if line.starts_with("process_") => {
                out.push_str(series);
                out.push_str(" 0");
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_process_metrics_are_this_processs_own() {
    let text = render();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in the exposition"))
    };
    assert!(value("process_resident_memory_bytes") > 1_000_000.0);
    assert!(value("process_open_fds") >= 3.0);
    assert!(value("process_max_fds") >= value("process_open_fds"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs_f64();
    let started = value("process_start_time_seconds");
    assert!((now - 86_400.0..=now + 1.0).contains(&started), "{started}");
    assert!(value("process_cpu_seconds_total") >= 0.0);
}

#[test]
fn exposition_matches_the_golden_file() {
    let text = golden_text();
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .expect("golden file (run with UPDATE_GOLDEN=1 to create it)");
    if text != golden {
        let diff: Vec<String> = text
            .lines()
            .zip(golden.lines())
            .filter(|(a, b)| a != b)
            .take(10)
            .map(|(a, b)| format!("got:  {a}\nwant: {b}"))
            .collect();
        panic!(
            "exposition differs from {} ({} vs {} lines); first differences:\n{}",
            path.display(),
            text.lines().count(),
            golden.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn golden_counts_follow_the_rules() {
    let samples = common::parse(&render());
    let v = |s: &str| common::value(&samples, s);
    // web/2 unreachable at 30 s with 60/300: inactive at 90 s, expunged at 330 s (clock at 340 s).
    assert_eq!(
        v(r#"marathon_task_expunges_total{app="/prod/web",reason="unreachable_timeout"}"#),
        1.0
    );
    assert_eq!(
        v(r#"marathon_task_replacements_total{app="/prod/web",reason="unreachable"}"#),
        2.0
    );
    assert_eq!(
        v(r#"marathon_task_unreachable_duration_seconds_sum{app="/prod/web"}"#),
        370.0
    );
    // The LOST resolved unreachable; with the default strategy (0s/15m) it is inactive at once.
    assert_eq!(
        v(r#"marathon_app_tasks{app="/prod/api",state="unreachable_inactive"}"#),
        1.0
    );
    assert_eq!(
        v(r#"marathon_app_unreachable_oldest_age_seconds{app="/prod/api"}"#),
        200.0
    );
    // Third and fourth apps with --app.limit 3: /c has its own label, /d goes to __other__.
    assert_eq!(v(r#"marathon_app_tasks{app="/c",state="running"}"#), 1.0);
    assert_eq!(
        v(r#"marathon_app_tasks{app="__other__",state="running"}"#),
        1.0
    );
    assert_eq!(v("marathon_exporter_apps_over_limit"), 1.0);
    assert_eq!(
        v(r#"marathon_exporter_event_errors_total{kind="malformed"}"#),
        1.0
    );
    assert_eq!(v("marathon_exporter_tracked_tasks"), 5.0);
    // Killed for failing its health checks: counted, and replaced as unhealthy.
    assert_eq!(
        v(r#"marathon_task_health_kills_total{app="/prod/web"}"#),
        1.0
    );
    assert_eq!(
        v(r#"marathon_task_replacements_total{app="/prod/web",reason="unhealthy"}"#),
        1.0
    );
    assert_eq!(v(r#"marathon_app_unhealthy_tasks{app="/prod/web"}"#), 1.0);
    assert_eq!(v(r#"marathon_app_deployment_active{app="/prod/web"}"#), 1.0);
    assert_eq!(v(r#"marathon_app_deployment_active{app="/prod/api"}"#), 0.0);
    assert_eq!(v(r#"marathon_deployments_total{result="success"}"#), 1.0);
    // Listed with 4 instances, then an api_post_event at 340 s names 1: the later one wins.
    assert_eq!(v(r#"marathon_app_instances{app="/prod/web"}"#), 1.0);
    assert_eq!(
        v(r#"marathon_app_labels{app="/prod/web",label_team="payments"}"#),
        1.0
    );
    assert_eq!(
        v(
            r#"marathon_app_unreachable_strategy_seconds{app="/prod/web",threshold="expunge_after"}"#
        ),
        300.0
    );
    // Every tracked task is on the agent of its latest status; one whose only task ended has none.
    let on_agents: f64 = samples
        .iter()
        .filter(|(series, _)| series.starts_with("marathon_agent_tasks{"))
        .map(|(_, value)| value)
        .sum();
    assert_eq!(on_agents, 5.0);
    assert!(!samples.keys().any(|s| s.contains("10.0.4.11")));
}

#[test]
fn exposition_passes_promtool_check_metrics_without_warnings() {
    let said = promtool_check_metrics(&render()).expect("promtool check metrics passes");
    assert!(
        said.trim().is_empty(),
        "promtool check metrics warned:\n{said}"
    );
}

/// `promtool check metrics` reads the text format only, so on the OpenMetrics exposition it
/// parses every line (a syntax error fails it with status 1) but sees `x_total` and `x_created`
/// as families of their own, declared by no `# HELP` (its lints, status 3). Anything else it says
/// would be a real problem. A real Prometheus, which asks for OpenMetrics, scrapes it strictly in
/// `tests/monitoring_e2e.rs`.
#[test]
fn openmetrics_exposition_parses_in_promtool_with_only_the_suffix_lints() {
    let text = story().render_openmetrics();
    assert!(text.ends_with("# EOF\n"));
    let said = match promtool_check_metrics(&text) {
        Ok(said) => said,
        Err(failed) => {
            assert!(
                !failed.contains("error while linting") && !failed.contains("parse"),
                "{failed}"
            );
            failed
        }
    };
    let suffixed = ["_total", "_created", "_bucket", "_count", "_sum", "_info"];
    let mut lints = 0;
    for line in said.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with("promtool check metrics failed") {
            continue;
        }
        let (name, complaint) = line.split_once(' ').unwrap_or((line, ""));
        assert_eq!(complaint, "no help text", "{line}");
        assert!(
            suffixed.iter().any(|s| name.ends_with(s)),
            "only suffixed names lack help: {line}"
        );
        assert!(
            text.contains(&format!("\n{name}")),
            "{name} is a sample name"
        );
        lints += 1;
    }
    assert!(
        lints > 0,
        "promtool read the OpenMetrics suffixes as families: {said}"
    );
}

/// The OpenMetrics exposition is valid OpenMetrics for the reference parser (the Python client's,
/// strict: `# EOF`, suffixes, family order, escapes), and the families it parsed, written back in
/// the text format, pass `promtool check metrics` with no warning and carry exactly the text
/// exposition's samples plus one `_created` per counter and histogram series.
#[test]
fn openmetrics_exposition_is_valid_for_the_reference_parser_and_passes_promtool_check_metrics() {
    let metrics = story();
    let text = metrics.render();
    let parsed = openmetrics_to_text(&metrics.render_openmetrics()).expect("valid OpenMetrics");
    let said = promtool_check_metrics(&parsed).expect("promtool check metrics passes");
    assert!(
        said.trim().is_empty(),
        "promtool check metrics warned:\n{said}"
    );

    let in_text = common::parse(&text);
    let mut in_openmetrics = common::parse(&parsed);
    let created: Vec<String> = in_openmetrics
        .keys()
        .filter(|series| series.split('{').next().unwrap().ends_with("_created"))
        .cloned()
        .collect();
    for series in &created {
        in_openmetrics.remove(series);
    }
    assert_eq!(in_openmetrics, in_text, "the same samples in both formats");
    let counted: BTreeSet<String> = in_text
        .keys()
        .filter_map(|series| {
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let base = name
                .strip_suffix("_total")
                .or_else(|| name.strip_suffix("_count"))?;
            let labels = labels.trim_end_matches('}');
            Some(if labels.is_empty() {
                format!("{base}_created")
            } else {
                format!("{base}_created{{{labels}}}")
            })
        })
        .collect();
    let created: BTreeSet<String> = created.into_iter().collect();
    assert!(!counted.is_empty());
    assert_eq!(
        created, counted,
        "one _created per counter and histogram series"
    );
}

/// The check above can fail: the reference parser refuses the text format, a body without
/// `# EOF` and a counter sample without its `_total`, and promtool flags a family without help.
#[test]
fn the_openmetrics_check_refuses_what_is_not_openmetrics() {
    let metrics = story();
    let openmetrics = metrics.render_openmetrics();
    let refused = |body: &str, why: &str| {
        let failed = openmetrics_to_text(body).expect_err(why);
        assert!(failed.contains("not valid OpenMetrics"), "{why}: {failed}");
    };
    refused(&metrics.render(), "the text format is not OpenMetrics");
    refused(
        openmetrics
            .strip_suffix("# EOF\n")
            .expect("ends with # EOF"),
        "a body without # EOF",
    );
    refused(
        &openmetrics.replacen(
            "marathon_exporter_leader_changes_total ",
            "marathon_exporter_leader_changes ",
            1,
        ),
        "a counter sample without _total",
    );

    let without_help = openmetrics
        .lines()
        .filter(|line| !line.starts_with("# HELP marathon_exporter_leader_changes "))
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    assert_ne!(without_help, openmetrics);
    let parsed = openmetrics_to_text(&without_help).expect("HELP is optional in OpenMetrics");
    let warned = promtool_check_metrics(&parsed).unwrap_or_else(|failed| failed);
    assert!(
        warned.contains("marathon_exporter_leader_changes_total no help text"),
        "{warned}"
    );
}

/// The OpenMetrics exposition, written directly, is the text exposition converted line by line
/// (the reference conversion), sample for sample.
#[test]
fn openmetrics_written_directly_equals_the_converted_text() {
    use marathon_task_exporter::metrics::openmetrics;
    let metrics = story();
    // process_* values move between two renders: compare them by name only.
    let steady = |text: &str| -> String {
        text.lines()
            .map(|l| match l.rsplit_once(' ') {
                Some((series, _)) if l.starts_with("process_") => format!("{series} 0"),
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let direct = steady(&metrics.render_openmetrics());
    let converted = steady(&openmetrics::convert(
        &metrics.render(),
        &metrics.app_created(),
        metrics.started(),
    ));
    assert!(
        direct.contains("marathon_task_transitions_created{app="),
        "{direct}"
    );
    assert!(direct.contains("_count{app="), "{direct}");
    let mismatch = direct
        .lines()
        .zip(converted.lines())
        .position(|(a, b)| a != b);
    assert_eq!(
        direct.lines().count(),
        converted.lines().count(),
        "first difference at line {mismatch:?}"
    );
    assert_eq!(mismatch, None, "{direct}\n----\n{converted}");
}

/// No help text holds a `"`: the gauge lines are then the same in the text format and in
/// OpenMetrics (which escapes `"` in `# HELP`), and are written once for both.
#[test]
fn no_help_text_needs_an_openmetrics_escape() {
    use marathon_task_exporter::metrics::families::FAMILIES;
    for family in FAMILIES {
        assert!(!family.help.contains(['"', '\\', '\n']), "{}", family.name);
    }
}

/// The golden exposition's families are exactly the table's: names in order, types, help texts and
/// label names.
#[test]
fn the_exposition_has_exactly_the_families_of_the_table() {
    use marathon_task_exporter::metrics::families::FAMILIES;
    let text = golden_text();
    let mut seen: Vec<(String, String, String, BTreeSet<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("name and help");
            seen.push((name.into(), String::new(), help.into(), BTreeSet::new()));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (_, kind) = rest.split_once(' ').expect("name and type");
            seen.last_mut().expect("HELP before TYPE").1 = kind.into();
        } else if let Some((series, _)) = line.split_once('{') {
            let labels = series_labels(line);
            let family = seen.last_mut().expect("a sample after its HELP");
            assert!(series.starts_with(&family.0), "{line} under {}", family.0);
            family.3.extend(
                labels
                    .into_iter()
                    .filter(|l| l != "le" && !l.starts_with("label_")),
            );
        }
    }
    let table: Vec<(String, String, String, BTreeSet<String>)> = FAMILIES
        .iter()
        .map(|f| {
            (
                f.name.into(),
                f.kind.name().into(),
                f.help.into(),
                f.labels.iter().map(|l| (*l).to_owned()).collect(),
            )
        })
        .collect();
    assert_eq!(seen, table);
}

/// The README's metric table names every family of the table, and no other.
#[test]
fn the_readme_lists_exactly_the_families_of_the_table() {
    use marathon_task_exporter::metrics::families::FAMILIES;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Metrics\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Metrics section");
    let mut listed = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let name = row[3..].split('`').next().unwrap_or_default();
        if name == "process_*" {
            // One row for the process's own: their names are in its description.
            for family in FAMILIES.iter().filter(|f| f.name.starts_with("process_")) {
                assert!(row.contains(family.name), "{} in: {row}", family.name);
                listed.insert(family.name.to_owned());
            }
        } else {
            listed.insert(name.to_owned());
        }
    }
    let table: BTreeSet<String> = FAMILIES.iter().map(|f| f.name.to_owned()).collect();
    assert_eq!(listed, table);
}

/// The label names of one sample line.
fn series_labels(line: &str) -> Vec<String> {
    let inside = line
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
        .map_or("", |(labels, _)| labels);
    inside
        .split("\",")
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.is_empty())
        .collect()
}
