//! Apps as the rules see them: their unreachable strategy, whether they are known (and under which
//! label slot, honouring `--app.limit`), how many tasks they have, and a pending deletion.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::super::effects::{AppSlot, Effects};
use super::super::store::{AppInfo, AppLabels, Store};
use super::super::types::{Millis, Strategy};

/// Index of an app in the registry; stable while the app exists.
pub(super) type AppIdx = u32;

pub(super) struct App {
    pub id: Box<str>,
    /// The latest strategy received (`/v2/apps`, `/v2/pods/::status` or `api_post_event`);
    /// `None`: use the default.
    pub strategy: Option<Strategy>,
    /// Timestamp of the `api_post_event` that set the definition (strategy, instances, labels):
    /// a snapshot requested before it does not override it.
    pub definition_at: Millis,
    /// Desired instances, when known.
    pub instances: Option<u32>,
    /// Allowlisted labels (exposition names and values), when known.
    pub labels: Option<AppLabels>,
    /// Deployments in progress that touch the app.
    pub deploying: u32,
    /// Listed by the last `/v2/apps`: its absence from a later one deletes it.
    pub listed_app: bool,
    /// Listed by the last `/v2/pods/::status` (a pod).
    pub listed_pod: bool,
    /// `Some` while known: the label slot its series use.
    pub slot: Option<AppSlot>,
    /// Tasks of the app in the map, tracked or pending.
    pub tasks: u32,
    /// Marathon-clock instant at which the app's series go, unless a task shows up first.
    pub delete_at: Option<Millis>,
    /// When the one retention timer queued for the app fires, if one is.
    pub timer_at: Option<Millis>,
}

pub(super) struct Apps {
    by_id: HashMap<Box<str>, AppIdx, RandomState>,
    entries: Vec<Option<App>>,
    free: Vec<AppIdx>,
    limit: usize,
    own: usize,
    over: usize,
    /// The strategy of apps whose own is unknown.
    default_strategy: Strategy,
}

impl Apps {
    pub fn new(limit: usize, default_strategy: Strategy) -> Self {
        Apps {
            by_id: HashMap::default(),
            entries: Vec::new(),
            free: Vec::new(),
            limit,
            own: 0,
            over: 0,
            default_strategy,
        }
    }

    /// What scrapes show of the app's definition.
    pub fn info(&self, idx: AppIdx) -> AppInfo {
        let app = self.get(idx);
        AppInfo {
            instances: app.instances,
            strategy: app.strategy.unwrap_or(self.default_strategy),
            labels: app.labels.clone(),
            deploying: app.deploying > 0,
        }
    }

    /// Shows the app's definition as it is now, if the app has a label of its own.
    pub fn publish(&self, idx: AppIdx, store: &Store) {
        if let Some(slot) = self.get(idx).slot.filter(|s| *s != AppSlot::OTHER) {
            store.set_app_info(slot, self.info(idx));
        }
    }

    pub fn lookup(&self, id: &str) -> Option<AppIdx> {
        self.by_id.get(id).copied()
    }

    /// The app's index, creating an (unknown) entry the first time.
    pub fn intern(&mut self, id: &str) -> AppIdx {
        if let Some(idx) = self.lookup(id) {
            return idx;
        }
        let app = App {
            id: id.into(),
            strategy: None,
            definition_at: Millis::MIN,
            instances: None,
            labels: None,
            deploying: 0,
            listed_app: false,
            listed_pod: false,
            slot: None,
            tasks: 0,
            delete_at: None,
            timer_at: None,
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                self.entries[idx as usize] = Some(app);
                idx
            }
            None => {
                self.entries.push(Some(app));
                AppIdx::try_from(self.entries.len() - 1).expect("fewer than 2^32 apps")
            }
        };
        self.by_id.insert(id.into(), idx);
        idx
    }

    pub fn get(&self, idx: AppIdx) -> &App {
        self.entries[idx as usize].as_ref().expect("live app index")
    }

    pub fn try_get(&self, idx: AppIdx) -> Option<&App> {
        self.entries.get(idx as usize)?.as_ref()
    }

    pub fn try_get_mut(&mut self, idx: AppIdx) -> Option<&mut App> {
        self.entries.get_mut(idx as usize)?.as_mut()
    }

    pub fn get_mut(&mut self, idx: AppIdx) -> &mut App {
        self.entries[idx as usize].as_mut().expect("live app index")
    }

    /// Every live app index.
    pub fn indices(&self) -> impl Iterator<Item = AppIdx> + '_ {
        self.by_id.values().copied()
    }

    /// The app's label slot, making it known (its series start at 0) the first time.
    pub fn make_known(&mut self, idx: AppIdx, store: &Store, fx: &mut impl Effects) -> AppSlot {
        if let Some(slot) = self.get(idx).slot {
            return slot;
        }
        let slot = if self.own < self.limit {
            self.own += 1;
            let slot = AppSlot(idx + 1);
            let app = self.get(idx);
            store.add_app(slot, &app.id);
            store.set_app_info(slot, self.info(idx));
            fx.app_known(slot, &app.id);
            slot
        } else {
            self.over += 1;
            if self.over == 1 {
                store.add_app(AppSlot::OTHER, AppSlot::OTHER_LABEL);
                fx.app_known(AppSlot::OTHER, AppSlot::OTHER_LABEL);
            }
            store.set_over_limit(self.over);
            AppSlot::OTHER
        };
        self.get_mut(idx).slot = Some(slot);
        slot
    }

    /// The app's series go and its entry is forgotten (strategy included: the next `/v2/apps`
    /// brings it back if the app still exists).
    pub fn retire(&mut self, idx: AppIdx, store: &Store, fx: &mut impl Effects) {
        let Some(app) = self.entries[idx as usize].take() else {
            return;
        };
        self.by_id.remove(&app.id);
        self.free.push(idx);
        match app.slot {
            Some(AppSlot::OTHER) => {
                self.over -= 1;
                store.set_over_limit(self.over);
                if self.over == 0 {
                    store.remove_app(AppSlot::OTHER);
                    fx.app_retired(AppSlot::OTHER);
                }
            }
            Some(slot) => {
                self.own -= 1;
                store.remove_app(slot);
                fx.app_retired(slot);
            }
            None => {}
        }
    }

    pub fn known(&self) -> usize {
        self.own + self.over
    }

    /// Apps in the registry (known or not), and entries allocated (in use or free), for tests.
    #[cfg(test)]
    pub fn counts(&self) -> (usize, usize) {
        (self.by_id.len(), self.entries.len())
    }
}
