//! The reference run: every event the simulation emitted, in order and as emitted, fed through the
//! pure pipeline (no I/O, the clock read from the events) after the same first snapshot, with no
//! other snapshot. What the exporter must count when it loses nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use marathon_task_exporter::config::Config;
use marathon_task_exporter::marathon::api::parse_snapshot;
use marathon_task_exporter::metrics::{Metrics, Sink};
use marathon_task_exporter::pipeline::{Clock as _, Pipeline, ReplayClock};
use marathon_task_exporter::state::{Engine, Millis, Snapshot};
use serde_json::{Value, json};

use super::marathons::Bodies;

pub struct Reference {
    pipeline: Pipeline<Sink, ReplayClock>,
    metrics: Metrics,
    /// Marathon's clock for the scrape-time gauges.
    now: Arc<AtomicI64>,
    /// The latest event timestamp fed.
    latest: Millis,
    frames: Vec<u8>,
}

impl Reference {
    /// Seeded with `bodies` as a snapshot requested at `at` (Marathon's clock).
    pub fn new(config: &Config, bodies: &Bodies, at: Millis) -> Reference {
        let engine = Engine::new(marathon_task_exporter::settings(config));
        let now = Arc::new(AtomicI64::new(at));
        let scrape_now = Arc::clone(&now);
        let metrics = Metrics::new(
            engine.reader(),
            Arc::new(move || scrape_now.load(Ordering::Relaxed)),
        );
        let mut pipeline = Pipeline::new(
            engine,
            metrics.sink(),
            ReplayClock::new(at),
            config.max_event_bytes,
        );
        pipeline.apply_snapshot(&snapshot(bodies, at));
        Reference {
            pipeline,
            metrics,
            now,
            latest: at,
            frames: Vec::new(),
        }
    }

    /// Applies `events`, framed as Marathon frames them on the stream.
    pub fn feed(&mut self, events: &[Value]) {
        self.frames.clear();
        for event in events {
            let kind = event["eventType"].as_str().unwrap_or_default();
            self.frames
                .extend_from_slice(format!("event: {kind}\r\ndata: {event}\r\n\r\n").as_bytes());
            if let Some(ts) = event["timestamp"].as_str().and_then(timestamp) {
                self.latest = self.latest.max(ts);
            }
        }
        let fed = self.pipeline.feed(&self.frames);
        assert_eq!(fed.errors, 0, "the simulation emits only valid events");
    }

    /// The exposition once Marathon's clock reaches `at` (timers due by then applied).
    pub fn render_at(&mut self, at: Millis) -> String {
        let clock = self.pipeline.clock_mut();
        clock.set_local(at - self.latest);
        self.pipeline.tick();
        let now = self.pipeline.clock_mut().now();
        self.now.store(now, Ordering::Relaxed);
        self.metrics.render()
    }

    /// The latest event timestamp fed.
    pub fn latest(&self) -> Millis {
        self.latest
    }
}

fn timestamp(text: &str) -> Option<Millis> {
    marathon_task_exporter::marathon::time::parse_timestamp(text)
}

/// The snapshot the exporter reads from `bodies`, through its own parsers.
fn snapshot(bodies: &Bodies, at: Millis) -> Snapshot {
    let tasks = json!({ "tasks": bodies.tasks }).to_string();
    let apps = json!({ "apps": bodies.apps }).to_string();
    let pods = Value::Array(bodies.pods.clone()).to_string();
    parse_snapshot(at, tasks.as_bytes(), apps.as_bytes(), Some(pods.as_bytes()))
        .expect("the simulation's bodies parse")
}
