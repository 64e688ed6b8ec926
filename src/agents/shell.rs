//! Shell tool calls. A hook lets through, to run for real, only commands that plainly read:
//! one simple command, no shell syntax at all (no redirection, pipe, substitution,
//! variable, glob or separator), whose program only reads and none of whose options can
//! write or run another program. Every other command runs as a capture in an isolated
//! view of the workspace (`ops::shell_call`), and what it changed becomes a plan; here is
//! where it runs ([`context`]: the agent's working folder, its own time limit).

use super::Agent;
use crate::error::{Error, Result};
use crate::paths::RelPath;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Programs that only read, and the options that would make them write or execute.
const READERS: &[(&str, &[&str])] = &[
    ("pwd", &[]),
    ("ls", &[]),
    ("cat", &[]),
    ("head", &[]),
    ("tail", &[]),
    ("wc", &[]),
    ("stat", &[]),
    ("echo", &[]),
    ("true", &[]),
    ("grep", &[]),
    ("rg", &["--pre", "--pre-glob", "--search-zip", "-z"]),
    ("diff", &[]),
    ("cmp", &[]),
    ("sha256sum", &[]),
];

/// Whether `command` certainly changes nothing (see the module note).
pub fn read_only(command: &str) -> bool {
    let cmd = command.trim();
    if cmd.is_empty()
        || cmd
            .chars()
            .any(|c| "|&;<>()$`\\*?[]{}~!#\n\r=".contains(c) || c.is_control())
    {
        return false;
    }
    let Ok(words) = shell_words::split(cmd) else {
        return false;
    };
    let Some((prog, args)) = words.split_first() else {
        return false;
    };
    let Some((_, bad)) = READERS.iter().find(|(p, _)| p == prog) else {
        return false;
    };
    // A refused one-letter flag is also refused inside a group (`-nz` is `-n -z`).
    !args.iter().any(|a| {
        bad.iter().any(|b| {
            a == b
                || a.starts_with(&format!("{b}="))
                || (b.len() == 2
                    && a.starts_with('-')
                    && !a.starts_with("--")
                    && a[1..].contains(&b[1..]))
        })
    })
}

/// Where and how long an agent's shell command runs, from its hook input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// The workspace folder the command starts in (`None`: the workspace root).
    pub cwd: Option<RelPath>,
    /// The time limit the agent's tool call asks for (Claude's `timeout`, Codex's
    /// `timeout_ms`), when it gives one.
    pub timeout: Option<Duration>,
}

/// The command's [`Context`]: the folder the agent runs it in (its session's `cwd`, or the
/// tool's own `dir_path`/`workdir`), which must be a folder inside the workspace `root`.
pub fn context(agent: Agent, input: &[u8], root: &Path) -> Result<Context> {
    let v: Value = serde_json::from_slice(input)
        .map_err(|e| Error::failed(format!("the {agent} hook input is not valid JSON: {e}")))?;
    let args = match agent {
        Agent::Cline => v.pointer("/preToolUse/parameters"),
        Agent::Copilot => v.get("toolArgs"),
        _ => v.get("tool_input").or_else(|| v.get("toolArgs")),
    };
    let args = match args {
        Some(Value::String(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
        Some(a) => a.clone(),
        None => Value::Null,
    };
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|t| !t.is_empty())
    }
    let session_cwd = match agent {
        Agent::Cline => text(v.pointer("/workspaceRoots/0")),
        _ => text(v.get("cwd")),
    };
    let base = session_cwd.map(Path::new).unwrap_or(root);
    let dir = match text(args.get("dir_path").or_else(|| args.get("workdir"))) {
        Some(d) => base.join(d),
        None => base.to_path_buf(),
    };
    let ms = args
        .get("timeout")
        .or_else(|| args.get("timeout_ms"))
        .and_then(Value::as_u64);
    Ok(Context {
        cwd: folder_in(root, &dir)?,
        timeout: ms.filter(|&m| m > 0).map(Duration::from_millis),
    })
}

/// `dir` as a workspace folder (`None`: the root itself); an error when it is not a folder
/// inside the workspace.
fn folder_in(root: &Path, dir: &Path) -> Result<Option<RelPath>> {
    let outside = || {
        Error::failed(format!(
            "the shell command would run in {}, which is not a folder inside the workspace {}",
            dir.display(),
            root.display()
        ))
        .hint("shell commands run as captures only inside the workspace; cd into it first")
    };
    let root = root
        .canonicalize()
        .map_err(|e| Error::io(format!("resolving the workspace {}", root.display()), e))?;
    let dir = dir.canonicalize().map_err(|_| outside())?;
    if !dir.is_dir() {
        return Err(outside());
    }
    let rest = dir.strip_prefix(&root).map_err(|_| outside())?;
    if rest.as_os_str().is_empty() {
        return Ok(None);
    }
    let text = rest.to_str().ok_or_else(outside)?;
    RelPath::parse(text).map(Some).map_err(|_| outside())
}

#[cfg(test)]
mod tests {
    use super::read_only;

    #[test]
    fn only_plain_readers_pass() {
        for ok in [
            "ls -la src",
            "cat README.md",
            "grep -n foo src/lib.rs",
            "pwd",
            "rg foo",
        ] {
            assert!(read_only(ok), "{ok}");
        }
        for no in [
            // Programs with flags that write (`file -C`, `tree -R`/`-o`) are not readers.
            "file -C -m m",
            "tree -R -H x",
            "tree -ao out",
            // A refused flag inside a group of short flags.
            "rg -nz foo",
            "echo hi > x",
            "cat a | tee b",
            "ls; rm -rf /",
            "rm x",
            "sed -i s/a/b/ f",
            "ls $(rm x)",
            "cat `rm x`",
            "find . -delete",
            "rg --pre sh x",
            "FOO=1 ls",
            "git status",
            "",
            "ls\nrm x",
            "tree -o out",
        ] {
            assert!(!read_only(no), "{no}");
        }
    }

    #[test]
    fn context_is_the_agents_folder_inside_the_workspace() {
        use super::{Agent, context};
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        std::fs::create_dir_all(root.join("sub/deep")).unwrap();
        let at = |agent, v: serde_json::Value| context(agent, v.to_string().as_bytes(), root);
        let c = at(
            Agent::Claude,
            serde_json::json!({"cwd": root.join("sub"), "tool_input": {"command": "make", "timeout": 5000}}),
        )
        .unwrap();
        assert_eq!(c.cwd.as_ref().map(|p| p.as_str()), Some("sub"));
        assert_eq!(c.timeout, Some(std::time::Duration::from_secs(5)));
        let g = at(
            Agent::Gemini,
            serde_json::json!({"cwd": root, "tool_input": {"command": "ls", "dir_path": "sub/deep"}}),
        )
        .unwrap();
        assert_eq!(g.cwd.as_ref().map(|p| p.as_str()), Some("sub/deep"));
        assert_eq!(
            at(
                Agent::Codex,
                serde_json::json!({"cwd": root, "tool_input": {"command": "x"}})
            )
            .unwrap(),
            super::Context::default()
        );
        for bad in ["/", "/tmp", "sub/../.."] {
            let e = at(
                Agent::Claude,
                serde_json::json!({"cwd": root.join(bad), "tool_input": {"command": "x"}}),
            );
            assert!(e.is_err(), "{bad}");
        }
        let e = at(
            Agent::Claude,
            serde_json::json!({"cwd": root.join(".autonomy"), "tool_input": {}}),
        );
        std::fs::create_dir(root.join(".autonomy")).unwrap();
        let e2 = at(
            Agent::Claude,
            serde_json::json!({"cwd": root.join(".autonomy"), "tool_input": {}}),
        );
        assert!(e.is_err() && e2.is_err());
    }
}
