//! The hash cache (`.autonomy/hashes`) lets a command skip re-reading a file whose stat
//! signature is unchanged since it was hashed. These tests change files in the ways that
//! keep everything but the ctime (same size, mtime put back) and insist the change is
//! still seen: apply and rollback refuse with exit 4 and write nothing.

use crate::common::*;
use std::time::{Duration, SystemTime};

/// Rewrite `rel` with `content` of the same length and put its mtime back.
fn sneaky_edit(env: &Env, rel: &str, content: &str) {
    let path = env.path(rel);
    let mtime: SystemTime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(std::fs::read(&path).expect("read").len(), content.len());
    std::fs::write(&path, content).expect("write");
    let f = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    f.set_modified(mtime).expect("set mtime");
}

const PLAN: &str = r#"
title = "Bump"
[[action]]
kind = "write"
path = "a.txt"
content = "after\n"
"#;

#[test]
fn an_edit_after_plan_that_keeps_size_and_mtime_is_still_drift() {
    let env = Env::new();
    env.write("a.txt", "before\n");
    // Old enough that the hash may be remembered (it is only for files changed earlier
    // than the moment hashing began, with a margin).
    std::thread::sleep(Duration::from_millis(20));
    let id = env.plan(PLAN);
    let cache = std::fs::read(env.path(".autonomy/hashes")).expect("the plan saved hashes");
    assert!(String::from_utf8_lossy(&cache).contains("a.txt"));
    env.approve(&id);
    sneaky_edit(&env, "a.txt", "BEFORE\n");
    // Neither approving again nor applying is fooled by the remembered hash.
    env.cmd().args(["approve", &id]).assert().code(4);
    let out = env.cmd().args(["apply", &id]).assert().code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("a.txt"), "{err}");
    assert_eq!(env.read_str("a.txt"), "BEFORE\n");
    env.verify_ok();
}

#[test]
fn an_edit_after_apply_that_keeps_size_and_mtime_blocks_rollback() {
    let env = Env::new();
    env.write("a.txt", "before\n");
    std::thread::sleep(Duration::from_millis(20));
    let id = env.plan(PLAN);
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    std::thread::sleep(Duration::from_millis(20));
    // The reverse plan hashes the applied file (and may remember it) ...
    let rev = String::from_utf8(
        env.cmd()
            .args(["rollback", &id, "--plan-only"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone(),
    )
    .expect("utf8");
    // ... then the file changes behind its back, keeping its size and mtime.
    env.approve(rev.trim());
    sneaky_edit(&env, "a.txt", "AFTER\n");
    env.cmd().args(["approve", rev.trim()]).assert().code(4);
    env.cmd().args(["rollback", &id]).assert().code(4);
    assert_eq!(env.read_str("a.txt"), "AFTER\n");
    env.verify_ok();
}

#[test]
fn a_damaged_hash_cache_is_ignored() {
    let env = Env::new();
    env.write("a.txt", "before\n");
    std::fs::write(
        env.path(".autonomy/hashes"),
        b"autonomy-hashes-v1\n\xff\xfe junk\0",
    )
    .expect("write cache");
    let id = env.plan(PLAN);
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("a.txt"), "after\n");
    env.verify_ok();
}
