//! Property tests: the invariants at the end of RULES.md hold after every input of random histories.

use proptest::prelude::{
    ProptestConfig, TestCaseError, any, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as _;

use super::*;
use crate::state::Tally;
use crate::state::types::{Snapshot, SnapshotApp, SnapshotTask};

const T0: Millis = 1_602_061_982_771;
const APPS: [&str; 3] = ["/a", "/b/c", "/d"];
const STATUSES: [&str; 15] = [
    "TASK_STAGING",
    "TASK_STARTING",
    "TASK_RUNNING",
    "TASK_KILLING",
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_ERROR",
    "TASK_LOST",
    "TASK_DROPPED",
    "TASK_UNREACHABLE",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
    "TASK_UNKNOWN",
    "TASK_BOGUS",
];
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
    /// tasks listed, each with a snapshot state; request time offset (<= 0)
    Snapshot(Vec<(u8, usize)>, i64),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    let task = 0u8..8;
    prop_oneof![
        6 => (task.clone(), 0..STATUSES.len(), -3_000i64..3_000, 0..REASONS.len(), any::<bool>())
            .prop_map(|(t, s, d, r, m)| Op::Status(t, s, d, r, m)),
        3 => (task.clone(), 0..CONDITIONS.len(), -3_000i64..3_000).prop_map(|(t, c, d)| Op::Instance(t, c, d)),
        3 => (0i64..400_000).prop_map(Op::Advance),
        1 => (0..APPS.len(), proptest::option::of((0i64..120_000, 0i64..300_000)))
            .prop_map(|(a, s)| Op::Strategy(a, s.map(|(i, e)| (i, i + e)))),
        1 => (0..APPS.len()).prop_map(Op::AppTerminated),
        1 => (0..APPS.len()).prop_map(Op::UnknownTerminated),
        1 => (proptest::collection::vec((task, 0..5usize), 0..8), -5_000i64..=0)
            .prop_map(|(t, d)| Op::Snapshot(t, d)),
    ]
}

fn ids(task: u8) -> (String, String, &'static str) {
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
    /// Applies `op`; returns the input it applied, if it can be applied again.
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Status(task, status, offset, reason, message) => {
                let (id, instance, app) = ids(*task);
                let status = STATUSES[*status];
                let message = if *message {
                    "Reconciliation: Task is unknown to the master"
                } else {
                    ""
                };
                let update = StatusUpdate {
                    task: TaskRef {
                        id: &id,
                        instance: instance.as_str().into(),
                        pod: false,
                    },
                    app,
                    status: MesosState::parse(status).map_or(Status::Other(status), Status::Known),
                    message,
                    reason: REASONS[*reason],
                    timestamp: self.now + offset,
                };
                let now = self.now.max(self.now + offset);
                self.now = now;
                self.engine
                    .apply(&Input::Status(update), now, &mut self.tally);
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
                self.engine
                    .apply(&Input::InstanceChanged(event), self.now, &mut self.tally);
            }
            Op::Advance(ms) => {
                self.now += ms;
                self.engine.tick(self.now, &mut self.tally);
            }
            Op::Strategy(app, strategy) => {
                let input = Input::AppDefinition {
                    app: APPS[*app],
                    strategy: strategy.map(|(i, e)| Strategy::enabled(i, e)),
                    timestamp: self.now,
                };
                self.engine.apply(&input, self.now, &mut self.tally);
            }
            Op::AppTerminated(app) => {
                let input = Input::AppTerminated {
                    app: APPS[*app],
                    timestamp: self.now,
                };
                self.engine.apply(&input, self.now, &mut self.tally);
            }
            Op::UnknownTerminated(app) => {
                let input = Input::UnknownInstanceTerminated {
                    app: APPS[*app],
                    timestamp: self.now,
                };
                self.engine.apply(&input, self.now, &mut self.tally);
            }
            Op::Snapshot(tasks, offset) => {
                let states = [
                    "TASK_STAGING",
                    "TASK_RUNNING",
                    "TASK_UNREACHABLE",
                    "TASK_KILLING",
                    "TASK_FAILED",
                ];
                let mut listed: Vec<SnapshotTask> = Vec::new();
                for (task, state) in tasks {
                    let (id, instance, app) = ids(*task);
                    if listed.iter().any(|t| t.id == id) {
                        continue;
                    }
                    listed.push(SnapshotTask {
                        id,
                        instance,
                        app: app.into(),
                        state: MesosState::parse(states[*state]).expect("valid"),
                    });
                }
                let snapshot = Snapshot {
                    requested_at: self.now + offset,
                    tasks: listed,
                    apps: APPS
                        .iter()
                        .map(|a| SnapshotApp {
                            id: (*a).into(),
                            strategy: None,
                        })
                        .collect(),
                };
                self.engine
                    .apply_snapshot(&snapshot, self.now, &mut self.tally);
            }
        }
    }

    fn check_invariants(&self) -> Result<(), TestCaseError> {
        let reader = self.engine.reader();
        let mut sum = 0;
        reader.for_each_app(|app| {
            for n in app.tasks {
                assert!(n >= 0, "negative gauge in {app:?}");
                sum += n;
            }
        });
        prop_assert_eq!(
            sum,
            reader.tracked(),
            "sum of marathon_app_tasks equals tracked tasks"
        );
        let tracked = self
            .engine
            .instances
            .iter()
            .filter(|(_, t)| t.state.is_some())
            .count();
        prop_assert_eq!(reader.tracked(), tracked as i64);

        let terminal: Vec<&str> = TerminalState::ALL.iter().map(|t| t.label()).collect();
        for app in APPS.iter().chain(std::iter::once(&"__other__")) {
            let into_terminal: u64 = self
                .tally
                .transitions
                .iter()
                .filter(|((a, _, to), _)| a == app && terminal.contains(to))
                .map(|(_, n)| n)
                .sum();
            let expunged: u64 = self
                .tally
                .expunges
                .iter()
                .filter(|((a, reason), _)| a == app && *reason != "unobserved")
                .map(|(_, n)| n)
                .sum();
            prop_assert_eq!(
                into_terminal,
                expunged,
                "expunges match terminal transitions for {}",
                app
            );
            let episodes_ended: u64 = self
                .tally
                .transitions
                .iter()
                .filter(|((a, from, to), _)| {
                    a == app
                        && (*from == "unreachable" || *from == "unreachable_inactive")
                        && *to != "unreachable"
                        && *to != "unreachable_inactive"
                })
                .map(|(_, n)| n)
                .sum();
            let observed = self
                .tally
                .unreachable_durations
                .get(*app)
                .map_or(0, |v| v.len() as u64);
            prop_assert_eq!(
                episodes_ended,
                observed,
                "time unreachable observed once per ended episode"
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold_after_every_input(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World { engine: Engine::new(Settings::default()), tally: Tally::new(), now: T0 };
        for op in &ops {
            let before = world.tally.clone();
            world.apply(op);
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
        let mut world = World { engine: Engine::new(Settings::default()), tally: Tally::new(), now: T0 };
        for op in &ops {
            world.apply(op);
            let repeatable = matches!(op, Op::Status(..) | Op::Instance(..) | Op::Snapshot(..) | Op::Strategy(..));
            if repeatable {
                // Same input, same `now`: offsets are relative, so pin time for the repeat.
                let pinned = match op {
                    Op::Status(t, s, _, r, m) => Op::Status(*t, *s, 0, *r, *m),
                    Op::Instance(t, c, _) => Op::Instance(*t, *c, 0),
                    other => other.clone(),
                };
                world.apply(&pinned);
                let rules = world.tally.rule_total();
                let corrections: u64 = world.tally.corrections.values().sum();
                world.apply(&pinned);
                prop_assert_eq!(world.tally.rule_total(), rules, "{:?} counted twice", pinned);
                let again: u64 = world.tally.corrections.values().sum();
                prop_assert_eq!(again, corrections);
            }
            world.check_invariants()?;
        }
    }
}
