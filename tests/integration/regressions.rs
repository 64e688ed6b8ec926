//! Regression tests for bugs the robustness suites found, each named after its bug.

use crate::common::*;

const WRITE_X: &str = "title = \"x\"\n[[action]]\nkind = \"write\"\npath = \"x.txt\"\ncontent = \"new\\n\"\n";

/// `approve --sign-with` and `approve --statement` failed with "statement is not in
/// canonical form" whenever the clock had a sub-second part (always, unless AUTONOMY_NOW
/// was pinned), so no signed approval could be made.
#[test]
fn approve_sign_with_works_with_a_subsecond_clock() {
    let env = Env::new();
    env.write("x.txt", "old\n");
    let id = env.plan(WRITE_X);
    let o = env.run(&["approve", &id, "--statement"]);
    assert_exit_in(&o, &[0], "approve --statement");
    let Some((key, public)) = ssh_key(env.tmp.path(), "k") else {
        return;
    };
    env.allow_signer(ACTOR, &public);
    let file = env.sign(&id, &key);
    let o = env.run(&["apply", &id, "--approval", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[0], "apply with the signed approval");
    assert_eq!(env.read_str("x.txt"), "new\n");
    env.verify_ok();
}
