//! What one connection is doing, for its deadlines: waiting for a request head (header-read
//! timeout, from its first byte or from the accept), handling a request until its body is sent
//! (request timeout), or idle between keep-alive requests (idle timeout).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;
use tower_service::Service as _;

use super::body::Guarded;
use super::serve::Limits;

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Bytes of a request head are expected (or have started to arrive) since this instant.
    Head(Instant),
    /// A request is being handled, since this instant; it ends when its body is sent or dropped.
    Request(Instant),
    /// Nothing pending since this instant (the last byte moved).
    Idle(Instant),
}

/// Shared between the connection's I/O, its service and its watchdog.
pub(super) struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    /// A new connection: its request head is due within the header timeout.
    pub(super) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        })
    }

    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, phase: Phase) {
        *self.phase() = phase;
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection is now reading a request head.
    fn on_read(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// Bytes left: an idle connection's idle time starts again.
    fn on_write(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Idle(Instant::now());
        }
    }

    /// The head is complete and the request handed to the service; the guard ends it.
    fn start_request(self: &Arc<Self>) -> RequestGuard {
        self.set(Phase::Request(Instant::now()));
        RequestGuard(Arc::clone(self))
    }

    /// When the current phase runs out, and which limit that is.
    pub(super) fn deadline(&self, limits: &Limits) -> (Instant, &'static str) {
        match *self.phase() {
            Phase::Head(since) => (since + limits.header_read_timeout, "header read timeout"),
            Phase::Request(since) => (since + limits.request_timeout, "request timeout"),
            Phase::Idle(since) => (since + limits.idle_timeout, "idle timeout"),
        }
    }

    /// Completes when the phase changes (a deadline may have moved).
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Ends its request when dropped (the response body is sent, or the connection went away).
pub(super) struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.set(Phase::Idle(Instant::now()));
    }
}

/// A connection's I/O, reporting traffic to its [`Activity`].
pub(super) struct Watched<IO> {
    io: IO,
    activity: Arc<Activity>,
}

impl<IO> Watched<IO> {
    pub(super) fn new(io: IO, activity: Arc<Activity>) -> Watched<IO> {
        Watched { io, activity }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.on_read();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.on_write();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.on_write();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The router as hyper calls it on one connection, each request tracked from head to sent body.
#[derive(Clone)]
pub(super) struct Tracked {
    router: Router,
    activity: Arc<Activity>,
}

impl Tracked {
    pub(super) fn new(router: Router, activity: Arc<Activity>) -> Tracked {
        Tracked { router, activity }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: Request<Incoming>) -> Answer {
        let guard = self.activity.start_request();
        let mut router = self.router.clone();
        Box::pin(async move {
            let response = router.call(request).await?;
            Ok(response.map(|body| Guarded::wrap(body, guard)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(3),
            ..Limits::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn phases_move_from_head_to_request_to_idle_and_back() {
        let activity = Activity::new();
        let start = Instant::now();
        assert_eq!(
            activity.deadline(&limits()),
            (start + Duration::from_secs(1), "header read timeout")
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        let guard = activity.start_request();
        let (deadline, which) = activity.deadline(&limits());
        assert_eq!(which, "request timeout");
        assert_eq!(deadline, start + Duration::from_millis(2500));
        activity.on_read();
        assert_eq!(
            activity.deadline(&limits()).1,
            "request timeout",
            "a body read"
        );
        drop(guard);
        assert_eq!(activity.deadline(&limits()).1, "idle timeout");
        tokio::time::advance(Duration::from_millis(100)).await;
        activity.on_write();
        assert_eq!(
            activity.deadline(&limits()).0,
            start + Duration::from_millis(3600),
            "writes while idle restart the idle time"
        );
        activity.on_read();
        assert_eq!(
            activity.deadline(&limits()),
            (start + Duration::from_millis(1600), "header read timeout")
        );
    }

    #[tokio::test]
    async fn changes_wake_the_watchdog_even_when_it_was_not_waiting_yet() {
        let activity = Activity::new();
        let guard = activity.start_request();
        // The notification is stored until someone waits.
        tokio::time::timeout(Duration::from_secs(5), activity.changed())
            .await
            .expect("a stored notification");
        drop(guard);
    }
}
