//! Plans: the plan file an actor writes, its compilation against the workspace into
//! per-path changes, and the stored plan whose digest is its id.

pub mod check;
pub mod compile;
pub mod exec_check;
pub mod file;
pub mod from_patch;
pub mod model;
pub mod patch;

pub use model::{Change, ExecStep, Plan, State};
