//! `--web.config.file`: the exporter-toolkit web-config format (TLS, basic auth, response headers),
//! parsed strictly and validated, and the serving of our own endpoints with it.
//!
//! - [`tls`]: certificates, client verification, reloading them when they change.
//! - [`auth`]: basic auth against bcrypt hashes, with a cache of successful checks.
//! - [`headers`]: the configured response headers.
//! - [`limit`]: the cap on concurrent scrapes of the telemetry path.
//! - [`serve`]: the accept loop, per-connection timeouts and graceful shutdown.

pub mod auth;
pub(crate) mod body;
mod conn;
pub mod headers;
pub mod limit;
pub mod serve;
pub mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use serde::Deserialize;
use serde::de::IgnoredAny;

pub use self::auth::BasicAuth;
pub use self::headers::ResponseHeaders;
pub use self::limit::ScrapeLimiter;
pub use self::serve::Limits;
pub use self::tls::{TlsError, TlsServer};

/// A web config is a few hundred bytes; anything this large is not one, and is not read whole.
pub const MAX_WEB_CONFIG_BYTES: u64 = 1024 * 1024;

/// Why a web config file cannot be used. Messages are one line and never quote a secret.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("cannot read it: {0}")]
    Read(std::io::Error),
    #[error("larger than {MAX_WEB_CONFIG_BYTES} bytes: not a web config file")]
    TooLarge,
    #[error("not a valid web config: {0}")]
    Yaml(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A loaded web config, ready to serve with: TLS (if configured), basic auth (if any user is
/// configured), response headers. The default is plain HTTP without authentication.
#[derive(Clone, Default)]
pub struct WebConfig {
    tls: Option<Arc<TlsServer>>,
    auth: Option<Arc<BasicAuth>>,
    headers: ResponseHeaders,
    http2: bool,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls)
            .field("basic_auth", &self.auth)
            .field("headers", &self.headers)
            .field("http2", &self.http2)
            .finish()
    }
}

/// The file's top level, as written. No Debug: it holds secrets before they are wrapped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tls_server_config: Option<tls::RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rate_limit: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
}

impl WebConfig {
    /// Reads and validates the file: YAML with no unknown key, certificates and keys readable
    /// and matching, bcrypt hashes well-formed. Relative paths are taken from the file's directory.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let file = std::fs::File::open(path).map_err(WebConfigError::Read)?;
        let mut text = String::new();
        file.take(MAX_WEB_CONFIG_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(WebConfigError::Read)?;
        if text.len() as u64 > MAX_WEB_CONFIG_BYTES {
            return Err(WebConfigError::TooLarge);
        }
        let dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        WebConfig::parse(&text, &dir)
    }

    /// [`WebConfig::load`] on text already read; relative paths are taken from `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<WebConfig, WebConfigError> {
        // An empty file (or one with only comments) is a valid, empty configuration.
        let raw: Option<RawConfig> =
            yaml_serde::from_str(text).map_err(|e| WebConfigError::Yaml(redact(&e.to_string())))?;
        let Some(raw) = raw else {
            return Ok(WebConfig::default());
        };
        if raw.rate_limit.is_some() {
            return Err(WebConfigError::Invalid(
                "rate_limit is not supported by this exporter (scrapes of the telemetry path are \
                 capped by a built-in concurrency limit instead); remove it"
                    .to_owned(),
            ));
        }
        let tls = match raw.tls_server_config {
            Some(raw_tls) => match raw_tls.validate(dir)? {
                Some(settings) => Some(Arc::new(TlsServer::new(settings)?)),
                None => None,
            },
            None => None,
        };
        let (http2, headers) = match raw.http_server_config {
            Some(http) => (
                http.http2.unwrap_or(true),
                ResponseHeaders::new(http.headers.unwrap_or_default())?,
            ),
            None => (true, ResponseHeaders::default()),
        };
        let users = raw.basic_auth_users.unwrap_or_default();
        let auth = if users.is_empty() {
            None
        } else {
            Some(Arc::new(BasicAuth::new(users)?))
        };
        Ok(WebConfig {
            tls,
            auth,
            headers,
            http2,
        })
    }

    /// Whether the endpoints are served over TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether every request needs basic auth.
    pub fn basic_auth_enabled(&self) -> bool {
        self.auth.is_some()
    }

    /// `http_server_config.http2` as written (default true). The endpoints speak HTTP/1.1 only,
    /// which every Prometheus speaks; a client offering HTTP/2 is answered in HTTP/1.1.
    pub fn http2_requested(&self) -> bool {
        self.http2
    }

    /// The TLS side, when TLS is configured.
    pub fn tls(&self) -> Option<Arc<TlsServer>> {
        self.tls.clone()
    }

    /// `router` behind basic auth (every path, including unknown ones) with the configured
    /// response headers on every answer, 401s included.
    pub fn protect(&self, router: Router) -> Router {
        let mut router = router;
        if let Some(auth) = &self.auth {
            router = router.layer(axum::middleware::from_fn_with_state(
                Arc::clone(auth),
                auth::require,
            ));
        }
        if !self.headers.is_empty() {
            router = router.layer(axum::middleware::from_fn_with_state(
                self.headers.clone(),
                headers::add,
            ));
        }
        router
    }
}

/// A path from the file: relative ones are taken from the file's directory.
fn resolve(dir: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

/// Parser messages quote a mistyped value (`invalid type: string "..."`); that value may be a
/// hash or a key pasted in the wrong place, so quoted strings are dropped. Newlines become spaces.
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("string \"") {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        let after = &rest[start + "string \"".len()..];
        rest = match find_closing_quote(after) {
            Some(end) => &after[end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out.replace(['\n', '\r'], " ")
}

/// The index of the first `"` not escaped by a backslash.
fn find_closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(text, Path::new("/nonexistent"))
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("should be rejected").to_string()
    }

    #[test]
    fn an_empty_file_is_plain_http_without_auth() {
        for text in ["", "# nothing\n", "{}", "tls_server_config:\n"] {
            let config = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert!(
                !config.tls_enabled() && !config.basic_auth_enabled(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_errors_at_every_level() {
        for (text, key) in [
            ("tls_server_confg: {}\n", "tls_server_confg"),
            ("tls_server_config:\n  cert_fil: x\n", "cert_fil"),
            ("http_server_config:\n  http3: true\n", "http3"),
        ] {
            let message = error(text);
            assert!(message.contains(key), "{text:?}: {message}");
            assert!(message.contains("unknown field"), "{message}");
        }
    }

    #[test]
    fn rate_limit_is_refused_rather_than_ignored() {
        let message = error("rate_limit:\n  interval: 1s\n  burst: 20\n");
        assert!(message.contains("rate_limit is not supported"), "{message}");
    }

    #[test]
    fn invalid_yaml_is_one_line() {
        let message = error("basic_auth_users: [unclosed\n  x: y\n");
        assert!(message.starts_with("not a valid web config: "), "{message}");
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_not_quoted_back() {
        let secret = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
        for text in [
            format!("basic_auth_users: \"{secret}\"\n"),
            format!("tls_server_config: \"{secret}\"\n"),
            format!("http_server_config:\n  http2: \"{secret}\"\n"),
        ] {
            let message = error(&text);
            assert!(message.contains("invalid type"), "{message}");
            assert!(!message.contains("QOauhQ"), "{message}");
        }
    }

    #[test]
    fn redact_drops_quoted_strings_with_escapes() {
        assert_eq!(
            redact("invalid type: string \"a\\\"b\", expected x\nat line 1"),
            "invalid type: a string, expected x at line 1"
        );
        assert_eq!(redact("unknown field `x`"), "unknown field `x`");
        assert_eq!(redact("string \"never closed"), "a string");
    }

    #[test]
    fn relative_paths_resolve_against_the_file_directory() {
        assert_eq!(
            resolve(Path::new("/etc/exporter"), "tls/cert.pem"),
            PathBuf::from("/etc/exporter/tls/cert.pem")
        );
        assert_eq!(
            resolve(Path::new("/etc/exporter"), "/abs/cert.pem"),
            PathBuf::from("/abs/cert.pem")
        );
    }

    #[test]
    fn http2_is_accepted_either_way() {
        let on = parse("http_server_config:\n  http2: true\n").unwrap();
        assert!(on.http2_requested());
        let off = parse("http_server_config:\n  http2: false\n").unwrap();
        assert!(!off.http2_requested());
    }
}
