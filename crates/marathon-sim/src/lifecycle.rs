//! The life of single tasks in the simulation: launch on a reachable agent (`Scheduled`,
//! `Provisioned`), staging, starting and running (or a dropped launch), failures and kills, the
//! relaunch of the same instance with the next incarnation after Marathon's backoff, and the
//! background churn of failures, health-check kills and health flips.

use super::catalog::Kind;
use super::cluster::{Key, Phase, Task};
use super::scenario::{Action, SECOND, Scenario};
use crate::time::Millis;

/// Longest launch backoff of a crash-looping instance (Marathon's `maxLaunchDelaySeconds`, shortened).
const MAX_BACKOFF: Millis = 60 * SECOND;
/// Chance in percent that a launch is dropped by Mesos (`TASK_DROPPED`) and tried again.
const DROP_PERCENT: u32 = 3;
const FAILURE_MESSAGES: [&str; 3] = [
    "Memory limit exceeded: Requested: 256MB Maximum Used: 256MB",
    "Command exited with status 137",
    "Command exited with status 1",
];

/// How every start of the crash-looping app ends.
pub(super) const CRASH_MESSAGE: &str = FAILURE_MESSAGES[2];

impl Scenario {
    /// A new instance of `app` on a reachable agent; returns its number.
    pub(super) fn launch(&mut self, app: usize) -> u32 {
        let n = self.cluster.new_instance(app);
        self.start_task((app, n), 1);
        n
    }

    /// Places incarnation `incarnation` of `key` and emits `Scheduled` and `Provisioned`.
    fn start_task(&mut self, key: Key, incarnation: u32) {
        let up = self.cluster.up_agents();
        let agent = up[self.rng.usize(0..up.len())];
        let epoch = self.cluster.epoch();
        let now = self.cluster.now;
        self.cluster.tasks.insert(
            key,
            Task {
                incarnation,
                agent,
                phase: Phase::Provisioned,
                unreachable: None,
                staged_at: now,
                epoch,
                health: None,
            },
        );
        self.cluster.dirty = true;
        self.cluster.instance(key, "Scheduled");
        self.cluster.instance(key, "Provisioned");
        self.after(300, 1500, Action::Step { key, epoch });
    }

    /// Provisioned → staging (or dropped) → starting → running.
    pub(super) fn step(&mut self, key: Key, epoch: u64) {
        let Some(task) = self.cluster.current(key, epoch) else {
            return;
        };
        if task.unreachable.is_some() {
            return;
        }
        let (phase, staged_at) = (task.phase, task.staged_at);
        match phase {
            Phase::Provisioned if self.rng.u32(0..100) < DROP_PERCENT => {
                *self.failures.entry(key).or_default() += 1;
                self.terminal(key, "TASK_DROPPED", "", "Dropped", true);
            }
            Phase::Provisioned => {
                let epoch = self.set_phase(key, Phase::Staging);
                if let Some(task) = self.cluster.tasks.get_mut(&key) {
                    task.staged_at = self.cluster.now;
                }
                self.cluster.status(key, "TASK_STAGING", "");
                self.cluster.instance(key, "Staging");
                self.after(800, 2500, Action::Step { key, epoch });
            }
            Phase::Staging => {
                let epoch = self.set_phase(key, Phase::Starting);
                self.cluster.status(key, "TASK_STARTING", "");
                self.cluster.instance(key, "Starting");
                let (min, max) = self.cluster.apps[key.0].startup;
                let ready = staged_at + self.rng.i64(min..max + 1);
                let ready = ready.max(self.cluster.now + 500);
                self.at(ready, Action::Step { key, epoch });
            }
            Phase::Starting => {
                let epoch = self.set_phase(key, Phase::Running);
                self.cluster.status(key, "TASK_RUNNING", "");
                self.cluster.instance(key, "Running");
                self.after_running(key, epoch);
            }
            Phase::Running | Phase::Killing => {}
        }
    }

    pub(super) fn set_phase(&mut self, key: Key, phase: Phase) -> u64 {
        if let Some(task) = self.cluster.tasks.get_mut(&key) {
            task.phase = phase;
        }
        self.cluster.dirty = true;
        self.touch(key)
    }

    /// What a task of this kind does once running.
    pub(super) fn after_running(&mut self, key: Key, epoch: u64) {
        match self.cluster.apps[key.0].kind {
            Kind::Batch => self.after(40 * SECOND, 150 * SECOND, Action::Finish { key, epoch }),
            Kind::CrashLoop => self.after(4 * SECOND, 12 * SECOND, Action::Crash { key, epoch }),
            Kind::Service | Kind::Pod => {}
        }
    }

    /// The task ends in a terminal state; Marathon relaunches the instance (goal Running) after
    /// its backoff when `relaunch`, else the instance is gone.
    pub(super) fn terminal(
        &mut self,
        key: Key,
        status: &str,
        message: &str,
        condition: &str,
        relaunch: bool,
    ) {
        self.cluster.status(key, status, message);
        self.cluster.instance(key, condition);
        let Some(task) = self.cluster.remove(key) else {
            return;
        };
        let reason = super::truth::expunge_reason(status, condition);
        self.cluster.expunged(key, reason);
        if relaunch {
            let failures = self.failures.get(&key).copied().unwrap_or(0);
            let backoff = (SECOND as f64 * 1.15f64.powi(failures as i32)) as Millis;
            let backoff = backoff.min(MAX_BACKOFF);
            let incarnation = task.incarnation + 1;
            self.after(
                backoff,
                backoff + 2 * SECOND,
                Action::Relaunch { key, incarnation },
            );
        } else {
            self.failures.remove(&key);
        }
    }

    pub(super) fn relaunch(&mut self, key: Key, incarnation: u32) {
        if self.retired.remove(&key) || self.cluster.tasks.contains_key(&key) {
            return;
        }
        self.start_task(key, incarnation);
    }

    /// Starts killing the task of `key` if it is active and reachable.
    pub(super) fn kill(&mut self, key: Key, relaunch: bool) {
        let Some(task) = self.cluster.tasks.get(&key) else {
            if !relaunch {
                self.retired.insert(key);
            }
            return;
        };
        let active = matches!(
            task.phase,
            Phase::Staging | Phase::Starting | Phase::Running
        );
        if !active || task.unreachable.is_some() {
            return;
        }
        let epoch = self.set_phase(key, Phase::Killing);
        self.cluster.status(key, "TASK_KILLING", "");
        self.cluster.instance(key, "Killing");
        self.after(
            SECOND,
            3 * SECOND,
            Action::KillDone {
                key,
                epoch,
                relaunch,
            },
        );
    }

    /// Background noise: a failure, a health-check kill or a health flip somewhere.
    pub(super) fn churn(&mut self) {
        self.after(6 * SECOND, 20 * SECOND, Action::Churn);
        let services: Vec<usize> = (0..self.cluster.apps.len())
            .filter(|&a| matches!(self.cluster.apps[a].kind, Kind::Service | Kind::Pod))
            .collect();
        let app = services[self.rng.usize(0..services.len())];
        let running = self.cluster.reachable(app, Phase::Running);
        if running.is_empty() {
            return;
        }
        let key = running[self.rng.usize(0..running.len())];
        match self.rng.u32(0..10) {
            0..=5 => {
                let message = FAILURE_MESSAGES[self.rng.usize(0..FAILURE_MESSAGES.len())];
                *self.failures.entry(key).or_default() += 1;
                self.terminal(key, "TASK_FAILED", message, "Failed", true);
            }
            6..=7 => {
                self.cluster.health_kill(key);
                self.kill(key, true);
            }
            // A health check flipped: Marathon reports it, and repeats the status the task had.
            _ => {
                let healthy = self.cluster.tasks.get(&key).and_then(|t| t.health);
                self.cluster.health(key, healthy == Some(false));
                self.cluster.status(key, "TASK_RUNNING", "");
            }
        }
    }

    /// Clears the launch backoff of crash-looping instances (a new build was deployed).
    pub(super) fn reset_backoff(&mut self) {
        let apps = &self.cluster.apps;
        self.failures
            .retain(|key, _| apps[key.0].kind != Kind::CrashLoop);
    }
}
