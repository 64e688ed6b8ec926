//! Exec steps inside a run.
//!
//! 1. Snapshot: every file and folder the step can change, which is every path its
//!    `touches` match and everything under the folders its confinement opens for writing
//!    (its *reach*), with file contents in the blob store (reusing what the store already
//!    holds), journaled durably before the command starts. Only regular files are opened;
//!    a FIFO, socket, device or symlink that `touches` names stops the step before it runs.
//! 2. The command runs confined (Landlock per directory where the kernel has it) and is
//!    killed, with its process group, when the run is interrupted by a signal.
//! 3. The whole workspace is scanned before and after. Every path that changed is
//!    described as `before -> after` (the *observed* changes), which the run journals
//!    durably at once, so that recovery can tell the command's writes from anything else.
//!    A change outside `touches` fails the run; the changes inside become part of the
//!    run's record, so that rollback restores them.
//! 4. Undo ([`undo`]) decides path by path by what is there now, as for file changes:
//!    the observed `after` is put back to `before`, `before` is left alone, anything else
//!    stops with a conflict (exit 4) naming the path, unless told to overwrite (the current
//!    content is then kept in the store first). A path whose old content autonomy never
//!    had (outside the reach) is reported as not put back, never claimed.

//!
//! This file runs the command; `scan.rs` holds the scan, the reach and the snapshot,
//! `observe.rs` compares the scans, `undo.rs` puts a step back and `verify.rs` runs the
//! `[verify]` command.

mod observe;
mod scan;
mod undo;
mod verify;

pub use scan::snapshot;
pub use undo::{Undo, Undone, restore_tmp, undo, undo_list, unknown_after};
pub use verify::run_verify;

use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecOutcome, ExecSpec, ExitKind, Isolation, IsolationMode};
use crate::model::{Change, ExecStep, State};
use crate::paths::{Globs, RelPath, STATE_DIR};
use crate::policy::rules::Rules;
use crate::store::blobs::BlobStore;
use crate::workspace::Workspace;
use scan::{Seen, globs, scan, writable_dirs};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What one step did.
pub struct StepRun {
    pub metrics: serde_json::Value,
    pub output_blob: Option<String>,
    /// Every change autonomy can describe, declared or not, as `before -> after`: what the
    /// run journals at once and what undo reverses.
    pub observed: Vec<Change>,
    /// The changes inside `touches`: the step's record when the run commits.
    pub changes: Vec<Change>,
    /// Non-regular files (FIFOs, sockets, devices, symlinks) the command created, which
    /// undo removes without opening them.
    pub created_special: Vec<String>,
    /// Changed paths whose old state autonomy does not have (outside the snapshot).
    pub unrestorable: Vec<String>,
    /// Why the step failed, if it did (the command's status, an undeclared change, a
    /// denied path, an interrupt).
    pub failure: Option<Error>,
}

/// The policy files a command's globs cannot reach by name: kept out of its writable set.
fn policy_keep_out(rules: &Rules, globs: &Globs) -> Vec<String> {
    [crate::paths::RULES_FILE, rules.allowed_signers.as_str()]
        .into_iter()
        .filter(|p| !globs.covers(p))
        .map(str::to_string)
        .collect()
}

/// The command line to run: `run[0]` replaced by the absolute program recorded in the
/// plan (checked again: it must still be an executable outside the workspace).
fn argv_of(ws: &Workspace, step: &ExecStep) -> Result<Vec<String>> {
    let program = step.program.as_deref().ok_or_else(|| {
        Error::failed(format!(
            "exec {:?} has no recorded program (planned by an older autonomy)",
            step.run.first().map_or("", String::as_str)
        ))
        .hint("plan it again")
    })?;
    crate::plan::exec_check::check_program(program, &ws.root)?;
    let mut argv = step.run.clone();
    argv[0] = program.to_string();
    Ok(argv)
}

/// `PATH` for a child: the invoker's, without relative entries or entries in the workspace.
fn child_path(ws: &Workspace) -> (String, String) {
    let p = crate::plan::exec_check::child_path(std::env::var_os("PATH").as_deref(), &ws.root);
    ("PATH".into(), p.to_string_lossy().into_owned())
}

/// Private namespaces where the kernel allows them (else Landlock and the scan): the
/// workspace stays visible read-only wherever it lives, so do nested workspaces' state
/// folders even inside a writable folder, and the lock is out of reach.
fn isolation(ws: &Workspace, scan: &BTreeMap<String, Seen>) -> Isolation {
    let mut visible = vec![ws.root.clone()];
    for (rel, seen) in scan {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if matches!(seen, Seen::Dir { .. }) && name == STATE_DIR {
            visible.push(ws.root.join(rel));
        }
    }
    Isolation {
        mode: IsolationMode::Preferred,
        visible,
        masked: vec![ws.state_path().join("lock")],
    }
}

/// Run one step. `before` is its journaled snapshot; `cancel` is the run's interrupt flag
/// (the command's process group is killed when it is set). An `Err` means the command
/// did not run, or what it did could not be observed; otherwise the result says what it
/// changed and whether the step failed.
pub fn run_step(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    step: &ExecStep,
    before: &BTreeMap<String, State>,
    sink: &mut dyn Write,
    cancel: &AtomicBool,
) -> Result<StepRun> {
    crate::plan::exec_check::check_step(rules, step, &ws.root)?;
    let scan_before = scan(&ws.root)?;
    let g = globs(step, &scan_before)?;
    let tmp = tempfile::Builder::new()
        .prefix("autonomy-exec-")
        .tempdir()
        .map_err(|e| Error::io("creating a temp folder", e))?;
    let spec = step_spec(ws, rules, step, &g, &scan_before, tmp.path())?;
    let shown = shell_words::join(&step.run);
    let outcome = crate::exec::run_cancellable(&spec, sink, cancel)
        .map_err(|e| Error::failed(format!("exec `{shown}`: {e}")))?;
    let output_blob = if outcome.kept_output.is_empty() {
        None
    } else {
        Some(blobs.put(&outcome.kept_output)?)
    };
    let metrics = step_metrics(step, &outcome, &output_blob);
    let status_err = if cancel.load(Ordering::Relaxed) {
        Some(Error::failed(format!(
            "exec {shown:?} was stopped: the run was interrupted by a signal (its process group was killed)"
        )))
    } else {
        match outcome.status {
            ExitKind::Exited(0) => None,
            other => Some(Error::failed(format!(
                "exec {shown:?} failed ({})",
                crate::exec::describe(other)
            ))),
        }
    };
    let scan_after = scan(&ws.root)?;
    let scans = (&scan_before, &scan_after);
    let mut run = observe::observe(ws, blobs, rules, step, &g, before, scans)?;
    run.metrics = metrics;
    run.output_blob = output_blob;
    // The command's own failure comes first; an undeclared change is named either way.
    run.failure = match (status_err, run.failure.take()) {
        (Some(a), Some(b)) => Some(Error::failed(format!("{}\n{}", a.message, b.message))),
        (a, b) => a.or(b),
    };
    Ok(run)
}

/// How step's command runs: its environment (`PATH` cleaned, `TMPDIR` its own), its
/// folder, and its confinement to what `touches` opens and `tmp`.
fn step_spec(
    ws: &Workspace,
    rules: &Rules,
    step: &ExecStep,
    g: &Globs,
    scan_before: &BTreeMap<String, Seen>,
    tmp: &Path,
) -> Result<ExecSpec> {
    let isolation = isolation(ws, scan_before);
    let mut writable = writable_dirs(&ws.root, g, scan_before, &policy_keep_out(rules, g));
    writable.push(tmp.to_path_buf());
    let mut env: Vec<(String, String)> = step
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(child_path(ws));
    if !step.env.contains_key("TMPDIR") {
        env.push(("TMPDIR".into(), tmp.display().to_string()));
    }
    let cwd = if step.cwd.is_empty() {
        ws.root.clone()
    } else {
        // A real folder inside the workspace, with no symlink on the way.
        let rel = RelPath::parse(&step.cwd)?;
        ws.open_dir(Some(&rel)).map_err(|e| {
            Error::failed(format!(
                "exec cwd {rel} is not a folder inside the workspace: {}",
                e.message
            ))
        })?;
        ws.root.join(rel.as_str())
    };
    Ok(ExecSpec {
        argv: argv_of(ws, step)?,
        cwd,
        env,
        timeout: Duration::from_millis(step.timeout_ms),
        max_output_bytes: rules.exec_max_output()?,
        memory_limit: rules.exec_memory_limit()?,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: false,
        isolation,
        // A plan's commands reach no service, local or remote (DESIGN: they change
        // declared files only).
        network: crate::exec::Network::None,
    })
}

/// A step's metrics: argv, exit, wall/user/sys ms, peak RSS, output.
fn step_metrics(
    step: &ExecStep,
    outcome: &ExecOutcome,
    output_blob: &Option<String>,
) -> serde_json::Value {
    serde_json::json!({
        "argv": step.run,
        "exit": match outcome.status { ExitKind::Exited(c) => serde_json::json!(c), ExitKind::Signaled(s) => serde_json::json!(format!("signal {s}")), ExitKind::TimedOut => serde_json::json!("timeout") },
        "wall_ms": outcome.wall.as_millis() as u64,
        "user_ms": outcome.user_cpu.as_millis() as u64,
        "sys_ms": outcome.sys_cpu.as_millis() as u64,
        "max_rss_kib": outcome.max_rss_kib,
        "output_bytes": outcome.total_output_bytes,
        "output_truncated": outcome.output_truncated,
        "output_blob": output_blob,
        "confined": outcome.confined,
        "isolated": outcome.isolated,
    })
}
