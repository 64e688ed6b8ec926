//! `autonomy` makes autonomous changes safe: an actor proposes a plan, a person previews
//! the exact diff and approves it, the run engine applies it atomically with snapshots,
//! any applied plan can be rolled back, and a hash-chained journal records everything.
//!
//! Library modules never print; only `cli` and `render` talk to the terminal.

pub mod agents;
pub mod approval;
pub mod bundle;
pub mod capture;
pub mod cli;
pub mod engine;
pub mod error;
pub mod exec;
pub mod hash;
pub mod identity;
pub mod ids;
pub mod par;
pub mod paths;
pub mod plan;
pub mod render;
pub mod revert;
pub mod risk;
pub mod rules;
pub mod sandbox;
pub mod session;
pub mod stats;
pub mod store;
pub mod suggest;
pub mod text;
pub mod workspace;

pub use error::{Error, Kind, Result};
