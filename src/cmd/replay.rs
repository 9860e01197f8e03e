//! `replay FILE`: a recording (see [`crate::recording`]) fed through the same pipeline and rules as
//! the live exporter, offline, with event timestamps as the clock; prints a per-app summary and,
//! on request, the final text exposition.
//!
//! The clock is the live one's: [`ReplayClock`] observes each event at the local time its chunk was
//! recorded. A recording made inside the exporter (`demo --record`, header `"ticks":true`) also
//! holds the exporter's timer ticks, and is replayed tick for tick: its counters come out exactly
//! as the live exporter counted them. Other recordings tick at every chunk and at the end.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use clap::Args;

use crate::config::Config;
use crate::marathon::api::parse_snapshot;
use crate::metrics::{Metrics, Sink};
use crate::pipeline::{Clock as _, Pipeline, ReplayClock, Tee};
use crate::recording::{Entry, Header, Reader, RecordingError};
use crate::state::{Engine, Millis, Tally};

/// Flags of `replay` (besides the rule flags, such as `--lost.resolve-timeout`).
#[derive(Args, Clone, Debug)]
pub struct ReplayArgs {
    /// A recording made by `record` or `demo --record`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also print the final text exposition, as /metrics would have served it
    #[arg(long)]
    pub exposition: bool,
}

/// What a replay produced.
pub struct Replay {
    pub header: Header,
    /// Every count, by app.
    pub tally: Tally,
    /// The registry as the exporter would serve it at the end of the recording.
    pub metrics: Metrics,
    pub stats: Stats,
    /// Problems that did not stop the replay (a snapshot body that does not parse, no end record).
    pub warnings: Vec<String>,
}

/// Totals of a replay.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub connects: usize,
    pub chunks: usize,
    pub bytes: usize,
    pub snapshots: usize,
    /// Events decoded (`events_total`).
    pub events: usize,
    /// Frames that could not be used (malformed or oversized).
    pub frame_errors: usize,
    /// Local time of the last record, ms since the recording started.
    pub duration: Millis,
    /// Marathon's clock at the end.
    pub end_time: Millis,
    /// Whether the recording ends with its end record.
    pub ended: bool,
}

type ReplayPipeline = Pipeline<Tee<Sink, Tally>, ReplayClock>;

/// Replays the recording at `path` under the rule settings of `config`.
pub fn replay_file(path: &Path, config: &Config) -> Result<Replay, RecordingError> {
    let (header, mut reader) = Reader::open(path)?;
    let engine = Engine::new(crate::settings(config));
    let now = Arc::new(AtomicI64::new(header.started_at));
    let scrape_now = Arc::clone(&now);
    let metrics = Metrics::new(
        engine.reader(),
        Arc::new(move || scrape_now.load(Ordering::Relaxed)),
    );
    let mut pipeline: ReplayPipeline = Pipeline::new(
        engine,
        Tee(metrics.sink(), Tally::new()),
        ReplayClock::new(header.started_at),
        config.max_event_bytes,
    );
    let mut stats = Stats::default();
    let mut warnings = Vec::new();
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            // A `record` killed mid-write leaves its last line cut: replay what is whole.
            Err(cut @ RecordingError::Truncated { .. }) => {
                warnings.push(format!("{cut}; replayed up to the line before"));
                break;
            }
            Err(other) => return Err(other),
        };
        pipeline.clock_mut().set_local(entry.local());
        stats.duration = entry.local();
        match entry {
            Entry::Connect { .. } => {
                stats.connects += 1;
                pipeline.reset_stream();
            }
            Entry::Disconnect { .. } => pipeline.reset_stream(),
            Entry::Chunk { data, .. } => {
                if !header.ticks {
                    pipeline.tick();
                }
                let fed = pipeline.feed(&data);
                stats.chunks += 1;
                stats.bytes += data.len();
                stats.events += fed.events;
                stats.frame_errors += fed.errors;
            }
            Entry::Snapshot {
                requested_at,
                answered_at,
                tasks,
                apps,
                pods,
                ..
            } => match parse_snapshot(requested_at, &tasks, &apps, pods.as_deref()) {
                Ok(mut snapshot) => {
                    snapshot.answered_at = answered_at;
                    stats.snapshots += 1;
                    pipeline.apply_snapshot(&snapshot);
                }
                Err(reason) => warnings.push(format!(
                    "line {}: snapshot skipped (as the exporter would): {reason}",
                    reader.line()
                )),
            },
            Entry::Tick { .. } => pipeline.tick(),
            Entry::End { .. } => {}
        }
    }
    if !header.ticks {
        pipeline.tick();
    }
    stats.ended = reader.ended();
    if !stats.ended {
        warnings.push(format!(
            "{} has no end record (the recorder did not stop cleanly); replayed up to its last record",
            path.display()
        ));
    }
    stats.end_time = pipeline.clock_mut().now();
    now.store(stats.end_time, Ordering::Relaxed);
    let (_, Tee(_, tally), _) = pipeline.into_parts();
    Ok(Replay {
        header,
        tally,
        metrics,
        stats,
        warnings,
    })
}

/// The `replay` subcommand: prints the summary (and the exposition with `--exposition`) to stdout.
pub fn run(config: &Config, args: &ReplayArgs) -> anyhow::Result<()> {
    let replay = replay_file(&args.file, config)?;
    for warning in &replay.warnings {
        tracing::warn!("{warning}");
    }
    let mut out = summary(&replay);
    if args.exposition {
        out.push('\n');
        out.push_str(&replay.metrics.render());
    }
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// The per-app summary table, preceded by a line about the recording.
pub fn summary(replay: &Replay) -> String {
    let s = &replay.stats;
    let t = &replay.tally;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Recording of {} ({} of stream, {} connection(s), {} snapshot(s), {} events, {} unusable frame(s))",
        if replay.header.source.is_empty() {
            "an unnamed Marathon"
        } else {
            &replay.header.source
        },
        duration(s.duration as f64 / 1000.0),
        s.connects,
        s.snapshots,
        s.events,
        s.frame_errors,
    );
    let apps: BTreeSet<&String> = t.known.iter().collect();
    let mut rows = vec![[
        "APP".to_owned(),
        "TRANSITIONS".to_owned(),
        "REPLACEMENTS".to_owned(),
        "EXPUNGES".to_owned(),
        "UNREACHABLE EPISODES".to_owned(),
        "TIME TO RUNNING".to_owned(),
        "UNKNOWN TERMINATIONS".to_owned(),
    ]];
    for app in apps {
        let transitions: u64 = t
            .transitions
            .iter()
            .filter(|((a, _, _), _)| a == app)
            .map(|(_, n)| n)
            .sum();
        let by_reason = |map: &std::collections::BTreeMap<(String, &'static str), u64>| {
            let mut reasons: Vec<(&str, u64)> = map
                .iter()
                .filter(|((a, _), n)| a == app && **n > 0)
                .map(|((_, r), n)| (*r, *n))
                .collect();
            reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let text: Vec<String> = reasons.iter().map(|(r, n)| format!("{r}={n}")).collect();
            if text.is_empty() {
                "-".to_owned()
            } else {
                text.join(" ")
            }
        };
        rows.push([
            app.clone(),
            transitions.to_string(),
            by_reason(&t.replacements),
            by_reason(&t.expunges),
            observations(t.unreachable_durations.get(app)),
            observations(t.time_to_running.get(app)),
            t.unknown_terminations
                .get(app)
                .copied()
                .unwrap_or(0)
                .to_string(),
        ]);
    }
    if rows.len() == 1 {
        out.push_str("No app was seen.\n");
        return out;
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            let pad = w - cell.chars().count();
            if i == 1 || i == 6 {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `n (min … max, median m)` of observed seconds, `-` when none.
fn observations(values: Option<&Vec<f64>>) -> String {
    let Some(values) = values.filter(|v| !v.is_empty()) else {
        return "-".to_owned();
    };
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
    if sorted.len() == 1 {
        return format!("1 ({})", duration(min));
    }
    format!(
        "{} ({}…{}, median {})",
        sorted.len(),
        duration(min),
        duration(max),
        duration(median)
    )
}

/// Seconds, compactly: `0.4s`, `42s`, `3m20s`, `2h5m`.
fn duration(seconds: f64) -> String {
    if seconds < 10.0 && seconds.fract() != 0.0 {
        return format!("{seconds:.1}s");
    }
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 if s.is_multiple_of(60) => format!("{}m", s / 60),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        _ if s % 3600 / 60 == 0 => format!("{}h", s / 3600),
        _ => format!("{}h{}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_compact() {
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(0.4), "0.4s");
        assert_eq!(duration(42.0), "42s");
        assert_eq!(duration(200.0), "3m20s");
        assert_eq!(duration(300.0), "5m");
        assert_eq!(duration(7500.0), "2h5m");
        assert_eq!(duration(7200.0), "2h");
    }

    #[test]
    fn observations_show_count_range_and_median() {
        assert_eq!(observations(None), "-");
        assert_eq!(observations(Some(&vec![30.0])), "1 (30s)");
        assert_eq!(
            observations(Some(&vec![120.0, 0.0, 30.0])),
            "3 (0s…2m, median 30s)"
        );
    }
}
