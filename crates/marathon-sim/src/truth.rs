//! Ground truth kept by the simulation as it acts: how every task ended, as the expunge reason
//! RULES.md gives that ending, and which tasks are active, in the states the exporter must show.

use std::collections::BTreeMap;

use super::catalog::Kind;
use super::cluster::{Cluster, Key, Phase};
use super::scenario::Scenario;

/// What the exporter must have counted of the simulation so far, by app id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Truth {
    /// `(app, reason)` → tasks expunged for that reason (`marathon_task_expunges_total`).
    pub expunges: BTreeMap<(String, &'static str), u64>,
    /// app → `unknown_instance_terminated_event`s (`marathon_task_unknown_terminations_total`).
    pub unknown_terminations: BTreeMap<String, u64>,
}

/// `(app, state)` → active tasks (`marathon_app_tasks`).
pub type ActiveTasks = BTreeMap<(String, &'static str), u64>;

/// The expunge reason of a task that ends with Mesos `status`, Marathon's instance `condition`
/// following it. `TASK_LOST` is never a state (RULES.md, LOST): the simulation sends it with either
/// a "Reconciliation: Task is unknown to the agent" message and condition `Unknown` (`unknown`, by
/// the message), or a reasonless message resolved by the condition that follows (`Gone`: `gone`).
pub(super) fn expunge_reason(status: &str, condition: &str) -> &'static str {
    match status {
        "TASK_FAILED" => "failed",
        "TASK_FINISHED" => "finished",
        "TASK_KILLED" => "killed",
        "TASK_DROPPED" => "dropped",
        "TASK_ERROR" => "error",
        "TASK_GONE" => "gone",
        "TASK_GONE_BY_OPERATOR" => "gone_by_operator",
        "TASK_UNKNOWN" => "unknown",
        "TASK_LOST" if condition == "Unknown" => "unknown",
        "TASK_LOST" => "gone",
        other => panic!("{other} does not end a task"),
    }
}

/// Why a task expunged without a terminal status ends: Marathon's own expunge of an unreachable
/// instance. With a `(0, 0)` strategy the exporter's timers fire as soon as the task is
/// unreachable; with a longer one Marathon force-expunges (`Killed`, no status update) after the
/// exporter's `expungeAfter` timer fired or, for a pod whose strategy it does not know, when that
/// `Killed` arrives. Every path is `unreachable_timeout` (RULES.md, Unreachable timers and
/// `instance_changed_event`).
pub(super) const UNREACHABLE_EXPUNGE: &str = "unreachable_timeout";

impl Cluster {
    /// Counts the end of the task of `key`.
    pub(super) fn expunged(&mut self, key: Key, reason: &'static str) {
        let app = self.apps[key.0].id.to_owned();
        *self.truth.expunges.entry((app, reason)).or_default() += 1;
    }

    pub(super) fn unknown_termination_counted(&mut self, key: Key) {
        let app = self.apps[key.0].id.to_owned();
        *self.truth.unknown_terminations.entry(app).or_default() += 1;
    }
}

impl Scenario {
    /// Everything counted so far.
    pub fn truth(&self) -> &Truth {
        &self.cluster.truth
    }

    /// Active tasks per app and state, as the exporter must show them once it has seen every event
    /// (or a snapshot) of now. A task only provisioned has had no status and is in no listing,
    /// except a pod's: `/v2/pods/::status` lists its container as `TASK_STAGING` (EXTRA.md §1).
    /// The unreachable states follow Marathon's view, which lags the exporter's timers by seconds:
    /// exact only when [`Scenario::is_quiet`].
    pub fn active_tasks(&self) -> ActiveTasks {
        let mut active = ActiveTasks::new();
        for (&key, task) in &self.cluster.tasks {
            let spec = &self.cluster.apps[key.0];
            let state = match (&task.unreachable, task.phase) {
                (Some(u), _) if u.inactive => "unreachable_inactive",
                (Some(_), _) => "unreachable",
                (None, Phase::Provisioned) if spec.kind == Kind::Pod => "staging",
                (None, Phase::Provisioned) => continue,
                (None, Phase::Staging) => "staging",
                (None, Phase::Starting) => "starting",
                (None, Phase::Running) => "running",
                (None, Phase::Killing) => "killing",
            };
            *active.entry((spec.id.to_owned(), state)).or_default() += 1;
        }
        active
    }

    /// No task is unreachable: no timer of Marathon or of the exporter is running, so the
    /// exporter's view cannot depend on when it last evaluated them.
    pub fn is_quiet(&self) -> bool {
        self.cluster.tasks.values().all(|t| t.unreachable.is_none())
    }
}

#[cfg(test)]
mod tests {
    use super::super::incidents::CYCLE;
    use super::*;

    const START: i64 = 1_700_000_000_000;

    #[test]
    fn lost_resolves_by_message_or_condition_and_every_terminal_status_has_its_reason() {
        assert_eq!(expunge_reason("TASK_LOST", "Unknown"), "unknown");
        assert_eq!(expunge_reason("TASK_LOST", "Gone"), "gone");
        assert_eq!(
            expunge_reason("TASK_GONE_BY_OPERATOR", "Gone"),
            "gone_by_operator"
        );
        assert_eq!(expunge_reason("TASK_KILLED", "Killed"), "killed");
    }

    #[test]
    fn a_cycle_ends_tasks_for_every_reason_the_simulation_knows_and_ends_quiet() {
        let mut scenario = Scenario::new(4, START, 0.5);
        let before: u64 = scenario.active_tasks().values().sum();
        assert_eq!(before, scenario.cluster.tasks.len() as u64);
        scenario.advance_to(START + 500 * 1000);
        let mut reasons: Vec<&str> = scenario.truth().expunges.keys().map(|k| k.1).collect();
        reasons.sort_unstable();
        reasons.dedup();
        for reason in [
            "failed",
            "finished",
            "killed",
            "gone",
            "gone_by_operator",
            "unknown",
            "unreachable_timeout",
        ] {
            assert!(
                reasons.contains(&reason),
                "{reason} missing from {reasons:?}"
            );
        }
        assert!(!scenario.truth().unknown_terminations.is_empty());
        assert!(scenario.is_quiet(), "both agents are back at 480 s");
        scenario.advance_to(START + CYCLE + 60 * 1000);
        assert!(!scenario.is_quiet(), "the next partition is under way");
    }

    /// `/v2/tasks` by app and state, unreachable and inactive merged (Marathon lists both alike).
    fn listed(scenario: &Scenario) -> ActiveTasks {
        let mut listed = ActiveTasks::new();
        for task in scenario.tasks_body() {
            let state = match task["state"].as_str().unwrap() {
                "TASK_STAGING" => "staging",
                "TASK_STARTING" => "starting",
                "TASK_RUNNING" => "running",
                "TASK_KILLING" => "killing",
                _ => "unreachable",
            };
            let app = task["appId"].as_str().unwrap().to_owned();
            *listed.entry((app, state)).or_default() += 1;
        }
        listed
    }

    fn merged(active: ActiveTasks) -> ActiveTasks {
        let mut merged = ActiveTasks::new();
        for ((app, state), n) in active {
            let state = if state == "unreachable_inactive" {
                "unreachable"
            } else {
                state
            };
            *merged.entry((app, state)).or_default() += n;
        }
        merged
    }

    #[test]
    fn the_tasks_listing_agrees_with_the_truth_at_every_moment() {
        for seed in 1..=3 {
            let mut scenario = Scenario::without_pods(seed, START, 0.5);
            let mut t = START;
            while t < START + CYCLE {
                t += 1000;
                scenario.advance_to(t);
                let at = (t - START) / 1000;
                let truth = merged(scenario.active_tasks());
                assert_eq!(listed(&scenario), truth, "seed {seed} at {at} s");
            }
        }
    }

    #[test]
    fn a_task_cut_off_before_it_staged_is_listed_unreachable() {
        let mut scenario = Scenario::without_pods(5, START, 0.5);
        let mut t = START;
        let key = loop {
            t += 250;
            scenario.advance_to(t);
            let provisioned = scenario
                .cluster
                .tasks
                .iter()
                .find(|(_, t)| t.phase == Phase::Provisioned);
            if let Some((key, _)) = provisioned {
                break *key;
            }
            assert!(t < START + CYCLE, "no launch in a cycle");
        };
        let app = scenario.cluster.apps[key.0].id.to_owned();
        let before = listed(&scenario)
            .get(&(app.clone(), "unreachable"))
            .copied()
            .unwrap_or(0);
        if let Some(task) = scenario.cluster.tasks.get_mut(&key) {
            task.unreachable = Some(super::super::cluster::Unreachable {
                inactive: false,
                replacement: None,
            });
        }
        assert_eq!(listed(&scenario)[&(app.clone(), "unreachable")], before + 1);
        assert_eq!(listed(&scenario), merged(scenario.active_tasks()));
    }
}
