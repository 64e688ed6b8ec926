//! Whole-output snapshots with the clock and ids pinned (`AUTONOMY_NOW`,
//! `AUTONOMY_TEST_SEED`): the plan id and every byte of the preview are stable, so any
//! change to what a person sees before approving shows up here.

use crate::common::*;

fn pinned(env: &Env, args: &[&str]) -> assert_cmd::assert::Assert {
    env.cmd()
        .env("AUTONOMY_NOW", "2026-11-23T10:00:00Z")
        .env("AUTONOMY_TEST_SEED", "snapshot")
        .args(args)
        .assert()
}

#[test]
#[cfg_attr(
    not(feature = "test-hooks"),
    ignore = "needs --features test-hooks (failpoints, the README test command, turns it on): pins AUTONOMY_NOW"
)]
fn preview_of_the_quick_start_plan_is_stable() {
    let env = Env::bare();
    env.write(
        "config/app.toml",
        "name = \"app\"\ntimeout_ms = 500\nretries = 3\n",
    );
    env.write("notes.txt", "old\n");
    pinned(&env, &["init"]).success();
    let plan = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/quickstart/rename-timeout.toml");
    let id = pinned(&env, &["plan", plan.to_str().expect("utf8")])
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(String::from_utf8_lossy(&id), "ac5dd2838607\n");
    let out = pinned(&env, &["preview"])
        .success()
        .get_output()
        .stdout
        .clone();
    let expected = r#"plan ac5dd2838607
Title:     Raise the timeout and record the version
Author:    agent:refactor-bot
Created:   2026-11-23T10:00:00Z
Status:    pending
Approvals: default: 0 of 1 approval [missing]

    The upstream service got slower; 500 ms times out under load.

Risk: low (score 1):
  - deletes 1 file [deletions +1]

new file VERSION
    new file mode 0644
--- /dev/null
+++ b/VERSION
@@ -0,0 +1 @@
+1.2.0

modified config/app.toml
--- a/config/app.toml
+++ b/config/app.toml
@@ -1,3 +1,3 @@
 name = "app"
-timeout_ms = 500
+timeout_ms = 750
 retries = 3

deleted notes.txt
--- a/notes.txt
+++ /dev/null
@@ -1 +0,0 @@
-old

3 files changed, 2 insertions(+), 2 deletions(-)
"#;
    assert_eq!(String::from_utf8_lossy(&out), expected);
}
