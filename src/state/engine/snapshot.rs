//! Resync: diffs a `/v2/tasks` + `/v2/apps` + `/v2/pods/::status` snapshot against the map
//! (RULES.md, Snapshot). The first one seeds the map silently; later ones count their corrections,
//! and remove the tasks they miss only after the removal delay.

use std::collections::HashSet;

use foldhash::fast::RandomState;

use super::super::effects::{AppSlot, Effects, Silent};
use super::super::snapshot::{Snapshot, SnapshotApp, SnapshotTask};
use super::super::store::Placement;
use super::super::{ActiveState, Correction, ExpungeReason, MesosState, Millis, State, TaskRef};
use super::agents::host_label;
use super::apps::AppIdx;
use super::tasks::{Health, Key};
use super::timers::TimerKind;
use super::{Engine, snapshot_target};

/// A correction a snapshot found, waiting for the removal delay (see [`Engine::plan_fix`]).
#[derive(Debug)]
pub(super) struct Fix {
    due: Millis,
    instance: Box<str>,
    /// When the snapshot that found it was requested: the time the correction takes effect.
    requested_at: Millis,
    change: Change,
}

#[derive(Debug)]
enum Change {
    /// Not listed: removed as `unobserved`.
    Remove,
    /// Listed but not tracked: added in its listed state.
    Add(Added),
    /// Listed in another state: moved there through the rules.
    State(State),
}

/// What adding a listed task needs of the listing.
#[derive(Debug)]
struct Added {
    app: Box<str>,
    state: ActiveState,
    pod: bool,
    host: Box<str>,
    health: Option<bool>,
}

impl Added {
    fn of(task: &SnapshotTask<'_>, state: ActiveState) -> Added {
        Added {
            app: task.app.into(),
            state,
            pod: task.pod,
            host: task.host.into(),
            health: task.health,
        }
    }
}

/// Whether a task in state `current` is already where a listing in `target` puts it.
fn same_state(current: Option<ActiveState>, target: State) -> bool {
    match (current, target) {
        (Some(s), State::Active(t)) => {
            s == t || (t == ActiveState::Unreachable && s == ActiveState::UnreachableInactive)
        }
        _ => false,
    }
}

/// The longest a snapshot's answer time may hold its corrections back past `now`: a `Date` that far
/// ahead of the events is a clock off, not a stream behind.
const ANSWER_AHEAD_MAX: Millis = 5 * 60 * 1000;

impl Engine {
    /// Applies a snapshot requested at `snapshot.requested_at` (the connection clock), at `now`
    /// (both Marathon clock).
    ///
    /// Its corrections are made `--resync.removal-delay` after it was applied, counted from when
    /// Marathon answered if the engine's clock is not there yet: a writer still behind the stream
    /// (a burst of events on their way) has `now` before the state the snapshot shows, and the
    /// events that explain the difference come before any event stamped after the answer.
    pub fn apply_snapshot(&mut self, snapshot: &Snapshot, now: Millis, fx: &mut impl Effects) {
        self.advance(now, fx);
        self.now = now;
        let from = snapshot.answered_at.map_or(now, |answered| {
            answered.clamp(now, now.saturating_add(ANSWER_AHEAD_MAX))
        });
        self.fixes_due = from.saturating_add(self.settings.removal_delay);
        let at = snapshot.requested_at;
        self.snapshot_apps(snapshot, at);
        if let Some(deployments) = &snapshot.deployments {
            self.deployments_listed(deployments, at);
        }
        let seeding = !self.seeded;
        for task in snapshot.tasks.iter() {
            self.snapshot_task(&task, at, seeding, fx);
        }
        self.remove_unobserved(snapshot, at);
        self.seeded = true;
        self.advance(now, fx);
    }

    /// Strategies from `/v2/apps` and `/v2/pods/::status`; a previously listed app that `/v2/apps`
    /// no longer lists counts as deleted (pods are deleted only by `app_terminated_event`).
    fn snapshot_apps(&mut self, snapshot: &Snapshot, at: Millis) {
        let mut changed: HashSet<AppIdx, RandomState> = HashSet::default();
        let listed_apps = self.list(&snapshot.apps, at, false, &mut changed);
        if let Some(pods) = &snapshot.pods {
            self.list(pods, at, true, &mut changed);
        }
        let gone: Vec<Box<str>> = self
            .apps
            .indices()
            .map(|idx| self.apps.get(idx))
            .filter(|app| app.listed_app && !listed_apps.contains(&*app.id))
            .map(|app| app.id.clone())
            .collect();
        for id in gone {
            if let Some(idx) = self.apps.lookup(&id) {
                self.apps.get_mut(idx).listed_app = false;
                if self.apps.get(idx).delete_at.is_none() {
                    self.app_deleted(&id, at);
                }
            }
        }
        if snapshot.pods.is_some() {
            let unlisted: Vec<AppIdx> = self
                .apps
                .indices()
                .filter(|&idx| {
                    let app = self.apps.get(idx);
                    app.listed_pod && !snapshot.pods.iter().flatten().any(|p| *p.id == *app.id)
                })
                .collect();
            for idx in unlisted {
                self.apps.get_mut(idx).listed_pod = false;
            }
        }
        self.rearm_apps(&changed);
    }

    /// Marks the apps (or pods) of one listing as listed and takes their strategies, unless an
    /// `api_post_event` newer than the request set it. Returns the ids listed.
    fn list<'s>(
        &mut self,
        listing: &'s [SnapshotApp],
        at: Millis,
        pods: bool,
        changed: &mut HashSet<AppIdx, RandomState>,
    ) -> HashSet<&'s str, RandomState> {
        let mut listed: HashSet<&str, RandomState> = HashSet::default();
        for app in listing {
            listed.insert(&app.id);
            let idx = self.apps.intern(&app.id);
            let entry = self.apps.get_mut(idx);
            if pods {
                entry.listed_pod = true;
            } else {
                entry.listed_app = true;
            }
            entry.delete_at = None;
            if entry.definition_at > at {
                continue; // an api_post_event newer than the request set the definition
            }
            if entry.strategy != app.strategy {
                entry.strategy = app.strategy;
                changed.insert(idx);
            }
            self.set_definition(idx, app.instances, app.labels.as_deref());
        }
        for &idx in changed.iter() {
            self.apps.publish(idx, &self.store);
        }
        listed
    }

    fn snapshot_task(
        &mut self,
        task: &SnapshotTask<'_>,
        at: Millis,
        seeding: bool,
        fx: &mut impl Effects,
    ) {
        if self.tombstoned(task.id) {
            return; // never resurrected
        }
        let Some(target) = snapshot_target(task.state) else {
            return;
        };
        let key = self.instances.key(task.instance);
        let Some(current) = self.find(key, task.id) else {
            if let State::Active(state) = target {
                if seeding {
                    self.add_observed(task, state, at, &mut Silent(fx));
                } else {
                    self.plan_fix(
                        task.instance,
                        task.id,
                        at,
                        Change::Add(Added::of(task, state)),
                    );
                }
            }
            return; // a terminal task the map does not have is not added
        };
        let (state, lost, last_change) = (current.state, current.lost(), current.last_change);
        // The latest health report wins: not one from before a health event.
        if current.health_current_at(at) {
            self.set_health(key, task.id, Health::of(task.health));
        }
        if lost.is_some() || last_change > at {
            return; // a pending LOST resolves itself; newer events win
        }
        if same_state(state, target) {
            if !self.fixes.is_empty() {
                self.fixes.remove(task.id); // listed as it is: nothing to correct after all
            }
        } else {
            self.plan_fix(task.instance, task.id, at, Change::State(target));
        }
    }

    /// Queues a correction of task `id` found by a snapshot requested at `requested_at`; it is made
    /// after the removal delay unless an event for the task comes first. A task already awaiting
    /// one keeps its time (a later snapshot that finds the same does not postpone it).
    fn plan_fix(&mut self, instance: &str, id: &str, requested_at: Millis, change: Change) {
        let due = match self.fixes.get(id) {
            Some(fix) => fix.due,
            None => self.fixes_due,
        };
        let fix = Fix {
            due,
            instance: instance.into(),
            requested_at,
            change,
        };
        if self.fixes.insert(id.into(), fix).is_none() {
            self.push_timer(
                due,
                TimerKind::Fix {
                    task: id.into(),
                    at: due,
                },
            );
        }
    }

    /// A snapshot's correction of a task is due, no event for the task having come.
    pub(super) fn fix_due(&mut self, id: &str, at: Millis, fx: &mut impl Effects) {
        if self.fixes.get(id).is_none_or(|fix| fix.due != at) {
            return;
        }
        let Some(fix) = self.fixes.remove(id) else {
            return;
        };
        let instance = self.instances.key(&fix.instance);
        match fix.change {
            Change::Remove => self.remove_unlisted(instance, id, at, fx),
            Change::Add(added) => {
                if self.tombstoned(id) || self.find(instance, id).is_some() {
                    return;
                }
                fx.correction(Correction::Added);
                let task = SnapshotTask {
                    id,
                    instance: instance.as_str(),
                    app: &added.app,
                    state: MesosState::Staging,
                    pod: added.pod,
                    host: &added.host,
                    health: added.health,
                };
                self.add_observed(&task, added.state, fix.requested_at, fx);
            }
            Change::State(target) => {
                let Some(task) = self.find(instance, id) else {
                    return;
                };
                if task.lost().is_some()
                    || task.last_change > fix.requested_at
                    || same_state(task.state, target)
                {
                    return;
                }
                fx.correction(Correction::State);
                self.change(instance, id, target, fix.requested_at, fx);
            }
        }
    }

    /// Adds a task the snapshot lists and the map lacks, in its listed state, counting nothing
    /// but the app becoming known; an unreachable one starts its clock at `at`.
    fn add_observed(
        &mut self,
        task: &SnapshotTask<'_>,
        state: ActiveState,
        at: Millis,
        fx: &mut impl Effects,
    ) {
        let idx = self.apps.intern(task.app);
        let slot = self.apps.make_known(idx, &self.store, fx);
        let task_ref = TaskRef {
            id: task.id,
            instance: task.instance.into(),
            pod: task.pod,
        };
        let key = self.ensure_task(&task_ref, idx, host_label(Some(task.host)), at);
        let Some(t) = self.instances.find_mut(key, task.id) else {
            return;
        };
        t.state = Some(state);
        t.since = at;
        t.health = Health::of(task.health);
        let placement = Placement {
            agent: self.agents.slot(t.agent),
            unhealthy: t.health == Health::Unhealthy,
        };
        self.store
            .move_task(slot, placement, None, Some((state, at)));
        if state.is_unreachable() {
            self.arm_unreachable(key, task.id);
            // The timers apply at this instant too (with inactiveAfter 0 the task is inactive now).
            self.unreachable_due_at(key, task.id, at, fx);
        }
    }

    /// Tasks the map has and the snapshot does not list (pod tasks only when the pods were
    /// listed): each is removed as `unobserved` `--resync.removal-delay` from now, unless an event
    /// for it comes first. Marathon drops a task from its state before the task's last event
    /// reaches the stream, so a snapshot can lack a task whose `TASK_KILLED` is on its way.
    fn remove_unobserved(&mut self, snapshot: &Snapshot, at: Millis) {
        let listed: HashSet<&str, RandomState> = snapshot.tasks.iter().map(|t| t.id).collect();
        let pods_listed = snapshot.pods.is_some();
        let mut id = String::new();
        let vanished: Vec<(Box<str>, Box<str>)> = self
            .instances
            .iter()
            .filter(|(instance, t)| {
                t.state.is_some()
                    && (!t.pod || pods_listed)
                    && t.lost().is_none()
                    && t.first_seen <= at
                    && t.last_change <= at
                    && {
                        t.write_id(instance, &mut id);
                        !listed.contains(id.as_str())
                    }
            })
            .map(|(instance, t)| (instance.into(), t.id(instance)))
            .collect();
        for (instance, task) in vanished {
            if !matches!(
                self.fixes.get(&task),
                Some(Fix {
                    change: Change::Remove,
                    ..
                })
            ) {
                self.plan_fix(&instance, &task, at, Change::Remove);
            }
        }
    }

    /// Removes, as `unobserved`, a task a snapshot did not list (its removal delay has passed).
    fn remove_unlisted(&mut self, instance: Key<'_>, id: &str, at: Millis, fx: &mut impl Effects) {
        if self.find(instance, id).is_none_or(|t| t.lost().is_some()) {
            return; // ended meanwhile, or left to its LOST resolution
        }
        let Some(task) = self.instances.remove(instance, id) else {
            return;
        };
        let slot = self.apps.get(task.app).slot.unwrap_or(AppSlot::OTHER);
        fx.correction(Correction::Removed);
        fx.expunge(slot, ExpungeReason::Unobserved);
        let placement = self.placement(&task);
        self.store
            .move_task(slot, placement, task.state.map(|s| (s, task.since)), None);
        self.forget(&instance, task, at);
    }

    /// Re-queues the unreachable thresholds of the tasks of apps whose strategy changed.
    pub(super) fn rearm_apps(&mut self, apps: &HashSet<AppIdx, RandomState>) {
        if apps.is_empty() {
            return;
        }
        let unreachable: Vec<(Box<str>, Box<str>)> = self
            .instances
            .iter()
            .filter(|(_, t)| {
                apps.contains(&t.app) && t.state.is_some_and(ActiveState::is_unreachable)
            })
            .map(|(instance, t)| (instance.into(), t.id(instance)))
            .collect();
        for (instance, id) in unreachable {
            self.arm_unreachable(self.instances.key(&instance), &id);
        }
    }
}
