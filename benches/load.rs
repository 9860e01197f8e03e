//! Load benchmark over loopback HTTP: the real exporter, started in-process on a multi-threaded
//! runtime, follows a fast fake Marathon (a raw TCP server in this file speaking Jetty's SSE framing)
//! and is measured from the outside.
//!
//! 1. Ingest: the fake's stream carries a pre-encoded lifecycle mix (`support::lifecycle_at`: 20,000
//!    tasks over 500 apps, about 175,000 events, stamped in the recent past) in 256 KiB writes. The
//!    snapshot is empty, which is the state the workload starts from (every task is staged by an
//!    event). The fake holds the events until `/readyz` answers 200, so the snapshot is applied
//!    before the first event; the clock runs from that moment to `events_decoded()` reaching every
//!    event (polled each millisecond), fresh fake and exporter per run, median of the runs. Between
//!    runs, the baseline (`support::baseline_decode`: split the SSE lines, serde_json into three
//!    borrowed fields) decodes the same bytes; median of as many runs.
//! 2. Scrapes while ingesting: the fake's `/v2/tasks` holds 200,000 running tasks over 5,000 apps,
//!    `/v2/apps` the apps; once seeded, the stream delivers a steady churn (`support::Churn`, 5,000
//!    events/s) while `/metrics` is scraped over HTTP back to back: p50/p99/max latency, body size,
//!    then a few in-process `Metrics::render()` calls under the same churn (the scrape without
//!    HTTP), and resident memory (from /proc/self/statm) before the exporter started, once seeded and
//!    after the scrapes, as a rough per-task figure (it includes what the allocator kept of the
//!    snapshot's transient buffers).
//!
//! Every stream stays open after its last event (with Jetty's heartbeat), and each run asserts the
//! exporter connected exactly once, decoded exactly the events sent, and served `marathon_app_tasks`.
//!
//! Full sizes, release build: `cargo bench --bench load`.
//! Small sizes with the same asserts, in a few seconds: `cargo test --benches` (or
//! `cargo test --bench load`), which runs the bench without `--bench`.

#[path = "support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use marathon_sim::fake::payload;
use marathon_task_exporter::Exporter;
use marathon_task_exporter::config::Config;
use marathon_task_exporter::metrics::Metrics;
use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{MissedTickBehavior, sleep, timeout};
use tokio_util::sync::CancellationToken;
use url::Url;

/// Size of each `write_all` of a burst.
const CHUNK: usize = 256 * 1024;
/// Jetty's heartbeat period on an open stream.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often the churn writes its share of events.
const CHURN_TICK: Duration = Duration::from_millis(10);
/// How often `events_decoded()` is polled.
const POLL: Duration = Duration::from_millis(1);
/// Bounds on every wait: generous, they only turn a hang into a failure.
const REPORT_WITHIN: Duration = Duration::from_secs(60);
const READY_WITHIN: Duration = Duration::from_secs(180);
const DECODED_WITHIN: Duration = Duration::from_secs(180);
const SCRAPES_WITHIN: Duration = Duration::from_secs(900);
/// The longest request head the fake reads.
const MAX_HEAD: usize = 64 * 1024;

struct Sizes {
    ingest_tasks: usize,
    ingest_apps: usize,
    ingest_runs: usize,
    cluster_tasks: usize,
    cluster_apps: usize,
    scrapes: usize,
    /// In-process `Metrics::render()` calls after the scrapes.
    renders: usize,
    churn_per_second: usize,
    /// Churn events the exporter must decode while the scrapes run (more scrapes if need be).
    churn_during_scrapes: u64,
}

const FULL: Sizes = Sizes {
    ingest_tasks: 20_000,
    ingest_apps: 500,
    ingest_runs: 9,
    cluster_tasks: 200_000,
    cluster_apps: 5_000,
    scrapes: 100,
    renders: 20,
    churn_per_second: 5_000,
    churn_during_scrapes: 5_000,
};

/// `cargo test --benches` runs the bench without `--bench`: small sizes, same asserts.
const SHORT: Sizes = Sizes {
    ingest_tasks: 2_300,
    ingest_apps: 50,
    ingest_runs: 3,
    cluster_tasks: 2_000,
    cluster_apps: 50,
    scrapes: 10,
    renders: 3,
    churn_per_second: 5_000,
    churn_during_scrapes: 200,
};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let sizes = if full { FULL } else { SHORT };
    if !full {
        println!(
            "load: a smoke run (small sizes, whatever the build profile): its figures are not the README's; `cargo bench --bench load` measures"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        // `-- ingest` or `-- scrapes` runs one scenario (for profiling).
        let only = |name: &str| {
            !std::env::args().any(|a| a == "ingest" || a == "scrapes")
                || std::env::args().any(|a| a == name)
        };
        if only("ingest") {
            ingest(&sizes, &http).await;
        }
        if only("scrapes") {
            scrapes(&sizes, &http).await;
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Scenario 1: ingest throughput, end to end and baseline.
// ---------------------------------------------------------------------------------------------

async fn ingest(sizes: &Sizes, http: &reqwest::Client) {
    let span_ms = support::MAX_STEPS * i64::try_from(sizes.ingest_tasks).expect("small");
    let workload = support::lifecycle_at(
        sizes.ingest_tasks,
        sizes.ingest_apps,
        7,
        payload::now_ms() - span_ms,
    );
    let events = workload.events;
    let bytes = Bytes::from(workload.bytes);

    let mut end_to_end = Vec::new();
    let mut baseline = Vec::new();
    let mut written = Vec::new();
    let mut to_ready = Vec::new();
    for _ in 0..sizes.ingest_runs {
        let started = Instant::now();
        let decoded = support::baseline_decode(black_box(&bytes));
        baseline.push(started.elapsed());
        assert_eq!(decoded, events, "the baseline decodes every event");

        let run = ingest_run(&bytes, events, http).await;
        end_to_end.push(run.decoded);
        written.push(run.written);
        to_ready.push(run.accept_to_ready);
    }

    let rate = |d: Duration| events as f64 / d.as_secs_f64();
    let e2e = rate(median(&end_to_end));
    let base = rate(median(&baseline));
    let ratio = e2e / base;
    assert!(
        e2e.is_finite() && e2e > 0.0 && base.is_finite() && base > 0.0,
        "rates are finite and positive: {e2e} {base}"
    );
    assert!(ratio.is_finite() && ratio > 0.0, "ratio {ratio}");

    println!(
        "ingest over loopback HTTP: {} events ({} tasks over {} apps), {:.1} MiB, median of {} runs",
        thousands(events as f64),
        thousands(sizes.ingest_tasks as f64),
        thousands(sizes.ingest_apps as f64),
        bytes.len() as f64 / (1024.0 * 1024.0),
        sizes.ingest_runs,
    );
    println!(
        "  end to end: {} events/s; baseline: {} events/s; ratio: {ratio:.2}",
        thousands(e2e),
        thousands(base),
    );
    println!(
        "  per run, ms: end to end {}; baseline {}; last byte written {}; stream accepted to ready {}",
        millis_list(&end_to_end),
        millis_list(&baseline),
        millis_list(&written),
        millis_list(&to_ready),
    );
}

struct IngestRun {
    /// From the fake's go to `events_decoded()` reaching every event.
    decoded: Duration,
    /// From go to the fake's last `write_all` returning.
    written: Duration,
    accept_to_ready: Duration,
}

async fn ingest_run(bytes: &Bytes, events: usize, http: &reqwest::Client) -> IngestRun {
    let feed = Feed::Burst {
        bytes: bytes.clone(),
        events,
    };
    let mut fake = Fake::start(empty("tasks"), empty("apps"), feed).await;
    let exporter = start_exporter(fake.url.clone()).await;
    let accepted = fake.accepted().await;
    let ready = wait_ready(http, exporter.local_addr()).await;

    // Everything Marathon sent: its `event_stream_attached`, then the workload.
    let target = 1 + events as u64;
    let go = Instant::now();
    fake.go();
    let done = wait_decoded(exporter.metrics(), target).await;
    let (written_at, written) = fake.written().await;
    assert_eq!(written, events, "the fake wrote the whole workload");

    exporter.shutdown().await;
    let streams = fake.stop().await;
    assert_eq!(streams, 1, "one stream connection per run (no reconnect)");
    IngestRun {
        decoded: done - go,
        written: written_at.saturating_duration_since(go),
        accept_to_ready: ready.saturating_duration_since(accepted),
    }
}

// ---------------------------------------------------------------------------------------------
// Scenario 2: scrapes of a large cluster while it churns.
// ---------------------------------------------------------------------------------------------

async fn scrapes(sizes: &Sizes, http: &reqwest::Client) {
    let tasks = sizes.cluster_tasks;
    let apps = sizes.cluster_apps;
    let staged_at = payload::now_ms() - 3_600_000;
    let tasks_body = Bytes::from(support::cluster_tasks_body(tasks, apps, staged_at));
    let apps_body = Bytes::from(support::cluster_apps_body(tasks, apps));
    let snapshot_bytes = tasks_body.len();

    let rss_before = rss_bytes();
    let feed = Feed::Churn {
        tasks,
        apps,
        per_second: sizes.churn_per_second,
    };
    let mut fake = Fake::start(tasks_body, apps_body, feed).await;
    let exporter = start_exporter(fake.url.clone()).await;
    let accepted = fake.accepted().await;
    let ready = wait_ready(http, exporter.local_addr()).await;
    let rss_seeded = rss_bytes();

    let url = format!("http://{}/metrics", exporter.local_addr());
    let (_, seeded) = scrape(http, &url).await;
    assert_eq!(
        sample(&seeded, "marathon_exporter_tracked_tasks"),
        Some(tasks as f64),
        "every task of the snapshot is tracked"
    );

    let decoded_before = exporter.metrics().events_decoded();
    let churn_started = Instant::now();
    fake.go();
    let deadline = Instant::now() + SCRAPES_WITHIN;
    let mut times = Vec::with_capacity(sizes.scrapes);
    let mut body_bytes = 0;
    let mut series = 0;
    while times.len() < sizes.scrapes
        || exporter.metrics().events_decoded() < decoded_before + sizes.churn_during_scrapes
    {
        assert!(
            Instant::now() < deadline,
            "{} scrapes and {} churn events not done within {SCRAPES_WITHIN:?}",
            sizes.scrapes,
            sizes.churn_during_scrapes
        );
        let (elapsed, body) = scrape(http, &url).await;
        assert!(
            body.contains("marathon_app_tasks{"),
            "the scrape holds marathon_app_tasks"
        );
        times.push(elapsed);
        body_bytes = body.len();
        series = body.lines().filter(|l| !l.starts_with('#')).count();
    }
    // The same under the same churn, gzipped (as Prometheus asks by default).
    let mut gzip_times = Vec::with_capacity(sizes.scrapes / 2 + 1);
    let mut gzip_bytes = 0;
    while gzip_times.len() < sizes.scrapes / 2 + 1 {
        let started = Instant::now();
        let response = http
            .get(&url)
            .header(reqwest::header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .expect("/metrics answers");
        assert_eq!(
            response.headers().get(reqwest::header::CONTENT_ENCODING),
            Some(&reqwest::header::HeaderValue::from_static("gzip")),
            "a gzipped scrape"
        );
        let body = response.bytes().await.expect("/metrics body");
        gzip_times.push(started.elapsed());
        gzip_bytes = body.len();
    }
    // And in OpenMetrics, plain and gzipped (what Prometheus asks for by default).
    let mut om_times = Vec::with_capacity(sizes.scrapes / 2 + 1);
    let mut om_gzip_times = Vec::with_capacity(sizes.scrapes / 2 + 1);
    let (mut om_bytes, mut om_gzip_bytes) = (0, 0);
    while om_gzip_times.len() < sizes.scrapes / 2 + 1 {
        for gzip in [false, true] {
            let started = Instant::now();
            let mut request = http.get(&url).header(
                reqwest::header::ACCEPT,
                "application/openmetrics-text;version=1.0.0",
            );
            if gzip {
                request = request.header(reqwest::header::ACCEPT_ENCODING, "gzip");
            }
            let response = request.send().await.expect("/metrics answers");
            let body = response.bytes().await.expect("/metrics body");
            if gzip {
                om_gzip_times.push(started.elapsed());
                om_gzip_bytes = body.len();
            } else {
                om_times.push(started.elapsed());
                assert!(body.ends_with(b"# EOF\n"), "an OpenMetrics scrape");
                om_bytes = body.len();
            }
        }
    }
    // The same render without HTTP, for where the time goes.
    let mut renders = Vec::with_capacity(sizes.renders);
    let mut om_renders = Vec::with_capacity(sizes.renders);
    for _ in 0..sizes.renders {
        let started = Instant::now();
        let text = exporter.metrics().render();
        renders.push(started.elapsed());
        assert!(
            text.contains("marathon_app_tasks{"),
            "render() holds marathon_app_tasks"
        );
        let started = Instant::now();
        let text = exporter.metrics().render_openmetrics();
        om_renders.push(started.elapsed());
        assert!(
            text.ends_with("# EOF\n"),
            "render_openmetrics() ends with # EOF"
        );
    }
    fake.stop_feed();
    let (written_at, churned) = fake.written().await;
    let churn_time = written_at.saturating_duration_since(churn_started);
    wait_decoded(exporter.metrics(), 1 + churned as u64).await;
    let rss_after = rss_bytes();

    exporter.shutdown().await;
    let streams = fake.stop().await;
    assert_eq!(streams, 1, "one stream connection (no reconnect)");

    times.sort();
    gzip_times.sort();
    om_times.sort();
    om_gzip_times.sort();
    renders.sort();
    om_renders.sort();
    println!(
        "scrapes while ingesting: {} running tasks over {} apps (/v2/tasks {:.1} MiB), churn {} events/s",
        thousands(tasks as f64),
        thousands(apps as f64),
        snapshot_bytes as f64 / (1024.0 * 1024.0),
        thousands(sizes.churn_per_second as f64),
    );
    println!(
        "  stream accepted to ready (snapshot fetched, parsed, applied): {} ms",
        ready.saturating_duration_since(accepted).as_millis()
    );
    println!(
        "  {} scrapes: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; body {:.2} MiB, {} samples",
        times.len(),
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().expect("at least one scrape")),
        body_bytes as f64 / (1024.0 * 1024.0),
        thousands(series as f64),
    );
    println!(
        "  {} gzipped scrapes: p50 {:.1} ms, p99 {:.1} ms; body {:.2} MiB ({:.1} × smaller)",
        gzip_times.len(),
        ms(percentile(&gzip_times, 0.50)),
        ms(percentile(&gzip_times, 0.99)),
        gzip_bytes as f64 / (1024.0 * 1024.0),
        body_bytes as f64 / gzip_bytes.max(1) as f64,
    );
    println!(
        "  {} OpenMetrics scrapes: p50 {:.1} ms, p99 {:.1} ms; body {:.2} MiB",
        om_times.len(),
        ms(percentile(&om_times, 0.50)),
        ms(percentile(&om_times, 0.99)),
        om_bytes as f64 / (1024.0 * 1024.0),
    );
    println!(
        "  {} OpenMetrics gzipped scrapes (what Prometheus asks for): p50 {:.1} ms, p99 {:.1} ms; body {:.2} MiB",
        om_gzip_times.len(),
        ms(percentile(&om_gzip_times, 0.50)),
        ms(percentile(&om_gzip_times, 0.99)),
        om_gzip_bytes as f64 / (1024.0 * 1024.0),
    );
    println!(
        "  {} in-process Metrics::render() calls, same churn: p50 {:.1} ms, max {:.1} ms",
        renders.len(),
        ms(percentile(&renders, 0.50)),
        ms(*renders.last().expect("at least one render")),
    );
    println!(
        "  {} in-process Metrics::render_openmetrics() calls: p50 {:.1} ms, max {:.1} ms",
        om_renders.len(),
        ms(percentile(&om_renders, 0.50)),
        ms(*om_renders.last().expect("at least one render")),
    );
    println!(
        "  churn: {} events in {:.2} s ({} events/s), every one decoded",
        thousands(churned as f64),
        churn_time.as_secs_f64(),
        thousands(churned as f64 / churn_time.as_secs_f64().max(1e-9)),
    );
    if let (Some(before), Some(seeded), Some(after)) = (rss_before, rss_seeded, rss_after) {
        let per_task = |rss: u64| rss.saturating_sub(before) as f64 / tasks as f64;
        println!(
            "  resident memory: {} MiB before the exporter, {} MiB seeded ({} bytes per task), {} MiB after the scrapes ({} bytes per task)",
            before >> 20,
            seeded >> 20,
            thousands(per_task(seeded)),
            after >> 20,
            thousands(per_task(after)),
        );
    }
}

async fn scrape(http: &reqwest::Client, url: &str) -> (Duration, String) {
    let started = Instant::now();
    let response = http.get(url).send().await.expect("/metrics answers");
    assert_eq!(response.status(), StatusCode::OK, "/metrics status");
    let body = response.bytes().await.expect("/metrics body");
    let elapsed = started.elapsed();
    let body = String::from_utf8(body.to_vec()).expect("/metrics is UTF-8");
    (elapsed, body)
}

/// The value of the unlabelled sample `name` in a text exposition.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

// ---------------------------------------------------------------------------------------------
// The exporter and the waits on it.
// ---------------------------------------------------------------------------------------------

async fn start_exporter(marathon: Url) -> Exporter {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    Exporter::start_on(Config::for_tests(marathon), listener)
        .await
        .expect("the exporter starts")
}

/// Polls `/readyz` until it answers 200; returns when it did.
async fn wait_ready(http: &reqwest::Client, addr: SocketAddr) -> Instant {
    let url = format!("http://{addr}/readyz");
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        let response = http.get(&url).send().await.expect("/readyz answers");
        if response.status() == StatusCode::OK {
            return Instant::now();
        }
        if Instant::now() >= deadline {
            let reason = response.text().await.unwrap_or_default();
            panic!("not ready within {READY_WITHIN:?}: {}", reason.trim());
        }
        sleep(Duration::from_millis(2)).await;
    }
}

/// Polls `events_decoded()` until it reaches `target`; returns when it did. More than `target`
/// fails: the fake sent exactly that many.
async fn wait_decoded(metrics: &Metrics, target: u64) -> Instant {
    let deadline = Instant::now() + DECODED_WITHIN;
    loop {
        let decoded = metrics.events_decoded();
        if decoded >= target {
            let at = Instant::now();
            assert_eq!(decoded, target, "events decoded vs sent");
            return at;
        }
        assert!(
            Instant::now() < deadline,
            "{decoded} of {target} events decoded within {DECODED_WITHIN:?}"
        );
        sleep(POLL).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The fake Marathon.
// ---------------------------------------------------------------------------------------------

/// What the fake's event stream sends once told to go.
enum Feed {
    /// These bytes, holding `events` events, in `CHUNK`-sized writes as fast as the socket takes them.
    Burst { bytes: Bytes, events: usize },
    /// `support::Churn` on the cluster of `tasks` tasks over `apps` apps, about `per_second` events a
    /// second, until told to stop.
    Churn {
        tasks: usize,
        apps: usize,
        per_second: usize,
    },
}

/// What the stream handler tells the bench.
enum Report {
    /// A stream request was accepted (before the response head was written).
    Accepted(Instant),
    /// The feed is over: when its last write returned, and how many events it wrote.
    Written { at: Instant, events: usize },
}

/// What every connection handler shares.
struct Served {
    tasks: Bytes,
    apps: Bytes,
    feed: Feed,
    reports: mpsc::UnboundedSender<Report>,
    go: watch::Receiver<bool>,
    stop_feed: CancellationToken,
    close: CancellationToken,
    streams: AtomicUsize,
}

/// A fake Marathon on a loopback port: `/v2/events`, `/v2/tasks`, `/v2/apps`.
struct Fake {
    url: Url,
    reports: mpsc::UnboundedReceiver<Report>,
    go: watch::Sender<bool>,
    served: Arc<Served>,
    server: tokio::task::JoinHandle<()>,
}

impl Fake {
    async fn start(tasks: Bytes, apps: Bytes, feed: Feed) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let (go, go_rx) = watch::channel(false);
        let served = Arc::new(Served {
            tasks,
            apps,
            feed,
            reports: reports_tx,
            go: go_rx,
            stop_feed: CancellationToken::new(),
            close: CancellationToken::new(),
            streams: AtomicUsize::new(0),
        });
        let server = tokio::spawn(serve(listener, Arc::clone(&served)));
        Fake {
            url: Url::parse(&format!("http://{addr}")).expect("a URL"),
            reports,
            go,
            served,
            server,
        }
    }

    async fn report(&mut self, what: &str) -> Report {
        timeout(REPORT_WITHIN, self.reports.recv())
            .await
            .unwrap_or_else(|_| panic!("the fake did not report {what} within {REPORT_WITHIN:?}"))
            .expect("the fake is running")
    }

    async fn accepted(&mut self) -> Instant {
        match self.report("an accepted stream").await {
            Report::Accepted(at) => at,
            Report::Written { .. } => panic!("the stream wrote before it was accepted"),
        }
    }

    async fn written(&mut self) -> (Instant, usize) {
        match self.report("the end of its feed").await {
            Report::Written { at, events } => (at, events),
            Report::Accepted(_) => panic!("a second stream was accepted"),
        }
    }

    /// Lets the stream start its feed.
    fn go(&self) {
        self.go.send_replace(true);
    }

    /// Ends a churn feed; the stream stays open.
    fn stop_feed(&self) {
        self.served.stop_feed.cancel();
    }

    /// Closes every connection and stops; returns how many streams were accepted.
    async fn stop(self) -> usize {
        self.served.close.cancel();
        self.server.await.expect("the fake's server task");
        self.served.streams.load(Ordering::Relaxed)
    }
}

async fn serve(listener: TcpListener, served: Arc<Served>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = served.close.cancelled() => break,
            accepted = listener.accept() => {
                let (socket, _) = accepted.expect("accept on loopback");
                connections.spawn(connection(socket, Arc::clone(&served)));
            }
        }
    }
    // Every handler returns once closed (or once its peer is gone). Write errors after the exporter
    // shut down are expected; a panic is not.
    let drained = timeout(REPORT_WITHIN, async {
        while let Some(joined) = connections.join_next().await {
            let _ = joined.expect("a connection handler");
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "connections still open {REPORT_WITHIN:?} after close"
    );
}

async fn connection(mut socket: TcpStream, served: Arc<Served>) -> io::Result<()> {
    socket.set_nodelay(true)?;
    let Some(head) = read_head(&mut socket).await? else {
        return Ok(());
    };
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let accepts_events = lines.any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("accept") && value.trim() == "text/event-stream"
        })
    });
    match path {
        // Jetty wants one Accept value equal to `text/event-stream`, else 405.
        "/v2/events" if accepts_events => event_stream(socket, &served).await,
        "/v2/events" => respond(&mut socket, "405 Method Not Allowed", "text/plain", b"").await,
        "/v2/tasks" => respond(&mut socket, "200 OK", "application/json", &served.tasks).await,
        "/v2/apps" => respond(&mut socket, "200 OK", "application/json", &served.apps).await,
        _ => respond(&mut socket, "404 Not Found", "text/plain", b"").await,
    }
}

/// The request head, or `None` if the peer closed first.
async fn read_head(socket: &mut TcpStream) -> io::Result<Option<String>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = memchr::memmem::find(&head, b"\r\n\r\n") {
            head.truncate(end);
            return Ok(Some(String::from_utf8_lossy(&head).into_owned()));
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::other("request head too long"));
        }
    }
}

async fn respond(
    socket: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    // A leader names itself on every answer; the exporter takes snapshots only from the stream's.
    let local = socket.local_addr()?;
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         X-Marathon-Leader: http://{local}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await?;
    socket.write_all(body).await?;
    socket.shutdown().await
}

/// Marathon's answer to `/v2/events`: Jetty's head, the client's own `event_stream_attached`, the
/// feed once told to go, then the open stream with a heartbeat until the fake closes.
async fn event_stream(mut socket: TcpStream, served: &Served) -> io::Result<()> {
    let accepted = Instant::now();
    served.streams.fetch_add(1, Ordering::Relaxed);
    let local = socket.local_addr()?;
    let peer = socket.peer_addr()?;
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream;charset=utf-8\r\n\
         Cache-Control: no-cache, no-store, must-revalidate\r\nPragma: no-cache\r\nExpires: 0\r\n\
         X-Marathon-Leader: http://{local}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let attached = payload::stream_attached(&peer.ip().to_string(), payload::now_ms());
    support::frame(&mut head, &attached);
    socket.write_all(&head).await?;
    let _ = served.reports.send(Report::Accepted(accepted));

    let mut go = served.go.clone();
    tokio::select! {
        _ = served.close.cancelled() => return Ok(()),
        started = go.wait_for(|go| *go) => {
            started.map_err(|_| io::Error::other("the bench went away"))?;
        }
    }
    let events = match &served.feed {
        Feed::Burst { bytes, events } => {
            for chunk in bytes.chunks(CHUNK) {
                socket.write_all(chunk).await?;
            }
            *events
        }
        Feed::Churn {
            tasks,
            apps,
            per_second,
        } => churn(&mut socket, served, *tasks, *apps, *per_second).await?,
    };
    let _ = served.reports.send(Report::Written {
        at: Instant::now(),
        events,
    });

    loop {
        tokio::select! {
            _ = served.close.cancelled() => return Ok(()),
            _ = sleep(HEARTBEAT) => {
                // Jetty writes and flushes the CR and the LF separately.
                socket.write_all(b"\r").await?;
                socket.write_all(b"\n").await?;
            }
        }
    }
}

/// Writes churn, about `per_second` events a second in `CHURN_TICK` steps, until told to stop;
/// returns how many events it wrote.
async fn churn(
    socket: &mut TcpStream,
    served: &Served,
    tasks: usize,
    apps: usize,
    per_second: usize,
) -> io::Result<usize> {
    let ticks_per_second = (Duration::from_secs(1).as_micros() / CHURN_TICK.as_micros()) as usize;
    let per_tick = (per_second / ticks_per_second).max(1);
    let mut changes = support::Churn::new(tasks, apps, 11);
    let mut tick = tokio::time::interval(CHURN_TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut out = Vec::new();
    let mut written = 0;
    loop {
        tokio::select! {
            biased;
            _ = served.stop_feed.cancelled() => return Ok(written),
            _ = tick.tick() => {}
        }
        out.clear();
        let now = payload::now_ms();
        let mut events = 0;
        while events < per_tick {
            events += changes.step(&mut out, now);
        }
        socket.write_all(&out).await?;
        written += events;
    }
}

fn empty(kind: &str) -> Bytes {
    Bytes::from(format!("{{\"{kind}\":[]}}"))
}

// ---------------------------------------------------------------------------------------------
// Figures.
// ---------------------------------------------------------------------------------------------

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn median(durations: &[Duration]) -> Duration {
    let mut sorted = durations.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// Nearest rank on sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn millis_list(durations: &[Duration]) -> String {
    let mut out = String::new();
    for (i, d) in durations.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write!(out, "{}", d.as_millis()).expect("to a String");
    }
    out
}

/// `1234567.8` → `"1,234,568"`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
