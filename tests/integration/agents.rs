//! Real coding agents (Claude Code, Codex, Gemini CLI at the versions .ci/agents.txt pins)
//! driven end to end against a scripted model on 127.0.0.1 (agents/mock_model.rs), with
//! `autonomy hook` wired as their pre-tool hook: a file tool call becomes a pending plan;
//! approved, autonomy applies it exactly (journaled, rolled back exactly); rejected,
//! nothing changes and the model's next request carries the reason and the plan id; a
//! failing hook changes nothing. Missing CLIs fail under CI=true (`common::skip`).

mod mock_model;

use crate::common::{self, Env};
use mock_model::{MockModel, Step};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The CLI of `name` as .ci/run installs it: `$AUTONOMY_AGENT_CLIS` (default
/// `~/.cache/autonomy-ci/agents`) `/<name>-<version>/node_modules/.bin/<bin>`.
fn cli(name: &str) -> Option<PathBuf> {
    let pins = include_str!("../../.ci/agents.txt");
    let line = pins
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .expect("agent pinned in .ci/agents.txt");
    let f: Vec<&str> = line.split_whitespace().collect();
    let (version, bin) = (f[2], f[3]);
    let dir = std::env::var_os("AUTONOMY_AGENT_CLIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/autonomy-ci/agents")
        });
    let path = dir.join(format!("{name}-{version}/node_modules/.bin/{bin}"));
    if path.is_file() {
        Some(path)
    } else {
        common::skip(&format!(
            "{name} {version} is not installed at {} (.ci/run installs it from the npm registry: \
             npm install --prefix {} {} ; was the registry unreachable?)",
            path.display(),
            dir.join(format!("{name}-{version}")).display(),
            f[1]
        ));
        None
    }
}

/// The hook command the agents' configuration runs.
fn hook_command(agent: &str) -> String {
    format!("{} hook {agent}", common::bin().display())
}

/// A workspace whose rules make the hook wait at most `wait`.
fn workspace(wait: &str) -> Env {
    let env = Env::new();
    env.write("autonomy.toml", format!("[agents]\nwait = \"{wait}\"\n"));
    env
}

struct Run {
    child: Child,
    home: tempfile::TempDir,
}

impl Run {
    /// Wait for the agent to finish (at most `secs`); its stdout and stderr.
    fn finish(mut self, secs: u64) -> (String, String) {
        let start = Instant::now();
        loop {
            if let Some(_status) = self.child.try_wait().expect("wait") {
                break;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut out = String::new();
        let mut err = String::new();
        use std::io::Read;
        if let Some(mut o) = self.child.stdout.take() {
            let _ = o.read_to_string(&mut out);
        }
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        drop(self.home);
        (out, err)
    }
}

fn claude(env: &Env, mock: &MockModel) -> Option<Run> {
    let bin = cli("claude")?;
    env.write(
        ".claude/settings.json",
        json!({"hooks": {"PreToolUse": [{"matcher": "Write|Edit|MultiEdit|NotebookEdit|Bash",
            "hooks": [{"type": "command", "command": hook_command("claude"), "timeout": 120}]}]}})
        .to_string(),
    );
    let home = tempfile::tempdir().expect("home");
    let child = Command::new(bin)
        .args(["-p", "Do the task.", "--output-format", "stream-json", "--verbose"])
        .args(["--permission-mode", "acceptEdits", "--allowedTools", "Bash"])
        .current_dir(&env.root)
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", mock.url())
        .env("ANTHROPIC_API_KEY", "dummy")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("AUTONOMY_ACTOR", common::ACTOR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start claude");
    Some(Run { child, home })
}

/// Wait (at most `secs`) for a pending plan; its full id.
fn pending_plan(env: &Env, secs: u64) -> String {
    let start = Instant::now();
    loop {
        let st = env.status_json();
        if let Some(id) = st["pending"].as_array().and_then(|a| a.first()).and_then(|p| p["id"].as_str()) {
            return id.to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(secs), "no pending plan appeared: {st}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn claude_write_becomes_a_plan_applied_on_approval() {
    let env = workspace("60s");
    let mock = MockModel::start(vec![Step::Tool(
        "Write",
        json!({"file_path": env.path("notes/hello.txt"), "content": "hello from claude\n"}),
    )]);
    let Some(run) = claude(&env, &mock) else { return };
    let id = pending_plan(&env, 60);
    env.approve(&id);
    let (out, err) = run.finish(60);
    eprintln!("OUT {out}\nERR {err}\nMODEL {}", mock.transcript());
    assert_eq!(env.read_str("notes/hello.txt"), "hello from claude\n");
}
