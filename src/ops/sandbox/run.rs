//! The sandbox as a use case: set up the confinement and the spool, run the agent, turn
//! every complete spool file into a plan through `ops::propose` while it runs (and once
//! more after it exits), answer each proposal with a reply file, and journal the start and
//! the end. What the person sees is the front door's: it gets a [`Report`] for each step.

use super::{
    Seen, check_allow_write, keep_reject, metadata_changes, metadata_snapshot, ready_files,
    write_reply,
};
use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecSpec, ExitKind, Isolation, IsolationMode, LandlockStatus};
use crate::model::EventKind;
use crate::ops::decision::Decision;
use crate::ops::propose::{Input, Made, Proposal, Source, propose};
use crate::ops::session::Session;
use crate::plan::read::{MAX_PROPOSAL_BYTES, What, read_path};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the front door asks for.
pub struct Request {
    /// The spool folder (relative to the workspace folder given); default: a fresh one.
    pub spool: Option<PathBuf>,
    /// Folders the agent may write besides the spool and its TMPDIR.
    pub allow_write: Vec<PathBuf>,
    /// The agent's name in the journal (default `agent:<command name>`).
    pub agent: Option<String>,
    pub command: Vec<String>,
}

/// What became of one spool file.
#[derive(Debug)]
pub enum Proposed {
    /// A pending plan (`same`: the status of the identical plan it turned out to be).
    Planned {
        file: String,
        id: crate::model::PlanId,
        title: String,
        actor: String,
        same: Option<crate::model::PlanStatus>,
    },
    /// The file changes nothing; no plan.
    Nothing { file: String, why: String },
    /// Refused (journaled as `sandbox.proposal_refused`, kept under `.autonomy/`).
    Refused { file: String, error: Error },
}

/// A step the front door may show.
pub enum Report<'a> {
    /// The agent is about to start.
    Started { agent: &'a str, spool: &'a Path },
    /// A spool file was taken.
    Proposal(&'a Proposed),
    /// Something that went wrong on the side (a reply file not written, a refusal not
    /// journaled); the sandbox goes on.
    Trouble(Error),
}

/// How the sandbox ended.
pub struct Finished {
    pub agent: String,
    pub status: ExitKind,
    /// The agent's exit status as a shell reports it (128 + signal, 124 for a timeout).
    pub code: i32,
    /// The plans proposed, each id once, in order.
    pub plans: Vec<String>,
    /// File metadata the agent changed that Landlock cannot stop.
    pub metadata_changes: Vec<String>,
}

/// Refuse where the kernel cannot confine the agent: it is never run unconfined.
pub fn check_kernel() -> Result<()> {
    if let LandlockStatus::Unavailable { reason } = crate::exec::landlock_status() {
        return Err(Error::failed(format!(
            "cannot sandbox the agent: Landlock is unavailable ({reason})"
        ))
        .hint(
            "autonomy never runs an agent unconfined; use a kernel with Landlock (5.13+) enabled",
        ));
    }
    if let Err(reason) = crate::exec::isolation_status() {
        return Err(Error::failed(format!(
            "cannot sandbox the agent: private namespaces are unavailable ({reason})"
        ))
        .hint(
            "autonomy never runs an agent unconfined; run as root, or allow unprivileged user \
             namespaces (sysctl kernel.unprivileged_userns_clone=1, or the AppArmor profile \
             that restricts them)",
        ));
    }
    Ok(())
}

/// Run the agent in `dir`'s workspace (session `s`), its output to `output`, reporting
/// each step to `report` (called from a second thread too, hence `Sync`).
pub fn run(
    s: &mut Session,
    dir: &Path,
    req: Request,
    output: &mut dyn Write,
    report: &(dyn Fn(Report) + Sync),
) -> Result<Finished> {
    s.refuse_if_interrupted()?;
    check_kernel()?;
    let name = Path::new(req.command.first().map_or("", String::as_str))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let agent =
        crate::util::identity::clean(&req.agent.clone().unwrap_or_else(|| format!("agent:{name}")));
    let scratch = tempfile::Builder::new()
        .prefix("autonomy-sandbox-")
        .tempdir()
        .map_err(|e| Error::io("creating a temp folder", e))?;
    let spool = match &req.spool {
        Some(p) => {
            std::fs::create_dir_all(dir.join(p))
                .map_err(|e| Error::io(format!("creating spool {}", p.display()), e))?;
            check_allow_write(&dir.join(p), &s.ws.state_path())?
        }
        None => {
            let p = scratch.path().join("spool");
            std::fs::create_dir(&p).map_err(|e| Error::io("creating the spool", e))?;
            p
        }
    };
    let tmp = scratch.path().join("tmp");
    std::fs::create_dir(&tmp).map_err(|e| Error::io("creating a temp folder", e))?;
    let mut writable = vec![spool.clone(), tmp.clone()];
    for p in &req.allow_write {
        writable.push(check_allow_write(&dir.join(p), &s.ws.state_path())?);
    }
    s.event(
        EventKind::SandboxStarted,
        None,
        serde_json::json!({ "agent": agent, "argv": req.command, "spool": spool, "allow_write": req.allow_write }),
    )?;
    report(Report::Started {
        agent: &agent,
        spool: &spool,
    });
    let meta_before = metadata_snapshot(&s.ws.root);
    let spec = agent_spec(s, dir, &req.command, &spool, &tmp, writable);
    let done = AtomicBool::new(false);
    let (outcome, watched) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| watch(dir, &spool, &agent, &done, report));
        let outcome = crate::exec::run(&spec, output);
        done.store(true, Ordering::Relaxed);
        let watched = watcher
            .join()
            .map_err(|_| Error::failed("the spool watcher stopped unexpectedly"))
            .and_then(|w| w);
        (outcome, watched)
    });
    // Every started sandbox ends in the journal, also when the agent could not be started.
    let (outcome, plans) = match outcome
        .map_err(|e| Error::failed(format!("running the agent: {e}")))
        .and_then(|o| watched.map(|plans| (o, plans)))
    {
        Ok(o) => o,
        Err(e) => {
            s.event(
                EventKind::SandboxFinished,
                None,
                serde_json::json!({ "agent": agent, "exit": null, "error": e.full_message() }),
            )?;
            return Err(e);
        }
    };
    let changes = metadata_changes(&meta_before, &metadata_snapshot(&s.ws.root));
    let code = match outcome.status {
        ExitKind::Exited(c) => c,
        ExitKind::Signaled(sig) => 128 + sig,
        ExitKind::TimedOut => 124,
    };
    s.event(
        EventKind::SandboxFinished,
        None,
        serde_json::json!({ "agent": agent, "exit": code, "metadata_changes": changes, "duration_ms": outcome.wall.as_millis() as u64 }),
    )?;
    Ok(Finished {
        agent,
        status: outcome.status,
        code,
        plans,
        metadata_changes: changes,
    })
}

/// The agent's confinement: everything read-only but the spool, its TMPDIR and the
/// `--allow-write` folders; private namespaces; its environment minus every variable that
/// leads into another process of the user's session (it keeps its API keys).
fn agent_spec(
    s: &Session,
    dir: &Path,
    argv: &[String],
    spool: &Path,
    tmp: &Path,
    writable: Vec<PathBuf>,
) -> ExecSpec {
    let mut env = crate::exec::environ::passthrough_env(&["TMPDIR", "AUTONOMY_SPOOL"]);
    env.push(("AUTONOMY_SPOOL".into(), spool.display().to_string()));
    env.push(("TMPDIR".into(), tmp.display().to_string()));
    ExecSpec {
        argv: argv.to_vec(),
        cwd: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
        env,
        timeout: Duration::from_secs(30 * 24 * 3600),
        max_output_bytes: 0,
        memory_limit: None,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: true,
        isolation: Isolation {
            mode: IsolationMode::Required,
            visible: vec![s.ws.root.clone()],
            masked: vec![s.ws.state_path().join("lock")],
        },
        // The agent needs its model's API (a session may narrow this to `Tcp`).
        network: crate::exec::Network::Host,
    }
}

/// The spool watcher: plans each complete file while the agent runs, then scans once more
/// after it exits (everything it wrote counts). Its own session acts as the agent.
fn watch(
    dir: &Path,
    spool: &Path,
    agent: &str,
    done: &AtomicBool,
    report: &(dyn Fn(Report) + Sync),
) -> Result<Vec<String>> {
    let mut s = Session::open(dir)?;
    s.actor = agent.to_string();
    let mut seen = Seen::new();
    let mut replies = Replies::default();
    let mut plans: Vec<String> = Vec::new();
    loop {
        let last = done.load(Ordering::Relaxed);
        let settle = if last {
            Duration::ZERO
        } else {
            Duration::from_millis(300)
        };
        for (path, stamp) in ready_files(spool, &seen, settle) {
            seen.insert(path.clone(), stamp);
            let taken = take(&mut s, spool, &path, &mut replies, report);
            if let Proposed::Planned { id, .. } = &taken
                && !plans.iter().any(|p| p == id.as_str())
            {
                plans.push(id.to_string());
            }
            report(Report::Proposal(&taken));
        }
        replies.refresh(&s, spool, last, report);
        if last {
            return Ok(plans);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Make one spool file a plan (`ops::propose`, the same path as `autonomy plan`), and
/// answer it: a reply file next to it (`NAME.decision`) with its plan id and decision, or
/// why it was refused. A refused proposal is journaled (`sandbox.proposal_refused`) and
/// its bytes kept under `.autonomy/spool-rejects/`.
fn take(
    s: &mut Session,
    spool: &Path,
    path: &Path,
    replies: &mut Replies,
    report: &(dyn Fn(Report) + Sync),
) -> Proposed {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Read once, with the one reader: the bytes planned are the bytes kept if refused.
    let shown = path.display().to_string();
    let bytes = match read_path(What::SpoolFile, path, &shown, MAX_PROPOSAL_BYTES) {
        Ok(b) => b,
        Err(error) => {
            // Nothing was read (a symlink, a FIFO, too large): journaled by name and reason.
            let data = serde_json::json!({
                "agent": s.actor, "file": file, "reason": error.message, "bytes": 0,
                "sha256": null, "kept": null, "keep_error": null,
            });
            journal_refusal(s, &file, data, report);
            replies.refused(spool, &file, &error.message, report);
            return Proposed::Refused { file, error };
        }
    };
    // What a refusal keeps: the bytes when small enough, else their size and hash.
    let evidence = if bytes.len() as u64 <= super::MAX_KEPT_REJECT {
        Evidence::Bytes(bytes.clone())
    } else {
        Evidence::Digest(bytes.len(), crate::util::hash::sha256_hex(&bytes))
    };
    let input = Input::Bytes {
        name: shown,
        bytes,
        folder: path.parent().map(Path::to_path_buf),
    };
    match propose(s, Proposal::new(Source::Spool(input))) {
        Ok(p) => match p.made {
            Made::New { id, plan } => {
                replies.planned(s, spool, &file, &id, report);
                Proposed::Planned {
                    file,
                    id,
                    title: plan.title,
                    actor: s.actor.clone(),
                    same: None,
                }
            }
            Made::Same { id, plan, status } => {
                replies.planned(s, spool, &file, &id, report);
                Proposed::Planned {
                    file,
                    id,
                    title: plan.title,
                    actor: s.actor.clone(),
                    same: Some(status),
                }
            }
            Made::Nothing { why } => {
                replies.nothing(spool, &file, &why, report);
                Proposed::Nothing { file, why }
            }
        },
        Err(error) => {
            match &evidence {
                Evidence::Bytes(b) => refused(s, &file, &error, b, report),
                Evidence::Digest(len, sha) => refused_digest(s, &file, &error, *len, sha, report),
            }
            replies.refused(spool, &file, &error.message, report);
            Proposed::Refused { file, error }
        }
    }
}

enum Evidence {
    Bytes(Vec<u8>),
    Digest(usize, String),
}

/// Journal a refusal and keep the refused bytes under `.autonomy/spool-rejects/`.
fn refused(
    s: &mut Session,
    file: &str,
    error: &Error,
    bytes: &[u8],
    report: &(dyn Fn(Report) + Sync),
) {
    let (kept, keep_error) = match keep_reject(&s.ws.state_path(), file, bytes) {
        Ok(k) => (k, None),
        Err(k) => (None, Some(k.message)),
    };
    let data = serde_json::json!({
        "agent": s.actor, "file": file, "reason": error.message, "bytes": bytes.len(),
        "sha256": crate::util::hash::sha256_hex(bytes), "kept": kept, "keep_error": keep_error,
    });
    journal_refusal(s, file, data, report);
}

/// Journal the refusal of a proposal too large to keep: its size and hash only.
fn refused_digest(
    s: &mut Session,
    file: &str,
    error: &Error,
    len: usize,
    sha256: &str,
    report: &(dyn Fn(Report) + Sync),
) {
    let data = serde_json::json!({
        "agent": s.actor, "file": file, "reason": error.message, "bytes": len,
        "sha256": sha256, "kept": null, "keep_error": null,
    });
    journal_refusal(s, file, data, report);
}

fn journal_refusal(
    s: &mut Session,
    file: &str,
    data: serde_json::Value,
    report: &(dyn Fn(Report) + Sync),
) {
    if let Err(j) = s.event(EventKind::SandboxProposalRefused, None, data) {
        report(Report::Trouble(Error::failed(format!(
            "journaling the refusal of {file}: {}",
            j.message
        ))));
    }
}

/// The reply files this sandbox keeps up to date: proposal name -> plan id and the
/// decision last written.
#[derive(Default)]
struct Replies {
    planned: Vec<(String, String, Option<Decision>)>,
    last_refresh: Option<Instant>,
}

impl Replies {
    fn planned(
        &mut self,
        s: &Session,
        spool: &Path,
        name: &str,
        id: &str,
        report: &(dyn Fn(Report) + Sync),
    ) {
        self.planned.retain(|(n, _, _)| n != name);
        self.planned.push((name.to_string(), id.to_string(), None));
        self.last_refresh = None;
        self.refresh(s, spool, true, report);
    }

    fn refused(
        &mut self,
        spool: &Path,
        name: &str,
        reason: &str,
        report: &(dyn Fn(Report) + Sync),
    ) {
        self.planned.retain(|(n, _, _)| n != name);
        let doc = serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "file": name, "plan": null,
            "decision": "refused", "reason": reason, "ready": false,
        });
        if let Err(e) = write_reply(spool, name, &doc) {
            report(Report::Trouble(e));
        }
    }

    fn nothing(&mut self, spool: &Path, name: &str, why: &str, report: &(dyn Fn(Report) + Sync)) {
        self.planned.retain(|(n, _, _)| n != name);
        let doc = serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "file": name, "plan": null,
            "decision": "nothing_to_plan", "reason": why, "ready": false,
        });
        if let Err(e) = write_reply(spool, name, &doc) {
            report(Report::Trouble(e));
        }
    }

    /// Rewrite each reply whose decision changed (at most once a second unless `now`).
    fn refresh(&mut self, s: &Session, spool: &Path, now: bool, report: &(dyn Fn(Report) + Sync)) {
        if !now
            && self
                .last_refresh
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_refresh = Some(Instant::now());
        for (name, id, last) in &mut self.planned {
            let Ok(d) = crate::ops::decision::decision(s, id) else {
                continue;
            };
            if last.as_ref() == Some(&d) {
                continue;
            }
            let mut doc = serde_json::to_value(&d).unwrap_or_default();
            if let Some(o) = doc.as_object_mut() {
                o.insert("format_version".into(), crate::model::FORMAT_VERSION.into());
                o.insert("file".into(), name.clone().into());
                o.insert("short".into(), id[..12].to_string().into());
            }
            match write_reply(spool, name, &doc) {
                Ok(()) => *last = Some(d),
                Err(e) => report(Report::Trouble(e)),
            }
        }
    }
}
