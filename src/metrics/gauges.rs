//! [`ScrapeGauges`]: the gauges computed from the task map at scrape time, so a retired app leaves
//! no stale series: tasks per app and state and the oldest unreachable age (written as text), and
//! the tracked tasks and apps over the limit (gathered with the registry).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use super::text;

use crate::state::{ActiveState, AppInfo, Millis, StoreReader};

const APP_TASKS: &str = "marathon_app_tasks";
const APP_TASKS_HELP: &str = "Tracked tasks, by app and state.";
const OLDEST: &str = "marathon_app_unreachable_oldest_age_seconds";
const OLDEST_HELP: &str =
    "Age of the app's longest-unreachable task (absent when none is unreachable).";
const AGENT_TASKS: &str = "marathon_agent_tasks";
const AGENT_TASKS_HELP: &str = "Tracked tasks, by agent host and state.";
const DEPLOYING: &str = "marathon_app_deployment_active";
const DEPLOYING_HELP: &str = "1 while a deployment in progress touches the app, else 0.";
const INSTANCES: &str = "marathon_app_instances";
const INSTANCES_HELP: &str = "Instances the app (or pod) is configured to run.";
const LABELS: &str = "marathon_app_labels";
const LABELS_HELP: &str =
    "The app's allowlisted Marathon labels (--app.label-allowlist); always 1.";
const UNHEALTHY: &str = "marathon_app_unhealthy_tasks";
const UNHEALTHY_HELP: &str = "Tracked tasks whose latest health check result is unhealthy, by app.";
const STRATEGY: &str = "marathon_app_unreachable_strategy_seconds";
const STRATEGY_HELP: &str =
    "The unreachable strategy the exporter applies to the app (+Inf: never), by threshold.";
const TRACKED: &str = "marathon_exporter_tracked_tasks";
const TRACKED_HELP: &str = "Tasks in the exporter's map.";
const OVER_LIMIT: &str = "marathon_exporter_apps_over_limit";
const OVER_LIMIT_HELP: &str = "Known apps beyond --app.limit, counted under app='__other__'.";

/// Reads the store and the clock at every collect.
#[derive(Clone)]
pub struct ScrapeGauges {
    reader: StoreReader,
    now: Arc<dyn Fn() -> Millis + Send + Sync>,
    descs: Vec<Desc>,
}

impl ScrapeGauges {
    /// Tracked tasks and known apps now.
    pub fn counts(&self) -> (i64, usize) {
        let mut apps = 0;
        self.reader.for_each_app(|_| apps += 1);
        (self.reader.tracked(), apps)
    }

    pub fn new(reader: StoreReader, now: Arc<dyn Fn() -> Millis + Send + Sync>) -> Self {
        let desc = |name: &str, help: &str, labels: &[&str]| {
            Desc::new(
                name.to_owned(),
                help.to_owned(),
                labels.iter().map(|l| (*l).to_owned()).collect(),
                HashMap::new(),
            )
            .expect("valid metric definition")
        };
        ScrapeGauges {
            reader,
            now,
            descs: vec![
                desc(TRACKED, TRACKED_HELP, &[]),
                desc(OVER_LIMIT, OVER_LIMIT_HELP, &[]),
            ],
        }
    }
}

fn gauge(labels: Vec<LabelPair>, value: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value);
    let mut m = Metric::default();
    m.set_label(labels);
    m.set_gauge(g);
    m
}

fn family(name: &str, help: &str, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_owned());
    f.set_help(help.to_owned());
    f.set_field_type(MetricType::GAUGE);
    f.set_metric(metrics);
    f
}

/// One app as a scrape sees it.
struct AppRow {
    label: Arc<str>,
    escaped: String,
    tasks: [i64; 6],
    unhealthy: i64,
    oldest: Option<Millis>,
    info: Option<AppInfo>,
}

impl ScrapeGauges {
    /// Writes `marathon_agent_tasks` and every `marathon_app_*` gauge, in name order, apps and
    /// agents in label order: computed from the map now, so a retired app or an agent without
    /// tasks leaves no stale series.
    pub fn render_apps(&self, out: &mut String) {
        self.render_agents(out);
        let now = (self.now)();
        let mut apps = Vec::new();
        self.reader.for_each_app(|app| {
            apps.push(AppRow {
                label: Arc::clone(&app.label),
                escaped: String::new(),
                tasks: app.tasks,
                unhealthy: app.unhealthy,
                oldest: app.oldest_unreachable(),
                info: app.info.clone(),
            })
        });
        apps.sort_unstable_by(|a, b| a.label.cmp(&b.label));
        for app in &mut apps {
            app.escaped = text::escape(&app.label).into_owned();
        }
        let own = || apps.iter().filter_map(|a| Some((a, a.info.as_ref()?)));
        family_of(out, DEPLOYING, DEPLOYING_HELP, own(), |out, (a, info)| {
            text::open(out, DEPLOYING, &a.escaped);
            text::close_int(out, u64::from(info.deploying));
        });
        let desired = own().filter_map(|(a, i)| Some((a, i.instances?)));
        family_of(out, INSTANCES, INSTANCES_HELP, desired, |out, (a, n)| {
            text::open(out, INSTANCES, &a.escaped);
            text::close_int(out, u64::from(n));
        });
        let labelled = own().filter_map(|(a, i)| Some((a, i.labels.as_ref()?)));
        family_of(out, LABELS, LABELS_HELP, labelled, |out, (a, labels)| {
            text::open(out, LABELS, &a.escaped);
            for (name, value) in labels.iter() {
                text::label(out, name, &text::escape(value));
            }
            text::close_int(out, 1);
        });
        family_of(out, APP_TASKS, APP_TASKS_HELP, apps.iter(), |out, a| {
            for (state, label) in STATE_ORDER.iter() {
                text::open(out, APP_TASKS, &a.escaped);
                text::label(out, "state", label);
                out.push_str("} ");
                out.push_str(itoa::Buffer::new().format(a.tasks[*state]));
                out.push('\n');
            }
        });
        family_of(out, UNHEALTHY, UNHEALTHY_HELP, apps.iter(), |out, a| {
            text::open(out, UNHEALTHY, &a.escaped);
            text::close_int(out, a.unhealthy.max(0) as u64);
        });
        let unreachable = apps.iter().filter_map(|a| Some((a, a.oldest?)));
        family_of(out, OLDEST, OLDEST_HELP, unreachable, |out, (a, since)| {
            text::open(out, OLDEST, &a.escaped);
            text::close_float(out, (now - since).max(0) as f64 / 1000.0);
        });
        family_of(out, STRATEGY, STRATEGY_HELP, own(), |out, (a, info)| {
            let seconds = |ms: Option<Millis>| ms.map_or(f64::INFINITY, |ms| ms as f64 / 1000.0);
            for (threshold, value) in [
                ("expunge_after", info.strategy.expunge_after),
                ("inactive_after", info.strategy.inactive_after),
            ] {
                text::open(out, STRATEGY, &a.escaped);
                text::label(out, "threshold", threshold);
                text::close_float(out, seconds(value));
            }
        });
    }

    /// `marathon_agent_tasks`: every agent with a tracked task, all six states.
    fn render_agents(&self, out: &mut String) {
        let mut agents = Vec::new();
        self.reader
            .for_each_agent(|agent| agents.push((Arc::clone(&agent.label), agent.tasks)));
        agents.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        family_of(
            out,
            AGENT_TASKS,
            AGENT_TASKS_HELP,
            agents.iter(),
            |out, (label, tasks)| {
                let agent = text::escape(label);
                for (state, name) in STATE_ORDER.iter() {
                    text::open_with(out, AGENT_TASKS, "agent", &agent);
                    text::label(out, "state", name);
                    text::close_int(out, tasks[*state].max(0) as u64);
                }
            },
        );
    }
}

/// Writes a gauge family's header and then `write` for each item, if there is any.
fn family_of<T>(
    out: &mut String,
    name: &str,
    help: &str,
    items: impl Iterator<Item = T>,
    mut write: impl FnMut(&mut String, T),
) {
    let mut items = items.peekable();
    if items.peek().is_none() {
        return;
    }
    text::header(out, name, help, "gauge");
    for item in items {
        write(out, item);
    }
}

/// Active states by label: the order of `marathon_app_tasks` series within an app.
static STATE_ORDER: LazyLock<Vec<(usize, &'static str)>> = LazyLock::new(|| {
    let mut v: Vec<_> = ActiveState::ALL
        .iter()
        .map(|s| (s.index(), s.label()))
        .collect();
    v.sort_unstable_by(|a, b| a.1.cmp(b.1));
    v
});

/// The two scalar gauges, gathered with the self-metrics of the registry.
impl Collector for ScrapeGauges {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        vec![
            family(
                TRACKED,
                TRACKED_HELP,
                vec![gauge(vec![], self.reader.tracked() as f64)],
            ),
            family(
                OVER_LIMIT,
                OVER_LIMIT_HELP,
                vec![gauge(vec![], self.reader.over_limit() as f64)],
            ),
        ]
    }
}
