//! [`ScrapeGauges`]: the gauges computed from the task map at scrape time, so a retired app leaves
//! no stale series: tasks per app and state, the oldest unreachable age, tracked tasks, apps over limit.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::state::{ActiveState, Millis, StoreReader};

const APP_TASKS: &str = "marathon_app_tasks";
const APP_TASKS_HELP: &str = "Tracked tasks, by app and state.";
const OLDEST: &str = "marathon_app_unreachable_oldest_age_seconds";
const OLDEST_HELP: &str =
    "Age of the app's longest-unreachable task (absent when none is unreachable).";
const TRACKED: &str = "marathon_exporter_tracked_tasks";
const TRACKED_HELP: &str = "Tasks in the exporter's map.";
const OVER_LIMIT: &str = "marathon_exporter_apps_over_limit";
const OVER_LIMIT_HELP: &str = "Known apps beyond --app.limit, counted under app=\"__other__\".";

/// Reads the store and the clock at every collect.
pub struct ScrapeGauges {
    reader: StoreReader,
    now: Arc<dyn Fn() -> Millis + Send + Sync>,
    descs: Vec<Desc>,
}

impl ScrapeGauges {
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
                desc(APP_TASKS, APP_TASKS_HELP, &["app", "state"]),
                desc(OLDEST, OLDEST_HELP, &["app"]),
                desc(TRACKED, TRACKED_HELP, &[]),
                desc(OVER_LIMIT, OVER_LIMIT_HELP, &[]),
            ],
        }
    }
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
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

impl Collector for ScrapeGauges {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let now = (self.now)();
        let mut apps = Vec::new();
        self.reader.for_each_app(|app| {
            apps.push((Arc::clone(&app.label), app.tasks, app.oldest_unreachable()))
        });
        // A stable order makes expositions diffable.
        apps.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut tasks = Vec::with_capacity(apps.len() * ActiveState::ALL.len());
        let mut oldest = Vec::new();
        for (app, counts, since) in &apps {
            for state in ActiveState::ALL {
                let labels = vec![label("app", app), label("state", state.label())];
                tasks.push(gauge(labels, counts[state.index()] as f64));
            }
            if let Some(since) = since {
                let age = (now - since).max(0) as f64 / 1000.0;
                oldest.push(gauge(vec![label("app", app)], age));
            }
        }
        let mut families = vec![
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
        ];
        if !tasks.is_empty() {
            families.push(family(APP_TASKS, APP_TASKS_HELP, tasks));
        }
        if !oldest.is_empty() {
            families.push(family(OLDEST, OLDEST_HELP, oldest));
        }
        families
    }
}
