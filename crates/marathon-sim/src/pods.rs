//! The simulated cluster's `/v2/pods/::status` body (EXTRA.md §1, the 1.10 shape): one PodStatus
//! per pod, its instances with their single container, whose `containerId` (the Mesos task id) is
//! there only while the task is active.

use serde_json::{Value, json};

use super::catalog::Kind;
use super::cluster::{Cluster, Phase, Task};
use crate::fake::payload::{self, APP_VERSION};

/// The container name of pod tasks, as in their ids.
pub(super) const POD_CONTAINER: &str = "shipper";

impl Cluster {
    /// The `/v2/pods/::status` array as Marathon 1.10 would serve it now.
    pub fn pods_body(&self) -> Vec<Value> {
        let now = payload::timestamp(self.now);
        let mut pods = Vec::new();
        for (app, spec) in self.apps.iter().enumerate() {
            if spec.kind != Kind::Pod {
                continue;
            }
            let instances: Vec<Value> = self
                .tasks
                .range((app, 0)..=(app, u32::MAX))
                .map(|(&key, task)| self.pod_instance(key, task))
                .collect();
            let stable = instances.iter().filter(|i| i["status"] == "STABLE").count();
            let status = if stable >= self.targets[app] as usize {
                "STABLE"
            } else {
                "DEGRADED"
            };
            let strategy = match spec.strategy {
                Some((inactive, expunge)) => {
                    json!({ "inactiveAfterSeconds": inactive, "expungeAfterSeconds": expunge })
                }
                None => json!("disabled"),
            };
            pods.push(json!({
                "id": spec.id,
                "spec": {
                    "id": spec.id,
                    "labels": super::operators::labels(spec.id),
                    "version": APP_VERSION,
                    "containers": [{
                        "name": POD_CONTAINER,
                        "exec": { "command": { "shell": "exec fluent-bit -c /etc/fluent-bit.conf" } },
                        "resources": { "cpus": 0.1, "mem": 64, "disk": 0, "gpus": 0 },
                    }],
                    "volumes": [],
                    "networks": [{ "mode": "host" }],
                    "scaling": { "kind": "fixed", "instances": self.targets[app] },
                    "scheduling": { "unreachableStrategy": strategy },
                },
                "status": status,
                "statusSince": now,
                "instances": instances,
                "terminationHistory": [],
                "lastUpdated": now,
                "lastChanged": now,
            }));
        }
        pods
    }

    /// One PodInstanceStatus: `Condition.toMesosTaskStateOrStaging` for the container, Marathon's
    /// `podInstanceState` for the instance.
    fn pod_instance(&self, key: (usize, u32), task: &Task) -> Value {
        let (container, instance) = match (&task.unreachable, task.phase) {
            (Some(_), _) => ("TASK_UNREACHABLE", "DEGRADED"),
            (None, Phase::Provisioned) => ("TASK_STAGING", "PENDING"),
            (None, Phase::Staging | Phase::Starting) => (
                if task.phase == Phase::Staging {
                    "TASK_STAGING"
                } else {
                    "TASK_STARTING"
                },
                "STAGING",
            ),
            (None, Phase::Running) if task.health == Some(false) => ("TASK_RUNNING", "DEGRADED"),
            (None, Phase::Running) => ("TASK_RUNNING", "STABLE"),
            (None, Phase::Killing) => ("TASK_KILLING", "TERMINAL"),
        };
        let since = payload::timestamp(task.staged_at);
        // A container with a health check reports it as its `healthy` condition once past
        // staging and starting (EXTRA.md §1).
        let past_starting = matches!(task.phase, Phase::Running | Phase::Killing);
        let conditions = match (task.health, past_starting) {
            (Some(alive), true) => json!([{
                "name": "healthy",
                "value": alive.to_string(),
                "reason": "health-reported-by-mesos",
                "lastChanged": since,
                "lastUpdated": since,
            }]),
            _ => json!([]),
        };
        let agent = &self.agents[task.agent];
        let mut entry = json!({
            "id": self.instance_id(key),
            "status": instance,
            "statusSince": since,
            "conditions": [],
            "agentHostname": agent.host,
            "agentId": agent.id,
            "resources": { "cpus": 0.1, "mem": 64, "disk": 0, "gpus": 0 },
            "networks": [],
            "containers": [{
                "name": POD_CONTAINER,
                "status": container,
                "statusSince": since,
                "conditions": conditions,
                "containerId": self.task_id(key),
                "endpoints": [],
                "resources": { "cpus": 0.1, "mem": 64, "disk": 0, "gpus": 0 },
                "lastUpdated": since,
                "lastChanged": since,
            }],
            "specReference": format!("/v2/pods{}::versions/{APP_VERSION}", self.apps[key.0].id),
            "lastUpdated": since,
            "lastChanged": since,
            "role": "*",
        });
        let message = match (&task.unreachable, instance) {
            (Some(_), _) => Some("pod instance has become unreachable"),
            (None, "DEGRADED") => Some("at least one container is not healthy"),
            _ => None,
        };
        if let (Some(fields), Some(message)) = (entry.as_object_mut(), message) {
            fields.insert("message".into(), message.into());
        }
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::super::scenario::Scenario;

    const START: i64 = 1_700_000_000_000;

    #[test]
    fn pod_containers_carry_the_task_ids_the_events_use_while_active() {
        let mut scenario = Scenario::new(2, START, 0.5);
        let pods = scenario.pods_body();
        assert_eq!(pods.len(), 1);
        let pod = &pods[0];
        assert_eq!(pod["id"], "/infra/log-shipper");
        assert_eq!(pod["spec"]["scaling"]["instances"], 12);
        let instances = pod["instances"].as_array().expect("instances");
        assert_eq!(instances.len(), 12);
        for instance in instances {
            let container = &instance["containers"][0];
            assert_eq!(container["status"], "TASK_RUNNING");
            let id = container["containerId"].as_str().expect("a containerId");
            let instance_id = instance["id"].as_str().expect("an instance id");
            assert_eq!(id, format!("{instance_id}.shipper.1"));
        }
        // Every pod task id an event names is listed while the task is active.
        let events = scenario.advance_to(START + 200 * 1000);
        let listed: Vec<String> = scenario.pods_body()[0]["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .map(|i| {
                i["containers"][0]["containerId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let last_status = |id: &str| {
            events
                .iter()
                .rev()
                .find(|e| e["taskId"] == id)
                .map(|e| e["taskStatus"].as_str().unwrap().to_owned())
        };
        for id in &listed {
            if let Some(status) = last_status(id) {
                assert!(
                    !["TASK_FAILED", "TASK_KILLED", "TASK_GONE_BY_OPERATOR"].contains(&&*status),
                    "{id} listed after {status}"
                );
            }
        }
    }

    #[test]
    fn a_pod_container_reports_its_latest_health_as_its_healthy_condition() {
        let mut scenario = Scenario::new(7, START, 1.0);
        // By instance: its current task (from status updates) and the latest health report of
        // that task (a relaunched task starts with none).
        let mut task_of = std::collections::HashMap::new();
        let mut latest = std::collections::HashMap::new();
        let mut checked = 0;
        for minute in 1..=60 {
            for event in scenario.advance_to(START + minute * 60_000) {
                if event["eventType"] == "status_update_event" {
                    let task = event["taskId"].as_str().unwrap().to_owned();
                    let instance = task.rsplitn(3, '.').nth(2).unwrap().to_owned();
                    task_of.insert(instance, task);
                } else if event["eventType"] == "health_status_changed_event"
                    && event["appId"] == "/infra/log-shipper"
                {
                    let instance = event["instanceId"].as_str().unwrap();
                    let task = task_of.get(instance).cloned().unwrap_or_default();
                    latest.insert(task, event["alive"].as_bool().unwrap());
                }
            }
            for instance in scenario.pods_body()[0]["instances"].as_array().unwrap() {
                let container = &instance["containers"][0];
                let task = container["containerId"].as_str().unwrap();
                let Some(&alive) = latest.get(task) else {
                    continue;
                };
                if container["status"] != "TASK_RUNNING" {
                    continue;
                }
                let condition = &container["conditions"][0];
                assert_eq!(condition["name"], "healthy", "{instance}");
                assert_eq!(condition["value"], alive.to_string(), "{instance}");
                let status = if alive { "STABLE" } else { "DEGRADED" };
                assert_eq!(instance["status"], status, "{instance}");
                checked += 1;
            }
        }
        assert!(checked > 0, "no pod task with a health report was listed");
    }

    #[test]
    fn a_cluster_without_pods_lists_and_names_none() {
        let mut scenario = Scenario::without_pods(2, START, 0.5);
        assert!(scenario.pods_body().is_empty());
        let events = scenario.advance_to(START + 100 * 1000);
        assert!(!events.is_empty());
        assert!(
            events
                .iter()
                .all(|e| e["appId"] != "/infra/log-shipper"
                    && e["runSpecId"] != "/infra/log-shipper")
        );
    }
}
