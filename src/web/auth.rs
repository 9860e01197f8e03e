//! Basic auth for every endpoint: users and bcrypt hashes from `basic_auth_users`; successful
//! checks cached under a keyed hash of user and password (never the password itself); bcrypt
//! run one at a time on the blocking pool; an unknown user costs a full bcrypt check too.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr as _;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ring::hmac;

use super::WebConfigError;
use crate::secret::Secret;

/// Successful checks remembered; a handful of scrapers use a handful of credentials, and the
/// bound keeps a flood of distinct good credentials from growing memory.
pub const AUTH_CACHE_ENTRIES: usize = 100;
/// bcrypt's own bounds on the cost factor.
const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// The configured users and what serving them needs.
pub struct BasicAuth {
    users: BTreeMap<String, Secret>,
    /// The most expensive configured hash: checked against for unknown users, so that they
    /// cost as much as known ones and cannot be told apart by timing.
    decoy: Secret,
    /// Keys the cache: a per-process secret, so cached tags are useless outside this process.
    cache_key: hmac::Key,
    cache: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt check at a time: wrong passwords cannot take every core. The turn is held by
    /// the check itself, so a client that hangs up does not free it early.
    bcrypt_turn: Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.users.iter()).finish()
    }
}

impl BasicAuth {
    /// Validates every entry: a user name usable in basic auth and a well-formed bcrypt hash.
    pub fn new(users: BTreeMap<String, String>) -> Result<BasicAuth, WebConfigError> {
        let mut decoy: Option<(u32, &String)> = None;
        for (user, hash) in &users {
            if user.is_empty() || user.contains(':') {
                return Err(WebConfigError::Invalid(format!(
                    "basic_auth_users: user name {user:?} cannot be used (it must be non-empty and \
                     contain no ':')"
                )));
            }
            // The salt and digest use bcrypt's base64 alphabet; anything else would fail every
            // check later, silently.
            let alphabet_ok = hash.rsplit('$').next().is_some_and(|tail| {
                tail.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
            });
            let cost = bcrypt::HashParts::from_str(hash)
                .ok()
                .filter(|_| alphabet_ok)
                .map(|parts| parts.get_cost())
                .filter(|cost| BCRYPT_COSTS.contains(cost))
                .ok_or_else(|| {
                    WebConfigError::Invalid(format!(
                        "basic_auth_users: the password of {user:?} is not a bcrypt hash \
                         ($2a$, $2b$ or $2y$, cost 4 to 31; see `htpasswd -nBC 10 {user}`)"
                    ))
                })?;
            if decoy.is_none_or(|(most, _)| cost > most) {
                decoy = Some((cost, hash));
            }
        }
        let decoy = match decoy {
            Some((_, hash)) => Secret::new(hash.clone()),
            None => {
                return Err(WebConfigError::Invalid(
                    "basic_auth_users is empty".to_owned(),
                ));
            }
        };
        let rng = ring::rand::SystemRandom::new();
        let cache_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng).map_err(|_| {
            WebConfigError::Invalid("no system randomness for the credentials cache".to_owned())
        })?;
        Ok(BasicAuth {
            users: users
                .into_iter()
                .map(|(user, hash)| (user, Secret::new(hash)))
                .collect(),
            decoy,
            cache_key,
            cache: Mutex::new(HashSet::new()),
            bcrypt_turn: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Whether `user` with `password` may in. Never logs either.
    pub async fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let tag = self.tag(user, password);
        if self.cached(&tag) {
            return true;
        }
        let known = std::str::from_utf8(user)
            .ok()
            .and_then(|user| self.users.get(user));
        let hash = known.unwrap_or(&self.decoy).clone();
        let turn = Arc::clone(&self.bcrypt_turn).lock_owned().await;
        // Another request with the same credentials may have been checked while this one waited.
        if self.cached(&tag) {
            return true;
        }
        let password = password.to_vec();
        let verified = tokio::task::spawn_blocking(move || {
            let verified = bcrypt::verify(&password, hash.expose()).unwrap_or(false);
            drop(turn);
            verified
        })
        .await
        .unwrap_or(false);
        let allowed = verified && known.is_some();
        if allowed {
            let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() >= AUTH_CACHE_ENTRIES
                && let Some(evicted) = cache.iter().next().copied()
            {
                cache.remove(&evicted);
            }
            cache.insert(tag);
        }
        allowed
    }

    fn cached(&self, tag: &[u8; 32]) -> bool {
        // The tag is a keyed hash: how long the lookup takes says nothing about the password.
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(tag)
    }

    /// HMAC-SHA256 of the user (length-prefixed, so user and password cannot trade bytes) and
    /// the password.
    fn tag(&self, user: &[u8], password: &[u8]) -> [u8; 32] {
        let mut context = hmac::Context::with_key(&self.cache_key);
        context.update(&(user.len() as u64).to_be_bytes());
        context.update(user);
        context.update(password);
        let mut tag = [0u8; 32];
        tag.copy_from_slice(context.sign().as_ref());
        tag
    }

    /// Entries in the cache of successful checks.
    pub fn cached_entries(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// `Authorization: Basic <base64(user:password)>` split into its two halves.
fn credentials(value: &HeaderValue) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let password = decoded[colon + 1..].to_vec();
    let mut user = decoded;
    user.truncate(colon);
    Some((user, password))
}

/// The middleware: 401 with `WWW-Authenticate: Basic` unless the request carries a valid user.
pub async fn require(State(auth): State<Arc<BasicAuth>>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(credentials);
    if let Some((user, password)) = given
        && auth.check(&user, &password).await
    {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic")],
        "Unauthorized\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cost 4, the minimum, keeps the tests fast.
    fn hash(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap()
    }

    fn auth(users: &[(&str, &str)]) -> BasicAuth {
        BasicAuth::new(
            users
                .iter()
                .map(|(u, p)| ((*u).to_owned(), hash(p)))
                .collect(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn right_password_passes_and_is_cached_wrong_ones_are_not() {
        let auth = auth(&[("alice", "wonderland"), ("bob", "builder")]);
        assert!(auth.check(b"alice", b"wonderland").await);
        assert_eq!(auth.cached_entries(), 1);
        assert!(auth.check(b"alice", b"wonderland").await, "from the cache");
        assert!(!auth.check(b"alice", b"builder").await);
        assert!(!auth.check(b"mallory", b"wonderland").await);
        assert!(!auth.check(b"", b"").await);
        assert!(!auth.check(&[0xff, 0xfe], b"x").await);
        assert_eq!(auth.cached_entries(), 1, "failures are not cached");
        assert!(auth.check(b"bob", b"builder").await);
        assert_eq!(auth.cached_entries(), 2);
    }

    #[tokio::test]
    async fn bcrypt_checks_take_turns_but_cached_ones_do_not_wait() {
        let auth = auth(&[("alice", "a"), ("bob", "b")]);
        assert!(auth.check(b"alice", b"a").await);
        let held = Arc::clone(&auth.bcrypt_turn).lock_owned().await;
        let cached = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            auth.check(b"alice", b"a"),
        );
        assert_eq!(cached.await.ok(), Some(true), "no turn needed");
        let check = auth.check(b"bob", b"b");
        tokio::pin!(check);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), &mut check).await;
        assert!(waited.is_err(), "waits while another check has the turn");
        drop(held);
        assert!(check.await);
    }

    #[tokio::test]
    async fn an_unknown_user_with_a_known_users_password_is_refused() {
        // The decoy is a real user's hash: its password must not let an unknown user in.
        let auth = auth(&[("alice", "wonderland")]);
        assert!(!auth.check(b"eve", b"wonderland").await);
        assert_eq!(auth.cached_entries(), 0);
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let auth = auth(&[("alice", "a")]);
        // Distinct tags for the same user come from distinct passwords; fill through `tag`.
        {
            let mut cache = auth.cache.lock().unwrap();
            for i in 0..AUTH_CACHE_ENTRIES {
                cache.insert(auth.tag(b"filler", i.to_string().as_bytes()));
            }
        }
        assert!(auth.check(b"alice", b"a").await);
        assert_eq!(auth.cached_entries(), AUTH_CACHE_ENTRIES);
    }

    #[test]
    fn tags_depend_on_where_user_ends() {
        let auth = auth(&[("alice", "a")]);
        assert_ne!(auth.tag(b"ab", b"c"), auth.tag(b"a", b"bc"));
        assert_eq!(auth.tag(b"a", b"bc"), auth.tag(b"a", b"bc"));
    }

    #[test]
    fn entries_must_be_bcrypt_hashes_and_errors_do_not_quote_them() {
        for bad in [
            "plaintext-password",
            "$1$abc$def",
            "$2y$99$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi",
            "$2y$10$short",
            "$2y$10$!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            let users = BTreeMap::from([("alice".to_owned(), bad.to_owned())]);
            let message = BasicAuth::new(users).unwrap_err().to_string();
            assert!(message.contains("not a bcrypt hash"), "{message}");
            assert!(!message.contains(bad), "{message}");
        }
        for bad_user in ["", "a:b"] {
            let users = BTreeMap::from([(bad_user.to_owned(), hash("x"))]);
            let message = BasicAuth::new(users).unwrap_err().to_string();
            assert!(message.contains("cannot be used"), "{message}");
        }
    }

    #[test]
    fn debug_shows_users_but_not_hashes() {
        let hashed = hash("wonderland");
        let auth = BasicAuth::new(BTreeMap::from([("alice".to_owned(), hashed.clone())])).unwrap();
        for text in [format!("{auth:?}"), format!("{auth:#?}")] {
            assert!(text.contains("alice"), "{text}");
            assert!(!text.contains(&hashed[7..]), "{text}");
            assert!(!text.contains("$2"), "{text}");
        }
    }

    #[test]
    fn credentials_are_parsed_from_the_header() {
        let header = |text: &str| HeaderValue::from_str(text).unwrap();
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss");
        assert_eq!(
            credentials(&header(&format!("Basic {encoded}"))),
            Some((b"alice".to_vec(), b"pa:ss".to_vec()))
        );
        assert_eq!(
            credentials(&header(&format!("basic  {encoded}"))).map(|c| c.0),
            Some(b"alice".to_vec())
        );
        assert_eq!(credentials(&header(&format!("Bearer {encoded}"))), None);
        assert_eq!(credentials(&header("Basic !!!")), None);
        let no_colon = base64::engine::general_purpose::STANDARD.encode("alice");
        assert_eq!(credentials(&header(&format!("Basic {no_colon}"))), None);
    }
}
