//! The exporter's live tasks wired over one Marathon client: the event stream, the resync and
//! the single writer that owns the task map, with an optional observer of what the writer
//! applies. [`crate::Exporter`] serves them over HTTP; `record` records what the writer applies.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client::{ClientError, MarathonClient};
use crate::clock::{self, SharedClock};
use crate::config::Config;
use crate::health::Readiness;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::state::{self, Engine};
use crate::{STREAM_CHANNEL, resync, settings, stream, writer};

/// The running stream, resync and writer tasks.
pub struct Live {
    pub metrics: Metrics,
    pub readiness: Arc<Readiness>,
    /// Stops every task.
    pub cancel: CancellationToken,
    pub tasks: Vec<JoinHandle<()>>,
}

impl Live {
    /// Starts the tasks; `observer` sees every chunk, snapshot and tick the writer applies.
    pub fn start(
        config: &Config,
        observer: Option<Box<dyn writer::Observer>>,
    ) -> Result<Live, ClientError> {
        if config.insecure_skip_verify {
            tracing::warn!("TLS verification of Marathon is off (--marathon.insecure-skip-verify)");
        }
        let client = Arc::new(MarathonClient::new(config)?);
        let clock = Arc::new(SharedClock::new());
        let engine = Engine::new(settings(config))
            .with_label_allowlist(state::LabelAllowlist::parse(&config.app_label_allowlist));
        let now_clock = Arc::clone(&clock);
        let metrics = Metrics::new(engine.reader(), Arc::new(move || now_clock.now()));
        let readiness = Arc::new(Readiness::new());
        let cancel = CancellationToken::new();
        let (stream_tx, stream_rx) = stream::channel(STREAM_CHANNEL, stream::STREAM_CHANNEL_BYTES);
        let (snapshot_tx, snapshot_rx) = tokio::sync::mpsc::channel(1);
        let (trigger_tx, trigger_rx) = tokio::sync::mpsc::channel(1);
        let (connection_tx, connection_rx) = tokio::sync::watch::channel(None);

        let pipeline = Pipeline::new(
            engine,
            metrics.sink(),
            clock::LiveClock::new(Arc::clone(&clock)),
            config.max_event_bytes,
        );
        let mut tasks = Vec::new();
        let inputs = writer::Inputs {
            stream: stream_rx,
            snapshots: snapshot_rx,
            resync: trigger_tx.clone(),
        };
        tasks.push(tokio::spawn(writer::run_observed(
            pipeline,
            inputs,
            Arc::clone(&readiness),
            cancel.clone(),
            observer,
        )));
        let stream = stream::Stream {
            client: Arc::clone(&client),
            clock: Arc::clone(&clock),
            idle_timeout: config.idle_timeout,
            backoff_max: config.backoff_max,
            metrics: metrics.exporter.clone(),
            readiness: Arc::clone(&readiness),
            connection: connection_tx,
        };
        tasks.push(tokio::spawn(stream.run(
            stream_tx,
            trigger_tx,
            cancel.clone(),
        )));
        let resync = resync::Resync {
            client,
            clock,
            connection: connection_rx,
            interval: config.resync_interval,
            backoff_max: config.backoff_max,
            max_bytes: config.max_snapshot_bytes,
            metrics: metrics.exporter.clone(),
            readiness: Arc::clone(&readiness),
        };
        tasks.push(tokio::spawn(resync.run(
            trigger_rx,
            snapshot_tx,
            cancel.clone(),
        )));
        Ok(Live {
            metrics,
            readiness,
            cancel,
            tasks,
        })
    }

    /// Stops every task and waits for them (the writer's observer is dropped with it).
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
