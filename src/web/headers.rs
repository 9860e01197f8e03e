//! `http_server_config.headers`: the security headers the format allows, validated, and the
//! middleware that puts them on every response.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::WebConfigError;

/// The headers the format lets a user set, with the values allowed where the set is closed.
const ALLOWED: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Validated response headers; blank values are left out, as the format says.
#[derive(Clone, Debug, Default)]
pub struct ResponseHeaders(Arc<Vec<(HeaderName, HeaderValue)>>);

impl ResponseHeaders {
    pub fn new(configured: BTreeMap<String, String>) -> Result<ResponseHeaders, WebConfigError> {
        let mut headers = Vec::new();
        for (name, value) in configured {
            let Some((_, values)) = ALLOWED.iter().find(|(allowed, _)| *allowed == name) else {
                let names: Vec<&str> = ALLOWED.iter().map(|(n, _)| *n).collect();
                return Err(WebConfigError::Invalid(format!(
                    "http_server_config.headers: {name:?} cannot be configured (allowed: {})",
                    names.join(", ")
                )));
            };
            if value.is_empty() {
                continue;
            }
            if !values.is_empty() && !values.contains(&value.as_str()) {
                return Err(WebConfigError::Invalid(format!(
                    "http_server_config.headers.{name}: {value:?} is not allowed (use one of {})",
                    values.join(", ")
                )));
            }
            let header_value = HeaderValue::from_str(&value).map_err(|_| {
                WebConfigError::Invalid(format!(
                    "http_server_config.headers.{name}: not a valid header value"
                ))
            })?;
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                WebConfigError::Invalid(format!("http_server_config.headers: bad name {name:?}"))
            })?;
            headers.push((header_name, header_value));
        }
        Ok(ResponseHeaders(Arc::new(headers)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(HeaderName, HeaderValue)> {
        self.0.iter()
    }
}

/// The middleware: the configured headers on the response, whatever produced it.
pub async fn add(State(headers): State<ResponseHeaders>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    for (name, value) in headers.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Result<ResponseHeaders, WebConfigError> {
        ResponseHeaders::new(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn allowed_headers_are_kept_and_blank_ones_dropped() {
        let kept = headers(&[
            ("X-Frame-Options", "deny"),
            ("Strict-Transport-Security", "max-age=31536000"),
            ("Content-Security-Policy", ""),
        ])
        .unwrap();
        let names: Vec<&str> = kept.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["strict-transport-security", "x-frame-options"]);
    }

    #[test]
    fn other_headers_and_values_outside_the_closed_sets_are_errors() {
        let message = headers(&[("Server", "x")]).unwrap_err().to_string();
        assert!(
            message.contains("\"Server\" cannot be configured"),
            "{message}"
        );
        let message = headers(&[("X-Frame-Options", "allow")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("deny, sameorigin"), "{message}");
        let message = headers(&[("X-Content-Type-Options", "sniff")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("nosniff"), "{message}");
        let message = headers(&[("X-XSS-Protection", "1\nInjected: yes")])
            .unwrap_err()
            .to_string();
        assert!(message.contains("not a valid header value"), "{message}");
    }
}
