//! [`Sink`]: the rules' [`Effects`] counted into the Prometheus families, through counter handles
//! cached per app label slot so the hot path never looks a label set up.

use prometheus::{Histogram, IntCounter};

use super::{SelfMetrics, TaskFamilies};
use crate::state::{
    ActiveState, AppSlot, Correction, Effects, EventError, ExpungeReason, MesosState,
    ReplacementReason, State, from_index, from_label,
};

const FROM_COUNT: usize = 7;

/// Handles of one label slot, created when the slot's app becomes known (replacements and
/// expunges, at 0) or on first use (the rest).
struct SlotHandles {
    label: String,
    transitions: Vec<Option<IntCounter>>,
    status_updates: Vec<Option<IntCounter>>,
    replacements: Vec<IntCounter>,
    expunges: Vec<IntCounter>,
    unreachable_duration: Option<Histogram>,
    time_to_running: Option<Histogram>,
    unknown_terminations: Option<IntCounter>,
}

/// Counts effects into the registry. One per writer.
pub struct Sink {
    families: TaskFamilies,
    exporter: SelfMetrics,
    slots: Vec<Option<SlotHandles>>,
    /// `events_total` handles by event kind index.
    events: Vec<Option<IntCounter>>,
}

impl Sink {
    pub(super) fn new(families: TaskFamilies, exporter: SelfMetrics) -> Sink {
        Sink {
            families,
            exporter,
            slots: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The exporter's self-metrics, for the ingest path around the rules.
    pub fn exporter(&self) -> &SelfMetrics {
        &self.exporter
    }

    /// Counts one decoded event of the kind numbered `index` and labelled `label`.
    pub fn event_decoded(&mut self, index: usize, label: &str) {
        if self.events.len() <= index {
            self.events.resize(index + 1, None);
        }
        self.events[index]
            .get_or_insert_with(|| self.exporter.events.with_label_values(&[label]))
            .inc();
        self.exporter.count_decoded();
    }

    /// The index of a slot's handles, created if an effect arrives before `app_known` (it should not).
    fn ensure(&mut self, slot: AppSlot) -> usize {
        let i = slot.index();
        if self.slots.get(i).is_none_or(Option::is_none) {
            let label = if slot == AppSlot::OTHER {
                AppSlot::OTHER_LABEL.to_owned()
            } else {
                format!("__slot_{}", slot.0)
            };
            self.app_known(slot, &label);
        }
        i
    }

    /// The families and one slot's handles, borrowed together.
    fn parts(&mut self, slot: AppSlot) -> (&TaskFamilies, &mut SlotHandles) {
        let i = self.ensure(slot);
        (&self.families, self.slots[i].as_mut().expect("ensured"))
    }
}

impl Effects for Sink {
    fn app_known(&mut self, slot: AppSlot, label: &str) {
        let i = slot.index();
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        let f = &self.families;
        self.slots[i] = Some(SlotHandles {
            label: label.to_owned(),
            transitions: vec![None; FROM_COUNT * State::COUNT],
            status_updates: vec![None; MesosState::ALL.len()],
            replacements: ReplacementReason::ALL
                .iter()
                .map(|r| f.replacements.with_label_values(&[label, r.label()]))
                .collect(),
            expunges: ExpungeReason::ALL
                .iter()
                .map(|r| f.expunges.with_label_values(&[label, r.label()]))
                .collect(),
            unreachable_duration: None,
            time_to_running: None,
            unknown_terminations: None,
        });
    }

    fn app_retired(&mut self, slot: AppSlot) {
        let Some(handles) = self.slots.get_mut(slot.index()).and_then(Option::take) else {
            return;
        };
        let f = &self.families;
        let app = handles.label.as_str();
        // Removal errors only mean the series was never created.
        for (i, h) in handles.transitions.iter().enumerate() {
            if h.is_some() {
                let (from, to) = (i / State::COUNT, i % State::COUNT);
                let _ = f
                    .transitions
                    .remove_label_values(&[app, from_name(from), to_name(to)]);
            }
        }
        for (i, h) in handles.status_updates.iter().enumerate() {
            if h.is_some() {
                let _ = f
                    .status_updates
                    .remove_label_values(&[app, MesosState::ALL[i].label()]);
            }
        }
        for r in ReplacementReason::ALL {
            let _ = f.replacements.remove_label_values(&[app, r.label()]);
        }
        for r in ExpungeReason::ALL {
            let _ = f.expunges.remove_label_values(&[app, r.label()]);
        }
        let _ = f.unreachable_duration.remove_label_values(&[app]);
        let _ = f.time_to_running.remove_label_values(&[app]);
        let _ = f.unknown_terminations.remove_label_values(&[app]);
    }

    fn transition(&mut self, slot: AppSlot, from: Option<ActiveState>, to: State) {
        let (f, h) = self.parts(slot);
        let i = from_index(from) * State::COUNT + to.index();
        h.transitions[i]
            .get_or_insert_with(|| {
                f.transitions
                    .with_label_values(&[h.label.as_str(), from_label(from), to.label()])
            })
            .inc();
    }

    fn status_update(&mut self, slot: AppSlot, status: MesosState) {
        let (f, h) = self.parts(slot);
        h.status_updates[status.index()]
            .get_or_insert_with(|| {
                f.status_updates
                    .with_label_values(&[h.label.as_str(), status.label()])
            })
            .inc();
    }

    fn replacement(&mut self, slot: AppSlot, reason: ReplacementReason) {
        self.parts(slot).1.replacements[reason.index()].inc();
    }

    fn expunge(&mut self, slot: AppSlot, reason: ExpungeReason) {
        self.parts(slot).1.expunges[reason.index()].inc();
    }

    fn unreachable_duration(&mut self, slot: AppSlot, seconds: f64) {
        let (f, h) = self.parts(slot);
        h.unreachable_duration
            .get_or_insert_with(|| {
                f.unreachable_duration
                    .with_label_values(&[h.label.as_str()])
            })
            .observe(seconds);
    }

    fn time_to_running(&mut self, slot: AppSlot, seconds: f64) {
        let (f, h) = self.parts(slot);
        h.time_to_running
            .get_or_insert_with(|| f.time_to_running.with_label_values(&[h.label.as_str()]))
            .observe(seconds);
    }

    fn unknown_termination(&mut self, slot: AppSlot) {
        let (f, h) = self.parts(slot);
        h.unknown_terminations
            .get_or_insert_with(|| {
                f.unknown_terminations
                    .with_label_values(&[h.label.as_str()])
            })
            .inc();
    }

    fn event_error(&mut self, kind: EventError) {
        self.exporter.event_error(kind).inc();
    }

    fn correction(&mut self, kind: Correction) {
        self.exporter.correction(kind).inc();
    }
}

fn from_name(i: usize) -> &'static str {
    if i == 0 {
        "none"
    } else {
        ActiveState::ALL[i - 1].label()
    }
}

fn to_name(i: usize) -> &'static str {
    let active = ActiveState::ALL.len();
    if i < active {
        ActiveState::ALL[i].label()
    } else {
        crate::state::TerminalState::ALL[i - active].label()
    }
}
