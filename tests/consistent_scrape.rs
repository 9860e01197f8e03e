//! RULES.md's first invariant under concurrency: every scrape reflects a whole number of applied
//! inputs. A writer thread applies a long history event by event while the test renders `/metrics`
//! as fast as it can; in every render the gauges must equal what the counted transitions imply
//! (no expunge shown while the gauges still hold its task, no transition without its gauge move).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use marathon_sim::fake::payload;
use marathon_task_exporter::metrics::Metrics;
use marathon_task_exporter::pipeline::{Pipeline, ReplayClock};
use marathon_task_exporter::state::{ActiveState, Engine, Settings};

const T0: i64 = 1_602_061_982_771;
const APPS: [&str; 3] = ["/a", "/b", "/c"];

fn frame(event: &serde_json::Value) -> Vec<u8> {
    let kind = event["eventType"].as_str().expect("eventType");
    format!("event: {kind}\r\ndata: {event}\r\n\r\n").into_bytes()
}

/// Tasks launched, run, made unreachable and back, killed or failed: every event one frame.
fn history(tasks: u32) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut t = T0;
    for n in 1..=tasks {
        let app = APPS[n as usize % APPS.len()];
        let id = payload::task_id(app, n, 1);
        let mut states = vec!["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"];
        if n % 4 == 0 {
            states.extend(["TASK_UNREACHABLE", "TASK_RUNNING"]);
        }
        states.push(match n % 3 {
            0 => "TASK_KILLED",
            1 => "TASK_FAILED",
            _ => "TASK_KILLING",
        });
        for status in states {
            t += 7;
            frames.push(frame(&payload::status_update(&id, app, status, t)));
        }
    }
    frames
}

/// `name{labels}` → value, for the families this test reads.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn label<'a>(series: &'a str, name: &str) -> Option<&'a str> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    let len = series[start..].find('"')?;
    Some(&series[start..start + len])
}

/// The invariant on one render; an error names what disagreed.
fn check(text: &str) -> Result<(), String> {
    let samples = samples(text);
    let mut implied: HashMap<(String, String), f64> = HashMap::new();
    let mut into_terminal: HashMap<String, f64> = HashMap::new();
    let mut expunged: HashMap<String, f64> = HashMap::new();
    let mut gauges: HashMap<(String, String), f64> = HashMap::new();
    let active: Vec<&str> = ActiveState::ALL.iter().map(|s| s.label()).collect();
    for (series, value) in &samples {
        let Some(app) = label(series, "app") else {
            continue;
        };
        if series.starts_with("marathon_task_transitions_total{") {
            let (from, to) = (label(series, "from").unwrap(), label(series, "to").unwrap());
            *implied.entry((app.into(), to.into())).or_default() += value;
            *implied.entry((app.into(), from.into())).or_default() -= value;
            if !active.contains(&to) {
                *into_terminal.entry(app.into()).or_default() += value;
            }
        } else if series.starts_with("marathon_task_expunges_total{") {
            *expunged.entry(app.into()).or_default() += value;
        } else if series.starts_with("marathon_app_tasks{") {
            let state = label(series, "state").unwrap();
            gauges.insert((app.into(), state.into()), *value);
        }
    }
    let mut tracked = 0.0;
    for ((app, state), gauge) in &gauges {
        let from_transitions = implied.get(&(app.clone(), state.clone())).copied();
        if from_transitions.unwrap_or(0.0) != *gauge {
            return Err(format!(
                "{app} {state}: gauge {gauge}, transitions imply {from_transitions:?}"
            ));
        }
        tracked += gauge;
    }
    for app in into_terminal.keys().chain(expunged.keys()) {
        let (a, b) = (into_terminal.get(app), expunged.get(app));
        if a.copied().unwrap_or(0.0) != b.copied().unwrap_or(0.0) {
            return Err(format!("{app}: {a:?} terminal transitions, {b:?} expunges"));
        }
    }
    let total = samples["marathon_exporter_tracked_tasks"];
    if total != tracked {
        return Err(format!("tracked {total}, gauges sum to {tracked}"));
    }
    Ok(())
}

#[test]
fn every_render_taken_while_inputs_are_applied_shows_whole_inputs() {
    let engine = Engine::new(Settings::default());
    let metrics = Metrics::new(engine.reader(), Arc::new(|| T0));
    let mut pipeline = Pipeline::new(engine, metrics.sink(), ReplayClock::new(T0), 1 << 20);
    let frames = history(3_000);
    let done = Arc::new(AtomicBool::new(false));
    let writer = std::thread::spawn({
        let done = Arc::clone(&done);
        move || {
            for frame in &frames {
                pipeline.feed(frame);
            }
            done.store(true, Ordering::Release);
            pipeline
        }
    });
    let mut renders = 0;
    while !done.load(Ordering::Acquire) {
        let text = metrics.render();
        if let Err(e) = check(&text) {
            panic!("render {renders} shows part of an input: {e}");
        }
        renders += 1;
    }
    let pipeline = writer.join().expect("the writer does not panic");
    let text = metrics.render();
    check(&text).expect("the final render is whole");
    assert!(
        renders > 10,
        "only {renders} renders ran while the writer was busy"
    );
    assert_eq!(
        pipeline.engine().tasks(),
        1_000,
        "one task in three ends killing"
    );
}
