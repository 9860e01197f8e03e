//! Resync: diffs a `/v2/tasks` + `/v2/apps` snapshot against the map (RULES.md, Snapshot). The
//! first one seeds the map silently; later ones count their corrections.

use std::collections::HashSet;

use foldhash::fast::RandomState;

use super::super::effects::{Effects, Silent};
use super::super::types::{
    ActiveState, Correction, ExpungeReason, Millis, Snapshot, SnapshotTask, State, TaskRef,
};
use super::apps::AppIdx;
use super::{Engine, snapshot_target};

impl Engine {
    /// Applies a snapshot requested at `snapshot.requested_at`, at `now` (both Marathon clock).
    pub fn apply_snapshot(&mut self, snapshot: &Snapshot, now: Millis, fx: &mut impl Effects) {
        self.advance(now, fx);
        let at = snapshot.requested_at;
        self.snapshot_apps(snapshot, at);
        let seeding = !self.seeded;
        for task in snapshot.tasks.iter() {
            self.snapshot_task(&task, at, seeding, fx);
        }
        self.remove_unobserved(snapshot, at, fx);
        self.seeded = true;
        self.advance(now, fx);
    }

    /// Strategies from `/v2/apps`; a previously listed app that is gone counts as deleted.
    fn snapshot_apps(&mut self, snapshot: &Snapshot, at: Millis) {
        let mut listed: HashSet<&str, RandomState> = HashSet::default();
        let mut changed: HashSet<AppIdx, RandomState> = HashSet::default();
        for app in &snapshot.apps {
            listed.insert(&app.id);
            let idx = self.apps.intern(&app.id);
            let entry = self.apps.get_mut(idx);
            entry.listed = true;
            entry.delete_at = None;
            if entry.strategy != app.strategy {
                entry.strategy = app.strategy;
                changed.insert(idx);
            }
        }
        let gone: Vec<Box<str>> = self
            .apps
            .indices()
            .map(|idx| self.apps.get(idx))
            .filter(|app| app.listed && !listed.contains(&*app.id))
            .map(|app| app.id.clone())
            .collect();
        for id in gone {
            if let Some(idx) = self.apps.lookup(&id) {
                self.apps.get_mut(idx).listed = false;
                if self.apps.get(idx).delete_at.is_none() {
                    self.app_deleted(&id, at);
                }
            }
        }
        self.rearm_apps(&changed);
    }

    fn snapshot_task(
        &mut self,
        task: &SnapshotTask<'_>,
        at: Millis,
        seeding: bool,
        fx: &mut impl Effects,
    ) {
        if self.tombstones.contains_key(task.id) {
            return; // never resurrected
        }
        let Some(target) = snapshot_target(task.state) else {
            return;
        };
        let Some(current) = self.find(task.instance, task.id) else {
            if let State::Active(state) = target {
                if seeding {
                    self.add_observed(task, state, at, &mut Silent(fx));
                } else {
                    fx.correction(Correction::Added);
                    self.add_observed(task, state, at, fx);
                }
            }
            return; // a terminal task the map does not have is not added
        };
        if current.lost().is_some() || current.last_change > at {
            return; // a pending LOST resolves itself; newer events win
        }
        let same = match (current.state, target) {
            (Some(s), State::Active(t)) => {
                s == t || (t == ActiveState::Unreachable && s == ActiveState::UnreachableInactive)
            }
            _ => false,
        };
        if !same {
            fx.correction(Correction::State);
            self.change(task.instance, task.id, target, at, fx);
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
            pod: false,
        };
        self.ensure_task(&task_ref, idx, at);
        let Some(t) = self.find_mut(task.instance, task.id) else {
            return;
        };
        t.state = Some(state);
        t.since = at;
        self.store.move_task(slot, None, Some((state, at)));
        if state.is_unreachable() {
            self.arm_unreachable(task.instance, task.id);
            // The timers apply at this instant too (with inactiveAfter 0 the task is inactive now).
            self.unreachable_due_at(task.instance, task.id, at, fx);
        }
    }

    /// Tasks the map has and the snapshot does not list: expunged as `unobserved`.
    fn remove_unobserved(&mut self, snapshot: &Snapshot, at: Millis, fx: &mut impl Effects) {
        let listed: HashSet<&str, RandomState> = snapshot.tasks.iter().map(|t| t.id).collect();
        let mut id = String::new();
        let vanished: Vec<(Box<str>, Box<str>)> = self
            .instances
            .iter()
            .filter(|(instance, t)| {
                t.state.is_some()
                    && !t.pod
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
        for (instance, id) in vanished {
            let Some(task) = self.instances.remove(&instance, &id) else {
                continue;
            };
            let slot = self
                .apps
                .get(task.app)
                .slot
                .unwrap_or(super::super::effects::AppSlot::OTHER);
            fx.correction(Correction::Removed);
            fx.expunge(slot, ExpungeReason::Unobserved);
            self.store
                .move_task(slot, task.state.map(|s| (s, task.since)), None);
            self.forget(&instance, task, at);
        }
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
            self.arm_unreachable(&instance, &id);
        }
    }
}
