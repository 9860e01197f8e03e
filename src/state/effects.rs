//! What applying an input causes: the engine reports each countable effect through [`Effects`],
//! which the metrics layer implements with cached counter handles and tests implement with a recorder.

use super::types::{
    ActiveState, Correction, EventError, ExpungeReason, MesosState, ReplacementReason, State,
};

/// The label slot of an app in every per-app family. Slot 0 is `app="__other__"` (apps past the
/// limit); every other known app has a slot of its own until it retires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppSlot(pub u32);

impl AppSlot {
    /// Where apps past `--app.limit` are counted.
    pub const OTHER: AppSlot = AppSlot(0);
    /// The label of [`AppSlot::OTHER`].
    pub const OTHER_LABEL: &'static str = "__other__";

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Receives the effects of the rules, in the order they happen.
pub trait Effects {
    /// An app became known under `label`: its replacement and expunge series start at 0.
    fn app_known(&mut self, slot: AppSlot, label: &str);
    /// The app's retention ended: all its series go.
    fn app_retired(&mut self, slot: AppSlot);
    /// `marathon_task_transitions_total{from,to}`; `from` is `None` for a task first seen.
    fn transition(&mut self, slot: AppSlot, from: Option<ActiveState>, to: State);
    /// `marathon_task_status_updates_total{status}`: every status event, repeats included.
    fn status_update(&mut self, slot: AppSlot, status: MesosState);
    fn replacement(&mut self, slot: AppSlot, reason: ReplacementReason);
    fn expunge(&mut self, slot: AppSlot, reason: ExpungeReason);
    /// An unreachable episode ended after `seconds`.
    fn unreachable_duration(&mut self, slot: AppSlot, seconds: f64);
    /// First staging to first running.
    fn time_to_running(&mut self, slot: AppSlot, seconds: f64);
    fn unknown_termination(&mut self, slot: AppSlot);
    /// An input the rules could not use (`unknown_status`, `stale`).
    fn event_error(&mut self, kind: EventError);
    fn correction(&mut self, kind: Correction);
}

/// Forwards only the app lifecycle: how the first snapshot seeds the map without counting anything.
pub struct Silent<'a, E: Effects>(pub &'a mut E);

impl<E: Effects> Effects for Silent<'_, E> {
    fn app_known(&mut self, slot: AppSlot, label: &str) {
        self.0.app_known(slot, label);
    }
    fn app_retired(&mut self, slot: AppSlot) {
        self.0.app_retired(slot);
    }
    fn transition(&mut self, _: AppSlot, _: Option<ActiveState>, _: State) {}
    fn status_update(&mut self, _: AppSlot, _: MesosState) {}
    fn replacement(&mut self, _: AppSlot, _: ReplacementReason) {}
    fn expunge(&mut self, _: AppSlot, _: ExpungeReason) {}
    fn unreachable_duration(&mut self, _: AppSlot, _: f64) {}
    fn time_to_running(&mut self, _: AppSlot, _: f64) {}
    fn unknown_termination(&mut self, _: AppSlot) {}
    fn event_error(&mut self, _: EventError) {}
    fn correction(&mut self, _: Correction) {}
}
