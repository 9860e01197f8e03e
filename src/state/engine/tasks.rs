//! How the task map stores tasks: grouped by instance key, one task inline per instance (pods may
//! have more), each task id kept as what follows its instance key (`._app.1`, short enough to be
//! stored inline), so a tracked task costs its map entry and the one allocation of its instance key.
//! An input's instance key is hashed once ([`Key`]) however often the rules look it up.

use std::hash::BuildHasher;

use compact_str::CompactString;
use foldhash::fast::RandomState;
use hashbrown::HashTable;

use super::super::types::{ActiveState, Millis};
use super::PendingLost;
use super::agents::AgentIdx;
use super::apps::AppIdx;

/// A task's latest health report (RULES.md, Health).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Health {
    #[default]
    Unknown,
    Healthy,
    Unhealthy,
}

impl Health {
    /// `true` healthy, `false` unhealthy, `None` unknown.
    pub fn of(report: Option<bool>) -> Health {
        match report {
            None => Health::Unknown,
            Some(true) => Health::Healthy,
            Some(false) => Health::Unhealthy,
        }
    }
}

/// `staged_at` of a task not seen staging (or already running).
const NOT_STAGED: Millis = Millis::MIN;

/// A task in the map.
#[derive(Debug)]
pub(super) struct Task {
    /// The id after the instance key when it starts with it (`suffix`), else the whole id.
    tail: CompactString,
    suffix: bool,
    pub app: AppIdx,
    /// The agent host it is on.
    pub agent: AgentIdx,
    /// `None` only for a task first seen as a pending LOST (not tracked yet).
    pub state: Option<ActiveState>,
    pub pod: bool,
    pub health: Health,
    /// Whole seconds after `first_seen`, rounded up, of the latest health report from an event: a
    /// snapshot requested before it does not set the health (it is older than the report). Kept
    /// in seconds to fit beside the other small fields (a task is 80 bytes with or without it).
    health_at: u32,
    pub first_seen: Millis,
    /// Timestamp of the last change of state applied (repeats do not move it).
    pub last_change: Millis,
    /// Start of the current unreachable episode; meaningful while unreachable.
    pub since: Millis,
    /// When the task was first seen staging, until its first running (see [`Task::staged`]).
    staged_at: Millis,
    /// Rare, so kept out of line.
    lost: Option<Box<PendingLost>>,
}

impl Task {
    /// A task of `instance` with id `id`, first seen at `at`, not tracked yet.
    pub fn new(
        instance: &str,
        id: &str,
        app: AppIdx,
        agent: AgentIdx,
        pod: bool,
        at: Millis,
    ) -> Task {
        let (tail, suffix) = match id.strip_prefix(instance) {
            Some(rest) => (rest, true),
            None => (id, false),
        };
        Task {
            tail: CompactString::new(tail),
            suffix,
            app,
            agent,
            state: None,
            pod,
            health: Health::Unknown,
            health_at: 0,
            first_seen: at,
            last_change: at,
            since: at,
            staged_at: NOT_STAGED,
            lost: None,
        }
    }

    /// Whether this task, of `instance`, has id `id`.
    pub fn is(&self, instance: &str, id: &str) -> bool {
        if self.suffix {
            id.strip_prefix(instance) == Some(self.tail.as_str())
        } else {
            id == self.tail
        }
    }

    /// The whole id, written into `out` (cleared first).
    pub fn write_id(&self, instance: &str, out: &mut String) {
        out.clear();
        if self.suffix {
            out.push_str(instance);
        }
        out.push_str(&self.tail);
    }

    /// The whole id.
    pub fn id(&self, instance: &str) -> Box<str> {
        let mut id = String::with_capacity(instance.len() + self.tail.len());
        self.write_id(instance, &mut id);
        id.into_boxed_str()
    }

    /// When the task was first seen staging, if it has not run since.
    pub fn staged(&self) -> Option<Millis> {
        (self.staged_at != NOT_STAGED).then_some(self.staged_at)
    }

    pub fn set_staged(&mut self, at: Option<Millis>) {
        self.staged_at = at.unwrap_or(NOT_STAGED);
    }

    /// A health event stamped `at` reported on this task.
    pub fn health_reported(&mut self, at: Millis) {
        let after = at.saturating_sub(self.first_seen).max(0);
        let seconds = u32::try_from((after + 999) / 1000).unwrap_or(u32::MAX);
        self.health_at = self.health_at.max(seconds);
    }

    /// Whether a snapshot requested at `requested_at` is no older than the latest health event
    /// (so its health report is the latest one).
    pub fn health_current_at(&self, requested_at: Millis) -> bool {
        requested_at
            >= self
                .first_seen
                .saturating_add(Millis::from(self.health_at) * 1000)
    }

    pub fn lost(&self) -> Option<PendingLost> {
        self.lost.as_deref().copied()
    }

    pub fn set_lost(&mut self, lost: Option<PendingLost>) {
        self.lost = lost.map(Box::new);
    }
}

/// The tasks of one instance: one for an app, possibly several for a pod.
#[derive(Debug)]
pub(super) enum Members {
    One(Task),
    Many(Vec<Task>),
}

impl Members {
    pub fn iter(&self) -> std::slice::Iter<'_, Task> {
        match self {
            Members::One(t) => std::slice::from_ref(t).iter(),
            Members::Many(v) => v.iter(),
        }
    }

    fn iter_mut(&mut self) -> std::slice::IterMut<'_, Task> {
        match self {
            Members::One(t) => std::slice::from_mut(t).iter_mut(),
            Members::Many(v) => v.iter_mut(),
        }
    }

    fn push(&mut self, task: Task) {
        let members = std::mem::replace(self, Members::Many(Vec::new()));
        *self = match members {
            Members::One(first) => Members::Many(vec![first, task]),
            Members::Many(mut v) => {
                v.push(task);
                Members::Many(v)
            }
        };
    }
}

/// An instance key with its hash: an input hashes its instance key once, and every lookup of it
/// while the input is applied reuses the hash. (Hashing the ~50-byte keys was a fifth of the
/// rules' time, mostly for the second and third lookups of the same key.)
#[derive(Clone, Copy, Debug)]
pub(super) struct Key<'a> {
    text: &'a str,
    hash: u64,
}

impl<'a> Key<'a> {
    pub fn as_str(&self) -> &'a str {
        self.text
    }
}

impl std::ops::Deref for Key<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        self.text
    }
}

/// Tasks by instance key.
#[derive(Default)]
pub(super) struct TaskMap {
    instances: HashTable<(Box<str>, Members)>,
    hasher: RandomState,
}

impl std::fmt::Debug for TaskMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskMap")
            .field("instances", &self.instances.len())
            .finish()
    }
}

impl TaskMap {
    /// `instance` with its hash, for the lookups that follow.
    pub fn key<'a>(&self, instance: &'a str) -> Key<'a> {
        Key {
            text: instance,
            hash: self.hasher.hash_one(instance),
        }
    }

    pub fn instance(&self, key: Key<'_>) -> Option<&Members> {
        self.instances
            .find(key.hash, |(k, _)| **k == *key.text)
            .map(|(_, m)| m)
    }

    fn instance_mut(&mut self, key: Key<'_>) -> Option<&mut Members> {
        self.instances
            .find_mut(key.hash, |(k, _)| **k == *key.text)
            .map(|(_, m)| m)
    }

    pub fn find(&self, key: Key<'_>, id: &str) -> Option<&Task> {
        self.instance(key)?.iter().find(|t| t.is(key.text, id))
    }

    pub fn find_mut(&mut self, key: Key<'_>, id: &str) -> Option<&mut Task> {
        self.instance_mut(key)?
            .iter_mut()
            .find(|t| t.is(key.text, id))
    }

    /// Adds a task the map does not have.
    pub fn insert(&mut self, key: Key<'_>, task: Task) {
        match self.instance_mut(key) {
            Some(members) => members.push(task),
            None => {
                let hasher = &self.hasher;
                self.instances.insert_unique(
                    key.hash,
                    (key.text.into(), Members::One(task)),
                    |(k, _)| hasher.hash_one(&**k),
                );
            }
        }
    }

    /// Takes a task out of the map; its instance goes with its last task.
    pub fn remove(&mut self, key: Key<'_>, id: &str) -> Option<Task> {
        let Ok(entry) = self
            .instances
            .find_entry(key.hash, |(k, _)| **k == *key.text)
        else {
            return None;
        };
        let members = &mut entry.into_mut().1;
        match members {
            Members::One(t) if t.is(key.text, id) => {}
            Members::One(_) => return None,
            Members::Many(v) => {
                let pos = v.iter().position(|t| t.is(key.text, id))?;
                let task = v.swap_remove(pos);
                if !v.is_empty() {
                    return Some(task);
                }
                self.remove_instance(key);
                return Some(task);
            }
        }
        match self.remove_instance(key) {
            Some(Members::One(t)) => Some(t),
            _ => None,
        }
    }

    fn remove_instance(&mut self, key: Key<'_>) -> Option<Members> {
        let entry = self
            .instances
            .find_entry(key.hash, |(k, _)| **k == *key.text)
            .ok()?;
        Some(entry.remove().0.1)
    }

    /// Instances in the map.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.instances.len()
    }

    /// Every task with its instance key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Task)> {
        self.instances
            .iter()
            .flat_map(|(instance, members)| members.iter().map(move |t| (&**instance, t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE: &str = "prod_web.instance-2b8f6ac1-0890-11eb-9a3f-0242f5e1c6d2";

    #[test]
    fn ids_after_their_instance_key_are_kept_short_and_whole_ids_otherwise() {
        let modern = Task::new(INSTANCE, &format!("{INSTANCE}._app.1"), 0, 0, false, 0);
        assert!(modern.suffix && !modern.tail.is_heap_allocated());
        assert!(modern.is(INSTANCE, &format!("{INSTANCE}._app.1")));
        assert!(!modern.is(INSTANCE, &format!("{INSTANCE}._app.2")));
        assert_eq!(&*modern.id(INSTANCE), format!("{INSTANCE}._app.1"));

        let legacy_instance = "prod_web.marathon-2b8f6ac1-0890-11eb-9a3f-0242f5e1c6d2";
        let legacy_id = "prod_web.2b8f6ac1-0890-11eb-9a3f-0242f5e1c6d2";
        let legacy = Task::new(legacy_instance, legacy_id, 0, 0, false, 0);
        assert!(!legacy.suffix);
        assert!(legacy.is(legacy_instance, legacy_id));
        assert_eq!(&*legacy.id(legacy_instance), legacy_id);
    }

    #[test]
    fn pods_keep_several_tasks_under_one_instance_until_the_last_goes() {
        let mut map = TaskMap::default();
        let ids: Vec<String> = ["web", "sidecar", "log"]
            .iter()
            .map(|c| format!("{INSTANCE}.{c}"))
            .collect();
        let key = map.key(INSTANCE);
        for id in &ids {
            map.insert(key, Task::new(INSTANCE, id, 1, 0, true, 0));
        }
        assert_eq!(map.iter().count(), 3);
        assert_eq!(map.len(), 1);
        assert!(map.find(key, &ids[1]).is_some());
        assert!(map.remove(key, &ids[1]).is_some());
        assert!(map.remove(key, &ids[1]).is_none());
        assert!(map.find(key, &ids[0]).is_some() && map.find(key, &ids[2]).is_some());
        assert!(map.remove(key, &ids[0]).is_some());
        assert!(map.remove(key, &ids[2]).is_some());
        assert!(
            map.instance(key).is_none(),
            "the instance goes with its last task"
        );
    }

    #[test]
    fn a_pending_lost_is_kept_out_of_line() {
        let mut t = Task::new(INSTANCE, INSTANCE, 0, 0, false, 0);
        assert_eq!(t.lost(), None);
        t.set_lost(Some(PendingLost { at: 5, deadline: 9 }));
        assert_eq!(t.lost(), Some(PendingLost { at: 5, deadline: 9 }));
        assert!(
            std::mem::size_of::<Task>() <= 80,
            "{}",
            std::mem::size_of::<Task>()
        );
    }
}
