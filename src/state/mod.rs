//! The pure rules engine of RULES.md: task states, transitions, timers, LOST resolution, snapshot
//! diffs. No I/O, no clock: `now` is passed in.

pub mod clock;
pub mod effects;
pub mod engine;
pub mod input;
pub mod snapshot;
pub mod store;
pub mod tally;
pub mod types;

pub use clock::MarathonClock;
pub use effects::{AgentSlot, AppSlot, Effects, Silent};
pub use engine::{Engine, LabelAllowlist, Settings, check_invariants};
pub use input::*;
pub use snapshot::{Snapshot, SnapshotApp, SnapshotDeployment, SnapshotTask, SnapshotTasks};
pub use store::{AgentView, AppInfo, AppLabels, AppView, Placement, Store, StoreReader};
pub use tally::Tally;
pub use types::*;
