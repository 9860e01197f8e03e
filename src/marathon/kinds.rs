//! Marathon's event types: the ones the stream subscribes to, and each type's `events_total`
//! label and whether the rules engine uses it.

/// The event types the stream subscribes to with `event_type=` (in this order).
pub const SUBSCRIBED: [&str; 16] = [
    "status_update_event",
    "instance_changed_event",
    "unknown_instance_terminated_event",
    "app_terminated_event",
    "api_post_event",
    "event_stream_attached",
    "unhealthy_instance_kill_event",
    "unhealthy_task_kill_event",
    "instance_health_changed_event",
    "health_status_changed_event",
    "deployment_info",
    "deployment_success",
    "deployment_failed",
    "pod_created_event",
    "pod_updated_event",
    "pod_deleted_event",
];

/// Declares [`EventKind`] with its wire names, in index order.
macro_rules! event_kinds {
    ($($variant:ident => $wire:literal,)*) => {
        /// Marathon's event types (`eventType`), plus `Unknown` for anything else.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($variant,)*
            Unknown,
        }

        impl EventKind {
            /// Every kind, in the order of [`EventKind::index`]; `Unknown` last.
            pub const ALL: [EventKind; [$($wire,)*].len() + 1] = [$(EventKind::$variant,)* EventKind::Unknown];

            /// The `events_total{type}` label: the wire name, or `unknown`.
            pub fn label(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $wire,)*
                    EventKind::Unknown => "unknown",
                }
            }

            /// The kind of an `eventType` value; `Unknown` when Marathon defines no such type.
            pub fn parse(event_type: &str) -> EventKind {
                match event_type {
                    $($wire => EventKind::$variant,)*
                    _ => EventKind::Unknown,
                }
            }
        }
    };
}

event_kinds! {
    StatusUpdate => "status_update_event",
    InstanceChanged => "instance_changed_event",
    UnknownInstanceTerminated => "unknown_instance_terminated_event",
    InstanceHealthChanged => "instance_health_changed_event",
    HealthStatusChanged => "health_status_changed_event",
    FailedHealthCheck => "failed_health_check_event",
    UnhealthyInstanceKill => "unhealthy_instance_kill_event",
    UnhealthyTaskKill => "unhealthy_task_kill_event",
    DeploymentInfo => "deployment_info",
    DeploymentStepSuccess => "deployment_step_success",
    DeploymentStepFailure => "deployment_step_failure",
    DeploymentSuccess => "deployment_success",
    DeploymentFailed => "deployment_failed",
    GroupChangeSuccess => "group_change_success",
    GroupChangeFailed => "group_change_failed",
    AppTerminated => "app_terminated_event",
    EventStreamAttached => "event_stream_attached",
    EventStreamDetached => "event_stream_detached",
    PodCreated => "pod_created_event",
    PodUpdated => "pod_updated_event",
    PodDeleted => "pod_deleted_event",
    ApiPost => "api_post_event",
    AddHealthCheck => "add_health_check_event",
    RemoveHealthCheck => "remove_health_check_event",
    SchedulerRegistered => "scheduler_registered_event",
    SchedulerReregistered => "scheduler_reregistered_event",
    SchedulerDisconnected => "scheduler_disconnected_event",
    FrameworkMessage => "framework_message_event",
    Subscribe => "subscribe_event",
    Unsubscribe => "unsubscribe_event",
    UnknownTaskTerminated => "unknown_task_terminated_event",
}

impl EventKind {
    /// Position in [`EventKind::ALL`], for arrays indexed by kind.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether [`RawEvent::input`] gives the rules engine an input for this type (for
    /// `api_post_event`, when it carries an app definition).
    pub fn feeds_engine(self) -> bool {
        matches!(
            self,
            EventKind::StatusUpdate
                | EventKind::InstanceChanged
                | EventKind::UnknownInstanceTerminated
                | EventKind::AppTerminated
                | EventKind::ApiPost
                | EventKind::UnhealthyInstanceKill
                | EventKind::UnhealthyTaskKill
                | EventKind::InstanceHealthChanged
                | EventKind::HealthStatusChanged
                | EventKind::DeploymentInfo
                | EventKind::DeploymentSuccess
                | EventKind::DeploymentFailed
        )
    }
}
