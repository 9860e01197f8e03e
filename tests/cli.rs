//! The binary as a user runs it: bad flags (and bad web config files) exit 2 with one line
//! naming the flag; a running exporter serves `/metrics`, behind basic auth when its web config
//! says so, and exits 0 on SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_marathon-task-exporter");

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_clear()
        .output()
        .expect("the binary runs");
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn bad_flag_values_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--stream.idle-timeout", "soon"], "--stream.idle-timeout"),
        (&["--marathon.url", "ftp://marathon:8080"], "--marathon.url"),
        (
            &["--stream.max-event-bytes", "lots"],
            "--stream.max-event-bytes",
        ),
        (&["--app.limit", "0"], "--app.limit"),
        (&["--log.format", "xml"], "--log.format"),
        (
            &["--marathon.client-cert-file", "/tmp/cert.pem"],
            "--marathon.client-key-file",
        ),
        (&["--web.telemetry-path", "metrics"], "--web.telemetry-path"),
        (&["--no-such-flag"], "--no-such-flag"),
        (&["--web.config.file", "/etc/web.yml"], "--web.config.file"),
        (
            &[
                "--marathon.token-file",
                "/run/token",
                "--marathon.dcos-credentials-file",
                "/run/credentials.json",
            ],
            "--marathon.dcos-credentials-file and --marathon.token-file cannot be combined",
        ),
        (
            &[
                "--marathon.username",
                "u",
                "--marathon.dcos-credentials-file",
                "/run/credentials.json",
            ],
            "--marathon.dcos-credentials-file and --marathon.username cannot be combined",
        ),
        (
            &[
                "--web.listen-address",
                "127.0.0.1:0",
                "--marathon.dcos-credentials-file",
                "/nonexistent/credentials.json",
            ],
            "--marathon.dcos-credentials-file) /nonexistent/credentials.json",
        ),
    ];
    for (args, flag) in cases {
        let (code, text) = run(args);
        assert_eq!(code, 2, "{args:?}: {text}");
        assert!(text.contains(flag), "{args:?} should name {flag}: {text}");
        assert!(!text.contains("panicked"), "{text}");
    }
}

#[test]
fn version_names_the_source_revision() {
    let (code, out) = run(&["--version"]);
    assert_eq!(code, 0, "{out}");
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let revision = std::env::var("MARATHON_TASK_EXPORTER_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or(git)
        .unwrap_or_else(|| "unknown".to_owned());
    assert_eq!(
        out.trim(),
        format!(
            "marathon-task-exporter {} (revision {revision})",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn a_busy_port_names_the_flag_and_says_why_once() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = busy.local_addr().expect("an address").to_string();
    let (code, stderr) = run(&[
        "--marathon.url",
        "http://127.0.0.1:9",
        "--web.listen-address",
        &address,
    ]);
    assert_eq!(code, 1, "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("an error line: {stderr}"));
    assert!(
        line.contains("--web.listen-address") && line.contains(&address),
        "{line}"
    );
    assert_eq!(line.matches("in use").count(), 1, "said once: {line}");
}

#[test]
fn a_missing_recording_is_named_once() {
    let (code, stderr) = run(&["replay", "/nonexistent/recording.jsonl"]);
    assert_ne!(code, 0, "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("an error line: {stderr}"));
    assert!(line.contains("/nonexistent/recording.jsonl"), "{line}");
    assert_eq!(line.matches("No such file").count(), 1, "said once: {line}");
}

#[test]
fn bad_web_config_files_exit_2_with_one_line_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "invalid.yml",
            "basic_auth_users: [unclosed\n",
            "not a valid web config",
        ),
        (
            "unknown.yml",
            "tls_server_config:\n  cert_fil: server.crt\n",
            "unknown field `cert_fil`",
        ),
        (
            "missing-cert.yml",
            "tls_server_config:\n  cert_file: nowhere.crt\n  key_file: nowhere.key\n",
            "nowhere.crt",
        ),
        (
            "bad-hash.yml",
            "basic_auth_users:\n  prometheus: plaintext-secret\n",
            "not a bcrypt hash",
        ),
    ];
    let mut files: Vec<(String, &str)> = cases
        .iter()
        .map(|(name, content, reason)| {
            let path = dir.path().join(name);
            std::fs::write(&path, content).unwrap();
            (path.display().to_string(), *reason)
        })
        .collect();
    let absent = dir.path().join("absent.yml").display().to_string();
    files.push((absent, "cannot read it"));
    for (path, reason) in &files {
        for subcommand in [None, Some("demo")] {
            let mut args: Vec<&str> = subcommand.into_iter().collect();
            args.extend(["--web.config.file", path]);
            let (code, text) = run(&args);
            assert_eq!(code, 2, "{args:?}: {text}");
            assert_eq!(text.trim().lines().count(), 1, "one line: {text}");
            assert!(
                text.starts_with(&format!("error: --web.config.file {path}: ")),
                "{text}"
            );
            assert!(
                text.contains(reason),
                "{args:?} should say {reason:?}: {text}"
            );
            assert!(!text.contains("plaintext-secret"), "{text}");
            assert!(!text.contains("panicked"), "{text}");
        }
    }
}

#[test]
fn help_lists_every_flag_of_the_contract() {
    let (code, text) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--marathon.url",
        "--marathon.username",
        "--marathon.password-file",
        "--marathon.token-file",
        "--marathon.dcos-credentials-file",
        "--marathon.ca-file",
        "--marathon.client-cert-file",
        "--marathon.client-key-file",
        "--marathon.insecure-skip-verify",
        "--web.listen-address",
        "--web.telemetry-path",
        "--web.config.file",
        "--stream.idle-timeout",
        "--stream.max-event-bytes",
        "--stream.backoff-max",
        "--resync.interval",
        "--unreachable.default-inactive-after",
        "--unreachable.default-expunge-after",
        "--lost.resolve-timeout",
        "--tombstone.ttl",
        "--app.retention",
        "--app.limit",
        "--log.level",
        "--log.format",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}");
    }
}

/// Starts the binary on an ephemeral port; returns the child and the address it serves.
fn start(extra: &[&str]) -> (std::process::Child, String) {
    let (child, line) = start_logging("json", extra);
    let address = line
        .split("\"address\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("address")
        .to_owned();
    (child, address)
}

/// Starts the binary on an ephemeral port logging in `format`; returns the child and its
/// start line (the one naming the address it serves).
fn start_logging(format: &str, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "--web.listen-address",
            "127.0.0.1:0",
            "--log.format",
            format,
        ])
        .args(extra)
        .env_clear()
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let deadline = Instant::now() + common::PATIENCE;
    let line = loop {
        assert!(Instant::now() < deadline, "no start line");
        let line = lines.next().expect("a log line").expect("utf-8");
        if line.contains("address") && line.contains("127.0.0.1:") {
            break line;
        }
    };
    // Keep draining stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, line)
}

#[test]
fn each_log_format_writes_its_own_lines_without_colour_off_a_terminal() {
    for format in ["text", "logfmt", "json"] {
        let (mut child, line) = start_logging(format, &["--marathon.url", "http://127.0.0.1:9"]);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!line.contains('\x1b'), "{format}: colour codes in {line:?}");
        match format {
            "json" => {
                let object: serde_json::Value = serde_json::from_str(&line).expect(&line);
                assert_eq!(object["level"], "INFO", "{line}");
            }
            "logfmt" => {
                // ts=... level=info target=... message="..." address=127.0.0.1:PORT
                let keys: Vec<&str> = logfmt_keys(&line);
                assert_eq!(keys.first(), Some(&"ts"), "{line}");
                assert!(
                    keys.contains(&"level") && keys.contains(&"message"),
                    "{line}"
                );
                assert!(line.contains("level=info"), "{line}");
                assert!(line.contains("address=127.0.0.1:"), "{line}");
            }
            _ => {
                assert!(line.contains(" INFO "), "{line}");
                assert!(!line.starts_with("ts="), "{line}");
            }
        }
    }
}

/// The keys of a logfmt line, in order (values may be quoted and hold spaces).
fn logfmt_keys(line: &str) -> Vec<&str> {
    let mut keys = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            panic!("not logfmt at {rest:?} in {line}");
        };
        assert!(
            !key.is_empty() && !key.contains([' ', '"']),
            "bad key {key:?} in {line}"
        );
        keys.push(key);
        rest = if let Some(quoted) = after.strip_prefix('"') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match c {
                    '\\' if !escaped => escaped = true,
                    '"' if !escaped => {
                        end = Some(i);
                        break;
                    }
                    _ => escaped = false,
                }
            }
            let end = end.unwrap_or_else(|| panic!("unterminated value in {line}"));
            quoted[end + 1..].trim_start()
        } else {
            after.split_once(' ').map_or("", |(_, r)| r.trim_start())
        };
    }
    keys
}

#[test]
fn the_binary_serves_metrics_and_exits_0_on_sigterm() {
    let (mut child, address) = start(&[
        "--marathon.url",
        "http://127.0.0.1:9",
        "--web.telemetry-path",
        "/m",
    ]);
    let body = reqwest::blocking_get(&format!("http://{address}/m"));
    assert!(body.contains("marathon_exporter_build_info"), "{body}");
    assert!(body.contains("marathon_exporter_stream_up 0"), "{body}");
    assert_eq!(terminate(&mut child), Some(0));
}

/// Sends SIGTERM and waits, within the patience, for the exit; its status code (`None`: killed
/// by a signal).
fn terminate(child: &mut std::process::Child) -> Option<i32> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + common::PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM right after the start line (the handlers are installed before anything starts): a
/// clean exit every time, never the default action's kill.
#[test]
fn a_sigterm_while_starting_still_exits_0() {
    for _ in 0..5 {
        let (mut child, _) = start_logging("json", &["--marathon.url", "http://127.0.0.1:9"]);
        assert_eq!(
            terminate(&mut child),
            Some(0),
            "killed by the signal instead of stopping"
        );
    }
}

#[test]
fn the_binary_serves_behind_basic_auth_from_its_web_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web.yml");
    let hash = bcrypt::hash("s3cret-scrape", 4).unwrap();
    std::fs::write(
        &path,
        format!("basic_auth_users:\n  prometheus: '{hash}'\n"),
    )
    .unwrap();
    let (mut child, address) = start(&[
        "--marathon.url",
        "http://127.0.0.1:9",
        "--web.config.file",
        path.to_str().unwrap(),
    ]);
    let url = format!("http://{address}/metrics");
    let (status, _) = reqwest::blocking_status(&url, None);
    assert_eq!(status, 401);
    let (status, _) = reqwest::blocking_status(&url, Some(("prometheus", "wrong")));
    assert_eq!(status, 401);
    let (status, body) = reqwest::blocking_status(&url, Some(("prometheus", "s3cret-scrape")));
    assert_eq!(status, 200);
    assert!(body.contains("marathon_exporter_build_info"), "{body}");
    child.kill().unwrap();
    child.wait().unwrap();
}

mod reqwest {
    /// A blocking GET through a throwaway runtime (the tests above are synchronous).
    pub fn blocking_get(url: &str) -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }

    /// Status and body of a blocking GET, with basic auth when given.
    pub fn blocking_status(url: &str, credentials: Option<(&str, &str)>) -> (u16, String) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut request = ::reqwest::Client::new().get(url);
            if let Some((user, password)) = credentials {
                request = request.basic_auth(user, Some(password));
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        })
    }
}
