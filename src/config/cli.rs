//! The command line as a whole: the bare command and its subcommands, `--help` and `--version`,
//! the environment applied (`env`), the checks across flags (`checks`), and which flag groups
//! each subcommand uses (others are refused, and left out of its `--help`).

use std::collections::HashMap;
use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use super::env::{annotate, env_var_of};
use super::{Config, DEMO_LISTEN_ADDRESS, PASSWORD_ENV};
pub use crate::cmd::demo::{DEMO_LABELS, DemoArgs, MAX_DEMO_SPEED};
pub use crate::cmd::record::RecordArgs;
pub use crate::cmd::replay::ReplayArgs;

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
        if let Some((name, refusal)) = unused_flag(&cmd, &given) {
            // Its usage line is the subcommand's, not the bare command's.
            let mut sub = cmd.find_subcommand(name).cloned().unwrap_or(cmd);
            return Err(sub.error(ErrorKind::ArgumentConflict, refusal));
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

/// A flag given on the command line that the chosen subcommand does not use: the subcommand
/// and the refusal. (Environment variables are not refused: one environment serves every
/// subcommand.)
fn unused_flag<'a>(cmd: &clap::Command, given: &'a clap::ArgMatches) -> Option<(&'a str, String)> {
    let (name, _) = given.subcommand()?;
    cmd.get_arguments()
        .filter(|arg| given.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine))
        .find(|arg| !subcommand_uses(name, arg))
        .map(|arg| {
            let refusal = format!(
                "{name} does not use --{}; see `marathon-task-exporter {name} --help`",
                arg.get_long().unwrap_or_default()
            );
            (name, refusal)
        })
}

/// The help of subcommand `name` (long with `--help`, short with `-h`), listing only the
/// exporter's flags it uses: clap's own help answer (stdout, exit 0) from the command with the
/// flags the subcommand does not use made local to the bare command.
fn subcommand_help(name: &str, long: bool) -> Option<clap::Error> {
    let cmd = Cli::command().mut_args(|arg| {
        if env_var_of(&arg).is_some() && !subcommand_uses(name, &arg) {
            return arg.global(false);
        }
        // The demo's own defaults, which it applies when the flag is left out.
        match (name, arg.get_id().as_str()) {
            ("demo", "listen_address") => arg.default_value(DEMO_LISTEN_ADDRESS),
            ("demo", "app_label_allowlist") => arg.default_value(DEMO_LABELS),
            _ => arg,
        }
    });
    let flag = if long { "--help" } else { "-h" };
    let bin = cmd.get_name().to_owned();
    cmd.try_get_matches_from([bin.as_str(), name, flag]).err()
}
