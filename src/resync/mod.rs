//! I/O: takes snapshots of `/v2/tasks`, `/v2/apps` and `/v2/pods/::status` after every
//! (re)connect and every `--resync.interval`, from the Marathon the event stream reads and only
//! while a connection is up, stamped on that connection's clock (RULES.md, Time and Snapshot), and
//! hands them to the writer with the connection they were taken for. It never touches the map.

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, interval_at, sleep};
use tokio_util::sync::CancellationToken;

use crate::client::MarathonClient;
use crate::client::{Backoff, origin};
pub use crate::client::{Bodies, ResyncError, fetch_bodies};
use crate::clock::SharedClock;
use crate::connection::{Connection, Watcher};
use crate::health::Readiness;
use crate::metrics::SelfMetrics;
use crate::state::{Millis, Snapshot};

/// A snapshot and the stream connection it was taken for: the writer applies it only while that
/// connection is the current one.
#[derive(Debug)]
pub struct Taken {
    pub connection: u64,
    pub snapshot: Snapshot,
}

pub struct Resync {
    pub client: Arc<MarathonClient>,
    pub clock: Arc<SharedClock>,
    /// The stream's current connection.
    pub connection: Watcher,
    pub interval: Duration,
    pub backoff_max: Duration,
    /// `--resync.max-bytes`: the largest body read.
    pub max_bytes: usize,
    pub metrics: SelfMetrics,
    pub readiness: Arc<Readiness>,
}

impl Resync {
    /// Runs until `cancel`: a snapshot per trigger and per interval, each retried with backoff
    /// until one is taken whole from the current connection's leader.
    pub async fn run(
        self,
        mut trigger: mpsc::Receiver<()>,
        tx: mpsc::Sender<Taken>,
        cancel: CancellationToken,
    ) {
        let period = self.interval.max(Duration::from_secs(1));
        let mut ticker = interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The reason of the last failure logged: a condition is logged when it starts or changes.
        let mut failing: Option<String> = None;
        // The leader and moment of the last snapshot taken (see `no_earlier`).
        let mut last: Option<(String, Millis)> = None;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                t = trigger.recv() => if t.is_none() { return },
                _ = ticker.tick() => {}
            }
            let mut backoff = Backoff::new(self.backoff_max);
            loop {
                let Some(connection) = self.connected(&cancel).await else {
                    return;
                };
                let mut watch = self.connection.clone();
                let result = tokio::select! {
                    _ = cancel.cancelled() => return,
                    r = self.snapshot(&connection) => r,
                    _ = replaced(&mut watch, connection.id) => Err(ResyncError::Overtaken),
                };
                let current = self.connection.borrow().as_ref().map(|c| c.id);
                match result.and_then(|s| {
                    (current == Some(connection.id))
                        .then_some(s)
                        .ok_or(ResyncError::Overtaken)
                }) {
                    Ok(mut snapshot) => {
                        no_earlier(&mut last, &connection, &mut snapshot);
                        self.metrics.resyncs_success.inc();
                        if failing.take().is_some() {
                            tracing::info!("snapshots of Marathon work again");
                        }
                        let taken = Taken {
                            connection: connection.id,
                            snapshot,
                        };
                        if tx.send(taken).await.is_err() {
                            return;
                        }
                        break;
                    }
                    Err(error) => {
                        self.metrics.resyncs_failure.inc();
                        let message = error.to_string();
                        if failing.as_ref() != Some(&message) {
                            tracing::warn!(error = %message, "cannot take a snapshot of Marathon; retrying with backoff");
                            failing = Some(message.clone());
                        }
                        self.readiness.set_problem(Some(message));
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

    /// The current connection, once there is one; `None` on shutdown.
    async fn connected(&self, cancel: &CancellationToken) -> Option<Connection> {
        let mut watch = self.connection.clone();
        tokio::select! {
            _ = cancel.cancelled() => None,
            c = watch.wait_for(Option::is_some) => c.ok().and_then(|c| (*c).clone()),
        }
    }

    /// One snapshot for `connection`, from its Marathon, stamped on its connection clock.
    pub async fn snapshot(&self, connection: &Connection) -> Result<Snapshot, ResyncError> {
        let requested_at = self.requested_at(connection);
        let bodies = fetch_bodies(&self.client, connection, self.max_bytes).await?;
        let snapshot = bodies.parse(requested_at, &connection.base)?;
        tracing::debug!(
            tasks = snapshot.tasks.len(),
            apps = snapshot.apps.len(),
            pods = snapshot.pods.as_ref().map(Vec::len),
            "snapshot taken"
        );
        Ok(snapshot)
    }

    /// Now on `connection`'s clock: its latest event's timestamp plus the time since, or before
    /// its first event its answer's `Date` plus the time since. An answer without `Date` (never
    /// Marathon's) leaves the engine's clock.
    pub fn requested_at(&self, connection: &Connection) -> Millis {
        self.clock
            .connection_now(connection.id)
            .or_else(|| connection.date_now())
            .unwrap_or_else(|| self.clock.now())
    }
}

/// A snapshot from the same leader as the last one was requested no earlier than it: one
/// Marathon, one clock. A new connection's clock read from its `Date` (whole seconds) can be up to
/// a second behind the moments the previous connection showed; without this, a snapshot taken
/// right after a reconnect could look older than the one before it and its findings be ignored.
fn no_earlier(
    last: &mut Option<(String, Millis)>,
    connection: &Connection,
    snapshot: &mut Snapshot,
) {
    let leader = connection
        .leader
        .clone()
        .unwrap_or_else(|| origin(&connection.base));
    if let Some((previous, at)) = last.as_ref()
        && *previous == leader
    {
        snapshot.requested_at = snapshot.requested_at.max(*at);
    }
    *last = Some((leader, snapshot.requested_at));
}

/// Completes once the current connection is no longer `id`.
async fn replaced(watch: &mut Watcher, id: u64) {
    let changed = watch
        .wait_for(|c| c.as_ref().map(|c| c.id) != Some(id))
        .await
        .is_ok();
    if !changed {
        // The stream is gone: shutdown ends the resync.
        std::future::pending::<()>().await;
    }
}
