//! The live side's two Marathons, fakes on loopback: a leader and a standby that redirects
//! `/v2/events` to it and answers snapshots with the leader's state (Marathon's standbys proxy
//! them); failover with a deposed leader that answers from its stale state for a while; and the
//! controls of the fake that the faults need (pods, the `Date` clock, the leader header, held snapshots).

use std::time::Duration;

use marathon_sim::fake::{FakeMarathon, FakeOptions, Mode};
use serde_json::Value;
use tokio::time::Instant;

/// What Marathon serves for `/v2/tasks`, `/v2/apps` and `/v2/pods/::status`.
#[derive(Clone, Debug, Default)]
pub struct Bodies {
    pub tasks: Vec<Value>,
    pub apps: Vec<Value>,
    pub pods: Vec<Value>,
    pub deployments: Vec<Value>,
}

/// Keep-alive period of the fakes' streams.
const HEARTBEAT: Duration = Duration::from_secs(1);

pub struct Marathons {
    fakes: [FakeMarathon; 2],
    leader: usize,
    /// The deposed leader, and until when it answers from its stale state.
    deposed: Option<(usize, Instant)>,
    /// When the leader's held snapshots are released.
    release: Option<Instant>,
    bodies: Bodies,
}

impl Marathons {
    /// Both instances serving `bodies`; the first is the leader.
    pub async fn start(bodies: Bodies) -> Marathons {
        let options = FakeOptions {
            heartbeat: Some(HEARTBEAT),
            ..FakeOptions::default()
        };
        let first = FakeMarathon::start_with(options.clone())
            .await
            .expect("the first Marathon starts on loopback");
        let second = FakeMarathon::start_with(FakeOptions {
            leader_header: Some(first.url()),
            ..options
        })
        .await
        .expect("the second Marathon starts on loopback");
        second.set_mode(Mode::RedirectTo(first.url()));
        let mut marathons = Marathons {
            fakes: [first, second],
            leader: 0,
            deposed: None,
            release: None,
            bodies: Bodies::default(),
        };
        marathons.publish(bodies);
        marathons
    }

    pub fn urls(&self) -> [String; 2] {
        [self.fakes[0].url(), self.fakes[1].url()]
    }

    pub fn leader(&self) -> &FakeMarathon {
        &self.fakes[self.leader]
    }

    pub fn leader_index(&self) -> usize {
        self.leader
    }

    /// The cluster's state changed: every instance serves it, except a deposed leader.
    pub fn publish(&mut self, bodies: Bodies) {
        self.bodies = bodies;
        for i in 0..2 {
            if self.deposed.is_none_or(|(d, _)| d != i) {
                self.serve(i);
            }
        }
    }

    fn serve(&self, i: usize) {
        let fake = &self.fakes[i];
        fake.set_tasks(self.bodies.tasks.clone());
        fake.set_apps(self.bodies.apps.clone());
        fake.set_pods(Some(self.bodies.pods.clone()));
        fake.set_deployments(Some(self.bodies.deployments.clone()));
    }

    /// The standby takes over. The old leader closes its streams (what it had queued is still
    /// delivered), redirects `/v2/events` to the new one and, for `stale_for`, keeps answering from
    /// the state it had, as requests that passed Marathon's leader filter before the flip do: under
    /// its own name in `X-Marathon-Leader` (EXTRA.md §6). After that it proxies to the new leader:
    /// the new leader's state under the new leader's name. Snapshots held by the old leader are
    /// released.
    pub fn fail_over(&mut self, stale_for: Duration) {
        self.release_held();
        let old = self.leader;
        let new = 1 - old;
        let new_url = self.fakes[new].url();
        self.serve(new);
        self.fakes[new].set_mode(Mode::Leader);
        self.fakes[new].set_leader_header(Some(new_url.clone()));
        self.fakes[old].set_mode(Mode::RedirectTo(new_url));
        self.fakes[old].close_streams();
        self.leader = new;
        self.deposed = Some((old, Instant::now() + stale_for));
    }

    /// The leader holds snapshot requests for `hold`.
    pub fn hold(&mut self, hold: Duration) {
        self.leader().hold_snapshots(true);
        let until = Instant::now() + hold;
        self.release = Some(self.release.map_or(until, |r| r.max(until)));
    }

    fn release_held(&mut self) {
        if self.release.take().is_some() {
            for fake in &self.fakes {
                fake.hold_snapshots(false);
            }
        }
    }

    /// Ends the faults whose time is up at `now`.
    pub fn tick(&mut self, now: Instant) {
        if self.release.is_some_and(|r| r <= now) {
            self.release_held();
        }
        if let Some((old, until)) = self.deposed
            && until <= now
        {
            self.deposed = None;
            self.proxy(old);
        }
    }

    /// Instance `i` answers as a standby proxying to the leader: its state and name.
    fn proxy(&self, i: usize) {
        // The state first, then the name: an answer in between names the deposed leader (and is
        // discarded), never the new one over the stale state.
        self.serve(i);
        let leader = self.fakes[self.leader].url();
        self.fakes[i].set_leader_header(Some(leader));
    }

    /// Ends every fault now: held snapshots answered, a deposed leader a plain standby.
    pub fn settle(&mut self) {
        self.release_held();
        if let Some((old, _)) = self.deposed.take() {
            self.proxy(old);
        }
    }

    /// Marathon `i`'s clock reads `clocks[i]` (ms since the epoch) until set again.
    pub fn set_clocks(&self, clocks: [i64; 2]) {
        for (fake, now) in self.fakes.iter().zip(clocks) {
            fake.set_clock(now);
        }
    }

    pub async fn shutdown(self) {
        let [first, second] = self.fakes;
        first.shutdown().await;
        second.shutdown().await;
    }
}
