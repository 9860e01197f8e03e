//! The channel from the stream reader to the writer, bounded twice: in messages and in bytes
//! queued. A reader that finds either bound reached waits for the writer (it never drops bytes), and
//! the time it waits is counted in `marathon_exporter_stream_backpressure_seconds_total`.

use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, mpsc};
use tokio::time::Instant;

use super::StreamMsg;
use crate::metrics::SelfMetrics;

/// Stream bytes that may wait for the writer. The message bound alone lets 1024 coalesced chunks
/// of up to 256 KiB queue (256 MiB). 32 MiB still holds about 65,000 typical events (a
/// `status_update_event` is about 500 bytes), several seconds of a very busy Marathon, and four
/// times the largest event accepted by default (`--stream.max-event-bytes` 8 MiB); past it the
/// reader waits, and Marathon's own buffer of 1024 events per consumer takes up the rest.
pub const STREAM_CHANNEL_BYTES: usize = 32 << 20;

/// Bytes as read from the socket, holding their share of the byte budget until the writer is
/// done with them.
#[derive(Debug)]
pub struct Chunk {
    bytes: Bytes,
    _budget: Option<OwnedSemaphorePermit>,
}

impl Chunk {
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

/// A chunk outside any budget (tests, tools).
impl From<Bytes> for Chunk {
    fn from(bytes: Bytes) -> Self {
        Chunk {
            bytes,
            _budget: None,
        }
    }
}

impl Deref for Chunk {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// The reader's end of the channel.
#[derive(Clone)]
pub struct StreamSender {
    tx: mpsc::Sender<StreamMsg>,
    budget: Arc<Semaphore>,
    bytes: usize,
}

/// A channel of at most `messages` messages and `bytes` bytes of chunks.
pub fn channel(messages: usize, bytes: usize) -> (StreamSender, mpsc::Receiver<StreamMsg>) {
    let bytes = bytes
        .clamp(1, Semaphore::MAX_PERMITS)
        .min(u32::MAX as usize);
    let (tx, rx) = mpsc::channel(messages.max(1));
    let sender = StreamSender {
        tx,
        budget: Arc::new(Semaphore::new(bytes)),
        bytes,
    };
    (sender, rx)
}

impl StreamSender {
    /// Sends a message that carries no bytes (a connect or disconnect), waiting for room; `false`
    /// once the writer is gone.
    pub async fn send(&self, msg: StreamMsg) -> bool {
        self.tx.send(msg).await.is_ok()
    }

    /// Hands bytes to the writer; `false` once the writer is gone. When the writer is behind, the
    /// reader waits for it rather than drop bytes, which would lose events without a trace: Marathon
    /// buffers up to 1024 events before it drops a slow consumer, so a short wait is harmless. The
    /// first wait of a connection is logged (`behind` remembers it).
    pub async fn forward(&self, bytes: Bytes, metrics: &SelfMetrics, behind: &mut bool) -> bool {
        let mut started = None;
        let Some(permit) = self.reserve_bytes(bytes.len(), behind, &mut started).await else {
            return false;
        };
        let msg = StreamMsg::Chunk(Chunk {
            bytes,
            _budget: Some(permit),
        });
        let sent = match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Closed(_)) => false,
            Err(mpsc::error::TrySendError::Full(msg)) => {
                note_behind(behind);
                started.get_or_insert_with(Instant::now);
                // Wait for half of the channel to drain, not for one slot: the writer then works
                // through a run of messages without waking the reader for each one it takes
                // (measured in the load benchmark: 0.56 of the baseline waiting for single slots,
                // 0.62 waiting for half).
                match self
                    .tx
                    .reserve_many((self.tx.max_capacity() / 2).max(1))
                    .await
                {
                    Ok(mut permits) => permits.next().map(|permit| permit.send(msg)).is_some(),
                    Err(_) => false,
                }
            }
        };
        if let Some(started) = started {
            metrics
                .stream_backpressure_seconds
                .inc_by(started.elapsed().as_secs_f64());
        }
        sent
    }

    /// Takes `len` bytes of the budget (all of it for a chunk larger than the budget). When they
    /// are not free, waits until half of the budget is, for the same reason as for messages.
    async fn reserve_bytes(
        &self,
        len: usize,
        behind: &mut bool,
        started: &mut Option<Instant>,
    ) -> Option<OwnedSemaphorePermit> {
        let want = len.min(self.bytes);
        let fits = u32::try_from(want).unwrap_or(u32::MAX);
        match Arc::clone(&self.budget).try_acquire_many_owned(fits) {
            Ok(permit) => return Some(permit),
            Err(TryAcquireError::Closed) => return None,
            Err(TryAcquireError::NoPermits) => {}
        }
        note_behind(behind);
        started.get_or_insert_with(Instant::now);
        let half = want.max(self.bytes / 2);
        let mut permit = Arc::clone(&self.budget)
            .acquire_many_owned(u32::try_from(half).unwrap_or(u32::MAX))
            .await
            .ok()?;
        drop(permit.split(half - want));
        Some(permit)
    }
}

fn note_behind(behind: &mut bool) {
    if !*behind {
        *behind = true;
        tracing::warn!("the writer is behind the event stream; reading waits for it");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::sleep;

    use super::*;

    fn self_metrics() -> SelfMetrics {
        let store = crate::state::Store::new();
        crate::metrics::Metrics::new(store.reader(), Arc::new(|| 0))
            .exporter
            .clone()
    }

    fn chunk(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    async fn next_len(rx: &mut mpsc::Receiver<StreamMsg>) -> usize {
        match rx.recv().await {
            Some(StreamMsg::Chunk(c)) => c.len(),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_channel_makes_the_reader_wait_and_the_wait_is_counted() {
        let metrics = self_metrics();
        let (tx, mut rx) = channel(1, 1 << 20);
        assert!(tx.send(StreamMsg::Disconnected).await);
        let waiting = tokio::spawn({
            let metrics = metrics.clone();
            async move {
                let mut behind = false;
                let sent = tx
                    .forward(Bytes::from_static(b"x"), &metrics, &mut behind)
                    .await;
                (sent, behind)
            }
        });
        // The writer takes 3 s (of paused time) to come back: nothing is dropped meanwhile.
        sleep(Duration::from_secs(3)).await;
        assert!(!waiting.is_finished(), "the reader waits for room");
        assert!(matches!(rx.recv().await, Some(StreamMsg::Disconnected)));
        let (sent, was_behind) = waiting.await.expect("no panic");
        assert!(sent && was_behind);
        assert!(matches!(rx.recv().await, Some(StreamMsg::Chunk(b)) if *b == *b"x"));
        assert_eq!(metrics.stream_backpressure_seconds.get(), 3.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_reader_resumes_once_half_the_channel_is_free() {
        let metrics = self_metrics();
        let (tx, mut rx) = channel(8, 1 << 20);
        let mut behind = false;
        for _ in 0..8 {
            assert!(tx.forward(chunk(1), &metrics, &mut behind).await);
        }
        assert!(!behind, "room for eight: no wait");
        assert_eq!(metrics.stream_backpressure_seconds.get(), 0.0);
        let waiting = tokio::spawn({
            let metrics = metrics.clone();
            async move { tx.forward(chunk(2), &metrics, &mut false).await }
        });
        for taken in 1..=4 {
            sleep(Duration::from_secs(1)).await;
            assert!(!waiting.is_finished(), "{taken} of 8 taken: still waiting");
            assert_eq!(next_len(&mut rx).await, 1);
        }
        assert!(
            waiting.await.expect("no panic"),
            "sent once 4 of 8 are free"
        );
        for _ in 0..4 {
            assert_eq!(next_len(&mut rx).await, 1);
        }
        assert_eq!(next_len(&mut rx).await, 2);
        assert_eq!(metrics.stream_backpressure_seconds.get(), 4.0);
    }

    #[tokio::test(start_paused = true)]
    async fn queued_bytes_are_bounded_and_the_reader_waits_for_half_the_budget() {
        let metrics = self_metrics();
        // Room for 1000 messages but only 100 bytes.
        let (tx, mut rx) = channel(1000, 100);
        let mut behind = false;
        for _ in 0..4 {
            assert!(tx.forward(chunk(25), &metrics, &mut behind).await);
        }
        assert!(!behind, "exactly the budget: no wait");
        let waiting = tokio::spawn({
            let metrics = metrics.clone();
            async move {
                let mut behind = false;
                let sent = tx.forward(chunk(10), &metrics, &mut behind).await;
                (sent, behind)
            }
        });
        sleep(Duration::from_secs(2)).await;
        assert!(!waiting.is_finished(), "no byte free: the reader waits");
        let first = rx.recv().await;
        sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "25 bytes held by the writer");
        drop(first);
        sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished(), "25 of 100 free: less than half");
        assert_eq!(next_len(&mut rx).await, 25);
        let (sent, was_behind) = waiting.await.expect("no panic");
        assert!(sent && was_behind, "50 of 100 free: the chunk goes");
        assert_eq!(next_len(&mut rx).await, 25);
        assert_eq!(next_len(&mut rx).await, 25);
        assert_eq!(next_len(&mut rx).await, 10, "nothing was dropped");
        assert_eq!(metrics.stream_backpressure_seconds.get(), 4.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_chunk_larger_than_the_budget_takes_all_of_it() {
        let metrics = self_metrics();
        let (tx, mut rx) = channel(10, 100);
        assert!(tx.forward(chunk(500), &metrics, &mut false).await);
        let waiting = tokio::spawn({
            let metrics = metrics.clone();
            async move { tx.forward(chunk(1), &metrics, &mut false).await }
        });
        sleep(Duration::from_secs(1)).await;
        assert!(!waiting.is_finished());
        assert_eq!(next_len(&mut rx).await, 500);
        assert!(waiting.await.expect("no panic"));
        assert_eq!(next_len(&mut rx).await, 1);
    }

    #[tokio::test]
    async fn a_closed_channel_ends_the_reader() {
        let metrics = self_metrics();
        let (tx, rx) = channel(1, 100);
        drop(rx);
        assert!(!tx.forward(chunk(1), &metrics, &mut false).await);
        assert!(!tx.send(StreamMsg::Disconnected).await);
    }
}
