//! A hostile state directory, journal or terminal (issue 12, findings 6, 12 and 14):
//! another user's `.autonomy/` is refused (also by root) unless `AUTONOMY_SAFE_DIRECTORIES`
//! lists it; edited derived tables (plan status, approval use, run state, ...) are found by
//! `verify` (exit 7) and never fool `apply`; and one OS user approving at a terminal under
//! several `--as` names counts as one person.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// `nobody`, the other user of these tests.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `chown -R uid:uid path` (without following symlinks).
fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("chown");
    if std::fs::symlink_metadata(path).expect("stat").is_dir() {
        for e in std::fs::read_dir(path).expect("read_dir") {
            chown_tree(&e.expect("entry").path(), uid);
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The binary run as `uid` (gid the same; std drops supplementary groups) in `dir`.
fn as_user(uid: u32, dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .current_dir(dir)
        .uid(uid)
        .gid(uid)
        .env("AUTONOMY_ACTOR", "nobody@example.com")
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env_remove("AUTONOMY_SAFE_DIRECTORIES")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run autonomy as another user")
}

/// The binary run as root in `dir` with extra environment.
fn in_dir(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(bin());
    c.args(args)
        .current_dir(dir)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("AUTONOMY_SAFE_DIRECTORIES")
        .stdin(std::process::Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run autonomy")
}

/// Exit 1, naming `owner` and the way out.
fn refused(o: &std::process::Output, what: &str, needles: &[&str]) {
    assert_exit_in(o, &[1], what);
    let err = String::from_utf8_lossy(&o.stderr);
    for n in needles.iter().chain(&["AUTONOMY_SAFE_DIRECTORIES"]) {
        assert!(err.contains(n), "{what}: does not say {n:?}: {}", text(o));
    }
}

const WRITE_MINE: &str = "title = \"touch root's file\"\n[[action]]\nkind = \"write\"\npath = \"sub/mine.txt\"\ncontent = \"changed by nobody's plan\\n\"\n";

/// Finding 6, for real: `nobody` makes a workspace, plans a change to a file root keeps in
/// it and signs the approval with its own key, listed in its own signers file. Root,
/// working in a subfolder, must not apply it (before the fix it did); with the workspace
/// listed in AUTONOMY_SAFE_DIRECTORIES it may.
#[test]
fn root_refuses_a_workspace_another_user_made() {
    if !is_root() {
        return skip("needs root to act as another user (nobody)");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    chmod(tmp.path(), 0o755);
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(ws.join("sub")).expect("mkdir");
    std::fs::write(ws.join("sub/mine.txt"), "root's file\n").expect("write");
    std::os::unix::fs::lchown(&ws, Some(NOBODY), Some(NOBODY)).expect("chown");
    let o = as_user(NOBODY, &ws, &["init"]);
    assert_exit_in(&o, &[0], "init as nobody");
    assert_eq!(
        std::fs::metadata(ws.join(".autonomy"))
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .ok(),
        Some(NOBODY)
    );
    let plan = ws.join("plan.toml");
    std::fs::write(&plan, WRITE_MINE).expect("write plan");
    chown_tree(&plan, NOBODY);
    let o = as_user(NOBODY, &ws, &["plan", "plan.toml"]);
    assert_exit_in(&o, &[0], "plan as nobody");
    let short = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let Some((key, public)) = ssh_key(tmp.path(), "nobody-key") else {
        return;
    };
    chown_tree(&key, NOBODY);
    std::fs::write(
        ws.join(".autonomy/allowed_signers"),
        format!("nobody@example.com {public}\n"),
    )
    .expect("write signers");
    chown_tree(&ws.join(".autonomy/allowed_signers"), NOBODY);
    let o = as_user(
        NOBODY,
        &ws,
        &[
            "approve",
            &short,
            "--sign-with",
            key.to_str().expect("utf8"),
            "-o",
            "nobody.approval",
        ],
    );
    assert_exit_in(&o, &[0], "sign as nobody");
    let approval = ws.join("nobody.approval");
    let approval = approval.to_str().expect("utf8");

    // Root, in a subfolder: discovery finds nobody's .autonomy and refuses it.
    let sub = ws.join("sub");
    let o = in_dir(&sub, &["apply", &short, "--approval", approval], &[]);
    refused(
        &o,
        "root applying nobody's plan",
        &["nobody", "uid 65534", "ws"],
    );
    assert_eq!(
        std::fs::read_to_string(sub.join("mine.txt")).expect("read"),
        "root's file\n"
    );
    for args in [
        vec!["status"],
        vec!["log"],
        vec!["verify"],
        vec!["preview", &short],
    ] {
        refused(
            &in_dir(&sub, &args, &[]),
            &format!("root: {args:?}"),
            &["nobody"],
        );
    }
    // A list that names other folders is no way out; a relative entry names nothing.
    for list in ["/elsewhere:/srv", "", "ws", &format!("{}/", sub.display())] {
        let o = in_dir(&sub, &["status"], &[("AUTONOMY_SAFE_DIRECTORIES", list)]);
        refused(&o, &format!("safe list {list:?}"), &["nobody"]);
    }
    // Nobody still uses its own workspace.
    assert_exit_in(&as_user(NOBODY, &ws, &["status"]), &[0], "nobody's status");

    // The way out: the workspace listed (among others), or `*`.
    let list = format!("/elsewhere:{}/", ws.display());
    let o = in_dir(&sub, &["status"], &[("AUTONOMY_SAFE_DIRECTORIES", "*")]);
    assert_exit_in(&o, &[0], "status with *");
    let o = in_dir(
        &sub,
        &["apply", &short, "--approval", approval],
        &[("AUTONOMY_SAFE_DIRECTORIES", &list)],
    );
    assert_exit_in(&o, &[0], "apply with the workspace listed");
    assert_eq!(
        std::fs::read_to_string(sub.join("mine.txt")).expect("read"),
        "changed by nobody's plan\n"
    );
}

/// Root's own workspace above another user's nested one: discovery stops at the nearest
/// (as git does) and refuses it; it neither uses it nor skips past it to root's.
#[test]
fn discovery_never_silently_picks_or_skips_another_users_workspace() {
    if !is_root() {
        return skip("needs root to chown to nobody");
    }
    let env = Env::new();
    let inner = env.path("inner");
    std::fs::create_dir_all(inner.join("deep")).expect("mkdir");
    assert_exit_in(&in_dir(&inner, &["init"], &[]), &[0], "init inner");
    chown_tree(&inner.join(".autonomy"), NOBODY);
    let o = in_dir(&inner.join("deep"), &["status"], &[]);
    refused(&o, "nested nobody's workspace", &["nobody", "inner"]);
    // -C to the outer workspace is still fine.
    assert_exit_in(&env.output(&["status"]), &[0], "outer status");
}

/// A file of another user inside root's own `.autonomy/` (the journal, the signers file,
/// or a symlink there leading to one) is refused, naming the file.
#[test]
fn another_users_file_inside_the_state_folder_is_refused() {
    if !is_root() {
        return skip("needs root to chown to nobody");
    }
    let env = Env::new();
    let state = env.path(".autonomy");
    for name in ["journal.db", "lock", "objects"] {
        chown_tree(&state.join(name), NOBODY);
        refused(&env.output(&["status"]), name, &[name, "nobody"]);
        chown_tree(&state.join(name), 0);
        assert_exit_in(
            &env.output(&["status"]),
            &[0],
            &format!("{name} back to root"),
        );
    }
    // A signers file that is a link to nobody's file.
    let theirs = env.tmp.path().join("their_signers");
    std::fs::write(&theirs, "").expect("write");
    chown_tree(&theirs, NOBODY);
    std::os::unix::fs::symlink(&theirs, state.join("allowed_signers")).expect("symlink");
    refused(
        &env.output(&["status"]),
        "signers symlink",
        &["allowed_signers", "nobody", "symbolic link"],
    );
    let o = env.output_env(
        &["status"],
        &[(
            "AUTONOMY_SAFE_DIRECTORIES",
            env.root.to_str().expect("utf8"),
        )],
    );
    assert_exit_in(&o, &[0], "listed");
}

/// Permissions that let another user swap the state: a group- or world-writable
/// `.autonomy/`, a world-writable workspace folder without the sticky bit, a `.autonomy`
/// that is a symlink. The sticky bit (as on /tmp) is enough for the workspace folder.
#[test]
fn state_that_another_user_could_swap_is_refused() {
    let env = Env::new();
    let state = env.path(".autonomy");
    chmod(&state, 0o770);
    refused(
        &env.output(&["status"]),
        "0770 state",
        &["writable by its group", "0770"],
    );
    chmod(&state, 0o702);
    refused(
        &env.output(&["status"]),
        "0702 state",
        &["every other user"],
    );
    chmod(&state, 0o700);
    assert_exit_in(&env.output(&["status"]), &[0], "0700 state");
    chmod(&env.root, 0o777);
    refused(
        &env.output(&["status"]),
        "0777 root",
        &["writable by every user", "sticky"],
    );
    chmod(&env.root, 0o1777);
    assert_exit_in(&env.output(&["status"]), &[0], "1777 root");
    chmod(&env.root, 0o755);
    let moved = env.tmp.path().join("elsewhere");
    std::fs::rename(&state, &moved).expect("move");
    std::os::unix::fs::symlink(&moved, &state).expect("symlink");
    refused(
        &env.output(&["status"]),
        "symlinked .autonomy",
        &["symbolic link"],
    );
}

// ---- Finding 12: derived tables against the events ----------------------------------

/// `stdout+stderr` of an output, for needles that may be on either.
fn said(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `verify` exits 7 and says every one of `needles`.
fn verify_finds(env: &Env, what: &str, needles: &[&str]) {
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[7], &format!("{what}: verify"));
    for n in needles {
        assert!(
            said(&o).contains(n),
            "{what}: verify does not say {n:?}: {}",
            text(&o)
        );
    }
}

fn write_plan(path: &str, content: &str) -> String {
    format!(
        "title = \"write {path}\"\n[[action]]\nkind = \"write\"\npath = \"{path}\"\ncontent = \"{content}\\n\"\n"
    )
}

/// The case: a signed approval used for a second time. Only signed approvals
/// count; the plan is applied with one and rolled back, so the workspace is as the plan
/// expects again. Editing the plan's status back to approved and clearing the approval's
/// `consumed_by` used to let the same file apply it again while `verify` passed.
#[test]
fn an_approval_cannot_be_used_twice_through_edited_tables() {
    let env = Env::new();
    env.write(
        "autonomy.toml",
        "[[rule]]\nname = \"signed only\"\napprovals = 1\nsigned = true\n",
    );
    env.write("a.txt", "before\n");
    let Some((key, public)) = ssh_key(env.tmp.path(), "signer") else {
        return;
    };
    env.allow_signer(ACTOR, &public);
    let id = env.plan(&write_plan("a.txt", "after"));
    let approval = env.sign(&id, &key);
    let approval = approval.to_str().expect("utf8");
    assert_exit_in(
        &env.output(&["apply", &id, "--approval", approval]),
        &[0],
        "apply",
    );
    let rev = env.rollback_plan(&id);
    let rev_approval = env.sign(&rev, &key);
    let o = env.output(&[
        "rollback",
        &id,
        "--approval",
        rev_approval.to_str().expect("utf8"),
    ]);
    assert_exit_in(&o, &[0], "rollback");
    assert_eq!(env.read_str("a.txt"), "before\n");
    env.verify_ok();
    // Presented again as is: refused.
    let o = env.output(&["apply", &id, "--approval", approval]);
    assert_exit_in(&o, &[1, 3], "apply again, untouched journal");

    let short = &id[..12];
    env.journal()
        .execute_batch(&format!(
            "UPDATE plans SET status = 'approved' WHERE id = '{id}';
             UPDATE approvals SET consumed_by = NULL WHERE plan = '{id}';"
        ))
        .expect("tamper");
    verify_finds(
        &env,
        "status and consumed_by edited",
        &[
            &format!(
                "plans row {short}: status is \"approved\", but the events say \"rolled_back\""
            ),
            "consumed approval",
            "no approvals row has consumed_by",
        ],
    );
    let o = env.output(&["apply", &id, "--approval", approval]);
    assert_exit_in(&o, &[7], "the approval used a second time");
    assert!(
        said(&o).contains(&format!(
            "plan {short} is \"approved\" in the plans table, but its events say \"applied\""
        )),
        "{}",
        text(&o)
    );
    assert_eq!(env.read_str("a.txt"), "before\n", "applied a second time");
}

/// A history touching every derived table: a signed approval consumed by an exec plan's
/// run (run_exec rows, kept output), a rollback, a terminal approval, a rejected plan, a
/// failed run and a pending plan. Returns (env, the exec plan, the rejected plan).
fn rich_history() -> Option<(Env, String, String)> {
    let env = Env::new();
    env.write(
        "autonomy.toml",
        "[exec]\nallow = true\ncommands = [\"sh\"]\ntimeout = \"20s\"\n",
    );
    env.write("a.txt", "a\n");
    env.write("gen/old.txt", "old\n");
    let (key, public) = ssh_key(env.tmp.path(), "signer")?;
    env.allow_signer(ACTOR, &public);
    let p1 = env.plan(&format!(
        "{}[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", \"echo hi; echo new > gen/old.txt\"]\ntouches = [\"gen/**\"]\n",
        write_plan("a.txt", "A")
    ));
    let file = env.sign(&p1, &key);
    let o = env.output(&["apply", &p1, "--approval", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[0], "apply the exec plan");
    let rev = env.rollback_plan(&p1);
    env.approve(&rev);
    assert_exit_in(&env.output(&["rollback", &p1]), &[0], "rollback");
    let p2 = env.plan(&write_plan("b.txt", "b"));
    env.approve(&p2);
    env.apply_ok(&p2);
    let p3 = env.plan(&write_plan("c.txt", "c"));
    assert_exit_in(&env.output(&["reject", &p3]), &[0], "reject");
    let p4 = env.plan("title = \"fails\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", \"exit 3\"]\ntouches = [\"gen/**\"]\n");
    env.approve(&p4);
    assert_exit_in(&env.output(&["apply", &p4]), &[1], "a failing run");
    env.plan(&write_plan("d.txt", "d"));
    env.verify_ok();
    Some((env, p1, p3))
}

/// Every derived table edited in turn (on a fresh copy of the journal each time): `verify`
/// exits 7 naming the table, the row and what the events say. Before the fix, `verify`
/// passed every one of these.
#[test]
fn verify_checks_every_derived_table_against_the_events() {
    let Some((env, p1, p3)) = rich_history() else {
        return;
    };
    let c = env.journal();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(c);
    let db = env.path(".autonomy/journal.db");
    let pristine = std::fs::read(&db).expect("read journal");
    let run_of = |plan: &str, state: &str| -> i64 {
        env.journal()
            .query_row(
                "SELECT id FROM runs WHERE plan = ?1 AND state = ?2",
                [plan, state],
                |r| r.get(0),
            )
            .expect("run")
    };
    let (committed, failed) = (run_of(&p1, "committed"), {
        env.journal()
            .query_row("SELECT id FROM runs WHERE state = 'failed'", [], |r| {
                r.get::<_, i64>(0)
            })
            .expect("failed run")
    });
    let (s1, s3) = (&p1[..12], &p3[..12]);
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            format!("UPDATE plans SET status = 'applied' WHERE id = '{p1}'"),
            vec![format!(
                "plans row {s1}: status is \"applied\", but the events say \"rolled_back\""
            )],
        ),
        (
            format!("UPDATE plans SET status = 'pending' WHERE id = '{p3}'"),
            vec![format!(
                "plans row {s3}: status is \"pending\", but the events say \"rejected\""
            )],
        ),
        (
            "UPDATE plans SET seq = -seq".into(),
            vec!["its seq puts it at position 1".into()],
        ),
        (
            format!("UPDATE plans SET title = 'harmless' WHERE id = '{p1}'"),
            vec![format!("plans row {s1}: title is \"harmless\"")],
        ),
        (
            format!("UPDATE changes SET path = 'z.txt' WHERE plan = '{p1}'"),
            vec![format!("changes rows of plan {s1}")],
        ),
        (
            format!("UPDATE runs SET state = 'failed' WHERE id = {committed}"),
            vec![format!(
                "runs row {committed}: state is \"failed\", but the events say \"committed\""
            )],
        ),
        (
            format!("UPDATE runs SET state = 'committed' WHERE id = {failed}"),
            vec![format!(
                "runs row {failed}: state is \"committed\", but the events say \"failed\""
            )],
        ),
        (
            "UPDATE approvals SET consumed_by = NULL".into(),
            vec![
                format!("run {committed} consumed approval"),
                "no approvals row has consumed_by".into(),
            ],
        ),
        (
            format!("UPDATE approvals SET consumed_by = {committed} WHERE method = 'terminal'"),
            vec!["a terminal approval marked consumed".into()],
        ),
        (
            "UPDATE approvals SET principal = 'boss@example.com' WHERE method = 'terminal'".into(),
            vec![
                "has no event in the journal".into(),
                "boss@example.com".into(),
            ],
        ),
        (
            "UPDATE approvals SET method = 'terminal' WHERE method = 'ssh'".into(),
            vec!["has no event in the journal".into()],
        ),
        (
            "DELETE FROM approvals WHERE method = 'terminal'".into(),
            vec!["has no row (it was deleted)".into()],
        ),
        (
            "UPDATE run_exec SET after = '{\"kind\":\"absent\"}' WHERE after IS NOT NULL".into(),
            vec![format!(
                "run_exec row (run {committed}, step 0, gen/old.txt)"
            )],
        ),
        (
            "DELETE FROM run_exec".into(),
            vec![format!(
                "run_exec: the run.step event of run {committed}, step 0, gen/old.txt has no row"
            )],
        ),
        (
            "DELETE FROM blobs_extra".into(),
            vec![format!("blobs_extra: run:{committed} kept output blob")],
        ),
    ];
    for (sql, needles) in &cases {
        let _ = std::fs::remove_file(env.path(".autonomy/journal.db-wal"));
        let _ = std::fs::remove_file(env.path(".autonomy/journal.db-shm"));
        std::fs::write(&db, &pristine).expect("restore journal");
        env.verify_ok();
        env.journal().execute_batch(sql).expect("tamper");
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        verify_finds(&env, sql, &needles);
    }
}

/// A committed run marked `running` again would be undone by `recover` without any
/// approval; every command that looks for an interrupted run refuses with 7 instead.
#[test]
fn a_committed_run_marked_running_is_not_recovered() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan(&write_plan("a.txt", "A"));
    env.approve(&id);
    env.apply_ok(&id);
    let next = env.plan_approved(&write_plan("b.txt", "B"));
    env.journal()
        .execute("UPDATE runs SET state = 'running'", [])
        .expect("tamper");
    for args in [vec!["recover"], vec!["apply", &next], vec!["status"]] {
        let o = env.output(&args);
        assert_exit_in(&o, &[7], &format!("{args:?}"));
        assert!(
            said(&o).contains("is \"running\" in the runs table, but its events say \"committed\""),
            "{args:?}: {}",
            text(&o)
        );
    }
    assert_eq!(
        env.read_str("a.txt"),
        "A\n",
        "recover undid a committed run"
    );
    verify_finds(
        &env,
        "run marked running",
        &["state is \"running\", but the events say \"committed\""],
    );
}

/// An approval row added to the table (no event) does not count for `apply` either.
#[test]
fn a_forged_approval_row_does_not_approve() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan(&write_plan("a.txt", "A"));
    env.journal()
        .execute(
            "INSERT INTO approvals (plan, at, principal, method, decision) VALUES (?1, '2026-01-01T00:00:00Z', 'boss@example.com', 'terminal', 'approve')",
            [&id],
        )
        .expect("forge");
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[3], "apply with a forged row");
    assert_eq!(env.read_str("a.txt"), "a\n");
    verify_finds(&env, "forged row", &["has no event in the journal"]);
}

// ---- Finding 14: terminal approvals count once per OS user --------------------------

const TWO_PEOPLE: &str = "[[rule]]\nname = \"two people\"\napprovals = 2\n";

/// One person at one terminal approving `--as alice`, then `--as bob`, is one approval of
/// the two the rule needs: `approve` says so instead of "approved", `apply` refuses (3)
/// and says why. Before the fix the plan applied.
#[test]
fn one_os_user_under_two_names_is_one_person() {
    let env = Env::new();
    env.write("autonomy.toml", TWO_PEOPLE);
    env.write("a.txt", "a\n");
    let id = env.plan(&write_plan("a.txt", "A"));
    let (out, code) = env.tty(&["approve", &id, "--as", "alice@example.com"], "y");
    assert_eq!(code, 0, "{out}");
    // The same OS user under a second name would not count: nothing is asked or recorded.
    let (out, code) = env.tty_unanswered(&["approve", &id, "--as", "bob@example.com"]);
    assert_eq!(code, 3, "{out}");
    assert!(!out.contains("[y/N]"), "not even asked: {out}");
    assert!(out.contains("would not count"), "{out}");
    assert!(out.contains("once per OS user"), "{out}");
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[3], "apply with two names, one OS user");
    let err = said(&o);
    for n in ["needs 2", "has 1"] {
        assert!(err.contains(n), "apply does not say {n:?}: {}", text(&o));
    }
    assert_eq!(env.read_str("a.txt"), "a\n");
    // The OS user is in the chain beside the claimed identity.
    let uid = rustix::process::getuid().as_raw();
    let granted: Vec<_> = env
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "approval.granted")
        .collect();
    assert_eq!(granted.len(), 1);
    for e in &granted {
        let d = match &e["data"] {
            serde_json::Value::String(t) => serde_json::from_str(t).expect("json"),
            v => v.clone(),
        };
        assert_eq!(d["os_uid"], uid, "{d}");
        assert!(d["os_user"].is_string(), "{d}");
    }
    env.verify_ok();
}

/// A terminal approval and a signed one by another principal (another key) are two
/// people for an unsigned two-approval rule.
#[test]
fn a_terminal_and_a_signed_approval_by_another_principal_are_two() {
    let env = Env::new();
    env.write("autonomy.toml", TWO_PEOPLE);
    env.write("a.txt", "a\n");
    let Some((key, public)) = ssh_key(env.tmp.path(), "bob") else {
        return;
    };
    env.allow_signer("bob@example.com", &public);
    let id = env.plan(&write_plan("a.txt", "A"));
    let (out, code) = env.tty(&["approve", &id, "--as", "alice@example.com"], "y");
    assert_eq!(code, 0, "{out}");
    let file = env.tmp.path().join("bob.approval");
    let o = env.output(&[
        "approve",
        &id,
        "--as",
        "bob@example.com",
        "--sign-with",
        key.to_str().expect("utf8"),
        "-o",
        file.to_str().expect("utf8"),
    ]);
    assert_exit_in(&o, &[0], "bob signs");
    let o = env.output(&["apply", &id, "--approval", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[0], "terminal + signed");
    assert_eq!(env.read_str("a.txt"), "A\n");
    env.verify_ok();
}

/// A signers file deeper in the state folder (named by the rules) that belongs to another
/// user does not decide whose signatures count.
#[test]
fn another_users_signers_file_deep_in_the_state_folder_is_refused() {
    if !is_root() {
        return skip("needs root to chown to nobody");
    }
    let env = Env::new();
    env.write(
        "autonomy.toml",
        "[approval]\nallowed_signers = \".autonomy/keys/allowed_signers\"\n",
    );
    env.write("a.txt", "a\n");
    let Some((key, public)) = ssh_key(env.tmp.path(), "signer") else {
        return;
    };
    let keys = env.path(".autonomy/keys");
    std::fs::create_dir(&keys).expect("mkdir");
    std::fs::write(keys.join("allowed_signers"), format!("{ACTOR} {public}\n")).expect("write");
    chown_tree(&keys.join("allowed_signers"), NOBODY);
    let id = env.plan(&write_plan("a.txt", "A"));
    let file = env.sign(&id, &key);
    let o = env.output(&["apply", &id, "--approval", file.to_str().expect("utf8")]);
    refused(&o, "nobody's signers file", &["allowed_signers", "nobody"]);
    assert_eq!(env.read_str("a.txt"), "a\n");
    chown_tree(&keys.join("allowed_signers"), 0);
    let o = env.output(&["apply", &id, "--approval", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[0], "root's own signers file");
}
