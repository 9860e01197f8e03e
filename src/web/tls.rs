//! TLS for our endpoints: `tls_server_config` validated into rustls settings, and a server that
//! re-reads the certificate, key and client CA files at every handshake, switching to new ones
//! as soon as they form a valid set (a rotated certificate needs no restart).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::rustls::crypto::{CryptoProvider, SupportedKxGroup, ring};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{Acceptor, WebPkiClientVerifier};
use tokio_rustls::rustls::{
    NamedGroup, RootCertStore, ServerConfig, SupportedCipherSuite, SupportedProtocolVersion,
    version,
};
use tokio_rustls::server::TlsStream;

use super::{WebConfigError, resolve};
use crate::config::Secret;

/// The first byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// What a plain-HTTP client gets on the TLS port, so the mistake is obvious from curl.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Why the TLS files cannot be used. Never quotes a key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls_server_config.{field} {}: {source}", path.display())]
    Read {
        field: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("tls_server_config.{field}: no PEM certificate in it")]
    NoCertificate { field: &'static str },
    #[error("tls_server_config.{field}: not a valid PEM certificate file: {reason}")]
    BadCertificate { field: &'static str, reason: String },
    #[error("tls_server_config.{field}: no usable PEM private key (PKCS#8, PKCS#1 or SEC1) in it")]
    BadKey { field: &'static str },
    #[error("tls_server_config: {0}")]
    Rejected(String),
}

/// `tls_server_config` as written. No Debug: `key` is a secret until wrapped.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

/// Where PEM text comes from: a file (re-read at every handshake) or the config itself.
#[derive(Clone)]
enum Pem {
    File(PathBuf),
    Inline(Secret),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => write!(f, "{}", path.display()),
            Pem::Inline(_) => f.write_str("<inline>"),
        }
    }
}

/// Which client certificates are asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `NoClientCert` (the default).
    None,
    /// `VerifyClientCertIfGiven`: a certificate is optional, but must verify if sent.
    VerifyIfGiven,
    /// `RequireAndVerifyClientCert`.
    RequireAndVerify,
}

/// Validated TLS settings.
#[derive(Clone)]
pub struct TlsSettings {
    cert: Pem,
    key: Pem,
    client_ca: Option<Pem>,
    client_auth: ClientAuth,
    versions: Vec<&'static SupportedProtocolVersion>,
    provider: Arc<CryptoProvider>,
    prefer_server_order: bool,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suites: Vec<_> = self
            .provider
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        let groups: Vec<_> = self.provider.kx_groups.iter().map(|g| g.name()).collect();
        f.debug_struct("TlsSettings")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("client_ca", &self.client_ca)
            .field("client_auth", &self.client_auth)
            .field("versions", &self.versions)
            .field("cipher_suites", &suites)
            .field("curves", &groups)
            .field("prefer_server_cipher_suites", &self.prefer_server_order)
            .finish()
    }
}

fn invalid(message: String) -> WebConfigError {
    WebConfigError::Invalid(format!("tls_server_config.{message}"))
}

/// Empty strings count as unset, as in the original format.
fn set(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// One of the inline and file forms of a PEM item, not both.
fn pem_source(
    dir: &Path,
    inline: Option<String>,
    file: Option<String>,
    names: (&str, &str),
) -> Result<Option<Pem>, WebConfigError> {
    match (set(inline), set(file)) {
        (Some(_), Some(_)) => Err(invalid(format!(
            "{} and {} cannot both be set",
            names.0, names.1
        ))),
        (Some(text), None) => Ok(Some(Pem::Inline(Secret::new(text)))),
        (None, Some(path)) => Ok(Some(Pem::File(resolve(dir, &path)))),
        (None, None) => Ok(None),
    }
}

fn tls_version(
    field: &str,
    text: &str,
) -> Result<&'static SupportedProtocolVersion, WebConfigError> {
    match text {
        "TLS13" => Ok(&version::TLS13),
        "TLS12" => Ok(&version::TLS12),
        "TLS10" | "TLS11" => Err(invalid(format!(
            "{field}: {text} is not supported (TLS 1.0 and 1.1 are obsolete); use TLS12 or TLS13"
        ))),
        other => Err(invalid(format!(
            "{field}: unknown TLS version {other:?} (use TLS12 or TLS13)"
        ))),
    }
}

/// Cipher suites by the names Go (and so the original format) gives them.
fn select_suites(
    names: &[String],
    all: &[SupportedCipherSuite],
) -> Result<Vec<SupportedCipherSuite>, WebConfigError> {
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    for name in names {
        // Go also accepts the ChaCha20 suites without their hash suffix.
        let canonical = match name.as_str() {
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
                format!("{name}_SHA256")
            }
            _ => name.clone(),
        };
        let Some(suite) = all
            .iter()
            .find(|s| s.suite().as_str() == Some(canonical.as_str()))
        else {
            let supported: Vec<&str> = all.iter().filter_map(|s| s.suite().as_str()).collect();
            return Err(invalid(format!(
                "cipher_suites: {name} is not supported (supported: {})",
                supported.join(", ")
            )));
        };
        // As in Go, TLS 1.3 suites are not configurable: all of them stay enabled.
        if matches!(suite, SupportedCipherSuite::Tls12(_)) && !chosen.contains(suite) {
            chosen.push(*suite);
        }
    }
    chosen.extend(
        all.iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_))),
    );
    Ok(chosen)
}

fn curve(name: &str) -> Result<NamedGroup, WebConfigError> {
    match name {
        "CurveP256" => Ok(NamedGroup::secp256r1),
        "CurveP384" => Ok(NamedGroup::secp384r1),
        "X25519" => Ok(NamedGroup::X25519),
        "CurveP521" => Err(invalid(
            "curve_preferences: CurveP521 is not supported (use CurveP256, CurveP384 or X25519)"
                .to_owned(),
        )),
        other => Err(invalid(format!(
            "curve_preferences: unknown curve {other:?} (use CurveP256, CurveP384 or X25519)"
        ))),
    }
}

impl RawTls {
    /// The settings, or `None` when no TLS key is set (plain HTTP). Certificates are not read here.
    pub(super) fn validate(self, dir: &Path) -> Result<Option<TlsSettings>, WebConfigError> {
        let cert = pem_source(dir, self.cert, self.cert_file, ("cert", "cert_file"))?;
        let key = pem_source(dir, self.key, self.key_file, ("key", "key_file"))?;
        let client_ca = pem_source(
            dir,
            self.client_ca,
            self.client_ca_file,
            ("client_ca", "client_ca_file"),
        )?;
        let client_auth_type = set(self.client_auth_type);
        let enabled =
            cert.is_some() || key.is_some() || client_ca.is_some() || client_auth_type.is_some();
        if !enabled {
            let others = self.min_version.is_some()
                || self.max_version.is_some()
                || self.cipher_suites.is_some()
                || self.prefer_server_cipher_suites.is_some()
                || self.curve_preferences.is_some()
                || self.client_allowed_sans.is_some();
            if others {
                return Err(invalid(
                    "cert_file and key_file are missing: the other TLS settings need them".into(),
                ));
            }
            return Ok(None);
        }
        let cert = cert.ok_or_else(|| invalid("cert_file (or cert) is missing".into()))?;
        let key = key.ok_or_else(|| invalid("key_file (or key) is missing".into()))?;
        let client_auth = match client_auth_type.as_deref() {
            None | Some("NoClientCert") => ClientAuth::None,
            Some("VerifyClientCertIfGiven") => ClientAuth::VerifyIfGiven,
            Some("RequireAndVerifyClientCert") => ClientAuth::RequireAndVerify,
            Some(other @ ("RequestClientCert" | "RequireAnyClientCert" | "RequireClientCert")) => {
                return Err(invalid(format!(
                    "client_auth_type: {other} accepts client certificates without verifying them \
                     and is not supported; use RequireAndVerifyClientCert (or \
                     VerifyClientCertIfGiven) with client_ca_file"
                )));
            }
            Some(other) => {
                return Err(invalid(format!(
                    "client_auth_type: unknown value {other:?} (use NoClientCert, \
                     VerifyClientCertIfGiven or RequireAndVerifyClientCert)"
                )));
            }
        };
        match (client_auth, &client_ca) {
            (ClientAuth::None, Some(_)) => {
                return Err(invalid(
                    "client_ca_file is set but client_auth_type is not: set \
                     client_auth_type: RequireAndVerifyClientCert"
                        .into(),
                ));
            }
            (ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify, None) => {
                return Err(invalid(
                    "client_auth_type needs client_ca_file (or client_ca) to verify clients with"
                        .into(),
                ));
            }
            _ => {}
        }
        if self
            .client_allowed_sans
            .is_some_and(|sans| !sans.is_empty())
        {
            return Err(invalid(
                "client_allowed_sans is not supported; issue client certificates from a CA \
                 that is trusted only for this purpose"
                    .into(),
            ));
        }
        let min = tls_version(
            "min_version",
            self.min_version.as_deref().unwrap_or("TLS12"),
        )?;
        let max = tls_version(
            "max_version",
            self.max_version.as_deref().unwrap_or("TLS13"),
        )?;
        let versions: Vec<&'static SupportedProtocolVersion> = [&version::TLS12, &version::TLS13]
            .into_iter()
            .filter(|v| rank(v) >= rank(min) && rank(v) <= rank(max))
            .collect();
        if versions.is_empty() {
            return Err(invalid(
                "min_version is above max_version: no TLS version is left".into(),
            ));
        }
        let mut provider = ring::default_provider();
        if let Some(names) = self.cipher_suites.filter(|n| !n.is_empty()) {
            provider.cipher_suites = select_suites(&names, &provider.cipher_suites)?;
            let has_tls12 = provider
                .cipher_suites
                .iter()
                .any(|s| matches!(s, SupportedCipherSuite::Tls12(_)));
            if versions.contains(&&version::TLS12) && !has_tls12 {
                return Err(invalid(
                    "cipher_suites names no TLS 1.2 suite while min_version allows TLS 1.2".into(),
                ));
            }
        }
        if let Some(names) = self.curve_preferences.filter(|n| !n.is_empty()) {
            let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
            for name in &names {
                let wanted = curve(name)?;
                let available = provider.kx_groups.iter().find(|g| g.name() == wanted);
                let listed = groups.iter().any(|g| g.name() == wanted);
                if let (Some(group), false) = (available, listed) {
                    groups.push(*group);
                }
            }
            provider.kx_groups = groups;
        }
        Ok(Some(TlsSettings {
            cert,
            key,
            client_ca,
            client_auth,
            versions,
            provider: Arc::new(provider),
            prefer_server_order: self.prefer_server_cipher_suites.unwrap_or(true),
        }))
    }
}

fn rank(version: &SupportedProtocolVersion) -> u8 {
    if version.version == version::TLS13.version {
        13
    } else {
        12
    }
}

/// The bytes of the certificate, key and CA as read at one moment.
struct Material {
    cert: Vec<u8>,
    key: Secret,
    client_ca: Option<Vec<u8>>,
}

impl Material {
    /// A digest of everything, to tell whether the files changed.
    fn fingerprint(&self) -> [u8; 32] {
        let mut context = ::ring::digest::Context::new(&::ring::digest::SHA256);
        for part in [
            self.cert.as_slice(),
            self.key.expose().as_bytes(),
            self.client_ca.as_deref().unwrap_or_default(),
        ] {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(context.finish().as_ref());
        out
    }
}

fn read_pem(pem: &Pem, field: &'static str) -> Result<Vec<u8>, TlsError> {
    match pem {
        Pem::Inline(text) => Ok(text.expose().as_bytes().to_vec()),
        Pem::File(path) => std::fs::read(path).map_err(|source| TlsError::Read {
            field,
            path: path.clone(),
            source,
        }),
    }
}

fn field_name(pem: &Pem, file: &'static str, inline: &'static str) -> &'static str {
    match pem {
        Pem::File(_) => file,
        Pem::Inline(_) => inline,
    }
}

fn certificates(pem: &[u8], field: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate {
            field,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { field });
    }
    Ok(certs)
}

impl TlsSettings {
    fn read(&self) -> Result<Material, TlsError> {
        let cert = read_pem(&self.cert, field_name(&self.cert, "cert_file", "cert"))?;
        let key = read_pem(&self.key, field_name(&self.key, "key_file", "key"))?;
        let key = Secret::new(String::from_utf8(key).map_err(|_| TlsError::BadKey {
            field: field_name(&self.key, "key_file", "key"),
        })?);
        let client_ca = match &self.client_ca {
            Some(pem) => Some(read_pem(
                pem,
                field_name(pem, "client_ca_file", "client_ca"),
            )?),
            None => None,
        };
        Ok(Material {
            cert,
            key,
            client_ca,
        })
    }

    fn build(&self, material: &Material) -> Result<ServerConfig, TlsError> {
        let chain = certificates(&material.cert, field_name(&self.cert, "cert_file", "cert"))?;
        // The parser's own errors may quote the input: only say that the key is unusable.
        let key =
            PrivateKeyDer::from_pem_slice(material.key.expose().as_bytes()).map_err(|_| {
                TlsError::BadKey {
                    field: field_name(&self.key, "key_file", "key"),
                }
            })?;
        let rejected = |e: tokio_rustls::rustls::Error| TlsError::Rejected(e.to_string());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_protocol_versions(&self.versions)
            .map_err(rejected)?;
        let builder = match (&self.client_ca, &material.client_ca) {
            (Some(pem), Some(ca)) if self.client_auth != ClientAuth::None => {
                let field = field_name(pem, "client_ca_file", "client_ca");
                let mut roots = RootCertStore::empty();
                for cert in certificates(ca, field)? {
                    roots.add(cert).map_err(|e| TlsError::BadCertificate {
                        field,
                        reason: e.to_string(),
                    })?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&self.provider),
                );
                let verifier = match self.client_auth {
                    ClientAuth::VerifyIfGiven => verifier.allow_unauthenticated(),
                    _ => verifier,
                };
                let verifier = verifier
                    .build()
                    .map_err(|e| TlsError::Rejected(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key).map_err(rejected)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.ignore_client_order = self.prefer_server_order;
        Ok(config)
    }
}

/// The TLS side of the server: the settings and the configuration built from the files as
/// they were at the last handshake.
pub struct TlsServer {
    settings: TlsSettings,
    current: Mutex<Current>,
}

struct Current {
    fingerprint: [u8; 32],
    config: Arc<ServerConfig>,
    /// The files that last failed to load, so that a broken set is not rebuilt (or logged) at
    /// every handshake.
    failed: Option<[u8; 32]>,
    /// A file could not be read at the last handshake (already logged).
    unreadable: bool,
}

impl fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

impl TlsServer {
    /// Reads the files and builds the first configuration; errors if they are unusable.
    pub fn new(settings: TlsSettings) -> Result<TlsServer, TlsError> {
        let material = settings.read()?;
        let config = settings.build(&material)?;
        Ok(TlsServer {
            settings,
            current: Mutex::new(Current {
                fingerprint: material.fingerprint(),
                config: Arc::new(config),
                failed: None,
                unreadable: false,
            }),
        })
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The configuration for a new handshake: rebuilt when the files changed and form a valid
    /// set; otherwise the last good one (a half-written rotation is retried at the next handshake).
    pub fn refresh(&self) -> Arc<ServerConfig> {
        let read = self.settings.read();
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let material = match read {
            Ok(material) => {
                current.unreadable = false;
                material
            }
            Err(error) => {
                // Usually a rotation in progress; say so once, not at every handshake.
                if !current.unreadable {
                    tracing::warn!(error = %error, "cannot re-read the TLS files; serving the previous certificate");
                    current.unreadable = true;
                }
                return Arc::clone(&current.config);
            }
        };
        let fingerprint = material.fingerprint();
        if fingerprint == current.fingerprint || current.failed == Some(fingerprint) {
            return Arc::clone(&current.config);
        }
        match self.settings.build(&material) {
            Ok(config) => {
                tracing::info!("TLS certificate files changed; serving the new certificate");
                current.fingerprint = fingerprint;
                current.config = Arc::new(config);
                current.failed = None;
            }
            Err(error) => {
                tracing::warn!(error = %error, "the changed TLS files are not usable (yet); serving the previous certificate");
                current.failed = Some(fingerprint);
            }
        }
        Arc::clone(&current.config)
    }

    /// One TLS handshake on `tcp`. A client speaking plain HTTP gets a 400 saying so.
    pub(crate) async fn handshake(
        self: &Arc<Self>,
        mut tcp: TcpStream,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let mut first = [0u8; 1];
        let peeked = tcp.peek(&mut first).await?;
        if peeked == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if first[0] != TLS_HANDSHAKE_RECORD {
            tcp.write_all(PLAIN_HTTP_ANSWER).await?;
            let _ = tcp.shutdown().await;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "plain HTTP on the TLS port",
            ));
        }
        let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
        let this = Arc::clone(self);
        let config = tokio::task::spawn_blocking(move || this.refresh())
            .await
            .map_err(std::io::Error::other)?;
        start.into_stream(config).await
    }
}
