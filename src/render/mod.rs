//! Everything that reaches the terminal: colours, diffs, previews, logs, tables, the pager.
//! Data goes to stdout, human messages to stderr; JSON documents carry a format version.

pub mod color;
pub mod diff;
pub mod log;
pub mod pager;
pub mod preview;
pub mod stats;
pub mod status;
pub mod termsafe;

/// The version of every JSON document we print; additive changes keep it.
pub const FORMAT_VERSION: u32 = 1;
