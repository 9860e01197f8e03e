//! The subcommands, each beside its arguments: `demo` runs the exporter against the simulated
//! Marathon, `record` writes a Marathon's stream and snapshots to a recording, `replay` feeds a
//! recording through the rules offline. The bare command (the exporter) is [`crate::run`].

pub mod demo;
pub mod record;
pub mod replay;
