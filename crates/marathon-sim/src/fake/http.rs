//! The HTTP side: routes, authentication, the request log and stream bodies.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::Stream;
use serde_json::json;
use tokio::sync::mpsc;

use super::snapshots::{self, PODS_STATUS_PATH, add_leader, json_response};
use super::{
    Mode, REQUEST_LOG_LIMIT, STREAM_CAPACITY, SeenRequest, Shared, Subscriber, event_frame, login,
    payload,
};

const EVENTS_PATH: &str = "/v2/events";
const SSE_CONTENT_TYPE: &str = "text/event-stream;charset=utf-8";
const BASIC_CHALLENGE: &str = "basic realm=\"Mesosphere\"";
/// What DC/OS Admin Router answers when the token is missing or invalid.
const TOKEN_CHALLENGE: &str = "acsjwt";
const NO_LEADER: &str = "Could not determine the current leader";

impl Shared {
    /// Registers a stream and queues its own `event_stream_attached` first.
    fn attach(self: &Arc<Self>, filter: Option<HashSet<String>>, peer: IpAddr) -> Option<Frames> {
        let mut inner = self.lock();
        if inner.closed {
            return None;
        }
        let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
        let sub = Subscriber { filter, tx };
        let now = inner.clock_now();
        let attached = payload::stream_attached(&peer.to_string(), now);
        if sub.admits("event_stream_attached") {
            let _ = sub
                .tx
                .try_send(event_frame("event_stream_attached", &attached));
        }
        let id = inner.next_stream;
        inner.next_stream += 1;
        inner.streams.insert(id, sub);
        tracing::debug!(stream = id, %peer, "fake marathon: stream attached");
        Some(Frames {
            rx,
            _guard: Detach {
                shared: Arc::clone(self),
                id,
            },
        })
    }

    fn record(&self, req: &Request) {
        let headers = req.headers();
        let seen = SeenRequest {
            path: req.uri().path().to_owned(),
            query: req.uri().query().map(str::to_owned),
            accept: header_strings(headers, &header::ACCEPT),
            authorization: header_strings(headers, &header::AUTHORIZATION)
                .into_iter()
                .next(),
        };
        let mut inner = self.lock();
        if seen.path == EVENTS_PATH {
            inner.stream_requests += 1;
        }
        *inner.per_path.entry(seen.path.clone()).or_default() += 1;
        if inner.log.len() == REQUEST_LOG_LIMIT {
            inner.log.pop_front();
        }
        inner.log.push_back(seen);
    }

    /// `None` when the request passes every configured check (any one configured method suffices).
    fn reject(&self, headers: &HeaderMap) -> Option<Response> {
        let mut inner = self.lock();
        let token = inner.token.as_deref();
        if self.basic_auth.is_none() && token.is_none() && self.login.is_none() {
            return None;
        }
        let now = std::time::SystemTime::now();
        let passes = headers.get_all(header::AUTHORIZATION).iter().any(|value| {
            let value = value.as_bytes();
            let basic_ok = self
                .basic_auth
                .as_ref()
                .is_some_and(|(u, p)| basic_matches(value, u, p));
            let presented = value
                .strip_prefix(b"token=")
                .and_then(|t| std::str::from_utf8(t).ok());
            basic_ok || presented.is_some_and(|t| token == Some(t) || inner.iam.accepts(t, now))
        });
        if passes {
            return None;
        }
        inner.unauthorized += 1;
        drop(inner);
        let challenge = if self.basic_auth.is_some() {
            BASIC_CHALLENGE
        } else {
            TOKEN_CHALLENGE
        };
        Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
                "Unauthorized",
            )
                .into_response(),
        )
    }

    /// `host:port` of the leader, as `/v2/leader` and `/v2/info` report it.
    fn leader_host_port(&self) -> &str {
        let rest = self
            .leader_url
            .split_once("://")
            .map_or(self.leader_url.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }
}

/// Removes its stream from the registry when the response body goes away.
struct Detach {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Detach {
    fn drop(&mut self) {
        if self.shared.lock().streams.remove(&self.id).is_some() {
            tracing::debug!(stream = self.id, "fake marathon: stream detached by client");
        }
    }
}

/// The receiving end of one stream, turned into its response body.
struct Frames {
    rx: mpsc::Receiver<Bytes>,
    _guard: Detach,
}

impl Frames {
    /// After a frame ending in `\r` the body reports "not ready" once, so hyper flushes the CR
    /// before it writes the LF, like Jetty's two flushes.
    fn into_body_stream(self) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
        futures_util::stream::unfold((self, false), |(mut frames, flush_first)| async move {
            if flush_first {
                tokio::task::yield_now().await;
            }
            let frame = frames.rx.recv().await?;
            let ends_in_cr = frame.last() == Some(&b'\r');
            Some((Ok(frame), (frames, ends_in_cr)))
        })
    }
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(EVENTS_PATH, get(events))
        .route("/v2/tasks", get(snapshots::tasks))
        .route("/v2/apps", get(snapshots::apps))
        .route("/v2/deployments", get(snapshots::deployments))
        .route("/v2/leader", get(leader))
        .route("/v2/info", get(info))
        .route("/ping", get(ping))
        .route(login::LOGIN_PATH, axum::routing::post(login::login))
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(Arc::clone(&shared), gate))
        .with_state(shared)
}

/// Records every request, then applies authentication (Jetty's security handler runs first);
/// every answer gets a `Date` on this Marathon's clock.
async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    shared.record(&req);
    // The login endpoint is open to anyone (it checks its own credentials).
    let open = req.uri().path() == login::LOGIN_PATH;
    let rejection = if open {
        None
    } else {
        shared.reject(req.headers())
    };
    let mut response = match rejection {
        Some(rejection) => rejection,
        None => next.run(req).await,
    };
    if let Some(date) = snapshots::date_header(&shared) {
        response.headers_mut().insert(header::DATE, date);
    }
    response
}

/// `/v2/pods/::status` (which no route can spell), else 404.
async fn fallback(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    if uri.path() == PODS_STATUS_PATH {
        return snapshots::pods(shared).await;
    }
    (StatusCode::NOT_FOUND, "Not Found").into_response()
}

async fn events(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let mode = shared.lock().mode.clone().unwrap_or(Mode::Leader);
    match mode {
        Mode::RedirectTo(url) => return redirect(&url, req.uri()),
        Mode::Status(code) => return status_only(code),
        Mode::Leader | Mode::NotReady => {}
    }
    let exact = req
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .any(|v| v.as_bytes() == b"text/event-stream");
    if !exact {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP method GET is not supported by this URL",
        )
            .into_response();
    }
    let mut headers = stream_headers();
    add_leader(&shared, &mut headers);
    if mode == Mode::NotReady {
        return (headers, Body::empty()).into_response();
    }
    match shared.attach(event_filter(req.uri()), peer.ip()) {
        Some(frames) => (headers, Body::from_stream(frames.into_body_stream())).into_response(),
        None => (headers, Body::empty()).into_response(),
    }
}

async fn leader(State(shared): State<Arc<Shared>>) -> Response {
    json_response(&shared, &json!({ "leader": shared.leader_host_port() }))
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    json_response(&shared, &payload::info(shared.leader_host_port()))
}

async fn ping() -> Response {
    ([(header::CONTENT_TYPE, "text/plain")], "pong").into_response()
}

fn stream_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let fixed = [
        (header::CONTENT_TYPE, SSE_CONTENT_TYPE),
        (header::CONNECTION, "close"),
        (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        (header::PRAGMA, "no-cache"),
        (header::EXPIRES, "0"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_XSS_PROTECTION, "1; mode=block"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
}

/// The standby answer of Marathon 1.7+: the leader's `/v2/events` with the original query.
fn redirect(leader_url: &str, uri: &Uri) -> Response {
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let location = format!("{}{EVENTS_PATH}{query}", leader_url.trim_end_matches('/'));
    match HeaderValue::from_str(&location) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "invalid redirect target").into_response(),
    }
}

fn status_only(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match status {
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE => NO_LEADER,
        other => other.canonical_reason().unwrap_or("Error"),
    };
    (status, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// The set of `event_type` values (each compared exactly; commas are not split); `None` (no
/// such parameter, or a query that does not parse) admits all.
fn event_filter(uri: &Uri) -> Option<HashSet<String>> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri).ok()?;
    let types: HashSet<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "event_type")
        .map(|(_, v)| v)
        .collect();
    (!types.is_empty()).then_some(types)
}

fn basic_matches(value: &[u8], user: &str, password: &str) -> bool {
    let Some((scheme, encoded)) = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.split_once(' '))
    else {
        return false;
    };
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim());
    scheme.eq_ignore_ascii_case("basic")
        && decoded.is_ok_and(|d| d == format!("{user}:{password}").as_bytes())
}

fn header_strings(headers: &HeaderMap, name: &header::HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}
