//! `autonomy session`: an agent (any agent: with hooks or without, interactive or headless)
//! works in a copy-on-write view of the workspace (`crate::view`), confined as a sandboxed
//! agent is, and what it changed there becomes one pending plan, through `ops::propose`
//! like every plan.
//!
//! - A session is a view under `.autonomy/views/<id>/` plus a row in the journal's
//!   `sessions` table (name, view, agent, last plan). Both outlive the agent and this
//!   process (a crash of either leaves them for `session list` / `propose` / `end`).
//! - While the agent runs, the session's process holds an exclusive `flock` on
//!   `views/<id>/running` (released by the kernel when that process dies, however it
//!   dies): that is what "running" means.
//! - A proposal is everything the view holds that differs from the workspace *now*:
//!   [`crate::plan::capture::view_ops`] reads the view's upper layer directly
//!   ([`View::open`] + `changes()`, never a second mount) and compares each entry with the
//!   workspace, so an entry equal to the workspace (because the session's earlier plan was
//!   applied) is no change any more: once a plan is applied the view continues from the
//!   new state. Each change's `before` is the real workspace's, so the plan is exact even
//!   when the workspace moved on, and drift after the proposal is reported by `apply` as
//!   for any plan.
//! - "Since the last proposal": the session has at most one open plan. A new proposal
//!   while the previous one is still pending supersedes it (the old one is rejected with
//!   a reason naming the new one), because the new one holds everything the view changed
//!   — the agent built on its earlier changes, and a plan holding only the later half
//!   would not apply (or would apply a state the agent never saw). While the previous one
//!   is approved and not yet applied, a new proposal is refused: a person's approval is
//!   never withdrawn behind their back. Proposing twice with nothing changed in between
//!   gives the same plan (`ops::propose`'s identical-plan rule).
//! - Proposals of one session are serialised by an exclusive `flock` on
//!   `views/<id>/propose`.

use crate::error::{Error, Kind, Result};
use crate::exec::{Confinement, ExecSpec, ExitKind, Isolation, IsolationMode};
use crate::model::{EventKind, PlanStatus};
use crate::ops::propose::{Made, Proposal, Proposed, Source};
use crate::ops::session::Session;
use crate::paths::STATE_DIR;
use crate::store::journal::sessions::SessionRow;
use crate::view::{VIEWS_DIR, View};
use serde_json::json;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The longest session name.
pub const MAX_NAME: usize = 40;

/// What the front door asks for.
pub struct Request {
    pub name: Option<String>,
    /// Folders the agent may write for real (outside the view), as for `sandbox`.
    pub allow_write: Vec<PathBuf>,
    /// TCP ports the agent may connect to besides [`MODEL_PORTS`].
    pub allow_connect: Vec<u16>,
    pub command: Vec<String>,
}

/// The TCP ports a session's agent may always connect to: HTTPS, where model APIs are.
pub const MODEL_PORTS: &[u16] = &[443];

/// A session that is about to run its agent.
pub struct Started {
    pub name: String,
    pub view: String,
    pub agent: String,
    /// Why the home folder is not writable, when it is not.
    pub home_note: Option<String>,
    /// An open session named again: its view, with what earlier agents changed, goes on.
    pub resumed: bool,
}

/// How a session's run ended.
pub struct Finished {
    pub name: String,
    pub view: String,
    pub agent: String,
    pub status: ExitKind,
    /// The agent's exit status as a shell reports it (128 + signal).
    pub code: i32,
    /// The proposal made at the agent's exit, or why it could not be made.
    pub proposed: Result<SessionPlan>,
    /// Whether the session is still open (it was not ended while its agent ran).
    pub view_kept: bool,
}

/// A session's proposal: what `ops::propose` made, and the plan it superseded.
#[derive(Debug)]
pub struct SessionPlan {
    pub name: String,
    pub proposed: Proposed,
    /// The session's earlier pending plan, rejected because this one supersedes it.
    pub superseded: Option<String>,
}

/// One session as `session list` shows it.
#[derive(Debug)]
pub struct Listed {
    pub row: SessionRow,
    /// Whether its agent is running now (its session process holds the view's lock).
    pub running: bool,
    /// Whether the view is still on disk.
    pub view_present: bool,
}

/// A session name: 1 to 40 letters, digits, `.`, `_` or `-`, not starting with `.` or
/// `-` (it names a folder-free record, but shows up in commands and file names).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{name:?} is not a session name: use 1 to {MAX_NAME} letters, digits, '.', '_' or '-', \
         not starting with '.' or '-'"
    ))
    .hint("for example --name fix-timeouts"))
}

/// The default name: the agent's command name and four random hex digits (`claude-3f2a`).
fn generated_name(command: &str) -> String {
    let base: String = Path::new(command)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-".contains(*c))
        .take(24)
        .collect();
    let base = base.trim_start_matches('-');
    let base = if base.is_empty() { "session" } else { base };
    format!("{base}-{}", crate::util::ids::random_hex(2))
}

fn views_dir(s: &Session) -> PathBuf {
    s.ws.state_path().join(VIEWS_DIR)
}

/// The file whose lock says "the agent runs".
fn running_file(s: &Session, view: &str) -> PathBuf {
    views_dir(s).join(view).join("running")
}

/// Take an `flock` on `path` (created 0600 if missing); `None` when another process holds
/// it (non-blocking).
fn try_lock(path: &Path, exclusive: bool) -> Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let op = if exclusive {
        rustix::fs::FlockOperation::NonBlockingLockExclusive
    } else {
        rustix::fs::FlockOperation::NonBlockingLockShared
    };
    match rustix::fs::flock(&f, op) {
        Ok(()) => Ok(Some(f)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(Error::io(format!("locking {}", path.display()), e.into())),
    }
}

/// Whether the agent of session `view` runs now.
fn is_running(s: &Session, view: &str) -> bool {
    let p = running_file(s, view);
    if !p.exists() {
        return false;
    }
    matches!(try_lock(&p, false), Ok(None))
}

/// Sets up a session: checks, the view, the journal row and `session.started`.
pub fn start(s: &mut Session, req: &Request) -> Result<(Started, View)> {
    s.refuse_if_interrupted()?;
    let Some(command) = req.command.first() else {
        return Err(Error::usage(
            "name the agent after `--`, e.g. autonomy session -- claude",
        ));
    };
    let name = match &req.name {
        Some(n) => {
            check_name(n)?;
            n.clone()
        }
        None => generated_name(command),
    };
    crate::ops::sandbox::run::check_kernel().map_err(|e| {
        Error::new(
            e.kind,
            e.message
                .replace("cannot sandbox the agent", "cannot start a session"),
        )
        .hint(e.hint.clone().unwrap_or_default())
    })?;
    if let Some(why) = crate::exec::overlay_disabled() {
        return Err(Error::failed(format!(
            "cannot start a session: the copy-on-write view is unavailable ({why})"
        ))
        .hint(
            "sessions need the kernel's overlay file system; `autonomy sandbox` works without it",
        ));
    }
    let cmd_name = Path::new(command)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let agent = crate::util::identity::clean(&format!("agent:{cmd_name}"));
    if let Some(row) = s.journal.agent_session(&name)? {
        return resume(s, row, req, agent);
    }
    // A view that outlives this process: created, kept, reopened as an overlay view
    // (never a scratch copy) that is left on disk whatever happens to this process.
    let id = View::create(&s.ws.root)?.keep();
    let mut view = View::open(&s.ws.root, &id)?;
    view.persist();
    let home_note = None;
    let row = SessionRow {
        name: name.clone(),
        view: id.clone(),
        argv: req.command.clone(),
        agent: agent.clone(),
        started: crate::util::ids::format_time(s.clock.now()),
        ended: None,
        last_plan: None,
    };
    let actor = s.actor.clone();
    let data = json!({ "session": name, "view": id, "agent": agent, "argv": req.command, "allow_write": req.allow_write, "allow_connect": req.allow_connect });
    let inserted = s.journal.write(|tx| {
        if tx.agent_session_open(&name)? {
            return Err(Error::failed(format!(
                "a session named {name} is already open"
            )));
        }
        tx.insert_agent_session(&row)?;
        tx.event(&actor, EventKind::SessionStarted, None, &data)?;
        Ok(())
    });
    if let Err(e) = inserted {
        let _ = view.discard();
        return Err(e);
    }
    Ok((
        Started {
            name,
            view: id,
            agent,
            home_note,
            resumed: false,
        },
        view,
    ))
}

/// An open session named again: the new agent continues in its view (after a crash, or
/// to go on with the task), unless its agent still runs.
fn resume(
    s: &mut Session,
    row: SessionRow,
    req: &Request,
    agent: String,
) -> Result<(Started, View)> {
    let name = row.name.clone();
    if is_running(s, &row.view) {
        return Err(Error::new(
            Kind::Busy,
            format!("session {name}'s agent is still running"),
        )
        .hint(format!(
            "wait for it, or start another session with a different --name; \
             `autonomy session propose {name}` proposes its changes so far"
        )));
    }
    if !views_dir(s).join(&row.view).is_dir() {
        return Err(Error::failed(format!(
            "the view {} of session {name} is gone from {}",
            row.view,
            views_dir(s).display()
        ))
        .hint(format!(
            "close it with `autonomy session end {name}` and start a new one"
        )));
    }
    let mut view = View::open(&s.ws.root, &row.view)?;
    view.persist();
    let actor = s.actor.clone();
    let data = json!({ "session": name, "view": row.view, "agent": agent, "argv": req.command, "allow_write": req.allow_write, "allow_connect": req.allow_connect, "resumed": true });
    s.journal.write(|tx| {
        tx.resume_agent_session(&row.view, &req.command, &agent)?;
        tx.event(&actor, EventKind::SessionStarted, None, &data)?;
        Ok(())
    })?;
    Ok((
        Started {
            name,
            view: row.view,
            agent,
            home_note: None,
            resumed: true,
        },
        view,
    ))
}

/// Runs a session's agent attached to this process's terminal, then proposes what it
/// changed. `started` is called once the view is ready, before the agent starts.
pub fn run(
    s: &mut Session,
    dir: &Path,
    req: Request,
    started: &dyn Fn(&Started),
) -> Result<Finished> {
    // Checked before anything is set up: a refused folder leaves no session behind.
    let state = s.ws.state_path();
    let mut writable = Vec::new();
    for p in &req.allow_write {
        writable.push(crate::ops::sandbox::check_allow_write(
            &dir.join(p),
            &state,
        )?);
    }
    let (mut info, mut view) = start(s, &req)?;
    let home = private_home(&mut info)?;
    writable.push(home.path().to_path_buf());
    let running = try_lock(&running_file(s, &info.view), true)?.ok_or_else(|| {
        Error::new(
            Kind::Busy,
            format!("session {} is already running", info.name),
        )
    })?;
    started(&info);
    let spec = agent_spec(&req, dir, home.path(), writable);
    let outcome = run_until_stopped(&mut view, &spec, running);
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            s.event(
                EventKind::SessionAgentExited,
                None,
                json!({ "session": info.name, "view": info.view, "exit": null, "error": e.full_message() }),
            )?;
            return Err(e.hint(format!(
                "the session's view is kept: `autonomy session end {}` discards it",
                info.name
            )));
        }
    };
    let code = match outcome.status {
        ExitKind::Exited(c) => c,
        ExitKind::Signaled(sig) => 128 + sig,
        ExitKind::TimedOut => 124,
    };
    s.event(
        EventKind::SessionAgentExited,
        None,
        json!({ "session": info.name, "view": info.view, "exit": code, "duration_ms": outcome.wall.as_millis() as u64 }),
    )?;
    drop(view);
    propose_at_exit(s, info, outcome.status, code)
}

/// The agent's home: a fresh private folder, not the invoker's (noted in `info`). A
/// writable real home would let it plant what the person's own tools run later
/// (`~/.gitconfig`, `~/.bashrc`, `~/.cargo/bin`), outside any plan. The real home stays
/// readable.
fn private_home(info: &mut Started) -> Result<tempfile::TempDir> {
    let home = tempfile::Builder::new()
        .prefix("autonomy-session-home-")
        .tempdir()
        .map_err(|e| Error::io("creating the session's home folder", e))?;
    info.home_note = Some(format!(
        "the agent's home folder is a private, empty {} (removed when it exits); give it \
         keys through the environment, or --allow-write a folder it may change",
        home.path().display()
    ));
    Ok(home)
}

/// How the agent runs: in `dir`, with `home` as its home, writing for real only to
/// `writable`, connecting only to [`MODEL_PORTS`] and the allowed ports.
fn agent_spec(req: &Request, dir: &Path, home: &Path, writable: Vec<PathBuf>) -> ExecSpec {
    ExecSpec {
        argv: req.command.clone(),
        cwd: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
        env: {
            let mut env = crate::exec::environ::passthrough_env(&["TMPDIR", "HOME"]);
            env.push(("HOME".into(), home.display().to_string()));
            env
        },
        timeout: Duration::from_secs(365 * 24 * 3600),
        max_output_bytes: 0,
        memory_limit: None,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        // A real agent talks to its model over HTTPS; any other TCP port only when asked
        // (`--allow-connect`), so local services that run commands (Docker, dev servers)
        // cannot write the workspace for it. Unix sockets stay refused (seccomp).
        network: crate::exec::Network::Tcp {
            connect_ports: MODEL_PORTS
                .iter()
                .chain(&req.allow_connect)
                .copied()
                .collect(),
        },
        confinement_required: true,
        isolation: Isolation {
            mode: IsolationMode::Required,
            visible: Vec::new(),
            masked: Vec::new(),
        },
    }
}

/// Runs the agent in `view` until it exits or SIGINT, SIGTERM or SIGHUP stop it (its
/// whole namespace); `running` (the lock that says so) is released when it ends.
fn run_until_stopped(
    view: &mut View,
    spec: &ExecSpec,
    running: File,
) -> Result<crate::exec::ExecOutcome> {
    // What it changed until it was stopped is proposed as on any exit.
    let cancel = Arc::new(AtomicBool::new(false));
    let handlers: Vec<signal_hook::SigId> = [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ]
    .into_iter()
    .filter_map(|sig| signal_hook::flag::register(sig, Arc::clone(&cancel)).ok())
    .collect();
    let outcome = view.run_attached(spec, &cancel);
    drop(running);
    // The proposal that follows can be interrupted as any command can.
    for h in handlers {
        signal_hook::low_level::unregister(h);
    }
    outcome
}

/// After the agent exited: proposes what it changed, unless the session was ended
/// (`session end --force`) while it ran.
fn propose_at_exit(
    s: &mut Session,
    info: Started,
    status: ExitKind,
    code: i32,
) -> Result<Finished> {
    let open = s
        .journal
        .agent_session(&info.name)?
        .is_some_and(|row| row.view == info.view);
    let proposed = match open {
        true => propose(s, Some(&info.name)),
        false => Err(Error::failed(format!(
            "session {} was ended while its agent ran (`session end --force`); its view was \
             discarded and nothing was proposed",
            info.name
        ))
        .hint("start a new session to redo the work")),
    };
    Ok(Finished {
        name: info.name,
        view: info.view,
        agent: info.agent,
        status,
        code,
        proposed,
        view_kept: open,
    })
}

/// The open session named `name`, or the only open one when no name is given.
pub fn find(s: &Session, name: Option<&str>) -> Result<SessionRow> {
    match name {
        Some(n) => {
            check_name(n)?;
            s.journal.agent_session(n)?.ok_or_else(|| {
                Error::failed(format!("no open session is named {n}"))
                    .hint("`autonomy session list` shows the open sessions")
            })
        }
        None => {
            let open = s.journal.agent_sessions(false)?;
            match open.as_slice() {
                [one] => Ok(one.clone()),
                [] => Err(Error::failed("no session is open")
                    .hint("start one with `autonomy session -- AGENT ARGS...`")),
                many => Err(Error::usage(format!(
                    "{} sessions are open ({}); name one",
                    many.len(),
                    many.iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .hint("autonomy session propose NAME")),
            }
        }
    }
}

/// Turns everything session `name`'s view holds that differs from the workspace into one
/// pending plan (see the module doc for what happens to an earlier plan of the session).
pub fn propose(s: &mut Session, name: Option<&str>) -> Result<SessionPlan> {
    s.refuse_if_interrupted()?;
    let row = find(s, name)?;
    let name = row.name.clone();
    let dir = views_dir(s).join(&row.view);
    if !dir.is_dir() {
        return Err(Error::failed(format!(
            "the view {} of session {name} is gone from {}",
            row.view,
            views_dir(s).display()
        ))
        .hint(format!(
            "nothing can be proposed; `autonomy session end {name}` closes it"
        )));
    }
    let _guard = propose_lock(&dir, &name)?;
    // Read again under the lock: another proposal may have just finished.
    let row = find(s, Some(&name))?;
    let earlier = earlier_plan(&row)?;
    // The agent may be running in it (its process holds the view): read, never mount.
    let view = View::inspect(&s.ws.root, &row.view)?;
    let found = crate::plan::capture::view_ops(&view, &[])?;
    let notes: Vec<String> = unplannable_note(&name, &found.unplannable)
        .into_iter()
        .collect();
    let ops = found.ops.into_iter().map(|(_, op)| op).collect();
    let proposal = session_proposal(&name, &row, ops);
    // The plan is the agent's; the next command is the person's again, whatever fails.
    let actor = std::mem::replace(&mut s.actor, row.agent.clone());
    let made = propose_as_agent(s, &name, &row.view, earlier, proposal, notes);
    s.actor = actor;
    let (proposed, superseded) = made?;
    Ok(SessionPlan {
        name,
        proposed,
        superseded,
    })
}

/// The lock that serialises the proposals of the session whose view is `dir`, waiting
/// up to ten seconds for another proposal to finish.
fn propose_lock(dir: &Path, name: &str) -> Result<File> {
    let mut guard = None;
    for _ in 0..100 {
        guard = try_lock(&dir.join("propose"), true)?;
        if guard.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    guard.ok_or_else(|| {
        Error::new(
            Kind::Busy,
            format!("another process is proposing session {name}'s changes"),
        )
        .hint(format!("try again: autonomy session propose {name}"))
    })
}

/// The session's earlier plan that a new proposal supersedes (a pending one); refused
/// while that plan is approved and not applied yet.
fn earlier_plan(row: &SessionRow) -> Result<Option<crate::model::PlanId>> {
    let name = &row.name;
    match &row.last_plan {
        Some((id, PlanStatus::Approved)) => Err(Error::failed(format!(
            "session {name}'s plan {} is approved and not applied yet",
            id.short()
        ))
        .hint(format!(
            "apply it (`autonomy apply {}`) or reject it, then `autonomy session propose {name}`",
            id.short()
        ))),
        Some((id, PlanStatus::Pending)) => Ok(Some(id.clone())),
        _ => Ok(None),
    }
}

/// The note listing (the first 20 of) the changes the session made that no plan can hold.
fn unplannable_note(name: &str, unplannable: &[(String, String)]) -> Option<String> {
    if unplannable.is_empty() {
        return None;
    }
    let mut text = format!(
        "session {name} made {} that cannot be planned; not planned (still in the view):",
        crate::util::text::count(unplannable.len() as u64, "change")
    );
    for (p, why) in unplannable.iter().take(20) {
        text.push_str(&format!("\n  {p}: {why}"));
    }
    Some(text)
}

/// The proposal of the session's `ops`: titled and described after its agent's command,
/// recorded with the session and its view.
fn session_proposal(
    name: &str,
    row: &SessionRow,
    ops: Vec<crate::plan::compile::Op>,
) -> Proposal<'static> {
    let shown = shell_words::join(&row.argv);
    let mut title = format!("Session {name}: {shown}");
    if title.chars().count() > 120 {
        title = title.chars().take(117).collect::<String>() + "...";
    }
    let mut record = serde_json::Map::new();
    record.insert("session".into(), json!(name));
    record.insert("view".into(), json!(row.view));
    let mut proposal = Proposal::new(Source::Ops(ops)).title(Some(title));
    proposal.description = Some(format!(
        "Everything `{shown}` changed in session {name}'s view of the workspace that the \
         workspace does not hold yet."
    ));
    proposal.via = Some("session".into());
    proposal.record = record;
    proposal
}

/// Proposes (as the session's agent, `s.actor`), records the plan as the session's
/// (view `view_id`), and rejects the `earlier` pending plan it supersedes. Returns what
/// was proposed and the superseded plan.
fn propose_as_agent(
    s: &mut Session,
    name: &str,
    view_id: &str,
    earlier: Option<crate::model::PlanId>,
    proposal: Proposal<'_>,
    notes: Vec<String>,
) -> Result<(Proposed, Option<String>)> {
    let mut proposed = crate::ops::propose::propose(s, proposal)
        .map_err(|e| e.context(format!("proposing session {name}'s changes")))?;
    proposed.notes.extend(notes);
    let mut superseded = None;
    if let Some(id) = proposed.id().map(str::to_string) {
        let recorded = crate::model::PlanId::parse(&id)
            .ok_or_else(|| Error::failed("internal: a plan id that does not parse"))
            .and_then(|pid| s.journal.write(|tx| tx.set_session_plan(view_id, &pid)));
        if let Err(e) = recorded {
            return Err(e.context(format!("recording session {name}'s plan {}", &id[..12])));
        }
        if let Some(old) = earlier
            && old.as_str() != id
            && matches!(proposed.made, Made::New { .. })
        {
            let reason = format!(
                "superseded by plan {} from session {name}, which holds these changes and the later ones",
                &id[..12]
            );
            match crate::ops::reject::reject(s, Some(&old), Some(&reason)) {
                Ok(_) => superseded = Some(old.to_string()),
                Err(e) => proposed.notes.push(format!(
                    "the session's earlier plan {} could not be withdrawn: {}",
                    old.short(),
                    e.full_message()
                )),
            }
        }
    }
    Ok((proposed, superseded))
}

/// The open sessions, oldest first.
pub fn list(s: &Session) -> Result<Vec<Listed>> {
    let rows = s.journal.agent_sessions(false)?;
    Ok(rows
        .into_iter()
        .map(|row| Listed {
            running: is_running(s, &row.view),
            view_present: views_dir(s).join(&row.view).is_dir(),
            row,
        })
        .collect())
}

/// Ends session `name`: its view is discarded and the session closed in the journal
/// (its plans stay as they are). Refused while its agent runs, unless `force`.
pub fn end(s: &mut Session, name: &str, force: bool) -> Result<SessionRow> {
    let row = find(s, Some(name))?;
    if !force && is_running(s, &row.view) {
        return Err(Error::new(
            Kind::Busy,
            format!("session {name}'s agent is still running"),
        )
        .hint(format!(
            "let it finish (its changes are proposed when it exits), or end it anyway: \
             autonomy session end {name} --force"
        )));
    }
    let actor = s.actor.clone();
    let at = crate::util::ids::format_time(s.clock.now());
    let data = json!({ "session": name, "view": row.view, "forced": force });
    let view_id = row.view.clone();
    s.journal.write(|tx| {
        tx.end_agent_session(&view_id, &at)?;
        tx.event(&actor, EventKind::SessionEnded, None, &data)?;
        Ok(())
    })?;
    if views_dir(s).join(&row.view).is_dir() {
        match View::open(&s.ws.root, &row.view) {
            Ok(view) => view.discard()?,
            Err(e) if force && e.kind == Kind::Busy => {
                crate::view::discard_held(&s.ws.root, &row.view)?
            }
            Err(e) => return Err(e),
        }
    }
    Ok(row)
}

/// The folder views live in (for messages).
pub fn views_folder() -> String {
    format!("{STATE_DIR}/{VIEWS_DIR}")
}
