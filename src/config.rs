//! Command-line flags and environment variables, parsed and validated into a [`Config`].

pub use crate::secret::{Secret, read_secret_file};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::{BoolishValueParser, RangedU64ValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use url::Url;

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

/// `--version`: the version and the source revision (`build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("MARATHON_TASK_EXPORTER_REVISION"),
    ")"
);
const ABOUT: &str =
    "Prometheus exporter that follows Marathon's event stream and exports task lifecycle metrics";
const LONG_ABOUT: &str = "\
Prometheus exporter that follows Marathon's event stream and exports task lifecycle metrics.

Every flag can also be set through the environment variable shown beside it; \
the command line wins. Durations take units such as 500ms, 30s, 15m, 1h or 1h30m. \
Sizes take B, KB, MB, GB (1000-based) or KiB, MiB, GiB (1024-based).";

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

/// Parses a byte size: a plain integer, or one followed by `B`, `KB`, `MB`, `GB` (1000-based)
/// or `KiB`, `MiB`, `GiB` (1024-based); units are case-insensitive.
pub fn parse_byte_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!("'{text}' is not a size such as 8MiB or 1048576"));
    }
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit '{other}' (use B, KB, MB, GB, KiB, MiB or GiB)"
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .and_then(|bytes| usize::try_from(bytes).ok())
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// Parsed and validated command line.
#[derive(Clone, Debug)]
pub struct Cli {
    pub config: Config,
    /// `None`: the bare command, which runs the exporter.
    pub command: Option<Command>,
}

/// What clap parses; [`Cli::try_parse_validated_from`] adds the environment and cross-checks.
/// The exporter's flags are global: they may also follow a subcommand.
#[derive(Parser)]
#[command(name = "marathon-task-exporter", version = VERSION, about = ABOUT, long_about = LONG_ABOUT)]
struct RawCli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

/// The subcommands; without one the binary runs the exporter.
#[derive(Subcommand, Clone, Debug)]
pub enum Command {
    /// Run the exporter against an embedded simulated Marathon on loopback (no Marathon needed)
    Demo(DemoArgs),
    /// Record a Marathon's snapshots and raw event stream to a file, for `replay`
    Record(RecordArgs),
    /// Feed a recording through the rules offline and print a per-app summary
    Replay(ReplayArgs),
}

/// Flags of `demo` (besides the exporter's own, such as `--web.listen-address`).
#[derive(Args, Clone, Debug)]
pub struct DemoArgs {
    /// Seed of the simulation: the same seed gives the same sequence of events [default: random]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Simulated seconds per real second
    #[arg(long, value_name = "X", default_value = "10", value_parser = parse_speed)]
    pub speed: f64,
    /// Also record what the exporter receives to FILE (the format of `record`; see `replay`)
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// Flags of `record` (besides the `--marathon.*` connection flags).
#[derive(Args, Clone, Debug)]
pub struct RecordArgs {
    /// File to write the recording to (replaced if it exists)
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Stop after this long [default: at ctrl-c or SIGTERM]
    #[arg(long, value_name = "DURATION", value_parser = duration_at_least(Duration::from_millis(1)))]
    pub duration: Option<Duration>,
}

/// Flags of `replay` (besides the rule flags, such as `--lost.resolve-timeout`).
#[derive(Args, Clone, Debug)]
pub struct ReplayArgs {
    /// A recording made by `record` or `demo --record`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Also print the final text exposition, as /metrics would have served it
    #[arg(long)]
    pub exposition: bool,
}

/// Fastest `--speed`: beyond this the simulation is just a burst of events.
pub const MAX_DEMO_SPEED: f64 = 10_000.0;

fn parse_speed(text: &str) -> Result<f64, String> {
    let speed: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number such as 10 or 0.5"))?;
    if !(speed.is_finite() && speed > 0.0 && speed <= MAX_DEMO_SPEED) {
        return Err(format!("must be above 0 and at most {MAX_DEMO_SPEED}"));
    }
    Ok(speed)
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

impl Cli {
    /// The clap command used for parsing and `--help`; each flag's help names its variable.
    pub fn command() -> clap::Command {
        RawCli::command().mut_args(|arg| match env_var_of(&arg) {
            Some(name) => {
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                arg.help(format!("{help} [env: {name}]")).global(true)
            }
            None => arg.global(true),
        })
    }

    /// Parses argv and the environment and validates; on error returns a clap::Error whose
    /// exit code is 2 (or 0 for `--help` and `--version`).
    pub fn try_parse_validated_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Self::try_parse_validated_from_env(args, |name| std::env::var_os(name))
    }

    /// Like [`Cli::try_parse_validated_from`], with environment lookups going through `env`.
    /// Empty variables count as unset; a flag on the command line wins over its variable.
    pub fn try_parse_validated_from_env<I, T, F>(args: I, env: F) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
        F: Fn(&str) -> Option<OsString>,
    {
        let env = |name: &str| env(name).filter(|value| !value.is_empty());
        let mut cmd = Self::command();
        let mut argv: Vec<OsString> = args.into_iter().map(Into::into).collect();
        if argv.is_empty() {
            argv.push(cmd.get_name().into());
        }
        // The command line alone first: it shows which flags the environment may still set,
        // and answers --help and --version. Variables then become flags after argv[0].
        let given = match cmd.try_get_matches_from_mut(argv.clone()) {
            Ok(given) => given,
            Err(err) if err.kind() == ErrorKind::DisplayHelp => {
                return Err(help_for_subcommand(&argv).unwrap_or(err));
            }
            Err(err) => return Err(annotate(err, &HashMap::new())),
        };
        let mut from_env = HashMap::new();
        let mut injected = Vec::new();
        for arg in cmd.get_arguments() {
            let (Some(long), Some(name)) = (arg.get_long(), env_var_of(arg)) else {
                continue;
            };
            let on_command_line =
                given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine);
            if let (false, Some(value)) = (on_command_line, env(&name)) {
                let mut flag = OsString::from(format!("--{long}="));
                flag.push(value);
                injected.push(flag);
                from_env.insert(long.to_owned(), name);
            }
        }
        if let Some(refusal) = unused_flag(&cmd, &given) {
            return Err(cmd.error(ErrorKind::ArgumentConflict, refusal));
        }
        argv.splice(1..1, injected);
        let matches = cmd
            .try_get_matches_from_mut(argv)
            .map_err(|err| annotate(err, &from_env))?;
        let RawCli {
            mut config,
            command,
        } = RawCli::from_arg_matches(&matches).map_err(|err| err.format(&mut cmd))?;
        // The demo is for the machine it runs on: loopback unless an address is asked for.
        let listen_default =
            matches.value_source("listen_address") == Some(ValueSource::DefaultValue);
        if listen_default && matches!(command, Some(Command::Demo(_))) {
            config.listen_address = DEMO_LISTEN_ADDRESS.to_owned();
        }

        if let Err((kind, flag, message)) = config.cross_check(env(PASSWORD_ENV)) {
            let note = match from_env.get(flag) {
                Some(name) => format!(" (--{flag} came from environment variable {name})"),
                None => String::new(),
            };
            return Err(cmd.error(kind, format!("{message}{note}")));
        }
        Ok(Cli { config, command })
    }
}

/// The flag groups (`--help` headings) each subcommand uses; the bare command uses them all.
/// `replay` also reads `--stream.max-event-bytes` (the events it replays are bounded the same).
const SUBCOMMAND_FLAGS: [(&str, &[&str]); 3] = [
    ("demo", &["Web", "Stream", "Rules", "Logging"]),
    ("record", &["Marathon", "Stream", "Logging"]),
    ("replay", &["Rules", "Logging"]),
];

/// For `SUBCOMMAND ... --help` (or `-h`): that subcommand's own help.
fn help_for_subcommand(argv: &[OsString]) -> Option<clap::Error> {
    let words: Vec<&str> = argv.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let name = words
        .iter()
        .find_map(|w| SUBCOMMAND_FLAGS.iter().map(|(n, _)| *n).find(|n| n == w))?;
    let long = words.contains(&"--help");
    subcommand_help(name, long)
}

/// Whether subcommand `name` uses the exporter's flag `arg` (by its help heading).
fn subcommand_uses(name: &str, arg: &clap::Arg) -> bool {
    let Some((_, groups)) = SUBCOMMAND_FLAGS.iter().find(|(n, _)| *n == name) else {
        return true;
    };
    let heading = arg.get_help_heading().unwrap_or("");
    groups.contains(&heading)
        || (name == "replay" && arg.get_long() == Some("stream.max-event-bytes"))
}

/// A flag given on the command line that the chosen subcommand does not use, as a refusal.
/// (Environment variables are not refused: one environment serves every subcommand.)
fn unused_flag(cmd: &clap::Command, given: &clap::ArgMatches) -> Option<String> {
    let (name, _) = given.subcommand()?;
    cmd.get_arguments()
        .filter(|arg| given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .find(|arg| !subcommand_uses(name, arg))
        .map(|arg| {
            format!(
                "{name} does not use --{}; see `marathon-task-exporter {name} --help`",
                arg.get_long().unwrap_or_default()
            )
        })
}

/// The help of subcommand `name` (long with `--help`, short with `-h`), listing only the
/// exporter's flags it uses: clap's own help answer (stdout, exit 0) from the command with the
/// flags the subcommand does not use made local to the bare command.
fn subcommand_help(name: &str, long: bool) -> Option<clap::Error> {
    let cmd = Cli::command().mut_args(|arg| {
        if env_var_of(&arg).is_some() && !subcommand_uses(name, &arg) {
            arg.global(false)
        } else {
            arg
        }
    });
    let flag = if long { "--help" } else { "-h" };
    let bin = cmd.get_name().to_owned();
    cmd.try_get_matches_from([bin.as_str(), name, flag]).err()
}

impl Config {
    /// Checks spanning several flags; also takes the password from `MARATHON_PASSWORD`.
    /// An error carries the message and the flag it is mainly about.
    fn cross_check(
        &mut self,
        password_env: Option<OsString>,
    ) -> Result<(), (ErrorKind, &'static str, String)> {
        const PASSWORD_FILE: &str = "marathon.password-file";
        let mut urls = Vec::with_capacity(self.marathon_urls.len());
        for url in self.marathon_urls.drain(..) {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        self.marathon_urls = urls;
        match (&self.password, password_env) {
            (Some(_), Some(_)) => {
                let message = format!("--{PASSWORD_FILE} and {PASSWORD_ENV} cannot be combined");
                return Err((ErrorKind::ArgumentConflict, PASSWORD_FILE, message));
            }
            (None, Some(value)) => {
                let password = value.into_string().map_err(|_| {
                    let message = format!("{PASSWORD_ENV} is not valid UTF-8");
                    (ErrorKind::InvalidUtf8, PASSWORD_FILE, message)
                })?;
                self.password = Some(Secret::new(password));
            }
            _ => {}
        }
        if self.password.is_some() && self.username.is_none() {
            let message = format!(
                "a password (--{PASSWORD_FILE} or {PASSWORD_ENV}) needs --marathon.username"
            );
            return Err((ErrorKind::MissingRequiredArgument, PASSWORD_FILE, message));
        }
        if self.dcos_credentials_file.is_some() {
            const DCOS: &str = "marathon.dcos-credentials-file";
            let other = if self.token_file.is_some() {
                Some("--marathon.token-file")
            } else if self.username.is_some() {
                Some("--marathon.username")
            } else {
                None
            };
            if let Some(other) = other {
                let message = format!(
                    "--{DCOS} and {other} cannot be combined: the service account logs in itself"
                );
                return Err((ErrorKind::ArgumentConflict, DCOS, message));
            }
        }
        if self.default_inactive_after > self.default_expunge_after {
            let flag = "unreachable.default-inactive-after";
            let message = format!(
                "invalid value for '--{flag}': {} is longer than \
                 --unreachable.default-expunge-after ({})",
                humantime::format_duration(self.default_inactive_after),
                humantime::format_duration(self.default_expunge_after),
            );
            return Err((ErrorKind::ValueValidation, flag, message));
        }
        Ok(())
    }
}

/// The environment variable of a flag: its long name in upper case, `.` and `-` made `_`
/// (`--stream.idle-timeout` reads `STREAM_IDLE_TIMEOUT`).
fn env_var_of(arg: &clap::Arg) -> Option<String> {
    if matches!(arg.get_id().as_str(), "help" | "version") {
        return None;
    }
    let long = arg.get_long()?;
    Some(long.to_ascii_uppercase().replace(['.', '-'], "_"))
}

/// Hides URLs that carry credentials and, when an environment variable supplied the
/// offending value, says which.
fn annotate(mut err: clap::Error, from_env: &HashMap<String, String>) -> clap::Error {
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return err;
    };
    let long = arg
        .trim_start_matches('-')
        .split(['=', '[', ' '])
        .next()
        .unwrap_or_default()
        .to_owned();
    let value = err.get(ContextKind::InvalidValue);
    let has_userinfo = matches!(value, Some(ContextValue::String(v)) if v.contains('@'));
    if long == "marathon.url" && has_userinfo {
        err.insert(
            ContextKind::InvalidValue,
            ContextValue::String("<redacted>".to_owned()),
        );
    }
    if let Some(name) = from_env.get(&long) {
        let tip = format!("the value came from the environment variable {name}");
        err.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![tip.into()]),
        );
    }
    err
}

/// A duration such as `500ms`, `30s` or `1h30m`, at least `min`.
fn duration_at_least(min: Duration) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |text| {
        let value = humantime::parse_duration(text.trim()).map_err(|e| e.to_string())?;
        if value < min {
            return Err(format!(
                "must be at least {}",
                humantime::format_duration(min)
            ));
        }
        Ok(value)
    }
}

fn any_duration(text: &str) -> Result<Duration, String> {
    duration_at_least(Duration::ZERO)(text)
}

fn parse_max_event_bytes(text: &str) -> Result<usize, String> {
    let bytes = parse_byte_size(text)?;
    if bytes < MIN_MAX_EVENT_BYTES {
        return Err(format!("must be at least 1KiB, got {bytes} bytes"));
    }
    Ok(bytes)
}

fn parse_max_snapshot_bytes(text: &str) -> Result<usize, String> {
    let bytes = parse_byte_size(text)?;
    if bytes < MIN_MAX_EVENT_BYTES {
        return Err(format!("must be at least 1KiB, got {bytes} bytes"));
    }
    Ok(bytes)
}

fn parse_username(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(':') {
        return Err("must be non-empty and contain no ':'".to_owned());
    }
    Ok(text.to_owned())
}

fn parse_password_file(path: &str) -> Result<Secret, String> {
    read_secret_file(Path::new(path)).map_err(|err| format!("cannot read it: {err}"))
}

/// One Marathon base URL, with trailing `/` stripped from its path. Errors never echo a URL
/// that may hold credentials.
fn parse_marathon_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    let mut url = Url::parse(text).map_err(|err| format!("not a valid URL: {err}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "credentials in the URL are not allowed (they would end up in logs); \
             use --marathon.username with --marathon.password-file or MARATHON_PASSWORD"
                .to_owned(),
        );
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme must be http or https".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL must not have a query or fragment".to_owned());
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// A socket address (`0.0.0.0:9472`, `[::]:9472`) or `hostname:port`.
fn parse_listen_address(addr: &str) -> Result<String, String> {
    if addr.parse::<SocketAddr>().is_ok() {
        return Ok(addr.to_owned());
    }
    let bad = || "expected host:port, e.g. 0.0.0.0:9472, [::]:9472 or localhost:9472".to_owned();
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && !host.contains([':', '[', ']', '/', '@'])
        && !host.chars().any(char::is_whitespace);
    if !host_ok || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(addr.to_owned())
}

fn parse_telemetry_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("must start with '/'".to_owned());
    }
    if RESERVED_PATHS.contains(&path) {
        return Err(format!("is reserved ({} are)", RESERVED_PATHS.join(", ")));
    }
    if path.contains(['?', '#']) || path.chars().any(char::is_whitespace) {
        return Err("must be a plain path, without query, fragment or spaces".to_owned());
    }
    Ok(path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    const BIN: &str = "marathon-task-exporter";

    fn try_parse(args: &[&str], env: &[(&str, &str)]) -> Result<Config, clap::Error> {
        let env: HashMap<String, OsString> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        let argv = std::iter::once(BIN).chain(args.iter().copied());
        Cli::try_parse_validated_from_env(argv, |name| env.get(name).cloned()).map(|cli| cli.config)
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

    fn parse_cli(args: &[&str], env: &[(&str, &str)]) -> Result<Cli, clap::Error> {
        let env: HashMap<String, OsString> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        let argv = std::iter::once(BIN).chain(args.iter().copied());
        Cli::try_parse_validated_from_env(argv, |name| env.get(name).cloned())
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
                ],
                &["--marathon.url", "--marathon.token-file"],
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
                ],
                &["--seed", "--exposition"],
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
}
