//! The live per-app and per-agent view of the task map that scrapes read: tasks per state,
//! unreachable ages and unhealthy tasks per app label slot, what the app's definition says
//! (desired instances, strategy, labels, a deployment in progress), and tasks per agent and state.
//! One writer (the engine, not `Clone`), any number of cheap readers. The only dashmap user.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;

use super::effects::{AgentSlot, AppSlot};
use super::types::{ActiveState, Millis, Strategy};

/// An app's allowlisted labels as exposition label names (`label_<key>`) and values, by name.
pub type AppLabels = Arc<[(Box<str>, Box<str>)]>;

/// What an app's definition says, as scrapes show it (none for `app="__other__"`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppInfo {
    /// Desired instances, when known.
    pub instances: Option<u32>,
    /// The strategy the rules apply to the app (the defaults when its own is unknown).
    pub strategy: Strategy,
    /// Allowlisted labels as exposition label names (`label_<key>`) and values, sorted by name;
    /// `None` when the app's labels are unknown or no allowlist is configured.
    pub labels: Option<AppLabels>,
    /// A deployment in progress touches the app.
    pub deploying: bool,
}

/// What a scrape shows for one label slot.
#[derive(Clone, Debug, Default)]
pub struct AppView {
    pub label: Arc<str>,
    /// Tracked tasks per [`ActiveState::index`].
    pub tasks: [i64; 6],
    /// Tracked tasks whose latest health report is unhealthy.
    pub unhealthy: i64,
    /// `None` for `app="__other__"`.
    pub info: Option<AppInfo>,
    /// `unreachable_since` of every unreachable task, with multiplicity.
    unreachable: BTreeMap<Millis, u32>,
}

/// What a scrape shows for one agent label slot.
#[derive(Clone, Debug, Default)]
pub struct AgentView {
    pub label: Arc<str>,
    /// Tracked tasks per [`ActiveState::index`].
    pub tasks: [i64; 6],
}

/// One agent slot's label and tracked tasks per [`ActiveState::index`].
#[derive(Debug)]
struct AgentCells {
    label: Arc<str>,
    tasks: [AtomicI64; 6],
}

impl AgentCells {
    fn add(&self, state: ActiveState, delta: i64) {
        self.tasks[state.index()].fetch_add(delta, Ordering::Relaxed);
    }
}

/// Where a task counts besides its app's tasks per state: its agent, and whether it is unhealthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub agent: AgentSlot,
    pub unhealthy: bool,
}

impl AppView {
    /// When the longest-unreachable task became unreachable.
    pub fn oldest_unreachable(&self) -> Option<Millis> {
        self.unreachable.keys().next().copied()
    }
}

#[derive(Default)]
struct Inner {
    apps: DashMap<AppSlot, AppView, foldhash::fast::RandomState>,
    /// By agent slot: counters the writer adds to without a map lookup (two atomic adds per move;
    /// a second map like `apps` measured about 5 % of the rules' time).
    agents: RwLock<Vec<Option<Arc<AgentCells>>>>,
    tracked: AtomicI64,
    over_limit: AtomicI64,
}

/// The writer's handle.
#[derive(Default)]
pub struct Store {
    inner: Arc<Inner>,
}

/// A reader's handle: cheap to clone, never blocks the writer for long (one shard at a time).
#[derive(Clone)]
pub struct StoreReader {
    inner: Arc<Inner>,
}

impl Store {
    pub fn new() -> Self {
        Store::default()
    }

    pub fn reader(&self) -> StoreReader {
        StoreReader {
            inner: Arc::clone(&self.inner),
        }
    }

    /// A slot gets a label: its six task gauges appear at zero.
    pub fn add_app(&self, slot: AppSlot, label: &str) {
        self.inner.apps.entry(slot).or_insert_with(|| AppView {
            label: Arc::from(label),
            ..AppView::default()
        });
    }

    /// A slot's app retired: its gauges disappear.
    pub fn remove_app(&self, slot: AppSlot) {
        self.inner.apps.remove(&slot);
    }

    /// An app's definition as scrapes show it.
    pub fn set_app_info(&self, slot: AppSlot, info: AppInfo) {
        if let Some(mut view) = self.inner.apps.get_mut(&slot) {
            view.info = Some(info);
        }
    }

    /// An agent slot gets a label: its six task gauges appear at zero.
    pub fn add_agent(&self, slot: AgentSlot, label: &str) {
        let mut agents = self.inner.agents.write().unwrap_or_else(|p| p.into_inner());
        let i = slot.0 as usize;
        if agents.len() <= i {
            agents.resize(i + 1, None);
        }
        if agents[i].is_none() {
            agents[i] = Some(Arc::new(AgentCells {
                label: Arc::from(label),
                tasks: Default::default(),
            }));
        }
    }

    /// An agent slot has no tracked task any more: its gauges disappear.
    pub fn remove_agent(&self, slot: AgentSlot) {
        let mut agents = self.inner.agents.write().unwrap_or_else(|p| p.into_inner());
        if let Some(cells) = agents.get_mut(slot.0 as usize) {
            *cells = None;
        }
    }

    /// Runs `f` on an agent slot's counters, if it has a label.
    fn agent_cells(&self, slot: AgentSlot, f: impl FnOnce(&AgentCells)) {
        let agents = self.inner.agents.read().unwrap_or_else(|p| p.into_inner());
        if let Some(Some(cells)) = agents.get(slot.0 as usize) {
            f(cells);
        }
    }

    /// A tracked task's health report changed whether it counts as unhealthy.
    pub fn set_unhealthy(&self, slot: AppSlot, unhealthy: bool) {
        if let Some(mut view) = self.inner.apps.get_mut(&slot) {
            view.unhealthy += if unhealthy { 1 } else { -1 };
        }
    }

    /// A tracked task moved from one agent to another.
    pub fn move_agent(&self, state: ActiveState, from: AgentSlot, to: AgentSlot) {
        self.agent_cells(from, |a| a.add(state, -1));
        self.agent_cells(to, |a| a.add(state, 1));
    }

    /// A task of `slot` placed at `at` moved between states (`None`: not tracked); `since` values
    /// are the unreachable clocks of the old and the new state where they are unreachable.
    pub fn move_task(
        &self,
        slot: AppSlot,
        at: Placement,
        from: Option<(ActiveState, Millis)>,
        to: Option<(ActiveState, Millis)>,
    ) {
        if from.map(|f| f.0) != to.map(|t| t.0) {
            self.agent_cells(at.agent, |agent| {
                if let Some((state, _)) = from {
                    agent.add(state, -1);
                }
                if let Some((state, _)) = to {
                    agent.add(state, 1);
                }
            });
        }
        let mut view = self.inner.apps.entry(slot).or_default();
        if at.unhealthy && from.is_some() != to.is_some() {
            view.unhealthy += if to.is_some() { 1 } else { -1 };
        }
        if let Some((state, since)) = from {
            view.tasks[state.index()] -= 1;
            if state.is_unreachable()
                && let Some(n) = view.unreachable.get_mut(&since)
            {
                *n -= 1;
                if *n == 0 {
                    view.unreachable.remove(&since);
                }
            }
        }
        if let Some((state, since)) = to {
            view.tasks[state.index()] += 1;
            if state.is_unreachable() {
                *view.unreachable.entry(since).or_insert(0) += 1;
            }
        }
        let delta = i64::from(to.is_some()) - i64::from(from.is_some());
        if delta != 0 {
            self.inner.tracked.fetch_add(delta, Ordering::Relaxed);
        }
    }

    pub fn set_over_limit(&self, apps: usize) {
        self.inner
            .over_limit
            .store(i64::try_from(apps).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
}

impl StoreReader {
    /// Calls `f` for every labelled slot.
    pub fn for_each_app(&self, mut f: impl FnMut(&AppView)) {
        for entry in self.inner.apps.iter() {
            f(entry.value());
        }
    }

    /// `marathon_exporter_tracked_tasks`.
    pub fn tracked(&self) -> i64 {
        self.inner.tracked.load(Ordering::Relaxed)
    }

    /// `marathon_exporter_apps_over_limit`.
    pub fn over_limit(&self) -> i64 {
        self.inner.over_limit.load(Ordering::Relaxed)
    }

    /// A copy of one slot's view (tests and diagnostics).
    pub fn app(&self, slot: AppSlot) -> Option<AppView> {
        self.inner.apps.get(&slot).map(|v| v.clone())
    }

    /// Calls `f` for every labelled agent slot.
    pub fn for_each_agent(&self, mut f: impl FnMut(&AgentView)) {
        let agents: Vec<Arc<AgentCells>> = {
            let agents = self.inner.agents.read().unwrap_or_else(|p| p.into_inner());
            agents.iter().flatten().cloned().collect()
        };
        for cells in agents {
            f(&AgentView {
                label: Arc::clone(&cells.label),
                tasks: std::array::from_fn(|i| cells.tasks[i].load(Ordering::Relaxed)),
            });
        }
    }

    /// A copy of the view of the agent labelled `label` (tests and diagnostics).
    pub fn agent(&self, label: &str) -> Option<AgentView> {
        let mut found = None;
        self.for_each_agent(|view| {
            if &*view.label == label {
                found = Some(view.clone());
            }
        });
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_keep_counts_and_oldest_unreachable() {
        let store = Store::new();
        let reader = store.reader();
        let slot = AppSlot(1);
        store.add_app(slot, "/prod/web");
        let at = Placement {
            agent: AgentSlot::OTHER,
            unhealthy: false,
        };
        store.move_task(slot, at, None, Some((ActiveState::Running, 0)));
        store.move_task(slot, at, None, Some((ActiveState::Running, 0)));
        store.move_task(
            slot,
            at,
            Some((ActiveState::Running, 0)),
            Some((ActiveState::Unreachable, 500)),
        );
        store.move_task(slot, at, None, Some((ActiveState::Unreachable, 300)));
        let view = reader.app(slot).unwrap();
        assert_eq!(view.tasks[ActiveState::Running.index()], 1);
        assert_eq!(view.tasks[ActiveState::Unreachable.index()], 2);
        assert_eq!(view.oldest_unreachable(), Some(300));
        store.move_task(slot, at, Some((ActiveState::Unreachable, 300)), None);
        assert_eq!(reader.app(slot).unwrap().oldest_unreachable(), Some(500));
        assert_eq!(reader.tracked(), 2);
        store.remove_app(slot);
        assert!(reader.app(slot).is_none());
    }
}
