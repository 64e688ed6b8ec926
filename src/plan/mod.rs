//! Plans: the plan file an actor writes, its compilation against the workspace into
//! per-path changes, and the stored plan whose digest is its id.

pub mod actions;
pub mod capture;
pub mod check;
pub mod compile;
pub mod exec_check;
pub mod file;
pub mod from_patch;
pub mod links;
pub mod op;
pub mod overlay;
pub mod patch;
pub mod read;
pub mod renames;
pub mod revert;
