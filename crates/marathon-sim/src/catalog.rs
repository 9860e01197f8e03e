//! The simulated cluster's apps: ids, sizes, unreachable strategies, start-up times and behaviour.

use crate::time::Millis;

/// How an app's tasks live once running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// Runs until something happens to it.
    Service,
    /// Fails a few seconds after it starts, every time (a bad build).
    CrashLoop,
    /// Runs a job, finishes, and is launched again.
    Batch,
    /// A pod with one container: not in `/v2/tasks` or `/v2/apps`; the exporter does not know its
    /// strategy and uses its defaults, while Marathon force-expunges it after `strategy`.
    Pod,
}

/// One app (or pod) of the cluster.
#[derive(Clone, Debug)]
pub(super) struct AppSpec {
    pub id: &'static str,
    pub instances: u32,
    /// `unreachableStrategy` in seconds `(inactiveAfter, expungeAfter)`; `None` is `"disabled"`.
    pub strategy: Option<(u64, u64)>,
    pub kind: Kind,
    /// Time from staging to running, ms: (min, max).
    pub startup: (Millis, Millis),
}

const fn app(
    id: &'static str,
    instances: u32,
    strategy: Option<(u64, u64)>,
    kind: Kind,
    startup_s: (i64, i64),
) -> AppSpec {
    AppSpec {
        id,
        instances,
        strategy,
        kind,
        startup: (startup_s.0 * 1000, startup_s.1 * 1000),
    }
}

use Kind::{Batch, CrashLoop, Pod, Service};

/// About 20 apps and 500 tasks, with Marathon's default strategy (0/0) and the usual variations.
const CATALOG: [AppSpec; 20] = [
    app("/prod/web", 70, Some((60, 300)), Service, (3, 12)),
    app("/prod/api", 56, Some((30, 120)), Service, (4, 15)),
    app("/prod/checkout", 36, Some((0, 0)), Service, (5, 20)),
    app("/prod/search", 40, Some((60, 300)), Service, (8, 30)),
    app("/prod/auth", 24, Some((30, 120)), Service, (3, 8)),
    app("/prod/cache", 12, None, Service, (2, 5)),
    app("/prod/notifications", 20, Some((0, 0)), Service, (3, 10)),
    app(
        "/prod/payments-reconciler",
        4,
        Some((0, 0)),
        CrashLoop,
        (4, 9),
    ),
    app("/prod/gateway", 30, Some((60, 300)), Service, (2, 6)),
    app(
        "/data/kafka-connect",
        18,
        Some((300, 600)),
        Service,
        (10, 40),
    ),
    app("/data/etl-worker", 26, Some((0, 0)), Service, (5, 15)),
    app("/data/zookeeper", 5, None, Service, (5, 12)),
    app("/batch/report-builder", 16, Some((0, 0)), Batch, (2, 6)),
    app("/batch/thumbnailer", 20, Some((30, 120)), Batch, (2, 5)),
    app("/infra/log-shipper", 24, Some((0, 60)), Pod, (2, 6)),
    app("/infra/nginx-edge", 16, Some((60, 300)), Service, (1, 4)),
    app("/staging/web", 20, Some((30, 120)), Service, (3, 12)),
    app("/staging/api", 16, Some((0, 0)), Service, (4, 15)),
    app("/ml/scoring", 24, Some((300, 600)), Service, (15, 60)),
    app("/ml/feature-store", 18, Some((60, 300)), Service, (6, 20)),
];

/// The catalog with every app's instance count multiplied by `scale` (at least one each).
pub(super) fn apps(scale: f64) -> Vec<AppSpec> {
    CATALOG
        .iter()
        .map(|spec| {
            let mut spec = spec.clone();
            spec.instances = ((f64::from(spec.instances) * scale).round() as u32).max(1);
            spec
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_catalog_is_about_twenty_apps_and_five_hundred_tasks() {
        let full = apps(1.0);
        let tasks: u32 = full.iter().map(|a| a.instances).sum();
        assert_eq!(full.len(), 20);
        assert!((450..=550).contains(&tasks), "{tasks}");
        assert!(full.iter().any(|a| a.strategy.is_none()));
        assert!(full.iter().any(|a| a.strategy == Some((0, 0))));
        assert!(full.iter().all(|a| a.startup.0 <= a.startup.1));
        assert!(apps(0.01).iter().all(|a| a.instances == 1));
    }
}
