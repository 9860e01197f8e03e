//! Decoding one `/v2/events` `data` payload into its event kind, its timestamp and the rules engine's input.
//!
//! One pass reads only the fields the exporter uses, every other field skipped whatever its type:
//! the fast scan (`scan`) for plain payloads, strings borrowed from the payload; else serde into
//! lenient fields (borrowed unless they hold escapes). What a field must hold is checked afterwards,
//! by [`RawEvent::input`], for the event types that use it.

use serde::Deserialize;

use super::fields::{AppFields, Fault, Obj, Text, first_token, json_position};
use super::ids::{parse_instance_id, parse_task_id};
pub use super::kinds::{EventKind, SUBSCRIBED};
use super::scan;
use super::time::parse_timestamp;
use std::borrow::Cow;

use crate::state::{
    Condition, DeploymentResult, Input, InstanceChanged, MesosState, Millis, Status, StatusUpdate,
    TaskRef,
};

/// Why a payload cannot be used. The text never quotes the payload.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a JSON object")]
    NotObject,
    #[error("invalid JSON ({category}) at line {line} column {column}")]
    Json {
        category: &'static str,
        line: usize,
        column: usize,
    },
    #[error("no string eventType")]
    NoEventType,
    #[error("missing field {0}")]
    Missing(&'static str),
    #[error("field {0} has the wrong type")]
    WrongType(&'static str),
    #[error("field {0} has an invalid value")]
    Invalid(&'static str),
}

impl DecodeError {
    fn field(fault: Fault, name: &'static str) -> Self {
        match fault {
            Fault::WrongType => DecodeError::WrongType(name),
            Fault::Invalid => DecodeError::Invalid(name),
        }
    }
}

impl From<serde_json::Error> for DecodeError {
    fn from(e: serde_json::Error) -> Self {
        let (category, line, column) = json_position(&e);
        DecodeError::Json {
            category,
            line,
            column,
        }
    }
}

/// The fields any used event type reads, whatever the type: checked per type by [`RawEvent::input`].
#[derive(Debug, Default, Deserialize)]
struct Fields<'a> {
    #[serde(default, borrow, rename = "eventType")]
    event_type: Text<'a>,
    #[serde(default, borrow)]
    timestamp: Text<'a>,
    #[serde(default, borrow, rename = "taskId")]
    task_id: Text<'a>,
    #[serde(default, borrow, rename = "taskStatus")]
    task_status: Text<'a>,
    #[serde(default, borrow, rename = "appId")]
    app_id: Text<'a>,
    #[serde(default, borrow)]
    message: Text<'a>,
    #[serde(default, borrow)]
    reason: Text<'a>,
    #[serde(default, borrow, rename = "instanceId")]
    instance_id: Text<'a>,
    #[serde(default, borrow, rename = "runSpecId")]
    run_spec_id: Text<'a>,
    #[serde(default, borrow)]
    condition: Text<'a>,
    #[serde(default, borrow, rename = "appDefinition")]
    app_definition: Obj<AppFields<'a>>,
    #[serde(default, borrow)]
    host: Text<'a>,
}

/// The string fields of an event, in the order of [`scan::KEYS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    EventType,
    Timestamp,
    TaskId,
    TaskStatus,
    AppId,
    Message,
    Reason,
    InstanceId,
    RunSpecId,
    Condition,
    Host,
}

impl Field {
    #[cfg(test)]
    const ALL: [Field; scan::KEYS.len()] = [
        Field::EventType,
        Field::Timestamp,
        Field::TaskId,
        Field::TaskStatus,
        Field::AppId,
        Field::Message,
        Field::Reason,
        Field::InstanceId,
        Field::RunSpecId,
        Field::Condition,
        Field::Host,
    ];
}

impl<'a> Fields<'a> {
    fn text(&self, field: Field) -> &Text<'a> {
        match field {
            Field::EventType => &self.event_type,
            Field::Timestamp => &self.timestamp,
            Field::TaskId => &self.task_id,
            Field::TaskStatus => &self.task_status,
            Field::AppId => &self.app_id,
            Field::Message => &self.message,
            Field::Reason => &self.reason,
            Field::InstanceId => &self.instance_id,
            Field::RunSpecId => &self.run_spec_id,
            Field::Condition => &self.condition,
            Field::Host => &self.host,
        }
    }
}

/// The fields of the health events: the instance (or, up to 1.3, the task) and the report.
#[derive(Debug, Default, Deserialize)]
struct HealthFields<'a> {
    #[serde(default, borrow, rename = "instanceId")]
    instance_id: Text<'a>,
    #[serde(default, borrow, rename = "taskId")]
    task_id: Text<'a>,
    /// `instance_health_changed_event`: `true`, `false` or `null` (unknown).
    #[serde(default)]
    healthy: Option<bool>,
    /// `health_status_changed_event`.
    #[serde(default)]
    alive: Option<bool>,
}

/// The fields of the deployment events: `plan` (its id and the apps and pods its steps act on),
/// and the `id` of `deployment_success` / `deployment_failed`.
#[derive(Debug, Default, Deserialize)]
struct DeploymentFields {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    plan: Option<Plan>,
}

#[derive(Debug, Default, Deserialize)]
struct Plan {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    steps: Vec<Step>,
}

#[derive(Debug, Default, Deserialize)]
struct Step {
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Debug, Default, Deserialize)]
struct Action {
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    pod: Option<String>,
}

/// Where an event's fields were read: by the fast scan (strings borrowed from the payload, null
/// read as absent), or by serde (anything else; boxed, as it is the rare path).
#[derive(Debug)]
enum Source<'a> {
    Plain([Option<&'a str>; scan::KEYS.len()]),
    Lenient(Box<Fields<'a>>),
}

impl<'a> Source<'a> {
    /// A string field: `Ok(None)` when absent or null, an error when of another type.
    fn get(&self, field: Field) -> Result<Option<&str>, Fault> {
        match self {
            Source::Plain(fields) => Ok(fields[field as usize]),
            Source::Lenient(fields) => fields.text(field).get(),
        }
    }

    fn app_definition(&self) -> &Obj<AppFields<'a>> {
        match self {
            // The scan leaves payloads with an `appDefinition` to serde.
            Source::Plain(_) => &Obj::Absent,
            Source::Lenient(fields) => &fields.app_definition,
        }
    }
}

/// One decoded payload: a JSON object with a string `eventType`, fields not yet checked.
#[derive(Debug)]
pub struct RawEvent<'a> {
    kind: EventKind,
    fields: Source<'a>,
    /// The payload, for the rare types whose fields are not strings (health, deployments).
    data: &'a [u8],
}

/// Decodes one SSE `data` payload. Fails when it is not a JSON object, is not valid JSON (duplicate
/// keys included), or has no string `eventType`.
pub fn decode(data: &[u8]) -> Result<RawEvent<'_>, DecodeError> {
    // A derived struct also accepts a JSON array (fields by position): only objects are events.
    if first_token(data) != Some(b'{') {
        return Err(DecodeError::NotObject);
    }
    let fields = match scan::scan(data) {
        Some(scanned) => Source::Plain(scanned.fields.map(Option::flatten)),
        None => Source::Lenient(Box::new(serde_json::from_slice(data)?)),
    };
    let kind = match fields.get(Field::EventType) {
        Ok(Some(event_type)) => EventKind::parse(event_type),
        _ => return Err(DecodeError::NoEventType),
    };
    Ok(RawEvent { kind, fields, data })
}

impl<'a> RawEvent<'a> {
    /// The events_total{type} label: the eventType if it is one of Marathon's event types, else "unknown".
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// Whether the event carries a `timestamp` string (valid or not).
    pub fn has_timestamp(&self) -> bool {
        matches!(self.fields.get(Field::Timestamp), Ok(Some(_)))
    }

    /// The parsed `timestamp`, if the event has one. A `timestamp` that is not a timestamp string
    /// also reads as `None` here; [`RawEvent::input`] reports it as an error for the types it decodes.
    pub fn timestamp(&self) -> Option<Millis> {
        self.fields
            .get(Field::Timestamp)
            .ok()
            .flatten()
            .and_then(parse_timestamp)
    }

    /// The input for the rules engine, for the five types the engine uses; Ok(None) for every other type.
    /// `fallback` is used as the timestamp when the event has none (absent or null).
    pub fn input(&self, fallback: Millis) -> Result<Option<Input<'_>>, DecodeError> {
        let input = match self.kind {
            EventKind::StatusUpdate => Input::Status(self.status_update(fallback)?),
            EventKind::InstanceChanged => {
                let id = self.required(Field::InstanceId, "instanceId")?;
                let instance = parse_instance_id(id).ok_or(DecodeError::Invalid("instanceId"))?;
                Input::InstanceChanged(InstanceChanged {
                    instance,
                    app: self.required(Field::RunSpecId, "runSpecId")?,
                    condition: Condition::parse(self.required(Field::Condition, "condition")?),
                    timestamp: self.event_time(fallback)?,
                })
            }
            EventKind::UnknownInstanceTerminated => Input::UnknownInstanceTerminated {
                app: self.required(Field::RunSpecId, "runSpecId")?,
                timestamp: self.event_time(fallback)?,
            },
            EventKind::AppTerminated => Input::AppTerminated {
                app: self.required(Field::AppId, "appId")?,
                timestamp: self.event_time(fallback)?,
            },
            EventKind::ApiPost => {
                let app = match self.fields.app_definition() {
                    Obj::Absent => return Ok(None),
                    Obj::Other => return Err(DecodeError::WrongType("appDefinition")),
                    Obj::Value(app) => app,
                };
                let strategy = app
                    .unreachable_strategy
                    .strategy()
                    .map_err(|e| DecodeError::field(e, "appDefinition.unreachableStrategy"))?;
                Input::AppDefinition {
                    app: app
                        .id
                        .get()
                        .map_err(|e| DecodeError::field(e, "appDefinition.id"))?
                        .ok_or(DecodeError::Missing("appDefinition.id"))?,
                    strategy,
                    instances: app.instances.0,
                    labels: app.labels.0.as_ref().map(|labels| {
                        labels
                            .iter()
                            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v.as_str())))
                            .collect()
                    }),
                    timestamp: self.event_time(fallback)?,
                }
            }
            EventKind::UnhealthyInstanceKill | EventKind::UnhealthyTaskKill => {
                let task_id = self.required(Field::TaskId, "taskId")?;
                // The kill is counted for its app even when the task id is of no form the
                // exporter knows (Marathon's docs show one); such a task is never tracked.
                let task = parse_task_id(task_id).unwrap_or(TaskRef {
                    id: task_id,
                    instance: Cow::Borrowed(task_id),
                    pod: false,
                });
                Input::HealthKill {
                    app: self.required(Field::AppId, "appId")?,
                    task,
                    timestamp: self.event_time(fallback)?,
                }
            }
            EventKind::InstanceHealthChanged | EventKind::HealthStatusChanged => {
                let health: HealthFields<'_> = serde_json::from_slice(self.data)?;
                let instance = match (health.instance_id.get(), health.task_id.get()) {
                    (Ok(Some(id)), _) => {
                        parse_instance_id(id).ok_or(DecodeError::Invalid("instanceId"))?
                    }
                    (Ok(None), Ok(Some(id))) => {
                        parse_task_id(id)
                            .ok_or(DecodeError::Invalid("taskId"))?
                            .instance
                    }
                    (Err(e), _) => return Err(DecodeError::field(e, "instanceId")),
                    (_, Err(e)) => return Err(DecodeError::field(e, "taskId")),
                    (Ok(None), Ok(None)) => return Err(DecodeError::Missing("instanceId")),
                };
                let healthy = match self.kind {
                    EventKind::InstanceHealthChanged => health.healthy,
                    _ => Some(health.alive.ok_or(DecodeError::Missing("alive"))?),
                };
                Input::Health {
                    instance: Cow::Owned(instance.into_owned()),
                    healthy,
                    timestamp: self.event_time(fallback)?,
                }
            }
            EventKind::DeploymentInfo => {
                let event: DeploymentFields = serde_json::from_slice(self.data)?;
                let plan = event.plan.ok_or(DecodeError::Missing("plan"))?;
                let mut apps: Vec<Cow<'_, str>> = Vec::new();
                for action in plan.steps.iter().flat_map(|s| &s.actions) {
                    for id in [&action.app, &action.pod].into_iter().flatten() {
                        if !apps.iter().any(|a| a == id) {
                            apps.push(Cow::Owned(id.clone()));
                        }
                    }
                }
                Input::DeploymentInfo {
                    id: Cow::Owned(plan.id.ok_or(DecodeError::Missing("plan.id"))?),
                    apps,
                    timestamp: self.event_time(fallback)?,
                }
            }
            EventKind::DeploymentSuccess | EventKind::DeploymentFailed => {
                let event: DeploymentFields = serde_json::from_slice(self.data)?;
                let id = event
                    .id
                    .or_else(|| event.plan.and_then(|p| p.id))
                    .ok_or(DecodeError::Missing("id"))?;
                Input::DeploymentEnd {
                    id: Cow::Owned(id),
                    result: if self.kind == EventKind::DeploymentSuccess {
                        DeploymentResult::Success
                    } else {
                        DeploymentResult::Failed
                    },
                    timestamp: self.event_time(fallback)?,
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(input))
    }

    fn status_update(&self, fallback: Millis) -> Result<StatusUpdate<'_>, DecodeError> {
        let task_id = self.required(Field::TaskId, "taskId")?;
        let task = parse_task_id(task_id).ok_or(DecodeError::Invalid("taskId"))?;
        let status = self.required(Field::TaskStatus, "taskStatus")?;
        Ok(StatusUpdate {
            task,
            app: self.required(Field::AppId, "appId")?,
            status: MesosState::parse(status).map_or(Status::Other, Status::Known),
            message: self.optional(Field::Message, "message")?.unwrap_or(""),
            reason: self.optional(Field::Reason, "reason")?,
            host: self.optional(Field::Host, "host")?,
            timestamp: self.event_time(fallback)?,
        })
    }

    /// The timestamp of a used event: absent or null is `fallback`; anything but a timestamp string is an error.
    fn event_time(&self, fallback: Millis) -> Result<Millis, DecodeError> {
        match self.optional(Field::Timestamp, "timestamp")? {
            None => Ok(fallback),
            Some(text) => parse_timestamp(text).ok_or(DecodeError::Invalid("timestamp")),
        }
    }
}

impl RawEvent<'_> {
    fn optional(&self, field: Field, name: &'static str) -> Result<Option<&str>, DecodeError> {
        self.fields
            .get(field)
            .map_err(|e| DecodeError::field(e, name))
    }

    fn required(&self, field: Field, name: &'static str) -> Result<&str, DecodeError> {
        self.optional(field, name)?
            .ok_or(DecodeError::Missing(name))
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::state::{Strategy, TaskRef};

    const FALLBACK: Millis = 42;

    fn fixture(path: &str) -> Vec<u8> {
        let full = format!(
            "{}/tests/fixtures/marathon/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
    }

    /// Runs `check` on what decoding `data` and taking its input gives.
    fn with_input<R>(
        data: &[u8],
        check: impl FnOnce(Result<Option<Input<'_>>, DecodeError>) -> R,
    ) -> R {
        match decode(data) {
            Ok(raw) => check(raw.input(FALLBACK)),
            Err(e) => check(Err(e)),
        }
    }

    fn assert_input(data: &[u8], want: Option<Input<'_>>) {
        with_input(data, |got| assert_eq!(got.unwrap(), want));
    }

    fn with_status<R>(json: &str, check: impl FnOnce(&StatusUpdate<'_>) -> R) -> R {
        with_input(json.as_bytes(), |got| match got {
            Ok(Some(Input::Status(s))) => check(&s),
            other => panic!("{other:?}"),
        })
    }

    fn error(json: &str) -> DecodeError {
        match decode(json.as_bytes()).and_then(|raw| raw.input(FALLBACK).map(|i| i.is_some())) {
            Err(e) => e,
            Ok(used) => panic!("decoded (used: {used}): {json}"),
        }
    }

    /// Every payload of the fixtures that the fast path reads gives what serde gives.
    #[test]
    fn the_fast_path_agrees_with_serde_on_every_fixture() {
        let mut files = Vec::new();
        for dir in ["events", "realworld"] {
            let path = format!(
                "{}/tests/fixtures/marathon/{dir}",
                env!("CARGO_MANIFEST_DIR")
            );
            for entry in std::fs::read_dir(&path).unwrap() {
                files.push(entry.unwrap().path());
            }
        }
        let mut fast = 0;
        for file in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "json"))
        {
            let data = std::fs::read(file).unwrap();
            let Some(scanned) = scan::scan(&data) else {
                continue;
            };
            fast += 1;
            let plain = Source::Plain(scanned.fields.map(Option::flatten));
            let serde = Source::Lenient(Box::new(serde_json::from_slice(&data).unwrap()));
            for field in Field::ALL {
                assert_eq!(
                    plain.get(field),
                    serde.get(field),
                    "{field:?} in {}",
                    file.display()
                );
            }
            assert!(matches!(serde.app_definition(), Obj::Absent));
        }
        assert!(fast >= 10, "only {fast} fixtures took the fast path");
    }

    #[test]
    fn status_update_fixture_yields_status_input() {
        let data = fixture("events/status_update_event.json");
        let raw = decode(&data).unwrap();
        assert_eq!(raw.kind(), EventKind::StatusUpdate);
        assert_eq!(raw.timestamp(), Some(1_602_061_982_771));
        let want = StatusUpdate {
            task: TaskRef {
                id: "prod_web.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2._app.1",
                instance: Cow::Borrowed("prod_web.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2"),
                pod: false,
            },
            app: "/prod/web",
            status: Status::Known(MesosState::Running),
            message: "",
            reason: None,
            timestamp: 1_602_061_982_771,
            host: Some("10.0.3.17"),
        };
        assert_eq!(raw.input(0).unwrap(), Some(Input::Status(want)));
    }

    #[test]
    fn plain_status_event_borrows_the_task_id_from_the_payload() {
        let data = fixture("events/status_update_event.json");
        let raw = decode(&data).unwrap();
        assert!(
            matches!(raw.fields, Source::Plain(_)),
            "read by the fast scan"
        );
        let Some(Input::Status(s)) = raw.input(0).unwrap() else {
            panic!("not a status input");
        };
        let range = data.as_ptr_range();
        assert!(range.contains(&s.task.id.as_ptr()));
        assert!(range.contains(&s.app.as_ptr()));
        assert!(matches!(s.task.instance, Cow::Borrowed(i) if range.contains(&i.as_ptr())));
    }

    #[test]
    fn escaped_strings_are_unescaped_and_owned() {
        let json = r#"{"eventType":"status_update_event","taskId":"a.b-1","taskStatus":"TASK_FAILED",
            "appId":"/a","message":"said \"no\"\n"}"#;
        let raw = decode(json.as_bytes()).unwrap();
        let Source::Lenient(fields) = &raw.fields else {
            panic!("an escape is serde's to read");
        };
        assert!(matches!(fields.message, Text::Str(Cow::Owned(_))));
        with_status(json, |s| {
            assert_eq!(s.message, "said \"no\"\n");
            assert_eq!(s.status, Status::Known(MesosState::Failed));
        });
    }

    #[test]
    fn unknown_task_status_is_other_not_an_error() {
        let json = r#"{"eventType":"status_update_event","taskId":"a.b-1","taskStatus":"TASK_NEW","appId":"/a"}"#;
        with_status(json, |s| {
            assert_eq!(s.status, Status::Other);
            assert_eq!(s.message, "");
            assert_eq!(s.timestamp, FALLBACK);
        });
    }

    #[test]
    fn optional_status_fields_accept_null_and_keep_a_reason() {
        let json = r#"{"eventType":"status_update_event","taskId":"a.b-1","taskStatus":"TASK_LOST","appId":"/a",
            "message":null,"reason":"REASON_SLAVE_REMOVED","timestamp":null,"ports":31372,"host":null}"#;
        with_status(json, |s| {
            assert_eq!(
                (s.message, s.reason, s.timestamp),
                ("", Some("REASON_SLAVE_REMOVED"), FALLBACK)
            );
        });
        let json = r#"{"eventType":"status_update_event","taskId":"a.b-1","taskStatus":"TASK_LOST","appId":"/a","reason":null}"#;
        with_status(json, |s| assert_eq!(s.reason, None));
    }

    #[test]
    fn status_update_needs_task_status_and_app() {
        let base = r#""eventType":"status_update_event""#;
        let cases = [
            (
                format!(r#"{{{base},"taskStatus":"TASK_RUNNING","appId":"/a"}}"#),
                "missing field taskId",
            ),
            (
                format!(r#"{{{base},"taskId":"nodots","taskStatus":"TASK_RUNNING","appId":"/a"}}"#),
                "field taskId has an invalid value",
            ),
            (
                format!(r#"{{{base},"taskId":7,"taskStatus":"TASK_RUNNING","appId":"/a"}}"#),
                "field taskId has the wrong type",
            ),
            (
                format!(r#"{{{base},"taskId":"a.b","appId":"/a"}}"#),
                "missing field taskStatus",
            ),
            (
                format!(r#"{{{base},"taskId":"a.b","taskStatus":1,"appId":"/a"}}"#),
                "field taskStatus has the wrong type",
            ),
            (
                format!(r#"{{{base},"taskId":"a.b","taskStatus":"TASK_RUNNING"}}"#),
                "missing field appId",
            ),
            (
                format!(r#"{{{base},"taskId":"a.b","taskStatus":"TASK_RUNNING","appId":null}}"#),
                "missing field appId",
            ),
            (
                format!(
                    r#"{{{base},"taskId":"a.b","taskStatus":"TASK_RUNNING","appId":"/a","message":[]}}"#
                ),
                "field message has the wrong type",
            ),
            (
                format!(
                    r#"{{{base},"taskId":"a.b","taskStatus":"TASK_RUNNING","appId":"/a","reason":2}}"#
                ),
                "field reason has the wrong type",
            ),
            (
                format!(
                    r#"{{{base},"taskId":"a.b","taskStatus":"TASK_RUNNING","appId":"/a","timestamp":2015}}"#
                ),
                "field timestamp has the wrong type",
            ),
            (
                format!(
                    r#"{{{base},"taskId":"a.b","taskStatus":"TASK_RUNNING","appId":"/a","timestamp":"2015"}}"#
                ),
                "field timestamp has an invalid value",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(error(&json).to_string(), want, "{json}");
        }
    }

    #[test]
    fn instance_changed_maps_condition_and_tolerates_null_agent() {
        let data = fixture("events/variants/instance_changed_event.Scheduled.json");
        let want = InstanceChanged {
            instance: Cow::Borrowed("prod_web.instance-a3f2c6e8-0893-11eb-9a3f-0242f5e1c6d2"),
            app: "/prod/web",
            condition: Some(Condition::Scheduled),
            timestamp: 1_602_066_675_603,
        };
        assert_input(&data, Some(Input::InstanceChanged(want)));
    }

    #[test]
    fn unrecognised_condition_is_none_not_an_error() {
        let json = r#"{"eventType":"instance_changed_event","instanceId":"a.instance-1","runSpecId":"/a","condition":"Sleeping"}"#;
        with_input(json.as_bytes(), |got| match got {
            Ok(Some(Input::InstanceChanged(i))) => assert_eq!(i.condition, None),
            other => panic!("{other:?}"),
        });
    }

    #[test]
    fn instance_changed_needs_an_instance_id() {
        let json = r#"{"eventType":"instance_changed_event","instanceId":"a.b-1","runSpecId":"/a","condition":"Running"}"#;
        assert_eq!(
            error(json).to_string(),
            "field instanceId has an invalid value"
        );
        let json = r#"{"eventType":"instance_changed_event","instanceId":"a.instance-1","condition":"Running"}"#;
        assert_eq!(error(json).to_string(), "missing field runSpecId");
        let json = r#"{"eventType":"instance_changed_event","instanceId":"a.instance-1","runSpecId":"/a"}"#;
        assert_eq!(error(json).to_string(), "missing field condition");
    }

    #[test]
    fn terminated_events_carry_their_app() {
        let data = fixture("events/unknown_instance_terminated_event.json");
        let want = Input::UnknownInstanceTerminated {
            app: "/prod/web",
            timestamp: 1_602_070_869_204,
        };
        assert_input(&data, Some(want));
        let data = fixture("events/app_terminated_event.json");
        let want = Input::AppTerminated {
            app: "/prod/web",
            timestamp: 1_602_073_851_900,
        };
        assert_input(&data, Some(want));
        let json = r#"{"eventType":"app_terminated_event","runSpecId":"/a"}"#;
        assert_eq!(error(json).to_string(), "missing field appId");
    }

    #[test]
    fn api_post_event_reads_the_app_strategy() {
        let data = fixture("events/api_post_event.json");
        let want = Input::AppDefinition {
            app: "/prod/web",
            strategy: Some(Strategy::enabled(0, 0)),
            timestamp: 1_602_061_964_330,
            instances: Some(2),
            labels: Some(Vec::new()),
        };
        assert_input(&data, Some(want));
    }

    #[test]
    fn api_post_event_reads_instances_and_labels_leniently() {
        let post = |def: &str| format!(r#"{{"eventType":"api_post_event","appDefinition":{def}}}"#);
        let read = |def: &str| {
            with_input(post(def).as_bytes(), |got| match got {
                Ok(Some(Input::AppDefinition {
                    instances, labels, ..
                })) => (
                    instances,
                    labels.map(|l| {
                        l.into_iter()
                            .map(|(k, v)| (k.into_owned(), v.into_owned()))
                            .collect::<Vec<_>>()
                    }),
                ),
                other => panic!("{other:?}"),
            })
        };
        let (instances, labels) =
            read(r#"{"id":"/a","instances":3,"labels":{"team":"pay","n":1,"tier":"web"}}"#);
        assert_eq!(instances, Some(3));
        let mut labels = labels.expect("labels read");
        labels.sort();
        assert_eq!(
            labels,
            [("team".into(), "pay".into()), ("tier".into(), "web".into())],
            "non-string values are left out"
        );
        assert_eq!(
            read(r#"{"id":"/a","instances":-1,"labels":"x"}"#),
            (None, None)
        );
        assert_eq!(read(r#"{"id":"/a"}"#), (None, None));
    }

    #[test]
    fn health_check_kills_name_their_app_and_task() {
        for path in [
            "events/unhealthy_instance_kill_event.json",
            "events/variants/unhealthy_instance_kill_event.event-bus-md.json",
        ] {
            with_input(&fixture(path), |got| match got {
                Ok(Some(Input::HealthKill { app, task, .. })) => {
                    assert!(app.starts_with('/'), "{path}: {app}");
                    assert!(!task.id.is_empty(), "{path}");
                }
                other => panic!("{path}: {other:?}"),
            });
        }
        let legacy = r#"{"eventType":"unhealthy_task_kill_event","appId":"/a","taskId":"a.4d9f0e0e-0890-11eb-9a3f-0242f5e1c6d2","timestamp":"2020-10-07T10:04:41.529Z"}"#;
        with_input(legacy.as_bytes(), |got| {
            assert!(
                matches!(got, Ok(Some(Input::HealthKill { app: "/a", .. }))),
                "{got:?}"
            );
        });
    }

    #[test]
    fn health_events_report_their_instance() {
        for (path, healthy) in [
            ("events/instance_health_changed_event.json", Some(true)),
            ("events/health_status_changed_event.json", Some(true)),
            (
                "events/variants/instance_health_changed_event.changelog-1.4.json",
                Some(true),
            ),
        ] {
            with_input(&fixture(path), |got| match got {
                Ok(Some(Input::Health {
                    instance,
                    healthy: h,
                    ..
                })) => {
                    assert!(
                        instance.contains(".instance-") || instance.contains(".marathon-"),
                        "{path}: {instance}"
                    );
                    assert_eq!(h, healthy, "{path}");
                }
                other => panic!("{path}: {other:?}"),
            });
        }
        let unknown = r#"{"eventType":"instance_health_changed_event","instanceId":"a.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2","healthy":null}"#;
        with_input(unknown.as_bytes(), |got| {
            assert!(
                matches!(got, Ok(Some(Input::Health { healthy: None, .. }))),
                "{got:?}"
            );
        });
        let by_task = r#"{"eventType":"health_status_changed_event","taskId":"a.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2._app.2","alive":false}"#;
        with_input(by_task.as_bytes(), |got| match got {
            Ok(Some(Input::Health {
                instance, healthy, ..
            })) => {
                assert_eq!(instance, "a.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2");
                assert_eq!(healthy, Some(false));
            }
            other => panic!("{other:?}"),
        });
        let no_report = r#"{"eventType":"health_status_changed_event","instanceId":"a.instance-5c1e8b07-0890-11eb-9a3f-0242f5e1c6d2"}"#;
        assert_eq!(error(no_report).to_string(), "missing field alive");
    }

    #[test]
    fn deployment_events_name_their_id_and_the_apps_their_plan_touches() {
        with_input(&fixture("events/deployment_info.json"), |got| match got {
            Ok(Some(Input::DeploymentInfo { id, apps, .. })) => {
                assert_eq!(id, "9f0e8c2a-3b1d-4e5f-a6b7-c8d9e0f1a2b3");
                assert_eq!(apps, ["/prod/web"]);
            }
            other => panic!("{other:?}"),
        });
        for (path, result) in [
            ("events/deployment_success.json", DeploymentResult::Success),
            ("events/deployment_failed.json", DeploymentResult::Failed),
        ] {
            with_input(&fixture(path), |got| match got {
                Ok(Some(Input::DeploymentEnd { id, result: r, .. })) => {
                    assert_eq!(id, "9f0e8c2a-3b1d-4e5f-a6b7-c8d9e0f1a2b3");
                    assert_eq!(r, result);
                }
                other => panic!("{path}: {other:?}"),
            });
        }
        let pods = r#"{"eventType":"deployment_info","plan":{"id":"d","steps":[{"actions":[{"action":"StartPod","pod":"/p"},{"action":"ScaleApplication","app":"/a"}]},{"actions":[{"action":"StartPod","pod":"/p"}]}]}}"#;
        with_input(pods.as_bytes(), |got| match got {
            Ok(Some(Input::DeploymentInfo { apps, .. })) => assert_eq!(apps, ["/p", "/a"]),
            other => panic!("{other:?}"),
        });
        assert_eq!(
            error(r#"{"eventType":"deployment_info"}"#).to_string(),
            "missing field plan"
        );
    }

    #[test]
    fn api_post_event_strategy_forms() {
        let post = |def: &str| format!(r#"{{"eventType":"api_post_event","appDefinition":{def}}}"#);
        let strategy = |def: &str| {
            with_input(post(def).as_bytes(), |got| match got {
                Ok(Some(Input::AppDefinition { strategy, .. })) => strategy,
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(strategy(r#"{"id":"/a"}"#), None);
        assert_eq!(strategy(r#"{"id":"/a","unreachableStrategy":null}"#), None);
        assert_eq!(
            strategy(r#"{"id":"/a","unreachableStrategy":"disabled"}"#),
            Some(Strategy::DISABLED)
        );
        let both = r#"{"id":"/a","unreachableStrategy":{"inactiveAfterSeconds":1.5,"expungeAfterSeconds":600}}"#;
        assert_eq!(strategy(both), Some(Strategy::enabled(1_500, 600_000)));
        assert_eq!(
            strategy(r#"{"id":"/a","unreachableStrategy":{"expungeAfterSeconds":60}}"#),
            Some(Strategy::enabled(0, 60_000))
        );
    }

    #[test]
    fn api_post_event_without_app_definition_is_not_used() {
        for json in [
            r#"{"eventType":"api_post_event","uri":"/v2/groups"}"#,
            r#"{"eventType":"api_post_event","appDefinition":null}"#,
        ] {
            assert_input(json.as_bytes(), None);
        }
    }

    #[test]
    fn api_post_event_rejects_malformed_definitions() {
        let post = |def: &str| format!(r#"{{"eventType":"api_post_event","appDefinition":{def}}}"#);
        let cases = [
            ("[]", "field appDefinition has the wrong type"),
            (r#""/a""#, "field appDefinition has the wrong type"),
            ("{}", "missing field appDefinition.id"),
            (r#"{"id":3}"#, "field appDefinition.id has the wrong type"),
            (
                r#"{"id":"/a","unreachableStrategy":"never"}"#,
                "field appDefinition.unreachableStrategy has an invalid value",
            ),
            (
                r#"{"id":"/a","unreachableStrategy":5}"#,
                "field appDefinition.unreachableStrategy has the wrong type",
            ),
            (
                r#"{"id":"/a","unreachableStrategy":{"inactiveAfterSeconds":"0"}}"#,
                "field appDefinition.unreachableStrategy has the wrong type",
            ),
        ];
        for (def, want) in cases {
            assert_eq!(error(&post(def)).to_string(), want, "{def}");
        }
    }

    #[test]
    fn other_types_need_only_an_event_type() {
        let raw = decode(br#"{"eventType":"event_stream_attached","remoteAddress":"10.0.5.21"}"#)
            .unwrap();
        assert_eq!(raw.kind(), EventKind::EventStreamAttached);
        assert_eq!(raw.timestamp(), None);
        assert_eq!(raw.input(FALLBACK).unwrap(), None);
    }

    #[test]
    fn unused_types_ignore_fields_the_used_types_would_reject() {
        let json = br#"{"eventType":"framework_message_event","message":[104,105],"taskId":1,"timestamp":2015,
            "appDefinition":"x","reason":{"a":1}}"#;
        let raw = decode(json).unwrap();
        assert_eq!(raw.kind(), EventKind::FrameworkMessage);
        assert_eq!(raw.timestamp(), None);
        assert_eq!(raw.input(FALLBACK).unwrap(), None);
    }

    #[test]
    fn unknown_event_type_decodes_as_unknown() {
        let raw =
            decode(br#"{"eventType":"brand_new_event","timestamp":"2020-10-07T09:13:02.771Z"}"#)
                .unwrap();
        assert_eq!(raw.kind(), EventKind::Unknown);
        assert_eq!(raw.kind().label(), "unknown");
        assert_eq!(raw.timestamp(), Some(1_602_061_982_771));
        assert_eq!(raw.input(FALLBACK).unwrap(), None);
    }

    #[test]
    fn frames_that_are_not_event_objects_are_errors() {
        let cases: [(&[u8], &str); 9] = [
            (b"", "not a JSON object"),
            (b"  ", "not a JSON object"),
            (br#"["status_update_event"]"#, "not a JSON object"),
            (b"\"status_update_event\"", "not a JSON object"),
            (b"{}", "no string eventType"),
            (br#"{"eventType":null}"#, "no string eventType"),
            (br#"{"eventType":7}"#, "no string eventType"),
            (
                br#"{"eventType":"x""#,
                "invalid JSON (eof) at line 1 column 16",
            ),
            (
                br#"{"eventType":"x"} {}"#,
                "invalid JSON (syntax) at line 1 column 19",
            ),
        ];
        for (data, want) in cases {
            let e = decode(data).map(|r| r.kind()).unwrap_err();
            assert_eq!(e.to_string(), want, "{:?}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn duplicate_keys_are_malformed() {
        let e = decode(br#"{"eventType":"status_update_event","taskId":"a.b","taskId":"c.d"}"#)
            .unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::Json {
                    category: "data",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn error_text_never_quotes_the_payload() {
        let secret = "SECRET-PAYLOAD-TEXT";
        let frames = [
            format!(
                r#"{{"eventType":"status_update_event","taskId":"{secret}","taskStatus":"TASK_RUNNING","appId":"/a"}}"#
            ),
            format!(r#"{{"eventType":"{secret}" "#),
            format!(r#"{{"eventType":"x","{secret}":tru}}"#),
            format!(r#"{{"eventType":"status_update_event","timestamp":"{secret}"}}"#),
            format!(r#"{{"eventType":"x","eventType":"{secret}"}}"#),
        ];
        for frame in frames {
            let e = error(&frame);
            assert!(!e.to_string().contains(secret), "{e}");
            assert!(!format!("{e:?}").contains(secret), "{e:?}");
        }
    }

    #[test]
    fn event_kinds_round_trip_through_their_labels() {
        assert_eq!(EventKind::ALL.len(), 32);
        for (i, kind) in EventKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
            assert_eq!(EventKind::parse(kind.label()), kind);
        }
        assert_eq!(EventKind::ALL.last(), Some(&EventKind::Unknown));
        assert_eq!(EventKind::parse("unknown"), EventKind::Unknown);
        assert_eq!(EventKind::parse("STATUS_UPDATE_EVENT"), EventKind::Unknown);
    }

    #[test]
    fn subscribed_types_are_known_kinds() {
        for event_type in SUBSCRIBED {
            assert_ne!(
                EventKind::parse(event_type),
                EventKind::Unknown,
                "{event_type}"
            );
        }
        assert_eq!(SUBSCRIBED[0], EventKind::StatusUpdate.label());
    }
}
