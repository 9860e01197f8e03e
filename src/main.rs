//! The binary: parse the configuration, set up logging, run the exporter (or a subcommand) until
//! SIGTERM or ctrl-c.

use std::path::Path;

use marathon_task_exporter::StartError;
use marathon_task_exporter::client::ClientError;
use marathon_task_exporter::cmd::{demo, record, replay};
use marathon_task_exporter::config::{Cli, Command, Config, LogFormat};
use marathon_task_exporter::web::WebConfig;

fn main() -> anyhow::Result<()> {
    let cli = Cli::try_parse_validated_from(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let serves_http = matches!(cli.command, None | Some(Command::Demo(_)));
    if let (true, Some(path)) = (serves_http, &cli.config.web_config_file) {
        // Checked before anything starts, so a bad file is a usage error like a bad flag value.
        if let Err(error) = WebConfig::load(path) {
            exit_web_config(path, &error);
        }
    }
    init_tracing(&cli.config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = match cli.command {
        None => runtime
            .block_on(marathon_task_exporter::run(
                cli.config,
                shutdown_signal(&runtime),
            ))
            .map_err(anyhow::Error::from),
        Some(Command::Demo(args)) => {
            runtime.block_on(demo::run(cli.config, args, shutdown_signal(&runtime)))
        }
        Some(Command::Record(args)) => {
            runtime.block_on(record::run(cli.config, args, shutdown_signal(&runtime)))
        }
        Some(Command::Replay(args)) => replay::run(&cli.config, &args),
    };
    if let Err(error) = result {
        // The file may have changed since it was checked above.
        match error.downcast_ref::<StartError>() {
            Some(StartError::WebConfig { path, source }) => exit_web_config(path, source),
            // A file named by a flag that cannot serve is a bad flag value too.
            Some(StartError::Client(
                e @ (ClientError::Credentials { .. } | ClientError::File { .. }),
            )) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
            _ => {}
        }
        eprintln!("error: {}", describe(&error));
        std::process::exit(1);
    }
    Ok(())
}

/// The error and its causes on one line, each said once: a message that already quotes its cause
/// is not followed by it again.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// One line naming the flag, exit status 2 (as for any bad flag value).
fn exit_web_config(path: &Path, error: &dyn std::fmt::Display) -> ! {
    eprintln!("error: --web.config.file {}: {error}", path.display());
    std::process::exit(2);
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::new(config.log_level.as_filter());
    // Colour only for a person at a terminal, and never when `NO_COLOR` is set (no-color.org).
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
        LogFormat::Logfmt => tracing_logfmt::builder()
            .with_span_name(false)
            .with_span_path(false)
            .subscriber_builder()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                config.log_level.as_filter(),
            ))
            .with_writer(std::io::stderr)
            .init(),
    }
}

/// Completes on SIGTERM or ctrl-c. The handlers are installed now, before anything starts, so a
/// signal that comes while the exporter is starting stops it cleanly instead of killing it.
fn shutdown_signal(
    runtime: &tokio::runtime::Runtime,
) -> impl std::future::Future<Output = ()> + use<> {
    let _entered = runtime.enter();
    #[cfg(unix)]
    let (term, interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: Option<tokio::signal::unix::Signal>| async move {
                match signal {
                    Some(mut signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {}
                _ = wait(interrupt) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
