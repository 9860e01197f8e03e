//! Reading a recording: the header, then one decoded [`Entry`] per line, with errors that name
//! the line and never panic on damaged input.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use super::{Entry, FORMAT, Header, Line, RecordingError, VERSION};
use crate::state::Millis;

/// Reads a recording line by line.
pub struct Reader {
    path: PathBuf,
    lines: Box<dyn BufRead>,
    line: usize,
    last_local: Millis,
    ended: bool,
    buf: Vec<u8>,
}

impl Reader {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> Result<(Header, Reader), RecordingError> {
        let file = File::open(path).map_err(|source| RecordingError::Io {
            path: path.to_owned(),
            source,
        })?;
        Reader::from_reader(path, Box::new(BufReader::new(file)))
    }

    /// Reads the header from `lines`; `path` only names the source in errors.
    pub fn from_reader(
        path: &Path,
        lines: Box<dyn BufRead>,
    ) -> Result<(Header, Reader), RecordingError> {
        let mut reader = Reader {
            path: path.to_owned(),
            lines,
            line: 0,
            last_local: 0,
            ended: false,
            buf: Vec::new(),
        };
        let Some(first) = reader.next_line()? else {
            return Err(RecordingError::Empty {
                path: path.to_owned(),
            });
        };
        let not_recording = |reason: String| RecordingError::NotRecording {
            path: path.to_owned(),
            reason,
        };
        let value: Value = serde_json::from_slice(&first)
            .map_err(|e| not_recording(format!("the first line is not JSON ({e})")))?;
        if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
            return Err(not_recording(format!(
                "the first line has no \"format\":\"{FORMAT}\""
            )));
        }
        let header: Header =
            serde_json::from_value(value).map_err(|e| not_recording(format!("bad header: {e}")))?;
        if header.version != VERSION {
            return Err(RecordingError::Version {
                path: path.to_owned(),
                found: header.version,
            });
        }
        Ok((header, reader))
    }

    /// Whether the `end` record was read.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The number of the line read last.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next non-empty line without its terminator; errors on a last line cut short.
    fn next_line(&mut self) -> Result<Option<Vec<u8>>, RecordingError> {
        loop {
            self.buf.clear();
            let read = self
                .lines
                .read_until(b'\n', &mut self.buf)
                .map_err(|source| RecordingError::Io {
                    path: self.path.clone(),
                    source,
                })?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            let complete = self.buf.last() == Some(&b'\n');
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            if !complete && serde_json::from_slice::<Value>(text).is_err() {
                return Err(RecordingError::Truncated {
                    path: self.path.clone(),
                    line: self.line,
                });
            }
            return Ok(Some(text.to_vec()));
        }
    }

    fn error(&self, reason: impl Into<String>) -> RecordingError {
        RecordingError::Line {
            path: self.path.clone(),
            line: self.line,
            reason: reason.into(),
        }
    }

    /// The next record; `None` at the end of the file.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, RecordingError> {
        let Some(text) = self.next_line()? else {
            return Ok(None);
        };
        if self.ended {
            return Err(self.error("a record after the end record"));
        }
        let line: Line = serde_json::from_slice(&text).map_err(|e| self.error(e.to_string()))?;
        let local = line.local();
        if local < self.last_local {
            return Err(self.error(format!(
                "local time {local} ms goes back (the line before was at {} ms)",
                self.last_local
            )));
        }
        self.last_local = local;
        let decode = |field: &str, text: &str| {
            STANDARD
                .decode(text)
                .map_err(|e| self.error(format!("{field} is not base64: {e}")))
        };
        let entry = match line {
            Line::Connect { local, leader } => Entry::Connect { local, leader },
            Line::Chunk { local, data } => Entry::Chunk {
                local,
                data: decode("data", &data)?,
            },
            Line::Disconnect { local } => Entry::Disconnect { local },
            Line::Snapshot {
                local,
                requested_at,
                answered_at,
                tasks,
                apps,
                pods,
            } => Entry::Snapshot {
                local,
                requested_at,
                answered_at,
                tasks: decode("tasks", &tasks)?,
                apps: decode("apps", &apps)?,
                pods: pods.map(|pods| decode("pods", &pods)).transpose()?,
            },
            Line::Tick { local } => Entry::Tick { local },
            Line::End { local } => {
                self.ended = true;
                Entry::End { local }
            }
        };
        Ok(Some(entry))
    }
}
