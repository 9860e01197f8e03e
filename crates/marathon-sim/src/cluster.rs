//! The simulated Marathon's state: agents, instances and their current tasks (Marathon 1.8+ ids:
//! a relaunch keeps the instance and bumps the incarnation), the events it emits, the
//! `/v2/tasks` and `/v2/apps` bodies that agree with them (pods: `pods.rs`), and the ground truth
//! of what it did (`truth.rs`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::catalog::{AppSpec, Kind};
use super::operators::{health_results, labels};
use super::pods::POD_CONTAINER;
use super::truth::Truth;
use crate::fake::payload;
use crate::time::Millis;

const AGENT_PREFIX: &str = "c3a9e2f1-5b7d-4e08-a6c4-91d0b8e7f254-S";

/// An instance: the app's index and the instance number (its id is derived from both).
pub(super) type Key = (usize, u32);

pub(super) struct Agent {
    pub id: String,
    pub host: String,
    /// Reachable from the master; tasks are placed only on reachable agents.
    pub up: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Offer accepted, no Mesos status yet (not listed by `/v2/tasks` here).
    Provisioned,
    Staging,
    Starting,
    Running,
    Killing,
}

/// An unreachable episode of a task.
pub(super) struct Unreachable {
    /// Marathon considers it `UnreachableInactive` and launched `replacement`.
    pub inactive: bool,
    pub replacement: Option<u32>,
}

/// The current task of an instance.
pub(super) struct Task {
    pub incarnation: u32,
    pub agent: usize,
    pub phase: Phase,
    pub unreachable: Option<Unreachable>,
    pub staged_at: Millis,
    /// Changes with every change of the task: a scheduled action for an older `epoch` is void.
    pub epoch: u64,
    /// Its health check's latest result; `None` before the first.
    pub health: Option<bool>,
}

/// An instance Marathon expunged while its agent was unreachable: its task still runs there.
pub(super) struct Forgotten {
    pub key: Key,
    pub agent: usize,
}

pub(super) struct Cluster {
    pub apps: Vec<AppSpec>,
    /// Wanted instances per app (`/v2/apps` `instances`).
    pub targets: Vec<u32>,
    next_n: Vec<u32>,
    pub agents: Vec<Agent>,
    pub tasks: BTreeMap<Key, Task>,
    pub forgotten: Vec<Forgotten>,
    /// Simulated Marathon time, ms since the epoch; every event is stamped with it.
    pub now: Millis,
    pub events: Vec<Value>,
    /// `/v2/tasks`, `/v2/apps` or `/v2/pods/::status` changed since last taken.
    pub dirty: bool,
    next_epoch: u64,
    /// Deployments in progress: id → (the app, when it started).
    pub deployments: BTreeMap<String, (usize, Millis)>,
    next_deployment: u64,
    /// What the exporter must count of what happened.
    pub truth: Truth,
}

impl Cluster {
    pub fn new(apps: Vec<AppSpec>, agents: usize, now: Millis) -> Cluster {
        let agents = (1..=agents)
            .map(|i| Agent {
                id: format!("{AGENT_PREFIX}{i}"),
                host: format!("10.0.4.{}", 10 + i),
                up: true,
            })
            .collect();
        Cluster {
            targets: apps.iter().map(|a| a.instances).collect(),
            next_n: vec![1; apps.len()],
            apps,
            agents,
            tasks: BTreeMap::new(),
            forgotten: Vec::new(),
            now,
            events: Vec::new(),
            dirty: true,
            next_epoch: 1,
            deployments: BTreeMap::new(),
            next_deployment: 1,
            truth: Truth::default(),
        }
    }

    /// A fresh deployment id.
    pub fn deployment_id(&mut self) -> String {
        let n = self.next_deployment;
        self.next_deployment += 1;
        format!("5e1d0c3b-{n:04x}-4a2f-9e8d-7c6b5a4f3e2d")
    }

    pub fn epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    /// A fresh instance number of `app`.
    pub fn new_instance(&mut self, app: usize) -> u32 {
        let n = self.next_n[app];
        self.next_n[app] += 1;
        n
    }

    pub fn app(&self, key: Key) -> &AppSpec {
        &self.apps[key.0]
    }

    pub fn instance_id(&self, key: Key) -> String {
        payload::instance_id(self.apps[key.0].id, key.1)
    }

    pub fn task_id(&self, key: Key) -> String {
        let incarnation = self.tasks.get(&key).map_or(1, |t| t.incarnation);
        match self.apps[key.0].kind {
            Kind::Pod => format!("{}.{POD_CONTAINER}.{incarnation}", self.instance_id(key)),
            _ => payload::task_id(self.apps[key.0].id, key.1, incarnation),
        }
    }

    /// The task of `key` if its `epoch` is still `epoch`.
    pub fn current(&self, key: Key, epoch: u64) -> Option<&Task> {
        self.tasks.get(&key).filter(|t| t.epoch == epoch)
    }

    /// Emits a `status_update_event` for the task of `key`.
    pub fn status(&mut self, key: Key, status: &str, message: &str) {
        let Some(task) = self.tasks.get(&key) else {
            return;
        };
        let agent = &self.agents[task.agent];
        let mut event = payload::status_update_with_message(
            &self.task_id(key),
            self.apps[key.0].id,
            status,
            message,
            self.now,
        );
        if let Some(fields) = event.as_object_mut() {
            fields.insert("slaveId".into(), agent.id.clone().into());
            fields.insert("host".into(), agent.host.clone().into());
            fields.insert("ipAddresses".into(), addresses(&agent.host, status));
        }
        self.events.push(event);
        self.dirty = true;
    }

    /// Emits an `instance_changed_event` for `key` (placed on `agent`, `None` for `Scheduled`).
    pub fn instance(&mut self, key: Key, condition: &str) {
        let agent = self.tasks.get(&key).map(|t| &self.agents[t.agent]);
        let mut event = payload::instance_changed(
            &self.instance_id(key),
            self.apps[key.0].id,
            condition,
            self.now,
        );
        if let (Some(fields), Some(agent), false) =
            (event.as_object_mut(), agent, condition == "Scheduled")
        {
            fields.insert("agentId".into(), agent.id.clone().into());
            fields.insert("host".into(), agent.host.clone().into());
        }
        self.events.push(event);
    }

    pub fn unknown_terminated(&mut self, key: Key) {
        let event = payload::unknown_instance_terminated(
            &self.instance_id(key),
            self.apps[key.0].id,
            "Killed",
            self.now,
        );
        self.events.push(event);
        self.unknown_termination_counted(key);
    }

    /// An `api_post_event` for `app` (a deployment or a scale).
    pub fn api_post(&mut self, app: usize) {
        let spec = &self.apps[app];
        let mut event = payload::api_post_app(spec.id, spec.strategy, self.now);
        if let Some(definition) = event
            .get_mut("appDefinition")
            .and_then(Value::as_object_mut)
        {
            definition.insert("instances".into(), self.targets[app].into());
            definition.insert("labels".into(), labels(spec.id));
        }
        self.events.push(event);
        self.dirty = true;
    }

    /// Removes the instance (Marathon expunged it or it was decommissioned).
    pub fn remove(&mut self, key: Key) -> Option<Task> {
        self.dirty = true;
        self.tasks.remove(&key)
    }

    /// Active tasks of `app` in `phase` that are reachable, oldest instance first.
    pub fn reachable(&self, app: usize, phase: Phase) -> Vec<Key> {
        self.tasks
            .range((app, 0)..=(app, u32::MAX))
            .filter(|(_, t)| t.phase == phase && t.unreachable.is_none())
            .map(|(k, _)| *k)
            .collect()
    }

    /// Reachable agents, by index.
    pub fn up_agents(&self) -> Vec<usize> {
        (0..self.agents.len())
            .filter(|&i| self.agents[i].up)
            .collect()
    }

    /// The `/v2/tasks` array: app tasks with a Mesos status (pods are not listed, nor provisioned
    /// tasks, unless Mesos reported them unreachable).
    pub fn tasks_body(&self) -> Vec<Value> {
        let mut tasks = Vec::with_capacity(self.tasks.len());
        for (&key, task) in &self.tasks {
            let unlisted = task.phase == Phase::Provisioned && task.unreachable.is_none();
            if self.apps[key.0].kind == Kind::Pod || unlisted {
                continue;
            }
            let state = match (&task.unreachable, task.phase) {
                (Some(_), _) => "TASK_UNREACHABLE",
                (None, Phase::Staging | Phase::Provisioned) => "TASK_STAGING",
                (None, Phase::Starting) => "TASK_STARTING",
                (None, Phase::Running) => "TASK_RUNNING",
                (None, Phase::Killing) => "TASK_KILLING",
            };
            let agent = &self.agents[task.agent];
            let mut entry = payload::task(
                &self.task_id(key),
                self.apps[key.0].id,
                state,
                task.staged_at,
            );
            if let Some(fields) = entry.as_object_mut() {
                fields.insert("slaveId".into(), agent.id.clone().into());
                fields.insert("host".into(), agent.host.clone().into());
                fields.insert("ipAddresses".into(), addresses(&agent.host, state));
                if let Some(alive) = task.health {
                    fields.insert("healthCheckResults".into(), health_results(alive));
                }
            }
            tasks.push(entry);
        }
        tasks
    }

    /// The `/v2/apps` array (pods are not apps).
    pub fn apps_body(&self) -> Vec<Value> {
        let mut apps = Vec::with_capacity(self.apps.len());
        for (i, spec) in self.apps.iter().enumerate() {
            if spec.kind == Kind::Pod {
                continue;
            }
            let mut app = payload::app(spec.id, self.targets[i], spec.strategy);
            let running = self
                .tasks
                .range((i, 0)..=(i, u32::MAX))
                .filter(|(_, t)| t.phase == Phase::Running && t.unreachable.is_none())
                .count();
            let staged = self
                .tasks
                .range((i, 0)..=(i, u32::MAX))
                .filter(|(_, t)| t.phase == Phase::Staging)
                .count();
            if let Some(fields) = app.as_object_mut() {
                fields.insert("tasksRunning".into(), running.into());
                fields.insert("tasksStaged".into(), staged.into());
                fields.insert("labels".into(), labels(spec.id));
            }
            apps.push(app);
        }
        apps
    }
}

/// Container addresses, known once the task is past staging.
fn addresses(host: &str, state: &str) -> Value {
    match state {
        "TASK_STAGING" => json!([]),
        _ => json!([{ "ipAddress": host, "protocol": "IPv4" }]),
    }
}
