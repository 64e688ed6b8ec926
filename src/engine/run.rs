//! One run: write the intent durably, take every step (printing each), and either commit
//! (keeping the old contents as the snapshot) or put every touched path back. [`execute`]
//! is the entry point; [`Run`] holds a run's phases (undo is in `undo.rs`, shared with
//! recovery). The journal writes of a run are the small `journal_*` functions here.

use super::fsops::{StepCtx, backup_dir_path, new_token};
use super::reserve::Reservation;
use super::undo::{ExecUndo, UndoMode, Undone};
use super::{Reporter, exec_step, execution_order, failpoint};
pub use crate::engine::admit::Approved;
use crate::error::{Error, Result};
use crate::model::event::{RunStarted, RunStep, encode};
use crate::model::{Change, EventKind, Plan, RunKind, State};
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

/// Ask the run in progress (or the next one this process starts) to stop at its next step
/// and undo itself, as SIGTERM does: for a caller whose own deadline passes mid-run (an
/// agent's hook must answer before the agent gives up on it). Nothing commits after it.
pub fn request_stop() {
    stop_flag().store(true, Ordering::SeqCst);
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

/// For a rollback, the owner and group each file, link or folder it re-creates had when
/// the plan it reverses deleted it (recorded in that run's `run.step` events).
fn owner_hints(journal: &Journal, plan: &Plan) -> Result<HashMap<String, (u32, u32)>> {
    let mut out = HashMap::new();
    let Some(orig) = &plan.reverses else {
        return Ok(out);
    };
    let creates: BTreeSet<&str> = plan
        .changes
        .iter()
        .filter(|c| c.before == State::Absent && !c.after.is_absent())
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
/// Journal the run's intent (a `runs` row and `run.started`, with the temp token) in one
/// durable transaction, before anything is touched. Returns the run's id.
fn journal_intent(
    journal: &mut Journal,
    actor: &str,
    plan_id: &str,
    plan: &Plan,
    kind: RunKind,
    token: &str,
) -> Result<i64> {
    journal.write(|tx| {
        let run = tx.start_run(plan_id, kind)?;
        let intent = RunStarted {
            run,
            kind: kind.as_str().into(),
            changes: plan.changes.len(),
            temp_token: Some(token.to_string()),
        };
        tx.event(
            actor,
            EventKind::RunStarted,
            Some(plan_id),
            &encode(&intent),
        )?;
        Ok(run)
    })
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
    let (plan_id, plan) = (approved.plan_id().as_str(), approved.plan());
    let (kind, consume) = (approved.kind(), approved.consume());
    let mut run = Run::begin(ws, journal, blobs, actor, plan_id, plan, kind)?;
    let taken = run
        .forward(reporter)
        .and_then(|()| run.exec(rules, reporter))
        .and_then(|()| run.verify(rules, reporter))
        .and_then(|()| run.check_landed())
        // Nothing commits after SIGINT or SIGTERM.
        .and_then(|()| run.check_stop());
    match taken {
        Ok(()) => run.commit(consume, reporter),
        Err(e) => Err(run.fail(e, reporter)),
    }
}

/// A run in progress. Apply and rollback are the same sequence: [`Run::begin`] (the intent,
/// durably), [`Run::forward`] (the file steps, batched), [`Run::exec`] (exec steps),
/// [`Run::verify`], then [`Run::commit`], or on any failure [`Run::fail`], which undoes
/// the run ([`Run::undo`], in `undo.rs`). Recovery resumes an interrupted run
/// ([`Run::resume`]) and undoes it through the same [`Run::undo`]. Each phase records
/// what it may have touched before touching it (`done`, `exec_undo`), so that undo after
/// a failure anywhere knows exactly what to look at.
pub(super) struct Run<'a> {
    pub(super) id: i64,
    pub(super) plan: &'a Plan,
    pub(super) plan_id: &'a str,
    pub(super) actor: &'a str,
    pub(super) journal: &'a mut Journal,
    pub(super) fs: StepCtx<'a>,
    kind: RunKind,
    order: Vec<usize>,
    /// File steps that may have touched the workspace, in the order taken (undo goes
    /// backwards). Recovery looks at every step.
    pub(super) done: Vec<usize>,
    /// Exec steps to undo, in the order they ran (undo goes backwards).
    pub(super) exec_undo: Vec<ExecUndo>,
    /// Room for the commit (or for recording a failure), set aside before the intent.
    reserve: Option<Reservation>,
    /// Set by SIGINT, SIGTERM and SIGHUP while an apply or rollback runs.
    stop: Arc<AtomicBool>,
    started: Instant,
    /// What exec steps changed inside their `touches` (step, change): their record.
    exec_changes: Vec<(usize, Change)>,
    exec_metrics: Vec<serde_json::Value>,
    verify_metrics: Option<serde_json::Value>,
}

impl<'a> Run<'a> {
    /// Set room aside, journal the intent durably, and open the run's backup folder.
    fn begin(
        ws: &'a Workspace,
        journal: &'a mut Journal,
        blobs: &'a BlobStore,
        actor: &'a str,
        plan_id: &'a str,
        plan: &'a Plan,
        kind: RunKind,
    ) -> Result<Run<'a>> {
        let stop = stop_flag();
        raise_nofile();
        let started = Instant::now();
        clear_stale_runs(ws);
        let hints = owner_hints(journal, plan)?;
        let reserve = Reservation::take(
            ws,
            super::reserve::estimate(plan.changes.len(), plan.exec.len()),
        )?;
        // Temp files are named with a random token journaled here, before any exists.
        let token = new_token();
        // 4. The intent, durably, before anything is touched.
        let id = journal_intent(journal, actor, plan_id, plan, kind, &token)?;
        failpoint("run.after_intent");
        let mut fs = StepCtx::new(ws, blobs, id, Some(token))?;
        fs.owner_hints = hints;
        let mut run = Run::resume(journal, fs, actor, plan_id, plan, kind);
        run.reserve = Some(reserve);
        run.stop = stop;
        run.started = started;
        Ok(run)
    }

    /// The run `fs.run` of `plan`, journaled earlier: what recovery undoes. Nothing is
    /// marked done yet; signals keep their default action.
    pub(super) fn resume(
        journal: &'a mut Journal,
        fs: StepCtx<'a>,
        actor: &'a str,
        plan_id: &'a str,
        plan: &'a Plan,
        kind: RunKind,
    ) -> Run<'a> {
        Run {
            id: fs.run,
            plan,
            plan_id,
            actor,
            journal,
            fs,
            kind,
            order: execution_order(&plan.changes),
            done: Vec::new(),
            exec_undo: Vec::new(),
            reserve: None,
            stop: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
            exec_changes: Vec::new(),
            exec_metrics: Vec::new(),
            verify_metrics: None,
        }
    }

    /// The plan's changes in the order steps are taken ([`execution_order`]).
    pub(super) fn order(&self) -> &[usize] {
        &self.order
    }

    /// Stop here when a signal asked the run to stop.
    fn check_stop(&self) -> Result<()> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Error::failed("the run was interrupted by a signal"));
        }
        Ok(())
    }

    /// Hand the room set aside back (to the commit, or to undo and recording a failure).
    pub(super) fn release_reserve(&mut self) {
        if let Some(r) = &mut self.reserve {
            r.release();
        }
    }

    /// Every file step (design step 5), batched so that the disk is waited on a few times
    /// per run (`forward.rs`), printing each.
    fn forward(&mut self, reporter: &mut dyn Reporter) -> Result<()> {
        let res = self.fs.forward_all(
            &self.order,
            &self.plan.changes,
            reporter,
            &self.stop,
            &mut self.done,
        );
        let res = res.and_then(|()| self.check_stop());
        reporter.finish();
        res
    }

    /// The exec steps in plan order, each only while nothing has failed.
    fn exec(
        &mut self,
        rules: &crate::policy::rules::Rules,
        reporter: &mut dyn Reporter,
    ) -> Result<()> {
        for k in 0..self.plan.exec.len() {
            self.check_stop()?;
            self.exec_one(k, rules, reporter)?;
        }
        Ok(())
    }

    /// Exec step `k`: its snapshot journaled first, what its command changed journaled as
    /// soon as it is known (and queued for undo before anything else can fail).
    fn exec_one(
        &mut self,
        k: usize,
        rules: &crate::policy::rules::Rules,
        reporter: &mut dyn Reporter,
    ) -> Result<()> {
        let (ws, blobs, plan) = (self.fs.ws, self.fs.blobs, self.plan);
        let step = &plan.exec[k];
        reporter.command("exec", &step.run);
        let before = exec_snapshot(ws, self.journal, blobs, self.id, k, step)?;
        failpoint("exec.after_snapshot");
        mark_step(self.journal, self.id, k, STEP_RUNNING)?;
        let mut sink = reporter.output();
        let res = exec_step::run_step(ws, blobs, rules, step, &before, &mut sink, &self.stop);
        drop(sink);
        let res = match res {
            Ok(res) => res,
            Err(e) => {
                // The command may have run without its effects being observed: its
                // snapshot goes back over whatever it left.
                self.exec_undo.push(ExecUndo::blind(ws, k, step, &before));
                return Err(e);
            }
        };
        // What the command changed, durably, before anything else happens.
        let recorded = journal_observed(self.journal, self.id, k, &res.observed);
        self.exec_undo.push(ExecUndo::observed(k, &res));
        recorded?;
        failpoint("exec.after_observed");
        if let Some(e) = res.failure {
            return Err(e);
        }
        self.exec_metrics.push(res.metrics);
        self.exec_changes
            .extend(res.changes.into_iter().map(|c| (k, c)));
        Ok(())
    }

    /// The workspace's `[verify]` command, when the rules have one.
    fn verify(
        &mut self,
        rules: &crate::policy::rules::Rules,
        reporter: &mut dyn Reporter,
    ) -> Result<()> {
        let Some(v) = &rules.verify else {
            return Ok(());
        };
        reporter.command("verify", &v.run);
        let written: Vec<Change> = self
            .plan
            .changes
            .iter()
            .cloned()
            .chain(self.exec_changes.iter().map(|(_, c)| c.clone()))
            .collect();
        let mut sink = reporter.output();
        self.verify_metrics = exec_step::run_verify(
            self.fs.ws,
            self.fs.blobs,
            rules,
            self.plan,
            &written,
            &mut sink,
            &self.stop,
        )?;
        Ok(())
    }

    /// The kept old files whose content the store lacks: (backup, hash), the snapshot.
    fn snapshot_files(&self) -> Result<Vec<(std::path::PathBuf, String)>> {
        let mut kept = Vec::new();
        for &i in &self.order {
            let c = &self.plan.changes[i];
            if let Some(hash) = c.before.file_hash()
                && c.before.file_hash() != c.after.file_hash()
                && !self.fs.blobs.contains(hash)
            {
                let backup = backup_dir_path(self.fs.ws, self.id).join(i.to_string());
                if !backup.is_file() {
                    return Err(Error::failed(format!(
                        "the snapshot of {} is missing",
                        c.path
                    )));
                }
                kept.push((backup, hash.to_string()));
            }
        }
        Ok(kept)
    }

    /// Success (design step 6): the kept old files become the snapshot, then the run
    /// commits in one transaction. A failure on the way (a signal, a full disk) undoes
    /// the run.
    fn commit(mut self, consume: &[i64], reporter: &mut dyn Reporter) -> Result<RunOutcome> {
        failpoint("run.before_snapshot");
        self.release_reserve();
        let kept = match self.snapshot_files() {
            Ok(kept) => kept,
            Err(e) => return Err(self.fail(e, reporter)),
        };
        // Each linked into the store (the backup folder still names it until the commit),
        // then one fsync per fan-out folder.
        let blobs = self.fs.blobs;
        let adopted = match blobs.adopt_many(&kept) {
            Ok(made) => made,
            Err(e) => return Err(self.fail(e, reporter)),
        };
        failpoint("run.after_snapshot");
        if let Err(e) = self.check_stop() {
            let _ = blobs.unadopt(&adopted);
            return Err(self.fail(e, reporter));
        }
        let duration_ms = self.started.elapsed().as_millis() as u64;
        let outcome = RunOutcome {
            run: self.id,
            files_changed: self.order.len() + self.exec_changes.len(),
            bytes_written: self.fs.bytes_written,
            duration_ms,
            exec: std::mem::take(&mut self.exec_metrics),
            verify: self.verify_metrics.take(),
        };
        if let Err(e) = journal_commit(&mut self, consume, &outcome) {
            // Not committed: the store names the snapshot got are taken back, and every
            // path is put back by rename from the backup folder.
            let _ = blobs.unadopt(&adopted);
            return Err(self.fail(e, reporter));
        }
        let _ = std::fs::remove_dir_all(backup_dir_path(self.fs.ws, self.id));
        Ok(outcome)
    }

    /// Undo a run that failed (its exec steps newest first, then its file steps), record
    /// the failure, and say truthfully what was put back.
    fn fail(mut self, err: Error, reporter: &mut dyn Reporter) -> Error {
        // Undo (and recording the failure) get the room set aside for the commit.
        self.release_reserve();
        let mut undone = Undone::default();
        if let Err(stopped) = self.undo(UndoMode::Failed, reporter, &mut undone) {
            // The workspace is half-changed and we cannot fix it here: leave the run
            // marked running so that every command sends the user to `recover`.
            return stopped.after(err);
        }
        let duration_ms = self.started.elapsed().as_millis() as i64;
        let recorded = journal_failed(
            self.journal,
            self.actor,
            self.plan_id,
            self.id,
            duration_ms,
            &err,
            &undone,
        );
        let _ = std::fs::remove_dir_all(backup_dir_path(self.fs.ws, self.id));
        super::undo::failed_error(err, &undone.left, recorded)
    }
}

/// Commit the run in one transaction: the run committed, the plan applied (the plan it
/// reverses marked), consumed approvals used, every `run.step` and `run.committed`.
fn journal_commit(run: &mut Run, consume: &[i64], outcome: &RunOutcome) -> Result<()> {
    let (id, plan, plan_id, actor, kind) = (run.id, run.plan, run.plan_id, run.actor, run.kind);
    let (order, exec_changes, owners) = (&run.order, &run.exec_changes, &run.fs.owners);
    let duration_ms = outcome.duration_ms;
    run.journal.write(|tx| {
        tx.commit_run(id, duration_ms as i64, &serde_json::to_string(&outcome).unwrap_or_default())?;
        tx.set_plan_status(plan_id, crate::model::PlanStatus::Applied)?;
        if let Some(orig) = &plan.reverses {
            // `rolled_back` only once every path is reverted (selective rollback).
            tx.mark_reversed(orig)?;
        }
        // Command output kept in the journal: referenced, so gc keeps it.
        let outputs = outcome.exec.iter().chain(outcome.verify.iter()).filter_map(|m| m.get("output_blob").and_then(|b| b.as_str()));
        for hash in outputs {
            tx.keep_blob(hash, &format!("run:{id}"))?;
        }
        for (k, c) in exec_changes {
            tx.exec_observed(id, *k, c)?;
            let step = RunStep { run: id, path: c.path.clone(), action: format!("exec:{}", c.verb()), step: Some(*k), before: c.before.clone(), after: c.after.clone(), owner: None };
            tx.event(actor, EventKind::RunStep, Some(plan_id), &encode(&step))?;
        }
        tx.forget_unchanged(id)?;
        // The ids consumed are named in run.committed too: `verify` and the approval gate
        // check the approvals table's consumed_by against that event.
        let mut consumed: Vec<String> = Vec::new();
        for aid in consume {
            consumed.extend(tx.consume_approval(*aid, id)?);
        }
        for &i in order {
            let c = &plan.changes[i];
            // The old file's owner and group, so that a rollback re-creating it restores them.
            let step = RunStep { run: id, path: c.path.clone(), action: c.verb().to_string(), step: None, before: c.before.clone(), after: c.after.clone(), owner: owners.get(&i).copied() };
            tx.event(actor, EventKind::RunStep, Some(plan_id), &encode(&step))?;
        }
        tx.event(
            actor,
            EventKind::RunCommitted,
            Some(plan_id),
            &json!({
                "run": id, "kind": kind.as_str(), "duration_ms": duration_ms,
                "files_changed": outcome.files_changed, "bytes_written": outcome.bytes_written,
                "reverses": plan.reverses, "exec": outcome.exec, "verify": outcome.verify, "consumed": consumed,
                "verify_ms": outcome.verify.as_ref().and_then(|v| v.get("wall_ms").cloned()),
            }),
        )?;
        Ok(())
    })
}

/// Record a failed run that was put back: the run failed, `run.failed` naming what was
/// undone and what could not be.
fn journal_failed(
    journal: &mut Journal,
    actor: &str,
    plan_id: &str,
    run: i64,
    duration_ms: i64,
    err: &Error,
    undone: &Undone,
) -> Result<()> {
    journal.write(|tx| {
        tx.fail_run(run, duration_ms, &err.full_message())?;
        tx.forget_unchanged(run)?;
        tx.event(
            actor,
            EventKind::RunFailed,
            Some(plan_id),
            &json!({ "run": run, "error": err.full_message(), "undone": undone.files, "not_restored": undone.left, "duration_ms": duration_ms }),
        )?;
        Ok(())
    })
}
