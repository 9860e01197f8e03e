//! I/O: opens Marathon's `/v2/events` (following a standby's redirect to the leader), reads to EOF
//! (or until Marathon is silent for the idle timeout) and hands the raw bytes to the writer;
//! reconnects with capped, jittered backoff. It publishes the connection it reads from (see
//! [`crate::connection`]) so that snapshots come from the same leader. It never waits on decoding or
//! metric work: the writer does that, so this loop keeps up with Marathon.

mod channel;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;

pub use self::channel::{Chunk, STREAM_CHANNEL_BYTES, StreamSender, channel};
use crate::client::Backoff;
use crate::client::MarathonClient;
use crate::client::connect::{self, Opened};
use crate::client::describe_transport as describe;
use crate::clock::SharedClock;
use crate::connection::{Connection, Publisher, base_of};
use crate::health::Readiness;
use crate::metrics::SelfMetrics;

/// A connection that lasted this long resets the backoff.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);
/// Chunks already read are joined up to this size before they go to the writer.
const COALESCE_BYTES: usize = 256 * 1024;

/// What the stream tells the writer.
#[derive(Debug)]
pub enum StreamMsg {
    /// Connection `id` is open: whatever partial event came before is void, and snapshots taken
    /// for an earlier connection are not applied any more.
    Connected {
        id: u64,
        leader: String,
    },
    /// Bytes as read from the socket.
    Chunk(Chunk),
    Disconnected,
}

/// How a connection ended.
enum End {
    Eof,
    IdleTimeout,
    Error(String),
    Shutdown,
}

pub struct Stream {
    pub client: Arc<MarathonClient>,
    /// Handed the `Date` of Marathon's answers (the first one sets where `now` starts).
    pub clock: Arc<SharedClock>,
    pub idle_timeout: Duration,
    pub backoff_max: Duration,
    pub metrics: SelfMetrics,
    pub readiness: Arc<Readiness>,
    /// Where the current connection is published (`None` while there is none).
    pub connection: Publisher,
}

impl Stream {
    /// Runs until `cancel`: connect, read, reconnect. Each new connection asks for a resync.
    pub async fn run(self, tx: StreamSender, resync: mpsc::Sender<()>, cancel: CancellationToken) {
        let mut backoff = Backoff::new(self.backoff_max);
        let mut attempt = 0usize;
        let mut connections = 0u64;
        let mut leader: Option<String> = None;
        // The last problem of each configured instance since the stream last worked: a condition is
        // logged when it starts or changes, not at every retry.
        let mut problems: HashMap<String, String> = HashMap::new();
        let clock = Arc::clone(&self.clock);
        let on_date = move |date| clock.response_date(date);
        while !cancel.is_cancelled() {
            let base = &self.client.urls()[attempt % self.client.urls().len()];
            attempt += 1;
            let connected = tokio::select! {
                _ = cancel.cancelled() => return,
                r = connect::open(&self.client, base, self.idle_timeout, &on_date) => r,
            };
            match connected {
                Ok(opened) => {
                    self.metrics.connects_success.inc();
                    attempt -= 1; // stay with the instance that worked
                    connections += 1;
                    let now_leader = opened.leader_name();
                    if leader.as_ref().is_some_and(|l| *l != now_leader) {
                        self.metrics.leader_changes.inc();
                        tracing::info!(leader = %now_leader, previous = leader.as_deref().unwrap_or(""), "Marathon leader changed");
                    }
                    let recovered = !problems.is_empty();
                    problems.clear();
                    if recovered || leader.is_none() {
                        tracing::info!(leader = %now_leader, "event stream connected");
                    }
                    self.readiness.set_leader(&now_leader);
                    leader = Some(now_leader.clone());
                    self.metrics.stream_up.set(1);
                    self.readiness.set_connected(true);
                    let (response, connection) = split(opened, connections);
                    // The writer hears of the connection before any snapshot can be taken for it.
                    let hello = StreamMsg::Connected {
                        id: connections,
                        leader: now_leader,
                    };
                    if !tx.send(hello).await {
                        return;
                    }
                    self.connection.send_replace(Some(connection));
                    let _ = resync.try_send(());
                    let started = Instant::now();
                    let end = self.read(response, &tx, &cancel).await;
                    self.connection.send_replace(None);
                    self.metrics.stream_up.set(0);
                    self.readiness.set_connected(false);
                    let _ = tx.send(StreamMsg::Disconnected).await;
                    let reason = match end {
                        End::Shutdown => return,
                        End::Eof => {
                            self.metrics.disconnects_eof.inc();
                            "Marathon closed the event stream".to_owned()
                        }
                        End::IdleTimeout => {
                            self.metrics.disconnects_idle_timeout.inc();
                            format!("no byte for {:?}", self.idle_timeout)
                        }
                        End::Error(e) => {
                            self.metrics.disconnects_error.inc();
                            e
                        }
                    };
                    if started.elapsed() >= BACKOFF_RESET_AFTER {
                        backoff.reset();
                        tracing::info!(reason = %reason, "event stream ended; reconnecting");
                    } else {
                        tracing::debug!(reason = %reason, "event stream ended; reconnecting");
                    }
                    self.readiness.set_problem(Some(reason));
                }
                Err(error) => {
                    self.metrics.connects_failure.inc();
                    let message = error.to_string();
                    if problems.get(base.as_str()) != Some(&message) {
                        tracing::warn!(error = %message, "cannot open Marathon's event stream; retrying with backoff");
                        problems.insert(base.to_string(), message.clone());
                    }
                    self.readiness.set_problem(Some(message));
                }
            }
            let delay = backoff.next_delay(fastrand::f64());
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = sleep(delay) => {}
            }
        }
    }

    /// Reads until EOF, silence, an error, or shutdown.
    async fn read(
        &self,
        mut response: reqwest::Response,
        tx: &StreamSender,
        cancel: &CancellationToken,
    ) -> End {
        let mut behind = false;
        loop {
            let chunk = tokio::select! {
                _ = cancel.cancelled() => return End::Shutdown,
                r = timeout(self.idle_timeout, response.chunk()) => r,
            };
            match chunk {
                Err(_) => return End::IdleTimeout,
                Ok(Ok(Some(bytes))) => {
                    let (bytes, end) = coalesce(bytes, &mut response);
                    let forwarded = tokio::select! {
                        _ = cancel.cancelled() => return End::Shutdown,
                        sent = tx.forward(bytes, &self.metrics, &mut behind) => sent,
                    };
                    if !forwarded {
                        return End::Shutdown;
                    }
                    if let Some(end) = end {
                        return end;
                    }
                }
                Ok(Ok(None)) => return End::Eof,
                Ok(Err(e)) => return End::Error(describe(&e)),
            }
        }
    }
}

/// The response to read, and the connection as the resync sees it.
fn split(opened: Opened, id: u64) -> (reqwest::Response, Connection) {
    let connection = Connection {
        id,
        base: base_of(&opened.url),
        leader: opened.leader,
        with_auth: opened.with_auth,
        date: opened.date,
        received: opened.received,
    };
    (opened.response, connection)
}

/// Joins to `first` the chunks that have already arrived, up to [`COALESCE_BYTES`]: a fast stream
/// comes in socket-sized pieces (about 8 KiB), and handing the writer fewer, larger ones saves it a
/// wake-up and a channel operation per piece. Never waits; also returns how the stream ended if
/// that is already known.
fn coalesce(first: Bytes, response: &mut reqwest::Response) -> (Bytes, Option<End>) {
    use futures_util::FutureExt as _;
    let mut joined: Option<bytes::BytesMut> = None;
    let mut len = first.len();
    let mut end = None;
    while len < COALESCE_BYTES {
        match response.chunk().now_or_never() {
            None => break,
            Some(Ok(Some(more))) => {
                len += more.len();
                joined
                    .get_or_insert_with(|| {
                        let mut buf = bytes::BytesMut::with_capacity(COALESCE_BYTES.max(len));
                        buf.extend_from_slice(&first);
                        buf
                    })
                    .extend_from_slice(&more);
            }
            Some(Ok(None)) => {
                end = Some(End::Eof);
                break;
            }
            Some(Err(e)) => {
                end = Some(End::Error(describe(&e)));
                break;
            }
        }
    }
    (joined.map_or(first, bytes::BytesMut::freeze), end)
}
