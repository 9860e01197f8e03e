//! `--web.config.file` end to end: real TLS with a CA made per test, basic auth, client
//! certificates, a certificate rotated on disk, response headers, the demo behind the same file,
//! the HTTP limits as a client meets them, and no secret in Debug output or logs.
//!
//! This binary installs a process-wide tracing subscriber writing into a buffer (see `logs`), so
//! that every test's log lines are checked for secrets.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::authority::Authority;
use common::{PATIENCE, eventually};
use marathon_task_exporter::cmd::demo::{Demo, DemoOptions};
use marathon_task_exporter::web::{Limits, WebConfig};
use marathon_task_exporter::{Exporter, StartOptions};
use rcgen::ExtendedKeyUsagePurpose;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

const PASSWORD: &str = "correct horse battery staple";
const WRONG: &str = "Tr0ub4dor&3";

impl Authority {
    fn server(&self) -> (String, String) {
        self.issue(&["127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth)
    }

    fn client(&self) -> reqwest::Identity {
        let (cert, key) = self.issue(&["scraper"], ExtendedKeyUsagePurpose::ClientAuth);
        reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap()
    }
}

/// Replaces the file's content in one step.
fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    let staging = dir.join(format!(".{name}.new"));
    std::fs::write(&staging, content).unwrap();
    std::fs::rename(&staging, &path).unwrap();
    path
}

/// A bcrypt hash of `password` at the lowest cost, so the tests stay fast.
fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap()
}

/// The exporter (against a Marathon that is not there) serving with `yaml` as its web config.
async fn serve_with(dir: &Path, yaml: &str, limits: Limits) -> Exporter {
    common::logs::captured();
    let mut config = common::config("http://127.0.0.1:9");
    config.web_config_file = Some(write(dir, "web.yml", yaml));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = StartOptions {
        limits,
        ..StartOptions::default()
    };
    Exporter::start_on_with(config, listener, options)
        .await
        .expect("the exporter starts")
}

/// A client that trusts only `ca_pem` (or nothing but the system roots) and opens a new
/// connection for every request, so every request sees the certificate served now.
fn client(ca_pem: Option<&str>, identity: Option<reqwest::Identity>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .tls_built_in_root_certs(ca_pem.is_none())
        .pool_max_idle_per_host(0)
        .timeout(PATIENCE);
    if let Some(pem) = ca_pem {
        builder =
            builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    builder.build().unwrap()
}

fn url(exporter: &Exporter, path: &str) -> String {
    format!("{}://{}{path}", exporter.scheme(), exporter.local_addr())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_over_tls_verify_against_the_ca_and_plain_http_is_told_to_use_https() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("exporter CA");
    let (cert, key) = ca.server();
    write(dir.path(), "server.crt", &cert);
    write(dir.path(), "server.key", &key);
    // Relative paths: taken from the config file's directory, not the working directory.
    let yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let exporter = serve_with(dir.path(), yaml, Limits::default()).await;
    assert_eq!(exporter.scheme(), "https");

    let response = client(Some(&ca.pem), None)
        .get(url(&exporter, "/metrics"))
        .send()
        .await
        .expect("a TLS scrape");
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    let body = response.text().await.unwrap();
    assert!(body.contains("marathon_exporter_build_info"), "{body}");

    let stranger = client(None, None)
        .get(url(&exporter, "/metrics"))
        .send()
        .await;
    let error = stranger.expect_err("a client without the CA refuses the certificate");
    assert!(
        format!("{error:?}").to_lowercase().contains("certificate"),
        "{error:?}"
    );

    let plain = format!("http://{}/metrics", exporter.local_addr());
    let response = client(None, None).get(plain).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("HTTP request to an HTTPS server"), "{body}");
    assert!(!body.contains("marathon_exporter"), "{body}");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_guards_every_path_and_headers_go_on_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("exporter CA");
    let (cert, key) = ca.server();
    write(dir.path(), "server.crt", &cert);
    write(dir.path(), "server.key", &key);
    let yaml = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
         http_server_config:\n  headers:\n    X-Frame-Options: deny\n    \
         X-Content-Type-Options: nosniff\n\
         basic_auth_users:\n  prometheus: '{}'\n  other: '{}'\n",
        hash(PASSWORD),
        hash(WRONG)
    );
    let exporter = serve_with(dir.path(), &yaml, Limits::default()).await;
    let client = client(Some(&ca.pem), None);
    let get = |path: &str, credentials: Option<(&str, &str)>| {
        let mut request = client.get(url(&exporter, path));
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        async move { request.send().await.expect("an answer") }
    };

    for path in ["/metrics", "/healthz", "/readyz", "/", "/no-such-path"] {
        for credentials in [
            None,
            Some(("prometheus", WRONG)),
            Some(("nobody", PASSWORD)),
            Some(("other", PASSWORD)),
            Some(("prometheus", "")),
        ] {
            let response = get(path, credentials).await;
            assert_eq!(response.status(), 401, "{path} {credentials:?}");
            let challenge = response.headers().get("www-authenticate");
            assert_eq!(challenge.unwrap(), "Basic", "{path}");
            assert_eq!(response.headers().get("x-frame-options").unwrap(), "deny");
        }
    }
    let expected = [
        ("/metrics", 200),
        ("/healthz", 200),
        ("/readyz", 503),
        ("/", 200),
        ("/no-such-path", 404),
    ];
    for (path, status) in expected {
        // Twice: the second check is answered from the cache of successful checks.
        for _ in 0..2 {
            let response = get(path, Some(("prometheus", PASSWORD))).await;
            assert_eq!(response.status(), status, "{path}");
            assert_eq!(
                response.headers().get("x-content-type-options").unwrap(),
                "nosniff"
            );
        }
    }
    let body = get("/metrics", Some(("prometheus", PASSWORD)))
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("marathon_exporter_build_info"), "{body}");
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_required_client_certificate_is_checked_in_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("exporter CA");
    let scrapers = Authority::new("scrapers CA");
    let strangers = Authority::new("strangers CA");
    let (cert, key) = ca.server();
    write(dir.path(), "server.crt", &cert);
    write(dir.path(), "server.key", &key);
    write(dir.path(), "scrapers.pem", &scrapers.pem);
    let yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
                client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: scrapers.pem\n  \
                min_version: TLS13\n";
    let exporter = serve_with(dir.path(), yaml, Limits::default()).await;

    let anonymous = client(Some(&ca.pem), None)
        .get(url(&exporter, "/metrics"))
        .send()
        .await;
    assert!(anonymous.is_err(), "no client certificate: {anonymous:?}");
    let stranger = client(Some(&ca.pem), Some(strangers.client()))
        .get(url(&exporter, "/metrics"))
        .send()
        .await;
    assert!(
        stranger.is_err(),
        "a certificate from another CA: {stranger:?}"
    );
    let scraper = client(Some(&ca.pem), Some(scrapers.client()))
        .get(url(&exporter, "/metrics"))
        .send()
        .await
        .expect("a certificate from the configured CA");
    assert_eq!(scraper.status(), 200);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_is_served_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before = Authority::new("CA before");
    let after = Authority::new("CA after");
    let (cert, key) = before.server();
    write(dir.path(), "server.crt", &cert);
    write(dir.path(), "server.key", &key);
    let yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let exporter = serve_with(dir.path(), yaml, Limits::default()).await;
    let trusts_before = client(Some(&before.pem), None);
    let trusts_after = client(Some(&after.pem), None);
    let scrape = |client: &reqwest::Client| {
        let request = client.get(url(&exporter, "/healthz"));
        async move { request.send().await.is_ok_and(|r| r.status() == 200) }
    };
    assert!(scrape(&trusts_before).await);
    assert!(!scrape(&trusts_after).await);

    // Certificate first, key second: in between the pair does not match and the old one stays.
    let (cert, key) = after.server();
    write(dir.path(), "server.crt", &cert);
    assert!(
        scrape(&trusts_before).await,
        "half a rotation keeps the old pair"
    );
    write(dir.path(), "server.key", &key);
    assert!(
        eventually(|| scrape(&trusts_after)).await,
        "the new certificate is served"
    );
    assert!(!scrape(&trusts_before).await, "the old one is not any more");
    exporter.shutdown().await;
}

fn small_limits() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(300),
        tls_handshake_timeout: Duration::from_millis(300),
        max_header_bytes: 1024,
        ..Limits::default()
    }
}

/// Reads until the server closes the connection (bounded); what was read before any reset.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_get_431_and_slow_heads_and_handshakes_are_cut() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = serve_with(dir.path(), "{}\n", small_limits()).await;
    assert_eq!(exporter.scheme(), "http");
    let addr = exporter.local_addr();

    let mut big = TcpStream::connect(addr).await.unwrap();
    let filler = "a".repeat(1500);
    let head = format!("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n");
    let _ = big.write_all(head.as_bytes()).await;
    let answer = until_closed(&mut big).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    let mut fine = TcpStream::connect(addr).await.unwrap();
    fine.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = until_closed(&mut fine).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // The server's clock starts at accept, which can come before connect() returns here.
    let started = Instant::now();
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert_eq!(
        until_closed(&mut slow).await,
        "",
        "no answer to half a head"
    );
    assert!(started.elapsed() >= small_limits().header_read_timeout);
    exporter.shutdown().await;

    let ca = Authority::new("exporter CA");
    let (cert, key) = ca.server();
    write(dir.path(), "server.crt", &cert);
    write(dir.path(), "server.key", &key);
    let yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
    let exporter = serve_with(dir.path(), yaml, small_limits()).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(exporter.local_addr()).await.unwrap();
    assert_eq!(until_closed(&mut silent).await, "");
    assert!(started.elapsed() >= small_limits().tls_handshake_timeout);
    exporter.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_behind_the_web_config_too() {
    common::logs::captured();
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("exporter CA");
    let (cert, key) = ca.server();
    write(dir.path(), "server.crt", &cert);
    write(dir.path(), "server.key", &key);
    let yaml = format!(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n\
         basic_auth_users:\n  prometheus: '{}'\n",
        hash(PASSWORD)
    );
    let mut config = common::config("http://127.0.0.1:9");
    config.web_config_file = Some(write(dir.path(), "web.yml", &yaml));
    let options = DemoOptions {
        scale: 0.1,
        ..DemoOptions::default()
    };
    let demo = Demo::start(config, options).await.unwrap();
    let url = demo.metrics_url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let client = client(Some(&ca.pem), None);
    let refused = client.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let served = client
        .get(&url)
        .basic_auth("prometheus", Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert!(served.text().await.unwrap().contains("marathon_app_tasks"));
    demo.shutdown().await;
}

#[test]
fn debug_output_never_shows_hashes_keys_or_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new("exporter CA");
    let (cert, key) = ca.server();
    let hashed = hash(PASSWORD);
    let indent = |pem: &str| {
        pem.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let yaml = format!(
        "tls_server_config:\n  cert: |\n{}  key: |\n{}\
         basic_auth_users:\n  prometheus: '{hashed}'\n",
        indent(&cert),
        indent(&key)
    );
    let path = write(dir.path(), "web.yml", &yaml);
    let web = WebConfig::load(&path).expect("inline certificate and key");
    assert!(web.tls_enabled() && web.basic_auth_enabled());

    let mut config = common::config("http://127.0.0.1:9");
    config.web_config_file = Some(path.clone());
    config.username = Some("ops".into());
    config.password = Some(marathon_task_exporter::config::Secret::new(PASSWORD.into()));
    let shown = [
        format!("{web:?}"),
        format!("{web:#?}"),
        format!("{config:?}"),
        format!("{config:#?}"),
    ];
    let key_body: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    for text in &shown {
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(!text.contains(&hashed[7..]), "the bcrypt hash: {text}");
        assert!(!text.contains("$2b$") && !text.contains("$2y$"), "{text}");
        for line in &key_body {
            assert!(!text.contains(line), "the private key: {text}");
        }
    }
    assert!(
        shown[0].contains("<redacted>") && shown[0].contains("<inline>"),
        "{}",
        shown[0]
    );
    assert!(
        shown[0].contains("prometheus"),
        "user names are shown: {}",
        shown[0]
    );
    assert!(
        shown[2].contains("web.yml"),
        "paths are shown: {}",
        shown[2]
    );

    // Nor in the error for a key that does not match its certificate.
    let (_, other_key) = ca.server();
    let yaml = format!(
        "tls_server_config:\n  cert: |\n{}  key: |\n{}",
        indent(&cert),
        indent(&other_key)
    );
    let error = WebConfig::load(&write(dir.path(), "bad.yml", &yaml)).unwrap_err();
    let text = format!("{error} {error:?}");
    for line in other_key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!text.contains(line), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!("basic_auth_users:\n  prometheus: '{}'\n", hash(PASSWORD));
    let exporter = serve_with(dir.path(), &yaml, Limits::default()).await;
    let client = client(None, None);
    for password in [PASSWORD, WRONG] {
        let response = client
            .get(url(&exporter, "/metrics"))
            .basic_auth("prometheus", Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            if password == PASSWORD { 200 } else { 401 }
        );
    }
    exporter.shutdown().await;
    let logged = common::logs::captured().text();
    assert!(
        logged.contains("marathon-task-exporter started"),
        "logs were captured"
    );
    use base64::Engine as _;
    for secret in [
        PASSWORD.to_owned(),
        WRONG.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(format!("prometheus:{PASSWORD}")),
        "$2b$04$".to_owned(),
    ] {
        assert!(!logged.contains(&secret), "{secret} was logged");
    }
}
