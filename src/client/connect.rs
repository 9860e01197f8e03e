//! Opening `/v2/events`: the request with the subscribed event types, a standby's redirects to the
//! leader (credentials go only to configured hosts and the leader one of them names), the checks of
//! the answer, and what the answer tells: where the stream is read from, the leader, the `Date`.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, DATE, HeaderMap, LOCATION};
use tokio::time::{Instant, timeout};
use url::Url;

use crate::client::{MarathonClient, describe_transport, endpoint, origin};
use crate::connection::LEADER_HEADER;
use crate::marathon::events::SUBSCRIBED;
use crate::marathon::time::parse_http_date;
use crate::state::Millis;

/// Redirects followed for one connection (a standby names the leader: one is normal).
const MAX_REDIRECTS: usize = 5;

/// Why a connection attempt failed; the message names no credential.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("HTTP {status} from {origin}")]
    Status { status: u16, origin: String },
    #[error("{origin} answered 200 without text/event-stream")]
    NotEventStream { origin: String },
    #[error("no response from {origin} within {after:?}")]
    NoResponse { origin: String, after: Duration },
    #[error("too many redirects from {origin}")]
    Redirects { origin: String },
    #[error("{origin}: {reason}")]
    Transport { origin: String, reason: String },
    #[error("{0}")]
    Client(#[from] crate::client::ClientError),
}

/// An open event stream and what its answer said.
pub struct Opened {
    pub response: reqwest::Response,
    /// The URL that answered with the stream (after redirects, without userinfo).
    pub url: Url,
    /// Whether the request that opened it carried credentials.
    pub with_auth: bool,
    /// Its `X-Marathon-Leader`, if any.
    pub leader: Option<String>,
    /// Its `Date` (ms since the epoch), if any.
    pub date: Option<Millis>,
    /// When the answer arrived.
    pub received: Instant,
}

impl Opened {
    /// The leader as logged and compared for `leader_changes_total`: the origin of
    /// `X-Marathon-Leader`, or of the host that answered.
    pub fn leader_name(&self) -> String {
        self.leader
            .as_deref()
            .and_then(|v| Url::parse(v.trim()).ok())
            .filter(Url::has_host)
            .map_or_else(|| origin(&self.url), |u| origin(&u))
    }
}

/// Opens the stream at `base`, following redirects. Each hop may take `answer_within` to answer
/// with its headers. `on_date` is handed the `Date` of every answer, whatever its status.
pub async fn open(
    client: &MarathonClient,
    base: &Url,
    answer_within: Duration,
    on_date: &(dyn Fn(Millis) + Send + Sync),
) -> Result<Opened, ConnectError> {
    let mut url = endpoint(base, "v2/events");
    {
        let mut query = url.query_pairs_mut();
        for event_type in SUBSCRIBED {
            query.append_pair("event_type", event_type);
        }
    }
    // Credentials go to configured hosts and to the leader a configured host names.
    let mut with_auth = true;
    for _ in 0..=MAX_REDIRECTS {
        let request = client
            .get(&url, with_auth)
            .await?
            .header(ACCEPT, "text/event-stream");
        // A server that accepts and then stays silent is as dead as a silent stream.
        let response = timeout(answer_within, request.send())
            .await
            .map_err(|_| ConnectError::NoResponse {
                origin: origin(&url),
                after: answer_within,
            })?
            .map_err(|e| ConnectError::Transport {
                origin: origin(&url),
                reason: describe_transport(&e),
            })?;
        let received = Instant::now();
        let date = date_of(response.headers());
        if let Some(date) = date {
            on_date(date);
        }
        let status = response.status();
        if status.is_redirection() {
            let next = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .ok_or_else(|| ConnectError::Status {
                    status: status.as_u16(),
                    origin: origin(&url),
                })?;
            with_auth = with_auth && client.is_configured_host(&url);
            url = strip_userinfo(next);
            continue;
        }
        if !status.is_success() {
            if status == reqwest::StatusCode::UNAUTHORIZED && with_auth {
                client.unauthorized().await;
            }
            return Err(ConnectError::Status {
                status: status.as_u16(),
                origin: origin(&url),
            });
        }
        let is_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        if !is_stream {
            return Err(ConnectError::NotEventStream {
                origin: origin(&url),
            });
        }
        let leader = leader_of(response.headers());
        return Ok(Opened {
            response,
            url,
            with_auth,
            leader,
            date,
            received,
        });
    }
    Err(ConnectError::Redirects {
        origin: origin(base),
    })
}

/// The `X-Marathon-Leader` of an answer, if it has a readable one.
pub fn leader_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(LEADER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The `Date` of an answer, in ms since the epoch.
pub fn date_of(headers: &HeaderMap) -> Option<Millis> {
    headers
        .get(DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
}

fn strip_userinfo(mut url: Url) -> Url {
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn userinfo_is_stripped_from_redirect_targets() {
        let url =
            strip_userinfo(Url::parse("http://user:secret@leader:8080/v2/events?x=1").unwrap());
        assert_eq!(url.as_str(), "http://leader:8080/v2/events?x=1");
    }

    #[test]
    fn leader_and_date_headers_are_read_when_usable() {
        let mut headers = HeaderMap::new();
        assert_eq!((leader_of(&headers), date_of(&headers)), (None, None));
        headers.insert(LEADER_HEADER, HeaderValue::from_static(" http://m1:8080 "));
        headers.insert(
            DATE,
            HeaderValue::from_static("Wed, 07 Oct 2020 09:13:02 GMT"),
        );
        assert_eq!(leader_of(&headers).as_deref(), Some("http://m1:8080"));
        assert_eq!(date_of(&headers), Some(1_602_061_982_000));
        headers.insert(LEADER_HEADER, HeaderValue::from_static(""));
        headers.insert(DATE, HeaderValue::from_static("yesterday"));
        assert_eq!((leader_of(&headers), date_of(&headers)), (None, None));
    }
}
