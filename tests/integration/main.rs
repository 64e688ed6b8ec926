//! The integration test binary: every module runs the real `autonomy` binary against real
//! temp workspaces (one binary, so it compiles once).

mod common;
mod core;
mod diskfull;
mod failpoints;
mod fuzz;
mod hostile;
mod immutable;
mod killrollback;
mod race;
mod regressions;
mod tamper;
