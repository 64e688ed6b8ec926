//! Recovery after a crash: the interrupted run's paths are each decided by what is there
//! now (after -> undo, before -> leave, anything else -> stop and report). Idempotent. A
//! recovery that stops is journaled (`run.recovery_stopped`) with the paths it did restore.

use super::fsops::{StepCtx, backup_dir_path};
use super::{Reporter, execution_order, failpoint};
use crate::error::Result;
use crate::plan::{Plan, State};
use crate::store::blobs::BlobStore;
use crate::store::journal::{Journal, append_event};
use crate::workspace::Workspace;
use rusqlite::params;
use serde_json::json;
use std::collections::BTreeMap;

/// What `recover` did.
#[derive(Debug, serde::Serialize)]
pub struct Recovered {
    pub run: i64,
    pub plan: String,
    pub restored: Vec<String>,
}

/// Put the workspace back to the interrupted run's `before`. `None` when nothing was
/// interrupted. The caller holds the lock.
pub fn recover(
    ws: &Workspace,
    journal: &mut Journal,
    blobs: &BlobStore,
    actor: &str,
    reporter: &mut dyn Reporter,
) -> Result<Option<Recovered>> {
    let Some((run, plan_id)) = super::run::interrupted(journal)? else {
        return Ok(None);
    };
    let canonical: String = journal.conn.query_row(
        "SELECT canonical FROM plans WHERE id = ?1",
        [&plan_id],
        |r| r.get(0),
    )?;
    let plan = Plan::from_canonical(&canonical)?;
    let mut ctx = StepCtx::new(ws, blobs, run)?;
    let mut restored = Vec::new();
    // Exec steps ran after the file changes: undo them first, newest first, from their
    // journaled snapshots (their `after` is unknown after a crash).
    let mut snapshots: BTreeMap<usize, BTreeMap<String, State>> = BTreeMap::new();
    {
        let mut stmt = journal
            .conn
            .prepare("SELECT step, path, before FROM run_exec WHERE run = ?1")?;
        let rows = stmt.query_map([run], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (step, path, before) = row?;
            let entry = snapshots.entry(step as usize).or_default();
            if path.is_empty() {
                continue;
            }
            let state: State = serde_json::from_str(&before).map_err(|e| {
                crate::error::Error::integrity(format!(
                    "the journal's snapshot of {path} does not decode: {e}"
                ))
            })?;
            entry.insert(path, state);
        }
    }
    // Stopping part-way (a path that is neither `after` nor `before`, exit 4; an I/O error)
    // leaves the paths restored so far restored: journal exactly those, and where it stopped.
    let outcome = (|| -> Result<()> {
        for (k, before) in snapshots.iter().rev() {
            let step = plan.exec.get(*k).ok_or_else(|| {
                crate::error::Error::integrity(format!(
                    "run {run} has a snapshot for exec step {k}, which its plan lacks"
                ))
            })?;
            restored.extend(super::exec_step::restore(ws, blobs, step, before)?);
        }
        for &i in execution_order(&plan.changes).iter().rev() {
            let c = &plan.changes[i];
            if ctx.backward(i, c)? {
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
            "run.recovery_stopped",
            Some(&plan_id),
            &json!({ "run": run, "restored": restored, "error": e.message, "exit": e.kind.exit_code() }),
        )?;
        return Err(e);
    }
    let rules = journal.rules_digest.clone();
    journal.write(|tx| {
        tx.execute(
            "UPDATE runs SET state = 'recovered', finished = ?2 WHERE id = ?1",
            params![run, crate::ids::now_string()],
        )?;
        append_event(
            tx,
            &rules,
            actor,
            "run.recovered",
            Some(&plan_id),
            &json!({ "run": run, "restored": restored }),
        )?;
        Ok(())
    })?;
    let _ = std::fs::remove_dir_all(backup_dir_path(ws, run));
    Ok(Some(Recovered {
        run,
        plan: plan_id,
        restored,
    }))
}
