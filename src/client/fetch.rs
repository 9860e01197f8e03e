//! One leader-bound snapshot read: `/v2/tasks`, `/v2/apps` and `/v2/pods/::status` from the
//! Marathon the event stream reads, each answer checked to come from the stream's leader and
//! bounded in size while it is read (never buffered whole past the bound).

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, DATE};
use url::Url;

use super::connect::leader_of;
use crate::client::{ClientError, MarathonClient, SNAPSHOT_TIMEOUT, endpoint, origin};
use crate::connection::{Connection, LeaderMismatch};
use crate::marathon::api::{BodyError, parse_deployments, parse_snapshot};
use crate::marathon::parse_http_date;
use crate::state::{Millis, Snapshot};

/// Why a snapshot could not be taken; names no credential.
#[derive(Debug, thiserror::Error)]
pub enum ResyncError {
    #[error("HTTP {status} from {url}")]
    Status { status: u16, url: String },
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error("{url}: {reason}")]
    Body { url: String, reason: String },
    #[error("{url}: the body is {size} bytes, over --resync.max-bytes ({limit} bytes)")]
    TooLarge {
        url: String,
        size: u64,
        limit: usize,
    },
    #[error(
        "{url}: the body passed --resync.max-bytes ({limit} bytes) at {read} bytes; reading stopped"
    )]
    TooLargeRead {
        url: String,
        read: usize,
        limit: usize,
    },
    #[error("{url}: answer discarded, not from the event stream's leader: {reason}")]
    Leader { url: String, reason: LeaderMismatch },
    #[error(
        "the event stream reconnected while the snapshot was taken; it is taken again for the new connection"
    )]
    Overtaken,
    #[error("{0}")]
    Client(#[from] ClientError),
}

/// The raw bodies of one snapshot; `pods` is `None` when `/v2/pods/::status` answered 404, and
/// `deployments` when `/v2/deployments` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bodies {
    /// Marathon's clock when it answered (see [`Snapshot::answered_at`]).
    pub answered_at: Option<Millis>,
    pub tasks: Bytes,
    pub apps: Bytes,
    pub pods: Option<Bytes>,
    pub deployments: Option<Bytes>,
}

impl Bodies {
    /// Parses the bodies into a snapshot requested at `requested_at`; `base` names the source in
    /// errors.
    pub fn parse(&self, requested_at: Millis, base: &Url) -> Result<Snapshot, ResyncError> {
        let failed = |BodyError { path, error }| ResyncError::Body {
            url: format!("{}{path}", shown(base)),
            reason: error.to_string(),
        };
        let mut snapshot =
            parse_snapshot(requested_at, &self.tasks, &self.apps, self.pods.as_deref())
                .map_err(failed)?;
        snapshot.answered_at = self.answered_at;
        if let Some(body) = &self.deployments {
            let deployments = parse_deployments(body).map_err(|error| {
                failed(BodyError {
                    path: "/v2/deployments",
                    error,
                })
            })?;
            snapshot.deployments = Some(deployments);
        }
        Ok(snapshot)
    }
}

/// Reads the three bodies from `connection`'s Marathon, in order, with the credentials the stream
/// used, each at most `max_bytes` long.
pub async fn fetch_bodies(
    client: &MarathonClient,
    connection: &Connection,
    max_bytes: usize,
) -> Result<Bodies, ResyncError> {
    let mut answered_at = None;
    let mut note = |(body, date): (Bytes, Option<Millis>)| {
        answered_at = answered_at.max(date);
        body
    };
    let tasks = note(fetch(client, connection, "v2/tasks", max_bytes).await?);
    let apps = note(fetch(client, connection, "v2/apps", max_bytes).await?);
    // Marathon before 1.4 has no pods; a 404 leaves pods (or deployments) as they are.
    let pods = match fetch(client, connection, "v2/pods/::status", max_bytes).await {
        Ok(answer) => Some(note(answer)),
        Err(ResyncError::Status { status: 404, .. }) => None,
        Err(e) => return Err(e),
    };
    // Deployments only correct what the events said: one that cannot be read leaves them as
    // they are rather than failing the whole snapshot. Their answer's time counts for nothing.
    let deployments = match fetch(client, connection, "v2/deployments", max_bytes).await {
        Ok((body, _)) => Some(body),
        Err(ResyncError::Overtaken) => return Err(ResyncError::Overtaken),
        Err(e) => {
            tracing::debug!(error = %e, "/v2/deployments not read; deployments left as they are");
            None
        }
    };
    Ok(Bodies {
        answered_at,
        tasks,
        apps,
        pods,
        deployments,
    })
}

/// One body, from the stream's leader, at most `max_bytes` long, with the latest moment its
/// `Date` allows (the end of the second it names).
async fn fetch(
    client: &MarathonClient,
    connection: &Connection,
    path: &str,
    max_bytes: usize,
) -> Result<(Bytes, Option<Millis>), ResyncError> {
    let url = endpoint(&connection.base, path);
    let shown = shown(&url);
    let mut response = client
        .get(&url, connection.with_auth)
        .await?
        .header(ACCEPT, "application/json")
        .timeout(SNAPSHOT_TIMEOUT)
        .send()
        .await
        .map_err(|e| ResyncError::Transport {
            url: shown.clone(),
            reason: e.without_url().to_string(),
        })?;
    let status = response.status();
    let error = ResyncError::Status {
        status: status.as_u16(),
        url: shown.clone(),
    };
    if status == StatusCode::UNAUTHORIZED && connection.with_auth {
        client.unauthorized().await;
    }
    // A leader's 404 names the leader like any other answer of it.
    if !status.is_success() && status != StatusCode::NOT_FOUND {
        return Err(error);
    }
    connection
        .check_leader(leader_of(response.headers()).as_deref())
        .map_err(|reason| ResyncError::Leader {
            url: shown.clone(),
            reason,
        })?;
    if !status.is_success() {
        return Err(error);
    }
    let date = response
        .headers()
        .get(DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .map(|d| d.saturating_add(999));
    if let Some(size) = response.content_length()
        && size > max_bytes as u64
    {
        return Err(ResyncError::TooLarge {
            url: shown,
            size,
            limit: max_bytes,
        });
    }
    let capacity = response.content_length().map_or(0, |n| n as usize);
    let mut body = BytesMut::with_capacity(capacity);
    while let Some(chunk) = response.chunk().await.map_err(|e| ResyncError::Transport {
        url: shown.clone(),
        reason: e.without_url().to_string(),
    })? {
        if body.len() + chunk.len() > max_bytes {
            return Err(ResyncError::TooLargeRead {
                url: shown,
                read: body.len() + chunk.len(),
                limit: max_bytes,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body.freeze(), date))
}

/// A URL as errors name it: origin and path, never userinfo or query.
fn shown(url: &Url) -> String {
    format!("{}{}", origin(url), url.path().trim_end_matches('/'))
}
