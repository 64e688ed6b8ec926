//! Each agent's hook input (JSON on stdin) parsed into one [`ToolCall`]. Paths the agent
//! gives (absolute, or relative to its working directory) become workspace-relative
//! through the one path check, [`RelPath::parse`]: a path outside the workspace, into
//! `.autonomy/`, or otherwise unsafe is an error (the hook then refuses the call).

use super::patch::{self, FileOp, RawOp};
use super::{Agent, Replace, Times, ToolCall, ToolKind, edits};
use crate::error::{Error, Result};
use crate::workspace::RelPath;
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
            s(&["tool_use_id", "tool_call_id", "toolCallId", "call_id"]),
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

fn kind(agent: Agent, tool: &str, args: &Value, p: &Paths) -> Result<ToolKind> {
    let unique_or_all = |all: bool| if all { Times::All } else { Times::Unique };
    match (agent, tool) {
        // Claude Code (and OpenHands and Cursor, which use its tool names).
        (Agent::Claude | Agent::OpenHands | Agent::Cursor, "Write") => write(
            args,
            p,
            tool,
            &["file_path", "path"],
            &["content", "contents"],
        ),
        (Agent::Claude | Agent::OpenHands | Agent::Cursor, "Edit") => edit(
            args,
            p,
            tool,
            "file_path",
            "old_string",
            "new_string",
            unique_or_all(flag(args, "replace_all")),
        ),
        (Agent::Claude | Agent::OpenHands, "MultiEdit") => {
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
        (Agent::Claude | Agent::OpenHands | Agent::Codex | Agent::Cursor, "Bash" | "Shell") => {
            shell(args, tool, &["command"])
        }
        (
            Agent::Claude | Agent::OpenHands | Agent::Cursor,
            "Read" | "Glob" | "Grep" | "LS" | "NotebookRead" | "WebFetch" | "WebSearch"
            | "TodoWrite",
        ) => Ok(ToolKind::ReadOnly),
        (Agent::Cursor, "Delete") => Ok(ToolKind::ApplyPatch(vec![FileOp::Delete {
            path: p.rel(&need(args, &["file_path", "path", "target_file"], tool)?)?,
        }])),
        (Agent::Cursor, "search_replace") => edit(
            args,
            p,
            tool,
            "file_path",
            "old_string",
            "new_string",
            unique_or_all(flag(args, "replace_all")),
        ),
        // OpenHands' own tools.
        (Agent::OpenHands, "execute_bash" | "terminal") => shell(args, tool, &["command"]),
        (Agent::OpenHands, "str_replace_editor" | "file_editor") => {
            match text(args, &["command"]).as_deref() {
                Some("create") => write(args, p, tool, &["path"], &["file_text"]),
                Some("str_replace") => {
                    edit(args, p, tool, "path", "old_str", "new_str", Times::Unique)
                }
                Some("view") => Ok(ToolKind::ReadOnly),
                _ => Ok(ToolKind::Other),
            }
        }
        // Codex.
        (Agent::Codex, "apply_patch") => {
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
        (Agent::Codex, "exec_command" | "shell" | "local_shell") => {
            match args.get("command").or_else(|| args.get("cmd")) {
                Some(Value::Array(words)) => Ok(ToolKind::Shell {
                    command: shell_words::join(words.iter().filter_map(Value::as_str)),
                }),
                _ => shell(args, tool, &["command", "cmd"]),
            }
        }
        // Gemini CLI.
        (Agent::Gemini, "write_file") => write(args, p, tool, &["file_path"], &["content"]),
        (Agent::Gemini, "replace") => {
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
        (Agent::Gemini, "run_shell_command") => shell(args, tool, &["command"]),
        (
            Agent::Gemini,
            "read_file"
            | "read_many_files"
            | "list_directory"
            | "glob"
            | "search_file_content"
            | "grep_search"
            | "google_web_search"
            | "web_fetch",
        ) => Ok(ToolKind::ReadOnly),
        // GitHub Copilot CLI.
        (Agent::Copilot, "create") => write(args, p, tool, &["path"], &["file_text", "content"]),
        (Agent::Copilot, "edit" | "str_replace") => {
            edit(args, p, tool, "path", "old_str", "new_str", Times::Unique)
        }
        (Agent::Copilot, "bash" | "powershell" | "shell") => shell(args, tool, &["command"]),
        (Agent::Copilot, "view" | "glob" | "grep" | "read_bash") => Ok(ToolKind::ReadOnly),
        // Goose.
        (Agent::Goose, "developer__write") => write(args, p, tool, &["path"], &["content"]),
        (Agent::Goose, "developer__edit") => {
            edit(args, p, tool, "path", "before", "after", Times::Unique)
        }
        (Agent::Goose, "developer__shell") => shell(args, tool, &["command"]),
        (Agent::Goose, "developer__text_editor") => match text(args, &["command"]).as_deref() {
            Some("write") => write(args, p, tool, &["path"], &["file_text"]),
            Some("str_replace") => edit(args, p, tool, "path", "old_str", "new_str", Times::Unique),
            Some("view") => Ok(ToolKind::ReadOnly),
            _ => Ok(ToolKind::Other),
        },
        // Cline.
        (Agent::Cline, "write_to_file") => write(args, p, tool, &["path"], &["content"]),
        (Agent::Cline, "replace_in_file") => Ok(ToolKind::Edit {
            path: p.rel(&need(args, &["path"], tool)?)?,
            edits: edits::cline_blocks(&need(args, &["diff"], tool)?)?,
        }),
        (Agent::Cline, "execute_command") => shell(args, tool, &["command"]),
        (
            Agent::Cline,
            "read_file"
            | "list_files"
            | "search_files"
            | "list_code_definition_names"
            | "ask_followup_question"
            | "attempt_completion"
            | "plan_mode_respond",
        ) => Ok(ToolKind::ReadOnly),
        _ => Ok(ToolKind::Other),
    }
}
