//! Status updates and instance events (RULES.md, Transitions and LOST): which task an input is
//! about, whether it is stale or tombstoned, the agent it is on, and the transition it makes.

use super::super::effects::Effects;
use super::super::store::Placement;
use super::super::{
    ActiveState, Condition, EventError, ExpungeReason, InstanceChanged, ReplacementReason, State,
    Status, StatusUpdate, TerminalState,
};
use super::agents::host_label;
use super::lost;
use super::tasks::{Health, Key, Task};
use super::{Engine, PendingLost};

impl Engine {
    pub(super) fn status(&mut self, update: &StatusUpdate<'_>, fx: &mut impl Effects) {
        let status = match update.status {
            Status::Known(status) => status,
            Status::Other => {
                fx.event_error(EventError::UnknownStatus);
                return;
            }
        };
        // One lookup of the task, then none of its app when the event names the app the task is
        // tracked under (the usual case), and none of the tombstones for a tracked task (a task
        // in the map never has one).
        let key = self.instances.key(&update.task.instance);
        let known = self.instances.find(key, update.task.id).map(|task| {
            (
                task.app,
                task.last_change,
                task.lost().is_some(),
                task.agent,
            )
        });
        let idx = match known {
            Some((app, ..)) if *self.apps.get(app).id == *update.app => app,
            _ => self.apps.intern(update.app),
        };
        let slot = self.apps.make_known(idx, &self.store, fx);
        fx.status_update(slot, status);
        let at = update.timestamp;
        if !self.fixes.is_empty() {
            self.fixes.remove(update.task.id); // the event says it: no correction
        }
        match known {
            None => {
                if self.tombstoned(update.task.id) {
                    self.keep_while_counted(idx);
                    return;
                }
                // Too old to tell from a task whose tombstone is gone.
                if at <= self.now.saturating_sub(self.settings.tombstone_ttl) {
                    fx.event_error(EventError::Stale);
                    self.keep_while_counted(idx);
                    return;
                }
            }
            Some((_, last_change, _, agent)) => {
                if at < last_change {
                    fx.event_error(EventError::Stale);
                    return;
                }
                let host = host_label(update.host);
                if !self.agents.is(agent, host) {
                    self.relocate(key, update.task.id, host);
                }
            }
        }
        let (known, lost) = (known.is_some(), known.is_some_and(|(_, _, lost, _)| lost));
        let target = match status.target() {
            Some(target) => Some(target),
            None => lost::resolution(update),
        };
        match target {
            Some(target) => {
                if !known {
                    self.insert_task(key, &update.task, idx, host_label(update.host), at);
                } else if lost && let Some(task) = self.find_mut(key, update.task.id) {
                    task.set_lost(None);
                }
                self.change(key, update.task.id, target, at, fx);
            }
            None => self.hold_lost(&update.task, idx, host_label(update.host), at),
        }
    }

    /// Moves a task in the map to the agent `host`.
    pub(super) fn relocate(&mut self, instance: Key<'_>, id: &str, host: &str) {
        let to = self.agents.add_task(host, &self.store);
        let Some(task) = self.instances.find_mut(instance, id) else {
            self.agents.remove_task(to, &self.store);
            return;
        };
        let from = std::mem::replace(&mut task.agent, to);
        if let Some(state) = task.state {
            self.store
                .move_agent(state, self.agents.slot(from), self.agents.slot(to));
        }
        self.agents.remove_task(from, &self.store);
    }

    /// Where a task counts besides its app: its agent and its health.
    pub(super) fn placement(&self, task: &Task) -> Placement {
        Placement {
            agent: self.agents.slot(task.agent),
            unhealthy: task.health == Health::Unhealthy,
        }
    }

    pub(super) fn instance_changed(&mut self, event: &InstanceChanged<'_>, fx: &mut impl Effects) {
        let Some(condition) = event.condition else {
            fx.event_error(EventError::UnknownStatus);
            return;
        };
        let instance = self.instances.key(&event.instance);
        let Some(tasks) = self.instances.instance(instance) else {
            return;
        };
        // Most instance events only confirm what the status update said: nothing to do, and
        // nothing to allocate.
        let acts = |t: &Task| {
            t.lost().is_some()
                || match (condition, t.state) {
                    (Condition::UnreachableInactive, Some(s)) => s == ActiveState::Unreachable,
                    (Condition::Killed, Some(s)) => s.is_unreachable(),
                    _ => false,
                }
        };
        if !tasks.iter().any(acts) {
            return;
        }
        let ids: Vec<(Box<str>, Option<ActiveState>, Option<PendingLost>)> = tasks
            .iter()
            .map(|t| (t.id(&instance), t.state, t.lost()))
            .collect();
        for (id, state, lost) in ids {
            if !self.fixes.is_empty() {
                self.fixes.remove(&id);
            }
            if let Some(lost) = lost {
                self.resolve_lost(instance, &id, state, lost, condition, fx);
                continue;
            }
            match (condition, state) {
                (Condition::UnreachableInactive, Some(ActiveState::Unreachable)) => {
                    let at = event.timestamp;
                    self.change(
                        instance,
                        &id,
                        State::Active(ActiveState::UnreachableInactive),
                        at,
                        fx,
                    );
                }
                (Condition::Killed, Some(s)) if s.is_unreachable() => {
                    // Marathon's force-expunge: only the instance event, no status update.
                    let replacement =
                        (s == ActiveState::Unreachable).then_some(ReplacementReason::Unreachable);
                    self.end(
                        instance,
                        &id,
                        TerminalState::Killed,
                        ExpungeReason::UnreachableTimeout,
                        replacement,
                        event.timestamp,
                        fx,
                    );
                }
                _ => {}
            }
        }
    }
}
