//! The live per-app view of the task map that scrapes read: tasks per state and unreachable ages per
//! label slot. One writer (the engine, not `Clone`), any number of cheap readers. The only dashmap user.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use dashmap::DashMap;

use super::effects::AppSlot;
use super::types::{ActiveState, Millis};

/// What a scrape shows for one label slot.
#[derive(Clone, Debug, Default)]
pub struct AppView {
    pub label: Arc<str>,
    /// Tracked tasks per [`ActiveState::index`].
    pub tasks: [i64; 6],
    /// `unreachable_since` of every unreachable task, with multiplicity.
    unreachable: BTreeMap<Millis, u32>,
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

    /// A task of `slot` moved between states (`None`: not tracked); `since` values are the
    /// unreachable clocks of the old and the new state where they are unreachable.
    pub fn move_task(
        &self,
        slot: AppSlot,
        from: Option<(ActiveState, Millis)>,
        to: Option<(ActiveState, Millis)>,
    ) {
        let mut view = self.inner.apps.entry(slot).or_default();
        if let Some((state, since)) = from {
            view.tasks[state.index()] -= 1;
            if state.is_unreachable() {
                if let Some(n) = view.unreachable.get_mut(&since) {
                    *n -= 1;
                    if *n == 0 {
                        view.unreachable.remove(&since);
                    }
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
        store.move_task(slot, None, Some((ActiveState::Running, 0)));
        store.move_task(slot, None, Some((ActiveState::Running, 0)));
        store.move_task(
            slot,
            Some((ActiveState::Running, 0)),
            Some((ActiveState::Unreachable, 500)),
        );
        store.move_task(slot, None, Some((ActiveState::Unreachable, 300)));
        let view = reader.app(slot).unwrap();
        assert_eq!(view.tasks[ActiveState::Running.index()], 1);
        assert_eq!(view.tasks[ActiveState::Unreachable.index()], 2);
        assert_eq!(view.oldest_unreachable(), Some(300));
        store.move_task(slot, Some((ActiveState::Unreachable, 300)), None);
        assert_eq!(reader.app(slot).unwrap().oldest_unreachable(), Some(500));
        assert_eq!(reader.tracked(), 2);
        store.remove_app(slot);
        assert!(reader.app(slot).is_none());
    }
}
