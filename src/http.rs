//! The exporter's own HTTP endpoints: the telemetry path (with its cap on concurrent scrapes),
//! `/healthz`, `/readyz`, a landing page, and 404 for anything else.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::health::Readiness;
use crate::metrics::{Metrics, openmetrics};
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

async fn metrics_handler(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(permit) = state.limiter.try_acquire() else {
        return (StatusCode::SERVICE_UNAVAILABLE, state.limiter.refusal()).into_response();
    };
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (body, format) = if openmetrics::preferred(accept) {
        (
            state.metrics.render_openmetrics(),
            openmetrics::CONTENT_TYPE,
        )
    } else {
        (state.metrics.render(), TEXT_FORMAT)
    };
    let vary = (header::VARY, "Accept, Accept-Encoding");
    if accepts_gzip(&headers) {
        let body = Guarded::wrap(gzip(body.as_bytes()).into(), permit);
        let encoding = (header::CONTENT_ENCODING, "gzip");
        return ([(header::CONTENT_TYPE, format), encoding, vary], body).into_response();
    }
    // The permit is held until the body is sent: a client reading slowly still counts.
    let body = Guarded::wrap(body.into(), permit);
    ([(header::CONTENT_TYPE, format), vary], body).into_response()
}

/// Whether `Accept-Encoding` takes gzip (`gzip` or `*`, with a weight above 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let weight = parts
                .find_map(|p| p.strip_prefix("q="))
                .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && weight > 0.0
        })
}

/// `text` gzipped at the fastest level: a 10 MiB exposition shrinks about tenfold either way,
/// and the scrape's time is what the exporter has to keep short.
fn gzip(text: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 8),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(text);
    encoder.finish().unwrap_or_default()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match state.readiness.reason() {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response(),
    }
}

/// The landing page: the links, and what an operator checks first (plain HTML, no script).
async fn landing(State(state): State<AppState>) -> Html<String> {
    let path = html_escape(&state.telemetry_path);
    let rows = status_rows(&state)
        .iter()
        .map(|(name, value)| format!("<tr><th>{name}</th><td>{}</td></tr>", html_escape(value)))
        .collect::<Vec<_>>()
        .join("\n");
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Marathon task exporter</title></head>\n\
         <body><h1>Marathon task exporter</h1>\n<p>Task transitions, replacements, expunges and time unreachable, \
         from Marathon's event stream.</p>\n<table>\n{rows}\n</table>\n<ul>\n<li><a href=\"{path}\">{path}</a>: metrics</li>\n\
         <li><a href=\"/healthz\">/healthz</a>: liveness</li>\n<li><a href=\"/readyz\">/readyz</a>: readiness</li>\n</ul>\n\
         </body></html>\n"
    ))
}

/// The status page's rows, as text (escaped by the caller).
fn status_rows(state: &AppState) -> Vec<(&'static str, String)> {
    let now = std::time::SystemTime::now();
    let age = |then: std::time::SystemTime| match now.duration_since(then) {
        Ok(d) => format!("{} s ago", d.as_secs()),
        Err(_) => "just now".to_owned(),
    };
    let exporter = &state.metrics.exporter;
    let (tracked, apps) = state.metrics.counts();
    let last_event = exporter.last_event_timestamp.get();
    let last_event = if last_event > 0.0 {
        age(std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(last_event))
    } else {
        "none yet".to_owned()
    };
    let last_snapshot = state.readiness.last_snapshot().map_or_else(
        || "none yet".to_owned(),
        |at| {
            format!(
                "{}; {} corrections since start",
                age(at),
                exporter.corrections_total()
            )
        },
    );
    vec![
        (
            "Leader followed",
            state
                .readiness
                .leader()
                .unwrap_or_else(|| "none yet".to_owned()),
        ),
        (
            "Ready",
            state
                .readiness
                .reason()
                .map_or_else(|| "yes".to_owned(), |why| format!("no: {why}")),
        ),
        ("Tracked tasks", tracked.to_string()),
        ("Known apps", apps.to_string()),
        ("Last event", last_event),
        ("Last snapshot", last_snapshot),
        (
            "Version",
            format!(
                "{} (revision {})",
                env!("CARGO_PKG_VERSION"),
                crate::metrics::revision()
            ),
        ),
    ]
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

    #[tokio::test]
    async fn the_landing_page_shows_the_leader_readiness_and_counts() {
        let config = Config::for_tests(url::Url::parse("http://127.0.0.1:9").unwrap());
        let engine = Engine::new(crate::settings(&config));
        let metrics = Metrics::new(engine.reader(), Arc::new(|| 0));
        let readiness = Arc::new(Readiness::new());
        let mut router = router(
            metrics,
            Arc::clone(&readiness),
            "/metrics",
            ScrapeLimiter::new(1),
        );
        let (status, page) = get(&mut router, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("<th>Leader followed</th><td>none yet</td>"),
            "{page}"
        );
        assert!(page.contains("<th>Ready</th><td>no: event stream not connected yet</td>"));
        assert!(
            page.contains("<th>Last snapshot</th><td>none yet</td>"),
            "{page}"
        );
        readiness.set_leader("http://m1:8080<script>");
        readiness.set_connected(true);
        readiness.set_seeded();
        let (_, page) = get(&mut router, "/").await;
        assert!(
            page.contains("<th>Leader followed</th><td>http://m1:8080&lt;script&gt;</td>"),
            "escaped: {page}"
        );
        assert!(page.contains("<th>Ready</th><td>yes</td>"), "{page}");
        assert!(page.contains("<th>Tracked tasks</th><td>0</td>"), "{page}");
        assert!(
            page.contains("s ago; 0 corrections since start</td>"),
            "{page}"
        );
        assert!(page.contains("(revision "), "{page}");
        assert!(!page.contains("<script>"), "no script: {page}");
    }

    #[tokio::test]
    async fn scrapes_are_gzipped_when_the_scraper_takes_gzip() {
        let mut router = router_with(ScrapeLimiter::new(2));
        let plain = get(&mut router, "/metrics").await.1;
        for (accept, gzipped) in [
            ("gzip", true),
            ("deflate, gzip;q=0.5", true),
            ("*", true),
            ("gzip;q=0", false),
            ("identity", false),
        ] {
            let request = Request::get("/metrics")
                .header(header::ACCEPT_ENCODING, accept)
                .body(Body::empty())
                .unwrap();
            let response = router.call(request).await.unwrap();
            let encoding = response.headers().get(header::CONTENT_ENCODING).cloned();
            assert_eq!(
                response.headers().get(header::VARY).unwrap(),
                "Accept, Accept-Encoding"
            );
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let text = if gzipped {
                assert_eq!(encoding.unwrap(), "gzip", "{accept}");
                let mut text = String::new();
                std::io::Read::read_to_string(
                    &mut flate2::read::GzDecoder::new(&body[..]),
                    &mut text,
                )
                .unwrap();
                text
            } else {
                assert!(encoding.is_none(), "{accept}");
                String::from_utf8(body.to_vec()).unwrap()
            };
            // The same exposition (the process's own figures move between two scrapes).
            let stable = |t: &str| -> Vec<String> {
                t.lines()
                    .filter(|l| !l.starts_with("process_"))
                    .map(str::to_owned)
                    .collect()
            };
            assert_eq!(stable(&text), stable(&plain), "{accept}");
        }
    }

    #[tokio::test]
    async fn scrapers_that_prefer_openmetrics_get_it() {
        let mut router = router_with(ScrapeLimiter::new(2));
        // What Prometheus 2.x sends by default.
        let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let request = Request::get("/metrics")
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .unwrap();
        let response = router.call(request).await.unwrap();
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            openmetrics::CONTENT_TYPE
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE marathon_exporter_events counter\n"));
        assert!(text.contains("\nmarathon_exporter_events_created{type=\"unknown\"} "));
        // The text format for those who ask for it, or ask for nothing.
        let (_, plain) = get(&mut router, "/metrics").await;
        assert!(plain.contains("# TYPE marathon_exporter_events_total counter\n"));
        assert!(!plain.contains("# EOF") && !plain.contains("_created{"));
    }
}
