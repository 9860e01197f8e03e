//! The registry: every metric family of the exporter declared once (name, help, type, labels).
//! Per-app counters are fed through [`Sink`]; per-app gauges are computed at scrape time by
//! [`ScrapeGauges`]; the ingest path's own health is in [`SelfMetrics`].

mod gauges;
mod sink;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::{
    Counter, Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub use self::gauges::ScrapeGauges;
pub use self::sink::Sink;
use crate::marathon::events::SUBSCRIBED;
use crate::state::{Correction, EventError, Millis, StoreReader};

/// Buckets of `marathon_task_unreachable_duration_seconds`: a second to a day.
pub const UNREACHABLE_BUCKETS: [f64; 14] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
    86400.0,
];

/// Buckets of `marathon_task_time_to_running_seconds`: half a second to half an hour.
pub const TIME_TO_RUNNING_BUCKETS: [f64; 12] = [
    0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// The per-app counter and histogram families, fed by the rules.
#[derive(Clone)]
pub struct TaskFamilies {
    pub transitions: IntCounterVec,
    pub status_updates: IntCounterVec,
    pub replacements: IntCounterVec,
    pub expunges: IntCounterVec,
    pub unreachable_duration: HistogramVec,
    pub time_to_running: HistogramVec,
    pub unknown_terminations: IntCounterVec,
}

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
    pub leader_changes: IntCounter,
    /// Every decoded event, all types together: what benchmarks and tests wait on.
    decoded: Arc<AtomicU64>,
}

impl SelfMetrics {
    /// Counts one decoded event in the all-types total.
    pub fn count_decoded(&self) {
        self.decoded.fetch_add(1, Ordering::Relaxed);
    }

    pub fn event_error(&self, kind: EventError) -> &IntCounter {
        let i = EventError::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("every kind listed");
        &self.errors[i]
    }

    pub fn correction(&self, kind: Correction) -> &IntCounter {
        let i = Correction::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("every kind listed");
        &self.corrections[i]
    }
}

/// Every family, registered in one registry.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub tasks: TaskFamilies,
    pub exporter: SelfMetrics,
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let vec = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric definition");
    registry
        .register(Box::new(vec.clone()))
        .expect("registered once");
    vec
}

fn histogram_vec(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let vec = HistogramVec::new(opts, &["app"]).expect("valid metric definition");
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
        let tasks = TaskFamilies {
            transitions: counter_vec(
                r,
                "marathon_task_transitions_total",
                "Task state changes, by app and the states left and entered (from=\"none\": first seen).",
                &["app", "from", "to"],
            ),
            status_updates: counter_vec(
                r,
                "marathon_task_status_updates_total",
                "Status update events received, by app and raw Mesos state (repeats included).",
                &["app", "status"],
            ),
            replacements: counter_vec(
                r,
                "marathon_task_replacements_total",
                "Tasks Marathon replaces, by app and reason.",
                &["app", "reason"],
            ),
            expunges: counter_vec(
                r,
                "marathon_task_expunges_total",
                "Tasks removed from Marathon's state, by app and reason.",
                &["app", "reason"],
            ),
            unreachable_duration: histogram_vec(
                r,
                "marathon_task_unreachable_duration_seconds",
                "Time tasks spent unreachable, observed when the episode ends.",
                &UNREACHABLE_BUCKETS,
            ),
            time_to_running: histogram_vec(
                r,
                "marathon_task_time_to_running_seconds",
                "Time from a task's first staging to its first running.",
                &TIME_TO_RUNNING_BUCKETS,
            ),
            unknown_terminations: counter_vec(
                r,
                "marathon_task_unknown_terminations_total",
                "Instances Marathon no longer knew that were terminated (unknown_instance_terminated_event).",
                &["app"],
            ),
        };

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
            "Events decoded, by Marathon eventType (\"unknown\" for anything else).",
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
        registry
            .register(Box::new(ScrapeGauges::new(reader, now)))
            .expect("registered once");

        Metrics {
            registry,
            tasks,
            exporter,
        }
    }

    /// Events decoded so far, all types together (the sum of `marathon_exporter_events_total`).
    pub fn events_decoded(&self) -> u64 {
        self.exporter.decoded.load(Ordering::Relaxed)
    }

    /// A sink feeding this registry's per-app families.
    pub fn sink(&self) -> Sink {
        Sink::new(self.tasks.clone(), self.exporter.clone())
    }

    /// The text exposition (format 0.0.4) of every family.
    pub fn render(&self) -> String {
        let mut out = Vec::with_capacity(64 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding of gathered families");
        String::from_utf8(out).expect("the text encoder writes UTF-8")
    }
}

/// The source revision the binary was built from, when the build could tell.
fn revision() -> &'static str {
    option_env!("MARATHON_TASK_EXPORTER_REVISION").unwrap_or("unknown")
}
