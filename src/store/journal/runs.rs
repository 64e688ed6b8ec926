//! The `runs` table, what exec steps recorded (`run_exec`), and blobs kept for a run
//! (`blobs_extra`): a run's intent, its progress and its end.

use super::{Journal, Tx};
use crate::error::Result;
use crate::model::{Change, PlanId, RunKind, RunState, State};
use rusqlite::{OptionalExtension, params};

/// One `run_exec` row as stored: a step's marker row has an empty path (its state in
/// `before`); the others hold a path's snapshot and, once known, what the command left.
#[derive(Debug, Clone)]
pub struct ExecRow {
    pub step: usize,
    pub path: String,
    pub before: String,
    pub after: Option<String>,
}

fn state_json(st: &State) -> String {
    serde_json::to_string(st).unwrap_or_default()
}

impl Journal {
    /// The oldest run marked running, with its plan. A run whose state this build never
    /// writes is an integrity error: it might be one that is running.
    pub fn running_run(&self) -> Result<Option<(i64, PlanId)>> {
        let known: Vec<&str> = RunState::ALL.iter().map(|s| s.as_str()).collect();
        if let Some(text) =
            super::plans::unknown_value(&self.conn, "runs", "state", "runs_state", &known)?
        {
            RunState::from_journal(&text)?;
        }
        let found: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT id, plan FROM runs WHERE state = 'running' ORDER BY id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        found
            .map(|(run, plan)| Ok((run, PlanId::from_journal(plan, "a runs row's plan")?)))
            .transpose()
    }

    /// Run `run`'s state, if it has a row.
    pub fn run_state(&self, run: i64) -> Result<Option<RunState>> {
        let state: Option<String> = self
            .conn
            .query_row("SELECT state FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .optional()?;
        state.as_deref().map(RunState::from_journal).transpose()
    }

    /// Every run's id and state as stored, in order (`verify` reports unknown states).
    pub fn run_states_as_stored(&self) -> Result<Vec<(i64, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, state FROM runs ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// What run `run`'s exec steps recorded.
    pub fn exec_rows(&self, run: i64) -> Result<Vec<ExecRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT step, path, before, after FROM run_exec WHERE run = ?1")?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(ExecRow {
                    step: r.get::<_, i64>(0)? as usize,
                    path: r.get(1)?,
                    before: r.get(2)?,
                    after: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// What the exec steps of plan `plan`'s committed runs changed, as (path, before,
    /// after) texts in run and step order.
    pub fn committed_exec_effects(&self, plan: &str) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.path, e.before, e.after FROM run_exec e JOIN runs r ON r.id = e.run
             WHERE r.plan = ?1 AND r.state = 'committed' AND e.after IS NOT NULL ORDER BY e.run, e.step",
        )?;
        let rows = stmt
            .query_map([plan], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

impl Tx<'_> {
    /// A run's intent: its row, marked running. Returns the run id.
    pub fn start_run(&self, plan: &str, kind: RunKind) -> Result<i64> {
        self.tx.execute(
            "INSERT INTO runs (plan, kind, state, started) VALUES (?1, ?2, ?3, ?4)",
            params![
                plan,
                kind.as_str(),
                RunState::Running.as_str(),
                crate::util::ids::now_string()
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Mark run `run` committed, with its metrics (JSON).
    pub fn commit_run(&self, run: i64, duration_ms: i64, metrics: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE runs SET state = ?5, finished = ?2, duration_ms = ?3, metrics = ?4 WHERE id = ?1",
            params![run, crate::util::ids::now_string(), duration_ms, metrics, RunState::Committed.as_str()],
        )?;
        Ok(())
    }

    /// Mark run `run` failed, with why.
    pub fn fail_run(&self, run: i64, duration_ms: i64, error: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE runs SET state = ?5, finished = ?2, duration_ms = ?3, error = ?4 WHERE id = ?1",
            params![
                run,
                crate::util::ids::now_string(),
                duration_ms,
                error,
                RunState::Failed.as_str()
            ],
        )?;
        Ok(())
    }

    /// Mark run `run` recovered.
    pub fn recover_run(&self, run: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE runs SET state = ?3, finished = ?2 WHERE id = ?1",
            params![
                run,
                crate::util::ids::now_string(),
                RunState::Recovered.as_str()
            ],
        )?;
        Ok(())
    }

    /// Keep blob `hash` referenced (so `gc` keeps it) on behalf of `owner`.
    pub fn keep_blob(&self, hash: &str, owner: &str) -> Result<()> {
        self.tx
            .prepare_cached("INSERT INTO blobs_extra (hash, owner) VALUES (?1, ?2)")?
            .execute(params![hash, owner])?;
        Ok(())
    }

    /// Mark approval row `row` used by run `run`; returns its approval id (signed ones).
    pub fn consume_approval(&self, row: i64, run: i64) -> Result<Option<String>> {
        self.tx.execute(
            "UPDATE approvals SET consumed_by = ?2 WHERE id = ?1",
            params![row, run],
        )?;
        Ok(self.tx.query_row(
            "SELECT approval_id FROM approvals WHERE id = ?1",
            [row],
            |r| r.get::<_, Option<String>>(0),
        )?)
    }

    /// Step `k`'s marker row (an empty path; its state in `before`).
    pub fn set_exec_marker(&self, run: i64, k: usize, marker: &str) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO run_exec (run, step, path, before) VALUES (?1, ?2, '', ?3)",
            params![run, k as i64, marker],
        )?;
        Ok(())
    }

    /// Update step `k`'s marker.
    pub fn update_exec_marker(&self, run: i64, k: usize, marker: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE run_exec SET before = ?3 WHERE run = ?1 AND step = ?2 AND path = ''",
            params![run, k as i64, marker],
        )?;
        Ok(())
    }

    /// Step `k`'s snapshot of `path`, before its command runs.
    pub fn exec_snapshot(&self, run: i64, k: usize, path: &str, before: &State) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO run_exec (run, step, path, before) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![run, k as i64, path, state_json(before)])?;
        Ok(())
    }

    /// What step `k`'s command changed at one path.
    pub fn exec_observed(&self, run: i64, k: usize, change: &Change) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO run_exec (run, step, path, before, after) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                run,
                k as i64,
                change.path,
                state_json(&change.before),
                state_json(&change.after)
            ])?;
        Ok(())
    }

    /// The snapshot rows of paths a finished run's steps did not change are of no further
    /// use (and would keep their blobs from `gc`).
    pub fn forget_unchanged(&self, run: i64) -> Result<()> {
        self.tx.execute(
            "DELETE FROM run_exec WHERE run = ?1 AND after IS NULL AND path != ''",
            [run],
        )?;
        Ok(())
    }
}
