//! DC/OS strict mode with a service account (`--marathon.dcos-credentials-file`), against the fake
//! Marathon's login endpoint, which checks each login token's signature with the account's public
//! key: the exporter logs in, sends the token, renews it before it expires and after a 401, says
//! why in `/readyz` when it cannot log in, and never shows the key or a token anywhere.
//!
//! This binary installs a process-wide tracing subscriber writing into a buffer, so every test
//! can check the logs for secrets: keep other tests out of this file.
//!
//! The keys in `tests/fixtures/dcos/` were made for these tests (see the README there).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{eventually, get, scrape, until_ready};
use marathon_sim::fake::{FakeLogin, FakeMarathon, FakeOptions, LOGIN_PATH};
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::Config;
use tempfile::TempDir;

const UID: &str = "prometheus-exporter";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dcos")
        .join(name);
    std::fs::read_to_string(&path).expect("fixture key")
}

/// The lines of a PEM key between its armour: what must never be seen.
fn key_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_owned)
        .collect()
}

/// A fake Marathon with the login endpoint for [`UID`], issuing tokens valid `lifetime`.
async fn marathon(lifetime: Duration) -> FakeMarathon {
    common::logs::captured();
    let fake = FakeMarathon::start_with(FakeOptions {
        login: Some(FakeLogin {
            uid: UID.to_owned(),
            public_key_pem: fixture("service-account.pub.pem"),
            token_lifetime: lifetime,
        }),
        ..FakeOptions::default()
    })
    .await
    .expect("fake marathon");
    fake.set_apps(vec![]);
    fake.set_tasks(vec![]);
    fake
}

/// A credentials file as DC/OS stores the service account's secret.
fn credentials(dir: &TempDir, key: &str, login_endpoint: &str) -> PathBuf {
    let path = dir.path().join("credentials.json");
    let secret = serde_json::json!({
        "scheme": "RS256",
        "uid": UID,
        "private_key": key,
        "login_endpoint": login_endpoint,
    });
    std::fs::write(&path, secret.to_string()).expect("write credentials");
    path
}

/// A credentials file with the key `key` (a fixture) and the fake's login endpoint: its
/// directory (kept while the test runs), its path and the endpoint.
fn account(fake: &FakeMarathon, key: &str) -> (TempDir, PathBuf, String) {
    let dir = TempDir::new().unwrap();
    let login = format!("{}{LOGIN_PATH}", fake.url());
    let path = credentials(&dir, &fixture(key), &login);
    (dir, path, login)
}

fn config(fake: &FakeMarathon, credentials: PathBuf) -> Config {
    let mut config = common::config(&fake.url());
    config.dcos_credentials_file = Some(credentials);
    config.idle_timeout = Duration::from_secs(2);
    config.backoff_max = Duration::from_millis(200);
    config
}

/// Polls `/readyz` until it answers 503 with a reason containing `part`, within the patience;
/// returns whether it did and the last reason.
async fn readyz_until(exporter: &Exporter, part: &str) -> (bool, String) {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let (status, reason) = get(exporter, "/readyz").await;
        if status == 503 && reason.contains(part) {
            return (true, reason);
        }
        if tokio::time::Instant::now() >= deadline {
            return (false, reason);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the exporter shows: `/metrics`, `/readyz` and the status page.
async fn exposed(exporter: &Exporter) -> String {
    let (_, readyz) = get(exporter, "/readyz").await;
    let (_, status) = get(exporter, "/").await;
    format!("{}\n{readyz}\n{status}", scrape(exporter).await)
}

/// Neither the key nor any issued token shows in the logs or in what the exporter serves.
async fn assert_no_secret(exporter: &Exporter, fake: &FakeMarathon) {
    let logged = common::logs::captured().text();
    let served = exposed(exporter).await;
    let mut secrets = key_lines(&fixture("service-account.pem"));
    secrets.extend(key_lines(&fixture("other-account.pem")));
    for issued in fake.logins() {
        secrets.push(issued.token.clone());
        // The signature alone is secret enough to look for.
        secrets.push(issued.token.rsplit('.').next().unwrap().to_owned());
    }
    for secret in &secrets {
        assert!(!logged.contains(secret), "a secret was logged");
        assert!(!served.contains(secret), "a secret was served");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_in_with_the_service_account_and_sends_the_token() {
    let fake = marathon(Duration::from_secs(3600)).await;
    let (_dir, path, _) = account(&fake, "service-account.pem");
    let exporter = Exporter::start(config(&fake, path)).await.expect("start");
    until_ready(&exporter).await;

    let logins = fake.logins();
    assert_eq!(
        logins.len(),
        1,
        "one login serves the stream and the resync"
    );
    let expected = format!("token={}", logins[0].token);
    let marathon_requests: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/v2/"))
        .collect();
    assert!(marathon_requests.len() >= 2, "{marathon_requests:?}");
    for request in &marathon_requests {
        assert_eq!(
            request.authorization.as_deref(),
            Some(expected.as_str()),
            "{}",
            request.path
        );
    }
    assert_eq!(fake.unauthorized_answers(), 0);
    assert_no_secret(&exporter, &fake).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_mid_stream_logs_in_again_and_reconnects() {
    let fake = marathon(Duration::from_secs(3600)).await;
    let (_dir, path, _) = account(&fake, "service-account.pem");
    let exporter = Exporter::start(config(&fake, path)).await.expect("start");
    until_ready(&exporter).await;
    assert_eq!(fake.logins().len(), 1);

    // The IAM forgets the token (revoked, or the cluster's keys rotated) and the stream drops:
    // the reconnect is answered 401, and the exporter logs in again instead of retrying the token.
    fake.revoke_tokens();
    fake.disconnect_all();
    let recovered =
        eventually(|| async { fake.logins().len() == 2 && fake.connected_streams() == 1 }).await;
    assert!(
        recovered,
        "logins {}, streams {}, 401s {}",
        fake.logins().len(),
        fake.connected_streams(),
        fake.unauthorized_answers()
    );
    assert!(
        fake.unauthorized_answers() >= 1,
        "the old token was tried and refused"
    );
    let fresh = format!("token={}", fake.logins()[1].token);
    let last_stream = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/v2/events")
        .expect("a stream request");
    assert_eq!(last_stream.authorization.as_deref(), Some(fresh.as_str()));
    until_ready(&exporter).await;
    assert_no_secret(&exporter, &fake).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_renewed_before_it_expires() {
    // Tokens valid 6 s are renewed halfway (about 3 s in); the resync asks every 300 ms.
    let fake = marathon(Duration::from_secs(6)).await;
    let (_dir, path, _) = account(&fake, "service-account.pem");
    let mut config = config(&fake, path);
    config.resync_interval = Duration::from_millis(300);
    let exporter = Exporter::start(config).await.expect("start");
    until_ready(&exporter).await;

    let renewed = eventually(|| async { fake.logins().len() >= 2 }).await;
    assert!(renewed, "no second login within the patience");
    let logins = fake.logins();
    assert_eq!(
        logins[1].previous_still_valid,
        Some(true),
        "the renewal came after the first token expired: {:?} vs {:?}",
        logins[1].at,
        logins[0].expires
    );
    assert!(logins[1].at < logins[0].expires);
    assert!(logins[1].at >= logins[0].at + Duration::from_secs(1));
    assert_no_secret(&exporter, &fake).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_readyz_says_so_with_the_backoff() {
    let fake = marathon(Duration::from_secs(3600)).await;
    let (_dir, path, login) = account(&fake, "other-account.pem");
    let exporter = Exporter::start(config(&fake, path)).await.expect("start");

    let (explained, reason) = readyz_until(&exporter, "next attempt in").await;
    assert!(explained, "{reason}");
    assert!(
        reason.contains(&format!("DC/OS login at {login} failed")),
        "{reason}"
    );
    assert!(reason.contains("HTTP 401"), "{reason}");
    assert!(reason.contains(UID), "{reason}");
    assert!(fake.refused_logins() >= 1);
    assert!(fake.logins().is_empty());
    assert_eq!(
        fake.count_requests("/v2/events"),
        0,
        "no request goes to Marathon without a token"
    );
    assert_no_secret(&exporter, &fake).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_login_endpoint_is_a_clear_readyz_reason() {
    let fake = marathon(Duration::from_secs(3600)).await;
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let login = format!("http://127.0.0.1:{port}{LOGIN_PATH}");
    let dir = TempDir::new().unwrap();
    let path = credentials(&dir, &fixture("service-account.pem"), &login);
    let exporter = Exporter::start(config(&fake, path)).await.expect("start");

    let (explained, reason) = readyz_until(&exporter, "DC/OS login").await;
    assert!(explained, "{reason}");
    assert!(
        reason.contains(&format!(
            "event stream not connected: DC/OS login at http://127.0.0.1:{port}{LOGIN_PATH} failed: connection failed"
        )),
        "{reason}"
    );
    assert_eq!(fake.count_requests("/v2/events"), 0);
    assert_no_secret(&exporter, &fake).await;
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_file_is_read_at_the_next_login() {
    let fake = marathon(Duration::from_secs(3600)).await;
    let dir = TempDir::new().unwrap();
    let login = format!("{}{LOGIN_PATH}", fake.url());
    // Starts with the wrong key, then the secret store writes the right one.
    let path = credentials(&dir, &fixture("other-account.pem"), &login);
    let exporter = Exporter::start(config(&fake, path)).await.expect("start");
    assert!(eventually(|| async { fake.refused_logins() >= 1 }).await);
    credentials(&dir, &fixture("service-account.pem"), &login);
    until_ready(&exporter).await;
    assert_eq!(fake.logins().len(), 1);
    assert_no_secret(&exporter, &fake).await;
    exporter.shutdown().await;
}

#[tokio::test]
async fn a_bad_credentials_file_stops_the_start_naming_the_problem_not_the_key() {
    common::logs::captured();
    let dir = TempDir::new().unwrap();
    let key = fixture("service-account.pem");
    let cases: Vec<(String, &str)> = vec![
        ("{not json".to_owned(), "not JSON"),
        (
            serde_json::json!({"uid": UID, "private_key": key}).to_string(),
            "\"login_endpoint\" is missing",
        ),
        (
            serde_json::json!({"uid": UID, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "login_endpoint": "https://iam/acs/api/v1/auth/login"}).to_string(),
            "\"private_key\" is not an RSA private key",
        ),
        (
            serde_json::json!({"uid": UID, "private_key": key, "login_endpoint": "ftp://iam/"}).to_string(),
            "\"login_endpoint\" is not an http(s) URL",
        ),
        (
            serde_json::json!({"uid": 7, "private_key": key, "login_endpoint": "https://iam/"}).to_string(),
            "\"uid\" is not a non-empty string",
        ),
        (
            serde_json::json!({"scheme": "HS256", "uid": UID, "private_key": key, "login_endpoint": "https://iam/"}).to_string(),
            "\"scheme\" is not \"RS256\"",
        ),
    ];
    for (text, want) in cases {
        let path = dir.path().join("credentials.json");
        std::fs::write(&path, &text).unwrap();
        let mut config = common::config("http://127.0.0.1:1");
        config.dcos_credentials_file = Some(path);
        let error = match Exporter::start(config).await {
            Ok(_) => panic!("started with {want}"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(want), "{error}");
        assert!(
            error.contains("--marathon.dcos-credentials-file"),
            "{error}"
        );
        for line in key_lines(&key) {
            assert!(!error.contains(&line), "the key shows in: {error}");
        }
    }
    let missing = dir.path().join("absent.json");
    let mut config = common::config("http://127.0.0.1:1");
    config.dcos_credentials_file = Some(missing);
    let error = Exporter::start(config)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("--marathon.dcos-credentials-file"),
        "{error}"
    );
    assert!(error.contains("absent.json"), "{error}");
}
