//! The one layer that talks to Marathon over HTTP: a reqwest client with the configured TLS, the
//! configured Marathon URLs, and credentials (basic auth, a DC/OS token file re-read at every
//! connect, or a DC/OS service-account login: [`dcos`]) that are only ever sent to those hosts and
//! the leader they name; opening the event stream with its redirects ([`connect`]), reading the
//! snapshots from the stream's leader ([`fetch`]), and the backoff between attempts. The stream
//! and the resync (and so `record`) reach Marathon only through it.

mod backoff;
pub mod connect;
pub mod dcos;
pub mod fetch;

pub use self::backoff::Backoff;
pub use self::fetch::{Bodies, ResyncError, fetch_bodies};

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use url::Url;

use crate::config::Config;
use crate::secret::{Secret, read_secret_file};

/// How long opening a connection (TCP, then TLS) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Snapshots of large clusters are big; this bounds a stuck `/v2/tasks`.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(120);

/// What can go wrong setting up or using the client. Messages never contain a credential.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot read {what} {path}: {source}")]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid {what} in {path}: {reason}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    #[error("the token in {0} is not a valid header value")]
    BadToken(PathBuf),
    #[error("--marathon.dcos-credentials-file {}: {reason}", path.display())]
    Credentials { path: PathBuf, reason: String },
    #[error("{0}")]
    Login(String),
}

enum Auth {
    None,
    Basic {
        user: String,
        password: Option<Secret>,
    },
    Token(PathBuf),
    Dcos(dcos::DcosLogin),
}

/// The configured Marathon instances and how to reach them.
pub struct MarathonClient {
    http: reqwest::Client,
    urls: Vec<Url>,
    auth: Auth,
}

impl MarathonClient {
    pub fn new(config: &Config) -> Result<MarathonClient, ClientError> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .user_agent(concat!(
                "marathon-task-exporter/",
                env!("CARGO_PKG_VERSION")
            ));
        if let Some(path) = &config.ca_file {
            let pem = read(path, "CA file")?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClientError::Pem {
                    what: "CA bundle",
                    path: path.clone(),
                    reason: e.without_url().to_string(),
                })?;
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let (Some(cert), Some(key)) = (&config.client_cert_file, &config.client_key_file) {
            let mut pem = read(cert, "client certificate")?;
            pem.push(b'\n');
            pem.extend(read(key, "client key")?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| ClientError::Pem {
                what: "client certificate or key",
                path: cert.clone(),
                reason: e.without_url().to_string(),
            })?;
            builder = builder.identity(identity);
        }
        if config.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Build(e.without_url().to_string()))?;
        let auth = match (
            &config.username,
            &config.token_file,
            &config.dcos_credentials_file,
        ) {
            (Some(user), _, _) => Auth::Basic {
                user: user.clone(),
                password: config.password.clone(),
            },
            (None, Some(path), _) => Auth::Token(path.clone()),
            (None, None, Some(path)) => Auth::Dcos(dcos::DcosLogin::new(path)?),
            (None, None, None) => Auth::None,
        };
        Ok(MarathonClient {
            http,
            urls: config.marathon_urls.clone(),
            auth,
        })
    }

    pub fn urls(&self) -> &[Url] {
        &self.urls
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The `Authorization` header for the next request: the token file read afresh, or the
    /// service account's token (logging in first when it has none or it is due for renewal).
    pub async fn authorization(&self) -> Result<Option<HeaderValue>, ClientError> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Basic { user, password } => {
                use base64::Engine as _;
                let pair = format!("{user}:{}", password.as_ref().map_or("", Secret::expose));
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| ClientError::Build("basic auth header".into()))?;
                value.set_sensitive(true);
                Ok(Some(value))
            }
            Auth::Token(path) => {
                let token = read_secret_file(path).map_err(|source| ClientError::File {
                    what: "token file",
                    path: path.clone(),
                    source,
                })?;
                let mut value = HeaderValue::from_str(&format!("token={}", token.expose()))
                    .map_err(|_| ClientError::BadToken(path.clone()))?;
                value.set_sensitive(true);
                Ok(Some(value))
            }
            Auth::Dcos(login) => login.authorization(&self.http).await.map(Some),
        }
    }

    /// Marathon answered 401 to a request with credentials: a service-account token is dropped so
    /// that the next request logs in again. (A token file is re-read anyway; basic auth cannot
    /// change.)
    pub async fn unauthorized(&self) {
        if let Auth::Dcos(login) = &self.auth {
            login.rejected().await;
        }
    }

    /// A GET of `path` below `base`, with credentials when `with_auth`.
    pub async fn get(
        &self,
        url: &Url,
        with_auth: bool,
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let mut request = self.http.get(url.clone());
        if with_auth && let Some(value) = self.authorization().await? {
            request = request.header(AUTHORIZATION, value);
        }
        Ok(request)
    }

    /// Whether `url` points at one of the configured Marathon hosts (credentials may go there).
    pub fn is_configured_host(&self, url: &Url) -> bool {
        self.urls.iter().any(|u| same_origin(u, url))
    }
}

/// `base` (which may carry a path prefix, as behind DC/OS Admin Router) joined with `path`.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(None);
    url
}

/// Scheme, host and port equal.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// `scheme://host:port` of a URL, without userinfo or path: how leaders are named in logs.
pub fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// A transport error as one line: what failed, then each cause (never the URL, which may carry
/// userinfo).
pub fn describe_transport(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = error.source();
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the body failed"
    } else {
        "request failed"
    };
    text.push_str(kind);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn read(path: &PathBuf, what: &'static str) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::File {
        what,
        path: path.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_a_path_prefix() {
        let base = Url::parse("https://dcos.example.com/service/marathon").unwrap();
        assert_eq!(
            endpoint(&base, "v2/events").as_str(),
            "https://dcos.example.com/service/marathon/v2/events"
        );
        let base = Url::parse("http://m1:8080").unwrap();
        assert_eq!(
            endpoint(&base, "/v2/tasks").as_str(),
            "http://m1:8080/v2/tasks"
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Url::parse("http://m1:8080/x").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("http://m1:8080/v2/events").unwrap()
        ));
        assert!(!same_origin(&a, &Url::parse("http://m1:8081/").unwrap()));
        assert!(!same_origin(&a, &Url::parse("https://m1:8080/").unwrap()));
        assert_eq!(
            origin(&Url::parse("https://u:p@m1/x").unwrap()),
            "https://m1:443"
        );
    }
}
