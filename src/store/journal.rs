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
    let mut buf = Vec::new();
    let digest = event_digest(
        &mut buf,
        seq,
        prev.as_bytes(),
        at.as_bytes(),
        actor.as_bytes(),
        kind.as_bytes(),
        plan.map(str::as_bytes),
        rules.as_bytes(),
        data.as_bytes(),
    );
    hex::encode(digest)
}

/// [`event_hash`] as raw bytes, from the columns' UTF-8 bytes, building the canonical
/// entry in `buf` (reused between calls, so that checking a long chain allocates nothing
/// per event).
#[allow(clippy::too_many_arguments)]
pub fn event_digest(
    buf: &mut Vec<u8>,
    seq: i64,
    prev: &[u8],
    at: &[u8],
    actor: &[u8],
    kind: &[u8],
    plan: Option<&[u8]>,
    rules: &[u8],
    data: &[u8],
) -> [u8; 32] {
    buf.clear();
    buf.push(b'[');
    for (k, field) in [
        Some(at),
        Some(actor),
        Some(kind),
        plan,
        Some(rules),
        Some(data),
    ]
    .into_iter()
    .enumerate()
    {
        if k > 0 {
            buf.push(b',');
        }
        match field {
            Some(text) => json_string(buf, text),
            None => buf.extend_from_slice(b"null"),
        }
    }
    buf.push(b']');
    let mut h = Sha256::new();
    h.update(b"autonomy-event-v1\n");
    let mut digits = [0u8; 24];
    let mut cursor = std::io::Cursor::new(&mut digits[..]);
    let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{seq}"));
    let n = cursor.position() as usize;
    h.update(&digits[..n]);
    h.update(b"\n");
    h.update(prev);
    h.update(b"\n");
    h.update(&buf[..]);
    h.finalize().into()
}

/// UTF-8 `text` as a JSON string exactly as serde_json writes it (the canonical form):
/// `"` and `\\` and control characters escaped (`\b \f \n \r \t`, else `\u00xx`),
/// everything else as is. A test holds this to serde_json's own output.
fn json_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&text[start..i]);
        if escaped.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(escaped);
        }
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
    out.push(b'"');
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
        // NO_MUTEX: a connection is never shared between threads (rusqlite's is not Sync),
        // so SQLite need not lock around every call.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
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
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
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
    // Cached statements: a run's commit appends one event per step.
    let head: Option<(i64, String, String)> = tx
        .prepare_cached("SELECT seq, hash, rules FROM events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
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
    let at = crate::util::ids::now_string();
    let data = data.to_string();
    let hash = event_hash(seq, &prev, &at, actor, kind, plan, rules, &data);
    tx.prepare_cached(
        "INSERT INTO events (seq, at, actor, kind, plan, rules, data, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![seq, at, actor, kind, plan, rules, data, prev, hash])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain's definition, as first written: serde_json's encoding of the array.
    #[allow(clippy::too_many_arguments)]
    fn reference(
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

    #[test]
    fn event_hash_matches_the_serde_json_encoding() {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let texts = [
            controls.as_str(),
            "",
            "plain",
            "quote \" and backslash \\",
            "controls \n\t\r\u{1}\u{1f} and del \u{7f}",
            "unicode é ✓ 𝄞 and / slash",
            r#"{"run":3,"path":"a/b.txt","before":{"kind":"file"}}"#,
        ];
        for (i, t) in texts.iter().enumerate() {
            for plan in [None, Some(*t)] {
                let got = event_hash(i as i64 - 1, GENESIS, t, t, "kind", plan, t, t);
                let want = reference(i as i64 - 1, GENESIS, t, t, "kind", plan, t, t);
                assert_eq!(got, want, "text {t:?}, plan {plan:?}");
            }
        }
    }
}
