//! Issue 14, an approval a person can trust and a journal that never overstates: the
//! prompt through a real pseudo-terminal (a typed line ended by Enter, typed-ahead keys
//! discarded, the id digits for a high-risk plan, the question only after the pager
//! closes, under a summary), rule-aware messages, stale plans at every command, signing
//! that shows what is signed, bundles with removed lines, one test per journal-honesty case,
//! and decisions flowing back to a sandboxed agent through its spool.

use crate::common::*;
use rexpect::process::WaitStatus;
use rexpect::session::PtySession;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// The same plan and workspace as the prompt tests.
use crate::prompt::{PLAN, setup};

/// `autonomy ARGS` in a real pseudo-terminal with extra environment.
fn spawn(env: &Env, args: &[&str], envs: &[(&str, &str)]) -> PtySession {
    let mut c = std::process::Command::new(bin());
    c.args(args)
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("AUTONOMY_PAGER")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CI");
    for (k, v) in envs {
        c.env(k, v);
    }
    rexpect::session::spawn_command(c, Some(30_000)).expect("spawn in pty")
}

/// Read to the end; (the rest of the output, exit code).
fn finish(mut p: PtySession) -> (String, i32) {
    let out = p.exp_eof().unwrap_or_default();
    let code = match p.process().wait() {
        Ok(WaitStatus::Exited(_, c)) => c,
        other => panic!("unexpected status {other:?}"),
    };
    (out, code)
}

/// `autonomy ARGS` in a pseudo-terminal, answering nothing: a command that still waits for
/// input after the timeout (a prompt that should not be there) fails the test instead of
/// hanging it.
fn unanswered(env: &Env, args: &[&str]) -> (String, i32) {
    let mut p = spawn(env, args, &[]);
    match p.exp_eof() {
        Ok(out) => {
            let code = match p.process().wait() {
                Ok(WaitStatus::Exited(_, c)) => c,
                other => panic!("unexpected status {other:?}"),
            };
            (out, code)
        }
        Err(e) => {
            let _ = p.process_mut().exit();
            panic!("{args:?} is still waiting for input: {e}");
        }
    }
}

fn alive(p: &PtySession) -> bool {
    matches!(p.process().status(), Some(WaitStatus::StillAlive))
}

fn count(env: &Env, kind: &str, plan: &str) -> usize {
    env.events()
        .iter()
        .filter(|e| e["kind"] == kind && e["plan"] == plan)
        .count()
}

fn events_of(env: &Env, kind: &str) -> Vec<serde_json::Value> {
    env.events()
        .into_iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// A pager script that marks when it opens and closes, and stays open for a moment (as a
/// person reading would), so keys can be typed while it shows the preview.
fn slow_pager(env: &Env) -> String {
    let path = env.tmp.path().join("pager.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\necho PAGER-OPEN\ncat\nsleep 1\necho PAGER-CLOSED\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

// ---------------------------------------------------------------------------------------
// The prompt.

#[test]
fn y_without_enter_does_not_approve_and_yes_enter_does() {
    let (env, id) = setup();
    let mut p = spawn(&env, &["approve", &id], &[]);
    p.exp_string("[y/N]").expect("prompt");
    p.send("y").unwrap();
    p.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(alive(&p), "a single y must not answer the prompt");
    assert_eq!(count(&env, "approval.granted", &id), 0);
    assert_eq!(env.status_json()["pending"][0]["id"], id.as_str());
    // The rest of the word and Enter: `yes` approves, and nothing is left for the shell.
    p.send_line("es").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Approved plan"), "{out}");
    assert_eq!(count(&env, "approval.granted", &id), 1);
}

#[test]
fn enter_alone_declines_and_other_words_decline() {
    for answer in ["", "ok", "yess", "sure"] {
        let (env, id) = setup();
        let mut p = spawn(&env, &["approve", &id], &[]);
        p.exp_string("[y/N]").expect("prompt");
        p.send_line(answer).unwrap();
        let (out, code) = finish(p);
        assert_eq!(code, 3, "{answer:?}: {out}");
        assert_eq!(count(&env, "approval.declined", &id), 1, "{answer:?}");
        assert_eq!(count(&env, "approval.granted", &id), 0, "{answer:?}");
    }
}

#[test]
fn keys_typed_before_the_prompt_are_discarded() {
    let (env, id) = setup();
    let pager = slow_pager(&env);
    let mut p = spawn(&env, &["approve", &id], &[("AUTONOMY_PAGER", &pager)]);
    p.exp_string("PAGER-OPEN").expect("pager opens");
    // Typed while the preview is still showing: must not answer the question to come.
    p.send_line("y").unwrap();
    p.exp_string("[y/N]").expect("prompt");
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        alive(&p),
        "the typed-ahead y answered the prompt; it must be discarded"
    );
    assert_eq!(count(&env, "approval.granted", &id), 0);
    p.send_line("").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 3, "{out}");
    assert_eq!(count(&env, "approval.declined", &id), 1);
    assert_eq!(count(&env, "approval.granted", &id), 0);
}

#[test]
fn the_prompt_comes_after_the_pager_closes_under_a_summary() {
    let (env, id) = setup();
    let pager = slow_pager(&env);
    let mut p = spawn(&env, &["approve", &id], &[("AUTONOMY_PAGER", &pager)]);
    let before = p.exp_string("[y/N]").expect("prompt");
    let at = |needle: &str| {
        before
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} missing in:\n{before}"))
    };
    let opened = at("PAGER-OPEN");
    let diff = at("+timeout_ms = 750");
    let quit_hint = at("Quit the pager (q)");
    let closed = at("PAGER-CLOSED");
    let summary = at("Your approval (tester@example.com, at this terminal) counts for");
    assert!(
        opened < diff && diff < quit_hint && quit_hint < closed,
        "{before}"
    );
    assert!(
        closed < summary,
        "the summary comes after the pager: {before}"
    );
    let tail = &before[closed..];
    assert!(
        tail.contains("1 file changed, +1 -1 lines; risk low"),
        "{tail}"
    );
    assert!(tail.contains("rule \"default\" (1 of 1)"), "{tail}");
    assert!(tail.contains("every rule is met"), "{tail}");
    assert!(
        !tail.contains("timeout_ms"),
        "only the summary sits between the pager and the prompt: {tail}"
    );
    // The question follows the summary's last line directly.
    let prompt = format!(
        "every rule is met: the plan can be applied.\r\nApprove plan {}? ",
        &id[..12]
    );
    assert!(before.ends_with(&prompt), "{before:?}");
    p.send_line("y").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{before}{out}");
    assert!(out.contains("Approved plan"), "{out}");
}

const POLICY_PLAN: &str = r#"
title = "Loosen the rules"
[[action]]
kind = "edit"
path = "autonomy.toml"
find = "required = 1"
replace = "required = 0"
"#;

/// A plan that changes the rules file: a policy change, high risk.
fn high_risk() -> (Env, String) {
    let env = Env::new();
    env.write("autonomy.toml", "[approval]\nrequired = 1\n");
    let id = env.plan(POLICY_PLAN);
    let preview = env.output(&["preview", &id, "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&preview.stdout).unwrap();
    assert_eq!(doc["risk_level"], "high", "{doc}");
    (env, id)
}

#[test]
fn a_high_risk_plan_asks_for_the_first_four_hex_digits_of_its_id() {
    let (env, id) = high_risk();
    let question = "Type the first 4 hex digits of its id";
    // `y` is not enough, nor are the wrong digits.
    let wrong = if id.starts_with("0000") {
        "1111"
    } else {
        "0000"
    };
    for answer in ["y", "yes", wrong] {
        let mut p = spawn(&env, &["approve", &id], &[]);
        let before = p.exp_string(question).expect("the id question");
        assert!(!before.contains("[y/N]"), "{before}");
        p.send_line(answer).unwrap();
        let (out, code) = finish(p);
        assert_eq!(code, 3, "{answer:?}: {out}");
        assert_eq!(count(&env, "approval.granted", &id), 0, "{answer:?}");
    }
    assert_eq!(count(&env, "approval.declined", &id), 3);
    let mut p = spawn(&env, &["approve", &id], &[]);
    p.exp_string(question).expect("the id question");
    p.send_line(&id[..4].to_uppercase()).unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert_eq!(count(&env, "approval.granted", &id), 1);
    // `apply` at a terminal asks the same way for an unapproved high-risk plan.
    let (env, id) = high_risk();
    let mut p = spawn(&env, &["apply", &id], &[]);
    p.exp_string(question).expect("the id question at apply");
    p.send_line("y").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 3, "{out}");
    assert_eq!(env.read_str("autonomy.toml"), "[approval]\nrequired = 1\n");
    env.verify_ok();
}

#[test]
fn a_reason_typed_after_no_is_recorded_with_the_decline() {
    let (env, id) = setup();
    let mut p = spawn(&env, &["approve", &id], &[]);
    p.exp_string("[y/N]").expect("prompt");
    p.send_line("no: keep the old name").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 3, "{out}");
    let declined = events_of(&env, "approval.declined");
    assert_eq!(declined.len(), 1);
    assert_eq!(declined[0]["data"]["reason"], "keep the old name");
}

// ---------------------------------------------------------------------------------------
// Rule-aware approval.

const DEPLOY_PLAN: &str = r#"
title = "Scale up"
[[action]]
kind = "write"
path = "deploy/app.yml"
content = "replicas: 3\n"
"#;

fn signed_rule_env() -> (Env, String) {
    let env = Env::new();
    env.write(
        "autonomy.toml",
        "[[rule]]\nname = \"production\"\npaths = [\"deploy/**\"]\napprovals = 2\nsigned = true\n",
    );
    let id = env.plan(DEPLOY_PLAN);
    (env, id)
}

#[test]
fn approve_says_what_a_terminal_approval_counts_for_and_what_is_missing() {
    let (env, id) = signed_rule_env();
    let short = &id[..12];
    let mut p = spawn(&env, &["approve", &id], &[]);
    let before = p.exp_string("[y/N]").expect("prompt");
    assert!(
        before.contains("counts for: rule \"default\" (1 of 1)"),
        "{before}"
    );
    assert!(
        before.contains(
            "rule \"production\" needs 2 signed approvals from distinct approvers, has 0"
        ),
        "{before}"
    );
    p.send_line("y").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("Approved plan"), "never 'approved': {out}");
    assert!(
        out.contains(&format!("Plan {short} cannot be applied yet")),
        "{out}"
    );
    assert!(out.contains("--sign-with KEY"), "{out}");
    // status separates ready from still-needs.
    let status = env.output(&["status"]);
    let text = text(&status);
    assert!(
        text.contains("approved, still needs: rule \"production\" needs 2 signed approvals"),
        "{text}"
    );
    assert!(!text.contains("ready to apply"), "{text}");
    let json = env.status_json();
    assert_eq!(json["approved"][0]["id"], id.as_str());
    assert_eq!(json["approved"][0]["ready"], false);
    assert_eq!(
        json["approved"][0]["still_needed"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // And apply agrees.
    assert_eq!(env.run(&["apply", &id]).code, 3);
}

#[test]
fn status_marks_an_approved_plan_ready_when_every_rule_is_met() {
    let (env, id) = setup();
    env.approve(&id);
    let text = text(&env.output(&["status"]));
    assert!(
        text.contains(&id[..12])
            && text.contains(&format!(
                "  Prompted change  ({ACTOR})  approved and ready to apply"
            )),
        "{text}"
    );
    assert_eq!(env.status_json()["approved"][0]["ready"], true);
}

#[test]
fn an_approval_that_would_not_count_is_not_asked_for() {
    let env = Env::new();
    env.write("autonomy.toml", "[approval]\nrequired = 2\n");
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    let id = env.plan(PLAN);
    let (out, code) = env.tty(&["approve", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("needs 2 approvals from distinct approvers, has 1"),
        "{out}"
    );
    assert!(!out.contains("Approved plan"), "{out}");
    // The same person again: it would not count, so nothing is asked or recorded.
    let (out, code) = unanswered(&env, &["approve", &id]);
    assert_eq!(code, 3, "{out}");
    assert!(!out.contains("[y/N]"), "{out}");
    assert!(out.contains("would not count"), "{out}");
    assert_eq!(count(&env, "approval.granted", &id), 1);
    // Another identity typed by the same OS user is the same person: not asked either.
    let (out, code) = {
        let p = spawn(
            &env,
            &["approve", &id],
            &[("AUTONOMY_ACTOR", "other@example.com")],
        );
        finish(p)
    };
    assert_eq!(code, 3, "{out}");
    assert!(!out.contains("[y/N]"), "{out}");
    assert!(out.contains("once per OS user"), "{out}");
    assert_eq!(count(&env, "approval.granted", &id), 1);
    env.cmd().args(["apply", &id]).assert().code(3);
}

// ---------------------------------------------------------------------------------------
// Stale plans.

/// A plan, then its file changed by someone else.
fn stale() -> (Env, String) {
    let (env, id) = setup();
    env.write("config.toml", "[server]\ntimeout_ms = 900\n");
    (env, id)
}

#[test]
fn a_stale_plan_is_marked_in_preview_and_status() {
    let (env, id) = stale();
    let out = env.run(&["preview", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("STALE: 1 path changed since plan"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("config.toml: planned file"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("STALE"),
        "also after the pager: {}",
        out.stderr
    );
    let doc: serde_json::Value =
        serde_json::from_slice(&env.output(&["preview", &id, "--format", "json"]).stdout).unwrap();
    assert_eq!(doc["stale"][0]["path"], "config.toml");
    assert_eq!(doc["stale"][0]["now"]["kind"], "file");
    // The planned old content is gone: no line is counted as added or removed for it.
    assert_eq!(doc["stat"]["added_lines"], 0, "{doc}");
    assert_eq!(doc["stat"]["removed_lines"], 0, "{doc}");
    let text = text(&env.output(&["status"]));
    assert!(text.contains("STALE: config.toml changed"), "{text}");
    let json = env.status_json();
    assert_eq!(json["pending"][0]["stale"][0], "config.toml");
    // Back as planned: no longer stale.
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    assert!(
        env.status_json()["pending"][0]["stale"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_stale_plan_is_not_offered_for_approval() {
    let (env, id) = stale();
    let (out, code) = unanswered(&env, &["approve", &id]);
    assert_eq!(code, 4, "{out}");
    assert!(!out.contains("[y/N]"), "{out}");
    assert!(
        out.contains("is stale") && out.contains("config.toml"),
        "{out}"
    );
    // Without a terminal too, and at apply's prompt.
    assert_eq!(env.run(&["approve", &id]).code, 4);
    let (out, code) = unanswered(&env, &["apply", &id]);
    assert_eq!(code, 4, "{out}");
    assert!(!out.contains("[y/N]"), "{out}");
    assert_eq!(count(&env, "approval.granted", &id), 0);
    assert_eq!(count(&env, "approval.declined", &id), 0);
    env.verify_ok();
}

#[test]
fn a_stale_plan_is_not_signed_or_exported() {
    let (env, id) = stale();
    let Some((key, _public)) = ssh_key(env.tmp.path(), "id_stale") else {
        return;
    };
    let file = env.tmp.path().join("stale.approval");
    let out = env.run(&[
        "approve",
        &id,
        "--sign-with",
        key.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(!file.exists(), "no approval file for a stale plan");
    let out = env.run(&["approve", &id, "--statement"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let bundle = env.tmp.path().join("stale.autonomy");
    let out = env.run(&["export", &id, "-o", bundle.to_str().unwrap()]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(!bundle.exists());
}

// ---------------------------------------------------------------------------------------
// Signing shows what is signed.

#[test]
fn signing_shows_the_preview_and_the_statement_first() {
    let (env, id) = setup();
    let Some((key, public)) = ssh_key(env.tmp.path(), "id_show") else {
        return;
    };
    env.allow_signer(ACTOR, &public);
    let file = env.tmp.path().join("a.approval");
    let out = env.run(&[
        "approve",
        &id,
        "--sign-with",
        key.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let err = &out.stderr;
    let diff = err.find("-timeout_ms = 500").expect("removed line shown");
    assert!(err.contains("+timeout_ms = 750"), "{err}");
    let stmt = err.find("Statement to sign with").expect("statement shown");
    assert!(err.contains("autonomy-approval v1"), "{err}");
    assert!(err.contains(&format!("plan = \"{id}\"")), "{err}");
    let wrote = err.find("Wrote ").expect("written");
    assert!(diff < stmt && stmt < wrote, "{err}");
    // --quiet: the diffstat only.
    let file2 = env.tmp.path().join("b.approval");
    let out = env.run(&[
        "approve",
        &id,
        "--quiet",
        "--sign-with",
        key.to_str().unwrap(),
        "-o",
        file2.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("config.toml | +1 -1"), "{}", out.stderr);
    assert!(!out.stderr.contains("+timeout_ms"), "{}", out.stderr);
    assert!(
        out.stderr.contains("Statement to sign with"),
        "{}",
        out.stderr
    );
    // --statement: the statement alone on stdout, the preview on stderr.
    let out = env.run(&["approve", &id, "--statement"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.starts_with("autonomy-approval v1\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("timeout_ms"), "{}", out.stdout);
    assert!(out.stderr.contains("+timeout_ms = 750"), "{}", out.stderr);
    // At a terminal, the signer confirms; no means no file.
    let file3 = env.tmp.path().join("c.approval");
    let args = [
        "approve",
        &id,
        "--sign-with",
        key.to_str().unwrap(),
        "-o",
        file3.to_str().unwrap(),
    ];
    let mut p = spawn(&env, &args, &[]);
    p.exp_string(&format!("Sign plan {}? [y/N]", &id[..12]))
        .expect("sign prompt");
    p.send_line("").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 3, "{out}");
    assert!(!file3.exists());
    let mut p = spawn(&env, &args, &[]);
    p.exp_string("[y/N]").expect("sign prompt");
    p.send_line("y").unwrap();
    let (out, code) = finish(p);
    assert_eq!(code, 0, "{out}");
    assert!(file3.exists());
    env.cmd()
        .args(["apply", &id, "--approval", file3.to_str().unwrap()])
        .assert()
        .success();
}

// ---------------------------------------------------------------------------------------
// Bundles carry the old contents.

const DELETE_PLAN: &str = r#"
title = "Edit one, delete one"
[[action]]
kind = "edit"
path = "config.toml"
find = "timeout_ms = 500"
replace = "timeout_ms = 750"
[[action]]
kind = "delete"
path = "notes.txt"
"#;

/// A folder outside any workspace or checkout.
fn elsewhere(env: &Env) -> PathBuf {
    let dir = env.tmp.path().join("reviewer");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn in_dir(dir: &Path, args: &[&str]) -> Out {
    let out = std::process::Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("AUTONOMY_ACTOR", "reviewer@example.com")
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("AUTONOMY_PAGER")
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_bundle_preview_outside_a_checkout_shows_removed_lines() {
    let env = Env::new();
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    env.write("notes.txt", "first note\nsecond note\n");
    let id = env.plan(DELETE_PLAN);
    let bundle = env.tmp.path().join("change.autonomy");
    env.cmd()
        .args(["export", &id, "-o", bundle.to_str().unwrap()])
        .assert()
        .success();
    let dir = elsewhere(&env);
    let out = in_dir(&dir, &["preview", "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    for line in [
        "-timeout_ms = 500",
        "+timeout_ms = 750",
        "-first note",
        "-second note",
    ] {
        assert!(
            out.stdout.contains(line),
            "{line:?} missing:\n{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("not available"), "{}", out.stdout);
    // The same numbers as in the workspace.
    let here: serde_json::Value =
        serde_json::from_slice(&env.output(&["preview", &id, "--format", "json"]).stdout).unwrap();
    let there: serde_json::Value = serde_json::from_str(
        &in_dir(
            &dir,
            &[
                "preview",
                "--bundle",
                bundle.to_str().unwrap(),
                "--format",
                "json",
            ],
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(here["stat"], there["stat"]);
    assert_eq!(there["stat"]["removed_lines"], 3);
    // Signing it there shows the removed lines too.
    let Some((key, _public)) = ssh_key(env.tmp.path(), "id_bundle") else {
        return;
    };
    let out = in_dir(
        &dir,
        &[
            "approve",
            "--bundle",
            bundle.to_str().unwrap(),
            "--sign-with",
            key.to_str().unwrap(),
            "-o",
            "r.approval",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("-first note"), "{}", out.stderr);
}

#[test]
fn an_altered_old_content_in_a_bundle_is_refused() {
    let (env, id) = setup();
    let bundle = env.tmp.path().join("change.autonomy");
    env.cmd()
        .args(["export", &id, "-o", bundle.to_str().unwrap()])
        .assert()
        .success();
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let old = autonomy::util::hash::sha256_hex(b"[server]\ntimeout_ms = 500\n");
    use base64::Engine as _;
    let b64 = &mut doc["blobs"][&old];
    assert!(b64.is_string(), "the old content travels: {doc}");
    *b64 = base64::engine::general_purpose::STANDARD
        .encode(b"[server]\ntimeout_ms = 1\n")
        .into();
    std::fs::write(&bundle, doc.to_string()).unwrap();
    let out = in_dir(
        &elsewhere(&env),
        &["preview", "--bundle", bundle.to_str().unwrap()],
    );
    assert_eq!(out.code, 7, "{out:?}");
    assert!(out.stderr.contains("altered"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------
// Journal honesty.

fn signed_setup(n: u32) -> Option<(Env, String, PathBuf, PathBuf)> {
    let env = Env::new();
    env.write(
        "autonomy.toml",
        format!(
            "[[rule]]\nname = \"production\"\npaths = [\"deploy/**\"]\napprovals = {n}\nsigned = true\n"
        ),
    );
    let id = env.plan(DEPLOY_PLAN);
    let (alice, alice_pub) = ssh_key(env.tmp.path(), "alice")?;
    let (bob, bob_pub) = ssh_key(env.tmp.path(), "bob")?;
    env.allow_signer("alice@example.com", &alice_pub);
    env.allow_signer("bob@example.com", &bob_pub);
    Some((env, id, alice, bob))
}

fn sign_as(env: &Env, id: &str, key: &Path, who: &str) -> PathBuf {
    let file = env
        .tmp
        .path()
        .join(format!("{who}-{}.approval", rand_suffix()));
    env.cmd()
        .args(["approve", id, "--as", who, "--sign-with"])
        .arg(key)
        .arg("-o")
        .arg(&file)
        .assert()
        .success();
    file
}

#[test]
fn journal_a_presented_approval_below_the_threshold_is_refused_not_granted() {
    let Some((env, id, alice, bob)) = signed_setup(2) else {
        return;
    };
    let a = sign_as(&env, &id, &alice, "alice@example.com");
    let out = env.run(&["apply", &id, "--approval", a.to_str().unwrap()]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(
        count(&env, "approval.granted", &id),
        0,
        "nothing was granted"
    );
    let refused = events_of(&env, "approval.refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["data"]["valid"], true);
    assert_eq!(refused[0]["data"]["principal"], "alice@example.com");
    assert!(
        refused[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("threshold not met"),
        "{refused:?}"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM approvals"), 0);
    env.verify_ok();
    // The same file still counts later, with a second signer.
    let b = sign_as(&env, &id, &bob, "bob@example.com");
    env.cmd()
        .args(["apply", &id, "--approval"])
        .arg(&a)
        .arg("--approval")
        .arg(&b)
        .assert()
        .success();
    assert_eq!(count(&env, "approval.granted", &id), 2);
    env.verify_ok();
}

#[test]
fn journal_a_duplicate_presented_approval_is_refused_not_granted() {
    let Some((env, id, alice, _bob)) = signed_setup(1) else {
        return;
    };
    let a1 = sign_as(&env, &id, &alice, "alice@example.com");
    let a2 = sign_as(&env, &id, &alice, "alice@example.com");
    env.approve(&id);
    env.cmd()
        .args(["apply", &id, "--approval"])
        .arg(&a1)
        .arg("--approval")
        .arg(&a2)
        .assert()
        .success();
    let granted: Vec<_> = events_of(&env, "approval.granted")
        .into_iter()
        .filter(|e| e["data"]["method"] == "ssh")
        .collect();
    assert_eq!(granted.len(), 1, "{granted:?}");
    let refused = events_of(&env, "approval.refused");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("does not count"),
        "{refused:?}"
    );
    env.verify_ok();
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn journal_a_recovery_that_stops_records_what_it_restored() {
    let env = Env::new();
    for f in ["a.txt", "b.txt", "c.txt"] {
        env.write(f, "before\n");
    }
    let id = env.plan(
        r#"
title = "Three files"
[[action]]
kind = "write"
path = "a.txt"
content = "after\n"
[[action]]
kind = "write"
path = "b.txt"
content = "after\n"
[[action]]
kind = "write"
path = "c.txt"
content = "after\n"
"#,
    );
    env.approve(&id);
    let out = env.output_env(
        &["apply", &id],
        &[("AUTONOMY_FAILPOINT", "run.before_snapshot")],
    );
    assert_ne!(
        out.status.code(),
        Some(0),
        "the failpoint did not fire: {}",
        text(&out)
    );
    // Someone edits a.txt before recovery.
    env.write("a.txt", "someone else\n");
    let out = env.run(&["recover"]);
    assert_eq!(out.code, 4, "{out:?}");
    let stopped = events_of(&env, "run.recovery_stopped");
    assert_eq!(stopped.len(), 1, "{:?}", env.event_kinds());
    let restored: Vec<&str> = stopped[0]["data"]["restored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // Recovery names every conflict before it undoes anything, so it may stop having
    // restored nothing; whatever it did restore is listed, and nothing else.
    assert!(!restored.contains(&"a.txt"), "{restored:?}");
    for p in &restored {
        assert_eq!(env.read_str(p), "before\n", "{p} is journaled as restored");
    }
    for p in ["b.txt", "c.txt"] {
        assert_eq!(
            restored.contains(&p),
            env.read_str(p) == "before\n",
            "{p}: the journal says exactly what was restored"
        );
    }
    assert!(
        stopped[0]["data"]["error"]
            .as_str()
            .unwrap()
            .contains("a.txt"),
        "{stopped:?}"
    );
    // Put it back by hand, recover again: done.
    env.write("a.txt", "after\n");
    env.cmd().arg("recover").assert().success();
    assert_eq!(events_of(&env, "run.recovered").len(), 1);
    env.verify_ok();
}

fn landlock_or_skip(env: &Env) -> bool {
    let out = env.run(&["sandbox", "--", "true"]);
    if out.code != 0 && out.stderr.contains("Landlock is unavailable") {
        skip("Landlock is unavailable on this kernel");
        return false;
    }
    true
}

fn agent(env: &Env, script: &str) -> String {
    let path = env.tmp.path().join(format!("agent-{}.sh", rand_suffix()));
    std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn journal_refused_spool_proposals_are_journaled_kept_and_answered() {
    let env = Env::new();
    if !landlock_or_skip(&env) {
        return;
    }
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    let spool = env.tmp.path().join("spool");
    let agent = agent(
        &env,
        "printf 'title = \"broken\"\\n[[action]]\\nkind = \"frobnicate\"\\n' > \"$AUTONOMY_SPOOL/bad.toml\"\n\
         printf 'not a diff at all\\n' > \"$AUTONOMY_SPOOL/bad.diff\"\n\
         printf 'title = \"fine\"\\n[[action]]\\nkind = \"write\"\\npath = \"NEW.md\"\\ncontent = \"hi\\\\n\"\\n' > \"$AUTONOMY_SPOOL/good.toml\"\n",
    );
    let out = env.run(&["sandbox", "--spool", spool.to_str().unwrap(), "--", &agent]);
    assert_eq!(out.code, 0, "{out:?}");
    let refused = events_of(&env, "sandbox.proposal_refused");
    let files: Vec<&str> = refused
        .iter()
        .map(|e| e["data"]["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{refused:?}");
    assert!(
        files.contains(&"bad.toml") && files.contains(&"bad.diff"),
        "{files:?}"
    );
    for e in &refused {
        let file = e["data"]["file"].as_str().unwrap();
        assert!(!e["data"]["reason"].as_str().unwrap().is_empty(), "{e}");
        let kept = e["data"]["kept"].as_str().expect("kept");
        assert!(kept.starts_with(".autonomy/spool-rejects/"), "{kept}");
        assert_eq!(
            std::fs::read(env.root.join(kept)).unwrap(),
            std::fs::read(spool.join(file)).unwrap(),
            "{file} is kept byte for byte"
        );
        let reply: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(spool.join(format!("{file}.decision"))).unwrap(),
        )
        .unwrap();
        assert_eq!(reply["decision"], "refused", "{reply}");
        assert_eq!(reply["reason"], e["data"]["reason"]);
    }
    let reply: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(spool.join("good.toml.decision")).unwrap())
            .unwrap();
    assert_eq!(reply["decision"], "pending", "{reply}");
    let pending = env.status_json()["pending"][0]["id"].clone();
    assert_eq!(reply["plan"], pending, "the agent is told its plan id");
    env.verify_ok();
}

#[test]
fn journal_a_sandbox_whose_command_does_not_exist_still_ends() {
    let env = Env::new();
    if !landlock_or_skip(&env) {
        return;
    }
    let out = env.run(&["sandbox", "--", "/nonexistent/agent-binary"]);
    assert_ne!(out.code, 0, "{out:?}");
    let started = events_of(&env, "sandbox.started");
    let finished = events_of(&env, "sandbox.finished");
    // landlock_or_skip ran one sandbox too.
    assert_eq!(started.len(), 2, "{:?}", env.event_kinds());
    assert_eq!(
        finished.len(),
        2,
        "every start has an end: {:?}",
        env.event_kinds()
    );
    let last = &finished[0];
    assert!(last["data"]["exit"].is_null(), "{last}");
    assert!(
        last["data"]["error"]
            .as_str()
            .unwrap()
            .contains("agent-binary"),
        "{last}"
    );
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// Decisions flow back to the actor.

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_sandboxed_agent_reads_the_decline_and_the_rejection_with_their_reasons() {
    let env = Env::new();
    if !landlock_or_skip(&env) {
        return;
    }
    env.write("config.toml", "[server]\ntimeout_ms = 500\n");
    let spool = env.tmp.path().join("spool");
    // The agent proposes, then waits for each decision and copies what it read.
    let agent = agent(
        &env,
        "cat > \"$AUTONOMY_SPOOL/p.toml\" <<'EOF'\n\
         title = \"Prompted change\"\n[[action]]\nkind = \"edit\"\npath = \"config.toml\"\n\
         find = \"timeout_ms = 500\"\nreplace = \"timeout_ms = 750\"\nEOF\n\
         d=\"$AUTONOMY_SPOOL/p.toml.decision\"\n\
         for i in $(seq 300); do grep -q '\"declined\"' \"$d\" 2>/dev/null && break; sleep 0.1; done\n\
         cp \"$d\" \"$AUTONOMY_SPOOL/seen-declined.txt\"\n\
         for i in $(seq 300); do grep -q '\"rejected\"' \"$d\" 2>/dev/null && break; sleep 0.1; done\n\
         cp \"$d\" \"$AUTONOMY_SPOOL/seen-rejected.txt\"\n",
    );
    let mut child = env
        .std_cmd()
        .args(["sandbox", "--spool", spool.to_str().unwrap(), "--", &agent])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the plan", Duration::from_secs(30), || {
        !env.status_json()["pending"].as_array().unwrap().is_empty()
    });
    let id = env.status_json()["pending"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut p = spawn(&env, &["approve", &id], &[]);
    p.exp_string("[y/N]").expect("prompt");
    p.send_line("no: keep the old name").unwrap();
    assert_eq!(finish(p).1, 3);
    wait_for(
        "the agent to read the decline",
        Duration::from_secs(30),
        || spool.join("seen-declined.txt").exists(),
    );
    env.cmd()
        .args(["reject", &id, "--reason", "wrong service"])
        .assert()
        .success();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(spool.join(f)).unwrap()).unwrap()
    };
    let declined = read("seen-declined.txt");
    assert_eq!(declined["decision"], "declined", "{declined}");
    assert_eq!(declined["plan"], id.as_str());
    assert_eq!(declined["reason"], "keep the old name");
    assert_eq!(declined["by"], ACTOR);
    let rejected = read("seen-rejected.txt");
    assert_eq!(rejected["decision"], "rejected", "{rejected}");
    assert_eq!(rejected["reason"], "wrong service");
}

#[test]
fn the_decision_library_reports_ready_stale_and_still_needed() {
    let (env, id) = signed_rule_env();
    let s = autonomy::ops::session::Session::open(&env.root).unwrap();
    let d = autonomy::ops::decision::decision(&s, &id).unwrap();
    assert_eq!(d.decision, "pending");
    assert!(!d.ready && d.stale.is_empty());
    drop(s);
    env.approve(&id);
    let s = autonomy::ops::session::Session::open(&env.root).unwrap();
    let d = autonomy::ops::decision::decision(&s, &id).unwrap();
    assert_eq!(d.decision, "approved");
    assert!(!d.ready);
    assert_eq!(d.still_needed.len(), 1, "{d:?}");
    assert_eq!(d.by.as_deref(), Some(ACTOR));
    drop(s);
    env.write("deploy/app.yml", "someone else\n");
    let s = autonomy::ops::session::Session::open(&env.root).unwrap();
    let d = autonomy::ops::decision::decision(&s, &id).unwrap();
    assert!(d.stale.contains(&"deploy/app.yml".to_string()), "{d:?}");
}
