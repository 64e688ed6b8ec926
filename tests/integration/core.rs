//! The core loop end to end: init, plan, preview, approve, apply, rollback, log, status.

use crate::common::*;

const SIMPLE: &str = r#"
title = "Bump version"
[[action]]
kind = "write"
path = "VERSION"
content = "1.2.0\n"
"#;

#[test]
fn plan_approve_apply_rollback_round_trip() {
    let env = Env::new();
    env.write("VERSION", "1.1.0\n");
    let before = env.tree();
    let id = env.plan(SIMPLE);
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("VERSION"), "1.2.0\n");
    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.tree(), before);
    env.verify_ok();
    let kinds = env.event_kinds();
    for k in [
        "init",
        "plan.created",
        "approval.granted",
        "run.started",
        "run.step",
        "run.committed",
    ] {
        assert!(kinds.iter().any(|x| x == k), "missing {k} in {kinds:?}");
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn kinds_for(env: &Env, plan: &str) -> Vec<String> {
    env.events()
        .iter()
        .filter(|e| e["plan"] == plan)
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

fn ids_of(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect()
}

/// A plan of one write, with a distinct title (two identical plans made in the same second
/// would get the same id).
fn write_plan(title: &str, path: &str, content: &str) -> String {
    format!(
        "title = {title:?}\n[[action]]\nkind = \"write\"\npath = {path:?}\ncontent = {content:?}\n"
    )
}

// ---------------------------------------------------------------------------------------
// init

#[test]
fn init_creates_a_private_state_dir_and_refuses_a_second_init() {
    let env = Env::bare();
    let out = env.run(&["init"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains(".autonomy"), "{out:?}");
    assert_eq!(env.mode(".autonomy"), 0o700);
    assert!(env.exists(".autonomy/journal.db"));
    let kinds = env.event_kinds();
    assert_eq!(kinds, vec!["init"]);
    let head = env.run(&["log", "--head"]).stdout;

    let again = env.run(&["init"]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("already holds"), "{again:?}");
    // Nothing was reset: the same journal, the same head.
    assert_eq!(env.run(&["log", "--head"]).stdout, head);
    env.verify_ok();
}

#[test]
fn commands_outside_a_workspace_fail_and_say_how_to_start() {
    let env = Env::bare();
    let out = env.run(&["status"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("autonomy init"), "{out:?}");
    let bad_dir = env.run(&["-C", "/nonexistent/dir", "status"]);
    assert_eq!(bad_dir.code, 2, "{bad_dir:?}");
    assert!(bad_dir.stderr.contains("/nonexistent/dir"), "{bad_dir:?}");
    let usage = env.run(&["apply", "--no-such-flag"]);
    assert_eq!(usage.code, 2, "{usage:?}");
}

// ---------------------------------------------------------------------------------------
// plan

#[test]
fn plan_from_a_file_and_from_stdin_prints_a_12_hex_id() {
    let env = Env::new();
    env.write("VERSION", "1.1.0\n");
    let before = env.tree();

    let file = env.plan_file(write_plan("from file", "VERSION", "1.2.0\n"));
    let out = env.run(&["plan", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let id1 = out.stdout.trim_end_matches('\n');
    assert!(
        is_hex(id1, 12),
        "stdout is not just a 12-hex id: {:?}",
        out.stdout
    );
    assert_eq!(out.stdout, format!("{id1}\n"));
    assert!(
        out.stderr.contains(id1) && out.stderr.contains("1 modified"),
        "{out:?}"
    );

    let out2 = env.run_stdin(
        &["plan", "-"],
        &write_plan("from stdin", "VERSION", "1.3.0\n"),
    );
    assert_eq!(out2.code, 0, "{out2:?}");
    let id2 = out2.stdout.trim();
    assert!(is_hex(id2, 12), "{out2:?}");
    assert_ne!(id1, id2);

    let file3 = env.plan_file(write_plan("from file", "VERSION", "2.0.0\n"));
    let out3 = env.run(&["plan", file3.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out3.code, 0, "{out3:?}");
    let v: serde_json::Value = serde_json::from_str(&out3.stdout).expect("one JSON document");
    assert_eq!(v["format_version"], 1);
    let full = v["plan"]["id"].as_str().expect("plan.id");
    assert!(is_hex(full, 64), "{full}");
    assert_eq!(v["plan"]["title"], "from file");
    assert_eq!(v["plan"]["changes"], 1);

    // Planning writes nothing in the workspace; all three plans are pending.
    assert_eq!(env.tree(), before);
    let status = env.status_json();
    assert_eq!(ids_of(&status["pending"]).len(), 3);
    assert!(ids_of(&status["pending"]).iter().any(|i| i == full));
    env.verify_ok();
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on): pins AUTONOMY_NOW"
)]
fn planning_the_same_file_twice_in_one_second_gives_the_same_plan() {
    let env = Env::new();
    env.write("VERSION", "1.1.0\n");
    let file = env.plan_file(write_plan("twice", "VERSION", "1.2.0\n"));
    let plan = || {
        let out = env
            .cmd()
            .env("AUTONOMY_NOW", "2030-01-02T03:04:05Z")
            .args(["plan", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let a = plan();
    let b = plan();
    assert_eq!(a, b);
    assert_eq!(env.plan_ids().len(), 1, "one plan, one plan.created event");
    env.verify_ok();
}

#[test]
fn plan_of_a_missing_file_names_it() {
    let env = Env::new();
    let out = env.run(&["plan", "nope.toml"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("nope.toml"), "{out:?}");
    assert!(env.plan_ids().is_empty());
}

// ---------------------------------------------------------------------------------------
// preview

#[test]
fn preview_text_stat_json_and_default_plan() {
    let env = Env::new();
    env.write("VERSION", "1.1.0\n");
    env.write("notes.txt", "one\ntwo\nthree\n");
    let first = env.plan(&write_plan("First plan", "VERSION", "1.2.0\n"));
    let second = env.plan(
        r#"
title = "Second plan"
author = "agent:bot"
[[action]]
kind = "edit"
path = "notes.txt"
find = "two"
replace = "TWO"
[[action]]
kind = "write"
path = "new/file.txt"
content = "hello\n"
"#,
    );

    let text = env.run(&["preview", &second]);
    assert_eq!(text.code, 0, "{text:?}");
    let t = &text.stdout;
    assert!(t.contains(&format!("plan {}", &second[..12])), "{t}");
    assert!(t.contains("Title:     Second plan"), "{t}");
    assert!(t.contains("Author:    agent:bot"), "{t}");
    assert!(t.contains("Status:    pending"), "{t}");
    assert!(t.contains("Approvals: default: 0 of 1 approval"), "{t}");
    assert!(t.contains("-two") && t.contains("+TWO"), "{t}");
    assert!(
        t.contains("new file new/file.txt") && t.contains("+hello"),
        "{t}"
    );
    assert!(t.contains("new file mode 0644"), "{t}");

    let stat = env.run(&["preview", &second, "--stat"]);
    assert_eq!(stat.code, 0, "{stat:?}");
    assert!(
        stat.stdout.contains("notes.txt") && stat.stdout.contains("+1 -1"),
        "{stat:?}"
    );
    assert!(stat.stdout.contains("new/file.txt"), "{stat:?}");
    assert!(
        !stat.stdout.contains("+TWO"),
        "--stat shows no diff: {stat:?}"
    );

    let json = env.run(&["preview", &second[..8], "--format", "json"]);
    assert_eq!(json.code, 0, "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["format_version"], 1);
    assert_eq!(v["plan"]["id"], second.as_str());
    assert_eq!(v["plan"]["title"], "Second plan");
    assert_eq!(v["plan"]["author"], "agent:bot");
    assert_eq!(v["plan"]["status"], "pending");
    assert_eq!(v["approvals"]["satisfied"], false);
    assert_eq!(v["approvals"]["requirements"][0]["needed"], 1);
    assert_eq!(v["approvals"]["requirements"][0]["held"], 0);
    let changes = v["changes"].as_array().expect("changes");
    let by_path = |p: &str| {
        changes
            .iter()
            .find(|c| c["path"] == p)
            .unwrap_or_else(|| panic!("no change for {p} in {changes:?}"))
    };
    assert_eq!(by_path("notes.txt")["action"], "modify");
    assert_eq!(by_path("new")["action"], "mkdir");
    assert_eq!(by_path("new/file.txt")["action"], "create");
    assert_eq!(by_path("new/file.txt")["after"]["mode"], 0o644);
    assert!(
        by_path("notes.txt")["diff"]
            .as_str()
            .unwrap()
            .contains("+TWO")
    );
    assert_eq!(v["stat"]["files"], 3);

    // Default: the newest pending plan; once it is approved, the next newest pending one.
    let default = env.run(&["preview", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&default.stdout).expect("json");
    assert_eq!(v["plan"]["id"], second.as_str());
    env.approve(&second);
    let default = env.run(&["preview", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&default.stdout).expect("json");
    assert_eq!(v["plan"]["id"], first.as_str());
    let approved = env.run(&["preview", &second]);
    assert!(
        approved.stdout.contains("Status:    approved"),
        "{approved:?}"
    );
    assert!(
        approved.stdout.contains("approved by tester@example.com"),
        "{approved:?}"
    );
    assert!(
        kinds_for(&env, &second)
            .iter()
            .any(|k| k == "plan.previewed")
    );
    env.verify_ok();
}

#[test]
fn preview_with_nothing_pending_is_a_usage_error() {
    let env = Env::new();
    let out = env.run(&["preview"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no pending plan"), "{out:?}");
}

#[test]
fn unknown_and_ambiguous_prefixes_are_usage_errors_listing_candidates() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan(&write_plan("real plan", "a.txt", "b\n"));

    // Unknown: a prefix no plan has.
    let flipped = format!(
        "{}{}",
        if id.starts_with('0') { "1" } else { "0" },
        &id[1..12]
    );
    for cmd in ["preview", "approve", "apply", "reject", "log"] {
        let out = env.run(&[cmd, &flipped]);
        assert_eq!(out.code, 2, "{cmd}: {out:?}");
        assert!(out.stderr.contains(&flipped), "{cmd}: {out:?}");
    }
    // Not hex, or too short.
    assert_eq!(env.run(&["preview", "xyz!"]).code, 2);
    assert_eq!(env.run(&["preview", &id[..3]]).code, 2);

    // Ambiguous: a second plan sharing the first 4 hex digits. Finding a real collision
    // would take hundreds of plans, so a second row is added to the plans table directly
    // (resolution only reads ids; this workspace is not verified afterwards).
    let twin = format!("{}{}", &id[..4], "f".repeat(60));
    assert_ne!(twin, id);
    let db = rusqlite::Connection::open(env.path(".autonomy/journal.db")).expect("open journal");
    db.execute(
        "INSERT INTO plans (id, seq, created, title, author, status, reverses, canonical)
         SELECT ?1, seq + 1000, created, 'twin plan', author, status, NULL, canonical
         FROM plans WHERE id = ?2",
        [&twin, &id],
    )
    .expect("insert twin");
    drop(db);
    let out = env.run(&["preview", &id[..4]]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("ambiguous"), "{out:?}");
    assert!(
        out.stderr.contains(&id[..12]) && out.stderr.contains(&twin[..12]),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("twin plan") && out.stderr.contains("real plan"),
        "{out:?}"
    );
    // One more digit picks one.
    let one = env.run(&["preview", &id[..12], "--format", "json"]);
    assert_eq!(one.code, 0, "{one:?}");
}

// ---------------------------------------------------------------------------------------
// approve and reject

#[test]
fn approve_without_a_terminal_refuses_with_a_hint() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan(&write_plan("needs approval", "a.txt", "b\n"));
    let out = env.run(&["approve", &id]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("needs a terminal"), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("autonomy approve {}", &id[..12])),
        "{out:?}"
    );
    assert!(out.stderr.contains("--approval FILE"), "{out:?}");
    let kinds = kinds_for(&env, &id);
    assert!(
        !kinds.iter().any(|k| k.starts_with("approval.")),
        "{kinds:?}"
    );
    assert_eq!(ids_of(&env.status_json()["pending"]), vec![id]);
}

#[test]
fn approve_at_a_terminal_records_yes_and_no() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan(&write_plan("decide", "a.txt", "b\n"));

    let (out, code) = env.tty(&["approve", &id], "n");
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("declined"), "{out}");
    assert!(
        kinds_for(&env, &id)
            .iter()
            .any(|k| k == "approval.declined")
    );
    assert_eq!(ids_of(&env.status_json()["pending"]), vec![id.clone()]);
    // Declining is not final.
    let (out, code) = env.tty(&["approve", &id], "y");
    assert_eq!(code, 0, "{out}");
    let granted: Vec<_> = env
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "approval.granted" && e["plan"] == id.as_str())
        .collect();
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["actor"], ACTOR);
    assert_eq!(granted[0]["data"]["principal"], ACTOR);
    assert_eq!(granted[0]["data"]["method"], "terminal");
    assert_eq!(ids_of(&env.status_json()["approved"]), vec![id.clone()]);
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("a.txt"), "b\n");
    env.verify_ok();
}

#[test]
fn a_rejected_plan_can_no_longer_be_approved_or_applied() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let before = env.tree();
    let id = env.plan(&write_plan("to reject", "a.txt", "b\n"));
    let out = env.run(&["reject", &id, "--reason", "wrong file"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains(&id[..12]), "{out:?}");
    let ev = env
        .events()
        .into_iter()
        .find(|e| e["kind"] == "plan.rejected")
        .expect("plan.rejected");
    assert_eq!(ev["plan"], id.as_str());
    assert_eq!(ev["data"]["reason"], "wrong file");

    let apply = env.run(&["apply", &id]);
    assert_eq!(apply.code, 3, "{apply:?}");
    assert!(apply.stderr.contains("rejected"), "{apply:?}");
    let (out, code) = env.tty_no_prompt(&["approve", &id]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("rejected"), "{out}");
    assert_eq!(env.tree(), before);
    // Rejecting again is fine and changes nothing.
    assert_eq!(env.run(&["reject", &id]).code, 0);
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// apply

#[test]
fn apply_without_approval_and_without_a_terminal_exits_3() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let before = env.tree();
    let id = env.plan(&write_plan("unapproved", "a.txt", "b\n"));
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("not approved"), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("autonomy approve {}", &id[..12])),
        "{out:?}"
    );
    assert_eq!(env.tree(), before);
    assert!(!env.event_kinds().iter().any(|k| k.starts_with("run.")));
    // Without PLAN and with nothing approved: a usage error that says what to do.
    let out = env.run(&["apply"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no approved plan"), "{out:?}");
}

#[test]
fn apply_refuses_drift_naming_every_drifted_path_and_changes_nothing() {
    let env = Env::new();
    env.write("edit.txt", "alpha\nbeta\n");
    env.write("gone.txt", "to delete\n");
    env.write("keep/mode.sh", "#!/bin/sh\n");
    env.write("fine.txt", "untouched by drift\n");
    let id = env.plan_approved(
        r#"
title = "Drift target"
[[action]]
kind = "edit"
path = "edit.txt"
find = "beta"
replace = "BETA"
[[action]]
kind = "delete"
path = "gone.txt"
[[action]]
kind = "write"
path = "created.txt"
content = "new\n"
[[action]]
kind = "chmod"
path = "keep/mode.sh"
executable = true
[[action]]
kind = "write"
path = "fine.txt"
content = "changed by plan\n"
"#,
    );
    // Drift every kind of way except on fine.txt.
    env.write("edit.txt", "alpha\nbeta\ngamma\n");
    std::fs::remove_file(env.path("gone.txt")).unwrap();
    env.write("created.txt", "someone else made this\n");
    env.set_mode("keep/mode.sh", 0o600);
    let drifted = env.tree();

    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 4, "{out:?}");
    for p in ["edit.txt", "gone.txt", "created.txt", "keep/mode.sh"] {
        assert!(
            out.stderr.contains(p),
            "drifted path {p} not named: {out:?}"
        );
    }
    assert!(out.stderr.contains("4 paths changed"), "{out:?}");
    assert!(!out.stderr.contains("fine.txt"), "{out:?}");
    assert_eq!(env.tree(), drifted, "{}", tree_diff(&env.tree(), &drifted));
    assert!(!env.event_kinds().iter().any(|k| k.starts_with("run.")));
    // The plan stays approved: once the drift is undone, it applies.
    env.write("edit.txt", "alpha\nbeta\n");
    env.write("gone.txt", "to delete\n");
    std::fs::remove_file(env.path("created.txt")).unwrap();
    env.set_mode("keep/mode.sh", 0o644);
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.read_str("edit.txt"), "alpha\nBETA\n");
    assert_eq!(env.mode("keep/mode.sh"), 0o755);
    env.verify_ok();
}

#[test]
fn apply_is_busy_while_another_process_holds_the_lock_and_waits_with_wait() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let before = env.tree();
    let id = env.plan_approved(&write_plan("locked", "a.txt", "b\n"));
    let guard = env.hold_lock();
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 5, "{out:?}");
    assert!(out.stderr.contains(".autonomy/lock"), "{out:?}");
    assert!(out.stderr.contains("--wait"), "{out:?}");
    assert_eq!(env.tree(), before);
    // Other writers are busy too, readers are not.
    assert_eq!(env.run(&["recover"]).code, 5);
    assert_eq!(env.run(&["status"]).code, 0);

    // --wait: started while the lock is held, succeeds once it is released.
    let mut child = env
        .std_cmd()
        .args(["apply", &id, "--wait", "20"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "apply --wait did not wait"
    );
    assert_eq!(env.read_str("a.txt"), "a\n");
    drop(guard);
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.read_str("a.txt"), "b\n");
    env.verify_ok();
}

#[test]
fn apply_with_wait_gives_up_with_exit_5() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan_approved(&write_plan("locked long", "a.txt", "b\n"));
    let _guard = env.hold_lock();
    let t = std::time::Instant::now();
    let out = env.run(&["apply", &id, "--wait", "1"]);
    assert_eq!(out.code, 5, "{out:?}");
    assert!(t.elapsed() >= std::time::Duration::from_millis(900));
    assert_eq!(env.read_str("a.txt"), "a\n");
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn an_interrupted_run_blocks_everything_until_recover_which_is_idempotent() {
    let env = Env::new();
    for i in 0..5 {
        env.write(&format!("f{i}.txt"), format!("old {i}\n"));
    }
    let before = env.tree();
    let toml = (0..5).fold(String::from("title = \"five\"\n"), |mut s, i| {
        s.push_str(&format!(
            "[[action]]\nkind = \"write\"\npath = \"f{i}.txt\"\ncontent = \"new {i}\\n\"\n"
        ));
        s
    });
    let id = env.plan_approved(&toml);
    let other = env.plan_approved(&write_plan("other", "other.txt", "x\n"));

    // Abort the process right after the third rename.
    let status = env
        .std_cmd()
        .args(["apply", &id])
        .env("AUTONOMY_FAILPOINT", "step.after_rename:3")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run");
    assert!(status.code().is_none(), "apply was not aborted: {status:?}");
    let half = env.tree();
    assert_ne!(half, before, "the failpoint fired before anything changed");

    // Every writer refuses with exit 6 and sends the user to recover.
    for args in [vec!["apply", &id], vec!["apply", &other], vec!["plan", "-"]] {
        let out = env.run_stdin(&args, &write_plan("blocked", "z.txt", "z"));
        assert_eq!(out.code, 6, "{args:?}: {out:?}");
        assert!(out.stderr.contains("autonomy recover"), "{out:?}");
    }
    let verify = env.run(&["verify"]);
    assert_eq!(verify.code, 6, "{verify:?}");
    let status = env.status_json();
    assert_eq!(status["interrupted_run"]["plan"], id.as_str());
    assert_eq!(env.tree(), half);

    let out = env.run(&["recover"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("Recovered run"), "{out:?}");
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
    assert!(env.event_kinds().iter().any(|k| k == "run.recovered"));
    let again = env.run(&["recover"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("Nothing to recover"), "{again:?}");
    assert_eq!(env.tree(), before);
    assert!(env.status_json()["interrupted_run"].is_null());
    env.verify_ok();

    // The plan is still approved and applies now; then never again.
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    for i in 0..5 {
        assert_eq!(env.read_str(&format!("f{i}.txt")), format!("new {i}\n"));
    }
    let twice = env.run(&["apply", &id]);
    assert_eq!(twice.code, 1, "{twice:?}");
    assert!(twice.stderr.contains("already applied"), "{twice:?}");
    env.verify_ok();
}

#[test]
fn recover_with_nothing_to_recover_exits_0() {
    let env = Env::new();
    let out = env.run(&["recover"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("Nothing to recover"), "{out:?}");
    let json = env.run(&["recover", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert!(v["recovered"].is_null());
}

// ---------------------------------------------------------------------------------------
// rollback

#[test]
fn rollback_shows_the_reverse_diff_and_restores_bytes_and_modes() {
    let env = Env::new();
    env.write("VERSION", "1.1.0\n");
    env.write("bin/run.sh", "#!/bin/sh\necho hi\n");
    env.set_mode("bin/run.sh", 0o750);
    env.write("old.txt", "remove me\n");
    env.set_mode("old.txt", 0o600);
    let before = env.tree();
    let id = env.plan_approved(
        r##"
title = "Several"
[[action]]
kind = "write"
path = "VERSION"
content = "1.2.0\n"
[[action]]
kind = "edit"
path = "bin/run.sh"
find = "hi"
replace = "hello"
[[action]]
kind = "delete"
path = "old.txt"
[[action]]
kind = "write"
path = "docs/new/readme.md"
content = "# new\n"
"##,
    );
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.mode("bin/run.sh"), 0o750);
    assert_eq!(env.mode("docs/new/readme.md"), 0o644);
    let after = env.tree();

    // Without a terminal the rollback is not approved.
    let out = env.run(&["rollback", &id]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(env.tree(), after);

    let (out, code) = env.tty(&["rollback"], "y");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("Reverses:  plan {}", &id[..12])),
        "{out}"
    );
    assert!(out.contains("-1.2.0") && out.contains("+1.1.0"), "{out}");
    assert!(
        out.contains("-echo hello") && out.contains("+echo hi"),
        "{out}"
    );
    assert!(out.contains("+remove me"), "{out}");
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
    assert_eq!(env.mode("old.txt"), 0o600);
    assert!(!env.exists("docs"), "new parent folders are removed again");

    let status = env.status_json();
    assert!(ids_of(&status["applied"]).iter().all(|i| i != &id));
    let again = env.run(&["rollback", &id]);
    assert_eq!(again.code, 1, "{again:?}");
    assert!(again.stderr.contains("rolled back"), "{again:?}");
    env.verify_ok();
}

#[test]
fn rollback_plan_only_prints_an_id_that_a_later_rollback_reuses() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let before = env.tree();
    let id = env.plan_approved(&write_plan("undo me", "a.txt", "b\n"));
    env.cmd().args(["apply", &id]).assert().success();

    let out = env.run(&["rollback", &id, "--plan-only"]);
    assert_eq!(out.code, 0, "{out:?}");
    let rev = out.stdout.trim().to_string();
    assert!(is_hex(&rev, 12), "{out:?}");
    assert_eq!(env.read_str("a.txt"), "b\n", "--plan-only changes nothing");
    let plans = env.plan_ids().len();
    // Asking again gives the same pending reverse plan.
    let out2 = env.run(&["rollback", &id[..8], "--plan-only"]);
    assert_eq!(out2.stdout.trim(), rev, "{out2:?}");
    assert_eq!(env.plan_ids().len(), plans);
    let v: serde_json::Value = serde_json::from_slice(
        &env.cmd()
            .args(["preview", &rev, "--format", "json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(v["plan"]["reverses"], id.as_str());
    assert_eq!(v["plan"]["status"], "pending");

    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("Using the pending rollback plan {rev}")),
        "{out}"
    );
    assert_eq!(
        env.plan_ids().len(),
        plans,
        "no second reverse plan was made"
    );
    assert_eq!(env.tree(), before);
    let applied = ids_of(&env.status_json()["applied"]);
    assert!(applied.iter().any(|a| a.starts_with(&rev)), "{applied:?}");
    env.verify_ok();
}

#[test]
fn rollback_refuses_to_clobber_later_edits_and_names_them() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    env.write("b.txt", "b\n");
    env.write("c.txt", "c\n");
    let id = env.plan_approved(
        r#"
title = "Three files"
[[action]]
kind = "write"
path = "a.txt"
content = "A\n"
[[action]]
kind = "write"
path = "b.txt"
content = "B\n"
[[action]]
kind = "delete"
path = "c.txt"
"#,
    );
    env.cmd().args(["apply", &id]).assert().success();
    env.write("a.txt", "A, and later work\n");
    env.write("c.txt", "recreated by someone\n");
    let edited = env.tree();
    let plans = env.plan_ids().len();

    let out = env.run(&["rollback", &id]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("a.txt") && out.stderr.contains("c.txt"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("b.txt"), "{out:?}");
    assert!(out.stderr.contains("2 paths changed"), "{out:?}");
    assert_eq!(env.tree(), edited);
    assert_eq!(env.plan_ids().len(), plans, "no reverse plan is made");
    let (out, code) = env.tty_no_prompt(&["rollback", &id]);
    assert_eq!(code, 4, "{out}");
    assert_eq!(env.tree(), edited);
    env.verify_ok();
}

#[test]
fn rolling_back_a_rollback_reapplies_the_plan() {
    let env = Env::new();
    env.write("x/y.txt", "one\n");
    let before = env.tree();
    let id = env.plan_approved(
        r#"
title = "Move and write"
[[action]]
kind = "move"
from = "x/y.txt"
to = "z/y.txt"
[[action]]
kind = "write"
path = "x/new.txt"
content = "two\n"
"#,
    );
    env.cmd().args(["apply", &id]).assert().success();
    let after = env.tree();
    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.tree(), before);
    let rev = env.status_json()["applied"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (out, code) = env.tty(&["rollback", &rev], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.tree(), after, "{}", tree_diff(&env.tree(), &after));
    // And back once more, naming it: a bare `rollback` never picks a rollback plan.
    let rev2 = env.status_json()["applied"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (out, code) = env.tty(&["rollback", &rev2], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.tree(), before);
    env.verify_ok();
}

#[test]
fn rollback_with_nothing_applied_is_a_usage_error() {
    let env = Env::new();
    let out = env.run(&["rollback"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no applied plan"), "{out:?}");
    env.write("a.txt", "a\n");
    let id = env.plan(&write_plan("pending only", "a.txt", "b\n"));
    let out = env.run(&["rollback", &id]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("not applied"), "{out:?}");
}

// ---------------------------------------------------------------------------------------
// modes, moves, folders

#[test]
fn modes_are_kept_set_and_restored_exactly() {
    let env = Env::new();
    env.write("keep755.sh", "#!/bin/sh\nold\n");
    env.set_mode("keep755.sh", 0o755);
    env.write("keep640.txt", "old\n");
    env.set_mode("keep640.txt", 0o640);
    env.write("plain.sh", "#!/bin/sh\n");
    env.set_mode("plain.sh", 0o644);
    env.write("private.sh", "#!/bin/sh\n");
    env.set_mode("private.sh", 0o600);
    env.write("exe.sh", "#!/bin/sh\n");
    env.set_mode("exe.sh", 0o755);
    env.write("exact.txt", "x\n");
    env.set_mode("exact.txt", 0o644);
    let before = env.tree();
    let id = env.plan_approved(
        r##"
title = "Modes"
[[action]]
kind = "edit"
path = "keep755.sh"
find = "old"
replace = "new"
[[action]]
kind = "write"
path = "keep640.txt"
content = "new\n"
[[action]]
kind = "write"
path = "fresh.txt"
content = "fresh\n"
[[action]]
kind = "write"
path = "fresh-exe.sh"
content = "#!/bin/sh\n"
executable = true
[[action]]
kind = "chmod"
path = "plain.sh"
executable = true
[[action]]
kind = "chmod"
path = "private.sh"
executable = true
[[action]]
kind = "chmod"
path = "exe.sh"
executable = false
[[action]]
kind = "chmod"
path = "exact.txt"
mode = "0600"
"##,
    );
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("keep755.sh"), "#!/bin/sh\nnew\n");
    assert_eq!(env.mode("keep755.sh"), 0o755, "an edit keeps the mode");
    assert_eq!(
        env.mode("keep640.txt"),
        0o640,
        "a write over a file keeps its mode"
    );
    assert_eq!(env.mode("fresh.txt"), 0o644, "a new file is 0644");
    assert_eq!(env.mode("fresh-exe.sh"), 0o755);
    assert_eq!(env.mode("plain.sh"), 0o755, "chmod +x of 0644 is 0755");
    assert_eq!(env.mode("private.sh"), 0o700, "chmod +x of 0600 is 0700");
    assert_eq!(env.mode("exe.sh"), 0o644);
    assert_eq!(env.mode("exact.txt"), 0o600);
    assert_eq!(
        env.read_str("plain.sh"),
        "#!/bin/sh\n",
        "chmod keeps the bytes"
    );
    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("mode 0755 -> 0644"), "{out}");
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
    env.verify_ok();
}

#[test]
fn a_new_file_is_0644_whatever_the_umask() {
    let env = Env::new();
    let id = env.plan_approved(&write_plan("umask", "u.txt", "u\n"));
    // A restrictive umask in the applying process must not leak into the file's mode.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("umask 077 && exec {:?} apply {id}", bin()))
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.mode("u.txt"), 0o644);
}

#[test]
fn moves_and_folder_deletes_apply_and_roll_back() {
    let env = Env::new();
    env.write("src/lib.rs", "lib\n");
    env.write("src/util/mod.rs", "util\n");
    env.write("src/util/deep/x.bin", [0u8, 1, 2, 255]);
    env.set_mode("src/util/deep/x.bin", 0o600);
    env.write("old/a.txt", "a\n");
    env.write("old/sub/b.txt", "b\n");
    env.write("single.txt", "single\n");
    env.set_mode("single.txt", 0o755);
    std::fs::create_dir_all(env.path("empty/inner")).unwrap();
    let before = env.tree();
    let id = env.plan_approved(
        r#"
title = "Restructure"
[[action]]
kind = "move"
from = "src/util"
to = "lib/helpers"
[[action]]
kind = "move"
from = "single.txt"
to = "moved/into/new/place.txt"
[[action]]
kind = "delete"
path = "old"
[[action]]
kind = "delete"
path = "empty"
[[action]]
kind = "mkdir"
path = "made/by/plan"
"#,
    );
    let preview = env.run(&["preview", &id]);
    assert!(
        preview.stdout.contains("rename from single.txt"),
        "{preview:?}"
    );
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("lib/helpers/mod.rs"), "util\n");
    assert_eq!(env.read("lib/helpers/deep/x.bin"), vec![0u8, 1, 2, 255]);
    assert_eq!(
        env.mode("lib/helpers/deep/x.bin"),
        0o600,
        "a move keeps the mode"
    );
    assert_eq!(env.read_str("moved/into/new/place.txt"), "single\n");
    assert_eq!(env.mode("moved/into/new/place.txt"), 0o755);
    for gone in ["src/util", "single.txt", "old", "empty"] {
        assert!(!env.exists(gone), "{gone} still exists");
    }
    assert!(env.path("made/by/plan").is_dir());
    assert_eq!(env.read_str("src/lib.rs"), "lib\n");

    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
    for gone in ["lib", "moved", "made"] {
        assert!(
            !env.exists(gone),
            "{gone} was created by the plan and must be removed"
        );
    }
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// log, status, verify

#[test]
fn log_text_json_jsonl_and_head() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan_approved(&write_plan("logged", "a.txt", "b\n"));
    env.cmd().args(["apply", &id]).assert().success();

    let text = env.run(&["log", "-n", "2"]);
    assert_eq!(text.code, 0, "{text:?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert!(
        lines[0].contains("run.committed"),
        "newest first: {lines:?}"
    );
    assert!(
        lines[0].contains(&id[..12]) && lines[0].contains(ACTOR),
        "{lines:?}"
    );

    let json = env.run(&["log", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["format_version"], 1);
    let events = v["events"].as_array().expect("events");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let mut sorted = seqs.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seqs, sorted, "newest first");
    assert_eq!(*seqs.last().unwrap(), 1);
    assert_eq!(events.last().unwrap()["kind"], "init");
    let committed = &events[0];
    assert_eq!(committed["kind"], "run.committed");
    assert!(committed["duration_ms"].is_u64(), "{committed}");
    for e in events {
        for key in [
            "seq", "at", "actor", "kind", "plan", "rules", "data", "prev", "hash",
        ] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
    }
    let n2 = env.run(&["log", "-n", "3", "--format", "json"]);
    let v2: serde_json::Value = serde_json::from_str(&n2.stdout).unwrap();
    assert_eq!(v2["events"].as_array().unwrap().len(), 3);

    let jsonl = env.run(&["log", "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = jsonl
        .stdout
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("one object per line");
            // Each line carries its own format_version; the rest equals the json events.
            assert_eq!(v["format_version"], 1);
            v.as_object_mut().map(|o| o.remove("format_version"));
            v
        })
        .collect();
    assert_eq!(lines.len(), events.len());
    assert_eq!(&lines, events);

    let head = env.run(&["log", "--head"]);
    assert_eq!(head.code, 0);
    let (seq, hash) = head.stdout.trim_end().split_once(':').expect("SEQ:HASH");
    assert_eq!(head.stdout, format!("{seq}:{hash}\n"), "exactly SEQ:HASH");
    assert_eq!(seq.parse::<i64>().unwrap(), seqs[0]);
    assert!(is_hex(hash, 64));
    assert_eq!(events[0]["hash"], hash);
    env.cmd()
        .args(["verify", "--expect-head", head.stdout.trim()])
        .assert()
        .success();
    // A plan filter shows only that plan's events.
    let only = env.run(&["log", &id[..6], "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&only.stdout).unwrap();
    assert!(
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["plan"] == id.as_str())
    );
    // Other commands refuse jsonl as a usage error.
    assert_eq!(env.run(&["status", "--format", "jsonl"]).code, 2);
}

#[test]
fn status_lists_plans_by_state() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let applied = env.plan_approved(&write_plan("applied one", "a.txt", "b\n"));
    env.cmd().args(["apply", &applied]).assert().success();
    let approved = env.plan_approved(&write_plan("approved one", "b.txt", "b\n"));
    let pending = env.plan(&write_plan("pending one", "c.txt", "c\n"));
    let rejected = env.plan(&write_plan("rejected one", "d.txt", "d\n"));
    env.cmd().args(["reject", &rejected]).assert().success();

    let v = env.status_json();
    assert_eq!(v["format_version"], 1);
    assert_eq!(ids_of(&v["pending"]), vec![pending.clone()]);
    assert_eq!(ids_of(&v["approved"]), vec![approved.clone()]);
    assert_eq!(ids_of(&v["applied"]), vec![applied.clone()]);
    assert!(v["interrupted_run"].is_null());
    assert!(v["lock_holder"].is_null());
    assert_eq!(v["rules"]["ok"], true);
    assert_eq!(v["rules"]["present"], false);
    assert_eq!(v["pending"][0]["title"], "pending one");

    let text = env.run(&["status"]);
    assert_eq!(text.code, 0);
    for id in [&pending, &approved, &applied] {
        assert!(text.stdout.contains(&id[..12]), "{text:?}");
    }
    assert!(!text.stdout.contains(&rejected[..12]), "{text:?}");

    let guard = env.hold_lock();
    let v = env.status_json();
    assert!(!v["lock_holder"].is_null(), "{v}");
    drop(guard);

    env.write("autonomy.toml", "this is not toml [");
    let v = env.status_json();
    assert_eq!(v["rules"]["present"], true);
    assert_eq!(v["rules"]["ok"], false);
    assert!(
        v["rules"]["error"]
            .as_str()
            .unwrap()
            .contains("autonomy.toml"),
        "{v}"
    );
}

#[test]
fn verify_passes_after_a_full_workflow_and_reports_counts() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan_approved(&write_plan("verified", "a.txt", "b\n"));
    env.cmd().args(["apply", &id]).assert().success();
    let out = env.run(&["verify"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.starts_with("ok:"), "{out:?}");
    let json = env.run(&["verify", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["ok"], true);
    let bad = env.run(&["verify", "--expect-head", "nonsense"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    let wrong = env.run(&["verify", "--expect-head", &format!("1:{}", "0".repeat(64))]);
    assert_eq!(wrong.code, 7, "{wrong:?}");
}

#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn the_first_failing_check_wins_lock_then_interrupted_then_approval_then_drift() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    env.write("b.txt", "b\n");
    // An unapproved plan whose `before` has drifted: approvals (3) come before drift (4).
    let unapproved = env.plan(&write_plan("unapproved drifted", "b.txt", "B\n"));
    env.write("b.txt", "b drifted\n");
    assert_eq!(env.run(&["apply", &unapproved]).code, 3);
    // An interrupted run (6) comes before approvals.
    let id = env.plan_approved(&write_plan("interrupted", "a.txt", "A\n"));
    let status = env
        .std_cmd()
        .args(["apply", &id])
        .env("AUTONOMY_FAILPOINT", "run.after_intent")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.code().is_none(), "{status:?}");
    assert_eq!(env.run(&["apply", &unapproved]).code, 6);
    // The lock (5) comes before everything.
    let guard = env.hold_lock();
    let out = env.run(&["apply", &unapproved]);
    assert_eq!(out.code, 5, "{out:?}");
    assert_eq!(env.run(&["apply", &id]).code, 5);
    drop(guard);
    assert_eq!(env.run(&["recover"]).code, 0);
    assert_eq!(env.run(&["apply", &unapproved]).code, 3);
    env.cmd().args(["apply", &id]).assert().success();
    env.verify_ok();
}

#[test]
fn a_pending_reverse_plan_is_checked_for_drift_when_it_is_used() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan_approved(&write_plan("forward", "a.txt", "b\n"));
    env.cmd().args(["apply", &id]).assert().success();
    let rev = env.run(&["rollback", &id, "--plan-only"]).stdout;
    let rev = env.full_id(rev.trim());
    env.approve(&rev);
    env.write("a.txt", "later work\n");
    let out = env.run(&["rollback", &id]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("a.txt"), "{out:?}");
    assert_eq!(env.read_str("a.txt"), "later work\n");
    let out = env.run(&["apply", &rev]);
    assert_eq!(out.code, 4, "{out:?}");
    assert_eq!(env.read_str("a.txt"), "later work\n");
    env.verify_ok();
}

#[test]
fn approve_records_the_reason_and_the_as_identity() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan(&write_plan("with reason", "a.txt", "b\n"));
    let (out, code) = env.tty(
        &[
            "approve",
            &id,
            "--reason",
            "looks right",
            "--as",
            "carol@example.com",
        ],
        "y",
    );
    assert_eq!(code, 0, "{out}");
    let ev = env
        .events()
        .into_iter()
        .find(|e| e["kind"] == "approval.granted")
        .expect("granted");
    assert_eq!(ev["data"]["reason"], "looks right");
    assert_eq!(ev["data"]["principal"], "carol@example.com");
    env.verify_ok();
}
