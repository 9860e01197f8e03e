//! Rules that span several flags (a password needs a user, one way to log in to DC/OS, inactive
//! before expunge), and the password from `MARATHON_PASSWORD`.

use std::ffi::OsString;

use clap::error::ErrorKind;

use super::{Config, PASSWORD_ENV, Secret};

impl Config {
    /// Checks spanning several flags; also takes the password from `MARATHON_PASSWORD`.
    /// An error carries the message and the flag it is mainly about.
    pub(super) fn cross_check(
        &mut self,
        password_env: Option<OsString>,
    ) -> Result<(), (ErrorKind, &'static str, String)> {
        const PASSWORD_FILE: &str = "marathon.password-file";
        let mut urls = Vec::with_capacity(self.marathon_urls.len());
        for url in self.marathon_urls.drain(..) {
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        self.marathon_urls = urls;
        match (&self.password, password_env) {
            (Some(_), Some(_)) => {
                let message = format!("--{PASSWORD_FILE} and {PASSWORD_ENV} cannot be combined");
                return Err((ErrorKind::ArgumentConflict, PASSWORD_FILE, message));
            }
            (None, Some(value)) => {
                let password = value.into_string().map_err(|_| {
                    let message = format!("{PASSWORD_ENV} is not valid UTF-8");
                    (ErrorKind::InvalidUtf8, PASSWORD_FILE, message)
                })?;
                self.password = Some(Secret::new(password));
            }
            _ => {}
        }
        if self.password.is_some() && self.username.is_none() {
            let message = format!(
                "a password (--{PASSWORD_FILE} or {PASSWORD_ENV}) needs --marathon.username"
            );
            return Err((ErrorKind::MissingRequiredArgument, PASSWORD_FILE, message));
        }
        if self.dcos_credentials_file.is_some() {
            const DCOS: &str = "marathon.dcos-credentials-file";
            let other = if self.token_file.is_some() {
                Some("--marathon.token-file")
            } else if self.username.is_some() {
                Some("--marathon.username")
            } else {
                None
            };
            if let Some(other) = other {
                let message = format!(
                    "--{DCOS} and {other} cannot be combined: the service account logs in itself"
                );
                return Err((ErrorKind::ArgumentConflict, DCOS, message));
            }
        }
        if self.default_inactive_after > self.default_expunge_after {
            let flag = "unreachable.default-inactive-after";
            let message = format!(
                "invalid value for '--{flag}': {} is longer than \
                 --unreachable.default-expunge-after ({})",
                humantime::format_duration(self.default_inactive_after),
                humantime::format_duration(self.default_expunge_after),
            );
            return Err((ErrorKind::ValueValidation, flag, message));
        }
        Ok(())
    }
}
