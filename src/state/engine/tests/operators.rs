//! The rules of what an operator asks when paged (RULES.md: Health, Desired instances and strategy,
//! Deployments, Agents, App labels). One test per behaviour.

use std::borrow::Cow;

use super::*;
use crate::state::DeploymentResult;
use crate::state::snapshot::SnapshotDeployment;

impl H {
    fn status_on(&mut self, app: &str, n: u32, status: &str, host: Option<&str>, at: Millis) {
        self.status_with(app, n, status, ("", None, host), at, at);
    }

    fn health_kill(&mut self, app: &str, n: u32, at: Millis) {
        let (id, instance) = ids(app, n);
        let input = Input::HealthKill {
            app,
            task: TaskRef {
                id: &id,
                instance: instance.as_str().into(),
                pod: false,
            },
            timestamp: at,
        };
        self.e.apply(&input, at, &mut self.t);
    }

    fn health(&mut self, app: &str, n: u32, healthy: Option<bool>, at: Millis) {
        let (_, instance) = ids(app, n);
        let input = Input::Health {
            instance: instance.into(),
            healthy,
            timestamp: at,
        };
        self.e.apply(&input, at, &mut self.t);
    }

    fn deployment(&mut self, id: &str, apps: &[&str], at: Millis) {
        let input = Input::DeploymentInfo {
            id: id.into(),
            apps: apps.iter().map(|a| Cow::Borrowed(*a)).collect(),
            timestamp: at,
        };
        self.e.apply(&input, at, &mut self.t);
    }

    fn deployment_end(&mut self, id: &str, result: DeploymentResult, at: Millis) {
        let input = Input::DeploymentEnd {
            id: id.into(),
            result,
            timestamp: at,
        };
        self.e.apply(&input, at, &mut self.t);
    }

    fn definition(
        &mut self,
        app: &str,
        instances: Option<u32>,
        labels: &[(&str, &str)],
        at: Millis,
    ) {
        let input = Input::AppDefinition {
            app,
            strategy: None,
            instances,
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
                    .collect(),
            ),
            timestamp: at,
        };
        self.e.apply(&input, at, &mut self.t);
    }

    fn view(&self) -> crate::state::AppView {
        self.e.reader().app(AppSlot(1)).expect("the app is known")
    }

    fn info(&self) -> crate::state::AppInfo {
        self.view()
            .info
            .expect("an app of its own has its definition")
    }

    fn agent_tasks(&self, agent: &str) -> Option<[i64; 6]> {
        self.e.reader().agent(agent).map(|v| v.tasks)
    }
}

fn labelled(allowlist: &str) -> H {
    H {
        e: Engine::new(Settings::default()).with_label_allowlist(LabelAllowlist::parse(allowlist)),
        t: Tally::new(),
    }
}

// ---- Health ----

#[test]
fn a_health_check_kill_counts_once_and_its_killed_end_counts_an_unhealthy_replacement() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.health_kill(WEB, 1, T0 - S);
    h.health_kill(WEB, 1, T0 - S);
    assert_eq!(
        h.t.health_kills[WEB], 1,
        "a repeat of the same event counts nothing"
    );
    h.status(WEB, 1, "TASK_KILLED", T0 + S);
    assert_eq!(h.t.replacement_count(WEB, "unhealthy"), 1);
    assert_eq!(h.t.expunge_count(WEB, "killed"), 1);
    assert_eq!(h.tr("running", "killed"), 1);
}

#[test]
fn a_health_killed_task_that_fails_counts_only_its_own_replacement() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.health_kill(WEB, 1, T0);
    h.status(WEB, 1, "TASK_FAILED", T0 + S);
    assert_eq!(h.t.replacement_count(WEB, "failed"), 1);
    assert_eq!(h.t.replacement_count(WEB, "unhealthy"), 0);
}

#[test]
fn a_killed_task_that_was_not_health_killed_counts_no_replacement() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.health_kill(WEB, 2, T0);
    h.status(WEB, 1, "TASK_KILLED", T0 + S);
    assert_eq!(h.t.replacements.values().sum::<u64>(), 0);
}

#[test]
fn unhealthy_tasks_follow_the_latest_health_report_of_their_instance() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.status(WEB, 2, "TASK_RUNNING", T0);
    assert_eq!(h.view().unhealthy, 0, "a new task's health is unknown");
    h.health(WEB, 1, Some(false), T0 + S);
    h.health(WEB, 2, Some(false), T0 + S);
    assert_eq!(h.view().unhealthy, 2);
    h.health(WEB, 1, Some(true), T0 + 2 * S);
    h.health(WEB, 2, None, T0 + 2 * S);
    assert_eq!(h.view().unhealthy, 0);
    h.health(WEB, 1, Some(false), T0 + 3 * S);
    h.status(WEB, 1, "TASK_KILLED", T0 + 4 * S);
    assert_eq!(h.view().unhealthy, 0, "an ended task leaves the count");
}

/// A snapshot requested at `requested_at` listing the running task `WEB` 1 with `health`.
fn web_1_with_health(
    id: &str,
    instance: &str,
    requested_at: Millis,
    health: Option<bool>,
) -> Snapshot {
    Snapshot {
        requested_at,
        tasks: [SnapshotTask {
            id,
            instance,
            app: WEB,
            state: MesosState::Running,
            pod: false,
            host: "10.0.0.1",
            health,
        }]
        .into_iter()
        .collect(),
        ..Snapshot::default()
    }
}

#[test]
fn a_snapshot_reports_health_from_its_check_results() {
    let mut h = H::new();
    let (id, instance) = ids(WEB, 1);
    let snapshot = |health| web_1_with_health(&id, &instance, T0, health);
    h.e.apply_snapshot(&snapshot(Some(false)), T0, &mut h.t);
    assert_eq!(h.view().unhealthy, 1);
    h.e.apply_snapshot(&snapshot(Some(true)), T0 + S, &mut h.t);
    assert_eq!(h.view().unhealthy, 0);
}

#[test]
fn a_snapshot_requested_before_a_health_event_does_not_undo_it() {
    let mut h = H::new();
    let (id, instance) = ids(WEB, 1);
    let snapshot = |requested_at, health| web_1_with_health(&id, &instance, requested_at, health);
    h.status(WEB, 1, "TASK_RUNNING", T0);
    // Requested while the task was still healthy, answered after its checks failed (a held
    // snapshot): the event's report is the latest.
    h.health(WEB, 1, Some(false), T0 + 10 * S);
    h.e.apply_snapshot(&snapshot(T0 + 5 * S, Some(true)), T0 + 12 * S, &mut h.t);
    assert_eq!(
        h.view().unhealthy,
        1,
        "the older snapshot is ignored for health"
    );
    h.e.apply_snapshot(&snapshot(T0 + 5 * S, None), T0 + 12 * S, &mut h.t);
    assert_eq!(
        h.view().unhealthy,
        1,
        "also when it has no check results yet"
    );
    // A snapshot requested after the event reports the latest health.
    h.e.apply_snapshot(&snapshot(T0 + 20 * S, Some(true)), T0 + 21 * S, &mut h.t);
    assert_eq!(h.view().unhealthy, 0);
}

// ---- Desired instances and strategy ----

#[test]
fn desired_instances_come_from_the_definition_and_are_absent_while_unknown() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    assert_eq!(h.info().instances, None);
    h.definition(WEB, Some(3), &[], T0 + S);
    assert_eq!(h.info().instances, Some(3));
    h.definition(WEB, None, &[], T0 + 2 * S);
    assert_eq!(
        h.info().instances,
        Some(3),
        "a post without instances keeps them"
    );
    let listing = Snapshot {
        requested_at: T0 + 3 * S,
        apps: vec![SnapshotApp {
            id: WEB.into(),
            instances: Some(5),
            ..SnapshotApp::default()
        }],
        ..Snapshot::default()
    };
    h.e.apply_snapshot(&listing, T0 + 3 * S, &mut h.t);
    assert_eq!(h.info().instances, Some(5));
}

#[test]
fn a_snapshot_requested_before_an_api_post_keeps_the_posted_instances() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.definition(WEB, Some(3), &[], T0 + 2 * S);
    let listing = Snapshot {
        requested_at: T0 + S,
        apps: vec![SnapshotApp {
            id: WEB.into(),
            instances: Some(1),
            ..SnapshotApp::default()
        }],
        ..Snapshot::default()
    };
    h.e.apply_snapshot(&listing, T0 + 3 * S, &mut h.t);
    assert_eq!(h.info().instances, Some(3));
}

#[test]
fn the_strategy_shown_is_the_one_applied_defaults_included() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    assert_eq!(h.info().strategy, Settings::default().default_strategy);
    h.strategy(WEB, Some(Strategy::DISABLED), T0 + S);
    assert_eq!(h.info().strategy, Strategy::DISABLED);
}

// ---- Deployments ----

#[test]
fn a_deployment_marks_the_apps_it_touches_until_it_ends_and_counts_its_result_once() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.deployment("d1", &[WEB, "/prod/api"], T0 + S);
    assert!(h.info().deploying);
    h.deployment("d1", &[WEB, "/prod/api"], T0 + 2 * S);
    h.deployment_end("d1", DeploymentResult::Success, T0 + 3 * S);
    h.deployment_end("d1", DeploymentResult::Success, T0 + 3 * S);
    assert!(!h.info().deploying);
    assert_eq!(h.t.deployments["success"], 1);
    h.deployment("d1", &[WEB], T0 + 4 * S);
    assert!(!h.info().deploying, "a late step of an ended deployment");
    assert_eq!(h.e.deploying(), 0);
}

#[test]
fn two_deployments_touching_one_app_keep_it_marked_until_both_end() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.deployment("d1", &[WEB], T0 + S);
    h.deployment("d2", &[WEB], T0 + S);
    h.deployment_end("d1", DeploymentResult::Failed, T0 + 2 * S);
    assert!(h.info().deploying);
    h.deployment_end("d2", DeploymentResult::Success, T0 + 3 * S);
    assert!(!h.info().deploying);
    assert_eq!(h.t.deployments["failed"], 1);
}

#[test]
fn a_resync_replaces_the_deployments_in_progress() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.deployment("missed-end", &[WEB], T0 + S);
    let listing = |at, deployments: Vec<SnapshotDeployment>| Snapshot {
        requested_at: at,
        deployments: Some(deployments),
        ..Snapshot::default()
    };
    h.e.apply_snapshot(&listing(T0 + 2 * S, vec![]), T0 + 2 * S, &mut h.t);
    assert!(!h.info().deploying, "its end event was missed");
    let missed_start = SnapshotDeployment {
        id: "missed-start".into(),
        apps: vec![WEB.into()],
    };
    h.e.apply_snapshot(
        &listing(T0 + 3 * S, vec![missed_start]),
        T0 + 3 * S,
        &mut h.t,
    );
    assert!(h.info().deploying);
    // A deployment that started after the request is kept.
    h.deployment("new", &[WEB], T0 + 5 * S);
    h.e.apply_snapshot(&listing(T0 + 4 * S, vec![]), T0 + 6 * S, &mut h.t);
    assert!(h.info().deploying);
    assert!(
        h.t.deployments.is_empty(),
        "results come from the events only"
    );
}

// ---- Agents ----

#[test]
fn tasks_count_on_the_agent_of_their_latest_status() {
    let mut h = H::new();
    h.status_on(WEB, 1, "TASK_STAGING", Some("10.0.0.1"), T0);
    h.status_on(WEB, 2, "TASK_RUNNING", None, T0);
    assert_eq!(h.agent_tasks("10.0.0.1"), Some([1, 0, 0, 0, 0, 0]));
    assert_eq!(h.agent_tasks("unknown"), Some([0, 0, 1, 0, 0, 0]));
    h.status_on(WEB, 2, "TASK_UNREACHABLE", Some("10.0.0.2"), T0 + S);
    assert_eq!(
        h.agent_tasks("unknown"),
        None,
        "an agent without tasks has no series"
    );
    assert_eq!(
        h.agent_tasks("10.0.0.2").map(|t| t[4] + t[5]),
        Some(1),
        "unreachable, then inactive at once"
    );
    h.status_on(WEB, 1, "TASK_FAILED", Some("10.0.0.1"), T0 + 2 * S);
    assert_eq!(h.agent_tasks("10.0.0.1"), None);
}

#[test]
fn agents_past_the_limit_are_counted_under_other_until_a_label_frees() {
    let mut h = H::with(Settings {
        agent_limit: 1,
        ..Settings::default()
    });
    h.status_on(WEB, 1, "TASK_RUNNING", Some("a"), T0);
    h.status_on(WEB, 2, "TASK_RUNNING", Some("b"), T0);
    h.status_on(WEB, 3, "TASK_RUNNING", Some("c"), T0);
    assert_eq!(h.agent_tasks("a"), Some([0, 0, 1, 0, 0, 0]));
    assert_eq!(h.agent_tasks("__other__"), Some([0, 0, 2, 0, 0, 0]));
    assert_eq!(h.agent_tasks("b"), None);
    h.status_on(WEB, 1, "TASK_KILLED", Some("a"), T0 + S);
    h.status_on(WEB, 4, "TASK_RUNNING", Some("d"), T0 + S);
    assert_eq!(
        h.agent_tasks("d"),
        Some([0, 0, 1, 0, 0, 0]),
        "the freed label"
    );
    h.status_on(WEB, 2, "TASK_KILLED", Some("b"), T0 + S);
    h.status_on(WEB, 3, "TASK_KILLED", Some("c"), T0 + S);
    assert_eq!(h.agent_tasks("__other__"), None);
}

#[test]
fn a_task_a_snapshot_adds_is_on_the_snapshots_agent() {
    let mut h = H::new();
    let (id, instance) = ids(WEB, 1);
    let snapshot = Snapshot {
        requested_at: T0,
        tasks: [SnapshotTask {
            id: &id,
            instance: &instance,
            app: WEB,
            state: MesosState::Unreachable,
            pod: false,
            host: "10.0.0.9",
            health: None,
        }]
        .into_iter()
        .collect(),
        apps: vec![SnapshotApp {
            id: WEB.into(),
            strategy: Some(Strategy::enabled(MIN, 5 * MIN)),
            ..SnapshotApp::default()
        }],
        ..Snapshot::default()
    };
    h.e.apply_snapshot(&snapshot, T0, &mut h.t);
    assert_eq!(h.agent_tasks("10.0.0.9"), Some([0, 0, 0, 0, 1, 0]));
}

// ---- App labels ----

#[test]
fn allowlisted_labels_are_sanitised_and_the_first_key_wins_a_clash() {
    let mut h = labelled("team, cost-center,cost_center");
    h.status(WEB, 1, "TASK_RUNNING", T0);
    assert_eq!(
        h.info().labels,
        None,
        "unknown until a definition names them"
    );
    h.definition(
        WEB,
        None,
        &[
            ("team", "payments"),
            ("cost_center", "b"),
            ("cost-center", "a"),
            ("secret", "x"),
        ],
        T0 + S,
    );
    let labels = h.info().labels.expect("labels known");
    let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (&**k, &**v)).collect();
    assert_eq!(
        labels,
        [("label_cost_center", "a"), ("label_team", "payments")]
    );
}

#[test]
fn without_an_allowlist_no_labels_are_kept() {
    let mut h = H::new();
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.definition(WEB, None, &[("team", "payments")], T0 + S);
    assert_eq!(h.info().labels, None);
}

#[test]
fn a_star_allowlists_every_label() {
    let mut h = labelled("*");
    h.status(WEB, 1, "TASK_RUNNING", T0);
    h.definition(WEB, None, &[("a.b", "1"), ("c", "2")], T0 + S);
    assert_eq!(h.info().labels.map(|l| l.len()), Some(2));
}
