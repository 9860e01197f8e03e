//! What the simulated cluster tells operators beyond task states: each app's `team` label, health
//! reports and health-check kills, and the deployments in progress (their events and the
//! `/v2/deployments` body).

use serde_json::{Value, json};

use super::cluster::{Cluster, Key};
use crate::fake::payload;

/// The team that owns an app, as its Marathon label `team` says.
pub(super) fn team(app_id: &str) -> &'static str {
    const TEAMS: [(&str, &str); 6] = [
        ("payments", "payments"),
        ("/batch/", "data"),
        ("/data/", "data"),
        ("/infra/", "infra"),
        ("search", "discovery"),
        ("/staging/", "platform"),
    ];
    TEAMS
        .iter()
        .find(|(part, _)| app_id.contains(part))
        .map_or("storefront", |(_, team)| team)
}

/// An app's `labels` object.
pub(super) fn labels(app_id: &str) -> Value {
    json!({ "team": team(app_id), "tier": if app_id.starts_with("/prod/") { "production" } else { "other" } })
}

/// `healthCheckResults` of a task whose one check last said `alive`.
pub(super) fn health_results(alive: bool) -> Value {
    json!([{ "alive": alive, "consecutiveFailures": u32::from(!alive), "instanceId": "" }])
}

impl Cluster {
    /// The health check of the task of `key` now says `alive`: a `health_status_changed_event`.
    pub fn health(&mut self, key: Key, alive: bool) {
        let Some(task) = self.tasks.get_mut(&key) else {
            return;
        };
        task.health = Some(alive);
        let event = payload::health_status_changed(
            &self.instance_id(key),
            self.apps[key.0].id,
            alive,
            self.now,
        );
        self.events.push(event);
        self.dirty = true;
    }

    /// Marathon kills the task of `key` for failing its health checks: the check turns unhealthy,
    /// then an `unhealthy_instance_kill_event` (the kill's status updates follow).
    pub fn health_kill(&mut self, key: Key) {
        self.health(key, false);
        let event = payload::unhealthy_instance_kill(
            &self.task_id(key),
            self.apps[key.0].id,
            "503 Service Unavailable",
            self.now,
        );
        self.events.push(event);
    }

    /// A deployment of `app` starts: its `deployment_info`. Returns its id.
    pub fn deployment_started(&mut self, app: usize) -> String {
        let id = self.deployment_id();
        self.deployments.insert(id.clone(), (app, self.now));
        let event = payload::deployment_info(&id, &[self.apps[app].id], self.now);
        self.events.push(event);
        self.dirty = true;
        id
    }

    /// Deployment `id` is done: its `deployment_success`.
    pub fn deployment_finished(&mut self, id: &str) {
        let Some((app, _)) = self.deployments.remove(id) else {
            return;
        };
        let event = payload::deployment_end(id, &[self.apps[app].id], true, self.now);
        self.events.push(event);
        self.dirty = true;
    }

    /// The `/v2/deployments` array.
    pub fn deployments_body(&self) -> Vec<Value> {
        self.deployments
            .iter()
            .map(|(id, (app, started))| payload::deployment(id, &[self.apps[*app].id], *started))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_has_a_team() {
        assert_eq!(team("/prod/payments-reconciler"), "payments");
        assert_eq!(team("/batch/thumbnailer"), "data");
        assert_eq!(team("/prod/web"), "storefront");
        assert_eq!(labels("/prod/web")["tier"], "production");
    }
}
