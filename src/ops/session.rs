//! An open workspace with its journal, blob store, rules and acting identity: what every
//! command that works on a workspace starts from, and the plan lookups they share.

use crate::error::{Error, Result};
use crate::model::{EventKind, Plan, PlanId, PlanStatus, RunState};
use crate::paths::STATE_DIR;
use crate::policy::rules::Rules;
use crate::store::blobs::BlobStore;
use crate::store::journal::Journal;
use crate::store::journal::plans::Newest;
use crate::workspace::Workspace;
use serde_json::json;
use std::path::Path;

pub use crate::store::journal::PlanRow;

pub struct Session {
    pub ws: Workspace,
    pub journal: Journal,
    pub blobs: BlobStore,
    /// The rules, or why they do not parse (commands that need them fail with it).
    pub rules: Result<Rules>,
    pub actor: String,
    /// The time source: stamps, and the real time for expiry and validity windows.
    pub clock: crate::util::clock::Clock,
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
            let id = crate::util::ids::random_hex(16);
            let actor = crate::util::identity::acting_identity(dir);
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

    /// [`Session::open`] acting as `actor`, without looking up the acting identity (which
    /// may spawn `git config`): for a front door that knows who acts (a coding agent's
    /// hook acts as `agent:AGENT`).
    pub fn open_as(start: &Path, actor: &str) -> Result<Session> {
        let ws = Workspace::discover(start)?;
        let digest = Rules::digest_on_disk(&ws.root);
        let journal = Journal::open(&ws.state_path().join("journal.db"), &digest)?;
        let rules = Rules::load(&ws.root);
        let blobs = BlobStore::new(ws.state_path().join("objects"));
        Ok(Session {
            ws,
            journal,
            blobs,
            rules,
            actor: actor.to_string(),
            clock: crate::util::clock::Clock::from_env(),
        })
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
        let version = journal.schema_version()?;
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
            clock: crate::util::clock::Clock::from_env(),
        })
    }

    fn from_parts(ws: Workspace, journal: Journal) -> Result<Session> {
        let rules = Rules::load(&ws.root);
        let actor = crate::util::identity::acting_identity(&ws.root);
        let blobs = BlobStore::new(ws.state_path().join("objects"));
        Ok(Session {
            ws,
            journal,
            blobs,
            rules,
            actor,
            clock: crate::util::clock::Clock::from_env(),
        })
    }

    pub fn rules(&self) -> Result<&Rules> {
        self.rules.as_ref().map_err(Error::duplicate)
    }

    pub fn workspace_id(&self) -> Result<String> {
        self.journal.workspace_id()
    }

    /// Append an event as the acting identity.
    pub fn event(
        &mut self,
        kind: EventKind,
        plan: Option<&str>,
        data: serde_json::Value,
    ) -> Result<()> {
        let actor = self.actor.clone();
        self.journal.event(&actor, kind, plan, &data)?;
        Ok(())
    }

    /// Refuse (exit 6) while an interrupted run exists. A run in progress in another
    /// process (it holds the lock) is not interrupted.
    pub fn refuse_if_interrupted(&self) -> Result<()> {
        if let Some((run, plan)) = self.interrupted_run()? {
            return Err(crate::engine::admit::interrupted_error(run, &plan));
        }
        Ok(())
    }

    /// The interrupted run, for a caller that does not hold the lock: a run marked running
    /// whose process is gone. Look at the run, then at the lock, then at the run again: a
    /// run that was still running while nobody held the lock lost its process, but one
    /// that ended between the first look and the lock check merely finished.
    pub fn interrupted_run(&self) -> Result<Option<(i64, PlanId)>> {
        let Some((run, plan)) = crate::engine::admit::interrupted(&self.journal)? else {
            return Ok(None);
        };
        if crate::store::lock::holder(&self.ws.state_path()).is_some() {
            return Ok(None);
        }
        let state = self.journal.run_state(run)?;
        Ok((state == Some(RunState::Running)).then_some((run, plan)))
    }

    /// Store a compiled plan and journal `plan.created`. Returns its id.
    pub fn insert_plan(&mut self, plan: &Plan, source: &str) -> Result<PlanId> {
        self.insert_plan_with(plan, source, serde_json::Map::new())
    }

    /// `insert_plan` with `extra` fields in the `plan.created` data. The plan's risk as
    /// assessed now is recorded there too, so that its level never drops later.
    pub fn insert_plan_with(
        &mut self,
        plan: &Plan,
        source: &str,
        extra: serde_json::Map<String, serde_json::Value>,
    ) -> Result<PlanId> {
        self.insert_plan_covering(plan, source, extra, None)
    }

    /// `insert_plan_with` for a reverse plan that covers only `covers` of the paths of
    /// the plan it reverses (`None`: every path). The list is recorded in the
    /// `plan.created` data (`paths`) and in the journal's `reverse_paths`.
    pub fn insert_plan_covering(
        &mut self,
        plan: &Plan,
        source: &str,
        extra: serde_json::Map<String, serde_json::Value>,
        covers: Option<&[String]>,
    ) -> Result<PlanId> {
        self.insert_plan_noting(plan, source, extra, covers, None)
    }

    /// `insert_plan_covering`, and, when the plan answers a coding agent's tool call, that
    /// call's `agent.call` event (its `plan` set to the new id) in the same transaction:
    /// one durable commit instead of two.
    pub fn insert_plan_noting(
        &mut self,
        plan: &Plan,
        source: &str,
        mut extra: serde_json::Map<String, serde_json::Value>,
        covers: Option<&[String]>,
        call: Option<&crate::model::event::AgentCall>,
    ) -> Result<PlanId> {
        let id = plan.id();
        let signers = self
            .rules
            .as_ref()
            .map(|r| r.allowed_signers.clone())
            .unwrap_or_else(|_| crate::policy::rules::DEFAULT_SIGNERS.to_string());
        let risk = crate::policy::risk::assess(plan, &signers, Some((&self.journal, id.as_str())))?;
        if let Some(paths) = covers {
            extra.insert("paths".into(), json!(paths));
        }
        let mut data = json!({ "title": plan.title, "author": plan.author, "changes": plan.changes.len(), "source": source, "reverses": plan.reverses, "risk": risk });
        // Deletes and creates that read as renames, so that the log names them.
        let renames = crate::ops::renames::detect(&self.ws, &self.blobs, plan);
        if let Some(obj) = data.as_object_mut() {
            obj.extend(crate::ops::renames::journal_fields(&renames));
            obj.extend(extra);
        }
        let actor = self.actor.clone();
        self.journal.write(|tx| {
            if tx.plan_exists(&id)? {
                return Err(Error::failed(format!("plan {} already exists", id.short())));
            }
            tx.insert_plan(&id, plan, covers)?;
            tx.event(&actor, EventKind::PlanCreated, Some(&id), &data)?;
            if let Some(call) = call {
                let mut call = call.clone();
                call.plan = Some(id.to_string());
                let payload = crate::model::event::encode(&call);
                tx.event(&actor, EventKind::AgentCall, Some(&id), &payload)?;
            }
            Ok(())
        })?;
        Ok(id)
    }

    /// Resolve a plan id or unique prefix (4+ hex digits), or the default for a command.
    pub fn resolve(&self, prefix: Option<&str>, default: Default) -> Result<PlanRow> {
        let Some(prefix) = prefix else {
            let (which, what) = match default {
                Default::NewestPending => (Newest::With(PlanStatus::Pending), "pending"),
                Default::NewestApproved => (Newest::With(PlanStatus::Approved), "approved"),
                // A reversal is not what a bare `rollback` means to undo: that would roll
                // back the rollback.
                Default::NewestApplied => (Newest::AppliedOriginal, "applied"),
                Default::Newest => (Newest::Any, "any"),
            };
            return self.journal.newest_plan(which)?.ok_or_else(|| {
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
        let rows = self.journal.plans_by_prefix(&p, 11)?;
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
                    .map(|r| {
                        format!(
                            "  {}  {}  {}",
                            r.id.short(),
                            r.status,
                            crate::paths::printable(&r.title)
                        )
                    })
                    .collect();
                Err(Error::usage(format!(
                    "plan prefix {p} is ambiguous; it matches:\n{}",
                    list.join("\n")
                ))
                .hint("give more digits of the id"))
            }
        }
    }

    /// Open plans with this title and author, each with the actor who proposed it
    /// (`Journal::open_plans_like`): the candidates `ops::propose` compares a new plan with.
    pub fn open_plans_like(&self, title: &str, author: &str) -> Result<Vec<(PlanRow, String)>> {
        self.journal.open_plans_like(title, author)
    }

    /// Load and verify a stored plan (its id is recomputed from its encoding).
    pub fn load_plan(&self, id: &PlanId) -> Result<Plan> {
        let canonical = self.journal.canonical(id)?;
        let plan = Plan::from_canonical(&canonical)?;
        if plan.id() != *id {
            return Err(Error::integrity(format!(
                "stored plan {} does not hash to its id; the journal was altered",
                id.short()
            ))
            .hint("run `autonomy verify`"));
        }
        Ok(plan)
    }

    pub fn plans_with_status(&self, statuses: &[PlanStatus], limit: usize) -> Result<Vec<PlanRow>> {
        self.journal.plans_with_status(statuses, limit)
    }

    /// Change a plan's status and journal why, in one transaction.
    pub fn set_status(
        &mut self,
        id: &str,
        status: PlanStatus,
        kind: EventKind,
        data: serde_json::Value,
    ) -> Result<()> {
        let actor = self.actor.clone();
        self.journal.write(|tx| {
            tx.set_plan_status(id, status)?;
            tx.event(&actor, kind, Some(id), &data)?;
            Ok(())
        })
    }

    /// Take the writer lock (exit 5 when busy).
    /// Where `path` really is (links in its existing folders resolved), to tell whether it
    /// lies inside the workspace tree (`Inside::Tree`) or its state folder (`Inside::State`).
    pub fn place_of(&self, path: &std::path::Path) -> Inside {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        // The deepest folder that exists, resolved; the rest appended as written.
        let mut base = abs.as_path();
        let mut rest = Vec::new();
        let real = loop {
            if let Ok(r) = base.canonicalize() {
                break r;
            }
            match (base.parent(), base.file_name()) {
                (Some(p), Some(n)) => {
                    rest.push(n.to_os_string());
                    base = p;
                }
                _ => break base.to_path_buf(),
            }
        };
        let real = rest.iter().rev().fold(real, |acc, n| acc.join(n));
        let root = self
            .ws
            .root
            .canonicalize()
            .unwrap_or_else(|_| self.ws.root.clone());
        if real.starts_with(root.join(crate::paths::STATE_DIR)) {
            Inside::State
        } else if real.starts_with(&root) {
            Inside::Tree
        } else {
            Inside::Outside
        }
    }

    /// Who holds the workspace lock (the command as it was recorded), if anyone.
    pub fn lock_holder(&self) -> Option<String> {
        crate::store::lock::holder(&self.ws.state_path())
    }

    pub fn lock(
        &self,
        command: &str,
        wait: Option<std::time::Duration>,
    ) -> Result<crate::store::lock::Lock> {
        crate::store::lock::acquire(&self.ws.state_path(), command, wait)
    }
}

/// Where a path given on the command line lies, relative to the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inside {
    /// In `.autonomy/` (the journal, blobs and views: autonomy's own).
    State,
    /// In the workspace tree (changed only by plans).
    Tree,
    Outside,
}

/// A plan that cannot be applied because of its status.
pub fn status_refusal(row: &PlanRow) -> Option<Error> {
    crate::engine::admit::status_refusal(&row.id, row.status)
}

/// The admission check (`engine::admit`) works on an open session.
impl crate::engine::admit::OpenWorkspace for Session {
    fn ws(&self) -> &Workspace {
        &self.ws
    }
    fn journal(&self) -> &Journal {
        &self.journal
    }
    fn journal_mut(&mut self) -> &mut Journal {
        &mut self.journal
    }
    fn blobs(&self) -> &BlobStore {
        &self.blobs
    }
    fn rules(&self) -> Result<&Rules> {
        Session::rules(self)
    }
    fn actor(&self) -> &str {
        &self.actor
    }
}

/// Plans whose id starts with `prefix`, in `statuses`, newest first, at most `cap`: for
/// shell completion, read from the journal file `db` without opening a whole session.
pub fn completion_plans(
    db: &std::path::Path,
    statuses: &[crate::model::PlanStatus],
    prefix: &str,
    cap: usize,
) -> Result<Vec<PlanRow>> {
    crate::store::journal::Journal::open_read_only(db)?.completion_plans(statuses, prefix, cap)
}
