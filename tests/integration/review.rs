//! `autonomy review`, the person's console, driven through a real pseudo-terminal while a
//! real `autonomy hook` (and the real Claude Code CLI against the scripted model of
//! agents/mock_model.rs) waits on the plan: approved, the hook applies it exactly
//! (journaled, rolled back exactly); declined, the hook's answer carries the typed reason
//! and the plan id; stale plans are not offered; no terminal, exit 3. Also `log` and
//! `stats` filtered by agent and session.

use crate::agents::mock_model::{MockModel, Step};
use crate::common::{self, ACTOR, Env, bin};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A workspace whose rules make the hook wait at most `wait`.
fn workspace(wait: &str) -> Env {
    let env = Env::new();
    env.write("autonomy.toml", format!("[agents]\nwait = \"{wait}\"\n"));
    env
}

/// Start `autonomy hook AGENT` with `payload` on stdin.
fn hook(env: &Env, agent: &str, payload: &serde_json::Value) -> Child {
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

/// The hook's exit code and its answer on stdout (parsed) and stderr.
fn hook_answer(child: Child) -> (i32, serde_json::Value, String) {
    let out = child.wait_with_output().expect("hook output");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("one JSON answer on stdout ({e}): {stdout:?}"));
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Claude Code's PreToolUse input for an `Edit` of `path`.
fn claude_edit(
    env: &Env,
    session: &str,
    call: &str,
    path: &str,
    old: &str,
    new: &str,
) -> serde_json::Value {
    json!({"session_id": session, "transcript_path": "/dev/null", "cwd": env.root, "permission_mode": "acceptEdits",
           "hook_event_name": "PreToolUse", "tool_name": "Edit", "tool_use_id": call,
           "tool_input": {"file_path": env.path(path), "old_string": old, "new_string": new}})
}

/// Wait (at most `secs`) until `n` plans are pending; their full ids, newest first.
fn pending(env: &Env, n: usize, secs: u64) -> Vec<String> {
    let start = Instant::now();
    loop {
        let st = env.status_json();
        let ids: Vec<String> = st["pending"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if ids.len() >= n {
            return ids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{n} pending plans did not appear: {st}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `autonomy review ARGS` in a pseudo-terminal, not yet answered.
fn review_pty(env: &Env, args: &[&str]) -> rexpect::session::PtySession {
    let mut c = Command::new(bin());
    c.arg("review")
        .args(args)
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("CI");
    rexpect::session::spawn_command(c, Some(60_000)).expect("spawn in pty")
}

fn exit_code(p: &mut rexpect::session::PtySession) -> i32 {
    match p.process().wait() {
        Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
        other => panic!("unexpected status {other:?}"),
    }
}

fn events_of(env: &Env, kind: &str, plan: &str) -> Vec<serde_json::Value> {
    env.events()
        .into_iter()
        .filter(|e| e["kind"] == kind && e["plan"] == plan)
        .collect()
}

#[test]
fn review_once_approves_what_a_hook_waits_on_and_the_hook_applies_it_exactly() {
    let env = workspace("60s");
    env.write("cfg.txt", "name = demo\ntimeout = 500\nretries = 3\n");
    env.set_mode("cfg.txt", 0o640);
    let before = env.tree();
    let child = hook(
        &env,
        "claude",
        &claude_edit(
            &env,
            "sess-42",
            "toolu_7",
            "cfg.txt",
            "timeout = 500",
            "timeout = 750",
        ),
    );
    let id = pending(&env, 1, 30).remove(0);
    let (out, code) = env.tty(&["review", "--once"], "y");
    assert_eq!(code, 0, "{out}");
    // Who asked, the exact diff as `preview` renders it, then the prompt of `approve`.
    assert!(out.contains("1 plan is waiting for a decision."), "{out}");
    assert!(
        out.contains(&format!("Plan {}", &id[..12]))
            && out.contains("claude (session sess-42, tool call toolu_7: Edit)"),
        "{out}"
    );
    assert!(
        out.contains("-timeout = 500") && out.contains("+timeout = 750"),
        "{out}"
    );
    assert!(
        out.contains(&format!("Approve plan {}?", &id[..12])),
        "{out}"
    );
    let (code, v, err) = hook_answer(child);
    assert_eq!(code, 0, "{err}");
    let reason = v["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains(&format!("applied this change as plan {}", &id[..12])),
        "{v}"
    );
    assert_eq!(
        env.read_str("cfg.txt"),
        "name = demo\ntimeout = 750\nretries = 3\n"
    );
    assert_eq!(env.mode("cfg.txt") & 0o777, 0o640, "the mode is kept");
    // Journaled: the call, the approval at the console's terminal, the committed run.
    assert_eq!(events_of(&env, "agent.call", &id).len(), 1);
    let granted = events_of(&env, "approval.granted", &id);
    assert_eq!(granted.len(), 1, "{granted:?}");
    assert_eq!(events_of(&env, "run.committed", &id).len(), 1);
    let (rb, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{rb}");
    assert_eq!(env.tree(), before, "rollback restores every byte and mode");
    env.verify_ok();
}

#[test]
fn review_declining_sends_the_typed_reason_and_the_plan_id_to_the_agent() {
    let env = workspace("60s");
    env.write("a.txt", "one\n");
    let before = env.tree();
    let payload = json!({"session_id": "g-1", "cwd": env.root, "hook_event_name": "BeforeTool", "timestamp": "t1",
                         "tool_name": "write_file", "tool_input": {"file_path": env.path("a.txt"), "content": "two\n"}});
    let child = hook(&env, "gemini", &payload);
    let id = pending(&env, 1, 30).remove(0);
    let mut p = review_pty(&env, &["--once"]);
    p.exp_string("[y/N]").expect("prompt");
    // Anything but y declines; the reason is asked for next.
    p.send_line("not now").expect("answer");
    p.exp_string("Why?").expect("asks for a reason");
    p.send_line("keep the old name").expect("reason");
    let out = p.exp_eof().unwrap_or_default();
    assert_eq!(exit_code(&mut p), 0, "{out}");
    assert!(out.contains("Declined plan"), "{out}");
    let (code, v, err) = hook_answer(child);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["decision"], "deny", "{v}");
    let reason = v["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("declined")
            && reason.contains("keep the old name")
            && reason.contains(&id[..12]),
        "{reason}"
    );
    assert_eq!(env.tree(), before, "nothing changed");
    let declined = events_of(&env, "approval.declined", &id);
    assert_eq!(declined.len(), 1);
    assert_eq!(declined[0]["data"]["reason"], "keep the old name");
    env.verify_ok();
}

#[test]
fn review_no_with_a_reason_on_the_same_line_is_not_asked_again() {
    let env = workspace("60s");
    env.write("a.txt", "one\n");
    let child = hook(
        &env,
        "claude",
        &claude_edit(&env, "s", "t", "a.txt", "one", "uno"),
    );
    let id = pending(&env, 1, 30).remove(0);
    let (out, code) = env.tty(&["review", "--once"], "no: spell it out");
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("Why?"), "{out}");
    let (_, v, _) = hook_answer(child);
    let reason = v["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("spell it out") && reason.contains(&id[..12]),
        "{v}"
    );
    assert_eq!(env.read_str("a.txt"), "one\n");
}

#[test]
fn review_without_a_terminal_refuses_with_exit_3() {
    let env = workspace("60s");
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    env.plan(crate::prompt::PLAN);
    let out = env.run(&["review", "--once"]);
    assert_eq!(out.code, 3, "{}", out.all());
    assert!(out.stderr.contains("needs a terminal"), "{}", out.stderr);
    assert!(env.count("SELECT COUNT(*) FROM approvals") == 0);
}

#[test]
fn review_does_not_offer_a_stale_plan() {
    let env = workspace("60s");
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    let id = env.plan(crate::prompt::PLAN);
    env.write("config.toml", "[server]\ntimeout_ms = 600\n");
    let (out, code) = env.tty_unanswered(&["review", "--once"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("Plan {} is stale", &id[..12])) && out.contains("not offered"),
        "{out}"
    );
    assert!(!out.contains("[y/N]"), "{out}");
    assert_eq!(env.count("SELECT COUNT(*) FROM approvals"), 0);
}

#[test]
fn review_keeps_watching_offers_plans_as_they_arrive_and_reports_them_applied() {
    let env = workspace("60s");
    env.write("a.txt", "one\n");
    env.write("b.txt", "bee\n");
    let mut p = review_pty(&env, &[]);
    p.exp_string("No plan is waiting for a decision. Watching")
        .expect("watching");
    // A plan arrives after the console started; it is offered and approved.
    let first = hook(
        &env,
        "claude",
        &claude_edit(&env, "s1", "t1", "a.txt", "one", "two"),
    );
    p.exp_string("[y/N]").expect("first plan offered");
    p.send_line("y").expect("approve");
    let (_, v, _) = hook_answer(first);
    assert!(v.to_string().contains("applied this change"), "{v}");
    p.exp_string("is applied.").expect("application reported");
    // A second one, declined.
    let second = hook(
        &env,
        "claude",
        &claude_edit(&env, "s1", "t2", "b.txt", "bee", "bea"),
    );
    p.exp_string("[y/N]").expect("second plan offered");
    p.send_line("n").expect("decline");
    p.exp_string("Why?").expect("reason asked");
    p.send_line("").expect("no reason");
    let (_, v, _) = hook_answer(second);
    assert!(v.to_string().contains("declined"), "{v}");
    p.send_line("q").expect("quit");
    let out = p.exp_eof().unwrap_or_default();
    assert_eq!(exit_code(&mut p), 0, "{out}");
    assert_eq!(env.read_str("a.txt"), "two\n");
    assert_eq!(env.read_str("b.txt"), "bee\n");
    env.verify_ok();
}

#[test]
fn review_watching_stops_on_end_of_input() {
    let env = workspace("60s");
    let mut p = review_pty(&env, &[]);
    p.exp_string("Watching").expect("watching");
    p.send_control('d').expect("ctrl-d");
    let out = p.exp_eof().unwrap_or_default();
    assert_eq!(exit_code(&mut p), 0, "{out}");
    assert!(out.contains("Stopped reviewing."), "{out}");
}

// ------------------------------------------------------- log and stats by agent and session

#[test]
fn log_and_stats_filter_by_agent_and_session() {
    let env = workspace("0s");
    env.write("a.txt", "one\n");
    env.write("b.txt", "bee\n");
    env.write("c.txt", "sea\n");
    // No decision within 0s: each call leaves a pending plan.
    let calls = [
        (
            "claude",
            claude_edit(&env, "sess-A", "t1", "a.txt", "one", "two"),
        ),
        (
            "claude",
            claude_edit(&env, "sess-B", "t2", "b.txt", "bee", "bea"),
        ),
        (
            "gemini",
            json!({"session_id": "sess-A", "cwd": env.root, "hook_event_name": "BeforeTool", "timestamp": "t",
                   "tool_name": "write_file", "tool_input": {"file_path": env.path("c.txt"), "content": "see\n"}}),
        ),
    ];
    for (agent, payload) in &calls {
        let (code, _, err) = hook_answer(hook(&env, agent, payload));
        assert_eq!(code, 0, "{err}");
    }
    // A plan no agent made.
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    env.plan(crate::prompt::PLAN);
    let plans_in = |args: &[&str]| -> std::collections::BTreeSet<String> {
        let mut a = vec!["log", "--format", "json"];
        a.extend_from_slice(args);
        let out = env.run(&a);
        assert_eq!(out.code, 0, "{}", out.all());
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        v["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["kind"].as_str().unwrap_or(""),
                    e["data"]["tool_call"]
                        .as_str()
                        .or(e["data"]["title"].as_str())
                        .unwrap_or("")
                )
            })
            .collect()
    };
    let claude = plans_in(&["--agent", "claude", "--kind", "agent.call"]);
    assert_eq!(claude.len(), 2, "{claude:?}");
    let sess_a = plans_in(&["--session", "sess-A", "--kind", "agent.call"]);
    assert_eq!(sess_a.len(), 2, "{sess_a:?}");
    let both = plans_in(&[
        "--agent",
        "claude",
        "--session",
        "sess-A",
        "--kind",
        "agent.call",
    ]);
    assert_eq!(both.len(), 1, "{both:?}");
    // Every event of the agent's plans, not only the calls; no other plan's.
    let all = env.run(&["log", "--format", "json", "--agent", "gemini"]);
    let v: serde_json::Value = serde_json::from_str(&all.stdout).expect("json");
    let events = v["events"].as_array().expect("events");
    assert!(events.iter().any(|e| e["kind"] == "plan.created"), "{v}");
    let plans: std::collections::BTreeSet<&str> =
        events.iter().filter_map(|e| e["plan"].as_str()).collect();
    assert_eq!(plans.len(), 1, "{v}");
    assert!(events.iter().all(|e| e["plan"].is_string()), "{v}");
    let none = env.run(&["log", "--format", "json", "--agent", "codex"]);
    let v: serde_json::Value = serde_json::from_str(&none.stdout).expect("json");
    assert_eq!(v["events"].as_array().map(Vec::len), Some(0), "{v}");
    // stats counts only the plans the filter selects.
    let stats = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["stats", "--format", "json"];
        a.extend_from_slice(args);
        let out = env.run(&a);
        assert_eq!(out.code, 0, "{}", out.all());
        serde_json::from_str(&out.stdout).expect("json")
    };
    assert_eq!(stats(&[])["plans"]["proposed"], 4);
    assert_eq!(stats(&["--agent", "claude"])["plans"]["proposed"], 2);
    assert_eq!(stats(&["--session", "sess-A"])["plans"]["proposed"], 2);
    assert_eq!(
        stats(&["--agent", "gemini", "--session", "sess-A"])["plans"]["proposed"],
        1
    );
    assert_eq!(stats(&["--agent", "codex"])["plans"]["proposed"], 0);
    let text = env.run(&["stats", "--agent", "claude", "--session", "sess-B"]);
    assert!(
        text.stdout
            .contains("Plans proposed by agent claude in session sess-B over the whole history"),
        "{}",
        text.stdout
    );
}

// ------------------------------------------------------ the real Claude Code, reviewed

/// The Claude Code CLI as .ci/run installs it (see tests/integration/agents.rs).
fn claude_cli() -> Option<PathBuf> {
    let pins = include_str!("../../.ci/agents.txt");
    let f: Vec<&str> = pins
        .lines()
        .find(|l| l.split_whitespace().next() == Some("claude"))
        .expect("claude pinned in .ci/agents.txt")
        .split_whitespace()
        .collect();
    let dir = std::env::var_os("AUTONOMY_AGENT_CLIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/autonomy-ci/agents")
        });
    let path = dir.join(format!("claude-{}/node_modules/.bin/{}", f[2], f[3]));
    if path.is_file() {
        return Some(path);
    }
    common::skip(&format!(
        "claude {} is not installed at {} (.ci/run installs it from the npm registry; was the registry unreachable?)",
        f[2],
        path.display()
    ));
    None
}

/// Wire Claude Code with `autonomy agent install claude` (itself a plan, approved and
/// applied).
fn install_claude(env: &Env) {
    let out = env.run(&["agent", "install", "claude"]);
    assert_eq!(out.code, 0, "{out:?}");
    let install = env.full_id(out.stdout.trim());
    env.approve(&install);
    env.cmd().args(["apply", &install]).assert().success();
}

/// Start `claude -p` against `mock`, with this build's `autonomy` first on PATH.
fn claude_run(env: &Env, mock: &MockModel) -> Option<Child> {
    claude_with(env, mock, &["-p", "Do the task."])
}

/// `claude ARGS` (headless) against `mock`; the same private HOME for every run of `env`,
/// so that `--resume` finds the session.
fn claude_with(env: &Env, mock: &MockModel, args: &[&str]) -> Option<Child> {
    let bin_path = claude_cli()?;
    let bin_dir = bin().parent().expect("bin dir").to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let home = env.path("../claude-home");
    std::fs::create_dir_all(&home).expect("home");
    Some(
        Command::new(bin_path)
            .args(args)
            .args(["--output-format", "stream-json", "--verbose"])
            .args(["--permission-mode", "acceptEdits", "--allowedTools", "Bash"])
            .current_dir(&env.root)
            .env("HOME", &home)
            .env("ANTHROPIC_BASE_URL", mock.url())
            .env("ANTHROPIC_API_KEY", "dummy")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .env("PATH", path)
            .env("AUTONOMY_ACTOR", ACTOR)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start claude"),
    )
}

fn finish(child: Child, secs: u64) -> String {
    let start = Instant::now();
    let mut child = child;
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn real_claude_code_write_approved_in_review_lands_and_rolls_back() {
    let env = workspace("60s");
    env.write("src/app.txt", "keep\n");
    let content = "written by claude\nthrough review\n";
    let mock = MockModel::start(vec![
        Step::Tool(
            "Write",
            json!({"file_path": env.path("notes/todo.md"), "content": content}),
        ),
        Step::Text("Done."),
    ]);
    if claude_cli().is_none() {
        return;
    }
    install_claude(&env);
    let before = env.tree();
    let mut p = review_pty(&env, &[]);
    p.exp_string("Watching").expect("watching");
    let Some(claude) = claude_run(&env, &mock) else {
        return;
    };
    // The console shows the agent's call and the exact new file, then asks.
    let (shown, _) = p.exp_regex(r"\[y/N\]").expect("the Write is offered");
    assert!(
        shown.contains("claude (session ") && shown.contains(": Write)"),
        "{shown}"
    );
    assert!(shown.contains("+written by claude"), "{shown}");
    p.send_line("y").expect("approve");
    p.exp_string("is applied.").expect("applied");
    let log = finish(claude, 60);
    assert_eq!(env.read_str("notes/todo.md"), content, "{log}");
    let told = mock
        .requests()
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default();
    assert!(told.contains("applied this change as plan"), "{told}");
    p.send_control('d').expect("ctrl-d");
    let _ = p.exp_eof();
    assert_eq!(exit_code(&mut p), 0);
    let id = env.status_json()["applied"][0]["id"]
        .as_str()
        .expect("applied plan")
        .to_string();
    let (rb, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{rb}");
    assert_eq!(env.tree(), before, "rollback restores the tree exactly");
    env.verify_ok();
}

#[test]
fn review_watching_stops_on_ctrl_c() {
    let env = workspace("60s");
    let mut p = review_pty(&env, &[]);
    p.exp_string("Watching").expect("watching");
    p.send_control('c').expect("ctrl-c");
    let out = p.exp_eof().unwrap_or_default();
    assert_eq!(exit_code(&mut p), 0, "{out}");
    assert!(out.contains("Stopped reviewing."), "{out}");
}

#[test]
fn review_discards_keys_typed_before_the_question() {
    let env = workspace("60s");
    env.write("a.txt", "one\n");
    let mut p = review_pty(&env, &[]);
    p.exp_string("Watching").expect("watching");
    // A `y` typed while nothing was asked must not answer the question that comes.
    p.send("y").expect("typed ahead");
    p.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(300));
    let child = hook(
        &env,
        "claude",
        &claude_edit(&env, "s", "t", "a.txt", "one", "two"),
    );
    let id = pending(&env, 1, 30).remove(0);
    p.exp_string("[y/N]").expect("offered");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(events_of(&env, "approval.granted", &id).len(), 0);
    // Enter alone now declines: the `y` typed ahead is gone.
    p.send_line("").expect("enter");
    p.exp_string("Why?").expect("reason asked");
    p.send_line("").expect("no reason");
    let (_, v, _) = hook_answer(child);
    assert!(v.to_string().contains("declined"), "{v}");
    assert_eq!(events_of(&env, "approval.granted", &id).len(), 0);
    assert_eq!(env.read_str("a.txt"), "one\n");
    p.send_control('d').expect("ctrl-d");
    let _ = p.exp_eof();
}

#[test]
fn review_asks_for_the_id_digits_of_a_high_risk_plan() {
    const POLICY_PLAN: &str = "title = \"Loosen the rules\"\n[[action]]\nkind = \"edit\"\npath = \"autonomy.toml\"\nfind = \"required = 1\"\nreplace = \"required = 0\"\n";
    let question = "Type the first 4 hex digits of its id";
    // `y` declines a high-risk plan.
    let env = Env::new();
    env.write("autonomy.toml", "[approval]\nrequired = 1\n");
    let id = env.plan(POLICY_PLAN);
    let mut p = review_pty(&env, &["--once"]);
    let before = p.exp_string(question).expect("the id question");
    assert!(!before.contains("[y/N]"), "{before}");
    p.send_line("y").expect("y");
    p.exp_string("Why?").expect("declined");
    p.send_line("").expect("no reason");
    let _ = p.exp_eof();
    assert_eq!(exit_code(&mut p), 0);
    assert_eq!(events_of(&env, "approval.granted", &id).len(), 0);
    assert_eq!(events_of(&env, "approval.declined", &id).len(), 1);
    // The digits approve.
    let env = Env::new();
    env.write("autonomy.toml", "[approval]\nrequired = 1\n");
    let id = env.plan(POLICY_PLAN);
    let mut p = review_pty(&env, &["--once"]);
    p.exp_string(question).expect("the id question");
    p.send_line(&id[..4]).expect("digits");
    let out = p.exp_eof().unwrap_or_default();
    assert_eq!(exit_code(&mut p), 0, "{out}");
    assert!(out.contains("Approved plan"), "{out}");
    assert_eq!(events_of(&env, "approval.granted", &id).len(), 1);
}

// ---------------------------------------- headless Claude Code: defer, decide, resume

/// A headless run (`claude -p`) with `[agents] headless = "defer"`: the Write stops the
/// run (`tool_deferred`), nothing changes and the plan stays pending.
fn deferred_run(env: &Env, mock: &MockModel) -> Option<(String, String)> {
    claude_cli()?;
    install_claude(env);
    let out = finish(claude_run(env, mock)?, 60);
    assert!(out.contains("\"stop_reason\":\"tool_deferred\""), "{out}");
    let session = out
        .split("\"session_id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("session id")
        .to_string();
    let id = pending(env, 1, 5).remove(0);
    let calls = events_of(env, "agent.call", &id);
    assert!(
        calls.iter().any(|c| c["data"]["outcome"] == "deferred"),
        "{calls:?}"
    );
    Some((session, id))
}

fn defer_workspace() -> Env {
    let env = Env::new();
    env.write(
        "autonomy.toml",
        "[agents]\nwait = \"60s\"\nheadless = \"defer\"\n",
    );
    env
}

#[test]
fn real_claude_code_headless_defers_then_resumes_after_review_approves() {
    let env = defer_workspace();
    let content = "deferred then resumed\n";
    let mock = MockModel::start(vec![
        Step::Tool(
            "Write",
            json!({"file_path": env.path("out/result.txt"), "content": content}),
        ),
        Step::Text("Done."),
    ]);
    let Some((session, id)) = deferred_run(&env, &mock) else {
        return;
    };
    assert!(
        !env.exists("out/result.txt"),
        "nothing lands while deferred"
    );
    let before = env.tree();
    let (out, code) = env.tty(&["review", "--once"], "y");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("claude -p --resume {session}")),
        "the console says how to go on: {out}"
    );
    let resumed = finish(
        claude_with(&env, &mock, &["-p", "--resume", &session]).expect("claude"),
        60,
    );
    assert_eq!(env.read_str("out/result.txt"), content, "{resumed}");
    let told = mock
        .requests()
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default();
    assert!(
        told.contains(&format!("applied this change as plan {}", &id[..12])),
        "{told}"
    );
    assert_eq!(events_of(&env, "run.committed", &id).len(), 1);
    let (rb, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{rb}");
    assert_eq!(env.tree(), before, "rollback restores the tree exactly");
    env.verify_ok();
}

#[test]
fn real_claude_code_headless_ci_flow_signed_approval_then_resume_applies() {
    let env = defer_workspace();
    let content = "signed in CI\n";
    let mock = MockModel::start(vec![
        Step::Tool(
            "Write",
            json!({"file_path": env.path("ci.txt"), "content": content}),
        ),
        Step::Text("Done."),
    ]);
    let Some((session, id)) = deferred_run(&env, &mock) else {
        return;
    };
    // Nobody types y in CI: a signed approval, presented to `apply`.
    let keys = tempfile::tempdir().expect("keys");
    let Some((key, public)) = common::ssh_key(keys.path(), "alice") else {
        return;
    };
    env.allow_signer(ACTOR, &public);
    // Signed where `approve --sign-with` leaves it by default: .autonomy/approvals/.
    let out = env.run(&["approve", &id, "--sign-with", key.to_str().expect("utf8")]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(!env.exists("ci.txt"), "signing applies nothing");
    // The resumed run's hook presents it to apply: the change lands, the agent is told.
    let resumed = finish(
        claude_with(&env, &mock, &["-p", "--resume", &session]).expect("claude"),
        60,
    );
    let told = mock
        .requests()
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default();
    assert!(
        told.contains(&format!("applied this change as plan {}", &id[..12]))
            && told.contains("signed approvals"),
        "{told}\n{resumed}"
    );
    assert_eq!(env.read_str("ci.txt"), content);
    assert_eq!(events_of(&env, "run.committed", &id).len(), 1);
    env.verify_ok();
}

#[test]
fn headless_defer_is_only_sent_to_a_headless_claude_code() {
    let env = defer_workspace();
    env.write("a.txt", "one\n");
    let payload = claude_edit(&env, "s-int", "t1", "a.txt", "one", "two");
    // Interactive Claude Code ignores `defer` and would run the tool: there the hook waits
    // as usual (cut short here) and refuses.
    let env_wait = workspace_rules(&env, "[agents]\nwait = \"1s\"\nheadless = \"defer\"\n");
    // The hook as a `claude` process (a shell under that name) with ARGS starts it.
    let dir = tempfile::tempdir().expect("dir");
    let fake = dir.path().join("claude");
    std::os::unix::fs::symlink("/bin/sh", &fake).expect("symlink");
    let run = |entry: &str, args: &[&str]| -> serde_json::Value {
        use std::io::Write;
        let mut child = Command::new(&fake)
            .arg("-c")
            .arg(format!("'{}' hook claude; exit $?", bin().display()))
            .args(args)
            .current_dir(&env_wait.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("CLAUDE_CODE_ENTRYPOINT", entry)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("hook");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(payload.to_string().as_bytes())
            .expect("payload");
        let out = child.wait_with_output().expect("output");
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let decision = |v: &serde_json::Value| v["hookSpecificOutput"]["permissionDecision"].clone();
    // Interactive (`cli`), or `sdk-cli` inherited by a `claude` run without -p: no defer.
    assert_eq!(decision(&run("cli", &["-p"])), "deny");
    assert_eq!(decision(&run("sdk-cli", &["--resume", "x"])), "deny");
    let headless = run("sdk-cli", &["-p"]);
    assert_eq!(decision(&headless), "defer", "{headless}");
    let reason = headless["hookSpecificOutput"]["permissionDecisionReason"]
        .as_str()
        .unwrap_or_default();
    assert!(reason.contains("claude -p --resume s-int"), "{reason}");
    assert_eq!(decision(&run("sdk-cli", &["--print"])), "defer");
    assert_eq!(env.read_str("a.txt"), "one\n");
}

/// `env` with `rules` as its autonomy.toml.
fn workspace_rules<'a>(env: &'a Env, rules: &str) -> &'a Env {
    env.write("autonomy.toml", rules);
    env
}

// ------------------------------------------------------- the README's Claude Code path

/// The lines of the first ```sh block after the line `heading` in README.md.
fn readme_block(heading: &str) -> Vec<String> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README.md");
    readme
        .lines()
        .skip_while(|l| l.trim() != heading)
        .skip_while(|l| l.trim() != "```sh")
        .skip(1)
        .take_while(|l| l.trim() != "```")
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// `sh -c LINE` in a pseudo-terminal in `dir`, with this build's `autonomy` first on PATH.
fn sh_pty(dir: &std::path::Path, line: &str) -> rexpect::session::PtySession {
    let bin_dir = bin().parent().expect("bin dir").to_path_buf();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH");
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(line)
        .current_dir(dir)
        .env("PATH", path)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("AUTONOMY_PAGER")
        .env_remove("CI");
    rexpect::session::spawn_command(c, Some(60_000)).expect("spawn in pty")
}

/// The quick start's "With Claude Code" lines run as written, in a pseudo-terminal
/// answering y where they ask; `claude` (interactive) is played by the real Claude Code
/// headless against the scripted model, with the settings the lines before it wrote.
#[test]
fn readme_with_claude_code_runs_as_written() {
    let lines = readme_block("### With Claude Code");
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(lines[0].starts_with("cd your-project && "), "{lines:?}");
    assert!(
        lines[3].split_whitespace().next() == Some("claude"),
        "{lines:?}"
    );
    assert!(lines[4].starts_with("autonomy review "), "{lines:?}");
    if claude_cli().is_none() {
        return;
    }
    let env = Env::bare();
    env.write("src/main.rs", "fn main() {}\n");
    let project = format!("'{}'", env.root.display());
    for line in &lines[..3] {
        let line = line.replace("your-project", &project);
        let mut p = sh_pty(&env.root, &line);
        let (mut out, found) = p
            .exp_any(vec![
                rexpect::ReadUntil::String("[y/N]".into()),
                rexpect::ReadUntil::EOF,
            ])
            .unwrap_or_else(|e| panic!("README line {line:?}: {e}"));
        if found == "[y/N]" {
            p.send_line("y").expect("answer");
            out.push_str(&p.exp_eof().unwrap_or_default());
        }
        assert_eq!(exit_code(&mut p), 0, "README line {line:?}:\n{out}");
    }
    let settings = env.read_str(".claude/settings.json");
    assert!(settings.contains("autonomy hook claude"), "{settings}");
    let before = env.tree();
    let mock = MockModel::start(vec![
        Step::Tool(
            "Write",
            json!({"file_path": env.path("src/lib.rs"), "content": "pub fn hello() {}\n"}),
        ),
        Step::Text("Done."),
    ]);
    let claude = claude_run(&env, &mock).expect("claude");
    let mut p = sh_pty(&env.root, &lines[4]);
    let (shown, _) = p.exp_regex(r"\[y/N\]").expect("the change is offered");
    assert!(shown.contains("+pub fn hello() {}"), "{shown}");
    p.send_line("y").expect("approve");
    p.exp_string("is applied.").expect("applied");
    p.send_control('d').expect("ctrl-d");
    let _ = p.exp_eof();
    assert_eq!(exit_code(&mut p), 0);
    let log = finish(claude, 60);
    assert_eq!(env.read_str("src/lib.rs"), "pub fn hello() {}\n", "{log}");
    let id = env.status_json()["applied"][0]["id"]
        .as_str()
        .expect("applied")
        .to_string();
    let (rb, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{rb}");
    assert_eq!(env.tree(), before);
    env.verify_ok();
}
