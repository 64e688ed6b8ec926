//! Everyday use (issue 18): what a person new to the tool reads every day, snapshotted
//! whole (stdout, stderr and exit status, as jj does) with the clock and ids pinned
//! (`AUTONOMY_NOW`, `AUTONOMY_TEST_SEED`), and each rough edge the issue lists pinned by a
//! test that failed before its fix.

use crate::common::*;
use std::path::Path;

const NOW: &str = "2026-11-23T10:00:00Z";
const SEED: &str = "everyday";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with the clock and ids pinned, no colour, no pager, no width.
fn pinned(env: &Env, now: &str) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.env("AUTONOMY_NOW", now)
        .env("AUTONOMY_TEST_SEED", SEED)
        .env_remove("COLUMNS");
    c
}

fn run_at(env: &Env, now: &str, args: &[&str]) -> Out {
    let out = pinned(env, now)
        .args(args)
        .write_stdin(Vec::new())
        .output()
        .expect("run autonomy");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(env: &Env, args: &[&str]) -> Out {
    run_at(env, NOW, args)
}

/// What jj snapshots: stdout, stderr and the exit status, with what varies from run to run
/// (the temp folder, durations) masked.
fn shown(env: &Env, out: &Out) -> String {
    let mask = |s: &str| {
        let root = env.root.display().to_string();
        let real = env
            .root
            .canonicalize()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| root.clone());
        mask_durations(
            &s.replace(&real, "[ROOT]")
                .replace(&root, "[ROOT]")
                .replace(&env.tmp.path().display().to_string(), "[TMP]"),
        )
        .replace('\u{1b}', "␛")
    };
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.code,
        mask(&out.stdout),
        mask(&out.stderr)
    )
}

/// `123 ms` -> `[N] ms`, `1.5 s` -> `[N] s`, `pid 123` -> `pid [PID]`: what differs from
/// run to run.
fn mask_durations(s: &str) -> String {
    let s = mask_pids(s);
    let s = s.as_str();
    let mut out = String::new();
    let mut digits = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '.' && !digits.is_empty()) {
            digits.push(c);
            i += 1;
            continue;
        }
        if !digits.is_empty() {
            let rest: Vec<char> = chars[i..].iter().take(3).copied().collect();
            let prev_ok = out
                .chars()
                .last()
                .is_none_or(|p| !p.is_alphanumeric() && p != '.');
            let unit = match rest.as_slice() {
                [' ', 'm', 's', ..] => true,
                [' ', 's'] => true,
                [' ', 's', c] => !c.is_alphanumeric(),
                _ => false,
            };
            if prev_ok && unit {
                out.push_str("[N]");
            } else {
                out.push_str(&digits);
            }
            digits.clear();
        }
        out.push(c);
        i += 1;
    }
    out.push_str(&digits);
    out
}

fn mask_pids(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("pid ") {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("[PID]");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Approve `id` at a real pseudo-terminal with the clock pinned.
fn approve_at(env: &Env, id: &str, now: &str, answer: &str) -> i32 {
    let mut c = std::process::Command::new(bin());
    c.args(["approve", id])
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("AUTONOMY_NOW", now)
        .env("AUTONOMY_TEST_SEED", SEED)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("CI");
    let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("spawn in pty");
    p.exp_string("[y/N]").expect("prompt shown");
    p.send_line(answer).expect("answer");
    let _ = p.exp_eof();
    match p.process().wait() {
        Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
        other => panic!("unexpected status {other:?}"),
    }
}

fn write_plan(_env: &Env, title: &str, path: &str, content: &str) -> String {
    format!(
        "title = \"{title}\"\n[[action]]\nkind = \"write\"\npath = \"{path}\"\ncontent = {}\n",
        serde_json::to_string(content).expect("toml string")
    )
}

/// Plan `toml` at time `now`; returns the 12-digit id.
fn plan_at(env: &Env, now: &str, toml: &str) -> String {
    let file = env.plan_file(toml);
    let out = run_at(env, now, &["plan", file.to_str().expect("utf8")]);
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.trim().to_string()
}

/// A pinned workspace with two files, initialised at NOW.
fn pinned_workspace() -> Env {
    let env = Env::bare();
    env.write(
        "config/app.toml",
        "name = \"app\"\ntimeout_ms = 500\nretries = 3\n",
    );
    env.write("notes.txt", "old\n");
    assert_eq!(run(&env, &["init"]).code, 0);
    env
}

/// A journal with every everyday kind of event: plans made, previewed, exported, approved,
/// declined, rejected, applied, rolled back, a refused approval file, rules changed, gc.
fn busy_history(env: &Env) -> (String, String) {
    let a = plan_at(
        env,
        NOW,
        &write_plan(
            env,
            "Raise the timeout",
            "config/app.toml",
            "name = \"app\"\ntimeout_ms = 750\nretries = 3\n",
        ),
    );
    assert_eq!(run(env, &["preview", &a]).code, 0);
    let bundle = env.tmp.path().join("a.autonomy");
    assert_eq!(
        run(env, &["export", &a, "-o", bundle.to_str().unwrap()]).code,
        0
    );
    assert_eq!(approve_at(env, &a, NOW, "n"), 3);
    assert_eq!(approve_at(env, &a, NOW, "y"), 0);
    assert_eq!(run(env, &["apply", &a]).code, 0);
    let b = plan_at(
        env,
        NOW,
        &write_plan(env, "Drop the notes", "notes.txt", "new\n"),
    );
    assert_eq!(run(env, &["reject", &b]).code, 0);
    let bogus = env.tmp.path().join("bogus.approval");
    std::fs::write(&bogus, "not an approval\n").unwrap();
    let c = plan_at(
        env,
        NOW,
        &write_plan(env, "Add a README", "README.md", "hello\n"),
    );
    assert_eq!(
        run(env, &["apply", &c, "--approval", bogus.to_str().unwrap()]).code,
        3
    );
    env.write("autonomy.toml", "[approval]\nrequired = 1\n");
    assert_eq!(run(env, &["rollback", &a, "--plan-only"]).code, 0);
    assert_eq!(run(env, &["gc"]).code, 0);
    (a, c)
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on): pins AUTONOMY_NOW"
)]
fn log_reads_as_sentences_in_aligned_columns() {
    let env = pinned_workspace();
    busy_history(&env);
    insta::assert_snapshot!("log_text", shown(&env, &run(&env, &["log"])));
    insta::assert_snapshot!(
        "log_oneline",
        shown(&env, &run(&env, &["log", "--oneline"]))
    );
    insta::assert_snapshot!(
        "log_colour",
        shown(&env, &run(&env, &["log", "-n", "6", "--color", "always"]))
    );
    // No summary is raw JSON, and nothing says "(s)".
    let text = run(&env, &["log"]).stdout;
    for line in text.lines() {
        assert!(
            !line.contains("{\"") && !line.contains("\":"),
            "raw JSON: {line}"
        );
        assert!(!line.contains("(s)"), "{line}");
    }
}

/// Strip ANSI escapes.
fn plain(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\u{1b}') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on): pins AUTONOMY_NOW"
)]
fn log_columns_do_not_shift_with_colour_and_fit_a_narrow_terminal() {
    let env = pinned_workspace();
    let long_actor = "agent:a-very-long-actor-name-that-goes-on@example.com";
    let toml = write_plan(&env, "A plan by a long-named agent", "x.txt", "x\n");
    let file = env.plan_file(&toml);
    let out = pinned(&env, NOW)
        .env("AUTONOMY_ACTOR", long_actor)
        .args(["plan", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    busy_history(&env);
    // Colour never shifts a column: without its escapes, the coloured log is the plain one.
    let plain_text = run(&env, &["log"]).stdout;
    let coloured = run(&env, &["log", "--color", "always"]).stdout;
    assert!(coloured.contains('\u{1b}'));
    assert_eq!(plain(&coloured), plain_text, "colour shifted a column");
    // Every column starts at the same place on every line: the time, the plan, the actor.
    // In display columns (a cut value ends in the 3-byte `…`).
    let at = |needle: &dyn Fn(&str) -> Option<usize>| -> Vec<usize> {
        plain_text
            .lines()
            .map(|l| needle(l).map_or(usize::MAX, |i| console::measure_text_width(&l[..i])))
            .collect()
    };
    for (what, col) in [
        ("time", at(&|l| l.find("2026-"))),
        (
            "actor",
            at(&|l| l.find(" tester@").or_else(|| l.find(" agent:"))),
        ),
    ] {
        assert!(
            col.windows(2).all(|w| w[0] == w[1]),
            "{what} column not aligned: {col:?}\n{plain_text}"
        );
    }
    // The plan column: after the time and the kind cell (as wide as the longest kind).
    let kind_width = plain_text
        .lines()
        .map(|l| {
            l[l.find("Z  ").unwrap() + 3..]
                .split(' ')
                .next()
                .unwrap()
                .chars()
                .count()
        })
        .max()
        .unwrap();
    let plan_col = plain_text.lines().next().unwrap().find("Z  ").unwrap() + 3 + kind_width + 2;
    for l in plain_text.lines() {
        let cell: String = l.chars().skip(plan_col).take(12).collect();
        assert!(
            cell == "-           " || cell.bytes().all(|b| b.is_ascii_hexdigit()),
            "{l}"
        );
    }
    // A narrow terminal: every line fits, the long actor is cut with `…`.
    for cols in [80usize, 60] {
        let out = pinned(&env, NOW)
            .env("COLUMNS", cols.to_string())
            .arg("log")
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        for line in text.lines() {
            assert!(
                console::measure_text_width(line) <= cols,
                "{cols} columns: {line:?} is {} wide",
                console::measure_text_width(line)
            );
        }
        assert!(text.contains('…'), "{text}");
        assert!(!text.contains(long_actor), "{text}");
    }
    let out = pinned(&env, NOW)
        .env("COLUMNS", "80")
        .args([
            "log",
            "-n",
            "8",
            "--kind",
            "plan.created",
            "--kind",
            "plan.rejected",
            "--kind",
            "run",
        ])
        .output()
        .unwrap();
    insta::assert_snapshot!(
        "log_narrow",
        shown(
            &env,
            &Out {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into(),
                stderr: String::from_utf8_lossy(&out.stderr).into(),
            }
        )
    );
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on): pins AUTONOMY_NOW"
)]
fn log_filters_by_kind_actor_and_time() {
    let env = pinned_workspace();
    plan_at(
        &env,
        "2026-11-20T10:00:00Z",
        &write_plan(&env, "Old", "old.txt", "o\n"),
    );
    let file = env.plan_file(write_plan(&env, "By the bot", "bot.txt", "b\n"));
    assert!(
        pinned(&env, NOW)
            .env("AUTONOMY_ACTOR", "agent:bot")
            .args(["plan", file.to_str().unwrap()])
            .output()
            .unwrap()
            .status
            .success()
    );
    let kinds = |args: &[&str]| -> Vec<String> {
        let out = run(&env, &[&["log", "--format", "json"], args].concat());
        assert_eq!(out.code, 0, "{out:?}");
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["kind"].as_str().unwrap(),
                    e["actor"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        kinds(&["--kind", "plan"]),
        ["plan.created agent:bot", &format!("plan.created {ACTOR}")]
    );
    assert_eq!(kinds(&["--kind", "init"]), [format!("init {ACTOR}")]);
    assert_eq!(kinds(&["--kind", "pl*"]).len(), 2);
    assert_eq!(kinds(&["--actor", "agent:*"]), ["plan.created agent:bot"]);
    assert_eq!(
        kinds(&["--since", "2026-11-21", "--kind", "plan.created"]),
        ["plan.created agent:bot"]
    );
    assert_eq!(kinds(&["--kind", "plan", "--since", "1d"]).len(), 1);
    assert!(kinds(&["--kind", "nothing.like.this"]).is_empty());
    let out = run(&env, &["log", "--since", "last tuesday"]);
    assert_eq!(out.code, 2, "{out:?}");
    let out = run(&env, &["log", "--oneline", "--format", "json"]);
    assert_eq!(out.code, 2, "{out:?}");
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on): pins AUTONOMY_NOW"
)]
fn status_in_every_state() {
    let env = pinned_workspace();
    insta::assert_snapshot!("status_empty", shown(&env, &run(&env, &["status"])));
    let pending = plan_at(
        &env,
        "2026-11-23T10:01:00Z",
        &write_plan(&env, "Pending one", "p.txt", "p\n"),
    );
    let declined = plan_at(
        &env,
        "2026-11-23T10:02:00Z",
        &write_plan(&env, "Declined one", "d.txt", "d\n"),
    );
    assert_eq!(approve_at(&env, &declined, NOW, "n"), 3);
    let approved = plan_at(
        &env,
        "2026-11-23T10:03:00Z",
        &write_plan(&env, "Approved one", "a.txt", "a\n"),
    );
    assert_eq!(approve_at(&env, &approved, NOW, "y"), 0);
    let applied = plan_at(
        &env,
        "2026-11-23T10:04:00Z",
        &write_plan(&env, "Applied one", "b.txt", "b\n"),
    );
    assert_eq!(approve_at(&env, &applied, NOW, "y"), 0);
    assert_eq!(run(&env, &["apply", &applied]).code, 0);
    let undone = plan_at(
        &env,
        "2026-11-23T10:05:00Z",
        &write_plan(&env, "Rolled back one", "c.txt", "c\n"),
    );
    assert_eq!(approve_at(&env, &undone, NOW, "y"), 0);
    assert_eq!(run(&env, &["apply", &undone]).code, 0);
    let rev = run(&env, &["rollback", &undone, "--plan-only"])
        .stdout
        .trim()
        .to_string();
    assert_eq!(approve_at(&env, &rev, NOW, "y"), 0);
    assert_eq!(run(&env, &["rollback", &undone]).code, 0);
    let rejected = plan_at(
        &env,
        "2026-11-23T10:06:00Z",
        &write_plan(&env, "Rejected one", "r.txt", "r\n"),
    );
    assert_eq!(run(&env, &["reject", &rejected]).code, 0);
    env.write(
        "autonomy.toml",
        "[approval]\nrequired = 1\n\n[[rule]]\nname = \"deploy\"\npaths = [\"deploy/**\"]\napprovals = 2\nsigned = true\n\n[[rule]]\nname = \"never\"\npaths = [\"secrets/**\"]\ndeny = true\n\n[exec]\nallow = true\ncommands = [\"cargo\"]\n",
    );
    let out = run(&env, &["status"]);
    insta::assert_snapshot!("status_every_plan_state", shown(&env, &out));
    assert!(
        !out.stdout.contains(&rejected),
        "a rejected plan is final, not listed"
    );
    // The declined plan is listed as declined, not as waiting for a decision.
    let waiting = out
        .stdout
        .split("declined plan")
        .next()
        .unwrap()
        .to_string();
    assert!(
        waiting.contains(&pending) && !waiting.contains(&declined),
        "{}",
        out.stdout
    );
    let json = env.status_json();
    assert_eq!(json["declined"][0]["id"].as_str().unwrap()[..12], declined);
    assert_eq!(json["declined"][0]["declined_by"], ACTOR);
    assert_eq!(json["rolled_back"][0]["id"].as_str().unwrap()[..12], undone);
    assert!(json["rules"]["summary"].as_array().unwrap().len() >= 4);
    // Busy, broken rules.
    env.write("autonomy.toml", "[approval]\nrequird = 1\n");
    let guard = env.hold_lock();
    let out = run(&env, &["status", "-n", "1"]);
    drop(guard);
    insta::assert_snapshot!("status_busy_with_broken_rules", shown(&env, &out));
    std::fs::remove_file(env.path("autonomy.toml")).unwrap();
    if cfg!(feature = "failpoints") {
        let id = plan_at(
            &env,
            "2026-11-23T10:07:00Z",
            &write_plan(&env, "Interrupted one", "i.txt", "i\n"),
        );
        assert_eq!(approve_at(&env, &id, NOW, "y"), 0);
        let status = env
            .std_cmd()
            .args(["apply", &id])
            .env("AUTONOMY_NOW", NOW)
            .env("AUTONOMY_FAILPOINT", "run.after_intent")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.code().is_none());
        insta::assert_snapshot!(
            "status_interrupted",
            shown(&env, &run(&env, &["status", "-n", "1"]))
        );
    }
}

#[test]
fn a_bare_rollback_never_rolls_back_a_rollback() {
    let env = Env::new();
    let first = env.plan_approved(&write_plan(&env, "First", "a.txt", "1\n"));
    env.apply_ok(&first);
    let second = env.plan_approved(&write_plan(&env, "Second", "b.txt", "2\n"));
    env.apply_ok(&second);
    let undo = |env: &Env| {
        let rev = env.rollback_plan_bare();
        env.approve(&rev);
        let out = env.run(&["rollback"]);
        assert_eq!(out.code, 0, "{out:?}");
        out
    };
    let out = undo(&env);
    assert!(
        out.stderr
            .contains(&format!("Rolled back plan {}", &second[..12])),
        "{out:?}"
    );
    assert!(!env.exists("b.txt") && env.exists("a.txt"));
    // Before the fix this undid the rollback ("Roll back: Roll back: Second").
    let out = undo(&env);
    assert!(
        out.stderr
            .contains(&format!("Rolled back plan {}", &first[..12])),
        "{out:?}"
    );
    assert!(!env.exists("a.txt") && !env.exists("b.txt"));
    let out = env.run(&["rollback"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("no applied plan to roll back"),
        "{out:?}"
    );
    env.verify_ok();
}

impl EnvExt for Env {
    fn rollback_plan_bare(&self) -> String {
        let out = self.run(&["rollback", "--plan-only"]);
        assert_eq!(out.code, 0, "{out:?}");
        self.full_id_db(out.stdout.trim())
    }
}

trait EnvExt {
    fn rollback_plan_bare(&self) -> String;
}

#[test]
fn signers_are_managed_through_the_strict_parser_and_journaled() {
    let env = Env::new();
    let Some((key, public)) = ssh_key(env.tmp.path(), "alice") else {
        return;
    };
    let pubfile = key.with_extension("pub");
    let out = env.run(&["signers", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("No allowed signers"), "{out:?}");
    let out = env.run(&[
        "signers",
        "add",
        "alice@example.com",
        pubfile.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let file = env.read_str(".autonomy/allowed_signers");
    assert!(
        file.starts_with(&format!(
            "alice@example.com namespaces=\"autonomy-approval\" {public}"
        )),
        "{file}"
    );
    // Adding again changes nothing; stdin works; bad input changes nothing.
    assert_eq!(
        env.run(&[
            "signers",
            "add",
            "alice@example.com",
            pubfile.to_str().unwrap()
        ])
        .code,
        0
    );
    assert_eq!(env.read_str(".autonomy/allowed_signers"), file);
    let out = env.run_stdin(&["signers", "add", "bob@example.com", "-"], &public);
    assert_eq!(out.code, 0, "{out:?}");
    for (args, code) in [
        (vec!["signers", "add", "a b", pubfile.to_str().unwrap()], 2),
        (
            vec!["signers", "add", "*@example.com", pubfile.to_str().unwrap()],
            2,
        ),
        (
            vec!["signers", "add", "carol@example.com", key.to_str().unwrap()],
            1,
        ),
        (vec!["signers", "remove", "carol@example.com"], 1),
    ] {
        let before = env.read_str(".autonomy/allowed_signers");
        let out = env.run(&args);
        assert_eq!(out.code, code, "{args:?}: {out:?}");
        assert!(out.stderr.starts_with("error: "), "{out:?}");
        assert_eq!(env.read_str(".autonomy/allowed_signers"), before);
    }
    let out = env.run(&["signers", "list"]);
    assert!(out.stdout.contains("alice@example.com") && out.stdout.contains("bob@example.com"));
    assert!(out.stdout.contains("SHA256:"), "{out:?}");
    // A signer added this way signs approvals that count.
    let id = env.plan(&write_plan(&env, "Signed", "s.txt", "s\n"));
    let approval = env.tmp.path().join("alice.approval");
    let out = env.run(&[
        "approve",
        &id,
        "--as",
        "alice@example.com",
        "--sign-with",
        key.to_str().unwrap(),
        "-o",
        approval.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = env.run(&["apply", &id, "--approval", approval.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = env.run(&["signers", "remove", "alice@example.com"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!env.read_str(".autonomy/allowed_signers").contains("alice"));
    // Every change is a signers.changed event with the digests before and after.
    let events: Vec<serde_json::Value> = env
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "signers.changed")
        .collect();
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0]["data"]["action"], "remove");
    assert_eq!(events[2]["data"]["principal"], "alice@example.com");
    assert_eq!(events[0]["data"]["from"], events[1]["data"]["to"]);
    env.verify_ok();
    // A signers file the rules keep in the workspace tree changes by a plan.
    env.write(
        "autonomy.toml",
        "[approval]\nallowed_signers = \"trust/signers\"\n",
    );
    let out = env.run(&[
        "signers",
        "add",
        "alice@example.com",
        pubfile.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!env.exists("trust/signers"));
    let plan = out.stdout.trim();
    let preview = env.run(&["preview", plan]);
    assert!(preview.stdout.contains("POLICY CHANGE"), "{preview:?}");
}

#[test]
fn show_prints_a_plan_and_its_contents_verified() {
    let env = Env::new();
    env.write("a.txt", "before\n");
    let id = env.plan_approved(&write_plan(&env, "Change a", "a.txt", "after\n"));
    let out = env.run(&["show", &id[..8]]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        autonomy::util::hash::sha256_hex(out.stdout.as_bytes()),
        id,
        "canonical bytes"
    );
    assert_eq!(
        env.run(&["show", &format!("{}:a.txt", &id[..8])]).stdout,
        "after\n"
    );
    // Before apply, the before content comes from the workspace (it still matches).
    assert_eq!(
        env.run(&["show", &format!("{}:a.txt", &id[..8]), "--before"])
            .stdout,
        "before\n"
    );
    env.apply_ok(&id);
    env.write("a.txt", "later\n");
    // After apply, from the snapshot.
    assert_eq!(
        env.run(&["show", &format!("{}:a.txt", &id[..8]), "--before"])
            .stdout,
        "before\n"
    );
    for (args, code, needle) in [
        (
            vec!["show".to_string(), format!("{}:nope.txt", &id[..8])],
            2,
            "does not change nope.txt",
        ),
        (
            vec!["show".to_string(), id[..8].to_string(), "--before".into()],
            2,
            "PLAN:PATH",
        ),
        (vec!["show".to_string(), "ffffffff".into()], 2, "ffffffff"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.run(&args);
        assert_eq!(out.code, code, "{out:?}");
        assert!(out.stderr.contains(needle), "{out:?}");
    }
    // A blob that does not hash to its name is never printed.
    let blob = std::fs::read_dir(env.path(".autonomy/objects"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read(p).unwrap() == b"after\n")
        .expect("the after blob");
    let mut perms = std::fs::metadata(&blob).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(&blob, perms).unwrap();
    std::fs::write(&blob, "forged\n").unwrap();
    let out = env.run(&["show", &format!("{}:a.txt", &id[..8])]);
    assert_eq!(out.code, 7, "{out:?}");
    assert!(!out.stdout.contains("forged"), "{out:?}");
}

/// The folders `rollback --merge -o DIR` and `export -o FILE` write are checked: a merge
/// folder inside the workspace tree, or an existing folder that is not a merge folder, is
/// refused without touching it; a bundle is never written into `.autonomy/` (a hostile or
/// mistaken path there used to delete a folder's files, or overwrite the journal).
#[test]
fn merge_and_export_outputs_never_destroy_what_they_are_pointed_at() {
    let env = Env::new();
    env.write("f.txt", "a\nb\nc\n");
    env.write("keep/important", "mine\n");
    let id = env.plan_approved(
        "title = \"Change b\"\n[[action]]\nkind = \"edit\"\npath = \"f.txt\"\nfind = \"b\"\nreplace = \"B\"\n",
    );
    env.apply_ok(&id);
    env.write("f.txt", "a\nBB\nc\n");
    let before = env.tree();
    for dir in ["keep", ".", "new-inside"] {
        let out = env.run(&["rollback", &id[..12], "--merge", "-o", dir]);
        assert_eq!(out.code, 2, "{dir}: {out:?}");
        assert!(out.stderr.contains("inside the workspace tree"), "{out:?}");
    }
    let outside = env.tmp.path().join("not-a-merge");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("theirs"), "x").unwrap();
    let out = env.run(&[
        "rollback",
        &id[..12],
        "--merge",
        "-o",
        outside.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("is not a merge folder"), "{out:?}");
    assert!(outside.join("theirs").exists());
    assert_eq!(env.tree(), before, "nothing in the workspace changed");
    let journal = std::fs::read(env.path(".autonomy/journal.db")).unwrap();
    let pending = env.plan(&write_plan(&env, "Bundled", "t.txt", "t\n"));
    for target in [".autonomy/journal.db", ".autonomy/x.bundle"] {
        let out = env.run(&["export", &pending, "-o", target]);
        assert_eq!(out.code, 2, "{target}: {out:?}");
        assert!(out.stderr.contains("inside .autonomy/"), "{out:?}");
    }
    assert!(!env.exists(".autonomy/x.bundle"));
    assert!(
        std::fs::read(env.path(".autonomy/journal.db"))
            .unwrap()
            .len()
            >= journal.len()
    );
    env.verify_ok();
}

#[test]
fn rollback_merge_writes_conflict_markers_and_continue_uses_the_resolution() {
    let env = Env::new();
    env.write("f.txt", "a\nb\nc\n");
    let id = env.plan_approved(
        "title = \"Change b\"\n[[action]]\nkind = \"edit\"\npath = \"f.txt\"\nfind = \"b\"\nreplace = \"B\"\n",
    );
    env.apply_ok(&id);
    env.write("f.txt", "a\nBB\nc\n");
    let short = &id[..12];
    let out = env.run(&["rollback", short]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("--merge"),
        "the conflict names the way out: {out:?}"
    );
    let before = env.tree();
    let out = env.run(&["rollback", short, "--merge"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(
        env.tree(),
        before,
        "--merge changes nothing in the workspace"
    );
    let merged = env.path(&format!(".autonomy/merge/{short}/f.txt"));
    let text = std::fs::read_to_string(&merged).expect("conflicted file written");
    assert_eq!(
        text,
        "a\n<<<<<<< current (later changes)\nBB\n||||||| as the plan left it\nB\n=======\nb\n>>>>>>> before the plan (what rollback restores)\nc\n"
    );
    // Markers left: refused.
    let out = env.run(&["rollback", short, "--continue"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr
            .contains("still has conflict markers (line 2, 4, 8)"),
        "{out:?}"
    );
    std::fs::write(&merged, "a\nb2\nc\n").unwrap();
    let rev = env.run(&["rollback", short, "--continue", "--plan-only"]);
    assert_eq!(rev.code, 0, "{rev:?}");
    assert!(!env.exists(&format!(".autonomy/merge/{short}")));
    let rev = env.full_id_db(rev.stdout.trim());
    env.approve(&rev);
    let out = env.run(&["rollback", short]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.read_str("f.txt"), "a\nb2\nc\n");
    assert_eq!(env.status_json()["rolled_back"][0]["id"], id);
    // The workspace changing between --merge and --continue is caught.
    let id = env.plan_approved(
        "title = \"Change c\"\n[[action]]\nkind = \"edit\"\npath = \"f.txt\"\nfind = \"c\"\nreplace = \"C\"\n",
    );
    env.apply_ok(&id);
    env.write("f.txt", "a\nb2\nCC\n");
    assert_eq!(env.run(&["rollback", &id[..12], "--merge"]).code, 4);
    env.write("f.txt", "a\nb2\nCCC\n");
    std::fs::write(
        env.path(&format!(".autonomy/merge/{}/f.txt", &id[..12])),
        "x\n",
    )
    .unwrap();
    let out = env.run(&["rollback", &id[..12], "--continue"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("changed in the workspace since"),
        "{out:?}"
    );
    env.verify_ok();
}

#[test]
fn a_signed_approval_file_never_lands_in_the_workspace_by_default() {
    let env = Env::new();
    let Some((key, public)) = ssh_key(env.tmp.path(), "alice") else {
        return;
    };
    env.allow_signer(ACTOR, &public);
    let id = env.plan(&write_plan(&env, "Signed", "s.txt", "s\n"));
    let before = env.tree();
    let out = env.run(&["approve", &id, "--sign-with", key.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let file = format!(".autonomy/approvals/{}.approval", &id[..12]);
    assert!(out.stderr.contains(&file), "{out:?}");
    assert_eq!(
        env.tree(),
        before,
        "the approval file landed in the workspace tree"
    );
    // A capture run next does not pick it up.
    let out = env.run(&["plan", "--capture", "--", "true"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let out = env.run(&["apply", &id, "--approval", &file]);
    assert_eq!(out.code, 0, "{out:?}");
    // Outside any workspace (a reviewer with a bundle), the current folder.
    let id = env.plan(&write_plan(&env, "Bundled", "t.txt", "t\n"));
    let bundle = env.tmp.path().join("b.autonomy");
    assert_eq!(
        env.run(&["export", &id, "-o", bundle.to_str().unwrap()])
            .code,
        0
    );
    let elsewhere = env.tmp.path().join("reviewer");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = assert_cmd::Command::new(bin())
        .current_dir(&elsewhere)
        .env("AUTONOMY_ACTOR", ACTOR)
        .args([
            "approve",
            "--bundle",
            bundle.to_str().unwrap(),
            "--sign-with",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elsewhere.join(format!("{}.approval", &id[..12])).is_file());
}

#[test]
fn applied_plan_preview_shows_the_signed_approvals_its_run_used() {
    let env = Env::new();
    let Some((key, public)) = ssh_key(env.tmp.path(), "alice") else {
        return;
    };
    env.allow_signer("alice@example.com", &public);
    let id = env.plan(&write_plan(&env, "Signed", "s.txt", "s\n"));
    let file = env.tmp.path().join("alice.approval");
    let out = env.run(&[
        "approve",
        &id,
        "--as",
        "alice@example.com",
        "--sign-with",
        key.to_str().unwrap(),
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    env.cmd()
        .args(["apply", &id, "--approval", file.to_str().unwrap()])
        .assert()
        .success();
    let out = env.run(&["preview", &id]);
    assert!(
        out.stdout.contains("default: 1 of 1 approval [ok]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("approved by alice@example.com (signed, key SHA256:"),
        "{}",
        out.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.run(&["preview", &id, "--format", "json"]).stdout).unwrap();
    assert_eq!(json["approvals"]["satisfied"], true);
}

#[test]
fn nothing_to_plan_is_exit_0_with_no_id() {
    let env = Env::new();
    env.write("a.txt", "same\n");
    let toml = write_plan(&env, "No-op", "a.txt", "same\n");
    let file = env.plan_file(&toml);
    let out = env.run(&["plan", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "", "no id: there is no plan");
    assert!(out.stderr.starts_with("Nothing to plan: "), "{out:?}");
    let out = env.run(&["plan", file.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["plan"].is_null() && v["nothing_to_plan"].is_string(),
        "{v}"
    );
    let out = env.run(&["plan", "--capture", "--", "true"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out:?}");
    assert!(env.plan_ids().is_empty());
    // An identical plan already stored: exit 0 and its id.
    let toml = write_plan(&env, "Real", "a.txt", "changed\n");
    let file = env.plan_file(&toml);
    let first = run(&env, &["plan", file.to_str().unwrap()]);
    let again = run(&env, &["plan", file.to_str().unwrap()]);
    assert_eq!((again.code, &again.stdout), (0, &first.stdout), "{again:?}");
    assert!(again.stderr.contains("already stored"), "{again:?}");
}

#[test]
fn plan_file_errors_point_at_the_format_and_name_the_first_bad_key() {
    let env = Env::new();
    let file = env.tmp.path().join("typos.toml");
    std::fs::write(
        &file,
        "title = \"x\"\n[[action]]\nkind = \"write\"\npaht = \"a\"\ncontnt = \"b\"\n",
    )
    .unwrap();
    let out = env.run(&["plan", file.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(
        "plan_unknown_keys",
        out.stderr
            .replace(&env.tmp.path().display().to_string(), "[TMP]")
    );
    assert!(
        out.stderr.contains("line 4") && out.stderr.contains("`paht`"),
        "{out:?}"
    );
    assert!(
        !out.stderr.contains("contnt"),
        "the second bad key is not the one reported"
    );
    // Every key a write takes, none cut off.
    assert!(
        out.stderr
            .contains("path, content, content_base64, content_file, mode, executable")
    );
    for bad in ["title = \"x\"\n[[action]\n", "titel = \"x\"\n"] {
        let out = env.plan_refused(bad);
        assert!(out.stderr.contains("autonomy help plan-file"), "{out:?}");
        assert!(!out.stderr.contains("README"), "{out:?}");
    }
    env.write("autonomy.toml", "[approval]\nrequird = 1\n");
    let out = env.run(&["status"]);
    assert!(
        out.stdout.contains("autonomy.toml does not parse"),
        "{out:?}"
    );
    let out = env.plan_refused(&write_plan(&env, "x", "a.txt", "a\n"));
    assert!(out.stderr.contains("autonomy help rules-file"), "{out:?}");
}

#[test]
fn every_kind_is_in_plan_help_the_topic_and_the_man_page() {
    let env = Env::bare();
    let help = env.run(&["plan", "--help"]).stdout;
    let topic = env.run(&["help", "plan-file"]).stdout;
    let page =
        std::fs::read_to_string(repo().join("man/autonomy-plan.5")).expect("autonomy-plan(5)");
    let mut kinds: Vec<&str> = autonomy::plan::file::KIND_KEYS
        .iter()
        .map(|(k, _)| *k)
        .collect();
    kinds.push("symlink");
    for kind in &kinds {
        assert!(help.contains(kind), "plan --help lacks {kind}");
        assert!(
            topic.contains(&format!("\n  {kind} ")),
            "help plan-file lacks {kind}"
        );
        assert!(
            page.contains(&format!("\n{kind} ")),
            "autonomy-plan(5) lacks {kind}"
        );
    }
    for (kind, keys) in autonomy::plan::file::KIND_KEYS {
        let line = topic
            .lines()
            .skip_while(|l| !l.starts_with(&format!("  {kind} ")))
            .take_while(|l| l.starts_with(&format!("  {kind} ")) || l.starts_with("           "))
            .collect::<Vec<_>>()
            .join(" ");
        for key in *keys {
            assert!(
                line.contains(key),
                "help plan-file: {kind} lacks {key}: {line}"
            );
        }
    }
    assert!(topic.starts_with("autonomy-plan(5): "), "{topic}");
    insta::assert_snapshot!("help_plan_file", topic);
    assert_eq!(env.run(&["help", "nonsense"]).code, 2);
    assert!(env.run(&["help", "rules-file"]).stdout.contains("[[rule]]"));
    assert!(env.run(&["help", "log"]).stdout.contains("--oneline"));
}

#[test]
fn help_keeps_global_options_apart() {
    let env = Env::bare();
    let out = env.run(&["apply", "--help"]);
    insta::assert_snapshot!("help_apply", out.stdout);
    let (own, global) = out
        .stdout
        .split_once("Global options:")
        .expect("a Global options heading");
    let own = own.split_once("\nOptions:").expect("an Options heading").1;
    for flag in ["-C <DIR>", "--color", "--format"] {
        assert!(
            !own.contains(flag),
            "{flag} among the command's own options"
        );
        assert!(global.contains(flag), "{flag} not under Global options");
    }
}

/// The roff of a section-`n` page's SEE ALSO: every `name(n)` it names.
fn see_also(page: &str) -> Vec<(String, String)> {
    let section = page.split(".SH \"SEE ALSO\"").nth(1).unwrap_or("");
    let section = section.split("\n.SH").next().unwrap_or("");
    section
        .split(", ")
        .filter_map(|r| {
            let r = r
                .trim()
                .replace("\\fB", "")
                .replace("\\fR", "")
                .replace("\\-", "-");
            let (name, rest) = r.split_once('(')?;
            Some((name.to_string(), rest.trim_end_matches(')').to_string()))
        })
        .collect()
}

#[test]
fn man_pages_keep_value_names_literal_examples_and_installed_references() {
    let man = repo().join("man");
    let mut pages = 0;
    for entry in std::fs::read_dir(&man).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        pages += 1;
        // SEE ALSO names only pages installed alongside.
        let refs = see_also(&text);
        assert!(!refs.is_empty(), "{name}: empty SEE ALSO");
        for (page, section) in refs {
            assert!(
                man.join(format!("{page}.{section}")).is_file(),
                "{name}: SEE ALSO names {page}({section}), which is not installed"
            );
        }
        for doc in ["docs/json.md", "docs/guide.md", "README.md"] {
            assert!(
                !text.contains(doc),
                "{name} points at {doc}, which is not installed"
            );
        }
        // Examples and tables are literal: no indented line outside a .nf block.
        let mut literal = false;
        for line in text.lines() {
            match line {
                ".nf" => literal = true,
                ".fi" => literal = false,
                l if !literal && l.starts_with("  ") => {
                    panic!("{name}: an indented line outside .nf/.fi is filled like prose: {l:?}")
                }
                _ => {}
            }
        }
        // SYNOPSIS: every option that takes a value shows its value name.
        if name.ends_with(".1") {
            let synopsis = text
                .split(".SH SYNOPSIS\n")
                .nth(1)
                .unwrap()
                .split("\n.SH")
                .next()
                .unwrap();
            assert!(
                !synopsis.contains(" \\fR]"),
                "{name}: an option without its value: {synopsis}"
            );
            assert!(
                synopsis.contains("[\\fB\\-C\\fR \\fIDIR\\fR]"),
                "{name}: {synopsis}"
            );
        }
    }
    assert!(pages >= 20);
    let log = std::fs::read_to_string(man.join("autonomy-log.1")).unwrap();
    insta::assert_snapshot!("man_autonomy_log", log);
    // And as man renders it, when man is here: the examples stay one per line.
    if let Ok(out) = std::process::Command::new("man")
        .args(["-l", man.join("autonomy-log.1").to_str().unwrap()])
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        && out.status.success()
    {
        let text = no_overstrike(&String::from_utf8_lossy(&out.stdout));
        assert!(
            text.contains("\n           autonomy log -n 5\n           autonomy log 3f9c\n"),
            "{text}"
        );
    }
}

/// `man` output without the backspace overstrikes some versions use for bold.
fn no_overstrike(s: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    for c in s.chars() {
        if c == '\u{8}' {
            out.pop();
        } else {
            out.push(c);
        }
    }
    plain(&out.into_iter().collect::<String>())
}

/// One completion request through the protocol the registered shell function uses.
fn complete(env: &Env, shell: &str, words: &[&str], vars: &[(&str, &str)]) -> Vec<String> {
    let mut c = env.cmd();
    c.env("COMPLETE", shell)
        .env("_CLAP_COMPLETE_INDEX", words.len().to_string())
        .env("_CLAP_IFS", "\n")
        .arg("--")
        .arg("autonomy")
        .args(words);
    for (k, v) in vars {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn completion_offers_plan_ids_first_with_titles_in_every_shell() {
    let env = Env::new();
    let one = env.plan(&write_plan(&env, "First plan", "a.txt", "a\n"));
    let two = env.plan(&write_plan(&env, "Second plan", "b.txt", "b\n"));
    for shell in ["bash", "zsh", "fish"] {
        let lines = complete(&env, shell, &["approve", ""], &[]);
        assert!(lines.len() > 2, "{shell}: {lines:?}");
        assert!(
            lines[0].starts_with(&two[..12]),
            "{shell}: newest plan first: {lines:?}"
        );
        assert!(lines[1].starts_with(&one[..12]), "{shell}: {lines:?}");
        assert!(
            lines[2..].iter().all(|l| l.starts_with('-')),
            "{shell}: options after ids: {lines:?}"
        );
        assert!(
            lines[0].contains("Second plan"),
            "{shell}: no title: {lines:?}"
        );
    }
    // bash: the bare value where it goes onto the command line.
    let lines = complete(&env, "bash", &["approve", &two[..6]], &[]);
    assert_eq!(lines, [two[..12].to_string()]);
    let lines = complete(
        &env,
        "bash",
        &["approve", ""],
        &[("_CLAP_COMPLETE_COMP_TYPE", "37")],
    );
    assert_eq!(lines[0], two[..12]);
    // An option word gets options only.
    let lines = complete(&env, "fish", &["approve", "--"], &[]);
    assert!(lines.iter().all(|l| l.starts_with("--")), "{lines:?}");
    // In a real bash, through the registration script.
    let script = format!(
        "source <(COMPLETE=bash '{bin}'); COMP_WORDS=(autonomy approve ''); COMP_CWORD=2; COMP_TYPE=63; COLUMNS=60; \
         _clap_complete_autonomy autonomy '' approve; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bin = bin().display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(&env.root)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin().parent().unwrap().display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output();
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            let first = text.lines().next().unwrap_or_default().to_string();
            assert!(
                first.starts_with(&two[..12]) && first.contains("(Second plan (pending))"),
                "{text}"
            );
            assert!(
                text.lines().all(|l| console::measure_text_width(l) <= 59),
                "{text}"
            );
        }
        Err(e) => skip(&format!("bash is not available: {e}")),
    }
}

#[test]
fn the_pager_gets_less_frx_unless_less_is_set() {
    let env = Env::new();
    let marker = env.path("less-was");
    let pager = format!(
        "sh -c 'cat >/dev/null; printf %s \"$LESS\" > {}'",
        marker.display()
    );
    for (less, expected) in [(None, "FRX"), (Some("-S"), "-S")] {
        let mut c = std::process::Command::new(bin());
        c.arg("log")
            .current_dir(&env.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", &pager)
            .env_remove("AUTONOMY_PAGER")
            .env_remove("LESS");
        if let Some(l) = less {
            c.env("LESS", l);
        }
        let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("spawn in pty");
        let _ = p.exp_eof();
        assert_eq!(
            std::fs::read_to_string(&marker).unwrap(),
            expected,
            "LESS={less:?}"
        );
    }
}

#[test]
fn small_wording_fixes() {
    // init in an existing workspace names it absolutely.
    let env = Env::new();
    let out = env.run(&["init"]);
    assert_eq!(out.code, 1);
    let abs = env.root.canonicalize().unwrap();
    assert!(
        out.stderr
            .contains(&format!("{} already holds", abs.display())),
        "{out:?}"
    );
    // The busy hint after --wait does not suggest --wait again.
    let id = env.plan_approved(&write_plan(&env, "Busy", "a.txt", "a\n"));
    let guard = env.hold_lock();
    let out = env.run(&["apply", &id, "--wait", "1"]);
    drop(guard);
    assert_eq!(out.code, 5, "{out:?}");
    assert!(!out.stderr.contains("pass --wait SECS"), "{out:?}");
    assert!(out.stderr.contains("waited 1s"), "{out:?}");
    // Counts and sizes: one way everywhere.
    let out = env.run(&["apply", &id]);
    assert!(
        out.stderr.contains("Applied plan") && out.stderr.contains(": 1 change, 2 B written in "),
        "{out:?}"
    );
    let out = env.run(&["preview", &id]);
    assert!(
        out.stdout
            .contains("1 file changed, 1 insertion(+), 0 deletions(-)"),
        "{out:?}"
    );
    // A captured command line is shown quoted as a shell would need it.
    let out = env.run(&["plan", "--capture", "--", "sh", "-c", "echo hi > 'b c.txt'"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("`sh -c 'echo hi > '\\''b c.txt'\\'''`"),
        "{out:?}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&env.run(&["preview", "--format", "json"]).stdout).unwrap();
    assert_eq!(
        v["plan"]["title"],
        "Captured: sh -c 'echo hi > '\\''b c.txt'\\'''"
    );
}

#[test]
fn no_message_says_s_in_parentheses() {
    // "(s)" in a user-facing string is how the old plurals read ("1 file(s)").
    let mut offenders = Vec::new();
    let mut stack = vec![repo().join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                for (n, line) in std::fs::read_to_string(&p).unwrap().lines().enumerate() {
                    if line.trim_start().starts_with("//") {
                        continue;
                    }
                    // The parts of the line inside string literals.
                    let quoted = line.split('"').skip(1).step_by(2);
                    if quoted.into_iter().any(|q| q.contains("(s)")) {
                        offenders.push(format!("{}:{}: {}", p.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn json_documents_share_one_key_order() {
    let env = Env::new();
    let id = env.plan_approved(&write_plan(&env, "Json", "a.txt", "a\n"));
    fn check(v: &serde_json::Value, top: bool, what: &str) {
        if let Some(map) = v.as_object() {
            let keys: Vec<&String> = map.keys().collect();
            let rest: Vec<&&String> = keys.iter().filter(|k| **k != "format_version").collect();
            let mut sorted = rest.clone();
            sorted.sort();
            assert_eq!(rest, sorted, "{what}: keys not in alphabetical order");
            if top {
                assert_eq!(
                    keys.first().map(|k| k.as_str()),
                    Some("format_version"),
                    "{what}"
                );
            }
            for v in map.values() {
                check(v, false, what);
            }
        } else if let Some(a) = v.as_array() {
            for v in a {
                check(v, false, what);
            }
        }
    }
    let file = env.plan_file(write_plan(&env, "Another", "b.txt", "b\n"));
    for args in [
        vec!["status"],
        vec!["preview", &id],
        vec!["log"],
        vec!["plan", file.to_str().unwrap()],
        vec!["apply", &id],
        vec!["verify"],
        vec!["stats"],
        vec!["log", "--head"],
    ] {
        let out = env.run(&[&args[..], &["--format", "json"]].concat());
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        // serde_json keeps the document's order only with preserve_order; read it raw.
        let order = first_level_keys(&out.stdout);
        assert_eq!(
            order.first().map(String::as_str),
            Some("format_version"),
            "{args:?}: {order:?}"
        );
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        check(&v, false, &format!("{args:?}"));
        let mut rest = order[1..].to_vec();
        rest.sort();
        assert_eq!(&order[1..], &rest[..], "{args:?}");
    }
    let out = env.run(&["log", "--format", "jsonl"]);
    for line in out.stdout.lines() {
        assert!(line.starts_with("{\"format_version\":1,"), "{line}");
    }
}

/// The top-level keys of a pretty-printed JSON object, in the order printed.
fn first_level_keys(doc: &str) -> Vec<String> {
    doc.lines()
        .filter(|l| l.starts_with("  \"") && !l.starts_with("   "))
        .filter_map(|l| {
            l.trim()
                .strip_prefix('"')?
                .split('"')
                .next()
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn sandbox_refusals_say_error_and_the_agents_status_is_returned_and_said() {
    let env = Env::new();
    let agent = env.tmp.path().join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\nprintf 'title = \"bad\"\\n[[action]]\\nkind = \"nope\"\\n' > \"$AUTONOMY_SPOOL/bad.toml\"\nexit 3\n",
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = env.run(&["sandbox", "--", agent.to_str().unwrap()]);
    if out.stderr.contains("Landlock is unavailable") {
        return skip("Landlock is unavailable here");
    }
    // The agent's status is returned as DESIGN.md's `sandbox` row says, and said in words
    // (and in JSON as `agent_exit`) so that a script can tell it from autonomy's own codes.
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("exited with status 3"), "{out:?}");
    let refusal = out
        .stderr
        .lines()
        .find(|l| l.contains("bad.toml"))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(
        refusal.starts_with("error: spool file bad.toml refused"),
        "{refusal}"
    );
    assert!(!out.stderr.contains("autonomy: "), "{out:?}");
    let out = env.run(&["sandbox", "--format", "json", "--", "sh", "-c", "exit 5"]);
    assert_eq!(out.code, 5, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["agent_exit"], 5);
}

#[test]
fn readme_install_line_is_locked() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(readme.contains("cargo install --locked --path ."));
    assert!(!readme.contains("cargo install --path"));
    assert!(
        readme.contains("man/*.5"),
        "the section-5 pages are installed too"
    );
}

#[test]
fn mask_durations_keeps_everything_else() {
    assert_eq!(
        mask_durations("in 15 ms, 1.5 s) v1.2 s3 ms"),
        "in [N] ms, [N] s) v1.2 s3 ms"
    );
}
