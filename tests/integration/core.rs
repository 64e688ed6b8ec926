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
