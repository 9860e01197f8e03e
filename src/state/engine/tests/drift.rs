//! The rules that keep the counters exact when snapshots race the stream (RULES.md, Snapshot:
//! removal delay, pods, strategy recency), when statuses are late (Time, Tombstones) and when apps
//! are known only through events (Apps). One test per behaviour.

use super::*;

const POD: &str = "/prod/db";
const POD_INSTANCE: &str = "prod_db.instance-0e4b6d1a-0894-11eb-9a3f-0242f5e1c6d2";

fn pod_task(container: &str) -> String {
    format!("{POD_INSTANCE}.{container}.1")
}

impl H {
    fn pod_status(&mut self, container: &str, status: MesosState, at: Millis) {
        let id = pod_task(container);
        let update = StatusUpdate {
            task: TaskRef {
                id: &id,
                instance: POD_INSTANCE.into(),
                pod: true,
            },
            app: POD,
            status: Status::Known(status),
            message: "",
            reason: None,
            timestamp: at,
            host: None,
        };
        self.e.apply(&Input::Status(update), at, &mut self.t);
    }

    /// A snapshot whose pod listing has `POD` with the given containers (`None`: a 404).
    fn pods_snapshot(&mut self, requested_at: Millis, now: Millis, pods: Option<&[(&str, &str)]>) {
        let ids: Vec<(String, MesosState)> = pods
            .unwrap_or_default()
            .iter()
            .map(|(c, s)| (pod_task(c), MesosState::parse(s).expect("valid state")))
            .collect();
        let snapshot = Snapshot {
            requested_at,
            answered_at: None,
            tasks: ids
                .iter()
                .map(|(id, state)| SnapshotTask {
                    id,
                    instance: POD_INSTANCE,
                    app: POD,
                    state: *state,
                    pod: true,
                    host: "",
                    health: None,
                })
                .collect(),
            apps: Vec::new(),
            pods: pods.map(|_| {
                vec![SnapshotApp {
                    id: POD.into(),
                    strategy: None,
                    instances: None,
                    labels: None,
                }]
            }),
            deployments: None,
        };
        self.e.apply_snapshot(&snapshot, now, &mut self.t);
    }

    /// A status stamped `at` applied when the engine's clock reads `now` (a late event).
    fn late_status(&mut self, n: u32, status: &str, at: Millis, now: Millis) {
        self.status_with(WEB, n, status, ("", None, None), at, now);
    }

    fn pod_state(&self, container: &str) -> Option<Option<ActiveState>> {
        self.e.task_state(POD_INSTANCE, &pod_task(container))
    }

    fn unknown_terminated(&mut self, app: &str, at: Millis) {
        let input = Input::UnknownInstanceTerminated { app, timestamp: at };
        self.e.apply(&input, at, &mut self.t);
    }

    fn app_terminated(&mut self, app: &str, at: Millis) {
        let input = Input::AppTerminated { app, timestamp: at };
        self.e.apply(&input, at, &mut self.t);
    }
}

// ---- Snapshot: the removal delay ----

#[test]
fn a_task_missing_from_a_snapshot_stays_in_the_gauges_until_the_removal_delay() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[], &[]);
    assert_eq!(h.gauge(ActiveState::Running), 1);
    assert!(h.t.corrections.is_empty());
    h.tick(T0 + MIN + 2 * S - 1);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.state(WEB, 1), None);
    assert_eq!(h.t.expunge_count(WEB, "unobserved"), 1);
    assert_eq!(h.t.correction_count("removed"), 1);
    assert_eq!(h.e.tombstones(), 1);
}

#[test]
fn a_kill_that_reaches_the_stream_after_the_snapshot_counts_killed_not_unobserved() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING"), (2, "TASK_RUNNING")], &[]);
    // Marathon killed task 1 and dropped it from its state before the event was on the stream.
    h.snapshot(T0 + MIN, T0 + MIN + 100, &[(2, "TASK_RUNNING")], &[]);
    h.status(WEB, 1, "TASK_KILLED", T0 + MIN - 300);
    h.tick(T0 + 2 * MIN);
    assert_eq!(h.tr("running", "killed"), 1);
    assert_eq!(h.t.expunge_count(WEB, "killed"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unobserved"), 0);
    assert!(h.t.corrections.is_empty(), "{:?}", h.t.corrections);
}

#[test]
fn a_task_listed_before_its_first_event_counts_from_none_when_the_event_follows() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[], &[]);
    // Marathon staged task 1 and listed it before the TASK_STAGING reached the stream.
    h.snapshot(T0 + MIN, T0 + MIN + 100, &[(1, "TASK_STAGING")], &[]);
    h.status(WEB, 1, "TASK_STAGING", T0 + MIN - 200);
    h.status(WEB, 1, "TASK_RUNNING", T0 + MIN + S);
    h.tick(T0 + 2 * MIN);
    assert_eq!(h.tr("none", "staging"), 1);
    assert_eq!(h.t.time_to_running[WEB].len(), 1);
    assert!(h.t.corrections.is_empty(), "{:?}", h.t.corrections);
}

#[test]
fn a_state_listed_ahead_of_the_stream_is_no_correction_when_its_event_follows() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_STAGING")], &[]);
    h.snapshot(T0 + MIN, T0 + MIN + 100, &[(1, "TASK_RUNNING")], &[]);
    h.status(WEB, 1, "TASK_RUNNING", T0 + MIN - 200);
    h.tick(T0 + 2 * MIN);
    assert_eq!(h.tr("staging", "running"), 1);
    assert!(h.t.corrections.is_empty(), "{:?}", h.t.corrections);
}

#[test]
fn a_listed_task_no_event_tells_of_is_added_after_the_delay() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[(1, "TASK_RUNNING")], &[]);
    assert_eq!(h.state(WEB, 1), None);
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    assert_eq!(h.t.correction_count("added"), 1);
    assert_eq!(h.t.rule_total(), 0, "a correction, not a transition");
}

#[test]
fn a_snapshot_answered_ahead_of_a_writer_behind_waits_the_delay_from_its_answer() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING"), (2, "TASK_RUNNING")], &[]);
    // A burst of events is on its way: the writer's clock is at T0 + MIN while Marathon answered
    // at T0 + MIN + 30 s, after killing task 1 (20 s) and staging task 3 (25 s).
    h.snapshot_answered(
        (T0 + MIN, Some(T0 + MIN + 30 * S)),
        T0 + MIN,
        &[(2, "TASK_RUNNING"), (3, "TASK_STAGING")],
        &[],
    );
    h.status(WEB, 2, "TASK_RUNNING", T0 + MIN + 10 * S);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    h.status(WEB, 1, "TASK_KILLED", T0 + MIN + 20 * S);
    h.status(WEB, 3, "TASK_STAGING", T0 + MIN + 25 * S);
    h.tick(T0 + 2 * MIN);
    assert_eq!(h.t.expunge_count(WEB, "killed"), 1);
    assert_eq!(h.t.expunge_count(WEB, "unobserved"), 0);
    assert_eq!(h.tr("none", "staging"), 1);
    assert!(h.t.corrections.is_empty(), "{:?}", h.t.corrections);
}

#[test]
fn a_snapshot_answer_far_ahead_of_the_clock_holds_corrections_back_five_minutes_at_most() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    h.snapshot_answered((T0 + MIN, Some(T0 + 60 * MIN)), T0 + MIN, &[], &[]);
    h.tick(T0 + 6 * MIN + 2 * S - 1);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    h.tick(T0 + 6 * MIN + 2 * S);
    assert_eq!(h.state(WEB, 1), None);
    assert_eq!(h.t.correction_count("removed"), 1);
}

#[test]
fn a_snapshot_answered_before_now_waits_the_delay_from_now() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    h.snapshot_answered((T0 + MIN, Some(T0 + MIN - 5 * S)), T0 + MIN, &[], &[]);
    h.tick(T0 + MIN + 2 * S - 1);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.t.correction_count("removed"), 1);
}

#[test]
fn any_status_for_the_task_within_the_delay_cancels_its_removal() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[], &[]);
    h.status(WEB, 1, "TASK_RUNNING", T0 + MIN + S);
    h.tick(T0 + 10 * MIN);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    assert!(h.t.corrections.is_empty());
}

#[test]
fn a_later_snapshot_that_lists_the_task_cancels_its_removal() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[], &[]);
    h.snapshot(T0 + MIN + S, T0 + MIN + S, &[(1, "TASK_RUNNING")], &[]);
    h.tick(T0 + 10 * MIN);
    assert_eq!(h.state(WEB, 1), Some(Some(ActiveState::Running)));
    assert!(h.t.corrections.is_empty());
}

#[test]
fn a_second_snapshot_missing_the_task_does_not_postpone_its_removal() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[], &[]);
    h.snapshot(T0 + MIN + S, T0 + MIN + S, &[], &[]);
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.state(WEB, 1), None);
    assert_eq!(h.t.correction_count("removed"), 1);
}

#[test]
fn a_missing_task_with_a_pending_lost_is_left_to_its_resolution() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    lost(&mut h, 1, T0 + S, "", None);
    h.snapshot(T0 + 2 * S, T0 + 2 * S, &[], &[]);
    h.tick(T0 + MIN);
    assert_eq!(h.tr("running", "gone"), 1, "the LOST timed out");
    assert_eq!(h.t.expunge_count(WEB, "unobserved"), 0);
}

#[test]
fn a_zero_removal_delay_removes_with_the_snapshot() {
    let mut h = H::with(Settings {
        removal_delay: 0,
        ..Settings::default()
    });
    h.snapshot(T0, T0, &[(1, "TASK_RUNNING")], &[]);
    h.snapshot(T0 + MIN, T0 + MIN, &[], &[]);
    assert_eq!(h.state(WEB, 1), None);
    assert_eq!(h.t.expunge_count(WEB, "unobserved"), 1);
}

// ---- Snapshot: pods ----

#[test]
fn pod_tasks_missing_from_the_pods_listing_are_removed_after_the_delay() {
    let mut h = H::new();
    h.pods_snapshot(
        T0,
        T0,
        Some(&[("redis", "TASK_RUNNING"), ("log", "TASK_RUNNING")]),
    );
    assert_eq!(h.e.tasks(), 2, "pod tasks seeded from the listing");
    assert!(h.t.corrections.is_empty());
    h.pods_snapshot(T0 + MIN, T0 + MIN, Some(&[("log", "TASK_RUNNING")]));
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.pod_state("redis"), None);
    assert_eq!(h.pod_state("log"), Some(Some(ActiveState::Running)));
    assert_eq!(h.t.expunge_count(POD, "unobserved"), 1);
}

#[test]
fn pod_tasks_listed_but_not_tracked_are_added_and_state_changes_applied() {
    let mut h = H::new();
    h.pods_snapshot(T0, T0, Some(&[]));
    h.pod_status("redis", MesosState::Running, T0 + S);
    h.pods_snapshot(
        T0 + MIN,
        T0 + MIN,
        Some(&[("redis", "TASK_UNREACHABLE"), ("log", "TASK_STAGING")]),
    );
    h.tick(T0 + MIN + 2 * S);
    assert_eq!(h.t.correction_count("added"), 1);
    assert_eq!(h.t.correction_count("state"), 1);
    assert_eq!(h.t.transition_count(POD, "running", "unreachable"), 1);
    assert_eq!(h.pod_state("log"), Some(Some(ActiveState::Staging)));
}

#[test]
fn without_a_pods_listing_pod_tasks_are_left_alone() {
    let mut h = H::new();
    h.pods_snapshot(T0, T0, Some(&[("redis", "TASK_RUNNING")]));
    h.pods_snapshot(T0 + MIN, T0 + MIN, None);
    h.tick(T0 + 10 * MIN);
    assert_eq!(h.pod_state("redis"), Some(Some(ActiveState::Running)));
    assert!(h.t.corrections.is_empty());
}

#[test]
fn a_pod_missing_from_a_later_pods_listing_is_not_deleted() {
    let mut h = H::new();
    h.pods_snapshot(T0, T0, Some(&[]));
    h.unknown_terminated(POD, T0 + S);
    h.snapshot(T0 + MIN, T0 + MIN, &[], &[]);
    h.tick(T0 + 5 * MIN);
    assert!(h.t.retired.is_empty(), "listed by the pods listing");
}

// ---- Snapshot: strategy recency ----

#[test]
fn a_snapshot_requested_before_an_api_post_keeps_the_posted_strategy() {
    let mut h = H::new();
    h.strategy(WEB, Some(Strategy::enabled(MIN, 2 * MIN)), T0 + S);
    // Requested before the post, answered after it with the old definition.
    h.snapshot(T0, T0 + 2 * S, &[], &[(WEB, Some(Strategy::DISABLED))]);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + 3 * S);
    h.tick(T0 + 3 * S + 2 * MIN);
    assert_eq!(h.t.expunge_count(WEB, "unreachable_timeout"), 1);
}

#[test]
fn a_snapshot_requested_after_an_api_post_sets_its_strategy() {
    let mut h = H::new();
    h.strategy(WEB, Some(Strategy::enabled(MIN, 2 * MIN)), T0);
    h.snapshot(T0 + S, T0 + 2 * S, &[], &[(WEB, Some(Strategy::DISABLED))]);
    h.status(WEB, 1, "TASK_UNREACHABLE", T0 + 3 * S);
    h.tick(T0 + 3 * S + 60 * MIN);
    assert_eq!(h.t.replacements.values().sum::<u64>(), 0);
}

// ---- Time: pending LOSTs ----

#[test]
fn a_pending_lost_does_not_move_the_last_change_so_an_older_kill_still_applies() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    lost(&mut h, 1, T0 + 2 * S, "", None);
    h.status(WEB, 1, "TASK_KILLED", T0 + S);
    h.tick(T0 + MIN);
    assert_eq!(h.tr("running", "killed"), 1);
    assert_eq!(h.tr("running", "gone"), 0);
    assert_eq!(h.t.replacements.values().sum::<u64>(), 0);
    assert_eq!(h.t.error_count("stale"), 0);
}

// ---- Tombstones ----

#[test]
fn a_terminal_status_stamped_longer_ago_than_the_ttl_counts_once_however_often_it_comes() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0 - 60 * MIN);
    h.tick(T0);
    // The end is stamped 20 minutes before `now`: its tombstone still lasts a TTL from `now`.
    h.late_status(1, "TASK_FAILED", T0 - 20 * MIN, T0);
    h.tick(T0 + 14 * MIN);
    h.late_status(1, "TASK_FAILED", T0 - 20 * MIN, T0 + 14 * MIN);
    assert_eq!(h.tr("running", "failed"), 1);
    assert_eq!(h.t.expunge_count(WEB, "failed"), 1);
    assert_eq!(h.e.tasks(), 0);

    // A late copy of an earlier status, younger than the TTL, still finds the tombstone.
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0 - 60 * MIN);
    h.tick(T0);
    h.late_status(1, "TASK_FAILED", T0 - 10 * MIN, T0);
    h.tick(T0 + 6 * MIN);
    h.late_status(1, "TASK_RUNNING", T0 - 8 * MIN, T0 + 6 * MIN);
    assert_eq!(h.e.tasks(), 0, "not tracked again");
    assert_eq!(h.t.transitions.len(), 2);
}

#[test]
fn a_status_for_an_unknown_task_stamped_a_ttl_ago_is_stale() {
    let mut h = H::new();
    h.tick(T0 + 15 * MIN);
    h.late_status(1, "TASK_FAILED", T0, T0 + 15 * MIN);
    assert_eq!(h.t.error_count("stale"), 1);
    assert_eq!(h.t.transitions.len(), 0);
    assert_eq!(h.t.status_count(WEB, "failed"), 1, "still a status update");
    h.late_status(2, "TASK_RUNNING", T0 + 1, T0 + 15 * MIN);
    assert_eq!(h.tr("none", "running"), 1, "younger than the TTL");
}

#[test]
fn a_tombstone_due_by_now_is_dropped_before_a_status_is_checked_against_it() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_FAILED", T0);
    // No tick ran since the tombstone fell due; the status is stamped before it did.
    let late = T0 + 15 * MIN + 5 * S;
    let (id, instance) = ids(WEB, 1);
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
        timestamp: T0 + 15 * MIN - S,
        host: None,
    };
    h.e.apply(&Input::Status(update.clone()), late, &mut h.t);
    let counted = (h.t.transitions.clone(), h.t.rule_total());
    h.e.apply(&Input::Status(update), late, &mut h.t);
    assert_eq!(
        (h.t.transitions.clone(), h.t.rule_total()),
        counted,
        "the second copy is judged like the first"
    );
}

// ---- Apps known only through events ----

#[test]
fn a_status_for_a_retired_apps_tombstoned_task_retires_again_after_the_retention() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_KILLED", T0);
    h.app_terminated(WEB, T0);
    h.tick(T0 + 10 * MIN);
    assert_eq!(h.t.retired, vec![WEB.to_owned()]);
    // A copy of the kill arrives late: the app's series come back, and go again.
    h.status(WEB, 1, "TASK_KILLED", T0 + 10 * MIN + S);
    assert_eq!(h.e.known_apps(), 1);
    h.tick(T0 + 20 * MIN + S);
    assert_eq!(h.e.known_apps(), 0);
    assert_eq!(h.t.retired, vec![WEB.to_owned(), WEB.to_owned()]);
}

#[test]
fn an_unknown_termination_keeps_a_taskless_unlisted_app_a_retention_after_the_last_one() {
    let mut h = H::new();
    h.unknown_terminated(WEB, T0);
    h.unknown_terminated(WEB, T0 + 5 * MIN);
    h.tick(T0 + 10 * MIN);
    assert_eq!(
        h.e.known_apps(),
        1,
        "the retention runs from the last event"
    );
    h.tick(T0 + 15 * MIN);
    assert_eq!(h.e.known_apps(), 0);
    assert_eq!(h.t.unknown_terminations[WEB], 2);
}

#[test]
fn an_app_listed_by_the_apps_listing_is_kept_without_tasks() {
    let mut h = H::new();
    h.snapshot(T0, T0, &[], &[(WEB, None)]);
    h.unknown_terminated(WEB, T0 + S);
    h.tick(T0 + 60 * MIN);
    assert_eq!(h.e.known_apps(), 1);
    assert!(h.t.retired.is_empty());
}

#[test]
fn a_task_tracked_again_keeps_the_app() {
    let mut h = H::new();
    h.unknown_terminated(WEB, T0);
    h.status(WEB, 1, "TASK_RUNNING", T0 + S);
    h.tick(T0 + 60 * MIN);
    assert_eq!(h.e.known_apps(), 1);
}
