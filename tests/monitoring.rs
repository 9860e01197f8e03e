//! The dashboards, the Prometheus rules and the runbook as code: the dashboards validate against
//! Grafana's published dashboard model, read data only through the `${datasource}` variable and
//! the `$job`/`$app` filters, and name only metrics the exporter exposes; every alert is complete,
//! links an existing runbook section, and has promtool tests that fire and stay silent; promtool
//! accepts the rules, their tests, and every dashboard query.

mod monitoring_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use monitoring_support::{
    DASHBOARD_SCHEMA, Dashboard, JOB_CONVENTION, Query, RULES, RUNBOOK, RUNBOOK_URL, Vars, alerts,
    dashboards, example_alerts, exposition, exposition_names, github_anchors, json, label_names,
    label_values, metric_names, read, recorded, rule_tests, rules, second_level_headings,
    unknown_names,
};
use serde_json::{Value, json};

const DATASOURCE: &str = "${datasource}";
/// Grafana 10.4 / 11 and later write this version; older ones are migrated on import.
const MIN_SCHEMA_VERSION: u64 = 39;

fn tasks_dashboard() -> Dashboard {
    dashboards()
        .into_iter()
        .find(|d| d.file.ends_with("marathon-tasks.json"))
        .expect("the tasks dashboard")
}

fn exporter_dashboard() -> Dashboard {
    dashboards()
        .into_iter()
        .find(|d| d.file.ends_with("marathon-task-exporter.json"))
        .expect("the exporter dashboard")
}

/// The panels' queries and the annotations' queries of a dashboard.
fn all_queries(dashboard: &Dashboard) -> Vec<Query> {
    let mut queries = dashboard.queries();
    queries.extend(dashboard.annotation_queries());
    queries
}

/// Every `{...}` label matcher block of an expression.
fn selectors(expr: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("a closing brace") + open;
        out.push(&rest[open + 1..close]);
        rest = &rest[close + 1..];
    }
    out
}

fn schema_errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn promtool() -> PathBuf {
    std::env::var_os("PROMTOOL").map_or_else(|| PathBuf::from("promtool"), PathBuf::from)
}

fn run_promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new(promtool())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("promtool on PATH (Debian package prometheus); scripts/test installs it");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn dashboards_validate_against_grafanas_published_dashboard_schema() {
    let schema = json(DASHBOARD_SCHEMA);
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    for dashboard in dashboards() {
        let errors = schema_errors(&validator, &dashboard.json);
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            dashboard.file,
            errors.join("\n")
        );
    }
}

#[test]
fn the_schema_rejects_what_grafana_does_not_know() {
    let schema = json(DASHBOARD_SCHEMA);
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let good = tasks_dashboard().json;
    assert!(schema_errors(&validator, &good).is_empty());
    let mut misspelt = good.clone();
    misspelt["panels"][1]["gridpos"] = json!({"h": 4, "w": 4, "x": 0, "y": 0});
    assert!(!schema_errors(&validator, &misspelt).is_empty());
    let mut old_datasource = good.clone();
    old_datasource["panels"][1]["datasource"] = json!("Prometheus");
    assert!(!schema_errors(&validator, &old_datasource).is_empty());
    let mut no_version = good.clone();
    no_version
        .as_object_mut()
        .expect("an object")
        .remove("schemaVersion");
    assert!(!schema_errors(&validator, &no_version).is_empty());
    // Prometheus annotations: the fields Grafana stores, and no others.
    assert!(good["annotations"]["list"][0]["target"]["expr"].is_string());
    let mut misspelt_option = good.clone();
    misspelt_option["annotations"]["list"][0]["titelFormat"] = json!("{{job}}");
    assert!(!schema_errors(&validator, &misspelt_option).is_empty());
    let mut misspelt_query = good.clone();
    let target = misspelt_query["annotations"]["list"][0]["target"]
        .as_object_mut()
        .expect("a target");
    let expr = target.remove("expr").expect("an expr");
    target.insert("exp".to_owned(), expr);
    assert!(!schema_errors(&validator, &misspelt_query).is_empty());
    let mut string_flag = good;
    string_flag["annotations"]["list"][0]["useValueForTime"] = json!("false");
    assert!(!schema_errors(&validator, &string_flag).is_empty());
}

#[test]
fn dashboards_have_stable_uids_a_current_schema_version_and_unique_panel_ids() {
    let mut uids = BTreeSet::new();
    for dashboard in dashboards() {
        let d = &dashboard.json;
        let uid = d["uid"].as_str().expect("a uid");
        assert!(
            (8..=40).contains(&uid.len())
                && uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{}: uid {uid:?}",
            dashboard.file
        );
        assert!(uids.insert(uid.to_owned()), "uid {uid} used twice");
        assert!(
            d["schemaVersion"].as_u64().expect("schemaVersion") >= MIN_SCHEMA_VERSION,
            "{}",
            dashboard.file
        );
        assert!(
            d["id"].is_null(),
            "{}: id is per Grafana instance",
            dashboard.file
        );
        assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
        let mut ids = BTreeSet::new();
        for panel in dashboard.panels() {
            let id = panel["id"].as_u64().expect("every panel has an id");
            assert!(ids.insert(id), "{}: panel id {id} repeated", dashboard.file);
            assert!(
                panel["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{}: panel {id} has no title",
                dashboard.file
            );
        }
        for panel in dashboard.data_panels() {
            assert!(
                panel["description"].as_str().is_some_and(|t| !t.is_empty()),
                "{}: panel {} has no description",
                dashboard.file,
                panel["id"]
            );
            assert!(
                panel["targets"].as_array().is_some_and(|t| !t.is_empty()),
                "{}: panel {} has no query",
                dashboard.file,
                panel["id"]
            );
        }
    }
}

#[test]
fn every_panel_target_and_query_variable_reads_the_datasource_variable() {
    let variable = json!({"type": "prometheus", "uid": DATASOURCE});
    for dashboard in dashboards() {
        for panel in dashboard.data_panels() {
            assert_eq!(
                panel["datasource"], variable,
                "{} panel {}",
                dashboard.file, panel["id"]
            );
            for target in panel["targets"].as_array().into_iter().flatten() {
                assert_eq!(
                    target["datasource"], variable,
                    "{} panel {} target {}",
                    dashboard.file, panel["id"], target["refId"]
                );
            }
        }
        for var in dashboard.variables() {
            if var["type"] == "query" {
                assert_eq!(
                    var["datasource"], variable,
                    "{} ${}",
                    dashboard.file, var["name"]
                );
            }
        }
        // No datasource other than the variable appears anywhere in the file.
        let mut found = Vec::new();
        datasources(&dashboard.json, &mut found);
        for ds in found {
            assert_eq!(ds, &variable, "{}", dashboard.file);
        }
    }
}

/// Every value of a `datasource` key, at any depth.
fn datasources<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "datasource" {
                    out.push(v);
                } else {
                    datasources(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| datasources(v, out)),
        _ => {}
    }
}

#[test]
fn the_variables_are_datasource_job_and_the_dashboards_own_filter() {
    for dashboard in dashboards() {
        let ds = dashboard.variable("datasource").expect("$datasource");
        assert_eq!(ds["type"], "datasource");
        assert_eq!(ds["query"], "prometheus");
        let job = dashboard.variable("job").expect("$job");
        assert_eq!(job["type"], "query");
        let (selector, label) =
            label_values(job["query"].as_str().expect("a query")).expect("label_values");
        assert_eq!(label, "job");
        assert!(!selector.contains("job"), "{selector}");
    }
    let tasks = tasks_dashboard();
    let app = tasks.variable("app").expect("$app");
    assert_eq!(app["type"], "query");
    assert_eq!(
        app["query"],
        r#"label_values(marathon_app_tasks{job=~"$job"}, app)"#
    );
    assert_eq!(app["multi"], true);
    assert_eq!(app["includeAll"], true);
    assert_eq!(app["allValue"], ".*", "All must not expand to every app id");
    let agent = tasks.variable("agent").expect("$agent");
    assert_eq!(
        agent["query"],
        r#"label_values(marathon_agent_tasks{job=~"$job"}, agent)"#
    );
    assert_eq!(agent["multi"], true);
    assert_eq!(agent["allValue"], ".*");
    let repeated: Vec<&Value> = tasks
        .panels()
        .into_iter()
        .filter(|p| p["repeat"] == "agent")
        .collect();
    assert!(
        repeated.len() == 1 && repeated[0]["type"] == "row" && repeated[0]["collapsed"] == true,
        "one collapsed row repeated per agent"
    );
    let exporter = exporter_dashboard();
    let instance = exporter.variable("instance").expect("$instance");
    assert_eq!(instance["multi"], true);
    assert_eq!(instance["includeAll"], true);
    assert_eq!(instance["allValue"], ".*");
}

#[test]
fn no_dashboard_or_rule_hard_codes_a_job() {
    for dashboard in dashboards() {
        let text = serde_json::to_string(&dashboard.json).expect("serializable");
        assert!(
            !text.contains("job=\\\""),
            "{}: job=\"...\"",
            dashboard.file
        );
        let matchers: Vec<&str> = text
            .match_indices("job=~")
            .map(|(at, _)| &text[at..])
            .collect();
        for m in matchers {
            assert!(
                m.starts_with("job=~\\\"$job\\\""),
                "{}: {}",
                dashboard.file,
                &m[..20.min(m.len())]
            );
        }
    }
    for rule in rules() {
        assert!(!rule.expr.contains("job=\""), "{}", rule.name());
        for (at, _) in rule.expr.match_indices("job") {
            let here = &rule.expr[at..];
            if here.starts_with("job=") || here.starts_with("job!") {
                assert!(
                    here.starts_with(JOB_CONVENTION) && rule.expr[..at].ends_with("up{"),
                    "{}: only up selects the job, by the documented convention",
                    rule.name()
                );
            }
        }
    }
}

#[test]
fn task_queries_filter_on_job_and_the_selected_apps() {
    for query in tasks_dashboard().queries() {
        let found = selectors(&query.expr);
        assert!(!found.is_empty(), "{}: no selector", query.place);
        for selector in found {
            // Per-agent series have no app: they follow the agents selected instead.
            let filter = if metric_names(&query.expr).contains("marathon_agent_tasks") {
                r#"agent=~"$agent""#
            } else {
                r#"app=~"$app""#
            };
            assert!(
                selector.contains(r#"job=~"$job""#) && selector.contains(filter),
                "{}: {{{selector}}}",
                query.place
            );
        }
    }
    for query in exporter_dashboard().queries() {
        for selector in selectors(&query.expr) {
            assert!(
                selector.contains(r#"job=~"$job""#)
                    && selector.contains(r#"instance=~"$instance""#),
                "{}: {{{selector}}}",
                query.place
            );
        }
    }
}

/// Replicas: the task dashboard and every rule aggregate `instance` away (the exporter dashboard
/// shows each replica on purpose).
#[test]
fn task_queries_and_rules_give_the_same_answer_with_one_or_two_replicas() {
    let recorded = recorded();
    let reads_raw = |expr: &str| metric_names(expr).iter().any(|n| !recorded.contains(n));
    for query in tasks_dashboard().queries() {
        if reads_raw(&query.expr) {
            assert!(
                query.expr.contains("max without (instance) ("),
                "{}: {}",
                query.place,
                query.expr
            );
        }
    }
    for rule in rules() {
        if reads_raw(&rule.expr) {
            assert!(
                rule.expr.contains("max without (instance) ("),
                "{}: {}",
                rule.name(),
                rule.expr
            );
        }
        // A counter is turned into a rate or increase per replica before the replicas meet.
        assert!(
            !rule.expr.contains("max without (instance) (marathon_task_")
                && !rule.expr.contains("sum without (instance)"),
            "{}",
            rule.name()
        );
    }
}

#[test]
fn dashboards_and_rules_name_only_metrics_the_exporter_exposes() {
    let exposed = exposition_names(&exposition());
    let recorded = recorded();
    let mut read_names = BTreeSet::new();
    for dashboard in dashboards() {
        for query in all_queries(&dashboard) {
            let unknown = unknown_names(&query.expr, &exposed, &recorded);
            assert!(unknown.is_empty(), "{}: {unknown:?}", query.place);
            read_names.extend(metric_names(&query.expr));
        }
        for var in dashboard.variables() {
            if let Some((selector, _)) = var["query"].as_str().and_then(label_values) {
                let unknown = unknown_names(&selector, &exposed, &recorded);
                assert!(
                    unknown.is_empty(),
                    "{} ${}: {unknown:?}",
                    dashboard.file,
                    var["name"]
                );
            }
        }
    }
    for rule in rules() {
        let unknown = unknown_names(&rule.expr, &exposed, &recorded);
        assert!(unknown.is_empty(), "{}: {unknown:?}", rule.name());
        read_names.extend(metric_names(&rule.expr));
    }
    // Every recording rule is used by a dashboard or an alert.
    for name in &recorded {
        let used = dashboards()
            .iter()
            .flat_map(Dashboard::queries)
            .any(|q| metric_names(&q.expr).contains(name))
            || alerts()
                .iter()
                .any(|a| metric_names(&a.expr).contains(name));
        assert!(used, "recording rule {name} is not used");
    }
    assert!(read_names.contains("marathon_app_tasks"));
}

#[test]
fn the_metric_name_tokenizer_finds_names_and_skips_everything_else() {
    let expr = r#"histogram_quantile(0.9, sum by (app, le) (rate(x_bucket{job=~"$job", le!="+Inf"}[$__rate_interval])))
        / on (job) group_left () max without (instance) (bare_gauge offset 5m) > 1e-3
        and ignoring (to) a:b:rate5m @ start() or vector(0) unless count(other{a="sum(y)"}) # note z"#;
    let names: Vec<String> = metric_names(expr).into_iter().collect();
    assert_eq!(names, ["a:b:rate5m", "bare_gauge", "other", "x_bucket"]);
    let exposed = exposition_names(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 0\n# TYPE g gauge\ng 1\n# TYPE c counter\n",
    );
    let recorded = BTreeSet::from(["app:h:rate5m".to_owned()]);
    assert_eq!(
        unknown_names(
            "sum(rate(h_count[5m])) + g + up + c + app:h:rate5m",
            &exposed,
            &recorded
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        unknown_names("max(gg) + h_total", &exposed, &recorded),
        ["gg", "h_total"]
    );
}

/// The labels of every `without (...)` clause of an expression.
fn without_lists(expr: &str) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    for (at, _) in expr.match_indices("without (") {
        let list = &expr[at + "without (".len()..];
        let list = list.split(')').next().unwrap_or("");
        labels.extend(
            list.split(',')
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty()),
        );
    }
    labels
}

#[test]
fn recording_rules_are_named_level_metric_operations() {
    let golden = exposition();
    let exposed = exposition_names(&golden);
    for rule in rules() {
        let Some(name) = &rule.record else { continue };
        let parts: Vec<&str> = name.split(':').collect();
        assert_eq!(parts.len(), 3, "{name}: level:metric:operations");
        let (level, metric, operation) = (parts[0], parts[1], parts[2]);
        // The level lists the labels the result keeps besides job: those of the metric read,
        // less those aggregated away.
        let source = if exposed.contains(&format!("{metric}_total")) {
            format!("{metric}_total")
        } else {
            metric.to_owned()
        };
        let mut kept = label_names(&golden, &source);
        for dropped in without_lists(&rule.expr) {
            kept.remove(&dropped);
        }
        let level: BTreeSet<String> = level.split('_').map(str::to_owned).collect();
        assert_eq!(level, kept, "{name}: the level names the labels kept");
        // The metric is the one read, `_total` dropped once it is a rate or an increase.
        let read = metric_names(&rule.expr);
        assert!(
            read.contains(&format!("{metric}_total")) || read.contains(metric),
            "{name}: reads {read:?}"
        );
        assert!(
            exposed.contains(&format!("{metric}_total")) || exposed.contains(metric),
            "{name}: {metric} is not exposed"
        );
        // The operation names the function and its window.
        let (function, window) = operation
            .find(|c: char| c.is_ascii_digit())
            .map(|at| operation.split_at(at))
            .expect("an operation with a window, such as rate5m");
        assert!(
            rule.expr.contains(&format!("{function}({metric}"))
                && rule.expr.contains(&format!("[{window}]")),
            "{name}: {function} over {window}"
        );
    }
}

#[test]
fn alerts_have_for_severity_summary_description_and_a_runbook_section() {
    let alerts = alerts();
    assert!(alerts.len() >= 10, "{} alerts", alerts.len());
    let mut names = BTreeSet::new();
    for alert in &alerts {
        let name = alert.alert.as_deref().expect("an alert");
        assert!(names.insert(name), "{name} defined twice");
        assert!(
            name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "{name}: CamelCase"
        );
        let for_ = alert
            .for_
            .as_deref()
            .unwrap_or_else(|| panic!("{name}: no for"));
        let (amount, unit) = for_.split_at(for_.len().saturating_sub(1));
        assert!(
            matches!(unit, "s" | "m" | "h") && amount.parse::<u32>().is_ok_and(|n| n > 0),
            "{name}: for {for_}"
        );
        let severity = alert.labels.get("severity").map(String::as_str);
        assert!(
            matches!(severity, Some("page" | "ticket")),
            "{name}: severity {severity:?}"
        );
        let annotation = |key: &str| {
            alert
                .annotations
                .get(key)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| panic!("{name}: no {key}"))
        };
        let summary = annotation("summary");
        assert!(
            summary.ends_with('.') && summary.len() < 100,
            "{name}: {summary}"
        );
        let description = annotation("description");
        if name.starts_with("MarathonApp") {
            assert!(
                description.contains("{{ $labels.app }}"),
                "{name}: per-app description"
            );
        }
        assert!(
            description.contains("$value") || description.contains("$labels"),
            "{name}: the description says what was seen"
        );
        let url = annotation("runbook_url");
        assert!(url.starts_with(&format!("{RUNBOOK_URL}#")), "{name}: {url}");
    }
    assert!(
        alerts.iter().any(|a| a.labels["severity"] == "page"),
        "something pages"
    );
}

#[test]
fn every_runbook_url_points_at_a_heading_of_the_runbook() {
    let runbook = read(RUNBOOK);
    let anchors: BTreeSet<String> = github_anchors(&runbook).into_iter().collect();
    let headings: BTreeSet<String> = second_level_headings(&runbook).into_iter().collect();
    let alerts = alerts();
    for alert in &alerts {
        let name = alert.alert.as_deref().expect("an alert");
        let url = &alert.annotations["runbook_url"];
        let anchor = url.rsplit_once('#').expect("an anchor").1;
        assert!(
            anchors.contains(anchor),
            "{name}: #{anchor} is not a heading of {RUNBOOK}"
        );
        assert!(
            headings.contains(name),
            "{RUNBOOK} has no section ## {name}"
        );
        assert_eq!(
            github_anchors(&format!("## {name}")),
            [anchor],
            "{name} links its own section"
        );
    }
    let names: BTreeSet<String> = alerts.iter().filter_map(|a| a.alert.clone()).collect();
    assert_eq!(
        headings, names,
        "one runbook section per alert, and no other"
    );
}

#[test]
fn github_anchors_follow_githubs_rules() {
    let text = "# Runbook: alerts\n## MarathonTasksUnreachableSpike\n### What to do?\n```\n## not a heading\n```\n### What to do?\n## Snake_case and `code`, too!\n";
    assert_eq!(
        github_anchors(text),
        [
            "runbook-alerts",
            "marathontasksunreachablespike",
            "what-to-do",
            "what-to-do-1",
            "snake_case-and-code-too"
        ]
    );
}

#[test]
fn every_alert_has_promtool_tests_that_fire_and_that_stay_silent() {
    let files = rule_tests();
    assert!(!files.is_empty());
    let mut fires: BTreeMap<String, usize> = BTreeMap::new();
    let mut silent: BTreeMap<String, usize> = BTreeMap::new();
    let mut two_replicas = false;
    let alerts = alerts();
    let examples = example_alerts();
    for (file, tests) in &files {
        assert!(
            tests
                .rule_files
                .iter()
                .any(|f| f.ends_with(RULES.trim_start_matches("alerts/"))),
            "{file} loads {RULES}"
        );
        for test in &tests.tests {
            let instances: BTreeSet<&str> = test
                .input_series
                .iter()
                .filter_map(|s| s.series.split("instance=\"").nth(1))
                .filter_map(|rest| rest.split('"').next())
                .collect();
            two_replicas |= instances.len() >= 2;
            for case in &test.alert_rule_test {
                if examples
                    .iter()
                    .any(|a| a.alert.as_deref() == Some(case.alertname.as_str()))
                {
                    continue; // an example's own test: not one of the bundled alerts
                }
                let alert = alerts
                    .iter()
                    .find(|a| a.alert.as_deref() == Some(case.alertname.as_str()))
                    .unwrap_or_else(|| panic!("{file}: no alert {}", case.alertname));
                if case.exp_alerts.is_empty() {
                    *silent.entry(case.alertname.clone()).or_default() += 1;
                    continue;
                }
                *fires.entry(case.alertname.clone()).or_default() += 1;
                for exp in &case.exp_alerts {
                    assert_eq!(
                        exp.exp_labels.get("severity"),
                        alert.labels.get("severity"),
                        "{file}: {} exp_labels",
                        case.alertname
                    );
                    let keys: BTreeSet<&String> = exp.exp_annotations.keys().collect();
                    let want: BTreeSet<&String> = alert.annotations.keys().collect();
                    assert_eq!(keys, want, "{file}: {} exp_annotations", case.alertname);
                }
            }
        }
    }
    for alert in &alerts {
        let name = alert.alert.as_deref().expect("an alert");
        assert!(
            fires.contains_key(name),
            "no promtool test where {name} fires"
        );
        assert!(
            silent.contains_key(name),
            "no promtool test where {name} stays silent"
        );
    }
    assert!(two_replicas, "some tests feed two exporter replicas");
}

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let (ok, said) = run_promtool(&["check", "rules", RULES]);
    assert!(ok, "promtool check rules:\n{said}");
    let mut args = vec!["test".to_owned(), "rules".to_owned()];
    for name in rule_tests().keys() {
        args.push(format!("alerts/tests/{name}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, said) = run_promtool(&args);
    assert!(ok, "promtool test rules:\n{said}");
}

/// Every dashboard query, with Grafana's variables substituted, parses: promtool checks them as
/// the expressions of a throwaway rule file.
#[test]
fn promtool_parses_every_dashboard_query() {
    // Two jobs selected, as Grafana writes a multi-value variable into a regex matcher.
    let vars = Vars::new(
        "(marathon-task-exporter|staging-marathon-task-exporter)",
        ".*",
        ".*",
        "1m",
        "1h",
    );
    let mut rules = String::from("groups:\n  - name: dashboard-queries\n    rules:\n");
    let mut places = Vec::new();
    for dashboard in dashboards() {
        for query in all_queries(&dashboard) {
            places.push(query.place.clone());
            let expr = serde_json::to_string(&vars.substitute(&query.expr)).expect("a string");
            rules.push_str(&format!(
                "      - record: dashboard:query_{}:check\n        expr: {expr}\n",
                places.len()
            ));
        }
        for var in dashboard.variables() {
            if let Some((selector, _)) = var["query"].as_str().and_then(label_values) {
                places.push(format!("{} ${}", dashboard.file, var["name"]));
                let expr = serde_json::to_string(&vars.substitute(&selector)).expect("a string");
                rules.push_str(&format!(
                    "      - record: dashboard:query_{}:check\n        expr: {expr}\n",
                    places.len()
                ));
            }
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("dashboard-queries.yml");
    std::fs::write(&file, rules).expect("writable");
    let (ok, said) = run_promtool(&["check", "rules", file.to_str().expect("utf-8 path")]);
    assert!(
        ok,
        "promtool could not parse a dashboard query:\n{said}\n(queries: {places:#?})"
    );
}

/// The `job` variable takes several jobs, or All; every query matches it as a regex (Grafana
/// writes several values as `(a|b)`), which `no_dashboard_or_rule_hard_codes_a_job` checks.
#[test]
fn the_job_variable_is_multi_select_with_all_listing_the_jobs() {
    for dashboard in dashboards() {
        let job = dashboard.variable("job").expect("$job");
        assert_eq!(job["multi"], true, "{}", dashboard.file);
        assert_eq!(job["includeAll"], true, "{}", dashboard.file);
        // All must stand for the jobs listed, not `.*`: `up{job=~".*"}` would count every target
        // Prometheus scrapes on the exporter dashboard.
        assert!(
            job["allValue"].is_null(),
            "{}: allValue {}",
            dashboard.file,
            job["allValue"]
        );
        let (selector, _) =
            label_values(job["query"].as_str().expect("a query")).expect("label_values");
        assert!(
            metric_names(&selector).contains("marathon_exporter_build_info"),
            "{}: jobs that run the exporter, not every job: {selector}",
            dashboard.file
        );
    }
}

#[test]
fn dashboards_are_read_only_provisioned_code() {
    for dashboard in dashboards() {
        assert_eq!(
            dashboard.json["editable"], false,
            "{}: change the file, not the dashboard in Grafana",
            dashboard.file
        );
    }
}

/// The parameters a link to one of our dashboards must carry: the time range, the data source and
/// the jobs.
const KEPT_IN_LINKS: [&str; 3] = [
    "${__url_time_range}",
    "${datasource:queryparam}",
    "${job:queryparam}",
];

#[test]
fn links_between_the_dashboards_keep_the_time_range_and_the_variables() {
    let all = dashboards();
    let uids: BTreeSet<&str> = all.iter().filter_map(|d| d.json["uid"].as_str()).collect();
    for dashboard in &all {
        let links = dashboard.json["links"].as_array().expect("links");
        assert!(!links.is_empty(), "{}: no link", dashboard.file);
        let mut reaches = BTreeSet::new();
        for link in links {
            assert_eq!(link["type"], "dashboards", "{}: {link}", dashboard.file);
            assert_eq!(link["keepTime"], true, "{}: {link}", dashboard.file);
            assert_eq!(link["includeVars"], true, "{}: {link}", dashboard.file);
            // A dashboards link lists the dashboards that carry all of its tags.
            let tags: Vec<&Value> = link["tags"].as_array().expect("tags").iter().collect();
            assert!(
                !tags.is_empty(),
                "{}: a link to every dashboard",
                dashboard.file
            );
            for other in &all {
                let carried = other.json["tags"].as_array().expect("tags");
                if tags.iter().all(|t| carried.contains(t)) {
                    reaches.insert(other.file);
                }
            }
        }
        let others: BTreeSet<&str> = all
            .iter()
            .map(|d| d.file)
            .filter(|f| *f != dashboard.file)
            .collect();
        assert_eq!(
            reaches, others,
            "{}: links reach the other dashboard",
            dashboard.file
        );

        // Panel links and data links into a dashboard carry time range, data source and jobs.
        let panel_links = dashboard.data_panels().into_iter().flat_map(|p| {
            p["links"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |l| (p, l))
        });
        for (panel, link) in panel_links.chain(dashboard.data_links()) {
            let url = link["url"].as_str().expect("a url");
            let Some(rest) = url.strip_prefix("/d/") else {
                assert!(
                    url.starts_with("https://"),
                    "{} panel {}: {url}",
                    dashboard.file,
                    panel["id"]
                );
                continue;
            };
            let uid = rest.split(['/', '?']).next().unwrap_or("");
            assert!(
                uids.contains(uid),
                "{} panel {}: {url}",
                dashboard.file,
                panel["id"]
            );
            for kept in KEPT_IN_LINKS {
                assert!(
                    url.contains(kept),
                    "{} panel {}: {url} lacks {kept}",
                    dashboard.file,
                    panel["id"]
                );
            }
        }
    }
}

#[test]
fn an_app_in_the_busiest_apps_table_links_to_its_tasks() {
    let tasks = tasks_dashboard();
    let uid = tasks.json["uid"].as_str().expect("a uid");
    assert!(tasks.variable("app").is_some());
    let exporter = exporter_dashboard();
    let links: Vec<(&Value, &Value)> = exporter
        .data_links()
        .into_iter()
        .filter(|(panel, _)| panel["type"] == "table")
        .collect();
    assert!(!links.is_empty(), "no table with a data link");
    for (panel, link) in links {
        let url = link["url"].as_str().expect("a url");
        assert!(
            url.starts_with(&format!("/d/{uid}/")),
            "panel {}: {url} opens the tasks dashboard",
            panel["id"]
        );
        assert!(
            url.contains("var-app=${__data.fields.app"),
            "panel {}: {url} filters on the app clicked",
            panel["id"]
        );
        // The link is on the app column, which the table's query keeps.
        let on_app_column = panel["fieldConfig"]["overrides"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|o| {
                o["matcher"] == json!({"id": "byName", "options": "app"})
                    && o["properties"].as_array().is_some_and(|p| {
                        p.iter().any(|p| {
                            p["id"] == "links"
                                && p["value"].as_array().is_some_and(|v| v.contains(link))
                        })
                    })
            });
        assert!(
            on_app_column,
            "panel {}: the link is on the app column",
            panel["id"]
        );
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("an expr");
            assert!(expr.contains("by (app)"), "panel {}: {expr}", panel["id"]);
        }
    }
}

#[test]
fn annotations_mark_leader_changes_and_exporter_restarts_from_existing_metrics() {
    let exposed = exposition_names(&exposition());
    let recorded = recorded();
    for dashboard in dashboards() {
        let exporter = dashboard.file.ends_with("marathon-task-exporter.json");
        for annotation in dashboard.annotations() {
            let name = annotation["name"].as_str().expect("a name");
            assert!(
                annotation["builtIn"].is_null(),
                "{}: {name}",
                dashboard.file
            );
            assert_eq!(
                annotation["datasource"],
                json!({"type": "prometheus", "uid": DATASOURCE}),
                "{}: {name}",
                dashboard.file
            );
        }
        for query in dashboard.annotation_queries() {
            let unknown = unknown_names(&query.expr, &exposed, &recorded);
            assert!(unknown.is_empty(), "{}: {unknown:?}", query.place);
            for selector in selectors(&query.expr) {
                assert!(
                    selector.contains(r#"job=~"$job""#)
                        && (!exporter || selector.contains(r#"instance=~"$instance""#)),
                    "{}: {{{selector}}}",
                    query.place
                );
            }
        }

        let leader = dashboard
            .annotation("Leader changes")
            .unwrap_or_else(|| panic!("{}: no leader changes", dashboard.file));
        let expr = leader["target"]["expr"].as_str().expect("an expr");
        assert_eq!(leader["enable"], true);
        assert!(
            metric_names(expr).contains("marathon_exporter_leader_changes_total"),
            "{expr}"
        );
        // Every replica sees the same leader change: one marker, not one per replica.
        assert!(
            expr.starts_with("max without (instance) (increase("),
            "{}: {expr}",
            dashboard.file
        );

        let restarts = dashboard
            .annotation("Exporter restarts")
            .unwrap_or_else(|| panic!("{}: no exporter restarts", dashboard.file));
        let expr = restarts["target"]["expr"].as_str().expect("an expr");
        assert_eq!(restarts["enable"], true);
        // A restart shows as counters starting again from zero (resets) or as the build info of
        // a replica appearing (not as a start time: only Linux builds export one).
        let names = metric_names(expr);
        assert!(
            expr.contains("resets(marathon_exporter_events_total{")
                && names.contains("marathon_exporter_build_info")
                && expr.contains(" unless marathon_exporter_build_info{"),
            "{}: {expr}",
            dashboard.file
        );
        assert!(
            restarts["titleFormat"]
                .as_str()
                .is_some_and(|t| t.contains("{{instance}}")),
            "{}: a restart names its replica",
            dashboard.file
        );
    }

    // Deployments: a region per app while a deployment touches it, once however many replicas.
    let tasks = tasks_dashboard();
    let deployments = tasks
        .annotation("Deployments")
        .expect("a Deployments annotation");
    assert_eq!(deployments["enable"], true);
    let expr = deployments["target"]["expr"].as_str().expect("an expr");
    assert!(
        expr.contains("max without (instance) (marathon_app_deployment_active{")
            && expr.contains(r#"app=~"$app""#)
            && expr.trim_end().ends_with("== 1"),
        "{expr}"
    );
    assert!(
        deployments["titleFormat"]
            .as_str()
            .is_some_and(|t| t.contains("{{app}}")),
        "a deployment names its app"
    );
}

/// A panel that draws one series per app draws at most a handful: 5,000 apps must not make
/// 5,000 lines or rows.
#[test]
fn per_app_queries_are_bounded_with_topk() {
    let mut per_app_timeseries = 0;
    for dashboard in dashboards() {
        for panel in dashboard.data_panels() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or("");
                let per_app = expr.contains("by (app)") || expr.contains("by (app,");
                if !(per_app || expr.contains("by (agent)")) {
                    continue;
                }
                if panel["type"] == "timeseries" {
                    per_app_timeseries += 1;
                }
                let k = expr
                    .strip_prefix("topk(")
                    .and_then(|rest| rest.split(',').next())
                    .and_then(|k| k.trim().parse::<u32>().ok());
                assert!(
                    k.is_some_and(|k| (1..=20).contains(&k)),
                    "{} panel {} {:?}: {expr}",
                    dashboard.file,
                    panel["id"],
                    panel["title"]
                );
            }
        }
    }
    assert!(
        per_app_timeseries >= 6,
        "{per_app_timeseries} per-app time series"
    );
}
