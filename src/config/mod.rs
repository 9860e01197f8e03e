//! Command-line flags and environment variables, parsed and validated into a [`Config`]. Here:
//! the defaults, the log settings and the flags themselves (each field's doc line is its `--help`
//! line). Beside it: `cli` (the command line, the subcommands and which flags each uses), `env`
//! (environment variables), `checks` (rules across flags), `values` (value parsers).

mod checks;
mod cli;
mod env;
#[cfg(test)]
mod tests;
mod values;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{BoolishValueParser, RangedU64ValueParser};
use clap::{ArgAction, Args, ValueEnum};
use url::Url;

pub use self::cli::{Cli, Command, DemoArgs, MAX_DEMO_SPEED, RecordArgs, ReplayArgs};
pub(crate) use self::values::duration_at_least;
pub use self::values::parse_byte_size;
use self::values::{
    any_duration, parse_listen_address, parse_marathon_url, parse_max_event_bytes,
    parse_max_snapshot_bytes, parse_password_file, parse_telemetry_path, parse_username,
};
pub use crate::secret::{Secret, read_secret_file};

/// Marathon's own default address, so a local Marathon works without flags.
pub const DEFAULT_MARATHON_URL: &str = "http://localhost:8080";
/// All interfaces, so Prometheus can scrape from outside the host or container.
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:9472";
/// Where `demo` listens without `--web.listen-address`: loopback only.
pub const DEMO_LISTEN_ADDRESS: &str = "127.0.0.1:9472";
/// The path Prometheus scrapes unless told otherwise.
pub const DEFAULT_TELEMETRY_PATH: &str = "/metrics";
/// Three missed keep-alives (Marathon sends an empty line every 10 s) mean a dead stream.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Far above any ordinary event, yet bounds the memory one event can take.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;
/// A leader failover is followed within seconds without hammering a struggling Marathon.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Repairs anything the stream missed within minutes, at a low API cost.
pub const DEFAULT_RESYNC_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Apps with an unknown unreachable strategy: count an unreachable task inactive at once...
pub const DEFAULT_UNREACHABLE_INACTIVE_AFTER: Duration = Duration::ZERO;
/// ...and expect it to be expunged after a quarter of an hour.
pub const DEFAULT_UNREACHABLE_EXPUNGE_AFTER: Duration = Duration::from_secs(15 * 60);
/// Time a lost task gets for its `instance_changed_event` (or another status) before it is resolved as lost.
pub const DEFAULT_LOST_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Finished tasks are remembered this long so late and duplicate events are recognised.
pub const DEFAULT_TOMBSTONE_TTL: Duration = Duration::from_secs(15 * 60);
/// A deleted app's series stay for several scrapes so its final values are seen.
pub const DEFAULT_APP_RETENTION: Duration = Duration::from_secs(10 * 60);
/// Bounds series cardinality; larger clusters fold the rest into `app="__other__"`.
pub const DEFAULT_APP_LIMIT: usize = 10_000;
/// Agents with a label of their own in `marathon_agent_tasks`.
pub const DEFAULT_AGENT_LIMIT: usize = 5_000;
/// Everyday operational detail without per-event noise.
pub const DEFAULT_LOG_LEVEL: LogLevel = LogLevel::Info;
/// Human-readable unless a log pipeline asks for JSON.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;

/// Below this a slow but healthy stream would be torn down between keep-alives.
pub const MIN_IDLE_TIMEOUT: Duration = Duration::from_secs(1);
/// The first reconnect delay; a lower cap would make backoff pointless.
pub const MIN_BACKOFF_MAX: Duration = Duration::from_millis(100);
/// Anything faster than this is polling, not resyncing.
pub const MIN_RESYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Smaller limits would skip ordinary status updates.
pub const MIN_MAX_EVENT_BYTES: usize = 1024;
/// Paths the exporter serves itself, which the telemetry path must not shadow.
pub const RESERVED_PATHS: [&str; 3] = ["/", "/healthz", "/readyz"];
/// Environment variable that gives the basic-auth password directly.
pub const PASSWORD_ENV: &str = "MARATHON_PASSWORD";

/// Log verbosity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    #[value(alias = "warning")]
    Warn,
    Error,
}

impl LogLevel {
    /// The level as a `tracing` filter directive.
    pub fn as_filter(&self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (tracing's own format).
    Text,
    /// `key=value` pairs: `ts`, `level`, `target`, `message`, then the event's fields.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Validated settings. Each field's doc line is its `--help` line; Debug never shows secrets.
#[derive(Args, Clone)]
pub struct Config {
    /// Marathon instance; repeat or comma-separate for several, the exporter follows the leader
    #[arg(long = "marathon.url", value_name = "URL", value_delimiter = ',')]
    #[arg(default_value = DEFAULT_MARATHON_URL)]
    #[arg(value_parser = parse_marathon_url, help_heading = "Marathon")]
    pub marathon_urls: Vec<Url>,
    /// User for HTTP basic auth
    #[arg(long = "marathon.username", value_name = "USER")]
    #[arg(value_parser = parse_username, help_heading = "Marathon")]
    pub username: Option<String>,
    /// Basic auth password, read from this file (or given as MARATHON_PASSWORD)
    #[arg(long = "marathon.password-file", value_name = "PATH")]
    #[arg(value_parser = parse_password_file, help_heading = "Marathon")]
    pub password: Option<Secret>,
    /// File holding a DC/OS token, re-read before every connect
    #[arg(long = "marathon.token-file", value_name = "PATH")]
    #[arg(help_heading = "Marathon")]
    pub token_file: Option<PathBuf>,
    /// DC/OS service-account credentials (JSON: uid, private_key, login_endpoint); the exporter
    /// logs in itself and renews the token
    #[arg(long = "marathon.dcos-credentials-file", value_name = "PATH")]
    #[arg(help_heading = "Marathon")]
    pub dcos_credentials_file: Option<PathBuf>,
    /// CA bundle for Marathon's TLS certificate [default: system roots]
    #[arg(long = "marathon.ca-file", value_name = "PATH")]
    #[arg(help_heading = "Marathon")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM), used with --marathon.client-key-file
    #[arg(long = "marathon.client-cert-file", value_name = "PATH")]
    #[arg(requires = "client_key_file", help_heading = "Marathon")]
    pub client_cert_file: Option<PathBuf>,
    /// Client certificate key (PEM), used with --marathon.client-cert-file
    #[arg(long = "marathon.client-key-file", value_name = "PATH")]
    #[arg(requires = "client_cert_file", help_heading = "Marathon")]
    pub client_key_file: Option<PathBuf>,
    /// Skip verifying Marathon's TLS certificate (unsafe)
    #[arg(long = "marathon.insecure-skip-verify", value_name = "BOOL")]
    #[arg(action = ArgAction::Set, num_args = 0..=1, require_equals = true)]
    #[arg(default_value_t = false, default_missing_value = "true")]
    #[arg(value_parser = BoolishValueParser::new(), help_heading = "Marathon")]
    pub insecure_skip_verify: bool,

    /// host:port to serve metrics on
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    #[arg(default_value = DEFAULT_LISTEN_ADDRESS)]
    #[arg(value_parser = parse_listen_address, help_heading = "Web")]
    pub listen_address: String,
    /// Path that serves the metrics
    #[arg(long = "web.telemetry-path", value_name = "PATH")]
    #[arg(default_value = DEFAULT_TELEMETRY_PATH)]
    #[arg(value_parser = parse_telemetry_path, help_heading = "Web")]
    pub telemetry_path: String,
    /// TLS and basic auth for our endpoints (exporter-toolkit web-config format)
    #[arg(long = "web.config.file", value_name = "PATH", help_heading = "Web")]
    pub web_config_file: Option<PathBuf>,

    /// Reconnect when the event stream is silent this long
    #[arg(long = "stream.idle-timeout", value_name = "DURATION")]
    #[arg(default_value = "30s")]
    #[arg(value_parser = duration_at_least(MIN_IDLE_TIMEOUT))]
    #[arg(help_heading = "Stream")]
    pub idle_timeout: Duration,
    /// Larger events are skipped and counted
    #[arg(long = "stream.max-event-bytes", value_name = "SIZE")]
    #[arg(default_value = "8MiB", value_parser = parse_max_event_bytes)]
    #[arg(help_heading = "Stream")]
    pub max_event_bytes: usize,
    /// Cap of the reconnect backoff
    #[arg(long = "stream.backoff-max", value_name = "DURATION")]
    #[arg(default_value = "10s")]
    #[arg(value_parser = duration_at_least(MIN_BACKOFF_MAX))]
    #[arg(help_heading = "Stream")]
    pub backoff_max: Duration,
    /// How often a full snapshot is compared with the tracked state
    #[arg(long = "resync.interval", value_name = "DURATION")]
    #[arg(default_value = "5m")]
    #[arg(value_parser = duration_at_least(MIN_RESYNC_INTERVAL))]
    #[arg(help_heading = "Stream")]
    pub resync_interval: Duration,
    /// A task missing from a snapshot is removed this long after it, unless its event comes first
    #[arg(long = "resync.removal-delay", value_name = "DURATION")]
    #[arg(default_value = "2s", value_parser = any_duration)]
    #[arg(help_heading = "Stream")]
    pub removal_delay: Duration,
    /// Larger /v2/tasks, /v2/apps or /v2/pods/::status bodies fail the resync
    #[arg(long = "resync.max-bytes", value_name = "SIZE")]
    #[arg(default_value = "1GiB", value_parser = parse_max_snapshot_bytes)]
    #[arg(help_heading = "Stream")]
    pub max_snapshot_bytes: usize,

    /// Unreachable time before a task counts as inactive, for apps with no known strategy
    #[arg(long = "unreachable.default-inactive-after", value_name = "DURATION")]
    #[arg(default_value = "0s", value_parser = any_duration)]
    #[arg(help_heading = "Rules")]
    pub default_inactive_after: Duration,
    /// Unreachable time before a task is expunged, for apps with no known strategy
    #[arg(long = "unreachable.default-expunge-after", value_name = "DURATION")]
    #[arg(default_value = "15m", value_parser = any_duration)]
    #[arg(help_heading = "Rules")]
    pub default_expunge_after: Duration,
    /// Wait for the lost task's instance_changed_event (or another status) before it is resolved
    #[arg(long = "lost.resolve-timeout", value_name = "DURATION")]
    #[arg(default_value = "5s", value_parser = any_duration)]
    #[arg(help_heading = "Rules")]
    pub lost_resolve_timeout: Duration,
    /// How long finished tasks are remembered
    #[arg(long = "tombstone.ttl", value_name = "DURATION")]
    #[arg(default_value = "15m", value_parser = any_duration)]
    #[arg(help_heading = "Rules")]
    pub tombstone_ttl: Duration,
    /// Series of a deleted app are dropped after this
    #[arg(long = "app.retention", value_name = "DURATION")]
    #[arg(default_value = "10m", value_parser = any_duration)]
    #[arg(help_heading = "Rules")]
    pub app_retention: Duration,
    /// Apps beyond this many are aggregated under app="__other__"
    #[arg(long = "app.limit", value_name = "N")]
    #[arg(default_value_t = DEFAULT_APP_LIMIT)]
    #[arg(value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    #[arg(help_heading = "Rules")]
    pub app_limit: usize,
    /// Marathon app and pod label keys exported on marathon_app_labels (comma-separated; * for all)
    #[arg(long = "app.label-allowlist", value_name = "KEYS", default_value = "")]
    #[arg(help_heading = "Rules")]
    pub app_label_allowlist: String,
    /// Agents beyond this many are aggregated under agent="__other__"
    #[arg(long = "agent.limit", value_name = "N")]
    #[arg(default_value_t = DEFAULT_AGENT_LIMIT)]
    #[arg(value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    #[arg(help_heading = "Rules")]
    pub agent_limit: usize,

    /// Log verbosity
    #[arg(long = "log.level", value_name = "LEVEL", value_enum)]
    #[arg(ignore_case = true, default_value_t = DEFAULT_LOG_LEVEL)]
    #[arg(help_heading = "Logging")]
    pub log_level: LogLevel,
    /// Log line format
    #[arg(long = "log.format", value_name = "FORMAT", value_enum)]
    #[arg(ignore_case = true, default_value_t = DEFAULT_LOG_FORMAT)]
    #[arg(help_heading = "Logging")]
    pub log_format: LogFormat,
}

impl Config {
    /// The defaults, with the given Marathon URL and an ephemeral loopback listen address.
    pub fn for_tests(marathon_url: Url) -> Config {
        let argv = ["marathon-task-exporter", "--web.listen-address=127.0.0.1:0"];
        let cli = Cli::try_parse_validated_from_env(argv, |_| None);
        let mut config = cli.expect("the built-in defaults are valid").config;
        config.marathon_urls = vec![marathon_url];
        config
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<&str> = self.marathon_urls.iter().map(Url::as_str).collect();
        f.debug_struct("Config")
            .field("marathon_urls", &urls)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("token_file", &self.token_file)
            .field("dcos_credentials_file", &self.dcos_credentials_file)
            .field("ca_file", &self.ca_file)
            .field("client_cert_file", &self.client_cert_file)
            .field("client_key_file", &self.client_key_file)
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .field("listen_address", &self.listen_address)
            .field("telemetry_path", &self.telemetry_path)
            .field("web_config_file", &self.web_config_file)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("backoff_max", &self.backoff_max)
            .field("resync_interval", &self.resync_interval)
            .field("removal_delay", &self.removal_delay)
            .field("max_snapshot_bytes", &self.max_snapshot_bytes)
            .field("default_inactive_after", &self.default_inactive_after)
            .field("default_expunge_after", &self.default_expunge_after)
            .field("lost_resolve_timeout", &self.lost_resolve_timeout)
            .field("tombstone_ttl", &self.tombstone_ttl)
            .field("app_retention", &self.app_retention)
            .field("app_limit", &self.app_limit)
            .field("app_label_allowlist", &self.app_label_allowlist)
            .field("agent_limit", &self.agent_limit)
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .finish()
    }
}
