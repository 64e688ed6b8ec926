//! `autonomy session`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::exec::ExitKind;
use crate::ops::agent_session::{self as sessions, Request, SessionPlan};
use crate::ops::propose::Made;
use crate::ops::session::Session;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run any agent in a view of the workspace; what it changes becomes a plan
///
/// The agent (with hooks or without, interactive or headless) works in a copy-on-write
/// view of the workspace: it sees the workspace at its own path and changes it freely,
/// and it sees its own changes, but the real workspace and .autonomy/ are untouched and
/// out of its reach. It is confined as `autonomy sandbox` confines an agent (private
/// namespaces and Landlock; no SSH agent, no Unix sockets of yours; its own process
/// group), with a private TMPDIR and a private, empty HOME (your home is never writable
/// to it: pass API keys in the environment). Its stdin, stdout and stderr are your
/// terminal's.
///
/// When the agent exits (also on Ctrl-C or when its terminal closes), everything its view
/// holds that the workspace does not becomes one pending plan with the agent as author
/// (agent:COMMAND), printed like `autonomy plan` prints one. Nothing is applied without
/// approval. `autonomy session propose [NAME]` does the same from another terminal while
/// the agent runs. Once the plan is applied, the view continues from the new state. A
/// session has at most one open plan: a new proposal supersedes a pending one (which is
/// rejected, naming the new one) and is refused while the last one is approved but not
/// yet applied. The view outlives the agent (and a crash) until `autonomy session end`;
/// naming an open session again (`--name NAME`) runs the new agent in that view, where
/// the earlier agent's changes still are.
///
/// The exit status is the agent's (an agent's own 3 is not autonomy's "not approved";
/// `--format json` has `agent_exit`), unless the proposal at the end fails: then it is
/// autonomy's code for that failure, and the view is kept.
///
/// Examples:
///   autonomy session --name rename -- claude
///   autonomy session -- claude -p "rename the timeout key"     # in CI: ends with a plan
///   autonomy session propose rename                            # from another terminal
///   autonomy session list
///   autonomy session end rename
#[derive(Debug, clap::Args)]
#[command(
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct SessionArgs {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// The session's name (letters, digits, '.', '_', '-'; default: the agent's command
    /// name and four random hex digits).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// A folder the agent may write for real, outside the view (build output such as
    /// target/); repeatable; what it writes there is never part of a plan. Never
    /// .autonomy/, never through a symlink inside the workspace.
    #[arg(long = "allow-write", value_name = "PATH", value_hint = clap::ValueHint::DirPath)]
    pub allow_write: Vec<PathBuf>,
    /// A TCP port the agent may connect to, besides 443 (HTTPS, where model APIs are);
    /// repeatable: e.g. a local model server's. Every other TCP port, on any host, is
    /// refused, so local services (databases, Docker, dev servers) are out of its reach.
    #[arg(long = "allow-connect", value_name = "PORT")]
    pub allow_connect: Vec<u16>,
    /// The agent command, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Propose what a session's view changed since its last applied plan, now
    ///
    /// Reads the view's changes directly (also while the agent writes: a file it is
    /// writing at that moment may be caught half-written; the next proposal corrects it).
    /// NAME may be left out when only one session is open.
    Propose {
        /// The session (default: the only open one).
        name: Option<String>,
    },
    /// The open sessions: name, view, agent command, running or exited, last plan
    List,
    /// Discard a session's view and close it (its plans stay as they are)
    End {
        /// The session.
        name: String,
        /// End it even while its agent runs (the agent then works on a discarded view).
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: SessionArgs, ctx: &Ctx) -> Result<ExitCode> {
    ctx.no_jsonl("session")?;
    match args.action {
        Some(Action::Propose { name }) => {
            let mut s = Session::open(&ctx.dir)?;
            let p = sessions::propose(&mut s, name.as_deref())?;
            show_plan(ctx, &p, None);
            Ok(ExitCode::SUCCESS)
        }
        Some(Action::List) => list(ctx).map(|()| ExitCode::SUCCESS),
        Some(Action::End { name, force }) => {
            let mut s = Session::open(&ctx.dir)?;
            let row = sessions::end(&mut s, &name, force)?;
            if ctx.json() {
                ui::json(&serde_json::json!({
                    "format_version": crate::model::FORMAT_VERSION,
                    "ended": { "name": row.name, "view": row.view },
                }));
            }
            let plan = match &row.last_plan {
                Some((id, status)) => format!("; its last plan {} is {status}", id.short()),
                None => String::new(),
            };
            ui::say(&format!(
                "Ended session {}: its view {} was discarded{plan}.",
                row.name, row.view
            ));
            Ok(ExitCode::SUCCESS)
        }
        None => start(args, ctx),
    }
}

fn start(args: SessionArgs, ctx: &Ctx) -> Result<ExitCode> {
    let mut s = Session::open(&ctx.dir)?;
    let req = Request {
        name: args.name,
        allow_write: args.allow_write,
        allow_connect: args.allow_connect,
        command: args.command,
    };
    // An agent that dies in raw mode would leave the terminal unusable: its settings are
    // put back afterwards.
    let saved = rustix::termios::tcgetattr(std::io::stdin()).ok();
    let finished = sessions::run(&mut s, &ctx.dir, req, &|st| {
        if let Some(note) = &st.home_note {
            ui::say(&format!("note: {note}"));
        }
        let how = if st.resumed {
            "continues in the session's copy-on-write view (with its earlier changes)"
        } else {
            "works in a copy-on-write view"
        };
        ui::say(&format!(
            "Session {} (view {}): {} {how}; the workspace is not touched. \
             `autonomy session propose {}` proposes its changes so far.",
            st.name,
            st.view,
            crate::paths::printable(&st.agent),
            st.name
        ));
    });
    if let Some(t) = &saved {
        let _ =
            rustix::termios::tcsetattr(std::io::stdin(), rustix::termios::OptionalActions::Now, t);
    }
    let finished = finished?;
    let how = match finished.status {
        ExitKind::Exited(c) => format!("exited with status {c}"),
        ExitKind::Signaled(sig) => format!("was killed by signal {sig}"),
        ExitKind::TimedOut => "timed out".to_string(),
    };
    ui::say(&format!(
        "{} {how}.",
        crate::paths::printable(&finished.agent)
    ));
    match finished.proposed {
        Ok(p) => {
            show_plan(ctx, &p, Some(finished.code));
            Ok(ExitCode::from(finished.code.clamp(0, 255) as u8))
        }
        Err(e) if !finished.view_kept => Err(e),
        Err(e) => Err(Error::new(
            e.kind,
            format!(
                "session {}: its changes were not proposed: {}",
                finished.name, e.message
            ),
        )
        .hint(format!(
            "{}; the view is kept: `autonomy session propose {}` once that is fixed, or \
             `autonomy session end {}` to discard it",
            e.hint.clone().unwrap_or_else(|| "see above".into()),
            finished.name,
            finished.name
        ))),
    }
}

/// A session's proposal: like `autonomy plan` (the id on stdout, a summary on stderr),
/// plus the plan it superseded; in JSON one document with both (and the agent's exit).
fn show_plan(ctx: &Ctx, p: &SessionPlan, agent_exit: Option<i32>) {
    for note in &p.proposed.notes {
        ui::say(&format!("note: {note}"));
    }
    if ctx.json() {
        let plan = p.proposed.plan().map(|plan| {
            serde_json::json!({
                "id": p.proposed.id(), "short": p.proposed.id().map(crate::model::id::short),
                "title": plan.title, "author": plan.author, "changes": plan.changes.len(),
                "same": matches!(p.proposed.made, Made::Same { .. }),
            })
        });
        let mut doc = serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "session": p.name, "plan": plan,
            "superseded": p.superseded,
        });
        if let Made::Nothing { why } = &p.proposed.made {
            doc["nothing_to_plan"] = serde_json::json!(why);
        }
        if let Some(code) = agent_exit {
            doc["agent_exit"] = serde_json::json!(code);
        }
        ui::json(&doc);
    }
    match &p.proposed.made {
        Made::New { id, plan } | Made::Same { id, plan, .. } => {
            if !ctx.json() {
                ui::println(crate::model::id::short(id));
            }
            let same = if matches!(p.proposed.made, Made::Same { .. }) {
                "Same plan as before (nothing changed since): "
            } else {
                ""
            };
            ui::say(&format!(
                "{same}session {} proposed plan {} {:?}: {}. Review it with `autonomy preview {}`.",
                p.name,
                crate::model::id::short(id),
                plan.title,
                crate::util::text::count(plan.changes.len() as u64, "change"),
                crate::model::id::short(id)
            ));
        }
        Made::Nothing { .. } => ui::say(&format!(
            "Session {}: nothing to propose: its view holds no change the workspace lacks. No plan was made.",
            p.name
        )),
    }
    if let Some(old) = &p.superseded {
        ui::say(&format!(
            "It supersedes the session's earlier plan {}, which was still pending (now rejected).",
            crate::model::id::short(old)
        ));
    }
}

fn list(ctx: &Ctx) -> Result<()> {
    let s = Session::open(&ctx.dir)?;
    let rows = sessions::list(&s)?;
    if ctx.json() {
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.row.name, "view": l.row.view, "command": l.row.argv,
                    "agent": l.row.agent, "started": l.row.started,
                    "state": if l.running { "running" } else { "exited" },
                    "view_present": l.view_present,
                    "last_plan": l.row.last_plan.as_ref().map(|(id, status)| serde_json::json!({
                        "id": id.as_str(), "status": status.as_str() })),
                })
            })
            .collect();
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "sessions": items,
        }));
        return Ok(());
    }
    if rows.is_empty() {
        ui::say("No session is open. Start one with `autonomy session -- AGENT ARGS...`.");
        return Ok(());
    }
    for l in &rows {
        let state = match (l.running, l.view_present) {
            (true, _) => "running",
            (false, true) => "exited",
            (false, false) => "view missing",
        };
        let plan = match &l.row.last_plan {
            Some((id, status)) => format!("{} {status}", id.short()),
            None => "no plan yet".to_string(),
        };
        ui::println(&format!(
            "{}\t{}\t{}\t{}\t{}",
            l.row.name,
            l.row.view,
            state,
            plan,
            crate::paths::printable(&shell_words::join(&l.row.argv))
        ));
    }
    Ok(())
}
