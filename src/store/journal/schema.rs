//! The journal's schema and its forward migrations (`PRAGMA user_version`). Most steps
//! are SQL; a step that must read what older builds wrote (event payloads) is code.

use super::events::first_event_data;
use crate::error::{Error, Result};
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// The schema this build writes. Older journals are migrated forward on open.
pub const SCHEMA_VERSION: i64 = 5;

const SQL_MIGRATIONS: &[&str] = &[
    // 0 -> 1
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE plans (
        id        TEXT PRIMARY KEY,
        seq       INTEGER NOT NULL UNIQUE,
        created   TEXT NOT NULL,
        title     TEXT NOT NULL,
        author    TEXT NOT NULL,
        status    TEXT NOT NULL,
        reverses  TEXT REFERENCES plans(id),
        canonical TEXT NOT NULL
    );
    CREATE INDEX plans_status ON plans(status, seq);
    CREATE TABLE changes (
        plan        TEXT NOT NULL REFERENCES plans(id),
        idx         INTEGER NOT NULL,
        path        TEXT NOT NULL,
        before_hash TEXT,
        after_hash  TEXT,
        PRIMARY KEY (plan, idx)
    );
    CREATE INDEX changes_path ON changes(path);
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        plan        TEXT NOT NULL REFERENCES plans(id),
        kind        TEXT NOT NULL,
        state       TEXT NOT NULL,
        started     TEXT NOT NULL,
        finished    TEXT,
        duration_ms INTEGER,
        error       TEXT,
        metrics     TEXT
    );
    CREATE INDEX runs_state ON runs(state);
    CREATE INDEX runs_plan ON runs(plan);
    CREATE TABLE approvals (
        id              INTEGER PRIMARY KEY,
        plan            TEXT NOT NULL REFERENCES plans(id),
        at              TEXT NOT NULL,
        principal       TEXT NOT NULL,
        method          TEXT NOT NULL,
        decision        TEXT NOT NULL,
        reason          TEXT,
        approval_id     TEXT,
        key_fingerprint TEXT,
        statement       TEXT,
        signature       TEXT,
        consumed_by     INTEGER REFERENCES runs(id)
    );
    CREATE INDEX approvals_plan ON approvals(plan);
    CREATE UNIQUE INDEX approvals_consumed ON approvals(approval_id) WHERE consumed_by IS NOT NULL;
    CREATE TABLE blobs_extra (hash TEXT NOT NULL, owner TEXT NOT NULL);
    CREATE TABLE events (
        seq    INTEGER PRIMARY KEY,
        at     TEXT NOT NULL,
        actor  TEXT NOT NULL,
        kind   TEXT NOT NULL,
        plan   TEXT,
        rules  TEXT NOT NULL,
        data   TEXT NOT NULL,
        prev   TEXT NOT NULL,
        hash   TEXT NOT NULL
    );
    CREATE INDEX events_plan ON events(plan, seq);
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    "#,
    // 1 -> 2: exec steps. A step's snapshot (`before`) is written before its command runs;
    // `after` is filled when the run commits.
    r#"
    CREATE TABLE run_exec (
        run    INTEGER NOT NULL REFERENCES runs(id),
        step   INTEGER NOT NULL,
        path   TEXT NOT NULL,
        before TEXT NOT NULL,
        after  TEXT,
        PRIMARY KEY (run, step, path)
    );
    "#,
    // 2 -> 3: indexes for history queries (stats, risk, rules suggest, rollback): plans by
    // creation time (covering what a window needs, so the plan bodies are not read) and
    // reverse plans by the plan they reverse.
    r#"
    CREATE INDEX plans_created ON plans(created, reverses, status, id);
    CREATE INDEX plans_reverses ON plans(reverses, status);
    "#,
];

/// 3 -> 4: the paths each reverse plan covers, in a table of their own (they were read
/// back out of the reverse plan's `plan.created` event). Existing reverse plans are read
/// once here: a payload without `paths` (a reverse plan from before selective rollback)
/// covers every path of the plan it reverses; a payload that does not decode is an
/// integrity error, never "covers every path".
const REVERSE_PATHS: &str = r#"
    CREATE TABLE reverse_paths (
        plan TEXT NOT NULL REFERENCES plans(id),
        path TEXT NOT NULL,
        PRIMARY KEY (plan, path)
    );
"#;

fn migrate_reverse_paths(tx: &Transaction) -> Result<()> {
    tx.execute_batch(REVERSE_PATHS)?;
    let mut stmt =
        tx.prepare("SELECT id, reverses FROM plans WHERE reverses IS NOT NULL ORDER BY seq")?;
    let reverse_plans: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, orig) in reverse_plans {
        let data = first_event_data(tx, &id, crate::model::EventKind::PlanCreated)?;
        let covers = match data {
            Some(d) => covered_paths_in_payload(&d).map_err(|why| {
                Error::integrity(format!(
                    "migrating the journal: the plan.created event of reverse plan {} {why}",
                    crate::model::id::short(&id)
                ))
                .hint("run `autonomy verify` with the autonomy that wrote this journal; restore .autonomy/ from a backup")
            })?,
            None => {
                return Err(Error::integrity(format!(
                    "migrating the journal: reverse plan {} has no plan.created event",
                    crate::model::id::short(&id)
                ))
                .hint("restore .autonomy/ from a backup"));
            }
        };
        let paths: Vec<String> = match covers {
            Some(paths) => paths,
            None => {
                let mut stmt =
                    tx.prepare("SELECT path FROM changes WHERE plan = ?1 ORDER BY idx")?;
                stmt.query_map([&orig], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            }
        };
        super::plans::insert_covered(tx, &id, &paths)?;
    }
    Ok(())
}

/// The `paths` a reverse plan's `plan.created` payload lists: `None` when it lists none
/// (every path), an error when the payload or the list does not decode.
pub(super) fn covered_paths_in_payload(
    data: &str,
) -> std::result::Result<Option<Vec<String>>, String> {
    let v: serde_json::Value =
        serde_json::from_str(data).map_err(|e| format!("is not JSON ({e})"))?;
    match v.get("paths") {
        None => Ok(None),
        Some(p) => serde_json::from_value(p.clone())
            .map(Some)
            .map_err(|e| format!("lists its paths in a form that does not decode ({e})")),
    }
}

/// One forward step.
enum Step {
    Sql(&'static str),
    Code(fn(&Transaction) -> Result<()>),
}

/// 4 -> 5: agent sessions (`autonomy session`): one row per session, its view, the
/// agent, and the plan it proposed last; at most one open session per name.
const SESSIONS: &str = r#"
    CREATE TABLE sessions (
        view      TEXT PRIMARY KEY,
        name      TEXT NOT NULL,
        argv      TEXT NOT NULL,
        agent     TEXT NOT NULL,
        started   TEXT NOT NULL,
        ended     TEXT,
        last_plan TEXT REFERENCES plans(id)
    );
    CREATE UNIQUE INDEX sessions_open_name ON sessions(name) WHERE ended IS NULL;
"#;

fn steps() -> Vec<Step> {
    let mut out: Vec<Step> = SQL_MIGRATIONS.iter().map(|s| Step::Sql(s)).collect();
    out.push(Step::Code(migrate_reverse_paths));
    out.push(Step::Sql(SESSIONS));
    out
}

/// The schema version of an open connection.
pub(super) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Bring the journal to [`SCHEMA_VERSION`], in one exclusive transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let version = version(conn)?;
    if version > SCHEMA_VERSION {
        return Err(Error::failed(format!(
            "the journal has schema version {version}, newer than this autonomy understands ({SCHEMA_VERSION})"
        ))
        .hint("upgrade autonomy"));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, step) in steps().iter().enumerate().skip(version as usize) {
        match step {
            Step::Sql(sql) => tx.execute_batch(sql)?,
            Step::Code(f) => f(&tx)?,
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_a_step() {
        assert_eq!(steps().len() as i64, SCHEMA_VERSION);
    }

    #[test]
    fn covered_paths_decode_or_fail() {
        assert_eq!(covered_paths_in_payload(r#"{"title":"x"}"#), Ok(None));
        assert_eq!(
            covered_paths_in_payload(r#"{"paths":["a","b"]}"#),
            Ok(Some(vec!["a".to_string(), "b".to_string()]))
        );
        assert!(covered_paths_in_payload(r#"{"paths":"a"}"#).is_err());
        assert!(covered_paths_in_payload(r#"{"paths":null}"#).is_err());
        assert!(covered_paths_in_payload("not json").is_err());
    }
}
