//! Each agent's hook input (JSON on stdin) parsed into one [`ToolCall`]. Paths the agent
//! gives (absolute, or relative to its working directory) become workspace-relative
//! through the one path check, [`RelPath::parse`]: a path outside the workspace, into
//! `.autonomy/`, or otherwise unsafe is an error (the hook then refuses the call).

use super::patch::{self, FileOp, RawOp};
use super::{Agent, Replace, Times, ToolCall, ToolKind, edits};
use crate::error::{Error, Result};
use crate::paths::RelPath;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// The largest hook input read (a tool call carrying a whole file's content).
pub const MAX_INPUT: u64 = 64 << 20;

/// Parse `input` from `agent`'s hook; `root` is the workspace root (absolute).
pub fn parse(agent: Agent, input: &[u8], root: &Path) -> Result<ToolCall> {
    let v: Value = serde_json::from_slice(input)
        .map_err(|e| Error::failed(format!("the {agent} hook input is not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(Error::failed(format!(
            "the {agent} hook input is not a JSON object"
        )));
    }
    let s = |keys: &[&str]| -> String {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .unwrap_or_default()
            .to_string()
    };
    let (session, call_id, tool, args, cwd) = match agent {
        Agent::Copilot => {
            // `toolArgs` is an object in the SDK and a JSON string in the CLI's hooks.
            let args = match v.get("toolArgs") {
                Some(Value::String(t)) => serde_json::from_str(t).map_err(|e| {
                    Error::failed(format!(
                        "the copilot hook's toolArgs is not valid JSON: {e}"
                    ))
                })?,
                Some(a) => a.clone(),
                None => Value::Null,
            };
            (
                s(&["sessionId", "session_id"]),
                s(&["toolCallId", "tool_use_id"]),
                s(&["toolName"]),
                args,
                s(&["cwd"]),
            )
        }
        Agent::Cline => {
            let pre = v.get("preToolUse").cloned().unwrap_or(Value::Null);
            let tool = pre
                .get("toolName")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let args = pre.get("parameters").cloned().unwrap_or(Value::Null);
            let cwd = v
                .get("workspaceRoots")
                .and_then(|r| r.get(0))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            (s(&["taskId"]), String::new(), tool, args, cwd)
        }
        _ => (
            s(&["session_id", "conversation_id", "sessionId"]),
            // Gemini CLI gives its hooks no tool call id: its timestamp stands in.
            s(&[
                "tool_use_id",
                "tool_call_id",
                "toolCallId",
                "call_id",
                "timestamp",
            ]),
            s(&["tool_name", "toolName"]),
            v.get("tool_input")
                .or_else(|| v.get("toolArgs"))
                .cloned()
                .unwrap_or(Value::Null),
            s(&["cwd"]),
        ),
    };
    if tool.is_empty() {
        return Err(Error::failed(format!(
            "the {agent} hook input names no tool"
        )));
    }
    let session = ident(agent, "session id", session)?;
    let call_id = ident(agent, "tool call id", call_id)?;
    let tool = ident(agent, "tool name", tool)?;
    let base = if cwd.is_empty() {
        root.to_path_buf()
    } else {
        PathBuf::from(&cwd)
    };
    let paths = Paths { root, base: &base };
    let kind = kind(agent, &tool, &args, &paths)?;
    Ok(ToolCall {
        agent,
        session,
        call_id,
        tool,
        kind,
    })
}

/// The longest session id, tool call id or tool name taken from an agent.
pub const MAX_IDENT: usize = 256;

/// An identifier the agent sends (session, tool call, tool name) ends up in titles,
/// descriptions and the journal's `agent.call` events, all shown one per line: it must be
/// one line of visible text, bounded. Anything else is refused (the hook then denies the
/// call) rather than trimmed: an agent that sends a newline in its session id is not
/// behaving like the agent it claims to be.
fn ident(agent: Agent, what: &str, value: String) -> Result<String> {
    if value.len() > MAX_IDENT {
        return Err(Error::failed(format!(
            "the {agent} hook input's {what} is {} bytes long; the limit is {MAX_IDENT}",
            value.len()
        )));
    }
    if let Some(c) = value
        .chars()
        .find(|c| crate::paths::forbidden_char(*c).is_some())
    {
        return Err(Error::failed(format!(
            "the {agent} hook input's {what} {} holds the hidden or control character {}; ids are one line of visible text",
            crate::paths::shown(&value),
            c.escape_unicode()
        )));
    }
    Ok(value)
}

struct Paths<'a> {
    root: &'a Path,
    base: &'a Path,
}

impl Paths<'_> {
    /// A path the agent gave, as a workspace-relative path.
    fn rel(&self, raw: &str) -> Result<RelPath> {
        if raw.is_empty() {
            return Err(Error::failed("the tool call names an empty path"));
        }
        let p = Path::new(raw);
        let full = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        };
        let full = lexical(&full);
        let outside = || {
            Error::failed(format!(
                "{raw} is outside the workspace {}",
                self.root.display()
            ))
        };
        let rest = strip_root(&full, self.root)
            .or_else(|| {
                let canon = self.root.canonicalize().ok()?;
                strip_root(&full, &canon)
            })
            .or_else(|| {
                // The agent may name the file through the real path of a folder above it.
                let parent = full.parent()?.canonicalize().ok()?;
                let real = parent.join(full.file_name()?);
                let canon = self.root.canonicalize().ok()?;
                strip_root(&real, &canon)
            })
            .ok_or_else(outside)?;
        let text = rest
            .to_str()
            .ok_or_else(|| Error::failed(format!("{raw} is not UTF-8")))?;
        RelPath::parse(text)
    }
}

/// `a/b/../c` → `a/c` (no file system access; `..` above the root stays, and fails later).
fn lexical(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn strip_root(full: &Path, root: &Path) -> Option<PathBuf> {
    let rest = full.strip_prefix(root).ok()?;
    (!rest.as_os_str().is_empty()).then(|| rest.to_path_buf())
}

fn text(args: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| args.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

fn need(args: &Value, keys: &[&str], tool: &str) -> Result<String> {
    text(args, keys).ok_or_else(|| Error::failed(format!("the {tool} call has no `{}`", keys[0])))
}

/// A boolean the agent may send as `true` or as the string `"true"` (Cline).
fn flag(args: &Value, key: &str) -> bool {
    match args.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn write(
    args: &Value,
    p: &Paths,
    tool: &str,
    path_keys: &[&str],
    content_keys: &[&str],
) -> Result<ToolKind> {
    Ok(ToolKind::Write {
        path: p.rel(&need(args, path_keys, tool)?)?,
        content: need(args, content_keys, tool)?,
    })
}

fn edit(
    args: &Value,
    p: &Paths,
    tool: &str,
    path_key: &str,
    old: &str,
    new: &str,
    times: Times,
) -> Result<ToolKind> {
    Ok(ToolKind::Edit {
        path: p.rel(&need(args, &[path_key], tool)?)?,
        edits: vec![Replace {
            old: need(args, &[old], tool)?,
            new: need(args, &[new], tool)?,
            times,
        }],
    })
}

fn shell(args: &Value, tool: &str, keys: &[&str]) -> Result<ToolKind> {
    Ok(ToolKind::Shell {
        command: need(args, keys, tool)?,
    })
}

/// What `tool` called with `args` does, by `agent`'s tool names (one function per agent).
fn kind(agent: Agent, tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match agent {
        Agent::Claude => claude_kind(tool, args, p),
        Agent::OpenHands => openhands_kind(tool, args, p),
        Agent::Cursor => cursor_kind(tool, args, p),
        Agent::Codex => codex_kind(tool, args, p),
        Agent::Gemini => gemini_kind(tool, args, p),
        Agent::Copilot => copilot_kind(tool, args, p),
        Agent::Goose => goose_kind(tool, args, p),
        Agent::Cline => cline_kind(tool, args, p),
    }
}

fn unique_or_all(all: bool) -> Times {
    if all { Times::All } else { Times::Unique }
}

/// Claude Code's tools.
fn claude_kind(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "MultiEdit" => multi_edit(tool, args, p),
        _ => claude_named(tool, args, p),
    }
}

/// The tools Claude Code, OpenHands and Cursor share (Claude Code's names).
fn claude_named(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "Write" => write(
            args,
            p,
            tool,
            &["file_path", "path"],
            &["content", "contents"],
        ),
        "Edit" => edit(
            args,
            p,
            tool,
            "file_path",
            "old_string",
            "new_string",
            unique_or_all(flag(args, "replace_all")),
        ),
        "Bash" | "Shell" => shell(args, tool, &["command"]),
        "Read" | "Glob" | "Grep" | "LS" | "NotebookRead" | "WebFetch" | "WebSearch"
        | "TodoWrite" => Ok(ToolKind::ReadOnly),
        _ => Ok(ToolKind::Other),
    }
}

/// Claude Code's `MultiEdit` (OpenHands has it too): several replacements in one file.
fn multi_edit(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    let path = p.rel(&need(args, &["file_path"], tool)?)?;
    let list = args
        .get("edits")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::failed("the MultiEdit call has no `edits` list"))?;
    let edits = list
        .iter()
        .map(|e| {
            Ok(Replace {
                old: need(e, &["old_string"], tool)?,
                new: need(e, &["new_string"], tool)?,
                times: unique_or_all(flag(e, "replace_all")),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ToolKind::Edit { path, edits })
}

/// OpenHands: its own tools, and Claude Code's names.
fn openhands_kind(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "MultiEdit" => multi_edit(tool, args, p),
        "execute_bash" | "terminal" => shell(args, tool, &["command"]),
        "str_replace_editor" | "file_editor" => match text(args, &["command"]).as_deref() {
            Some("create") => write(args, p, tool, &["path"], &["file_text"]),
            Some("str_replace") => edit(args, p, tool, "path", "old_str", "new_str", Times::Unique),
            Some("view") => Ok(ToolKind::ReadOnly),
            _ => Ok(ToolKind::Other),
        },
        _ => claude_named(tool, args, p),
    }
}

/// Cursor: its own tools, and Claude Code's names.
fn cursor_kind(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "Delete" => Ok(ToolKind::ApplyPatch(vec![FileOp::Delete {
            path: p.rel(&need(args, &["file_path", "path", "target_file"], tool)?)?,
        }])),
        "search_replace" => edit(
            args,
            p,
            tool,
            "file_path",
            "old_string",
            "new_string",
            unique_or_all(flag(args, "replace_all")),
        ),
        _ => claude_named(tool, args, p),
    }
}

/// Codex.
fn codex_kind(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "Bash" | "Shell" => shell(args, tool, &["command"]),
        "apply_patch" => codex_patch(tool, args, p),
        "exec_command" | "shell" | "local_shell" => {
            match args.get("command").or_else(|| args.get("cmd")) {
                Some(Value::Array(words)) => Ok(ToolKind::Shell {
                    command: shell_words::join(words.iter().filter_map(Value::as_str)),
                }),
                _ => shell(args, tool, &["command", "cmd"]),
            }
        }
        _ => Ok(ToolKind::Other),
    }
}

/// Codex's `apply_patch`: its patch parsed, every path checked.
fn codex_patch(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    let text = need(args, &["command", "input", "patch"], tool)?;
    let ops = patch::parse(&text)?
        .into_iter()
        .map(|op| {
            Ok(match op {
                RawOp::Add { path, content } => FileOp::Add {
                    path: p.rel(&path)?,
                    content,
                },
                RawOp::Delete { path } => FileOp::Delete {
                    path: p.rel(&path)?,
                },
                RawOp::Update {
                    path,
                    move_to,
                    hunks,
                } => FileOp::Update {
                    path: p.rel(&path)?,
                    move_to: move_to.map(|m| p.rel(&m)).transpose()?,
                    hunks,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ToolKind::ApplyPatch(ops))
}

/// Gemini CLI.
fn gemini_kind(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "write_file" => write(args, p, tool, &["file_path"], &["content"]),
        "replace" => {
            let expected = args
                .get("expected_replacements")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            edit(
                args,
                p,
                tool,
                "file_path",
                "old_string",
                "new_string",
                unique_or_all(flag(args, "allow_multiple") || expected > 1),
            )
        }
        "run_shell_command" => shell(args, tool, &["command"]),
        "read_file"
        | "read_many_files"
        | "list_directory"
        | "glob"
        | "search_file_content"
        | "grep_search"
        | "google_web_search"
        | "web_fetch" => Ok(ToolKind::ReadOnly),
        _ => Ok(ToolKind::Other),
    }
}

/// GitHub Copilot CLI.
fn copilot_kind(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "create" => write(args, p, tool, &["path"], &["file_text", "content"]),
        "edit" | "str_replace" => edit(args, p, tool, "path", "old_str", "new_str", Times::Unique),
        "bash" | "powershell" | "shell" => shell(args, tool, &["command"]),
        "view" | "glob" | "grep" | "read_bash" => Ok(ToolKind::ReadOnly),
        _ => Ok(ToolKind::Other),
    }
}

/// Goose.
fn goose_kind(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "developer__write" => write(args, p, tool, &["path"], &["content"]),
        "developer__edit" => edit(args, p, tool, "path", "before", "after", Times::Unique),
        "developer__shell" => shell(args, tool, &["command"]),
        "developer__text_editor" => match text(args, &["command"]).as_deref() {
            Some("write") => write(args, p, tool, &["path"], &["file_text"]),
            Some("str_replace") => edit(args, p, tool, "path", "old_str", "new_str", Times::Unique),
            Some("view") => Ok(ToolKind::ReadOnly),
            _ => Ok(ToolKind::Other),
        },
        _ => Ok(ToolKind::Other),
    }
}

/// Cline.
fn cline_kind(tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    match tool {
        "write_to_file" => write(args, p, tool, &["path"], &["content"]),
        "replace_in_file" => Ok(ToolKind::Edit {
            path: p.rel(&need(args, &["path"], tool)?)?,
            edits: edits::cline_blocks(&need(args, &["diff"], tool)?)?,
        }),
        "execute_command" => shell(args, tool, &["command"]),
        "read_file"
        | "list_files"
        | "search_files"
        | "list_code_definition_names"
        | "ask_followup_question"
        | "attempt_completion"
        | "plan_mode_respond" => Ok(ToolKind::ReadOnly),
        _ => Ok(ToolKind::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::patch::Hunk;

    const ROOT: &str = "/w/ws";

    fn call(agent: Agent, payload: &str) -> ToolCall {
        parse(agent, payload.as_bytes(), Path::new(ROOT))
            .unwrap_or_else(|e| panic!("{}", e.message))
    }

    fn rel(p: &str) -> RelPath {
        RelPath::parse(p).unwrap()
    }

    // Recorded from Claude Code 2.1.197 (tests/integration/agents.rs), paths shortened.
    #[test]
    fn claude_recorded_edit_and_bash() {
        let c = call(
            Agent::Claude,
            r#"{"session_id":"42925112-8939-49d2-8fa3-5597215489b0","transcript_path":"/h/.claude/projects/x.jsonl","cwd":"/w/ws","prompt_id":"b58bacc7","permission_mode":"acceptEdits","effort":{"level":"high"},"hook_event_name":"PreToolUse","tool_name":"Edit","tool_input":{"file_path":"/w/ws/cfg.txt","old_string":"timeout = 500","new_string":"timeout = 750","replace_all":false},"tool_use_id":"toolu_0001"}"#,
        );
        assert_eq!(c.session, "42925112-8939-49d2-8fa3-5597215489b0");
        assert_eq!(
            (c.call_id.as_str(), c.tool.as_str()),
            ("toolu_0001", "Edit")
        );
        assert_eq!(
            c.kind,
            ToolKind::Edit {
                path: rel("cfg.txt"),
                edits: vec![Replace {
                    old: "timeout = 500".into(),
                    new: "timeout = 750".into(),
                    times: Times::Unique
                }]
            }
        );
        let b = call(
            Agent::Claude,
            r#"{"session_id":"s","cwd":"/w/ws","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"echo made > made.txt","description":"run it"},"tool_use_id":"toolu_0000"}"#,
        );
        assert_eq!(
            b.kind,
            ToolKind::Shell {
                command: "echo made > made.txt".into()
            }
        );
        let m = call(
            Agent::Claude,
            r#"{"session_id":"s","cwd":"/w/ws","tool_name":"MultiEdit","tool_input":{"file_path":"/w/ws/a/b.rs","edits":[{"old_string":"x","new_string":"y","replace_all":true},{"old_string":"p","new_string":"q"}]},"tool_use_id":"t"}"#,
        );
        let ToolKind::Edit { path, edits } = m.kind else {
            panic!()
        };
        assert_eq!(
            (path, edits.len(), edits[0].times, edits[1].times),
            (rel("a/b.rs"), 2, Times::All, Times::Unique)
        );
    }

    // Recorded from Codex 0.171.0.
    #[test]
    fn codex_recorded_apply_patch_and_bash() {
        let c = call(
            Agent::Codex,
            r#"{"session_id":"01a21d4f-4fa4-73a0","turn_id":"01a21d4f-4ffc","transcript_path":"/h/codex/sessions/r.jsonl","cwd":"/w/ws/sub","hook_event_name":"PreToolUse","model":"gpt-5.5","permission_mode":"bypassPermissions","tool_name":"apply_patch","tool_input":{"command":"*** Begin Patch\n*** Update File: cfg.txt\n@@\n-timeout = 500\n+timeout = 750\n*** End Patch\n"},"tool_use_id":"call_0"}"#,
        );
        assert_eq!(
            (c.session.as_str(), c.call_id.as_str()),
            ("01a21d4f-4fa4-73a0", "call_0")
        );
        assert_eq!(
            c.kind,
            ToolKind::ApplyPatch(vec![FileOp::Update {
                path: rel("sub/cfg.txt"),
                move_to: None,
                hunks: vec![Hunk {
                    context: None,
                    old: vec!["timeout = 500".into()],
                    new: vec!["timeout = 750".into()],
                    at_eof: false
                }]
            }])
        );
        let b = call(
            Agent::Codex,
            r#"{"session_id":"s","cwd":"/w/ws","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"cat data.txt"},"tool_use_id":"call_1"}"#,
        );
        assert_eq!(
            b.kind,
            ToolKind::Shell {
                command: "cat data.txt".into()
            }
        );
    }

    // Recorded from Gemini CLI 0.61.0: no tool call id; the timestamp stands in.
    #[test]
    fn gemini_recorded_replace_and_shell() {
        let c = call(
            Agent::Gemini,
            r#"{"session_id":"af31b088","transcript_path":"/h/chats/s.jsonl","cwd":"/w/ws","hook_event_name":"BeforeTool","timestamp":"2026-11-27T14:01:12.100Z","tool_name":"replace","tool_input":{"file_path":"/w/ws/cfg.txt","instruction":"change the value","new_string":"timeout = 750","old_string":"timeout = 500"}}"#,
        );
        assert_eq!(
            (c.session.as_str(), c.call_id.as_str()),
            ("af31b088", "2026-11-27T14:01:12.100Z")
        );
        assert!(matches!(c.kind, ToolKind::Edit { ref path, .. } if *path == rel("cfg.txt")));
        let w = call(
            Agent::Gemini,
            r#"{"session_id":"s","cwd":"/w/ws","hook_event_name":"BeforeTool","tool_name":"write_file","tool_input":{"file_path":"/w/ws/n/h.txt","content":"hi\n"}}"#,
        );
        assert_eq!(
            w.kind,
            ToolKind::Write {
                path: rel("n/h.txt"),
                content: "hi\n".into()
            }
        );
        let r = call(
            Agent::Gemini,
            r#"{"session_id":"s","cwd":"/w/ws","tool_name":"read_file","tool_input":{"file_path":"/w/ws/x"}}"#,
        );
        assert_eq!(r.kind, ToolKind::ReadOnly);
    }

    // From the documentation (AGENTS.md "Agents whose formats come from their documentation").
    #[test]
    fn cursor_documented_payloads() {
        let w = call(
            Agent::Cursor,
            r#"{"conversation_id":"c1","generation_id":"g1","hook_event_name":"preToolUse","workspace_roots":["/w/ws"],"tool_name":"Write","tool_input":{"file_path":"/w/ws/src/a.ts","content":"export {}\n"},"tool_use_id":"tu1"}"#,
        );
        assert_eq!((w.session.as_str(), w.call_id.as_str()), ("c1", "tu1"));
        assert_eq!(
            w.kind,
            ToolKind::Write {
                path: rel("src/a.ts"),
                content: "export {}\n".into()
            }
        );
        let s = call(
            Agent::Cursor,
            r#"{"conversation_id":"c1","tool_name":"Shell","tool_input":{"command":"npm test"}}"#,
        );
        assert_eq!(
            s.kind,
            ToolKind::Shell {
                command: "npm test".into()
            }
        );
        let d = call(
            Agent::Cursor,
            r#"{"conversation_id":"c1","tool_name":"Delete","tool_input":{"file_path":"/w/ws/old.txt"}}"#,
        );
        assert_eq!(
            d.kind,
            ToolKind::ApplyPatch(vec![FileOp::Delete {
                path: rel("old.txt")
            }])
        );
    }

    #[test]
    fn copilot_documented_payloads() {
        // The CLI's hooks send toolArgs as a JSON string.
        let c = call(
            Agent::Copilot,
            r#"{"timestamp":1764251000000,"cwd":"/w/ws","toolName":"create","toolArgs":"{\"path\":\"/w/ws/a.md\",\"file_text\":\"A\\n\"}"}"#,
        );
        assert_eq!(
            c.kind,
            ToolKind::Write {
                path: rel("a.md"),
                content: "A\n".into()
            }
        );
        let e = call(
            Agent::Copilot,
            r#"{"timestamp":1,"cwd":"/w/ws","toolName":"edit","toolArgs":{"path":"a.md","old_str":"A","new_str":"B"}}"#,
        );
        assert!(matches!(e.kind, ToolKind::Edit { ref path, .. } if *path == rel("a.md")));
        let b = call(
            Agent::Copilot,
            r#"{"timestamp":1,"cwd":"/w/ws","toolName":"bash","toolArgs":{"command":"make"}}"#,
        );
        assert_eq!(
            b.kind,
            ToolKind::Shell {
                command: "make".into()
            }
        );
    }

    #[test]
    fn goose_documented_payloads() {
        let w = call(
            Agent::Goose,
            r#"{"session_id":"g","hook_event_name":"PreToolUse","cwd":"/w/ws","tool_name":"developer__write","tool_input":{"path":"/w/ws/x.py","content":"print(1)\n"}}"#,
        );
        assert_eq!(
            w.kind,
            ToolKind::Write {
                path: rel("x.py"),
                content: "print(1)\n".into()
            }
        );
        let e = call(
            Agent::Goose,
            r#"{"session_id":"g","cwd":"/w/ws","tool_name":"developer__edit","tool_input":{"path":"x.py","before":"1","after":"2"}}"#,
        );
        assert_eq!(
            e.kind,
            ToolKind::Edit {
                path: rel("x.py"),
                edits: vec![Replace {
                    old: "1".into(),
                    new: "2".into(),
                    times: Times::Unique
                }]
            }
        );
        let s = call(
            Agent::Goose,
            r#"{"session_id":"g","cwd":"/w/ws","tool_name":"developer__shell","tool_input":{"command":"ls"}}"#,
        );
        assert_eq!(
            s.kind,
            ToolKind::Shell {
                command: "ls".into()
            }
        );
    }

    #[test]
    fn openhands_documented_payloads() {
        let w = call(
            Agent::OpenHands,
            r#"{"session_id":"o","hook_event_name":"PreToolUse","cwd":"/w/ws","tool_name":"str_replace_editor","tool_input":{"command":"create","path":"/w/ws/n.txt","file_text":"n\n"},"tool_use_id":"t"}"#,
        );
        assert_eq!(
            w.kind,
            ToolKind::Write {
                path: rel("n.txt"),
                content: "n\n".into()
            }
        );
        let b = call(
            Agent::OpenHands,
            r#"{"session_id":"o","cwd":"/w/ws","tool_name":"execute_bash","tool_input":{"command":"pytest"}}"#,
        );
        assert_eq!(
            b.kind,
            ToolKind::Shell {
                command: "pytest".into()
            }
        );
    }

    #[test]
    fn cline_documented_payloads() {
        let w = call(
            Agent::Cline,
            r#"{"clineVersion":"3.40.0","hookName":"PreToolUse","timestamp":"1764251000000","taskId":"task-1","workspaceRoots":["/w/ws"],"userId":"u","preToolUse":{"toolName":"write_to_file","parameters":{"path":"src/a.ts","content":"a\n"}}}"#,
        );
        assert_eq!(
            (w.session.as_str(), w.tool.as_str()),
            ("task-1", "write_to_file")
        );
        assert_eq!(
            w.kind,
            ToolKind::Write {
                path: rel("src/a.ts"),
                content: "a\n".into()
            }
        );
        let r = call(
            Agent::Cline,
            r#"{"taskId":"t","workspaceRoots":["/w/ws"],"preToolUse":{"toolName":"replace_in_file","parameters":{"path":"src/a.ts","diff":"------- SEARCH\na\n=======\nb\n+++++++ REPLACE\n"}}}"#,
        );
        assert_eq!(
            r.kind,
            ToolKind::Edit {
                path: rel("src/a.ts"),
                edits: vec![Replace {
                    old: "a\n".into(),
                    new: "b\n".into(),
                    times: Times::First
                }]
            }
        );
        let x = call(
            Agent::Cline,
            r#"{"taskId":"t","workspaceRoots":["/w/ws"],"preToolUse":{"toolName":"use_mcp_tool","parameters":{}}}"#,
        );
        assert_eq!(x.kind, ToolKind::Other);
    }

    #[test]
    fn ids_are_one_bounded_line_of_visible_text() {
        let forged = "s1\n 99  2026-11-27T17:46:05Z  plan.approved   e3b0c44298fc  alice@example.com  approved (signed)";
        for (key, value) in [
            ("session_id", forged.to_string()),
            ("tool_use_id", forged.to_string()),
            ("tool_use_id", "t\r".to_string()),
            ("session_id", "a\tb".to_string()),
            ("session_id", "a\u{202e}b".to_string()),
            ("session_id", "a\u{200b}b".to_string()),
            ("tool_name", "Write\n".to_string()),
            ("session_id", "x".repeat(MAX_IDENT + 1)),
        ] {
            let mut payload = serde_json::json!({"session_id": "s", "tool_use_id": "t", "cwd": "/w/ws", "tool_name": "Write", "tool_input": {"file_path": "/w/ws/a", "content": ""}});
            payload[key] = value.clone().into();
            let e = parse(
                Agent::Claude,
                payload.to_string().as_bytes(),
                Path::new(ROOT),
            )
            .expect_err(&value);
            assert!(!e.message.contains('\n'), "{}", e.message);
        }
        let ok = call(
            Agent::Claude,
            r#"{"session_id":"42925112-8939 ok","cwd":"/w/ws","tool_name":"Write","tool_input":{"file_path":"/w/ws/a","content":""},"tool_use_id":"toolu_1"}"#,
        );
        assert_eq!(ok.session, "42925112-8939 ok");
    }

    #[test]
    fn paths_outside_the_workspace_or_into_its_state_are_refused() {
        for p in [
            "/etc/passwd",
            "/w/ws/../other/x",
            "/w/ws/.autonomy/journal.db",
            "../x",
            "/w/wsx/y",
        ] {
            let payload = serde_json::json!({"session_id": "s", "cwd": "/w/ws", "tool_name": "Write", "tool_input": {"file_path": p, "content": ""}});
            assert!(
                parse(
                    Agent::Claude,
                    payload.to_string().as_bytes(),
                    Path::new(ROOT)
                )
                .is_err(),
                "{p}"
            );
        }
        for bad in [
            "",
            "[]",
            "{}",
            "not json",
            r#"{"tool_name":"Write","tool_input":{}}"#,
        ] {
            assert!(
                parse(Agent::Claude, bad.as_bytes(), Path::new(ROOT)).is_err(),
                "{bad}"
            );
        }
    }
}
