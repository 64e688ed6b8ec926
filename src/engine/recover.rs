//! Recovery after a crash: the interrupted run's paths are each decided by what is there
//! now (after -> undo, before -> leave, anything else -> stop and report, exit 4).
//! Idempotent. A recovery that stops is journaled (`run.recovery_stopped`) with the paths
//! it did restore. Exec steps are decided the same way against what their commands were
//! observed to write (journaled as soon as it was known); a step interrupted while its
//! command ran has no known `after`, so any path differing from its snapshot is a
//! conflict. With `overwrite`, conflicting contents are kept in the store (and named in
//! the journal) and every path is put back all the same.

use super::Reporter;
use super::exec_step::{self, Undo};
use super::fsops::{StepCtx, TEMP_PREFIX, backup_dir_path};
use super::reserve::Reservation;
use super::run::{Run, STEP_OBSERVED, STEP_SNAPSHOT};
use super::undo::{ExecUndo, UndoMode, Undone};
use crate::error::{Error, Result};
use crate::model::RunKind;
use crate::model::{EventKind, Plan, State};
use crate::paths::RelPath;
use crate::store::blobs::BlobStore;
use crate::store::journal::Journal;
use crate::workspace::Workspace;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

/// What `recover` did.
#[derive(Debug, serde::Serialize)]
pub struct Recovered {
    pub run: i64,
    pub plan: crate::model::PlanId,
    pub restored: Vec<String>,
    /// Contents that did not match the run and were overwritten (`--overwrite`), kept in
    /// the store.
    pub overwritten: Vec<Overwritten>,
}

/// One content `recover --overwrite` replaced, kept in the store as blob `kept`.
#[derive(Debug, serde::Serialize)]
pub struct Overwritten {
    pub path: String,
    pub kept: String,
}

/// One exec step's journal rows: the marker, and per path (before, after).
#[derive(Default)]
struct StepRows {
    /// The command never started: nothing of this step to undo.
    not_started: bool,
    observed: bool,
    rows: BTreeMap<String, (State, Option<State>)>,
}

fn decode(path: &str, text: &str) -> Result<State> {
    serde_json::from_str(text).map_err(|e| {
        Error::integrity(format!(
            "the journal's snapshot of {path} does not decode: {e}"
        ))
    })
}

/// The temp token the run journaled with its intent (`None` for runs from before tokens).
fn temp_token(journal: &Journal, run: i64) -> Result<Option<String>> {
    Ok(journal
        .run_started(run)?
        .and_then(|intent| intent.temp_token)
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// The exec steps' journal rows of `run`, by step.
fn exec_rows(journal: &Journal, run: i64) -> Result<BTreeMap<usize, StepRows>> {
    let mut steps: BTreeMap<usize, StepRows> = BTreeMap::new();
    for row in journal.exec_rows(run)? {
        let crate::store::journal::runs::ExecRow {
            step,
            path,
            before,
            after,
        } = row;
        let entry = steps.entry(step).or_default();
        if path.is_empty() {
            entry.observed = before == STEP_OBSERVED;
            entry.not_started = before == STEP_SNAPSHOT;
            continue;
        }
        let b = decode(&path, &before)?;
        let a = after.as_deref().map(|a| decode(&path, a)).transpose()?;
        entry.rows.insert(path, (b, a));
    }
    Ok(steps)
}

/// What undoing each exec step of the interrupted run needs, in step order. A step that
/// was observed undoes only what its command was seen to change (anything else under its
/// `touches`, made by hand since, is not the run's); one interrupted while its command ran
/// has no known `after`, so everything in its reach is decided against its snapshot.
fn exec_undo(
    ws: &Workspace,
    plan: &Plan,
    run: i64,
    steps: &BTreeMap<usize, StepRows>,
    overwrite: bool,
) -> Result<Vec<ExecUndo>> {
    let mut out = Vec::new();
    for (k, rows) in steps {
        let step = plan.exec.get(*k).ok_or_else(|| {
            Error::integrity(format!(
                "run {run} has a snapshot for exec step {k}, which its plan lacks"
            ))
        })?;
        let list: Vec<Undo> = if rows.not_started {
            Vec::new()
        } else if rows.observed {
            rows.rows
                .iter()
                .filter_map(|(p, (b, a))| {
                    a.as_ref().map(|a| Undo {
                        path: p.clone(),
                        before: b.clone(),
                        after: Some(a.clone()),
                    })
                })
                .collect()
        } else {
            let snapshot: BTreeMap<String, State> = rows
                .rows
                .iter()
                .map(|(p, (b, _))| (p.clone(), b.clone()))
                .collect();
            exec_step::unknown_after(ws, step, &snapshot)?
        };
        out.push(ExecUndo {
            k: *k,
            list,
            specials: Vec::new(),
            unrestorable: Vec::new(),
            force: overwrite,
        });
    }
    Ok(out)
}

/// Remove the temp files the run left (named with its token `token`) in every folder
/// that holds one of `touched`.
fn remove_temp_files(ws: &Workspace, token: &str, touched: &BTreeSet<String>) {
    let prefix = format!("{TEMP_PREFIX}{token}-");
    let folders: BTreeSet<Option<RelPath>> = touched
        .iter()
        .filter_map(|p| RelPath::parse(p).ok())
        .map(|r| r.parent())
        .collect();
    for f in folders {
        let Ok(dir) = ws.open_dir(f.as_ref()) else {
            continue;
        };
        let Ok(entries) = dir.entries() else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&prefix) {
                let _ = dir.remove_file(&name);
            }
        }
    }
}

/// Journal a recovery that stopped part-way, with the paths it did restore.
fn journal_stopped(
    journal: &mut Journal,
    actor: &str,
    plan_id: &str,
    run: i64,
    restored: &[String],
    e: &Error,
) -> Result<()> {
    journal.event(
        actor,
        EventKind::RunRecoveryStopped,
        Some(plan_id),
        &json!({ "run": run, "restored": restored, "error": e.full_message(), "exit": e.kind.exit_code() }),
    )?;
    Ok(())
}

/// Journal the finished recovery: the run recovered, overwritten contents referenced (so
/// `gc` keeps them), `run.recovered`.
fn journal_recovered(
    journal: &mut Journal,
    actor: &str,
    plan_id: &str,
    run: i64,
    restored: &[String],
    overwritten: &[(String, String)],
) -> Result<()> {
    let kept: Vec<serde_json::Value> = overwritten
        .iter()
        .map(|(p, h)| json!({ "path": p, "kept": h }))
        .collect();
    journal.write(|tx| {
        tx.recover_run(run)?;
        tx.forget_unchanged(run)?;
        // Overwritten contents are referenced, so `gc` keeps them.
        for (_, h) in overwritten {
            tx.keep_blob(h, &format!("recover:{run}"))?;
        }
        let mut data = json!({ "run": run, "restored": restored });
        if !kept.is_empty() {
            data["overwritten"] = json!(kept);
        }
        tx.event(actor, EventKind::RunRecovered, Some(plan_id), &data)?;
        Ok(())
    })
}

/// Put the workspace back to the interrupted run's `before`. `None` when nothing was
/// interrupted. The caller holds the lock.
pub fn recover(
    ws: &Workspace,
    journal: &mut Journal,
    blobs: &BlobStore,
    actor: &str,
    reporter: &mut dyn Reporter,
    overwrite: bool,
) -> Result<Option<Recovered>> {
    let Some((run, plan_id)) = super::admit::interrupted(journal)? else {
        return Ok(None);
    };
    // The room the run set aside is recovery's now.
    Reservation::release_leftover(ws);
    let plan = Plan::from_canonical(&journal.canonical(&plan_id)?)?;
    let token = temp_token(journal, run)?;
    let fs = StepCtx::new(ws, blobs, run, token.clone())?;
    let steps = exec_rows(journal, run)?;
    // The kind only names the run: recovery never commits it.
    let mut r = Run::resume(journal, fs, actor, &plan_id, &plan, RunKind::Apply);
    r.done = r.order().to_vec();
    // Stopping part-way (a path that is neither `after` nor `before`, exit 4; an I/O error)
    // leaves the paths restored so far restored: journal exactly those, and where it stopped.
    let mut undone = Undone::default();
    let outcome = exec_undo(ws, &plan, run, &steps, overwrite).and_then(|list| {
        r.exec_undo = list;
        r.undo(UndoMode::Recover { overwrite }, reporter, &mut undone)
            .map_err(|s| s.error)
    });
    if let Err(e) = outcome {
        journal_stopped(r.journal, actor, &plan_id, run, &undone.restored(), &e)?;
        return Err(e);
    }
    // Temp files this run left (named with its token) in any folder it touched.
    if let Some(t) = &token {
        let mut touched: BTreeSet<String> = plan.changes.iter().map(|c| c.path.clone()).collect();
        touched.extend(
            r.exec_undo
                .iter()
                .flat_map(|s| s.list.iter().map(|u| u.path.clone())),
        );
        remove_temp_files(ws, t, &touched);
    }
    let restored = undone.restored();
    journal_recovered(r.journal, actor, &plan_id, run, &restored, &undone.kept)?;
    let _ = std::fs::remove_dir_all(backup_dir_path(ws, run));
    Ok(Some(Recovered {
        run,
        plan: plan_id,
        restored,
        overwritten: undone
            .kept
            .into_iter()
            .map(|(path, kept)| Overwritten { path, kept })
            .collect(),
    }))
}
