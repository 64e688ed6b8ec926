//! An agent's shell tool call runs as a capture (issue 16): a command that is not plainly
//! reading runs in an isolated copy-on-write view of the workspace; what it changed becomes
//! one pending plan decided like a file tool call and, approved, applied by autonomy's
//! engine (byte for byte, journaled, rolled back exactly); the agent gets the command's
//! output and the outcome in its own refusal format (so its tool never runs the command
//! for real). Recorded payloads of each agent's shell tool drive the hook directly; Claude
//! Code's real CLI drives it end to end against the mock model.

use super::agents::mock_model::MockModel;
use super::agents::{
    agent_calls, claude, hook, hook_command, hook_output, last_request, launch, pending_plan,
    shell_step, workspace,
};
use crate::common::Env;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A hook payload for `agent`'s shell tool running `command` in the workspace.
fn payload(env: &Env, agent: &str, command: &str) -> Value {
    let root = env.root.display().to_string();
    match agent {
        "claude" | "openhands" => {
            let tool = if agent == "claude" {
                "Bash"
            } else {
                "execute_bash"
            };
            json!({"session_id": "sess-1", "transcript_path": "/h/t.jsonl", "cwd": root,
                   "permission_mode": "acceptEdits", "hook_event_name": "PreToolUse",
                   "tool_name": tool, "tool_input": {"command": command, "description": "run it"},
                   "tool_use_id": format!("toolu_{agent}")})
        }
        "codex" => json!({"session_id": "sess-2", "turn_id": "turn-1", "cwd": root,
                          "hook_event_name": "PreToolUse", "model": "gpt-5.5",
                          "tool_name": "Bash", "tool_input": {"command": command},
                          "tool_use_id": "call_1"}),
        "codex-exec" => {
            json!({"session_id": "sess-2", "cwd": root, "hook_event_name": "PreToolUse",
                               "tool_name": "exec_command", "tool_input": {"cmd": command},
                               "tool_use_id": "call_2"})
        }
        "gemini" => json!({"session_id": "sess-3", "cwd": root, "hook_event_name": "BeforeTool",
                           "timestamp": "2026-11-27T14:01:12.100Z", "tool_name": "run_shell_command",
                           "tool_input": {"command": command, "description": "run it"}}),
        "cursor" => json!({"conversation_id": "c1", "tool_name": "Shell",
                           "tool_input": {"command": command}}),
        "copilot" => json!({"timestamp": 1, "cwd": root, "toolName": "bash",
                            "toolArgs": json!({"command": command}).to_string()}),
        "goose" => json!({"session_id": "g", "hook_event_name": "PreToolUse", "cwd": root,
                          "tool_name": "developer__shell", "tool_input": {"command": command}}),
        "cline" => json!({"taskId": "task-1", "workspaceRoots": [root], "hookName": "PreToolUse",
                          "preToolUse": {"toolName": "execute_command",
                                         "parameters": {"command": command}}}),
        other => panic!("no payload for {other}"),
    }
}

/// The agent binary name for a payload variant.
fn agent_of(variant: &str) -> &str {
    variant.split('-').next().unwrap_or(variant)
}

/// The text a refusal carries to the model, in `agent`'s own format; panics on an allow.
fn reason(agent: &str, code: i32, out: &str, err: &str) -> String {
    let v: Value = serde_json::from_str(out).unwrap_or_else(|_| panic!("{agent}: {out:?} {err}"));
    let r = match agent {
        "claude" | "openhands" | "codex" => {
            assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny", "{v}");
            &v["hookSpecificOutput"]["permissionDecisionReason"]
        }
        "gemini" => {
            assert_eq!(v["decision"], "deny", "{v}");
            &v["reason"]
        }
        "cursor" => {
            assert_eq!(v["permission"], "deny", "{v}");
            &v["agent_message"]
        }
        "copilot" => {
            assert_eq!(v["permissionDecision"], "deny", "{v}");
            &v["permissionDecisionReason"]
        }
        "goose" => {
            assert_eq!((v["decision"].as_str(), code), (Some("block"), 2), "{v}");
            &v["reason"]
        }
        "cline" => {
            assert_eq!(v["cancel"], true, "{v}");
            &v["errorMessage"]
        }
        other => panic!("{other}"),
    };
    assert!(code == 0 || agent == "goose", "{agent}: exit {code}");
    r.as_str().expect("reason text").to_string()
}

/// Run the hook for `variant` with `command` and no decision expected; its refusal text.
fn ask(env: &Env, variant: &str, command: &str) -> String {
    let agent = agent_of(variant);
    let (code, out, err) = hook_output(hook(env, agent, &payload(env, variant, command)));
    reason(agent, code, &out, &err)
}

#[test]
fn a_changing_shell_call_in_each_agents_format_lands_exactly_once_approved() {
    let env = workspace("60s");
    env.write("data.txt", "alpha\n");
    for variant in [
        "claude",
        "codex",
        "codex-exec",
        "gemini",
        "cursor",
        "copilot",
        "goose",
        "openhands",
        "cline",
    ] {
        let agent = agent_of(variant);
        let file = format!("gen/{variant}.txt");
        let command = format!(
            "mkdir -p gen && printf 'made by %s\\n\\001\\377' {variant} > {file} && cat data.txt && echo out-{variant} >&2"
        );
        let child = hook(&env, agent, &payload(&env, variant, &command));
        let id = pending_plan(&env, 30);
        assert!(
            !env.exists(&file),
            "{variant}: nothing lands before approval"
        );
        let shown = env.run(&["show", &format!("{id}:{file}")]);
        assert!(
            shown.stdout.contains(&format!("made by {variant}")),
            "{variant}: {}",
            shown.all()
        );
        env.approve(&id);
        let (code, out, err) = hook_output(child);
        let said = reason(agent, code, &out, &err);
        for want in [
            "Done: the command ran in an isolated view",
            &id[..12],
            &file,
            "alpha",
            &format!("out-{variant}"),
            "exit code 0",
            "must not run again",
        ] {
            assert!(said.contains(want), "{variant}: {want:?} in {said}");
        }
        assert_eq!(
            env.read(&file),
            format!("made by {variant}\n\x01")
                .into_bytes()
                .into_iter()
                .chain([0xff])
                .collect::<Vec<u8>>(),
            "{variant}"
        );
        // The call journaled with its plan; the plan made through ops::propose as an
        // agent's (source `agent`, author agent:AGENT, the command recorded).
        let calls = agent_calls(&env);
        let call = calls
            .iter()
            .find(|c| c["data"]["plan"] == id.as_str())
            .unwrap_or_else(|| panic!("{variant}: no agent.call for {id}: {calls:?}"));
        assert_eq!(call["data"]["agent"], agent, "{call}");
        assert_eq!(call["data"]["outcome"], "planned", "{call}");
        let created = env
            .events()
            .into_iter()
            .find(|e| e["kind"] == "plan.created" && e["plan"] == id.as_str())
            .expect("plan.created");
        assert_eq!(created["data"]["source"], "agent", "{created}");
        assert_eq!(created["data"]["command"], command.as_str(), "{created}");
        assert_eq!(created["actor"], format!("agent:{agent}"), "{created}");
    }
    let kinds = env.event_kinds();
    assert_eq!(
        kinds.iter().filter(|k| *k == "run.committed").count(),
        9,
        "{kinds:?}"
    );
    env.verify_ok();
}

#[test]
fn an_approved_shell_call_rolls_back_exactly() {
    let env = workspace("60s");
    env.write("keep.txt", "old\n");
    env.write("gone.txt", "bye\n");
    let before = env.tree();
    let child = hook(
        &env,
        "claude",
        &payload(
            &env,
            "claude",
            "echo new > keep.txt; rm gone.txt; mkdir -p d/e; echo x > d/e/f.txt; chmod 755 d/e/f.txt",
        ),
    );
    let id = pending_plan(&env, 30);
    env.approve(&id);
    let (code, out, err) = hook_output(child);
    let said = reason("claude", code, &out, &err);
    assert!(said.contains("Done"), "{said}");
    assert_eq!(env.read_str("keep.txt"), "new\n");
    assert!(!env.exists("gone.txt"));
    assert_eq!(env.mode("d/e/f.txt") & 0o777, 0o755);
    let (rb, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{rb}");
    assert_eq!(env.tree(), before, "rollback restores the tree exactly");
    env.verify_ok();
}

#[test]
fn a_declined_shell_call_changes_nothing_and_says_why() {
    let env = workspace("60s");
    env.write("a.txt", "one\n");
    let before = env.tree();
    let child = hook(
        &env,
        "gemini",
        &payload(
            &env,
            "gemini",
            "echo two > a.txt; echo made > b.txt; echo said-xyz",
        ),
    );
    let id = pending_plan(&env, 30);
    let (out, code) = env.tty(&["approve", &id, "--reason", "no generated files"], "n");
    assert_eq!(code, 3, "{out}");
    let (code, out, err) = hook_output(child);
    let said = reason("gemini", code, &out, &err);
    for want in [
        "declined",
        "no generated files",
        &id[..12],
        "said-xyz",
        "Nothing was changed",
    ] {
        assert!(said.contains(want), "{want:?} in {said}");
    }
    assert_eq!(env.tree(), before);
    env.verify_ok();
}

#[test]
fn a_command_that_changes_nothing_runs_with_no_plan_and_its_output_comes_back() {
    let env = workspace("60s");
    env.write("data.txt", "alpha\nbeta\n");
    // Not plainly reading (a pipe): it runs in the view; it changes nothing.
    let said = ask(
        &env,
        "claude",
        "cat data.txt | tr a-z A-Z; ls missing 2>&1; exit 3",
    );
    for want in ["changed no file", "ALPHA\nBETA", "missing", "exit code 3"] {
        assert!(said.contains(want), "{want:?} in {said}");
    }
    // Writes only to its $TMPDIR: no change to plan either.
    let said = ask(&env, "codex", "echo t > \"$TMPDIR/t\" && cat \"$TMPDIR/t\"");
    assert!(said.contains("changed no file"), "{said}");
    // A plainly reading command is let through to run as it is (no answer from the hook).
    let (code, out, err) = hook_output(hook(
        &env,
        "claude",
        &payload(&env, "claude", "cat data.txt"),
    ));
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(env.plan_ids().is_empty(), "no plan: {:?}", env.plan_ids());
    let calls = agent_calls(&env);
    assert_eq!(calls.len(), 3, "{calls:?}");
    // The read that was let through is journaled too (harden_exec).
    let outcome = |o: &str| calls.iter().filter(|c| c["data"]["outcome"] == o).count();
    assert_eq!(
        (outcome("ran: no changes"), outcome("allowed: read-only")),
        (2, 1),
        "{calls:?}"
    );
    env.verify_ok();
}

#[test]
fn shell_deny_refuses_changing_commands_without_running_them() {
    let env = workspace("60s");
    env.write(
        "autonomy.toml",
        "[agents]\nwait = \"60s\"\nshell = \"deny\"\n",
    );
    let said = ask(&env, "claude", "echo ran-it; echo x > made.txt");
    assert!(said.contains("shell = \"deny\""), "{said}");
    assert!(!said.contains("ran-it"), "the command did not run: {said}");
    assert!(!env.exists("made.txt"));
    assert!(env.plan_ids().is_empty());
    assert_eq!(agent_calls(&env)[0]["data"]["outcome"], "refused: shell");
}

#[test]
fn a_shell_call_is_confined_as_captures_are() {
    let env = workspace("1s");
    let outside = env.tmp.path().join("outside.txt");
    let before_journal = std::fs::read(env.path(".autonomy/journal.db")).expect("journal");
    let command = format!(
        "echo x > {o}; echo pwned > .autonomy/journal.db; ls -A .autonomy | wc -l; echo sock=$SSH_AUTH_SOCK; echo in > in.txt",
        o = outside.display()
    );
    let mut p = payload(&env, "claude", &command);
    p["tool_input"]["description"] = json!("try to escape");
    let child = {
        use std::io::Write;
        let mut c = env
            .std_cmd()
            .args(["hook", "claude"])
            .env("SSH_AUTH_SOCK", "/tmp/agent.sock")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("hook");
        c.stdin
            .take()
            .unwrap()
            .write_all(p.to_string().as_bytes())
            .unwrap();
        c
    };
    let (code, out, err) = hook_output(child);
    let said = reason("claude", code, &out, &err);
    assert!(
        !outside.exists(),
        "a write outside the workspace is refused: {said}"
    );
    assert!(said.contains("sock=\n"), "no SSH agent: {said}");
    assert!(
        said.contains("\n0\n"),
        ".autonomy/ is empty in the view: {said}"
    );
    // Nobody decided within 1s: the plan (in.txt only) stays pending, nothing changed.
    assert!(said.contains("No decision on plan"), "{said}");
    assert!(said.contains("in.txt"), "{said}");
    assert!(!env.exists("in.txt"));
    let ids = env.plan_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let plan = env.run(&["show", &ids[0], "--format", "json"]);
    let v: Value = serde_json::from_str(&plan.stdout).expect("plan json");
    let paths: Vec<&str> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["path"].as_str())
        .collect();
    assert_eq!(paths, ["in.txt"], "{v}");
    assert_ne!(
        std::fs::read(env.path(".autonomy/journal.db")).expect("journal"),
        b"pwned\n"
    );
    drop(before_journal);
    env.verify_ok();
}

#[test]
fn a_command_past_its_time_is_killed_and_nothing_is_planned() {
    let env = workspace("60s");
    let mut p = payload(&env, "claude", "echo started; echo x > late.txt; sleep 30");
    p["tool_input"]["timeout"] = json!(1500);
    let start = Instant::now();
    let (code, out, err) = hook_output(hook(&env, "claude", &p));
    let took = start.elapsed();
    let said = reason("claude", code, &out, &err);
    assert!(took < Duration::from_secs(10), "{took:?}");
    for want in [
        "was stopped",
        "killed with its process group",
        "started",
        "nothing was planned",
    ] {
        assert!(said.contains(want), "{want:?} in {said}");
    }
    assert!(env.plan_ids().is_empty());
    assert!(!env.exists("late.txt"));
}

/// The agent's hook limit passes while autonomy applies the approved plan (a slow
/// `[verify]` command): the watchdog stops the run, which undoes itself, and the agent is
/// told so in time; no run is left interrupted.
#[test]
fn the_deadline_passing_mid_apply_stops_and_undoes_the_run() {
    let env = workspace("60s");
    env.write(
        "autonomy.toml",
        "[agents]\nwait = \"60s\"\n[verify]\nrun = [\"sleep\", \"60\"]\n",
    );
    env.write(
        ".claude/settings.json",
        json!({"hooks": {"PreToolUse": [{"matcher": "Bash",
            "hooks": [{"type": "command", "command": hook_command("claude"), "timeout": 20}]}]}})
        .to_string(),
    );
    let start = Instant::now();
    let child = hook(
        &env,
        "claude",
        &payload(&env, "claude", "echo v > slow.txt"),
    );
    let id = pending_plan(&env, 15);
    env.approve(&id);
    let (code, out, err) = hook_output(child);
    let took = start.elapsed();
    let said = reason("claude", code, &out, &err);
    assert!(
        took < Duration::from_secs(20),
        "answered before the agent gives up: {took:?}"
    );
    assert!(said.contains("ran out of time while applying"), "{said}");
    assert!(said.contains("undone"), "{said}");
    assert!(!env.exists("slow.txt"));
    let kinds = env.event_kinds();
    assert!(kinds.iter().any(|k| k == "run.failed"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "run.committed"), "{kinds:?}");
    // Not left interrupted: status is clean and the plan can still be applied.
    let st = env.status_json();
    assert!(
        st["interrupted"].is_null() || st["interrupted"] == json!(false),
        "{st}"
    );
    env.verify_ok();
}

// ------------------------------------------------------------- the real Claude Code CLI

#[test]
fn claude_code_bash_call_is_captured_approved_and_lands() {
    let env = workspace("60s");
    env.write("data.txt", "gamma\n");
    let before = env.tree();
    let mock = MockModel::start(vec![shell_step(
        "claude",
        "printf 'from bash\\n' > made.txt && cat data.txt",
    )]);
    let Some(run) = claude(&env, &mock) else {
        return;
    };
    let id = pending_plan(&env, 60);
    env.approve(&id);
    let (out, err) = run.finish(60);
    assert_eq!(env.read_str("made.txt"), "from bash\n", "{out}\n{err}");
    let told = last_request(&mock);
    assert!(told.contains(&id[..12]) && told.contains("Done"), "{told}");
    assert!(told.contains("gamma"), "the model sees the output: {told}");
    let calls = agent_calls(&env);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["data"]["tool"], "Bash");
    assert_eq!(calls[0]["data"]["plan"], id.as_str());
    let (rb, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{rb}");
    let mut after = env.tree();
    after.retain(|k, _| !k.starts_with(".claude"));
    assert_eq!(after, before);
    env.verify_ok();
}

#[test]
fn claude_code_declined_bash_call_changes_nothing_and_the_model_hears_why() {
    let env = workspace("60s");
    let mock = MockModel::start(vec![shell_step("claude", "echo no > made.txt")]);
    let Some(run) = claude(&env, &mock) else {
        return;
    };
    let id = pending_plan(&env, 60);
    env.cmd()
        .args(["reject", &id, "--reason", "no stray files"])
        .assert()
        .success();
    let (out, err) = run.finish(60);
    assert!(!env.exists("made.txt"), "{out}\n{err}");
    let told = last_request(&mock);
    assert!(
        told.contains("no stray files") && told.contains(&id[..12]),
        "{told}"
    );
}

#[test]
fn claude_code_reading_command_runs_with_no_plan_and_deny_mode_refuses() {
    let env = workspace("60s");
    env.write("data.txt", "delta\n");
    let mock = MockModel::start(vec![
        shell_step("claude", "cat data.txt | tr a-z A-Z"),
        shell_step("claude", "cat data.txt"),
    ]);
    let Some(run) = claude(&env, &mock) else {
        return;
    };
    let (out, err) = run.finish(60);
    let told = mock.transcript();
    assert!(told.contains("DELTA"), "{out}\n{err}\n{told}");
    assert!(last_request(&mock).contains("delta"), "{told}");
    assert!(env.plan_ids().is_empty());

    let env = workspace("60s");
    env.write(
        "autonomy.toml",
        "[agents]\nwait = \"60s\"\nshell = \"deny\"\n",
    );
    let mock = MockModel::start(vec![shell_step("claude", "echo x > made.txt")]);
    let Some(run) = claude(&env, &mock) else {
        return;
    };
    let (out, err) = run.finish(60);
    assert!(!env.exists("made.txt"), "{out}\n{err}");
    assert!(
        last_request(&mock).contains("shell = \\\"deny\\\""),
        "{}",
        last_request(&mock)
    );
}

/// What lands is checked against the plan: a process outside the run overwrites a path
/// the run just wrote (paused there by the test-only pause point); the run does not
/// commit, the agent is told of the integrity failure, the foreign bytes are not
/// overwritten blindly, and `recover --overwrite` puts the workspace back (keeping them).
#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn what_lands_is_checked_against_the_plan() {
    let env = workspace("60s");
    let before = env.tree();
    let pause = env.tmp.path().join("pause");
    let child = {
        use std::io::Write;
        let mut c = env
            .std_cmd()
            .args(["hook", "claude"])
            .env(
                "AUTONOMY_PAUSEPOINT",
                format!("run.before_landed:{}", pause.display()),
            )
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("hook");
        let p = payload(&env, "claude", "echo planned > made.txt");
        c.stdin
            .take()
            .unwrap()
            .write_all(p.to_string().as_bytes())
            .unwrap();
        c
    };
    let id = pending_plan(&env, 30);
    env.approve(&id);
    let reached = env.tmp.path().join("pause.reached");
    let start = Instant::now();
    while !reached.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the run never reached the check"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(env.read_str("made.txt"), "planned\n", "the run wrote it");
    env.write("made.txt", "someone else\n");
    std::fs::write(env.tmp.path().join("pause.go"), b"").expect("go");
    let (code, out, err) = hook_output(child);
    let said = reason("claude", code, &out, &err);
    assert!(said.contains("what landed differs from the plan"), "{said}");
    assert!(said.contains("made.txt"), "{said}");
    let kinds = env.event_kinds();
    assert!(!kinds.iter().any(|k| k == "run.committed"), "{kinds:?}");
    assert_eq!(
        env.read_str("made.txt"),
        "someone else\n",
        "never overwritten blindly"
    );
    let (out, code) = env.tty_unanswered(&["recover", "--overwrite"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.tree(), before, "{out}");
    env.verify_ok();
}

/// Codex's `exec_command` and Gemini CLI's `run_shell_command`, through the real CLIs: the
/// command's changes become a plan; approved, they land exactly and the model hears the
/// outcome with the output.
fn real_shell_approved(agent: &str) {
    let env = workspace("60s");
    env.write("data.txt", "epsilon\n");
    let mock = MockModel::start(vec![shell_step(
        agent,
        "printf 'via shell\\n' > made.txt && cat data.txt",
    )]);
    let Some(run) = launch(agent, &env, &mock) else {
        return;
    };
    let id = pending_plan(&env, 60);
    env.approve(&id);
    let (out, err) = run.finish(60);
    assert_eq!(env.read_str("made.txt"), "via shell\n", "{out}\n{err}");
    let told = mock.transcript();
    assert!(
        told.contains(&id[..12]) && told.contains("epsilon"),
        "{told}"
    );
    let calls = agent_calls(&env);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["data"]["plan"], id.as_str());
    env.verify_ok();
}

#[test]
fn codex_exec_command_is_captured_approved_and_lands() {
    real_shell_approved("codex");
}

#[test]
fn gemini_run_shell_command_is_captured_approved_and_lands() {
    real_shell_approved("gemini");
}
