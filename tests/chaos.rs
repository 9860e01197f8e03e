//! A ground-truth chaos test: the exporter, live, against the demo's simulated cluster on two fake
//! Marathons, through Marathon's real races, compared with what the simulator knows happened and
//! with a replay of every event it emitted (see `chaos_support`). One test per fault class, and one
//! with faults drawn from the seed. Each run prints its seed; `CHAOS_SEED=n` replays one,
//! `CHAOS_SEEDS=a,b` picks several, `CHAOS_SECONDS=n` runs longer (`cargo bench --bench chaos`
//! runs many, long). A class that drifts on this branch because of a known bug is `#[ignore]`d
//! with the bug named; `--ignored` runs them.

mod chaos_support;

use chaos_support::{Fault, Faults, check};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_every_count_equals_the_truth() {
    check(Some(Faults::none())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "snapshot races on this branch: a snapshot lacking a task whose end is still on the stream removes it at once (removal delay pending in main), and one ahead of the stream applies states as corrections"]
async fn event_bus_lag() {
    check(Some(Faults::of(&[Fault::Lag]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "unbound leaders on this branch: snapshots come from the first Marathon that answers, a deposed leader's stale state included (pending in wt-io)"]
async fn failover_with_a_deposed_leader() {
    check(Some(Faults::of(&[Fault::Failover]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "host clock on this branch: with Marathon behind the host, the exporter's clock starts ahead of Marathon's and early events of seeded tasks are stale (Date and connection clock pending in wt-io)"]
async fn clock_skew_between_marathons_and_the_host() {
    check(Some(Faults::of(&[Fault::Skew]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_snapshots() {
    check(Some(Faults::of(&[Fault::Held]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_drops_are_accounted_for() {
    check(Some(Faults::of(&[Fault::Drops]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_behind_bursts() {
    check(Some(Faults::of(&[Fault::Bursts]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "pods resync pending in wt-io: /v2/pods/::status is neither served by the fake nor read by the exporter, so seeded pod tasks stay unknown"]
async fn pods() {
    check(Some(Faults::of(&[Fault::Pods]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "draws the ignored fault classes above; run it with --ignored"]
async fn faults_drawn_from_the_seed() {
    check(None).await;
}
