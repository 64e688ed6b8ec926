//! Real coding agents (Claude Code, Codex, Gemini CLI at the versions .ci/agents.txt pins)
//! driven end to end against a scripted model on 127.0.0.1 (agents/mock_model.rs), with
//! `autonomy hook` wired as their pre-tool hook: a file tool call becomes a pending plan;
//! approved, autonomy applies it exactly (journaled, rolled back exactly); rejected,
//! nothing changes and the model's next request carries the reason and the plan id; a
//! failing hook changes nothing. Missing CLIs fail under CI=true (`common::skip`).

pub mod mock_model;

use crate::common::{self, Env};
use mock_model::{MockModel, Step};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The CLI of `name` as .ci/run installs it: `$AUTONOMY_AGENT_CLIS` (default
/// `~/.cache/autonomy-ci/agents`) `/<name>-<version>/node_modules/.bin/<bin>`.
pub(super) fn cli(name: &str) -> Option<PathBuf> {
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
             npm install --prefix {} {}@{version}; was the registry unreachable?)",
            path.display(),
            dir.join(format!("{name}-{version}")).display(),
            f[1]
        ));
        None
    }
}

/// PATH with this build's `autonomy` first (the installed hook and MCP entries run
/// `autonomy` from PATH).
pub(super) fn path_with_autonomy() -> std::ffi::OsString {
    let bin_dir = common::bin().parent().expect("bin dir").to_path_buf();
    std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH")
}

/// The hook command the agents' configuration runs.
pub(super) fn hook_command(agent: &str) -> String {
    format!("{} hook {agent}", common::bin().display())
}

/// A workspace whose rules make the hook wait at most `wait`.
pub(super) fn workspace(wait: &str) -> Env {
    let env = Env::new();
    env.write("autonomy.toml", format!("[agents]\nwait = \"{wait}\"\n"));
    env
}

pub(super) struct Run {
    child: Child,
    home: tempfile::TempDir,
}

impl Run {
    /// Wait for the agent to finish (at most `secs`); its stdout and stderr.
    pub(super) fn finish(mut self, secs: u64) -> (String, String) {
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

pub(super) fn claude(env: &Env, mock: &MockModel) -> Option<Run> {
    env.write(
        ".claude/settings.json",
        json!({"hooks": {"PreToolUse": [{"matcher": "Write|Edit|MultiEdit|NotebookEdit|Bash",
            "hooks": [{"type": "command", "command": hook_command("claude"), "timeout": 120}]}]}})
        .to_string(),
    );
    claude_as_configured(env, mock)
}

/// Claude Code with the project's settings as they are, and this build's `autonomy` first
/// on PATH (as `autonomy agent install` expects it).
fn claude_as_configured(env: &Env, mock: &MockModel) -> Option<Run> {
    let bin = cli("claude")?;
    let path = path_with_autonomy();
    let home = tempfile::tempdir().expect("home");
    let child = Command::new(bin)
        .args([
            "-p",
            "Do the task.",
            "--output-format",
            "stream-json",
            "--verbose",
        ])
        .args(["--permission-mode", "acceptEdits", "--allowedTools", "Bash"])
        .current_dir(&env.root)
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", mock.url())
        .env("ANTHROPIC_API_KEY", "dummy")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("PATH", path)
        .env("AUTONOMY_ACTOR", common::ACTOR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start claude");
    Some(Run { child, home })
}

/// Wait (at most `secs`) for a pending plan; its full id.
pub(super) fn pending_plan(env: &Env, secs: u64) -> String {
    let start = Instant::now();
    loop {
        let st = env.status_json();
        if let Some(id) = st["pending"]
            .as_array()
            .and_then(|a| a.first())
            .and_then(|p| p["id"].as_str())
        {
            return id.to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "no pending plan appeared: {st}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn codex(env: &Env, mock: &MockModel) -> Option<Run> {
    codex_with(env, mock, true)
}

/// Codex with our hook in `$CODEX_HOME/hooks.json` (`home_hooks`), or with the project's
/// `.codex/hooks.json` as `autonomy agent install codex` writes it, the project trusted and
/// this build's `autonomy` first on PATH.
fn codex_with(env: &Env, mock: &MockModel, home_hooks: bool) -> Option<Run> {
    let bin = cli("codex")?;
    let home = tempfile::tempdir().expect("home");
    let codex_home = home.path().join("codex");
    std::fs::create_dir_all(&codex_home).expect("mkdir");
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"gpt-5.5\"\nmodel_provider = \"mock\"\napproval_policy = \"never\"\n\
             sandbox_mode = \"danger-full-access\"\ncheck_for_update_on_startup = false\n\
             [analytics]\nenabled = false\n[model_providers.mock]\nname = \"mock\"\n\
             base_url = \"{}/v1\"\nwire_api = \"responses\"\nenv_key = \"MOCK_KEY\"\n",
            mock.url()
        ) + &format!(
            "[projects.{:?}]\ntrust_level = \"trusted\"\n",
            env.root.display().to_string()
        ),
    )
    .expect("config");
    if home_hooks {
        std::fs::write(
            codex_home.join("hooks.json"),
            json!({"hooks": {"PreToolUse": [{"matcher": "apply_patch|Bash|Write|Edit",
                "hooks": [{"type": "command", "command": hook_command("codex"), "timeout": 120}]}]}})
            .to_string(),
        )
        .expect("hooks");
    }
    let path = path_with_autonomy();
    let child = Command::new(bin)
        .args([
            "exec",
            "--skip-git-repo-check",
            "--json",
            "--dangerously-bypass-hook-trust",
        ])
        .args(["--disable", "plugins", "Do the task."])
        .current_dir(&env.root)
        .env("HOME", home.path())
        .env("CODEX_HOME", &codex_home)
        .env("MOCK_KEY", "dummy")
        .env("PATH", path)
        .env("AUTONOMY_ACTOR", common::ACTOR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start codex");
    Some(Run { child, home })
}

fn gemini(env: &Env, mock: &MockModel) -> Option<Run> {
    gemini_with_timeout(env, mock, None)
}

/// Gemini CLI with the hook's `timeout` (ms; Gemini's default is 60 s) set or not.
fn gemini_with_timeout(env: &Env, mock: &MockModel, timeout_ms: Option<u64>) -> Option<Run> {
    let mut entry =
        json!({"name": "autonomy", "type": "command", "command": hook_command("gemini")});
    if let Some(t) = timeout_ms {
        entry["timeout"] = json!(t);
    }
    env.write(
        ".gemini/settings.json",
        json!({"hooks": {"BeforeTool": [{"matcher": "write_file|replace|run_shell_command", "hooks": [entry]}]}})
        .to_string(),
    );
    gemini_as_configured(env, mock)
}

/// Gemini CLI with the project's settings as they are, this build's `autonomy` first on PATH.
pub(super) fn gemini_as_configured(env: &Env, mock: &MockModel) -> Option<Run> {
    let bin = cli("gemini")?;
    let path = path_with_autonomy();
    let home = tempfile::tempdir().expect("home");
    let gemini_home = home.path().join("gemini");
    std::fs::create_dir_all(gemini_home.join(".gemini")).expect("mkdir");
    std::fs::write(
        gemini_home.join(".gemini/settings.json"),
        json!({"security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": false}},
               "privacy": {"usageStatisticsEnabled": false}, "telemetry": {"enabled": false},
               "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false}})
        .to_string(),
    )
    .expect("settings");
    let child = Command::new(bin)
        .args([
            "-p",
            "Do the task.",
            "--output-format",
            "json",
            "--approval-mode",
            "yolo",
        ])
        .current_dir(&env.root)
        .env("HOME", home.path())
        .env("GOOGLE_GEMINI_BASE_URL", mock.url())
        .env("GEMINI_API_KEY", "dummy")
        .env("GEMINI_CLI_HOME", &gemini_home)
        .env("GEMINI_CLI_TRUST_WORKSPACE", "true")
        .env("PATH", path)
        .env("AUTONOMY_ACTOR", common::ACTOR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gemini");
    Some(Run { child, home })
}

pub(super) fn launch(agent: &str, env: &Env, mock: &MockModel) -> Option<Run> {
    match agent {
        "claude" => claude(env, mock),
        "codex" => codex(env, mock),
        "gemini" => gemini(env, mock),
        other => panic!("no launcher for {other}"),
    }
}

/// The script that writes `path` with `content` in `agent`'s own file tool.
fn write_step(agent: &str, env: &Env, path: &str, content: &str) -> Vec<Step> {
    let content: &'static str = Box::leak(content.to_string().into_boxed_str());
    match agent {
        "claude" => vec![Step::Tool(
            "Write",
            json!({"file_path": env.path(path), "content": content}),
        )],
        "codex" => {
            let body: String = content.lines().map(|l| format!("+{l}\n")).collect();
            vec![Step::Tool(
                "apply_patch",
                json!(format!(
                    "*** Begin Patch\n*** Add File: {path}\n{body}*** End Patch\n"
                )),
            )]
        }
        "gemini" => vec![Step::Tool(
            "write_file",
            json!({"file_path": env.path(path), "content": content}),
        )],
        other => panic!("no script for {other}"),
    }
}

/// The script that replaces `old` by `new` (one line each) in `path`.
fn edit_step(agent: &str, env: &Env, path: &str, old: &str, new: &str) -> Vec<Step> {
    let file = env.path(path);
    match agent {
        // Claude Code edits only files read in the session.
        "claude" => vec![
            Step::Tool("Read", json!({"file_path": file})),
            Step::Tool(
                "Edit",
                json!({"file_path": file, "old_string": old, "new_string": new}),
            ),
        ],
        "codex" => vec![Step::Tool(
            "apply_patch",
            json!(format!(
                "*** Begin Patch\n*** Update File: {path}\n@@\n-{old}\n+{new}\n*** End Patch\n"
            )),
        )],
        "gemini" => vec![Step::Tool(
            "replace",
            json!({"file_path": file, "old_string": old, "new_string": new, "instruction": "change the value"}),
        )],
        other => panic!("no script for {other}"),
    }
}

/// The text of the newest model request: what the model was told last.
pub(super) fn last_request(mock: &MockModel) -> String {
    mock.requests()
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default()
}

/// The `agent.call` events of the journal.
pub(super) fn agent_calls(env: &Env) -> Vec<serde_json::Value> {
    env.events()
        .into_iter()
        .filter(|e| e["kind"] == "agent.call")
        .collect()
}

/// A write approved while the hook waits lands byte for byte as a journaled run that rolls
/// back exactly; the agent is told it is done.
fn write_approved(agent: &str) {
    let env = workspace("60s");
    let before = env.tree();
    let content = format!("hello from {agent}\nline two\n");
    let mock = MockModel::start(write_step(agent, &env, "notes/hello.txt", &content));
    let Some(run) = launch(agent, &env, &mock) else {
        return;
    };
    let id = pending_plan(&env, 60);
    let plan = env.run(&["show", &id, "--format", "json"]);
    assert!(
        plan.stdout.contains(&format!("agent:{agent}")),
        "{}",
        plan.stdout
    );
    env.approve(&id);
    let (out, err) = run.finish(60);
    assert_eq!(env.read_str("notes/hello.txt"), content, "{out}\n{err}");
    let told = last_request(&mock);
    assert!(
        told.contains(&format!("applied this change as plan {}", &id[..12])),
        "{told}"
    );
    let calls = agent_calls(&env);
    assert_eq!(calls.len(), 1, "{calls:?}");
    let data = &calls[0]["data"];
    assert_eq!(data["agent"], agent);
    assert_eq!(data["plan"], id.as_str());
    assert!(!data["session"].as_str().unwrap_or("").is_empty(), "{data}");
    // Made by ops::propose (source `agent`, the call's ids recorded), and the call
    // journaled in the same transaction: the event right after plan.created.
    let events = env.events();
    let seq = calls[0]["seq"].as_i64().expect("seq");
    let created = events
        .iter()
        .find(|e| e["seq"] == seq - 1)
        .expect("the event before agent.call");
    assert_eq!(created["kind"], "plan.created", "{events:?}");
    assert_eq!(created["plan"], id.as_str(), "{created}");
    assert_eq!(created["data"]["source"], "agent", "{created}");
    assert_eq!(created["data"]["session"], data["session"], "{created}");
    assert_eq!(created["data"]["tool_call"], data["tool_call"], "{created}");
    let kinds = env.event_kinds();
    assert!(kinds.iter().any(|k| k == "run.committed"), "{kinds:?}");
    let (rb, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{rb}");
    let mut after = env.tree();
    for cfg in [
        ".claude",
        ".claude/settings.json",
        ".gemini",
        ".gemini/settings.json",
    ] {
        after.remove(cfg);
    }
    let mut before = before;
    before.retain(|k, _| !k.starts_with(".claude") && !k.starts_with(".gemini"));
    assert_eq!(after, before, "rollback restores the tree exactly");
    env.verify_ok();
}

/// An approved edit lands exactly (the edit applied to the file's current bytes).
fn edit_approved(agent: &str) {
    let env = workspace("60s");
    env.write("cfg.txt", "name = demo\ntimeout = 500\nretries = 3\n");
    let mock = MockModel::start(edit_step(
        agent,
        &env,
        "cfg.txt",
        "timeout = 500",
        "timeout = 750",
    ));
    let Some(run) = launch(agent, &env, &mock) else {
        return;
    };
    let id = pending_plan(&env, 60);
    env.approve(&id);
    let (out, err) = run.finish(60);
    assert_eq!(
        env.read_str("cfg.txt"),
        "name = demo\ntimeout = 750\nretries = 3\n",
        "{out}\n{err}"
    );
    env.verify_ok();
}

/// A rejected edit changes nothing, and the model's next request carries the reason and
/// the plan id.
fn edit_rejected(agent: &str) {
    let env = workspace("60s");
    env.write("cfg.txt", "name = demo\ntimeout = 500\n");
    let before = env.tree();
    let mock = MockModel::start(edit_step(
        agent,
        &env,
        "cfg.txt",
        "timeout = 500",
        "timeout = 9",
    ));
    let Some(run) = launch(agent, &env, &mock) else {
        return;
    };
    let id = pending_plan(&env, 60);
    env.cmd()
        .args(["reject", &id, "--reason", "nine is far too short"])
        .assert()
        .success();
    let (out, err) = run.finish(60);
    let mut after = env.tree();
    after.retain(|k, _| before.contains_key(k));
    assert_eq!(after, before, "{out}\n{err}");
    let told = last_request(&mock);
    assert!(told.contains("nine is far too short"), "{told}");
    assert!(told.contains(&id[..12]), "{told}");
    env.verify_ok();
}

/// Nobody decides within `[agents] wait`: nothing changes, the agent is told so.
fn nobody_decides(agent: &str) {
    let env = workspace("1s");
    let mock = MockModel::start(write_step(agent, &env, "late.txt", "late\n"));
    let Some(run) = launch(agent, &env, &mock) else {
        return;
    };
    let (out, err) = run.finish(60);
    assert!(!env.exists("late.txt"), "{out}\n{err}");
    let told = last_request(&mock);
    assert!(told.contains("No decision on plan"), "{told}");
}

/// The hook cannot work (its journal is corrupt): the tool call is refused, nothing changes.
fn hook_fails_closed(agent: &str) {
    let env = workspace("60s");
    for f in ["journal.db", "journal.db-wal", "journal.db-shm"] {
        let _ = std::fs::remove_file(env.path(&format!(".autonomy/{f}")));
    }
    env.write(".autonomy/journal.db", "this is not a database");
    let mock = MockModel::start(write_step(agent, &env, "x.txt", "x\n"));
    let Some(run) = launch(agent, &env, &mock) else {
        return;
    };
    let (out, err) = run.finish(60);
    assert!(!env.exists("x.txt"), "{out}\n{err}");
    let told = last_request(&mock);
    assert!(told.contains("autonomy refused this tool call"), "{told}");
}

/// The script that runs `command` in `agent`'s shell tool.
pub(super) fn shell_step(agent: &str, command: &'static str) -> Step {
    match agent {
        "claude" => Step::Tool("Bash", json!({"command": command, "description": "run it"})),
        "codex" => Step::Tool("exec_command", json!({"cmd": command})),
        "gemini" => Step::Tool(
            "run_shell_command",
            json!({"command": command, "description": "run it"}),
        ),
        other => panic!("no script for {other}"),
    }
}

/// With `[agents] shell = "deny"`, a shell command that would change files is refused; a
/// plainly reading one runs and the model sees its output.
fn shell_changing_refused_reading_runs(agent: &str) {
    let env = workspace("60s");
    // (With the default `shell = "capture"` such a command runs in a view instead:
    // tests/integration/agent_shell.rs.)
    env.write(
        "autonomy.toml",
        "[agents]\nwait = \"60s\"\nshell = \"deny\"\n",
    );
    env.write("data.txt", "marker-7c1e5\n");
    let mock = MockModel::start(vec![
        shell_step(agent, "echo made > made.txt"),
        shell_step(agent, "cat data.txt"),
    ]);
    let Some(run) = launch(agent, &env, &mock) else {
        return;
    };
    let (out, err) = run.finish(60);
    assert!(!env.exists("made.txt"), "{out}\n{err}");
    let told = mock.transcript();
    assert!(
        told.contains("autonomy refused this shell command"),
        "{told}"
    );
    assert!(last_request(&mock).contains("marker-7c1e5"), "{out}\n{err}");
    let calls = agent_calls(&env);
    let outcome = |o: &str| calls.iter().filter(|c| c["data"]["outcome"] == o).count();
    // The reading call that ran is journaled too (harden_exec).
    assert_eq!(
        (
            calls.len(),
            outcome("refused: shell"),
            outcome("allowed: read-only")
        ),
        (2, 1, 1),
        "{calls:?}"
    );
}

macro_rules! real_client_tests {
    ($agent:ident) => {
        mod $agent {
            #[test]
            fn write_approved_lands_exactly_and_rolls_back() {
                super::write_approved(stringify!($agent));
            }
            #[test]
            fn edit_approved_lands_exactly() {
                super::edit_approved(stringify!($agent));
            }
            #[test]
            fn edit_rejected_changes_nothing_and_tells_the_model_why() {
                super::edit_rejected(stringify!($agent));
            }
            #[test]
            fn nobody_deciding_changes_nothing() {
                super::nobody_decides(stringify!($agent));
            }
            #[test]
            fn shell_changing_refused_reading_runs() {
                super::shell_changing_refused_reading_runs(stringify!($agent));
            }
            #[test]
            fn a_failing_hook_refuses() {
                super::hook_fails_closed(stringify!($agent));
            }
        }
    };
}

real_client_tests!(claude);
real_client_tests!(codex);
real_client_tests!(gemini);

// ----------------------------------------------------------------- the hook on its own

/// Start `autonomy hook AGENT` with `payload` on stdin.
pub(super) fn hook(env: &Env, agent: &str, payload: &serde_json::Value) -> Child {
    use std::io::Write;
    let mut child = env
        .std_cmd()
        .args(["hook", agent])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hook");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(payload.to_string().as_bytes())
        .expect("write payload");
    drop(stdin);
    child
}

pub(super) fn hook_output(child: Child) -> (i32, String, String) {
    let out = child.wait_with_output().expect("hook output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn codex_patch(env: &Env, patch: &str) -> serde_json::Value {
    json!({"session_id": "sess-1", "turn_id": "turn-1", "cwd": env.root, "hook_event_name": "PreToolUse",
           "model": "gpt-5.5", "tool_name": "apply_patch", "tool_input": {"command": patch}, "tool_use_id": "call_7"})
}

#[test]
fn hook_apply_patch_add_update_delete_move_lands_exactly_and_rolls_back() {
    let env = workspace("60s");
    env.write("src/lib.rs", "fn a() {}\nfn b() {\n    1\n}\n");
    env.write("old.txt", "old\n");
    env.write("docs/a.md", "# A\ntext\n");
    env.set_mode("docs/a.md", 0o600);
    let before = env.tree();
    let patch = "*** Begin Patch\n*** Add File: new/added.txt\n+added\n*** Update File: src/lib.rs\n@@ fn b() {\n-    1\n+    2\n*** Delete File: old.txt\n*** Update File: docs/a.md\n*** Move to: docs/b.md\n@@\n-text\n+moved text\n*** End Patch\n";
    let child = hook(&env, "codex", &codex_patch(&env, patch));
    let id = pending_plan(&env, 30);
    env.approve(&id);
    let (code, out, err) = hook_output(child);
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON answer on stdout");
    assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
    assert!(
        v["hookSpecificOutput"]["permissionDecisionReason"]
            .as_str()
            .unwrap()
            .contains("applied this change")
    );
    assert_eq!(env.read_str("new/added.txt"), "added\n");
    assert_eq!(
        env.read_str("src/lib.rs"),
        "fn a() {}\nfn b() {\n    2\n}\n"
    );
    assert!(!env.exists("old.txt") && !env.exists("docs/a.md"));
    assert_eq!(env.read_str("docs/b.md"), "# A\nmoved text\n");
    assert_eq!(
        env.mode("docs/b.md") & 0o777,
        0o600,
        "a moved file keeps its mode"
    );
    let calls = agent_calls(&env);
    assert_eq!(calls[0]["data"]["tool_call"], "call_7");
    assert_eq!(calls[0]["data"]["session"], "sess-1");
    assert_eq!(calls[0]["actor"], "agent:codex");
    let (rb, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{rb}");
    assert_eq!(env.tree(), before);
    env.verify_ok();
}

#[test]
fn hook_declined_at_the_prompt_sends_the_reason_and_plan_back() {
    let env = workspace("60s");
    env.write("a.txt", "one\n");
    let payload = json!({"session_id": "s", "cwd": env.root, "hook_event_name": "BeforeTool", "timestamp": "t1",
                         "tool_name": "write_file", "tool_input": {"file_path": env.path("a.txt"), "content": "two\n"}});
    let child = hook(&env, "gemini", &payload);
    let id = pending_plan(&env, 30);
    let (out, code) = env.tty(&["approve", &id, "--reason", "keep it at one"], "n");
    assert_eq!(code, 3, "{out}");
    let (code, out, err) = hook_output(child);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["decision"], "deny");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("declined")
            && reason.contains("keep it at one")
            && reason.contains(&id[..12]),
        "{reason}"
    );
    assert_eq!(env.read_str("a.txt"), "one\n");
}

#[test]
fn hook_refuses_bad_input_in_each_agents_format() {
    let env = workspace("5s");
    for agent in [
        "claude",
        "codex",
        "gemini",
        "cursor",
        "copilot",
        "goose",
        "openhands",
        "cline",
    ] {
        for input in [
            "",
            "not json",
            "[1]",
            "{\"tool_name\": \"Write\", \"tool_input\": {\"file_path\": \"/etc/passwd\", \"content\": \"x\"}}",
        ] {
            let out = env
                .cmd()
                .args(["hook", agent])
                .write_stdin(input)
                .output()
                .expect("hook");
            let code = out.status.code().unwrap_or(-1);
            let stdout = String::from_utf8_lossy(&out.stdout);
            // Never the exit code that lets Claude Code and Gemini CLI run the tool.
            assert!(code == 0 || code == 2, "{agent} {input:?}: exit {code}");
            let refused = match agent {
                "claude" | "codex" | "openhands" => {
                    stdout.contains("\"permissionDecision\":\"deny\"")
                }
                "gemini" => stdout.contains("\"decision\":\"deny\""),
                "cursor" => stdout.contains("\"permission\":\"deny\""),
                "copilot" => stdout.contains("\"permissionDecision\":\"deny\""),
                "goose" => code == 2 && stdout.contains("\"decision\":\"block\""),
                "cline" => stdout.contains("\"cancel\":true"),
                _ => unreachable!(),
            };
            assert!(refused, "{agent} {input:?}: {stdout}");
        }
    }
    let out = env
        .cmd()
        .args(["hook", "aider"])
        .write_stdin("{}")
        .output()
        .expect("hook");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown agent"));
    assert!(env.status_json()["pending"].as_array().unwrap().is_empty());
}

/// The hook's own decision time for a one-file edit (plan creation and journal, no waiting):
/// with `[agents] wait = "0s"` it answers right after proposing. Prints the median.
#[test]
fn hook_decision_time_for_a_one_file_edit() {
    let env = workspace("0s");
    let mut times = Vec::new();
    for i in 0..15 {
        env.write("cfg.txt", format!("timeout = {i}\n"));
        let payload = json!({"session_id": "s", "cwd": env.root, "hook_event_name": "PreToolUse", "tool_name": "Edit",
            "tool_input": {"file_path": env.path("cfg.txt"), "old_string": format!("timeout = {i}"), "new_string": "timeout = 750"},
            "tool_use_id": format!("t{i}")});
        let start = Instant::now();
        let (code, out, _) = hook_output(hook(&env, "claude", &payload));
        times.push(start.elapsed());
        assert_eq!(code, 0);
        assert!(out.contains("No decision on plan"), "{out}");
    }
    times.sort();
    eprintln!(
        "hook decision time for a one-file edit: median {:?} (min {:?}, max {:?})",
        times[7], times[0], times[14]
    );
}

/// `autonomy agent install claude` is itself a plan; once applied, the real Claude Code runs
/// every write through autonomy; `agent uninstall` gives the user's settings back.
#[test]
fn agent_install_wires_the_real_claude_code_and_uninstall_unwires_it() {
    let env = workspace("60s");
    let original = json!({"model": "opus", "permissions": {"allow": ["Bash(ls)"]},
                          "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "true"}]}]}});
    env.write(".claude/settings.json", original.to_string());
    let out = env.run(&["agent", "install", "claude"]);
    assert_eq!(out.code, 0, "{out:?}");
    let install = env.full_id(out.stdout.trim());
    assert_eq!(
        env.read_str(".claude/settings.json"),
        original.to_string(),
        "nothing changes before approval"
    );
    env.approve(&install);
    env.cmd().args(["apply", &install]).assert().success();
    let settings: serde_json::Value =
        serde_json::from_str(&env.read_str(".claude/settings.json")).expect("json");
    assert_eq!(settings["model"], "opus");
    assert_eq!(settings["hooks"]["Stop"], original["hooks"]["Stop"]);
    let list: serde_json::Value =
        serde_json::from_str(&env.run(&["agent", "list", "--format", "json"]).stdout)
            .expect("json");
    let claude = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "claude")
        .unwrap()
        .clone();
    assert_eq!(
        (claude["wired"].as_bool(), claude["hook_answers"].as_bool()),
        (Some(true), Some(true)),
        "{list}"
    );

    let mock = MockModel::start(write_step(
        "claude",
        &env,
        "wired.txt",
        "through the installed hook\n",
    ));
    let Some(run) = claude_as_configured(&env, &mock) else {
        return;
    };
    let id = pending_plan(&env, 60);
    env.approve(&id);
    let (out, err) = run.finish(60);
    assert_eq!(
        env.read_str("wired.txt"),
        "through the installed hook\n",
        "{out}\n{err}"
    );

    let out = env.run(&["agent", "uninstall", "claude"]);
    assert_eq!(out.code, 0, "{out:?}");
    let uninstall = env.full_id(out.stdout.trim());
    env.approve(&uninstall);
    env.cmd().args(["apply", &uninstall]).assert().success();
    let back: serde_json::Value =
        serde_json::from_str(&env.read_str(".claude/settings.json")).expect("json");
    assert_eq!(back, original);
    env.verify_ok();
}

/// Gemini CLI runs the tool when its hook outlives the hook's `timeout` (checked: with a hook
/// that waits longer, the file was written). The hook reads that timeout from the
/// configuration and answers before it, even when `[agents] wait` is longer.
#[test]
fn gemini_short_hook_timeout_still_refuses_in_time() {
    let env = workspace("30s");
    let mock = MockModel::start(write_step("gemini", &env, "t.txt", "x\n"));
    let started = Instant::now();
    let Some(run) = gemini_with_timeout(&env, &mock, Some(4000)) else {
        return;
    };
    let (out, err) = run.finish(60);
    assert!(!env.exists("t.txt"), "the tool ran: {out}\n{err}");
    let told = last_request(&mock);
    assert!(
        told.contains("No decision on plan")
            && told.contains("stops waiting for its hook after 4s"),
        "{told}"
    );
    assert!(started.elapsed() < Duration::from_secs(25));
}

/// `autonomy agent install codex` writes the project's `.codex/hooks.json`; the real Codex
/// (trusting the project) then routes its apply_patch through autonomy.
#[test]
fn agent_install_wires_the_real_codex() {
    let env = workspace("60s");
    let out = env.run(&["agent", "install", "codex"]);
    assert_eq!(out.code, 0, "{out:?}");
    let install = env.full_id(out.stdout.trim());
    env.approve(&install);
    env.cmd().args(["apply", &install]).assert().success();
    let mock = MockModel::start(write_step(
        "codex",
        &env,
        "wired.txt",
        "through the installed hook\n",
    ));
    let Some(run) = codex_with(&env, &mock, false) else {
        return;
    };
    let id = pending_plan(&env, 60);
    env.approve(&id);
    let (out, err) = run.finish(60);
    assert_eq!(
        env.read_str("wired.txt"),
        "through the installed hook\n",
        "{out}\n{err}"
    );
}

/// `autonomy agent install gemini` writes `.gemini/settings.json` (with a 30-minute hook
/// timeout); the real Gemini CLI then routes its write_file through autonomy.
#[test]
fn agent_install_wires_the_real_gemini_cli() {
    let env = workspace("60s");
    let out = env.run(&["agent", "install", "gemini"]);
    assert_eq!(out.code, 0, "{out:?}");
    let install = env.full_id(out.stdout.trim());
    env.approve(&install);
    env.cmd().args(["apply", &install]).assert().success();
    let mock = MockModel::start(write_step(
        "gemini",
        &env,
        "wired.txt",
        "through the installed hook\n",
    ));
    let Some(run) = gemini_as_configured(&env, &mock) else {
        return;
    };
    let id = pending_plan(&env, 60);
    env.approve(&id);
    let (out, err) = run.finish(60);
    assert_eq!(
        env.read_str("wired.txt"),
        "through the installed hook\n",
        "{out}\n{err}"
    );
}

/// An answer that cannot be written (stdout is a full disk) is a block (exit 2), never an
/// exit 0 without a deny, which an agent takes as "allow".
#[test]
fn a_hook_answer_that_cannot_be_written_blocks() {
    use std::io::Write;
    let env = crate::common::Env::new();
    let mut child = std::process::Command::new(crate::common::bin())
        .current_dir(&env.root)
        .args(["hook", "claude"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"not json").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{status:?}");
}
