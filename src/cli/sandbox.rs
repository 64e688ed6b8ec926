//! `autonomy sandbox`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecSpec, ExitKind, Isolation, IsolationMode, LandlockStatus};
use crate::ops::sandbox::{
    MAX_SPOOL_FILE, Seen, check_allow_write, metadata_changes, metadata_snapshot, read_untrusted,
    ready_files,
};
use crate::ops::session::Session;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Run an agent read-only; it proposes plans through a spool
///
/// The agent proposes by writing plan files (*.toml) or patches (*.diff, at most 64 MiB)
/// into $AUTONOMY_SPOOL; each file, once complete, becomes a pending plan with the agent
/// as actor, and its id is printed. Nothing is applied without approval. Its output
/// passes through (stdout and stderr both on stdout; escape sequences shown, not obeyed,
/// when stdout is a terminal); its exit status is returned, and also printed, journaled
/// and in `--format json` as `agent_exit` (an agent's own 3 is not autonomy's "not
/// approved": compare with `agent_exit`). A refusal before the agent starts exits with
/// autonomy's code for it.
///
/// The agent runs confined, never otherwise: in private namespaces where the whole file
/// system is read-only except the spool, a private TMPDIR and each --allow-write PATH;
/// where /tmp, /run, /dev/shm, $XDG_RUNTIME_DIR, ~/.ssh and ~/.gnupg are empty and the
/// user's Unix sockets (tmux, ssh-agent, D-Bus...) are out of reach; under Landlock, with
/// no_new_privs and no capabilities, root included. SSH_AUTH_SOCK, TMUX, DBUS_* and
/// similar variables are removed from its environment; the rest passes through. Every
/// process it started is killed when it exits. Refused where the kernel lacks user
/// namespaces (when not root) or Landlock.
///
/// Example:
///   autonomy sandbox --allow-write target -- my-agent --task "rename the timeout key"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SandboxArgs {
    /// The spool folder (default: a fresh folder under $TMPDIR).
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub spool: Option<PathBuf>,
    /// A folder the agent may write (build output such as target/); repeatable. Never
    /// .autonomy/, never through a symlink inside the workspace; /tmp and the other
    /// hidden folders stay hidden.
    #[arg(long = "allow-write", value_name = "PATH", value_hint = clap::ValueHint::DirPath)]
    pub allow_write: Vec<PathBuf>,
    /// The agent's name in the journal (default: agent:<command name>).
    #[arg(long = "as", value_name = "ID")]
    pub as_id: Option<String>,
    /// The agent command, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(args: SandboxArgs, ctx: &Ctx) -> Result<ExitCode> {
    ctx.no_jsonl("sandbox")?;
    let mut s = Session::open(&ctx.dir)?;
    s.refuse_if_interrupted()?;
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
    let name = Path::new(&args.command[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let agent = crate::util::identity::clean(
        &args
            .as_id
            .clone()
            .unwrap_or_else(|| format!("agent:{name}")),
    );
    let scratch = tempfile::Builder::new()
        .prefix("autonomy-sandbox-")
        .tempdir()
        .map_err(|e| Error::io("creating a temp folder", e))?;
    let spool = match &args.spool {
        Some(p) => {
            std::fs::create_dir_all(ctx.dir.join(p))
                .map_err(|e| Error::io(format!("creating spool {}", p.display()), e))?;
            check_allow_write(&ctx.dir.join(p), &s.ws.state_path())?
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
    for p in &args.allow_write {
        writable.push(check_allow_write(&ctx.dir.join(p), &s.ws.state_path())?);
    }
    s.event(
        crate::model::EventKind::SandboxStarted,
        None,
        serde_json::json!({ "agent": agent, "argv": args.command, "spool": spool, "allow_write": args.allow_write }),
    )?;
    ui::say(&format!(
        "Sandboxing {agent}: the workspace is read-only; proposals go to {}",
        spool.display()
    ));
    let meta_before = metadata_snapshot(&s.ws.root);
    // The agent's environment passes through (it needs its API keys), minus every
    // variable that leads into another process of the user's session.
    let mut env = crate::exec::environ::passthrough_env(&["TMPDIR", "AUTONOMY_SPOOL"]);
    env.push(("AUTONOMY_SPOOL".into(), spool.display().to_string()));
    env.push(("TMPDIR".into(), tmp.display().to_string()));
    let spec = ExecSpec {
        argv: args.command.clone(),
        cwd: std::path::absolute(&ctx.dir).unwrap_or_else(|_| ctx.dir.clone()),
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
    };
    // The spool watcher plans each complete file while the agent runs.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = Arc::clone(&done);
        let spool = spool.clone();
        let dir = ctx.dir.clone();
        let agent = agent.clone();
        let json = ctx.json();
        std::thread::spawn(move || -> Result<Vec<String>> {
            let mut s = Session::open(&dir)?;
            s.actor = agent;
            let mut seen = Seen::new();
            let mut replies = Replies::default();
            let mut planned = Vec::new();
            while !done.load(Ordering::Relaxed) {
                plan_ready(
                    &mut s,
                    &spool,
                    &mut seen,
                    Duration::from_millis(300),
                    json,
                    &mut planned,
                    &mut replies,
                );
                replies.refresh(&s, &spool, false);
                std::thread::sleep(Duration::from_millis(200));
            }
            // One more scan after the agent exits: everything it wrote counts.
            plan_ready(
                &mut s,
                &spool,
                &mut seen,
                Duration::ZERO,
                json,
                &mut planned,
                &mut replies,
            );
            replies.refresh(&s, &spool, true);
            Ok(planned)
        })
    };
    // On a terminal the agent's escape sequences are shown, not obeyed: they could
    // otherwise erase or rewrite autonomy's own lines (which plans arrived) or talk to
    // the terminal. A pipe or file gets the bytes unchanged.
    let stdout = std::io::stdout();
    let mut out: Box<dyn std::io::Write> = if stdout.is_terminal() {
        Box::new(crate::render::termsafe::TerminalSafe::new(stdout))
    } else {
        Box::new(stdout)
    };
    let outcome = crate::exec::run(&spec, &mut out);
    drop(out);
    done.store(true, Ordering::Relaxed);
    let watched = watcher
        .join()
        .map_err(|_| Error::failed("the spool watcher stopped unexpectedly"))
        .and_then(|w| w);
    // Every started sandbox ends in the journal, also when the agent could not be started.
    let (outcome, planned) = match outcome
        .map_err(|e| Error::failed(format!("running the agent: {e}")))
        .and_then(|o| watched.map(|planned| (o, planned)))
    {
        Ok(o) => o,
        Err(e) => {
            s.event(
                crate::model::EventKind::SandboxFinished,
                None,
                serde_json::json!({ "agent": agent, "exit": null, "error": e.message }),
            )?;
            return Err(e);
        }
    };
    let changes = metadata_changes(&meta_before, &metadata_snapshot(&s.ws.root));
    if !changes.is_empty() {
        ui::say(&format!(
            "warning: the agent changed file metadata Landlock cannot stop ({}):",
            crate::util::text::count(changes.len() as u64, "path")
        ));
        for c in changes.iter().take(50) {
            ui::say(&format!("  {c}"));
        }
    }
    let code = match outcome.status {
        ExitKind::Exited(c) => c,
        ExitKind::Signaled(sig) => 128 + sig,
        ExitKind::TimedOut => 124,
    };
    s.event(
        crate::model::EventKind::SandboxFinished,
        None,
        serde_json::json!({ "agent": agent, "exit": code, "metadata_changes": changes, "duration_ms": outcome.wall.as_millis() as u64 }),
    )?;
    let how = match outcome.status {
        ExitKind::Exited(c) => format!("exited with status {c}"),
        ExitKind::Signaled(sig) => format!("was killed by signal {sig}"),
        ExitKind::TimedOut => "timed out".to_string(),
    };
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "agent": agent,
            "agent_exit": code, "plans": planned, "metadata_changes": changes,
        }));
    }
    ui::say(&format!(
        "{agent} {how}; {} proposed. Nothing was applied; review with `autonomy status`.",
        crate::util::text::count(planned.len() as u64, "plan")
    ));
    // The agent's exit status is returned, as the contract says (DESIGN.md, `sandbox`).
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// Plan every complete spool file; report each id (stdout, except in JSON mode, where the
/// final document lists them) or refusal (an `error:` line on stderr, as every error).
/// Each proposal gets a reply file next to it (`NAME.decision`): its plan id and decision,
/// or why it was refused. A refused proposal is journaled (`sandbox.proposal_refused`) and
/// kept under `.autonomy/spool-rejects/`.
fn plan_ready(
    s: &mut Session,
    spool: &Path,
    seen: &mut Seen,
    settle: Duration,
    json: bool,
    planned: &mut Vec<String>,
    replies: &mut Replies,
) {
    for (path, stamp) in ready_files(spool, seen, settle) {
        seen.insert(path.clone(), stamp);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // One bounded, no-follow reader for everything the agent wrote.
        let bytes = read_untrusted(&path, MAX_SPOOL_FILE);
        let proposal = bytes
            .as_ref()
            .map_err(|e| Error::failed(e.message.clone()))
            .and_then(|b| plan_one(s, &path, b.clone()));
        match proposal {
            Ok((id, title)) => {
                if !json {
                    ui::println(crate::model::id::short(&id));
                }
                ui::say(&format!(
                    "{name}: pending plan {} {title:?} (by {})",
                    crate::model::id::short(&id),
                    s.actor
                ));
                planned.push(id.clone());
                replies.planned(s, spool, &name, &id);
            }
            Err(e) => {
                ui::error(
                    &Error::new(e.kind, format!("spool file {name} refused: {}", e.message)).hint(
                        e.hint.clone().unwrap_or_else(|| {
                            "the agent may write a corrected file under a new name".into()
                        }),
                    ),
                );
                let bytes = bytes.unwrap_or_default();
                let kept = crate::ops::sandbox::keep_reject(&s.ws.state_path(), &name, &bytes);
                let (kept, keep_error) = match kept {
                    Ok(k) => (k, None),
                    Err(k) => (None, Some(k.message)),
                };
                let agent = s.actor.clone();
                if let Err(j) = s.event(
                    crate::model::EventKind::SandboxProposalRefused,
                    None,
                    serde_json::json!({
                        "agent": agent, "file": name, "reason": e.message, "bytes": bytes.len(),
                        "sha256": crate::util::hash::sha256_hex(&bytes), "kept": kept, "keep_error": keep_error,
                    }),
                ) {
                    ui::error(&Error::failed(format!("journaling the refusal of {name}: {}", j.message)));
                }
                replies.refused(spool, &name, &e.message);
            }
        }
    }
}

/// The largest spool file read as a proposal (as for `autonomy plan FILE`).
/// The reply files this sandbox keeps up to date: proposal name -> plan id and the
/// decision last written.
#[derive(Default)]
struct Replies {
    planned: Vec<(String, String, Option<crate::ops::decision::Decision>)>,
    last_refresh: Option<std::time::Instant>,
}

impl Replies {
    fn planned(&mut self, s: &Session, spool: &Path, name: &str, id: &str) {
        self.planned.retain(|(n, _, _)| n != name);
        self.planned.push((name.to_string(), id.to_string(), None));
        self.last_refresh = None;
        self.refresh(s, spool, true);
    }

    fn refused(&mut self, spool: &Path, name: &str, reason: &str) {
        self.planned.retain(|(n, _, _)| n != name);
        let doc = serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "file": name, "plan": null,
            "decision": "refused", "reason": reason, "ready": false,
        });
        if let Err(e) = crate::ops::sandbox::write_reply(spool, name, &doc) {
            ui::say(&format!("autonomy: {}", e.message));
        }
    }

    /// Rewrite each reply whose decision changed (at most once a second unless `now`).
    fn refresh(&mut self, s: &Session, spool: &Path, now: bool) {
        if !now
            && self
                .last_refresh
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_refresh = Some(std::time::Instant::now());
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
                o.insert(
                    "short".into(),
                    crate::model::id::short(id).to_string().into(),
                );
            }
            match crate::ops::sandbox::write_reply(spool, name, &doc) {
                Ok(()) => *last = Some(d),
                Err(e) => ui::say(&format!("autonomy: {}", e.message)),
            }
        }
    }
}

fn plan_one(s: &mut Session, path: &Path, bytes: Vec<u8>) -> Result<(String, String)> {
    use crate::plan::compile::{self, Meta};
    let name = path.display().to_string();
    let plan = if path.extension().is_some_and(|e| e == "toml") {
        let text =
            String::from_utf8(bytes).map_err(|_| Error::failed(format!("{name} is not UTF-8")))?;
        let pf = crate::plan::file::parse(&text, &name)?;
        let meta = Meta {
            workspace: s.workspace_id()?,
            title: pf.title.clone(),
            author: pf.author.clone().unwrap_or_else(|| s.actor.clone()),
            description: pf.description.clone(),
        };
        compile::compile(&s.ws, &pf, path.parent(), meta, s.rules()?, &s.blobs)?
    } else {
        let ops = crate::plan::from_patch::ops(&s.ws, &bytes, &name)?;
        let title = crate::plan::from_patch::suggested_title(&bytes).unwrap_or_else(|| {
            format!(
                "Patch {}",
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )
        });
        let meta = Meta {
            workspace: s.workspace_id()?,
            title,
            author: s.actor.clone(),
            description: None,
        };
        compile::compile_ops(&s.ws, ops, meta, s.rules()?, &s.blobs)?
    };
    let id = s.insert_plan(&plan, "sandbox")?;
    Ok((id.into_string(), plan.title))
}
