//! The run engine. Apply, rollback and recovery are one mechanism: a run moves every path
//! of a plan from its `before` to its `after` (or back), all or nothing, also across
//! `kill -9`. See `docs/architecture.md` for the sequence and its invariants.
//!
//! - `run.rs`: [`run::execute`] and the `Run` it drives (begin, forward, exec, verify,
//!   commit or fail), with the run's journal writes;
//! - `forward.rs`: every step forward; `fsops.rs`: the file-system primitives and
//!   putting one path back;
//! - `exec_step.rs` (and `exec_step/`): exec steps and the verify command;
//! - `undo.rs`: putting a run back, for a failed run and for `recover.rs` alike;
//! - `reserve.rs`: the room set aside for a run's end.

pub mod admit;
pub mod exec_step;
pub mod forward;
pub mod fsops;
mod landed;
pub mod recover;
pub mod reserve;
pub mod run;
mod undo;

use crate::model::Change;

/// Hears about each step as it happens, so that nothing runs silently.
pub trait Reporter {
    fn step(&mut self, index: usize, total: usize, change: &Change);
    fn undo(&mut self, change: &Change);
    fn finish(&mut self) {}
    /// An exec (or verify) command is about to run.
    fn command(&mut self, _what: &str, _argv: &[String]) {}
    /// Where a command's output streams (no silent execution); nowhere by default.
    fn output(&mut self) -> Box<dyn std::io::Write> {
        Box::new(std::io::sink())
    }
}

/// A reporter that says nothing (library callers and tests).
pub struct Quiet;
impl Reporter for Quiet {
    fn step(&mut self, _: usize, _: usize, _: &Change) {}
    fn undo(&mut self, _: &Change) {}
}

/// The order steps run in: new folders and folder mode changes that take no access away
/// from the owner, outermost first; then files in plan order; then removed folders and the
/// folder mode changes that take owner access away, innermost first (so that the run can
/// still write below a folder it opens up or closes). Undo runs the same list backwards.
pub fn execution_order(changes: &[Change]) -> Vec<usize> {
    let depth = |c: &Change| c.path.matches('/').count();
    // A folder mode change that removes owner read, write or search permission.
    let closes = |c: &Change| match (c.before.perm(), c.after.perm()) {
        (Some(a), Some(b)) if c.before.is_dir() && c.after.is_dir() => a & !b & 0o700 != 0,
        _ => false,
    };
    let mut mk: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].after.is_dir() && !closes(&changes[i]))
        .collect();
    mk.sort_by_key(|&i| (depth(&changes[i]), i));
    let files =
        (0..changes.len()).filter(|&i| !changes[i].after.is_dir() && !changes[i].before.is_dir());
    let mut rm: Vec<usize> = (0..changes.len())
        .filter(|&i| {
            changes[i].before.is_dir() && (!changes[i].after.is_dir() || closes(&changes[i]))
        })
        .collect();
    rm.sort_by_key(|&i| (std::cmp::Reverse(depth(&changes[i])), i));
    mk.into_iter().chain(files).chain(rm).collect()
}

/// Test-only fault injection: `AUTONOMY_FAILPOINT=name` aborts the process (a real
/// `abort()`, no unwinding) when the engine reaches that point; `name:N` on the N-th time.
/// Compiled in only with the `failpoints` feature, so release builds carry no such switch.
#[cfg(feature = "failpoints")]
pub fn failpoint(name: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static HITS: AtomicU64 = AtomicU64::new(0);
    if let Ok(spec) = std::env::var("AUTONOMY_FAILPOINT") {
        let (point, nth) = match spec.split_once(':') {
            Some((p, n)) => (p.to_string(), n.parse::<u64>().unwrap_or(1)),
            None => (spec.clone(), 1),
        };
        if point == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth {
            std::process::abort();
        }
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn failpoint(_name: &str) {}

/// Test-only pause: `AUTONOMY_PAUSEPOINT=name:FILE` makes the engine, on reaching that
/// point, create `FILE.reached` and wait (at most 60 s) until `FILE.go` exists, so that a
/// test can act at that instant (a write racing a run). Only with the `failpoints`
/// feature.
#[cfg(feature = "failpoints")]
pub fn pause_point(name: &str) {
    let Ok(spec) = std::env::var("AUTONOMY_PAUSEPOINT") else {
        return;
    };
    let Some((point, file)) = spec.split_once(':') else {
        return;
    };
    if point != name {
        return;
    }
    let _ = std::fs::write(format!("{file}.reached"), b"");
    let go = std::path::PathBuf::from(format!("{file}.go"));
    let start = std::time::Instant::now();
    while !go.exists() && start.elapsed() < std::time::Duration::from_secs(60) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn pause_point(_name: &str) {}

/// The named failpoints, for the tests that abort at each.
pub const FAILPOINTS: &[&str] = &[
    "run.after_intent",
    "step.after_temp",
    "step.after_backup",
    "step.after_rename",
    "run.before_snapshot",
    "run.after_snapshot",
    "undo.after_step",
    "recover.after_step",
    "exec.after_snapshot",
    "exec.after_observed",
];
