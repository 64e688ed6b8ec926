//! Issue 12, the path class: every path anything names (changes, exec `touches` and
//! `cwd`, `[verify] writes`) passes one check at plan time and again at apply time, exec
//! steps count against the rules and name their binary, and plan inputs are bounded.
//! Each test names the finding it pins; each failed on the code before the fix.

use crate::common::*;
use std::path::Path;

const EXEC_RULES: &str = "[exec]\nallow = true\ncommands = [\"sh\"]\ntimeout = \"20s\"\n";

fn exec_env(extra: &str) -> Env {
    let env = Env::new();
    env.write("autonomy.toml", format!("{EXEC_RULES}{extra}"));
    env.write("x/keep.txt", "keep\n");
    env.write("gen/old.txt", "old\n");
    env
}

/// `s` as a TOML basic string, every non-ASCII or control character escaped.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn exec_plan(script: &str, touches: &[&str], extra: &str) -> String {
    let touches: Vec<String> = touches.iter().map(|t| toml_str(t)).collect();
    format!(
        "title = \"exec\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {}]\ntouches = [{}]\n{extra}",
        toml_str(script),
        touches.join(", ")
    )
}

fn write_plan(path: &str) -> String {
    format!(
        "title = \"t\"\n[[action]]\nkind = \"write\"\npath = {}\ncontent = \"pwned\\n\"\n",
        toml_str(path)
    )
}

/// Plan `toml`: refused with exit 1, the message containing `needle`, nothing stored,
/// nothing changed.
fn refused(env: &Env, toml: &str, needle: &str) -> Out {
    let before = env.tree();
    let plans = env.plan_ids().len();
    let file = env.plan_file(toml);
    let out = env.run(&["plan", file.to_str().expect("utf8")]);
    assert_eq!(out.code, 1, "expected exit 1 for {toml:?}: {out:?}");
    assert!(
        out.stderr.contains(needle),
        "expected {needle:?} in: {}",
        out.stderr
    );
    assert_eq!(env.plan_ids().len(), plans, "a refused plan was stored");
    assert_eq!(env.tree(), before, "a refused plan changed the workspace");
    out
}

fn landlock() -> bool {
    match autonomy::exec::landlock_status() {
        autonomy::exec::LandlockStatus::Available { .. } => true,
        autonomy::exec::LandlockStatus::Unavailable { reason } => {
            skip(&format!("Landlock is unavailable: {reason}"));
            false
        }
    }
}

/// Store a copy of plan `id` whose canonical encoding `edit` changed (with its new id),
/// approved at the terminal like the original: a journal edited behind autonomy's back.
fn tampered_copy(env: &Env, id: &str, edit: impl Fn(&mut serde_json::Value)) -> String {
    let db = env.journal();
    let canonical: String = db
        .query_row("SELECT canonical FROM plans WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("plan row");
    let mut v: serde_json::Value = serde_json::from_str(&canonical).expect("json");
    edit(&mut v);
    // Re-encode in canonical form: the struct's field order, compact.
    let plan: autonomy::model::Plan = serde_json::from_value(v).expect("still a plan");
    let text = plan.canonical();
    let new_id = plan.id().into_string();
    db.execute(
        "INSERT INTO plans (id, seq, created, title, author, status, reverses, canonical)
         SELECT ?1, (SELECT MAX(seq) + 1 FROM plans), created, title, author, 'approved', NULL, ?2 FROM plans WHERE id = ?3",
        rusqlite::params![new_id, text, id],
    )
    .expect("insert plan");
    db.execute(
        "INSERT INTO approvals (plan, at, principal, method, decision) VALUES (?1, '2026-01-01T00:00:00Z', ?2, 'terminal', 'approve')",
        rusqlite::params![new_id, ACTOR],
    )
    .expect("insert approval");
    new_id
}

// ---------------------------------------------------------------------------------------
// Finding 1: exec `touches` and `cwd` pass the path check.

#[test]
fn finding_1_touches_that_escape_or_reach_state_are_refused_at_plan_time() {
    let env = exec_env("");
    for t in [
        "x/../.autonomy/allowed_signers",
        "../elsewhere/**",
        ".autonomy/**",
        ".AUTONOMY/allowed_signers",
        "**/.autonomy/**",
        "/../x",
        "./gen/**",
        "gen//x",
        "\\.autonomy/x",
        "{gen,.}/../x",
        "gen/[/]x",
    ] {
        refused(&env, &exec_plan("true", &[t], ""), "glob");
    }
    for cwd in ["..", "x/../..", ".autonomy", "/etc", "sub/.Autonomy"] {
        refused(
            &env,
            &exec_plan("true", &["gen/**"], &format!("cwd = {cwd:?}")),
            "cwd",
        );
    }
}

#[test]
fn finding_1_the_signers_and_outside_attack_no_longer_plans() {
    // The reported attack: a "format" step whose touches open .autonomy/ and a folder
    // outside the workspace to the command.
    let env = exec_env("");
    let outside = env.tmp.path().join("elsewhere");
    std::fs::create_dir_all(&outside).expect("mkdir");
    env.write(".autonomy/allowed_signers", "");
    let script = "echo 'mallory ssh-ed25519 AAAA' > .autonomy/allowed_signers; echo pwned > ../elsewhere/owned";
    refused(
        &env,
        &exec_plan(
            script,
            &["x/../.autonomy/allowed_signers", "../elsewhere/**"],
            "",
        ),
        "glob",
    );
    assert_eq!(env.read_str(".autonomy/allowed_signers"), "");
    assert!(!outside.join("owned").exists());
}

#[test]
fn finding_1_a_stored_plan_with_hostile_touches_is_refused_at_apply_time() {
    let env = exec_env("");
    let outside = env.tmp.path().join("elsewhere");
    std::fs::create_dir_all(&outside).expect("mkdir");
    let id = env.plan(&exec_plan(
        "echo pwned > ../elsewhere/owned; echo x > gen/new.txt",
        &["gen/**"],
        "",
    ));
    let bad = tampered_copy(&env, &id, |v| {
        v["exec"][0]["touches"] = serde_json::json!(["gen/**", "../elsewhere/**"]);
    });
    let before = env.tree();
    let out = env.run(&["apply", &bad]);
    // The journal holds an invalid path: an integrity failure, and nothing runs.
    assert_eq!(out.code, 7, "{out:?}");
    assert!(out.stderr.contains("elsewhere"), "{}", out.stderr);
    assert!(!outside.join("owned").exists());
    assert_eq!(env.tree(), before);
}

#[test]
fn finding_1_a_wide_glob_never_covers_a_state_folder() {
    // `src/**` is a fine glob, but a command may not create or change a `.autonomy`
    // anywhere under it: such a path is never "declared", so the run fails.
    let env = exec_env("");
    env.write("src/a.txt", "a\n");
    let id = env.plan(&exec_plan(
        "mkdir -p src/.autonomy && echo x > src/.autonomy/allowed_signers",
        &["src/**"],
        "",
    ));
    env.approve(&id);
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("src/.autonomy"),
        "the state path is named: {}",
        out.stderr
    );
}

#[test]
fn finding_1_cwd_must_be_a_real_folder_at_apply_time() {
    let env = exec_env("");
    let id = env.plan(&exec_plan("echo x > new.txt", &["gen/**"], "cwd = \"gen\""));
    env.approve(&id);
    // The folder is replaced by a symlink to outside after approval.
    let outside = env.tmp.path().join("out");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::remove_dir_all(env.path("gen")).expect("rm");
    std::os::unix::fs::symlink(&outside, env.path("gen")).expect("symlink");
    let out = env.run(&["apply", &id]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(!outside.join("new.txt").exists());
}

// ---------------------------------------------------------------------------------------
// Finding 19: nested workspaces.

#[test]
fn finding_19_an_outer_plan_cannot_write_a_nested_workspace() {
    let env = exec_env("");
    std::fs::create_dir_all(env.path("sub")).expect("mkdir");
    let out = env.run(&["-C", "sub", "init"]);
    assert_eq!(out.code, 0, "{out:?}");
    for p in [
        "sub/.autonomy/allowed_signers",
        "sub/.AUTONOMY/journal.db",
        "sub/.autonomy./x",
    ] {
        refused(&env, &write_plan(p), ".autonomy");
    }
    // Its files are its own workspace's business too: its rules above all.
    refused(&env, &write_plan("sub/autonomy.toml"), "another workspace");
    refused(&env, &write_plan("sub/src/main.rs"), "another workspace");
    refused(
        &env,
        &exec_plan("true", &["sub/**"], ""),
        "another workspace",
    );
    refused(
        &env,
        &exec_plan("true", &["gen/**"], "cwd = \"sub\""),
        "another workspace",
    );
    refused(
        &env,
        "title = \"t\"\n[[action]]\nkind = \"delete\"\npath = \"sub\"\n",
        ".autonomy",
    );
}

#[test]
fn finding_19_a_folder_that_became_a_workspace_after_planning_is_refused_at_apply() {
    let env = Env::new();
    env.write("sub/readme.txt", "r\n");
    let id = env.plan(&write_plan("sub/notes.txt"));
    env.approve(&id);
    assert_eq!(env.run(&["-C", "sub", "init"]).code, 0);
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("another workspace"), "{}", out.stderr);
    assert!(!env.exists("sub/notes.txt"));
}

#[test]
fn finding_19_a_wide_exec_cannot_reach_a_nested_workspace_state() {
    if !landlock() {
        return;
    }
    let env = exec_env("");
    std::fs::create_dir_all(env.path("sub")).expect("mkdir");
    assert_eq!(env.run(&["-C", "sub", "init"]).code, 0);
    env.write("sub/.autonomy/allowed_signers", "");
    let id = env.plan(&exec_plan(
        "echo 'mallory ssh-ed25519 AAAA' > sub/.autonomy/allowed_signers",
        &["**/allowed_signers"],
        "",
    ));
    env.approve(&id);
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(env.read_str("sub/.autonomy/allowed_signers"), "");
}

// ---------------------------------------------------------------------------------------
// Finding 2: exec `touches` count against the per-path rules.

const TWO_SIGNED: &str =
    "[[rule]]\nname = \"production\"\npaths = [\"deploy/**\"]\napprovals = 2\nsigned = true\n";

#[test]
fn finding_2_touches_need_the_approvals_of_the_paths_they_may_change() {
    let env = exec_env(TWO_SIGNED);
    env.write("deploy/prod.yml", "replicas: 3\n");
    // A direct edit needs two signed approvals; so does a command that may write there,
    // whether its glob names the folder or only might reach it.
    for touches in ["deploy/**", "**/*.yml", "*/prod.yml", "{deploy,gen}/**"] {
        let id = env.plan(&exec_plan(
            "echo 'replicas: 0' > deploy/prod.yml",
            &[touches],
            "",
        ));
        env.approve(&id);
        let out = env.run(&["apply", &id]);
        assert_eq!(out.code, 3, "touches {touches}: {out:?}");
        assert!(out.stderr.contains("production"), "{}", out.stderr);
        assert_eq!(env.read_str("deploy/prod.yml"), "replicas: 3\n");
    }
    // A glob that cannot reach deploy/ needs only the default approval.
    let id = env.plan(&exec_plan("echo x > gen/new.txt", &["gen/**"], ""));
    env.approve(&id);
    assert_eq!(env.run(&["apply", &id]).code, 0);
}

#[test]
fn finding_2_deny_rules_cover_touches_and_every_case_spelling() {
    let env = exec_env("[[rule]]\nname = \"never\"\npaths = [\"secrets/**\"]\ndeny = true\n");
    for touches in ["secrets/**", "**", "*/key.pem", "Secrets/**"] {
        refused(&env, &exec_plan("true", &[touches], ""), "never");
    }
    refused(&env, &write_plan("Secrets/key.pem"), "never");
    refused(&env, &write_plan("SECRETS/key.pem"), "never");
}

#[test]
fn finding_2_an_exec_that_may_write_the_rules_is_a_policy_change() {
    let env = exec_env("");
    for touches in ["autonomy.toml", "*.toml", "**"] {
        let id = env.plan(&exec_plan("true", &[touches], ""));
        let out = env.run(&["preview", &id]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stdout.contains("POLICY CHANGE"),
            "touches {touches}: {}",
            out.stdout
        );
        let json = env.run(&["preview", &id, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
        assert_eq!(v["policy_change"], true, "{touches}");
        assert_eq!(v["risk_level"], "high", "{touches}");
    }
    let id = env.plan(&exec_plan("true", &["gen/**"], ""));
    let out = env.run(&["preview", &id]);
    assert!(!out.stdout.contains("POLICY CHANGE"), "{}", out.stdout);
}

// ---------------------------------------------------------------------------------------
// Finding 3: the program is resolved at plan time; `env` cannot redirect it.

#[test]
fn finding_3_env_may_not_set_path_or_loader_and_interpreter_hooks() {
    let env = exec_env("");
    for (k, v) in [
        ("PATH", "bin"),
        ("path", "bin"),
        ("LD_PRELOAD", "/tmp/evil.so"),
        ("LD_LIBRARY_PATH", "lib"),
        ("DYLD_INSERT_LIBRARIES", "x"),
        ("GCONV_PATH", "x"),
        ("BASH_ENV", "x/evil.sh"),
        ("ENV", "x/evil.sh"),
        ("PYTHONPATH", "x"),
        ("PYTHONSTARTUP", "x"),
        ("PERL5OPT", "-Mx"),
        ("RUBYOPT", "-rx"),
        ("NODE_OPTIONS", "--require x"),
        ("JAVA_TOOL_OPTIONS", "-javaagent:x"),
        ("GIT_SSH_COMMAND", "x"),
        ("IFS", "x"),
        ("PS4", "$(x)"),
        ("HOME", "x"),
        ("RUSTC_WRAPPER", "x/evil"),
    ] {
        refused(
            &env,
            &exec_plan("true", &["gen/**"], &format!("env = {{ {k} = {v:?} }}")),
            "env",
        );
    }
}

#[test]
fn finding_3_a_script_named_like_an_allowed_command_never_runs() {
    // The reported bypass: `[exec] commands = ["cargo"]`, and a script named `cargo` in the
    // workspace, reached through the step's PATH or a relative entry in the planner's.
    let env = Env::new();
    env.write(
        "autonomy.toml",
        "[exec]\nallow = true\ncommands = [\"mytool\"]\n",
    );
    env.write("bin/mytool", "#!/bin/sh\necho pwned > pwned.txt\n");
    env.set_mode("bin/mytool", 0o755);
    env.write("mytool", "#!/bin/sh\necho pwned > pwned.txt\n");
    env.set_mode("mytool", 0o755);
    let plan =
        "title = \"t\"\n[[action]]\nkind = \"exec\"\nrun = [\"mytool\"]\ntouches = [\"gen/**\"]\n";
    let abs_bin = env.path("bin");
    for path in [
        "bin".to_string(),
        ".".to_string(),
        String::new(),
        format!(":{}", "/usr/bin"),
        format!("{}:/usr/bin", abs_bin.display()),
    ] {
        let file = env.plan_file(plan);
        let out = env
            .cmd()
            .env("PATH", &path)
            .args(["plan", file.to_str().expect("utf8")])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "PATH={path:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no executable of that name"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A relative run[0] with a `/` is never a program name.
    env.write(
        "autonomy.toml",
        "[exec]\nallow = true\ncommands = [\"./mytool\"]\n",
    );
    refused(
        &env,
        "title = \"t\"\n[[action]]\nkind = \"exec\"\nrun = [\"./mytool\"]\ntouches = [\"gen/**\"]\n",
        "relative",
    );
    assert!(!env.exists("pwned.txt"));
}

#[test]
fn finding_3_the_plan_names_the_absolute_program_and_apply_checks_it() {
    let env = Env::new();
    let tools = env.tmp.path().join("tools");
    std::fs::create_dir_all(&tools).expect("mkdir");
    let tool = tools.join("mytool");
    std::fs::write(&tool, "#!/bin/sh\necho ran > gen/ran.txt\n").expect("write");
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    env.write(
        "autonomy.toml",
        "[exec]\nallow = true\ncommands = [\"mytool\"]\n",
    );
    env.write("gen/old.txt", "old\n");
    let file = env.plan_file(
        "title = \"t\"\n[[action]]\nkind = \"exec\"\nrun = [\"mytool\"]\ntouches = [\"gen/**\"]\n",
    );
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = env
        .cmd()
        .env("PATH", &path)
        .args(["plan", file.to_str().expect("utf8")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let id = env.full_id(String::from_utf8_lossy(&out.stdout).trim());
    let json = env.run(&["preview", &id, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["exec"][0]["program"], tool.display().to_string());
    assert_eq!(v["exec"][0]["run"][0], "mytool");
    let text = env.run(&["preview", &id]);
    assert!(
        text.stdout
            .contains(&format!("program: {}", tool.display())),
        "{}",
        text.stdout
    );
    env.approve(&id);
    // The recorded program is what runs, whatever PATH apply has.
    let out = env
        .cmd()
        .env("PATH", "/usr/bin:/bin")
        .args(["apply", &id])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(env.read_str("gen/ran.txt"), "ran\n");
    // Once the program is gone, a plan naming it is refused before anything runs.
    let file2 = env.plan_file(
        "title = \"again\"\n[[action]]\nkind = \"exec\"\nrun = [\"mytool\"]\ntouches = [\"gen/**\"]\n",
    );
    let id2 = {
        let out = env
            .cmd()
            .env("PATH", &path)
            .args(["plan", file2.to_str().expect("utf8")])
            .output()
            .expect("run");
        env.full_id(String::from_utf8_lossy(&out.stdout).trim())
    };
    env.approve(&id2);
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .expect("chmod");
    let out = env.run(&["apply", &id2]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("not an executable"), "{}", out.stderr);
}

#[test]
fn finding_3_a_stored_plan_with_a_path_env_is_refused_at_apply_time() {
    let env = exec_env("");
    env.write("bin/sh", "#!/bin/sh\necho pwned > pwned.txt\n");
    env.set_mode("bin/sh", 0o755);
    let id = env.plan(&exec_plan("echo x > gen/new.txt", &["gen/**"], ""));
    let bad = tampered_copy(&env, &id, |v| {
        v["exec"][0]["env"] = serde_json::json!({ "PATH": "bin" });
    });
    // A plan smuggled into the tables has no events behind it, so the event cross-check
    // (exit 7) may refuse it first; otherwise the apply-time exec check does (exit 1).
    let out = env.run(&["apply", &bad]);
    assert!(
        out.code == 7 || (out.code == 1 && out.stderr.contains("may not set PATH")),
        "{out:?}"
    );
    assert!(!env.exists("pwned.txt") && !env.exists("gen/new.txt"));
    let worse = tampered_copy(&env, &id, |v| {
        v["exec"][0]["program"] = serde_json::json!(env.path("bin/sh").display().to_string());
    });
    let out = env.run(&["apply", &worse]);
    assert!(
        out.code == 7 || (out.code == 1 && out.stderr.contains("inside the workspace")),
        "{out:?}"
    );
    assert!(!env.exists("pwned.txt"));
}

// ---------------------------------------------------------------------------------------
// Finding 4: what the verify command may write.

fn verify_env(run: &str) -> Env {
    let env = Env::new();
    env.write(
        "autonomy.toml",
        format!(
            "{TWO_SIGNED}[[rule]]\nname = \"terraform\"\npaths = [\"*.tf\"]\napprovals = 2\nsigned = true\n\n[verify]\nrun = [\"sh\", \"-c\", {run:?}]\nwrites = [\"**/__pycache__/**\"]\n"
        ),
    );
    env.write("deploy/prod.yml", "replicas: 3\n");
    env.write("infra/main.tf", "count = 1\n");
    env.write("src/app.py", "x = 1\n");
    env
}

fn verify_attack(env: &Env, test_body: &str, landlock_env: Option<&str>) -> Out {
    // A test file the plan writes; the verify command runs it.
    let plan = format!(
        "title = \"add a test\"\n[[action]]\nkind = \"write\"\npath = \"test_x.sh\"\ncontent = {test_body:?}\n"
    );
    let id = env.plan(&plan);
    env.approve(&id);
    let mut cmd = env.cmd();
    if let Some(v) = landlock_env {
        cmd.env("AUTONOMY_LANDLOCK", v);
    }
    let o = cmd.args(["apply", &id]).output().expect("run");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[test]
fn finding_4_verify_cannot_change_a_path_that_needs_more_approvals() {
    for landlock_env in [None, Some("off")] {
        let env = verify_env("sh test_x.sh");
        let out = verify_attack(
            &env,
            "mkdir -p src/__pycache__ && echo c > src/__pycache__/app.pyc\necho 'replicas: 0' > deploy/prod.yml\necho 'count = 0' > infra/main.tf\necho '[exec]' >> autonomy.toml\n",
            landlock_env,
        );
        assert_eq!(out.code, 1, "landlock {landlock_env:?}: {out:?}");
        assert_eq!(env.read_str("deploy/prod.yml"), "replicas: 3\n");
        assert_eq!(env.read_str("infra/main.tf"), "count = 1\n");
        assert!(!env.read_str("autonomy.toml").contains("[exec]"));
        assert!(!env.exists("test_x.sh"), "the run was rolled back");
    }
}

#[test]
fn finding_4_verify_may_write_its_declared_output() {
    let env = verify_env("sh test_x.sh");
    // Verify may write inside folders its `writes` cover entirely, when they exist.
    env.write("src/__pycache__/old.pyc", "o\n");
    let out = verify_attack(
        &env,
        "mkdir -p src/__pycache__ && echo c > src/__pycache__/app.pyc\n",
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.read_str("src/__pycache__/app.pyc"), "c\n");
}

// ---------------------------------------------------------------------------------------
// Finding 20: invisible and bidirectional-control characters.

#[test]
fn finding_20_hidden_characters_in_paths_are_refused_and_never_shown_raw() {
    let env = exec_env("");
    for p in [
        "autonomy\u{200B}.toml",
        "readme\u{202E}gnp.sh",
        "a\u{2066}b",
        "src/\u{FEFF}main.rs",
        "doc\u{2028}x",
        "x\u{00A0}y",
        "deploy\u{2215}prod.yml",
        "tag\u{E0041}s",
    ] {
        let out = refused(&env, &write_plan(p), "contains");
        for c in ['\u{200B}', '\u{202E}', '\u{2066}', '\u{FEFF}', '\u{2028}'] {
            assert!(!out.stderr.contains(c), "raw U+{:04X} shown", c as u32);
        }
    }
    refused(
        &env,
        &exec_plan("true", &["gen\u{200B}/**"], ""),
        "contains",
    );
    refused(
        &env,
        &exec_plan("true", &["gen/**"], "cwd = \"g\u{202E}en\""),
        "contains",
    );
    // A title may hold them, but they are shown escaped, never raw.
    let id = env.plan(
        "title = \"fix \u{202E}txt.exe\"\n[[action]]\nkind = \"write\"\npath = \"a\"\ncontent = \"x\u{200B}y\\n\"\n",
    );
    for args in [vec!["preview", id.as_str()], vec!["status"], vec!["log"]] {
        let out = env.run(&args);
        assert_eq!(out.code, 0, "{out:?}");
        let all = out.all();
        assert!(
            !all.contains('\u{202E}') && !all.contains('\u{200B}'),
            "raw hidden character shown by {args:?}: {all}"
        );
    }
    let preview = env.run(&["preview", &id]).stdout;
    assert!(preview.contains("\\u{202e}"), "{preview}");
    assert!(preview.contains("x\\u{200b}y"), "{preview}");
}

// ---------------------------------------------------------------------------------------
// Finding 21: input bounds.

/// Run `autonomy plan FILE` and return (exit code, peak RSS of that process in KiB).
/// The peak is the kernel's high-water mark of the process's own memory after exec
/// (`VmHWM`, which only grows), read until it exits: `wait4`'s figure would include the
/// test process's memory, copied by the fork.
fn plan_rss(env: &Env, file: &Path) -> (i32, u64) {
    let mut child = env
        .std_cmd()
        .args(["plan", file.to_str().expect("utf8")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[test]
fn finding_21_a_100_mb_title_is_refused_early() {
    let env = Env::new();
    let file = env.tmp.path().join("huge-title.toml");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).expect("create"));
        f.write_all(b"title = \"").expect("write");
        let chunk = vec![b'T'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).expect("write");
        }
        f.write_all(b"\"\n[[action]]\nkind = \"write\"\npath = \"a\"\ncontent = \"x\"\n")
            .expect("write");
    }
    let (code, rss_kib) = plan_rss(&env, &file);
    assert_eq!(code, 1);
    eprintln!(
        "plan with a 100 MB title: exit {code}, peak RSS {} MiB",
        rss_kib / 1024
    );
    // The file is read once (100 MiB); nothing copies the title again.
    assert!(
        rss_kib < 160 << 10,
        "peak RSS {} MiB for a refused 100 MB title",
        rss_kib / 1024
    );
    assert!(env.plan_ids().is_empty());
}

#[test]
fn finding_21_every_field_is_bounded() {
    let env = exec_env("");
    let w = |extra: &str| {
        format!("{extra}[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"x\"\n")
    };
    refused(
        &env,
        &w(&format!("title = {:?}\n", "t".repeat(1025))),
        "title",
    );
    refused(
        &env,
        &w(&format!("title = \"t\"\nauthor = {:?}\n", "a".repeat(257))),
        "author",
    );
    refused(
        &env,
        &w(&format!(
            "title = \"t\"\ndescription = {:?}\n",
            "d".repeat(65 << 10)
        )),
        "description",
    );
    let many: Vec<String> = (0..1025).map(|i| format!("gen/{i}/**")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    refused(&env, &exec_plan("true", &many, ""), "touches");
    refused(
        &env,
        &exec_plan(
            "true",
            &["gen/**"],
            &format!("env = {{ BIG = {:?} }}", "v".repeat(33 << 10)),
        ),
        "env",
    );
    refused(
        &env,
        &write_plan(&format!("{}/x", "c".repeat(256))),
        "255 bytes",
    );
    refused(&env, &write_plan(&"p".repeat(4097)), "4096");
    // At the limits, fine.
    let ok = w(&format!("title = {:?}\n", "t".repeat(1024)));
    env.plan(&ok);
}

// ---------------------------------------------------------------------------------------
// Fuzz: the path checks never panic, and what they accept is normalised, inside, and
// never names a state folder; the glob overlap test never misses a real overlap.

mod fuzz {
    use autonomy::paths::RelPath;
    use autonomy::paths::{Globs, check_glob, forbidden_char, is_state_name, overlap};
    use proptest::prelude::*;

    fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(512);
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// Path-like text built from the pieces attacks are made of.
    fn pathish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("/".to_string()),
                Just("..".to_string()),
                Just(".".to_string()),
                Just(".autonomy".to_string()),
                Just(".AutoNomy".to_string()),
                Just(".autonomy.".to_string()),
                Just(".autonomy ".to_string()),
                Just("\\".to_string()),
                Just("*".to_string()),
                Just("**".to_string()),
                Just("?".to_string()),
                Just("[a-z]".to_string()),
                Just("{a,b}".to_string()),
                Just("\u{200B}".to_string()),
                Just("\u{202E}".to_string()),
                Just("\u{0}".to_string()),
                Just("\u{1b}".to_string()),
                "[a-zA-Z0-9_.-]{1,8}",
                any::<char>().prop_map(|c| c.to_string()),
            ],
            0..12,
        )
        .prop_map(|v| v.concat())
    }

    fn assert_safe(p: &str) {
        assert!(!p.is_empty() && !p.starts_with('/'), "{p:?}");
        for c in p.split('/') {
            assert!(!c.is_empty() && c != "." && c != "..", "{p:?}");
            assert!(!is_state_name(c), "{p:?} names a state folder");
            assert!(c.len() <= 255, "{p:?}");
        }
        assert!(p.chars().all(|c| forbidden_char(c).is_none()), "{p:?}");
        assert!(p.len() <= 4096);
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn relpath_accepts_only_safe_normal_paths(s in pathish()) {
            if let Ok(p) = RelPath::parse(&s) {
                assert_safe(p.as_str());
                // Normalised: parsing again is the identity.
                prop_assert_eq!(RelPath::parse(p.as_str()).map(|q| q.to_string()).ok(), Some(p.to_string()));
            }
        }

        #[test]
        fn relpath_any_string(s in any::<String>()) {
            if let Ok(p) = RelPath::parse(&s) {
                assert_safe(p.as_str());
            }
        }

        #[test]
        fn globs_are_bounded(g in pathish(), p in pathish()) {
            if let Ok(spec) = check_glob(&g) {
                for c in &spec.prefix {
                    assert!(!c.is_empty() && c != "." && c != ".." && !is_state_name(c), "{g:?}");
                }
                assert!(g.chars().all(|c| forbidden_char(c).is_none()));
                let globs = Globs::new(std::slice::from_ref(&g)).expect("checked glob compiles");
                if let Ok(rel) = RelPath::parse(&p) {
                    let _ = globs.covers(rel.as_str());
                }
                // Whatever the pattern, it never covers a state path.
                for state in [".autonomy/x", "a/.autonomy/allowed_signers", "b/.AUTONOMY", "c/.autonomy./j"] {
                    prop_assert!(!globs.covers(state), "{:?} covers {}", g, state);
                }
            }
        }

        #[test]
        fn overlap_never_misses(
            a in "[ab*?/]{1,6}",
            b in "[ab*?/]{1,6}",
            path in "[ab]{1,2}(/[ab]{1,2}){0,3}",
        ) {
            let (Ok(ga), Ok(gb)) = (autonomy::paths::compile(&a, false), autonomy::paths::compile(&b, false)) else {
                return Ok(());
            };
            if ga.is_match(&path) && gb.is_match(&path) {
                prop_assert!(overlap::may_overlap(&a, &b, false), "{} and {} both match {}", a, b, path);
            }
            let _ = overlap::may_overlap(&a, &b, true);
        }
    }
}
