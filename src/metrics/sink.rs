//! [`Sink`]: the rules' [`Effects`] counted into the per-app families through the counters of each
//! label slot, held by the writer so the hot path never looks a label up or takes a lock.

use std::sync::Arc;

use prometheus::IntCounter;

use super::apps::{AppCounters, AppFamilies};
use super::{ApplyLock, SelfMetrics};
use crate::state::{
    ActiveState, AppSlot, Correction, DeploymentResult, Effects, EventError, ExpungeReason,
    MesosState, ReplacementReason, State, from_index,
};

/// Counts effects into the families. One per writer.
pub struct Sink {
    families: Arc<AppFamilies>,
    exporter: SelfMetrics,
    slots: Vec<Option<Arc<AppCounters>>>,
    /// `events_total` handles by event kind index, with the events not yet added to them.
    events: Vec<Option<(IntCounter, u64)>>,
    /// Events decoded since the last flush.
    pending: u64,
    lock: ApplyLock,
}

impl Sink {
    pub(super) fn new(families: Arc<AppFamilies>, exporter: SelfMetrics, lock: ApplyLock) -> Sink {
        Sink {
            families,
            exporter,
            slots: Vec::new(),
            events: Vec::new(),
            pending: 0,
            lock,
        }
    }

    /// What the writer holds while it applies one unit of input (see [`ApplyLock`]).
    pub fn apply_lock(&self) -> &ApplyLock {
        &self.lock
    }

    /// The exporter's self-metrics, for the ingest path around the rules.
    pub fn exporter(&self) -> &SelfMetrics {
        &self.exporter
    }

    /// Counts one decoded event of the kind numbered `index` and labelled `label`; the counters
    /// show it at the next [`Sink::flush`] (the end of the chunk).
    pub fn event_decoded(&mut self, index: usize, label: &str) {
        if self.events.len() <= index {
            self.events.resize(index + 1, None);
        }
        self.events[index]
            .get_or_insert_with(|| (self.exporter.events.with_label_values(&[label]), 0))
            .1 += 1;
        self.pending += 1;
    }

    /// Publishes the events counted since the last flush.
    pub fn flush(&mut self) {
        if self.pending == 0 {
            return;
        }
        for (counter, n) in self.events.iter_mut().flatten() {
            if *n > 0 {
                counter.inc_by(*n);
                *n = 0;
            }
        }
        self.exporter.count_decoded(self.pending);
        self.pending = 0;
    }

    /// A slot's counters, created if an effect arrives before `app_known` (it should not).
    fn slot(&mut self, slot: AppSlot) -> &AppCounters {
        let i = slot.index();
        if self.slots.get(i).is_none_or(Option::is_none) {
            let label = if slot == AppSlot::OTHER {
                AppSlot::OTHER_LABEL.to_owned()
            } else {
                format!("__slot_{}", slot.0)
            };
            self.app_known(slot, &label);
        }
        self.slots[i].as_deref().expect("created above")
    }
}

impl Effects for Sink {
    fn app_known(&mut self, slot: AppSlot, label: &str) {
        let i = slot.index();
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(self.families.add(i, label));
    }

    fn app_retired(&mut self, slot: AppSlot) {
        if let Some(s) = self.slots.get_mut(slot.index()) {
            *s = None;
        }
        self.families.remove(slot.index());
    }

    fn transition(&mut self, slot: AppSlot, from: Option<ActiveState>, to: State) {
        self.slot(slot).transition(from_index(from), to.index());
    }

    fn status_update(&mut self, slot: AppSlot, status: MesosState) {
        self.slot(slot).status_update(status);
    }

    fn replacement(&mut self, slot: AppSlot, reason: ReplacementReason) {
        self.slot(slot).replacement(reason);
    }

    fn expunge(&mut self, slot: AppSlot, reason: ExpungeReason) {
        self.slot(slot).expunge(reason);
    }

    fn unreachable_duration(&mut self, slot: AppSlot, seconds: f64) {
        self.slot(slot).unreachable_duration(seconds);
    }

    fn time_to_running(&mut self, slot: AppSlot, seconds: f64) {
        self.slot(slot).time_to_running(seconds);
    }

    fn unknown_termination(&mut self, slot: AppSlot) {
        self.slot(slot).unknown_termination();
    }

    fn event_error(&mut self, kind: EventError) {
        self.exporter.event_error(kind).inc();
    }

    fn correction(&mut self, kind: Correction) {
        self.exporter.correction(kind).inc();
    }

    fn health_kill(&mut self, slot: AppSlot) {
        self.slot(slot).health_kill();
    }

    fn deployment(&mut self, result: DeploymentResult) {
        self.exporter.deployment(result).inc();
    }
}
