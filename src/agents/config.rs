//! Each agent's project hook configuration: where it lives, the entry that runs
//! `autonomy hook AGENT`, merged into what is there (other settings and other hooks kept),
//! and removed again. Pure functions over the file's bytes; the CLI turns the result into
//! an ordinary plan.
//!
//! The hook command ends in a shell fallback, `|| { echo ... >&2; exit 2; }`: should
//! `autonomy` be missing or killed, the agent still gets exit 2 with a reason, the one
//! refusal Claude Code, Codex, Gemini CLI and Goose all honour (they run the tool on other
//! exit codes).

use super::Agent;
use crate::error::{Error, Result};
use serde_json::{Value, json};

/// How long an agent lets the hook run, in seconds: above `[agents] wait` (default 10m)
/// with room to apply.
pub const HOOK_TIMEOUT_SECS: u64 = 1800;

/// The project file holding `agent`'s hook configuration.
pub fn path(agent: Agent) -> &'static str {
    match agent {
        Agent::Claude => ".claude/settings.json",
        Agent::Codex => ".codex/hooks.json",
        Agent::Gemini => ".gemini/settings.json",
        Agent::Cursor => ".cursor/hooks.json",
        Agent::Copilot => ".github/hooks/autonomy.json",
        Agent::Goose => ".agents/plugins/autonomy/hooks/hooks.json",
        Agent::OpenHands => ".openhands/hooks.json",
        Agent::Cline => ".clinerules/hooks/PreToolUse",
    }
}

/// The mode the file gets (Cline runs its hook file directly).
pub fn mode(agent: Agent) -> Option<u32> {
    (agent == Agent::Cline).then_some(0o755)
}

/// The shell command the agent runs.
pub fn command(agent: Agent) -> String {
    format!(
        "autonomy hook {agent} || {{ echo 'autonomy hook failed: this tool call is refused' >&2; exit 2; }}"
    )
}

/// The tools each agent routes through the hook.
fn matcher(agent: Agent) -> &'static str {
    match agent {
        Agent::Claude => "Write|Edit|MultiEdit|NotebookEdit|Bash",
        Agent::Codex => "apply_patch|Bash",
        Agent::Gemini => "write_file|replace|run_shell_command",
        Agent::Cursor => "Write|Edit|Delete|Shell",
        Agent::Copilot => "create|edit|str_replace|bash",
        Agent::Goose => "developer__write|developer__edit|developer__shell|developer__text_editor",
        Agent::OpenHands => {
            "Write|Edit|MultiEdit|Bash|str_replace_editor|file_editor|execute_bash|terminal"
        }
        Agent::Cline => "",
    }
}

/// Whether a hook entry is ours (for any spelling of the command that runs our hook).
fn is_ours(entry: &Value, agent: Agent) -> bool {
    let needle = format!("autonomy hook {agent}");
    entry.to_string().contains(&needle)
}

/// (event key, the list entry to add) for the agents configured by a JSON file.
fn entry(agent: Agent) -> (&'static str, Value) {
    let cmd = command(agent);
    let m = matcher(agent);
    match agent {
        Agent::Claude | Agent::Codex | Agent::OpenHands => (
            "PreToolUse",
            json!({"matcher": m, "hooks": [{"type": "command", "command": cmd, "timeout": HOOK_TIMEOUT_SECS}]}),
        ),
        Agent::Gemini => (
            "BeforeTool",
            json!({"matcher": m, "hooks": [{"name": "autonomy", "type": "command", "command": cmd, "timeout": HOOK_TIMEOUT_SECS * 1000}]}),
        ),
        Agent::Cursor => ("preToolUse", json!({"matcher": m, "command": cmd})),
        Agent::Copilot => (
            "preToolUse",
            json!({"type": "command", "bash": cmd, "timeoutSec": HOOK_TIMEOUT_SECS}),
        ),
        Agent::Goose => (
            "PreToolUse",
            json!({"matcher": m, "hooks": [{"type": "command", "command": cmd, "timeout": HOOK_TIMEOUT_SECS, "on_failure": "block"}]}),
        ),
        Agent::Cline => ("", Value::Null),
    }
}

fn cline_script() -> Vec<u8> {
    "#!/bin/sh\n# Every tool call of Cline goes through autonomy (autonomy agent install cline).\n\
     autonomy hook cline || echo '{\"cancel\":true,\"errorMessage\":\"autonomy hook failed: this tool call is refused\"}'\n"
        .as_bytes()
        .to_vec()
}

fn parse(agent: Agent, existing: Option<&[u8]>) -> Result<Value> {
    parse_at(path(agent), existing)
}

/// A JSON settings file's object (`{}` when absent or blank); `file` names it in errors.
fn parse_at(file: &str, existing: Option<&[u8]>) -> Result<Value> {
    let Some(bytes) = existing.filter(|b| !b.iter().all(u8::is_ascii_whitespace)) else {
        return Ok(json!({}));
    };
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::failed(format!(
            "{file} is not valid JSON ({e}); nothing was changed"
        ))
        .hint("fix the file by hand, then run the command again")
    })?;
    if !v.is_object() {
        return Err(Error::failed(format!(
            "{file} does not hold a JSON object; nothing was changed"
        )));
    }
    Ok(v)
}

fn render(v: &Value) -> Result<Vec<u8>> {
    let mut out =
        serde_json::to_vec_pretty(v).map_err(|e| Error::failed(format!("encoding JSON: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

/// The file's content with our hook entry in (replacing an older entry of ours).
pub fn install(agent: Agent, existing: Option<&[u8]>) -> Result<Vec<u8>> {
    if agent == Agent::Cline {
        return Ok(cline_script());
    }
    let mut v = parse(agent, existing)?;
    let (event, ours) = entry(agent);
    let root = v
        .as_object_mut()
        .ok_or_else(|| Error::failed("internal: not an object"))?;
    if matches!(agent, Agent::Cursor | Agent::Copilot) {
        root.entry("version").or_insert(json!(1));
    }
    let hooks = root.entry("hooks").or_insert_with(|| json!({}));
    let hooks = hooks.as_object_mut().ok_or_else(|| {
        Error::failed(format!(
            "{}: `hooks` is not an object; nothing was changed",
            path(agent)
        ))
    })?;
    let list = hooks.entry(event).or_insert_with(|| json!([]));
    let list = list.as_array_mut().ok_or_else(|| {
        Error::failed(format!(
            "{}: `hooks.{event}` is not a list; nothing was changed",
            path(agent)
        ))
    })?;
    list.retain(|e| !is_ours(e, agent));
    list.push(ours);
    render(&v)
}

/// The file's content with our hook entry out; `None` when nothing else is left (the file
/// goes).
pub fn uninstall(agent: Agent, existing: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
    if agent == Agent::Cline || existing.is_none() {
        return Ok(None);
    }
    let mut v = parse(agent, existing)?;
    let (event, _) = entry(agent);
    if let Some(hooks) = v.get_mut("hooks").and_then(Value::as_object_mut) {
        if let Some(list) = hooks.get_mut(event).and_then(Value::as_array_mut) {
            list.retain(|e| !is_ours(e, agent));
            if list.is_empty() {
                hooks.remove(event);
            }
        }
        if hooks.is_empty()
            && let Some(o) = v.as_object_mut()
        {
            o.remove("hooks");
        }
    }
    let left = v.as_object().is_some_and(|o| {
        o.iter()
            .any(|(k, _)| !(k == "version" && matches!(agent, Agent::Cursor | Agent::Copilot)))
    });
    if left { render(&v).map(Some) } else { Ok(None) }
}

/// Whether the file wires `agent` to autonomy.
pub fn is_wired(agent: Agent, existing: Option<&[u8]>) -> bool {
    match (agent, existing) {
        (_, None) => false,
        (Agent::Cline, Some(b)) => String::from_utf8_lossy(b).contains("autonomy hook cline"),
        (_, Some(b)) => {
            let Ok(v) = parse(agent, Some(b)) else {
                return false;
            };
            let (event, _) = entry(agent);
            v["hooks"][event]
                .as_array()
                .is_some_and(|l| l.iter().any(|e| is_ours(e, agent)))
        }
    }
}

/// How long `agent` lets its hook run before it gives up on it, and (Gemini CLI, checked;
/// others likely) then runs the tool anyway: the timeout of the entry that runs our hook in
/// the first configuration file that has one (the project's, then the user's), else the
/// agent's documented default (conservative where undocumented). The hook answers before it.
pub fn hook_timeout(agent: Agent, root: &std::path::Path) -> std::time::Duration {
    use std::path::PathBuf;
    let env = |k: &str| std::env::var_os(k).map(PathBuf::from);
    let home = env("HOME").unwrap_or_default();
    let mut files = vec![root.join(path(agent))];
    // (unit in seconds per config unit, default seconds)
    let (scale, default): (f64, u64) = match agent {
        Agent::Claude => {
            files.push(root.join(".claude/settings.local.json"));
            files.push(home.join(".claude/settings.json"));
            (1.0, 600)
        }
        Agent::Codex => {
            files.push(
                env("CODEX_HOME")
                    .unwrap_or_else(|| home.join(".codex"))
                    .join("hooks.json"),
            );
            (1.0, 60)
        }
        Agent::Gemini => {
            files.push(
                env("GEMINI_CLI_HOME")
                    .unwrap_or_else(|| home.clone())
                    .join(".gemini/settings.json"),
            );
            (0.001, 60)
        }
        Agent::OpenHands => (1.0, 60),
        Agent::Goose => (1.0, 30),
        Agent::Cursor | Agent::Copilot | Agent::Cline => (1.0, 30),
    };
    let needle = format!("autonomy hook {agent}");
    for f in files {
        let Ok(bytes) = crate::store::read_config_file(&f, 16 << 20) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if let Some(t) = find_timeout(&v, &needle) {
            return std::time::Duration::from_secs_f64((t * scale).max(1.0));
        }
    }
    std::time::Duration::from_secs(default)
}

/// The `timeout` (or `timeoutSec`) of the innermost object whose command runs `needle`.
fn find_timeout(v: &Value, needle: &str) -> Option<f64> {
    match v {
        Value::Array(a) => a.iter().find_map(|x| find_timeout(x, needle)),
        Value::Object(o) => {
            let runs = o
                .values()
                .any(|x| x.as_str().is_some_and(|s| s.contains(needle)));
            if runs {
                return ["timeout", "timeoutSec"]
                    .iter()
                    .find_map(|k| o.get(*k).and_then(Value::as_f64));
            }
            o.values().find_map(|x| find_timeout(x, needle))
        }
        _ => None,
    }
}

/// The name the MCP server is registered under (Claude Code calls its tools
/// `mcp__autonomy__propose_plan`, ...).
pub const MCP_SERVER: &str = "autonomy";

/// The project file where `agent` reads its MCP servers, for the agents that have one.
pub fn mcp_path(agent: Agent) -> Option<&'static str> {
    match agent {
        Agent::Claude => Some(".mcp.json"),
        Agent::Codex => Some(".codex/config.toml"),
        Agent::Gemini => Some(".gemini/settings.json"),
        _ => None,
    }
}

/// The command line the agent starts the MCP server with, as the hooks' `autonomy hook`:
/// `autonomy` found on PATH, so that the file can be committed and shared.
pub const MCP_COMMAND: (&str, &[&str]) = ("autonomy", &["mcp"]);

fn mcp_entry() -> Value {
    json!({"command": MCP_COMMAND.0, "args": MCP_COMMAND.1})
}

/// The MCP configuration with our server in (replacing an older entry of ours; other
/// servers and settings kept).
pub fn mcp_install(agent: Agent, existing: Option<&[u8]>) -> Result<Vec<u8>> {
    let file = mcp_path(agent).ok_or_else(|| no_mcp(agent))?;
    if agent == Agent::Codex {
        return codex_mcp(file, existing, true).map(|b| b.unwrap_or_default());
    }
    let mut v = parse_at(file, existing)?;
    let root = v
        .as_object_mut()
        .ok_or_else(|| Error::failed("internal: not an object"))?;
    let servers = root.entry("mcpServers").or_insert_with(|| json!({}));
    let servers = servers.as_object_mut().ok_or_else(|| {
        Error::failed(format!(
            "{file}: `mcpServers` is not an object; nothing was changed"
        ))
    })?;
    servers.insert(MCP_SERVER.into(), mcp_entry());
    render(&v)
}

/// The MCP configuration with our server out; `None` when nothing else is left (the file
/// goes).
pub fn mcp_uninstall(agent: Agent, existing: Option<&[u8]>) -> Result<Option<Vec<u8>>> {
    let file = mcp_path(agent).ok_or_else(|| no_mcp(agent))?;
    if existing.is_none() {
        return Ok(None);
    }
    if agent == Agent::Codex {
        return codex_mcp(file, existing, false);
    }
    let mut v = parse_at(file, existing)?;
    if let Some(o) = v.as_object_mut() {
        if let Some(servers) = o.get_mut("mcpServers").and_then(Value::as_object_mut) {
            servers.remove(MCP_SERVER);
            if servers.is_empty() {
                o.remove("mcpServers");
            }
        }
        if o.is_empty() {
            return Ok(None);
        }
    }
    render(&v).map(Some)
}

/// Whether the MCP configuration registers our server.
pub fn mcp_is_wired(agent: Agent, existing: Option<&[u8]>) -> bool {
    let (Some(file), Some(bytes)) = (mcp_path(agent), existing) else {
        return false;
    };
    if agent == Agent::Codex {
        return String::from_utf8_lossy(bytes)
            .parse::<toml_edit::DocumentMut>()
            .ok()
            .and_then(|d| {
                d.get("mcp_servers")
                    .and_then(|s| s.get(MCP_SERVER))
                    .map(|_| ())
            })
            .is_some();
    }
    parse_at(file, Some(bytes))
        .map(|v| v["mcpServers"][MCP_SERVER].is_object())
        .unwrap_or(false)
}

/// The permission rules that let Claude Code call each tool of our MCP server without
/// asking (`claude -p` otherwise refuses them): none of them changes the workspace. (A
/// server-wide `mcp__autonomy` rule is not honoured by Claude Code 2.1.197: checked.)
pub const CLAUDE_MCP_ALLOW: [&str; 4] = [
    "mcp__autonomy__propose_plan",
    "mcp__autonomy__preview_plan",
    "mcp__autonomy__plan_status",
    "mcp__autonomy__list_plans",
];

/// Claude Code's `.claude/settings.json` with our MCP server enabled (it asks before
/// starting a project's `.mcp.json` servers otherwise) and its tools allowed, or with
/// both taken out again; `None` when nothing else is left. Entries of the user's stay.
pub fn claude_mcp_settings(existing: Option<&[u8]>, install: bool) -> Result<Option<Vec<u8>>> {
    const FILE: &str = ".claude/settings.json";
    if !install && existing.is_none() {
        return Ok(None);
    }
    let mut v = parse_at(FILE, existing)?;
    let root = v
        .as_object_mut()
        .ok_or_else(|| Error::failed("internal: not an object"))?;
    let not = |what: &str| {
        Error::failed(format!(
            "{FILE}: `{what}` is not a list; nothing was changed"
        ))
    };
    // (object path, list key, our entries)
    let edits: [(&[&str], &str, &[&str]); 2] = [
        (&[], "enabledMcpjsonServers", &[MCP_SERVER]),
        (&["permissions"], "allow", &CLAUDE_MCP_ALLOW),
    ];
    for (parents, key, ours) in edits {
        let mut obj = &mut *root;
        for p in parents {
            if !install && !obj.contains_key(*p) {
                break;
            }
            obj = obj
                .entry(*p)
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .ok_or_else(|| {
                    Error::failed(format!(
                        "{FILE}: `{p}` is not an object; nothing was changed"
                    ))
                })?;
        }
        if install {
            let list = obj.entry(key).or_insert_with(|| json!([]));
            let list = list.as_array_mut().ok_or_else(|| not(key))?;
            for ours in ours {
                if !list.iter().any(|e| e == ours) {
                    list.push(json!(ours));
                }
            }
        } else if let Some(list) = obj.get_mut(key) {
            let list = list.as_array_mut().ok_or_else(|| not(key))?;
            list.retain(|e| !ours.iter().any(|o| e == o));
            if list.is_empty() {
                obj.remove(key);
            }
        }
    }
    if !install
        && let Some(perms) = root.get("permissions").and_then(Value::as_object)
        && perms.is_empty()
    {
        root.remove("permissions");
    }
    if root.is_empty() {
        return Ok(None);
    }
    render(&v).map(Some)
}

fn no_mcp(agent: Agent) -> Error {
    Error::failed(format!(
        "{agent} has no MCP configuration that autonomy knows"
    ))
}

/// Codex's `config.toml` with `[mcp_servers.autonomy]` in (or out), edited in place so the
/// user's comments and layout stay; `None` when uninstalling leaves nothing.
fn codex_mcp(file: &str, existing: Option<&[u8]>, install: bool) -> Result<Option<Vec<u8>>> {
    let text = match existing {
        Some(b) => std::str::from_utf8(b)
            .map_err(|_| Error::failed(format!("{file} is not UTF-8; nothing was changed")))?,
        None => "",
    };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| {
        Error::failed(format!(
            "{file} is not valid TOML ({e}); nothing was changed"
        ))
        .hint("fix the file by hand, then run the command again")
    })?;
    let not_table = || {
        Error::failed(format!(
            "{file}: `mcp_servers` is not a table; nothing was changed"
        ))
    };
    if install {
        let servers = doc
            .entry("mcp_servers")
            .or_insert_with(|| {
                let mut t = toml_edit::Table::new();
                t.set_implicit(true);
                toml_edit::Item::Table(t)
            })
            .as_table_like_mut()
            .ok_or_else(not_table)?;
        let mut ours = toml_edit::Table::new();
        ours.insert("command", toml_edit::value(MCP_COMMAND.0));
        let mut args = toml_edit::Array::new();
        for a in MCP_COMMAND.1 {
            args.push(*a);
        }
        ours.insert("args", toml_edit::value(args));
        servers.insert(MCP_SERVER, toml_edit::Item::Table(ours));
    } else {
        let empty = match doc.get_mut("mcp_servers") {
            None => false,
            Some(item) => {
                let servers = item.as_table_like_mut().ok_or_else(not_table)?;
                servers.remove(MCP_SERVER);
                servers.is_empty()
            }
        };
        if empty {
            doc.remove("mcp_servers");
        }
        if doc.as_table().is_empty() && doc.trailing().as_str().is_none_or(|t| t.trim().is_empty())
        {
            return Ok(None);
        }
    }
    Ok(Some(doc.to_string().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_merges_keeps_other_settings_and_is_idempotent() {
        let existing = br#"{"model":"opus","hooks":{"PreToolUse":[{"matcher":"Bash","hooks":[{"type":"command","command":"lint.sh"}]}],"Stop":[]}}"#;
        let once = install(Agent::Claude, Some(existing)).unwrap();
        let twice = install(Agent::Claude, Some(&once)).unwrap();
        assert_eq!(once, twice);
        let v: Value = serde_json::from_slice(&once).unwrap();
        assert_eq!(v["model"], "opus");
        assert_eq!(v["hooks"]["Stop"], json!([]));
        let pre = v["hooks"]["PreToolUse"].as_array().unwrap();
        assert_eq!(pre.len(), 2);
        assert_eq!(pre[0]["hooks"][0]["command"], "lint.sh");
        assert!(
            pre[1]["hooks"][0]["command"]
                .as_str()
                .unwrap()
                .starts_with("autonomy hook claude || ")
        );
        assert!(is_wired(Agent::Claude, Some(&once)));
        let back = uninstall(Agent::Claude, Some(&once)).unwrap().unwrap();
        let v: Value = serde_json::from_slice(&back).unwrap();
        assert_eq!(v["hooks"]["PreToolUse"].as_array().unwrap().len(), 1);
        assert!(!is_wired(Agent::Claude, Some(&back)));
    }

    #[test]
    fn every_agent_installs_and_uninstalls_cleanly_from_nothing() {
        for a in Agent::ALL {
            let c = install(a, None).unwrap();
            assert!(is_wired(a, Some(&c)), "{a}");
            assert_eq!(uninstall(a, Some(&c)).unwrap(), None, "{a}");
        }
        let g: Value = serde_json::from_slice(&install(Agent::Gemini, None).unwrap()).unwrap();
        assert_eq!(
            g["hooks"]["BeforeTool"][0]["matcher"],
            "write_file|replace|run_shell_command"
        );
    }

    #[test]
    fn the_hook_timeout_comes_from_the_entry_that_runs_our_hook() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // Gemini's default is 60 s: a hook that waits longer is killed and the tool runs.
        assert_eq!(hook_timeout(Agent::Cursor, root).as_secs(), 30);
        std::fs::create_dir_all(root.join(".gemini")).unwrap();
        std::fs::write(
            root.join(".gemini/settings.json"),
            install(Agent::Gemini, None).unwrap(),
        )
        .unwrap();
        assert_eq!(
            hook_timeout(Agent::Gemini, root).as_secs(),
            HOOK_TIMEOUT_SECS
        );
        std::fs::create_dir_all(root.join(".claude")).unwrap();
        std::fs::write(root.join(".claude/settings.json"), br#"{"hooks":{"PreToolUse":[{"matcher":"Write","hooks":[{"type":"command","command":"x","timeout":5},{"type":"command","command":"autonomy hook claude","timeout":90}]}]}}"#).unwrap();
        assert_eq!(hook_timeout(Agent::Claude, root).as_secs(), 90);
    }

    #[test]
    fn a_broken_settings_file_is_left_alone() {
        let e = install(Agent::Gemini, Some(b"{not json")).unwrap_err();
        assert!(e.message.contains(".gemini/settings.json"), "{}", e.message);
        assert!(install(Agent::Claude, Some(br#"{"hooks":[]}"#)).is_err());
    }

    #[test]
    fn mcp_registration_merges_and_comes_out_again() {
        // Claude Code's .mcp.json, with a server of the user's.
        let mine = br#"{"mcpServers":{"other":{"command":"x"}}}"#;
        let once = mcp_install(Agent::Claude, Some(mine)).unwrap();
        assert_eq!(mcp_install(Agent::Claude, Some(&once)).unwrap(), once);
        let v: Value = serde_json::from_slice(&once).unwrap();
        assert_eq!(
            v["mcpServers"]["autonomy"],
            json!({"command": "autonomy", "args": ["mcp"]})
        );
        assert_eq!(v["mcpServers"]["other"]["command"], "x");
        assert!(mcp_is_wired(Agent::Claude, Some(&once)));
        let back = mcp_uninstall(Agent::Claude, Some(&once)).unwrap().unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&back).unwrap(),
            serde_json::from_slice::<Value>(mine).unwrap()
        );
        let fresh = mcp_install(Agent::Claude, None).unwrap();
        assert_eq!(mcp_uninstall(Agent::Claude, Some(&fresh)).unwrap(), None);
        // Codex's config.toml keeps its comments and other tables.
        let toml = "# mine\nmodel = \"o3\"\n\n[mcp_servers.docs]\ncommand = \"docs\"\n";
        let once = mcp_install(Agent::Codex, Some(toml.as_bytes())).unwrap();
        let text = String::from_utf8(once.clone()).unwrap();
        assert!(text.starts_with("# mine\nmodel = \"o3\""), "{text}");
        let t: toml::Table = text.parse().unwrap();
        assert_eq!(
            t["mcp_servers"]["autonomy"]["command"].as_str(),
            Some("autonomy")
        );
        assert_eq!(t["mcp_servers"]["docs"]["command"].as_str(), Some("docs"));
        assert!(mcp_is_wired(Agent::Codex, Some(&once)));
        let back = mcp_uninstall(Agent::Codex, Some(&once)).unwrap().unwrap();
        assert_eq!(String::from_utf8(back).unwrap(), toml);
        let fresh = mcp_install(Agent::Codex, None).unwrap();
        assert_eq!(
            String::from_utf8(fresh.clone()).unwrap(),
            "[mcp_servers.autonomy]\ncommand = \"autonomy\"\nargs = [\"mcp\"]\n"
        );
        assert_eq!(mcp_uninstall(Agent::Codex, Some(&fresh)).unwrap(), None);
        assert!(mcp_install(Agent::Codex, Some(b"mcp_servers = 3\n")).is_err());
        assert!(mcp_install(Agent::Claude, Some(br#"{"mcpServers":[]}"#)).is_err());
        // Gemini: the same settings file as its hook.
        let both =
            mcp_install(Agent::Gemini, Some(&install(Agent::Gemini, None).unwrap())).unwrap();
        assert!(is_wired(Agent::Gemini, Some(&both)) && mcp_is_wired(Agent::Gemini, Some(&both)));
        assert_eq!(mcp_path(Agent::Cursor), None);
        // Claude Code's settings: the server enabled and its tools allowed, and out again.
        let mine = br#"{"permissions":{"allow":["Bash(ls)"],"deny":[]},"model":"opus"}"#;
        let on = claude_mcp_settings(Some(mine), true).unwrap().unwrap();
        assert_eq!(claude_mcp_settings(Some(&on), true).unwrap().unwrap(), on);
        let v: Value = serde_json::from_slice(&on).unwrap();
        assert_eq!(v["permissions"]["allow"][0], "Bash(ls)");
        assert_eq!(v["permissions"]["allow"][1], "mcp__autonomy__propose_plan");
        assert_eq!(v["enabledMcpjsonServers"], json!(["autonomy"]));
        let off = claude_mcp_settings(Some(&on), false).unwrap().unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&off).unwrap(),
            serde_json::from_slice::<Value>(mine).unwrap()
        );
        let fresh = claude_mcp_settings(None, true).unwrap().unwrap();
        assert_eq!(claude_mcp_settings(Some(&fresh), false).unwrap(), None);
        assert!(claude_mcp_settings(Some(br#"{"permissions":{"allow":"x"}}"#), true).is_err());
    }
}
