//! Secrets (passwords, tokens, private keys) as values that never show in a log line, a metric or
//! an error: `Debug` and `Display` print `<redacted>`; only the code that sends one reads it.

use std::fmt;
use std::io;
use std::path::Path;

/// A secret that never shows in Debug or Display (both print `<redacted>`).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself, for the one place that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Reads a secret from a file, dropping one trailing `\n` or `\r\n`.
pub fn read_secret_file(path: &Path) -> io::Result<Secret> {
    let mut secret = std::fs::read_to_string(path)?;
    if secret.ends_with('\n') {
        secret.pop();
        if secret.ends_with('\r') {
            secret.pop();
        }
    }
    Ok(Secret(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hides_itself_in_debug_and_display() {
        let secret = Secret::new("Zebra-Quartz-42".to_owned());
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(secret.expose(), "Zebra-Quartz-42");
    }
}
