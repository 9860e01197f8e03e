//! Writing a recording: [`RecordingWriter`] (used by `record`) and [`Recorder`], the hook the live
//! exporter's writer feeds (`demo --record`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashSet;

use serde_json::{Value, json};

use super::{FORMAT, Header, Line, VERSION};
use crate::clock::wall_millis;
use crate::state::{Millis, Snapshot, SnapshotApp, Strategy};

/// Writes a recording. Local times are read from its own monotonic clock, started at creation.
pub struct RecordingWriter {
    out: Box<dyn Write + Send>,
    origin: Instant,
    path: PathBuf,
    /// A write failed: recording stopped (the failure was logged once).
    failed: bool,
    ended: bool,
}

impl RecordingWriter {
    /// Creates (or replaces) `path` and writes the header.
    pub fn create(path: &Path, source: &str, ticks: bool) -> io::Result<RecordingWriter> {
        let file = File::create(path)?;
        let mut writer = RecordingWriter {
            out: Box::new(BufWriter::new(file)),
            origin: Instant::now(),
            path: path.to_owned(),
            failed: false,
            ended: false,
        };
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            started_at: wall_millis(),
            source: source.to_owned(),
            ticks,
        };
        let mut text = serde_json::to_vec(&header).map_err(io::Error::other)?;
        text.push(b'\n');
        writer.out.write_all(&text)?;
        writer.out.flush()?;
        Ok(writer)
    }

    /// Local monotonic time since the recording started, in ms.
    pub fn local(&self) -> Millis {
        Millis::try_from(self.origin.elapsed().as_millis()).unwrap_or(Millis::MAX)
    }

    fn write(&mut self, line: &Line) {
        if self.failed || self.ended {
            return;
        }
        let result = serde_json::to_vec(line)
            .map_err(io::Error::other)
            .and_then(|mut text| {
                text.push(b'\n');
                self.out.write_all(&text)
            });
        if let Err(error) = result {
            self.failed = true;
            tracing::error!(path = %self.path.display(), %error, "cannot write the recording; recording stopped");
        }
    }

    pub fn connected(&mut self, leader: &str) {
        let local = self.local();
        self.write(&Line::Connect {
            local,
            leader: leader.to_owned(),
        });
    }

    pub fn chunk(&mut self, bytes: &[u8]) {
        let local = self.local();
        self.write(&Line::Chunk {
            local,
            data: STANDARD.encode(bytes),
        });
    }

    pub fn disconnected(&mut self) {
        let local = self.local();
        self.write(&Line::Disconnect { local });
    }

    /// A snapshot from its raw bodies, requested at `requested_at` and answered at `answered_at`
    /// (Marathon clock); `pods` is `None` when Marathon answered 404.
    pub fn snapshot(
        &mut self,
        requested_at: Millis,
        answered_at: Option<Millis>,
        tasks: &[u8],
        apps: &[u8],
        pods: Option<&[u8]>,
    ) {
        let local = self.local();
        self.write(&Line::Snapshot {
            local,
            requested_at,
            answered_at,
            tasks: STANDARD.encode(tasks),
            apps: STANDARD.encode(apps),
            pods: pods.map(|pods| STANDARD.encode(pods)),
        });
        self.flush();
    }

    pub fn tick(&mut self) {
        let local = self.local();
        self.write(&Line::Tick { local });
    }

    /// Pushes what is buffered to the file.
    pub fn flush(&mut self) {
        if self.failed {
            return;
        }
        if let Err(error) = self.out.flush() {
            self.failed = true;
            tracing::error!(path = %self.path.display(), %error, "cannot write the recording; recording stopped");
        }
    }

    /// Writes the end record and flushes; later writes are ignored.
    pub fn finish(&mut self) {
        if self.ended {
            return;
        }
        let local = self.local();
        self.write(&Line::End { local });
        self.ended = true;
        self.flush();
    }
}

impl Drop for RecordingWriter {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Records, from inside the live exporter, every chunk, snapshot and timer tick the writer applies,
/// in order (see [`crate::StartOptions`]). The file is complete once the exporter has shut down.
pub struct Recorder {
    writer: RecordingWriter,
    /// Flush at most this often (ms of local time), besides at every snapshot and at the end.
    last_flush: Millis,
}

/// How often a [`Recorder`] flushes on ticks.
const FLUSH_EVERY_MS: Millis = 1000;

impl Recorder {
    /// Creates `path` for a recording of the stream from `source`.
    pub fn create(path: &Path, source: &str) -> io::Result<Recorder> {
        Ok(Recorder {
            writer: RecordingWriter::create(path, source, true)?,
            last_flush: 0,
        })
    }

    /// Writes the end record; also done on drop.
    pub fn finish(&mut self) {
        self.writer.finish();
    }
}

/// The writer's inputs, recorded as it applies them.
impl crate::writer::Observer for Recorder {
    fn connected(&mut self, leader: &str) {
        self.writer.connected(leader);
    }

    fn disconnected(&mut self) {
        self.writer.disconnected();
    }

    fn chunk(&mut self, bytes: &[u8]) {
        self.writer.chunk(bytes);
    }

    /// A parsed snapshot, written back as minimal bodies that parse to it.
    fn snapshot(&mut self, snapshot: &Snapshot) {
        let bodies = snapshot_bodies(snapshot);
        self.writer.snapshot(
            snapshot.requested_at,
            snapshot.answered_at,
            &bodies.tasks,
            &bodies.apps,
            bodies.pods.as_deref(),
        );
    }

    fn tick(&mut self) {
        self.writer.tick();
        let local = self.writer.local();
        if local - self.last_flush >= FLUSH_EVERY_MS {
            self.last_flush = local;
            self.writer.flush();
        }
    }
}

/// Minimal snapshot bodies, as [`snapshot_bodies`] writes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotBodies {
    pub tasks: Vec<u8>,
    pub apps: Vec<u8>,
    /// `None` when the snapshot lists no pods (Marathon answered 404).
    pub pods: Option<Vec<u8>>,
}

/// `/v2/tasks`, `/v2/apps` and `/v2/pods/::status` bodies holding exactly what a parsed snapshot
/// holds: each app task's `id`, `appId` and `state`; each app's `id` and `unreachableStrategy`;
/// each pod's `id` and strategy with its tasks as containers (`containerId`, `status`) of their
/// instances. A task goes to the pods body when its app is a listed pod.
pub fn snapshot_bodies(snapshot: &Snapshot) -> SnapshotBodies {
    let pod_ids: HashSet<&str> = snapshot
        .pods
        .iter()
        .flatten()
        .map(|p| p.id.as_str())
        .collect();
    let tasks: Vec<Value> = snapshot
        .tasks
        .iter()
        .filter(|t| !pod_ids.contains(t.app))
        .map(|t| {
            let mut task = json!({ "id": t.id, "appId": t.app, "state": t.state.wire() });
            if !t.host.is_empty() {
                task["host"] = t.host.into();
            }
            if let Some(alive) = t.health {
                task["healthCheckResults"] = json!([{ "alive": alive }]);
            }
            task
        })
        .collect();
    let apps: Vec<Value> = snapshot
        .apps
        .iter()
        .map(|a| {
            let mut app = json!({ "id": a.id });
            definition_json(&mut app, a);
            app
        })
        .collect();
    let pods = snapshot.pods.as_ref().map(|pods| {
        let pods: Vec<Value> = pods.iter().map(|pod| pod_json(snapshot, pod)).collect();
        serde_json::to_vec(&pods).unwrap_or_default()
    });
    SnapshotBodies {
        tasks: serde_json::to_vec(&json!({ "tasks": tasks })).unwrap_or_default(),
        apps: serde_json::to_vec(&json!({ "apps": apps })).unwrap_or_default(),
        pods,
    }
}

/// One pod status: its tasks in order, one instance per run of tasks of the same instance.
fn pod_json(snapshot: &Snapshot, pod: &SnapshotApp) -> Value {
    let mut instances: Vec<(&str, &str, Vec<Value>)> = Vec::new();
    for task in snapshot.tasks.iter().filter(|t| t.app == pod.id) {
        let mut container = json!({ "containerId": task.id, "status": task.state.wire() });
        if let Some(healthy) = task.health {
            container["conditions"] = json!([{ "name": "healthy", "value": healthy.to_string() }]);
        }
        match instances.last_mut() {
            Some((instance, _, containers)) if *instance == task.instance => {
                containers.push(container)
            }
            _ => instances.push((task.instance, task.host, vec![container])),
        }
    }
    let instances: Vec<Value> = instances
        .into_iter()
        .map(|(id, host, containers)| {
            let mut instance = json!({ "id": id, "containers": containers });
            if !host.is_empty() {
                instance["agentHostname"] = host.into();
            }
            instance
        })
        .collect();
    let mut spec = json!({ "id": pod.id });
    if let Some(strategy) = pod.strategy {
        spec["unreachableStrategy"] = strategy_json(strategy);
    }
    if let Some(instances) = pod.instances {
        spec["scaling"] = json!({ "kind": "fixed", "instances": instances });
    }
    if let Some(labels) = &pod.labels {
        spec["labels"] = labels_json(labels);
    }
    json!({ "id": pod.id, "spec": spec, "instances": instances })
}

/// An app's strategy, instances and labels, as `/v2/apps` writes them.
fn definition_json(app: &mut Value, definition: &SnapshotApp) {
    if let Some(strategy) = definition.strategy {
        app["unreachableStrategy"] = strategy_json(strategy);
    }
    if let Some(instances) = definition.instances {
        app["instances"] = instances.into();
    }
    if let Some(labels) = &definition.labels {
        app["labels"] = labels_json(labels);
    }
}

fn labels_json(labels: &[(String, String)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect(),
    )
}

fn strategy_json(strategy: Strategy) -> Value {
    let seconds = |ms: Millis| {
        if ms % 1000 == 0 {
            json!(ms / 1000)
        } else {
            json!(ms as f64 / 1000.0)
        }
    };
    match (strategy.inactive_after, strategy.expunge_after) {
        (Some(inactive), Some(expunge)) => json!({
            "inactiveAfterSeconds": seconds(inactive),
            "expungeAfterSeconds": seconds(expunge),
        }),
        _ => json!("disabled"),
    }
}
