//! An in-process Marathon on loopback that speaks the real `/v2/events` wire format.
//!
//! Used by the integration tests and by the `demo` subcommand. It serves `/v2/events` the way
//! Marathon 1.8+ behind Jetty does: the `Accept` header must be exactly `text/event-stream`
//! (otherwise 405), `event_type=` may repeat and filters on `eventType`, every event is one body
//! frame `event: <type>\r\ndata: <json>\r\n\r\n`, and a heartbeat is `\r` and `\n` flushed
//! separately. A new stream first gets its own `event_stream_attached` event (when its filter
//! admits it); attach and detach of other streams are not broadcast, so the bytes every open
//! stream receives are exactly what the caller pushed. `/v2/tasks`, `/v2/apps`, `/v2/pods/::status`,
//! `/v2/leader`, `/v2/info` and `/ping` are served from state the caller sets; snapshot requests
//! can be held back. Every answer carries `Date` (on a clock that may be set off the host's) and a
//! leader's answers carry `X-Marathon-Leader` (which the caller may change or remove). Basic auth
//! and DC/OS tokens, standby redirects, "not ready" leaders and error statuses can be switched on at
//! run time. It serves plain HTTP, or HTTPS (optionally requiring a client certificate) with
//! [`FakeOptions::tls`].
//!
//! Differences from the real thing: hyper sends the HTTP/1.1 stream body chunk-encoded (Jetty
//! writes it close-delimited); the decoded bytes are identical and `Connection: close` is still
//! sent. Like Jetty, a client that went away is only noticed when a write to it fails (the next
//! event or heartbeat).
//!
//! Slow consumers: each stream has a queue of [`STREAM_CAPACITY`] frames. When a push finds it
//! full, the stream is dropped, as Marathon 1.8+ closes slow consumers: the client receives what
//! was already queued, then EOF.

mod http;
mod login;
pub mod payload;
mod snapshots;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_snapshots;
mod tls;

pub use login::{FakeLogin, Issued, LOGIN_PATH};
pub use tls::FakeTls;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::serve::ListenerExt;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Frames queued per stream before the stream counts as a slow consumer and is dropped.
pub const STREAM_CAPACITY: usize = 4096;
/// How many requests [`FakeMarathon::requests`] remembers (the most recent ones).
pub const REQUEST_LOG_LIMIT: usize = 10_000;
/// How long [`FakeMarathon::shutdown`] waits for connections to finish before aborting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Options fixed at start; the token can also be changed later with [`FakeMarathon::set_token`].
#[derive(Clone, Debug, Default)]
pub struct FakeOptions {
    /// Require HTTP basic auth with this user and password (Jetty `--http_credentials`).
    pub basic_auth: Option<(String, String)>,
    /// Require `Authorization: token=<token>` (DC/OS).
    pub token: Option<String>,
    /// Send a heartbeat to every stream at this interval; `None` sends none on its own.
    pub heartbeat: Option<Duration>,
    /// Value of `X-Marathon-Leader` and source of `/v2/leader`; default: this server's url.
    pub leader_header: Option<String>,
    /// Serve HTTPS instead of HTTP; [`FakeMarathon::url`] is then `https://127.0.0.1:<port>`.
    pub tls: Option<FakeTls>,
    /// Serve the DC/OS login endpoint ([`LOGIN_PATH`]) for this service account, and accept the
    /// tokens it issues on every other route (which then require one).
    pub login: Option<FakeLogin>,
}

/// How `/v2/events` requests are answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The elected, ready leader: streams are served.
    Leader,
    /// A standby: 302 to `<url>/v2/events?<original query>`; other paths are served normally.
    RedirectTo(String),
    /// Elected but not ready: 200 with the stream headers, then an empty body.
    NotReady,
    /// Every stream request gets this status (502/503 with "Could not determine the current leader").
    Status(u16),
}

/// One request as received, for assertions.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub path: String,
    pub query: Option<String>,
    /// Every `Accept` header value, in order.
    pub accept: Vec<String>,
    pub authorization: Option<String>,
}

/// A running fake Marathon; ends its streams and stops serving on [`shutdown`](Self::shutdown) or drop.
pub struct FakeMarathon {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    ticker: Option<JoinHandle<()>>,
}

struct Shared {
    addr: SocketAddr,
    url: String,
    leader_url: String,
    basic_auth: Option<(String, String)>,
    login: Option<FakeLogin>,
    state: Mutex<Inner>,
    /// Whether snapshot requests wait ([`FakeMarathon::hold_snapshots`]).
    held: watch::Sender<bool>,
}

#[derive(Default)]
struct Inner {
    /// `None` until set: [`Mode::Leader`].
    mode: Option<Mode>,
    token: Option<String>,
    iam: login::Iam,
    /// Requests answered 401.
    unauthorized: usize,
    tasks: Vec<Value>,
    apps: Vec<Value>,
    /// `None`: `/v2/pods/::status` answers 404.
    pods: Option<Vec<Value>>,
    /// `None`: `/v2/deployments` answers 404.
    deployments: Option<Vec<Value>>,
    /// This Marathon's clock minus the host's wall clock, ms.
    clock_offset: i64,
    /// A clock stopped at this reading (ms since the epoch), when set.
    clock_stopped: Option<i64>,
    /// The `X-Marathon-Leader` sent; `None` sends none.
    leader_header: Option<String>,
    streams: BTreeMap<u64, Subscriber>,
    next_stream: u64,
    stream_requests: usize,
    per_path: HashMap<String, usize>,
    log: VecDeque<SeenRequest>,
    closed: bool,
}

struct Subscriber {
    /// Admitted event types; `None` admits all.
    filter: Option<HashSet<String>>,
    tx: mpsc::Sender<Bytes>,
}

impl Subscriber {
    fn admits(&self, event_type: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.contains(event_type))
    }
}

impl FakeMarathon {
    /// Starts with default options: no auth, no automatic heartbeat.
    pub async fn start() -> std::io::Result<FakeMarathon> {
        Self::start_with(FakeOptions::default()).await
    }

    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start_with(options: FakeOptions) -> std::io::Result<FakeMarathon> {
        let acceptor = options.tls.as_ref().map(FakeTls::acceptor).transpose()?;
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{addr}");
        let leader_url = options.leader_header.unwrap_or_else(|| url.clone());
        let shared = Arc::new(Shared {
            addr,
            url,
            basic_auth: options.basic_auth,
            login: options.login,
            state: Mutex::new(Inner {
                token: options.token,
                leader_header: Some(leader_url.clone()),
                ..Inner::default()
            }),
            leader_url,
            held: watch::Sender::new(false),
        });
        let app =
            http::router(Arc::clone(&shared)).into_make_service_with_connect_info::<SocketAddr>();
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async {
            let _ = stopped.await;
        };
        // `tap_io` also makes the peer address available to handlers as `ConnectInfo`.
        let server = match acceptor {
            None => {
                let listener = listener.tap_io(|tcp| {
                    if let Err(err) = tcp.set_nodelay(true) {
                        tracing::debug!(%err, "fake marathon: set_nodelay failed");
                    }
                });
                tokio::spawn(async move {
                    let serving = axum::serve(listener, app).with_graceful_shutdown(stopped);
                    if let Err(err) = serving.await {
                        tracing::warn!(%err, "fake marathon: server failed");
                    }
                })
            }
            Some(acceptor) => {
                let listener = tls::TlsListener::new(listener, acceptor)?.tap_io(|_| {});
                tokio::spawn(async move {
                    let serving = axum::serve(listener, app).with_graceful_shutdown(stopped);
                    if let Err(err) = serving.await {
                        tracing::warn!(%err, "fake marathon: server failed");
                    }
                })
            }
        };
        let ticker = options.heartbeat.filter(|p| !p.is_zero()).map(|period| {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let mut every =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    every.tick().await;
                    shared.heartbeat();
                }
            })
        });
        tracing::debug!(%addr, "fake marathon listening");
        Ok(FakeMarathon {
            shared,
            stop: Some(stop),
            server: Some(server),
            ticker,
        })
    }

    /// `http://127.0.0.1:<port>`, or `https://` with [`FakeOptions::tls`].
    pub fn url(&self) -> String {
        self.shared.url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.lock().mode = Some(mode);
    }

    /// Changes (or with `None` removes) the DC/OS token required from now on.
    pub fn set_token(&self, token: Option<String>) {
        self.shared.lock().token = token;
    }

    /// The logins the DC/OS login endpoint accepted, in order.
    pub fn logins(&self) -> Vec<Issued> {
        self.shared.lock().iam.issued.clone()
    }

    /// Login attempts the DC/OS login endpoint refused.
    pub fn refused_logins(&self) -> usize {
        self.shared.lock().iam.refused
    }

    /// Revokes every token issued so far: requests carrying one are answered 401 from now on.
    pub fn revoke_tokens(&self) {
        let mut inner = self.shared.lock();
        inner.iam.revoked_before = inner.iam.issued.len();
    }

    /// Requests answered 401 so far.
    pub fn unauthorized_answers(&self) -> usize {
        self.shared.lock().unauthorized
    }

    /// Sets the array served inside `{"tasks": ...}`.
    pub fn set_tasks(&self, tasks: Vec<Value>) {
        self.shared.lock().tasks = tasks;
    }

    /// Sets the array served inside `{"apps": ...}`.
    pub fn set_apps(&self, apps: Vec<Value>) {
        self.shared.lock().apps = apps;
    }

    /// Sends an event (a JSON object with an "eventType") to every connected stream whose filter
    /// admits it; returns how many streams it was queued to. The payload is sent as given.
    pub fn push_event(&self, event: &Value) -> usize {
        let event_type = event
            .get("eventType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.shared
            .broadcast(&[event_frame(event_type, event)], Some(event_type))
    }

    /// Sends raw bytes to every connected stream, unfiltered (for hostile input and exact framing tests).
    pub fn push_raw(&self, bytes: &[u8]) -> usize {
        self.shared
            .broadcast(&[Bytes::copy_from_slice(bytes)], None)
    }

    /// One heartbeat: "\r" then "\n" as two separate body frames.
    pub fn heartbeat(&self) -> usize {
        self.shared.heartbeat()
    }

    /// Ends every open stream (EOF for the client); the same as [`FakeMarathon::close_streams`].
    pub fn disconnect_all(&self) {
        self.close_streams();
    }

    /// Streams currently open.
    pub fn connected_streams(&self) -> usize {
        self.shared.lock().streams.len()
    }

    /// `/v2/events` requests so far, any outcome.
    pub fn stream_requests(&self) -> usize {
        self.shared.lock().stream_requests
    }

    /// Every request so far (the most recent [`REQUEST_LOG_LIMIT`]), in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().log.iter().cloned().collect()
    }

    /// Requests so far whose path is exactly `path` (no query).
    pub fn count_requests(&self, path: &str) -> usize {
        self.shared.lock().per_path.get(path).copied().unwrap_or(0)
    }

    /// Waits (bounded by `timeout`, polling every few ms) until at least `n` streams are connected.
    pub async fn wait_for_streams(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.connected_streams() >= n {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Ends every stream, stops accepting, and waits (bounded) for open connections to finish.
    pub async fn shutdown(mut self) {
        self.stop_now();
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err() {
                tracing::warn!("fake marathon: connections still open at shutdown; aborting");
                abort.abort();
            }
        }
    }

    fn stop_now(&mut self) {
        {
            let mut inner = self.shared.lock();
            inner.closed = true;
            inner.streams.clear();
        }
        if let Some(ticker) = self.ticker.take() {
            ticker.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for FakeMarathon {
    fn drop(&mut self) {
        self.stop_now();
    }
}

impl std::fmt::Debug for FakeMarathon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeMarathon")
            .field("url", &self.shared.url)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn heartbeat(&self) -> usize {
        self.broadcast(
            &[Bytes::from_static(b"\r"), Bytes::from_static(b"\n")],
            None,
        )
    }

    /// Queues `frames` to every stream admitting `event_type` (`None`: every stream). A stream
    /// whose queue cannot take them all, or whose client is gone, is dropped.
    fn broadcast(&self, frames: &[Bytes], event_type: Option<&str>) -> usize {
        let mut inner = self.lock();
        let mut sent = 0;
        inner.streams.retain(|id, sub| {
            if event_type.is_some_and(|t| !sub.admits(t)) {
                return true;
            }
            if sub.tx.is_closed() {
                return false;
            }
            // Only this function and `attach` send, both under the lock, so room cannot shrink.
            if sub.tx.capacity() < frames.len() {
                tracing::info!(
                    stream = id,
                    "fake marathon: closing connection for slow event consumer"
                );
                return false;
            }
            for frame in frames {
                let _ = sub.tx.try_send(frame.clone());
            }
            sent += 1;
            true
        });
        sent
    }
}

/// One event exactly as Jetty's `EventSourceEmitter.event` writes it.
fn event_frame(event_type: &str, event: &Value) -> Bytes {
    Bytes::from(format!("event: {event_type}\r\ndata: {event}\r\n\r\n"))
}
