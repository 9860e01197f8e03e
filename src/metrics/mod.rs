//! The metric families of the exporter, each declared once (name, help, type, labels), and the
//! exposition of all of them. Per-app counters (declared in `apps`) are fed through [`Sink`]; per-app
//! gauges are computed at scrape time by [`ScrapeGauges`]; the ingest path's own health is in
//! [`SelfMetrics`], in a `prometheus` registry.

mod apps;
pub mod families;
mod gauges;
pub mod openmetrics;
mod sink;
mod text;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prometheus::{
    Counter, Encoder, Gauge, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use self::apps::AppFamilies;
pub use self::gauges::ScrapeGauges;
pub use self::sink::Sink;

use crate::marathon::events::SUBSCRIBED;
use crate::state::{Correction, DeploymentResult, EventError, Millis, StoreReader};

/// Buckets of `marathon_task_unreachable_duration_seconds`: a second to a day.
pub const UNREACHABLE_BUCKETS: [f64; 14] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
    86400.0,
];

/// Buckets of `marathon_task_time_to_running_seconds`: half a second to half an hour.
pub const TIME_TO_RUNNING_BUCKETS: [f64; 12] = [
    0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// The exporter's own health: the ingest path and resyncs. Cheap to clone; every handle is cached.
#[derive(Clone)]
pub struct SelfMetrics {
    pub stream_up: IntGauge,
    pub connects_success: IntCounter,
    pub connects_failure: IntCounter,
    pub disconnects_eof: IntCounter,
    pub disconnects_idle_timeout: IntCounter,
    pub disconnects_error: IntCounter,
    /// Seconds the stream reader waited because the writer's channel was full.
    pub stream_backpressure_seconds: Counter,
    /// `marathon_exporter_events_total{type}`.
    pub events: IntCounterVec,
    /// Per [`EventError`], in the order of `EventError::ALL`.
    errors: [IntCounter; 4],
    pub last_event_timestamp: Gauge,
    pub resyncs_success: IntCounter,
    pub resyncs_failure: IntCounter,
    /// Per [`Correction`], in the order of `Correction::ALL`.
    corrections: [IntCounter; 3],
    /// Per [`DeploymentResult`], in the order of `DeploymentResult::ALL`.
    deployments: [IntCounter; 2],
    pub leader_changes: IntCounter,
    /// Every decoded event, all types together: what benchmarks and tests wait on.
    decoded: Arc<AtomicU64>,
}

impl SelfMetrics {
    /// Counts decoded events in the all-types total.
    pub fn count_decoded(&self, events: u64) {
        self.decoded.fetch_add(events, Ordering::Relaxed);
    }

    pub fn event_error(&self, kind: EventError) -> &IntCounter {
        let i = EventError::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("every kind listed");
        &self.errors[i]
    }

    /// Every correction resyncs made so far, all kinds.
    pub fn corrections_total(&self) -> u64 {
        self.corrections.iter().map(IntCounter::get).sum()
    }

    pub fn deployment(&self, result: DeploymentResult) -> &IntCounter {
        &self.deployments[result as usize]
    }

    pub fn correction(&self, kind: Correction) -> &IntCounter {
        let i = Correction::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("every kind listed");
        &self.corrections[i]
    }
}

/// Makes every scrape show a whole number of applied inputs (RULES.md, Invariants): the writer
/// holds it exclusively while it applies one unit of input (a chunk of the stream, a snapshot, a
/// timer tick), a scrape holds it shared while it renders. Counters, histograms and the gauges
/// computed from the map are then read between two units, never in the middle of one (a scrape
/// never shows an expunge while the gauges still hold its task). Cheap to clone.
#[derive(Clone, Default)]
pub struct ApplyLock(Arc<RwLock<()>>);

impl ApplyLock {
    /// Held while one unit of input is applied.
    pub fn applying(&self) -> RwLockWriteGuard<'_, ()> {
        // Guards nothing but the moment: a panic elsewhere leaves nothing inconsistent behind it.
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Held while a scrape renders.
    pub fn reading(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every family: the per-app ones kept by hand ([`AppFamilies`], [`ScrapeGauges`]), the exporter's
/// own in a `prometheus` registry. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `process_*` (CPU, memory, file descriptors, start time), read from /proc at each scrape.
    process: Registry,
    apps: Arc<AppFamilies>,
    gauges: ScrapeGauges,
    pub exporter: SelfMetrics,
    /// When these metrics started (Unix seconds): the `_created` of the exporter's own counters.
    started: f64,
    /// Size of the last exposition, to allocate the next one at once.
    last_len: Arc<AtomicUsize>,
    /// The same for the OpenMetrics exposition.
    last_om_len: Arc<AtomicUsize>,
    lock: ApplyLock,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    registry
        .register(Box::new(vec.clone()))
        .expect("registered once");
    vec
}

impl Metrics {
    /// Declares every family. `reader` and `now` (Marathon clock) feed the scrape-time gauges.
    pub fn new(reader: StoreReader, now: Arc<dyn Fn() -> Millis + Send + Sync>) -> Metrics {
        let registry = Registry::new();
        let r = &registry;
        let single = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric definition");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let stream_up = IntGauge::new(
            "marathon_exporter_stream_up",
            "1 while the event stream is connected to Marathon.",
        )
        .expect("valid metric definition");
        registry
            .register(Box::new(stream_up.clone()))
            .expect("registered once");
        let connects = counter_vec(
            r,
            "marathon_exporter_stream_connects_total",
            "Attempts to open the event stream, by result.",
            &["result"],
        );
        let disconnects = counter_vec(
            r,
            "marathon_exporter_stream_disconnects_total",
            "Event stream connections that ended, by reason.",
            &["reason"],
        );
        let stream_backpressure_seconds = Counter::new(
            "marathon_exporter_stream_backpressure_seconds_total",
            "Time the event stream reader waited for the writer to catch up (a full channel).",
        )
        .expect("valid metric definition");
        registry
            .register(Box::new(stream_backpressure_seconds.clone()))
            .expect("registered once");
        let events = counter_vec(
            r,
            "marathon_exporter_events_total",
            "Events decoded, by Marathon eventType ('unknown' for anything else).",
            &["type"],
        );
        // The subscribed types start at 0, so the first event of each shows in increase().
        for event_type in SUBSCRIBED.iter().chain(&["unknown"]) {
            events.with_label_values(&[*event_type]);
        }
        let errors = counter_vec(
            r,
            "marathon_exporter_event_errors_total",
            "Events that could not be used, by kind.",
            &["kind"],
        );
        let last_event_timestamp = Gauge::new(
            "marathon_exporter_last_event_timestamp_seconds",
            "Local wall time the last event was decoded.",
        )
        .expect("valid metric definition");
        registry
            .register(Box::new(last_event_timestamp.clone()))
            .expect("registered once");
        let resyncs = counter_vec(
            r,
            "marathon_exporter_resyncs_total",
            "Snapshots of /v2/tasks and /v2/apps taken, by result.",
            &["result"],
        );
        let corrections = counter_vec(
            r,
            "marathon_exporter_resync_corrections_total",
            "Differences a resync found between Marathon and the exporter's map, by kind.",
            &["kind"],
        );
        let deployments = counter_vec(
            r,
            "marathon_deployments_total",
            "Marathon deployments that ended, by result.",
            &["result"],
        );
        let exporter = SelfMetrics {
            stream_up,
            connects_success: connects.with_label_values(&["success"]),
            connects_failure: connects.with_label_values(&["failure"]),
            disconnects_eof: disconnects.with_label_values(&["eof"]),
            disconnects_idle_timeout: disconnects.with_label_values(&["idle_timeout"]),
            disconnects_error: disconnects.with_label_values(&["error"]),
            stream_backpressure_seconds,
            events,
            errors: EventError::ALL.map(|k| errors.with_label_values(&[k.label()])),
            last_event_timestamp,
            resyncs_success: resyncs.with_label_values(&["success"]),
            resyncs_failure: resyncs.with_label_values(&["failure"]),
            corrections: Correction::ALL.map(|k| corrections.with_label_values(&[k.label()])),
            deployments: DeploymentResult::ALL.map(|r| deployments.with_label_values(&[r.label()])),
            leader_changes: single(
                "marathon_exporter_leader_changes_total",
                "Times the Marathon leader the stream is connected to changed.",
            ),
            decoded: Arc::default(),
        };

        let build_info = IntGaugeVec::new(
            Opts::new(
                "marathon_exporter_build_info",
                "The exporter's version and revision; always 1.",
            ),
            &["version", "revision"],
        )
        .expect("valid metric definition");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), revision()])
            .set(1);
        registry
            .register(Box::new(build_info))
            .expect("registered once");
        let gauges = ScrapeGauges::new(reader, now);
        registry
            .register(Box::new(gauges.clone()))
            .expect("registered once");

        Metrics {
            registry,
            process: process_registry(),
            started: unix_seconds(),
            apps: Arc::default(),
            gauges,
            exporter,
            last_len: Arc::default(),
            last_om_len: Arc::default(),
            lock: ApplyLock::default(),
        }
    }

    /// Events decoded so far, all types together (the sum of `marathon_exporter_events_total`).
    pub fn events_decoded(&self) -> u64 {
        self.exporter.decoded.load(Ordering::Relaxed)
    }

    /// A sink feeding this registry's per-app families.
    pub fn sink(&self) -> Sink {
        Sink::new(
            Arc::clone(&self.apps),
            self.exporter.clone(),
            self.lock.clone(),
        )
    }

    /// The exposition in OpenMetrics 1.0 (see [`openmetrics`]): the per-app families written in
    /// it directly (the gauges' lines are the same in both formats, as no help text holds a `"`),
    /// the small rest converted from the text format.
    pub fn render_openmetrics(&self) -> String {
        self.render_in(true)
    }

    /// When each live app's counters started, by escaped label (the `_created` of its series).
    pub fn app_created(&self) -> std::collections::HashMap<String, f64> {
        self.apps.created()
    }

    /// When the exporter's own series started (the `_created` of the others), Unix seconds.
    pub fn started(&self) -> f64 {
        self.started
    }

    /// Tracked tasks and known apps now (for the status page).
    pub fn counts(&self) -> (i64, usize) {
        self.gauges.counts()
    }

    /// The text exposition (format 0.0.4) of every family, in name order like a registry's.
    pub fn render(&self) -> String {
        self.render_in(false)
    }

    /// Every family, in name order: marathon_app_* < marathon_exporter_* < marathon_task_* <
    /// process_*; in OpenMetrics or the text format.
    fn render_in(&self, openmetrics: bool) -> String {
        let last = if openmetrics {
            &self.last_om_len
        } else {
            &self.last_len
        };
        let mut out = String::with_capacity(last.load(Ordering::Relaxed) * 9 / 8 + 4096);
        let no_apps = std::collections::HashMap::new();
        let registry_part = |out: &mut String, registry: &Registry| {
            let mut text = Vec::with_capacity(16 * 1024);
            TextEncoder::new()
                .encode(&registry.gather(), &mut text)
                .expect("text encoding of gathered families");
            let text = std::str::from_utf8(&text).expect("the text encoder writes UTF-8");
            if openmetrics {
                openmetrics::convert_into(out, text, &no_apps, self.started);
            } else {
                out.push_str(text);
            }
        };
        let _whole = self.lock.reading();
        self.gauges.render_apps(&mut out);
        registry_part(&mut out, &self.registry);
        if openmetrics {
            self.apps.render_openmetrics(&mut out);
        } else {
            self.apps.render(&mut out);
        }
        registry_part(&mut out, &self.process);
        if openmetrics {
            out.push_str("# EOF\n");
        }
        last.store(out.len(), Ordering::Relaxed);
        out
    }
}

/// Now, in seconds since the Unix epoch (local wall clock).
fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The process's own metrics, from the `prometheus` crate's collector (Linux: /proc/self).
fn process_registry() -> Registry {
    let registry = Registry::new();
    #[cfg(target_os = "linux")]
    registry
        .register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .expect("registered once");
    registry
}

/// The source revision the binary was built from, when the build could tell.
pub fn revision() -> &'static str {
    env!("MARATHON_TASK_EXPORTER_REVISION")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{AppSlot, Effects, ExpungeReason, ReplacementReason, State, Store};

    #[test]
    fn per_app_series_appear_on_use_escape_their_label_and_go_when_the_app_retires() {
        let store = Store::new();
        let metrics = Metrics::new(store.reader(), Arc::new(|| 0));
        let mut sink = metrics.sink();
        sink.app_known(AppSlot(1), "/odd\"app\\x");
        sink.replacement(AppSlot(1), ReplacementReason::Failed);
        sink.transition(
            AppSlot(1),
            None,
            State::Terminal(crate::state::TerminalState::Failed),
        );
        sink.unreachable_duration(AppSlot(1), 15.0);
        let text = metrics.render();
        let app = r#"app="/odd\"app\\x""#;
        for line in [
            format!("marathon_task_replacements_total{{{app},reason=\"failed\"}} 1"),
            format!("marathon_task_replacements_total{{{app},reason=\"error\"}} 0"),
            format!("marathon_task_expunges_total{{{app},reason=\"unobserved\"}} 0"),
            format!("marathon_task_transitions_total{{{app},from=\"none\",to=\"failed\"}} 1"),
            format!("marathon_task_unreachable_duration_seconds_bucket{{{app},le=\"5\"}} 0"),
            format!("marathon_task_unreachable_duration_seconds_bucket{{{app},le=\"15\"}} 1"),
            format!("marathon_task_unreachable_duration_seconds_bucket{{{app},le=\"+Inf\"}} 1"),
            format!("marathon_task_unreachable_duration_seconds_sum{{{app}}} 15"),
            format!("marathon_task_unreachable_duration_seconds_count{{{app}}} 1"),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(
            !text.contains("marathon_task_time_to_running_seconds"),
            "unused histogram shown"
        );
        assert!(
            !text.contains("marathon_task_status_updates_total"),
            "unused counter shown"
        );
        assert_eq!(
            ExpungeReason::ALL.len(),
            text.matches("marathon_task_expunges_total{").count()
        );

        sink.app_retired(AppSlot(1));
        let text = metrics.render();
        assert!(!text.contains("/odd"), "retired app still shown:\n{text}");
        assert!(
            !text.contains("# TYPE marathon_task_"),
            "empty families have no header"
        );
    }
}
