//! An [`Effects`] that keeps every count in memory by app label: the per-app summary of a replay,
//! and the observer the rule tests assert on.

use std::collections::{BTreeMap, HashMap};

use super::effects::{AppSlot, Effects};
use super::{
    ActiveState, Correction, DeploymentResult, EventError, ExpungeReason, MesosState,
    ReplacementReason, State, from_label,
};

/// Everything the rules counted, keyed by app label (`__other__` included). Retired apps keep
/// their counts here (a tally is history, not an exposition).
#[derive(Clone, Debug, Default)]
pub struct Tally {
    labels: HashMap<AppSlot, String>,
    /// `(app, from, to)`.
    pub transitions: BTreeMap<(String, &'static str, &'static str), u64>,
    /// `(app, status)`.
    pub status_updates: BTreeMap<(String, &'static str), u64>,
    /// `(app, reason)`.
    pub replacements: BTreeMap<(String, &'static str), u64>,
    /// `(app, reason)`.
    pub expunges: BTreeMap<(String, &'static str), u64>,
    pub unreachable_durations: BTreeMap<String, Vec<f64>>,
    pub time_to_running: BTreeMap<String, Vec<f64>>,
    pub unknown_terminations: BTreeMap<String, u64>,
    pub event_errors: BTreeMap<&'static str, u64>,
    pub corrections: BTreeMap<&'static str, u64>,
    /// Health-check kills by app.
    pub health_kills: BTreeMap<String, u64>,
    /// `result`.
    pub deployments: BTreeMap<&'static str, u64>,
    /// Apps in the order they became known, and retired.
    pub known: Vec<String>,
    pub retired: Vec<String>,
}

impl Tally {
    pub fn new() -> Self {
        Tally::default()
    }

    fn label(&self, slot: AppSlot) -> String {
        self.labels
            .get(&slot)
            .cloned()
            .unwrap_or_else(|| format!("<slot {}>", slot.0))
    }

    pub fn transition_count(&self, app: &str, from: &str, to: &str) -> u64 {
        self.transitions
            .iter()
            .find(|((a, f, t), _)| a == app && *f == from && *t == to)
            .map_or(0, |(_, n)| *n)
    }

    pub fn replacement_count(&self, app: &str, reason: &str) -> u64 {
        self.replacements
            .iter()
            .find(|((a, r), _)| a == app && *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    pub fn expunge_count(&self, app: &str, reason: &str) -> u64 {
        self.expunges
            .iter()
            .find(|((a, r), _)| a == app && *r == reason)
            .map_or(0, |(_, n)| *n)
    }

    pub fn status_count(&self, app: &str, status: &str) -> u64 {
        self.status_updates
            .iter()
            .find(|((a, s), _)| a == app && *s == status)
            .map_or(0, |(_, n)| *n)
    }

    pub fn error_count(&self, kind: &str) -> u64 {
        self.event_errors.get(kind).copied().unwrap_or(0)
    }

    pub fn correction_count(&self, kind: &str) -> u64 {
        self.corrections.get(kind).copied().unwrap_or(0)
    }

    /// Sum over every app of the transitions, replacements, expunges, observations, health-check
    /// kills and deployment results: what "counts" means when checking that an input changed
    /// nothing.
    pub fn rule_total(&self) -> u64 {
        self.health_kills.values().sum::<u64>()
            + self.deployments.values().sum::<u64>()
            + self.transitions.values().sum::<u64>()
            + self.replacements.values().sum::<u64>()
            + self.expunges.values().sum::<u64>()
            + self
                .unreachable_durations
                .values()
                .map(|v| v.len() as u64)
                .sum::<u64>()
            + self
                .time_to_running
                .values()
                .map(|v| v.len() as u64)
                .sum::<u64>()
    }
}

impl Effects for Tally {
    fn app_known(&mut self, slot: AppSlot, label: &str) {
        self.labels.insert(slot, label.to_owned());
        self.known.push(label.to_owned());
    }
    fn app_retired(&mut self, slot: AppSlot) {
        if let Some(label) = self.labels.remove(&slot) {
            self.retired.push(label);
        }
    }
    fn transition(&mut self, slot: AppSlot, from: Option<ActiveState>, to: State) {
        *self
            .transitions
            .entry((self.label(slot), from_label(from), to.label()))
            .or_default() += 1;
    }
    fn status_update(&mut self, slot: AppSlot, status: MesosState) {
        *self
            .status_updates
            .entry((self.label(slot), status.label()))
            .or_default() += 1;
    }
    fn replacement(&mut self, slot: AppSlot, reason: ReplacementReason) {
        *self
            .replacements
            .entry((self.label(slot), reason.label()))
            .or_default() += 1;
    }
    fn expunge(&mut self, slot: AppSlot, reason: ExpungeReason) {
        *self
            .expunges
            .entry((self.label(slot), reason.label()))
            .or_default() += 1;
    }
    fn unreachable_duration(&mut self, slot: AppSlot, seconds: f64) {
        self.unreachable_durations
            .entry(self.label(slot))
            .or_default()
            .push(seconds);
    }
    fn time_to_running(&mut self, slot: AppSlot, seconds: f64) {
        self.time_to_running
            .entry(self.label(slot))
            .or_default()
            .push(seconds);
    }
    fn unknown_termination(&mut self, slot: AppSlot) {
        *self
            .unknown_terminations
            .entry(self.label(slot))
            .or_default() += 1;
    }
    fn event_error(&mut self, kind: EventError) {
        *self.event_errors.entry(kind.label()).or_default() += 1;
    }
    fn correction(&mut self, kind: Correction) {
        *self.corrections.entry(kind.label()).or_default() += 1;
    }
    fn health_kill(&mut self, slot: AppSlot) {
        *self.health_kills.entry(self.label(slot)).or_default() += 1;
    }
    fn deployment(&mut self, result: DeploymentResult) {
        *self.deployments.entry(result.label()).or_default() += 1;
    }
}
