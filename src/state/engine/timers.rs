//! Everything the engine does because time passed: unreachable tasks turning inactive and being
//! expunged, LOST resolve timeouts, tombstone expiry and app retention. Each takes effect at its
//! threshold instant, whenever it is evaluated, so live runs and replays count the same.

use std::cmp::Ordering;
use std::sync::Arc;

use super::super::effects::Effects;
use super::super::{ActiveState, DeploymentResult, ExpungeReason, Millis, State, TerminalState};
use super::apps::AppIdx;
use super::tasks::Key;
use super::{Engine, Step};

#[derive(Debug, PartialEq, Eq)]
pub(super) enum TimerKind {
    /// Re-evaluate a task's unreachable thresholds (validated against its current episode).
    Unreachable {
        instance: Box<str>,
        task: Box<str>,
        since: Millis,
    },
    /// A pending LOST's resolve timeout.
    Lost {
        instance: Box<str>,
        task: Box<str>,
        deadline: Millis,
    },
    Tombstone {
        task: Arc<str>,
        expires: Millis,
    },
    /// An app's retention timer (see [`Engine::set_app_deadline`]).
    App {
        idx: AppIdx,
        at: Millis,
    },
    /// A health-check kill's mark expires.
    HealthKill {
        task: Box<str>,
        at: Millis,
    },
    /// A counted deployment result is forgotten.
    DeploymentDone {
        id: Box<str>,
        result: DeploymentResult,
        at: Millis,
    },
    /// A snapshot's correction of a task is made now unless an event for it came first.
    Fix {
        task: Box<str>,
        at: Millis,
    },
}

/// A queued timer; the heap pops the earliest, ties in the order they were queued.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Timer {
    at: Millis,
    seq: u64,
    kind: TimerKind,
}

impl Ord for Timer {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Engine {
    pub(super) fn push_timer(&mut self, at: Millis, kind: TimerKind) {
        self.timer_seq += 1;
        self.timers.push(Timer {
            at,
            seq: self.timer_seq,
            kind,
        });
    }

    /// Fires every timer due by `now`, earliest first.
    pub(super) fn advance(&mut self, now: Millis, fx: &mut impl Effects) {
        while self.timers.peek().is_some_and(|t| t.at <= now) {
            let timer = self.timers.pop().expect("peeked");
            self.fire(timer.kind, now, fx);
        }
    }

    fn fire(&mut self, kind: TimerKind, now: Millis, fx: &mut impl Effects) {
        match kind {
            TimerKind::Unreachable {
                instance,
                task,
                since,
            } => {
                self.unreachable_due(self.instances.key(&instance), &task, since, now, fx);
            }
            TimerKind::Lost {
                instance,
                task,
                deadline,
            } => {
                self.lost_timeout(self.instances.key(&instance), &task, deadline, fx);
            }
            TimerKind::Tombstone { task, expires } => {
                if self.tombstones.get(&task) == Some(&expires) {
                    self.tombstones.remove(&task);
                }
            }
            TimerKind::App { idx, at } => self.retention_due(idx, at, now, fx),
            TimerKind::Fix { task, at } => self.fix_due(&task, at, fx),
            TimerKind::HealthKill { task, at } => self.health_kill_due(&task, at),
            TimerKind::DeploymentDone { id, result, at } => {
                self.deployment_done_due(&id, result, at);
            }
        }
    }

    /// Queues the next unreachable threshold of a task that is unreachable now.
    pub(super) fn arm_unreachable(&mut self, instance: Key<'_>, id: &str) {
        let Some(task) = self.find(instance, id) else {
            return;
        };
        let Some(state) = task.state.filter(|s| s.is_unreachable()) else {
            return;
        };
        let strategy = self.strategy_of(task);
        let since = task.since;
        let inactive = strategy.inactive_after.map(|d| since.saturating_add(d));
        let expunge = strategy.expunge_after.map(|d| since.saturating_add(d));
        let next = match (state, inactive, expunge) {
            (ActiveState::Unreachable, Some(i), Some(e)) => Some(i.min(e)),
            (ActiveState::Unreachable, Some(i), None) => Some(i),
            (_, _, e) => e,
        };
        if let Some(at) = next {
            self.push_timer(
                at,
                TimerKind::Unreachable {
                    instance: instance.as_str().into(),
                    task: id.into(),
                    since,
                },
            );
        }
    }

    /// Applies the unreachable thresholds of one task that are due by `now`.
    pub(super) fn unreachable_due_at(
        &mut self,
        instance: Key<'_>,
        id: &str,
        now: Millis,
        fx: &mut impl Effects,
    ) {
        if let Some(since) = self.find(instance, id).map(|t| t.since) {
            self.unreachable_due(instance, id, since, now, fx);
        }
    }

    /// RULES.md "Unreachable timers": inactive first, then expunge, each at its threshold.
    fn unreachable_due(
        &mut self,
        instance: Key<'_>,
        id: &str,
        since: Millis,
        now: Millis,
        fx: &mut impl Effects,
    ) {
        let Some(task) = self.find(instance, id) else {
            return;
        };
        if task.since != since || !task.state.is_some_and(ActiveState::is_unreachable) {
            return; // the episode this timer was armed for is over
        }
        let strategy = self.strategy_of(task);
        let inactive = strategy.inactive_after.map(|d| since.saturating_add(d));
        let expunge = strategy.expunge_after.map(|d| since.saturating_add(d));
        if task.state == Some(ActiveState::Unreachable) {
            // Step 1 always happens first, and no later than the expunge.
            let due = match (inactive, expunge) {
                (Some(i), Some(e)) if e <= now => Some(i.min(e)),
                (Some(i), _) if i <= now => Some(i),
                _ => None,
            };
            if let Some(at) = due {
                self.change(
                    instance,
                    id,
                    State::Active(ActiveState::UnreachableInactive),
                    at,
                    fx,
                );
            }
        }
        match expunge {
            Some(at) if at <= now => {
                let step = self.end(
                    instance,
                    id,
                    TerminalState::Unknown,
                    ExpungeReason::UnreachableTimeout,
                    None,
                    at,
                    fx,
                );
                debug_assert_eq!(step, Step::Ended);
            }
            _ => self.arm_unreachable(instance, id),
        }
    }

    /// RULES.md LOST step 4: no instance event came in time.
    fn lost_timeout(
        &mut self,
        instance: Key<'_>,
        id: &str,
        deadline: Millis,
        fx: &mut impl Effects,
    ) {
        let Some(task) = self.find_mut(instance, id) else {
            return;
        };
        if task.lost().map(|l| l.deadline) != Some(deadline) {
            return;
        }
        task.set_lost(None);
        if task.state.is_some_and(ActiveState::is_unreachable) {
            return; // it stays unreachable
        }
        self.change(
            instance,
            id,
            State::Terminal(TerminalState::Gone),
            deadline,
            fx,
        );
    }

    /// Sets when an app's series go; one retention timer is queued per app at a time.
    pub(super) fn set_app_deadline(&mut self, idx: AppIdx, delete_at: Millis) {
        let app = self.apps.get_mut(idx);
        app.delete_at = Some(delete_at);
        if app.timer_at.is_none_or(|t| t > delete_at) {
            app.timer_at = Some(delete_at);
            self.push_timer(delete_at, TimerKind::App { idx, at: delete_at });
        }
    }

    /// An app's retention timer fired: its series go unless it has tasks again, or the deadline
    /// moved (then the timer is queued again for it).
    fn retention_due(&mut self, idx: AppIdx, at: Millis, now: Millis, fx: &mut impl Effects) {
        let Some(app) = self.apps.try_get(idx) else {
            return;
        };
        if app.timer_at != Some(at) {
            return; // superseded by an earlier timer
        }
        let delete_at = app.delete_at;
        self.apps.get_mut(idx).timer_at = None;
        let Some(delete_at) = delete_at else {
            return; // cancelled
        };
        if delete_at > now {
            self.set_app_deadline(idx, delete_at);
            return;
        }
        if self.apps.get(idx).tasks > 0 || self.apps.get(idx).deploying > 0 {
            // Tasks of the deleted app are still being stopped: look again after another period
            // from this timer's instant, like every timer. Nothing but another timer can end
            // them meanwhile, so a look before the next timer due would find the same: skip to it.
            let next = self.timers.peek().map_or(now, |t| t.at.min(now));
            let again = at
                .saturating_add(self.settings.app_retention.max(1))
                .max(next);
            self.set_app_deadline(idx, again);
            return;
        }
        self.apps.retire(idx, &self.store, fx);
    }
}
