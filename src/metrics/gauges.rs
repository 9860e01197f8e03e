//! [`ScrapeGauges`]: the gauges computed from the task map at scrape time, so a retired app leaves
//! no stale series: tasks per app and state and the oldest unreachable age (written as text), and
//! the tracked tasks and apps over the limit (gathered with the registry).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use super::text;

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
#[derive(Clone)]
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

impl ScrapeGauges {
    /// Writes `marathon_app_tasks` and `marathon_app_unreachable_oldest_age_seconds`, apps in
    /// label order: computed from the map now, so a retired app leaves no stale series.
    pub fn render_apps(&self, out: &mut String) {
        let now = (self.now)();
        let mut apps = Vec::new();
        self.reader.for_each_app(|app| {
            apps.push((Arc::clone(&app.label), app.tasks, app.oldest_unreachable()))
        });
        apps.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let escaped: Vec<_> = apps.iter().map(|(label, ..)| text::escape(label)).collect();
        if !apps.is_empty() {
            text::header(out, APP_TASKS, APP_TASKS_HELP, "gauge");
            for ((_, counts, _), app) in apps.iter().zip(&escaped) {
                for (state, label) in STATE_ORDER.iter() {
                    text::open(out, APP_TASKS, app);
                    text::label(out, "state", label);
                    out.push_str("} ");
                    out.push_str(itoa::Buffer::new().format(counts[*state]));
                    out.push('\n');
                }
            }
        }
        let mut headed = false;
        for ((_, _, since), app) in apps.iter().zip(&escaped) {
            let Some(since) = since else { continue };
            if !headed {
                text::header(out, OLDEST, OLDEST_HELP, "gauge");
                headed = true;
            }
            text::open(out, OLDEST, app);
            text::close_float(out, (now - since).max(0) as f64 / 1000.0);
        }
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
