//! The stream's current connection, as the stream publishes it to the resync: which Marathon it
//! reads from and who that Marathon said leads, and the check every snapshot response must pass to
//! count as coming from that same leader (RULES.md, Snapshot; EXTRA.md §6).

use tokio::sync::watch;
use tokio::time::Instant;
use url::Url;

use crate::client::{origin, same_origin};
use crate::state::Millis;

/// The header a Marathon leader puts on every response (a standby proxying a request copies the
/// leader's).
pub const LEADER_HEADER: &str = "x-marathon-leader";

/// One stream connection, from its successful connect until it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Increases with every successful connect; the writer applies a snapshot only while the
    /// connection it was taken for is the current one.
    pub id: u64,
    /// Where the stream reads from after any redirect, without `/v2/events` (a path prefix such as
    /// `/service/marathon` is kept): snapshots are read below it.
    pub base: Url,
    /// `X-Marathon-Leader` of the stream's response, if it had one.
    pub leader: Option<String>,
    /// Whether credentials went with the stream's request (a configured host, or the leader a
    /// configured host named): snapshot requests follow the same rule.
    pub with_auth: bool,
    /// The response's `Date` header (ms since the epoch), and when it was received: the
    /// connection clock until the writer has observed the connection's first event.
    pub date: Option<Millis>,
    pub received: Instant,
}

/// The sending side: the stream publishes `Some` while a connection is up.
pub type Publisher = watch::Sender<Option<Connection>>;
/// The receiving side, read by the resync (and `record`).
pub type Watcher = watch::Receiver<Option<Connection>>;

/// Why a snapshot response cannot be used for a connection; names no credential.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LeaderMismatch {
    #[error("the answer names no leader, the event stream's leader is {stream}")]
    Missing { stream: String },
    #[error("the answer names leader {answer}, the event stream's leader is {stream}")]
    Other { answer: String, stream: String },
    #[error("the answer names leader {answer}, the event stream reads from {stream}")]
    NotTheStreamHost { answer: String, stream: String },
}

impl Connection {
    /// The connection clock when no event of this connection has been observed yet: the `Date` of
    /// its response plus the time elapsed since it was received.
    pub fn date_now(&self) -> Option<Millis> {
        let elapsed = Millis::try_from(self.received.elapsed().as_millis()).unwrap_or(Millis::MAX);
        self.date.map(|d| d.saturating_add(elapsed))
    }

    /// Checks the `X-Marathon-Leader` of a snapshot response. When the stream's response named a
    /// leader, the snapshot's must name the same one; when it named none, a snapshot response that
    /// names one must name the host the stream reads from.
    pub fn check_leader(&self, answer: Option<&str>) -> Result<(), LeaderMismatch> {
        match (&self.leader, answer) {
            (Some(stream), Some(answer)) if same_leader(stream, answer) => Ok(()),
            (Some(stream), Some(answer)) => Err(LeaderMismatch::Other {
                answer: shown(answer),
                stream: shown(stream),
            }),
            (Some(stream), None) => Err(LeaderMismatch::Missing {
                stream: shown(stream),
            }),
            (None, None) => Ok(()),
            (None, Some(answer)) => match Url::parse(answer.trim()) {
                Ok(url) if same_origin(&url, &self.base) => Ok(()),
                _ => Err(LeaderMismatch::NotTheStreamHost {
                    answer: shown(answer),
                    stream: origin(&self.base),
                }),
            },
        }
    }
}

/// Two `X-Marathon-Leader` values name the same Marathon: same scheme, host and port when both are
/// URLs (as Marathon writes them), else the same text.
fn same_leader(a: &str, b: &str) -> bool {
    match (Url::parse(a.trim()), Url::parse(b.trim())) {
        (Ok(a), Ok(b)) => same_origin(&a, &b),
        _ => a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/'),
    }
}

/// A leader as it may be logged: its origin (never userinfo or path), or a placeholder.
pub fn shown(leader: &str) -> String {
    match Url::parse(leader.trim()) {
        Ok(url) if url.has_host() => origin(&url),
        _ => "an unreadable value".to_owned(),
    }
}

/// The base URL snapshots are read below, from the URL the stream reads (`…/v2/events?…`): the same
/// origin and path prefix, no query, no userinfo.
pub fn base_of(stream_url: &Url) -> Url {
    let mut base = stream_url.clone();
    let path = stream_url.path().trim_end_matches('/');
    let prefix = path.strip_suffix("/v2/events").unwrap_or("");
    base.set_path(if prefix.is_empty() { "/" } else { prefix });
    base.set_query(None);
    base.set_fragment(None);
    let _ = base.set_username("");
    let _ = base.set_password(None);
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::endpoint;

    fn connection(base: &str, leader: Option<&str>) -> Connection {
        Connection {
            id: 1,
            base: Url::parse(base).unwrap(),
            leader: leader.map(str::to_owned),
            with_auth: true,
            date: None,
            received: Instant::now(),
        }
    }

    #[test]
    fn the_base_keeps_the_path_prefix_and_drops_the_rest() {
        let url =
            Url::parse("https://u:p@dcos.example.com/service/marathon/v2/events?event_type=x#f")
                .unwrap();
        let base = base_of(&url);
        assert_eq!(base.as_str(), "https://dcos.example.com/service/marathon");
        assert_eq!(
            endpoint(&base, "v2/pods/::status").as_str(),
            "https://dcos.example.com/service/marathon/v2/pods/::status"
        );
        let plain = base_of(&Url::parse("http://m1:8080/v2/events?a=1").unwrap());
        assert_eq!(
            endpoint(&plain, "v2/tasks").as_str(),
            "http://m1:8080/v2/tasks"
        );
        let odd = base_of(&Url::parse("http://m1:8080/elsewhere").unwrap());
        assert_eq!(odd.as_str(), "http://m1:8080/");
    }

    #[test]
    fn a_named_leader_must_be_named_again() {
        let c = connection("http://m2:8080", Some("http://m1:8080"));
        assert_eq!(c.check_leader(Some("http://m1:8080")), Ok(()));
        assert_eq!(c.check_leader(Some(" http://m1:8080/ ")), Ok(()));
        assert_eq!(
            c.check_leader(None),
            Err(LeaderMismatch::Missing {
                stream: "http://m1:8080".into()
            })
        );
        let other = c.check_leader(Some("http://m3:8080")).unwrap_err();
        assert_eq!(
            other.to_string(),
            "the answer names leader http://m3:8080, the event stream's leader is http://m1:8080"
        );
        assert!(c.check_leader(Some("https://m1:8080")).is_err());
    }

    #[test]
    fn without_a_named_leader_only_the_stream_host_may_be_named() {
        let c = connection("http://m1:8080/service/marathon", None);
        assert_eq!(c.check_leader(None), Ok(()));
        assert_eq!(c.check_leader(Some("http://m1:8080")), Ok(()));
        let e = c.check_leader(Some("http://m2:8080")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the answer names leader http://m2:8080, the event stream reads from http://m1:8080"
        );
        assert!(c.check_leader(Some("garbage")).is_err());
    }

    #[test]
    fn leaders_are_shown_without_credentials() {
        let c = connection("http://m1:8080", Some("http://ops:s3cret@m1:8080/x"));
        let e = c
            .check_leader(Some("http://ops:s3cret@m2:8080"))
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret") && !e.contains("ops"), "{e}");
        assert_eq!(shown("not a url"), "an unreadable value");
    }

    #[tokio::test(start_paused = true)]
    async fn the_date_runs_on_with_local_time() {
        let mut c = connection("http://m1:8080", None);
        assert_eq!(c.date_now(), None);
        c.date = Some(1_000_000);
        tokio::time::advance(std::time::Duration::from_millis(1500)).await;
        assert_eq!(c.date_now(), Some(1_001_500));
    }
}
