//! The `sessions` table: agent sessions (`autonomy session`), each a copy-on-write view
//! under `.autonomy/views/` with a name, the agent's command and identity, and the plan
//! it proposed last. What happened is in the events (`session.started`,
//! `session.agent_exited`, `session.ended`, and each proposal's `plan.created`, which
//! names the session); this table is the index the commands look sessions up in.

use super::{Journal, Tx};
use crate::error::{Error, Result};
use crate::model::{PlanId, PlanStatus};
use rusqlite::{OptionalExtension, params};

/// One session as stored, with its last plan's status.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub name: String,
    /// The view's id (its folder under `.autonomy/views/`).
    pub view: String,
    /// The agent's command line.
    pub argv: Vec<String>,
    /// The agent's identity (`agent:NAME`), the author of its plans.
    pub agent: String,
    pub started: String,
    /// When it was ended (its view discarded); `None` while it is open.
    pub ended: Option<String>,
    /// The plan it proposed last, and that plan's status now.
    pub last_plan: Option<(PlanId, PlanStatus)>,
}

const COLUMNS: &str = "s.name, s.view, s.argv, s.agent, s.started, s.ended, s.last_plan, p.status";

fn row(
    r: &rusqlite::Row,
) -> rusqlite::Result<(SessionRow, Option<String>, Option<String>, String)> {
    let argv: String = r.get(2)?;
    Ok((
        SessionRow {
            name: r.get(0)?,
            view: r.get(1)?,
            argv: Vec::new(),
            agent: r.get(3)?,
            started: r.get(4)?,
            ended: r.get(5)?,
            last_plan: None,
        },
        r.get(6)?,
        r.get(7)?,
        argv,
    ))
}

fn decode(
    (mut s, plan, status, argv): (SessionRow, Option<String>, Option<String>, String),
) -> Result<SessionRow> {
    s.argv = serde_json::from_str(&argv).map_err(|e| {
        Error::integrity(format!(
            "sessions.argv of session {} does not decode ({e}); the journal was altered",
            s.name
        ))
        .hint("run `autonomy verify`; restore .autonomy/ from a backup")
    })?;
    if let (Some(plan), Some(status)) = (plan, status) {
        let id = PlanId::parse(&plan).ok_or_else(|| {
            Error::integrity(format!(
                "sessions.last_plan of session {} is not a plan id; the journal was altered",
                s.name
            ))
        })?;
        s.last_plan = Some((id, PlanStatus::from_journal(&status)?));
    }
    Ok(s)
}

impl Journal {
    /// Sessions, oldest first: the open ones, and the ended ones too when `ended`.
    pub fn agent_sessions(&self, ended: bool) -> Result<Vec<SessionRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions s LEFT JOIN plans p ON p.id = s.last_plan \
             WHERE ?1 OR s.ended IS NULL ORDER BY s.started, s.name"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt
            .query_map([ended], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(decode).collect()
    }

    /// The open session named `name`.
    pub fn agent_session(&self, name: &str) -> Result<Option<SessionRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sessions s LEFT JOIN plans p ON p.id = s.last_plan \
             WHERE s.name = ?1 AND s.ended IS NULL"
        );
        let found = self.conn.query_row(&sql, [name], row).optional()?;
        found.map(decode).transpose()
    }
}

impl Tx<'_> {
    /// Record a new open session (its name must not name another open one).
    pub fn insert_agent_session(&self, s: &SessionRow) -> Result<()> {
        let argv = serde_json::to_string(&s.argv)
            .map_err(|e| Error::failed(format!("encoding the agent's command: {e}")))?;
        self.tx.execute(
            "INSERT INTO sessions (name, view, argv, agent, started) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![s.name, s.view, argv, s.agent, s.started],
        )?;
        Ok(())
    }

    /// A session resumed by another agent command: its command and identity now.
    pub fn resume_agent_session(&self, view: &str, argv: &[String], agent: &str) -> Result<()> {
        let argv = serde_json::to_string(argv)
            .map_err(|e| Error::failed(format!("encoding the agent's command: {e}")))?;
        self.tx.execute(
            "UPDATE sessions SET argv = ?2, agent = ?3 WHERE view = ?1 AND ended IS NULL",
            params![view, argv, agent],
        )?;
        Ok(())
    }

    /// The plan the session `view` proposed last.
    pub fn set_session_plan(&self, view: &str, plan: &PlanId) -> Result<()> {
        self.tx.execute(
            "UPDATE sessions SET last_plan = ?2 WHERE view = ?1",
            params![view, plan.as_str()],
        )?;
        Ok(())
    }

    /// Mark the session `view` ended at `at`.
    pub fn end_agent_session(&self, view: &str, at: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE sessions SET ended = ?2 WHERE view = ?1 AND ended IS NULL",
            params![view, at],
        )?;
        Ok(())
    }

    /// Whether an open session is named `name`.
    pub fn agent_session_open(&self, name: &str) -> Result<bool> {
        let n: i64 = self.tx.query_row(
            "SELECT COUNT(*) FROM sessions WHERE name = ?1 AND ended IS NULL",
            [name],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }
}
