//! What an operator asks when paged, as the rules keep it (RULES.md: Health, Desired instances and
//! strategy, Deployments, App labels): tasks' health reports and Marathon's health-check kills,
//! deployments in progress and their results, and each app's desired instances and labels.

use foldhash::fast::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::super::effects::{AppSlot, Effects};
use super::super::snapshot::SnapshotDeployment;
use super::super::store::AppLabels;
use super::super::{DeploymentResult, Millis, TaskRef};
use super::Engine;
use super::apps::AppIdx;
use super::tasks::{Health, Key};
use super::timers::TimerKind;

/// Which Marathon labels `marathon_app_labels` exports (`--app.label-allowlist`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LabelAllowlist {
    /// No label series at all.
    #[default]
    None,
    Keys(BTreeSet<String>),
    /// `*`: every key.
    All,
}

impl LabelAllowlist {
    /// A comma-separated list of keys, or `*`; blanks around keys are ignored.
    pub fn parse(text: &str) -> LabelAllowlist {
        let keys: BTreeSet<String> = text
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
        if keys.contains("*") {
            LabelAllowlist::All
        } else if keys.is_empty() {
            LabelAllowlist::None
        } else {
            LabelAllowlist::Keys(keys)
        }
    }

    fn allows(&self, key: &str) -> bool {
        match self {
            LabelAllowlist::None => false,
            LabelAllowlist::Keys(keys) => keys.contains(key),
            LabelAllowlist::All => true,
        }
    }

    /// The allowlisted labels as exposition label names and values, sorted by name: `label_` and
    /// the key with every character outside `[a-zA-Z0-9_]` replaced by `_`; where two keys map to
    /// one name, the lexicographically first key wins. `None` without an allowlist.
    pub fn select<K: AsRef<str>, V: AsRef<str>>(&self, labels: &[(K, V)]) -> Option<AppLabels> {
        if *self == LabelAllowlist::None {
            return None;
        }
        let mut by_name: BTreeMap<String, (&str, &str)> = BTreeMap::new();
        for (key, value) in labels {
            let (key, value) = (key.as_ref(), value.as_ref());
            if !self.allows(key) {
                continue;
            }
            let name: String = "label_"
                .chars()
                .chain(key.chars().map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c
                    } else {
                        '_'
                    }
                }))
                .collect();
            let keep = by_name.get(&name).is_none_or(|(first, _)| key < *first);
            if keep {
                by_name.insert(name, (key, value));
            }
        }
        Some(
            by_name
                .into_iter()
                .map(|(name, (_, value))| (name.into_boxed_str(), Box::from(value)))
                .collect(),
        )
    }
}

/// Deployments in progress, and the results already counted.
#[derive(Default)]
pub(super) struct Deployments {
    /// By id: the apps it touches and when it was first seen.
    running: HashMap<Box<str>, (Vec<AppIdx>, Millis), RandomState>,
    /// Results counted, kept a tombstone TTL so a repeat counts nothing.
    done: HashMap<(Box<str>, DeploymentResult), Millis, RandomState>,
}

impl Engine {
    /// An app's definition as listed or posted: what is given replaces what was known.
    pub(super) fn set_definition<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        idx: AppIdx,
        instances: Option<u32>,
        labels: Option<&[(K, V)]>,
    ) {
        let labels = labels.and_then(|l| self.labels.select(l));
        let app = self.apps.get_mut(idx);
        let mut changed = false;
        if instances.is_some() && app.instances != instances {
            app.instances = instances;
            changed = true;
        }
        if labels.is_some() && app.labels != labels {
            app.labels = labels;
            changed = true;
        }
        if changed {
            self.apps.publish(idx, &self.store);
        }
    }

    /// A task's latest health report; a tracked task moves in or out of the unhealthy count.
    pub(super) fn set_health(&mut self, instance: Key<'_>, id: &str, health: Health) {
        let Some(task) = self.instances.find_mut(instance, id) else {
            return;
        };
        let was = task.health == Health::Unhealthy;
        task.health = health;
        let is = health == Health::Unhealthy;
        if was != is && task.state.is_some() {
            let slot = self.apps.get(task.app).slot.unwrap_or(AppSlot::OTHER);
            self.store.set_unhealthy(slot, is);
        }
    }

    /// `instance_health_changed_event` / `health_status_changed_event` stamped `at`: every task of
    /// the instance.
    pub(super) fn health_report(&mut self, instance: Key<'_>, healthy: Option<bool>, at: Millis) {
        let Some(tasks) = self.instances.instance(instance) else {
            return;
        };
        let ids: Vec<Box<str>> = tasks.iter().map(|t| t.id(&instance)).collect();
        for id in ids {
            self.set_health(instance, &id, Health::of(healthy));
            if let Some(task) = self.instances.find_mut(instance, &id) {
                task.health_reported(at);
            }
        }
    }

    /// `unhealthy_instance_kill_event`: counted once per event; the task's `killed` end that follows
    /// counts replacement `unhealthy` too.
    pub(super) fn health_kill(
        &mut self,
        app: &str,
        task: &TaskRef<'_>,
        at: Millis,
        fx: &mut impl Effects,
    ) {
        if self.health_kills.get(task.id) == Some(&at) {
            return; // the same event again
        }
        let idx = self.apps.intern(app);
        let slot = self.apps.make_known(idx, &self.store, fx);
        fx.health_kill(slot);
        self.keep_while_counted(idx);
        let expires = at.max(self.now).saturating_add(self.settings.tombstone_ttl);
        self.health_kills.insert(task.id.into(), at);
        self.push_timer(
            expires,
            TimerKind::HealthKill {
                task: task.id.into(),
                at,
            },
        );
    }

    /// A health kill's mark has served its time.
    pub(super) fn health_kill_due(&mut self, task: &str, at: Millis) {
        if self.health_kills.get(task) == Some(&at) {
            self.health_kills.remove(task);
        }
    }

    /// `deployment_info`: in progress, touching `apps` (the plan's, which replace any earlier).
    pub(super) fn deployment_started<S: AsRef<str>>(&mut self, id: &str, apps: &[S], at: Millis) {
        let ended = DeploymentResult::ALL
            .iter()
            .any(|r| self.deployments.done.contains_key(&(Box::from(id), *r)));
        if ended {
            return; // a late copy of an earlier step
        }
        let touched: Vec<AppIdx> = apps
            .iter()
            .map(|a| self.apps.intern(a.as_ref()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let started = self.deployments.running.get(id).map_or(at, |(_, s)| *s);
        let before = self
            .deployments
            .running
            .insert(id.into(), (touched.clone(), started))
            .map(|(apps, _)| apps)
            .unwrap_or_default();
        self.retouch(&before, &touched);
    }

    /// `deployment_success` / `deployment_failed`: counted once per deployment and result.
    pub(super) fn deployment_ended(
        &mut self,
        id: &str,
        result: DeploymentResult,
        at: Millis,
        fx: &mut impl Effects,
    ) {
        let key = (Box::from(id), result);
        if self.deployments.done.contains_key(&key) {
            return;
        }
        let expires = at.max(self.now).saturating_add(self.settings.tombstone_ttl);
        self.deployments.done.insert(key, expires);
        self.push_timer(
            expires,
            TimerKind::DeploymentDone {
                id: id.into(),
                result,
                at: expires,
            },
        );
        fx.deployment(result);
        if let Some((apps, _)) = self.deployments.running.remove(id) {
            self.retouch(&apps, &[]);
        }
    }

    /// A counted result has served its time.
    pub(super) fn deployment_done_due(&mut self, id: &str, result: DeploymentResult, at: Millis) {
        let key = (Box::from(id), result);
        if self.deployments.done.get(&key) == Some(&at) {
            self.deployments.done.remove(&key);
        }
    }

    /// `/v2/deployments` requested at `at`: the deployments in progress now, except those that
    /// ended meanwhile; ones first seen after the request stay.
    pub(super) fn deployments_listed(&mut self, listed: &[SnapshotDeployment], at: Millis) {
        let gone: Vec<Box<str>> = self
            .deployments
            .running
            .iter()
            .filter(|(id, (_, started))| *started <= at && !listed.iter().any(|d| *d.id == ***id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            if let Some((apps, _)) = self.deployments.running.remove(&id) {
                self.retouch(&apps, &[]);
            }
        }
        for deployment in listed {
            self.deployment_started(&deployment.id, &deployment.apps, at);
        }
    }

    /// Moves the deployment marks of a deployment from the apps `before` to the apps `after`.
    fn retouch(&mut self, before: &[AppIdx], after: &[AppIdx]) {
        for &idx in before.iter().filter(|i| !after.contains(i)) {
            if let Some(app) = self.apps.try_get_mut(idx) {
                app.deploying = app.deploying.saturating_sub(1);
                self.apps.publish(idx, &self.store);
            }
        }
        for &idx in after.iter().filter(|i| !before.contains(i)) {
            self.apps.get_mut(idx).deploying += 1;
            self.apps.publish(idx, &self.store);
        }
    }

    /// Apps a deployment in progress touches, for tests.
    #[cfg(test)]
    pub(super) fn deploying(&self) -> usize {
        self.deployments.running.len()
    }
}
