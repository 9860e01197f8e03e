//! One test per rule of RULES.md, named for the behaviour. The rules that make resyncs, clocks
//! and tombstones exact are in `drift.rs`.

mod drift;
mod operators;

use super::*;
use crate::state::Tally;
use crate::state::snapshot::{Snapshot, SnapshotApp, SnapshotTask};
use crate::state::{Condition, InstanceChanged, Status, StatusUpdate};

pub(super) const T0: Millis = 1_602_061_982_771;
pub(super) const S: Millis = 1_000;
pub(super) const MIN: Millis = 60 * S;
pub(super) const WEB: &str = "/prod/web";

/// A 1.8+ task id of `app` (`/prod/web` → `prod_web.instance-<n>._app.1`) and its instance.
pub(super) fn ids(app: &str, n: u32) -> (String, String) {
    let safe = app.trim_start_matches('/').replace('/', "_");
    let instance = format!("{safe}.instance-{n:08x}-0890-11eb-9a3f-0242f5e1c6d2");
    (format!("{instance}._app.1"), instance)
}

pub(super) struct H {
    pub e: Engine,
    pub t: Tally,
}

impl H {
    pub fn new() -> Self {
        H::with(Settings::default())
    }

    pub fn with(settings: Settings) -> Self {
        H {
            e: Engine::new(settings),
            t: Tally::new(),
        }
    }

    pub fn status_full(
        &mut self,
        app: &str,
        n: u32,
        status: &str,
        at: Millis,
        message: &str,
        reason: Option<&str>,
    ) {
        self.status_with(app, n, status, (message, reason, None), at, at);
    }

    /// A status of task `n` of `app` stamped `at` with `(message, reason, host)`, applied when the
    /// engine's clock reads `now`: the one place the engine tests build a status update.
    pub fn status_with(
        &mut self,
        app: &str,
        n: u32,
        status: &str,
        (message, reason, host): (&str, Option<&str>, Option<&str>),
        at: Millis,
        now: Millis,
    ) {
        let (id, instance) = ids(app, n);
        let update = StatusUpdate {
            task: TaskRef {
                id: &id,
                instance: instance.as_str().into(),
                pod: false,
            },
            app,
            status: MesosState::parse(status).map_or(Status::Other, Status::Known),
            message,
            reason,
            host,
            timestamp: at,
        };
        self.e.apply(&Input::Status(update), now, &mut self.t);
    }

    pub fn status(&mut self, app: &str, n: u32, status: &str, at: Millis) {
        self.status_full(app, n, status, at, "", None);
    }

    pub fn instance(&mut self, app: &str, n: u32, condition: &str, at: Millis) {
        let (_, instance) = ids(app, n);
        let event = InstanceChanged {
            instance: instance.as_str().into(),
            app,
            condition: Condition::parse(condition),
            timestamp: at,
        };
        self.e
            .apply(&Input::InstanceChanged(event), at, &mut self.t);
    }

    pub fn strategy(&mut self, app: &str, strategy: Option<Strategy>, at: Millis) {
        let input = Input::AppDefinition {
            app,
            strategy,
            timestamp: at,
            instances: None,
            labels: None,
        };
        self.e.apply(&input, at, &mut self.t);
    }

    pub fn tick(&mut self, now: Millis) {
        self.e.tick(now, &mut self.t);
    }

    pub fn state(&self, app: &str, n: u32) -> Option<Option<ActiveState>> {
        let (id, instance) = ids(app, n);
        self.e.task_state(&instance, &id)
    }

    pub fn tr(&self, from: &str, to: &str) -> u64 {
        self.t.transition_count(WEB, from, to)
    }

    pub fn gauge(&self, state: ActiveState) -> i64 {
        self.e
            .reader()
            .app(AppSlot(1))
            .map_or(0, |v| v.tasks[state.index()])
    }

    pub fn snapshot(
        &mut self,
        requested_at: Millis,
        now: Millis,
        tasks: &[(u32, &str)],
        apps: &[(&str, Option<Strategy>)],
    ) {
        self.snapshot_answered((requested_at, None), now, tasks, apps);
    }

    /// A snapshot requested at `.0` and answered at `.1` (Marathon's `Date`), applied at `now`.
    pub fn snapshot_answered(
        &mut self,
        (requested_at, answered_at): (Millis, Option<Millis>),
        now: Millis,
        tasks: &[(u32, &str)],
        apps: &[(&str, Option<Strategy>)],
    ) {
        let ids: Vec<(String, String)> = tasks.iter().map(|(n, _)| ids(WEB, *n)).collect();
        let snapshot = Snapshot {
            requested_at,
            answered_at,
            tasks: tasks
                .iter()
                .zip(&ids)
                .map(|((_, state), (id, instance))| SnapshotTask {
                    id,
                    instance,
                    app: WEB,
                    state: MesosState::parse(state).expect("valid state"),
                    pod: false,
                    host: "",
                    health: None,
                })
                .collect(),
            apps: apps
                .iter()
                .map(|(id, strategy)| SnapshotApp {
                    id: (*id).into(),
                    strategy: *strategy,
                    instances: None,
                    labels: None,
                })
                .collect(),
            pods: None,
            deployments: None,
        };
        self.e.apply_snapshot(&snapshot, now, &mut self.t);
    }
}

pub(super) fn with_strategy(inactive: Millis, expunge: Millis) -> H {
    let mut h = H::new();
    h.strategy(WEB, Some(Strategy::enabled(inactive, expunge)), T0 - MIN);
    h
}

// ---- States and transitions ----

#[test]
fn first_status_counts_a_transition_from_none() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_STAGING", T0);
    h.status(WEB, 1, "TASK_STARTING", T0 + S);
    h.status(WEB, 1, "TASK_RUNNING", T0 + 2 * S);
    assert_eq!(h.tr("none", "staging"), 1);
    assert_eq!(h.tr("staging", "starting"), 1);
    assert_eq!(h.tr("starting", "running"), 1);
    assert_eq!(h.gauge(ActiveState::Running), 1);
}

#[test]
fn repeated_state_counts_no_transition_but_a_status_update() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_RUNNING", T0 + S);
    assert_eq!(h.tr("none", "running"), 1);
    assert_eq!(h.t.transitions.len(), 1);
    assert_eq!(h.t.status_count(WEB, "running"), 2);
}

#[test]
fn failed_task_is_expunged_and_replaced() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_FAILED", T0 + S);
    assert_eq!(h.tr("running", "failed"), 1);
    assert_eq!(h.t.expunge_count(WEB, "failed"), 1);
    assert_eq!(h.t.replacement_count(WEB, "failed"), 1);
    assert_eq!(h.state(WEB, 1), None);
    assert_eq!(h.e.tombstones(), 1);
    assert_eq!(h.gauge(ActiveState::Running), 0);
}

#[test]
fn each_terminal_state_counts_its_expunge_and_replacement_per_the_table() {
    let rows = [
        ("TASK_ERROR", "error", Some("error")),
        ("TASK_FAILED", "failed", Some("failed")),
        ("TASK_DROPPED", "dropped", Some("dropped")),
        ("TASK_GONE", "gone", Some("gone")),
        (
            "TASK_GONE_BY_OPERATOR",
            "gone_by_operator",
            Some("gone_by_operator"),
        ),
        ("TASK_UNKNOWN", "unknown", Some("unknown")),
        ("TASK_FINISHED", "finished", None),
        ("TASK_KILLED", "killed", None),
    ];
    for (status, expunge, replacement) in rows {
        let mut h = H::new();
        h.status(WEB, 1, "TASK_RUNNING", T0);
        h.status(WEB, 1, status, T0 + S);
        assert_eq!(h.tr("running", expunge), 1, "{status}");
        assert_eq!(h.t.expunge_count(WEB, expunge), 1, "{status}");
        let replaced: u64 = h.t.replacements.values().sum();
        assert_eq!(replaced, u64::from(replacement.is_some()), "{status}");
        if let Some(reason) = replacement {
            assert_eq!(h.t.replacement_count(WEB, reason), 1, "{status}");
        }
    }
}

#[test]
fn error_at_launch_counts_none_to_error_with_expunge_replacement_and_tombstone() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_ERROR", T0);
    assert_eq!(h.tr("none", "error"), 1);
    assert_eq!(h.t.expunge_count(WEB, "error"), 1);
    assert_eq!(h.t.replacement_count(WEB, "error"), 1);
    assert_eq!(h.e.tombstones(), 1);
    assert_eq!(h.e.tasks(), 0);
}

#[test]
fn status_for_a_tombstoned_task_is_ignored_silently_but_is_a_status_update() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_FINISHED", T0);
    h.status(WEB, 1, "TASK_RUNNING", T0 + S);
    h.status(WEB, 1, "TASK_LOST", T0 + 2 * S);
    assert_eq!(h.t.transitions.values().sum::<u64>(), 1);
    assert_eq!(h.t.error_count("stale"), 0);
    assert_eq!(h.t.status_count(WEB, "running"), 1);
    assert_eq!(h.t.status_count(WEB, "lost"), 1);
    assert_eq!(h.e.tasks(), 0);
}

#[test]
fn unknown_task_status_counts_an_error_and_keeps_the_state() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_EXPLODED", T0 + S);
    assert_eq!(h.t.error_count("unknown_status"), 1);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    assert_eq!(h.t.status_updates.values().sum::<u64>(), 1);
}

#[test]
fn the_app_label_is_the_events_app_id() {
    let mut h = H::new();
    let (id, instance) = ids("/other/name", 1);
    let update = StatusUpdate {
        task: TaskRef {
            id: &id,
            instance: instance.as_str().into(),
            pod: false,
        },
        app: WEB,
        status: Status::Known(MesosState::Running),
        message: "",
        reason: None,
        timestamp: T0,
        host: None,
    };
    h.e.apply(&Input::Status(update), T0, &mut h.t);
    assert_eq!(h.tr("none", "running"), 1);
    assert_eq!(h.t.known, vec![WEB.to_owned()]);
}

// ---- Unreachable ----

#[test]
fn unreachable_with_inactive_after_zero_is_replaced_at_once() {
    let mut h = H::new(); // default strategy: 0s / 15m
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + S);
    assert_eq!(h.tr("running", "unreachable"), 1);
    assert_eq!(h.tr("unreachable", "unreachable_inactive"), 1);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(
        h.state(WEB, 1),
        Some(Some(ActiveState::UnreachableInactive))
    );
}

#[test]
fn unreachable_turns_inactive_at_its_apps_inactive_after() {
    let mut h = with_strategy(60 * S, 10 * MIN);
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + S);
    h.tick(T0 + 60 * S);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 0);
    assert_eq!(h.gauge(ActiveState::Unreachable), 1);
    h.tick(T0 + 61 * S);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.gauge(ActiveState::UnreachableInactive), 1);
    h.tick(T0 + 5 * MIN);
    assert_eq!(
        h.t.replacement_count(WEB, "unreachable"),
        1,
        "once per episode"
    );
}

#[test]
fn unreachable_task_that_comes_back_observes_its_time_unreachable_only() {
    let mut h = with_strategy(60 * S, 10 * MIN);
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + S);
    h.status(WEB, 1, "TASK_RUNNING", T0 + 31 * S);
    assert_eq!(h.tr("unreachable", "running"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![30.0]);
    assert_eq!(h.t.replacements.values().sum::<u64>(), 0);
    assert_eq!(h.t.expunges.values().sum::<u64>(), 0);
}

#[test]
fn task_unreachable_again_while_inactive_changes_nothing() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    let before = h.t.rule_total();
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + 10 * S);
    assert_eq!(h.t.rule_total(), before);
    h.status(WEB, 1, "TASK_RUNNING", T0 + 20 * S);
    assert_eq!(
        h.t.unreachable_durations[WEB],
        vec![20.0],
        "the clock kept running"
    );
}

#[test]
fn inactive_task_that_ends_counts_the_expunge_but_no_second_replacement() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.status(WEB, 1, "TASK_GONE", T0 + 5 * S);
    assert_eq!(h.tr("unreachable_inactive", "gone"), 1);
    assert_eq!(h.t.expunge_count(WEB, "gone"), 1);
    assert_eq!(h.t.replacement_count(WEB, "gone"), 0);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![5.0]);
}

#[test]
fn failure_after_the_unreachable_episode_ended_counts_its_replacement() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.status(WEB, 1, "TASK_RUNNING", T0 + S);
    h.status(WEB, 1, "TASK_FAILED", T0 + 2 * S);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.t.replacement_count(WEB, "failed"), 1);
}

#[test]
fn unreachable_but_not_inactive_task_that_fails_counts_per_the_table() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.status(WEB, 1, "TASK_FAILED", T0 + 10 * S);
    assert_eq!(h.tr("unreachable", "failed"), 1);
    assert_eq!(h.t.replacement_count(WEB, "failed"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![10.0]);
}

#[test]
fn expunge_timer_marks_unknown_at_its_threshold_with_reason_unreachable_timeout() {
    let mut h = with_strategy(60 * S, 10 * MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.tick(T0 + 10 * MIN - 1);
    assert_eq!(h.e.tasks(), 1);
    h.tick(T0 + 10 * MIN);
    assert_eq!(h.tr("unreachable_inactive", "unknown"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unreachable_timeout"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unknown"), 0);
    assert_eq!(h.t.replacement_count(WEB, "unknown"), 0);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![600.0]);
    assert_eq!(h.e.tombstones(), 1);
}

#[test]
fn timers_evaluated_late_take_effect_at_their_threshold_instant() {
    let mut h = with_strategy(60 * S, 10 * MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.tick(T0 + 3 * 60 * MIN);
    // Both steps happened, in order, each at its threshold: the duration is exactly expungeAfter.
    assert_eq!(h.tr("unreachable", "unreachable_inactive"), 1);
    assert_eq!(h.tr("unreachable_inactive", "unknown"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![600.0]);
    // The tombstone is kept a TTL from when the end was applied (the later instant), so a repeat
    // of the task's last status arriving after the late evaluation is still recognised.
    h.tick(T0 + 3 * 60 * MIN + 15 * MIN - 1);
    assert_eq!(h.e.tombstones(), 1);
    h.tick(T0 + 3 * 60 * MIN + 15 * MIN);
    assert_eq!(h.e.tombstones(), 0);
}

#[test]
fn expunge_after_zero_expunges_on_the_first_unreachable() {
    let mut h = with_strategy(0, 0);
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + S);
    assert_eq!(h.tr("running", "unreachable"), 1);
    assert_eq!(h.tr("unreachable", "unreachable_inactive"), 1);
    assert_eq!(h.tr("unreachable_inactive", "unknown"), 1);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unreachable_timeout"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![0.0]);
    assert_eq!(h.e.tasks(), 0);
}

#[test]
fn disabled_strategy_is_never_inactive_nor_expunged_by_time() {
    let mut h = H::new();
    h.strategy(WEB, Some(Strategy::DISABLED), T0 - MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.tick(T0 + 30 * 24 * 60 * MIN);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Unreachable)));
    assert_eq!(h.t.replacements.values().sum::<u64>(), 0);
}

#[test]
fn apps_without_a_strategy_use_the_configured_defaults() {
    let settings = Settings {
        default_strategy: Strategy::enabled(2 * MIN, 7 * MIN),
        ..Settings::default()
    };
    let mut h = H::with(settings);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.tick(T0 + 2 * MIN);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    h.tick(T0 + 7 * MIN);
    assert_eq!(h.t.expunge_count(WEB, "unreachable_timeout"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![420.0]);
}

#[test]
fn the_latest_strategy_received_wins_even_mid_episode() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.strategy(WEB, Some(Strategy::enabled(MIN, 2 * MIN)), T0 + 30 * S);
    h.tick(T0 + 2 * MIN);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unreachable_timeout"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![120.0]);
}

#[test]
fn pod_tasks_use_the_default_strategy_unless_their_listing_names_one() {
    let pod = "/prod/pod";
    let instance = "prod_pod.instance-0e4b6d1a-0894-11eb-9a3f-0242f5e1c6d2";
    let unreachable = |h: &mut H, container: &str, at: Millis| {
        let id = format!("{instance}.{container}.1");
        let update = StatusUpdate {
            task: TaskRef {
                id: &id,
                instance: instance.into(),
                pod: true,
            },
            app: pod,
            status: Status::Known(MesosState::Unreachable),
            message: "",
            reason: None,
            timestamp: at,
            host: None,
        };
        h.e.apply(&Input::Status(update), at, &mut h.t);
    };
    let mut h = H::new();
    unreachable(&mut h, "redis", T0);
    assert_eq!(
        h.t.replacement_count(pod, "unreachable"),
        1,
        "default inactiveAfter 0"
    );

    let mut h = H::new();
    let listing = Snapshot {
        requested_at: T0 - MIN,
        pods: Some(vec![SnapshotApp {
            id: pod.into(),
            strategy: Some(Strategy::DISABLED),
            instances: None,
            labels: None,
        }]),
        ..Snapshot::default()
    };
    h.e.apply_snapshot(&listing, T0 - MIN, &mut h.t);
    unreachable(&mut h, "redis", T0);
    h.tick(T0 + 60 * MIN);
    assert_eq!(
        h.t.replacements.values().sum::<u64>(),
        0,
        "the pod's own strategy"
    );
}

// ---- Time ----

#[test]
fn a_status_older_than_the_last_change_is_stale() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_STAGING", T0);
    h.status(WEB, 1, "TASK_RUNNING", T0 + 10 * S);
    h.status(WEB, 1, "TASK_STARTING", T0 + 5 * S);
    assert_eq!(h.t.error_count("stale"), 1);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    assert_eq!(
        h.t.status_count(WEB, "starting"),
        1,
        "stale events are status updates too"
    );
}

#[test]
fn a_repeat_does_not_move_the_last_change() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_RUNNING", T0 + 10 * S);
    h.status(WEB, 1, "TASK_FAILED", T0 + 5 * S);
    assert_eq!(h.t.error_count("stale"), 0);
    assert_eq!(h.tr("running", "failed"), 1);
}

#[test]
fn instance_events_are_never_stale() {
    let mut h = with_strategy(10 * MIN, 20 * MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + 10 * S);
    h.instance(WEB, 1, "UnreachableInactive", T0);
    assert_eq!(h.t.error_count("stale"), 0);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
}

#[test]
fn time_to_running_runs_from_first_staging_to_first_running() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_STAGING", T0);
    h.status(WEB, 1, "TASK_STARTING", T0 + 2 * S);
    h.status(WEB, 1, "TASK_RUNNING", T0 + 7 * S);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + 8 * S);
    h.status(WEB, 1, "TASK_RUNNING", T0 + 9 * S);
    h.status(WEB, 2, "TASK_RUNNING", T0);
    assert_eq!(h.t.time_to_running[WEB], vec![7.0]);
}

// ---- LOST ----

pub(super) fn lost(h: &mut H, n: u32, at: Millis, message: &str, reason: Option<&str>) {
    h.status_full(WEB, n, "TASK_LOST", at, message, reason);
}

#[test]
fn lost_with_the_reconciliation_message_is_unknown() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(
        &mut h,
        1,
        T0 + S,
        "Reconciliation: Task is unknown to the master",
        None,
    );
    assert_eq!(h.tr("running", "unknown"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unknown"), 1);
    assert_eq!(h.t.replacement_count(WEB, "unknown"), 1);
    assert_eq!(h.t.status_count(WEB, "lost"), 1);
}

#[test]
fn lost_reason_decides_when_the_payload_has_one() {
    let rows = [
        ("REASON_TASK_UNKNOWN", "unknown"),
        ("REASON_RECONCILIATION", "unreachable"),
        ("REASON_SLAVE_DISCONNECTED", "unreachable"),
        ("REASON_SLAVE_REMOVED", "unreachable"),
        ("REASON_CONTAINER_LIMITATION_MEMORY", "gone"),
    ];
    for (reason, to) in rows {
        let mut h = H::new();
        h.status(WEB, 1, "TASK_RUNNING", T0);
        lost(&mut h, 1, T0 + S, "", Some(reason));
        assert_eq!(h.tr("running", to), 1, "{reason}");
    }
}

#[test]
fn lost_without_reason_waits_for_its_instance_event() {
    let rows = [
        ("Gone", "gone"),
        ("Unknown", "unknown"),
        ("Unreachable", "unreachable"),
        ("Failed", "failed"),
        ("Killed", "killed"),
        ("Finished", "finished"),
        ("Error", "error"),
        ("Dropped", "dropped"),
    ];
    for (condition, to) in rows {
        let mut h = with_strategy(5 * MIN, 10 * MIN);
        h.status(WEB, 1, "TASK_RUNNING", T0);
        lost(&mut h, 1, T0 + S, "Agent 10.0.3.42 removed", None);
        assert_eq!(
            h.state(WEB, 1),
            Some(Some(ActiveState::Running)),
            "pending keeps the state"
        );
        assert_eq!(h.t.transitions.len(), 1);
        h.instance(WEB, 1, condition, T0 + S + 1);
        assert_eq!(h.tr("running", to), 1, "{condition}");
    }
}

#[test]
fn lost_resolved_unreachable_inactive_counts_the_replacement_at_once() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(&mut h, 1, T0 + S, "", None);
    h.instance(WEB, 1, "UnreachableInactive", T0 + S + 1);
    assert_eq!(h.tr("running", "unreachable"), 1);
    assert_eq!(h.tr("unreachable", "unreachable_inactive"), 1);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
}

#[test]
fn lost_resolved_by_an_active_condition_keeps_the_state() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(&mut h, 1, T0 + S, "", None);
    h.instance(WEB, 1, "Running", T0 + S + 1);
    h.tick(T0 + MIN);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    assert_eq!(h.t.transitions.len(), 1);
}

#[test]
fn a_task_first_seen_as_lost_is_untracked_until_resolved_then_from_none() {
    let mut h = H::new();
    lost(&mut h, 1, T0, "", None);
    assert_eq!(h.state(WEB, 1), Some(None));
    assert_eq!(h.e.reader().tracked(), 0);
    assert_eq!(h.gauge(ActiveState::Running), 0);
    h.instance(WEB, 1, "Running", T0 + 1);
    assert_eq!(h.tr("none", "running"), 1);
    assert_eq!(h.e.reader().tracked(), 1);
}

#[test]
fn lost_resolve_timeout_makes_the_task_gone_at_the_deadline() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(&mut h, 1, T0 + S, "", None);
    h.tick(T0 + 6 * S - 1);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    h.tick(T0 + 6 * S);
    assert_eq!(h.tr("running", "gone"), 1);
    assert_eq!(h.t.replacement_count(WEB, "gone"), 1);
}

#[test]
fn lost_resolve_timeout_keeps_an_unreachable_task_unreachable() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    lost(&mut h, 1, T0 + S, "", None);
    h.tick(T0 + MIN);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Unreachable)));
    assert_eq!(h.t.transitions.len(), 1);
}

#[test]
fn an_instance_event_after_the_timeout_finds_the_lost_resolved() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(&mut h, 1, T0 + S, "", None);
    h.instance(WEB, 1, "Unreachable", T0 + 7 * S);
    assert_eq!(h.tr("running", "gone"), 1);
    assert_eq!(h.tr("running", "unreachable"), 0);
}

#[test]
fn another_status_ends_a_pending_lost() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(&mut h, 1, T0 + S, "", None);
    h.status(WEB, 1, "TASK_KILLED", T0 + 2 * S);
    h.tick(T0 + MIN);
    assert_eq!(h.tr("running", "killed"), 1);
    assert_eq!(h.tr("running", "gone"), 0);
}

#[test]
fn a_second_lost_does_not_extend_the_window_but_a_reason_resolves_it() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(&mut h, 1, T0 + S, "", None);
    lost(&mut h, 1, T0 + 4 * S, "", None);
    h.tick(T0 + 6 * S);
    assert_eq!(
        h.tr("running", "gone"),
        1,
        "resolved at the first LOST's deadline"
    );

    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(&mut h, 1, T0 + S, "", None);
    lost(&mut h, 1, T0 + 2 * S, "", Some("REASON_SLAVE_REMOVED"));
    h.tick(T0 + MIN);
    assert_eq!(h.tr("running", "unreachable"), 1);
    assert_eq!(h.tr("running", "gone"), 0);
}

// ---- instance_changed_event ----

#[test]
fn unreachable_inactive_condition_replaces_an_unreachable_task_now() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.instance(WEB, 1, "UnreachableInactive", T0 + 70 * S);
    assert_eq!(h.tr("unreachable", "unreachable_inactive"), 1);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    h.tick(T0 + 6 * MIN);
    assert_eq!(
        h.t.replacement_count(WEB, "unreachable"),
        1,
        "the timer does not count it again"
    );
}

#[test]
fn killed_condition_force_expunges_an_unreachable_task() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.instance(WEB, 1, "Killed", T0 + 90 * S);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.tr("unreachable", "killed"), 1);
    assert_eq!(h.tr("unreachable", "unreachable_inactive"), 0);
    assert_eq!(h.t.expunge_count(WEB, "unreachable_timeout"), 1);
    assert_eq!(h.t.expunge_count(WEB, "killed"), 0);
    assert_eq!(h.t.unreachable_durations[WEB], vec![90.0]);
}

#[test]
fn killed_condition_for_an_inactive_task_does_not_replace_again() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_UNREACHABLE", T0);
    h.instance(WEB, 1, "Killed", T0 + 90 * S);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.tr("unreachable_inactive", "killed"), 1);
}

#[test]
fn other_instance_events_change_nothing() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    for condition in [
        "Running",
        "Killed",
        "Failed",
        "UnreachableInactive",
        "Gone",
        "Scheduled",
    ] {
        h.instance(WEB, 1, condition, T0 + S);
    }
    h.instance(WEB, 2, "Failed", T0 + S);
    assert_eq!(h.t.transitions.len(), 1);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
}

#[test]
fn an_unrecognised_condition_counts_unknown_status() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.instance(WEB, 1, "Vanished", T0 + S);
    assert_eq!(h.t.error_count("unknown_status"), 1);
}

#[test]
fn pod_instance_conditions_apply_to_every_task_in_the_required_state() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    let instance = "prod_web.instance-0e4b6d1a-0894-11eb-9a3f-0242f5e1c6d2";
    for (container, status) in [
        ("redis", MesosState::Unreachable),
        ("proxy", MesosState::Unreachable),
        ("log", MesosState::Running),
    ] {
        let id = format!("{instance}.{container}.1");
        let update = StatusUpdate {
            task: TaskRef {
                id: &id,
                instance: instance.into(),
                pod: true,
            },
            app: WEB,
            status: Status::Known(status),
            message: "",
            reason: None,
            timestamp: T0,
            host: None,
        };
        h.e.apply(&Input::Status(update), T0, &mut h.t);
    }
    let event = InstanceChanged {
        instance: instance.into(),
        app: WEB,
        condition: Some(Condition::UnreachableInactive),
        timestamp: T0 + S,
    };
    h.e.apply(&Input::InstanceChanged(event), T0 + S, &mut h.t);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 2);
    assert_eq!(h.gauge(ActiveState::Running), 1);
}

// ---- Other inputs ----

#[test]
fn unknown_instance_terminated_is_counted_and_makes_the_app_known() {
    let mut h = H::new();
    let input = Input::UnknownInstanceTerminated {
        app: WEB,
        timestamp: T0,
    };
    h.e.apply(&input, T0, &mut h.t);
    assert_eq!(h.t.unknown_terminations[WEB], 1);
    assert_eq!(h.t.known, vec![WEB.to_owned()]);
}

#[test]
fn a_terminated_app_retires_after_the_retention_when_it_has_no_task() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 1, "TASK_KILLED", T0 + S);
    h.e.apply(
        &Input::AppTerminated {
            app: WEB,
            timestamp: T0 + 2 * S,
        },
        T0 + 2 * S,
        &mut h.t,
    );
    h.tick(T0 + 2 * S + 10 * MIN - 1);
    assert!(h.t.retired.is_empty());
    h.tick(T0 + 2 * S + 10 * MIN);
    assert_eq!(h.t.retired, vec![WEB.to_owned()]);
    assert!(h.e.reader().app(AppSlot(1)).is_none());
    assert_eq!(h.e.known_apps(), 0);
}

#[test]
fn a_task_seen_during_the_retention_cancels_the_deletion() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_KILLED", T0);
    h.e.apply(
        &Input::AppTerminated {
            app: WEB,
            timestamp: T0 + S,
        },
        T0 + S,
        &mut h.t,
    );
    h.status(WEB, 2, "TASK_STAGING", T0 + MIN);
    h.status(WEB, 2, "TASK_FINISHED", T0 + 2 * MIN);
    h.tick(T0 + 30 * MIN);
    assert!(h.t.retired.is_empty());
    assert_eq!(h.e.known_apps(), 1);
}

#[test]
fn series_of_a_known_app_start_at_zero() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 2, "TASK_RUNNING", T0);
    assert_eq!(h.t.known, vec![WEB.to_owned()], "known once");
}

#[test]
fn apps_past_the_limit_are_counted_under_other_and_a_retired_app_frees_its_slot() {
    let settings = Settings {
        app_limit: 2,
        ..Settings::default()
    };
    let mut h = H::with(settings);
    for app in ["/a", "/b", "/c", "/d"] {
        h.status(app, 1, "TASK_RUNNING", T0);
    }
    assert_eq!(h.t.known, vec!["/a", "/b", "__other__"]);
    assert_eq!(h.t.transition_count("__other__", "none", "running"), 2);
    assert_eq!(h.e.reader().over_limit(), 2);
    h.status("/a", 1, "TASK_FINISHED", T0 + S);
    h.e.apply(
        &Input::AppTerminated {
            app: "/a",
            timestamp: T0 + S,
        },
        T0 + S,
        &mut h.t,
    );
    h.tick(T0 + 11 * MIN);
    h.status("/e", 1, "TASK_RUNNING", T0 + 12 * MIN);
    assert_eq!(
        h.t.transition_count("/e", "none", "running"),
        1,
        "the freed slot is taken"
    );
    assert_eq!(
        h.t.transition_count("/c", "none", "running"),
        0,
        "apps under __other__ stay there"
    );
}

#[test]
fn gauges_count_tasks_per_state_and_the_oldest_unreachable() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 2, "TASK_UNREACHABLE", T0 + S);
    h.status(WEB, 3, "TASK_UNREACHABLE", T0 + 2 * S);
    let view = h.e.reader().app(AppSlot(1)).unwrap();
    assert_eq!(view.tasks, [0, 0, 1, 0, 2, 0]);
    assert_eq!(view.oldest_unreachable(), Some(T0 + S));
    assert_eq!(h.e.reader().tracked(), 3);
}

#[test]
fn tombstones_expire_after_their_ttl() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_FAILED", T0);
    h.tick(T0 + 15 * MIN - 1);
    assert_eq!(h.e.tombstones(), 1);
    h.tick(T0 + 15 * MIN);
    assert_eq!(h.e.tombstones(), 0);
}

// ---- Snapshot ----

#[test]
fn the_first_snapshot_seeds_the_map_silently() {
    let mut h = H::new();
    h.snapshot(
        T0,
        T0,
        &[(1, "TASK_RUNNING"), (2, "TASK_STAGING")],
        &[(WEB, Some(Strategy::enabled(0, 0)))],
    );
    assert_eq!(h.t.rule_total(), 0);
    assert!(h.t.corrections.is_empty());
    assert_eq!(h.t.known, vec![WEB.to_owned()], "its series start at 0");
    assert_eq!(h.e.reader().tracked(), 2);
    assert!(h.e.is_seeded());
    h.status(WEB, 2, "TASK_RUNNING", T0 + S);
    assert!(
        !h.t.time_to_running.contains_key(WEB),
        "seeded tasks observe no time to running"
    );
}

#[test]
fn a_seeded_unreachable_task_with_expunge_after_zero_is_not_tracked_and_leaves_a_tombstone() {
    let mut h = H::new();
    h.snapshot(
        T0,
        T0,
        &[(1, "TASK_UNREACHABLE")],
        &[(WEB, Some(Strategy::enabled(0, 0)))],
    );
    assert_eq!(h.e.tasks(), 0);
    assert_eq!(h.e.tombstones(), 1);
    assert_eq!(h.t.rule_total(), 0);
}

#[test]
fn a_seeded_unreachable_task_counts_its_later_timers() {
    let mut h = H::new();
    h.snapshot(
        T0,
        T0,
        &[(1, "TASK_UNREACHABLE")],
        &[(WEB, Some(Strategy::enabled(MIN, 5 * MIN)))],
    );
    h.tick(T0 + 5 * MIN);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unreachable_timeout"), 1);
    assert_eq!(h.t.unreachable_durations[WEB], vec![300.0]);
}

#[test]
fn a_later_snapshot_adds_a_missing_task_with_only_a_correction() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[(1, "TASK_RUNNING")], &[]);
    assert_eq!(
        h.t.correction_count("added"),
        0,
        "not before the removal delay"
    );
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.t.correction_count("added"), 1);
    assert_eq!(h.t.rule_total(), 0);
    assert_eq!(h.gauge(ActiveState::Running), 1);
}

#[test]
fn an_added_unreachable_task_starts_its_clock_at_the_request() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[], &[(WEB, Some(Strategy::enabled(MIN, 5 * MIN)))]);
    h.snapshot(
        T0 + MIN,
        T0 + MIN + 300,
        &[(1, "TASK_UNREACHABLE")],
        &[(WEB, Some(Strategy::enabled(MIN, 5 * MIN)))],
    );
    h.tick(T0 + 6 * MIN);
    assert_eq!(h.t.unreachable_durations[WEB], vec![300.0]);
}

#[test]
fn a_vanished_task_is_expunged_unobserved_without_time_unreachable() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.snapshot(T0, T0, &[(1, "TASK_UNREACHABLE"), (2, "TASK_RUNNING")], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[(2, "TASK_RUNNING")], &[]);
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.t.correction_count("removed"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unobserved"), 1);
    assert!(h.t.transitions.is_empty());
    assert!(h.t.unreachable_durations.is_empty());
    assert_eq!(h.e.reader().tracked(), 1);
}

#[test]
fn a_changed_state_is_applied_through_the_rules_with_a_correction() {
    let mut h = with_strategy(5 * MIN, 10 * MIN);
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[(1, "TASK_UNREACHABLE")], &[]);
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.t.correction_count("state"), 1);
    assert_eq!(h.tr("running", "unreachable"), 1);
    assert_eq!(h.t.status_updates.len(), 0);
}

#[test]
fn a_terminal_task_in_the_snapshot_ends_a_known_task_and_is_not_added_otherwise() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING"), (3, "TASK_FAILED")], &[]);
    h.snapshot(
        T0 + MIN,
        T0 + MIN,
        &[(1, "TASK_FAILED"), (2, "TASK_FAILED")],
        &[],
    );
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.tr("running", "failed"), 1);
    assert_eq!(h.t.expunge_count(WEB, "failed"), 1);
    assert_eq!(h.t.replacement_count(WEB, "failed"), 1);
    assert_eq!(h.t.correction_count("state"), 1);
    assert_eq!(h.t.correction_count("added"), 0);
    assert_eq!(h.e.tasks(), 0);
}

#[test]
fn a_snapshot_never_resurrects_a_tombstoned_task() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[], &[]);
    h.status(WEB, 1, "TASK_KILLED", T0 + S);
    h.snapshot(T0 + MIN, T0 + MIN, &[(1, "TASK_RUNNING")], &[]);
    assert_eq!(h.e.tasks(), 0);
    assert_eq!(h.t.correction_count("added"), 0);
}

#[test]
fn events_newer_than_the_snapshot_request_win() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_STAGING")], &[]);
    h.status(WEB, 1, "TASK_RUNNING", T0 + 2 * MIN);
    h.status(WEB, 2, "TASK_STAGING", T0 + 2 * MIN);
    // Requested before those events, answered after.
    h.snapshot(T0 + MIN, T0 + 3 * MIN, &[(1, "TASK_STAGING")], &[]);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    assert_eq!(
        h.state(WEB, 2),
        Some(Some(ActiveState::Staging)),
        "first seen after the request"
    );
    assert!(h.t.corrections.is_empty());
}

#[test]
fn the_diff_leaves_pod_tasks_alone() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[], &[]);
    let instance = "prod_web.instance-0e4b6d1a-0894-11eb-9a3f-0242f5e1c6d2";
    let id = format!("{instance}.redis.1");
    let update = StatusUpdate {
        task: TaskRef {
            id: &id,
            instance: instance.into(),
            pod: true,
        },
        app: WEB,
        status: Status::Known(MesosState::Running),
        message: "",
        reason: None,
        timestamp: T0 + S,
        host: None,
    };
    h.e.apply(&Input::Status(update), T0 + S, &mut h.t);
    h.snapshot(T0 + MIN, T0 + MIN, &[], &[]);
    assert_eq!(h.e.tasks(), 1);
    assert!(h.t.corrections.is_empty());
}

#[test]
fn an_app_missing_from_a_later_apps_listing_is_deleted() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[(WEB, None)]);
    h.snapshot(T0 + MIN, T0 + MIN, &[], &[]);
    h.tick(T0 + 11 * MIN);
    assert_eq!(h.t.retired, vec![WEB.to_owned()]);
}

#[test]
fn snapshot_strategies_drive_the_timers() {
    let mut h = H::new();
    h.snapshot(
        T0,
        T0,
        &[],
        &[(WEB, Some(Strategy::enabled(2 * MIN, 4 * MIN)))],
    );
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + S);
    h.tick(T0 + S + 2 * MIN - 1);
    assert_eq!(h.t.replacement_count(WEB, "unreachable"), 0);
    h.tick(T0 + S + 4 * MIN);
    assert_eq!(h.t.unreachable_durations[WEB], vec![240.0]);
}
