//! The scripted incidents of each cycle of the simulation, in simulated seconds from its start:
//!
//! | at | incident |
//! |---|---|
//! | 15 s | a rolling deployment of a service app (new instances, then the old ones killed) |
//! | 30 s | two agents partitioned: dozens of tasks `TASK_UNREACHABLE`; Marathon's strategy of each app decides (0/0: expunged at once; others: inactive and replaced after `inactiveAfter`, force-expunged with `Killed` after `expungeAfter`; `disabled`: nothing) |
//! | 200 s | the first agent returns: its surviving tasks report `TASK_RUNNING` (their surplus replacements are killed), the expunged ones are killed as unknown (`unknown_instance_terminated_event`) |
//! | 240 s | `TASK_LOST`s: executor terminations (then `Gone`), tasks unknown to the master, and an agent that disconnects for 20 s (then `Unreachable`) |
//! | 320 s | an app scales up, and at 520 s back down |
//! | 420 s | the operator marks the second agent gone: its remaining tasks `TASK_GONE_BY_OPERATOR` |
//! | 480 s | the second agent returns: its forgotten tasks are killed as unknown |
//! | 600 s | the next cycle |
//!
//! Throughout, a crash-looping app fails seconds after every start, batch tasks finish and are
//! relaunched, and random tasks fail, are killed by health checks or flip their health. Events about
//! an unreachable task are always seconds away from its strategy's thresholds, so the exporter's
//! decisions never depend on the milliseconds its clock reads.

use super::catalog::Kind;
use super::cluster::{Forgotten, Key, Phase};
use super::scenario::{Action, SECOND, Scenario};

/// Length of a cycle of incidents.
pub const CYCLE: i64 = 600 * SECOND;
const DEPLOY_AT: i64 = 15 * SECOND;
const PARTITION_AT: i64 = 30 * SECOND;
/// After the partition: the first agent returns, the second is marked gone, then returns.
const FIRST_RETURNS: i64 = 170 * SECOND;
const SECOND_GONE: i64 = 390 * SECOND;
const SECOND_RETURNS: i64 = 450 * SECOND;
const LOST_AT: i64 = 240 * SECOND;
const DISCONNECTED_FOR: i64 = 20 * SECOND;
const SCALE_UP_AT: i64 = 320 * SECOND;
const SCALE_DOWN_AT: i64 = 520 * SECOND;

impl Scenario {
    pub(super) fn cycle(&mut self) {
        let start = self.cluster.now;
        self.reset_backoff();
        let services = self.service_apps();
        let deployed = services[self.rng.usize(0..services.len())];
        let scaled = services[self.rng.usize(0..services.len())];
        let by = i64::from(self.rng.u32(6..13));
        self.at(start + DEPLOY_AT, Action::Deploy { app: deployed });
        self.at(start + PARTITION_AT, Action::Partition);
        self.at(start + LOST_AT, Action::Lost);
        self.at(start + SCALE_UP_AT, Action::Scale { app: scaled, by });
        self.at(
            start + SCALE_DOWN_AT,
            Action::Scale {
                app: scaled,
                by: -by,
            },
        );
        self.at(start + CYCLE, Action::Cycle);
    }

    fn service_apps(&self) -> Vec<usize> {
        (0..self.cluster.apps.len())
            .filter(|&a| self.cluster.apps[a].kind == Kind::Service)
            .collect()
    }

    pub(super) fn deploy(&mut self, app: usize) {
        let old = self.cluster.reachable(app, Phase::Running);
        self.notes.push(format!(
            "deployment of {}: {} instances replaced one by one",
            self.cluster.apps[app].id,
            old.len()
        ));
        self.cluster.api_post(app);
        let id = self.cluster.deployment_started(app);
        let now = self.cluster.now;
        let steps = old.len() as i64;
        for (i, key) in old.into_iter().enumerate() {
            let at = now + i as i64 * 2500;
            self.at(at, Action::DeployStep { app, old: key });
        }
        // The last new task runs and the last old one is killed: the deployment is done.
        let last = now + (steps - 1).max(0) * 2500;
        let done = last + self.cluster.apps[app].startup.1 + 8 * SECOND;
        self.at(done, Action::DeployDone { id });
    }

    pub(super) fn scale(&mut self, app: usize, by: i64) {
        let target = i64::from(self.cluster.targets[app]);
        let new = (target + by).max(1);
        self.cluster.targets[app] = new as u32;
        self.cluster.api_post(app);
        self.notes.push(format!(
            "{} scaled from {target} to {new} instances",
            self.cluster.apps[app].id
        ));
        if new > target {
            for _ in target..new {
                self.launch(app);
            }
        } else {
            let mut running = self.cluster.reachable(app, Phase::Running);
            for _ in new..target {
                if let Some(key) = running.pop() {
                    self.kill(key, false);
                }
            }
        }
    }

    /// Two agents lose contact with the master.
    pub(super) fn partition(&mut self) {
        let up = self.cluster.up_agents();
        if up.len() < 4 {
            return;
        }
        let a = up[self.rng.usize(0..up.len())];
        let rest: Vec<usize> = up.into_iter().filter(|&x| x != a).collect();
        let b = rest[self.rng.usize(0..rest.len())];
        let mut count = 0;
        for agent in [a, b] {
            count += self.disconnect(agent, "TASK_UNREACHABLE", "health check timed out");
        }
        self.notes.push(format!(
            "partition: agents {} and {} unreachable, {count} tasks",
            self.cluster.agents[a].host, self.cluster.agents[b].host
        ));
        let now = self.cluster.now;
        self.at(now + FIRST_RETURNS, Action::Return { agent: a });
        self.at(now + SECOND_GONE, Action::GoneByOperator { agent: b });
        self.at(now + SECOND_RETURNS, Action::Return { agent: b });
    }

    /// Every task on `agent` becomes unreachable through `status`; returns how many.
    fn disconnect(&mut self, agent: usize, status: &str, message: &str) -> usize {
        self.cluster.agents[agent].up = false;
        let keys = self.on_agent(agent, false);
        for &key in &keys {
            self.unreachable(key, status, message);
        }
        keys.len()
    }

    /// Tasks placed on `agent` that are (or are not) unreachable.
    fn on_agent(&self, agent: usize, unreachable: bool) -> Vec<Key> {
        self.cluster
            .tasks
            .iter()
            .filter(|(_, t)| t.agent == agent && t.unreachable.is_some() == unreachable)
            .map(|(k, _)| *k)
            .collect()
    }

    /// One task becomes unreachable; what follows is Marathon's strategy for its app.
    fn unreachable(&mut self, key: Key, status: &str, message: &str) {
        let epoch = self.touch(key);
        let now = self.cluster.now;
        if let Some(task) = self.cluster.tasks.get_mut(&key) {
            task.unreachable = Some(super::cluster::Unreachable {
                inactive: false,
                replacement: None,
            });
        }
        self.cluster.dirty = true;
        self.cluster.status(key, status, message);
        match self.cluster.app(key).strategy {
            None => self.cluster.instance(key, "Unreachable"),
            Some((0, 0)) => {
                // Marathon 1.10 expunges at once; the task still runs behind the partition.
                self.cluster.instance(key, "UnreachableInactive");
                self.forget(key);
                self.launch(key.0);
            }
            Some((0, expunge)) => {
                self.cluster.instance(key, "UnreachableInactive");
                self.replace(key);
                let at = now + expunge as i64 * SECOND + self.rng.i64(5 * SECOND..30 * SECOND);
                self.at(at, Action::ForceExpunge { key, epoch });
            }
            Some((inactive, expunge)) => {
                self.cluster.instance(key, "Unreachable");
                // Marathon notices at the next reconciliation of the task.
                let at = now + inactive as i64 * SECOND + self.rng.i64(5 * SECOND..15 * SECOND);
                self.at(at, Action::Inactive { key, epoch });
                let at = now + expunge as i64 * SECOND + self.rng.i64(5 * SECOND..30 * SECOND);
                self.at(at, Action::ForceExpunge { key, epoch });
            }
        }
    }

    /// The instance is expunged while its task is behind an unreachable agent.
    fn forget(&mut self, key: Key) {
        if let Some(task) = self.cluster.remove(key) {
            self.cluster
                .expunged(key, super::truth::UNREACHABLE_EXPUNGE);
            self.cluster.forgotten.push(Forgotten {
                key,
                agent: task.agent,
            });
        }
    }

    /// Marathon launches a replacement instance for an inactive one.
    fn replace(&mut self, key: Key) {
        let n = self.launch(key.0);
        if let Some(u) = self
            .cluster
            .tasks
            .get_mut(&key)
            .and_then(|t| t.unreachable.as_mut())
        {
            u.inactive = true;
            u.replacement = Some(n);
        }
    }

    pub(super) fn inactive(&mut self, key: Key, epoch: u64) {
        let waiting = self
            .cluster
            .current(key, epoch)
            .and_then(|t| t.unreachable.as_ref())
            .is_some_and(|u| !u.inactive);
        if waiting {
            self.cluster.instance(key, "UnreachableInactive");
            self.replace(key);
        }
    }

    /// Marathon's periodic expunge of overdue inactive instances: `Killed`, no status update.
    pub(super) fn force_expunge(&mut self, key: Key, epoch: u64) {
        let inactive = self
            .cluster
            .current(key, epoch)
            .and_then(|t| t.unreachable.as_ref())
            .is_some_and(|u| u.inactive);
        if inactive {
            self.cluster.instance(key, "Killed");
            self.forget(key);
        }
    }

    pub(super) fn agent_returns(&mut self, agent: usize) {
        self.cluster.agents[agent].up = true;
        let keys = self.on_agent(agent, true);
        let mut back = 0;
        for key in keys {
            let Some(task) = self.cluster.tasks.get_mut(&key) else {
                continue;
            };
            let was = task.unreachable.take();
            let phase = task.phase;
            if phase == Phase::Killing {
                self.touch(key);
                self.terminal(key, "TASK_KILLED", "", "Killed", false);
                continue;
            }
            back += 1;
            let epoch = self.set_phase(key, Phase::Running);
            self.cluster.status(key, "TASK_RUNNING", "");
            self.cluster.instance(key, "Running");
            self.after_running(key, epoch);
            // Over capacity now: Marathon kills the youngest, the replacement.
            if let Some(n) = was.and_then(|u| u.replacement) {
                self.after(
                    2 * SECOND,
                    8 * SECOND,
                    Action::Kill {
                        key: (key.0, n),
                        relaunch: false,
                    },
                );
            }
        }
        let forgotten: Vec<Forgotten> = {
            let (here, rest) = std::mem::take(&mut self.cluster.forgotten)
                .into_iter()
                .partition(|f| f.agent == agent);
            self.cluster.forgotten = rest;
            here
        };
        for f in &forgotten {
            self.cluster.unknown_terminated(f.key);
        }
        self.notes.push(format!(
            "agent {} is back: {back} tasks running again, {} unknown tasks killed",
            self.cluster.agents[agent].host,
            forgotten.len()
        ));
    }

    pub(super) fn gone_by_operator(&mut self, agent: usize) {
        let keys = self.on_agent(agent, true);
        for &key in &keys {
            let replaced = self
                .cluster
                .tasks
                .get(&key)
                .and_then(|t| t.unreachable.as_ref())
                .is_some_and(|u| u.replacement.is_some());
            self.touch(key);
            let message = "Agent removed by the operator";
            self.terminal(key, "TASK_GONE_BY_OPERATOR", message, "Gone", !replaced);
        }
        self.notes.push(format!(
            "operator marked agent {} gone: {} tasks",
            self.cluster.agents[agent].host,
            keys.len()
        ));
    }

    /// Executor terminations and tasks unknown to the master (`TASK_LOST`), and an agent that
    /// disconnects for a while (`TASK_LOST`, which Marathon infers `Unreachable`).
    pub(super) fn lost(&mut self) {
        let mut running: Vec<Key> = self
            .cluster
            .tasks
            .iter()
            .filter(|(_, t)| t.phase == Phase::Running && t.unreachable.is_none())
            .map(|(k, _)| *k)
            .collect();
        self.rng.shuffle(&mut running);
        for (i, key) in running.into_iter().take(6).enumerate() {
            if i < 4 {
                let message = "Abnormal executor termination: unknown container";
                self.terminal(key, "TASK_LOST", message, "Gone", true);
            } else {
                let message = "Reconciliation: Task is unknown to the agent";
                self.terminal(key, "TASK_LOST", message, "Unknown", true);
            }
        }
        let up = self.cluster.up_agents();
        if up.len() < 3 {
            return;
        }
        let agent = up[self.rng.usize(0..up.len())];
        let message = format!("Agent {} disconnected", self.cluster.agents[agent].host);
        let count = self.disconnect(agent, "TASK_LOST", &message);
        self.notes.push(format!(
            "6 tasks lost; agent {} disconnected with {count} tasks",
            self.cluster.agents[agent].host
        ));
        let now = self.cluster.now;
        self.at(now + DISCONNECTED_FOR, Action::Return { agent });
    }
}
