//! `record --output FILE`: a Marathon's event stream and snapshots written to a recording (see
//! [`crate::recording`]) for `replay`. It connects the way the exporter does (the same flags,
//! credentials, TLS, `event_type` filter and leader redirects: [`crate::stream::connect`]), stores
//! every chunk as read with its local time, and after every (re)connect and every
//! `--resync.interval` takes a snapshot of `/v2/tasks`, `/v2/apps` and `/v2/pods/::status` the way
//! the exporter does ([`crate::resync::fetch_bodies`]: from the stream's leader, size-bounded),
//! stamped on the connection clock as read from the recorded events.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use clap::Args;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, timeout};
use tokio_util::sync::CancellationToken;

use crate::client::{MarathonClient, origin};
use crate::config::{Config, duration_at_least};
use crate::connection::{Connection, Publisher, Watcher, base_of};
use crate::marathon::events::decode;
use crate::recording::RecordingWriter;
use crate::resync::{Bodies, fetch_bodies};
use crate::sse::{Decoder, Frame};
use crate::state::{MarathonClock, Millis};
use crate::stream::{Backoff, connect};

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

/// The recording and Marathon's clock as the recorded events tell it, shared by the stream and
/// snapshot loops.
struct Shared {
    writer: Mutex<RecordingWriter>,
    clock: Mutex<MarathonClock>,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    chunks: usize,
    bytes: usize,
    snapshots: usize,
}

impl Shared {
    fn writer(&self) -> MutexGuard<'_, RecordingWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn clock(&self) -> MutexGuard<'_, MarathonClock> {
        self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Local time of the recording, ms.
    fn local(&self) -> Millis {
        self.writer().local()
    }

    /// Now on `connection`'s clock (see [`crate::resync::Resync::requested_at`]).
    fn requested_at(&self, connection: &Connection) -> Millis {
        let local = self.local();
        let mut clock = self.clock();
        clock
            .connection_now(connection.id, local)
            .or_else(|| connection.date_now())
            .unwrap_or_else(|| clock.now(local))
    }
}

/// Records until `shutdown` completes or `--duration` passes; the file then ends with its end record.
pub async fn run(
    config: Config,
    args: RecordArgs,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = Arc::new(MarathonClient::new(&config)?);
    let source = client.urls().first().map(origin).unwrap_or_default();
    let writer = RecordingWriter::create(&args.output, &source, false)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.output.display()))?;
    let local = writer.local();
    let shared = Arc::new(Shared {
        clock: Mutex::new(MarathonClock::new(crate::clock::wall_millis(), local)),
        writer: Mutex::new(writer),
        counts: Mutex::new(Counts::default()),
    });
    tracing::info!(marathon = %source, output = %args.output.display(), "recording; stop with ctrl-c");
    let cancel = CancellationToken::new();
    let (trigger_tx, trigger_rx) = mpsc::channel(1);
    let (publisher, watcher) = watch::channel(None);
    let stream = tokio::spawn(stream_loop(
        Arc::clone(&client),
        Arc::clone(&shared),
        &config,
        publisher,
        trigger_tx,
        cancel.clone(),
    ));
    let snapshots = tokio::spawn(snapshot_loop(
        client,
        Arc::clone(&shared),
        &config,
        watcher,
        trigger_rx,
        cancel.clone(),
    ));
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
    cancel.cancel();
    let _ = stream.await;
    let _ = snapshots.await;
    shared.writer().finish();
    let counts = shared.counts();
    tracing::info!(
        output = %args.output.display(),
        chunks = counts.chunks,
        bytes = counts.bytes,
        snapshots = counts.snapshots,
        "recording finished"
    );
    Ok(())
}

/// Connects, records chunks until the stream ends, reconnects with backoff. Publishes the
/// connection it reads from, for the snapshots.
fn stream_loop(
    client: Arc<MarathonClient>,
    shared: Arc<Shared>,
    config: &Config,
    publisher: Publisher,
    snapshot: mpsc::Sender<()>,
    cancel: CancellationToken,
) -> impl Future<Output = ()> + use<> {
    let (idle_timeout, max_event_bytes) = (config.idle_timeout, config.max_event_bytes);
    let mut backoff = Backoff::new(config.backoff_max);
    async move {
        let mut attempt = 0usize;
        let mut connections = 0u64;
        let dated = Arc::clone(&shared);
        let on_date = move |date| {
            let local = dated.local();
            dated.clock().response_date(date, local);
        };
        while !cancel.is_cancelled() {
            let base = &client.urls()[attempt % client.urls().len()];
            let connected = tokio::select! {
                _ = cancel.cancelled() => return,
                r = connect::open(&client, base, idle_timeout, &on_date) => r,
            };
            match connected {
                Ok(opened) => {
                    connections += 1;
                    let leader = opened.leader_name();
                    tracing::info!(%leader, "event stream connected");
                    shared.writer().connected(&leader);
                    shared.clock().connected(connections);
                    publisher.send_replace(Some(Connection {
                        id: connections,
                        base: base_of(&opened.url),
                        leader: opened.leader,
                        with_auth: opened.with_auth,
                        date: opened.date,
                        received: opened.received,
                    }));
                    let _ = snapshot.try_send(());
                    let mut response = opened.response;
                    let mut decoder = Decoder::new(max_event_bytes);
                    let started = tokio::time::Instant::now();
                    loop {
                        let chunk = tokio::select! {
                            _ = cancel.cancelled() => return,
                            r = timeout(idle_timeout, response.chunk()) => r,
                        };
                        match chunk {
                            Ok(Ok(Some(bytes))) => record_chunk(&shared, &mut decoder, &bytes),
                            Ok(Ok(None)) => {
                                tracing::warn!("Marathon closed the event stream; reconnecting");
                                break;
                            }
                            Ok(Err(error)) => {
                                tracing::warn!(error = %error.without_url(), "event stream failed; reconnecting");
                                break;
                            }
                            Err(_) => {
                                tracing::warn!(?idle_timeout, "event stream silent; reconnecting");
                                break;
                            }
                        }
                    }
                    publisher.send_replace(None);
                    shared.writer().disconnected();
                    if started.elapsed() >= crate::stream::BACKOFF_RESET_AFTER {
                        backoff.reset();
                    }
                }
                Err(error) => {
                    attempt += 1;
                    tracing::warn!(%error, "cannot open Marathon's event stream; retrying with backoff");
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = sleep(backoff.next_delay(fastrand::f64())) => {}
            }
        }
    }
}

/// Writes a chunk, and moves the recording's Marathon clock with the timestamps of its events.
fn record_chunk(shared: &Shared, decoder: &mut Decoder, bytes: &[u8]) {
    let local = {
        let mut writer = shared.writer();
        writer.chunk(bytes);
        writer.local()
    };
    {
        let mut counts = shared.counts();
        counts.chunks += 1;
        counts.bytes += bytes.len();
    }
    let mut clock = shared.clock();
    decoder.feed(bytes, &mut |frame| {
        if let Frame::Event(data) = frame
            && let Some(timestamp) = decode(data).ok().and_then(|e| e.timestamp())
        {
            clock.observe(timestamp, local);
        }
    });
}

/// A snapshot per trigger (each connect) and per `interval`, retried with backoff, each taken from
/// the current connection's leader and written only if that connection is still the current one.
fn snapshot_loop(
    client: Arc<MarathonClient>,
    shared: Arc<Shared>,
    config: &Config,
    watcher: Watcher,
    mut trigger: mpsc::Receiver<()>,
    cancel: CancellationToken,
) -> impl Future<Output = ()> + use<> {
    let period = config.resync_interval.max(Duration::from_secs(1));
    let (backoff_max, max_bytes) = (config.backoff_max, config.max_snapshot_bytes);
    async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                t = trigger.recv() => if t.is_none() { return },
                _ = sleep(period) => {}
            }
            let mut backoff = Backoff::new(backoff_max);
            loop {
                let mut current = watcher.clone();
                let connection = tokio::select! {
                    _ = cancel.cancelled() => return,
                    c = current.wait_for(Option::is_some) => match c {
                        Ok(c) => (*c).clone(),
                        Err(_) => return,
                    },
                };
                let Some(connection) = connection else {
                    continue;
                };
                let requested_at = shared.requested_at(&connection);
                let taken = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = fetch_bodies(&client, &connection, max_bytes) => r.map_err(|e| e.to_string()),
                };
                let still = watcher.borrow().as_ref().map(|c| c.id) == Some(connection.id);
                match taken {
                    Ok(bodies) if still => {
                        write_snapshot(&shared, requested_at, &bodies);
                        break;
                    }
                    Ok(_) => tracing::info!(
                        "the event stream reconnected during a snapshot; taking another"
                    ),
                    Err(error) => {
                        tracing::warn!(%error, "cannot take a snapshot of Marathon; retrying with backoff");
                    }
                }
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = sleep(backoff.next_delay(fastrand::f64())) => {}
                }
            }
        }
    }
}

fn write_snapshot(shared: &Shared, requested_at: Millis, bodies: &Bodies) {
    shared.writer().snapshot(
        requested_at,
        bodies.answered_at,
        &bodies.tasks,
        &bodies.apps,
        bodies.pods.as_deref(),
    );
    shared.counts().snapshots += 1;
}
