//! Shared by the monitoring tests: loads the dashboards, the rule file, the promtool unit tests and
//! the runbook, lists every PromQL expression in them, substitutes Grafana's variables, and names
//! the metrics an expression reads.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

/// The dashboards, relative to the crate root.
pub const DASHBOARDS: [&str; 2] = [
    "dashboards/marathon-tasks.json",
    "dashboards/marathon-task-exporter.json",
];
/// The committed JSON Schema of Grafana's dashboard model.
pub const DASHBOARD_SCHEMA: &str = "dashboards/schema/dashboard.schema.json";
/// The Prometheus rule file.
pub const RULES: &str = "alerts/marathon-tasks.rules.yml";
/// The promtool unit tests of the rules.
pub const RULE_TESTS_DIR: &str = "alerts/tests";
/// The runbook every alert links to.
pub const RUNBOOK: &str = "docs/runbook.md";
/// Where the runbook is published; every `runbook_url` is this plus `#<anchor>`.
pub const RUNBOOK_URL: &str =
    "https://github.com/marathon-task-exporter/marathon-task-exporter/blob/main/docs/runbook.md";
/// A real exposition of the exporter.
pub const GOLDEN_EXPOSITION: &str = "tests/golden/exposition.prom";
/// The only job matcher the rules may use (on `up`, which has no name of its own).
pub const JOB_CONVENTION: &str = r#"job=~".*marathon-task-exporter.*""#;

pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn read(relative: &str) -> String {
    std::fs::read_to_string(path(relative)).unwrap_or_else(|e| panic!("reading {relative}: {e}"))
}

pub fn json(relative: &str) -> Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// What the exporter exposes: the golden exposition (every family has a series there).
pub fn exposition() -> String {
    read(GOLDEN_EXPOSITION)
}

/// One dashboard file, parsed.
pub struct Dashboard {
    pub file: &'static str,
    pub json: Value,
}

pub fn dashboards() -> Vec<Dashboard> {
    DASHBOARDS
        .iter()
        .map(|file| Dashboard {
            file,
            json: json(file),
        })
        .collect()
}

impl Dashboard {
    /// Every panel, the panels nested in collapsed rows included.
    pub fn panels(&self) -> Vec<&Value> {
        let mut out = Vec::new();
        for panel in self.json["panels"].as_array().into_iter().flatten() {
            out.push(panel);
            out.extend(panel["panels"].as_array().into_iter().flatten());
        }
        out
    }

    /// Panels that query data (rows only group them).
    pub fn data_panels(&self) -> Vec<&Value> {
        self.panels()
            .into_iter()
            .filter(|p| p["type"] != "row")
            .collect()
    }

    pub fn variables(&self) -> Vec<&Value> {
        self.json["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .collect()
    }

    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables().into_iter().find(|v| v["name"] == name)
    }

    /// The annotation queries (`annotations.list`).
    pub fn annotations(&self) -> Vec<&Value> {
        self.json["annotations"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .collect()
    }

    pub fn annotation(&self, name: &str) -> Option<&Value> {
        self.annotations().into_iter().find(|a| a["name"] == name)
    }

    /// The PromQL of every annotation that has one (a place kept for a future annotation has none).
    pub fn annotation_queries(&self) -> Vec<Query> {
        self.annotations()
            .into_iter()
            .filter_map(|a| {
                let expr = a["target"]["expr"]
                    .as_str()
                    .filter(|e| !e.trim().is_empty())?;
                let name = a["name"].as_str().unwrap_or("");
                Some(Query {
                    place: format!("{} annotation {name:?}", self.file),
                    panel_title: name.to_owned(),
                    expr: expr.to_owned(),
                    instant: false,
                })
            })
            .collect()
    }

    /// Every data link of every panel: in the field defaults and in the overrides.
    pub fn data_links(&self) -> Vec<(&Value, &Value)> {
        let mut out = Vec::new();
        for panel in self.data_panels() {
            let config = &panel["fieldConfig"];
            for link in config["defaults"]["links"].as_array().into_iter().flatten() {
                out.push((panel, link));
            }
            for and_override in config["overrides"].as_array().into_iter().flatten() {
                for property in and_override["properties"].as_array().into_iter().flatten() {
                    if property["id"] == "links" {
                        for link in property["value"].as_array().into_iter().flatten() {
                            out.push((panel, link));
                        }
                    }
                }
            }
        }
        out
    }

    /// Every target's query.
    pub fn queries(&self) -> Vec<Query> {
        let mut out = Vec::new();
        for panel in self.data_panels() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                out.push(Query {
                    place: format!(
                        "{} panel {} {:?} target {}",
                        self.file,
                        panel["id"],
                        panel["title"].as_str().unwrap_or(""),
                        target["refId"].as_str().unwrap_or("?")
                    ),
                    panel_title: panel["title"].as_str().unwrap_or("").to_owned(),
                    expr: target["expr"].as_str().unwrap_or("").to_owned(),
                    instant: target["instant"] == true,
                });
            }
        }
        out
    }
}

/// A dashboard query and where it is.
#[derive(Clone, Debug)]
pub struct Query {
    pub place: String,
    pub panel_title: String,
    pub expr: String,
    pub instant: bool,
}

/// `label_values(<selector>, <label>)` → (selector, label).
pub fn label_values(query: &str) -> Option<(String, String)> {
    let inner = query
        .trim()
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    Some((selector.trim().to_owned(), label.trim().to_owned()))
}

/// Values for Grafana's variables, substituted the way Grafana does before it sends a query.
pub struct Vars {
    pub values: BTreeMap<&'static str, String>,
}

impl Vars {
    /// `job`, `app` and `instance` as given; the interval variables for a short test run.
    pub fn new(job: &str, app: &str, instance: &str, rate_interval: &str, range: &str) -> Vars {
        let mut values = BTreeMap::new();
        values.insert("job", job.to_owned());
        values.insert("app", app.to_owned());
        values.insert("agent", ".*".to_owned());
        values.insert("instance", instance.to_owned());
        values.insert("datasource", "prometheus".to_owned());
        values.insert("__rate_interval", rate_interval.to_owned());
        values.insert("__interval", "1s".to_owned());
        values.insert("__range", range.to_owned());
        values.insert("__range_s", "300".to_owned());
        Vars { values }
    }

    /// Replaces `$name` and `${name}`; an unknown variable is a test failure.
    pub fn substitute(&self, expr: &str) -> String {
        let mut out = String::with_capacity(expr.len());
        let mut rest = expr;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
                let end = braced.find('}').expect("a closing brace after ${");
                (&braced[..end], end + 2)
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            let value = self
                .values
                .get(name)
                .unwrap_or_else(|| panic!("no value for ${name} in {expr}"));
            out.push_str(value);
            rest = &after[consumed..];
        }
        out.push_str(rest);
        out
    }
}

/// A rule file.
#[derive(Debug, Deserialize)]
pub struct RuleFile {
    pub groups: Vec<RuleGroup>,
}

#[derive(Debug, Deserialize)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
pub struct Rule {
    pub record: Option<String>,
    pub alert: Option<String>,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Rule {
    pub fn name(&self) -> &str {
        self.record
            .as_deref()
            .or(self.alert.as_deref())
            .unwrap_or("?")
    }
}

pub fn rules() -> Vec<Rule> {
    let file: RuleFile =
        yaml_serde::from_str(&read(RULES)).unwrap_or_else(|e| panic!("{RULES}: {e}"));
    file.groups.into_iter().flat_map(|g| g.rules).collect()
}

pub fn alerts() -> Vec<Rule> {
    rules().into_iter().filter(|r| r.alert.is_some()).collect()
}

/// The example rule files (`alerts/examples/`): shown in the README, not bundled.
pub const EXAMPLES: [&str; 1] = ["alerts/examples/team-routing.rules.yml"];

/// The alerts of the example rule files.
pub fn example_alerts() -> Vec<Rule> {
    EXAMPLES
        .iter()
        .flat_map(|path| {
            let file: RuleFile =
                yaml_serde::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
            file.groups.into_iter().flat_map(|g| g.rules)
        })
        .filter(|r| r.alert.is_some())
        .collect()
}

/// Names of the recording rules.
pub fn recorded() -> BTreeSet<String> {
    rules().into_iter().filter_map(|r| r.record).collect()
}

/// A promtool unit test file (only what the checks need).
#[derive(Debug, Deserialize)]
pub struct RuleTestFile {
    pub rule_files: Vec<String>,
    pub tests: Vec<RuleTest>,
}

#[derive(Debug, Deserialize)]
pub struct RuleTest {
    pub name: Option<String>,
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    #[serde(default)]
    pub alert_rule_test: Vec<AlertRuleTest>,
}

#[derive(Debug, Deserialize)]
pub struct InputSeries {
    pub series: String,
}

#[derive(Debug, Deserialize)]
pub struct AlertRuleTest {
    pub alertname: String,
    #[serde(default)]
    pub exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Deserialize)]
pub struct ExpAlert {
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

/// The promtool unit test files, by file name.
pub fn rule_tests() -> BTreeMap<String, RuleTestFile> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(path(RULE_TESTS_DIR)).expect("alerts/tests") {
        let entry = entry.expect("directory entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".yml") {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).expect("readable test file");
        let file: RuleTestFile =
            yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.insert(name, file);
    }
    out
}

/// Words of PromQL that are never metric names: keywords, binary set operators, and the
/// aggregation operators (which may be followed by `by (...)` before their parenthesis).
const NOT_METRICS: [&str; 28] = [
    "and",
    "or",
    "unless",
    "offset",
    "bool",
    "atan2",
    "inf",
    "nan",
    "start",
    "end",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "by",
    "without",
    "on",
    "ignoring",
];

/// Words followed by a parenthesised list of label names.
const LABEL_LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric (and recording rule) names a PromQL expression reads: identifiers used bare or
/// followed by `{` or `[`. Function calls, keywords, label matchers, label lists, strings,
/// numbers, durations and Grafana variables are skipped.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = skip_string(&chars, i);
        } else if c == '{' {
            i = skip_balanced(&chars, i, '{', '}');
        } else if c == '[' {
            i = skip_balanced(&chars, i, '[', ']');
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '$' {
            i += 1;
            if chars.get(i) == Some(&'{') {
                i = skip_balanced(&chars, i, '{', '}');
            } else {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            // Numbers (1e-9, 0x1f, 0.5) and durations (5m, 1h30m).
            while i < chars.len() {
                let d = chars[i];
                let exponent_sign = matches!(d, '+' | '-')
                    && matches!(chars[i - 1], 'e' | 'E')
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit);
                if d.is_ascii_alphanumeric() || d == '.' || d == '_' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | ':'))
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let lower = word.to_ascii_lowercase();
            if LABEL_LISTS.contains(&lower.as_str()) {
                if chars.get(next) == Some(&'(') {
                    i = skip_balanced(&chars, next, '(', ')');
                }
            } else if chars.get(next) == Some(&'(') || NOT_METRICS.contains(&lower.as_str()) {
                // A function call or a keyword.
            } else {
                names.insert(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Index just past the string literal opening at `open`.
fn skip_string(chars: &[char], open: usize) -> usize {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() {
        if chars[i] == '\\' && quote != '`' {
            i += 2;
        } else if chars[i] == quote {
            return i + 1;
        } else {
            i += 1;
        }
    }
    i
}

/// Index just past the bracket closing the one at `open`, skipping strings inside.
fn skip_balanced(chars: &[char], open: usize, left: char, right: char) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        let c = chars[i];
        if matches!(c, '"' | '\'' | '`') {
            i = skip_string(chars, i);
            continue;
        }
        if c == left {
            depth += 1;
        } else if c == right {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
        i += 1;
    }
    i
}

/// The metric names of a text exposition: every sample's name, and every family's name from its
/// `# TYPE` line with the suffixes of its type (`_bucket`, `_sum`, `_count` for histograms).
pub fn exposition_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            names.insert(name.to_owned());
            let suffixes: &[&str] = match kind {
                "histogram" => &["_bucket", "_sum", "_count"],
                "summary" => &["_sum", "_count"],
                _ => &[],
            };
            for suffix in suffixes {
                names.insert(format!("{name}{suffix}"));
            }
        } else if !line.is_empty() && !line.starts_with('#') {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

/// Label names of the samples named `metric` in an exposition.
pub fn label_names(exposition: &str, metric: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix(metric).and_then(|r| r.strip_prefix('{')) else {
            continue;
        };
        let body = rest.split('}').next().unwrap_or("");
        names.extend(
            body.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, _)| k.to_owned()),
        );
    }
    names
}

/// Names an expression may read: what the exporter exposes, the recording rules, and `up`.
pub fn unknown_names(
    expr: &str,
    exposed: &BTreeSet<String>,
    recorded: &BTreeSet<String>,
) -> Vec<String> {
    metric_names(expr)
        .into_iter()
        .filter(|n| n != "up" && !exposed.contains(n) && !recorded.contains(n))
        .collect()
}

/// The anchor GitHub gives a Markdown heading: lower case, punctuation other than `-` and `_`
/// removed, spaces turned into `-`; a repeated anchor gets `-1`, `-2`, ... in order.
pub fn github_anchors(markdown: &str) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let text = line[hashes..].trim();
        let base: String = text
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let count = seen.entry(base.clone()).or_insert(0);
        let anchor = if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        };
        *count += 1;
        anchors.push(anchor);
    }
    anchors
}

/// The `## ` headings of a Markdown text.
pub fn second_level_headings(markdown: &str) -> Vec<String> {
    markdown
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_owned())
        .collect()
}
