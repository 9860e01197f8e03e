//! RULES.md's invariants, checked on an engine and the tally of everything it counted: one checker
//! for the property tests and the fuzz targets.
//!
//! For any history: the gauges sum to the tracked tasks and none is negative; the agent gauges sum
//! to the tracked tasks too; the unhealthy gauges count the unhealthy tracked tasks; every known
//! app has one labelled slot; a tracked task has no tombstone; an app has an oldest unreachable age
//! exactly while it has unreachable tasks; every expunge but `unobserved` comes with one transition
//! into a terminal state; time unreachable is observed once per ended episode (never for a task
//! removed as `unobserved`); durations are finite and never negative.

use std::collections::HashMap;

use super::super::tally::Tally;
use super::super::types::{ActiveState, TerminalState};
use super::Engine;
use super::tasks::Health;

/// The first invariant `engine` and `tally` break, in words; `Ok` when they hold.
pub fn check_invariants(engine: &Engine, tally: &Tally) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut fail = |problem: String| problems.push(problem);
    let reader = engine.reader();

    let (mut sum, mut slots, mut unhealthy_shown) = (0, 0, 0);
    reader.for_each_app(|app| {
        slots += 1;
        for n in app.tasks {
            if n < 0 {
                fail(format!("negative gauge in {app:?}"));
            }
            sum += n;
        }
        if app.unhealthy < 0 {
            fail(format!("negative unhealthy count in {app:?}"));
        }
        unhealthy_shown += app.unhealthy;
        let unreachable = app.tasks[ActiveState::Unreachable.index()]
            + app.tasks[ActiveState::UnreachableInactive.index()];
        if app.oldest_unreachable().is_some() != (unreachable > 0) {
            fail(format!(
                "oldest unreachable age without unreachable tasks, or none with: {app:?}"
            ));
        }
    });
    let tracked = engine
        .instances
        .iter()
        .filter(|(_, t)| t.state.is_some())
        .count() as i64;
    if sum != reader.tracked() || reader.tracked() != tracked {
        fail(format!(
            "gauges sum to {sum}, tracked tasks {}, tasks in the map {tracked}",
            reader.tracked()
        ));
    }
    if slots != engine.known_apps() {
        fail(format!(
            "{slots} labelled slots for {} known apps",
            engine.known_apps()
        ));
    }
    if tally.known.len() - tally.retired.len() != engine.known_apps() {
        fail(format!(
            "{} apps made known and {} retired, {} known",
            tally.known.len(),
            tally.retired.len(),
            engine.known_apps()
        ));
    }

    let mut on_agents = 0;
    reader.for_each_agent(|agent| {
        for n in agent.tasks {
            if n < 0 {
                fail(format!("negative agent gauge in {agent:?}"));
            }
            on_agents += n;
        }
    });
    if on_agents != tracked {
        fail(format!(
            "agent gauges sum to {on_agents}, {tracked} tracked"
        ));
    }
    let unhealthy = engine
        .instances
        .iter()
        .filter(|(_, t)| t.state.is_some() && t.health == Health::Unhealthy)
        .count() as i64;
    if unhealthy_shown != unhealthy {
        fail(format!(
            "unhealthy gauges say {unhealthy_shown}, the map {unhealthy}"
        ));
    }
    // The status path relies on it to skip the tombstone lookup for a tracked task.
    let mut id = String::new();
    for (instance, task) in engine.instances.iter() {
        task.write_id(instance, &mut id);
        if engine.tombstones.contains_key(id.as_str()) {
            fail(format!("{id} is tracked and tombstoned"));
        }
    }

    // Per app label: (into a terminal state, expunged but not unobserved, unreachable episodes ended).
    let terminal: Vec<&str> = TerminalState::ALL.iter().map(|t| t.label()).collect();
    let mut per_app: HashMap<&str, (u64, u64, u64)> = HashMap::new();
    for ((app, from, to), n) in &tally.transitions {
        let entry = per_app.entry(app.as_str()).or_default();
        if terminal.contains(to) {
            entry.0 += n;
        }
        let unreachable = |s: &str| s == "unreachable" || s == "unreachable_inactive";
        if unreachable(from) && !unreachable(to) {
            entry.2 += n;
        }
    }
    for ((app, reason), n) in &tally.expunges {
        if *reason != "unobserved" {
            per_app.entry(app.as_str()).or_default().1 += n;
        }
    }
    for app in tally.unreachable_durations.keys() {
        per_app.entry(app.as_str()).or_default();
    }
    for (app, (into_terminal, expunged, episodes)) in per_app {
        if into_terminal != expunged {
            fail(format!(
                "{app}: {into_terminal} transitions into a terminal state, {expunged} expunges"
            ));
        }
        let observed = tally
            .unreachable_durations
            .get(app)
            .map_or(0, |v| v.len() as u64);
        if episodes != observed {
            fail(format!(
                "{app}: {episodes} unreachable episodes ended, {observed} observed"
            ));
        }
    }
    for seconds in tally
        .unreachable_durations
        .values()
        .chain(tally.time_to_running.values())
        .flatten()
    {
        if !(seconds.is_finite() && *seconds >= 0.0) {
            fail(format!("duration {seconds}"));
        }
    }
    match problems.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(first),
    }
}
