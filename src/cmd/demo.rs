//! `demo`: the exporter against an embedded, simulated Marathon on loopback, so the product can be
//! seen working without a cluster. The simulated Marathon is [`FakeMarathon`] (the real wire format
//! and endpoints: `/v2/events`, `/v2/tasks`, `/v2/apps`), driven by a seeded [`Scenario`] of about
//! 20 apps and 500 tasks whose timeline loops forever (see `incidents.rs`). Simulated time runs
//! `--speed` times faster than real time and starts at the real current time; event timestamps are
//! simulated Marathon time.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep};
use tokio_util::sync::CancellationToken;

use clap::Args;
use marathon_sim::Scenario;
use marathon_sim::fake::{FakeMarathon, FakeOptions, payload};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::recording::Recorder;
use crate::state::Millis;
use crate::{Exporter, StartOptions};

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

/// Real time between two advances of the simulation.
const STEP: Duration = Duration::from_millis(50);
/// How long the demo waits for the exporter to be ready before the simulation starts anyway.
const READY_WAIT: Duration = Duration::from_secs(10);
/// Marathon's keep-alive period (an empty line on the stream).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// How to run a demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// The same seed gives the same sequence of events.
    pub seed: u64,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// Instances per app relative to the full cluster (1.0: about 500 tasks).
    pub scale: f64,
    /// Record what the exporter receives to this file.
    pub record: Option<PathBuf>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 1,
            speed: 10.0,
            scale: 1.0,
            record: None,
        }
    }
}

/// A running demo: the simulated Marathon, the simulation driving it, and the exporter.
pub struct Demo {
    fake: Arc<FakeMarathon>,
    exporter: Exporter,
    telemetry_path: String,
    cancel: CancellationToken,
    driver: Option<JoinHandle<()>>,
    pushed: Arc<AtomicU64>,
}

impl Demo {
    /// Starts the simulated Marathon, then the exporter (`config`, pointed at it, serving with
    /// its `--web.config.file` if any), then, once the exporter is ready, the simulation.
    pub async fn start(config: Config, options: DemoOptions) -> anyhow::Result<Demo> {
        let fake = FakeMarathon::start_with(FakeOptions {
            heartbeat: Some(HEARTBEAT),
            ..FakeOptions::default()
        })
        .await
        .context("cannot start the simulated Marathon")?;
        let mut scenario = Scenario::new(options.seed, payload::now_ms(), options.scale);
        serve(&fake, &scenario);
        scenario.take_dirty();

        let mut config = config;
        config.marathon_urls = vec![url::Url::parse(&fake.url())?];
        if config.app_label_allowlist.trim().is_empty() {
            config.app_label_allowlist = DEMO_LABELS.to_owned();
        }
        let telemetry_path = config.telemetry_path.clone();
        let recorder: Option<Box<dyn crate::writer::Observer>> = match &options.record {
            Some(path) => Some(Box::new(
                Recorder::create(path, &fake.url())
                    .with_context(|| format!("cannot create {}", path.display()))?,
            )),
            None => None,
        };
        let start_options = StartOptions {
            recorder,
            ..StartOptions::default()
        };
        let exporter = Exporter::start_with(config, start_options).await?;
        let deadline = Instant::now() + READY_WAIT;
        while !exporter.readiness().is_ready() && Instant::now() < deadline {
            sleep(Duration::from_millis(10)).await;
        }
        if !exporter.readiness().is_ready() {
            tracing::warn!("the exporter is not ready yet; starting the simulation anyway");
        }
        let fake = Arc::new(fake);
        let cancel = CancellationToken::new();
        let pushed = Arc::new(AtomicU64::new(0));
        let driver = tokio::spawn(drive(
            scenario,
            Arc::clone(&fake),
            options.speed,
            Arc::clone(&pushed),
            cancel.clone(),
        ));
        Ok(Demo {
            fake,
            exporter,
            telemetry_path,
            cancel,
            driver: Some(driver),
            pushed,
        })
    }

    /// Where the exporter serves its metrics, as a URL a browser on this host can open
    /// (`https` when `--web.config.file` enables TLS).
    pub fn metrics_url(&self) -> String {
        format!(
            "{}://{}{}",
            self.exporter.scheme(),
            reachable(self.exporter.local_addr()),
            self.telemetry_path
        )
    }

    /// The simulated Marathon's base URL.
    pub fn marathon_url(&self) -> String {
        self.fake.url()
    }

    pub fn exporter(&self) -> &Exporter {
        &self.exporter
    }

    /// Events pushed to the stream so far.
    pub fn events_pushed(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed)
    }

    /// Stops the simulation: no event is pushed after this returns.
    pub async fn stop_simulation(&mut self) {
        self.cancel.cancel();
        if let Some(driver) = self.driver.take() {
            let _ = driver.await;
        }
    }

    /// Stops everything (a recording is complete once this returns); returns the exporter's
    /// metrics as they were at the end, still renderable.
    pub async fn shutdown(mut self) -> Metrics {
        self.stop_simulation().await;
        let metrics = self.exporter.metrics().clone();
        self.exporter.shutdown().await;
        if let Ok(fake) = Arc::try_unwrap(self.fake) {
            fake.shutdown().await;
        }
        metrics
    }
}

/// Advances the simulation with real time times `speed` and pushes what happens to the fake.
async fn drive(
    mut scenario: Scenario,
    fake: Arc<FakeMarathon>,
    speed: f64,
    pushed: Arc<AtomicU64>,
    cancel: CancellationToken,
) {
    let origin = Instant::now();
    let start = scenario.now();
    let mut every = interval(STEP);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = every.tick() => {}
        }
        let elapsed = origin.elapsed().as_secs_f64() * 1000.0 * speed;
        let events = scenario.advance_to(start + elapsed as Millis);
        for note in scenario.take_notes() {
            tracing::info!(target: "demo", "{note}");
        }
        if scenario.take_dirty() {
            serve(&fake, &scenario);
        }
        for event in &events {
            fake.push_event(event);
        }
        pushed.fetch_add(events.len() as u64, Ordering::Relaxed);
    }
}

/// `0.0.0.0:9472` → `127.0.0.1:9472` (and `[::]` → `[::1]`): an address to open, not to bind.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// The simulated Marathon serves the scenario's state now: tasks, apps, pods and deployments.
fn serve(fake: &FakeMarathon, scenario: &Scenario) {
    fake.set_tasks(scenario.tasks_body());
    fake.set_apps(scenario.apps_body());
    fake.set_pods(Some(scenario.pods_body()));
    fake.set_deployments(Some(scenario.deployments_body()));
}

/// Marathon labels the demo exports unless `--app.label-allowlist` names others: the simulated
/// apps carry both.
pub const DEMO_LABELS: &str = "team,tier";

/// The `demo` subcommand: runs until `shutdown` completes.
pub async fn run(
    config: Config,
    args: DemoArgs,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..) % 1_000_000);
    let options = DemoOptions {
        seed,
        speed: args.speed,
        scale: 1.0,
        record: args.record.clone(),
    };
    let demo = Demo::start(config, options).await?;
    println!(
        "Demo running: metrics at {} (simulated Marathon at {}); ctrl-c to stop",
        demo.metrics_url(),
        demo.marathon_url()
    );
    println!(
        "Simulating 20 apps and about 500 tasks at {}x speed, seed {seed} (--seed {seed} repeats this run)",
        args.speed
    );
    if let Some(path) = &args.record {
        println!("Recording to {}", path.display());
    }
    shutdown.await;
    demo.shutdown().await;
    if let Some(path) = &args.record {
        println!(
            "Recording complete: marathon-task-exporter replay {}",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_shown_as_loopback() {
        let v4: SocketAddr = "0.0.0.0:9472".parse().unwrap();
        assert_eq!(reachable(v4).to_string(), "127.0.0.1:9472");
        let v6: SocketAddr = "[::]:9472".parse().unwrap();
        assert_eq!(reachable(v6).to_string(), "[::1]:9472");
        let own: SocketAddr = "10.1.2.3:80".parse().unwrap();
        assert_eq!(reachable(own), own);
    }
}
