//! Recovery after a crash: the interrupted run's paths are each decided by what is there
//! now (after -> undo, before -> leave, anything else -> stop and report, exit 4).
//! Idempotent. A recovery that stops is journaled (`run.recovery_stopped`) with the paths
//! it did restore. Exec steps are decided the same way against what their commands were
//! observed to write (journaled as soon as it was known); a step interrupted while its
//! command ran has no known `after`, so any path differing from its snapshot is a
//! conflict. With `overwrite`, conflicting contents are kept in the store (and named in
//! the journal) and every path is put back all the same.

use super::exec_step::{self, Undo};
use super::fsops::{StepCtx, TEMP_PREFIX, backup_dir_path};
use super::reserve::Reservation;
use super::run::{STEP_OBSERVED, STEP_SNAPSHOT};
use super::{Reporter, execution_order, failpoint};
use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::model::{Plan, State};
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
    let Some((run, plan_id)) = super::run::interrupted(journal)? else {
        return Ok(None);
    };
    // The room the run set aside is recovery's now.
    Reservation::release_leftover(ws);
    let canonical = journal.canonical(&plan_id)?;
    let plan = Plan::from_canonical(&canonical)?;
    let token = temp_token(journal, run)?;
    let mut ctx = StepCtx::new(ws, blobs, run, token.clone())?;
    let mut restored = Vec::new();
    let mut overwritten = Vec::new();
    // Exec steps ran after the file changes: undo them first, newest first.
    let mut steps: BTreeMap<usize, StepRows> = BTreeMap::new();
    {
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
    }
    let mut touched: BTreeSet<String> = plan.changes.iter().map(|c| c.path.clone()).collect();
    // Stopping part-way (a path that is neither `after` nor `before`, exit 4; an I/O error)
    // leaves the paths restored so far restored: journal exactly those, and where it stopped.
    let outcome = (|| -> Result<()> {
        for (k, rows) in steps.iter().rev() {
            let step = plan.exec.get(*k).ok_or_else(|| {
                Error::integrity(format!(
                    "run {run} has a snapshot for exec step {k}, which its plan lacks"
                ))
            })?;
            let list: Vec<Undo> = if rows.not_started {
                Vec::new()
            } else if rows.observed {
                // Only what the command was seen to change; anything else under its
                // `touches` (made by hand since) is not the run's.
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
            touched.extend(list.iter().map(|u| u.path.clone()));
            let tmp =
                exec_step::restore_tmp(token.as_deref().unwrap_or(&super::fsops::new_token()), *k);
            let done =
                exec_step::undo(ws, blobs, &list, &[], &tmp, overwrite, &step.run.join(" "))?;
            restored.extend(done.restored);
            overwritten.extend(done.kept);
        }
        let order = execution_order(&plan.changes);
        // Every file change decided before any is undone, so that all conflicts are named.
        let mut conflicts = Vec::new();
        for &i in &order {
            let c = &plan.changes[i];
            let now = ws.state(&c.rel()?)?;
            if now != c.before && now != c.after {
                if overwrite {
                    if let State::File { .. } = now {
                        let rel = c.rel()?;
                        let dir = ws.open_dir(rel.parent().as_ref())?;
                        let f = crate::util::inode::open_regular(&dir, rel.file_name())
                            .map_err(|e| Error::io(format!("reading {rel}"), e))?;
                        let (h, _) = blobs.put_reader(f)?;
                        overwritten.push((c.path.clone(), h));
                    }
                } else {
                    conflicts.push(format!("  {}: found {}", c.path, now.describe()));
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(Error::stale(format!(
                "{} neither as before the interrupted run nor as after it; autonomy will not overwrite them:\n{}",
                crate::util::text::count(conflicts.len() as u64, "path"),
                conflicts.join("\n")
            ))
            .hint("put each file back to either version by hand (see `autonomy preview`), then run `autonomy recover` again; or run `autonomy recover --overwrite` to put back the run's `before` anyway (the current contents are kept in .autonomy/objects and listed in the journal)"));
        }
        for &i in order.iter().rev() {
            let c = &plan.changes[i];
            let moved = if overwrite {
                ctx.backward_forced(i, c)?
            } else {
                ctx.backward(i, c)?
            };
            if moved {
                reporter.undo(c);
                restored.push(c.path.clone());
            }
            failpoint("recover.after_step");
        }
        Ok(())
    })();
    if let Err(e) = outcome {
        journal.event(
            actor,
            EventKind::RunRecoveryStopped,
            Some(&plan_id),
            &json!({ "run": run, "restored": restored, "error": e.message, "exit": e.kind.exit_code() }),
        )?;
        return Err(e);
    }
    // Temp files this run left (named with its token) in any folder it touched.
    if let Some(t) = &token {
        let prefix = format!("{TEMP_PREFIX}{t}-");
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
    let kept: Vec<serde_json::Value> = overwritten
        .iter()
        .map(|(p, h)| json!({ "path": p, "kept": h }))
        .collect();
    journal.write(|tx| {
        tx.recover_run(run)?;
        tx.forget_unchanged(run)?;
        // Overwritten contents are referenced, so `gc` keeps them.
        for (_, h) in &overwritten {
            tx.keep_blob(h, &format!("recover:{run}"))?;
        }
        let mut data = json!({ "run": run, "restored": restored });
        if !kept.is_empty() {
            data["overwritten"] = json!(kept);
        }
        tx.event(actor, EventKind::RunRecovered, Some(&plan_id), &data)?;
        Ok(())
    })?;
    let _ = std::fs::remove_dir_all(backup_dir_path(ws, run));
    Ok(Some(Recovered {
        run,
        plan: plan_id,
        restored,
        overwritten: overwritten
            .into_iter()
            .map(|(path, kept)| Overwritten { path, kept })
            .collect(),
    }))
}
