//! The single writer: owns the pipeline (and so the task map) and applies, in one task, the
//! stream's bytes, the snapshots (only those taken for the connection it is reading) and a
//! once-a-second timer tick.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

use crate::clock::{LiveClock, wall_millis};
use crate::health::Readiness;
use crate::metrics::Sink;
use crate::pipeline::Pipeline;
use crate::resync::Taken;
use crate::state::Snapshot;
use crate::stream::StreamMsg;

/// Sees every input the writer applies, just before it is applied, in order (`demo --record`
/// writes them to a recording). Every method does nothing unless implemented.
pub trait Observer: Send {
    fn connected(&mut self, _leader: &str) {}
    fn disconnected(&mut self) {}
    fn chunk(&mut self, _bytes: &[u8]) {}
    fn snapshot(&mut self, _snapshot: &Snapshot) {}
    fn tick(&mut self) {}
}

/// How often timers are evaluated when no event arrives (RULES.md asks for at least once a second).
pub const TICK: Duration = Duration::from_secs(1);

/// Queued stream messages handled per wake-up before snapshots, ticks and shutdown get a look.
const DRAIN_AT_ONCE: usize = 64;

pub type LivePipeline = Pipeline<Sink, LiveClock>;

/// The writer's inputs.
pub struct Inputs {
    pub stream: mpsc::Receiver<StreamMsg>,
    pub snapshots: mpsc::Receiver<Taken>,
    /// Asks the resync for a new snapshot (when one came for a connection that is gone).
    pub resync: mpsc::Sender<()>,
}

/// Runs until `cancel` or until an input is closed.
pub async fn run(
    pipeline: LivePipeline,
    inputs: Inputs,
    readiness: Arc<Readiness>,
    cancel: CancellationToken,
) {
    run_observed(pipeline, inputs, readiness, cancel, None).await;
}

/// [`run`], also handing every chunk, snapshot and tick to `observer` just before applying it.
pub async fn run_observed(
    mut pipeline: LivePipeline,
    inputs: Inputs,
    readiness: Arc<Readiness>,
    cancel: CancellationToken,
    mut recorder: Option<Box<dyn Observer>>,
) {
    let Inputs {
        mut stream,
        mut snapshots,
        resync,
    } = inputs;
    // The stream connection being read, from its `Connected` to its `Disconnected`.
    let mut current: Option<u64> = None;
    let mut tick = interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            taken = snapshots.recv() => {
                let Some(Taken { connection, snapshot }) = taken else { return };
                // Bytes already read were sent before the snapshot was answered: apply them first.
                while let Ok(msg) = stream.try_recv() {
                    handle(&mut pipeline, msg, &mut current, recorder.as_mut());
                }
                if current != Some(connection) {
                    // Taken from a leader the stream has left: it may be stale. Take another.
                    tracing::debug!(connection, current, "snapshot for an earlier stream connection dropped");
                    let _ = resync.try_send(());
                    continue;
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
                handle(&mut pipeline, msg, &mut current, recorder.as_mut());
                // Whatever else is queued, at once: one wake-up for a burst.
                for _ in 0..DRAIN_AT_ONCE {
                    let Ok(msg) = stream.try_recv() else { break };
                    handle(&mut pipeline, msg, &mut current, recorder.as_mut());
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

fn handle(
    pipeline: &mut LivePipeline,
    msg: StreamMsg,
    current: &mut Option<u64>,
    recorder: Option<&mut Box<dyn Observer>>,
) {
    match msg {
        StreamMsg::Connected { id, leader } => {
            if let Some(recorder) = recorder {
                recorder.connected(&leader);
            }
            *current = Some(id);
            pipeline.clock_mut().connected(id);
            pipeline.reset_stream();
        }
        StreamMsg::Disconnected => {
            if let Some(recorder) = recorder {
                recorder.disconnected();
            }
            *current = None;
            pipeline.reset_stream();
        }
        StreamMsg::Chunk(chunk) => {
            if let Some(recorder) = recorder {
                recorder.chunk(&chunk);
            }
            let fed = pipeline.feed(&chunk);
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

#[cfg(test)]
mod tests {
    use tokio::time::timeout;

    use super::*;
    use crate::clock::SharedClock;
    use crate::metrics::Metrics;
    use crate::state::{Engine, MesosState, Settings, Snapshot, SnapshotTask, StoreReader};

    const BOUND: Duration = Duration::from_secs(10);

    fn snapshot(id: &str) -> Snapshot {
        let task = SnapshotTask {
            id,
            instance: id.rsplit_once("._app.").expect("an app task id").0,
            app: "/web",
            state: MesosState::Running,
            pod: false,
            host: "",
            health: None,
        };
        Snapshot {
            requested_at: 0,
            tasks: [task].into_iter().collect(),
            ..Snapshot::default()
        }
    }

    struct Running {
        stream: mpsc::Sender<StreamMsg>,
        snapshots: mpsc::Sender<Taken>,
        triggers: mpsc::Receiver<()>,
        readiness: Arc<Readiness>,
        tracked: StoreReader,
        cancel: CancellationToken,
    }

    fn start() -> Running {
        let engine = Engine::new(Settings::default());
        let tracked = engine.reader();
        let metrics = Metrics::new(engine.reader(), Arc::new(|| 0));
        let clock = LiveClock::new(Arc::new(SharedClock::new()));
        let pipeline = Pipeline::new(engine, metrics.sink(), clock, 1 << 20);
        let (stream, stream_rx) = mpsc::channel(16);
        let (snapshots, snapshots_rx) = mpsc::channel(1);
        let (resync, triggers) = mpsc::channel(1);
        let readiness = Arc::new(Readiness::new());
        readiness.set_connected(true);
        let cancel = CancellationToken::new();
        let inputs = Inputs {
            stream: stream_rx,
            snapshots: snapshots_rx,
            resync,
        };
        tokio::spawn(run(
            pipeline,
            inputs,
            Arc::clone(&readiness),
            cancel.clone(),
        ));
        Running {
            stream,
            snapshots,
            triggers,
            readiness,
            tracked,
            cancel,
        }
    }

    fn connected(id: u64) -> StreamMsg {
        StreamMsg::Connected {
            id,
            leader: "http://m1:8080".into(),
        }
    }

    #[tokio::test]
    async fn a_snapshot_for_a_connection_that_is_gone_is_dropped_and_another_asked_for() {
        let mut w = start();
        w.stream.send(connected(1)).await.unwrap();
        w.stream.send(connected(2)).await.unwrap();
        let stale = Taken {
            connection: 1,
            snapshot: snapshot("web.instance-1._app.1"),
        };
        w.snapshots.send(stale).await.unwrap();
        timeout(BOUND, w.triggers.recv())
            .await
            .expect("a new snapshot is asked for")
            .unwrap();
        assert_eq!(w.tracked.tracked(), 0, "not applied");
        assert!(w.readiness.reason().is_some(), "not seeded by it");

        let fresh = Taken {
            connection: 2,
            snapshot: snapshot("web.instance-2._app.1"),
        };
        w.snapshots.send(fresh).await.unwrap();
        let seeded = timeout(BOUND, async {
            while w.readiness.reason().is_some() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
        assert!(seeded.is_ok());
        assert_eq!(w.tracked.tracked(), 1);
        assert!(w.triggers.try_recv().is_err(), "nothing more asked for");
        w.cancel.cancel();
    }

    #[tokio::test]
    async fn a_snapshot_after_its_connection_ended_is_dropped() {
        let mut w = start();
        w.stream.send(connected(1)).await.unwrap();
        w.stream.send(StreamMsg::Disconnected).await.unwrap();
        let late = Taken {
            connection: 1,
            snapshot: snapshot("web.instance-1._app.1"),
        };
        w.snapshots.send(late).await.unwrap();
        timeout(BOUND, w.triggers.recv())
            .await
            .expect("a new snapshot is asked for")
            .unwrap();
        assert_eq!(w.tracked.tracked(), 0);
        w.cancel.cancel();
    }
}
