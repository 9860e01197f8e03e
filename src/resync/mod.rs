//! I/O: takes snapshots of `/v2/tasks` and `/v2/apps` after every (re)connect and every
//! `--resync.interval`, stamped with the Marathon-clock moment they were requested, and hands them
//! to the writer. It never touches the map itself.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::ACCEPT;
use tokio::sync::mpsc;
use tokio::time::{Instant, interval_at, sleep};
use tokio_util::sync::CancellationToken;

use crate::client::{MarathonClient, SNAPSHOT_TIMEOUT, endpoint, origin};
use crate::clock::SharedClock;
use crate::health::Readiness;
use crate::marathon::api::{parse_apps, parse_tasks};
use crate::metrics::SelfMetrics;
use crate::state::Snapshot;
use crate::stream::Backoff;

/// Why a snapshot could not be taken; names no credential.
#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    #[error("HTTP {status} from {url}")]
    Status { status: u16, url: String },
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url}: {reason}")]
    Body { url: String, reason: String },
    #[error("{0}")]
    Client(#[from] crate::client::ClientError),
}

pub struct Resync {
    pub client: Arc<MarathonClient>,
    pub clock: Arc<SharedClock>,
    pub interval: Duration,
    pub backoff_max: Duration,
    pub metrics: SelfMetrics,
    pub readiness: Arc<Readiness>,
}

impl Resync {
    /// Runs until `cancel`: a snapshot per trigger and per interval, retried with backoff.
    pub async fn run(
        self,
        mut trigger: mpsc::Receiver<()>,
        tx: mpsc::Sender<Snapshot>,
        cancel: CancellationToken,
    ) {
        let period = self.interval.max(Duration::from_secs(1));
        let mut ticker = interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                t = trigger.recv() => if t.is_none() { return },
                _ = ticker.tick() => {}
            }
            let mut backoff = Backoff::new(self.backoff_max);
            loop {
                let result = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = self.snapshot() => r,
                };
                match result {
                    Ok(snapshot) => {
                        self.metrics.resyncs_success.inc();
                        if failing {
                            tracing::info!("snapshots of Marathon work again");
                            failing = false;
                        }
                        if tx.send(snapshot).await.is_err() {
                            return;
                        }
                        break;
                    }
                    Err(error) => {
                        self.metrics.resyncs_failure.inc();
                        if !failing {
                            tracing::warn!(error = %error, "cannot take a snapshot of Marathon; retrying with backoff");
                            failing = true;
                        }
                        self.readiness.set_problem(Some(error.to_string()));
                        tokio::select! {
                            _ = cancel.cancelled() => return,
                            _ = sleep(backoff.next_delay(fastrand::f64())) => {}
                        }
                    }
                }
            }
            ticker.reset();
        }
    }

    /// One snapshot from the first configured instance that answers (a standby proxies to the leader).
    pub async fn snapshot(&self) -> Result<Snapshot, ResyncError> {
        let requested_at = self.clock.now();
        let mut last = None;
        for base in self.client.urls() {
            match self.snapshot_from(base, requested_at).await {
                Ok(snapshot) => return Ok(snapshot),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one configured URL"))
    }

    async fn snapshot_from(
        &self,
        base: &url::Url,
        requested_at: i64,
    ) -> Result<Snapshot, ResyncError> {
        let tasks = self.fetch(&endpoint(base, "v2/tasks")).await?;
        let apps = self.fetch(&endpoint(base, "v2/apps")).await?;
        let tasks = parse_tasks(&tasks).map_err(|e| ResyncError::Body {
            url: format!("{}/v2/tasks", origin(base)),
            reason: e.to_string(),
        })?;
        if tasks.skipped > 0 {
            tracing::debug!(
                skipped = tasks.skipped,
                "tasks in /v2/tasks that could not be used"
            );
        }
        let apps = parse_apps(&apps).map_err(|e| ResyncError::Body {
            url: format!("{}/v2/apps", origin(base)),
            reason: e.to_string(),
        })?;
        Ok(Snapshot {
            requested_at,
            tasks: tasks.tasks,
            apps,
            pods: None,
        })
    }

    async fn fetch(&self, url: &url::Url) -> Result<bytes::Bytes, ResyncError> {
        let shown = format!("{}{}", origin(url), url.path());
        let response = self
            .client
            .get(url, true)?
            .header(ACCEPT, "application/json")
            .timeout(SNAPSHOT_TIMEOUT)
            .send()
            .await
            .map_err(|e| ResyncError::Transport {
                url: shown.clone(),
                reason: e.without_url().to_string(),
            })?;
        if !response.status().is_success() {
            return Err(ResyncError::Status {
                status: response.status().as_u16(),
                url: shown,
            });
        }
        response.bytes().await.map_err(|e| ResyncError::Transport {
            url: shown,
            reason: e.without_url().to_string(),
        })
    }
}
