//! The rules engine: applies one input (or a timer, or a snapshot) to the task map at `now` and
//! reports what it causes. This file holds the map and the transitions; status updates and
//! instance events (`status`), timers, LOST resolution, the operators' state and the snapshot diff
//! live beside it.

mod agents;
mod apps;
mod invariants;
pub use invariants::check_invariants;
mod lost;
mod operators;
mod snapshot;
mod status;
mod table;
mod tasks;
mod timers;

use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

use foldhash::fast::RandomState;

use self::agents::{AgentIdx, Agents};
use self::apps::{AppIdx, Apps};
use self::operators::Deployments;
pub use self::operators::LabelAllowlist;
use self::tasks::{Health, Key, Task, TaskMap};
use self::timers::{Timer, TimerKind};
use super::effects::{AppSlot, Effects};
use super::store::{Placement, Store, StoreReader};
use super::{
    ActiveState, ExpungeReason, Input, MesosState, Millis, ReplacementReason, State, Strategy,
    TaskRef, TerminalState,
};

/// The knobs of the rules (RULES.md), all on Marathon's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// For apps whose strategy is unknown, and for pods.
    pub default_strategy: Strategy,
    pub lost_resolve_timeout: Millis,
    pub tombstone_ttl: Millis,
    pub app_retention: Millis,
    pub app_limit: usize,
    /// How long after a snapshot a task it did not list is removed (`--resync.removal-delay`).
    pub removal_delay: Millis,
    /// Agents past this many are counted under `agent="__other__"` (`--agent.limit`).
    pub agent_limit: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default_strategy: Strategy::enabled(0, 15 * 60_000),
            lost_resolve_timeout: 5_000,
            tombstone_ttl: 15 * 60_000,
            app_retention: 10 * 60_000,
            app_limit: 10_000,
            removal_delay: 2_000,
            agent_limit: 5_000,
        }
    }
}

/// A `TASK_LOST` waiting for its instance's `instance_changed_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingLost {
    /// The LOST's timestamp: when the resolved state took effect.
    at: Millis,
    deadline: Millis,
}

/// What a transition did to the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Unchanged,
    Changed,
    /// The task ended: remove it and leave a tombstone.
    Ended,
}

/// The task map and everything the rules keep beside it. Owned by one writer.
pub struct Engine {
    settings: Settings,
    /// Tasks grouped by canonical instance id (pods have several).
    instances: TaskMap,
    tasks: usize,
    /// Ended task ids and the instant their tombstone expires. The id is shared with the
    /// tombstone's timer: one allocation per ended task.
    tombstones: HashMap<Arc<str>, Millis, RandomState>,
    apps: Apps,
    agents: Agents,
    /// Tasks Marathon killed for failing health checks, and the kill event's timestamp (a repeat
    /// of the same event counts nothing); each goes a tombstone TTL after the kill.
    health_kills: HashMap<Box<str>, Millis, RandomState>,
    deployments: Deployments,
    labels: LabelAllowlist,
    timers: BinaryHeap<Timer>,
    timer_seq: u64,
    /// What snapshots found that the events had not said, by task id: each correction is made
    /// `--resync.removal-delay` after the snapshot unless an event for the task comes first
    /// (RULES.md, Snapshot: Marathon's state runs ahead of its event stream).
    fixes: HashMap<Box<str>, snapshot::Fix, RandomState>,
    /// While a snapshot is applied: when the corrections it finds are made (see
    /// [`Engine::apply_snapshot`]).
    fixes_due: Millis,
    /// The latest `now` the engine was given (Marathon clock).
    now: Millis,
    store: Store,
    seeded: bool,
    /// Where a task id is put together before it is shared.
    scratch: String,
}

impl Engine {
    pub fn new(settings: Settings) -> Self {
        Engine {
            settings,
            instances: TaskMap::default(),
            tasks: 0,
            tombstones: HashMap::default(),
            apps: Apps::new(settings.app_limit.max(1), settings.default_strategy),
            agents: Agents::new(settings.agent_limit.max(1)),
            health_kills: HashMap::default(),
            deployments: Deployments::default(),
            labels: LabelAllowlist::default(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            fixes: HashMap::default(),
            fixes_due: Millis::MIN,
            now: Millis::MIN,
            store: Store::new(),
            seeded: false,
            scratch: String::new(),
        }
    }

    /// Exports the allowlisted app labels on `marathon_app_labels` (`--app.label-allowlist`).
    pub fn with_label_allowlist(mut self, labels: LabelAllowlist) -> Self {
        self.labels = labels;
        self
    }

    /// A reader of the per-app gauges, for scrapes.
    pub fn reader(&self) -> StoreReader {
        self.store.reader()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Tasks in the map (tracked, or pending a LOST resolution).
    pub fn tasks(&self) -> usize {
        self.tasks
    }

    pub fn tombstones(&self) -> usize {
        self.tombstones.len()
    }

    pub fn known_apps(&self) -> usize {
        self.apps.known()
    }

    /// Whether the first snapshot has been applied.
    pub fn is_seeded(&self) -> bool {
        self.seeded
    }

    /// The state of a task in the map: `Some(None)` for a task pending its first LOST resolution.
    pub fn task_state(&self, instance: &str, id: &str) -> Option<Option<ActiveState>> {
        self.find(self.instances.key(instance), id).map(|t| t.state)
    }

    /// Applies one event at `now` (Marathon clock). Timers due by the event's timestamp run first;
    /// timers due by `now` run after.
    pub fn apply(&mut self, input: &Input<'_>, now: Millis, fx: &mut impl Effects) {
        self.advance(input.timestamp().min(now), fx);
        self.now = now;
        match input {
            Input::Status(update) => self.status(update, fx),
            Input::InstanceChanged(event) => self.instance_changed(event, fx),
            Input::UnknownInstanceTerminated { app, .. } => {
                let idx = self.apps.intern(app);
                let slot = self.apps.make_known(idx, &self.store, fx);
                fx.unknown_termination(slot);
                self.keep_while_counted(idx);
            }
            Input::AppTerminated { app, timestamp } => self.app_deleted(app, *timestamp),
            Input::AppDefinition {
                app,
                strategy,
                instances,
                labels,
                timestamp,
            } => {
                let idx = self.apps.intern(app);
                self.apps.get_mut(idx).definition_at = *timestamp;
                self.set_strategy(idx, *strategy);
                self.set_definition(idx, *instances, labels.as_deref());
            }
            Input::HealthKill {
                app,
                task,
                timestamp,
            } => self.health_kill(app, task, *timestamp, fx),
            Input::Health {
                instance,
                healthy,
                timestamp,
            } => self.health_report(self.instances.key(instance), *healthy, *timestamp),
            Input::DeploymentInfo {
                id,
                apps,
                timestamp,
            } => {
                self.deployment_started(id, apps, *timestamp);
            }
            Input::DeploymentEnd {
                id,
                result,
                timestamp,
            } => self.deployment_ended(id, *result, *timestamp, fx),
        }
        self.advance(now, fx);
    }

    /// Runs the timers due by `now` (call at least once a second).
    pub fn tick(&mut self, now: Millis, fx: &mut impl Effects) {
        self.now = now;
        self.advance(now, fx);
    }

    /// Puts a first-seen task on agent `host` in the map, untracked until its first change;
    /// returns its instance key.
    fn ensure_task<'a>(
        &mut self,
        task: &'a TaskRef<'_>,
        app: AppIdx,
        host: &str,
        at: Millis,
    ) -> Key<'a> {
        let key = self.instances.key(&task.instance);
        if self.find(key, task.id).is_none() {
            self.insert_task(key, task, app, host, at);
        }
        key
    }

    /// Puts a task the map does not have in it (under `key`, its instance), untracked until its
    /// first change.
    fn insert_task(
        &mut self,
        key: Key<'_>,
        task: &TaskRef<'_>,
        app: AppIdx,
        host: &str,
        at: Millis,
    ) {
        let entry = self.apps.get_mut(app);
        entry.tasks += 1;
        entry.delete_at = None;
        self.tasks += 1;
        let agent: AgentIdx = self.agents.add_task(host, &self.store);
        let new = Task::new(&task.instance, task.id, app, agent, task.pod, at);
        self.instances.insert(key, new);
    }

    fn find(&self, instance: Key<'_>, id: &str) -> Option<&Task> {
        self.instances.find(instance, id)
    }

    fn find_mut(&mut self, instance: Key<'_>, id: &str) -> Option<&mut Task> {
        self.instances.find_mut(instance, id)
    }

    /// Moves a task in the map to `to` at `at`, counting per RULES.md; removes it if it ended.
    fn change(
        &mut self,
        instance: Key<'_>,
        id: &str,
        to: State,
        at: Millis,
        fx: &mut impl Effects,
    ) -> Step {
        match to {
            State::Terminal(t) => {
                let from = self.find(instance, id).and_then(|task| task.state);
                let replacement = if from == Some(ActiveState::UnreachableInactive) {
                    None // replaced when it became inactive
                } else if t == TerminalState::Killed
                    && !self.health_kills.is_empty()
                    && self.health_kills.contains_key(id)
                {
                    Some(ReplacementReason::Unhealthy) // killed for failing health checks
                } else {
                    t.replacement_reason()
                };
                self.end(instance, id, t, t.expunge_reason(), replacement, at, fx)
            }
            State::Active(a) => {
                // Field by field, so the task, its app and the store are borrowed at once.
                let Some(task) = self.instances.find_mut(instance, id) else {
                    return Step::Unchanged;
                };
                let from = task.state;
                if from == Some(a)
                    || (a == ActiveState::Unreachable
                        && from == Some(ActiveState::UnreachableInactive))
                {
                    return Step::Unchanged;
                }
                let slot = self.apps.get(task.app).slot.unwrap_or(AppSlot::OTHER);
                let placement = Placement {
                    agent: self.agents.slot(task.agent),
                    unhealthy: task.health == Health::Unhealthy,
                };
                let old_since = task.since;
                let was_unreachable = from.is_some_and(ActiveState::is_unreachable);
                if was_unreachable && !a.is_unreachable() {
                    fx.unreachable_duration(slot, seconds(at - task.since));
                }
                if a.is_unreachable() && !was_unreachable {
                    task.since = at;
                }
                if a == ActiveState::UnreachableInactive {
                    fx.replacement(slot, ReplacementReason::Unreachable);
                }
                if from.is_none() && a == ActiveState::Staging {
                    task.set_staged(Some(at));
                }
                if a == ActiveState::Running
                    && let Some(staged) = task.staged()
                {
                    task.set_staged(None);
                    fx.time_to_running(slot, seconds(at - staged));
                }
                task.state = Some(a);
                task.last_change = task.last_change.max(at);
                let since = task.since;
                fx.transition(slot, from, State::Active(a));
                self.store.move_task(
                    slot,
                    placement,
                    from.map(|f| (f, old_since)),
                    Some((a, since)),
                );
                if a == ActiveState::Unreachable && !was_unreachable {
                    self.arm_unreachable(instance, id);
                }
                Step::Changed
            }
        }
    }

    /// Ends a task: transition into `to`, the expunge, an optional replacement, the time
    /// unreachable if it was; the task leaves the map and a tombstone stays.
    #[allow(clippy::too_many_arguments)]
    fn end(
        &mut self,
        instance: Key<'_>,
        id: &str,
        to: TerminalState,
        reason: ExpungeReason,
        replacement: Option<ReplacementReason>,
        at: Millis,
        fx: &mut impl Effects,
    ) -> Step {
        let Some(task) = self.instances.remove(instance, id) else {
            return Step::Unchanged;
        };
        let slot = self.apps.get(task.app).slot.unwrap_or(AppSlot::OTHER);
        if let Some(reason) = replacement {
            fx.replacement(slot, reason);
        }
        if task.state.is_some_and(ActiveState::is_unreachable) {
            fx.unreachable_duration(slot, seconds(at - task.since));
        }
        fx.transition(slot, task.state, State::Terminal(to));
        fx.expunge(slot, reason);
        let placement = self.placement(&task);
        self.store
            .move_task(slot, placement, task.state.map(|s| (s, task.since)), None);
        self.forget(&instance, task, at);
        Step::Ended
    }

    /// Drops a task that left the map and leaves its tombstone, kept for the TTL from the later of
    /// the task's end and `now` (a very old end still leaves a tombstone that outlives its repeats).
    fn forget(&mut self, instance: &str, task: Task, at: Millis) {
        self.tasks -= 1;
        self.agents.remove_task(task.agent, &self.store);
        let app = self.apps.get_mut(task.app);
        app.tasks -= 1;
        let expires = at.max(self.now).saturating_add(self.settings.tombstone_ttl);
        task.write_id(instance, &mut self.scratch);
        let id: Arc<str> = Arc::from(self.scratch.as_str());
        self.tombstones.insert(Arc::clone(&id), expires);
        self.push_timer(expires, TimerKind::Tombstone { task: id, expires });
    }

    /// Whether `id` has a tombstone that is not due yet (one due by `now` is dropped first, so two
    /// copies of an input are judged alike whenever the timers ran).
    fn tombstoned(&mut self, id: &str) -> bool {
        match self.tombstones.get(id) {
            None => false,
            Some(&expires) if expires > self.now => true,
            Some(_) => {
                self.tombstones.remove(id);
                false
            }
        }
    }

    /// The app was deleted (`app_terminated_event`, or missing from `/v2/apps`) at `at`.
    fn app_deleted(&mut self, app: &str, at: Millis) {
        let Some(idx) = self.apps.lookup(app) else {
            return;
        };
        self.set_app_deadline(idx, at.saturating_add(self.settings.app_retention));
    }

    /// An app counted something while it has no task and no listing names it: it retires
    /// `--app.retention` after its last counted event, unless a task or a listing keeps it.
    fn keep_while_counted(&mut self, idx: AppIdx) {
        let app = self.apps.get(idx);
        if app.tasks > 0 || app.listed_app || app.listed_pod {
            return;
        }
        let deadline = self.now.saturating_add(self.settings.app_retention);
        if app.delete_at.is_none_or(|d| d < deadline) {
            self.set_app_deadline(idx, deadline);
        }
    }

    /// The latest strategy received for an app wins; running unreachable clocks follow it.
    fn set_strategy(&mut self, idx: AppIdx, strategy: Option<Strategy>) {
        let app = self.apps.get_mut(idx);
        if app.strategy != strategy {
            app.strategy = strategy;
            self.rearm_apps(&std::iter::once(idx).collect());
            self.apps.publish(idx, &self.store);
        }
    }

    fn strategy_of(&self, task: &Task) -> Strategy {
        self.apps
            .get(task.app)
            .strategy
            .unwrap_or(self.settings.default_strategy)
    }
}

/// A duration on Marathon's clock in seconds, never negative (events can arrive out of order).
fn seconds(ms: Millis) -> f64 {
    ms.max(0) as f64 / 1000.0
}

/// A Mesos state as the state it enters, for snapshot tasks (`TASK_LOST` never appears there).
fn snapshot_target(state: MesosState) -> Option<State> {
    state.target()
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
