//! Authentication and TLS in front of Marathon (REFERENCE.md §6.4): a DC/OS token rotated on disk,
//! server certificates checked against the configured CA (or not, when asked), client certificates.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::authority::Authority;
use common::{eventually, get, parse, scrape, until_ready};
use marathon_sim::fake::{FakeMarathon, FakeOptions, FakeTls};
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::Config;
use rcgen::ExtendedKeyUsagePurpose;

const CONNECT_OK: &str = "marathon_exporter_stream_connects_total{result=\"success\"}";
const CONNECT_FAILED: &str = "marathon_exporter_stream_connects_total{result=\"failure\"}";

fn fast(url: &str) -> Config {
    let mut config = common::config(url);
    config.idle_timeout = Duration::from_secs(2);
    config.backoff_max = Duration::from_millis(200);
    config
}

async fn metric(exporter: &Exporter, series: &str) -> f64 {
    common::value(&parse(&scrape(exporter).await), series)
}

/// Waits until at least `n` connects failed; none may have succeeded.
async fn until_failures(exporter: &Exporter, n: f64) {
    let failed = eventually(|| async { metric(exporter, CONNECT_FAILED).await >= n }).await;
    assert!(failed, "{}", scrape(exporter).await);
    assert_eq!(metric(exporter, CONNECT_OK).await, 0.0);
}

/// Replaces the file's content in one step, as a secret manager would.
fn write_atomically(path: &Path, content: &str) {
    let staging = path.with_extension("new");
    std::fs::write(&staging, content).unwrap();
    std::fs::rename(&staging, path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_re_read_from_its_file_before_the_next_connect() {
    let fake = FakeMarathon::start_with(FakeOptions {
        token: Some("t1".into()),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    write_atomically(&token, "t2\n");
    let mut config = fast(&fake.url());
    config.token_file = Some(token.clone());
    let exporter = Exporter::start(config).await.unwrap();

    until_failures(&exporter, 2.0).await;
    let (status, reason) = get(&exporter, "/readyz").await;
    assert_eq!(status, 503);
    assert!(reason.contains("401"), "{reason}");

    write_atomically(&token, "t1\n");
    until_ready(&exporter).await;
    assert_eq!(metric(&exporter, CONNECT_OK).await, 1.0);
    let streams: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v2/events")
        .map(|r| r.authorization.unwrap_or_default())
        .collect();
    let (last, earlier) = streams.split_last().unwrap();
    assert_eq!(last, "token=t1");
    assert!(earlier.len() >= 2);
    assert!(earlier.iter().all(|a| a == "token=t2"), "{earlier:?}");
    assert!(
        fake.requests()
            .iter()
            .filter(|r| r.path == "/v2/tasks")
            .all(|r| r.authorization.as_deref() == Some("token=t1"))
    );
    exporter.shutdown().await;
}

impl Authority {
    fn server_tls(&self) -> FakeTls {
        let (cert_chain_pem, key_pem) = self.issue(
            &["127.0.0.1", "localhost"],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        FakeTls {
            cert_chain_pem,
            key_pem,
            client_ca_pem: None,
        }
    }
}

fn file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

async fn https_fake(tls: FakeTls) -> FakeMarathon {
    let fake = FakeMarathon::start_with(FakeOptions {
        tls: Some(tls),
        ..FakeOptions::default()
    })
    .await
    .unwrap();
    assert!(
        fake.url().starts_with("https://127.0.0.1:"),
        "{}",
        fake.url()
    );
    fake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marathon_over_https_is_verified_against_the_configured_ca() {
    let ca = Authority::new("marathon test CA");
    let fake = https_fake(ca.server_tls()).await;
    let dir = tempfile::tempdir().unwrap();

    let mut config = fast(&fake.url());
    config.ca_file = Some(file(dir.path(), "ca.pem", &ca.pem));
    let exporter = Exporter::start(config).await.unwrap();
    until_ready(&exporter).await;
    assert_eq!(metric(&exporter, CONNECT_OK).await, 1.0);
    assert_eq!(metric(&exporter, CONNECT_FAILED).await, 0.0);
    exporter.shutdown().await;

    let stranger = Authority::new("some other CA");
    let mut config = fast(&fake.url());
    config.ca_file = Some(file(dir.path(), "other.pem", &stranger.pem));
    let exporter = Exporter::start(config).await.unwrap();
    until_failures(&exporter, 2.0).await;
    let (status, reason) = get(&exporter, "/readyz").await;
    assert_eq!(status, 503);
    assert!(reason.contains("certificate"), "{reason}");
    assert_eq!(
        fake.stream_requests(),
        1,
        "only the first exporter got through"
    );
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_verify_accepts_any_certificate() {
    let ca = Authority::new("unknown CA");
    let fake = https_fake(ca.server_tls()).await;
    let mut config = fast(&fake.url());
    config.insecure_skip_verify = true;
    let exporter = Exporter::start(config).await.unwrap();
    until_ready(&exporter).await;
    assert_eq!(metric(&exporter, CONNECT_OK).await, 1.0);
    exporter.shutdown().await;

    // Without it, the system roots do not know the CA.
    let exporter = Exporter::start(fast(&fake.url())).await.unwrap();
    until_failures(&exporter, 2.0).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_is_presented_when_configured() {
    let ca = Authority::new("marathon test CA");
    let mut tls = ca.server_tls();
    tls.client_ca_pem = Some(ca.pem.clone());
    let fake = https_fake(tls).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = file(dir.path(), "ca.pem", &ca.pem);
    let (cert, key) = ca.issue(&["exporter"], ExtendedKeyUsagePurpose::ClientAuth);

    let mut config = fast(&fake.url());
    config.ca_file = Some(ca_file.clone());
    config.client_cert_file = Some(file(dir.path(), "client.pem", &cert));
    config.client_key_file = Some(file(dir.path(), "client.key", &key));
    let exporter = Exporter::start(config).await.unwrap();
    until_ready(&exporter).await;
    assert_eq!(metric(&exporter, CONNECT_OK).await, 1.0);
    exporter.shutdown().await;

    let mut config = fast(&fake.url());
    config.ca_file = Some(ca_file);
    let exporter = Exporter::start(config).await.unwrap();
    until_failures(&exporter, 2.0).await;
    // With TLS 1.3 the server refuses a client without a certificate after the client thinks
    // the handshake done: an attempt may end as a cut connection rather than with the server's
    // "certificate required" alert. Some attempt in a few says which.
    let mut reason = String::new();
    let named = eventually(|| {
        let exporter = &exporter;
        async move {
            let (status, reason) = get(exporter, "/readyz").await;
            status == 503 && reason.to_lowercase().contains("certificate")
        }
    })
    .await;
    if !named {
        reason = get(&exporter, "/readyz").await.1;
    }
    assert!(named, "no attempt named the certificate: {reason}");
    assert_eq!(
        fake.stream_requests(),
        1,
        "only the first exporter got through"
    );
    exporter.shutdown().await;
}
