//! Throughput of each stage and of the whole path from bytes to updated counters, each next to the
//! baseline (split SSE lines + serde_json into three borrowed fields) measured in the same run.
//! Run: `cargo bench --bench pipeline`.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use marathon_task_exporter::marathon::events::decode;
use marathon_task_exporter::metrics::Metrics;
use marathon_task_exporter::pipeline::{Pipeline, ReplayClock};
use marathon_task_exporter::sse::{Decoder, Frame};
use marathon_task_exporter::state::{Effects, Engine, Settings};

/// Effects that cost nothing: isolates the rules from the metrics.
struct Discard;

impl Effects for Discard {}

const TASKS: usize = 20_000;
const APPS: usize = 500;
/// `cargo test --benches` runs each benchmark once without `--bench`: a small workload keeps that quick.
const TEST_MODE_TASKS: usize = 200;
const CHUNK: usize = 256 * 1024;

fn data_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut decoder = Decoder::new(8 << 20);
    decoder.feed(bytes, &mut |f| {
        if let Frame::Event(d) = f {
            out.push(d.to_vec());
        }
    });
    out
}

fn stages(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let w = support::lifecycle(if full { TASKS } else { TEST_MODE_TASKS }, APPS, 7);
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(w.events as u64));
    g.sample_size(10);

    g.bench_function("baseline_split_and_serde", |b| {
        b.iter(|| assert_eq!(support::baseline_decode(black_box(&w.bytes)), w.events));
    });

    g.bench_function("sse_decode", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new(8 << 20);
            let mut n = 0;
            for chunk in w.bytes.chunks(CHUNK) {
                decoder.feed(chunk, &mut |_| n += 1);
            }
            assert_eq!(n, w.events);
        });
    });

    let lines = data_lines(&w.bytes);
    g.bench_function("event_decode", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in &lines {
                let raw = decode(black_box(line)).expect("valid");
                if raw.input(0).expect("valid").is_some() {
                    n += 1;
                }
            }
            assert_eq!(n, w.events);
        });
    });

    let raws: Vec<_> = lines.iter().map(|l| decode(l).expect("valid")).collect();
    let inputs: Vec<_> = raws
        .iter()
        .filter_map(|r| r.input(0).expect("valid"))
        .collect();
    g.bench_function("rules_apply", |b| {
        b.iter_batched(
            || (Engine::new(Settings::default()), Discard),
            |(mut engine, mut fx)| {
                for input in &inputs {
                    let now = input.timestamp();
                    engine.apply(black_box(input), now, &mut fx);
                }
                engine
            },
            BatchSize::LargeInput,
        );
    });

    g.bench_function("pipeline_into_prometheus", |b| {
        b.iter_batched(
            || {
                let engine = Engine::new(Settings::default());
                let metrics = Metrics::new(engine.reader(), Arc::new(|| 0));
                Pipeline::new(engine, metrics.sink(), ReplayClock::new(0), 8 << 20)
            },
            |mut p| {
                for chunk in w.bytes.chunks(CHUNK) {
                    p.feed(chunk);
                }
                p
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
