//! Whole-output snapshots of every command's main paths (issue 13): stdout, stderr and the
//! exit status together, as jj does, with the clock and ids pinned (`AUTONOMY_NOW`,
//! `AUTONOMY_TEST_SEED`, honoured only by a binary built with the `test-hooks` feature,
//! which `failpoints`, the README's test command, turns on). What varies from run to run
//! (temp folders, durations, pids) is masked by insta filters. These guard the output
//! owner and error refactors: any change a person would see shows up here, and an intended
//! one is accepted deliberately (`cargo insta review`, or `INSTA_UPDATE=always`).

use crate::common::*;
use std::path::{Path, PathBuf};

const NOW: &str = "2026-11-23T10:00:00Z";
const SEED: &str = "snapshots-cli";

/// A key for tests only (ed25519 signatures are deterministic, so signed output is stable).
const TEST_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACAdlnU+ZBbIiHR7NRtmOZhGAOFZZlgnlpZZke9dSfVTXgAAAIiqu09PqrtP
TwAAAAtzc2gtZWQyNTUxOQAAACAdlnU+ZBbIiHR7NRtmOZhGAOFZZlgnlpZZke9dSfVTXg
AAAEDUUyCVTf4Q9JVqINsPjQ22WaiyPHkwXqQ0wkiT27Z0ix2WdT5kFsiIdHs1G2Y5mEYA
4VlmWCeWllmR711J9VNeAAAABWZpeGVk
-----END OPENSSH PRIVATE KEY-----
";
const TEST_KEY_PUB: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2WdT5kFsiIdHs1G2Y5mEYA4VlmWCeWllmR711J9VNe fixed\n";

fn quickstart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/quickstart/rename-timeout.toml")
}

/// The binary with the clock and ids pinned, no colour, no pager, no width, no terminal.
fn run(env: &Env, args: &[&str]) -> Out {
    run_stdin(env, args, "")
}

fn run_stdin(env: &Env, args: &[&str], input: &str) -> Out {
    let out = env
        .cmd()
        .env("AUTONOMY_NOW", NOW)
        .env("AUTONOMY_TEST_SEED", SEED)
        .env_remove("COLUMNS")
        .env_remove("CI")
        .args(args)
        .write_stdin(input.as_bytes().to_vec())
        .output()
        .expect("run autonomy");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `autonomy ARGS` in a real pseudo-terminal with the clock pinned, answering the first
/// prompt with `answer` (or typing nothing). Returns everything the terminal showed (stdout
/// and stderr are one stream there) and the exit code.
fn pty(env: &Env, args: &[&str], answer: Option<&str>) -> Out {
    let mut c = std::process::Command::new(bin());
    c.args(args)
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("AUTONOMY_NOW", NOW)
        .env("AUTONOMY_TEST_SEED", SEED)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("AUTONOMY_PAGER")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("COLUMNS")
        .env_remove("CI");
    let mut p = rexpect::session::spawn_command(c, Some(30_000)).expect("spawn in pty");
    let mut shown = String::new();
    if let Some(answer) = answer {
        let (before, prompt) = p
            .exp_regex(r"\[y/N\]|Type the first 4 hex digits[^\n]*")
            .expect("prompt shown");
        shown.push_str(&before);
        shown.push_str(&prompt);
        p.send_line(answer).expect("answer");
    }
    shown.push_str(&p.exp_eof().unwrap_or_default());
    let code = match p.process().wait() {
        Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
        other => panic!("unexpected status {other:?}"),
    };
    Out {
        code,
        stdout: shown.replace("\r\n", "\n"),
        stderr: String::from("(a terminal shows stdout and stderr as one stream)\n"),
    }
}

/// What jj snapshots: the exit status, stdout and stderr.
fn shown(out: &Out) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code,
        out.stdout.replace('\u{1b}', "␛"),
        out.stderr.replace('\u{1b}', "␛")
    )
}

/// Filters for what differs from run to run: the temp folders, durations and pids.
fn settings(env: &Env) -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    let mut paths = vec![
        (env.root.display().to_string(), "[ROOT]"),
        (env.tmp.path().display().to_string(), "[TMP]"),
    ];
    if let Ok(real) = env.root.canonicalize() {
        paths.insert(0, (real.display().to_string(), "[ROOT]"));
    }
    if let Ok(real) = env.tmp.path().canonicalize() {
        paths.push((real.display().to_string(), "[TMP]"));
    }
    for (path, name) in paths {
        s.add_filter(&regex_escape(&path), name);
    }
    s.add_filter(
        r"\b(in|p50|p95|max) \d+(\.\d+)? ?(ms|µs|s)\b",
        "$1 [DURATION]",
    );
    s.add_filter(r"/tmp/autonomy-sandbox-[A-Za-z0-9]+", "[SANDBOX_TMP]");
    s.add_filter(r#""duration_ms": ?\d+"#, r#""duration_ms": [N]"#);
    s.add_filter(r"\bpid \d+", "pid [PID]");
    s.add_filter(r"\bplan-\d+-\d+\.toml", "plan-[N].toml");
    s.add_filter(r#""(max|p50|p95)": \d+"#, r#""$1": [N]"#);
    // A run's duration is in its events, so the chain's hashes from there on vary too.
    s.add_filter(r#""(hash|prev)": ?"[0-9a-f]{64}""#, r#""$1": "[HASH]""#);
    s.add_filter(r"\b(\d+):[0-9a-f]{64}\b", "$1:[HASH]");
    s.add_filter(r"autonomy \d+\.\d+\.\d+", "autonomy [VERSION]");
    s.set_prepend_module_to_snapshot(true);
    s
}

fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A workspace with the quick-start files, initialised at NOW.
fn quickstart_workspace() -> (Env, Out) {
    let env = Env::bare();
    env.write(
        "config/app.toml",
        "name = \"app\"\ntimeout_ms = 500\nretries = 3\n",
    );
    env.write("notes.txt", "old\n");
    let init = run(&env, &["init"]);
    (env, init)
}

fn plan_toml(env: &Env, title: &str, path: &str, content: &str) -> String {
    let toml = format!(
        "title = \"{title}\"\n[[action]]\nkind = \"write\"\npath = \"{path}\"\ncontent = {}\n",
        serde_json::to_string(content).expect("toml string")
    );
    env.plan_file(toml).display().to_string()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// init, plan, status, preview (text, --stat, json), approve (no terminal, declined at a
/// terminal, approved), apply, log in every format, show, export, stats, verify, gc.
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on)"
)]
fn the_everyday_path_from_init_to_apply() {
    let (env, init) = quickstart_workspace();
    settings(&env).bind(|| {
        insta::assert_snapshot!("init", shown(&init));
        insta::assert_snapshot!("init_again", shown(&run(&env, &["init"])));
        insta::assert_snapshot!("status_empty", shown(&run(&env, &["status"])));
        let qs = quickstart();
        let plan = run(&env, &["plan", path_str(&qs)]);
        insta::assert_snapshot!("plan", shown(&plan));
        let id = plan.stdout.trim().to_string();
        insta::assert_snapshot!("plan_again", shown(&run(&env, &["plan", path_str(&qs)])));
        insta::assert_snapshot!(
            "plan_json",
            shown(&run(&env, &["plan", path_str(&qs), "--format", "json"]))
        );
        insta::assert_snapshot!(
            "plan_stdin",
            shown(&run_stdin(
                &env,
                &["plan", "-"],
                "title = \"From stdin\"\n[[action]]\nkind = \"mkdir\"\npath = \"docs\"\n"
            ))
        );
        insta::assert_snapshot!("status_pending", shown(&run(&env, &["status"])));
        insta::assert_snapshot!(
            "status_json",
            shown(&run(&env, &["status", "--format", "json"]))
        );
        insta::assert_snapshot!("preview", shown(&run(&env, &["preview", &id])));
        insta::assert_snapshot!(
            "preview_stat",
            shown(&run(&env, &["preview", &id, "--stat"]))
        );
        insta::assert_snapshot!(
            "preview_json",
            shown(&run(&env, &["preview", &id, "--format", "json"]))
        );
        insta::assert_snapshot!(
            "approve_statement",
            shown(&run(&env, &["approve", &id, "--statement"]))
        );
        insta::assert_snapshot!("approve_no_terminal", shown(&run(&env, &["approve", &id])));
        insta::assert_snapshot!("apply_not_approved", shown(&run(&env, &["apply", &id])));
        insta::assert_snapshot!(
            "approve_declined_at_terminal",
            shown(&pty(&env, &["approve", &id], Some("n")))
        );
        insta::assert_snapshot!(
            "approve_at_terminal",
            shown(&pty(
                &env,
                &["approve", &id, "--reason", "looks right"],
                Some("y")
            ))
        );
        insta::assert_snapshot!("apply", shown(&run(&env, &["apply", &id])));
        insta::assert_snapshot!("apply_again", shown(&run(&env, &["apply", &id])));
        insta::assert_snapshot!("status_applied", shown(&run(&env, &["status"])));
        insta::assert_snapshot!("log", shown(&run(&env, &["log"])));
        insta::assert_snapshot!("log_oneline", shown(&run(&env, &["log", "--oneline"])));
        insta::assert_snapshot!("log_n2", shown(&run(&env, &["log", "-n", "2", &id])));
        insta::assert_snapshot!(
            "log_json",
            shown(&run(&env, &["log", "-n", "3", "--format", "json"]))
        );
        insta::assert_snapshot!(
            "log_jsonl",
            shown(&run(&env, &["log", "-n", "3", "--format", "jsonl"]))
        );
        insta::assert_snapshot!("log_head", shown(&run(&env, &["log", "--head"])));
        insta::assert_snapshot!("show", shown(&run(&env, &["show", &id])));
        insta::assert_snapshot!(
            "show_path",
            shown(&run(&env, &["show", &format!("{id}:config/app.toml")]))
        );
        insta::assert_snapshot!(
            "show_path_before",
            shown(&run(
                &env,
                &["show", &format!("{id}:notes.txt"), "--before"]
            ))
        );
        let bundle = env.tmp.path().join("quick.autonomy");
        insta::assert_snapshot!(
            "export",
            shown(&run(&env, &["export", &id, "-o", path_str(&bundle)]))
        );
        insta::assert_snapshot!(
            "preview_bundle",
            shown(&run(
                &env,
                &["preview", "--bundle", path_str(&bundle), "--stat"]
            ))
        );
        insta::assert_snapshot!("stats", shown(&run(&env, &["stats"])));
        insta::assert_snapshot!(
            "stats_json",
            shown(&run(&env, &["stats", "--format", "json"]))
        );
        insta::assert_snapshot!("verify", shown(&run(&env, &["verify"])));
        insta::assert_snapshot!(
            "verify_json",
            shown(&run(&env, &["verify", "--format", "json"]))
        );
        insta::assert_snapshot!("gc_dry_run", shown(&run(&env, &["gc", "--dry-run"])));
        insta::assert_snapshot!("gc", shown(&run(&env, &["gc"])));
        insta::assert_snapshot!("recover_nothing", shown(&run(&env, &["recover"])));
    });
}

/// rollback: --plan-only, without a terminal (refused), at a terminal; reject.
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on)"
)]
fn rollback_and_reject() {
    let (env, _) = quickstart_workspace();
    settings(&env).bind(|| {
        let qs = quickstart();
        let id = run(&env, &["plan", path_str(&qs)])
            .stdout
            .trim()
            .to_string();
        assert_eq!(pty(&env, &["approve", &id], Some("y")).code, 0);
        assert_eq!(run(&env, &["apply", &id]).code, 0);
        insta::assert_snapshot!(
            "rollback_plan_only",
            shown(&run(&env, &["rollback", &id, "--plan-only"]))
        );
        insta::assert_snapshot!("rollback_no_terminal", shown(&run(&env, &["rollback"])));
        insta::assert_snapshot!(
            "rollback_at_terminal",
            shown(&pty(&env, &["rollback", &id], Some("y")))
        );
        insta::assert_snapshot!("status_rolled_back", shown(&run(&env, &["status"])));
        let file = plan_toml(&env, "Drop the notes", "notes.txt", "new\n");
        let other = run(&env, &["plan", &file]).stdout.trim().to_string();
        insta::assert_snapshot!(
            "reject",
            shown(&run(&env, &["reject", &other, "--reason", "not now"]))
        );
        insta::assert_snapshot!("apply_rejected", shown(&run(&env, &["apply", &other])));
        insta::assert_snapshot!("reject_again", shown(&run(&env, &["reject", &other])));
    });
}

/// The failure exits: usage (2), stale (4), busy (5), integrity (7), unknown plans.
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on)"
)]
fn failures_name_the_fault_and_exit_with_their_code() {
    let (env, _) = quickstart_workspace();
    settings(&env).bind(|| {
        insta::assert_snapshot!(
            "no_such_dir",
            shown(&run(&env, &["-C", "/nonexistent/dir", "status"]))
        );
        let outside = Env::bare();
        let out = run(&outside, &["status"]);
        let out = Out {
            stderr: out
                .stderr
                .replace(&outside.root.display().to_string(), "[OUTSIDE]"),
            ..out
        };
        insta::assert_snapshot!("not_a_workspace", shown(&out));
        insta::assert_snapshot!(
            "jsonl_refused",
            shown(&run(&env, &["status", "--format", "jsonl"]))
        );
        insta::assert_snapshot!("unknown_plan", shown(&run(&env, &["preview", "abcdef"])));
        insta::assert_snapshot!("no_pending_plan", shown(&run(&env, &["preview"])));
        insta::assert_snapshot!(
            "plan_missing_file",
            shown(&run(&env, &["plan", "missing.toml"]))
        );
        insta::assert_snapshot!(
            "plan_bad_toml",
            shown(&run_stdin(
                &env,
                &["plan", "-"],
                "title = \"x\"\n[[action]]\nkind = \"wirte\"\npath = \"a\"\n"
            ))
        );
        let file = plan_toml(
            &env,
            "Raise the timeout",
            "config/app.toml",
            "timeout_ms = 750\n",
        );
        let id = run(&env, &["plan", &file]).stdout.trim().to_string();
        assert_eq!(pty(&env, &["approve", &id], Some("y")).code, 0);
        {
            let _lock = env.hold_lock();
            insta::assert_snapshot!(
                "apply_busy",
                shown(&run(&env, &["apply", &id, "--wait", "0"]))
            );
        }
        env.write("config/app.toml", "edited meanwhile\n");
        insta::assert_snapshot!("status_stale", shown(&run(&env, &["status"])));
        insta::assert_snapshot!("apply_stale", shown(&run(&env, &["apply", &id])));
        env.journal()
            .execute_batch(
                "DROP TRIGGER events_no_update; UPDATE events SET actor = 'mallory' WHERE seq = 1",
            )
            .expect("tamper");
        insta::assert_snapshot!("verify_tampered", shown(&run(&env, &["verify"])));
    });
}

/// Signed approvals and the signers file: add, list, sign, apply with the file, remove.
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on)"
)]
fn signers_and_signed_approvals() {
    let (env, _) = quickstart_workspace();
    settings(&env).bind(|| {
        let key = env.tmp.path().join("alice");
        std::fs::write(&key, TEST_KEY).expect("write key");
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod key");
        let public = env.tmp.path().join("alice.pub");
        std::fs::write(&public, TEST_KEY_PUB).expect("write public key");
        insta::assert_snapshot!(
            "signers_list_empty",
            shown(&run(&env, &["signers", "list"]))
        );
        insta::assert_snapshot!(
            "signers_add",
            shown(&run(
                &env,
                &["signers", "add", "alice@example.com", path_str(&public)]
            ))
        );
        insta::assert_snapshot!("signers_list", shown(&run(&env, &["signers", "list"])));
        insta::assert_snapshot!(
            "signers_list_json",
            shown(&run(&env, &["signers", "list", "--format", "json"]))
        );
        let file = plan_toml(&env, "Add a README", "README.md", "hello\n");
        let id = run(&env, &["plan", &file]).stdout.trim().to_string();
        let approval = env.tmp.path().join("readme.approval");
        // Long-lived, so that the real clock (which decides expiry) never makes it stale.
        insta::assert_snapshot!(
            "approve_sign_with",
            shown(&run(
                &env,
                &[
                    "approve",
                    &id,
                    "--as",
                    "alice@example.com",
                    "--sign-with",
                    path_str(&key),
                    "--expires",
                    "36500d",
                    "-o",
                    path_str(&approval),
                ]
            ))
        );
        insta::assert_snapshot!(
            "apply_with_approval",
            shown(&run(
                &env,
                &["apply", &id, "--approval", path_str(&approval)]
            ))
        );
        let bogus = env.tmp.path().join("bogus.approval");
        std::fs::write(&bogus, "not an approval\n").expect("write");
        let file = plan_toml(&env, "Add a licence", "LICENSE", "MIT\n");
        let other = run(&env, &["plan", &file]).stdout.trim().to_string();
        insta::assert_snapshot!(
            "apply_with_bogus_approval",
            shown(&run(
                &env,
                &["apply", &other, "--approval", path_str(&bogus)]
            ))
        );
        insta::assert_snapshot!(
            "signers_remove",
            shown(&run(&env, &["signers", "remove", "alice@example.com"]))
        );
    });
}

/// The rules file: status with rules, a denied path, rules suggest.
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on)"
)]
fn rules_deny_and_suggest() {
    let (env, _) = quickstart_workspace();
    settings(&env).bind(|| {
        env.write(
            "autonomy.toml",
            "[approval]\nrequired = 1\n\n[[rule]]\nname = \"never\"\npaths = [\"secrets/**\"]\ndeny = true\n",
        );
        insta::assert_snapshot!("status_with_rules", shown(&run(&env, &["status"])));
        let file = plan_toml(&env, "Leak", "secrets/key", "x\n");
        insta::assert_snapshot!("plan_denied", shown(&run(&env, &["plan", &file])));
        for (title, path) in [("One", "docs/a.md"), ("Two", "docs/b.md")] {
            let file = plan_toml(&env, title, path, "text\n");
            let id = run(&env, &["plan", &file]).stdout.trim().to_string();
            assert_eq!(pty(&env, &["approve", &id], Some("y")).code, 0);
            assert_eq!(run(&env, &["apply", &id]).code, 0);
        }
        insta::assert_snapshot!("rules_suggest", shown(&run(&env, &["rules", "suggest"])));
        insta::assert_snapshot!("rules_no_subcommand", shown(&run(&env, &["rules"])));
    });
}

/// help, version, and the usage errors clap reports (exit 2).
#[test]
fn help_version_and_usage_errors() {
    let env = Env::bare();
    settings(&env).bind(|| {
        insta::assert_snapshot!("help_short", shown(&run(&env, &["-h"])));
        insta::assert_snapshot!("help_long", shown(&run(&env, &["--help"])));
        insta::assert_snapshot!("help_command", shown(&run(&env, &["help"])));
        insta::assert_snapshot!("help_topic_unknown", shown(&run(&env, &["help", "nosuch"])));
        insta::assert_snapshot!("version", shown(&run(&env, &["--version"])));
        insta::assert_snapshot!("unknown_command", shown(&run(&env, &["frobnicate"])));
        insta::assert_snapshot!(
            "bad_flag_value",
            shown(&run(&env, &["--color", "sometimes", "status"]))
        );
        insta::assert_snapshot!("no_command", shown(&run(&env, &[])));
    });
}

/// sandbox: an agent run read-only proposes a plan through the spool.
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on)"
)]
fn sandbox_proposes_a_plan() {
    let (env, _) = quickstart_workspace();
    settings(&env).bind(|| {
        let out = run(
            &env,
            &[
                "sandbox",
                "--",
                "sh",
                "-c",
                "echo 'the workspace is read-only:'; echo hello > hello.txt; \
                 printf 'title = \"From the agent\"\\n[[action]]\\nkind = \"write\"\\npath = \"hello.txt\"\\ncontent = \"hello\\\\n\"\\n' \
                   > \"$AUTONOMY_SPOOL/hello.toml\"",
            ],
        );
        if out.code != 0 && out.stderr.contains("namespace") {
            return skip(&format!("sandbox cannot run here: {}", out.stderr));
        }
        insta::assert_snapshot!("sandbox", shown(&out));
        insta::assert_snapshot!("sandbox_status", shown(&run(&env, &["status"])));
        insta::assert_snapshot!(
            "sandbox_failing_agent",
            shown(&run(&env, &["sandbox", "--", "sh", "-c", "exit 3"]))
        );
    });
}

/// recover after a crash mid-run (a failpoint aborts the apply).
#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn recover_after_an_interrupted_run() {
    let (env, _) = quickstart_workspace();
    settings(&env).bind(|| {
        let id = run(&env, &["plan", path_str(&quickstart())])
            .stdout
            .trim()
            .to_string();
        assert_eq!(pty(&env, &["approve", &id], Some("y")).code, 0);
        let crashed = env
            .cmd()
            .env("AUTONOMY_NOW", NOW)
            .env("AUTONOMY_TEST_SEED", SEED)
            .env("AUTONOMY_FAILPOINT", "run.after_snapshot")
            .args(["apply", &id])
            .output()
            .expect("run");
        assert!(!crashed.status.success(), "{}", text(&crashed));
        insta::assert_snapshot!("status_interrupted", shown(&run(&env, &["status"])));
        insta::assert_snapshot!("apply_interrupted", shown(&run(&env, &["apply", &id])));
        insta::assert_snapshot!("recover", shown(&run(&env, &["recover"])));
        insta::assert_snapshot!("recover_again", shown(&run(&env, &["recover"])));
        insta::assert_snapshot!("apply_after_recover", shown(&run(&env, &["apply", &id])));
    });
}

/// The agents' front doors with nothing to decide: `agent list`, `agent install` (the hook
/// configuration as a pending plan), `session list`, `review --once`, and a hook given
/// input that is not a tool call (refused in the agent's format).
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on)"
)]
fn agent_front_doors() {
    let (env, _) = quickstart_workspace();
    settings(&env).bind(|| {
        insta::assert_snapshot!("agent_list", shown(&run(&env, &["agent", "list"])));
        insta::assert_snapshot!(
            "agent_install",
            shown(&run(&env, &["agent", "install", "claude"]))
        );
        insta::assert_snapshot!(
            "session_list_empty",
            shown(&run(&env, &["session", "list"]))
        );
        insta::assert_snapshot!("review_once", shown(&run(&env, &["review", "--once"])));
        insta::assert_snapshot!(
            "hook_not_a_tool_call",
            shown(&run_stdin(&env, &["hook", "claude"], "not json"))
        );
    });
}
