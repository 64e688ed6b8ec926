//! The test hooks (issue 13): `AUTONOMY_NOW` and `AUTONOMY_TEST_SEED` exist only in a build
//! with the `test-hooks` feature (`failpoints` turns it on), and even there the clock that
//! decides whether an approval has expired is the real one. Regression: the release binary
//! honoured `AUTONOMY_NOW`, so an approval that expired in 2020 applied with
//! `AUTONOMY_NOW` set to a time inside its window.

use crate::common::*;
use std::path::Path;
use std::process::Command;

const ALICE: &str = "alice@example.com";

/// An approval file for `id`, signed by a fresh key of ALICE's (listed in
/// allowed_signers), whose statement was made on 2020-01-01 and expired an hour later. It
/// is built with `approve --statement`, an edit of the two dates, `ssh-keygen -Y sign` and
/// `approve --signature`, so that no clock hook is needed to make it.
fn approval_expired_in_2020(env: &Env, id: &str) -> Option<std::path::PathBuf> {
    let (key, public) = ssh_key(env.tmp.path(), "alice")?;
    env.allow_signer(ALICE, &public);
    let out = env.run(&["approve", id, "--as", ALICE, "--statement"]);
    assert_eq!(out.code, 0, "{out:?}");
    let statement: String = out
        .stdout
        .lines()
        .map(|l| {
            if l.starts_with("created = ") {
                "created = \"2020-01-01T00:00:00Z\"".to_string()
            } else if l.starts_with("expires = ") {
                "expires = \"2020-01-01T01:00:00Z\"".to_string()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    assert!(statement.contains("2020-01-01T01:00:00Z"), "{statement}");
    let stmt = env.tmp.path().join("old.stmt");
    std::fs::write(&stmt, &statement).expect("write statement");
    let signed = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "autonomy-approval", "-f"])
        .arg(&key)
        .arg(&stmt)
        .output()
        .expect("run ssh-keygen");
    assert!(signed.status.success(), "{}", text(&signed));
    let file = env.tmp.path().join("old.approval");
    let out = env.run(&[
        "approve",
        id,
        "--signature",
        path(&stmt.with_extension("stmt.sig")),
        "--statement-file",
        path(&stmt),
        "-o",
        path(&file),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    Some(file)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// In every build: an approval that expired in 2020 is refused (exit 3) with the clock
/// variable set to a time inside its window (where the old binary applied it); the
/// workspace is untouched.
#[test]
fn an_approval_that_expired_in_2020_never_applies_whatever_autonomy_now_says() {
    let env = Env::new();
    let id = env.plan(
        "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"a\\n\"\n",
    );
    let Some(file) = approval_expired_in_2020(&env, &id) else {
        return;
    };
    let tree = env.tree();
    let out = env.output_env(
        &["apply", &id, "--approval", path(&file)],
        &[("AUTONOMY_NOW", "2020-01-01T00:30:00Z")],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("approval expired at 2020-01-01T01:00:00Z"),
        "{}",
        text(&out)
    );
    assert_eq!(env.tree(), tree);
    env.verify_ok();
}

/// A build without `test-hooks` (plain `cargo test`, like `cargo build --release`) has no
/// code that reads AUTONOMY_NOW or AUTONOMY_TEST_SEED: stamps are the real time and ids
/// are random.
#[test]
#[cfg(not(feature = "test-hooks"))]
fn without_the_feature_the_clock_and_seed_hooks_do_not_exist() {
    let hooks = [
        ("AUTONOMY_NOW", "2019-06-01T00:00:00Z"),
        ("AUTONOMY_TEST_SEED", "fixed"),
    ];
    let a = Env::bare();
    let b = Env::bare();
    for env in [&a, &b] {
        let out = env.output_env(&["init"], &hooks);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let log = |env: &Env| {
        let out = env.output_env(&["log", "--format", "json"], &hooks);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["events"][0].clone()
    };
    let (ea, eb) = (log(&a), log(&b));
    let at = ea["at"].as_str().expect("at");
    assert!(
        !at.starts_with("2019"),
        "AUTONOMY_NOW pinned the clock: {at}"
    );
    assert_ne!(
        ea["data"], eb["data"],
        "AUTONOMY_TEST_SEED made two workspace ids equal"
    );
}

/// And with the feature, the hooks work (what the snapshots rely on).
#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on)"
)]
fn with_the_feature_the_hooks_pin_stamps_and_ids() {
    let hooks = [
        ("AUTONOMY_NOW", "2019-06-01T00:00:00Z"),
        ("AUTONOMY_TEST_SEED", "fixed"),
    ];
    let a = Env::bare();
    let b = Env::bare();
    for env in [&a, &b] {
        let out = env.output_env(&["init"], &hooks);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let log = |env: &Env| {
        let out = env.output_env(&["log", "--format", "json"], &hooks);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["events"][0].clone()
    };
    let (ea, eb) = (log(&a), log(&b));
    assert_eq!(ea["at"], "2019-06-01T00:00:00Z");
    assert_eq!(ea["data"], eb["data"]);
}
