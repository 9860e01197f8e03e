//! `tls_server_config` as written, validated into TLS settings: certificate, key and client CA
//! sources, client authentication, versions, cipher suites and curves. No file is read here.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tokio_rustls::rustls::crypto::{CryptoProvider, SupportedKxGroup, ring};
use tokio_rustls::rustls::{NamedGroup, SupportedCipherSuite, SupportedProtocolVersion, version};

use crate::secret::Secret;
use crate::web::{WebConfigError, resolve};

/// `tls_server_config` as written. No Debug: `key` is a secret until wrapped.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(in crate::web) struct RawTls {
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
pub(super) enum Pem {
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
    pub(super) cert: Pem,
    pub(super) key: Pem,
    pub(super) client_ca: Option<Pem>,
    pub(super) client_auth: ClientAuth,
    pub(super) versions: Vec<&'static SupportedProtocolVersion>,
    pub(super) provider: Arc<CryptoProvider>,
    pub(super) prefer_server_order: bool,
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

/// A suite's name as Go spells it (rustls prefixes TLS 1.3 suites with `TLS13_`, Go with `TLS_`).
fn go_name(suite: &SupportedCipherSuite) -> String {
    let name = suite.suite().as_str().unwrap_or_default();
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_owned(),
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
        let Some(suite) = all.iter().find(|s| go_name(s) == canonical) else {
            let supported: Vec<String> = all.iter().map(go_name).collect();
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
    pub(in crate::web) fn validate(
        self,
        dir: &Path,
    ) -> Result<Option<TlsSettings>, WebConfigError> {
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
