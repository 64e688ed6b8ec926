//! Whole-table scans for `verify` and `gc`: rows as stored (text, not yet judged), so
//! that the checker can name every row that is wrong instead of stopping at the first.

use super::Journal;
use crate::error::Result;
use std::collections::{BTreeSet, HashMap};

/// A plans row as stored.
#[derive(Debug, Clone)]
pub struct StoredPlan {
    pub id: String,
    pub status: String,
    pub canonical: String,
    pub created: String,
    pub title: String,
    pub author: String,
    pub reverses: Option<String>,
}

/// One row of the changes table: index, path, before and after hashes.
pub type ChangeRow = (i64, String, Option<String>, Option<String>);

/// A recorded signed approval: its row, plan, the statement and approval file it was
/// granted from, and the columns the gate counts.
#[derive(Debug, Clone)]
pub struct SignedRow {
    pub id: i64,
    pub plan: String,
    pub statement: Option<String>,
    pub file: Option<String>,
    pub approval_id: Option<String>,
    pub principal: Option<String>,
    pub key: Option<String>,
}

impl Journal {
    /// Every plans row, in order, passed to `f` as it is read.
    pub fn for_each_stored_plan(&self, mut f: impl FnMut(StoredPlan) -> Result<()>) -> Result<()> {
        let mut stmt = self.conn.prepare(
            "SELECT id, status, canonical, created, title, author, reverses FROM plans ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(StoredPlan {
                id: row.get(0)?,
                status: row.get(1)?,
                canonical: row.get(2)?,
                created: row.get(3)?,
                title: row.get(4)?,
                author: row.get(5)?,
                reverses: row.get(6)?,
            })
        })?;
        for row in rows {
            f(row?)?;
        }
        Ok(())
    }

    /// Every changes row, read in one scan (a lookup per plan costs more), by plan.
    pub fn changes_by_plan(&self) -> Result<HashMap<String, Vec<ChangeRow>>> {
        let mut out: HashMap<String, Vec<ChangeRow>> = HashMap::new();
        let mut scan = self
            .conn
            .prepare("SELECT plan, idx, path, before_hash, after_hash FROM changes")?;
        for row in scan.query_map([], |row| {
            Ok((
                row.get::<_, String>(0)?,
                (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?),
            ))
        })? {
            let (plan, change) = row?;
            out.entry(plan).or_default().push(change);
        }
        Ok(out)
    }

    /// Every signed approval recorded.
    pub fn signed_approvals(&self) -> Result<Vec<SignedRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, plan, statement, signature, approval_id, principal, key_fingerprint FROM approvals WHERE method = 'ssh'",
        )?;
        let rows = stmt
            .query_map([], |row| {
                Ok(SignedRow {
                    id: row.get(0)?,
                    plan: row.get(1)?,
                    statement: row.get(2)?,
                    file: row.get(3)?,
                    approval_id: row.get(4)?,
                    principal: row.get(5)?,
                    key: row.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Every blob the journal references: plans' contents before and after, what exec
    /// steps recorded, and blobs kept for a run (command output, overwritten content).
    pub fn referenced_blobs(&self) -> Result<BTreeSet<String>> {
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        let mut stmt = self
            .conn
            .prepare("SELECT before_hash, after_hash FROM changes")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, Option<String>>(0)?,
                row.get::<_, Option<String>>(1)?,
            ))
        })?;
        for row in rows {
            let (a, b) = row?;
            referenced.extend(a);
            referenced.extend(b);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT before, COALESCE(after, 'null') FROM run_exec")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (a, b) = row?;
            for t in [a, b] {
                if let Ok(crate::model::State::File { sha256, .. }) =
                    serde_json::from_str::<crate::model::State>(&t)
                {
                    referenced.insert(sha256);
                }
            }
        }
        let mut stmt = self.conn.prepare("SELECT hash FROM blobs_extra")?;
        for h in stmt.query_map([], |row| row.get::<_, String>(0))? {
            referenced.insert(h?);
        }
        Ok(referenced)
    }
}
