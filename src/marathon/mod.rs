//! Marathon's side of the wire: event payloads, `/v2/tasks` and `/v2/apps` bodies, task and instance ids, timestamps.

pub mod api;
pub mod events;
mod fields;
pub mod ids;
mod kinds;
mod scan;
pub mod time;

pub use api::{
    ApiError, BodyError, PodList, TaskList, parse_apps, parse_deployments, parse_pods,
    parse_snapshot, parse_tasks,
};
pub use events::{DecodeError, EventKind, RawEvent, SUBSCRIBED, decode};
pub use ids::{parse_instance_id, parse_task_id};
pub use time::{parse_http_date, parse_timestamp};

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::state::Input;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/marathon");

    /// Bodies of endpoints the exporter does not read.
    const NOT_APPLICABLE: [&str; 3] = ["v2_info", "v2_leader", "v2_queue"];

    fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                json_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{path}")).unwrap()
    }

    /// Checks one event payload; returns its kind.
    fn check_event(name: &str, data: &[u8], event_type: &str, has_timestamp: bool) -> EventKind {
        let raw = decode(data).unwrap_or_else(|e| panic!("{name}: {e}"));
        let kind = raw.kind();
        assert_ne!(kind, EventKind::Unknown, "{name}");
        assert_eq!(kind.label(), event_type, "{name}");
        assert!(name.contains(event_type), "{name} holds a {event_type}");
        assert_eq!(raw.timestamp().is_some(), has_timestamp, "{name}");
        let input = raw.input(0).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(input.is_some(), kind.feeds_engine(), "{name}");
        if let Some(input) = input {
            assert_eq!(Some(input.timestamp()), raw.timestamp(), "{name}");
        }
        kind
    }

    /// Checks one REST body; returns whether it is one the exporter reads.
    fn check_body(name: &str, data: &[u8]) -> bool {
        if name.contains("v2_tasks") || name.contains("app_tasks") {
            let list = parse_tasks(data).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!list.tasks.is_empty(), "{name}");
            assert_eq!(list.skipped, 0, "{name}");
            true
        } else if name.contains("v2_pods") {
            // `/v2/pods/{id}::status` is one pod; `::status` lists them.
            let list = match data.trim_ascii_start().first() {
                Some(b'[') => parse_pods(data),
                _ => parse_pods(&[b"[".as_slice(), data, b"]"].concat()),
            }
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!list.tasks.is_empty() && !list.pods.is_empty(), "{name}");
            assert_eq!(list.skipped, 0, "{name}");
            true
        } else if name.contains("v2_deployments") {
            let deployments = parse_deployments(data).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!deployments.is_empty(), "{name}");
            true
        } else if name.contains("v2_apps") {
            let apps = parse_apps(data).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!apps.is_empty(), "{name}");
            true
        } else {
            assert!(
                NOT_APPLICABLE.iter().any(|n| name.contains(n)),
                "unclassified fixture {name}"
            );
            false
        }
    }

    #[test]
    fn every_fixture_payload_decodes() {
        let mut files = Vec::new();
        json_files(Path::new(FIXTURES), &mut files);
        let (mut events, mut bodies, mut other) = (0, 0, 0);
        let mut kinds = HashSet::new();
        for path in &files {
            let name = path
                .strip_prefix(FIXTURES)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let data = std::fs::read(path).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&data).unwrap();
            match value.get("eventType").and_then(|t| t.as_str()) {
                Some(event_type) => {
                    let has_timestamp = value.get("timestamp").is_some();
                    kinds.insert(check_event(&name, &data, event_type, has_timestamp));
                    events += 1;
                }
                None if check_body(&name, &data) => bodies += 1,
                None => other += 1,
            }
        }
        assert_eq!((events, bodies, other), (74, 18, 6));
        let missing: Vec<_> = EventKind::ALL
            .into_iter()
            .filter(|k| !kinds.contains(k))
            .collect();
        assert_eq!(
            missing,
            [EventKind::UnknownTaskTerminated, EventKind::Unknown]
        );
    }

    #[test]
    fn legacy_status_and_instance_events_join_on_one_instance() {
        let status = fixture("realworld/async-worker/6_status_update_event.json");
        let instance = fixture("realworld/async-worker/7_instance_changed_event.json");
        let (status, instance) = (decode(&status).unwrap(), decode(&instance).unwrap());
        let (Some(Input::Status(s)), Some(Input::InstanceChanged(i))) =
            (status.input(0).unwrap(), instance.input(0).unwrap())
        else {
            panic!("not a status and an instance event");
        };
        assert_eq!(s.task.instance, i.instance);
        assert_eq!(
            i.instance,
            "asgard-dev_bla.marathon-0139427f-b042-11e8-9638-0242ac12001f"
        );
        assert_eq!(s.app, i.app);
    }

    #[test]
    fn run_spec_id_with_a_space_still_decodes() {
        let data = fixture("realworld/contrail-specs/3_instance_changed_event_Created.json");
        let raw = decode(&data).unwrap();
        let Some(Input::InstanceChanged(i)) = raw.input(0).unwrap() else {
            panic!("not an instance event");
        };
        assert_eq!(i.app, "/pod- multi");
        assert_eq!(i.condition, Some(crate::state::Condition::Created));
    }

    #[test]
    fn subscription_replies_have_no_timestamp() {
        for (path, kind) in [
            (
                "realworld/go-marathon/6_subscribe_event.json",
                EventKind::Subscribe,
            ),
            (
                "realworld/go-marathon/7_unsubscribe_event.json",
                EventKind::Unsubscribe,
            ),
        ] {
            let data = fixture(path);
            let raw = decode(&data).unwrap();
            assert_eq!((raw.kind(), raw.timestamp()), (kind, None), "{path}");
            assert_eq!(raw.input(0).unwrap(), None, "{path}");
        }
    }

    #[test]
    fn pod_container_status_is_marked_as_pod() {
        let data = fixture("realworld/contrail-specs/2_status_update_event_TASK_KILLING.json");
        let raw = decode(&data).unwrap();
        let Some(Input::Status(s)) = raw.input(0).unwrap() else {
            panic!("not a status event");
        };
        assert!(s.task.pod);
        assert_eq!(
            s.task.instance,
            "pod-with-virtual-network.instance-f575f481-caa6-11e8-a129-70b3d5800001"
        );
    }
}
