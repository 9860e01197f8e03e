//! The vocabulary of the rules engine: Mesos states, Marathon conditions, the exporter's task states,
//! reasons and strategies. Plain values, no behaviour beyond naming and wire spelling: what each
//! status does is in `engine/table.rs`, the inputs the engine accepts in `input.rs`, snapshots in
//! `snapshot.rs`.

use std::fmt;

/// Milliseconds since the Unix epoch on Marathon's clock (an event's `timestamp`).
pub type Millis = i64;

/// One of the 14 Mesos `TaskState` values, as carried by `status_update_event.taskStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MesosState {
    Staging,
    Starting,
    Running,
    Killing,
    Finished,
    Failed,
    Killed,
    Error,
    Lost,
    Dropped,
    Unreachable,
    Gone,
    GoneByOperator,
    Unknown,
}

impl MesosState {
    /// Every Mesos state, in the order of [`MesosState::index`].
    pub const ALL: [MesosState; 14] = [
        MesosState::Staging,
        MesosState::Starting,
        MesosState::Running,
        MesosState::Killing,
        MesosState::Finished,
        MesosState::Failed,
        MesosState::Killed,
        MesosState::Error,
        MesosState::Lost,
        MesosState::Dropped,
        MesosState::Unreachable,
        MesosState::Gone,
        MesosState::GoneByOperator,
        MesosState::Unknown,
    ];

    /// Parses the wire form (`TASK_RUNNING`). Anything else is `None`.
    pub fn parse(wire: &str) -> Option<Self> {
        let name = wire.strip_prefix("TASK_")?;
        Some(match name {
            "STAGING" => MesosState::Staging,
            "STARTING" => MesosState::Starting,
            "RUNNING" => MesosState::Running,
            "KILLING" => MesosState::Killing,
            "FINISHED" => MesosState::Finished,
            "FAILED" => MesosState::Failed,
            "KILLED" => MesosState::Killed,
            "ERROR" => MesosState::Error,
            "LOST" => MesosState::Lost,
            "DROPPED" => MesosState::Dropped,
            "UNREACHABLE" => MesosState::Unreachable,
            "GONE" => MesosState::Gone,
            "GONE_BY_OPERATOR" => MesosState::GoneByOperator,
            "UNKNOWN" => MesosState::Unknown,
            _ => return None,
        })
    }

    /// The wire form, as Mesos and Marathon write it (`TASK_RUNNING`); [`MesosState::parse`]
    /// reads it back.
    pub fn wire(self) -> &'static str {
        match self {
            MesosState::Staging => "TASK_STAGING",
            MesosState::Starting => "TASK_STARTING",
            MesosState::Running => "TASK_RUNNING",
            MesosState::Killing => "TASK_KILLING",
            MesosState::Finished => "TASK_FINISHED",
            MesosState::Failed => "TASK_FAILED",
            MesosState::Killed => "TASK_KILLED",
            MesosState::Error => "TASK_ERROR",
            MesosState::Lost => "TASK_LOST",
            MesosState::Dropped => "TASK_DROPPED",
            MesosState::Unreachable => "TASK_UNREACHABLE",
            MesosState::Gone => "TASK_GONE",
            MesosState::GoneByOperator => "TASK_GONE_BY_OPERATOR",
            MesosState::Unknown => "TASK_UNKNOWN",
        }
    }

    /// The `status` label: lower case, without `task_`.
    pub fn label(self) -> &'static str {
        match self {
            MesosState::Staging => "staging",
            MesosState::Starting => "starting",
            MesosState::Running => "running",
            MesosState::Killing => "killing",
            MesosState::Finished => "finished",
            MesosState::Failed => "failed",
            MesosState::Killed => "killed",
            MesosState::Error => "error",
            MesosState::Lost => "lost",
            MesosState::Dropped => "dropped",
            MesosState::Unreachable => "unreachable",
            MesosState::Gone => "gone",
            MesosState::GoneByOperator => "gone_by_operator",
            MesosState::Unknown => "unknown",
        }
    }

    /// Position in [`MesosState::ALL`], for arrays indexed by state.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Marathon's instance condition, as carried by `instance_changed_event.condition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    Scheduled,
    Provisioned,
    Created,
    Reserved,
    Staging,
    Starting,
    Running,
    Killing,
    Unreachable,
    UnreachableInactive,
    Finished,
    Killed,
    Error,
    Failed,
    Gone,
    Dropped,
    Unknown,
}

impl Condition {
    /// Parses Marathon's `Condition.toString` form (`UnreachableInactive`). Anything else is `None`.
    pub fn parse(wire: &str) -> Option<Self> {
        Some(match wire {
            "Scheduled" => Condition::Scheduled,
            "Provisioned" => Condition::Provisioned,
            "Created" => Condition::Created,
            "Reserved" => Condition::Reserved,
            "Staging" => Condition::Staging,
            "Starting" => Condition::Starting,
            "Running" => Condition::Running,
            "Killing" => Condition::Killing,
            "Unreachable" => Condition::Unreachable,
            "UnreachableInactive" => Condition::UnreachableInactive,
            "Finished" => Condition::Finished,
            "Killed" => Condition::Killed,
            "Error" => Condition::Error,
            "Failed" => Condition::Failed,
            "Gone" => Condition::Gone,
            "Dropped" => Condition::Dropped,
            "Unknown" => Condition::Unknown,
            _ => return None,
        })
    }
}

/// A state a tracked task can be in (the `state` label of `marathon_app_tasks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActiveState {
    Staging,
    Starting,
    Running,
    Killing,
    Unreachable,
    UnreachableInactive,
}

impl ActiveState {
    pub const ALL: [ActiveState; 6] = [
        ActiveState::Staging,
        ActiveState::Starting,
        ActiveState::Running,
        ActiveState::Killing,
        ActiveState::Unreachable,
        ActiveState::UnreachableInactive,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ActiveState::Staging => "staging",
            ActiveState::Starting => "starting",
            ActiveState::Running => "running",
            ActiveState::Killing => "killing",
            ActiveState::Unreachable => "unreachable",
            ActiveState::UnreachableInactive => "unreachable_inactive",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// `unreachable` or `unreachable_inactive`: the unreachable clock runs.
    pub fn is_unreachable(self) -> bool {
        matches!(
            self,
            ActiveState::Unreachable | ActiveState::UnreachableInactive
        )
    }
}

/// A terminal state: the task is expunged and leaves a tombstone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TerminalState {
    Finished,
    Killed,
    Failed,
    Error,
    Dropped,
    Gone,
    GoneByOperator,
    Unknown,
}

impl TerminalState {
    pub const ALL: [TerminalState; 8] = [
        TerminalState::Finished,
        TerminalState::Killed,
        TerminalState::Failed,
        TerminalState::Error,
        TerminalState::Dropped,
        TerminalState::Gone,
        TerminalState::GoneByOperator,
        TerminalState::Unknown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TerminalState::Finished => "finished",
            TerminalState::Killed => "killed",
            TerminalState::Failed => "failed",
            TerminalState::Error => "error",
            TerminalState::Dropped => "dropped",
            TerminalState::Gone => "gone",
            TerminalState::GoneByOperator => "gone_by_operator",
            TerminalState::Unknown => "unknown",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The target of a transition (the `to` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    Active(ActiveState),
    Terminal(TerminalState),
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Active(a) => a.label(),
            State::Terminal(t) => t.label(),
        }
    }

    /// Index over the 14 `to` values: the six active states, then the eight terminal ones.
    pub fn index(self) -> usize {
        match self {
            State::Active(a) => a.index(),
            State::Terminal(t) => ActiveState::ALL.len() + t.index(),
        }
    }

    pub const COUNT: usize = 14;
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// The `from` label of a transition: `None` is a task first seen.
pub fn from_label(from: Option<ActiveState>) -> &'static str {
    from.map_or("none", ActiveState::label)
}

/// Index over the 7 `from` values: `none`, then the six active states.
pub fn from_index(from: Option<ActiveState>) -> usize {
    from.map_or(0, |a| a.index() + 1)
}

/// `marathon_task_replacements_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplacementReason {
    Error,
    Failed,
    Dropped,
    Gone,
    GoneByOperator,
    Unknown,
    Unreachable,
    /// Marathon killed the task for failing its health checks and starts another.
    Unhealthy,
}

impl ReplacementReason {
    pub const ALL: [ReplacementReason; 8] = [
        ReplacementReason::Error,
        ReplacementReason::Failed,
        ReplacementReason::Dropped,
        ReplacementReason::Gone,
        ReplacementReason::GoneByOperator,
        ReplacementReason::Unknown,
        ReplacementReason::Unreachable,
        ReplacementReason::Unhealthy,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ReplacementReason::Error => "error",
            ReplacementReason::Failed => "failed",
            ReplacementReason::Dropped => "dropped",
            ReplacementReason::Gone => "gone",
            ReplacementReason::GoneByOperator => "gone_by_operator",
            ReplacementReason::Unknown => "unknown",
            ReplacementReason::Unreachable => "unreachable",
            ReplacementReason::Unhealthy => "unhealthy",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// `marathon_task_expunges_total{reason}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpungeReason {
    Error,
    Failed,
    Dropped,
    Gone,
    GoneByOperator,
    Unknown,
    Finished,
    Killed,
    UnreachableTimeout,
    Unobserved,
}

impl ExpungeReason {
    pub const ALL: [ExpungeReason; 10] = [
        ExpungeReason::Error,
        ExpungeReason::Failed,
        ExpungeReason::Dropped,
        ExpungeReason::Gone,
        ExpungeReason::GoneByOperator,
        ExpungeReason::Unknown,
        ExpungeReason::Finished,
        ExpungeReason::Killed,
        ExpungeReason::UnreachableTimeout,
        ExpungeReason::Unobserved,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ExpungeReason::Error => "error",
            ExpungeReason::Failed => "failed",
            ExpungeReason::Dropped => "dropped",
            ExpungeReason::Gone => "gone",
            ExpungeReason::GoneByOperator => "gone_by_operator",
            ExpungeReason::Unknown => "unknown",
            ExpungeReason::Finished => "finished",
            ExpungeReason::Killed => "killed",
            ExpungeReason::UnreachableTimeout => "unreachable_timeout",
            ExpungeReason::Unobserved => "unobserved",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// `marathon_exporter_resync_corrections_total{kind}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Correction {
    Added,
    Removed,
    State,
}

impl Correction {
    pub const ALL: [Correction; 3] = [Correction::Added, Correction::Removed, Correction::State];

    pub fn label(self) -> &'static str {
        match self {
            Correction::Added => "added",
            Correction::Removed => "removed",
            Correction::State => "state",
        }
    }
}

/// `marathon_exporter_event_errors_total{kind}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventError {
    Malformed,
    Oversized,
    UnknownStatus,
    Stale,
}

impl EventError {
    pub const ALL: [EventError; 4] = [
        EventError::Malformed,
        EventError::Oversized,
        EventError::UnknownStatus,
        EventError::Stale,
    ];

    pub fn label(self) -> &'static str {
        match self {
            EventError::Malformed => "malformed",
            EventError::Oversized => "oversized",
            EventError::UnknownStatus => "unknown_status",
            EventError::Stale => "stale",
        }
    }
}

/// An app's `unreachableStrategy`. `None` in a field means never (the `"disabled"` strategy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Strategy {
    pub inactive_after: Option<Millis>,
    pub expunge_after: Option<Millis>,
}

impl Strategy {
    /// `"unreachableStrategy": "disabled"`: never inactive, never expunged by time.
    pub const DISABLED: Strategy = Strategy {
        inactive_after: None,
        expunge_after: None,
    };

    pub fn enabled(inactive_after: Millis, expunge_after: Millis) -> Self {
        Strategy {
            inactive_after: Some(inactive_after),
            expunge_after: Some(expunge_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_wire_form() {
        for state in MesosState::ALL {
            assert_eq!(MesosState::parse(state.wire()), Some(state));
            assert_eq!(
                state.wire(),
                format!("TASK_{}", state.label().to_uppercase())
            );
        }
    }
}
