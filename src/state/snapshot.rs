//! A resync's input: the tasks, apps, pods and deployments a snapshot lists (the tasks packed into
//! one text buffer), and when it was requested and answered.

use std::fmt;

use super::types::{MesosState, Millis, Strategy};

/// One task as `/v2/tasks` lists it (borrowed from a [`SnapshotTasks`], or from its source).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotTask<'a> {
    pub id: &'a str,
    pub instance: &'a str,
    /// The app id, or the pod id for a pod task.
    pub app: &'a str,
    pub state: MesosState,
    /// A pod container task (from `/v2/pods/::status`, never listed by `/v2/tasks`).
    pub pod: bool,
    /// The agent host (`host`; a pod instance's `agentHostname`); empty when Marathon gave none.
    pub host: &'a str,
    /// The health the listing reports: `Some(false)` when a check failed, `Some(true)` when all
    /// passed, `None` when it reports none.
    pub health: Option<bool>,
}

/// The tasks of a `/v2/tasks` listing, packed: every id, instance and app in one text buffer and
/// one fixed-size entry per task. A listing of 200,000 tasks held as three `String`s per task
/// leaves 600,000 small freed blocks behind it, which the allocator keeps resident among the
/// engine's long-lived ones (measured: about 240 bytes per task after seeding); two large buffers
/// go back to the system when the snapshot is dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SnapshotTasks {
    text: String,
    entries: Vec<PackedTask>,
}

/// Where a task's texts sit in [`SnapshotTasks::text`]: id, instance, app and host, back to back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PackedTask {
    start: usize,
    id_len: u32,
    instance_len: u32,
    app_len: u32,
    host_len: u32,
    state: MesosState,
    pod: bool,
    health: Option<bool>,
}

impl SnapshotTasks {
    /// Appends a task. A text longer than 4 GiB does not fit and the task is not added (`false`).
    pub fn push(&mut self, task: SnapshotTask<'_>) -> bool {
        let (Ok(id_len), Ok(instance_len), Ok(app_len), Ok(host_len)) = (
            u32::try_from(task.id.len()),
            u32::try_from(task.instance.len()),
            u32::try_from(task.app.len()),
            u32::try_from(task.host.len()),
        ) else {
            return false;
        };
        let start = self.text.len();
        self.text.push_str(task.id);
        self.text.push_str(task.instance);
        self.text.push_str(task.app);
        self.text.push_str(task.host);
        self.entries.push(PackedTask {
            start,
            id_len,
            instance_len,
            app_len,
            host_len,
            state: task.state,
            pod: task.pod,
            health: task.health,
        });
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`th task pushed.
    pub fn get(&self, i: usize) -> Option<SnapshotTask<'_>> {
        self.entries.get(i).map(|packed| self.view(packed))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = SnapshotTask<'_>> + '_ {
        self.entries.iter().map(|packed| self.view(packed))
    }

    fn view(&self, packed: &PackedTask) -> SnapshotTask<'_> {
        // Lengths were `usize`s that fit in a `u32`, and every range lies on the boundaries of
        // the `str`s pushed, so the slicing below cannot fail.
        let id_end = packed.start + packed.id_len as usize;
        let instance_end = id_end + packed.instance_len as usize;
        let app_end = instance_end + packed.app_len as usize;
        let host_end = app_end + packed.host_len as usize;
        SnapshotTask {
            id: &self.text[packed.start..id_end],
            instance: &self.text[id_end..instance_end],
            app: &self.text[instance_end..app_end],
            state: packed.state,
            pod: packed.pod,
            host: &self.text[app_end..host_end],
            health: packed.health,
        }
    }
}

impl<'a> FromIterator<SnapshotTask<'a>> for SnapshotTasks {
    fn from_iter<I: IntoIterator<Item = SnapshotTask<'a>>>(iter: I) -> Self {
        let mut tasks = SnapshotTasks::default();
        for task in iter {
            tasks.push(task);
        }
        tasks
    }
}

impl fmt::Debug for SnapshotTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// One app as `/v2/apps` lists it (or one pod as `/v2/pods/::status` does).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotApp {
    pub id: String,
    /// `None` when the app names no strategy (Marathon before 1.4).
    pub strategy: Option<Strategy>,
    /// `instances` (a pod's `spec.scaling.instances`), when given.
    pub instances: Option<u32>,
    /// `labels` (a pod's `spec.labels`), when given.
    pub labels: Option<Vec<(String, String)>>,
}

/// One deployment in progress as `/v2/deployments` lists it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotDeployment {
    pub id: String,
    /// `affectedApps` and `affectedPods`.
    pub apps: Vec<String>,
}

/// A resync: `/v2/tasks`, `/v2/apps` and `/v2/pods/::status` as read, and when the request was
/// made, on the connection clock of the stream it was taken for (RULES.md, Time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub requested_at: Millis,
    /// When Marathon answered, on its own clock: the latest `Date` of the answers, to the end of its
    /// second (`Date` has whole seconds); `None` without one. A writer behind the stream applies a
    /// snapshot whose state is ahead of its clock: its corrections wait from this moment.
    pub answered_at: Option<Millis>,
    /// App tasks from `/v2/tasks` and pod tasks from `/v2/pods/::status`.
    pub tasks: SnapshotTasks,
    pub apps: Vec<SnapshotApp>,
    /// The pods `/v2/pods/::status` listed (their tasks are in `tasks`); `None` when that endpoint
    /// is not there (Marathon before 1.4: 404), which leaves pod tasks alone.
    pub pods: Option<Vec<SnapshotApp>>,
    /// The deployments in progress (`/v2/deployments`); `None` when not read.
    pub deployments: Option<Vec<SnapshotDeployment>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_snapshot_tasks_give_back_what_was_pushed_in_order() {
        let listed = [
            (
                "web.instance-1._app.1",
                "web.instance-1",
                "/web",
                MesosState::Running,
            ),
            ("web.1", "web.marathon-1", "/web", MesosState::Staging),
            (
                "é.instance-2._app.1",
                "é.instance-2",
                "/é",
                MesosState::Unreachable,
            ),
            ("", "", "", MesosState::Killing),
        ];
        let tasks: SnapshotTasks = listed
            .iter()
            .map(|&(id, instance, app, state)| SnapshotTask {
                id,
                instance,
                app,
                state,
                pod: false,
                host: "",
                health: None,
            })
            .collect();
        assert_eq!(tasks.len(), 4);
        assert!(!tasks.is_empty() && SnapshotTasks::default().is_empty());
        let back: Vec<_> = tasks
            .iter()
            .map(|t| (t.id, t.instance, t.app, t.state))
            .collect();
        assert_eq!(back, listed);
        assert_eq!(tasks.get(2).map(|t| t.app), Some("/é"));
        assert_eq!(tasks.get(4), None);
        let shown = format!("{tasks:?}");
        assert!(
            shown.starts_with("[SnapshotTask { id: \"web.instance-1._app.1\""),
            "{shown}"
        );
    }
}
