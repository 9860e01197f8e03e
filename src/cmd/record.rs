//! `record --output FILE`: what the exporter applies, written to a recording (see
//! [`crate::recording`]) for `replay`. It runs the exporter's own stream, resync and writer
//! ([`crate::live`]), with the same flags, credentials, TLS, event filter and leader following,
//! and a [`Recorder`] observing the writer: every chunk as read, every snapshot taken for the
//! connection being read (from its leader, size-bounded, stamped on the connection clock) and
//! every timer tick. `replay` of the file counts exactly what the exporter counted.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Args;
use tokio::time::sleep;

use crate::client::origin;
use crate::config::{Config, duration_at_least};
use crate::live::Live;
use crate::recording::Recorder;
use crate::state::Snapshot;
use crate::writer::Observer;

/// Flags of `record` (besides the `--marathon.*` connection flags).
#[derive(Args, Clone, Debug)]
pub struct RecordArgs {
    /// File to write the recording to (replaced if it exists)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Stop after this long [default: at ctrl-c or SIGTERM]
    #[arg(long, value_name = "DURATION", value_parser = duration_at_least(Duration::from_millis(1)))]
    pub duration: Option<Duration>,
}

/// What was recorded, for the closing log line.
#[derive(Default)]
struct Counts {
    chunks: AtomicUsize,
    bytes: AtomicUsize,
    snapshots: AtomicUsize,
}

/// The recorder, counting what it writes.
struct Counting {
    recorder: Recorder,
    counts: Arc<Counts>,
}

impl Observer for Counting {
    fn connected(&mut self, leader: &str) {
        self.recorder.connected(leader);
    }

    fn disconnected(&mut self) {
        self.recorder.disconnected();
    }

    fn chunk(&mut self, bytes: &[u8]) {
        self.counts.chunks.fetch_add(1, Ordering::Relaxed);
        self.counts.bytes.fetch_add(bytes.len(), Ordering::Relaxed);
        self.recorder.chunk(bytes);
    }

    fn snapshot(&mut self, snapshot: &Snapshot) {
        self.counts.snapshots.fetch_add(1, Ordering::Relaxed);
        self.recorder.snapshot(snapshot);
    }

    fn tick(&mut self) {
        self.recorder.tick();
    }
}

/// Records until `shutdown` completes or `--duration` passes; the file then ends with its end
/// record (written when the writer, and with it the recorder, stops).
pub async fn run(
    config: Config,
    args: RecordArgs,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let source = config.marathon_urls.first().map(origin).unwrap_or_default();
    let recorder = Recorder::create(&args.output, &source)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.output.display()))?;
    let counts = Arc::new(Counts::default());
    let observer = Counting {
        recorder,
        counts: Arc::clone(&counts),
    };
    let live = Live::start(&config, Some(Box::new(observer)))?;
    tracing::info!(marathon = %source, output = %args.output.display(), "recording; stop with ctrl-c");
    let limit = async {
        match args.duration {
            Some(d) => sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = limit => {}
    }
    live.shutdown().await;
    tracing::info!(
        output = %args.output.display(),
        chunks = counts.chunks.load(Ordering::Relaxed),
        bytes = counts.bytes.load(Ordering::Relaxed),
        snapshots = counts.snapshots.load(Ordering::Relaxed),
        "recording finished"
    );
    Ok(())
}
