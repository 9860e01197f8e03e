//! Every metric family the exporter serves, in one table: name, type, help, labels, and which of
//! the three mechanisms renders it. The golden exposition and the README's metric table are checked
//! against it (`tests/exposition.rs`), so a family cannot be added in one place and forgotten in
//! another.

/// How a family is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// The exporter's own, in a `prometheus` registry (`metrics/mod.rs`).
    Registry,
    /// Per-app counters and histograms as blocks of atomics, written straight to text
    /// (`metrics/apps.rs`).
    AppCounters,
    /// Computed from the store at scrape time (`metrics/gauges.rs`).
    ScrapeTime,
    /// The `prometheus` crate's process collector (Linux).
    Process,
}

/// A family's type, as `# TYPE` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One family.
#[derive(Clone, Copy, Debug)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    /// Its labels (`le` of histograms aside); `marathon_app_labels` adds one `label_<key>` per
    /// allowlisted key.
    pub labels: &'static [&'static str],
    pub mechanism: Mechanism,
}

/// Every family, in name order (the order of the exposition).
pub const FAMILIES: &[Family] = &[
    Family {
        name: "marathon_agent_tasks",
        kind: Kind::Gauge,
        help: "Tracked tasks, by agent host and state.",
        labels: &["agent", "state"],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_app_deployment_active",
        kind: Kind::Gauge,
        help: "1 while a deployment in progress touches the app, else 0.",
        labels: &["app"],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_app_instances",
        kind: Kind::Gauge,
        help: "Instances the app (or pod) is configured to run.",
        labels: &["app"],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_app_labels",
        kind: Kind::Gauge,
        help: "The app's allowlisted Marathon labels (--app.label-allowlist); always 1.",
        labels: &["app"],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_app_tasks",
        kind: Kind::Gauge,
        help: "Tracked tasks, by app and state.",
        labels: &["app", "state"],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_app_unhealthy_tasks",
        kind: Kind::Gauge,
        help: "Tracked tasks whose latest health check result is unhealthy, by app.",
        labels: &["app"],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_app_unreachable_oldest_age_seconds",
        kind: Kind::Gauge,
        help: "Age of the app's longest-unreachable task (absent when none is unreachable).",
        labels: &["app"],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_app_unreachable_strategy_seconds",
        kind: Kind::Gauge,
        help: "The unreachable strategy the exporter applies to the app (+Inf: never), by threshold.",
        labels: &["app", "threshold"],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_deployments_total",
        kind: Kind::Counter,
        help: "Marathon deployments that ended, by result.",
        labels: &["result"],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_apps_over_limit",
        kind: Kind::Gauge,
        help: "Known apps beyond --app.limit, counted under app='__other__'.",
        labels: &[],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_exporter_build_info",
        kind: Kind::Gauge,
        help: "The exporter's version and revision; always 1.",
        labels: &["revision", "version"],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_event_errors_total",
        kind: Kind::Counter,
        help: "Events that could not be used, by kind.",
        labels: &["kind"],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_events_total",
        kind: Kind::Counter,
        help: "Events decoded, by Marathon eventType ('unknown' for anything else).",
        labels: &["type"],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_last_event_timestamp_seconds",
        kind: Kind::Gauge,
        help: "Local wall time the last event was decoded.",
        labels: &[],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_leader_changes_total",
        kind: Kind::Counter,
        help: "Times the Marathon leader the stream is connected to changed.",
        labels: &[],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_resync_corrections_total",
        kind: Kind::Counter,
        help: "Differences a resync found between Marathon and the exporter's map, by kind.",
        labels: &["kind"],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_resyncs_total",
        kind: Kind::Counter,
        help: "Snapshots of /v2/tasks and /v2/apps taken, by result.",
        labels: &["result"],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_stream_backpressure_seconds_total",
        kind: Kind::Counter,
        help: "Time the event stream reader waited for the writer to catch up (a full channel).",
        labels: &[],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_stream_connects_total",
        kind: Kind::Counter,
        help: "Attempts to open the event stream, by result.",
        labels: &["result"],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_stream_disconnects_total",
        kind: Kind::Counter,
        help: "Event stream connections that ended, by reason.",
        labels: &["reason"],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_stream_up",
        kind: Kind::Gauge,
        help: "1 while the event stream is connected to Marathon.",
        labels: &[],
        mechanism: Mechanism::Registry,
    },
    Family {
        name: "marathon_exporter_tracked_tasks",
        kind: Kind::Gauge,
        help: "Tasks in the exporter's map.",
        labels: &[],
        mechanism: Mechanism::ScrapeTime,
    },
    Family {
        name: "marathon_task_expunges_total",
        kind: Kind::Counter,
        help: "Tasks removed from Marathon's state, by app and reason.",
        labels: &["app", "reason"],
        mechanism: Mechanism::AppCounters,
    },
    Family {
        name: "marathon_task_health_kills_total",
        kind: Kind::Counter,
        help: "Tasks Marathon killed for failing their health checks, by app.",
        labels: &["app"],
        mechanism: Mechanism::AppCounters,
    },
    Family {
        name: "marathon_task_replacements_total",
        kind: Kind::Counter,
        help: "Tasks Marathon replaces, by app and reason.",
        labels: &["app", "reason"],
        mechanism: Mechanism::AppCounters,
    },
    Family {
        name: "marathon_task_status_updates_total",
        kind: Kind::Counter,
        help: "Status update events received, by app and raw Mesos state (repeats included).",
        labels: &["app", "status"],
        mechanism: Mechanism::AppCounters,
    },
    Family {
        name: "marathon_task_time_to_running_seconds",
        kind: Kind::Histogram,
        help: "Time from a task's first staging to its first running.",
        labels: &["app"],
        mechanism: Mechanism::AppCounters,
    },
    Family {
        name: "marathon_task_transitions_total",
        kind: Kind::Counter,
        help: "Task state changes, by app and the states left and entered (from='none': first seen).",
        labels: &["app", "from", "to"],
        mechanism: Mechanism::AppCounters,
    },
    Family {
        name: "marathon_task_unknown_terminations_total",
        kind: Kind::Counter,
        help: "Instances Marathon no longer knew that were terminated (unknown_instance_terminated_event).",
        labels: &["app"],
        mechanism: Mechanism::AppCounters,
    },
    Family {
        name: "marathon_task_unreachable_duration_seconds",
        kind: Kind::Histogram,
        help: "Time tasks spent unreachable, observed when the episode ends.",
        labels: &["app"],
        mechanism: Mechanism::AppCounters,
    },
    Family {
        name: "process_cpu_seconds_total",
        kind: Kind::Counter,
        help: "Total user and system CPU time spent in seconds.",
        labels: &[],
        mechanism: Mechanism::Process,
    },
    Family {
        name: "process_max_fds",
        kind: Kind::Gauge,
        help: "Maximum number of open file descriptors.",
        labels: &[],
        mechanism: Mechanism::Process,
    },
    Family {
        name: "process_open_fds",
        kind: Kind::Gauge,
        help: "Number of open file descriptors.",
        labels: &[],
        mechanism: Mechanism::Process,
    },
    Family {
        name: "process_resident_memory_bytes",
        kind: Kind::Gauge,
        help: "Resident memory size in bytes.",
        labels: &[],
        mechanism: Mechanism::Process,
    },
    Family {
        name: "process_start_time_seconds",
        kind: Kind::Gauge,
        help: "Start time of the process since unix epoch in seconds.",
        labels: &[],
        mechanism: Mechanism::Process,
    },
    Family {
        name: "process_threads",
        kind: Kind::Gauge,
        help: "Number of OS threads in the process.",
        labels: &[],
        mechanism: Mechanism::Process,
    },
    Family {
        name: "process_virtual_memory_bytes",
        kind: Kind::Gauge,
        help: "Virtual memory size in bytes.",
        labels: &[],
        mechanism: Mechanism::Process,
    },
];
