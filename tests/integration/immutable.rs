//! A file that cannot be replaced half-way through a run: `chattr +i` on one file (and on
//! one folder) in the middle of a multi-file plan. The apply exits 1 naming it, every other
//! path is put back, the run is recorded as failed; after `chattr -i` the same plan
//! applies. Needs chattr and a file system that supports it (ext4 under the temp folder
//! here; not tmpfs or overlayfs); otherwise the tests print `SKIPPED: <reason>`.

use crate::common::*;
use std::path::PathBuf;
use std::process::Command;

/// Removes the immutable flag when dropped, also when a test fails (else the temp folder
/// could never be deleted).
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(paths: &[PathBuf]) -> Result<Immutable, String> {
        let mut guard = Immutable(Vec::new());
        for p in paths {
            let out = Command::new("chattr")
                .arg("+i")
                .arg(p)
                .output()
                .map_err(|e| format!("chattr is not available: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "chattr +i {} failed (file system without attributes, or not root): {}",
                    p.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            guard.0.push(p.clone());
        }
        // Root can ignore many permissions but not the immutable flag; make sure.
        for p in paths {
            if p.is_file() && std::fs::OpenOptions::new().append(true).open(p).is_ok() {
                return Err(format!("{} is still writable after chattr +i", p.display()));
            }
        }
        Ok(guard)
    }

    fn clear(&mut self) {
        for p in self.0.drain(..) {
            let _ = Command::new("chattr").arg("-i").arg(&p).status();
        }
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        self.clear();
    }
}

const PLAN: &str = r#"
title = "Five files, one of them immutable"
[[action]]
kind = "write"
path = "a.txt"
content = "A2\n"
[[action]]
kind = "write"
path = "b.txt"
content = "B2\n"
mode = "0600"
[[action]]
kind = "write"
path = "c.txt"
content = "C2\n"
[[action]]
kind = "delete"
path = "d.txt"
[[action]]
kind = "write"
path = "e/new.txt"
content = "E2\n"
"#;

fn setup() -> (Env, String) {
    let env = Env::new();
    env.write("a.txt", "A1\n");
    env.write("b.txt", "B1\n");
    env.write("c.txt", "C1\n");
    env.write("d.txt", "D1\n");
    let id = env.plan(PLAN);
    env.approve(&id);
    (env, id)
}

fn check_failed_run(env: &Env, id: &str, before: &Tree, culprit: &str) {
    let o = env.output(&["apply", id]);
    assert_exit_in(&o, &[1], &format!("apply with {culprit} immutable"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(culprit),
        "the error names {culprit}: {}",
        text(&o)
    );
    assert!(err.contains("put back"), "{}", text(&o));
    assert_eq!(&env.tree(), before, "every other path put back");
    assert_eq!(
        env.count("SELECT COUNT(*) FROM runs WHERE state = 'failed'"),
        1
    );
    assert!(env.event_kinds().iter().any(|k| k == "run.failed"));
    assert!(env.status_json()["interrupted_run"].is_null());
    env.verify_ok();
}

type Tree = std::collections::BTreeMap<String, Option<(Vec<u8>, u32)>>;

fn path_of(env: &Env, rel: &str) -> PathBuf {
    env.path(rel)
}

fn after_tree_ok(env: &Env) {
    assert_eq!(env.read_str("a.txt"), "A2\n");
    assert_eq!(env.read_str("b.txt"), "B2\n");
    assert_eq!(env.mode("b.txt"), 0o600);
    assert_eq!(env.read_str("c.txt"), "C2\n");
    assert!(!env.exists("d.txt"));
    assert_eq!(env.read_str("e/new.txt"), "E2\n");
}

/// The middle file of the plan cannot be replaced.
#[test]
fn immutable_file_mid_plan_fails_cleanly_then_applies() {
    let (env, id) = setup();
    let before = env.tree();
    let mut guard = match Immutable::set(&[path_of(&env, "c.txt")]) {
        Ok(g) => g,
        Err(e) => return skip(&e),
    };
    check_failed_run(&env, &id, &before, "c.txt");
    guard.clear();
    env.apply_ok(&id);
    after_tree_ok(&env);
    env.verify_ok();
    // And it rolls back.
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    env.apply_ok(&rev);
    assert_eq!(env.tree(), before);
    env.verify_ok();
}

/// A file the plan deletes cannot be removed.
#[test]
fn immutable_file_to_delete_fails_cleanly_then_applies() {
    let (env, id) = setup();
    let before = env.tree();
    let mut guard = match Immutable::set(&[path_of(&env, "d.txt")]) {
        Ok(g) => g,
        Err(e) => return skip(&e),
    };
    check_failed_run(&env, &id, &before, "d.txt");
    guard.clear();
    env.apply_ok(&id);
    after_tree_ok(&env);
    env.verify_ok();
}

/// A folder that cannot take a new file (the temp file cannot even be created).
#[test]
fn immutable_folder_fails_cleanly_then_applies() {
    let (env, _) = setup();
    std::fs::create_dir(env.path("e")).expect("mkdir");
    let id = env.plan(&PLAN.replace("Five files", "Five files again"));
    env.approve(&id);
    let before = env.tree();
    let mut guard = match Immutable::set(&[path_of(&env, "e")]) {
        Ok(g) => g,
        Err(e) => return skip(&e),
    };
    check_failed_run(&env, &id, &before, "e/new.txt");
    guard.clear();
    env.apply_ok(&id);
    after_tree_ok(&env);
    env.verify_ok();
}

/// Rollback meets an immutable file: it fails, every path stays as applied, and it works
/// once the flag is gone.
#[test]
fn immutable_file_during_rollback_fails_cleanly() {
    let (env, id) = setup();
    let original = env.tree();
    env.apply_ok(&id);
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    let applied = env.tree();
    let mut guard = match Immutable::set(&[path_of(&env, "b.txt")]) {
        Ok(g) => g,
        Err(e) => return skip(&e),
    };
    let o = env.output(&["rollback", &rev]);
    assert_exit_in(&o, &[1], "rollback with b.txt immutable");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("b.txt"),
        "{}",
        text(&o)
    );
    assert_eq!(env.tree(), applied);
    env.verify_ok();
    guard.clear();
    let o = env.output(&["rollback", &rev]);
    assert_exit_in(&o, &[0], "rollback after chattr -i");
    assert_eq!(env.tree(), original);
    env.verify_ok();
}
