//! Property tests: the invariants at the end of RULES.md hold after every input of random histories
//! (status and instance events, app definitions and deletions, snapshots, timers), applying an input
//! twice counts nothing the second time, and under endless churn the map stays bounded by the live
//! population.

use proptest::prelude::{
    ProptestConfig, TestCaseError, any, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as _;

use std::collections::VecDeque;

use super::*;
use crate::state::Tally;
use crate::state::snapshot::{Snapshot, SnapshotApp, SnapshotTask, SnapshotTasks};
use crate::state::{Condition, DeploymentResult, InstanceChanged, Status, StatusUpdate};

const T0: Millis = 1_602_061_982_771;
const APPS: [&str; 3] = ["/a", "/b/c", "/d"];
/// A `taskStatus`: every Mesos state's wire form, and one that is none (the last index).
fn status_text(i: usize) -> &'static str {
    MesosState::ALL.get(i).map_or("TASK_BOGUS", |s| s.wire())
}
const CONDITIONS: [&str; 18] = [
    "Scheduled",
    "Provisioned",
    "Created",
    "Reserved",
    "Staging",
    "Starting",
    "Running",
    "Killing",
    "Unreachable",
    "UnreachableInactive",
    "Finished",
    "Killed",
    "Error",
    "Failed",
    "Gone",
    "Dropped",
    "Unknown",
    "Bogus",
];
const REASONS: [Option<&str>; 4] = [
    None,
    Some("REASON_SLAVE_REMOVED"),
    Some("REASON_TASK_UNKNOWN"),
    Some("REASON_EXECUTOR_TERMINATED"),
];

#[derive(Clone, Debug)]
enum Op {
    /// task (app = task % 3), status, timestamp offset from now (may be in the past), reason, message
    Status(u8, usize, i64, usize, bool),
    Instance(u8, usize, i64),
    Advance(i64),
    Strategy(usize, Option<(i64, i64)>),
    AppTerminated(usize),
    UnknownTerminated(usize),
    /// tasks listed, each with a snapshot state; request time offset (<= 0); apps listed (a bit
    /// per app) and the strategy each lists; whether the pods were listed (else a 404)
    Snapshot(
        Vec<(u8, usize)>,
        i64,
        u8,
        Option<(i64, i64)>,
        bool,
        Option<i64>,
    ),
    /// task, timestamp offset
    HealthKill(u8, i64),
    /// task, report
    Health(u8, Option<bool>),
    /// deployment, apps touched (a bit per app)
    DeploymentInfo(u8, u8),
    DeploymentEnd(u8, bool),
}

/// Agent hosts statuses name (`None`: absent).
const HOSTS: [Option<&str>; 4] = [None, Some("10.0.0.1"), Some("10.0.0.2"), Some("")];

/// Settings of the random histories: TTLs, retention and delays short enough that histories of a
/// few dozen inputs pass all of them.
const HISTORY: Settings = Settings {
    default_strategy: Strategy {
        inactive_after: Some(0),
        expunge_after: Some(120_000),
    },
    lost_resolve_timeout: 5_000,
    tombstone_ttl: 60_000,
    app_retention: 30_000,
    app_limit: 10_000,
    removal_delay: 2_000,
    agent_limit: 5_000,
};

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    let task = 0u8..8;
    prop_oneof![
        // Mostly near now; at times older than every TTL (a lagging leader, a replayed backlog).
        6 => (task.clone(), 0..=MesosState::ALL.len(), prop_oneof![9 => -3_000i64..3_000, 1 => -400_000i64..-3_000], 0..REASONS.len(), any::<bool>())
            .prop_map(|(t, s, d, r, m)| Op::Status(t, s, d, r, m)),
        3 => (task.clone(), 0..CONDITIONS.len(), -3_000i64..3_000).prop_map(|(t, c, d)| Op::Instance(t, c, d)),
        3 => prop_oneof![3 => 0i64..10_000, 1 => 0i64..200_000].prop_map(Op::Advance),
        1 => (0..APPS.len(), proptest::option::of((0i64..120_000, 0i64..300_000)))
            .prop_map(|(a, s)| Op::Strategy(a, s.map(|(i, e)| (i, i + e)))),
        1 => (0..APPS.len()).prop_map(Op::AppTerminated),
        1 => (0..APPS.len()).prop_map(Op::UnknownTerminated),
        1 => (task.clone(), -3_000i64..0).prop_map(|(t, d)| Op::HealthKill(t, d)),
        1 => (task.clone(), proptest::option::of(any::<bool>())).prop_map(|(t, h)| Op::Health(t, h)),
        1 => (0u8..3, 0u8..8).prop_map(|(d, a)| Op::DeploymentInfo(d, a)),
        1 => (0u8..3, any::<bool>()).prop_map(|(d, ok)| Op::DeploymentEnd(d, ok)),
        1 => (
            proptest::collection::vec((task, 0..5usize), 0..8),
            -5_000i64..=0,
            prop_oneof![3 => proptest::strategy::Just(0b111u8), 1 => 0u8..8],
            proptest::option::of((0i64..60_000, 0i64..300_000)),
            any::<bool>(),
            proptest::option::of(0i64..20_000),
        )
            .prop_map(|(t, d, apps, s, pods, answered)| {
                Op::Snapshot(t, d, apps, s.map(|(i, e)| (i, i + e)), pods, answered)
            }),
    ]
}

/// Tasks 6 and 7 are the two containers of one instance of pod `POD` (which `/v2/tasks` never
/// lists; `/v2/pods/::status` does).
fn is_pod(task: u8) -> bool {
    task >= 6
}
const POD: &str = "/p";

fn ids(task: u8) -> (String, String, &'static str) {
    if is_pod(task) {
        let instance = "p.instance-0000ffff-0890-11eb-9a3f-0242f5e1c6d2".to_owned();
        return (format!("{instance}.c{task}.1"), instance, POD);
    }
    let app = APPS[task as usize % APPS.len()];
    let safe = app.trim_start_matches('/').replace('/', "_");
    let instance = format!("{safe}.instance-{task:08x}-0890-11eb-9a3f-0242f5e1c6d2");
    (format!("{instance}._app.1"), instance, app)
}

struct World {
    engine: Engine,
    tally: Tally,
    now: Millis,
}

impl World {
    fn new() -> World {
        World {
            engine: Engine::new(HISTORY),
            tally: Tally::new(),
            now: T0,
        }
    }

    /// Applies the input `op` stands for; `copies` times the very same input at the same `now`
    /// (a time advance is applied once). Returns the tally after each copy.
    fn apply(&mut self, op: &Op, copies: usize) -> Vec<Tally> {
        let mut after = Vec::with_capacity(copies);
        let mut run =
            |engine: &mut Engine, tally: &mut Tally, f: &mut dyn FnMut(&mut Engine, &mut Tally)| {
                for _ in 0..copies {
                    f(engine, tally);
                    after.push(tally.clone());
                }
            };
        let (engine, tally) = (&mut self.engine, &mut self.tally);
        match op {
            Op::Status(task, status, offset, reason, message) => {
                let (id, instance, app) = ids(*task);
                let status = status_text(*status);
                let message = if *message {
                    "Reconciliation: Task is unknown to the master"
                } else {
                    ""
                };
                let update = StatusUpdate {
                    task: TaskRef {
                        id: &id,
                        instance: instance.as_str().into(),
                        pod: is_pod(*task),
                    },
                    app,
                    status: MesosState::parse(status).map_or(Status::Other, Status::Known),
                    message,
                    reason: REASONS[*reason],
                    timestamp: self.now + offset,
                    host: HOSTS[(*task as usize + *reason) % HOSTS.len()],
                };
                self.now = self.now.max(self.now + offset);
                let (input, now) = (Input::Status(update), self.now);
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::Instance(task, condition, offset) => {
                let (_, instance, app) = ids(*task);
                let event = InstanceChanged {
                    instance: instance.as_str().into(),
                    app,
                    condition: Condition::parse(CONDITIONS[*condition]),
                    timestamp: self.now + offset,
                };
                self.now = self.now.max(self.now + offset);
                let (input, now) = (Input::InstanceChanged(event), self.now);
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::Advance(ms) => {
                self.now += ms;
                engine.tick(self.now, tally);
                after.push(tally.clone());
            }
            Op::Strategy(app, strategy) => {
                let input = Input::AppDefinition {
                    app: APPS[*app],
                    strategy: strategy.map(|(i, e)| Strategy::enabled(i, e)),
                    timestamp: self.now,
                    instances: None,
                    labels: None,
                };
                let now = self.now;
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::AppTerminated(app) => {
                let input = Input::AppTerminated {
                    app: APPS[*app],
                    timestamp: self.now,
                };
                let now = self.now;
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::UnknownTerminated(app) => {
                let input = Input::UnknownInstanceTerminated {
                    app: APPS[*app],
                    timestamp: self.now,
                };
                let now = self.now;
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::HealthKill(task, offset) => {
                let (id, instance, app) = ids(*task);
                let input = Input::HealthKill {
                    app,
                    task: TaskRef {
                        id: &id,
                        instance: instance.as_str().into(),
                        pod: is_pod(*task),
                    },
                    timestamp: self.now + offset,
                };
                let now = self.now;
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::Health(task, healthy) => {
                let (_, instance, _) = ids(*task);
                let input = Input::Health {
                    instance: instance.into(),
                    healthy: *healthy,
                    timestamp: self.now,
                };
                let now = self.now;
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::DeploymentInfo(id, apps) => {
                let input = Input::DeploymentInfo {
                    id: format!("d{id}").into(),
                    apps: APPS
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| apps & (1 << i) != 0)
                        .map(|(_, a)| (*a).into())
                        .collect(),
                    timestamp: self.now,
                };
                let now = self.now;
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::DeploymentEnd(id, ok) => {
                let input = Input::DeploymentEnd {
                    id: format!("d{id}").into(),
                    result: if *ok {
                        DeploymentResult::Success
                    } else {
                        DeploymentResult::Failed
                    },
                    timestamp: self.now,
                };
                let now = self.now;
                run(engine, tally, &mut |e, t| e.apply(&input, now, t));
            }
            Op::Snapshot(tasks, offset, apps, strategy, pods, answered) => {
                let states = [
                    "TASK_STAGING",
                    "TASK_RUNNING",
                    "TASK_UNREACHABLE",
                    "TASK_KILLING",
                    "TASK_FAILED",
                ];
                let mut listed = SnapshotTasks::default();
                for (task, state) in tasks {
                    let (id, instance, app) = ids(*task);
                    if (is_pod(*task) && !pods) || listed.iter().any(|t| t.id == id) {
                        continue;
                    }
                    listed.push(SnapshotTask {
                        id: &id,
                        instance: &instance,
                        app,
                        state: MesosState::parse(states[*state]).expect("valid"),
                        pod: is_pod(*task),
                        host: HOSTS[*state % HOSTS.len()].unwrap_or_default(),
                        health: [None, Some(true), Some(false)][*state % 3],
                    });
                }
                let snapshot = Snapshot {
                    requested_at: self.now + offset,
                    answered_at: answered.map(|a| self.now + offset + a),
                    tasks: listed,
                    apps: APPS
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| apps & (1 << i) != 0)
                        .map(|(_, a)| SnapshotApp {
                            id: (*a).into(),
                            strategy: strategy.map(|(i, e)| Strategy::enabled(i, e)),
                            instances: None,
                            labels: None,
                        })
                        .collect(),
                    pods: pods.then(|| {
                        vec![SnapshotApp {
                            id: POD.into(),
                            strategy: None,
                            instances: None,
                            labels: None,
                        }]
                    }),
                    deployments: None,
                };
                let now = self.now;
                run(engine, tally, &mut |e, t| {
                    e.apply_snapshot(&snapshot, now, t)
                });
            }
        }
        after
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        check_invariants(&self.engine, &self.tally)
    }
}

/// RULES.md's invariants (the checker the fuzz targets share).
fn check_invariants(engine: &Engine, tally: &Tally) -> Result<(), TestCaseError> {
    super::check_invariants(engine, tally).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold_after_every_input(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        for op in &ops {
            let before = world.tally.clone();
            world.apply(op, 1);
            world.check_invariants()?;
            // Counters never decrease (series are keyed, so compare key by key).
            for (k, v) in &before.transitions {
                prop_assert!(world.tally.transitions.get(k).copied().unwrap_or(0) >= *v);
            }
            for (k, v) in &before.expunges {
                prop_assert!(world.tally.expunges.get(k).copied().unwrap_or(0) >= *v);
            }
        }
    }

    #[test]
    fn applying_the_same_input_twice_counts_nothing_the_second_time(
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        // Every kind of input, at whatever time it is stamped, with whatever timers are due.
        let mut world = World::new();
        for op in &ops {
            let after = world.apply(op, 2);
            if let [first, second] = &after[..] {
                prop_assert_eq!(second.rule_total(), first.rule_total(), "{:?} counted twice", op);
                prop_assert_eq!(&second.corrections, &first.corrections, "{:?} corrected twice", op);
                prop_assert_eq!(&second.known, &first.known, "{:?} made an app known twice", op);
            }
            world.check_invariants()?;
        }
    }
}

/// Settings of the churn tests: short TTL and retention, so that many of them pass.
const CHURN: Settings = Settings {
    default_strategy: Strategy {
        inactive_after: Some(0),
        expunge_after: Some(60_000),
    },
    lost_resolve_timeout: 5_000,
    tombstone_ttl: 60_000,
    app_retention: 30_000,
    app_limit: 10_000,
    removal_delay: 2_000,
    agent_limit: 5_000,
};
/// Upper bounds of the strategies the churn gives its apps (and of the default strategy).
const MAX_INACTIVE: Millis = 10_000;
const MAX_EXPUNGE: Millis = MAX_INACTIVE + 61_000;
/// Tasks per app at most.
const TASKS_PER_APP: usize = 6;

struct ChurnTask {
    n: u32,
    /// When the current unreachable episode began, and when the app's strategy expunges it.
    unreachable: Option<(Millis, Millis)>,
}

struct ChurnApp {
    id: String,
    strategy: Strategy,
    tasks: Vec<ChurnTask>,
}

/// A cluster that keeps changing, and what the engine may hold because of it: tasks started,
/// killed, failed and replaced, LOSTs, unreachable episodes left to the timers, apps deleted and
/// created again, snapshots, and time passing every TTL.
struct Churn {
    engine: Engine,
    tally: Tally,
    now: Millis,
    apps: Vec<ChurnApp>,
    /// Ids of deleted apps, some of which are created again.
    deleted: Vec<String>,
    next_task: u32,
    next_app: u32,
    /// Instants at which tasks ended (their tombstones' start), newest last.
    ended: VecDeque<Millis>,
    /// Instants of app deletions, of unreachable episodes starting and of LOSTs.
    deletions: VecDeque<Millis>,
    unreachable_starts: VecDeque<Millis>,
    losts: VecDeque<Millis>,
    /// When the tasks of LOSTs left to their timeout end (the engine holds them until then).
    lingering: VecDeque<Millis>,
    /// The largest app bound so far.
    peak_apps: usize,
    max_apps: usize,
}

/// The most each part of the map may hold for a given history.
#[derive(Debug)]
struct Bound {
    tasks: usize,
    tombstones: usize,
    apps: usize,
    timers: usize,
}

impl Churn {
    fn new(apps: usize) -> Churn {
        let mut churn = Churn {
            engine: Engine::new(CHURN),
            tally: Tally::new(),
            now: T0,
            apps: Vec::new(),
            deleted: Vec::new(),
            next_task: 0,
            next_app: 0,
            ended: VecDeque::new(),
            deletions: VecDeque::new(),
            unreachable_starts: VecDeque::new(),
            losts: VecDeque::new(),
            lingering: VecDeque::new(),
            peak_apps: 0,
            max_apps: 2 * apps,
        };
        for i in 0..apps {
            churn.create_app(i as u16);
        }
        churn
    }

    fn task_ids(app: &str, n: u32) -> (String, String) {
        let safe = app.trim_start_matches('/').replace('/', "_");
        let instance = format!("{safe}.instance-{n:08x}-0890-11eb-9a3f-0242f5e1c6d2");
        (format!("{instance}._app.1"), instance)
    }

    fn status(&mut self, app: usize, n: u32, status: MesosState, reason: Option<&str>) {
        let app_id = self.apps[app].id.clone();
        let (id, instance) = Churn::task_ids(&app_id, n);
        let update = StatusUpdate {
            task: TaskRef {
                id: &id,
                instance: instance.as_str().into(),
                pod: false,
            },
            app: &app_id,
            status: Status::Known(status),
            message: "",
            reason,
            timestamp: self.now,
            host: None,
        };
        self.engine
            .apply(&Input::Status(update), self.now, &mut self.tally);
    }

    fn instance(&mut self, app: usize, n: u32, condition: Condition) {
        let app_id = self.apps[app].id.clone();
        let (_, instance) = Churn::task_ids(&app_id, n);
        let event = InstanceChanged {
            instance: instance.as_str().into(),
            app: &app_id,
            condition: Some(condition),
            timestamp: self.now,
        };
        self.engine
            .apply(&Input::InstanceChanged(event), self.now, &mut self.tally);
    }

    /// Ends the model's unreachable tasks whose expunge time has come (the engine's timers do).
    fn expire(&mut self) {
        let now = self.now;
        for app in &mut self.apps {
            app.tasks.retain(|t| match t.unreachable {
                Some((since, expunge_at)) if expunge_at <= now => {
                    // The engine may apply another strategy (an app whose entry retired while it
                    // was deleted uses the default until the next snapshot): it holds the task
                    // until `since + MAX_EXPUNGE` at the latest.
                    self.lingering.push_back(since + MAX_EXPUNGE);
                    false
                }
                _ => true,
            });
        }
        // Histories older than every window can go.
        let horizon = now - CHURN.tombstone_ttl - 2 * CHURN.app_retention - MAX_EXPUNGE;
        for log in [
            &mut self.ended,
            &mut self.deletions,
            &mut self.unreachable_starts,
            &mut self.losts,
            &mut self.lingering,
        ] {
            while log.front().is_some_and(|&t| t < horizon) {
                log.pop_front();
            }
        }
    }

    fn end_task(&mut self, app: usize, t: usize, status: MesosState, at: Millis) {
        let task = self.apps[app].tasks.swap_remove(t);
        self.status(app, task.n, status, None);
        self.ended.push_back(at);
    }

    fn launch(&mut self, app: usize) {
        if self.apps[app].tasks.len() >= TASKS_PER_APP {
            return;
        }
        self.next_task += 1;
        let n = self.next_task;
        self.apps[app].tasks.push(ChurnTask {
            n,
            unreachable: None,
        });
        self.status(app, n, MesosState::Staging, None);
        self.instance(app, n, Condition::Staging);
        self.status(app, n, MesosState::Running, None);
        self.instance(app, n, Condition::Running);
    }

    fn create_app(&mut self, pick: u16) {
        let id = if !self.deleted.is_empty() && pick.is_multiple_of(3) {
            self.deleted.swap_remove(pick as usize % self.deleted.len())
        } else {
            self.next_app += 1;
            format!("/churn/group-{}/app-{}", self.next_app % 5, self.next_app)
        };
        let inactive = Millis::from(pick % 11) * 1_000;
        let strategy =
            Strategy::enabled(inactive, inactive + 1_000 + Millis::from(pick % 60) * 1_000);
        let input = Input::AppDefinition {
            app: &id,
            strategy: Some(strategy),
            timestamp: self.now,
            instances: None,
            labels: None,
        };
        self.engine.apply(&input, self.now, &mut self.tally);
        self.apps.push(ChurnApp {
            id,
            strategy,
            tasks: Vec::new(),
        });
    }

    fn delete_app(&mut self, app: usize) {
        while let Some(task) = self.apps[app].tasks.pop() {
            self.status(app, task.n, MesosState::Killed, None);
            self.ended.push_back(self.now);
        }
        let input = Input::AppTerminated {
            app: &self.apps[app].id,
            timestamp: self.now,
        };
        self.engine.apply(&input, self.now, &mut self.tally);
        self.deletions.push_back(self.now);
        let gone = self.apps.swap_remove(app);
        self.deleted.push(gone.id);
    }

    fn snapshot(&mut self) {
        let mut tasks = SnapshotTasks::default();
        for app in &self.apps {
            for t in &app.tasks {
                let (id, instance) = Churn::task_ids(&app.id, t.n);
                let state = match t.unreachable {
                    Some(_) => MesosState::Unreachable,
                    None => MesosState::Running,
                };
                tasks.push(SnapshotTask {
                    id: &id,
                    instance: &instance,
                    app: &app.id,
                    state,
                    pod: false,
                    host: "",
                    health: None,
                });
            }
        }
        let apps = self
            .apps
            .iter()
            .map(|a| SnapshotApp {
                id: a.id.clone(),
                strategy: Some(a.strategy),
                instances: None,
                labels: None,
            })
            .collect();
        let snapshot = Snapshot {
            requested_at: self.now,
            answered_at: None,
            tasks,
            apps,
            pods: None,
            deployments: None,
        };
        self.engine
            .apply_snapshot(&snapshot, self.now, &mut self.tally);
    }

    /// One step of the churn: `action` picks what happens, `pick` where.
    fn step(&mut self, action: u8, pick: u16) {
        self.act(action, pick);
        self.expire();
    }

    fn act(&mut self, action: u8, pick: u16) {
        self.expire();
        if self.apps.is_empty() {
            self.create_app(pick);
            return;
        }
        let app = pick as usize % self.apps.len();
        let tasks = self.apps[app].tasks.len();
        let task = (tasks > 0).then(|| (pick as usize / 7) % tasks);
        match (action, task) {
            (0..=2, _) => self.launch(app),
            (3, Some(t)) => self.end_task(app, t, MesosState::Killed, self.now),
            (4, Some(t)) => {
                self.end_task(app, t, MesosState::Failed, self.now);
                self.launch(app);
            }
            (5, Some(t)) if self.apps[app].tasks[t].unreachable.is_none() => {
                let strategy = self.apps[app].strategy;
                let expunge = self.now + strategy.expunge_after.expect("enabled");
                self.apps[app].tasks[t].unreachable = Some((self.now, expunge));
                self.unreachable_starts.push_back(self.now);
                // The timers may end it any time up to `MAX_EXPUNGE` from now: its tombstone
                // counts from then, whether it comes back or not.
                self.ended.push_back(self.now + MAX_EXPUNGE);
                let n = self.apps[app].tasks[t].n;
                self.status(app, n, MesosState::Unreachable, None);
                self.instance(app, n, Condition::Unreachable);
            }
            (5, Some(t)) => {
                // The agent came back.
                self.apps[app].tasks[t].unreachable = None;
                let n = self.apps[app].tasks[t].n;
                self.status(app, n, MesosState::Running, None);
                self.instance(app, n, Condition::Running);
            }
            (6, Some(t)) => {
                let n = self.apps[app].tasks[t].n;
                let unreachable = self.apps[app].tasks[t].unreachable.is_some();
                self.losts.push_back(self.now);
                self.status(app, n, MesosState::Lost, None);
                if pick.is_multiple_of(2) {
                    self.apps[app].tasks.swap_remove(t);
                    self.instance(app, n, Condition::Gone);
                    self.ended.push_back(self.now);
                } else if !unreachable {
                    // Left to the resolve timeout, which ends it as gone.
                    self.apps[app].tasks.swap_remove(t);
                    let end = self.now + CHURN.lost_resolve_timeout;
                    self.lingering.push_back(end);
                    self.ended.push_back(end);
                }
                // An unreachable task left to the timeout stays unreachable, and listed.
            }
            (7, Some(t)) => {
                // A health repeat (or, for an unreachable task, its agent coming back).
                self.apps[app].tasks[t].unreachable = None;
                let n = self.apps[app].tasks[t].n;
                self.status(app, n, MesosState::Running, None);
            }
            // The number of apps wanders between 1 and 2 × the initial one.
            (8, _) if self.apps.len() > 1 => {
                self.delete_app(app);
                if !pick.is_multiple_of(4) {
                    self.create_app(pick);
                }
            }
            (8 | 9, _) if self.apps.len() < self.max_apps => self.create_app(pick),
            (9, _) => self.delete_app(app),
            (10, _) => self.snapshot(),
            (11, _) => {
                let input = Input::UnknownInstanceTerminated {
                    app: &self.apps[app].id,
                    timestamp: self.now,
                };
                self.engine.apply(&input, self.now, &mut self.tally);
                // An app with no task and no listing retires a retention after this: like a
                // deletion, it may hold a timer and, once retired and seen again, an entry.
                self.deletions.push_back(self.now);
            }
            _ => {
                // Time passes: at times far past every TTL.
                let before = self.now;
                self.now +=
                    Millis::from(pick % 2_000) * if action.is_multiple_of(2) { 10 } else { 100 };
                self.engine.tick(self.now, &mut self.tally);
                // Ends the timers do in this tick are applied at its `now`, and their tombstones
                // start there (RULES.md, Tombstones).
                for end in self.ended.iter_mut() {
                    if *end > before && *end <= self.now {
                        *end = self.now;
                    }
                }
            }
        }
    }

    fn live_tasks(&self) -> usize {
        self.apps.iter().map(|a| a.tasks.len()).sum()
    }

    fn within(log: &VecDeque<Millis>, after: Millis) -> usize {
        log.iter().filter(|&&t| t > after).count()
    }

    /// What the engine may hold now: the live tasks (plus LOSTs still in their window), tombstones
    /// of tasks ended within the TTL, live apps plus those deleted within twice the retention, and
    /// one timer per tombstone, per app deletion, per LOST and per unreachable episode still
    /// within its window.
    fn bound(&self) -> Bound {
        let now = self.now;
        let tasks = self.live_tasks() + Churn::within(&self.lingering, now);
        let tombstones = Churn::within(&self.ended, now - CHURN.tombstone_ttl);
        let deletions = Churn::within(&self.deletions, now - 2 * CHURN.app_retention);
        Bound {
            tasks,
            tombstones,
            apps: self.apps.len() + deletions,
            // A task the model no longer has may also wait for its removal after a snapshot.
            timers: tombstones
                + 2 * deletions
                + Churn::within(&self.losts, now - CHURN.lost_resolve_timeout)
                + 2 * Churn::within(&self.unreachable_starts, now - MAX_EXPUNGE)
                + Churn::within(&self.lingering, now - CHURN.removal_delay),
        }
    }

    fn check_bounded(&mut self) -> Result<(), TestCaseError> {
        let bound = self.bound();
        self.peak_apps = self.peak_apps.max(bound.apps);
        let engine = &self.engine;
        let (registry, allocated) = engine.apps.counts();
        let mut slots = 0;
        engine.reader().for_each_app(|_| slots += 1);
        prop_assert!(
            engine.tasks <= bound.tasks,
            "tasks {} > {:?}",
            engine.tasks,
            bound
        );
        prop_assert!(engine.instances.len() <= engine.tasks);
        prop_assert!(
            engine.tombstones.len() <= bound.tombstones,
            "tombstones {} > {:?}",
            engine.tombstones.len(),
            bound
        );
        prop_assert!(registry <= bound.apps, "apps {} > {:?}", registry, bound);
        prop_assert!(engine.apps.known() <= registry);
        prop_assert_eq!(slots, engine.apps.known(), "a label slot per known app");
        prop_assert!(
            engine.timers.len() <= bound.timers,
            "timers {} > {:?}",
            engine.timers.len(),
            bound
        );
        // Entries are reused: never more than the most apps there could be at once.
        prop_assert!(
            allocated <= self.peak_apps,
            "{} entries allocated",
            allocated
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_map_stays_bounded_by_the_live_population_under_churn(
        apps in 1usize..8,
        steps in proptest::collection::vec((0u8..16, any::<u16>()), 100..600),
    ) {
        let mut churn = Churn::new(apps);
        churn.check_bounded()?;
        for (action, pick) in steps {
            churn.step(action, pick);
            churn.check_bounded()?;
            check_invariants(&churn.engine, &churn.tally)?;
        }
    }
}

#[test]
fn endless_churn_plateaus() {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut churn = Churn::new(20);
    let mut peak_first = (0, 0, 0, 0);
    let mut peak_second = (0, 0, 0, 0);
    const STEPS: usize = 60_000;
    for i in 0..STEPS {
        churn.step(rng.u8(0..16), rng.u16(..));
        if let Err(e) = churn.check_bounded() {
            panic!("step {i}: {e}");
        }
        let e = &churn.engine;
        let sizes = (
            e.tasks,
            e.tombstones.len(),
            e.apps.counts().1,
            e.timers.len(),
        );
        let peak = if i < STEPS / 2 {
            &mut peak_first
        } else {
            &mut peak_second
        };
        *peak = (
            peak.0.max(sizes.0),
            peak.1.max(sizes.1),
            peak.2.max(sizes.2),
            peak.3.max(sizes.3),
        );
    }
    // Many TTLs and retentions went by.
    assert!(
        churn.now - T0 > 100 * CHURN.tombstone_ttl,
        "{}",
        churn.now - T0
    );
    // No part of the map kept growing: the second half peaks no higher than the first, give or
    // take the noise of the random population.
    let grew = |first: usize, second: usize| second > first + first / 2 + 10;
    assert!(
        !grew(peak_first.0, peak_second.0)
            && !grew(peak_first.1, peak_second.1)
            && !grew(peak_first.2, peak_second.2)
            && !grew(peak_first.3, peak_second.3),
        "first half {peak_first:?}, second half {peak_second:?}"
    );
}
