//! `autonomy agent install|uninstall|list`

use super::{Ctx, ui};
use crate::agents::{Agent, config};
use crate::error::{Error, Result};
use crate::model::State;
use crate::ops::propose::{self, Made, Proposal, Source};
use crate::ops::session::Session;
use crate::paths::RelPath;
use crate::plan::compile::{ModeSpec, Op};

/// Wire coding agents to this workspace so their every change becomes a plan
///
/// `agent install AGENT` writes the agent's project hook configuration so that the agent
/// runs `autonomy hook AGENT` before each file write, edit and shell command: every change
/// it makes becomes a plan you preview and approve (`autonomy preview`, `approve`,
/// `reject`). The configuration is merged into the file that is there (other settings and
/// hooks are kept), and the change is itself an ordinary plan: the command prints its id;
/// approve and apply it to wire the agent. `--print` shows the resulting file instead.
///
/// Files: claude .claude/settings.json, codex .codex/hooks.json, gemini
/// .gemini/settings.json, cursor .cursor/hooks.json, copilot .github/hooks/autonomy.json,
/// goose .agents/plugins/autonomy/hooks/hooks.json, openhands .openhands/hooks.json,
/// cline .clinerules/hooks/PreToolUse.
///
/// For the agents that read an MCP configuration, the same plan also registers
/// `autonomy mcp` as the MCP server `autonomy` (its tools propose plans, never approve
/// them): claude .mcp.json, codex .codex/config.toml `[mcp_servers.autonomy]`, gemini
/// .gemini/settings.json `mcpServers`. Uninstall removes it too.
///
/// Examples:
///   autonomy agent install claude && autonomy approve && autonomy apply
///   autonomy agent install gemini --print
///   autonomy agent list
///   autonomy agent uninstall claude
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub command: AgentCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// Plan the agent's hook configuration (approve and apply it to wire the agent)
    Install {
        /// claude, codex, gemini, cursor, copilot, goose, openhands or cline.
        #[arg(value_name = "AGENT", value_parser = agent_names())]
        agent: String,
        /// Print the configuration file as it would be, and plan nothing.
        #[arg(long)]
        print: bool,
    },
    /// Plan the removal of the agent's hook configuration
    Uninstall {
        /// claude, codex, gemini, cursor, copilot, goose, openhands or cline.
        #[arg(value_name = "AGENT", value_parser = agent_names())]
        agent: String,
        /// Print the configuration file as it would be, and plan nothing.
        #[arg(long)]
        print: bool,
    },
    /// List the agents, whether each is wired here, and whether its hook answers
    List,
}

fn agent_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Agent::ALL.map(|a| a.name()))
}

pub fn run(args: AgentArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("agent")?;
    match args.command {
        AgentCommand::Install { agent, print } => change(ctx, &agent, print, true),
        AgentCommand::Uninstall { agent, print } => change(ctx, &agent, print, false),
        AgentCommand::List => list(ctx),
    }
}

fn agent(name: &str) -> Result<Agent> {
    Agent::from_name(name).ok_or_else(|| Error::usage(format!("unknown agent {name:?}")))
}

/// The configuration file's bytes now, read beneath the workspace root.
fn read_config(s: &Session, rel: &RelPath) -> Result<Option<Vec<u8>>> {
    match s.ws.state(rel)? {
        State::Absent => Ok(None),
        State::Dir { .. } => Err(Error::failed(format!(
            "{rel} is a folder; nothing was changed"
        ))),
        State::Symlink { .. } => Err(Error::failed(format!(
            "{rel} is a symbolic link; nothing was changed"
        ))
        .hint("replace the link with the file itself, then run the command again")),
        State::File { .. } => {
            let dir = s.ws.open_dir(rel.parent().as_ref())?;
            dir.read(rel.file_name())
                .map(Some)
                .map_err(|e| Error::io(format!("reading {rel}"), e))
        }
    }
}

/// One configuration file of an agent: its path, its bytes now, and its bytes after the
/// change (`None`: the file goes, or stays absent).
struct ConfigFile {
    rel: RelPath,
    existing: Option<Vec<u8>>,
    new: Option<Vec<u8>>,
    mode: Option<u32>,
}

/// The files an install or uninstall writes: the hook configuration, and the MCP
/// registration where the agent reads one (Gemini keeps both in one settings file).
fn config_files(s: &Session, agent: Agent, install: bool) -> Result<Vec<ConfigFile>> {
    let rel = RelPath::parse(config::path(agent))?;
    let existing = read_config(s, &rel)?;
    let mut new = if install {
        Some(config::install(agent, existing.as_deref())?)
    } else {
        config::uninstall(agent, existing.as_deref())?
    };
    let mcp = |bytes: Option<&[u8]>| -> Result<Option<Vec<u8>>> {
        if install {
            config::mcp_install(agent, bytes).map(Some)
        } else {
            config::mcp_uninstall(agent, bytes)
        }
    };
    // Claude Code asks before starting a project's MCP server and before each of its tool
    // calls (`claude -p` refuses them): its settings enable ours and allow its tools.
    if agent == Agent::Claude && (install || new.is_some()) {
        new = config::claude_mcp_settings(new.as_deref(), install)?;
    }
    let mut files = Vec::new();
    match config::mcp_path(agent) {
        // The same file as the hook's (Gemini): edited in the same bytes.
        Some(p) if p == config::path(agent) => {
            new = match new {
                Some(bytes) => mcp(Some(&bytes))?,
                None if install => mcp(None)?,
                None => None,
            };
        }
        Some(p) => {
            let rel = RelPath::parse(p)?;
            let existing = read_config(s, &rel)?;
            let new = if install || existing.is_some() {
                mcp(existing.as_deref())?
            } else {
                None
            };
            files.push(ConfigFile {
                rel,
                existing,
                new,
                mode: None,
            });
        }
        None => {}
    }
    files.insert(
        0,
        ConfigFile {
            rel,
            existing,
            new,
            mode: config::mode(agent),
        },
    );
    Ok(files)
}

fn change(ctx: &Ctx, name: &str, print: bool, install: bool) -> Result<()> {
    let agent = agent(name)?;
    let mut s = Session::open(&ctx.dir)?;
    let files = config_files(&s, agent, install)?;
    if print {
        let several = files.len() > 1;
        for f in &files {
            if several {
                ui::say(&format!("{}:", f.rel));
            }
            match &f.new {
                Some(bytes) => ui::print(&String::from_utf8_lossy(bytes)),
                None => ui::say(&format!("{} would be removed.", f.rel)),
            }
        }
        return Ok(());
    }
    s.refuse_if_interrupted()?;
    let mut ops = Vec::new();
    for f in &files {
        match &f.new {
            Some(bytes) => ops.push(Op::Write {
                path: f.rel.clone(),
                bytes: bytes.clone(),
                mode: f.mode.map(ModeSpec::Exact),
            }),
            None if f.existing.is_some() => ops.push(Op::Delete {
                path: f.rel.clone(),
            }),
            None => {}
        }
    }
    let names: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
    let rel = names.join(", ");
    if ops.is_empty() {
        super::plan::nothing_to_plan(
            ctx,
            &format!("{agent} is not wired here ({rel}: none exists)"),
        );
        return Ok(());
    }
    let verb = if install { "Wire" } else { "Unwire" };
    let mut p =
        Proposal::new(Source::Ops(ops)).title(Some(format!("{verb} {agent} to autonomy ({rel})")));
    let mut description = format!(
        "{agent}'s hook runs `{}` before each file write, edit and shell command.",
        config::command(agent)
    );
    if let Some(p) = config::mcp_path(agent) {
        description.push_str(&format!(
            " {p} registers the MCP server `{}` (`{} {}`), whose tools propose plans.",
            config::MCP_SERVER,
            config::MCP_COMMAND.0,
            config::MCP_COMMAND.1.join(" ")
        ));
    }
    p.description = Some(description);
    p.via = Some("agent-install".into());
    let proposed = propose::propose(&mut s, p)?;
    let id = match &proposed.made {
        Made::Nothing { .. } => {
            super::plan::nothing_to_plan(ctx, &format!("{rel} already wires {agent} this way"));
            return Ok(());
        }
        Made::New { id, .. } | Made::Same { id, .. } => id.clone(),
    };
    super::plan::render(ctx, &proposed);
    let short = id.short();
    ui::say(&format!(
        "Approve and apply it to {}: `autonomy approve {short}` then `autonomy apply {short}`.",
        if install {
            format!("wire {agent}")
        } else {
            format!("unwire {agent}")
        }
    ));
    if install && agent == Agent::Codex {
        ui::say("Codex loads .codex/hooks.json only in a project it trusts; it asks once.");
    }
    Ok(())
}

/// A read-only tool call in `agent`'s format (`pwd` in its shell tool): the hook must let it
/// through.
fn probe(agent: Agent) -> serde_json::Value {
    use serde_json::json;
    let (tool, input) = match agent {
        Agent::Claude | Agent::Codex | Agent::OpenHands => ("Bash", json!({"command": "pwd"})),
        Agent::Gemini => ("run_shell_command", json!({"command": "pwd"})),
        Agent::Cursor => ("Shell", json!({"command": "pwd"})),
        Agent::Copilot => ("bash", json!({"command": "pwd"})),
        Agent::Goose => ("developer__shell", json!({"command": "pwd"})),
        Agent::Cline => ("execute_command", json!({"command": "pwd"})),
    };
    match agent {
        Agent::Copilot => json!({"timestamp": 0, "cwd": ".", "toolName": tool, "toolArgs": input}),
        Agent::Cline => {
            json!({"hookName": "PreToolUse", "taskId": "probe", "workspaceRoots": [], "preToolUse": {"toolName": tool, "parameters": input}})
        }
        _ => {
            json!({"session_id": "probe", "hook_event_name": "PreToolUse", "tool_name": tool, "tool_input": input, "tool_use_id": "probe"})
        }
    }
}

/// Whether `autonomy hook AGENT` answers a read-only call with "allow" here.
fn answers(ctx: &Ctx, agent: Agent) -> bool {
    use std::io::Write;
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    let Ok(mut child) = std::process::Command::new(exe)
        .arg("-C")
        .arg(&ctx.dir)
        .args(["hook", agent.name()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    else {
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(probe(agent).to_string().as_bytes());
    }
    let Ok(out) = child.wait_with_output() else {
        return false;
    };
    let want = crate::agents::answer::reply(Some(agent), &crate::agents::answer::Verdict::Allow);
    out.status.code() == Some(want.code.into()) && out.stdout == want.stdout.as_bytes()
}

fn list(ctx: &Ctx) -> Result<()> {
    let s = Session::open_read_only(&ctx.dir)?;
    let mut rows = Vec::new();
    for agent in Agent::ALL {
        let rel = RelPath::parse(config::path(agent))?;
        let wired = config::is_wired(agent, read_config(&s, &rel).ok().flatten().as_deref());
        let answers = wired && answers(ctx, agent);
        // Whether the MCP server is registered (`None`: the agent has no MCP configuration).
        let mcp = match config::mcp_path(agent) {
            Some(p) => {
                let bytes = RelPath::parse(p)
                    .and_then(|r| read_config(&s, &r))
                    .ok()
                    .flatten();
                Some(config::mcp_is_wired(agent, bytes.as_deref()))
            }
            None => None,
        };
        rows.push((agent, rel, wired, answers, mcp));
    }
    if ctx.json() {
        let agents: Vec<serde_json::Value> = rows
            .iter()
            .map(|(a, rel, wired, answers, mcp)| serde_json::json!({"agent": a.name(), "file": rel, "wired": wired, "hook_answers": answers, "mcp_registered": mcp}))
            .collect();
        ui::json(
            &serde_json::json!({"format_version": crate::model::FORMAT_VERSION, "agents": agents}),
        );
        return Ok(());
    }
    for (a, rel, wired, answers, mcp) in rows {
        let mut state = match (wired, answers) {
            (false, _) => "not wired".to_string(),
            (true, true) => "wired, hook answers".to_string(),
            (true, false) => {
                "wired, but `autonomy hook` does not answer (is autonomy on PATH?)".to_string()
            }
        };
        if mcp == Some(true) {
            state.push_str("; MCP server registered");
        }
        ui::println(&format!("{:<10} {:<44} {state}", a.name(), rel.as_str()));
    }
    Ok(())
}
