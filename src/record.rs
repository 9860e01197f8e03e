//! `record --output FILE`: a Marathon's event stream and snapshots written to a recording (see
//! [`crate::recording`]) for `replay`. It connects the way the exporter does (the same flags,
//! credentials, TLS, `event_type` filter and leader redirects), stores every chunk as read with its
//! local time, and takes a snapshot of `/v2/tasks` and `/v2/apps` after every (re)connect and every
//! `--resync.interval`, stamped with Marathon's clock as read from the events so far.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::client::{MarathonClient, SNAPSHOT_TIMEOUT, endpoint, origin};
use crate::config::{Config, RecordArgs};
use crate::marathon::events::{SUBSCRIBED, decode};
use crate::recording::RecordingWriter;
use crate::sse::{Decoder, Frame};
use crate::state::{MarathonClock, Millis};
use crate::stream::Backoff;

/// Redirects followed for one connection (a standby names the leader: one is normal).
const MAX_REDIRECTS: usize = 5;

/// The recording and Marathon's clock as the recorded events tell it, shared by the stream and
/// snapshot loops.
struct Shared {
    writer: Mutex<RecordingWriter>,
    clock: Mutex<MarathonClock>,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    chunks: usize,
    bytes: usize,
    snapshots: usize,
}

impl Shared {
    fn writer(&self) -> MutexGuard<'_, RecordingWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn clock(&self) -> MutexGuard<'_, MarathonClock> {
        self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Records until `shutdown` completes or `--duration` passes; the file then ends with its end record.
pub async fn run(
    config: Config,
    args: RecordArgs,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = Arc::new(MarathonClient::new(&config)?);
    let source = client.urls().first().map(origin).unwrap_or_default();
    let writer = RecordingWriter::create(&args.output, &source, false)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.output.display()))?;
    let local = writer.local();
    let shared = Arc::new(Shared {
        clock: Mutex::new(MarathonClock::new(crate::clock::wall_millis(), local)),
        writer: Mutex::new(writer),
        counts: Mutex::new(Counts::default()),
    });
    tracing::info!(marathon = %source, output = %args.output.display(), "recording; stop with ctrl-c");
    let cancel = CancellationToken::new();
    let (trigger_tx, trigger_rx) = mpsc::channel(1);
    let stream = tokio::spawn(stream_loop(
        Arc::clone(&client),
        Arc::clone(&shared),
        config.idle_timeout,
        config.backoff_max,
        config.max_event_bytes,
        trigger_tx,
        cancel.clone(),
    ));
    let snapshots = tokio::spawn(snapshot_loop(
        client,
        Arc::clone(&shared),
        config.resync_interval,
        config.backoff_max,
        trigger_rx,
        cancel.clone(),
    ));
    let limit = async {
        match args.duration {
            Some(d) => sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = shutdown => {}
        _ = limit => {}
    }
    cancel.cancel();
    let _ = stream.await;
    let _ = snapshots.await;
    shared.writer().finish();
    let counts = shared.counts();
    tracing::info!(
        output = %args.output.display(),
        chunks = counts.chunks,
        bytes = counts.bytes,
        snapshots = counts.snapshots,
        "recording finished"
    );
    Ok(())
}

/// Connects, records chunks until the stream ends, reconnects with backoff.
async fn stream_loop(
    client: Arc<MarathonClient>,
    shared: Arc<Shared>,
    idle_timeout: Duration,
    backoff_max: Duration,
    max_event_bytes: usize,
    snapshot: mpsc::Sender<()>,
    cancel: CancellationToken,
) {
    let mut backoff = Backoff::new(backoff_max);
    let mut attempt = 0usize;
    while !cancel.is_cancelled() {
        let base = &client.urls()[attempt % client.urls().len()];
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            r = connect(&client, base) => r,
        };
        match connected {
            Ok((mut response, leader)) => {
                tracing::info!(%leader, "event stream connected");
                shared.writer().connected(&leader);
                let _ = snapshot.try_send(());
                let mut decoder = Decoder::new(max_event_bytes);
                let started = tokio::time::Instant::now();
                loop {
                    let chunk = tokio::select! {
                        _ = cancel.cancelled() => return,
                        r = timeout(idle_timeout, response.chunk()) => r,
                    };
                    match chunk {
                        Ok(Ok(Some(bytes))) => record_chunk(&shared, &mut decoder, &bytes),
                        Ok(Ok(None)) => {
                            tracing::warn!("Marathon closed the event stream; reconnecting");
                            break;
                        }
                        Ok(Err(error)) => {
                            tracing::warn!(error = %error.without_url(), "event stream failed; reconnecting");
                            break;
                        }
                        Err(_) => {
                            tracing::warn!(?idle_timeout, "event stream silent; reconnecting");
                            break;
                        }
                    }
                }
                shared.writer().disconnected();
                if started.elapsed() >= crate::stream::BACKOFF_RESET_AFTER {
                    backoff.reset();
                }
            }
            Err(error) => {
                attempt += 1;
                tracing::warn!(%error, "cannot open Marathon's event stream; retrying with backoff");
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = sleep(backoff.next_delay(fastrand::f64())) => {}
        }
    }
}

/// Writes a chunk, and moves the recording's Marathon clock with the timestamps of its events.
fn record_chunk(shared: &Shared, decoder: &mut Decoder, bytes: &[u8]) {
    let local = {
        let mut writer = shared.writer();
        writer.chunk(bytes);
        writer.local()
    };
    {
        let mut counts = shared.counts();
        counts.chunks += 1;
        counts.bytes += bytes.len();
    }
    let mut clock = shared.clock();
    decoder.feed(bytes, &mut |frame| {
        if let Frame::Event(data) = frame {
            if let Some(timestamp) = decode(data).ok().and_then(|e| e.timestamp()) {
                clock.observe(timestamp, local);
            }
        }
    });
}

/// Opens `/v2/events` at `base`, following redirects; returns the response and the leader's name.
async fn connect(
    client: &MarathonClient,
    base: &Url,
) -> Result<(reqwest::Response, String), String> {
    let mut url = endpoint(base, "v2/events");
    {
        let mut query = url.query_pairs_mut();
        for event_type in SUBSCRIBED {
            query.append_pair("event_type", event_type);
        }
    }
    let mut with_auth = true;
    for _ in 0..=MAX_REDIRECTS {
        let response = client
            .get(&url, with_auth)
            .map_err(|e| e.to_string())?
            .header(ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| format!("{}: {}", origin(&url), e.without_url()))?;
        let status = response.status();
        if status.is_redirection() {
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| {
                    format!(
                        "HTTP {status} without a usable Location from {}",
                        origin(&url)
                    )
                })?;
            // Credentials go to configured hosts and to the leader a configured host names.
            with_auth = with_auth && client.is_configured_host(&url);
            url = next;
            let _ = url.set_username("");
            let _ = url.set_password(None);
            continue;
        }
        if !status.is_success() {
            return Err(format!("HTTP {} from {}", status.as_u16(), origin(&url)));
        }
        let is_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        if !is_stream {
            return Err(format!(
                "{} answered 200 without text/event-stream",
                origin(&url)
            ));
        }
        let leader = response
            .headers()
            .get("x-marathon-leader")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Url::parse(v).ok())
            .map_or_else(|| origin(&url), |u| origin(&u));
        return Ok((response, leader));
    }
    Err(format!("too many redirects from {}", origin(base)))
}

/// A snapshot per trigger (each connect) and per `interval`, retried with backoff.
async fn snapshot_loop(
    client: Arc<MarathonClient>,
    shared: Arc<Shared>,
    interval: Duration,
    backoff_max: Duration,
    mut trigger: mpsc::Receiver<()>,
    cancel: CancellationToken,
) {
    let period = interval.max(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            t = trigger.recv() => if t.is_none() { return },
            _ = sleep(period) => {}
        }
        let mut backoff = Backoff::new(backoff_max);
        loop {
            let requested_at: Millis = {
                let local = shared.writer().local();
                shared.clock().now(local)
            };
            let taken = tokio::select! {
                _ = cancel.cancelled() => return,
                r = take_snapshot(&client) => r,
            };
            match taken {
                Ok((tasks, apps)) => {
                    shared.writer().snapshot(requested_at, &tasks, &apps);
                    shared.counts().snapshots += 1;
                    break;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot take a snapshot of Marathon; retrying with backoff");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = sleep(backoff.next_delay(fastrand::f64())) => {}
                    }
                }
            }
        }
    }
}

/// The raw `/v2/tasks` and `/v2/apps` bodies from the first configured instance that answers.
async fn take_snapshot(client: &MarathonClient) -> Result<(Vec<u8>, Vec<u8>), String> {
    let mut last = String::new();
    for base in client.urls() {
        let tasks = fetch(client, &endpoint(base, "v2/tasks")).await;
        let apps = match &tasks {
            Ok(_) => fetch(client, &endpoint(base, "v2/apps")).await,
            Err(e) => Err(e.clone()),
        };
        match (tasks, apps) {
            (Ok(tasks), Ok(apps)) => return Ok((tasks, apps)),
            (Err(e), _) | (_, Err(e)) => last = e,
        }
    }
    Err(last)
}

async fn fetch(client: &MarathonClient, url: &Url) -> Result<Vec<u8>, String> {
    let shown = format!("{}{}", origin(url), url.path());
    let response = client
        .get(url, true)
        .map_err(|e| e.to_string())?
        .header(ACCEPT, "application/json")
        .timeout(SNAPSHOT_TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("{shown}: {}", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {} from {shown}", response.status().as_u16()));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{shown}: {}", e.without_url()))?;
    Ok(body.to_vec())
}
