//! The `plans` and `changes` tables, and the paths each reverse plan covers
//! (`reverse_paths`). Rows come out typed: an id that is not 64 hex digits or a status
//! this build does not write is an integrity error (exit 7).

use super::{Journal, Tx};
use crate::error::{Error, Result};
use crate::model::{Plan, PlanId, PlanStatus};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;

/// A plan as listed: id, status, title.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanRow {
    pub id: PlanId,
    pub status: PlanStatus,
    pub title: String,
    pub author: String,
    pub created: String,
    pub reverses: Option<PlanId>,
}

/// Which plan a command works on when none is named: the newest with a status, the newest
/// applied plan that is not itself a reversal, or the newest of all.
#[derive(Debug, Clone, Copy)]
pub enum Newest {
    With(PlanStatus),
    AppliedOriginal,
    Any,
}

/// A signed approval a committed run consumed: its row, who, how, which key.
#[derive(Debug, Clone)]
pub struct UsedApproval {
    pub row: i64,
    pub principal: String,
    pub method: String,
    pub key: Option<String>,
}

const PLAN_COLUMNS: &str = "p.id, p.status, p.title, p.author, p.created, p.reverses";

/// The columns of [`PLAN_COLUMNS`] as stored, before they are checked.
struct Raw(String, String, String, String, String, Option<String>);

fn raw(r: &rusqlite::Row) -> rusqlite::Result<Raw> {
    Ok(Raw(
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

impl Raw {
    fn check(self) -> Result<PlanRow> {
        let Raw(id, status, title, author, created, reverses) = self;
        Ok(PlanRow {
            id: PlanId::from_journal(id, "a plans row's id")?,
            status: PlanStatus::from_journal(&status)?,
            title,
            author,
            created,
            reverses: reverses
                .map(|r| PlanId::from_journal(r, "a plans row's reverses"))
                .transpose()?,
        })
    }
}

/// Plan rows whose status this build never writes. Listings filter on the status, so a
/// row with an unknown one would silently drop out of them: every listing first probes
/// the gaps between the known statuses (a few seeks on the `plans_status` index).
fn check_statuses(conn: &Connection) -> Result<()> {
    let known: Vec<&str> = PlanStatus::ALL.iter().map(|s| s.as_str()).collect();
    match unknown_value(conn, "plans", "status", "plans_status", &known)? {
        Some(text) => PlanStatus::from_journal(&text).map(|_| ()),
        None => Ok(()),
    }
}

/// The first value of `column` (indexed by `index`) that is none of `known`, probing only
/// the gaps between them.
pub(super) fn unknown_value(
    conn: &Connection,
    table: &str,
    column: &str,
    index: &str,
    known: &[&str],
) -> Result<Option<String>> {
    let mut known = known.to_vec();
    known.sort_unstable();
    let mut gaps = vec![format!("{column} < '{}'", known[0])];
    for w in known.windows(2) {
        gaps.push(format!("({column} > '{}' AND {column} < '{}')", w[0], w[1]));
    }
    gaps.push(format!("{column} > '{}'", known[known.len() - 1]));
    let sql = format!(
        "SELECT {column} FROM {table} INDEXED BY {index} WHERE {} LIMIT 1",
        gaps.join(" OR ")
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([], |r| r.get(0))
        .optional()?)
}

fn rows(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Vec<PlanRow>> {
    check_statuses(conn)?;
    let mut stmt = conn.prepare(sql)?;
    let raws = stmt
        .query_map(params, raw)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    raws.into_iter().map(Raw::check).collect()
}

fn status_list(statuses: &[PlanStatus]) -> String {
    // Quoted constants from the enum: no text from outside reaches the SQL.
    statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

impl Journal {
    /// The newest plan `which` selects.
    pub fn newest_plan(&self, which: Newest) -> Result<Option<PlanRow>> {
        let filter = match which {
            Newest::With(s) => format!("p.status = '{}'", s.as_str()),
            Newest::AppliedOriginal => "p.status = 'applied' AND p.reverses IS NULL".into(),
            Newest::Any => "1 = 1".into(),
        };
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM plans p WHERE {filter} ORDER BY p.seq DESC LIMIT 1"
        );
        Ok(rows(&self.conn, &sql, [])?.into_iter().next())
    }

    /// Plans whose id starts with `prefix` (lowercase hex), newest first, at most `limit`.
    pub fn plans_by_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<PlanRow>> {
        // Every id is lowercase hex, so [prefix, prefix + "g") is exactly the ids it starts.
        let hi = format!("{prefix}g");
        rows(
            &self.conn,
            &format!(
                "SELECT {PLAN_COLUMNS} FROM plans p WHERE p.id >= ?1 AND p.id < ?2 ORDER BY p.seq DESC LIMIT ?3"
            ),
            params![prefix, hi, limit as i64],
        )
    }

    /// Plans with one of `statuses`, newest first.
    pub fn plans_with_status(&self, statuses: &[PlanStatus], limit: usize) -> Result<Vec<PlanRow>> {
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM plans p WHERE p.status IN ({}) ORDER BY p.seq DESC LIMIT ?1",
            status_list(statuses)
        );
        rows(&self.conn, &sql, [limit as i64])
    }

    /// Open plans (pending or approved, newest first) with this title and author, each
    /// with the actor who proposed it (its `plan.created` event): the candidates
    /// `ops::propose` compares a new plan with.
    pub fn open_plans_like(&self, title: &str, author: &str) -> Result<Vec<(PlanRow, String)>> {
        check_statuses(&self.conn)?;
        let sql = format!(
            "SELECT {PLAN_COLUMNS}, e.actor FROM plans p \
             JOIN events e ON e.plan = p.id AND e.kind = 'plan.created' \
             WHERE p.status IN ('pending', 'approved') AND p.title = ?1 AND p.author = ?2 \
             ORDER BY p.seq DESC LIMIT 100"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let found = stmt
            .query_map(params![title, author], |r| {
                Ok((raw(r)?, r.get::<_, String>(6)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        found
            .into_iter()
            .map(|(raw, actor)| Ok((raw.check()?, actor)))
            .collect()
    }

    /// Pending plans no one has declined (no decision yet, or the latest is not a
    /// decline), newest first.
    pub fn waiting_plans(&self, limit: usize) -> Result<Vec<PlanRow>> {
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM plans p
             WHERE p.status = 'pending' AND COALESCE(
                 (SELECT decision FROM approvals WHERE plan = p.id ORDER BY id DESC LIMIT 1), '') <> 'decline'
             ORDER BY p.seq DESC LIMIT ?1"
        );
        rows(&self.conn, &sql, [limit as i64])
    }

    /// Pending plans whose latest decision is a decline, with who declined and why.
    pub fn declined_plans(&self, limit: usize) -> Result<Vec<(PlanRow, String, Option<String>)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {PLAN_COLUMNS}, a.principal, a.reason
             FROM plans p JOIN approvals a ON a.id = (SELECT MAX(id) FROM approvals WHERE plan = p.id)
             WHERE p.status = 'pending' AND a.decision = 'decline'
             ORDER BY p.seq DESC LIMIT ?1"
        ))?;
        let found = stmt
            .query_map([limit as i64], |r| Ok((raw(r)?, r.get(6)?, r.get(7)?)))?
            .collect::<rusqlite::Result<Vec<(Raw, String, Option<String>)>>>()?;
        found
            .into_iter()
            .map(|(row, by, reason)| Ok((row.check()?, by, reason)))
            .collect()
    }

    /// Up to `cap` plans for shell completion, newest first: ids starting with `prefix`
    /// (lowercase hex; empty for any) and, when given, with one of `statuses`.
    pub fn completion_plans(
        &self,
        statuses: &[PlanStatus],
        prefix: &str,
        cap: usize,
    ) -> Result<Vec<PlanRow>> {
        // Without a prefix, leave ids out so the query walks the seq index instead.
        let (mut filter, bounds) = if prefix.is_empty() {
            (vec!["1 = 1".to_string()], vec![])
        } else {
            (
                vec!["p.id >= ?1 AND p.id < ?2".to_string()],
                vec![prefix.to_string(), format!("{prefix}g")],
            )
        };
        if !statuses.is_empty() {
            filter.push(format!("p.status IN ({})", status_list(statuses)));
        }
        let sql = format!(
            "SELECT {PLAN_COLUMNS} FROM plans p WHERE {} ORDER BY p.seq DESC LIMIT {cap}",
            filter.join(" AND ")
        );
        rows(&self.conn, &sql, rusqlite::params_from_iter(bounds))
    }

    /// The stored canonical text of plan `id`.
    pub fn canonical(&self, id: &str) -> Result<String> {
        canonical(&self.conn, id)?.ok_or_else(|| {
            Error::integrity(format!(
                "plan {} has no plans row",
                crate::model::id::short(id)
            ))
            .hint("run `autonomy verify`")
        })
    }

    /// The status of plan `id`, if it has a row.
    pub fn plan_status(&self, id: &str) -> Result<Option<PlanStatus>> {
        let status: Option<String> = self
            .conn
            .query_row("SELECT status FROM plans WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        status.as_deref().map(PlanStatus::from_journal).transpose()
    }

    /// Pending or approved reverse plans of `orig`, newest first.
    pub fn open_reverse_plans(&self, orig: &str) -> Result<Vec<PlanId>> {
        let mut stmt = self.conn.prepare(
            "SELECT id FROM plans WHERE reverses = ?1 AND status IN ('pending', 'approved') ORDER BY seq DESC",
        )?;
        let ids = stmt
            .query_map([orig], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        ids.into_iter()
            .map(|id| PlanId::from_journal(id, "a reverse plan's id"))
            .collect()
    }

    /// The paths reverse plan `id` covers.
    pub fn covered_paths(&self, id: &str) -> Result<Vec<String>> {
        covered_paths(&self.conn, id)
    }

    /// The signed approvals of plan `id` that a committed run consumed.
    pub fn used_signed_approvals(&self, id: &str) -> Result<Vec<UsedApproval>> {
        let mut stmt = self.conn.prepare(
            "SELECT a.id, a.principal, a.method, a.key_fingerprint FROM approvals a
             JOIN runs r ON r.id = a.consumed_by
             WHERE a.plan = ?1 AND a.method <> 'terminal' AND a.decision = 'approve' AND r.state = 'committed'
             ORDER BY a.id",
        )?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(UsedApproval {
                    row: r.get(0)?,
                    principal: r.get(1)?,
                    method: r.get(2)?,
                    key: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

fn canonical(conn: &Connection, id: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT canonical FROM plans WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

fn covered_paths(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT path FROM reverse_paths WHERE plan = ?1 ORDER BY path")?;
    let paths = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paths)
}

/// Record the paths reverse plan `id` covers.
pub(super) fn insert_covered(conn: &Connection, id: &str, paths: &[String]) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("INSERT OR IGNORE INTO reverse_paths (plan, path) VALUES (?1, ?2)")?;
    for p in paths {
        stmt.execute(params![id, p])?;
    }
    Ok(())
}

impl Tx<'_> {
    /// Whether plan `id` has a row.
    pub fn plan_exists(&self, id: &str) -> Result<bool> {
        Ok(self
            .tx
            .query_row("SELECT 1 FROM plans WHERE id = ?1", [id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Store plan `id` (pending) with its changes index; a reverse plan with the paths it
    /// covers (`covers`; every path of the plan it reverses when `None`).
    pub fn insert_plan(&self, id: &PlanId, plan: &Plan, covers: Option<&[String]>) -> Result<()> {
        let seq: i64 =
            self.tx
                .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM plans", [], |r| {
                    r.get(0)
                })?;
        self.tx.execute(
            "INSERT INTO plans (id, seq, created, title, author, status, reverses, canonical) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![id.as_str(), seq, plan.created, plan.title, plan.author, PlanStatus::Pending.as_str(), plan.reverses.as_deref(), plan.canonical()],
        )?;
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO changes (plan, idx, path, before_hash, after_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (i, c) in plan.changes.iter().enumerate() {
            stmt.execute(params![
                id.as_str(),
                i as i64,
                c.path,
                c.before.file_hash(),
                c.after.file_hash()
            ])?;
        }
        if let Some(orig) = &plan.reverses {
            let all;
            let paths = match covers {
                Some(p) => p,
                None => {
                    all = changed_paths(&self.tx, orig)?;
                    &all[..]
                }
            };
            insert_covered(&self.tx, id, paths)?;
        }
        Ok(())
    }

    /// Set plan `id`'s status.
    pub fn set_plan_status(&self, id: &str, status: PlanStatus) -> Result<()> {
        self.tx.execute(
            "UPDATE plans SET status = ?2 WHERE id = ?1",
            params![id, status.as_str()],
        )?;
        Ok(())
    }

    /// When a reverse plan of `orig` commits: `orig` becomes `rolled_back` once the
    /// applied reverse plans together cover every path it changed. After a partial
    /// rollback it stays `applied`, so the rest can still be rolled back later.
    pub fn mark_reversed(&self, orig: &str) -> Result<()> {
        let paths: BTreeSet<String> = changed_paths(&self.tx, orig)?.into_iter().collect();
        let mut stmt = self.tx.prepare(
            "SELECT rp.path FROM reverse_paths rp JOIN plans r ON r.id = rp.plan
             WHERE r.reverses = ?1 AND r.status = 'applied'",
        )?;
        let covered: BTreeSet<String> = stmt
            .query_map([orig], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if paths.is_subset(&covered) {
            self.set_plan_status(orig, PlanStatus::RolledBack)?;
        }
        Ok(())
    }
}

/// The paths plan `id` changes, in plan order.
fn changed_paths(conn: &Connection, id: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT path FROM changes WHERE plan = ?1 ORDER BY idx")?;
    let paths = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paths)
}
