//! `TASK_LOST` (RULES.md, LOST): what the payload alone says, holding a LOST for its instance's
//! `instance_changed_event`, and resolving it by the condition that event carries.

use super::super::effects::Effects;
use super::super::{ActiveState, Condition, Millis, State, StatusUpdate, TaskRef, TerminalState};
use super::apps::AppIdx;
use super::tasks::Key;
use super::timers::TimerKind;
use super::{Engine, PendingLost, Step};

/// The message prefix Marathon uses for a LOST that reconciliation found unknown to the master.
const LOST_UNKNOWN_MESSAGE_PREFIX: &str = "Reconciliation: Task is unknown to the";

impl Engine {
    /// A pending LOST meets its instance's condition (RULES.md, LOST step 3).
    pub(super) fn resolve_lost(
        &mut self,
        instance: Key<'_>,
        id: &str,
        state: Option<ActiveState>,
        lost: PendingLost,
        condition: Condition,
        fx: &mut impl Effects,
    ) {
        let target = match condition {
            Condition::Gone => State::Terminal(TerminalState::Gone),
            Condition::Unknown => State::Terminal(TerminalState::Unknown),
            Condition::Unreachable | Condition::UnreachableInactive => {
                State::Active(ActiveState::Unreachable)
            }
            Condition::Failed => State::Terminal(TerminalState::Failed),
            Condition::Killed => State::Terminal(TerminalState::Killed),
            Condition::Finished => State::Terminal(TerminalState::Finished),
            Condition::Error => State::Terminal(TerminalState::Error),
            Condition::Dropped => State::Terminal(TerminalState::Dropped),
            Condition::Staging | Condition::Provisioned | Condition::Created => match state {
                Some(s) => State::Active(s),
                None => State::Active(ActiveState::Staging),
            },
            Condition::Starting => State::Active(state.unwrap_or(ActiveState::Starting)),
            Condition::Running => State::Active(state.unwrap_or(ActiveState::Running)),
            Condition::Killing => State::Active(state.unwrap_or(ActiveState::Killing)),
            // No task on an agent: says nothing about this one; the timeout decides.
            Condition::Scheduled | Condition::Reserved => return,
        };
        if let Some(task) = self.find_mut(instance, id) {
            task.set_lost(None);
        }
        let step = self.change(instance, id, target, lost.at, fx);
        if condition == Condition::UnreachableInactive && step != Step::Ended {
            let inactive = State::Active(ActiveState::UnreachableInactive);
            self.change(instance, id, inactive, lost.at, fx);
        }
    }

    /// Holds a LOST that the payload cannot resolve until its instance event or the timeout.
    pub(super) fn hold_lost(&mut self, task: &TaskRef<'_>, app: AppIdx, host: &str, at: Millis) {
        let key = self.ensure_task(task, app, host, at);
        let deadline = at.saturating_add(self.settings.lost_resolve_timeout);
        let Some(t) = self.find_mut(key, task.id) else {
            return;
        };
        if t.lost().is_some() {
            return; // a second LOST does not extend the window
        }
        // Not a change: a late status older than the LOST still applies (RULES.md, Time).
        t.set_lost(Some(PendingLost { at, deadline }));
        self.push_timer(
            deadline,
            TimerKind::Lost {
                instance: task.instance.as_ref().into(),
                task: task.id.into(),
                deadline,
            },
        );
    }
}

/// RULES.md LOST steps 1 and 2: what the payload alone says, if anything.
pub(super) fn resolution(update: &StatusUpdate<'_>) -> Option<State> {
    if update.message.starts_with(LOST_UNKNOWN_MESSAGE_PREFIX) {
        return Some(State::Terminal(TerminalState::Unknown));
    }
    match update.reason.filter(|r| !r.is_empty())? {
        "REASON_TASK_UNKNOWN" => Some(State::Terminal(TerminalState::Unknown)),
        "REASON_RECONCILIATION" | "REASON_SLAVE_DISCONNECTED" | "REASON_SLAVE_REMOVED" => {
            Some(State::Active(ActiveState::Unreachable))
        }
        _ => Some(State::Terminal(TerminalState::Gone)),
    }
}
