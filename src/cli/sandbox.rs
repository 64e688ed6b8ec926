//! `autonomy sandbox`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecSpec, ExitKind, LandlockStatus};
use crate::sandbox::{Seen, check_allow_write, metadata_changes, metadata_snapshot, ready_files};
use crate::session::Session;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Run an agent read-only; it proposes plans through a spool
///
/// The workspace and .autonomy/ are read-only to the agent (Linux Landlock; refused where the
/// kernel lacks it, never run unconfined). The agent runs with no_new_privs and no
/// capabilities, root included. It proposes by writing plan files (*.toml) or patches
/// (*.diff) into $AUTONOMY_SPOOL; each file, once complete, becomes a pending plan with the
/// agent as actor, and its id is printed. Nothing is applied without approval. The agent's
/// output passes through (stdout and stderr both on stdout).
///
/// Exit status: 0 when the agent exited 0; 1 when it failed (its own status, or the signal
/// that ended it, is printed, journaled and in `--format json` as `agent_exit`), so that
/// 2-7 always keep autonomy's own meanings (3 is never an agent's "3"); any refusal before
/// the agent starts exits with autonomy's code for it.
///
/// Writable for the agent: the spool, a private TMPDIR, and each --allow-write PATH (never
/// .autonomy/). Mode, owner and time changes Landlock cannot stop are reported.
///
/// Example:
///   autonomy sandbox --allow-write target -- my-agent --task "rename the timeout key"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SandboxArgs {
    /// The spool folder (default: a fresh folder under $TMPDIR).
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub spool: Option<PathBuf>,
    /// A folder the agent may write (build output such as target/); repeatable.
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
    let name = Path::new(&args.command[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let agent = crate::identity::clean(
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
        "sandbox.started",
        None,
        serde_json::json!({ "agent": agent, "argv": args.command, "spool": spool, "allow_write": args.allow_write }),
    )?;
    ui::say(&format!(
        "Sandboxing {agent}: the workspace is read-only; proposals go to {}",
        spool.display()
    ));
    let meta_before = metadata_snapshot(&s.ws.root);
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k != "TMPDIR" && k != "AUTONOMY_SPOOL")
        .collect();
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
            let mut planned = Vec::new();
            while !done.load(Ordering::Relaxed) {
                plan_ready(
                    &mut s,
                    &spool,
                    &mut seen,
                    Duration::from_millis(300),
                    json,
                    &mut planned,
                );
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
            );
            Ok(planned)
        })
    };
    let mut out = std::io::stdout();
    let outcome = crate::exec::run(&spec, &mut out);
    done.store(true, Ordering::Relaxed);
    let watched = watcher
        .join()
        .map_err(|_| Error::failed("the spool watcher stopped unexpectedly"))?;
    let outcome = outcome.map_err(|e| Error::failed(format!("running the agent: {e}")))?;
    let planned = watched?;
    let changes = metadata_changes(&meta_before, &metadata_snapshot(&s.ws.root));
    if !changes.is_empty() {
        ui::say(&format!(
            "warning: the agent changed file metadata Landlock cannot stop ({}):",
            crate::text::count(changes.len() as u64, "path")
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
        "sandbox.finished",
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
            "format_version": crate::render::FORMAT_VERSION, "agent": agent,
            "agent_exit": code, "plans": planned, "metadata_changes": changes,
        }));
    }
    ui::say(&format!(
        "{agent} {how}; {} proposed. Nothing was applied; review with `autonomy status`.",
        crate::text::count(planned.len() as u64, "plan")
    ));
    // The agent's own status never reaches our exit code: 3 would read "not approved".
    Ok(if code == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Plan every complete spool file; report each id (stdout, except in JSON mode, where the
/// final document lists them) or refusal (an `error:` line on stderr, as every error).
fn plan_ready(
    s: &mut Session,
    spool: &Path,
    seen: &mut Seen,
    settle: Duration,
    json: bool,
    planned: &mut Vec<String>,
) {
    for (path, stamp) in ready_files(spool, seen, settle) {
        seen.insert(path.clone(), stamp);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match plan_one(s, &path) {
            Ok((id, title)) => {
                if !json {
                    ui::println(&id[..12]);
                }
                ui::say(&format!(
                    "{name}: pending plan {} {title:?} (by {})",
                    &id[..12],
                    s.actor
                ));
                planned.push(id);
            }
            Err(e) => ui::error(
                &Error::new(e.kind, format!("spool file {name} refused: {}", e.message)).hint(
                    e.hint.unwrap_or_else(|| {
                        "the agent may write a corrected file under a new name".into()
                    }),
                ),
            ),
        }
    }
}

fn plan_one(s: &mut Session, path: &Path) -> Result<(String, String)> {
    use crate::plan::compile::{self, Meta};
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
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
    Ok((id, plan.title))
}
