//! One run: write the intent durably, take every step (printing each), and either commit
//! (keeping the old contents as the snapshot) or put every touched path back.

use super::fsops::{StepCtx, backup_dir_path};
use super::{Reporter, exec_step, execution_order, failpoint};
use crate::error::{Error, Kind, Result};
use crate::plan::{Change, Plan, State};
use crate::store::blobs::BlobStore;
use crate::store::journal::{Journal, append_event};
use crate::workspace::Workspace;
use rusqlite::{OptionalExtension, params};
use serde_json::json;
use std::collections::BTreeMap;
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
    /// Per exec step: argv, exit, wall/user/sys ms, peak RSS, output.
    pub exec: Vec<serde_json::Value>,
    /// The verify command's metrics, when the rules have one.
    pub verify: Option<serde_json::Value>,
}

/// Snapshot an exec step's `touches` and journal it durably before the command runs.
fn exec_snapshot(
    ws: &Workspace,
    journal: &mut Journal,
    blobs: &BlobStore,
    run: i64,
    k: usize,
    step: &crate::plan::ExecStep,
) -> Result<BTreeMap<String, State>> {
    let before = exec_step::snapshot(ws, blobs, step)?;
    journal.write(|tx| {
        // A marker row even for an empty snapshot: recovery must know the step began.
        tx.execute(
            "INSERT OR REPLACE INTO run_exec (run, step, path, before) VALUES (?1, ?2, '', 'null')",
            params![run, k as i64],
        )?;
        for (p, st) in &before {
            tx.execute(
                "INSERT OR REPLACE INTO run_exec (run, step, path, before) VALUES (?1, ?2, ?3, ?4)",
                params![
                    run,
                    k as i64,
                    p,
                    serde_json::to_string(st).unwrap_or_default()
                ],
            )?;
        }
        Ok(())
    })?;
    Ok(before)
}

/// Paths whose current state differs from the plan's `before`, with what is there now.
/// Files are hashed on every core, unless provably unchanged since they were last hashed
/// (see `Workspace::recheck`).
pub fn drift(ws: &Workspace, plan: &Plan) -> Result<Vec<(String, State)>> {
    let rels = plan
        .changes
        .iter()
        .map(|c| c.rel())
        .collect::<Result<Vec<_>>>()?;
    let states = ws.rechecks(&rels);
    ws.save_hashes();
    let mut out = Vec::new();
    for (c, now) in plan.changes.iter().zip(states) {
        let now = now?;
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
        "plan {plan_short} no longer matches the workspace; {} changed since it was planned:\n{}",
        crate::text::count(drifted.len() as u64, "path"),
        list.join("\n")
    ))
    .hint("nothing was changed; make a new plan against the current files")
}

/// A run left `running` by a process that is gone (the caller holds the lock). A row
/// marked running whose events say it ended is an integrity error (exit 7): recovering it
/// would undo a committed run without an approval.
pub fn interrupted(journal: &Journal) -> Result<Option<(i64, String)>> {
    let found: Option<(i64, String)> = journal
        .conn
        .query_row(
            "SELECT id, plan FROM runs WHERE state = 'running' ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((run, plan)) = &found {
        crate::store::derived::check_running_row(&journal.conn, *run, plan)?;
    }
    Ok(found)
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
    rules: &crate::rules::Rules,
    reporter: &mut dyn Reporter,
) -> Result<RunOutcome> {
    let stop = stop_flag();
    let started = Instant::now();
    let rules_digest = journal.rules_digest.clone();
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
            &rules_digest,
            actor,
            "run.started",
            Some(plan_id),
            &json!({ "run": run, "kind": kind.as_str(), "changes": plan.changes.len() }),
        )?;
        Ok(run)
    })?;
    failpoint("run.after_intent");
    let mut ctx = StepCtx::new(ws, blobs, run)?;
    // Every step, batched so that the disk is waited on a few times per run (batch.rs).
    let (done, mut failure) = ctx.forward_all(&order, &plan.changes, reporter, &stop);
    if failure.is_none() && stop.load(Ordering::Relaxed) {
        failure = Some(Error::failed("the run was interrupted by a signal"));
    }
    reporter.finish();
    // Exec steps, then the verify command, each only while nothing has failed.
    let mut snapshots: Vec<(usize, BTreeMap<String, State>)> = Vec::new();
    let mut exec_changes: Vec<(usize, Change)> = Vec::new();
    let mut exec_metrics: Vec<serde_json::Value> = Vec::new();
    let mut verify_metrics = None;
    if failure.is_none() {
        for (k, step) in plan.exec.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                failure = Some(Error::failed("the run was interrupted by a signal"));
                break;
            }
            reporter.command("exec", &step.run);
            match exec_snapshot(ws, journal, blobs, run, k, step) {
                Ok(before) => snapshots.push((k, before)),
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            failpoint("exec.after_snapshot");
            let before = snapshots.last().map(|(_, b)| b.clone()).unwrap_or_default();
            let mut sink = reporter.output();
            match exec_step::run_step(ws, blobs, rules, step, &before, &mut sink) {
                Ok(res) => {
                    exec_metrics.push(res.metrics);
                    exec_changes.extend(res.changes.into_iter().map(|c| (k, c)));
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
    }
    if failure.is_none() && rules.verify.is_some() {
        reporter.command(
            "verify",
            &rules
                .verify
                .as_ref()
                .map(|v| v.run.clone())
                .unwrap_or_default(),
        );
        let written: Vec<Change> = plan
            .changes
            .iter()
            .cloned()
            .chain(exec_changes.iter().map(|(_, c)| c.clone()))
            .collect();
        let mut sink = reporter.output();
        match exec_step::run_verify(ws, blobs, rules, plan, &written, &mut sink) {
            Ok(m) => verify_metrics = m,
            Err(e) => failure = Some(e),
        }
    }
    if let Some(err) = failure {
        for (k, before) in snapshots.iter().rev() {
            if let Err(e) = exec_step::restore(ws, blobs, &plan.exec[*k], before) {
                return Err(Error::new(
                    Kind::Interrupted,
                    format!(
                        "{}\nthen putting back what `{}` touched failed too: {}",
                        err.message,
                        shell_words::join(&plan.exec[*k].run),
                        e.message
                    ),
                )
                .hint("run `autonomy recover` once the cause is fixed"));
            }
        }
        return Err(undo_failed_run(
            &mut ctx, journal, actor, plan_id, plan, run, &done, err, reporter, started,
        ));
    }
    // 6. Success: the kept old files become the snapshot, then the run commits.
    failpoint("run.before_snapshot");
    let mut kept = Vec::new();
    for &i in &order {
        let c = &plan.changes[i];
        if let Some(hash) = c.before.file_hash()
            && c.before.file_hash() != c.after.file_hash()
        {
            let backup = backup_dir_path(ws, run).join(i.to_string());
            if backup.exists() {
                kept.push((backup, hash.to_string()));
            } else if !blobs.contains(hash) {
                return Err(Error::failed(format!(
                    "the snapshot of {} is missing",
                    c.path
                )));
            }
        }
    }
    // All renamed into the store, then one fsync per fan-out folder.
    blobs.adopt_many(&kept)?;
    failpoint("run.after_snapshot");
    let duration_ms = started.elapsed().as_millis() as u64;
    let outcome = RunOutcome {
        run,
        files_changed: order.len() + exec_changes.len(),
        bytes_written: ctx.bytes_written,
        duration_ms,
        exec: exec_metrics,
        verify: verify_metrics,
    };
    journal.write(|tx| {
        tx.execute(
            "UPDATE runs SET state = 'committed', finished = ?2, duration_ms = ?3, metrics = ?4 WHERE id = ?1",
            params![run, crate::ids::now_string(), duration_ms as i64, serde_json::to_string(&outcome).unwrap_or_default()],
        )?;
        tx.execute("UPDATE plans SET status = 'applied' WHERE id = ?1", [plan_id])?;
        if let Some(orig) = &plan.reverses {
            // `rolled_back` only once every path is reverted (selective rollback).
            crate::revert::mark_reversed(tx, orig)?;
        }
        // Command output kept in the journal: referenced, so gc keeps it.
        let outputs = outcome.exec.iter().chain(outcome.verify.iter()).filter_map(|m| m.get("output_blob").and_then(|b| b.as_str()));
        for hash in outputs {
            tx.execute("INSERT INTO blobs_extra (hash, owner) VALUES (?1, ?2)", params![hash, format!("run:{run}")])?;
        }
        for (k, c) in &exec_changes {
            tx.execute(
                "INSERT OR REPLACE INTO run_exec (run, step, path, before, after) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run, *k as i64, c.path, serde_json::to_string(&c.before).unwrap_or_default(), serde_json::to_string(&c.after).unwrap_or_default()],
            )?;
            append_event(
                tx,
                &rules_digest,
                actor,
                "run.step",
                Some(plan_id),
                &json!({ "run": run, "path": c.path, "action": format!("exec:{}", c.verb()), "step": k, "before": c.before, "after": c.after }),
            )?;
        }
        // The ids consumed are named in run.committed too: `verify` and the approval gate
        // check the approvals table's consumed_by against that event.
        let mut consumed: Vec<String> = Vec::new();
        for id in consume {
            tx.execute("UPDATE approvals SET consumed_by = ?2 WHERE id = ?1", params![id, run])?;
            consumed.extend(tx.query_row("SELECT approval_id FROM approvals WHERE id = ?1", [id], |r| r.get::<_, Option<String>>(0))?);
        }
        for &i in &order {
            let c = &plan.changes[i];
            append_event(
                tx,
                &rules_digest,
                actor,
                "run.step",
                Some(plan_id),
                &json!({ "run": run, "path": c.path, "action": c.verb(), "before": c.before, "after": c.after }),
            )?;
        }
        append_event(
            tx,
            &rules_digest,
            actor,
            "run.committed",
            Some(plan_id),
            &json!({
                "run": run, "kind": kind.as_str(), "duration_ms": duration_ms,
                "files_changed": outcome.files_changed, "bytes_written": outcome.bytes_written,
                "reverses": plan.reverses, "exec": outcome.exec, "verify": outcome.verify, "consumed": consumed,
                "verify_ms": outcome.verify.as_ref().and_then(|v| v.get("wall_ms").cloned()),
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
