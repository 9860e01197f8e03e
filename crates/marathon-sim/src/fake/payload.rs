//! Realistic Marathon 1.10 payloads (compact `serde_json::Value`s) for tests and the demo.
//!
//! Agent, host and port values are derived from the ids by hashing, so the same instance is always
//! placed on the same agent and the events of one instance agree with its `/v2/tasks` entry.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The run-spec version every generated app, task and event carries.
pub const APP_VERSION: &str = "2020-10-07T09:12:44.318Z";
const AGENT_PREFIX: &str = "b1f4c0d2-6a3e-4f1b-9c77-2d8e5a0f3b19-S";
const FRAMEWORK_ID: &str = "b1f4c0d2-6a3e-4f1b-9c77-2d8e5a0f3b19-0001";
/// Mesos states after which `/v2/tasks` drops `stagedAt`, `startedAt`, `version` and the ports.
const TERMINAL_STATES: [&str; 8] = [
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_UNKNOWN",
];
/// Non-terminal states of a task that has started.
const STARTED_STATES: [&str; 3] = ["TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"];
/// Time from staging to running in generated tasks.
const START_DELAY_MS: i64 = 16_641;

/// A `status_update_event` with an empty `message`.
pub fn status_update(task_id: &str, app_id: &str, status: &str, timestamp_ms: i64) -> Value {
    status_update_with_message(task_id, app_id, status, "", timestamp_ms)
}

/// A `status_update_event`: the 11 fields of Marathon's `MesosStatusUpdateEvent`.
pub fn status_update_with_message(
    task_id: &str,
    app_id: &str,
    status: &str,
    message: &str,
    timestamp_ms: i64,
) -> Value {
    let (agent, host) = placement(instance_of(task_id));
    json!({
        "slaveId": agent,
        "taskId": task_id,
        "taskStatus": status,
        "message": message,
        "appId": app_id,
        "host": host,
        "ipAddresses": ip_addresses(&host, status),
        "ports": [host_port(task_id)],
        "version": APP_VERSION,
        "eventType": "status_update_event",
        "timestamp": timestamp(timestamp_ms),
    })
}

/// An `instance_changed_event`; `agentId` and `host` are `null` for `Scheduled`.
pub fn instance_changed(
    instance_id: &str,
    app_id: &str,
    condition: &str,
    timestamp_ms: i64,
) -> Value {
    let (agent, host) = match condition {
        "Scheduled" => (Value::Null, Value::Null),
        _ => {
            let (agent, host) = placement(instance_id);
            (Value::String(agent), Value::String(host))
        }
    };
    json!({
        "instanceId": instance_id,
        "condition": condition,
        "runSpecId": app_id,
        "agentId": agent,
        "host": host,
        "runSpecVersion": APP_VERSION,
        "timestamp": timestamp(timestamp_ms),
        "eventType": "instance_changed_event",
    })
}

/// An `unknown_instance_terminated_event`.
pub fn unknown_instance_terminated(
    instance_id: &str,
    app_id: &str,
    condition: &str,
    timestamp_ms: i64,
) -> Value {
    json!({
        "instanceId": instance_id,
        "runSpecId": app_id,
        "condition": condition,
        "timestamp": timestamp(timestamp_ms),
        "eventType": "unknown_instance_terminated_event",
    })
}

/// An `app_terminated_event`.
pub fn app_terminated(app_id: &str, timestamp_ms: i64) -> Value {
    json!({ "appId": app_id, "eventType": "app_terminated_event", "timestamp": timestamp(timestamp_ms) })
}

/// An `event_stream_attached` event for a client at `remote_address`.
pub fn stream_attached(remote_address: &str, timestamp_ms: i64) -> Value {
    json!({ "remoteAddress": remote_address, "eventType": "event_stream_attached", "timestamp": timestamp(timestamp_ms) })
}

/// An `api_post_event` for a one-instance app; `strategy` is (inactiveAfterSeconds,
/// expungeAfterSeconds), `None` giving `"unreachableStrategy": "disabled"`.
pub fn api_post_app(app_id: &str, strategy: Option<(u64, u64)>, timestamp_ms: i64) -> Value {
    json!({
        "clientIp": "10.0.5.21",
        "uri": format!("/v2/apps{app_id}"),
        "appDefinition": app_definition(app_id, 1, strategy),
        "eventType": "api_post_event",
        "timestamp": timestamp(timestamp_ms),
    })
}

/// A `/v2/tasks` entry (RAML 1.10 shape). `startedAt` is present for started states (running,
/// killing, unreachable); terminal states carry no `stagedAt`, `startedAt` or `version` and no
/// ports, as Marathon lists them.
pub fn task(task_id: &str, app_id: &str, state: &str, staged_at_ms: i64) -> Value {
    let (agent, host) = placement(instance_of(task_id));
    let terminal = TERMINAL_STATES.contains(&state);
    let ports = if terminal {
        vec![]
    } else {
        vec![host_port(task_id)]
    };
    let mut task = json!({
        "appId": app_id,
        "healthCheckResults": [],
        "host": host,
        "id": task_id,
        "ipAddresses": ip_addresses(&host, state),
        "ports": ports,
        "servicePorts": [service_port(app_id)],
        "slaveId": agent,
        "state": state,
        "localVolumes": [],
        "role": "*",
    });
    if let (Some(fields), false) = (task.as_object_mut(), terminal) {
        fields.insert("stagedAt".into(), timestamp(staged_at_ms).into());
        if STARTED_STATES.contains(&state) {
            fields.insert(
                "startedAt".into(),
                timestamp(staged_at_ms + START_DELAY_MS).into(),
            );
        }
        fields.insert("version".into(), APP_VERSION.into());
    }
    task
}

/// A `/v2/apps` entry with the usual fields, `unreachableStrategy` (`None`: `"disabled"`) and
/// the task counts (all `instances` counted as running).
pub fn app(app_id: &str, instances: u32, strategy: Option<(u64, u64)>) -> Value {
    let mut app = app_definition(app_id, instances, strategy);
    if let Some(fields) = app.as_object_mut() {
        let extra = json!({
            "versionInfo": { "lastScalingAt": APP_VERSION, "lastConfigChangeAt": APP_VERSION },
            "tasksStaged": 0,
            "tasksRunning": instances,
            "tasksHealthy": 0,
            "tasksUnhealthy": 0,
            "deployments": [],
        });
        if let Value::Object(extra) = extra {
            fields.extend(extra);
        }
    }
    app
}

/// One pod instance for [`pod_status`]: its id and its containers as (name, task id, Mesos state).
pub type PodInstance<'a> = (&'a str, &'a [(&'a str, &'a str, &'a str)]);

/// A `/v2/pods/::status` entry (the 1.10 shape, trimmed to what a reader needs): pod `pod_id`
/// with one instance per `(instance id, [(container name, task id, Mesos state)])`. A container
/// of a terminal state carries no `containerId`, as Marathon lists it. `strategy` as for [`app`],
/// under `spec.scheduling.unreachableStrategy`.
pub fn pod_status(
    pod_id: &str,
    instances: &[PodInstance<'_>],
    strategy: Option<(u64, u64)>,
) -> Value {
    let unreachable = match strategy {
        Some((inactive, expunge)) => {
            json!({ "inactiveAfterSeconds": inactive, "expungeAfterSeconds": expunge })
        }
        None => json!("disabled"),
    };
    let instances: Vec<Value> = instances
        .iter()
        .map(|(instance_id, containers)| {
            let (agent, host) = placement(instance_id);
            let containers: Vec<Value> = containers
                .iter()
                .map(|(name, task_id, state)| {
                    let mut c =
                        json!({ "name": name, "status": state, "conditions": [], "endpoints": [] });
                    if let (Some(fields), false) =
                        (c.as_object_mut(), TERMINAL_STATES.contains(state))
                    {
                        fields.insert("containerId".into(), (*task_id).into());
                    }
                    c
                })
                .collect();
            json!({
                "id": instance_id,
                "status": "STABLE",
                "agentHostname": host,
                "agentId": agent,
                "conditions": [],
                "containers": containers,
            })
        })
        .collect();
    json!({
        "id": pod_id,
        "spec": {
            "id": pod_id,
            "containers": [],
            "scaling": { "kind": "fixed", "instances": instances.len() },
            "scheduling": { "unreachableStrategy": unreachable },
        },
        "status": "STABLE",
        "instances": instances,
        "terminationHistory": [],
    })
}

/// `"/prod/web", 7` → `"prod_web.instance-<uuid>"`, with a version-1-looking uuid unique per `n`.
pub fn instance_id(app_id: &str, n: u32) -> String {
    let time_low = n.wrapping_mul(0x9E37_79B1) ^ 0x5C1E_8B07;
    format!(
        "{}.instance-{time_low:08x}-0890-11eb-9a3f-0242f5e1c6d2",
        safe_path(app_id)
    )
}

/// The 1.8+ app task id: `<instance id>._app.<incarnation>`.
pub fn task_id(app_id: &str, n: u32, incarnation: u32) -> String {
    format!("{}._app.{incarnation}", instance_id(app_id, n))
}

/// Marathon's timestamp format, UTC with milliseconds: 1602061982771 → "2020-10-07T09:13:02.771Z".
pub fn timestamp(ms: i64) -> String {
    crate::time::format_timestamp(ms)
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// A `/v2/info` answer of a 1.10 leader.
pub fn info(leader_host_port: &str) -> Value {
    let hostname = leader_host_port
        .rsplit_once(':')
        .map_or(leader_host_port, |(h, _)| h);
    let port = leader_host_port
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(8080);
    json!({
        "name": "marathon",
        "version": "1.10.26",
        "buildref": "bba2ec4d0d0f67e5d1f0c3b2a9e8d7c6b5a4f3e2",
        "elected": true,
        "leader": leader_host_port,
        "frameworkId": FRAMEWORK_ID,
        "marathon_config": {
            "features": [],
            "framework_name": "marathon",
            "ha": true,
            "hostname": hostname,
            "mesos_role": "*",
            "reconciliation_initial_delay": 15_000,
            "reconciliation_interval": 600_000,
            "scale_apps_initial_delay": 15_000,
            "scale_apps_interval": 300_000,
            "task_lost_expunge_initial_delay": 300_000,
            "task_lost_expunge_interval": 30_000,
        },
        "zookeeper_config": { "zk": "zk://127.0.0.1:2181/marathon", "zk_timeout": 10_000 },
        "http_config": { "http_port": port, "https_port": 8443 },
    })
}

/// The app definition as `api_post_event` carries it (no counts).
fn app_definition(app_id: &str, instances: u32, strategy: Option<(u64, u64)>) -> Value {
    let unreachable = match strategy {
        Some((inactive, expunge)) => {
            json!({ "inactiveAfterSeconds": inactive, "expungeAfterSeconds": expunge })
        }
        None => json!("disabled"),
    };
    json!({
        "id": app_id,
        "backoffFactor": 1.15,
        "backoffSeconds": 1,
        "cmd": "python3 -m http.server $PORT0",
        "constraints": [],
        "cpus": 0.5,
        "disk": 0,
        "env": {},
        "executor": "",
        "gpus": 0,
        "healthChecks": [],
        "instances": instances,
        "labels": {},
        "maxLaunchDelaySeconds": 300,
        "mem": 256,
        "networks": [{ "mode": "host" }],
        "portDefinitions": [{ "name": "http", "port": service_port(app_id), "protocol": "tcp" }],
        "requirePorts": false,
        "upgradeStrategy": { "maximumOverCapacity": 1, "minimumHealthCapacity": 1 },
        "version": APP_VERSION,
        "killSelection": "YOUNGEST_FIRST",
        "unreachableStrategy": unreachable,
        "role": "*",
    })
}

/// Container addresses are known only once the task is past staging.
fn ip_addresses(host: &str, state: &str) -> Value {
    match state {
        "TASK_STAGING" => json!([]),
        _ => json!([{ "ipAddress": host, "protocol": "IPv4" }]),
    }
}

/// `/prod/web` → `prod_web`.
fn safe_path(app_id: &str) -> String {
    app_id.trim_start_matches('/').replace('/', "_")
}

/// The instance part of a 1.8+ app task id (the id itself for anything else).
fn instance_of(task_id: &str) -> &str {
    task_id
        .rsplit_once("._app.")
        .map_or(task_id, |(instance, _)| instance)
}

/// Agent id and host of the agent an instance runs on.
fn placement(instance_id: &str) -> (String, String) {
    let agent = fnv1a(instance_id) % 24 + 1;
    (
        format!("{AGENT_PREFIX}{agent}"),
        format!("10.0.3.{}", 10 + agent),
    )
}

fn host_port(task_id: &str) -> u64 {
    31_000 + fnv1a(task_id) % 1000
}

fn service_port(app_id: &str) -> u64 {
    10_000 + fnv1a(app_id) % 1000
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A `health_status_changed_event` for instance `instance_id` of `app_id` (`alive`: the check's
/// latest result).
pub fn health_status_changed(
    instance_id: &str,
    app_id: &str,
    alive: bool,
    timestamp_ms: i64,
) -> Value {
    json!({
        "appId": app_id,
        "instanceId": instance_id,
        "version": APP_VERSION,
        "alive": alive,
        "eventType": "health_status_changed_event",
        "timestamp": timestamp(timestamp_ms),
    })
}

/// An `unhealthy_instance_kill_event`: Marathon kills task `task_id` for failing its health checks.
pub fn unhealthy_instance_kill(
    task_id: &str,
    app_id: &str,
    reason: &str,
    timestamp_ms: i64,
) -> Value {
    let instance = instance_of(task_id);
    let (agent, host) = placement(instance);
    json!({
        "appId": app_id,
        "taskId": task_id,
        "instanceId": instance,
        "version": APP_VERSION,
        "reason": reason,
        "host": host,
        "slaveId": agent,
        "eventType": "unhealthy_instance_kill_event",
        "timestamp": timestamp(timestamp_ms),
    })
}

/// A deployment's `plan`: one step restarting each of `apps`.
fn deployment_plan(id: &str, apps: &[&str]) -> Value {
    let actions: Vec<Value> = apps
        .iter()
        .map(|app| json!({ "action": "RestartApplication", "app": app }))
        .collect();
    json!({ "id": id, "steps": [{ "actions": actions }], "version": APP_VERSION })
}

/// A `deployment_info` event: deployment `id`, restarting `apps`, is at its (only) step.
pub fn deployment_info(id: &str, apps: &[&str], timestamp_ms: i64) -> Value {
    let plan = deployment_plan(id, apps);
    json!({
        "plan": plan,
        "currentStep": plan["steps"][0].clone(),
        "eventType": "deployment_info",
        "timestamp": timestamp(timestamp_ms),
    })
}

/// A `deployment_success` (or, `success` false, `deployment_failed`) event of deployment `id`.
pub fn deployment_end(id: &str, apps: &[&str], success: bool, timestamp_ms: i64) -> Value {
    let kind = if success {
        "deployment_success"
    } else {
        "deployment_failed"
    };
    json!({
        "id": id,
        "plan": deployment_plan(id, apps),
        "eventType": kind,
        "timestamp": timestamp(timestamp_ms),
    })
}

/// A `/v2/deployments` entry: deployment `id` restarting `apps`, at step 1 of 1.
pub fn deployment(id: &str, apps: &[&str], started_ms: i64) -> Value {
    let actions: Vec<Value> = apps
        .iter()
        .map(|app| json!({ "action": "RestartApplication", "app": app }))
        .collect();
    json!({
        "id": id,
        "version": timestamp(started_ms),
        "affectedApps": apps,
        "affectedPods": [],
        "steps": [{ "actions": actions.clone() }],
        "currentActions": actions,
        "currentStep": 1,
        "totalSteps": 1,
    })
}
