//! The exporter's own HTTP endpoints: the telemetry path, `/healthz`, `/readyz` and a landing page.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::health::Readiness;
use crate::metrics::Metrics;

/// Content type of the Prometheus text exposition format 0.0.4.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Arc<Readiness>,
    telemetry_path: Arc<str>,
}

/// The routes: `telemetry_path` (normally `/metrics`), `/healthz`, `/readyz`, `/`.
pub fn router(metrics: Metrics, readiness: Arc<Readiness>, telemetry_path: &str) -> Router {
    let state = AppState {
        metrics,
        readiness,
        telemetry_path: telemetry_path.into(),
    };
    Router::new()
        .route(telemetry_path, get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/", get(landing))
        .with_state(state)
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    let body = state.metrics.render();
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], body).into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.readiness.reason() {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

async fn landing(State(state): State<AppState>) -> Html<String> {
    let path = html_escape(&state.telemetry_path);
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Marathon task exporter</title></head>\n\
         <body><h1>Marathon task exporter</h1>\n<p>Task transitions, replacements, expunges and time unreachable, \
         from Marathon's event stream.</p>\n<ul>\n<li><a href=\"{path}\">{path}</a>: metrics</li>\n\
         <li><a href=\"/healthz\">/healthz</a>: liveness</li>\n<li><a href=\"/readyz\">/readyz</a>: readiness</li>\n</ul>\n\
         <p>Version {}</p></body></html>\n",
        env!("CARGO_PKG_VERSION")
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
