//! Environment variables: each flag reads the variable named after it, and a bad value's error
//! says which variable gave it.
//!
//! Written here rather than with clap's own `env` support, for what clap does not do: an error
//! about a value that came from a variable names the variable (clap names only the flag, so a
//! user looking at their command line finds nothing wrong), empty variables count as unset, and
//! a subcommand refuses the flags it does not use on its command line but not from the
//! environment (one environment serves them all).

use std::collections::HashMap;

use clap::error::{ContextKind, ContextValue};

/// The environment variable of a flag: its long name in upper case, `.` and `-` made `_`
/// (`--stream.idle-timeout` reads `STREAM_IDLE_TIMEOUT`).
pub(super) fn env_var_of(arg: &clap::Arg) -> Option<String> {
    if matches!(arg.get_id().as_str(), "help" | "version") {
        return None;
    }
    let long = arg.get_long()?;
    Some(long.to_ascii_uppercase().replace(['.', '-'], "_"))
}

/// Hides URLs that carry credentials and, when an environment variable supplied the
/// offending value, says which.
pub(super) fn annotate(mut err: clap::Error, from_env: &HashMap<String, String>) -> clap::Error {
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return err;
    };
    let long = arg
        .trim_start_matches('-')
        .split(['=', '[', ' '])
        .next()
        .unwrap_or_default()
        .to_owned();
    let value = err.get(ContextKind::InvalidValue);
    let has_userinfo = matches!(value, Some(ContextValue::String(v)) if v.contains('@'));
    if long == "marathon.url" && has_userinfo {
        err.insert(
            ContextKind::InvalidValue,
            ContextValue::String("<redacted>".to_owned()),
        );
    }
    if let Some(name) = from_env.get(&long) {
        let tip = format!("the value came from the environment variable {name}");
        err.insert(
            ContextKind::Suggested,
            ContextValue::StyledStrs(vec![tip.into()]),
        );
    }
    err
}
