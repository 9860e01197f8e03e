//! The single writer: owns the pipeline (and so the task map) and applies, in one task, the
//! stream's bytes, the snapshots and a once-a-second timer tick.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

use crate::clock::{LiveClock, wall_millis};
use crate::health::Readiness;
use crate::metrics::Sink;
use crate::pipeline::Pipeline;
use crate::recording::Recorder;
use crate::state::Snapshot;
use crate::stream::StreamMsg;

/// How often timers are evaluated when no event arrives (RULES.md asks for at least once a second).
pub const TICK: Duration = Duration::from_secs(1);

/// Queued stream messages handled per wake-up before snapshots, ticks and shutdown get a look.
const DRAIN_AT_ONCE: usize = 64;

pub type LivePipeline = Pipeline<Sink, LiveClock>;

/// Runs until `cancel` or until both inputs are closed.
pub async fn run(
    pipeline: LivePipeline,
    stream: mpsc::Receiver<StreamMsg>,
    snapshots: mpsc::Receiver<Snapshot>,
    readiness: Arc<Readiness>,
    cancel: CancellationToken,
) {
    run_recorded(pipeline, stream, snapshots, readiness, cancel, None).await;
}

/// [`run`], also handing every chunk, snapshot and tick to `recorder` just before applying it.
pub async fn run_recorded(
    mut pipeline: LivePipeline,
    mut stream: mpsc::Receiver<StreamMsg>,
    mut snapshots: mpsc::Receiver<Snapshot>,
    readiness: Arc<Readiness>,
    cancel: CancellationToken,
    mut recorder: Option<Recorder>,
) {
    let mut tick = interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            snapshot = snapshots.recv() => {
                let Some(snapshot) = snapshot else { return };
                // Bytes already read were sent before the snapshot was answered: apply them first.
                while let Ok(msg) = stream.try_recv() {
                    handle(&mut pipeline, msg, recorder.as_mut());
                }
                if let Some(recorder) = recorder.as_mut() {
                    recorder.snapshot(&snapshot);
                }
                pipeline.apply_snapshot(&snapshot);
                readiness.set_seeded();
                tracing::debug!(tasks = snapshot.tasks.len(), apps = snapshot.apps.len(), "snapshot applied");
            }
            msg = stream.recv() => {
                let Some(msg) = msg else { return };
                handle(&mut pipeline, msg, recorder.as_mut());
                // Whatever else is queued, at once: one wake-up for a burst.
                for _ in 0..DRAIN_AT_ONCE {
                    let Ok(msg) = stream.try_recv() else { break };
                    handle(&mut pipeline, msg, recorder.as_mut());
                }
            }
            _ = tick.tick() => {
                if let Some(recorder) = recorder.as_mut() {
                    recorder.tick();
                }
                pipeline.tick();
            }
        }
    }
}

fn handle(pipeline: &mut LivePipeline, msg: StreamMsg, recorder: Option<&mut Recorder>) {
    match msg {
        StreamMsg::Connected { leader } => {
            if let Some(recorder) = recorder {
                recorder.connected(&leader);
            }
            pipeline.reset_stream();
        }
        StreamMsg::Disconnected => {
            if let Some(recorder) = recorder {
                recorder.disconnected();
            }
            pipeline.reset_stream();
        }
        StreamMsg::Chunk(bytes) => {
            if let Some(recorder) = recorder {
                recorder.chunk(&bytes);
            }
            let fed = pipeline.feed(&bytes);
            if fed.events > 0 {
                pipeline
                    .effects()
                    .exporter()
                    .last_event_timestamp
                    .set(wall_millis() as f64 / 1000.0);
            }
        }
    }
}
