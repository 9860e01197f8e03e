//! The chaos test run long: several seeds (`CHAOS_SEEDS=a,b` or `CHAOS_SEED=n`; four new ones by
//! default), each an hour of simulated time (`CHAOS_SECONDS`) of the full demo cluster with faults
//! drawn from its seed (or `CHAOS_FAULTS=lag,drops`, `none`); prints a results-table line per seed
//! and the drift found.

#[path = "../tests/chaos_support/mod.rs"]
mod chaos_support;

use chaos_support::{Faults, Plan, SPEED, faults_from_env, run, seconds, seeds};

/// Simulated seconds per seed by default: six cycles of the demo's incidents.
const LONG: i64 = 3600;
/// `cargo test --benches` runs this without `--bench`: one seed, a short run, the same checks.
const TEST_MODE: i64 = 300;
/// Instances per app: the demo's full cluster, about 500 tasks.
const SCALE: f64 = 1.0;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    println!("| seed | faults | simulated | real | events | tasks | drift |");
    println!("|---|---|---|---|---|---|---|");
    let mut reports = Vec::new();
    let full = std::env::args().any(|a| a == "--bench");
    let (count, length) = if full { (4, LONG) } else { (1, TEST_MODE) };
    for seed in seeds(count) {
        let plan = Plan {
            seed,
            faults: faults_from_env().unwrap_or_else(|| Faults::random(seed)),
            seconds: seconds(length),
            speed: SPEED,
            scale: SCALE,
        };
        let outcome = runtime.block_on(run(plan));
        println!("{}", outcome.row());
        if !outcome.drift.is_empty() {
            reports.push(outcome.report());
        }
    }
    let drifted = !reports.is_empty();
    for report in reports {
        println!("\n{report}");
    }
    assert!(!drifted, "drift found (see above)");
}
