//! RULES.md's tables: the state each Mesos status enters, and the expunge and replacement reasons
//! each terminal state counts.

use super::super::types::{
    ActiveState, ExpungeReason, MesosState, ReplacementReason, State, TerminalState,
};

impl MesosState {
    /// The exporter state this Mesos state enters; `None` for `TASK_LOST`, which is resolved (RULES.md, LOST).
    pub fn target(self) -> Option<State> {
        Some(match self {
            MesosState::Staging => State::Active(ActiveState::Staging),
            MesosState::Starting => State::Active(ActiveState::Starting),
            MesosState::Running => State::Active(ActiveState::Running),
            MesosState::Killing => State::Active(ActiveState::Killing),
            MesosState::Unreachable => State::Active(ActiveState::Unreachable),
            MesosState::Finished => State::Terminal(TerminalState::Finished),
            MesosState::Failed => State::Terminal(TerminalState::Failed),
            MesosState::Killed => State::Terminal(TerminalState::Killed),
            MesosState::Error => State::Terminal(TerminalState::Error),
            MesosState::Dropped => State::Terminal(TerminalState::Dropped),
            MesosState::Gone => State::Terminal(TerminalState::Gone),
            MesosState::GoneByOperator => State::Terminal(TerminalState::GoneByOperator),
            MesosState::Unknown => State::Terminal(TerminalState::Unknown),
            MesosState::Lost => return None,
        })
    }
}

impl TerminalState {
    /// The expunge reason of ending in this state.
    pub fn expunge_reason(self) -> ExpungeReason {
        match self {
            TerminalState::Finished => ExpungeReason::Finished,
            TerminalState::Killed => ExpungeReason::Killed,
            TerminalState::Failed => ExpungeReason::Failed,
            TerminalState::Error => ExpungeReason::Error,
            TerminalState::Dropped => ExpungeReason::Dropped,
            TerminalState::Gone => ExpungeReason::Gone,
            TerminalState::GoneByOperator => ExpungeReason::GoneByOperator,
            TerminalState::Unknown => ExpungeReason::Unknown,
        }
    }

    /// The replacement reason of ending in this state; `finished` and `killed` count none.
    pub fn replacement_reason(self) -> Option<ReplacementReason> {
        match self {
            TerminalState::Finished | TerminalState::Killed => None,
            TerminalState::Failed => Some(ReplacementReason::Failed),
            TerminalState::Error => Some(ReplacementReason::Error),
            TerminalState::Dropped => Some(ReplacementReason::Dropped),
            TerminalState::Gone => Some(ReplacementReason::Gone),
            TerminalState::GoneByOperator => Some(ReplacementReason::GoneByOperator),
            TerminalState::Unknown => Some(ReplacementReason::Unknown),
        }
    }
}
