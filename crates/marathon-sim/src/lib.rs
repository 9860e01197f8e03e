//! A simulated Marathon, for the exporter's `demo` and its tests.
//!
//! - [`fake`]: a Marathon server on loopback that speaks the real wire format (`/v2/events` as
//!   server-sent events, `/v2/tasks`, `/v2/apps`, `/v2/pods/::status`, `/v2/deployments`, the
//!   `X-Marathon-Leader` header, standby redirects, basic auth, DC/OS tokens and login, TLS), with
//!   its own clock; [`fake::payload`] builds the JSON Marathon sends.
//! - [`Scenario`]: a seeded cluster of apps, pods and agents whose timeline (deployments, crashes,
//!   health-check kills, agent partitions, scale-downs) loops forever, and which knows exactly
//!   what happened to every task ([`Truth`]): the ground truth the exporter is compared with.

mod catalog;
mod cluster;
pub mod fake;
mod incidents;
mod lifecycle;
mod operators;
mod pods;
mod scenario;
mod time;
mod truth;

pub use self::incidents::CYCLE;
pub use self::scenario::Scenario;
pub use self::time::{Millis, format_timestamp};
pub use self::truth::{ActiveTasks, Truth};
