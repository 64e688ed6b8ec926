//! One run: write the intent durably, take every step (printing each), and either commit
//! (keeping the old contents as the snapshot) or put every touched path back.

use super::fsops::{StepCtx, backup_dir_path};
use super::{Reporter, execution_order, failpoint};
use crate::error::{Error, Kind, Result};
use crate::plan::{Plan, State};
use crate::store::blobs::BlobStore;
use crate::store::journal::{Journal, append_event};
use crate::workspace::Workspace;
use rusqlite::{OptionalExtension, params};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Whether a run applies a plan or reverses an earlier one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Apply,
    Rollback,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Apply => "apply",
            RunKind::Rollback => "rollback",
        }
    }
}

/// What a committed run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunOutcome {
    pub run: i64,
    pub files_changed: usize,
    pub bytes_written: u64,
    pub duration_ms: u64,
}

/// Paths whose current state differs from the plan's `before`, with what is there now.
pub fn drift(ws: &Workspace, plan: &Plan) -> Result<Vec<(String, State)>> {
    let mut out = Vec::new();
    for c in &plan.changes {
        let rel = c.rel()?;
        let now = ws.state(&rel)?;
        if now != c.before {
            out.push((c.path.clone(), now));
        }
    }
    Ok(out)
}

/// The drift error (exit 4) naming every drifted path.
pub fn drift_error(plan_short: &str, drifted: &[(String, State)]) -> Error {
    let list: Vec<String> = drifted.iter().map(|(p, _)| format!("  {p}")).collect();
    Error::stale(format!(
        "plan {plan_short} no longer matches the workspace; {} path(s) changed since it was planned:\n{}",
        drifted.len(),
        list.join("\n")
    ))
    .hint("nothing was changed; make a new plan against the current files")
}

/// A run left `running` by a process that is gone (the caller holds the lock).
pub fn interrupted(journal: &Journal) -> Result<Option<(i64, String)>> {
    Ok(journal
        .conn
        .query_row(
            "SELECT id, plan FROM runs WHERE state = 'running' ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

pub fn interrupted_error(run: i64, plan: &str) -> Error {
    Error::new(
        Kind::Interrupted,
        format!(
            "run {run} of plan {} was interrupted and the workspace may be half-changed",
            &plan[..12.min(plan.len())]
        ),
    )
    .hint("run `autonomy recover` to put every path back, then try again")
}

static STOP: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// SIGINT, SIGTERM and SIGHUP during a run stop it at the next step and undo it.
fn stop_flag() -> Arc<AtomicBool> {
    STOP.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ] {
            let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
        }
        flag
    })
    .clone()
}

/// Execute `plan` as a run. The caller holds the lock and has checked interruption,
/// approvals and drift. `consume` are approval rows to mark used when the run commits.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    ws: &Workspace,
    journal: &mut Journal,
    blobs: &BlobStore,
    actor: &str,
    plan_id: &str,
    plan: &Plan,
    kind: RunKind,
    consume: &[i64],
    reporter: &mut dyn Reporter,
) -> Result<RunOutcome> {
    let stop = stop_flag();
    let started = Instant::now();
    let rules = journal.rules_digest.clone();
    let order = execution_order(&plan.changes);
    // 4. The intent, durably, before anything is touched.
    let run = journal.write(|tx| {
        tx.execute(
            "INSERT INTO runs (plan, kind, state, started) VALUES (?1, ?2, 'running', ?3)",
            params![plan_id, kind.as_str(), crate::ids::now_string()],
        )?;
        let run = tx.last_insert_rowid();
        append_event(
            tx,
            &rules,
            actor,
            "run.started",
            Some(plan_id),
            &json!({ "run": run, "kind": kind.as_str(), "changes": plan.changes.len() }),
        )?;
        Ok(run)
    })?;
    failpoint("run.after_intent");
    let mut ctx = StepCtx::new(ws, blobs, run)?;
    let mut done: Vec<usize> = Vec::new();
    let mut failure: Option<Error> = None;
    for (n, &i) in order.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            failure = Some(Error::failed("the run was interrupted by a signal"));
            break;
        }
        reporter.step(n, order.len(), &plan.changes[i]);
        match ctx.forward(i, &plan.changes[i]) {
            Ok(()) => done.push(i),
            Err(e) => {
                // The failing step may have half-happened (a temp file); undo looks at it too.
                done.push(i);
                failure = Some(e);
                break;
            }
        }
    }
    if failure.is_none() && stop.load(Ordering::Relaxed) {
        failure = Some(Error::failed("the run was interrupted by a signal"));
    }
    reporter.finish();
    if let Some(err) = failure {
        return Err(undo_failed_run(
            &mut ctx, journal, actor, plan_id, plan, run, &done, err, reporter, started,
        ));
    }
    // 6. Success: the kept old files become the snapshot, then the run commits.
    failpoint("run.before_snapshot");
    for &i in &order {
        let c = &plan.changes[i];
        if let Some(hash) = c.before.file_hash()
            && c.before.file_hash() != c.after.file_hash()
        {
            let backup = backup_dir_path(ws, run).join(i.to_string());
            if backup.exists() {
                blobs.adopt(&backup, hash)?;
            } else if !blobs.contains(hash) {
                return Err(Error::failed(format!(
                    "the snapshot of {} is missing",
                    c.path
                )));
            }
        }
    }
    failpoint("run.after_snapshot");
    let duration_ms = started.elapsed().as_millis() as u64;
    let outcome = RunOutcome {
        run,
        files_changed: order.len(),
        bytes_written: ctx.bytes_written,
        duration_ms,
    };
    journal.write(|tx| {
        tx.execute(
            "UPDATE runs SET state = 'committed', finished = ?2, duration_ms = ?3, metrics = ?4 WHERE id = ?1",
            params![run, crate::ids::now_string(), duration_ms as i64, serde_json::to_string(&outcome).unwrap_or_default()],
        )?;
        tx.execute("UPDATE plans SET status = 'applied' WHERE id = ?1", [plan_id])?;
        if let Some(orig) = &plan.reverses {
            tx.execute("UPDATE plans SET status = 'rolled_back' WHERE id = ?1", [orig])?;
        }
        for id in consume {
            tx.execute("UPDATE approvals SET consumed_by = ?2 WHERE id = ?1", params![id, run])?;
        }
        for &i in &order {
            let c = &plan.changes[i];
            append_event(
                tx,
                &rules,
                actor,
                "run.step",
                Some(plan_id),
                &json!({ "run": run, "path": c.path, "action": c.verb(), "before": c.before, "after": c.after }),
            )?;
        }
        append_event(
            tx,
            &rules,
            actor,
            "run.committed",
            Some(plan_id),
            &json!({
                "run": run, "kind": kind.as_str(), "duration_ms": duration_ms,
                "files_changed": outcome.files_changed, "bytes_written": outcome.bytes_written,
                "reverses": plan.reverses,
            }),
        )?;
        Ok(())
    })?;
    let _ = std::fs::remove_dir_all(backup_dir_path(ws, run));
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
fn undo_failed_run(
    ctx: &mut StepCtx,
    journal: &mut Journal,
    actor: &str,
    plan_id: &str,
    plan: &Plan,
    run: i64,
    done: &[usize],
    err: Error,
    reporter: &mut dyn Reporter,
    started: Instant,
) -> Error {
    let mut undone = Vec::new();
    for &i in done.iter().rev() {
        let c = &plan.changes[i];
        match ctx.backward(i, c) {
            Ok(true) => {
                reporter.undo(c);
                undone.push(c.path.clone());
            }
            Ok(false) => {}
            Err(undo_err) => {
                // The workspace is half-changed and we cannot fix it here: leave the run
                // marked running so that every command sends the user to `recover`.
                return Error::new(
                    Kind::Interrupted,
                    format!(
                        "{}\nthen putting things back failed too: {}",
                        err.message, undo_err.message
                    ),
                )
                .hint("run `autonomy recover` once the cause is fixed");
            }
        }
    }
    let rules = journal.rules_digest.clone();
    let duration_ms = started.elapsed().as_millis() as i64;
    let recorded = journal.write(|tx| {
        tx.execute(
            "UPDATE runs SET state = 'failed', finished = ?2, duration_ms = ?3, error = ?4 WHERE id = ?1",
            params![run, crate::ids::now_string(), duration_ms, err.message],
        )?;
        append_event(
            tx,
            &rules,
            actor,
            "run.failed",
            Some(plan_id),
            &json!({ "run": run, "error": err.message, "undone": undone, "duration_ms": duration_ms }),
        )?;
        Ok(())
    });
    let _ = std::fs::remove_dir_all(backup_dir_path(ctx.ws, run));
    if let Err(e) = recorded {
        return Error::new(
            err.kind,
            format!(
                "{}\n(every path was put back, but recording the failure failed: {})",
                err.message, e.message
            ),
        );
    }
    // A stale path (4) and a damaged blob store (7) keep their own exit codes.
    let kind = match err.kind {
        Kind::Stale | Kind::Integrity => err.kind,
        _ => Kind::Failed,
    };
    let mut out = Error::new(
        kind,
        format!(
            "{}\nthe run failed; every path was put back as it was",
            err.message
        ),
    );
    out.hint = err
        .hint
        .or(Some("fix the cause and apply the same plan again".into()));
    out
}
