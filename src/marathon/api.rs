//! Reading Marathon's resync bodies, `GET /v2/tasks`, `GET /v2/apps` and `GET /v2/pods/::status`,
//! into snapshot tasks and apps.
//!
//! Only the fields the exporter uses are read; every other field is skipped whatever it holds, and
//! nulls are taken as absent. An entry that cannot be used is skipped, not an error: only a body that
//! is not JSON, or holds no list, fails.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::fields::{
    AppFields, CountField, LabelsField, List, Obj, StrategyField, Text, first_token, json_position,
};
use super::ids::parse_task_id;
use crate::state::{
    MesosState, Millis, Snapshot, SnapshotApp, SnapshotDeployment, SnapshotTask, SnapshotTasks,
    TaskRef,
};

/// Why a body cannot be read. The text never quotes the body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid JSON ({category}) at line {line} column {column}")]
    Json {
        category: &'static str,
        line: usize,
        column: usize,
    },
    #[error("the body is neither an array nor an object with a \"{0}\" array")]
    NoList(&'static str),
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        let (category, line, column) = json_position(&e);
        ApiError::Json {
            category,
            line,
            column,
        }
    }
}

/// `/v2/tasks` as read: the usable tasks, and how many entries were skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskList {
    pub tasks: SnapshotTasks,
    /// Entries that are not objects, have no parseable `id` or no string `appId`, an unknown `state`,
    /// or are pod tasks (which `/v2/tasks` does not list).
    pub skipped: usize,
}

/// The fields of a `/v2/tasks` entry the exporter uses.
#[derive(Debug, Default, Deserialize)]
struct TaskFields<'a> {
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow, rename = "appId")]
    app_id: Text<'a>,
    #[serde(default, borrow)]
    state: Text<'a>,
    #[serde(default, borrow, rename = "startedAt")]
    started_at: Text<'a>,
    #[serde(default, borrow)]
    host: Text<'a>,
    #[serde(default, rename = "healthCheckResults")]
    health_check_results: List<Obj<HealthResult>>,
}

/// One entry of a task's `healthCheckResults`.
#[derive(Debug, Default, Deserialize)]
struct HealthResult {
    #[serde(default)]
    alive: Option<bool>,
}

/// A task's health from its check results: unhealthy when any failed, healthy when there are
/// results and all passed, unknown otherwise (RULES.md, Health).
fn task_health(results: &[Obj<HealthResult>]) -> Option<bool> {
    let alive: Vec<bool> = results
        .iter()
        .filter_map(|r| match r {
            Obj::Value(r) => r.alive,
            _ => None,
        })
        .collect();
    if alive.contains(&false) {
        Some(false)
    } else if alive.is_empty() {
        None
    } else {
        Some(true)
    }
}

/// Parses a `/v2/tasks` body: `{"tasks":[…]}`, or a bare array of tasks.
///
/// A task without `state` (Marathon before 1.2) is `TASK_RUNNING` when it has a `startedAt` string,
/// else `TASK_STAGING`. Entries are packed as they are read; none is held in between.
pub fn parse_tasks(body: &[u8]) -> Result<TaskList, ApiError> {
    let mut list = TaskList::default();
    each_entry(body, "tasks", |entry: Obj<TaskFields<'_>>| {
        if !push_task(&mut list.tasks, &entry) {
            list.skipped += 1;
        }
    })?;
    Ok(list)
}

/// Packs a usable entry into `tasks`; `false` when it is skipped.
fn push_task(tasks: &mut SnapshotTasks, entry: &Obj<TaskFields<'_>>) -> bool {
    let Obj::Value(fields) = entry else {
        return false;
    };
    usable_task(entry).is_some_and(|(task, app, state)| {
        tasks.push(SnapshotTask {
            id: task.id,
            instance: &task.instance,
            app,
            state,
            pod: false,
            host: fields.host.as_str().unwrap_or_default(),
            health: task_health(&fields.health_check_results.0),
        })
    })
}

/// The task, app and state of an entry, unless it is skipped.
fn usable_task<'e>(entry: &'e Obj<TaskFields<'_>>) -> Option<(TaskRef<'e>, &'e str, MesosState)> {
    let Obj::Value(fields) = entry else {
        return None;
    };
    let task = parse_task_id(fields.id.as_str()?)?;
    if task.pod {
        return None;
    }
    let app = fields.app_id.as_str()?;
    let state = match fields.state.get().ok()? {
        Some(state) => MesosState::parse(state)?,
        None if fields.started_at.as_str().is_some() => MesosState::Running,
        None => MesosState::Staging,
    };
    Some((task, app, state))
}

/// Parses a `/v2/apps` body: `{"apps":[…]}`, or a bare array of apps. Each app gives its `id` and
/// `unreachableStrategy` (absent or null: `None`; `"disabled"`; or `{inactiveAfterSeconds,
/// expungeAfterSeconds}`, a missing member counting as 0). Entries without a string `id` are skipped;
/// a strategy of any other form reads as `None`.
pub fn parse_apps(body: &[u8]) -> Result<Vec<SnapshotApp>, ApiError> {
    let mut apps = Vec::new();
    each_entry(body, "apps", |entry: Obj<AppFields<'_>>| {
        if let Obj::Value(app) = entry
            && let Some(id) = app.id.as_str()
        {
            apps.push(SnapshotApp {
                id: id.to_owned(),
                strategy: app.unreachable_strategy.strategy().unwrap_or(None),
                instances: app.instances.0,
                labels: app.labels.0,
            });
        }
    })?;
    Ok(apps)
}

/// `/v2/pods/::status` as read: the tasks of the pods' containers, the pods, and how many entries
/// were skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodList {
    pub tasks: SnapshotTasks,
    pub pods: Vec<SnapshotApp>,
    /// Pods that are not objects or have no string `id`, and containers whose `containerId` does
    /// not parse or whose `status` is not a Mesos state.
    pub skipped: usize,
}

/// The fields of a PodStatus the exporter uses.
#[derive(Debug, Default, Deserialize)]
struct PodFields<'a> {
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default)]
    spec: Obj<PodSpec>,
    #[serde(default, borrow)]
    instances: List<Obj<PodInstance<'a>>>,
}

/// Where a pod's spec may carry its strategy: `scheduling.unreachableStrategy` (the pod RAML), or
/// `unreachableStrategy` beside it.
#[derive(Debug, Default, Deserialize)]
struct PodSpec {
    #[serde(default, rename = "unreachableStrategy")]
    unreachable_strategy: StrategyField,
    #[serde(default)]
    scheduling: Obj<PodScheduling>,
    #[serde(default)]
    scaling: Obj<PodScaling>,
    #[serde(default)]
    labels: LabelsField,
}

#[derive(Debug, Default, Deserialize)]
struct PodScaling {
    #[serde(default)]
    instances: CountField,
}

#[derive(Debug, Default, Deserialize)]
struct PodScheduling {
    #[serde(default, rename = "unreachableStrategy")]
    unreachable_strategy: StrategyField,
}

#[derive(Debug, Default, Deserialize)]
struct PodInstance<'a> {
    #[serde(default, borrow)]
    containers: List<Obj<PodContainer<'a>>>,
    #[serde(default, borrow, rename = "agentHostname")]
    agent_hostname: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
struct PodContainer<'a> {
    #[serde(default, borrow, rename = "containerId")]
    container_id: Text<'a>,
    #[serde(default, borrow)]
    status: Text<'a>,
    #[serde(default, borrow)]
    conditions: List<Obj<PodCondition<'a>>>,
}

/// A container condition; the exporter reads `healthy` (`"true"` / `"false"`).
#[derive(Debug, Default, Deserialize)]
struct PodCondition<'a> {
    #[serde(default, borrow)]
    name: Text<'a>,
    #[serde(default, borrow)]
    value: Text<'a>,
}

/// A container's health from its `healthy` condition, if it has one.
fn container_health(conditions: &[Obj<PodCondition<'_>>]) -> Option<bool> {
    conditions.iter().find_map(|c| match c {
        Obj::Value(c) if c.name.as_str() == Some("healthy") => match c.value.as_str()? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

/// Parses a `/v2/pods/::status` body: a bare array of pod statuses (EXTRA.md §1).
///
/// Every container with a `containerId` (the Mesos task id, present while the task is active) is a
/// task: that id, the instance parsed from it, the pod's `id` as its app, and the container's
/// `status`. Each pod is listed with the strategy of its spec (absent: `None`, like an app).
/// Pods are read one by one; none is held once its tasks are packed.
pub fn parse_pods(body: &[u8]) -> Result<PodList, ApiError> {
    let mut list = PodList::default();
    each_entry(body, "pods", |entry: Obj<PodFields<'_>>| {
        let Obj::Value(pod) = entry else {
            list.skipped += 1;
            return;
        };
        let Some(id) = pod.id.as_str() else {
            list.skipped += 1;
            return;
        };
        let (strategy, instances, labels) = match &pod.spec {
            Obj::Value(spec) => {
                let scheduled = match &spec.scheduling {
                    Obj::Value(s) => s.unreachable_strategy.strategy().unwrap_or(None),
                    _ => None,
                };
                let instances = match &spec.scaling {
                    Obj::Value(scaling) => scaling.instances.0,
                    _ => None,
                };
                (
                    scheduled.or(spec.unreachable_strategy.strategy().unwrap_or(None)),
                    instances,
                    spec.labels.0.clone(),
                )
            }
            _ => (None, None, None),
        };
        list.pods.push(SnapshotApp {
            id: id.to_owned(),
            strategy,
            instances,
            labels,
        });
        let containers = pod.instances.0.iter().flat_map(|instance| match instance {
            Obj::Value(instance) => {
                let host = instance.agent_hostname.as_str().unwrap_or_default();
                instance
                    .containers
                    .0
                    .iter()
                    .map(move |c| (host, c))
                    .collect()
            }
            _ => Vec::new(),
        });
        for (host, container) in containers {
            let Obj::Value(container) = container else {
                continue;
            };
            let Some(task_id) = container.container_id.as_str() else {
                continue; // a task that is not active has no containerId
            };
            let task = parse_task_id(task_id);
            let state = container.status.as_str().and_then(MesosState::parse);
            let pushed = task.zip(state).is_some_and(|(task, state)| {
                list.tasks.push(SnapshotTask {
                    id: task.id,
                    instance: &task.instance,
                    app: id,
                    state,
                    pod: task.pod,
                    host,
                    health: container_health(&container.conditions.0),
                })
            });
            if !pushed {
                list.skipped += 1;
            }
        }
    })?;
    Ok(list)
}

/// One entry of `/v2/deployments` (EXTRA.md §2).
#[derive(Debug, Default, Deserialize)]
struct DeploymentEntry {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, rename = "affectedApps")]
    affected_apps: List<String>,
    #[serde(default, rename = "affectedPods")]
    affected_pods: List<String>,
}

/// Parses a `/v2/deployments` body (a bare array): each deployment in progress with the apps and
/// pods it affects. Entries without a string `id` are skipped.
pub fn parse_deployments(body: &[u8]) -> Result<Vec<SnapshotDeployment>, ApiError> {
    let mut deployments = Vec::new();
    each_entry(body, "deployments", |entry: Obj<DeploymentEntry>| {
        if let Obj::Value(entry) = entry
            && let Some(id) = entry.id
        {
            let mut apps = entry.affected_apps.0;
            apps.extend(entry.affected_pods.0);
            deployments.push(SnapshotDeployment { id, apps });
        }
    })?;
    Ok(deployments)
}

/// Which snapshot body could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {error}")]
pub struct BodyError {
    /// `/v2/tasks`, `/v2/apps` or `/v2/pods/::status`.
    pub path: &'static str,
    pub error: ApiError,
}

/// A snapshot from its bodies: the tasks of `/v2/tasks` then those of the pods, the apps, and the
/// pods (`None` without a pods body, as when Marathon answered 404).
pub fn parse_snapshot(
    requested_at: Millis,
    tasks: &[u8],
    apps: &[u8],
    pods: Option<&[u8]>,
) -> Result<Snapshot, BodyError> {
    let failed = |path| move |error| BodyError { path, error };
    let mut tasks = parse_tasks(tasks).map_err(failed("/v2/tasks"))?.tasks;
    let apps = parse_apps(apps).map_err(failed("/v2/apps"))?;
    let pods = match pods {
        None => None,
        Some(body) => {
            let list = parse_pods(body).map_err(failed("/v2/pods/::status"))?;
            for task in list.tasks.iter() {
                tasks.push(task);
            }
            Some(list.pods)
        }
    };
    Ok(Snapshot {
        requested_at,
        answered_at: None,
        tasks,
        apps,
        pods,
        deployments: None,
    })
}

/// Hands `each` the entries of a bare array, or of the array under `key` in an object (other
/// members skipped), one by one as they are read.
fn each_entry<'a, T: Deserialize<'a>>(
    body: &'a [u8],
    key: &'static str,
    mut each: impl FnMut(T),
) -> Result<(), ApiError> {
    if !matches!(first_token(body), Some(b'[' | b'{')) {
        return Err(ApiError::NoList(key));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = ListSeed {
        key,
        each: Each {
            each: &mut each,
            entry: PhantomData,
        },
    }
    .deserialize(&mut de)?;
    de.end()?;
    if found {
        Ok(())
    } else {
        Err(ApiError::NoList(key))
    }
}

/// Reads a top-level array, or an object's `key` member: `false` when the object has no such member.
struct ListSeed<'f, T, F> {
    key: &'static str,
    each: Each<'f, T, F>,
}

/// Reads an array, handing each element to `each`.
struct Each<'f, T, F> {
    each: &'f mut F,
    entry: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> DeserializeSeed<'de> for ListSeed<'_, T, F> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> Visitor<'de> for ListSeed<'_, T, F> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an array or an object with a \"{}\" array", self.key)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.each.visit_seq(seq).map(|()| true)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let ListSeed { key, each } = self;
        let mut each = Some(each);
        while let Some(name) = map.next_key::<Text<'de>>()? {
            if name.as_str() == Some(key) {
                let Some(each) = each.take() else {
                    return Err(de::Error::duplicate_field(key));
                };
                map.next_value_seed(each)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(each.is_none())
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> DeserializeSeed<'de> for Each<'_, T, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>, F: FnMut(T)> Visitor<'de> for Each<'_, T, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while let Some(entry) = seq.next_element()? {
            (self.each)(entry);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Strategy;

    fn fixture(path: &str) -> Vec<u8> {
        let full = format!(
            "{}/tests/fixtures/marathon/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    fn states(list: &TaskList) -> Vec<MesosState> {
        list.tasks.iter().map(|t| t.state).collect()
    }

    fn strategies(apps: &[SnapshotApp]) -> Vec<(&str, Option<Strategy>)> {
        apps.iter().map(|a| (a.id.as_str(), a.strategy)).collect()
    }

    #[test]
    fn v2_tasks_of_marathon_1_10_keep_every_state() {
        let list = parse_tasks(&fixture("api/v2_tasks.json")).unwrap();
        assert_eq!(list.skipped, 0);
        use MesosState::*;
        assert_eq!(states(&list), [Running, Unreachable, Staging, Failed]);
        let first = list.tasks.get(0).unwrap();
        assert_eq!(
            first.id,
            "prod_web.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2._app.1"
        );
        assert_eq!(
            first.instance,
            "prod_web.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2"
        );
        assert_eq!(first.app, "/prod/web");
        assert_eq!(
            list.tasks.get(3).unwrap().instance,
            "tools_registry.instance-0c9d2e44-0780-11eb-9a3f-0242f5e1c6d2"
        );
        assert_eq!(list.tasks.get(3).unwrap().app, "/tools/registry");
    }

    #[test]
    fn old_tasks_without_state_are_running_when_started() {
        for (path, apps) in [
            ("realworld/go-marathon/1_v2_tasks.json", "/bridged-webapp"),
            ("realworld/marathon-consul/1_v2_tasks.json", "/test"),
        ] {
            let list = parse_tasks(&fixture(path)).unwrap();
            assert_eq!(list.skipped, 0, "{path}");
            assert_eq!(states(&list), [MesosState::Running; 2], "{path}");
            assert!(list.tasks.iter().all(|t| t.app == apps), "{path}");
        }
        let list = parse_tasks(&fixture("realworld/marathon-consul/1_v2_tasks.json")).unwrap();
        assert_eq!(
            list.tasks.get(0).unwrap().instance,
            "test.marathon-47de43bd-1a81-11e5-bdb6-e6cb6734eaf8"
        );
    }

    #[test]
    fn task_without_state_or_start_is_staging() {
        let body = br#"{"tasks":[{"id":"a.b-1","appId":"/a"},{"id":"a.b-2","appId":"/a","startedAt":null}]}"#;
        let list = parse_tasks(body).unwrap();
        assert_eq!(states(&list), [MesosState::Staging; 2]);
    }

    #[test]
    fn documented_tasks_with_extra_fields_parse() {
        let list = parse_tasks(&fixture("realworld/marathon-docs/5_v2_tasks.json")).unwrap();
        assert_eq!((list.tasks.len(), list.skipped), (2, 0));
        let registry = list.tasks.get(1).unwrap();
        assert_eq!(registry.app, "/tools/docker/registry");
        assert_eq!(
            registry.instance,
            "tools_docker_registry.marathon-002b4d28-46b9-11e5-b731-525400cce7ed"
        );
        assert_eq!(states(&list), [MesosState::Running; 2]);
    }

    #[test]
    fn task_listed_under_its_instance_id_keeps_that_id() {
        let list =
            parse_tasks(&fixture("realworld/marathon-docs/6_v2_apps_app_tasks.json")).unwrap();
        let id = "minecraft_survival-world.instance-564bd685-4c30-11e5-98c1-be5b2935a987";
        assert_eq!(list.skipped, 0);
        assert_eq!(
            (
                list.tasks.get(0).unwrap().id,
                list.tasks.get(0).unwrap().instance
            ),
            (id, id)
        );
        // The stated state wins over `startedAt`.
        assert_eq!(states(&list), [MesosState::Staging]);
    }

    #[test]
    fn unusable_entries_are_skipped_and_counted() {
        let body = br#"[
            {"id":"a.b-1","appId":"/a","state":"TASK_KILLING","ports":31372,"host":null},
            {"id":"nodots","appId":"/a","state":"TASK_RUNNING"},
            {"id":null,"appId":"/a"},
            {"id":"a.b-3","state":"TASK_RUNNING"},
            {"id":"a.b-4","appId":"/a","state":"TASK_SLEEPING"},
            {"id":"a.b-5","appId":"/a","state":5},
            {"id":"p.instance-1.redis.1","appId":"/p","state":"TASK_RUNNING"},
            null, 7, "a.b-6", []
        ]"#;
        let list = parse_tasks(body).unwrap();
        assert_eq!(states(&list), [MesosState::Killing]);
        assert_eq!(list.skipped, 10);
    }

    #[test]
    fn bodies_without_a_list_are_errors_that_do_not_quote_the_body() {
        let cases: [(&[u8], &str); 6] = [
            (
                br#"{"message":"SECRET"}"#,
                "the body is neither an array nor an object with a \"tasks\" array",
            ),
            (
                b"\"SECRET\"",
                "the body is neither an array nor an object with a \"tasks\" array",
            ),
            (
                b"",
                "the body is neither an array nor an object with a \"tasks\" array",
            ),
            (br#"{"tasks":"SECRET"}"#, "invalid JSON (data)"),
            (br#"{"tasks":[{"id":"SECRET"#, "invalid JSON (eof)"),
            (br#"{"tasks":[],"tasks":[]}"#, "invalid JSON (data)"),
        ];
        for (body, want) in cases {
            let e = parse_tasks(body).unwrap_err().to_string();
            assert!(
                e.starts_with(want),
                "{e} for {}",
                String::from_utf8_lossy(body)
            );
            assert!(!e.contains("SECRET"));
        }
        assert!(matches!(
            parse_apps(br#"{"tasks":[]}"#),
            Err(ApiError::NoList("apps"))
        ));
    }

    #[test]
    fn v2_apps_of_marathon_1_10_name_their_strategy() {
        let apps = parse_apps(&fixture("api/v2_apps_embed_tasks.json")).unwrap();
        assert_eq!(
            strategies(&apps),
            [("/prod/web", Some(Strategy::enabled(0, 0)))]
        );
    }

    #[test]
    fn marathon_1_5_apps_carry_their_timeouts_in_millis() {
        let apps = parse_apps(&fixture(
            "realworld/marathon-lb/1_v2_apps_embed_tasks_marathon1.5.json",
        ))
        .unwrap();
        assert_eq!(
            strategies(&apps),
            [("/pywebserver", Some(Strategy::enabled(300_000, 600_000)))]
        );
        let apps = parse_apps(&fixture("realworld/contrail-specs/5_v2_apps.json")).unwrap();
        assert_eq!(
            strategies(&apps),
            [("/app-no-1", Some(Strategy::enabled(0, 0)))]
        );
    }

    #[test]
    fn bare_app_arrays_parse() {
        let apps = parse_apps(&fixture(
            "realworld/f5-marathon-bigip-ctlr/2_v2_apps_list_marathon1.5.2.json",
        ))
        .unwrap();
        let zero = Some(Strategy::enabled(0, 0));
        assert_eq!(
            strategies(&apps),
            [("/nginx-app", zero), ("/nginx-app-nohm", zero)]
        );
        let apps = parse_apps(&fixture(
            "realworld/f5-marathon-bigip-ctlr/1_v2_apps_list_missing_data.json",
        ))
        .unwrap();
        assert_eq!(
            strategies(&apps),
            [("/f5-service-router", None), ("/server-app", None)]
        );
    }

    #[test]
    fn apps_before_marathon_1_4_name_no_strategy() {
        for (path, ids) in [
            (
                "realworld/datadog-integrations-core/1_v2_apps.json",
                &["/my-app", "/my-app-2"][..],
            ),
            (
                "realworld/marathon-consul/5_v2_apps_embed_tasks.json",
                &["/bridged-webapp"][..],
            ),
            (
                "realworld/marathon-lb/2_v2_apps_embed_tasks_zdd.json",
                &["/nginx-green", "/nginx-blue"][..],
            ),
        ] {
            let apps = parse_apps(&fixture(path)).unwrap();
            let got: Vec<_> = apps.iter().map(|a| a.id.as_str()).collect();
            assert_eq!(got, ids, "{path}");
            assert!(apps.iter().all(|a| a.strategy.is_none()), "{path}");
        }
    }

    fn tasks_of(list: &SnapshotTasks) -> Vec<(&str, &str, &str, MesosState, bool)> {
        list.iter()
            .map(|t| (t.id, t.instance, t.app, t.state, t.pod))
            .collect()
    }

    #[test]
    fn tasks_carry_their_agent_host_and_the_health_their_checks_report() {
        let list = parse_tasks(&fixture("api/v2_tasks.json")).unwrap();
        let first = list.tasks.get(0).unwrap();
        assert_eq!((first.host, first.health), ("10.0.3.17", Some(true)));
        let second = list.tasks.get(1).unwrap();
        assert_eq!(
            (second.host, second.health),
            ("10.0.3.42", None),
            "no results: unknown"
        );
        let body =
            br#"[{"id":"a.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2._app.1","appId":"/a",
            "state":"TASK_RUNNING","healthCheckResults":[{"alive":true},{"alive":false}]}]"#;
        let failing = parse_tasks(body).unwrap();
        let task = failing.tasks.get(0).unwrap();
        assert_eq!(
            (task.host, task.health),
            ("", Some(false)),
            "any failed check: unhealthy"
        );
    }

    #[test]
    fn apps_carry_their_desired_instances_and_labels() {
        let apps = parse_apps(&fixture("api/v2_apps_embed_tasks.json")).unwrap();
        let web = &apps[0];
        assert_eq!(web.instances, Some(2));
        assert_eq!(web.labels, Some(vec![("team".into(), "web".into())]));
    }

    #[test]
    fn pods_carry_their_scaling_labels_agents_and_container_health() {
        let one = fixture("api/v2_pods_id_status.json");
        let body = [b"[".as_slice(), &one, b"]"].concat();
        let list = parse_pods(&body).unwrap();
        let pod = &list.pods[0];
        assert_eq!(pod.instances, Some(1));
        let mut labels = pod.labels.clone().expect("labels");
        labels.sort();
        assert_eq!(
            labels,
            [
                ("istio".into(), "productpage".into()),
                ("version".into(), "v1".into())
            ]
        );
        assert!(list.tasks.iter().all(|t| t.host == "10.0.0.165"));
        let body = br#"[{"id":"/p","spec":{"id":"/p"},"instances":[{"id":"p.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2",
            "containers":[{"name":"c","status":"TASK_RUNNING","containerId":"p.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2.c",
            "conditions":[{"name":"healthy","value":"false","reason":"health-reported-by-mesos"}]}]}]}]"#;
        let list = parse_pods(body).unwrap();
        assert_eq!(list.tasks.get(0).map(|t| t.health), Some(Some(false)));
    }

    #[test]
    fn deployments_list_the_apps_and_pods_they_affect() {
        let deployments = parse_deployments(&fixture("api/v2_deployments.json")).unwrap();
        assert_eq!(
            deployments,
            [SnapshotDeployment {
                id: "97c136bf-5a28-4821-9d94-480d9fbb01c8".into(),
                apps: vec!["/foo".into(), "/bla".into()],
            }]
        );
        assert!(parse_deployments(b"[]").unwrap().is_empty());
        assert!(parse_deployments(b"{not json").is_err());
    }

    #[test]
    fn pod_status_of_marathon_1_4_lists_its_container_task() {
        let list = parse_pods(&fixture("api/v2_pods_status.json")).unwrap();
        assert_eq!(list.skipped, 0);
        assert_eq!(
            tasks_of(&list.tasks),
            [(
                "fake-pod.instance-dc6cfe60-6812-11e7-a18e-70b3d5800003.container1",
                "fake-pod.instance-dc6cfe60-6812-11e7-a18e-70b3d5800003",
                "/fake-pod",
                MesosState::Running,
                true
            )]
        );
        assert_eq!(strategies(&list.pods), [("/fake-pod", None)]);
    }

    #[test]
    fn pod_status_of_marathon_1_7_lists_every_container_and_the_scheduling_strategy() {
        // The fixture is one pod as `/v2/pods/{id}::status` answers; `::status` lists such pods.
        let one = fixture("api/v2_pods_id_status.json");
        let body = [b"[".as_slice(), &one, b"]"].concat();
        let list = parse_pods(&body).unwrap();
        let instance = "productpage.instance-488b3441-7bb5-11e9-b931-8ae30e1b1bb7";
        let ids: Vec<_> = list.tasks.iter().map(|t| t.id).collect();
        assert_eq!(
            ids,
            [
                format!("{instance}.productpage"),
                format!("{instance}.proxy")
            ]
        );
        assert!(list.tasks.iter().all(|t| t.instance == instance
            && t.app == "/productpage"
            && t.state == MesosState::Running
            && t.pod));
        assert_eq!(
            strategies(&list.pods),
            [("/productpage", Some(Strategy::enabled(0, 0)))]
        );
        assert_eq!(list.skipped, 0);
    }

    #[test]
    fn pod_containers_without_an_active_task_are_not_tasks_and_bad_entries_are_skipped() {
        let body = br#"[
            {"id":"/p","spec":{"unreachableStrategy":"disabled"},"instances":[
                {"id":"p.instance-1","containers":[
                    {"name":"web","status":"TASK_UNREACHABLE","containerId":"p.instance-1.web.2"},
                    {"name":"db","status":"TASK_FINISHED"},
                    {"name":"x","status":"TASK_SLEEPING","containerId":"p.instance-1.x.1"},
                    {"name":"y","status":"TASK_RUNNING","containerId":"nodots"},
                    7
                ]},
                "p.instance-2",
                {"id":"p.instance-3","containers":null}
            ]},
            {"id":"/q","spec":{"scheduling":{"unreachableStrategy":{"inactiveAfterSeconds":60,"expungeAfterSeconds":600}},
                               "unreachableStrategy":"disabled"},"instances":null},
            {"id":"/r","spec":null},
            {"spec":{}},
            null, 3
        ]"#;
        let list = parse_pods(body).unwrap();
        assert_eq!(
            tasks_of(&list.tasks),
            [(
                "p.instance-1.web.2",
                "p.instance-1",
                "/p",
                MesosState::Unreachable,
                true
            )]
        );
        assert_eq!(
            strategies(&list.pods),
            [
                ("/p", Some(Strategy::DISABLED)),
                ("/q", Some(Strategy::enabled(60_000, 600_000))),
                ("/r", None)
            ]
        );
        assert_eq!(list.skipped, 5, "x, y, {{}} without id, null, 3");
        assert!(matches!(
            parse_pods(br#"{"message":"not found"}"#),
            Err(ApiError::NoList("pods"))
        ));
    }

    #[test]
    fn a_snapshot_holds_app_tasks_then_pod_tasks() {
        let tasks = fixture("api/v2_tasks.json");
        let apps = fixture("api/v2_apps_embed_tasks.json");
        let pods = fixture("api/v2_pods_status.json");
        let s = parse_snapshot(7, &tasks, &apps, Some(&pods)).unwrap();
        assert_eq!(s.requested_at, 7);
        assert_eq!(s.tasks.len(), 5);
        assert!(s.tasks.iter().take(4).all(|t| !t.pod));
        assert_eq!(s.tasks.get(4).unwrap().app, "/fake-pod");
        assert_eq!(s.pods.as_ref().map(Vec::len), Some(1));
        let without = parse_snapshot(7, &tasks, &apps, None).unwrap();
        assert_eq!((without.tasks.len(), without.pods), (4, None));
        let e = parse_snapshot(7, &tasks, &apps, Some(b"{")).unwrap_err();
        assert_eq!(e.path, "/v2/pods/::status");
        assert!(e.to_string().starts_with("/v2/pods/::status: invalid JSON"));
    }

    #[test]
    fn apps_without_string_id_are_skipped_and_bad_strategies_read_as_none() {
        let body = br#"{"apps":[
            {"id":"/a","unreachableStrategy":"disabled"},
            {"id":null},
            {"unreachableStrategy":"disabled"},
            {"id":"/b","unreachableStrategy":{"inactiveAfterSeconds":"x"}},
            {"id":"/c","unreachableStrategy":{"expungeAfterSeconds":7}},
            3
        ],"message":null}"#;
        let apps = parse_apps(body).unwrap();
        let want = [
            ("/a", Some(Strategy::DISABLED)),
            ("/b", None),
            ("/c", Some(Strategy::enabled(0, 7_000))),
        ];
        assert_eq!(strategies(&apps), want);
    }
}
