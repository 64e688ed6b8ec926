//! Output conventions: versioned JSON on stdout, colour choices (`--color`, NO_COLOR,
//! CLICOLOR_FORCE), a quiet exit on a closed pipe, the pager only on a terminal, and the
//! progress bar only on a terminal outside CI.

use crate::common::*;
use serde_json::Value;

const ESC: &str = "\u{1b}[";

fn modify_plan(env: &Env) -> String {
    env.write("config.toml", "timeout_ms = 500\nretries = 3\n");
    env.plan(
        r#"
title = "Raise the timeout"
[[action]]
kind = "edit"
path = "config.toml"
find = "timeout_ms = 500"
replace = "timeout_ms = 750"
"#,
    )
}

fn json_of(env: &Env, args: &[&str]) -> Value {
    let out = env
        .cmd()
        .args(args)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}): {out:?}"))
}

#[test]
fn every_data_command_prints_one_versioned_json_document() {
    let bare = Env::bare();
    let out = bare
        .cmd()
        .args(["init", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).expect("init json");
    assert_eq!(v["format_version"], 1);
    assert!(v["workspace"].is_string());

    let env = Env::new();
    env.write("config.toml", "timeout_ms = 500\n");
    let file = env.tmp.path().join("p.toml");
    std::fs::write(
        &file,
        "title = \"T\"\n[[action]]\nkind = \"write\"\npath = \"config.toml\"\ncontent = \"timeout_ms = 750\\n\"\n",
    )
    .expect("write plan");
    let plan = json_of(&env, &["plan", file.to_str().expect("utf8 path")]);
    assert_eq!(plan["format_version"], 1);
    let id = plan["plan"]["id"].as_str().expect("plan.id").to_string();
    assert_eq!(plan["plan"]["short"], id[..12]);

    let preview = json_of(&env, &["preview", &id]);
    assert_eq!(preview["format_version"], 1);
    assert_eq!(preview["plan"]["id"], id);
    assert_eq!(preview["changes"][0]["action"], "modify");
    assert_eq!(preview["changes"][0]["before"]["kind"], "file");
    assert!(
        preview["changes"][0]["diff"]
            .as_str()
            .expect("diff")
            .contains("+timeout_ms = 750")
    );

    let status = json_of(&env, &["status"]);
    assert_eq!(status["format_version"], 1);
    assert_eq!(status["pending"][0]["id"], id);

    let bundle = env.tmp.path().join("p.autonomy");
    let export = json_of(&env, &["export", &id, "-o", bundle.to_str().expect("utf8")]);
    assert_eq!(export["format_version"], 1);

    env.approve(&id);
    let apply = json_of(&env, &["apply", &id]);
    assert_eq!(apply["format_version"], 1);
    assert_eq!(apply["run"]["files_changed"], 1);

    let log = json_of(&env, &["log"]);
    assert_eq!(log["format_version"], 1);
    let events = log["events"].as_array().expect("events");
    assert_eq!(events.last().expect("init")["kind"], "init");
    assert_eq!(events[0]["kind"], "run.committed");
    assert!(events[0]["duration_ms"].is_u64());

    let out = env
        .cmd()
        .args(["log", "--format", "jsonl"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one object per line"))
        .collect();
    assert_eq!(lines.len(), events.len());
    for (line, event) in lines.iter().zip(events) {
        assert_eq!(line["format_version"], 1);
        assert_eq!(line["hash"], event["hash"]);
    }

    let head = json_of(&env, &["log", "--head"]);
    assert_eq!(head["format_version"], 1);
    assert_eq!(head["hash"], events[0]["hash"]);
    env.cmd()
        .args(["log", "--head"])
        .assert()
        .success()
        .stdout(format!(
            "{}:{}\n",
            events[0]["seq"],
            events[0]["hash"].as_str().expect("hash")
        ));

    let verify = json_of(&env, &["verify"]);
    assert_eq!(verify["format_version"], 1);
    assert_eq!(verify["ok"], true);

    let gc = json_of(&env, &["gc", "--dry-run"]);
    assert_eq!(gc["format_version"], 1);
    assert_eq!(gc["dry_run"], true);
    assert!(gc["blobs"].is_array());

    let recover = json_of(&env, &["recover"]);
    assert_eq!(recover["format_version"], 1);
    assert!(recover["recovered"].is_null());
}

#[test]
fn jsonl_is_for_log_only() {
    let env = Env::new();
    for cmd in ["status", "preview", "verify"] {
        env.cmd()
            .args([cmd, "--format", "jsonl"])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("jsonl is for `autonomy log`"));
    }
}

/// (stdout, stderr) of `preview` and of a failing command, with the given colour flag and
/// environment, on pipes.
fn coloured(env: &Env, flag: Option<&str>, vars: &[(&str, &str)]) -> (bool, bool) {
    let mut preview = env.cmd();
    let mut failing = env.cmd();
    for c in [&mut preview, &mut failing] {
        c.env_remove("NO_COLOR").env_remove("CLICOLOR_FORCE");
        for (k, v) in vars {
            c.env(k, v);
        }
        if let Some(f) = flag {
            c.args(["--color", f]);
        }
    }
    let out = preview
        .arg("preview")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let err = failing
        .args(["preview", "ffffffff"])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    (
        String::from_utf8_lossy(&out).contains(ESC),
        String::from_utf8_lossy(&err).contains(ESC),
    )
}

#[test]
fn colour_follows_the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
    let env = Env::new();
    modify_plan(&env);
    // auto on pipes: none.
    assert_eq!(coloured(&env, None, &[]), (false, false));
    assert_eq!(coloured(&env, Some("auto"), &[]), (false, false));
    // CLICOLOR_FORCE forces colour on pipes, unless it is 0 or empty.
    assert_eq!(
        coloured(&env, None, &[("CLICOLOR_FORCE", "1")]),
        (true, true)
    );
    assert_eq!(
        coloured(&env, None, &[("CLICOLOR_FORCE", "0")]),
        (false, false)
    );
    assert_eq!(
        coloured(&env, None, &[("CLICOLOR_FORCE", "")]),
        (false, false)
    );
    // NO_COLOR (non-empty) beats CLICOLOR_FORCE; an empty NO_COLOR is ignored.
    assert_eq!(
        coloured(&env, None, &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")]),
        (false, false)
    );
    assert_eq!(
        coloured(&env, None, &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "1")]),
        (true, true)
    );
    // The flag beats both variables.
    assert_eq!(
        coloured(&env, Some("always"), &[("NO_COLOR", "1")]),
        (true, true)
    );
    assert_eq!(
        coloured(&env, Some("never"), &[("CLICOLOR_FORCE", "1")]),
        (false, false)
    );
}

#[test]
fn colour_is_on_at_a_terminal_under_auto_and_off_with_no_color() {
    let env = Env::new();
    modify_plan(&env);
    let (out, code) = env.pty(&["preview"], &[("PAGER", "cat")]);
    assert_eq!(code, 0, "{out}");
    // Env::pty sets NO_COLOR=1 like every harness command.
    assert!(!out.contains(ESC), "{out:?}");
    let mut c = std::process::Command::new(bin());
    c.arg("preview")
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("PAGER", "cat")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("AUTONOMY_PAGER");
    let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("spawn");
    let out = p.exp_eof().unwrap_or_default();
    assert!(out.contains(ESC), "no colour at a terminal: {out:?}");
    // Word-level highlights put escapes inside the changed line.
    assert!(out.contains("timeout_ms"), "{out:?}");
}

#[test]
fn json_never_carries_colour() {
    let env = Env::new();
    modify_plan(&env);
    let out = env
        .cmd()
        .args(["preview", "--format", "json", "--color", "always"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(!String::from_utf8_lossy(&out).contains(ESC));
    serde_json::from_slice::<Value>(&out).expect("json");
}

/// Run `autonomy ARGS | head -1` through a real shell pipe; returns (what head printed,
/// autonomy's exit code, autonomy's stderr).
fn into_head(env: &Env, args: &str) -> (String, String, String) {
    let rc = env.tmp.path().join("rc");
    let err = env.tmp.path().join("err");
    let script = format!(
        "{{ '{}' {args} 2>'{}'; echo $? >'{}'; }} | head -1",
        bin().display(),
        err.display(),
        rc.display()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1")
        .env_remove("AUTONOMY_PAGER")
        .output()
        .expect("sh");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        std::fs::read_to_string(&rc).expect("rc").trim().to_string(),
        std::fs::read_to_string(&err).expect("stderr"),
    )
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_0() {
    let env = Env::new();
    // Far more than a pipe buffer (64 KiB) of log, so writes outlive `head`.
    env.bulk_events(4000);
    let big: String = (0..6000)
        .map(|i| format!("line {i} of a long file\n"))
        .collect();
    env.write("big.txt", "old\n");
    let file = env.tmp.path().join("big.toml");
    std::fs::write(
        &file,
        format!(
            "title = \"Big\"\n[[action]]\nkind = \"write\"\npath = \"big.txt\"\ncontent = {}\n",
            serde_json::to_string(&big).expect("toml string")
        ),
    )
    .expect("write plan");
    env.cmd().arg("plan").arg(&file).assert().success();
    env.cmd()
        .args(["export", "-o", "../big.autonomy"])
        .assert()
        .success();
    for args in [
        "log",
        "log --format json",
        "log --format jsonl",
        "preview",
        "preview --format json",
        "preview --bundle ../big.autonomy",
    ] {
        let (head, rc, err) = into_head(&env, args);
        assert_eq!(head.lines().count(), 1, "{args}: {head:?}");
        assert_eq!(rc, "0", "`autonomy {args} | head -1` exited {rc}: {err}");
        assert_eq!(err, "", "`autonomy {args} | head -1` printed on stderr");
    }
    env.verify_ok();
}

const MARKER: &str = "pager-was-used";

fn log_pager_env(var: &str) -> Vec<(&str, String)> {
    vec![(var, format!("sh -c 'cat > {MARKER}'"))]
}

#[test]
fn the_pager_is_used_on_a_terminal() {
    let env = Env::new();
    modify_plan(&env);
    for (var, cmd) in [
        ("AUTONOMY_PAGER", "log"),
        ("PAGER", "log"),
        ("AUTONOMY_PAGER", "preview"),
    ] {
        let _ = std::fs::remove_file(env.path(MARKER));
        let vars = log_pager_env(var);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (out, code) = env.pty(&[cmd], &vars);
        assert_eq!(code, 0, "{out}");
        let paged = std::fs::read_to_string(env.path(MARKER))
            .unwrap_or_else(|_| panic!("{var} was not used for {cmd} at a terminal: {out}"));
        let expect = if cmd == "log" {
            "plan.created"
        } else {
            "timeout_ms = 750"
        };
        assert!(paged.contains(expect), "{paged}");
        assert!(!out.contains(expect), "printed as well as paged: {out}");
    }
    // AUTONOMY_PAGER wins over PAGER.
    let _ = std::fs::remove_file(env.path(MARKER));
    let (out, code) = env.pty(
        &["log"],
        &[
            ("AUTONOMY_PAGER", "sh -c 'cat > pager-was-used'"),
            ("PAGER", "sh -c 'cat > wrong-pager'"),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(env.exists(MARKER) && !env.exists("wrong-pager"));
}

#[test]
fn the_pager_is_never_used_on_a_pipe() {
    let env = Env::new();
    modify_plan(&env);
    for cmd in ["log", "preview"] {
        let out = env
            .cmd()
            .arg(cmd)
            .env("AUTONOMY_PAGER", format!("sh -c 'cat > {MARKER}'"))
            .env("PAGER", format!("sh -c 'cat > {MARKER}'"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert!(!env.exists(MARKER), "{cmd} used the pager on a pipe");
        assert!(!out.is_empty(), "{cmd} printed nothing");
    }
}

/// A plan of 61 changes (a folder and 60 files in it), approved.
fn sixty_writes(env: &Env, tag: &str) -> String {
    let mut toml = format!("title = \"Sixty {tag}\"\n");
    for i in 0..60 {
        toml.push_str(&format!(
            "[[action]]\nkind = \"write\"\npath = \"{tag}/f{i:02}.txt\"\ncontent = \"{i}\\n\"\n"
        ));
    }
    let id = env.plan(&toml);
    env.approve(&id);
    id
}

#[test]
fn the_progress_bar_shows_only_on_a_terminal_outside_ci() {
    let env = Env::new();
    let id = sixty_writes(&env, "tty");
    let (out, code) = env.pty(&["apply", &id], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("/61"), "no progress bar at a terminal: {out}");
    assert_eq!(
        out.matches("create  tty/f").count(),
        60,
        "every step listed: {out}"
    );

    let id = sixty_writes(&env, "ci");
    let (out, code) = env.pty(&["apply", &id], &[("CI", "true")]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("/61"), "a progress bar under CI: {out}");
    assert_eq!(out.matches("create  ci/f").count(), 60);

    let id = sixty_writes(&env, "pipe");
    let err = env
        .cmd()
        .env_remove("CI")
        .args(["apply", &id])
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&err);
    assert!(
        !err.contains("/61") && !err.contains(ESC),
        "a progress bar on a pipe: {err}"
    );
    assert_eq!(err.matches("create  pipe/f").count(), 60);
}
