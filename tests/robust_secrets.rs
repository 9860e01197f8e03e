//! No credential in any log line, metric, readiness reason or Debug output, including credentials
//! a hostile redirect puts into its `Location`.
//!
//! This binary installs a process-wide tracing subscriber (and the `log` bridge, so that the HTTP
//! libraries' records are captured too) writing into a buffer: keep other tests out of this file.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{eventually, get, parse, scrape, until_ready};
use marathon_sim::fake::{FakeMarathon, FakeOptions, Mode};
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::{Config, Secret};

const PASSWORD: &str = "hunter2-very-secret";
const TOKEN: &str = "tok-very-secret";
const LOCATION_USER: &str = "leakuser";
const LOCATION_PASSWORD: &str = "leak-pass";
const CONNECT_OK: &str = "marathon_exporter_stream_connects_total{result=\"success\"}";
const CONNECT_FAILED: &str = "marathon_exporter_stream_connects_total{result=\"failure\"}";

fn base64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn fast(url: &str) -> Config {
    let mut config = common::config(url);
    config.idle_timeout = Duration::from_secs(2);
    config.backoff_max = Duration::from_millis(200);
    config
}

async fn failures(exporter: &Exporter) -> f64 {
    common::value(&parse(&scrape(exporter).await), CONNECT_FAILED)
}

/// `/metrics` and `/readyz` as they are now.
async fn exposed(exporter: &Exporter) -> String {
    let (_, readyz) = get(exporter, "/readyz").await;
    format!("{}\n{readyz}", scrape(exporter).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_leave_the_requests_they_belong_to() {
    let logs = common::logs::captured();
    let mut seen = String::new();

    // Basic auth: a standby redirects to a leader (with userinfo in Location) that rejects us.
    let leader = FakeMarathon::start_with(FakeOptions {
        basic_auth: Some(("ops".into(), "something-else".into())),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let standby = FakeMarathon::start().await.unwrap();
    standby.set_mode(Mode::RedirectTo(format!(
        "http://{LOCATION_USER}:{LOCATION_PASSWORD}@{}",
        leader.addr()
    )));
    let mut config = fast(&standby.url());
    config.username = Some("ops".into());
    config.password = Some(Secret::new(PASSWORD.into()));
    seen.push_str(&format!("{config:?}\n"));
    let exporter = Exporter::start(config).await.unwrap();
    assert!(eventually(|| async { failures(&exporter).await >= 2.0 }).await);
    let reason = get(&exporter, "/readyz").await.1;
    assert!(reason.contains("401"), "{reason}");
    assert!(
        leader
            .requests()
            .iter()
            .all(|r| r.authorization
                == Some(format!("Basic {}", base64(&format!("ops:{PASSWORD}"))))),
        "the configured credentials, not the Location's, went to the leader"
    );
    seen.push_str(&exposed(&exporter).await);
    exporter.shutdown().await;

    // A token that works, then is revoked.
    let marathon = FakeMarathon::start_with(FakeOptions {
        token: Some(TOKEN.into()),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let mut config = fast(&marathon.url());
    config.token_file = Some(token_file);
    seen.push_str(&format!("{config:?}\n"));
    let exporter = Exporter::start(config).await.unwrap();
    until_ready(&exporter).await;
    seen.push_str(&exposed(&exporter).await);
    marathon.set_token(Some("rotated".into()));
    marathon.disconnect_all();
    assert!(eventually(|| async { failures(&exporter).await >= 2.0 }).await);
    assert_eq!(
        common::value(&parse(&scrape(&exporter).await), CONNECT_OK),
        1.0
    );
    seen.push_str(&exposed(&exporter).await);
    exporter.shutdown().await;

    let logged = logs.text();
    assert!(
        logged.contains("cannot open Marathon's event stream") && logged.contains("401"),
        "logs were captured: {logged}"
    );
    seen.push_str(&logged);
    for secret in [
        PASSWORD.to_owned(),
        TOKEN.to_owned(),
        base64(&format!("ops:{PASSWORD}")),
        LOCATION_USER.to_owned(),
        LOCATION_PASSWORD.to_owned(),
        base64(&format!("{LOCATION_USER}:{LOCATION_PASSWORD}")),
    ] {
        assert!(!seen.contains(&secret), "{secret} leaked:\n{seen}");
    }
}
