//! The admission check's order (`engine::admit`): with any set of failing checks, `apply`
//! exits with the code of the first in the design's order: lock 5, interrupted 6, rules
//! (a denied path) 1, approvals 3, drift 4. Nothing changes in the workspace, and a person
//! at a terminal is never asked before the checks ahead of the approvals have passed.

use crate::common::Env;

const LOCK: u8 = 1;
const INTERRUPTED: u8 = 2;
const RULES: u8 = 4;
const APPROVALS: u8 = 8;
const DRIFT: u8 = 16;

/// The checks in the design's order, with their exit codes.
const ORDER: [(u8, &str, i32); 5] = [
    (LOCK, "lock", 5),
    (INTERRUPTED, "interrupted", 6),
    (RULES, "rules", 1),
    (APPROVALS, "approvals", 3),
    (DRIFT, "drift", 4),
];

fn write_plan(title: &str, path: &str, content: &str) -> String {
    format!(
        "title = {title:?}\n[[action]]\nkind = \"write\"\npath = {path:?}\ncontent = {content:?}\n"
    )
}

fn names(failing: u8) -> String {
    ORDER
        .iter()
        .filter(|(bit, _, _)| failing & bit != 0)
        .map(|(_, name, _)| *name)
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A workspace where exactly the checks in `failing` fail for the plan returned.
fn setup(failing: u8) -> (Env, String) {
    let env = Env::new_fast();
    env.write("a.txt", "a\n");
    env.write("b.txt", "b\n");
    let id = env.plan(&write_plan("target", "a.txt", "A\n"));
    if failing & APPROVALS == 0 {
        env.approve(&id);
    }
    if failing & INTERRUPTED != 0 {
        let other = env.plan_approved(&write_plan("interrupted", "b.txt", "B\n"));
        let status = env
            .std_cmd()
            .args(["apply", &other])
            .env("AUTONOMY_FAILPOINT", "run.after_intent")
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.code().is_none(), "the failpoint aborts: {status:?}");
    }
    if failing & RULES != 0 {
        env.write(
            "autonomy.toml",
            "[[rule]]\nname = \"never\"\npaths = [\"a.txt\"]\ndeny = true\n",
        );
    }
    if failing & DRIFT != 0 {
        env.write("a.txt", "changed since the plan\n");
    }
    (env, id)
}

/// `apply` with the checks in `failing` failing exits with the first one's code and
/// changes nothing.
fn first_failing_wins(failing: u8) {
    let (env, id) = setup(failing);
    let before = env.read_str("a.txt");
    let guard = (failing & LOCK != 0).then(|| env.hold_lock());
    let out = env.run(&["apply", &id]);
    drop(guard);
    let (_, first, code) = ORDER
        .iter()
        .find(|(bit, _, _)| failing & bit != 0)
        .copied()
        .unwrap();
    assert_eq!(
        out.code,
        code,
        "failing: {}; the first, {first}, must win: {out:?}",
        names(failing)
    );
    assert_eq!(env.read_str("a.txt"), before, "{}", names(failing));
    let runs = env.count(
        "SELECT COUNT(*) FROM runs WHERE plan = (SELECT id FROM plans WHERE title = 'target')",
    );
    assert_eq!(runs, 0, "no run of the plan starts: {}", names(failing));
}

/// Every set of failing checks (every pair among them) without an interrupted run.
#[test]
fn with_any_checks_failing_apply_exits_with_the_first_in_order() {
    for failing in 1u8..32 {
        if failing & INTERRUPTED == 0 {
            first_failing_wins(failing);
        }
    }
}

/// Every set of failing checks that includes an interrupted run (made by a failpoint).
#[test]
#[cfg_attr(not(feature = "failpoints"), ignore = "needs --features failpoints")]
fn with_an_interrupted_run_among_the_failing_checks_the_first_in_order_wins() {
    for failing in 1u8..32 {
        if failing & INTERRUPTED != 0 {
            first_failing_wins(failing);
        }
    }
}

/// The same order holds for a rollback's reverse plan: its run is admitted by the same
/// check (lock before approvals before anything is run).
#[test]
fn a_rollback_is_admitted_by_the_same_check() {
    let env = Env::new_fast();
    env.write("a.txt", "a\n");
    let id = env.plan_approved(&write_plan("forward", "a.txt", "b\n"));
    env.apply_ok(&id);
    let guard = env.hold_lock();
    let out = env.run(&["rollback", &id]);
    assert_eq!(out.code, 5, "the lock comes first: {out:?}");
    drop(guard);
    // Without a terminal, nobody approved the reverse plan.
    let out = env.run(&["rollback", &id]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(env.read_str("a.txt"), "b\n");
    env.verify_ok();
}

/// At a terminal, the person is asked only once the lock, the interrupted-run and the rules
/// checks have passed: a busy workspace or a denied path gives its own exit code, and no
/// question is shown.
#[test]
fn a_person_is_not_asked_before_the_checks_ahead_of_approvals_pass() {
    let (env, id) = setup(APPROVALS | RULES);
    let (out, code) = env.tty_unanswered(&["apply", &id]);
    assert_eq!(code, 1, "the denied path: {out}");
    assert!(!out.contains("[y/N]"), "not asked: {out}");

    let (env, id) = setup(APPROVALS);
    let guard = env.hold_lock();
    let (out, code) = env.tty_unanswered(&["apply", &id]);
    drop(guard);
    assert_eq!(code, 5, "the lock: {out}");
    assert!(!out.contains("[y/N]"), "not asked: {out}");
    // Once nothing else stands in the way, the question is asked, and the yes is recorded
    // by the check itself (with the OS user who typed it) before the run.
    let (out, code) = env.tty(&["apply", &id], "y");
    assert_eq!(code, 0, "{out}");
    let granted: Vec<serde_json::Value> = env
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "approval.granted")
        .collect();
    assert_eq!(granted.len(), 1, "{granted:?}");
    assert!(granted[0]["data"]["os_uid"].is_u64(), "{granted:?}");
    assert_eq!(env.read_str("a.txt"), "A\n");
    env.verify_ok();
}
