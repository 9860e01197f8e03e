//! What applying an input causes: the engine reports each countable effect through [`Effects`],
//! which the metrics layer implements with cached counter handles and tests implement with a recorder.

use super::{
    ActiveState, Correction, DeploymentResult, EventError, ExpungeReason, MesosState,
    ReplacementReason, State,
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

/// The label slot of an agent in `marathon_agent_tasks`. Slot 0 is `agent="__other__"` (agents
/// past `--agent.limit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AgentSlot(pub u32);

impl AgentSlot {
    /// Where agents past `--agent.limit` are counted.
    pub const OTHER: AgentSlot = AgentSlot(0);
    /// The label of [`AgentSlot::OTHER`].
    pub const OTHER_LABEL: &'static str = "__other__";
}

/// Receives the effects of the rules, in the order they happen. Every method does nothing unless
/// implemented: an observer takes what it needs.
pub trait Effects {
    /// An app became known under `label`: its replacement and expunge series start at 0.
    fn app_known(&mut self, _slot: AppSlot, _label: &str) {}
    /// The app's retention ended: all its series go.
    fn app_retired(&mut self, _slot: AppSlot) {}
    /// `marathon_task_transitions_total{from,to}`; `from` is `None` for a task first seen.
    fn transition(&mut self, _slot: AppSlot, _from: Option<ActiveState>, _to: State) {}
    /// `marathon_task_status_updates_total{status}`: every status event, repeats included.
    fn status_update(&mut self, _slot: AppSlot, _status: MesosState) {}
    fn replacement(&mut self, _slot: AppSlot, _reason: ReplacementReason) {}
    fn expunge(&mut self, _slot: AppSlot, _reason: ExpungeReason) {}
    /// An unreachable episode ended after `seconds`.
    fn unreachable_duration(&mut self, _slot: AppSlot, _seconds: f64) {}
    /// First staging to first running.
    fn time_to_running(&mut self, _slot: AppSlot, _seconds: f64) {}
    fn unknown_termination(&mut self, _slot: AppSlot) {}
    /// An input the rules could not use (`unknown_status`, `stale`).
    fn event_error(&mut self, _kind: EventError) {}
    fn correction(&mut self, _kind: Correction) {}
    /// `marathon_task_health_kills_total`: Marathon killed a task of the app for failing health checks.
    fn health_kill(&mut self, _slot: AppSlot) {}
    /// `marathon_deployments_total{result}`.
    fn deployment(&mut self, _result: DeploymentResult) {}
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
}
