//! marathon-task-exporter: follows Marathon's event stream and exports task lifecycle metrics.

pub mod sse;
pub mod state;
