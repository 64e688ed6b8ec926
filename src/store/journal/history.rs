//! Reads over the whole history: `autonomy stats` (what the journal says about how plans
//! fare), the path history risk assessment counts, and the evidence of `rules suggest`.
//!
//! Stats are computed in SQL (counts,
//! percentiles and per-directory rates are aggregated by SQLite, not by walking events in
//! Rust), so that it stays fast on a journal with millions of events.
//!
//! Counts follow the plans *proposed in the window* (a cohort): of the plans created since
//! `since`, how many were approved, declined, rejected, applied, failed, rolled back.
//! Durations and resource use follow the runs *started* in the window.

use super::Journal;
use super::events::AgentScope;
use crate::error::Result;
use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, params, params_from_iter};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Stats {
    pub format_version: u32,
    /// The window's start (RFC 3339, UTC); `None`: the whole history.
    pub since: Option<String>,
    pub depth: usize,
    pub plans: PlanCounts,
    /// plan.created -> first approval.granted, in seconds (journal times are whole seconds).
    pub approval_latency_s: Percentiles,
    /// Committed apply runs.
    pub apply_ms: Percentiles,
    /// Runs whose metrics record the verify command (`verify.wall_ms`, or `verify_ms`).
    pub verify_ms: Percentiles,
    pub exec: ExecUse,
    /// Per directory at `depth`, most rolled back first.
    pub directories: Vec<DirStats>,
}

/// Of the plans proposed in the window (rollback plans are not counted as proposals).
#[derive(Debug, Default, Serialize)]
pub struct PlanCounts {
    pub proposed: u64,
    /// With at least one approval (interactive or signed).
    pub approved: u64,
    /// With at least one recorded decline.
    pub declined: u64,
    pub rejected: u64,
    /// Applied by a committed run (whether or not rolled back later).
    pub applied: u64,
    /// With at least one failed run.
    pub failed: u64,
    /// With at least one applied rollback plan (whole or in part).
    pub rolled_back: u64,
    /// Still pending or approved, not applied.
    pub open: u64,
}

/// Nearest-rank percentiles; `None` when there is nothing to measure.
#[derive(Debug, Default, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<i64>,
    pub p95: Option<i64>,
    pub max: Option<i64>,
}

/// CPU time and peak memory of exec steps, from run metrics (`exec: [{user_ms, sys_ms,
/// max_rss_kib}]`). Zero and `None` when no run recorded any.
#[derive(Debug, Default, Serialize)]
pub struct ExecUse {
    pub runs: u64,
    pub steps: u64,
    pub user_ms: i64,
    pub sys_ms: i64,
    pub cpu_ms: i64,
    pub max_rss_kib: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct DirStats {
    /// The directory at the chosen depth, with a trailing `/` (`./` for the root).
    pub dir: String,
    pub plans: u64,
    pub rolled_back: u64,
    pub rollback_rate: f64,
    pub failed: u64,
    pub failed_verifies: u64,
    pub failed_verify_rate: f64,
}

/// The directory of `path` at `depth` (1 = top level), with a trailing slash; files above
/// that depth count toward their own folder, root files toward `./`.
pub fn dir_at(path: &str, depth: usize) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let folders = parts.len() - 1;
    let take = depth.min(folders);
    if take == 0 {
        "./".to_string()
    } else {
        format!("{}/", parts[..take].join("/"))
    }
}

/// Register `autonomy_dir(path, depth)` on a connection (deterministic, so SQLite may
/// cache and reorder it).
fn register_functions(conn: &Connection) -> Result<()> {
    conn.create_scalar_function(
        "autonomy_dir",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let path: String = ctx.get(0)?;
            let depth: i64 = ctx.get(1)?;
            Ok(dir_at(&path, depth.max(1) as usize))
        },
    )?;
    Ok(())
}

/// The window's plans (rollback plans aside) with what happened to each, computed once
/// into a temporary table that the queries below share: this table, filled by
/// [`COHORT_ROWS`].
const COHORT: &str = "
DROP TABLE IF EXISTS temp.stats_cohort;
CREATE TEMP TABLE stats_cohort (
    k INTEGER PRIMARY KEY, id TEXT NOT NULL, created TEXT, status TEXT,
    rolled_back INTEGER, failed INTEGER, verify_failed INTEGER
);
";

/// The rows of [`COHORT`]: plans created since `?1`, `:scope` replaced by the agent scope's
/// condition (its values bound after `?1`). `IN (subquery)` rather than joins: SQLite
/// builds each list once, so this stays linear.
const COHORT_ROWS: &str = "
INSERT INTO stats_cohort
    SELECT p.seq, p.id, p.created, p.status,
           (p.status = 'rolled_back' OR p.id IN (
               SELECT reverses FROM plans WHERE reverses IS NOT NULL AND status = 'applied')),
           p.id IN (SELECT plan FROM runs WHERE state = 'failed' AND kind = 'apply'),
           p.id IN (
               SELECT plan FROM runs
               WHERE state = 'failed' AND kind = 'apply'
                 AND (error LIKE 'the verify command %' OR error LIKE 'verify command %'
                      OR (json_valid(metrics) AND json_extract(metrics, '$.verify_failed') = 1)))
    FROM plans p INDEXED BY plans_created
    WHERE p.created >= ?1 AND p.reverses IS NULL :scope
";

/// Compute the statistics. `since` in the stored time format, or `None` for all history.
impl Journal {
    /// The figures of `autonomy stats` since `since` (the whole history when `None`),
    /// per directory at `depth`.
    pub fn stats(&self, since: Option<&str>, depth: usize) -> Result<Stats> {
        compute(&self.conn, since, depth, &AgentScope::default())
    }

    /// [`Journal::stats`] of the plans that the tool calls in `scope` made (and the runs
    /// of those plans).
    pub fn stats_of(&self, since: Option<&str>, depth: usize, scope: &AgentScope) -> Result<Stats> {
        compute(&self.conn, since, depth, scope)
    }

    /// What happened to the last `window` decided plans (applied, rolled back, or with a
    /// failed run; reverse plans and `exclude` left out) that changed `path`.
    pub fn path_history(&self, path: &str, exclude: &str, window: usize) -> Result<PathHistory> {
        let mut stmt = self.conn.prepare_cached(PATH_HISTORY)?;
        let mut h = PathHistory::default();
        let mut rows = stmt.query(params![path, exclude, window as i64])?;
        while let Some(r) = rows.next()? {
            h.decided += 1;
            if r.get::<_, bool>(0)? {
                h.rolled_back += 1;
            }
            if r.get::<_, bool>(1)? {
                h.failed += 1;
            }
        }
        Ok(h)
    }

    /// (plans assessed high risk when planned, all plans, high-risk ones rolled back)
    /// among the plans proposed since `from`.
    pub fn high_risk_counts(&self, from: &str) -> Result<(u64, u64, u64)> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(h.high), 0), COUNT(*), COALESCE(SUM(h.high AND h.rolled), 0) FROM (
                SELECT (SELECT json_extract(e.data, '$.risk.level') = 'high' FROM events e
                        WHERE e.plan = p.id AND e.kind = 'plan.created' ORDER BY e.seq LIMIT 1) AS high,
                       (p.status = 'rolled_back') AS rolled
                FROM plans p WHERE p.reverses IS NULL AND p.created >= ?1) h",
            [from],
            |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                ))
            },
        )?)
    }
}

/// What happened to the most recent decided plans touching one path.
#[derive(Debug, Default, Clone, Copy)]
pub struct PathHistory {
    pub decided: usize,
    pub rolled_back: usize,
    pub failed: usize,
}

/// The last `?3` decided plans (applied, rolled back, or with a failed run; reverse
/// plans and `?2` left out) that changed `?1`, newest first.
const PATH_HISTORY: &str = "
SELECT
  (p.status = 'rolled_back' OR EXISTS (
      SELECT 1 FROM changes rc JOIN plans r ON r.id = rc.plan
      WHERE rc.path = ?1 AND r.reverses = p.id AND r.status = 'applied')),
  EXISTS (SELECT 1 FROM runs x WHERE x.plan = p.id AND x.state = 'failed')
FROM changes c JOIN plans p ON p.id = c.plan
WHERE c.path = ?1 AND p.reverses IS NULL AND p.id != ?2
  AND (p.status IN ('applied', 'rolled_back')
       OR EXISTS (SELECT 1 FROM runs x WHERE x.plan = p.id AND x.state = 'failed'))
ORDER BY p.seq DESC
LIMIT ?3";

fn compute(
    conn: &Connection,
    since: Option<&str>,
    depth: usize,
    scope: &AgentScope,
) -> Result<Stats> {
    register_functions(conn)?;
    let from = since.unwrap_or("");
    // Only the plans (and their runs) that the agents' calls in scope made: a condition on
    // `col`, and the parameters of a statement with it (`from` as ?1, then the scope's).
    let only = |col: &str| {
        let mut params = vec![from.to_string()];
        if scope.is_empty() {
            return (String::new(), params);
        }
        let plans = AgentScope::plans_query(&scope.call_condition(&mut params));
        (format!(" AND {col} IN ({plans})"), params)
    };
    // One read transaction: every figure comes from the same snapshot.
    let tx = conn.unchecked_transaction()?;
    let conn: &Connection = &tx;
    conn.execute_batch(COHORT)?;
    let (cond, cohort_params) = only("p.id");
    conn.execute(
        &COHORT_ROWS.replace(":scope", &cond),
        params_from_iter(&cohort_params),
    )?;
    let plans = plan_counts(conn)?;
    let approval_latency_s = percentiles(
        conn,
        "SELECT CAST(ROUND((julianday(MIN(a.at)) - julianday(c.created)) * 86400) AS INTEGER)
         FROM stats_cohort c JOIN approvals a ON a.plan = c.id AND a.decision = 'approve'
         WHERE ?1 = ?1 GROUP BY c.k",
        &[from.to_string()],
    )?;
    let (cond, runs_params) = only("plan");
    let apply_ms = percentiles(
        conn,
        &format!(
            "SELECT duration_ms FROM runs
             WHERE kind = 'apply' AND state = 'committed' AND started >= ?1 AND duration_ms IS NOT NULL{cond}"
        ),
        &runs_params,
    )?;
    let verify_ms = percentiles(
        conn,
        &format!(
            "SELECT CASE WHEN json_valid(metrics) THEN COALESCE(
                    json_extract(metrics, '$.verify.wall_ms'), json_extract(metrics, '$.verify_ms')) END AS v
             FROM runs WHERE started >= ?1 AND metrics IS NOT NULL AND v IS NOT NULL{cond}"
        ),
        &runs_params,
    )?;
    let (cond, exec_params) = only("r.plan");
    let exec = exec_use(conn, &cond, &exec_params)?;
    let directories = directories(conn, depth)?;
    conn.execute_batch("DROP TABLE temp.stats_cohort")?;
    drop(tx);
    Ok(Stats {
        format_version: crate::model::FORMAT_VERSION,
        since: since.map(str::to_string),
        depth,
        plans,
        approval_latency_s,
        apply_ms,
        verify_ms,
        exec,
        directories,
    })
}

fn plan_counts(conn: &Connection) -> Result<PlanCounts> {
    let sql = "SELECT COUNT(*),
               COALESCE(SUM(EXISTS (SELECT 1 FROM approvals a WHERE a.plan = c.id AND a.decision = 'approve')), 0),
               COALESCE(SUM(EXISTS (SELECT 1 FROM approvals a WHERE a.plan = c.id AND a.decision = 'decline')), 0),
               COALESCE(SUM(c.status = 'rejected'), 0),
               COALESCE(SUM(c.status IN ('applied', 'rolled_back')), 0),
               COALESCE(SUM(c.failed), 0),
               COALESCE(SUM(c.rolled_back), 0),
               COALESCE(SUM(c.status IN ('pending', 'approved')), 0)
        FROM stats_cohort c";
    Ok(conn.query_row(sql, [], |r| {
        Ok(PlanCounts {
            proposed: r.get::<_, i64>(0)? as u64,
            approved: r.get::<_, i64>(1)? as u64,
            declined: r.get::<_, i64>(2)? as u64,
            rejected: r.get::<_, i64>(3)? as u64,
            applied: r.get::<_, i64>(4)? as u64,
            failed: r.get::<_, i64>(5)? as u64,
            rolled_back: r.get::<_, i64>(6)? as u64,
            open: r.get::<_, i64>(7)? as u64,
        })
    })?)
}

/// Nearest-rank p50/p95 and the maximum of the first column of `inner` (its parameters
/// bound to `params`), all in SQL: the values are materialised once, sorted by SQLite, and
/// picked by offset.
fn percentiles(conn: &Connection, inner: &str, params: &[String]) -> Result<Percentiles> {
    let sql = format!(
        "WITH v(x) AS MATERIALIZED ({inner}),
              s AS MATERIALIZED (SELECT x, ROW_NUMBER() OVER (ORDER BY x) AS k FROM v WHERE x IS NOT NULL),
              n AS (SELECT COUNT(*) AS n FROM s)
         SELECT n.n,
                (SELECT x FROM s WHERE k = MAX(1, (n.n * 50 + 99) / 100)),
                (SELECT x FROM s WHERE k = MAX(1, (n.n * 95 + 99) / 100)),
                (SELECT MAX(x) FROM s)
         FROM n"
    );
    Ok(conn.query_row(&sql, params_from_iter(params), |r| {
        Ok(Percentiles {
            count: r.get::<_, i64>(0)? as u64,
            p50: r.get(1)?,
            p95: r.get(2)?,
            max: r.get(3)?,
        })
    })?)
}

fn exec_use(conn: &Connection, only: &str, params: &[String]) -> Result<ExecUse> {
    Ok(conn.query_row(
        &format!("SELECT COUNT(DISTINCT r.id), COUNT(e.value),
                COALESCE(SUM(json_extract(e.value, '$.user_ms')), 0),
                COALESCE(SUM(json_extract(e.value, '$.sys_ms')), 0),
                MAX(json_extract(e.value, '$.max_rss_kib'))
         FROM runs r, json_each(CASE WHEN json_valid(r.metrics) THEN r.metrics ELSE '{{}}' END, '$.exec') e
         WHERE r.started >= ?1 AND r.metrics IS NOT NULL
           AND json_type(CASE WHEN json_valid(r.metrics) THEN r.metrics ELSE '{{}}' END, '$.exec') = 'array'{only}"),
        params_from_iter(params),
        |r| {
            let user_ms: i64 = r.get(2)?;
            let sys_ms: i64 = r.get(3)?;
            Ok(ExecUse {
                runs: r.get::<_, i64>(0)? as u64,
                steps: r.get::<_, i64>(1)? as u64,
                user_ms,
                sys_ms,
                cpu_ms: user_ms + sys_ms,
                max_rss_kib: r.get(4)?,
            })
        },
    )?)
}

fn directories(conn: &Connection, depth: usize) -> Result<Vec<DirStats>> {
    // Each (directory, plan) once (plans keyed by their small integer seq), then counted.
    let sql = "SELECT dir, COUNT(*), SUM(rolled_back), SUM(failed), SUM(verify_failed)
        FROM (
            SELECT DISTINCT autonomy_dir(ch.path, ?1) AS dir, c.k, c.rolled_back, c.failed, c.verify_failed
            FROM stats_cohort c JOIN changes ch ON ch.plan = c.id
        )
        GROUP BY dir
        ORDER BY SUM(rolled_back) * 1.0 / COUNT(*) DESC, COUNT(*) DESC, dir";
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map(params![depth as i64], |r| {
            let plans = r.get::<_, i64>(1)? as u64;
            let rolled_back = r.get::<_, i64>(2)? as u64;
            let failed_verifies = r.get::<_, i64>(4)? as u64;
            let rate = |n: u64| {
                if plans == 0 {
                    0.0
                } else {
                    (n as f64 / plans as f64 * 1000.0).round() / 1000.0
                }
            };
            Ok(DirStats {
                dir: r.get(0)?,
                plans,
                rolled_back,
                rollback_rate: rate(rolled_back),
                failed: r.get::<_, i64>(3)? as u64,
                failed_verifies,
                failed_verify_rate: rate(failed_verifies),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_at_a_depth() {
        assert_eq!(dir_at("README.md", 1), "./");
        assert_eq!(dir_at("deploy/app.yml", 1), "deploy/");
        assert_eq!(dir_at("deploy/prod/app.yml", 1), "deploy/");
        assert_eq!(dir_at("deploy/prod/app.yml", 2), "deploy/prod/");
        assert_eq!(dir_at("deploy/app.yml", 3), "deploy/");
    }
}
