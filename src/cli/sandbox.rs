//! `autonomy sandbox`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::exec::ExitKind;
use crate::ops::sandbox::run::{self as sandbox, Proposed, Report, Request};
use crate::ops::session::Session;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run an agent read-only; it proposes plans through a spool
///
/// The agent proposes by writing plan files (*.toml) or patches (*.diff, at most 256 MiB)
/// into $AUTONOMY_SPOOL; each file, once complete, is planned exactly as `autonomy plan`
/// plans one (the same checks; the same plan proposed again is the pending one) with the
/// agent as actor, and its id is printed. Nothing is applied without approval. Its output
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
    let req = Request {
        spool: args.spool,
        allow_write: args.allow_write,
        agent: args.as_id,
        command: args.command,
    };
    // On a terminal the agent's escape sequences are shown, not obeyed: they could
    // otherwise erase or rewrite autonomy's own lines (which plans arrived) or talk to
    // the terminal. A pipe or file gets the bytes unchanged.
    let mut out: Box<dyn std::io::Write> = if ui::stdout_is_terminal() {
        Box::new(crate::render::termsafe::TerminalSafe::new(ui::stdout()))
    } else {
        Box::new(ui::stdout())
    };
    let json = ctx.json();
    let finished = sandbox::run(&mut s, &ctx.dir, req, &mut out, &|r| show(r, json))?;
    drop(out);
    if !finished.metadata_changes.is_empty() {
        ui::say(&format!(
            "warning: the agent changed file metadata Landlock cannot stop ({}):",
            crate::util::text::count(finished.metadata_changes.len() as u64, "path")
        ));
        for c in finished.metadata_changes.iter().take(50) {
            ui::say(&format!("  {c}"));
        }
    }
    let how = match finished.status {
        ExitKind::Exited(c) => format!("exited with status {c}"),
        ExitKind::Signaled(sig) => format!("was killed by signal {sig}"),
        ExitKind::TimedOut => "timed out".to_string(),
    };
    if json {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "agent": finished.agent,
            "agent_exit": finished.code, "plans": finished.plans,
            "metadata_changes": finished.metadata_changes,
        }));
    }
    ui::say(&format!(
        "{} {how}; {} proposed. Nothing was applied; review with `autonomy status`.",
        finished.agent,
        crate::util::text::count(finished.plans.len() as u64, "plan")
    ));
    // The agent's exit status is returned, as the contract says (DESIGN.md, `sandbox`).
    Ok(ExitCode::from(finished.code.clamp(0, 255) as u8))
}

/// Show one step: a plan's id on stdout (except in JSON mode, where the final document
/// lists them) and a line on stderr; a refusal as an `error:` line, as every error.
fn show(r: Report, json: bool) {
    match r {
        Report::Started { agent, spool } => ui::say(&format!(
            "Sandboxing {agent}: the workspace is read-only; proposals go to {}",
            spool.display()
        )),
        Report::Proposal(Proposed::Planned {
            file,
            id,
            title,
            actor,
            same,
        }) => {
            if !json {
                ui::println(&id[..12]);
            }
            match same {
                None => ui::say(&format!(
                    "{file}: pending plan {} {title:?} (by {actor})",
                    &id[..12]
                )),
                Some(status) => ui::say(&format!(
                    "{file}: same plan as the {status} plan {} {title:?} (by {actor}); nothing new was planned",
                    &id[..12]
                )),
            }
        }
        Report::Proposal(Proposed::Nothing { file, why }) => {
            ui::say(&format!("{file}: nothing to plan: {why}"))
        }
        Report::Proposal(Proposed::Refused { file, error }) => {
            ui::error(
                &Error::new(
                    error.kind,
                    format!("spool file {file} refused: {}", error.message),
                )
                .hint(error.hint.clone().unwrap_or_else(|| {
                    "the agent may write a corrected file under a new name".into()
                })),
            )
        }
        Report::Trouble(e) => ui::say(&format!("autonomy: {}", e.full_message())),
    }
}
