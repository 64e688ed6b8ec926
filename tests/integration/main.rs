//! The integration test binary: every module runs the real `autonomy` binary against real
//! temp workspaces (one binary, so it compiles once).

mod agents;
mod badinput;
mod common;
mod completion;
mod core;
mod crash;
mod diskfull;
mod everyday;
mod exec;
mod failpoints;
mod frontdoors;
mod fuzz;
mod gate;
mod generated;
mod hashcache;
mod help;
mod hostile;
mod hostile_attack;
mod hostile_confine;
mod hostile_engine;
mod hostile_paths;
mod hostile_state;
mod immutable;
mod killrollback;
mod output;
mod phase5;
mod prompt;
mod props;
mod race;
mod readme;
mod regressions;
mod signed;
mod snapshot;
mod tamper;
