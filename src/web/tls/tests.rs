//! Validation of `tls_server_config`, unusable files, and reloading after a rotation.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::{NamedGroup, SupportedCipherSuite, version};

use super::settings::RawTls;
use super::*;
use crate::web::WebConfigError;

fn validate(text: &str) -> Result<Option<TlsSettings>, WebConfigError> {
    let raw: RawTls = yaml_serde::from_str(text).expect("valid YAML");
    raw.validate(Path::new("/etc/exporter"))
}

fn error(text: &str) -> String {
    validate(text).expect_err("should be rejected").to_string()
}

const FILES: &str = "cert_file: tls/server.crt\nkey_file: /abs/server.key\n";

#[test]
fn files_resolve_against_the_config_directory_and_defaults_apply() {
    let settings = validate(FILES).unwrap().expect("TLS on");
    let text = format!("{settings:?}");
    assert!(text.contains("/etc/exporter/tls/server.crt"), "{text}");
    assert!(text.contains("/abs/server.key"), "{text}");
    assert_eq!(settings.versions.len(), 2);
    assert_eq!(settings.client_auth, ClientAuth::None);
    assert!(settings.prefer_server_order);
}

#[test]
fn no_tls_key_means_plain_http_but_orphan_settings_are_errors() {
    assert!(validate("{}").unwrap().is_none());
    assert!(validate("cert_file: ''\nkey_file: ''\n").unwrap().is_none());
    let message = error("min_version: TLS13\n");
    assert!(
        message.contains("cert_file and key_file are missing"),
        "{message}"
    );
}

#[test]
fn certificate_and_key_are_both_needed_once() {
    assert!(error("cert_file: a\n").contains("key_file (or key) is missing"));
    assert!(error("key_file: a\n").contains("cert_file (or cert) is missing"));
    let message = error("cert: x\ncert_file: a\nkey_file: b\n");
    assert!(
        message.contains("cert and cert_file cannot both be set"),
        "{message}"
    );
}

#[test]
fn versions_other_than_tls12_and_tls13_are_refused() {
    let message = error(&format!("{FILES}min_version: TLS11\n"));
    assert!(
        message.contains("min_version: TLS11 is not supported"),
        "{message}"
    );
    let message = error(&format!("{FILES}max_version: SSL3\n"));
    assert!(message.contains("unknown TLS version"), "{message}");
    let message = error(&format!("{FILES}min_version: TLS13\nmax_version: TLS12\n"));
    assert!(message.contains("no TLS version is left"), "{message}");
    let only13 = validate(&format!("{FILES}min_version: TLS13\n"))
        .unwrap()
        .unwrap();
    assert_eq!(only13.versions, [&version::TLS13]);
}

#[test]
fn client_auth_types_that_skip_verification_are_refused() {
    for kind in [
        "RequestClientCert",
        "RequireAnyClientCert",
        "RequireClientCert",
    ] {
        let message = error(&format!(
            "{FILES}client_auth_type: {kind}\nclient_ca_file: ca.pem\n"
        ));
        assert!(message.contains("without verifying"), "{message}");
    }
    let message = error(&format!("{FILES}client_auth_type: Sometimes\n"));
    assert!(message.contains("unknown value"), "{message}");
}

#[test]
fn client_ca_and_client_auth_type_go_together() {
    let message = error(&format!("{FILES}client_ca_file: ca.pem\n"));
    assert!(message.contains("client_auth_type is not"), "{message}");
    let message = error(&format!(
        "{FILES}client_auth_type: RequireAndVerifyClientCert\n"
    ));
    assert!(message.contains("needs client_ca_file"), "{message}");
    let settings = validate(&format!(
        "{FILES}client_auth_type: VerifyClientCertIfGiven\nclient_ca_file: ca.pem\n"
    ))
    .unwrap()
    .unwrap();
    assert_eq!(settings.client_auth, ClientAuth::VerifyIfGiven);
    let message = error(&format!(
        "{FILES}client_auth_type: RequireAndVerifyClientCert\nclient_ca_file: ca.pem\n\
         client_allowed_sans: [scraper.example]\n"
    ));
    assert!(
        message.contains("client_allowed_sans is not supported"),
        "{message}"
    );
}

#[test]
fn cipher_suites_take_go_names_and_refuse_what_rustls_lacks() {
    let settings = validate(&format!(
        "{FILES}cipher_suites:\n  - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305\n  \
         - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n  - TLS_AES_128_GCM_SHA256\n"
    ))
    .unwrap()
    .unwrap();
    let names: Vec<_> = settings
        .provider
        .cipher_suites
        .iter()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
        .filter_map(|s| s.suite().as_str())
        .collect();
    assert_eq!(
        names,
        [
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        ]
    );
    let tls13 = settings
        .provider
        .cipher_suites
        .iter()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls13(_)))
        .count();
    assert_eq!(tls13, 3, "TLS 1.3 suites are not configurable");
    let message = error(&format!(
        "{FILES}cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"
    ));
    assert!(
        message.contains("TLS_RSA_WITH_AES_128_CBC_SHA is not supported"),
        "{message}"
    );
    let message = error(&format!("{FILES}cipher_suites: [TLS_AES_128_GCM_SHA256]\n"));
    assert!(message.contains("no TLS 1.2 suite"), "{message}");
}

#[test]
fn curves_take_go_names() {
    let settings = validate(&format!(
        "{FILES}curve_preferences: [CurveP384, X25519, CurveP384]\n"
    ))
    .unwrap()
    .unwrap();
    let groups: Vec<_> = settings
        .provider
        .kx_groups
        .iter()
        .map(|g| g.name())
        .collect();
    assert_eq!(groups, [NamedGroup::secp384r1, NamedGroup::X25519]);
    assert!(error(&format!("{FILES}curve_preferences: [CurveP521]\n")).contains("CurveP521"));
    assert!(error(&format!("{FILES}curve_preferences: [P-256]\n")).contains("unknown curve"));
}

/// A self-signed certificate and its key, PEM.
fn self_signed(name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

fn server_on(dir: &Path) -> Result<TlsServer, WebConfigError> {
    let raw: RawTls = yaml_serde::from_str(FILES.replace("/abs/", "").as_str()).unwrap();
    let settings = raw.validate(dir)?.unwrap();
    Ok(TlsServer::new(settings)?)
}

#[test]
fn unreadable_or_mismatched_files_are_errors_that_never_quote_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    let message = server_on(dir.path()).unwrap_err().to_string();
    assert!(message.contains("tls_server_config.cert_file"), "{message}");
    assert!(message.contains("server.crt"), "{message}");

    let (cert, key) = self_signed("localhost");
    let (_, other_key) = self_signed("localhost");
    std::fs::write(dir.path().join("tls/server.crt"), &cert).unwrap();
    std::fs::write(
        dir.path().join("server.key"),
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let message = server_on(dir.path()).unwrap_err().to_string();
    assert!(message.contains("no usable PEM private key"), "{message}");
    assert!(!message.contains("not base64"), "{message}");

    std::fs::write(dir.path().join("server.key"), &other_key).unwrap();
    let message = server_on(dir.path()).unwrap_err().to_string();
    assert!(message.starts_with("tls_server_config: "), "{message}");
    let body: String = other_key.lines().nth(1).unwrap().to_owned();
    assert!(!message.contains(&body), "{message}");

    std::fs::write(dir.path().join("server.key"), &key).unwrap();
    let server = server_on(dir.path()).unwrap();
    let text = format!("{server:?} {server:#?}");
    assert!(
        !text.contains(&key.lines().nth(1).unwrap().to_owned()),
        "{text}"
    );
}

#[test]
fn a_rotation_is_picked_up_once_certificate_and_key_match_again() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    let (cert, key) = self_signed("old.test");
    std::fs::write(dir.path().join("tls/server.crt"), &cert).unwrap();
    std::fs::write(dir.path().join("server.key"), &key).unwrap();
    let server = server_on(dir.path()).unwrap();
    let first = server.refresh();
    assert!(
        Arc::ptr_eq(&first, &server.refresh()),
        "unchanged files: same config"
    );

    let (new_cert, new_key) = self_signed("new.test");
    std::fs::write(dir.path().join("tls/server.crt"), &new_cert).unwrap();
    assert!(
        Arc::ptr_eq(&first, &server.refresh()),
        "half a rotation keeps the previous certificate"
    );
    std::fs::remove_file(dir.path().join("server.key")).unwrap();
    assert!(Arc::ptr_eq(&first, &server.refresh()), "a missing key too");
    std::fs::write(dir.path().join("server.key"), &new_key).unwrap();
    let rotated = server.refresh();
    assert!(!Arc::ptr_eq(&first, &rotated), "the new pair is served");
    assert!(Arc::ptr_eq(&rotated, &server.refresh()));
}
