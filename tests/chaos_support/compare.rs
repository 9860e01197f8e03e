//! The live exporter's `/metrics` against the two truths, family by family: exactly, when no event
//! was lost; when some were, the gauges exactly and every counter difference accounted for.

use std::collections::{BTreeMap, BTreeSet};

use marathon_sim::{ActiveTasks, Truth};
use marathon_task_exporter::state::ExpungeReason;

/// Samples of an exposition: `name{labels sorted}` → value.
pub type Samples = BTreeMap<String, f64>;

/// Parses the text format; label values here never hold a comma, quote or brace.
pub fn parse(text: &str) -> Samples {
    let mut samples = Samples::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        };
        samples.insert(normalize(series), value);
    }
    samples
}

fn normalize(series: &str) -> String {
    match series.split_once('{') {
        None => series.to_owned(),
        Some((name, rest)) => {
            let mut labels: Vec<&str> = rest
                .trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty())
                .collect();
            labels.sort_unstable();
            format!("{name}{{{}}}", labels.join(","))
        }
    }
}

pub fn value(samples: &Samples, series: &str) -> f64 {
    samples.get(&normalize(series)).copied().unwrap_or(0.0)
}

/// Sum of the series of `family` whose labels include every one of `labels`.
pub fn sum(samples: &Samples, family: &str, labels: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(k, _)| k.split('{').next() == Some(family))
        .filter(|(k, _)| labels.iter().all(|l| k.contains(l)))
        .map(|(_, v)| v)
        .sum()
}

/// The series the reference must match: every per-app and per-agent family (the oldest
/// unreachable age reads the clock), the stale and malformed events, and the tracked tasks.
fn compared(series: &str) -> bool {
    let name = series.split('{').next().unwrap_or(series);
    let per_app = ["marathon_task_", "marathon_app_", "marathon_agent_"]
        .iter()
        .any(|p| name.starts_with(p));
    (per_app && name != "marathon_app_unreachable_oldest_age_seconds")
        || name == "marathon_exporter_event_errors_total"
        || name == "marathon_exporter_tracked_tasks"
}

/// Histogram sums add the same observations in an order that depends on when timers were
/// evaluated: equal up to the rounding of a different order of additions.
fn same(series: &str, a: f64, b: f64) -> bool {
    if series.contains("_sum{") {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    } else {
        a == b
    }
}

/// `live` against `reference` on every compared series; absent counts as 0.
pub fn against_reference(live: &Samples, reference: &Samples) -> Vec<String> {
    let keys: BTreeSet<&String> = live.keys().chain(reference.keys()).collect();
    keys.into_iter()
        .filter(|k| compared(k))
        .filter_map(|k| {
            let (l, r) = (get(live, k), get(reference, k));
            (!same(k, l, r)).then(|| format!("{k}: live {l}, reference {r}"))
        })
        .collect()
}

fn get(samples: &Samples, key: &str) -> f64 {
    samples.get(key).copied().unwrap_or(0.0)
}

fn expunges(app: &str, reason: &str) -> String {
    format!("marathon_task_expunges_total{{app=\"{app}\",reason=\"{reason}\"}}")
}

/// The simulator's own record: the tasks by state it has at the end.
pub fn gauges_against_truth(live: &Samples, active: &ActiveTasks) -> Vec<String> {
    let mut drift = Vec::new();
    let mut apps: BTreeSet<String> = active.keys().map(|k| k.0.clone()).collect();
    for key in live.keys().filter(|k| k.starts_with("marathon_app_tasks{")) {
        if let Some(app) = label(key, "app") {
            apps.insert(app.to_owned());
        }
    }
    for app in &apps {
        for state in [
            "staging",
            "starting",
            "running",
            "killing",
            "unreachable",
            "unreachable_inactive",
        ] {
            let series = format!("marathon_app_tasks{{app=\"{app}\",state=\"{state}\"}}");
            let l = value(live, &series);
            let t = active.get(&(app.clone(), state)).copied().unwrap_or(0) as f64;
            if l != t {
                drift.push(format!("{series}: live {l}, simulator {t}"));
            }
        }
    }
    drift
}

/// The simulator's own record: how every task ended and the unknown instances it killed.
pub fn counters_against_truth(live: &Samples, truth: &Truth) -> Vec<String> {
    let mut drift = Vec::new();
    let mut keys: BTreeSet<(String, String)> = truth
        .expunges
        .keys()
        .map(|(a, r)| (a.clone(), (*r).to_owned()))
        .collect();
    for key in live
        .keys()
        .filter(|k| k.starts_with("marathon_task_expunges_total{"))
    {
        if let (Some(app), Some(reason)) = (label(key, "app"), label(key, "reason")) {
            keys.insert((app.to_owned(), reason.to_owned()));
        }
    }
    for (app, reason) in keys {
        let series = expunges(&app, &reason);
        let l = value(live, &series);
        let t = truth
            .expunges
            .get(&(app.clone(), leak(&reason)))
            .copied()
            .unwrap_or(0) as f64;
        if l != t {
            drift.push(format!("{series}: live {l}, simulator {t}"));
        }
    }
    let apps: BTreeSet<&String> = truth.unknown_terminations.keys().collect();
    for app in apps {
        let series = format!("marathon_task_unknown_terminations_total{{app=\"{app}\"}}");
        let (l, t) = (value(live, &series), truth.unknown_terminations[app] as f64);
        if l != t {
            drift.push(format!("{series}: live {l}, simulator {t}"));
        }
    }
    drift
}

/// The reasons are a small fixed set; look them up by their text.
fn leak(reason: &str) -> &'static str {
    ExpungeReason::ALL
        .iter()
        .map(|r| r.label())
        .find(|r| *r == reason)
        .unwrap_or("?")
}

fn label<'a>(series: &'a str, name: &str) -> Option<&'a str> {
    let start = series.find(&format!("{name}=\""))? + name.len() + 2;
    let len = series[start..].find('"')?;
    Some(&series[start..start + len])
}

/// With events lost, every difference from the reference must be one the exporter accounts for.
/// It never counts more status updates, unknown terminations or histogram observations than the
/// reference (it only missed some); more replacements or expunges of a reason only for changes a
/// snapshot applied (each counted as a `state` correction); and each task it removed unseen
/// (`unobserved`, each a `removed` correction) stands for an ending it missed, never a task that
/// still ran nor an ending for another reason. Transitions are not bounded pair by pair: a lost
/// status turns `a -> b -> c` into `a -> c`.
pub fn lossy_against_reference(live: &Samples, reference: &Samples) -> Vec<String> {
    let corrections = |kind: &str| {
        value(
            live,
            &format!("marathon_exporter_resync_corrections_total{{kind=\"{kind}\"}}"),
        )
    };
    let (state_fixes, removed) = (corrections("state"), corrections("removed"));
    let mut drift = Vec::new();
    let (mut surplus, mut missed) = (0.0, 0.0);
    let keys: BTreeSet<&String> = live.keys().chain(reference.keys()).collect();
    for key in keys {
        let (l, r) = (get(live, key), get(reference, key));
        let name = key.split('{').next().unwrap_or_default();
        match name {
            "marathon_task_status_updates_total"
            | "marathon_task_unknown_terminations_total"
            | "marathon_task_unreachable_duration_seconds_count"
            | "marathon_task_time_to_running_seconds_count"
                if l > r =>
            {
                drift.push(format!(
                    "{key}: live {l} > reference {r}, though events were only lost"
                ));
            }
            "marathon_task_expunges_total" if key.contains("reason=\"unobserved\"") => {}
            "marathon_task_expunges_total" | "marathon_task_replacements_total" => {
                surplus += (l - r).max(0.0);
                if name == "marathon_task_expunges_total" {
                    missed += (r - l).max(0.0);
                }
            }
            _ => {}
        }
    }
    if surplus > state_fixes {
        drift.push(format!(
            "{surplus} replacements or expunges beyond the reference, but only {state_fixes} state corrections"
        ));
    }
    let unobserved = sum(
        live,
        "marathon_task_expunges_total",
        &["reason=\"unobserved\""],
    );
    if unobserved != removed {
        drift.push(format!(
            "{unobserved} unobserved expunges, but {removed} removed corrections"
        ));
    }
    if unobserved > missed {
        drift.push(format!(
            "{unobserved} tasks removed unobserved, but only {missed} endings missed: a task was removed while it ran"
        ));
    }
    drift
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "/prod/web";

    fn samples(lines: &[(&str, f64)]) -> Samples {
        lines.iter().map(|(k, v)| (normalize(k), *v)).collect()
    }

    fn killed(n: f64) -> (&'static str, f64) {
        (
            "marathon_task_expunges_total{reason=\"killed\",app=\"/prod/web\"}",
            n,
        )
    }

    #[test]
    fn any_difference_from_the_reference_is_drift_but_the_rounding_of_a_sum() {
        let reference = samples(&[
            killed(2.0),
            (
                "marathon_task_unreachable_duration_seconds_sum{app=\"/prod/web\"}",
                0.3,
            ),
        ]);
        let same = samples(&[
            killed(2.0),
            (
                "marathon_task_unreachable_duration_seconds_sum{app=\"/prod/web\"}",
                0.1 + 0.2,
            ),
            (
                "marathon_exporter_events_total{type=\"status_update_event\"}",
                9.0,
            ),
        ]);
        assert_eq!(against_reference(&same, &reference), Vec::<String>::new());
        let off = samples(&[killed(3.0)]);
        let drift = against_reference(&off, &reference);
        assert_eq!(drift.len(), 2, "{drift:?}");
        assert!(drift[0].contains("live 3, reference 2"), "{drift:?}");
    }

    #[test]
    fn gauges_and_endings_are_checked_against_the_simulator() {
        let mut active = ActiveTasks::new();
        active.insert((APP.to_owned(), "running"), 3);
        let mut truth = Truth::default();
        truth.expunges.insert((APP.to_owned(), "killed"), 2);
        let live = samples(&[
            (
                "marathon_app_tasks{app=\"/prod/web\",state=\"running\"}",
                3.0,
            ),
            (
                "marathon_app_tasks{app=\"/prod/web\",state=\"killing\"}",
                0.0,
            ),
            killed(2.0),
        ]);
        assert!(gauges_against_truth(&live, &active).is_empty());
        assert!(counters_against_truth(&live, &truth).is_empty());
        let extra = samples(&[
            (
                "marathon_app_tasks{app=\"/prod/web\",state=\"running\"}",
                3.0,
            ),
            ("marathon_app_tasks{app=\"/other\",state=\"killing\"}", 1.0),
            killed(1.0),
            (
                "marathon_task_expunges_total{app=\"/prod/web\",reason=\"unobserved\"}",
                1.0,
            ),
        ]);
        assert_eq!(gauges_against_truth(&extra, &active).len(), 1);
        assert_eq!(counters_against_truth(&extra, &truth).len(), 2);
    }

    #[test]
    fn with_events_lost_only_missed_endings_and_counted_corrections_explain_a_difference() {
        let reference = samples(&[killed(2.0)]);
        let unobserved = |n: f64| {
            (
                "marathon_task_expunges_total{app=\"/prod/web\",reason=\"unobserved\"}",
                n,
            )
        };
        let removed = |n: f64| {
            (
                "marathon_exporter_resync_corrections_total{kind=\"removed\"}",
                n,
            )
        };
        let accounted = samples(&[killed(1.0), unobserved(1.0), removed(1.0)]);
        assert_eq!(
            lossy_against_reference(&accounted, &reference),
            Vec::<String>::new()
        );
        let ran_on = samples(&[killed(1.0), unobserved(2.0), removed(2.0)]);
        assert_eq!(lossy_against_reference(&ran_on, &reference).len(), 1);
        let wrong_reason = samples(&[
            killed(1.0),
            (
                "marathon_task_expunges_total{app=\"/prod/web\",reason=\"failed\"}",
                1.0,
            ),
        ]);
        assert_eq!(lossy_against_reference(&wrong_reason, &reference).len(), 1);
        let more_updates = samples(&[
            killed(2.0),
            (
                "marathon_task_status_updates_total{app=\"/prod/web\",status=\"killed\"}",
                1.0,
            ),
        ]);
        assert_eq!(lossy_against_reference(&more_updates, &reference).len(), 1);
    }
}
