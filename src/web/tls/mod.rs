//! TLS for our endpoints: a server that re-reads the certificate, key and client CA at every
//! handshake and switches to new ones as soon as they form a valid set (a rotated certificate
//! needs no restart); a client speaking plain HTTP to it is told so.

mod settings;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{Acceptor, WebPkiClientVerifier};
use tokio_rustls::rustls::{RootCertStore, ServerConfig};
use tokio_rustls::server::TlsStream;

use self::settings::Pem;
pub(super) use self::settings::RawTls;
pub use self::settings::{ClientAuth, TlsSettings};
use crate::secret::Secret;

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
