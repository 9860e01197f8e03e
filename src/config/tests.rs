//! The flags, the environment and the subcommands as a user gives them.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use url::Url;

use super::env::env_var_of;
use super::*;
use std::io::Write as _;

const BIN: &str = "marathon-task-exporter";

/// The command line `args` with the environment `env` only.
fn parse_cli(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, clap::Error> {
    let env: HashMap<String, OsString> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
        .collect();
    let argv = std::iter::once(BIN).chain(args.iter().copied());
    Cli::try_parse_validated_from_env(argv, |name| env.get(name).cloned())
}

fn try_parse(args: &[&str], env: &[(&str, &str)]) -> Result<Config, clap::Error> {
    parse_cli(args, env).map(|cli| cli.config)
}

fn parse(args: &[&str]) -> Config {
    try_parse(args, &[]).unwrap_or_else(|err| panic!("{args:?} should parse: {err}"))
}

fn parse_env(env: &[(&str, &str)]) -> Config {
    try_parse(&[], env).unwrap_or_else(|err| panic!("{env:?} should parse: {err}"))
}

/// Asserts the input is rejected with exit status 2 by a message naming `flag`.
fn rejected(args: &[&str], env: &[(&str, &str)], flag: &str) -> String {
    let err = try_parse(args, env).expect_err("should be rejected");
    let message = err.to_string();
    assert_eq!(err.exit_code(), 2, "{message}");
    assert!(
        message.contains(flag),
        "message should name {flag}: {message}"
    );
    message
}

fn file_with(contents: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(contents).unwrap();
    file
}

fn urls(config: &Config) -> Vec<&str> {
    config.marathon_urls.iter().map(Url::as_str).collect()
}

#[test]
fn defaults_match_the_named_constants() {
    let config = parse(&[]);
    assert_eq!(
        config.marathon_urls,
        [Url::parse(DEFAULT_MARATHON_URL).unwrap()]
    );
    assert_eq!(config.username, None);
    assert!(config.password.is_none());
    assert_eq!(config.token_file, None);
    assert_eq!(config.ca_file, None);
    assert_eq!(
        (config.client_cert_file, config.client_key_file),
        (None, None)
    );
    assert!(!config.insecure_skip_verify);
    assert_eq!(config.listen_address, DEFAULT_LISTEN_ADDRESS);
    assert_eq!(config.telemetry_path, DEFAULT_TELEMETRY_PATH);
    assert_eq!(config.web_config_file, None);
    assert_eq!(config.idle_timeout, DEFAULT_IDLE_TIMEOUT);
    assert_eq!(config.max_event_bytes, DEFAULT_MAX_EVENT_BYTES);
    assert_eq!(config.backoff_max, DEFAULT_BACKOFF_MAX);
    assert_eq!(config.resync_interval, DEFAULT_RESYNC_INTERVAL);
    assert_eq!(
        config.default_inactive_after,
        DEFAULT_UNREACHABLE_INACTIVE_AFTER
    );
    assert_eq!(
        config.default_expunge_after,
        DEFAULT_UNREACHABLE_EXPUNGE_AFTER
    );
    assert_eq!(config.lost_resolve_timeout, DEFAULT_LOST_RESOLVE_TIMEOUT);
    assert_eq!(config.tombstone_ttl, DEFAULT_TOMBSTONE_TTL);
    assert_eq!(config.app_retention, DEFAULT_APP_RETENTION);
    assert_eq!(config.app_limit, DEFAULT_APP_LIMIT);
    assert_eq!(config.log_level, DEFAULT_LOG_LEVEL);
    assert_eq!(config.log_format, DEFAULT_LOG_FORMAT);
}

const ALL_FLAGS: [(&str, &str); 23] = [
    ("marathon.url", "https://m1.example.com:8443/marathon"),
    ("marathon.username", "exporter"),
    ("marathon.password-file", "<password file>"),
    ("marathon.token-file", "/run/token"),
    ("marathon.ca-file", "/etc/ca.pem"),
    ("marathon.client-cert-file", "/etc/client.pem"),
    ("marathon.client-key-file", "/etc/client.key"),
    ("marathon.insecure-skip-verify", "true"),
    ("web.listen-address", "127.0.0.1:9999"),
    ("web.telemetry-path", "/custom"),
    ("web.config.file", "/etc/web.yml"),
    ("stream.idle-timeout", "45s"),
    ("stream.max-event-bytes", "2MiB"),
    ("stream.backoff-max", "20s"),
    ("resync.interval", "1m"),
    ("unreachable.default-inactive-after", "1m"),
    ("unreachable.default-expunge-after", "2m"),
    ("lost.resolve-timeout", "7s"),
    ("tombstone.ttl", "1h"),
    ("app.retention", "30m"),
    ("app.limit", "42"),
    ("log.level", "debug"),
    ("log.format", "json"),
];

fn assert_all_flags_applied(config: &Config) {
    assert_eq!(urls(config), ["https://m1.example.com:8443/marathon"]);
    assert_eq!(config.username.as_deref(), Some("exporter"));
    assert_eq!(config.password.as_ref().map(Secret::expose), Some("s3cret"));
    assert_eq!(config.token_file, Some(PathBuf::from("/run/token")));
    assert_eq!(config.ca_file, Some(PathBuf::from("/etc/ca.pem")));
    assert_eq!(
        config.client_cert_file,
        Some(PathBuf::from("/etc/client.pem"))
    );
    assert_eq!(
        config.client_key_file,
        Some(PathBuf::from("/etc/client.key"))
    );
    assert!(config.insecure_skip_verify);
    assert_eq!(config.listen_address, "127.0.0.1:9999");
    assert_eq!(config.telemetry_path, "/custom");
    assert_eq!(config.web_config_file, Some(PathBuf::from("/etc/web.yml")));
    assert_eq!(config.idle_timeout, Duration::from_secs(45));
    assert_eq!(config.max_event_bytes, 2 * 1024 * 1024);
    assert_eq!(config.backoff_max, Duration::from_secs(20));
    assert_eq!(config.resync_interval, Duration::from_secs(60));
    assert_eq!(config.default_inactive_after, Duration::from_secs(60));
    assert_eq!(config.default_expunge_after, Duration::from_secs(120));
    assert_eq!(config.lost_resolve_timeout, Duration::from_secs(7));
    assert_eq!(config.tombstone_ttl, Duration::from_secs(3600));
    assert_eq!(config.app_retention, Duration::from_secs(1800));
    assert_eq!(config.app_limit, 42);
    assert_eq!(config.log_level, LogLevel::Debug);
    assert_eq!(config.log_format, LogFormat::Json);
}

#[test]
fn every_flag_is_read_from_the_command_line() {
    let password = file_with(b"s3cret\n");
    let password_path = password.path().to_str().unwrap();
    let args: Vec<String> = ALL_FLAGS
        .iter()
        .map(|(flag, value)| {
            format!(
                "--{flag}={}",
                value.replace("<password file>", password_path)
            )
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_all_flags_applied(&parse(&args));
}

#[test]
fn every_flag_is_read_from_its_environment_variable() {
    let password = file_with(b"s3cret\n");
    let password_path = password.path().to_str().unwrap();
    let vars: Vec<(String, &str)> = ALL_FLAGS
        .iter()
        .map(|(flag, value)| {
            let value = if *value == "<password file>" {
                password_path
            } else {
                value
            };
            (flag.to_ascii_uppercase().replace(['.', '-'], "_"), value)
        })
        .collect();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_all_flags_applied(&parse_env(&env));
}

#[test]
fn environment_variable_names_follow_the_contract() {
    let mut names: Vec<String> = Cli::command()
        .get_arguments()
        .filter_map(env_var_of)
        .collect();
    names.sort();
    let mut expected = vec![
        "MARATHON_URL",
        "MARATHON_USERNAME",
        "MARATHON_PASSWORD_FILE",
        "MARATHON_TOKEN_FILE",
        "MARATHON_DCOS_CREDENTIALS_FILE",
        "MARATHON_CA_FILE",
        "MARATHON_CLIENT_CERT_FILE",
        "MARATHON_CLIENT_KEY_FILE",
        "MARATHON_INSECURE_SKIP_VERIFY",
        "WEB_LISTEN_ADDRESS",
        "WEB_TELEMETRY_PATH",
        "WEB_CONFIG_FILE",
        "STREAM_IDLE_TIMEOUT",
        "STREAM_MAX_EVENT_BYTES",
        "STREAM_BACKOFF_MAX",
        "RESYNC_INTERVAL",
        "RESYNC_REMOVAL_DELAY",
        "RESYNC_MAX_BYTES",
        "UNREACHABLE_DEFAULT_INACTIVE_AFTER",
        "UNREACHABLE_DEFAULT_EXPUNGE_AFTER",
        "LOST_RESOLVE_TIMEOUT",
        "TOMBSTONE_TTL",
        "APP_RETENTION",
        "APP_LIMIT",
        "APP_LABEL_ALLOWLIST",
        "AGENT_LIMIT",
        "LOG_LEVEL",
        "LOG_FORMAT",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);
}

#[test]
fn command_line_wins_over_environment_variable() {
    let config = try_parse(
        &["--marathon.url", "http://cli:8080", "--log.level", "error"],
        &[
            ("MARATHON_URL", "http://env:8080"),
            ("LOG_LEVEL", "trace"),
            ("APP_LIMIT", "7"),
        ],
    )
    .unwrap();
    assert_eq!(urls(&config), ["http://cli:8080/"]);
    assert_eq!(config.log_level, LogLevel::Error);
    assert_eq!(config.app_limit, 7);
}

#[test]
fn empty_environment_variable_counts_as_unset() {
    let config = parse_env(&[("WEB_LISTEN_ADDRESS", ""), ("MARATHON_USERNAME", "")]);
    assert_eq!(config.listen_address, DEFAULT_LISTEN_ADDRESS);
    assert_eq!(config.username, None);
}

#[test]
fn marathon_url_is_repeatable_and_comma_separated() {
    let config = parse(&[
        "--marathon.url",
        "http://a:8080",
        "--marathon.url=http://b,http://c",
    ]);
    assert_eq!(urls(&config), ["http://a:8080/", "http://b/", "http://c/"]);
}

#[test]
fn marathon_url_environment_variable_accepts_the_comma_form() {
    let config = parse_env(&[("MARATHON_URL", "http://a:8080, https://b:8443")]);
    assert_eq!(urls(&config), ["http://a:8080/", "https://b:8443/"]);
}

#[test]
fn marathon_url_keeps_its_path_prefix_without_trailing_slash_and_drops_duplicates() {
    let config = parse(&[
        "--marathon.url=https://dcos.example.com/service/marathon/",
        "--marathon.url=https://dcos.example.com/service/marathon",
    ]);
    assert_eq!(urls(&config), ["https://dcos.example.com/service/marathon"]);
}

#[test]
fn marathon_url_must_be_http_with_host_and_without_query_or_fragment() {
    for bad in [
        "ftp://m:8080",
        "file:///tmp/x",
        "http://m/?leader=1",
        "http://m/#x",
        "m:8080",
        "",
    ] {
        rejected(&["--marathon.url", bad], &[], "--marathon.url");
    }
    rejected(&[], &[("MARATHON_URL", "ftp://m")], "MARATHON_URL");
}

#[test]
fn marathon_url_with_credentials_is_rejected_without_echoing_them() {
    let message = rejected(
        &["--marathon.url", "http://user:Hunter2Pw@host:8080"],
        &[],
        "--marathon.url",
    );
    assert!(!message.contains("Hunter2Pw"), "{message}");
    assert!(message.contains("--marathon.password-file"), "{message}");
    let env = [("MARATHON_URL", "http://user:Hunter2Pw@host:8080")];
    let message = rejected(&[], &env, "MARATHON_URL");
    assert!(!message.contains("Hunter2Pw"), "{message}");
    let message = rejected(
        &["--marathon.url", "http://user:Hunter2Pw@"],
        &[],
        "--marathon.url",
    );
    assert!(!message.contains("Hunter2Pw"), "{message}");
}

#[test]
fn durations_accept_units_and_combined_forms() {
    for (text, expected) in [
        ("500ms", Duration::from_millis(500)),
        ("30s", Duration::from_secs(30)),
        ("15m", Duration::from_secs(900)),
        ("1h", Duration::from_secs(3600)),
        ("1h30m", Duration::from_secs(5400)),
        ("1m 30s", Duration::from_secs(90)),
    ] {
        let config = parse(&["--lost.resolve-timeout", text]);
        assert_eq!(config.lost_resolve_timeout, expected, "{text}");
    }
}

#[test]
fn durations_without_a_known_unit_are_rejected_naming_the_flag() {
    let flags = [
        "stream.idle-timeout",
        "stream.backoff-max",
        "resync.interval",
        "unreachable.default-inactive-after",
        "unreachable.default-expunge-after",
        "lost.resolve-timeout",
        "tombstone.ttl",
        "app.retention",
    ];
    for flag in flags {
        for bad in ["30", "5x", "-1s", "soon"] {
            rejected(&[&format!("--{flag}={bad}")], &[], &format!("--{flag}"));
        }
    }
    // The message shows what a duration looks like.
    rejected(
        &["--resync.interval=soon"],
        &[],
        "such as 500ms, 30s, 15m or 1h30m",
    );
}

#[test]
fn zero_is_allowed_where_it_means_immediately() {
    let config = parse(&[
        "--lost.resolve-timeout=0s",
        "--tombstone.ttl=0s",
        "--app.retention=0",
    ]);
    assert_eq!(config.lost_resolve_timeout, Duration::ZERO);
    assert_eq!(config.tombstone_ttl, Duration::ZERO);
    assert_eq!(config.app_retention, Duration::ZERO);
}

#[test]
fn stream_durations_below_their_minimum_are_rejected() {
    rejected(
        &["--stream.idle-timeout=999ms"],
        &[],
        "--stream.idle-timeout",
    );
    rejected(&["--stream.backoff-max=0s"], &[], "--stream.backoff-max");
    rejected(&["--resync.interval=0s"], &[], "--resync.interval");
    let config = parse(&["--stream.idle-timeout=1s", "--stream.backoff-max=100ms"]);
    assert_eq!(
        (config.idle_timeout, config.backoff_max),
        (MIN_IDLE_TIMEOUT, MIN_BACKOFF_MAX)
    );
}

#[test]
fn inactive_after_longer_than_expunge_after_is_rejected() {
    let message = rejected(
        &[
            "--unreachable.default-inactive-after=20m",
            "--unreachable.default-expunge-after=15m",
        ],
        &[],
        "--unreachable.default-inactive-after",
    );
    assert!(
        message.contains("--unreachable.default-expunge-after"),
        "{message}"
    );
    let equal = parse(&["--unreachable.default-inactive-after=15m"]);
    assert_eq!(equal.default_inactive_after, equal.default_expunge_after);
}

#[test]
fn byte_sizes_take_plain_integers_and_decimal_or_binary_units() {
    for (text, expected) in [
        ("4096", 4096),
        ("4096B", 4096),
        ("2KB", 2_000),
        ("3MB", 3_000_000),
        ("1GB", 1_000_000_000),
        ("2KiB", 2048),
        ("8MiB", 8 << 20),
        ("1GiB", 1 << 30),
        ("8 mib", 8 << 20),
    ] {
        assert_eq!(parse_byte_size(text), Ok(expected), "{text}");
    }
}

#[test]
fn byte_sizes_reject_garbage_fractions_and_overflow() {
    for bad in [
        "",
        "MiB",
        "1.5MiB",
        "-1",
        "8 MiBs",
        "8TB",
        "99999999999999999999GiB",
    ] {
        assert!(parse_byte_size(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn max_event_bytes_must_be_at_least_one_kib() {
    rejected(
        &["--stream.max-event-bytes=1023"],
        &[],
        "--stream.max-event-bytes",
    );
    rejected(
        &["--stream.max-event-bytes=1KB"],
        &[],
        "--stream.max-event-bytes",
    );
    rejected(
        &["--stream.max-event-bytes=lots"],
        &[],
        "--stream.max-event-bytes",
    );
    assert_eq!(
        parse(&["--stream.max-event-bytes=1KiB"]).max_event_bytes,
        1024
    );
}

#[test]
fn app_limit_must_be_a_positive_integer() {
    rejected(&["--app.limit=0"], &[], "--app.limit");
    rejected(&["--app.limit=-3"], &[], "--app.limit");
    rejected(&[], &[("APP_LIMIT", "many")], "--app.limit");
    assert_eq!(parse(&["--app.limit=1"]).app_limit, 1);
}

#[test]
fn telemetry_path_must_start_with_slash_and_avoid_reserved_paths() {
    for bad in ["metrics", "/", "/healthz", "/readyz", "/metrics?x=1", ""] {
        rejected(&["--web.telemetry-path", bad], &[], "--web.telemetry-path");
    }
    assert_eq!(
        parse(&["--web.telemetry-path=/prom/metrics"]).telemetry_path,
        "/prom/metrics"
    );
}

#[test]
fn listen_address_accepts_socket_addresses_and_host_names() {
    for good in [
        "0.0.0.0:9472",
        "[::]:9472",
        "127.0.0.1:0",
        "localhost:9472",
        "exporter.local:80",
    ] {
        assert_eq!(parse(&["--web.listen-address", good]).listen_address, good);
    }
}

#[test]
fn listen_address_needs_a_host_and_a_numeric_port() {
    for bad in [
        ":9472",
        "localhost",
        "localhost:",
        "localhost:http",
        "host:70000",
        "::1:9472",
        "a b:1",
    ] {
        rejected(&["--web.listen-address", bad], &[], "--web.listen-address");
    }
}

#[test]
fn client_certificate_and_key_must_be_given_together() {
    rejected(
        &["--marathon.client-cert-file=/c.pem"],
        &[],
        "--marathon.client-key-file",
    );
    rejected(
        &["--marathon.client-key-file=/c.key"],
        &[],
        "--marathon.client-cert-file",
    );
    rejected(
        &[],
        &[("MARATHON_CLIENT_KEY_FILE", "/c.key")],
        "--marathon.client-cert-file",
    );
}

#[test]
fn password_file_loses_exactly_one_trailing_newline() {
    for (contents, expected) in [
        (&b"pw\n"[..], "pw"),
        (b"pw\r\n", "pw"),
        (b"pw", "pw"),
        (b"pw\n\n", "pw\n"),
        (b" pw \n", " pw "),
    ] {
        let file = file_with(contents);
        let path = file.path().to_str().unwrap();
        let config = parse(&["--marathon.username=u", "--marathon.password-file", path]);
        assert_eq!(config.password.unwrap().expose(), expected, "{contents:?}");
        assert_eq!(read_secret_file(file.path()).unwrap().expose(), expected);
    }
}

#[test]
fn unreadable_password_file_is_rejected_naming_flag_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-password");
    let missing = missing.to_str().unwrap();
    let message = rejected(
        &["--marathon.username=u", "--marathon.password-file", missing],
        &[],
        "--marathon.password-file",
    );
    assert!(message.contains(missing), "{message}");
}

#[test]
fn password_file_errors_never_show_its_contents() {
    let file = file_with(b"TopSecretValue\xff\n");
    let path = file.path().to_str().unwrap();
    let message = rejected(
        &["--marathon.username=u", "--marathon.password-file", path],
        &[],
        "--marathon.password-file",
    );
    assert!(!message.contains("TopSecretValue"), "{message}");
}

#[test]
fn password_is_taken_from_the_environment() {
    let config = parse_env(&[
        ("MARATHON_USERNAME", "u"),
        ("MARATHON_PASSWORD", "from-env\n"),
    ]);
    assert_eq!(config.password.unwrap().expose(), "from-env\n");
}

#[test]
fn password_without_username_is_rejected() {
    let file = file_with(b"pw\n");
    let path = file.path().to_str().unwrap();
    rejected(
        &["--marathon.password-file", path],
        &[],
        "--marathon.username",
    );
    rejected(&[], &[("MARATHON_PASSWORD", "pw")], "--marathon.username");
}

#[test]
fn password_file_and_password_variable_together_are_rejected() {
    let file = file_with(b"pw\n");
    let path = file.path().to_str().unwrap();
    let env = [("MARATHON_USERNAME", "u"), ("MARATHON_PASSWORD", "pw")];
    let message = rejected(
        &["--marathon.password-file", path],
        &env,
        "--marathon.password-file",
    );
    assert!(message.contains(PASSWORD_ENV), "{message}");
}

#[test]
fn username_must_be_non_empty_and_without_colon() {
    rejected(&["--marathon.username=a:b"], &[], "--marathon.username");
    rejected(&["--marathon.username="], &[], "--marathon.username");
}

#[test]
fn debug_output_redacts_the_password() {
    let file = file_with(b"Zebra-Quartz-42\n");
    let path = file.path().to_str().unwrap();
    let config = parse(&["--marathon.username=u", "--marathon.password-file", path]);
    let debug = format!("{config:?}");
    assert!(!debug.contains("Zebra-Quartz-42"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(!format!("{config:#?}").contains("Zebra-Quartz-42"));
}

#[test]
fn log_level_is_case_insensitive_and_maps_to_a_filter() {
    for (text, level, filter) in [
        ("TRACE", LogLevel::Trace, "trace"),
        ("Debug", LogLevel::Debug, "debug"),
        ("info", LogLevel::Info, "info"),
        ("WARN", LogLevel::Warn, "warn"),
        ("warning", LogLevel::Warn, "warn"),
        ("error", LogLevel::Error, "error"),
    ] {
        let config = parse(&["--log.level", text]);
        assert_eq!(config.log_level, level, "{text}");
        assert_eq!(config.log_level.as_filter(), filter);
    }
    assert_eq!(parse(&["--log.format=JSON"]).log_format, LogFormat::Json);
}

#[test]
fn log_level_and_format_reject_unknown_values() {
    rejected(&["--log.level=verbose"], &[], "--log.level");
    rejected(
        &["--log.level=info,marathon_task_exporter=debug"],
        &[],
        "--log.level",
    );
    rejected(&["--log.format=xml"], &[], "--log.format");
    assert_eq!(
        parse(&["--log.format=logfmt"]).log_format,
        LogFormat::Logfmt
    );
    assert_eq!(parse(&["--log.format=TEXT"]).log_format, LogFormat::Text);
    rejected(&[], &[("LOG_FORMAT", "xml")], "LOG_FORMAT");
}

#[test]
fn insecure_skip_verify_takes_a_bare_flag_or_a_boolean() {
    assert!(parse(&["--marathon.insecure-skip-verify"]).insecure_skip_verify);
    assert!(!parse(&["--marathon.insecure-skip-verify=false"]).insecure_skip_verify);
    for (value, expected) in [
        ("true", true),
        ("1", true),
        ("yes", true),
        ("false", false),
        ("0", false),
    ] {
        let config = parse_env(&[("MARATHON_INSECURE_SKIP_VERIFY", value)]);
        assert_eq!(config.insecure_skip_verify, expected, "{value}");
    }
    rejected(
        &[],
        &[("MARATHON_INSECURE_SKIP_VERIFY", "maybe")],
        "--marathon.insecure-skip-verify",
    );
}

#[test]
fn bad_value_from_the_environment_names_flag_and_variable() {
    let message = rejected(
        &[],
        &[("STREAM_IDLE_TIMEOUT", "forever")],
        "--stream.idle-timeout",
    );
    assert!(message.contains("STREAM_IDLE_TIMEOUT"), "{message}");
    let env = [("UNREACHABLE_DEFAULT_INACTIVE_AFTER", "1h")];
    let message = rejected(&[], &env, "--unreachable.default-inactive-after");
    assert!(
        message.contains("UNREACHABLE_DEFAULT_INACTIVE_AFTER"),
        "{message}"
    );
}

#[test]
fn unknown_flag_is_rejected_with_status_two() {
    rejected(&["--marathon.uri=http://m"], &[], "--marathon.uri");
}

#[test]
fn help_groups_flags_under_headings_and_names_variables() {
    let help = Cli::command().render_long_help().to_string();
    let positions: Vec<usize> = ["Marathon:", "Web:", "Stream:", "Rules:", "Logging:"]
        .iter()
        .map(|heading| {
            help.find(heading)
                .unwrap_or_else(|| panic!("{heading} missing:\n{help}"))
        })
        .collect();
    assert!(positions.is_sorted(), "{help}");
    for needle in [
        "[env: MARATHON_URL]",
        "[env: STREAM_IDLE_TIMEOUT]",
        "MARATHON_PASSWORD",
        "[default: 8MiB]",
    ] {
        assert!(help.contains(needle), "{needle} missing:\n{help}");
    }
}

#[test]
fn help_and_version_exit_successfully() {
    for flag in ["--help", "-h", "--version"] {
        let err = Cli::try_parse_validated_from([BIN, flag]).expect_err(flag);
        assert_eq!(err.exit_code(), 0, "{flag}");
    }
}

#[test]
fn the_bare_command_runs_the_exporter() {
    assert!(parse_cli(&[], &[]).unwrap().command.is_none());
}

#[test]
fn demo_takes_seed_speed_record_and_the_exporter_flags_after_it() {
    let cli = parse_cli(
        &[
            "demo",
            "--seed=42",
            "--speed",
            "2.5",
            "--record",
            "/tmp/r.jsonl",
            "--web.listen-address=127.0.0.1:9999",
        ],
        &[],
    )
    .unwrap();
    let Some(Command::Demo(demo)) = cli.command else {
        panic!("demo expected");
    };
    assert_eq!(demo.seed, Some(42));
    assert_eq!(demo.speed, 2.5);
    assert_eq!(demo.record, Some(PathBuf::from("/tmp/r.jsonl")));
    assert_eq!(cli.config.listen_address, "127.0.0.1:9999");
    let Some(Command::Demo(demo)) = parse_cli(&["demo"], &[]).unwrap().command else {
        panic!("demo expected");
    };
    assert_eq!((demo.seed, demo.speed, demo.record), (None, 10.0, None));
}

#[test]
fn each_subcommand_help_lists_only_the_flags_it_uses() {
    let help = |args: &[&str]| {
        let err = parse_cli(args, &[]).expect_err("help is an early answer");
        assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{args:?}");
        assert_eq!(err.exit_code(), 0);
        err.to_string()
    };
    let cases: [(&[&str], &[&str], &[&str]); 5] = [
        (
            &["replay", "--help"],
            &[
                "<FILE>",
                "--exposition",
                "--tombstone.ttl",
                "--stream.max-event-bytes",
                "--log.format",
            ],
            &[
                "--marathon.url",
                "--web.listen-address",
                "--resync.interval",
            ],
        ),
        (
            &["record", "-h"],
            &[
                "--output",
                "--marathon.url",
                "--marathon.dcos-credentials-file",
                "--resync.interval",
            ],
            &["--tombstone.ttl", "--web.listen-address", "--app.limit"],
        ),
        (
            &["demo", "--help"],
            &[
                "--seed",
                "--web.listen-address",
                "--tombstone.ttl",
                "--resync.interval",
                // The defaults the demo applies.
                "[default: 127.0.0.1:9472]",
                "[default: team,tier]",
            ],
            &[
                "--marathon.url",
                "--marathon.token-file",
                "[default: 0.0.0.0:9472]",
            ],
        ),
        (
            // A flag before the subcommand does not hide which help is asked for.
            &["--log.level=debug", "demo", "-h"],
            &["--speed"],
            &["--marathon.url"],
        ),
        (
            &["--help"],
            &[
                "--marathon.url",
                "--web.listen-address",
                "--tombstone.ttl",
                "demo",
                "replay",
                "[default: 0.0.0.0:9472]",
            ],
            &["--seed", "--exposition", "[default: team,tier]"],
        ),
    ];
    for (args, present, absent) in cases {
        let text = help(args);
        for flag in present {
            assert!(text.contains(flag), "{args:?} lacks {flag}:\n{text}");
        }
        for flag in absent {
            assert!(!text.contains(flag), "{args:?} lists {flag}:\n{text}");
        }
    }
}

#[test]
fn subcommands_refuse_the_flags_they_do_not_use() {
    for (args, flag) in [
        (
            &["replay", "f.jsonl", "--marathon.url", "http://m:8080"][..],
            "--marathon.url",
        ),
        (
            &["--web.listen-address=127.0.0.1:1", "replay", "f.jsonl"][..],
            "--web.listen-address",
        ),
        (
            &["demo", "--marathon.token-file", "/t"][..],
            "--marathon.token-file",
        ),
        (
            &["record", "--output", "r.jsonl", "--app.limit", "5"][..],
            "--app.limit",
        ),
    ] {
        let error = parse_cli(args, &[])
            .err()
            .unwrap_or_else(|| panic!("{args:?}"));
        assert_eq!(error.exit_code(), 2, "{args:?}");
        assert!(
            error.to_string().contains(&format!("does not use {flag}")),
            "{error}"
        );
        // The usage line shown is the subcommand's.
        let subcommand = ["demo", "record", "replay"]
            .into_iter()
            .find(|name| args.contains(name))
            .expect("a subcommand");
        assert!(
            error
                .render()
                .to_string()
                .contains(&format!("Usage: marathon-task-exporter {subcommand} ")),
            "{}",
            error.render()
        );
    }
    let ok: [&[&str]; 4] = [
        &[
            "replay",
            "f.jsonl",
            "--stream.max-event-bytes",
            "1MiB",
            "--log.level",
            "debug",
        ],
        &[
            "demo",
            "--web.listen-address",
            "127.0.0.1:1",
            "--app.limit",
            "5",
        ],
        &[
            "record",
            "--output",
            "r.jsonl",
            "--marathon.url",
            "http://m:8080",
        ],
        &[
            "--marathon.url",
            "http://m:8080",
            "--web.listen-address",
            "127.0.0.1:1",
        ],
    ];
    for args in ok {
        assert!(parse_cli(args, &[]).is_ok(), "{args:?}");
    }
    // One environment serves every subcommand: its variables are not refused.
    let env = [("MARATHON_URL", "http://m:8080")];
    assert!(parse_cli(&["replay", "f.jsonl"], &env).is_ok());
}

#[test]
fn the_demo_listens_on_loopback_unless_told_otherwise() {
    let cli = parse_cli(&["demo"], &[]).unwrap();
    assert_eq!(cli.config.listen_address, DEMO_LISTEN_ADDRESS);
    let cli = parse_cli(&["demo", "--web.listen-address=0.0.0.0:9472"], &[]).unwrap();
    assert_eq!(cli.config.listen_address, "0.0.0.0:9472");
    let env = [("WEB_LISTEN_ADDRESS", "0.0.0.0:9472")];
    let cli = parse_cli(&["demo"], &env).unwrap();
    assert_eq!(cli.config.listen_address, "0.0.0.0:9472");
    let cli = parse_cli(&[], &[]).unwrap();
    assert_eq!(cli.config.listen_address, DEFAULT_LISTEN_ADDRESS);
}

#[test]
fn exporter_flags_of_subcommands_read_their_variables_and_the_command_line_wins() {
    let env = [("WEB_LISTEN_ADDRESS", "127.0.0.1:1111")];
    let cli = parse_cli(&["demo"], &env).unwrap();
    assert_eq!(cli.config.listen_address, "127.0.0.1:1111");
    let cli = parse_cli(&["demo", "--web.listen-address=127.0.0.1:2222"], &env).unwrap();
    assert_eq!(cli.config.listen_address, "127.0.0.1:2222");
    let cli = parse_cli(&["--web.listen-address=127.0.0.1:3333", "demo"], &env).unwrap();
    assert_eq!(cli.config.listen_address, "127.0.0.1:3333");
}

#[test]
fn bad_subcommand_values_exit_two_naming_the_flag() {
    for (args, flag) in [
        (&["demo", "--speed=0"][..], "--speed"),
        (&["demo", "--speed=-1"][..], "--speed"),
        (&["demo", "--speed=fast"][..], "--speed"),
        (&["demo", "--speed=inf"][..], "--speed"),
        (&["demo", "--seed=x"][..], "--seed"),
        (&["record"][..], "--output"),
        (&["record", "-o", "f", "--duration=10"][..], "--duration"),
        (&["replay"][..], "FILE"),
        (
            &["demo", "--web.listen-address=nope"][..],
            "--web.listen-address",
        ),
        (
            &["replay", "f", "--lost.resolve-timeout=soon"][..],
            "--lost.resolve-timeout",
        ),
    ] {
        let err = parse_cli(args, &[]).expect_err(flag);
        assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        assert!(err.to_string().contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn record_and_replay_take_their_arguments() {
    let cli = parse_cli(
        &[
            "record",
            "--output",
            "r.jsonl",
            "--duration=90s",
            "--marathon.url=http://m:8080",
        ],
        &[],
    )
    .unwrap();
    let Some(Command::Record(record)) = cli.command else {
        panic!("record expected");
    };
    assert_eq!(record.output, PathBuf::from("r.jsonl"));
    assert_eq!(record.duration, Some(Duration::from_secs(90)));
    assert_eq!(urls(&cli.config), ["http://m:8080/"]);
    let cli = parse_cli(&["replay", "r.jsonl", "--exposition"], &[]).unwrap();
    let Some(Command::Replay(replay)) = cli.command else {
        panic!("replay expected");
    };
    assert_eq!(replay.file, PathBuf::from("r.jsonl"));
    assert!(replay.exposition);
}

#[test]
fn config_for_tests_uses_defaults_with_the_given_url_and_an_ephemeral_port() {
    let url = Url::parse("http://127.0.0.1:12345/").unwrap();
    let config = Config::for_tests(url.clone());
    assert_eq!(config.marathon_urls, [url]);
    assert_eq!(config.listen_address, "127.0.0.1:0");
    assert_eq!(config.idle_timeout, DEFAULT_IDLE_TIMEOUT);
    assert_eq!(config.app_limit, DEFAULT_APP_LIMIT);
}
