//! Serving our endpoints: an accept loop handing each connection to its own task (TLS
//! handshake, then HTTP/1.1 through hyper), the HTTP limits, and graceful shutdown that lets
//! requests in flight finish.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::{Activity, Tracked, Watched};
use super::tls::TlsServer;

/// Prometheus sends its request head in one write; a client that has not finished its head in
/// this time is stuck or holding connections open on purpose (slowloris).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// From request head to response sent. Far above any sensible `scrape_timeout` (which cannot
/// exceed the scrape interval), so only stuck requests and clients that stop reading are cut.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Between keep-alive requests. Longer than common scrape intervals (15 s to 2 min), so
/// Prometheus keeps reusing its connection instead of paying a TLS handshake per scrape.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);
/// A handshake is a few round trips; one that takes longer holds a connection for nothing.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Prometheus' request heads are well under 1 KiB; this leaves room for long tokens added by
/// proxies while bounding what one connection can make us buffer. Larger heads get 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Two Prometheus replicas and a few people with curl. Each scrape renders the whole exposition
/// (hundreds of milliseconds and megabytes on large clusters); more at once only queue.
pub const MAX_CONCURRENT_SCRAPES: usize = 10;
/// After a failed accept (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The HTTP limits of our own server. [`Limits::default`] has the named constants; tests pass
/// smaller values here (there are no flags for them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_concurrent_scrapes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            tls_handshake_timeout: TLS_HANDSHAKE_TIMEOUT,
            max_header_bytes: MAX_HEADER_BYTES,
            max_concurrent_scrapes: MAX_CONCURRENT_SCRAPES,
        }
    }
}

/// Serves `router` on `listener` (over TLS when `tls` is set) until `shutdown` is cancelled,
/// then stops accepting, lets requests in flight finish (each bounded by the request timeout),
/// closes idle connections, and returns once every connection is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<TlsServer>>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(error = %error, "cannot accept a connection");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        connections.spawn(connection(
            tcp,
            peer,
            router.clone(),
            tls.clone(),
            limits,
            shutdown.clone(),
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    router: Router,
    tls: Option<Arc<TlsServer>>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let _ = tcp.set_nodelay(true);
    let Some(tls) = tls else {
        return http(tcp, peer, router, limits, shutdown).await;
    };
    let handshake = tokio::time::timeout(limits.tls_handshake_timeout, tls.handshake(tcp));
    let stream = tokio::select! {
        () = shutdown.cancelled() => return,
        stream = handshake => stream,
    };
    match stream {
        Ok(Ok(stream)) => http(stream, peer, router, limits, shutdown).await,
        Ok(Err(error)) => tracing::debug!(%peer, error = %error, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

/// HTTP/1.1 on one connection until it closes, a deadline passes, or shutdown completes it.
async fn http<IO>(
    io: IO,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let io = TokioIo::new(Watched::new(io, Arc::clone(&activity)));
    let service = Tracked::new(router, Arc::clone(&activity));
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .max_header_size(limits.max_header_bytes)
        // The header-read timeout is the watchdog's below, which also covers idle connections.
        .header_read_timeout(None);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let (deadline, limit) = activity.deadline(&limits);
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%peer, error = %error, "HTTP connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                if activity.deadline(&limits).0 <= tokio::time::Instant::now() {
                    tracing::debug!(%peer, limit, "closing the connection");
                    return;
                }
            }
            () = activity.changed() => {}
            () = shutdown.cancelled(), if !draining => {
                // Finishes the request in flight, if any, then closes.
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::sync::{mpsc, oneshot};

    const PATIENCE: Duration = Duration::from_secs(20);

    fn small() -> Limits {
        Limits {
            header_read_timeout: Duration::from_millis(300),
            request_timeout: Duration::from_millis(600),
            idle_timeout: Duration::from_secs(30),
            ..Limits::default()
        }
    }

    /// A server whose `/slow` waits for the test's go-ahead after saying it was entered.
    async fn server(
        limits: Limits,
    ) -> (
        SocketAddr,
        CancellationToken,
        tokio::task::JoinHandle<()>,
        mpsc::Receiver<oneshot::Sender<()>>,
    ) {
        let (entered_tx, entered_rx) = mpsc::channel::<oneshot::Sender<()>>(4);
        let router = Router::new()
            .route("/fast", get(|| async { "fast\n" }))
            .route(
                "/slow",
                get(move || {
                    let entered = entered_tx.clone();
                    async move {
                        let (go_tx, go_rx) = oneshot::channel();
                        let _ = entered.send(go_tx).await;
                        let _ = go_rx.await;
                        "slow\n"
                    }
                }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(listener, router, None, limits, shutdown.clone()));
        (addr, shutdown, task, entered_rx)
    }

    async fn read_all(stream: &mut TcpStream) -> String {
        let mut out = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out))
            .await
            .expect("the server closes the connection")
            .ok();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn shutdown_lets_the_request_in_flight_finish_then_returns() {
        let (addr, shutdown, task, mut entered) = server(Limits::default()).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let go = tokio::time::timeout(PATIENCE, entered.recv())
            .await
            .unwrap()
            .unwrap();
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut first = [0u8; 12];
        idle.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");

        shutdown.cancel();
        // No new connection is served once shutdown started.
        let stopped = tokio::time::timeout(PATIENCE, async {
            while TcpStream::connect(addr).await.is_ok() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(stopped.is_ok(), "the listener was closed");
        assert!(!task.is_finished(), "waits for the request in flight");
        let rest = read_all(&mut idle).await;
        assert!(rest.contains("fast"), "the idle connection closed: {rest}");
        go.send(()).unwrap();
        let answer = read_all(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("slow\n"), "{answer}");
        tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn half_a_head_is_cut_after_the_header_timeout() {
        let (addr, shutdown, _task, _entered) = server(small()).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        client
            .write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let answer = read_all(&mut client).await;
        assert!(answer.is_empty(), "{answer}");
        assert!(started.elapsed() >= small().header_read_timeout);
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_silent_connection_is_cut_after_the_header_timeout() {
        let (addr, shutdown, _task, _entered) = server(small()).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        assert_eq!(read_all(&mut client).await, "");
        shutdown.cancel();
    }

    #[tokio::test]
    async fn a_request_that_never_completes_is_cut_after_the_request_timeout() {
        let (addr, shutdown, _task, mut entered) = server(small()).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        client
            .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let _go = entered.recv().await.unwrap();
        assert_eq!(read_all(&mut client).await, "");
        assert!(started.elapsed() >= small().request_timeout);
        shutdown.cancel();
    }

    #[tokio::test]
    async fn keep_alive_requests_are_served_on_one_connection_and_heads_over_the_limit_get_431() {
        let (addr, shutdown, _task, _entered) = server(Limits {
            max_header_bytes: 1024,
            ..Limits::default()
        })
        .await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        for _ in 0..2 {
            client
                .write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 512];
            let n = client.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        }
        let mut big = TcpStream::connect(addr).await.unwrap();
        // Small enough for the server to read whole, so it closes cleanly after its answer.
        let filler = "a".repeat(1500);
        let request = format!("GET /fast HTTP/1.1\r\nHost: x\r\nX-Filler: {filler}\r\n\r\n");
        let _ = big.write_all(request.as_bytes()).await;
        let answer = read_all(&mut big).await;
        assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
        shutdown.cancel();
    }
}
