//! The exporter's own HTTP endpoints: the telemetry path (with its cap on concurrent scrapes),
//! `/healthz`, `/readyz`, a landing page, and 404 for anything else.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::health::Readiness;
use crate::metrics::Metrics;
use crate::web::ScrapeLimiter;
use crate::web::body::Guarded;

/// Content type of the Prometheus text exposition format 0.0.4.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Arc<Readiness>,
    telemetry_path: Arc<str>,
    limiter: ScrapeLimiter,
}

/// The routes: `telemetry_path` (normally `/metrics`, at most `limiter`'s number of scrapes at
/// once), `/healthz`, `/readyz`, `/`.
pub fn router(
    metrics: Metrics,
    readiness: Arc<Readiness>,
    telemetry_path: &str,
    limiter: ScrapeLimiter,
) -> Router {
    let state = AppState {
        metrics,
        readiness,
        telemetry_path: telemetry_path.into(),
        limiter,
    };
    Router::new()
        .route(telemetry_path, get(metrics_handler))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/", get(landing))
        // Explicit, so that layers added to the router (basic auth) cover unknown paths too.
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(state)
}

async fn metrics_handler(State(state): State<AppState>) -> Response {
    let Some(permit) = state.limiter.try_acquire() else {
        return (StatusCode::SERVICE_UNAVAILABLE, state.limiter.refusal()).into_response();
    };
    let body = state.metrics.render();
    // The permit is held until the body is sent: a client reading slowly still counts.
    let body = Guarded::wrap(body.into(), permit);
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower_service::Service as _;

    use crate::config::Config;
    use crate::state::Engine;

    fn router_with(limiter: ScrapeLimiter) -> Router {
        let config = Config::for_tests(url::Url::parse("http://127.0.0.1:9").unwrap());
        let engine = Engine::new(crate::settings(&config));
        let metrics = Metrics::new(engine.reader(), Arc::new(|| 0));
        router(metrics, Arc::new(Readiness::new()), "/metrics", limiter)
    }

    async fn get(router: &mut Router, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.call(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn scrapes_beyond_the_limit_get_503_with_a_reason_until_a_permit_is_back() {
        let limiter = ScrapeLimiter::new(1);
        let mut router = router_with(limiter.clone());
        let held = limiter.try_acquire().expect("the only permit");
        let (status, body) = get(&mut router, "/metrics").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            "too many concurrent scrapes (limit 1); try again later\n"
        );
        let (status, _) = get(&mut router, "/healthz").await;
        assert_eq!(status, StatusCode::OK, "only the telemetry path is limited");
        drop(held);
        let (status, body) = get(&mut router, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("marathon_exporter_build_info"), "{body}");
    }

    #[tokio::test]
    async fn a_scrape_holds_its_permit_until_its_body_is_gone() {
        let limiter = ScrapeLimiter::new(1);
        let mut router = router_with(limiter.clone());
        let request = Request::get("/metrics").body(Body::empty()).unwrap();
        let response = router.call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(limiter.try_acquire().is_none(), "the unsent body holds it");
        let (status, _) = get(&mut router, "/metrics").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        drop(response);
        assert!(limiter.try_acquire().is_some());
    }

    #[tokio::test]
    async fn unknown_paths_get_404() {
        let mut router = router_with(ScrapeLimiter::new(1));
        assert_eq!(get(&mut router, "/nope").await.0, StatusCode::NOT_FOUND);
    }
}
