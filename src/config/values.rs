//! Parsers of flag values: sizes, durations, URLs, addresses, paths, the password file.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use url::Url;

use super::{MIN_MAX_EVENT_BYTES, RESERVED_PATHS, Secret, read_secret_file};

/// Parses a byte size: a plain integer, or one followed by `B`, `KB`, `MB`, `GB` (1000-based)
/// or `KiB`, `MiB`, `GiB` (1024-based); units are case-insensitive.
pub fn parse_byte_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!("'{text}' is not a size such as 8MiB or 1048576"));
    }
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit '{other}' (use B, KB, MB, GB, KiB, MiB or GiB)"
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .and_then(|bytes| usize::try_from(bytes).ok())
        .ok_or_else(|| format!("'{text}' is too large"))
}

/// A duration such as `500ms`, `30s` or `1h30m`, at least `min`.
pub(crate) fn duration_at_least(
    min: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone {
    move |text| {
        let value = humantime::parse_duration(text.trim())
            .map_err(|e| format!("{e}; a duration such as 500ms, 30s, 15m or 1h30m"))?;
        if value < min {
            return Err(format!(
                "must be at least {}",
                humantime::format_duration(min)
            ));
        }
        Ok(value)
    }
}

pub(super) fn any_duration(text: &str) -> Result<Duration, String> {
    duration_at_least(Duration::ZERO)(text)
}

pub(super) fn parse_max_event_bytes(text: &str) -> Result<usize, String> {
    let bytes = parse_byte_size(text)?;
    if bytes < MIN_MAX_EVENT_BYTES {
        return Err(format!("must be at least 1KiB, got {bytes} bytes"));
    }
    Ok(bytes)
}

pub(super) fn parse_max_snapshot_bytes(text: &str) -> Result<usize, String> {
    let bytes = parse_byte_size(text)?;
    if bytes < MIN_MAX_EVENT_BYTES {
        return Err(format!("must be at least 1KiB, got {bytes} bytes"));
    }
    Ok(bytes)
}

pub(super) fn parse_username(text: &str) -> Result<String, String> {
    if text.is_empty() || text.contains(':') {
        return Err("must be non-empty and contain no ':'".to_owned());
    }
    Ok(text.to_owned())
}

pub(super) fn parse_password_file(path: &str) -> Result<Secret, String> {
    read_secret_file(Path::new(path)).map_err(|err| format!("cannot read it: {err}"))
}

/// One Marathon base URL, with trailing `/` stripped from its path. Errors never echo a URL
/// that may hold credentials.
pub(super) fn parse_marathon_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    let mut url = Url::parse(text).map_err(|err| format!("not a valid URL: {err}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "credentials in the URL are not allowed (they would end up in logs); \
             use --marathon.username with --marathon.password-file or MARATHON_PASSWORD"
                .to_owned(),
        );
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err("the scheme must be http or https".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("the URL must not have a query or fragment".to_owned());
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// A socket address (`0.0.0.0:9472`, `[::]:9472`) or `hostname:port`.
pub(super) fn parse_listen_address(addr: &str) -> Result<String, String> {
    if addr.parse::<SocketAddr>().is_ok() {
        return Ok(addr.to_owned());
    }
    let bad = || "expected host:port, e.g. 0.0.0.0:9472, [::]:9472 or localhost:9472".to_owned();
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && !host.contains([':', '[', ']', '/', '@'])
        && !host.chars().any(char::is_whitespace);
    if !host_ok || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(addr.to_owned())
}

pub(super) fn parse_telemetry_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("must start with '/'".to_owned());
    }
    if RESERVED_PATHS.contains(&path) {
        return Err(format!("is reserved ({} are)", RESERVED_PATHS.join(", ")));
    }
    if path.contains(['?', '#']) || path.chars().any(char::is_whitespace) {
        return Err("must be a plain path, without query, fragment or spaces".to_owned());
    }
    Ok(path.to_owned())
}
