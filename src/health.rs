//! Readiness as `/readyz` reports it: ready once the first snapshot is applied and while a stream
//! is connected; otherwise a one-line reason. Also what the status page shows of the connection:
//! the leader the stream follows and when the last snapshot was applied.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

#[derive(Default)]
pub struct Readiness {
    seeded: AtomicBool,
    connected: AtomicBool,
    /// The last problem reaching Marathon, for the 503 reason.
    problem: Mutex<Option<String>>,
    /// The leader the event stream follows (or followed last).
    leader: Mutex<Option<String>>,
    /// When the last snapshot was applied (local wall clock).
    last_snapshot: Mutex<Option<SystemTime>>,
}

impl Readiness {
    pub fn new() -> Self {
        Readiness::default()
    }

    /// A snapshot was applied just now.
    pub fn set_seeded(&self) {
        self.seeded.store(true, Ordering::Release);
        *self.last_snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some(SystemTime::now());
    }

    /// The event stream follows `leader` now.
    pub fn set_leader(&self, leader: &str) {
        *self.leader.lock().unwrap_or_else(|p| p.into_inner()) = Some(leader.to_owned());
    }

    /// The leader the event stream follows, or followed last.
    pub fn leader(&self) -> Option<String> {
        self.leader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// When the last snapshot was applied.
    pub fn last_snapshot(&self) -> Option<SystemTime> {
        *self.last_snapshot.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Release);
        if connected {
            self.set_problem(None);
        }
    }

    /// Records (or clears) what is wrong with Marathon right now.
    pub fn set_problem(&self, problem: Option<String>) {
        *self.problem.lock().unwrap_or_else(|p| p.into_inner()) = problem;
    }

    pub fn is_ready(&self) -> bool {
        self.reason().is_none()
    }

    /// Why the exporter is not ready, or `None` when it is.
    pub fn reason(&self) -> Option<String> {
        let problem = self
            .problem
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if !self.connected.load(Ordering::Acquire) {
            return Some(match problem {
                Some(p) => format!("event stream not connected: {p}"),
                None => "event stream not connected yet".to_owned(),
            });
        }
        if !self.seeded.load(Ordering::Acquire) {
            return Some(match problem {
                Some(p) => format!("waiting for the first snapshot of /v2/tasks: {p}"),
                None => "waiting for the first snapshot of /v2/tasks".to_owned(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_connected_and_seeded() {
        let r = Readiness::new();
        assert_eq!(
            r.reason().as_deref(),
            Some("event stream not connected yet")
        );
        r.set_problem(Some("HTTP 401 from http://m:8080".into()));
        assert_eq!(
            r.reason().as_deref(),
            Some("event stream not connected: HTTP 401 from http://m:8080")
        );
        r.set_connected(true);
        assert_eq!(
            r.reason().as_deref(),
            Some("waiting for the first snapshot of /v2/tasks")
        );
        r.set_seeded();
        assert!(r.is_ready());
        r.set_connected(false);
        assert!(!r.is_ready());
    }
}
