//! A ground-truth chaos test: the exporter, live, against the demo's simulated cluster on two fake
//! Marathons, through Marathon's real races, compared with what the simulator knows happened and
//! with a replay of every event it emitted (see `chaos_support`). One test per fault class, and one
//! with faults drawn from the seed. Each run prints its seed; `CHAOS_SEED=n` replays one,
//! `CHAOS_SEEDS=a,b` picks several, `CHAOS_SECONDS=n` runs longer (`cargo bench --bench chaos`
//! runs many, long).

mod chaos_support;

use chaos_support::{Fault, Faults, check};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_faults_every_count_equals_the_truth() {
    check(Some(Faults::none())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_bus_lag() {
    check(Some(Faults::of(&[Fault::Lag]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_with_a_deposed_leader() {
    check(Some(Faults::of(&[Fault::Failover]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
async fn pods() {
    check(Some(Faults::of(&[Fault::Pods]))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_drawn_from_the_seed() {
    check(None).await;
}
