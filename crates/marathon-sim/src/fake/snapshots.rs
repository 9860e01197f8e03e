//! The fake's snapshot side and the headers of its answers: `/v2/tasks`, `/v2/apps` and
//! `/v2/pods/::status` from the state the caller sets (held back on request), the clock its `Date`
//! header runs on, and the leader it names in `X-Marathon-Leader`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{FakeMarathon, Shared, payload};

/// The path of every pod's status (a route cannot spell it: axum reads `:` as a parameter).
pub(super) const PODS_STATUS_PATH: &str = "/v2/pods/::status";

impl FakeMarathon {
    /// Sets the array `/v2/pods/::status` serves; `None` (the default) answers 404, as Marathon
    /// before 1.4 does.
    pub fn set_pods(&self, pods: Option<Vec<Value>>) {
        self.shared.lock().pods = pods;
    }

    /// Sets the array `/v2/deployments` serves; `None` (the default) answers 404.
    pub fn set_deployments(&self, deployments: Option<Vec<Value>>) {
        self.shared.lock().deployments = deployments;
    }

    /// Runs this Marathon's clock `offset_ms` ahead of the host's wall clock (behind when
    /// negative): every answer's `Date` header and the `event_stream_attached` of new streams.
    pub fn set_clock_offset(&self, offset_ms: i64) {
        let mut state = self.shared.lock();
        state.clock_offset = offset_ms;
        state.clock_stopped = None;
    }

    /// Stops this Marathon's clock at `now_ms` (ms since the epoch) until the next call of either
    /// setter: a simulation that owns time moves it in steps and never lets it run ahead of the
    /// state it serves.
    pub fn set_clock(&self, now_ms: i64) {
        self.shared.lock().clock_stopped = Some(now_ms);
    }

    /// Now on this Marathon's clock (ms since the epoch): what its events should be stamped with.
    pub fn now_ms(&self) -> i64 {
        self.shared.now_ms()
    }

    /// The `X-Marathon-Leader` sent on every answer from now on; `None` sends none. The default is
    /// [`FakeOptions::leader_header`](super::FakeOptions), or this server's url.
    pub fn set_leader_header(&self, leader: Option<String>) {
        self.shared.lock().leader_header = leader;
    }

    /// While `true`, requests to `/v2/tasks`, `/v2/apps` and `/v2/pods/::status` wait; once
    /// released they are answered with the state (and headers) as they are then.
    pub fn hold_snapshots(&self, hold: bool) {
        self.shared.held.send_replace(hold);
    }

    /// Ends every open `/v2/events` stream now (the client reads what was queued, then EOF); a
    /// stream already ended is left alone.
    pub fn close_streams(&self) {
        let closed = std::mem::take(&mut self.shared.lock().streams);
        tracing::debug!(streams = closed.len(), "fake marathon: closing all streams");
    }
}

impl Shared {
    /// Now on this Marathon's clock.
    pub(super) fn now_ms(&self) -> i64 {
        self.lock().clock_now()
    }

    /// The `X-Marathon-Leader` to send now, if any.
    pub(super) fn leader_header(&self) -> Option<HeaderValue> {
        let leader = self.lock().leader_header.clone()?;
        HeaderValue::from_str(&leader).ok()
    }

    /// Waits while snapshots are held.
    async fn released(&self) {
        let mut held = self.held.subscribe();
        // The sender lives as long as `self`.
        let _ = held.wait_for(|held| !*held).await;
    }
}

/// The `Date` header for now on `shared`'s clock.
pub(super) fn date_header(shared: &Shared) -> Option<HeaderValue> {
    let ms = shared.now_ms();
    let time = if ms >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_millis(ms.unsigned_abs()))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_millis(ms.unsigned_abs()))
    };
    let time: SystemTime = time?;
    HeaderValue::from_str(&httpdate::fmt_http_date(time)).ok()
}

/// Once snapshots are released, what `read` takes of the state and the leader the answer names,
/// under one lock: a Marathon's answer always names the leader whose state it holds, even while
/// the caller switches both.
async fn read_named<T>(
    shared: &Shared,
    read: impl FnOnce(&super::Inner) -> T,
) -> (T, Option<String>) {
    shared.released().await;
    let state = shared.lock();
    (read(&state), state.leader_header.clone())
}

pub(super) async fn tasks(State(shared): State<Arc<Shared>>) -> Response {
    let (tasks, leader) = read_named(&shared, |s| s.tasks.clone()).await;
    named_json(leader, &json!({ "tasks": tasks }))
}

pub(super) async fn apps(State(shared): State<Arc<Shared>>) -> Response {
    let (apps, leader) = read_named(&shared, |s| s.apps.clone()).await;
    named_json(leader, &json!({ "apps": apps }))
}

/// `/v2/pods/::status`: the pods set, or 404 (with the leader header, as a leader's 404 has).
pub(super) async fn pods(shared: Arc<Shared>) -> Response {
    let (pods, leader) = read_named(&shared, |s| s.pods.clone()).await;
    array_or_404(leader, pods)
}

/// `/v2/deployments`: the deployments set, or 404.
pub(super) async fn deployments(State(shared): State<Arc<Shared>>) -> Response {
    let (deployments, leader) = read_named(&shared, |s| s.deployments.clone()).await;
    array_or_404(leader, deployments)
}

/// The array, or a 404 (both naming `leader`).
fn array_or_404(leader: Option<String>, items: Option<Vec<Value>>) -> Response {
    match items {
        Some(items) => named_json(leader, &Value::Array(items)),
        None => {
            let mut response = (StatusCode::NOT_FOUND, "Not Found").into_response();
            name_leader(leader, response.headers_mut());
            response
        }
    }
}

/// A JSON answer naming `leader` in `X-Marathon-Leader`.
fn named_json(leader: Option<String>, body: &Value) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    name_leader(leader, response.headers_mut());
    response
}

fn name_leader(leader: Option<String>, headers: &mut HeaderMap) {
    if let Some(value) = leader.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(marathon_leader(), value);
    }
}

/// A JSON answer with the leader header.
pub(super) fn json_response(shared: &Shared, body: &Value) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    add_leader(shared, response.headers_mut());
    response
}

/// Adds `X-Marathon-Leader` when one is to be sent.
pub(super) fn add_leader(shared: &Shared, headers: &mut HeaderMap) {
    if let Some(leader) = shared.leader_header() {
        headers.insert(marathon_leader(), leader);
    }
}

pub(super) fn marathon_leader() -> header::HeaderName {
    header::HeaderName::from_static("x-marathon-leader")
}

impl super::Inner {
    /// Now on this Marathon's clock: stopped, or the host's plus the offset.
    pub(super) fn clock_now(&self) -> i64 {
        self.clock_stopped
            .unwrap_or_else(|| payload::now_ms().saturating_add(self.clock_offset))
    }
}
