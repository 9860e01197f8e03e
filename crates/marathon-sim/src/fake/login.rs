//! The DC/OS IAM login endpoint (`POST /acs/api/v1/auth/login`), as Admin Router serves it beside
//! Marathon: checks the service account's login token (RS256, signed with the key whose public
//! half it was given, `uid` matching, valid at most ten minutes) and issues authentication tokens
//! (JWTs with `uid` and `exp`) that Marathon's routes then accept until they expire or are revoked.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Shared;

pub const LOGIN_PATH: &str = "/acs/api/v1/auth/login";
/// The longest login-token lifetime the IAM accepts.
const MAX_LOGIN_TOKEN_LIFETIME: u64 = 10 * 60;

/// A service account the fake IAM knows.
#[derive(Clone, Debug)]
pub struct FakeLogin {
    pub uid: String,
    /// The account's public key (PEM, SubjectPublicKeyInfo or PKCS #1).
    pub public_key_pem: String,
    /// How long issued tokens are valid (whole seconds; `exp` is in seconds).
    pub token_lifetime: Duration,
}

/// One login the IAM accepted.
#[derive(Clone, Debug)]
pub struct Issued {
    pub token: String,
    pub expires: SystemTime,
    /// When it was issued, and whether the token issued before it was still valid then (a
    /// renewal before expiry) — `None` for the first.
    pub at: SystemTime,
    pub previous_still_valid: Option<bool>,
}

/// The IAM's state: issued tokens, refused attempts.
#[derive(Debug, Default)]
pub(super) struct Iam {
    pub issued: Vec<Issued>,
    /// Tokens issued before this index are revoked.
    pub revoked_before: usize,
    pub refused: usize,
}

impl Iam {
    /// Whether `token` was issued, is not revoked and has not expired.
    pub fn accepts(&self, token: &str, now: SystemTime) -> bool {
        self.issued[self.revoked_before.min(self.issued.len())..]
            .iter()
            .any(|i| i.token == token && now < i.expires)
    }
}

#[derive(Deserialize)]
struct LoginBody {
    uid: String,
    token: String,
}

#[derive(Deserialize)]
struct LoginClaims {
    uid: String,
    exp: u64,
}

#[derive(Serialize)]
struct IssuedClaims<'a> {
    uid: &'a str,
    exp: u64,
    jti: u64,
}

fn refused(description: &str) -> Response {
    let body = json!({
        "title": "Invalid authentication credentials",
        "description": description,
        "code": "ERR_INVALID_CREDENTIALS",
    });
    (
        StatusCode::UNAUTHORIZED,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub(super) async fn login(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(account) = shared.login.as_ref() else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let verdict = check(account, &body);
    let mut inner = shared.lock();
    let Some(uid) = verdict.ok() else {
        inner.iam.refused += 1;
        return refused("Login token invalid or not signed by the account's key");
    };
    let now = SystemTime::now();
    let exp = unix_seconds(now) + account.token_lifetime.as_secs();
    let expires = UNIX_EPOCH + Duration::from_secs(exp);
    let serial = inner.iam.issued.len() as u64;
    let claims = IssuedClaims {
        uid: &uid,
        exp,
        jti: serial,
    };
    // The real IAM signs with its own RSA key; the exporter only reads `exp`.
    let Ok(token) = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(b"fake-iam"),
    ) else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "signing failed").into_response();
    };
    let previous_still_valid = inner
        .iam
        .issued
        .last()
        .map(|p| inner.iam.accepts(&p.token, now));
    inner.iam.issued.push(Issued {
        token: token.clone(),
        expires,
        at: now,
        previous_still_valid,
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        json!({ "token": token }).to_string(),
    )
        .into_response()
}

/// The account's `uid` when the body carries a valid login token for it.
fn check(account: &FakeLogin, body: &[u8]) -> Result<String, ()> {
    let body: LoginBody = serde_json::from_slice(body).map_err(|_| ())?;
    let key = DecodingKey::from_rsa_pem(account.public_key_pem.as_bytes()).map_err(|_| ())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_required_spec_claims(&["exp"]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<LoginClaims>(&body.token, &key, &validation)
        .map_err(|_| ())?
        .claims;
    let lifetime = claims.exp.saturating_sub(unix_seconds(SystemTime::now()));
    if claims.uid != account.uid || body.uid != account.uid || lifetime > MAX_LOGIN_TOKEN_LIFETIME {
        return Err(());
    }
    Ok(claims.uid)
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
