//! The vocabulary every layer shares: plans, changes, states, exec steps.

pub mod plan;

pub use plan::{Change, ExecStep, Plan, State};

/// The `format_version` of every JSON document the CLI prints (docs/json.md).
pub const FORMAT_VERSION: u32 = 1;
