//! The integration test binary: every module runs the real `autonomy` binary against real
//! temp workspaces (one binary, so it compiles once).

mod badinput;
mod common;
mod completion;
mod core;
mod crash;
mod exec;
mod generated;
mod help;
mod output;
mod phase5;
mod prompt;
mod props;
mod readme;
mod signed;
mod snapshot;
