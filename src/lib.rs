//! `autonomy` makes autonomous changes safe: an actor proposes a plan, a person previews
//! the exact diff and approves it, the run engine applies it atomically with snapshots,
//! any applied plan can be rolled back, and a hash-chained journal records everything.
//!
//! Library modules never print; only `cli` and `render` talk to the terminal, and the
//! print macros only in `cli::ui`, the output owner (the lints below, denied in CI).
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod agents;
pub mod cli;
pub mod engine;
pub mod error;
pub mod exec;
pub mod model;
pub mod ops;
pub mod paths;
pub mod plan;
pub mod policy;
pub mod render;
pub mod store;
pub mod util;
pub mod view;
pub mod workspace;

pub use error::{Error, Kind, Result};

/// The layers, bottom to top: a module names (`crate::x`) only modules before it here.
/// `tests/integration/layers.rs` holds the code to it; docs/architecture.md draws it.
#[doc(hidden)]
pub const LAYERS: [&str; 15] = [
    "error",
    "util",
    "paths",
    "model",
    "workspace",
    "store",
    "exec",
    "view",
    "policy",
    "plan",
    "agents",
    "engine",
    "ops",
    "render",
    "cli",
];
