//! The interactive approval prompt, driven through a real pseudo-terminal: approve and
//! apply ask `[y/N]` only when stdin and stderr are terminals, record the answer either
//! way, and fail closed (exit 3, with a hint) when there is no terminal.

use crate::common::*;

pub const PLAN: &str = r#"
title = "Prompted change"
[[action]]
kind = "edit"
path = "config.toml"
find = "timeout_ms = 500"
replace = "timeout_ms = 750"
"#;

pub fn setup() -> (Env, String) {
    let env = Env::new();
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    let id = env.plan(PLAN);
    (env, id)
}

/// `sh -c SCRIPT` in a pseudo-terminal (with `$A` the binary), answering `answer` when
/// given; returns (everything printed, exit code).
fn pty_sh(env: &Env, script: &str, answer: Option<&str>) -> (String, i32) {
    let mut c = std::process::Command::new("sh");
    c.arg("-c")
        .arg(script)
        .current_dir(&env.root)
        .env("A", bin())
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("CI");
    let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("spawn in pty");
    let mut out = String::new();
    if let Some(a) = answer {
        out = p.exp_string("[y/N]").expect("prompt shown");
        p.send_line(a).expect("answer");
    }
    out.push_str(&p.exp_eof().unwrap_or_default());
    let code = match p.process().wait() {
        Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
        other => panic!("unexpected status {other:?}"),
    };
    (out, code)
}

fn count(env: &Env, kind: &str, plan: &str) -> usize {
    env.events()
        .iter()
        .filter(|e| e["kind"] == kind && e["plan"] == plan)
        .count()
}

#[test]
fn approve_yes_shows_the_full_preview_then_records_the_approval() {
    let (env, id) = setup();
    let before = env.tree();
    let (out, code) = env.tty(&["approve", &id[..8]], "y");
    assert_eq!(code, 0, "{out}");
    // (`tty` returns what was printed before the `[y/N]` it waited for, then the rest.)
    let prompt_at = out.find("Approve plan").expect("prompt");
    let preview = &out[..prompt_at];
    assert!(preview.contains("Title:     Prompted change"), "{out}");
    assert!(preview.contains("-timeout_ms = 500"), "{out}");
    assert!(preview.contains("+timeout_ms = 750"), "{out}");
    assert!(
        out[prompt_at..].starts_with(&format!("Approve plan {}?", &id[..12])),
        "{out}"
    );
    assert!(
        out.contains(&format!("autonomy apply {}", &id[..12])),
        "{out}"
    );
    assert_eq!(count(&env, "approval.granted", &id), 1);
    let status = env.status_json();
    assert_eq!(status["approved"][0]["id"], id.as_str());
    assert_eq!(env.tree(), before, "approving changes no file");
    // The approval is what `apply` counts, without a terminal.
    env.cmd().args(["apply"]).assert().success();
    assert_eq!(env.read_str("config.toml"), "[server]\ntimeout_ms = 750\n");
    env.verify_ok();
}

#[test]
fn approve_no_records_a_decline_and_the_plan_stays_approvable() {
    let (env, id) = setup();
    let (out, code) = env.tty(&["approve", &id], "n");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("declined"), "{out}");
    assert!(
        out.contains(&format!("autonomy approve {}", &id[..12])),
        "{out}"
    );
    assert_eq!(count(&env, "approval.declined", &id), 1);
    assert_eq!(count(&env, "approval.granted", &id), 0);
    assert_eq!(env.status_json()["pending"][0]["id"], id.as_str());
    // A declined plan is not approved: apply refuses without a terminal.
    assert_eq!(env.run(&["apply", &id]).code, 3);
    // Still pending, so it is the default for approve, and yes now counts.
    let (out, code) = env.tty(&["approve"], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(count(&env, "approval.granted", &id), 1);
    env.cmd().args(["apply", &id]).assert().success();
    env.verify_ok();
}

#[test]
fn the_default_answer_is_no() {
    let (env, id) = setup();
    let (out, code) = env.tty(&["approve", &id], "");
    assert_eq!(code, 3, "{out}");
    assert_eq!(count(&env, "approval.declined", &id), 1);
    assert_eq!(count(&env, "approval.granted", &id), 0);
}

#[test]
fn the_preview_goes_to_the_terminal_even_when_stdout_is_redirected() {
    let (env, id) = setup();
    let (out, code) = pty_sh(
        &env,
        &format!("exec \"$A\" approve {id} >/dev/null"),
        Some("y"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("+timeout_ms = 750"), "{out}");
    assert_eq!(count(&env, "approval.granted", &id), 1);
}

#[test]
fn apply_at_a_terminal_without_approval_previews_asks_and_records_yes() {
    let (env, id) = setup();
    let (out, code) = env.tty(&["apply", &id], "y");
    assert_eq!(code, 0, "{out}");
    let prompt_at = out.find("Approve plan").expect("prompt");
    assert!(out[..prompt_at].contains("+timeout_ms = 750"), "{out}");
    assert!(out[prompt_at..].contains("Applied plan"), "{out}");
    assert!(
        out[prompt_at..].contains("config.toml"),
        "each step is printed: {out}"
    );
    assert_eq!(env.read_str("config.toml"), "[server]\ntimeout_ms = 750\n");
    // The approval is recorded, and before the run started.
    let kinds: Vec<String> = env
        .events()
        .iter()
        .rev()
        .filter(|e| e["plan"] == id.as_str())
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    let granted = kinds
        .iter()
        .position(|k| k == "approval.granted")
        .expect("granted");
    let started = kinds
        .iter()
        .position(|k| k == "run.started")
        .expect("started");
    assert!(granted < started, "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "run.committed"), "{kinds:?}");
    env.verify_ok();
}

#[test]
fn apply_at_a_terminal_answered_no_changes_nothing() {
    let (env, id) = setup();
    let before = env.tree();
    let (out, code) = env.tty(&["apply", &id], "n");
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("declined") && out.contains("nothing was changed"),
        "{out}"
    );
    assert_eq!(env.tree(), before);
    assert_eq!(count(&env, "approval.declined", &id), 1);
    assert_eq!(count(&env, "run.started", &id), 0);
}

#[test]
fn apply_at_a_terminal_with_an_approval_does_not_ask_again() {
    let (env, id) = setup();
    env.approve(&id);
    let (out, code) = env.tty_no_prompt(&["apply", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("[y/N]"), "{out}");
    assert_eq!(count(&env, "approval.granted", &id), 1);
}

#[test]
fn without_a_terminal_approve_and_apply_fail_closed_with_a_hint() {
    let (env, id) = setup();
    let before = env.tree();
    let short = &id[..12];
    // stdin a pipe, stderr a pipe.
    for args in [vec!["approve", short], vec!["apply", short]] {
        let out = env.run(&args);
        assert_eq!(out.code, 3, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(&format!("autonomy approve {short}")),
            "{out:?}"
        );
        assert!(out.stderr.contains("--approval FILE"), "{out:?}");
        assert!(!out.all().contains("[y/N]"), "{out:?}");
    }
    // stdin not a terminal, stderr a terminal.
    for cmd in ["approve", "apply"] {
        let (out, code) = pty_sh(&env, &format!("exec \"$A\" {cmd} {short} </dev/null"), None);
        assert_eq!(code, 3, "{cmd}: {out}");
        assert!(!out.contains("[y/N]"), "{out}");
        assert!(out.contains(&format!("autonomy approve {short}")), "{out}");
    }
    // stdin a terminal, stderr not a terminal.
    for cmd in ["approve", "apply"] {
        let err = env.tmp.path().join(format!("{cmd}.err"));
        let (out, code) = pty_sh(
            &env,
            &format!("exec \"$A\" {cmd} {short} 2>{}", err.display()),
            None,
        );
        assert_eq!(code, 3, "{cmd}: {out}");
        let msg = std::fs::read_to_string(&err).unwrap();
        assert!(!msg.contains("[y/N]") && !out.contains("[y/N]"), "{msg}");
        assert!(msg.contains(&format!("autonomy approve {short}")), "{msg}");
    }
    assert_eq!(env.tree(), before);
    assert_eq!(count(&env, "approval.granted", &id), 0);
    assert_eq!(count(&env, "approval.declined", &id), 0);
    assert_eq!(env.status_json()["pending"][0]["id"], id.as_str());
    env.verify_ok();
}
