//! DC/OS service-account login (EXTRA.md §5): the credentials file, the signed login token, the
//! authentication token it buys, and when to log in again (before that token expires, after
//! Marathon answers 401, never faster than the backoff allows).
//!
//! The private key and the tokens never leave this module except in the one header that sends a
//! token; errors name the credentials file, the login endpoint and the account's `uid`, never a
//! key or a token.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::{ClientError, describe_transport, origin};

/// How long the signed login token is valid. DC/OS rejects login tokens valid longer than ten
/// minutes; five leave room for a clock that differs from the IAM's either way.
pub const LOGIN_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How long a login request may take.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest wait between failed logins.
pub const LOGIN_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A token is renewed this long before it expires (or half its lifetime before, if shorter).
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// Lifetime assumed for a token whose expiry cannot be read (an opaque token).
const ASSUMED_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The login answer is a small JSON object; anything larger is not one.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A service account as the credentials file describes it (the DC/OS secret's JSON:
/// `uid`, `private_key`, `login_endpoint`, and optionally `scheme`, which must be `RS256`).
#[derive(Clone)]
pub struct ServiceAccount {
    pub uid: String,
    pub login_endpoint: Url,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("uid", &self.uid)
            .field("login_endpoint", &self.login_endpoint.as_str())
            .field("private_key", &"<redacted>")
            .finish()
    }
}

impl ServiceAccount {
    /// Reads and checks the credentials file.
    pub fn read(path: &Path) -> Result<ServiceAccount, ClientError> {
        let bad = |reason: String| ClientError::Credentials {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read(path).map_err(|source| ClientError::File {
            what: "DC/OS credentials file (--marathon.dcos-credentials-file)",
            path: path.to_owned(),
            source,
        })?;
        // Parsed as a plain value first: serde's typed errors quote the offending value, and a
        // value here may be the key.
        let value: Value = serde_json::from_slice(&text).map_err(|e| {
            bad(format!(
                "not JSON ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        let field = |name: &str| -> Result<&str, ClientError> {
            match value.get(name) {
                Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim()),
                Some(_) => Err(bad(format!("\"{name}\" is not a non-empty string"))),
                None => Err(bad(format!("\"{name}\" is missing"))),
            }
        };
        if let Some(scheme) = value.get("scheme")
            && scheme.as_str() != Some("RS256")
        {
            return Err(bad("\"scheme\" is not \"RS256\"".to_owned()));
        }
        let uid = field("uid")?.to_owned();
        let endpoint = field("login_endpoint")?;
        let login_endpoint = Url::parse(endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .filter(|u| u.username().is_empty() && u.password().is_none())
            .ok_or_else(|| bad("\"login_endpoint\" is not an http(s) URL".to_owned()))?;
        let key = EncodingKey::from_rsa_pem(field("private_key")?.as_bytes())
            .map_err(|_| bad("\"private_key\" is not an RSA private key in PEM".to_owned()))?;
        let account = ServiceAccount {
            uid,
            login_endpoint,
            key,
        };
        // A key that parses may still not sign (ring checks it only then).
        account
            .login_token(SystemTime::now())
            .map_err(|_| bad("\"private_key\" cannot sign RS256".to_owned()))?;
        Ok(account)
    }

    /// The login token: an RS256 JWT with the `uid` and `exp` claims, signed with the key.
    pub fn login_token(&self, now: SystemTime) -> Result<String, jsonwebtoken::errors::Error> {
        #[derive(Serialize)]
        struct Claims<'a> {
            uid: &'a str,
            exp: u64,
        }
        let exp = unix_seconds(now + LOGIN_TOKEN_LIFETIME);
        let claims = Claims {
            uid: &self.uid,
            exp,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
    }

    /// The endpoint as errors and logs name it: origin and path, no query.
    fn shown_endpoint(&self) -> String {
        format!(
            "{}{}",
            origin(&self.login_endpoint),
            self.login_endpoint.path()
        )
    }
}

/// A token and when to renew it.
struct Held {
    header: HeaderValue,
    renew_at: SystemTime,
}

/// What the login state says to do for the next request.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Use,
    Login,
    Wait { failure: String, left: Duration },
}

/// The login state: the current token, or the last failure and when the next attempt may be made.
#[derive(Default)]
struct Session {
    held: Option<Held>,
    failures: u32,
    retry_at: Option<Instant>,
    last_failure: Option<String>,
}

impl Session {
    fn next(&self, wall: SystemTime, now: Instant) -> Next {
        if let Some(held) = &self.held
            && wall < held.renew_at
        {
            return Next::Use;
        }
        match (self.retry_at, &self.last_failure) {
            (Some(at), Some(failure)) if now < at => Next::Wait {
                failure: failure.clone(),
                left: at - now,
            },
            _ => Next::Login,
        }
    }

    fn succeeded(&mut self, header: HeaderValue, renew_at: SystemTime) {
        self.held = Some(Held { header, renew_at });
        self.failures = 0;
        self.retry_at = None;
        self.last_failure = None;
    }

    fn failed(&mut self, failure: String, now: Instant) {
        self.held = None;
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now + backoff(self.failures));
        self.last_failure = Some(failure);
    }
}

/// The wait after `failures` failed logins in a row: 1 s, doubling, at most a minute.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(6);
    Duration::from_secs(1 << doublings).min(LOGIN_BACKOFF_MAX)
}

/// When to renew a token issued at `issued` that expires at `expires`: [`RENEW_BEFORE`] before
/// it expires, or halfway through its life if that is shorter.
fn renew_at(issued: SystemTime, expires: SystemTime) -> SystemTime {
    let lifetime = expires.duration_since(issued).unwrap_or_default();
    expires - RENEW_BEFORE.min(lifetime / 2)
}

/// The `exp` claim of a JWT, read without checking the signature (the token is the IAM's to
/// check; the exporter only needs to know when it runs out).
fn expiry_of(token: &str) -> Option<SystemTime> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    Some(UNIX_EPOCH + Duration::from_secs(exp))
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Logs in as a service account and holds the token; one login at a time, shared by the stream
/// and the resync.
pub struct DcosLogin {
    path: PathBuf,
    session: Mutex<Session>,
}

impl DcosLogin {
    /// Checks the credentials file now, so a bad one stops the exporter at start.
    pub fn new(path: &Path) -> Result<DcosLogin, ClientError> {
        ServiceAccount::read(path)?;
        Ok(DcosLogin {
            path: path.to_owned(),
            session: Mutex::new(Session::default()),
        })
    }

    /// The `Authorization` header for the next request: the held token, or a new one after a
    /// login. While logins fail, the last failure is returned until the backoff has passed.
    pub async fn authorization(&self, http: &reqwest::Client) -> Result<HeaderValue, ClientError> {
        let mut session = self.session.lock().await;
        match session.next(SystemTime::now(), Instant::now()) {
            Next::Use => {
                if let Some(held) = &session.held {
                    return Ok(held.header.clone());
                }
            }
            Next::Wait { failure, left } => {
                return Err(ClientError::Login(format!(
                    "{failure} (next attempt in {}s)",
                    left.as_secs().max(1)
                )));
            }
            Next::Login => {}
        }
        match self.login(http).await {
            Ok((header, renew_at)) => {
                session.succeeded(header.clone(), renew_at);
                Ok(header)
            }
            Err(failure) => {
                tracing::warn!(failure = %failure, "DC/OS login failed");
                session.failed(failure.clone(), Instant::now());
                Err(ClientError::Login(failure))
            }
        }
    }

    /// Marathon answered 401: the held token is no longer good, the next request logs in again.
    pub async fn rejected(&self) {
        self.session.lock().await.held = None;
    }

    /// One login: re-reads the credentials file (a rotated key takes effect), signs a login
    /// token, posts it, and reads the token from the answer. The failure names what failed.
    async fn login(&self, http: &reqwest::Client) -> Result<(HeaderValue, SystemTime), String> {
        let account = ServiceAccount::read(&self.path).map_err(|e| e.to_string())?;
        let endpoint = account.shown_endpoint();
        let failed = |what: String| format!("DC/OS login at {endpoint} failed: {what}");
        let issued = SystemTime::now();
        let token = account
            .login_token(issued)
            .map_err(|_| failed("cannot sign the login token".to_owned()))?;
        let body = serde_json::json!({ "uid": account.uid, "token": token });
        let mut response = http
            .post(account.login_endpoint.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .timeout(LOGIN_TIMEOUT)
            .send()
            .await
            .map_err(|e| failed(describe_transport(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let refused = matches!(status.as_u16(), 401 | 403);
            return Err(if refused {
                failed(format!(
                    "HTTP {} (the key of service account \"{}\" was refused)",
                    status.as_u16(),
                    account.uid
                ))
            } else {
                failed(format!("HTTP {}", status.as_u16()))
            });
        }
        let mut answer = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(describe_transport(&e)))?
        {
            if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(failed(format!("answer over {MAX_ANSWER_BYTES} bytes")));
            }
            answer.extend_from_slice(&chunk);
        }
        let token = serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| v.get("token")?.as_str().map(str::to_owned))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| failed("the answer holds no token".to_owned()))?;
        let mut header = HeaderValue::from_str(&format!("token={token}"))
            .map_err(|_| failed("the token is not a valid header value".to_owned()))?;
        header.set_sensitive(true);
        let expires = expiry_of(&token).unwrap_or(issued + ASSUMED_LIFETIME);
        tracing::info!(
            uid = %account.uid,
            expires_in_s = expires.duration_since(SystemTime::now()).unwrap_or_default().as_secs(),
            "logged in to DC/OS"
        );
        Ok((header, renew_at(issued, expires)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> HeaderValue {
        HeaderValue::from_static("token=t")
    }

    #[test]
    fn a_held_token_is_used_until_its_renewal_time() {
        let mut session = Session::default();
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(session.next(wall, now), Next::Login);
        session.succeeded(header(), wall + Duration::from_secs(60));
        assert_eq!(session.next(wall, now), Next::Use);
        assert_eq!(session.next(wall + Duration::from_secs(59), now), Next::Use);
        assert_eq!(
            session.next(wall + Duration::from_secs(60), now),
            Next::Login
        );
    }

    #[test]
    fn renewal_comes_five_minutes_early_or_halfway_for_short_tokens() {
        let issued = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let five_days = issued + Duration::from_secs(5 * 24 * 3600);
        assert_eq!(renew_at(issued, five_days), five_days - RENEW_BEFORE);
        let short = issued + Duration::from_secs(4);
        assert_eq!(renew_at(issued, short), issued + Duration::from_secs(2));
        // A token already expired when it arrived (clocks apart) is renewed at once.
        assert_eq!(
            renew_at(issued, issued - Duration::from_secs(1)),
            issued - Duration::from_secs(1)
        );
    }

    #[test]
    fn failures_back_off_doubling_to_a_minute_and_success_resets() {
        let mut session = Session::default();
        let now = Instant::now();
        let wall = UNIX_EPOCH;
        let mut waits = Vec::new();
        for _ in 0..8 {
            session.failed("refused".into(), now);
            match session.next(wall, now) {
                Next::Wait { left, failure } => {
                    assert_eq!(failure, "refused");
                    waits.push(left.as_secs());
                }
                other => panic!("expected a wait, got {other:?}"),
            }
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(
            session.next(wall, now + Duration::from_secs(60)),
            Next::Login
        );
        session.succeeded(header(), wall + Duration::from_secs(10));
        session.failed("again".into(), now);
        assert_eq!(
            session.next(wall, now),
            Next::Wait {
                failure: "again".into(),
                left: Duration::from_secs(1)
            }
        );
    }

    #[test]
    fn a_401_drops_the_token_without_waiting() {
        let mut session = Session::default();
        let wall = UNIX_EPOCH;
        session.succeeded(header(), wall + Duration::from_secs(600));
        session.held = None; // what `rejected` does
        assert_eq!(session.next(wall, Instant::now()), Next::Login);
    }

    #[test]
    fn the_expiry_is_read_from_the_token_and_garbage_has_none() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"uid":"x","exp":1700000000}"#);
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
        assert_eq!(
            expiry_of(&token),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        assert_eq!(expiry_of("opaque"), None);
        assert_eq!(expiry_of("a.!!!.c"), None);
        assert_eq!(expiry_of("a.e30.c"), None); // {} has no exp
    }
}
