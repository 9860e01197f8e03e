//! The inputs the rules engine accepts, one per event it acts on, borrowing from the payload.

use std::borrow::Cow;

use super::types::{Condition, MesosState, Millis, Strategy};

/// A task as the engine identifies it: its id and the canonical id of its instance
/// (`<safePath>.instance-<uuid>` or `<safePath>.marathon-<uuid>`), both from `marathon::ids`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRef<'a> {
    pub id: &'a str,
    pub instance: std::borrow::Cow<'a, str>,
    /// A pod container task (container name other than `_app`/`$anon`): `/v2/tasks` never lists it.
    pub pod: bool,
}

/// `taskStatus` as received: one of the 14 Mesos states, or something else (counted
/// `unknown_status`; which word it was is not kept: a byte here keeps a status update within
/// 128 bytes, which the ingest benchmark showed to be moved markedly cheaper).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Known(MesosState),
    Other,
}

/// `status_update_event`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusUpdate<'a> {
    pub task: TaskRef<'a>,
    /// The event's `appId`.
    pub app: &'a str,
    pub status: Status,
    pub message: &'a str,
    /// A Mesos `TaskStatus.Reason` (`REASON_SLAVE_REMOVED`); Marathon's own events carry none.
    pub reason: Option<&'a str>,
    /// The agent host Marathon gave the task (`host`); `None` when absent or null.
    pub host: Option<&'a str>,
    pub timestamp: Millis,
}

/// `instance_changed_event`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceChanged<'a> {
    /// Canonical instance id.
    pub instance: std::borrow::Cow<'a, str>,
    /// The event's `runSpecId`.
    pub app: &'a str,
    /// `None` when the condition is not one Marathon defines.
    pub condition: Option<Condition>,
    pub timestamp: Millis,
}

/// One decoded event the rules act on. Other event types only move the clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    Status(StatusUpdate<'a>),
    InstanceChanged(InstanceChanged<'a>),
    /// `unknown_instance_terminated_event`.
    UnknownInstanceTerminated {
        app: &'a str,
        timestamp: Millis,
    },
    /// `app_terminated_event`.
    AppTerminated {
        app: &'a str,
        timestamp: Millis,
    },
    /// `api_post_event` carrying an app definition: its strategy (`None` when it names none), its
    /// instances and labels when it has them.
    AppDefinition {
        app: &'a str,
        strategy: Option<Strategy>,
        instances: Option<u32>,
        labels: Option<Vec<(Cow<'a, str>, Cow<'a, str>)>>,
        timestamp: Millis,
    },
    /// `unhealthy_instance_kill_event` (`unhealthy_task_kill_event` up to 1.3): Marathon kills the
    /// task for failing health checks. Stamped with the previous failure.
    HealthKill {
        app: &'a str,
        task: TaskRef<'a>,
        timestamp: Millis,
    },
    /// `instance_health_changed_event` (`healthy`) or `health_status_changed_event` (`alive`):
    /// the latest health report of an instance's tasks; `None` is unknown.
    Health {
        instance: Cow<'a, str>,
        healthy: Option<bool>,
        timestamp: Millis,
    },
    /// `deployment_info`: the deployment is in progress and touches these apps and pods.
    DeploymentInfo {
        id: Cow<'a, str>,
        apps: Vec<Cow<'a, str>>,
        timestamp: Millis,
    },
    /// `deployment_success` / `deployment_failed`.
    DeploymentEnd {
        id: Cow<'a, str>,
        result: DeploymentResult,
        timestamp: Millis,
    },
}

/// How a deployment ended: `marathon_deployments_total{result}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeploymentResult {
    Success,
    Failed,
}

impl DeploymentResult {
    pub const ALL: [DeploymentResult; 2] = [DeploymentResult::Success, DeploymentResult::Failed];

    pub fn label(self) -> &'static str {
        match self {
            DeploymentResult::Success => "success",
            DeploymentResult::Failed => "failed",
        }
    }
}

impl Input<'_> {
    pub fn timestamp(&self) -> Millis {
        match self {
            Input::Status(s) => s.timestamp,
            Input::InstanceChanged(i) => i.timestamp,
            Input::UnknownInstanceTerminated { timestamp, .. }
            | Input::AppTerminated { timestamp, .. }
            | Input::AppDefinition { timestamp, .. }
            | Input::HealthKill { timestamp, .. }
            | Input::Health { timestamp, .. }
            | Input::DeploymentInfo { timestamp, .. }
            | Input::DeploymentEnd { timestamp, .. } => *timestamp,
        }
    }
}
