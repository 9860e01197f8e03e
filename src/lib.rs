//! marathon-task-exporter follows Marathon's event stream (`/v2/events`), keeps a per-task state
//! map under Marathon's task-handling rules, and exports Prometheus metrics for transitions,
//! replacements, expunges and time unreachable.
//!
//! # Layout
//! - [`config`]: flags and environment, validated. Pure.
//! - [`state`]: the rules engine (RULES.md): vocabulary (`types`), the inputs it accepts
//!   (`input`), the tables of each status's effect (`engine/table.rs`), the map and transitions
//!   (`engine`), status updates and instance events (`engine/status.rs`), timers, LOST, the
//!   operators' state, snapshot diffs (`snapshot`: their input), and the store scrapes read. Pure:
//!   no I/O, `now` passed in.
//! - [`sse`]: incremental SSE decoder for Jetty's framing. Pure.
//! - [`marathon`]: Marathon's wire formats: events, `/v2/tasks`, `/v2/apps`, `/v2/pods/::status`,
//!   ids, timestamps. Pure.
//! - [`pipeline`]: bytes → frames → events → rules, shared by the live writer and replays.
//! - [`client`]: the one layer that talks to Marathon: TLS, credentials (the DC/OS
//!   service-account login too), opening the event stream with its redirects, leader-bound and
//!   size-bounded snapshot reads, backoff.
//! - [`stream`]: I/O: reading the event stream, reconnecting; the channel to the writer, bounded
//!   in messages and bytes.
//! - [`connection`]: the stream's current connection as published to the resync, and the leader
//!   check of snapshot answers.
//! - [`resync`]: when to take a snapshot (after each connect, every `--resync.interval`), parsed
//!   and stamped on the connection clock, for the writer.
//! - [`writer`]: the single task that owns the map; a [`writer::Observer`] sees its inputs (a
//!   recording for `demo --record` and `record`), so it knows nothing of the recording format.
//! - [`live`]: the stream, the resync and the writer wired together over one client: what
//!   [`Exporter`] serves and what `record` records.
//! - [`metrics`]: every family declared once; per-app counters kept as atomics and written straight
//!   to text; per-app gauges computed at scrape time.
//! - [`http`]: `/metrics`, `/healthz`, `/readyz`, `/`.
//! - [`web`]: `--web.config.file` (TLS, basic auth, headers) and serving the endpoints with
//!   their limits (timeouts, header size, concurrent scrapes) and graceful shutdown.
//! - [`clock`], [`health`]: Marathon's clock as read live; readiness and the status page's facts.
//! - [`secret`]: secrets that never show in Debug or Display, and secret files.
//! - [`recording`]: the recording file format (snapshots and raw stream with local times).
//! - [`cmd`]: the subcommands, each with its arguments: `demo` (the exporter against the simulated
//!   Marathon of the `marathon-sim` crate), `record` (a Marathon's snapshots and stream to a
//!   recording), `replay` (a recording through the rules offline, with a summary).
//!
//! The simulated Marathon (a fake server and a seeded cluster that knows the truth) is the
//! workspace crate `marathon-sim` (`crates/marathon-sim`), used by `demo` and the tests.
//!
//! Arrows point inward: `stream`, `resync`, `writer`, `metrics` and `http` use `state`;
//! `state` and `sse` use nothing else of the crate, `config` only the subcommands' arguments.

pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod connection;
pub mod health;
pub mod http;
pub mod live;
pub mod marathon;
pub mod metrics;
pub mod pipeline;
pub mod recording;
pub mod resync;
pub mod secret;
pub mod sse;
pub mod state;
pub mod stream;
pub mod web;
pub mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::client::ClientError;
use crate::config::Config;
use crate::health::Readiness;
use crate::metrics::Metrics;
use crate::state::{Millis, Settings, Strategy};

/// Chunks read from the stream that may wait for the writer (each is one or more socket reads,
/// coalesced); their bytes are bounded too, by [`stream::STREAM_CHANNEL_BYTES`].
pub const STREAM_CHANNEL: usize = 1024;

/// Why the exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {address} (--web.listen-address): {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("--web.config.file {}: {source}", path.display())]
    WebConfig {
        path: PathBuf,
        source: web::WebConfigError,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// The rules' settings from the configuration.
pub fn settings(config: &Config) -> Settings {
    let ms = |d: std::time::Duration| Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX);
    Settings {
        default_strategy: Strategy::enabled(
            ms(config.default_inactive_after),
            ms(config.default_expunge_after),
        ),
        lost_resolve_timeout: ms(config.lost_resolve_timeout),
        tombstone_ttl: ms(config.tombstone_ttl),
        app_retention: ms(config.app_retention),
        app_limit: config.app_limit,
        removal_delay: ms(config.removal_delay),
        agent_limit: config.agent_limit,
    }
}

/// Optional parts of [`Exporter::start_with`]; the default is a plain exporter.
#[derive(Default)]
pub struct StartOptions {
    /// Records every chunk, snapshot and timer tick the writer applies (`demo --record`).
    pub recorder: Option<Box<dyn writer::Observer>>,
    /// Limits of the HTTP server (timeouts, header size, concurrent scrapes).
    pub limits: web::Limits,
}

/// A running exporter: its HTTP server, stream, resync and writer tasks.
pub struct Exporter {
    addr: SocketAddr,
    tls: bool,
    metrics: Metrics,
    readiness: Arc<Readiness>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Exporter {
    /// Binds the listen address and starts every task. The web config file, if any, is loaded
    /// before anything starts.
    pub async fn start(config: Config) -> Result<Exporter, StartError> {
        Exporter::start_with(config, StartOptions::default()).await
    }

    /// [`Exporter::start`] with options.
    pub async fn start_with(config: Config, options: StartOptions) -> Result<Exporter, StartError> {
        let listener = TcpListener::bind(&config.listen_address)
            .await
            .map_err(|source| StartError::Listen {
                address: config.listen_address.clone(),
                source,
            })?;
        Exporter::start_on_with(config, listener, options).await
    }

    /// Starts every task, serving HTTP on `listener`.
    pub async fn start_on(config: Config, listener: TcpListener) -> Result<Exporter, StartError> {
        Exporter::start_on_with(config, listener, StartOptions::default()).await
    }

    /// [`Exporter::start_on`] with options.
    pub async fn start_on_with(
        config: Config,
        listener: TcpListener,
        options: StartOptions,
    ) -> Result<Exporter, StartError> {
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            address: config.listen_address.clone(),
            source,
        })?;
        let web = match &config.web_config_file {
            Some(path) => web::WebConfig::load(path).map_err(|source| StartError::WebConfig {
                path: path.clone(),
                source,
            })?,
            None => web::WebConfig::default(),
        };
        let live::Live {
            metrics,
            readiness,
            cancel,
            mut tasks,
        } = live::Live::start(&config, options.recorder)?;
        let router = web.protect(http::router(
            metrics.clone(),
            Arc::clone(&readiness),
            &config.telemetry_path,
            web::ScrapeLimiter::new(options.limits.max_concurrent_scrapes),
        ));
        tasks.push(tokio::spawn(web::serve::serve(
            listener,
            router,
            web.tls(),
            options.limits,
            cancel.clone(),
        )));
        tracing::info!(
            address = %addr,
            web_tls = web.tls_enabled(),
            web_basic_auth = web.basic_auth_enabled(),
            urls = ?urls_for_log(&config),
            "marathon-task-exporter started"
        );
        Ok(Exporter {
            addr,
            tls: web.tls_enabled(),
            metrics,
            readiness,
            cancel,
            tasks,
        })
    }

    /// Where `/metrics` is served.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https` when the web config enables TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Stops every task; in-flight scrapes finish first.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn urls_for_log(config: &Config) -> Vec<String> {
    config.marathon_urls.iter().map(client::origin).collect()
}

/// Runs the exporter until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let exporter = Exporter::start(config).await?;
    shutdown.await;
    tracing::info!("shutting down");
    exporter.shutdown().await;
    Ok(())
}
