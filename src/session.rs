//! An open workspace with its journal, blob store, rules and acting identity: what every
//! command that works on a workspace starts from, and the plan lookups they share.

use crate::error::{Error, Kind, Result};
use crate::plan::Plan;
use crate::rules::Rules;
use crate::store::blobs::BlobStore;
use crate::store::journal::{Journal, append_event};
use crate::workspace::{STATE_DIR, Workspace};
use rusqlite::{OptionalExtension, params};
use serde_json::json;
use std::path::Path;

/// An event's data, given the id of the plan it is about.
pub type EventData<'a> = &'a dyn Fn(&str) -> serde_json::Value;

pub struct Session {
    pub ws: Workspace,
    pub journal: Journal,
    pub blobs: BlobStore,
    /// The rules, or why they do not parse (commands that need them fail with it).
    pub rules: Result<Rules>,
    pub actor: String,
}

/// A plan as listed: id, status, title.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanRow {
    pub id: String,
    pub status: String,
    pub title: String,
    pub author: String,
    pub created: String,
    pub reverses: Option<String>,
}

/// Which plan a command works on when none is named.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    NewestPending,
    NewestApproved,
    NewestApplied,
    Newest,
}

impl Session {
    /// Create `.autonomy/` in `dir` with a new workspace id and the first event.
    pub fn init(dir: &Path) -> Result<(Session, String)> {
        let state = dir.join(STATE_DIR);
        if state.exists() {
            // Name the folder absolutely: `.` tells nobody which workspace it is.
            let shown = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
            return Err(Error::failed(format!(
                "{} already holds an autonomy workspace",
                shown.display()
            ))
            .hint("use it as it is; `autonomy status` shows its plans"));
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let ws = Workspace::open(dir)?;
        let rules_digest = Rules::digest_on_disk(dir);
        let setup = || -> Result<(Journal, String)> {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&state)
                .map_err(|e| Error::io(format!("creating {}", state.display()), e))?;
            std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io("setting the mode of .autonomy", e))?;
            std::fs::create_dir(state.join("objects"))
                .map_err(|e| Error::io("creating .autonomy/objects", e))?;
            std::fs::write(state.join("lock"), b"")
                .map_err(|e| Error::io("creating .autonomy/lock", e))?;
            // Like a virtualenv: git never tracks the state directory.
            std::fs::write(state.join(".gitignore"), b"*\n")
                .map_err(|e| Error::io("creating .autonomy/.gitignore", e))?;
            let id = crate::ids::random_hex(16);
            let actor = crate::identity::acting_identity(dir);
            let journal = Journal::create(&state.join("journal.db"), &id, &actor, &rules_digest)?;
            crate::store::sync_dir(&state).map_err(|e| Error::io("syncing .autonomy", e))?;
            Ok((journal, id))
        };
        let (journal, id) = match setup() {
            Ok(v) => v,
            Err(e) => {
                // Leave no half-made workspace behind.
                let _ = std::fs::remove_dir_all(&state);
                return Err(e);
            }
        };
        let session = Session::from_parts(ws, journal)?;
        Ok((session, id))
    }

    pub fn open(start: &Path) -> Result<Session> {
        let ws = Workspace::discover(start)?;
        let digest = Rules::digest_on_disk(&ws.root);
        let journal = Journal::open(&ws.state_path().join("journal.db"), &digest)?;
        Session::from_parts(ws, journal)
    }

    /// A session for commands that only read (status, log, verify): the journal opened
    /// read-only and never migrated, and no acting identity looked up (that may spawn
    /// `git config`); `actor` is empty. A journal whose schema this build would migrate is
    /// opened as [`Session::open`] does.
    pub fn open_read_only(start: &Path) -> Result<Session> {
        let ws = Workspace::discover(start)?;
        let path = ws.state_path().join("journal.db");
        if !path.is_file() {
            return Session::open(start);
        }
        let mut journal = Journal::open_read_only(&path)?;
        let version: i64 = journal
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version != crate::store::journal::SCHEMA_VERSION {
            return Session::open(start);
        }
        journal.rules_digest = Rules::digest_on_disk(&ws.root);
        let rules = Rules::load(&ws.root);
        let blobs = BlobStore::new(ws.state_path().join("objects"));
        Ok(Session {
            ws,
            journal,
            blobs,
            rules,
            actor: String::new(),
        })
    }

    fn from_parts(ws: Workspace, journal: Journal) -> Result<Session> {
        let rules = Rules::load(&ws.root);
        let actor = crate::identity::acting_identity(&ws.root);
        let blobs = BlobStore::new(ws.state_path().join("objects"));
        Ok(Session {
            ws,
            journal,
            blobs,
            rules,
            actor,
        })
    }

    pub fn rules(&self) -> Result<&Rules> {
        self.rules.as_ref().map_err(|e| Error {
            kind: e.kind,
            message: e.message.clone(),
            hint: e.hint.clone(),
        })
    }

    pub fn workspace_id(&self) -> Result<String> {
        self.journal.workspace_id()
    }

    /// Append an event as the acting identity.
    pub fn event(&mut self, kind: &str, plan: Option<&str>, data: serde_json::Value) -> Result<()> {
        let actor = self.actor.clone();
        self.journal.event(&actor, kind, plan, &data)?;
        Ok(())
    }

    /// Refuse (exit 6) while an interrupted run exists. A run in progress in another
    /// process (it holds the lock) is not interrupted.
    pub fn refuse_if_interrupted(&self) -> Result<()> {
        if let Some((run, plan)) = self.interrupted_run()? {
            return Err(crate::engine::run::interrupted_error(run, &plan));
        }
        Ok(())
    }

    /// The interrupted run, for a caller that does not hold the lock: a run marked running
    /// whose process is gone. Look at the run, then at the lock, then at the run again: a
    /// run that was still running while nobody held the lock lost its process, but one
    /// that ended between the first look and the lock check merely finished.
    pub fn interrupted_run(&self) -> Result<Option<(i64, String)>> {
        let Some((run, plan)) = crate::engine::run::interrupted(&self.journal)? else {
            return Ok(None);
        };
        if crate::store::lock::holder(&self.ws.state_path()).is_some() {
            return Ok(None);
        }
        let state: Option<String> = self
            .journal
            .conn
            .query_row("SELECT state FROM runs WHERE id = ?1", [run], |r| r.get(0))
            .optional()?;
        Ok((state.as_deref() == Some("running")).then_some((run, plan)))
    }

    /// Store a compiled plan and journal `plan.created`. Returns its id.
    pub fn insert_plan(&mut self, plan: &Plan, source: &str) -> Result<String> {
        self.insert_plan_with(plan, source, serde_json::Map::new())
    }

    /// `insert_plan` with `extra` fields in the `plan.created` data. The plan's risk as
    /// assessed now is recorded there too, so that its level never drops later.
    pub fn insert_plan_with(
        &mut self,
        plan: &Plan,
        source: &str,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<String> {
        self.insert_plan_and_event(plan, source, extra, None)
    }

    /// `insert_plan_with`, and one more event about the new plan (`kind`, and its data given
    /// the plan id) in the same transaction: one durable commit instead of two.
    pub fn insert_plan_and_event(
        &mut self,
        plan: &Plan,
        source: &str,
        extra: serde_json::Map<String, serde_json::Value>,
        then: Option<(&str, EventData)>,
    ) -> Result<String> {
        let id = plan.id();
        let signers = self
            .rules
            .as_ref()
            .map(|r| r.allowed_signers.clone())
            .unwrap_or_else(|_| crate::rules::DEFAULT_SIGNERS.to_string());
        let risk = crate::risk::assess(plan, &signers, Some((&self.journal.conn, &id)))?;
        let mut data = json!({ "title": plan.title, "author": plan.author, "changes": plan.changes.len(), "source": source, "reverses": plan.reverses, "risk": risk });
        if let Some(obj) = data.as_object_mut() {
            obj.extend(extra);
        }
        let canonical = plan.canonical();
        let rules = self.journal.rules_digest.clone();
        let actor = self.actor.clone();
        self.journal.write(|tx| {
            let exists: Option<String> = tx.query_row("SELECT id FROM plans WHERE id = ?1", [&id], |r| r.get(0)).optional()?;
            if exists.is_some() {
                return Err(Error::failed(format!("plan {} already exists", &id[..12])));
            }
            let seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM plans", [], |r| r.get(0))?;
            tx.execute(
                "INSERT INTO plans (id, seq, created, title, author, status, reverses, canonical) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7)",
                params![id, seq, plan.created, plan.title, plan.author, plan.reverses, canonical],
            )?;
            let mut stmt = tx.prepare("INSERT INTO changes (plan, idx, path, before_hash, after_hash) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for (i, c) in plan.changes.iter().enumerate() {
                stmt.execute(params![id, i as i64, c.path, c.before.file_hash(), c.after.file_hash()])?;
            }
            append_event(
                tx,
                &rules,
                &actor,
                "plan.created",
                Some(&id),
                &data,
            )?;
            if let Some((kind, data)) = &then {
                append_event(tx, &rules, &actor, kind, Some(&id), &data(&id))?;
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Resolve a plan id or unique prefix (4+ hex digits), or the default for a command.
    pub fn resolve(&self, prefix: Option<&str>, default: Default) -> Result<PlanRow> {
        let Some(prefix) = prefix else {
            let (filter, what) = match default {
                Default::NewestPending => ("status = 'pending'", "pending"),
                Default::NewestApproved => ("status = 'approved'", "approved"),
                // A reversal is not what a bare `rollback` means to undo: that would roll
                // back the rollback.
                Default::NewestApplied => ("status = 'applied' AND reverses IS NULL", "applied"),
                Default::Newest => ("1 = 1", "any"),
            };
            let sql = format!(
                "SELECT id, status, title, author, created, reverses FROM plans WHERE {filter} ORDER BY seq DESC LIMIT 1"
            );
            return self
                .journal
                .conn
                .query_row(&sql, [], row_to_plan)
                .optional()?
                .ok_or_else(|| {
                    Error::usage(format!("there is no {what} plan"))
                        .hint("name a plan explicitly; `autonomy status` lists them")
                });
        };
        let p = prefix.to_ascii_lowercase();
        if p.len() < 4 || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                Error::usage(format!("{prefix:?} is not a plan id (4 to 64 hex digits)"))
                    .hint("`autonomy status` lists the plans with their ids"),
            );
        }
        let mut stmt = self.journal.conn.prepare(
            "SELECT id, status, title, author, created, reverses FROM plans WHERE id >= ?1 AND id < ?2 ORDER BY seq DESC LIMIT 11",
        )?;
        let hi = format!("{p}g");
        let rows: Vec<PlanRow> = stmt
            .query_map(params![p, hi], row_to_plan)?
            .collect::<rusqlite::Result<_>>()?;
        match rows.len() {
            0 => Err(Error::usage(format!("no plan has an id starting with {p}"))
                .hint("`autonomy status` lists the plans with their ids")),
            1 => Ok(rows
                .into_iter()
                .next()
                .ok_or_else(|| Error::failed("internal"))?),
            _ => {
                let list: Vec<String> = rows
                    .iter()
                    .take(10)
                    .map(|r| format!("  {}  {}  {}", &r.id[..12], r.status, r.title))
                    .collect();
                Err(Error::usage(format!(
                    "plan prefix {p} is ambiguous; it matches:\n{}",
                    list.join("\n")
                ))
                .hint("give more digits of the id"))
            }
        }
    }

    /// Load and verify a stored plan (its id is recomputed from its encoding).
    pub fn load_plan(&self, id: &str) -> Result<Plan> {
        let canonical: String = self.journal.conn.query_row(
            "SELECT canonical FROM plans WHERE id = ?1",
            [id],
            |r| r.get(0),
        )?;
        let plan = Plan::from_canonical(&canonical)?;
        if plan.id() != id {
            return Err(Error::integrity(format!(
                "stored plan {} does not hash to its id; the journal was altered",
                &id[..12]
            ))
            .hint("run `autonomy verify`"));
        }
        Ok(plan)
    }

    pub fn plans_with_status(&self, statuses: &[&str], limit: usize) -> Result<Vec<PlanRow>> {
        let marks = statuses
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT id, status, title, author, created, reverses FROM plans WHERE status IN ({marks}) ORDER BY seq DESC LIMIT ?1"
        );
        let mut stmt = self.journal.conn.prepare(&sql)?;
        let rows = stmt
            .query_map([limit as i64], row_to_plan)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Change a plan's status and journal why, in one transaction.
    pub fn set_status(
        &mut self,
        id: &str,
        status: &str,
        kind: &str,
        data: serde_json::Value,
    ) -> Result<()> {
        let rules = self.journal.rules_digest.clone();
        let actor = self.actor.clone();
        self.journal.write(|tx| {
            tx.execute(
                "UPDATE plans SET status = ?2 WHERE id = ?1",
                params![id, status],
            )?;
            append_event(tx, &rules, &actor, kind, Some(id), &data)?;
            Ok(())
        })
    }

    /// Take the writer lock (exit 5 when busy).
    pub fn lock(
        &self,
        command: &str,
        wait: Option<std::time::Duration>,
    ) -> Result<crate::store::lock::Lock> {
        crate::store::lock::acquire(&self.ws.state_path(), command, wait)
    }
}

pub fn row_to_plan(r: &rusqlite::Row) -> rusqlite::Result<PlanRow> {
    Ok(PlanRow {
        id: r.get(0)?,
        status: r.get(1)?,
        title: r.get(2)?,
        author: r.get(3)?,
        created: r.get(4)?,
        reverses: r.get(5)?,
    })
}

/// A plan that cannot be applied because of its status.
pub fn status_refusal(row: &PlanRow) -> Option<Error> {
    let short = &row.id[..12];
    match row.status.as_str() {
        "applied" => Some(
            Error::failed(format!(
                "plan {short} was already applied; a plan applies at most once"
            ))
            .hint(format!("to undo it: autonomy rollback {short}")),
        ),
        "rolled_back" => Some(
            Error::failed(format!("plan {short} was applied and then rolled back"))
                .hint("make a new plan to apply its changes again"),
        ),
        "rejected" => Some(
            Error::new(
                Kind::NotApproved,
                format!("plan {short} was rejected; it can no longer be applied"),
            )
            .hint("make a new plan"),
        ),
        _ => None,
    }
}
