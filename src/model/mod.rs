//! The vocabulary every layer shares: plans, changes, states, exec steps, plan ids, the
//! states plans and runs go through, and the journal's event kinds.

pub mod content;
pub mod event;
pub mod id;
pub mod plan;
pub mod status;

pub use content::Fetched;
pub use event::EventKind;
pub use id::PlanId;
pub use plan::{Change, ExecStep, Plan, State};
pub use status::{PlanStatus, RunKind, RunState};

/// The `format_version` of every JSON document the CLI prints (docs/json.md).
pub const FORMAT_VERSION: u32 = 1;
