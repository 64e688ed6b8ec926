//! The journal: SQLite in WAL mode with `synchronous=FULL`, holding plans, changes,
//! approvals and runs, and the append-only, hash-chained `events` table that
//! `autonomy verify` checks. Every SQL statement of the program lives below this module;
//! callers pass typed values in and get typed rows out (`PlanId`, `PlanStatus`,
//! `RunState`, `EventKind`), and text read back that is not what this build writes is an
//! integrity error (exit 7).
//!
//! - [`schema`]: tables and forward migrations (`PRAGMA user_version`)
//! - [`events`]: the chain, appending, the log and payloads read back
//! - [`plans`]: plans and their changes, reverse plans' covered paths
//! - [`runs`]: runs, exec-step records, kept blobs, a run's commit
//! - [`history`]: aggregate reads over the whole history (stats, risk, suggestions)
//! - [`derived`]: the facts the events give, compared with the tables
//! - [`audit`]: the row scans of `verify` and `gc`
//! - [`sessions`]: agent sessions (`autonomy session`) and their views

pub mod approvals;
pub mod audit;
pub mod derived;
pub mod events;
pub mod history;
pub mod plans;
pub mod runs;
pub mod schema;
pub mod sessions;

pub use events::{
    AgentScope, Event, EventFilter, Events, GENESIS, RawEvent, event_digest, event_hash,
};
pub use plans::PlanRow;
pub use schema::SCHEMA_VERSION;

use crate::error::{Error, Result};
use crate::model::EventKind;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

pub struct Journal {
    conn: Connection,
    /// Digest of the rules in force for this process; recorded in every event.
    pub rules_digest: String,
}

/// One write transaction (IMMEDIATE: writers serialise, so the chain stays linear). Its
/// methods are the writes; the transaction commits when the closure given to
/// [`Journal::write`] returns `Ok`.
pub struct Tx<'c> {
    tx: Transaction<'c>,
    rules: String,
}

impl Tx<'_> {
    /// The transaction, for the approval statements of `ops::approvals` until they move
    /// into `store::journal::approvals` (issue 13, gate); nothing else may use it.
    #[doc(hidden)]
    pub fn legacy_conn(&self) -> &Connection {
        &self.tx
    }
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
        schema::migrate(&mut j.conn)?;
        j.write(|tx| {
            tx.tx.execute(
                "INSERT INTO meta (key, value) VALUES ('workspace', ?1)",
                [workspace_id],
            )?;
            let init = crate::model::event::Init {
                workspace: workspace_id.to_string(),
            };
            tx.event(
                actor,
                EventKind::Init,
                None,
                &crate::model::event::encode(&init),
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
        schema::migrate(&mut j.conn)?;
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

    /// Leave the write-ahead log for the next process instead of checkpointing it into the
    /// database when this handle closes: that checkpoint costs two fsyncs, and the next
    /// process a third (the directory, when it creates the log again). What was committed
    /// is durable either way (each commit syncs the log); SQLite's auto-checkpoint and the
    /// next command that closes normally fold it in. For `autonomy hook`, whose every
    /// millisecond an agent waits on.
    pub fn leave_log_on_close(&self) -> Result<()> {
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
        Ok(())
    }

    /// The schema version of the file (a read-only handle does not migrate).
    pub fn schema_version(&self) -> Result<i64> {
        schema::version(&self.conn)
    }

    /// Run `f` in one IMMEDIATE transaction; it commits when `f` returns `Ok`.
    pub fn write<T>(&mut self, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let tx = Tx {
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?,
            rules: self.rules_digest.clone(),
        };
        let out = f(&tx)?;
        tx.tx.commit()?;
        Ok(out)
    }

    /// Run `f` inside one read transaction, so that what it reads is one moment's state
    /// whatever other processes commit meanwhile.
    pub fn read<T>(&self, f: impl FnOnce(&Journal) -> Result<T>) -> Result<T> {
        let snapshot = self.conn.unchecked_transaction()?;
        let out = f(self);
        drop(snapshot);
        out
    }

    pub fn workspace_id(&self) -> Result<String> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'workspace'", [], |r| {
                r.get(0)
            })?)
    }

    /// The journal's file, when it is one (not in memory).
    pub fn path(&self) -> Option<&str> {
        self.conn.path().filter(|p| !p.is_empty())
    }

    /// `PRAGMA integrity_check`: "ok" or what it found.
    pub fn integrity_check(&self) -> String {
        self.conn
            .query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
            .unwrap_or_else(|e| format!("integrity_check failed: {e}"))
    }

    /// The connection, for the approval statements of `ops::approvals` until they move
    /// into `store::journal::approvals` (issue 13, gate); nothing else may use it.
    #[doc(hidden)]
    pub fn legacy_conn(&self) -> &Connection {
        &self.conn
    }

    /// Test data only: stop waiting for the disk on each commit of this connection.
    #[doc(hidden)]
    pub fn unsynced_for_test_data(&self) -> Result<()> {
        self.conn.pragma_update(None, "synchronous", "OFF")?;
        Ok(())
    }

    /// Whether the trigger `name` exists (the events table's append-only guards).
    pub fn has_trigger(&self, name: &str) -> bool {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                [name],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n == 1)
            .unwrap_or(false)
    }
}
