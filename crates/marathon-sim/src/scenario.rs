//! The simulation: a seeded, discrete-event timeline in simulated Marathon time. This file holds
//! the scheduler; `lifecycle.rs` the life of single tasks (launch, staging to running, failures,
//! kills, relaunches with backoff, background churn); `incidents.rs` the scripted cluster-wide events.
//!
//! Everything is decided by the seed and the start time: two scenarios with the same seed and start
//! emit the same events with the same timestamps, however their time is advanced.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use serde_json::Value;

use super::catalog;
use super::cluster::{Cluster, Key, Phase, Task};
use crate::time::Millis;

pub(super) const SECOND: Millis = 1000;

/// Something that happens at a moment of simulated time.
#[derive(Clone, Debug)]
pub(super) enum Action {
    /// Start of a cycle of scripted incidents.
    Cycle,
    /// The next lifecycle step of a launching task.
    Step {
        key: Key,
        epoch: u64,
    },
    Crash {
        key: Key,
        epoch: u64,
    },
    Finish {
        key: Key,
        epoch: u64,
    },
    Relaunch {
        key: Key,
        incarnation: u32,
    },
    Kill {
        key: Key,
        relaunch: bool,
    },
    KillDone {
        key: Key,
        epoch: u64,
        relaunch: bool,
    },
    Churn,
    Deploy {
        app: usize,
    },
    DeployStep {
        app: usize,
        old: Key,
    },
    DeployDone {
        id: String,
    },
    Partition,
    Inactive {
        key: Key,
        epoch: u64,
    },
    ForceExpunge {
        key: Key,
        epoch: u64,
    },
    Return {
        agent: usize,
    },
    GoneByOperator {
        agent: usize,
    },
    Lost,
    Scale {
        app: usize,
        by: i64,
    },
}

/// The simulated cluster and its timeline.
pub struct Scenario {
    pub(super) cluster: Cluster,
    pub(super) rng: fastrand::Rng,
    queue: BinaryHeap<Reverse<(Millis, u64)>>,
    actions: HashMap<u64, Action>,
    seq: u64,
    /// Launch failures in a row per instance (backoff).
    pub(super) failures: BTreeMap<Key, u32>,
    /// Instances decommissioned while they had no task: a pending relaunch is dropped.
    pub(super) retired: BTreeSet<Key>,
    pub(super) notes: Vec<String>,
}

impl Scenario {
    /// A cluster of the catalog's apps (instance counts times `scale`), all running at `start`.
    pub fn new(seed: u64, start: Millis, scale: f64) -> Scenario {
        Scenario::with_apps(seed, start, catalog::apps(scale))
    }

    /// [`Scenario::new`] without the catalog's pods: a Marathon that runs apps only.
    pub fn without_pods(seed: u64, start: Millis, scale: f64) -> Scenario {
        let mut apps = catalog::apps(scale);
        apps.retain(|a| a.kind != catalog::Kind::Pod);
        Scenario::with_apps(seed, start, apps)
    }

    fn with_apps(seed: u64, start: Millis, apps: Vec<catalog::AppSpec>) -> Scenario {
        let total: u32 = apps.iter().map(|a| a.instances).sum();
        let agents = (total as usize / 21).clamp(6, 24);
        let mut s = Scenario {
            cluster: Cluster::new(apps, agents, start),
            rng: fastrand::Rng::with_seed(seed),
            queue: BinaryHeap::new(),
            actions: HashMap::new(),
            seq: 0,
            failures: BTreeMap::new(),
            retired: BTreeSet::new(),
            notes: Vec::new(),
        };
        for app in 0..s.cluster.apps.len() {
            for _ in 0..s.cluster.apps[app].instances {
                let n = s.cluster.new_instance(app);
                let agent = s.rng.usize(0..agents);
                let age = s.rng.i64(10 * 60 * SECOND..3 * 86_400 * SECOND);
                let epoch = s.cluster.epoch();
                s.cluster.tasks.insert(
                    (app, n),
                    Task {
                        incarnation: 1,
                        agent,
                        phase: Phase::Running,
                        unreachable: None,
                        staged_at: start - age,
                        epoch,
                        health: Some(true),
                    },
                );
                s.after_running((app, n), epoch);
            }
        }
        s.at(start, Action::Cycle);
        s.at(start + 5 * SECOND, Action::Churn);
        s
    }

    /// Simulated Marathon time now.
    pub fn now(&self) -> Millis {
        self.cluster.now
    }

    /// Runs everything due up to `t`; returns the events emitted, in order.
    pub fn advance_to(&mut self, t: Millis) -> Vec<Value> {
        while let Some(&Reverse((time, seq))) = self.queue.peek() {
            if time > t {
                break;
            }
            self.queue.pop();
            self.cluster.now = self.cluster.now.max(time);
            if let Some(action) = self.actions.remove(&seq) {
                self.run(action);
            }
        }
        self.cluster.now = self.cluster.now.max(t);
        std::mem::take(&mut self.cluster.events)
    }

    /// What happened since last asked, in words (deployments, partitions, ...).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Whether `/v2/tasks`, `/v2/apps` or `/v2/pods/::status` changed since the last call.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.cluster.dirty)
    }

    /// The `/v2/tasks` array as Marathon would serve it now.
    pub fn tasks_body(&self) -> Vec<Value> {
        self.cluster.tasks_body()
    }

    /// The `/v2/apps` array as Marathon would serve it now.
    pub fn apps_body(&self) -> Vec<Value> {
        self.cluster.apps_body()
    }

    /// The `/v2/deployments` array as Marathon would serve it now.
    pub fn deployments_body(&self) -> Vec<Value> {
        self.cluster.deployments_body()
    }

    /// The `/v2/pods/::status` array as Marathon would serve it now.
    pub fn pods_body(&self) -> Vec<Value> {
        self.cluster.pods_body()
    }

    /// Schedules `action` at `time` (never before now).
    pub(super) fn at(&mut self, time: Millis, action: Action) {
        self.seq += 1;
        let time = time.max(self.cluster.now);
        self.queue.push(Reverse((time, self.seq)));
        self.actions.insert(self.seq, action);
    }

    /// Schedules `action` a random delay in `[min, max)` ms from now.
    pub(super) fn after(&mut self, min: Millis, max: Millis, action: Action) {
        let delay = self.rng.i64(min..max.max(min + 1));
        self.at(self.cluster.now + delay, action);
    }

    /// A new generation for the task of `key`: actions scheduled for the old one are void.
    pub(super) fn touch(&mut self, key: Key) -> u64 {
        let epoch = self.cluster.epoch();
        if let Some(task) = self.cluster.tasks.get_mut(&key) {
            task.epoch = epoch;
        }
        epoch
    }

    fn run(&mut self, action: Action) {
        match action {
            Action::Cycle => self.cycle(),
            Action::Step { key, epoch } => self.step(key, epoch),
            Action::Crash { key, epoch } => {
                if self.is_running(key, epoch) {
                    *self.failures.entry(key).or_default() += 1;
                    self.terminal(
                        key,
                        "TASK_FAILED",
                        super::lifecycle::CRASH_MESSAGE,
                        "Failed",
                        true,
                    );
                }
            }
            Action::Finish { key, epoch } => {
                if self.is_running(key, epoch) {
                    self.failures.remove(&key);
                    self.terminal(key, "TASK_FINISHED", "", "Finished", true);
                }
            }
            Action::Relaunch { key, incarnation } => self.relaunch(key, incarnation),
            Action::Kill { key, relaunch } => self.kill(key, relaunch),
            Action::KillDone {
                key,
                epoch,
                relaunch,
            } => {
                let killing = self
                    .cluster
                    .current(key, epoch)
                    .is_some_and(|t| t.phase == Phase::Killing && t.unreachable.is_none());
                if killing {
                    self.terminal(key, "TASK_KILLED", "", "Killed", relaunch);
                }
            }
            Action::Churn => self.churn(),
            Action::Deploy { app } => self.deploy(app),
            Action::DeployStep { app, old } => {
                self.launch(app);
                let wait = self.cluster.apps[app].startup.1 + 3 * SECOND;
                self.after(
                    wait,
                    wait + 2 * SECOND,
                    Action::Kill {
                        key: old,
                        relaunch: false,
                    },
                );
            }
            Action::DeployDone { id } => self.cluster.deployment_finished(&id),
            Action::Partition => self.partition(),
            Action::Inactive { key, epoch } => self.inactive(key, epoch),
            Action::ForceExpunge { key, epoch } => self.force_expunge(key, epoch),
            Action::Return { agent } => self.agent_returns(agent),
            Action::GoneByOperator { agent } => self.gone_by_operator(agent),
            Action::Lost => self.lost(),
            Action::Scale { app, by } => self.scale(app, by),
        }
    }

    fn is_running(&self, key: Key, epoch: u64) -> bool {
        self.cluster
            .current(key, epoch)
            .is_some_and(|t| t.phase == Phase::Running && t.unreachable.is_none())
    }
}
