//! I/O: opens Marathon's `/v2/events`, follows a standby's redirect to the leader, reads to EOF
//! (or until Marathon is silent for the idle timeout) and hands the raw bytes to the writer;
//! reconnects with capped, jittered backoff. It never waits on decoding or metric work: the writer
//! does that, so this loop keeps up with Marathon.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::client::{MarathonClient, endpoint, origin};
use crate::health::Readiness;
use crate::marathon::events::SUBSCRIBED;
use crate::metrics::SelfMetrics;

/// Backoff before the first retry.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);
/// A connection that lasted this long resets the backoff.
pub const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);
/// Chunks already read are joined up to this size before they go to the writer.
const COALESCE_BYTES: usize = 256 * 1024;
/// Redirects followed for one connection (a standby names the leader: one is normal).
const MAX_REDIRECTS: usize = 5;

/// What the stream tells the writer.
#[derive(Debug)]
pub enum StreamMsg {
    /// A new connection: whatever partial event came before is void.
    Connected {
        leader: String,
    },
    /// Bytes as read from the socket.
    Chunk(Bytes),
    Disconnected,
}

/// Reconnect delays: from about 100 ms, doubling with ±20 % jitter, capped.
#[derive(Clone, Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Self {
        Backoff {
            next: BACKOFF_INITIAL.min(max),
            max,
        }
    }

    /// The delay before the next attempt; `jitter` in `[0, 1)`.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let base = self.next;
        self.next = (base * 2).min(self.max);
        base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
            .min(self.max)
    }

    pub fn reset(&mut self) {
        self.next = BACKOFF_INITIAL.min(self.max);
    }
}

/// Why a connection attempt failed; the message names no credential.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("HTTP {status} from {origin}")]
    Status { status: u16, origin: String },
    #[error("{origin} answered 200 without text/event-stream")]
    NotEventStream { origin: String },
    #[error("no response from {origin} within {after:?}")]
    NoResponse { origin: String, after: Duration },
    #[error("too many redirects from {origin}")]
    Redirects { origin: String },
    #[error("{origin}: {reason}")]
    Transport { origin: String, reason: String },
    #[error("{0}")]
    Client(#[from] crate::client::ClientError),
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
    pub idle_timeout: Duration,
    pub backoff_max: Duration,
    pub metrics: SelfMetrics,
    pub readiness: Arc<Readiness>,
}

impl Stream {
    /// Runs until `cancel`: connect, read, reconnect. Each new connection asks for a resync.
    pub async fn run(
        self,
        tx: mpsc::Sender<StreamMsg>,
        resync: mpsc::Sender<()>,
        cancel: CancellationToken,
    ) {
        let mut backoff = Backoff::new(self.backoff_max);
        let mut attempt = 0usize;
        let mut leader: Option<String> = None;
        // The last problem of each configured instance since the stream last worked: a condition is
        // logged when it starts or changes, not at every retry.
        let mut problems: HashMap<String, String> = HashMap::new();
        while !cancel.is_cancelled() {
            let base = &self.client.urls()[attempt % self.client.urls().len()];
            attempt += 1;
            let connected = tokio::select! {
                _ = cancel.cancelled() => return,
                r = self.connect(base) => r,
            };
            match connected {
                Ok((response, now_leader)) => {
                    self.metrics.connects_success.inc();
                    attempt -= 1; // stay with the instance that worked
                    if leader.as_ref().is_some_and(|l| *l != now_leader) {
                        self.metrics.leader_changes.inc();
                        tracing::info!(leader = %now_leader, previous = leader.as_deref().unwrap_or(""), "Marathon leader changed");
                    }
                    let recovered = !problems.is_empty();
                    problems.clear();
                    if recovered || leader.is_none() {
                        tracing::info!(leader = %now_leader, "event stream connected");
                    }
                    leader = Some(now_leader.clone());
                    self.metrics.stream_up.set(1);
                    self.readiness.set_connected(true);
                    if tx
                        .send(StreamMsg::Connected { leader: now_leader })
                        .await
                        .is_err()
                    {
                        return;
                    }
                    let _ = resync.try_send(());
                    let started = Instant::now();
                    let end = self.read(response, &tx, &cancel).await;
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

    /// Opens the stream at `base`, following redirects; returns the response and the leader's name.
    /// Each hop may take `idle_timeout` to answer with its headers.
    async fn connect(&self, base: &Url) -> Result<(reqwest::Response, String), ConnectError> {
        let mut url = endpoint(base, "v2/events");
        {
            let mut query = url.query_pairs_mut();
            for event_type in SUBSCRIBED {
                query.append_pair("event_type", event_type);
            }
        }
        // Credentials go to configured hosts and to the leader a configured host names.
        let mut with_auth = true;
        for _ in 0..=MAX_REDIRECTS {
            let request = self
                .client
                .get(&url, with_auth)?
                .header(ACCEPT, "text/event-stream");
            // A server that accepts and then stays silent is as dead as a silent stream.
            let response = timeout(self.idle_timeout, request.send())
                .await
                .map_err(|_| ConnectError::NoResponse {
                    origin: origin(&url),
                    after: self.idle_timeout,
                })?
                .map_err(|e| ConnectError::Transport {
                    origin: origin(&url),
                    reason: describe(&e),
                })?;
            let status = response.status();
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| ConnectError::Status {
                        status: status.as_u16(),
                        origin: origin(&url),
                    })?;
                with_auth = with_auth && self.client.is_configured_host(&url);
                url = strip_userinfo(next);
                continue;
            }
            if !status.is_success() {
                return Err(ConnectError::Status {
                    status: status.as_u16(),
                    origin: origin(&url),
                });
            }
            let is_stream = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
            if !is_stream {
                return Err(ConnectError::NotEventStream {
                    origin: origin(&url),
                });
            }
            let leader = response
                .headers()
                .get("x-marathon-leader")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| Url::parse(v).ok())
                .map_or_else(|| origin(&url), |u| origin(&u));
            return Ok((response, leader));
        }
        Err(ConnectError::Redirects {
            origin: origin(base),
        })
    }

    /// Reads until EOF, silence, an error, or shutdown.
    async fn read(
        &self,
        mut response: reqwest::Response,
        tx: &mpsc::Sender<StreamMsg>,
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
                    if !forward(tx, StreamMsg::Chunk(bytes), &self.metrics, &mut behind).await {
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

/// Hands one message to the writer; `false` once the writer is gone. A full channel means the
/// writer is behind: the reader waits for it rather than drop bytes, which would lose events
/// without a trace. Marathon buffers up to 1024 events before it drops a slow consumer, so a short
/// wait is harmless; the time waited is counted in `marathon_exporter_stream_backpressure_seconds_total`
/// and the first wait of a connection is logged (`behind` remembers it).
async fn forward(
    tx: &mpsc::Sender<StreamMsg>,
    msg: StreamMsg,
    metrics: &SelfMetrics,
    behind: &mut bool,
) -> bool {
    let msg = match tx.try_send(msg) {
        Ok(()) => return true,
        Err(mpsc::error::TrySendError::Closed(_)) => return false,
        Err(mpsc::error::TrySendError::Full(msg)) => msg,
    };
    if !*behind {
        *behind = true;
        tracing::warn!("the writer is behind the event stream; reading waits for it");
    }
    let started = Instant::now();
    // Wait for half of the channel to drain, not for one slot: the writer then works through a
    // run of messages without waking the reader for each one it takes (measured in the load
    // benchmark: 0.56 of the baseline waiting for single slots, 0.62 waiting for half).
    let sent = match tx.reserve_many((tx.max_capacity() / 2).max(1)).await {
        Ok(mut permits) => permits.next().map(|permit| permit.send(msg)).is_some(),
        Err(_) => false,
    };
    metrics
        .stream_backpressure_seconds
        .inc_by(started.elapsed().as_secs_f64());
    sent
}

/// A transport error without its URL (which could carry userinfo from a hostile redirect).
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = error.source();
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    text.push_str(kind);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn strip_userinfo(mut url: Url) -> Url {
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_metrics() -> SelfMetrics {
        let store = crate::state::Store::new();
        crate::metrics::Metrics::new(store.reader(), Arc::new(|| 0))
            .exporter
            .clone()
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_channel_makes_the_reader_wait_and_the_wait_is_counted() {
        let metrics = self_metrics();
        let (tx, mut rx) = mpsc::channel(1);
        let mut behind = false;
        assert!(forward(&tx, StreamMsg::Disconnected, &metrics, &mut behind).await);
        assert!(!behind, "room in the channel: no wait");
        assert_eq!(metrics.stream_backpressure_seconds.get(), 0.0);

        let waiting = tokio::spawn({
            let metrics = metrics.clone();
            async move {
                let mut behind = false;
                let sent = forward(
                    &tx,
                    StreamMsg::Chunk(Bytes::from_static(b"x")),
                    &metrics,
                    &mut behind,
                )
                .await;
                (sent, behind)
            }
        });
        // The writer takes 3 s (of paused time) to come back: nothing is dropped meanwhile.
        sleep(Duration::from_secs(3)).await;
        assert!(!waiting.is_finished(), "the reader waits for room");
        assert!(matches!(rx.recv().await, Some(StreamMsg::Disconnected)));
        let (sent, behind) = waiting.await.expect("no panic");
        assert!(sent && behind);
        assert!(matches!(rx.recv().await, Some(StreamMsg::Chunk(b)) if b == "x"));
        assert_eq!(metrics.stream_backpressure_seconds.get(), 3.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_reader_resumes_once_half_the_channel_is_free() {
        let metrics = self_metrics();
        let (tx, mut rx) = mpsc::channel(8);
        let mut behind = false;
        for _ in 0..8 {
            assert!(forward(&tx, StreamMsg::Disconnected, &metrics, &mut behind).await);
        }
        let waiting = tokio::spawn({
            let metrics = metrics.clone();
            async move {
                let mut behind = false;
                forward(
                    &tx,
                    StreamMsg::Chunk(Bytes::from_static(b"x")),
                    &metrics,
                    &mut behind,
                )
                .await
            }
        });
        for taken in 1..=4 {
            sleep(Duration::from_secs(1)).await;
            assert!(!waiting.is_finished(), "{taken} of 8 taken: still waiting");
            assert!(matches!(rx.recv().await, Some(StreamMsg::Disconnected)));
        }
        assert!(
            waiting.await.expect("no panic"),
            "sent once 4 of 8 are free"
        );
        for _ in 0..4 {
            assert!(matches!(rx.recv().await, Some(StreamMsg::Disconnected)));
        }
        assert!(matches!(rx.recv().await, Some(StreamMsg::Chunk(b)) if b == "x"));
        assert_eq!(metrics.stream_backpressure_seconds.get(), 4.0);
    }

    #[tokio::test]
    async fn a_closed_channel_ends_the_reader() {
        let metrics = self_metrics();
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut behind = false;
        assert!(!forward(&tx, StreamMsg::Disconnected, &metrics, &mut behind).await);
    }

    #[test]
    fn backoff_starts_near_100ms_doubles_and_is_capped() {
        let mut b = Backoff::new(Duration::from_secs(1));
        let delays: Vec<_> = (0..6).map(|_| b.next_delay(0.5)).collect();
        assert_eq!(delays[0], Duration::from_millis(100));
        assert_eq!(delays[1], Duration::from_millis(200));
        assert_eq!(delays[2], Duration::from_millis(400));
        assert_eq!(delays[3], Duration::from_millis(800));
        assert_eq!(delays[4], Duration::from_secs(1));
        assert_eq!(delays[5], Duration::from_secs(1));
        b.reset();
        assert_eq!(b.next_delay(0.5), Duration::from_millis(100));
    }

    #[test]
    fn backoff_jitter_stays_within_twenty_percent() {
        let mut low = Backoff::new(Duration::from_secs(10));
        let mut high = low.clone();
        assert_eq!(low.next_delay(0.0), Duration::from_millis(80));
        assert_eq!(high.next_delay(0.999_999).as_millis(), 119);
    }

    #[test]
    fn userinfo_is_stripped_from_redirect_targets() {
        let url =
            strip_userinfo(Url::parse("http://user:secret@leader:8080/v2/events?x=1").unwrap());
        assert_eq!(url.as_str(), "http://leader:8080/v2/events?x=1");
    }
}
