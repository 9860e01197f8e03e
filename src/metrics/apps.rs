//! The per-app counter and histogram families: declared here once, kept as plain atomics per app
//! label slot, and written straight to text at scrape time.
//!
//! Hand-written rather than `prometheus` vectors because of measurements at 5,000 apps and 200,000
//! tasks (`benches/footprint.rs`): each crate series clones its descriptor, help and label strings
//! (about 1 KiB per series, ~20 series per app started at zero), which made up three quarters of the
//! resident memory per tracked task, and gathering then encoding them took ~0.5 s per scrape. One
//! block of atomics per app costs ~1.3 KiB in all and renders at memory speed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use super::text;
use super::{TIME_TO_RUNNING_BUCKETS, UNREACHABLE_BUCKETS};
use crate::state::{
    ActiveState, ExpungeReason, MesosState, ReplacementReason, State, TerminalState,
};

/// `from` values of a transition: `none`, then the active states.
pub const FROM_COUNT: usize = 1 + ActiveState::ALL.len();

pub const TRANSITIONS: &str = "marathon_task_transitions_total";
const TRANSITIONS_HELP: &str =
    "Task state changes, by app and the states left and entered (from='none': first seen).";
pub const STATUS_UPDATES: &str = "marathon_task_status_updates_total";
const STATUS_UPDATES_HELP: &str =
    "Status update events received, by app and raw Mesos state (repeats included).";
pub const REPLACEMENTS: &str = "marathon_task_replacements_total";
const REPLACEMENTS_HELP: &str = "Tasks Marathon replaces, by app and reason.";
pub const EXPUNGES: &str = "marathon_task_expunges_total";
const EXPUNGES_HELP: &str = "Tasks removed from Marathon's state, by app and reason.";
pub const UNREACHABLE_DURATION: &str = "marathon_task_unreachable_duration_seconds";
const UNREACHABLE_DURATION_HELP: &str =
    "Time tasks spent unreachable, observed when the episode ends.";
pub const TIME_TO_RUNNING: &str = "marathon_task_time_to_running_seconds";
const TIME_TO_RUNNING_HELP: &str = "Time from a task's first staging to its first running.";
pub const HEALTH_KILLS: &str = "marathon_task_health_kills_total";
const HEALTH_KILLS_HELP: &str = "Tasks Marathon killed for failing their health checks, by app.";
pub const UNKNOWN_TERMINATIONS: &str = "marathon_task_unknown_terminations_total";
const UNKNOWN_TERMINATIONS_HELP: &str =
    "Instances Marathon no longer knew that were terminated (unknown_instance_terminated_event).";

/// A histogram's cells: one count per bucket (not cumulative) plus the overflow past the last
/// bound, and the sum as `f64` bits. The count is the sum of the cells, so a scrape never sees a
/// count that disagrees with its buckets.
struct Histogram<const N: usize> {
    cells: [AtomicU64; N],
    sum: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new() -> Self {
        Histogram {
            cells: std::array::from_fn(|_| AtomicU64::new(0)),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    fn observe(&self, bounds: &[f64], value: f64) {
        let i = bounds.partition_point(|b| *b < value);
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
        self.cells[i].fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ([u64; N], f64) {
        let cells = std::array::from_fn(|i| self.cells[i].load(Ordering::Relaxed));
        (cells, f64::from_bits(self.sum.load(Ordering::Relaxed)))
    }
}

/// Everything counted for one app label slot. A series with a zero value other than the
/// replacement and expunge reasons was never used, so it is not shown (as if created on first use).
pub struct AppCounters {
    label: Box<str>,
    /// When the counters started at zero (Unix seconds): their OpenMetrics `_created`.
    created: f64,
    /// The label escaped for the exposition, written into every line.
    escaped: Box<str>,
    transitions: [AtomicU64; FROM_COUNT * State::COUNT],
    status_updates: [AtomicU64; MesosState::ALL.len()],
    replacements: [AtomicU64; ReplacementReason::ALL.len()],
    expunges: [AtomicU64; ExpungeReason::ALL.len()],
    unreachable_duration: Histogram<{ UNREACHABLE_BUCKETS.len() + 1 }>,
    time_to_running: Histogram<{ TIME_TO_RUNNING_BUCKETS.len() + 1 }>,
    unknown_terminations: AtomicU64,
    health_kills: AtomicU64,
}

fn zeros<const N: usize>() -> [AtomicU64; N] {
    std::array::from_fn(|_| AtomicU64::new(0))
}

fn bump(cell: &AtomicU64) {
    cell.fetch_add(1, Ordering::Relaxed);
}

impl AppCounters {
    pub fn new(label: &str) -> Self {
        AppCounters {
            label: label.into(),
            created: super::unix_seconds(),
            escaped: text::escape(label).into(),
            transitions: zeros(),
            status_updates: zeros(),
            replacements: zeros(),
            expunges: zeros(),
            unreachable_duration: Histogram::new(),
            time_to_running: Histogram::new(),
            unknown_terminations: AtomicU64::new(0),
            health_kills: AtomicU64::new(0),
        }
    }

    pub fn transition(&self, from: usize, to: usize) {
        bump(&self.transitions[from * State::COUNT + to]);
    }
    pub fn status_update(&self, status: MesosState) {
        bump(&self.status_updates[status.index()]);
    }
    pub fn replacement(&self, reason: ReplacementReason) {
        bump(&self.replacements[reason.index()]);
    }
    pub fn expunge(&self, reason: ExpungeReason) {
        bump(&self.expunges[reason.index()]);
    }
    pub fn unreachable_duration(&self, seconds: f64) {
        self.unreachable_duration
            .observe(&UNREACHABLE_BUCKETS, seconds);
    }
    pub fn time_to_running(&self, seconds: f64) {
        self.time_to_running
            .observe(&TIME_TO_RUNNING_BUCKETS, seconds);
    }
    pub fn unknown_termination(&self) {
        bump(&self.unknown_terminations);
    }
    pub fn health_kill(&self) {
        bump(&self.health_kills);
    }
}

/// Every labelled slot's counters, shared by the one writer that counts and the scrapes.
#[derive(Default)]
pub struct AppFamilies {
    slots: RwLock<Vec<Option<Arc<AppCounters>>>>,
}

impl AppFamilies {
    /// A slot gets fresh counters under `label`; returns them for the writer to keep.
    pub fn add(&self, slot: usize, label: &str) -> Arc<AppCounters> {
        let counters = Arc::new(AppCounters::new(label));
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        if slots.len() <= slot {
            slots.resize_with(slot + 1, || None);
        }
        slots[slot] = Some(Arc::clone(&counters));
        counters
    }

    /// A slot's app retired: its series go.
    pub fn remove(&self, slot: usize) {
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slots.get_mut(slot) {
            *s = None;
        }
    }

    /// When each live app's counters started, by escaped label (for OpenMetrics' `_created`).
    pub fn created(&self) -> std::collections::HashMap<String, f64> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .flatten()
            .map(|a| (a.escaped.to_string(), a.created))
            .collect()
    }

    /// The live slots, sorted by label (the order of the exposition).
    fn sorted(&self) -> Vec<Arc<AppCounters>> {
        let mut apps: Vec<_> = {
            let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
            slots.iter().flatten().cloned().collect()
        };
        apps.sort_unstable_by(|a, b| a.label.cmp(&b.label));
        apps
    }

    /// Writes every per-app counter family, in the name order of the exposition.
    pub fn render(&self, out: &mut String) {
        render_sorted(out, &self.sorted(), None);
    }

    /// The same in OpenMetrics: counter families named without `_total`, and after every
    /// counter series and every histogram's `_count` its `_created` sample, the moment the app
    /// became known (Unix seconds).
    pub fn render_openmetrics(&self, out: &mut String) {
        let apps = self.sorted();
        let created: Vec<String> = apps
            .iter()
            .map(|a| format!(" {:.3}\n", a.created))
            .collect();
        render_sorted(out, &apps, Some(&created));
    }
}

/// The families of `apps`; `created` (aligned with `apps`, each value as ` <seconds>\n`) makes
/// it OpenMetrics.
fn render_sorted(out: &mut String, apps: &[Arc<AppCounters>], created: Option<&[String]>) {
    let form = Form { created };
    counters(
        out,
        &form,
        EXPUNGES,
        EXPUNGES_HELP,
        apps,
        "reason",
        &EXPUNGE_ORDER,
        true,
        |a| &a.expunges,
    );
    single(out, &form, HEALTH_KILLS, HEALTH_KILLS_HELP, apps, |a| {
        &a.health_kills
    });
    counters(
        out,
        &form,
        REPLACEMENTS,
        REPLACEMENTS_HELP,
        apps,
        "reason",
        &REPLACEMENT_ORDER,
        true,
        |a| &a.replacements,
    );
    counters(
        out,
        &form,
        STATUS_UPDATES,
        STATUS_UPDATES_HELP,
        apps,
        "status",
        &STATUS_ORDER,
        false,
        |a| &a.status_updates,
    );
    histogram(
        out,
        &form,
        TIME_TO_RUNNING,
        TIME_TO_RUNNING_HELP,
        apps,
        &TIME_TO_RUNNING_BUCKETS,
        |a| a.time_to_running.snapshot(),
    );
    transitions(out, &form, apps);
    single(
        out,
        &form,
        UNKNOWN_TERMINATIONS,
        UNKNOWN_TERMINATIONS_HELP,
        apps,
        |a| &a.unknown_terminations,
    );
    histogram(
        out,
        &form,
        UNREACHABLE_DURATION,
        UNREACHABLE_DURATION_HELP,
        apps,
        &UNREACHABLE_BUCKETS,
        |a| a.unreachable_duration.snapshot(),
    );
}

/// Text format 0.0.4, or OpenMetrics with each app's `_created` value.
struct Form<'a> {
    created: Option<&'a [String]>,
}

impl Form<'_> {
    /// The family header. In OpenMetrics a counter family is named without `_total` and `"` in
    /// the help is escaped; returns the name of the family's `_created` samples then.
    fn header(&self, out: &mut String, name: &str, help: &str, kind: &str) -> Option<String> {
        if self.created.is_none() {
            text::header(out, name, help, kind);
            return None;
        }
        let family = match kind {
            "counter" => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        text::header(out, family, &help.replace('"', "\\\""), kind);
        Some(format!("{family}_created"))
    }

    /// The `_created` value of the `i`th app, when writing OpenMetrics.
    fn created(&self, i: usize) -> Option<&str> {
        self.created.map(|c| c[i].as_str())
    }
}

/// Indices of `labels` sorted by label: series of one app appear in label order.
fn order(labels: &[&'static str]) -> Vec<(usize, &'static str)> {
    let mut v: Vec<_> = labels.iter().copied().enumerate().collect();
    v.sort_unstable_by(|a, b| a.1.cmp(b.1));
    v
}

static EXPUNGE_ORDER: LazyLock<Vec<(usize, &'static str)>> =
    LazyLock::new(|| order(&ExpungeReason::ALL.map(ExpungeReason::label)));
static REPLACEMENT_ORDER: LazyLock<Vec<(usize, &'static str)>> =
    LazyLock::new(|| order(&ReplacementReason::ALL.map(ReplacementReason::label)));
static STATUS_ORDER: LazyLock<Vec<(usize, &'static str)>> =
    LazyLock::new(|| order(&MesosState::ALL.map(MesosState::label)));
/// (cell index, from, to) of every transition, sorted by `from` then `to`.
static TRANSITION_ORDER: LazyLock<Vec<(usize, &'static str, &'static str)>> = LazyLock::new(|| {
    let from: Vec<&'static str> = std::iter::once("none")
        .chain(ActiveState::ALL.iter().map(|a| a.label()))
        .collect();
    let to: Vec<&'static str> = ActiveState::ALL
        .iter()
        .map(|a| a.label())
        .chain(TerminalState::ALL.iter().map(|t| t.label()))
        .collect();
    let mut v = Vec::with_capacity(FROM_COUNT * State::COUNT);
    for (f, from) in from.iter().enumerate() {
        for (t, to) in to.iter().enumerate() {
            v.push((f * State::COUNT + t, *from, *to));
        }
    }
    v.sort_unstable_by(|a, b| (a.1, a.2).cmp(&(b.1, b.2)));
    v
});

/// A counter family with one extra label; zero series are shown only when `zeros` is set.
#[allow(clippy::too_many_arguments)]
fn counters<const N: usize>(
    out: &mut String,
    form: &Form<'_>,
    name: &str,
    help: &str,
    apps: &[Arc<AppCounters>],
    label: &str,
    order: &[(usize, &'static str)],
    zeros: bool,
    cells: impl Fn(&AppCounters) -> &[AtomicU64; N],
) {
    let mut headed = false;
    let mut created_name = None;
    for (i, a) in apps.iter().enumerate() {
        let cells = cells(a);
        for (cell, value) in order {
            let n = cells[*cell].load(Ordering::Relaxed);
            if n == 0 && !zeros {
                continue;
            }
            if !headed {
                created_name = form.header(out, name, help, "counter");
                headed = true;
            }
            text::open(out, name, &a.escaped);
            text::label(out, label, value);
            text::close_int(out, n);
            if let (Some(created_name), Some(at)) = (&created_name, form.created(i)) {
                text::open(out, created_name, &a.escaped);
                text::label(out, label, value);
                out.push('}');
                out.push_str(at);
            }
        }
    }
}

/// A counter family with only the `app` label; every known app has its series from 0.
fn single(
    out: &mut String,
    form: &Form<'_>,
    name: &str,
    help: &str,
    apps: &[Arc<AppCounters>],
    cell: impl Fn(&AppCounters) -> &AtomicU64,
) {
    if apps.is_empty() {
        return;
    }
    let created_name = form.header(out, name, help, "counter");
    for (i, a) in apps.iter().enumerate() {
        text::open(out, name, &a.escaped);
        text::close_int(out, cell(a).load(Ordering::Relaxed));
        if let (Some(created_name), Some(at)) = (&created_name, form.created(i)) {
            text::open(out, created_name, &a.escaped);
            out.push('}');
            out.push_str(at);
        }
    }
}

fn transitions(out: &mut String, form: &Form<'_>, apps: &[Arc<AppCounters>]) {
    let mut headed = false;
    let mut created_name = None;
    for (i, a) in apps.iter().enumerate() {
        for (cell, from, to) in TRANSITION_ORDER.iter() {
            let n = a.transitions[*cell].load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            if !headed {
                created_name = form.header(out, TRANSITIONS, TRANSITIONS_HELP, "counter");
                headed = true;
            }
            text::open(out, TRANSITIONS, &a.escaped);
            text::label(out, "from", from);
            text::label(out, "to", to);
            text::close_int(out, n);
            if let (Some(created_name), Some(at)) = (&created_name, form.created(i)) {
                text::open(out, created_name, &a.escaped);
                text::label(out, "from", from);
                text::label(out, "to", to);
                out.push('}');
                out.push_str(at);
            }
        }
    }
}

/// A histogram family: apps with no observation have no series.
fn histogram<const N: usize>(
    out: &mut String,
    form: &Form<'_>,
    name: &str,
    help: &str,
    apps: &[Arc<AppCounters>],
    bounds: &[f64],
    read: impl Fn(&AppCounters) -> ([u64; N], f64),
) {
    let bucket = format!("{name}_bucket");
    let sum_name = format!("{name}_sum");
    let count_name = format!("{name}_count");
    let les: Vec<String> = bounds
        .iter()
        .map(|b| {
            let mut s = String::new();
            text::float(&mut s, *b);
            s
        })
        .collect();
    let mut headed = false;
    let mut created_name = None;
    for (i, a) in apps.iter().enumerate() {
        let (cells, sum) = read(a);
        let count: u64 = cells.iter().sum();
        if count == 0 {
            continue;
        }
        if !headed {
            created_name = form.header(out, name, help, "histogram");
            headed = true;
        }
        let mut cumulative = 0;
        for (le, n) in les.iter().zip(cells) {
            cumulative += n;
            text::open(out, &bucket, &a.escaped);
            text::label(out, "le", le);
            text::close_int(out, cumulative);
        }
        text::open(out, &bucket, &a.escaped);
        text::label(out, "le", "+Inf");
        text::close_int(out, count);
        text::open(out, &sum_name, &a.escaped);
        text::close_float(out, sum);
        text::open(out, &count_name, &a.escaped);
        text::close_int(out, count);
        if let (Some(created_name), Some(at)) = (&created_name, form.created(i)) {
            text::open(out, created_name, &a.escaped);
            out.push('}');
            out.push_str(at);
        }
    }
}
