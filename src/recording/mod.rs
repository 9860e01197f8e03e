//! The recording format shared by `record`, `demo --record` and `replay`: JSON lines.
//!
//! The first line is a header, `{"format":"marathon-task-exporter-recording","version":1,
//! "started_at":<ms>,"source":"<url>","ticks":<bool>}`: `started_at` is the local wall clock (ms since
//! the epoch) at local time 0, and every later line carries `local`, the local monotonic time in ms
//! since the recording started (never decreasing). Then one record per line, tagged by `t`:
//!
//! | `t` | fields | meaning |
//! |---|---|---|
//! | `connect` | `local`, `leader` | a stream connection opened: a partial event before it is void |
//! | `chunk` | `local`, `data` | bytes as read from `/v2/events`, base64 (standard alphabet, padded) |
//! | `disconnect` | `local` | the stream connection ended |
//! | `snapshot` | `local`, `requested_at`, optional `answered_at`, `tasks`, `apps`, optional `pods` | a resync: the raw `/v2/tasks`, `/v2/apps` and (when Marathon has pods: absent for a 404, and in recordings made before pods were read) `/v2/pods/::status` bodies (base64), requested at `requested_at` and answered at `answered_at` (Marathon clock, ms since the epoch; the latest `Date` of the answers to the end of its second, absent without one) and applied at `local` |
//! | `tick` | `local` | the exporter evaluated its timers (only in recordings with `"ticks":true`) |
//! | `end` | `local` | the recording stopped cleanly |
//!
//! A recording made by `demo --record` comes from inside the exporter (a [`Recorder`] given to
//! [`crate::Exporter::start_with`]): it holds exactly the chunks, snapshots and timer ticks the rules
//! were given, in that order, so a replay reproduces the live counters. Unknown fields are ignored,
//! so later versions may add some; a new record type or meaning needs a new `version`.

mod read;
#[cfg(test)]
mod tests;
mod write;

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use self::read::Reader;
pub use self::write::{Recorder, RecordingWriter, SnapshotBodies, snapshot_bodies};
use crate::state::Millis;

/// The `format` of the header line.
pub const FORMAT: &str = "marathon-task-exporter-recording";
/// The version this build writes and reads.
pub const VERSION: u64 = 1;

/// The first line of a recording.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u64,
    /// Local wall clock (ms since the epoch) at local time 0.
    pub started_at: Millis,
    /// The Marathon the stream came from.
    #[serde(default)]
    pub source: String,
    /// Whether the recording holds the exporter's own timer ticks (a `demo --record`).
    #[serde(default)]
    pub ticks: bool,
}

/// One line after the header, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub(crate) enum Line {
    Connect {
        local: Millis,
        #[serde(default)]
        leader: String,
    },
    Chunk {
        local: Millis,
        data: String,
    },
    Disconnect {
        local: Millis,
    },
    Snapshot {
        local: Millis,
        requested_at: Millis,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answered_at: Option<Millis>,
        tasks: String,
        apps: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pods: Option<String>,
    },
    Tick {
        local: Millis,
    },
    End {
        local: Millis,
    },
}

impl Line {
    pub(crate) fn local(&self) -> Millis {
        match self {
            Line::Connect { local, .. }
            | Line::Chunk { local, .. }
            | Line::Disconnect { local }
            | Line::Snapshot { local, .. }
            | Line::Tick { local }
            | Line::End { local } => *local,
        }
    }
}

/// One record, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Connect {
        local: Millis,
        leader: String,
    },
    Chunk {
        local: Millis,
        data: Vec<u8>,
    },
    Disconnect {
        local: Millis,
    },
    Snapshot {
        local: Millis,
        requested_at: Millis,
        /// When Marathon answered (absent in recordings made before it was recorded).
        answered_at: Option<Millis>,
        tasks: Vec<u8>,
        apps: Vec<u8>,
        /// `None` when Marathon has no pods (404), and in recordings made before pods were read.
        pods: Option<Vec<u8>>,
    },
    Tick {
        local: Millis,
    },
    End {
        local: Millis,
    },
}

impl Entry {
    pub fn local(&self) -> Millis {
        match self {
            Entry::Connect { local, .. }
            | Entry::Chunk { local, .. }
            | Entry::Disconnect { local }
            | Entry::Snapshot { local, .. }
            | Entry::Tick { local }
            | Entry::End { local } => *local,
        }
    }
}

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is empty: not a recording")]
    Empty { path: PathBuf },
    #[error("{path} is not a recording of marathon-task-exporter: {reason}")]
    NotRecording { path: PathBuf, reason: String },
    #[error("{path} is a recording of format version {found}; this build reads version {VERSION}")]
    Version { path: PathBuf, found: u64 },
    #[error("{path} line {line}: {reason}")]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path} line {line} is incomplete: the recording is truncated")]
    Truncated { path: PathBuf, line: usize },
}
