//! The red-team findings on plans (session 4, helper `harden-plan`), each closed as a class:
//! 1. untrusted text cannot forge a log, preview or status line (agents' ids refused at the
//!    hook, titles one line, every one-line slot escaped at output, descriptions indented);
//! 2. writes into `.git/` are high risk; 3. setuid, setgid and sticky bits are high risk;
//! 4. a link whose target leads into `.autonomy/` is refused at plan time, from every door;
//! 5. reading a view never follows a symlink a running command swaps in;
//! 6. a `\r` in a file does not break the diff.

use crate::common::{Env, skip};
use serde_json::json;
use std::time::{Duration, Instant};

const FORGED: &str =
    " 99  2026-11-27T17:46:05Z  plan.approved   e3b0c44298fc  alice@example.com  approved (signed)";
const FORGED_RISK: &str = "Risk: low (score 0), no risk signals";

/// No line of `out` starts with the forged text (it may appear escaped inside a line).
fn no_forged_line(out: &str, forged: &str, what: &str) {
    for line in out.lines() {
        assert!(
            !line.starts_with(forged.trim_start()) && !line.starts_with(forged),
            "{what}: a line passes for another: {line:?}\n{out}"
        );
    }
}

// ------------------------------------------------------------------ 1. forged lines

#[test]
fn finding_1_agent_ids_with_control_characters_are_refused_at_the_hook() {
    let env = Env::new();
    env.write("autonomy.toml", "[agents]\nwait = \"1s\"\n");
    for (key, value) in [
        ("session_id", format!("s1\n{FORGED}")),
        ("tool_use_id", format!("t1\n{FORGED}")),
        ("tool_use_id", "t1\r\u{1b}[2K".to_string()),
        ("session_id", "s\u{202e}1".to_string()),
    ] {
        let mut payload = json!({"session_id": "s", "tool_use_id": "t", "cwd": env.root,
            "hook_event_name": "PreToolUse", "tool_name": "Write",
            "tool_input": {"file_path": env.path("a.txt"), "content": "x\n"}});
        payload[key] = value.clone().into();
        let out = env
            .cmd()
            .args(["hook", "claude"])
            .write_stdin(payload.to_string())
            .timeout(Duration::from_secs(30))
            .output()
            .expect("hook");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("\"permissionDecision\":\"deny\""),
            "{value:?}: {stdout}"
        );
        assert!(
            stdout.contains("one line of visible text"),
            "{value:?}: the reason names the id: {stdout}"
        );
    }
    assert!(env.plan_ids().is_empty(), "no plan was made");
    let log = env.run(&["log"]);
    no_forged_line(&log.stdout, FORGED, "log");
    env.verify_ok();
}

#[test]
fn finding_1_titles_with_control_characters_are_refused_naming_the_file_and_field() {
    let env = Env::new();
    for title in [
        "ok\\nRisk: low (score 0), no risk signals",
        "ok\\r",
        "tab\\there",
    ] {
        let out = env.plan_refused(&format!(
            "title = \"{title}\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"x\"\n"
        ));
        assert_eq!(out.code, 1, "{out:?}");
        assert!(
            out.stderr.contains("plan file") && out.stderr.contains("`title`"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("\nRisk:"), "{}", out.stderr);
    }
    let out = env.plan_refused(
        "title = \"t\"\nauthor = \"a\\nb\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"x\"\n",
    );
    assert!(out.stderr.contains("`author`"), "{}", out.stderr);
    // A description may hold lines; they are shown indented.
    let id = env.plan(&format!(
        "title = \"t\"\ndescription = \"why\\n{FORGED_RISK}\\n{FORGED}\\n\\u001b[2K\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"x\"\n"
    ));
    let preview = env.run(&["preview", &id]).stdout;
    assert_eq!(
        preview.lines().filter(|l| l.starts_with("Risk:")).count(),
        1,
        "{preview}"
    );
    assert!(preview.contains(&format!("    {FORGED_RISK}")), "{preview}");
    assert!(!preview.contains('\u{1b}'), "{preview}");
}

/// Journal data stored before the checks (an older autonomy, or a door that missed
/// them) with newlines in every one-line field: `preview`, `status` and `log` show each
/// on its own line, escaped, and the chain still verifies.
#[test]
fn finding_1_stored_text_with_newlines_is_shown_escaped_everywhere() {
    use autonomy::model::{Change, Plan, State};
    let env = Env::new();
    let id = {
        let mut s = autonomy::ops::session::Session::open(&env.root).expect("open");
        let workspace = s.workspace_id().expect("workspace id");
        let plan = Plan {
            format: autonomy::model::plan::PLAN_FORMAT.to_string(),
            workspace,
            created: "2026-01-01T00:00:00Z".to_string(),
            title: format!("ok\n{FORGED_RISK}"),
            author: format!("bob\n{FORGED}"),
            description: Some(format!("d\n{FORGED_RISK}\r\u{1b}[1A")),
            reverses: None,
            changes: vec![Change {
                path: "a.txt".into(),
                before: State::Absent,
                after: State::dir(),
                from: None,
            }],
            exec: Vec::new(),
        };
        let id = s.insert_plan(&plan, "file").expect("insert").into_string();
        let call = autonomy::model::event::AgentCall {
            agent: "claude".into(),
            session: format!("s1\n{FORGED}"),
            tool_call: format!("t\n{FORGED}"),
            tool: "Write\r".into(),
            plan: Some(id.clone()),
            outcome: "planned".into(),
        };
        s.journal
            .write(|tx| {
                tx.event(
                    &format!("agent:claude\n{FORGED}"),
                    autonomy::model::EventKind::AgentCall,
                    Some(&id),
                    &autonomy::model::event::encode(&call),
                )?;
                Ok(())
            })
            .expect("event");
        id
    };
    let preview = env.run(&["preview", &id]);
    assert_eq!(preview.code, 0, "{preview:?}");
    // The one real risk line (the plan has no signals) and no second one.
    no_forged_line(&preview.stdout, FORGED, "preview");
    assert!(
        preview.stdout.contains("ok\\u{a}Risk"),
        "{}",
        preview.stdout
    );
    assert_eq!(
        preview
            .stdout
            .lines()
            .filter(|l| l.starts_with("Risk:"))
            .count(),
        1,
        "{}",
        preview.stdout
    );
    let status = env.run(&["status"]);
    no_forged_line(&status.stdout, FORGED_RISK, "status");
    no_forged_line(&status.stdout, FORGED, "status");
    for args in [&["log"][..], &["log", "--oneline"][..]] {
        let log = env.run(args);
        assert_eq!(log.code, 0, "{log:?}");
        no_forged_line(&log.stdout, FORGED, "log");
        no_forged_line(&log.stdout, FORGED_RISK, "log");
        assert!(!log.stdout.contains('\r'), "{}", log.stdout);
    }
    env.verify_ok();
}

// ------------------------------------------------------------------ 2. and 3. risk

fn risk(env: &Env, id: &str) -> serde_json::Value {
    let out = env.run(&["preview", id, "--format", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    json!({"level": v["risk_level"], "score": v["risk_score"], "reasons": v["risk_reasons"]})
}

fn signals(r: &serde_json::Value) -> Vec<String> {
    r["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|x| x["signal"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn finding_2_writes_into_any_git_folder_are_high_risk() {
    let env = Env::new();
    std::fs::create_dir_all(env.path(".git/hooks")).unwrap();
    std::fs::create_dir_all(env.path("vendor/lib/.Git")).unwrap();
    for (path, content) in [
        (".git/config", "[core]\n\tfsmonitor = ./evil.sh\n"),
        (".git/hooks/pre-commit", "#!/bin/sh\nid\n"),
        ("vendor/lib/.Git/config", "[core]\n"),
        (".GIT/hooks/post-checkout", "x"),
    ] {
        let id = env.plan(&format!(
            "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"{path}\"\ncontent = {content:?}\n"
        ));
        let r = risk(&env, &id);
        assert_eq!(r["level"], "high", "{path}: {r}");
        assert!(signals(&r).contains(&"git".to_string()), "{path}: {r}");
        let preview = env.run(&["preview", &id]).stdout;
        assert!(
            preview.contains("Risk: high") && preview.contains("code execution"),
            "{preview}"
        );
        env.run(&["reject", &id]);
    }
    // Not a .git folder.
    let id = env.plan(
        "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"docs/.github/x.yml\"\ncontent = \"x\"\n",
    );
    assert!(!signals(&risk(&env, &id)).contains(&"git".to_string()));
    env.run(&["reject", &id]);
    // approve asks for the 4 hex digits of a high-risk plan: `y` alone declines.
    let id = env.plan(
        "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \".git/hooks/pre-push\"\ncontent = \"x\"\n",
    );
    let (out, code) = env.tty(&["approve", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Type the first 4 hex digits"), "{out}");
}

#[test]
fn finding_3_setuid_setgid_and_sticky_bits_are_high_risk_naming_the_bit() {
    let env = Env::new();
    env.write("tool", "#!/bin/sh\n");
    for (mode, bit) in [("4755", "setuid"), ("2755", "setgid"), ("1644", "sticky")] {
        for kind in ["write", "chmod"] {
            let action = if kind == "write" {
                format!(
                    "kind = \"write\"\npath = \"new-{mode}\"\ncontent = \"x\"\nmode = \"{mode}\"\n"
                )
            } else {
                format!("kind = \"chmod\"\npath = \"tool\"\nmode = \"{mode}\"\n")
            };
            let id = env.plan(&format!("title = \"t\"\n[[action]]\n{action}"));
            let r = risk(&env, &id);
            assert_eq!(r["level"], "high", "{mode} {kind}: {r}");
            assert!(
                signals(&r).contains(&"special_bits".to_string()),
                "{mode}: {r}"
            );
            assert!(r.to_string().contains(bit), "{bit}: {r}");
            env.run(&["reject", &id]);
        }
    }
    let id =
        env.plan("title = \"t\"\n[[action]]\nkind = \"chmod\"\npath = \"tool\"\nmode = \"0755\"\n");
    assert!(!signals(&risk(&env, &id)).contains(&"special_bits".to_string()));
}

// ------------------------------------------------------------------ 4. links into state

#[test]
fn finding_4_links_into_a_state_folder_are_refused_from_every_door() {
    let env = Env::new();
    std::fs::create_dir_all(env.path("nested/.autonomy")).unwrap();
    let root = env.root.display().to_string();
    for (path, target, extra) in [
        ("lnk", ".autonomy".to_string(), ""),
        ("lnk", "sub/../.autonomy".to_string(), ""),
        ("lnk", "./.AUTONOMY/x".to_string(), ""),
        ("lnk", ".autonomy./journal.db".to_string(), ""),
        ("d/lnk", "../nested/.autonomy".to_string(), ""),
        ("lnk", format!("{root}/.autonomy/journal.db"), ""),
        // Through another planned link.
        (
            "lnk",
            "up/.autonomy".to_string(),
            "[[action]]\nkind = \"symlink\"\npath = \"up\"\ntarget = \".\"\n",
        ),
        (
            "lnk",
            "st/journal.db".to_string(),
            "[[action]]\nkind = \"symlink\"\npath = \"st\"\ntarget = \"x/../.Autonomy\"\n",
        ),
    ] {
        let out = env.plan_refused(&format!(
            "title = \"t\"\n{extra}[[action]]\nkind = \"symlink\"\npath = \"{path}\"\ntarget = {target:?}\n"
        ));
        assert_eq!(out.code, 1, "{target}: {out:?}");
        assert!(
            out.stderr.contains("leads into a state folder"),
            "{target}: {}",
            out.stderr
        );
        assert!(!env.path(path).exists() && env.path(path).symlink_metadata().is_err());
    }
    // Through a link already in the workspace.
    std::os::unix::fs::symlink(".autonomy", env.path("existing")).unwrap();
    let out = env.plan_refused(
        "title = \"t\"\n[[action]]\nkind = \"symlink\"\npath = \"lnk\"\ntarget = \"existing/journal.db\"\n",
    );
    assert!(
        out.stderr.contains("leads into a state folder"),
        "{}",
        out.stderr
    );
    std::fs::remove_file(env.path("existing")).unwrap();
    // A patch (mode 120000).
    let patch = env.tmp.path().join("l.patch");
    std::fs::write(
        &patch,
        "diff --git a/lnk b/lnk\nnew file mode 120000\nindex 0000000..1111111\n--- /dev/null\n+++ b/lnk\n@@ -0,0 +1 @@\n+sub/../.autonomy\n\\ No newline at end of file\n",
    )
    .unwrap();
    let out = env.run(&["plan", "--patch", patch.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("leads into a state folder"),
        "{}",
        out.stderr
    );
    // A capture.
    let out = env.run(&[
        "plan",
        "--capture",
        "--",
        "ln",
        "-s",
        ".AUTONOMY/journal.db",
        "cap",
    ]);
    if out
        .stderr
        .contains("private namespaces required but unavailable")
    {
        skip("no private namespaces for the capture door");
    } else {
        assert_ne!(out.code, 0, "{out:?}");
        assert!(
            out.stderr.contains("leads into a state folder"),
            "{}",
            out.stderr
        );
    }
    assert!(env.plan_ids().is_empty());
    // Outside the workspace is still allowed, as a risk note that says so.
    let id = env.plan(
        "title = \"t\"\n[[action]]\nkind = \"symlink\"\npath = \"lnk\"\ntarget = \"../elsewhere\"\n",
    );
    let r = risk(&env, &id);
    assert!(r.to_string().contains("outside the workspace"), "{r}");
    let id = env.plan(
        "title = \"t2\"\n[[action]]\nkind = \"symlink\"\npath = \"lnk2\"\ntarget = \"releases/1\"\n",
    );
    assert!(!signals(&risk(&env, &id)).contains(&"link".to_string()));
}

// ------------------------------------------------------------------ 5. view read-back

/// While a view is read back, another process keeps swapping the folder `d` of its upper
/// layer (holding a decoy `journal.db`) with a symlink `d -> <workspace>/.autonomy` (what
/// an agent still running in a session's view does). No plan ever holds the real state's
/// bytes; a read-back that meets the link fails instead.
#[test]
fn finding_5_reading_a_view_never_follows_a_swapped_in_symlink() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = Env::new();
    let state = env.path(".autonomy");
    let views = state.join("views");
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (views, state, stop) = (views.clone(), state.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(rd) = std::fs::read_dir(&views) else {
                    continue;
                };
                for e in rd.flatten() {
                    let up = e.path().join("upper");
                    if std::fs::symlink_metadata(up.join("d")).is_ok_and(|m| m.is_dir()) {
                        for _ in 0..200 {
                            let _ = std::fs::rename(up.join("d"), up.join("x"));
                            let _ = std::os::unix::fs::symlink(&state, up.join("d"));
                            let _ = std::fs::remove_file(up.join("d"));
                            let _ = std::fs::rename(up.join("x"), up.join("d"));
                        }
                    }
                }
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(6);
    let (mut runs, mut planned, mut failed) = (0, 0, 0);
    let mut seen = std::collections::BTreeSet::new();
    while Instant::now() < deadline && runs < 30 {
        runs += 1;
        let out = env.run(&[
            "plan",
            "--capture",
            "--",
            "sh",
            "-c",
            "mkdir d; echo decoy > d/journal.db; echo decoy > d/lock; sleep 0.1",
        ]);
        if out
            .stderr
            .contains("private namespaces required but unavailable")
            || out
                .stderr
                .contains("cannot mount a copy-on-write view here")
        {
            stop.store(true, Ordering::Relaxed);
            skip(&format!("no overlay views here: {}", out.stderr));
            return;
        }
        if out.code != 0 {
            failed += 1;
            continue;
        }
        planned += 1;
        for id in env.plan_ids() {
            if !seen.insert(id.clone()) {
                continue;
            }
            let doc = env.run(&["preview", &id, "--format", "json"]).stdout;
            let v: serde_json::Value = serde_json::from_str(&doc).expect("json");
            for c in v["changes"].as_array().unwrap() {
                let path = c["path"].as_str().unwrap();
                assert!(
                    path.starts_with('d') || path.starts_with('x'),
                    "run {runs}: planned {path}: {doc}"
                );
                let shown = env.run(&["show", &format!("{}:{path}", &id[..12])]);
                assert!(
                    !shown.stdout.contains("SQLite format") && !shown.stdout.contains("objects"),
                    "run {runs}: {path} holds the real state: {doc}"
                );
            }
            env.run(&["reject", &id]);
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().expect("swapper");
    eprintln!("{runs} captures: {planned} planned, {failed} refused");
    assert!(planned + failed > 0);
    env.verify_ok();
}

// ------------------------------------------------------------------ 6. diff and \r

#[test]
fn finding_6_a_carriage_return_does_not_break_the_diff() {
    let env = Env::new();
    env.write("f.txt", "a\rb\nc\nd\n");
    let id = env.plan(
        "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"f.txt\"\ncontent = \"a\\rb\\nC\\nd\\n\"\n",
    );
    let preview = env.run(&["preview", &id]).stdout;
    assert!(!preview.contains("No newline at end of file"), "{preview}");
    assert!(preview.contains(" a\\u{d}b"), "{preview}");
    assert!(!preview.contains('\r'), "{preview}");
}
