//! The journal: SQLite in WAL mode with `synchronous=FULL`, holding plans, changes,
//! approvals and runs, and the append-only, hash-chained `events` table that
//! `autonomy verify` checks. Schema versions migrate forward via `PRAGMA user_version`.

use crate::error::{Error, Result};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;

/// The schema this build writes. Older journals are migrated forward on open.
pub const SCHEMA_VERSION: i64 = 3;

const MIGRATIONS: &[&str] = &[
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

/// The `prev` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One row of the events table.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub plan: Option<String>,
    pub rules: String,
    pub data: String,
    pub prev: String,
    pub hash: String,
}

/// `sha256("autonomy-event-v1" || seq || prev || canonical(entry))`, where the canonical
/// entry is the JSON array `[at, actor, kind, plan, rules, data]` of the stored columns.
#[allow(clippy::too_many_arguments)] // one argument per stored column, by design
pub fn event_hash(
    seq: i64,
    prev: &str,
    at: &str,
    actor: &str,
    kind: &str,
    plan: Option<&str>,
    rules: &str,
    data: &str,
) -> String {
    let entry = serde_json::json!([at, actor, kind, plan, rules, data]).to_string();
    let mut h = Sha256::new();
    h.update(b"autonomy-event-v1\n");
    h.update(seq.to_string().as_bytes());
    h.update(b"\n");
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(entry.as_bytes());
    hex::encode(h.finalize())
}

pub struct Journal {
    pub conn: Connection,
    /// Digest of the rules in force for this process; recorded in every event.
    pub rules_digest: String,
}

impl Journal {
    /// Create a new journal and write the `init` event binding the workspace id.
    pub fn create(
        path: &Path,
        workspace_id: &str,
        actor: &str,
        rules_digest: &str,
    ) -> Result<Journal> {
        let conn = Connection::open(path)?;
        let mut j = Journal {
            conn,
            rules_digest: rules_digest.to_string(),
        };
        j.configure()?;
        j.migrate()?;
        j.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('workspace', ?1)",
                [workspace_id],
            )?;
            append_event(
                tx,
                rules_digest,
                actor,
                "init",
                None,
                &serde_json::json!({ "workspace": workspace_id }),
            )?;
            Ok(())
        })?;
        Ok(j)
    }

    pub fn open(path: &Path, rules_digest: &str) -> Result<Journal> {
        if !path.is_file() {
            return Err(Error::integrity("the journal .autonomy/journal.db is missing")
                .hint("restore .autonomy/ from a backup, or remove .autonomy/ and run `autonomy init`"));
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let mut j = Journal {
            conn,
            rules_digest: rules_digest.to_string(),
        };
        j.configure()?;
        j.migrate()?;
        Ok(j)
    }

    /// A read-only handle (completion, status): never writes, never migrates.
    pub fn open_read_only(path: &Path) -> Result<Journal> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(Duration::from_secs(2))?;
        Ok(Journal {
            conn,
            rules_digest: String::new(),
        })
    }

    fn configure(&self) -> Result<()> {
        self.conn.busy_timeout(Duration::from_secs(30))?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Error::failed(format!(
                "the journal has schema version {version}, newer than this autonomy understands ({SCHEMA_VERSION})"
            ))
            .hint("upgrade autonomy"));
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Run `f` in one IMMEDIATE transaction (writers serialise; the chain stays linear).
    pub fn write<T>(&mut self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Append one event in its own transaction.
    pub fn event(
        &mut self,
        actor: &str,
        kind: &str,
        plan: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<Event> {
        let rules = self.rules_digest.clone();
        self.write(|tx| append_event(tx, &rules, actor, kind, plan, data))
    }

    pub fn workspace_id(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'workspace'", [], |r| {
                r.get(0)
            })?)
    }

    pub fn head(&self) -> Result<Option<(i64, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

/// Append an event inside `tx`, linking it to the current head. When the rules digest
/// differs from the head's, a `rules.changed` event is written first.
pub fn append_event(
    tx: &Transaction,
    rules: &str,
    actor: &str,
    kind: &str,
    plan: Option<&str>,
    data: &serde_json::Value,
) -> Result<Event> {
    let head: Option<(i64, String, String)> = tx
        .query_row(
            "SELECT seq, hash, rules FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    if let Some((_, _, head_rules)) = &head
        && head_rules != rules
        && kind != "rules.changed"
    {
        let change = serde_json::json!({ "from": head_rules, "to": rules });
        append_event(tx, rules, actor, "rules.changed", None, &change)?;
        return append_event(tx, rules, actor, kind, plan, data);
    }
    let (seq, prev) = match head {
        Some((s, h, _)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let at = crate::ids::now_string();
    let data = data.to_string();
    let hash = event_hash(seq, &prev, &at, actor, kind, plan, rules, &data);
    tx.execute(
        "INSERT INTO events (seq, at, actor, kind, plan, rules, data, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![seq, at, actor, kind, plan, rules, data, prev, hash],
    )?;
    Ok(Event {
        seq,
        at,
        actor: actor.to_string(),
        kind: kind.to_string(),
        plan: plan.map(str::to_string),
        rules: rules.to_string(),
        data,
        prev,
        hash,
    })
}

pub fn row_to_event(r: &rusqlite::Row) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        kind: r.get(3)?,
        plan: r.get(4)?,
        rules: r.get(5)?,
        data: r.get(6)?,
        prev: r.get(7)?,
        hash: r.get(8)?,
    })
}

pub const EVENT_COLUMNS: &str = "seq, at, actor, kind, plan, rules, data, prev, hash";
