//! One run: write the intent durably, take every step (printing each), and either commit
//! (keeping the old contents as the snapshot) or put every touched path back.

use super::fsops::{StepCtx, backup_dir_path, new_token};
use super::reserve::Reservation;
use super::{Reporter, exec_step, execution_order, failpoint};
pub use crate::engine::RunKind;
pub use crate::engine::admit::{Approved, drift, drift_error, interrupted, interrupted_error};
use crate::error::{Error, Kind, Result};
use crate::model::event::{RunStarted, RunStep, encode};
use crate::model::{Change, EventKind, Plan, State};
use crate::store::blobs::BlobStore;
use crate::store::journal::Journal;
use crate::workspace::Workspace;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

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

/// Snapshot an exec step's reach and journal it durably before the command runs.
fn exec_snapshot(
    ws: &Workspace,
    journal: &mut Journal,
    blobs: &BlobStore,
    run: i64,
    k: usize,
    step: &crate::model::ExecStep,
) -> Result<BTreeMap<String, State>> {
    let before = exec_step::snapshot(ws, blobs, step)?;
    journal.write(|tx| {
        // A marker row even for an empty snapshot: recovery must know the step began.
        // `"snapshot"` until the command may start, `"running"` until what it changed is
        // journaled (`"observed"`).
        tx.set_exec_marker(run, k, STEP_SNAPSHOT)?;
        for (p, st) in &before {
            tx.exec_snapshot(run, k, p, st)?;
        }
        Ok(())
    })?;
    Ok(before)
}

/// The marker row's `before`: the snapshot is taken (the command has not started), the
/// command may be running, what it changed is journaled. (Journals from before these
/// markers hold `null`, read as "may be running".)
pub const STEP_SNAPSHOT: &str = "\"snapshot\"";
pub const STEP_RUNNING: &str = "\"running\"";
pub const STEP_OBSERVED: &str = "\"observed\"";

/// Set step `k`'s marker, durably.
fn mark_step(journal: &mut Journal, run: i64, k: usize, state: &str) -> Result<()> {
    journal.write(|tx| tx.update_exec_marker(run, k, state))
}

/// Journal, durably, what step `k`'s command changed (`before -> after` per path), so that
/// recovery after a crash can tell its writes from anything written since.
fn journal_observed(journal: &mut Journal, run: i64, k: usize, observed: &[Change]) -> Result<()> {
    journal.write(|tx| {
        for c in observed {
            tx.exec_observed(run, k, c)?;
        }
        tx.update_exec_marker(run, k, STEP_OBSERVED)
    })
}

/// What undoing one exec step needs.
struct StepUndo {
    k: usize,
    list: Vec<exec_step::Undo>,
    specials: Vec<String>,
    unrestorable: Vec<String>,
    /// What the command did is unknown (it ran, but could not be observed): the snapshot
    /// is put back over whatever it left.
    blind: bool,
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

/// Let the process hold a descriptor per kept old file (each holds a write lease until
/// the path stops naming it): raise the soft `RLIMIT_NOFILE` towards the hard limit.
fn raise_nofile() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let lim = getrlimit(Resource::Nofile);
        let want = lim.maximum.map_or(65536, |h| h.min(65536));
        if lim.current.is_some_and(|c| c < want) {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(want),
                    maximum: lim.maximum,
                },
            );
        }
    });
}

/// Backup folders of runs that finished (a crash after the commit can leave one): with
/// no interrupted run (the caller checked), every folder under `.autonomy/runs` is stale.
fn clear_stale_runs(ws: &Workspace) {
    if let Ok(rd) = std::fs::read_dir(ws.state_path().join("runs")) {
        for e in rd.flatten() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// For a rollback, the owner and group each file it re-creates had when the plan it
/// reverses deleted it (recorded in that run's `run.step` events).
fn owner_hints(journal: &Journal, plan: &Plan) -> Result<HashMap<String, (u32, u32)>> {
    let mut out = HashMap::new();
    let Some(orig) = &plan.reverses else {
        return Ok(out);
    };
    let creates: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.before == State::Absent && matches!(c.after, State::File { .. }))
        .map(|c| c.path.as_str())
        .collect();
    if creates.is_empty() {
        return Ok(out);
    }
    for step in journal.run_steps(orig)? {
        if let (Some(owner), true) = (step.owner, creates.contains(step.path.as_str())) {
            out.insert(step.path, owner);
        }
    }
    Ok(out)
}

/// Execute an admitted plan as a run. Only `admit` makes the token: it holds the lock
/// and stands for every check passed in order (interruption, rules, approvals, drift); it
/// lives until the run ends. Its approval rows are marked used when the run commits.
pub fn execute(
    ws: &Workspace,
    journal: &mut Journal,
    blobs: &BlobStore,
    actor: &str,
    approved: Approved,
    rules: &crate::policy::rules::Rules,
    reporter: &mut dyn Reporter,
) -> Result<RunOutcome> {
    approved.check_workspace(ws)?;
    let (plan_id, plan) = (approved.plan_id(), approved.plan());
    let (kind, consume) = (approved.kind(), approved.consume());
    let stop = stop_flag();
    raise_nofile();
    let started = Instant::now();
    let order = execution_order(&plan.changes);
    clear_stale_runs(ws);
    let hints = owner_hints(journal, plan)?;
    // Room for the commit (or for recording a failure), set aside before anything else.
    let mut reserve = Reservation::take(
        ws,
        super::reserve::estimate(plan.changes.len(), plan.exec.len()),
    )?;
    // Temp files are named with a random token journaled here, before any exists.
    let token = new_token();
    // 4. The intent, durably, before anything is touched.
    let run = journal.write(|tx| {
        let run = tx.start_run(plan_id, kind)?;
        let intent = RunStarted {
            run,
            kind: kind.as_str().into(),
            changes: plan.changes.len(),
            temp_token: Some(token.clone()),
        };
        tx.event(
            actor,
            EventKind::RunStarted,
            Some(plan_id),
            &encode(&intent),
        )?;
        Ok(run)
    })?;
    failpoint("run.after_intent");
    let mut ctx = StepCtx::new(ws, blobs, run, Some(token))?;
    ctx.owner_hints = hints;
    // Every step, batched so that the disk is waited on a few times per run (batch.rs).
    let (done, mut failure) = ctx.forward_all(&order, &plan.changes, reporter, &stop);
    if failure.is_none() && stop.load(Ordering::Relaxed) {
        failure = Some(Error::failed("the run was interrupted by a signal"));
    }
    reporter.finish();
    // Exec steps, then the verify command, each only while nothing has failed.
    let mut steps: Vec<StepUndo> = Vec::new();
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
            let before = match exec_snapshot(ws, journal, blobs, run, k, step) {
                Ok(before) => before,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            failpoint("exec.after_snapshot");
            if let Err(e) = mark_step(journal, run, k, STEP_RUNNING) {
                failure = Some(e);
                break;
            }
            let mut sink = reporter.output();
            let res = exec_step::run_step(ws, blobs, rules, step, &before, &mut sink, &stop);
            drop(sink);
            match res {
                Ok(res) => {
                    // What the command changed, durably, before anything else happens.
                    let recorded = journal_observed(journal, run, k, &res.observed);
                    steps.push(StepUndo {
                        k,
                        list: exec_step::undo_list(&res.observed),
                        specials: res.created_special,
                        unrestorable: res.unrestorable,
                        blind: false,
                    });
                    if let Err(e) = recorded {
                        failure = Some(e);
                        break;
                    }
                    failpoint("exec.after_observed");
                    if let Some(e) = res.failure {
                        failure = Some(e);
                        break;
                    }
                    exec_metrics.push(res.metrics);
                    exec_changes.extend(res.changes.into_iter().map(|c| (k, c)));
                }
                Err(e) => {
                    // The command may have run without its effects being observed: its
                    // snapshot goes back over whatever it left.
                    let list = exec_step::unknown_after(ws, step, &before).unwrap_or_else(|_| {
                        before
                            .iter()
                            .map(|(p, s)| exec_step::Undo {
                                path: p.clone(),
                                before: s.clone(),
                                after: None,
                            })
                            .collect()
                    });
                    steps.push(StepUndo {
                        k,
                        list,
                        specials: Vec::new(),
                        unrestorable: Vec::new(),
                        blind: true,
                    });
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
        match exec_step::run_verify(ws, blobs, rules, plan, &written, &mut sink, &stop) {
            Ok(m) => verify_metrics = m,
            Err(e) => failure = Some(e),
        }
    }
    // Nothing commits after SIGINT or SIGTERM.
    if failure.is_none() && stop.load(Ordering::Relaxed) {
        failure = Some(Error::failed("the run was interrupted by a signal"));
    }
    let abort = |ctx: &mut StepCtx,
                 journal: &mut Journal,
                 reserve: &mut Reservation,
                 steps: &[StepUndo],
                 err: Error,
                 reporter: &mut dyn Reporter| {
        // Undo (and recording the failure) get the room set aside for the commit.
        reserve.release();
        abort_run(
            ctx, journal, actor, plan_id, plan, run, &done, steps, err, reporter, started,
        )
    };
    if let Some(err) = failure {
        return Err(abort(
            &mut ctx,
            journal,
            &mut reserve,
            &steps,
            err,
            reporter,
        ));
    }
    // 6. Success: the kept old files become the snapshot, then the run commits.
    failpoint("run.before_snapshot");
    reserve.release();
    let mut kept = Vec::new();
    for &i in &order {
        let c = &plan.changes[i];
        if let Some(hash) = c.before.file_hash()
            && c.before.file_hash() != c.after.file_hash()
            && !blobs.contains(hash)
        {
            let backup = backup_dir_path(ws, run).join(i.to_string());
            if backup.is_file() {
                kept.push((backup, hash.to_string()));
            } else {
                let err = Error::failed(format!("the snapshot of {} is missing", c.path));
                return Err(abort(
                    &mut ctx,
                    journal,
                    &mut reserve,
                    &steps,
                    err,
                    reporter,
                ));
            }
        }
    }
    // Each linked into the store (the backup folder still names it until the commit),
    // then one fsync per fan-out folder.
    let adopted = match blobs.adopt_many(&kept) {
        Ok(made) => made,
        Err(e) => return Err(abort(&mut ctx, journal, &mut reserve, &steps, e, reporter)),
    };
    failpoint("run.after_snapshot");
    if stop.load(Ordering::Relaxed) {
        let _ = blobs.unadopt(&adopted);
        let err = Error::failed("the run was interrupted by a signal");
        return Err(abort(
            &mut ctx,
            journal,
            &mut reserve,
            &steps,
            err,
            reporter,
        ));
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    let outcome = RunOutcome {
        run,
        files_changed: order.len() + exec_changes.len(),
        bytes_written: ctx.bytes_written,
        duration_ms,
        exec: exec_metrics,
        verify: verify_metrics,
    };
    let owners = &ctx.owners;
    let committed = journal.write(|tx| {
        tx.commit_run(run, duration_ms as i64, &serde_json::to_string(&outcome).unwrap_or_default())?;
        tx.set_plan_status(plan_id, crate::model::PlanStatus::Applied)?;
        if let Some(orig) = &plan.reverses {
            // `rolled_back` only once every path is reverted (selective rollback).
            tx.mark_reversed(orig)?;
        }
        // Command output kept in the journal: referenced, so gc keeps it.
        let outputs = outcome.exec.iter().chain(outcome.verify.iter()).filter_map(|m| m.get("output_blob").and_then(|b| b.as_str()));
        for hash in outputs {
            tx.keep_blob(hash, &format!("run:{run}"))?;
        }
        for (k, c) in &exec_changes {
            tx.exec_observed(run, *k, c)?;
            let step = RunStep { run, path: c.path.clone(), action: format!("exec:{}", c.verb()), step: Some(*k), before: c.before.clone(), after: c.after.clone(), owner: None };
            tx.event(actor, EventKind::RunStep, Some(plan_id), &encode(&step))?;
        }
        tx.forget_unchanged(run)?;
        // The ids consumed are named in run.committed too: `verify` and the approval gate
        // check the approvals table's consumed_by against that event.
        let mut consumed: Vec<String> = Vec::new();
        for id in consume {
            consumed.extend(tx.consume_approval(*id, run)?);
        }
        for &i in &order {
            let c = &plan.changes[i];
            // The old file's owner and group, so that a rollback re-creating it restores them.
            let step = RunStep { run, path: c.path.clone(), action: c.verb().to_string(), step: None, before: c.before.clone(), after: c.after.clone(), owner: owners.get(&i).copied() };
            tx.event(actor, EventKind::RunStep, Some(plan_id), &encode(&step))?;
        }
        tx.event(
            actor,
            EventKind::RunCommitted,
            Some(plan_id),
            &json!({
                "run": run, "kind": kind.as_str(), "duration_ms": duration_ms,
                "files_changed": outcome.files_changed, "bytes_written": outcome.bytes_written,
                "reverses": plan.reverses, "exec": outcome.exec, "verify": outcome.verify, "consumed": consumed,
                "verify_ms": outcome.verify.as_ref().and_then(|v| v.get("wall_ms").cloned()),
            }),
        )?;
        Ok(())
    });
    if let Err(e) = committed {
        // Not committed: the store names the snapshot got are taken back, and every path
        // is put back by rename from the backup folder.
        let _ = blobs.unadopt(&adopted);
        return Err(abort(&mut ctx, journal, &mut reserve, &steps, e, reporter));
    }
    let _ = std::fs::remove_dir_all(backup_dir_path(ws, run));
    Ok(outcome)
}

/// Undo a run that failed (its exec steps newest first, then its file steps), record the
/// failure, and say truthfully what was put back.
#[allow(clippy::too_many_arguments)]
fn abort_run(
    ctx: &mut StepCtx,
    journal: &mut Journal,
    actor: &str,
    plan_id: &str,
    plan: &Plan,
    run: i64,
    done: &[usize],
    steps: &[StepUndo],
    err: Error,
    reporter: &mut dyn Reporter,
    started: Instant,
) -> Error {
    let mut not_restored: Vec<String> = Vec::new();
    let token = ctx.token.clone().unwrap_or_default();
    for s in steps.iter().rev() {
        let step = &plan.exec[s.k];
        let shown = step.run.join(" ");
        let res = exec_step::undo(
            ctx.ws,
            ctx.blobs,
            &s.list,
            &s.specials,
            &exec_step::restore_tmp(&token, s.k),
            s.blind,
            &shown,
        );
        match res {
            Ok(undone) => {
                not_restored.extend(s.unrestorable.iter().cloned());
                not_restored.extend(undone.left);
            }
            Err(e) => {
                return Error::new(
                    Kind::Interrupted,
                    format!(
                        "{}\nthen putting back what `{shown}` changed failed too: {}",
                        err.message, e.message
                    ),
                )
                .hint("run `autonomy recover` once the cause is fixed");
            }
        }
    }
    undo_failed_run(
        ctx,
        journal,
        actor,
        plan_id,
        plan,
        run,
        done,
        err,
        &not_restored,
        reporter,
        started,
    )
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
    not_restored: &[String],
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
    let duration_ms = started.elapsed().as_millis() as i64;
    let recorded = journal.write(|tx| {
        tx.fail_run(run, duration_ms, &err.message)?;
        tx.forget_unchanged(run)?;
        tx.event(
            actor,
            EventKind::RunFailed,
            Some(plan_id),
            &json!({ "run": run, "error": err.message, "undone": undone, "not_restored": not_restored, "duration_ms": duration_ms }),
        )?;
        Ok(())
    });
    let _ = std::fs::remove_dir_all(backup_dir_path(ctx.ws, run));
    let put_back = if not_restored.is_empty() {
        "every path was put back as it was".to_string()
    } else {
        let list: Vec<String> = not_restored
            .iter()
            .take(20)
            .map(|p| format!("  {p}"))
            .collect();
        format!(
            "every path the plan and its commands changed was put back as it was, except {} autonomy kept no old content for (they are as the command left them):\n{}",
            crate::util::text::count(not_restored.len() as u64, "path"),
            list.join("\n")
        )
    };
    if let Err(e) = recorded {
        return Error::new(
            err.kind,
            format!(
                "{}\n({put_back}, but recording the failure failed: {})",
                err.message, e.message
            ),
        );
    }
    // A stale path (4) and a damaged blob store (7) keep their own exit codes.
    let kind = match err.kind {
        Kind::Stale | Kind::Integrity => err.kind,
        _ => Kind::Failed,
    };
    let mut out = Error::new(kind, format!("{}\nthe run failed; {put_back}", err.message));
    out.hint = err
        .hint
        .or(Some("fix the cause and apply the same plan again".into()));
    out
}
