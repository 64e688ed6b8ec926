//! Regression tests for bugs the robustness suites found, each named after its bug.

use crate::common::*;

const WRITE_X: &str =
    "title = \"x\"\n[[action]]\nkind = \"write\"\npath = \"x.txt\"\ncontent = \"new\\n\"\n";

/// `approve --sign-with` and `approve --statement` failed with "statement is not in
/// canonical form" whenever the clock had a sub-second part (always, unless AUTONOMY_NOW
/// was pinned), so no signed approval could be made.
#[test]
fn approve_sign_with_works_with_a_subsecond_clock() {
    let env = Env::new();
    env.write("x.txt", "old\n");
    let id = env.plan(WRITE_X);
    let o = env.output(&["approve", &id, "--statement"]);
    assert_exit_in(&o, &[0], "approve --statement");
    let Some((key, public)) = ssh_key(env.tmp.path(), "k") else {
        return;
    };
    env.allow_signer(ACTOR, &public);
    let file = env.sign(&id, &key);
    let o = env.output(&["apply", &id, "--approval", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[0], "apply with the signed approval");
    assert_eq!(env.read_str("x.txt"), "new\n");
    env.verify_ok();
}

/// `gc` took the lock and then asked who held the lock to decide whether a running run
/// was in progress elsewhere: it found itself, so it ignored an interrupted run (exit 0
/// instead of 6) and went on changing `.autonomy/`.
#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn gc_refuses_while_a_run_is_interrupted() {
    let env = Env::new();
    env.write("x.txt", "old\n");
    let id = env.plan(WRITE_X);
    env.approve(&id);
    let o = env.output_env(
        &["apply", &id],
        &[("AUTONOMY_FAILPOINT", "step.after_rename")],
    );
    assert!(
        signal_of(&o.status).is_some(),
        "the failpoint did not fire: {}",
        text(&o)
    );
    let o = env.output(&["gc"]);
    assert_exit_in(&o, &[6], "gc during an interrupted run");
    let o = env.output(&["recover"]);
    assert_exit_in(&o, &[0], "recover");
    let o = env.output(&["gc"]);
    assert_exit_in(&o, &[0], "gc after recover");
    assert_eq!(env.read_str("x.txt"), "old\n");
    env.verify_ok();
}

/// Errors quoted the offending input whole: a plan file with a 1 MiB path, kind or `after`
/// name, or a long line with a TOML syntax error, printed megabytes to the terminal.
#[test]
fn plan_errors_do_not_echo_megabytes_of_input() {
    let env = Env::new();
    let big = "p".repeat(1 << 20);
    for (name, toml) in [
        (
            "path",
            format!(
                "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"{big}\"\ncontent = \"x\"\n"
            ),
        ),
        (
            "nul path",
            format!(
                "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"{big}\\u0000\"\ncontent = \"x\"\n"
            ),
        ),
        (
            "kind",
            format!("title = \"t\"\n[[action]]\nkind = \"{big}\"\npath = \"a\"\n"),
        ),
        (
            "after",
            format!(
                "title = \"t\"\n[[action]]\nafter = [\"{big}\"]\nkind = \"delete\"\npath = \"a\"\n"
            ),
        ),
        ("syntax", format!("title = \"t\"\nx = \"{big}")),
        (
            "nesting",
            format!("title = \"t\"\nx = {}", "[".repeat(100_000)),
        ),
    ] {
        let file = env.plan_file(toml);
        let o = env.output(&["plan", file.to_str().expect("utf8")]);
        assert_exit_in(&o, &[1], name);
        assert!(
            o.stderr.len() < 4096,
            "{name}: {} bytes of error",
            o.stderr.len()
        );
    }
}

/// The allowed-signers file was read with no bound and no check of its type: a fifo there
/// hung every `apply --approval`, and a symlink to /dev/zero ate memory until the process
/// died.
#[test]
fn allowed_signers_that_is_a_fifo_or_device_is_refused_not_read() {
    let env = Env::new();
    env.write("x.txt", "old\n");
    let id = env.plan(WRITE_X);
    let signers = env.path(".autonomy/allowed_signers");
    let approval = env.plan_file("not an approval\n");
    let apply = || {
        let mut child = env
            .std_cmd()
            .args(["apply", &id, "--approval", approval.to_str().expect("utf8")])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().expect("wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("apply hung reading the allowed signers file");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait_with_output().expect("output")
    };
    std::os::unix::fs::symlink("/dev/zero", &signers).expect("symlink");
    let o = apply();
    assert_exit_in(&o, &[1], "allowed_signers -> /dev/zero");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a regular file"),
        "{}",
        text(&o)
    );
    std::fs::remove_file(&signers).expect("rm");
    let ok = std::process::Command::new("mkfifo")
        .arg(&signers)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return skip("mkfifo failed");
    }
    let o = apply();
    assert_exit_in(&o, &[1], "allowed_signers is a fifo");
    assert_eq!(env.read_str("x.txt"), "old\n");
    env.verify_ok();
}

/// `autonomy.toml` (which a clone of the project can carry, symlinks included) was read
/// whole by every command: a symlink to /dev/zero ate memory until the process died, a
/// fifo hung every command.
#[test]
fn rules_file_that_is_a_fifo_or_device_is_refused_not_read() {
    let env = Env::new();
    env.write("x.txt", "old\n");
    let file = env.plan_file(WRITE_X);
    let rules = env.path("autonomy.toml");
    let run = |args: &[&str]| {
        let mut child = env
            .std_cmd()
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().expect("wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("`autonomy {}` hung reading autonomy.toml", args.join(" "));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait_with_output().expect("output")
    };
    std::os::unix::fs::symlink("/dev/zero", &rules).expect("symlink");
    let o = run(&["plan", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[1], "autonomy.toml -> /dev/zero");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("autonomy.toml"),
        "{}",
        text(&o)
    );
    assert_exit_in(&run(&["status"]), &[0], "status");
    std::fs::remove_file(&rules).expect("rm");
    let ok = std::process::Command::new("mkfifo")
        .arg(&rules)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return skip("mkfifo failed");
    }
    let o = run(&["plan", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[1], "autonomy.toml is a fifo");
    assert_exit_in(&run(&["verify"]), &[0], "verify");
}

/// A damaged blob found while applying made the run fail with exit 1 like any failed
/// run; an integrity failure of the blob store is exit 7 (nothing is written either way).
#[test]
fn apply_from_a_corrupt_blob_exits_7_not_1() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.write("x.txt", "old\n");
    let id = env.plan(WRITE_X);
    env.approve(&id);
    let hash = autonomy::util::hash::sha256_hex(b"new\n");
    let blob = env.path(&format!(".autonomy/objects/{}/{}", &hash[..2], &hash[2..]));
    std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(&blob, "NEW\n").expect("corrupt");
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[7], "apply from a corrupt blob");
    assert_eq!(env.read_str("x.txt"), "old\n");
}

/// The approval gate counts rows of the approvals table, but verify only checked the
/// events: an approval row written straight into journal.db (no `approval.granted` event)
/// let a plan be applied and then passed `verify`.
#[test]
fn verify_detects_an_approval_row_added_outside_autonomy() {
    let env = Env::new();
    env.write("x.txt", "old\n");
    let id = env.plan(WRITE_X);
    env.journal()
        .execute(
            "INSERT INTO approvals (plan, at, principal, method, decision) VALUES (?1, '2026-01-01T00:00:00Z', 'boss@example.com', 'terminal', 'approve')",
            [&id],
        )
        .expect("forge");
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[7], "verify with a forged approval row");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("added outside autonomy"),
        "{}",
        text(&o)
    );
    // Approvals made the proper ways keep verifying.
    let env = Env::new();
    env.write("x.txt", "old\n");
    let id = env.plan(WRITE_X);
    let (_, code) = env.tty(&["approve", &id], "n");
    assert_eq!(code, 3);
    env.approve(&id);
    env.apply_ok(&id);
    env.verify_ok();
}

/// `Plan::from_canonical` (stored plans, and bundles from elsewhere) validated each path
/// but accepted it unnormalised: `x/../secrets/key` passed a `secrets/**` deny rule, which
/// matches the path as written, while the engine wrote `secrets/key`; the same path could
/// also appear twice. Found by fuzz::plan_from_canonical_mutated.
#[test]
fn stored_plan_with_a_non_normal_or_repeated_path_is_refused() {
    use autonomy::model::{Change, Plan, State};
    let change = |path: &str| Change {
        path: path.into(),
        before: State::Absent,
        after: State::File {
            sha256: "ab".repeat(32),
            mode: 0o644,
        },
        from: None,
    };
    let plan = |paths: &[&str]| Plan {
        format: "autonomy-plan-v1".into(),
        workspace: "w".into(),
        created: "2026-01-01T00:00:00Z".into(),
        title: "t".into(),
        author: "a".into(),
        description: None,
        reverses: None,
        changes: paths.iter().map(|p| change(p)).collect(),
        exec: Vec::new(),
    };
    for paths in [
        &["x/../secrets/key"][..],
        &["./a"],
        &["a//b"],
        &["a/"],
        &["a", "a"],
    ] {
        let canonical = plan(paths).canonical();
        assert!(
            Plan::from_canonical(&canonical).is_err(),
            "{paths:?} accepted"
        );
    }
    let ok = plan(&["a", "b/c"]).canonical();
    assert!(Plan::from_canonical(&ok).is_ok());
}
