//! Exec steps and the verify command: confined, bounded, journaled, rolled back.

use crate::common::*;

const RULES: &str = r#"
[exec]
allow = true
commands = ["sh"]
timeout = "20s"
max_output_bytes = "1KiB"
"#;

fn env_with_rules(extra: &str) -> Env {
    let env = Env::new();
    env.write("autonomy.toml", format!("{RULES}{extra}"));
    env.write("gen/old.txt", "old\n");
    env.write("outside.txt", "keep\n");
    env
}

fn exec_plan(script: &str, touches: &str, extra: &str) -> String {
    format!(
        "title = \"exec\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {script:?}]\ntouches = [{touches:?}]\n{extra}"
    )
}

#[test]
fn command_changes_inside_touches_apply_and_roll_back_exactly() {
    let env = env_with_rules("");
    let before = env.tree();
    let id = env.plan(&exec_plan("echo new > gen/new.txt; echo changed > gen/old.txt; mkdir -p gen/sub; echo x > gen/sub/y; chmod 755 gen/new.txt", "gen/**", ""));
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("gen/new.txt"), "new\n");
    assert_eq!(env.mode("gen/new.txt"), 0o755);
    assert_eq!(env.read_str("gen/old.txt"), "changed\n");
    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        env.tree(),
        before,
        "rollback must restore the exact bytes and modes"
    );
    env.verify_ok();
}

#[test]
fn deleting_inside_touches_is_restored_by_rollback() {
    let env = env_with_rules("");
    let before = env.tree();
    let id = env.plan(&exec_plan("rm gen/old.txt", "gen/**", ""));
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    assert!(!env.exists("gen/old.txt"));
    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.tree(), before);
}

#[test]
fn write_outside_touches_is_blocked_or_fails_the_run() {
    let env = env_with_rules("");
    let before = env.tree();
    // The command exits non-zero if its outside write is refused, so either way the run fails.
    let id = env.plan(&exec_plan(
        "echo x > gen/new.txt && echo sneaky > outside.txt",
        "gen/**",
        "",
    ));
    env.approve(&id);
    let out = env
        .cmd()
        .args(["apply", &id])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("put back"), "{err}");
    assert_eq!(
        env.tree(),
        before,
        "everything restored, the outside file untouched"
    );
    env.verify_ok();
}

#[test]
fn undeclared_change_fails_the_run_even_when_the_command_succeeds() {
    let env = env_with_rules("");
    env.write("other/dir/keep.txt", "k\n");
    let before = env.tree();
    // Landlock blocks the write and the command ignores the failure and exits 0; the run
    // still must not commit a change outside touches (there is none), so it succeeds, and
    // outside.txt is untouched.
    let id = env.plan(&exec_plan(
        "echo x > gen/a.txt; (echo sneaky > outside.txt) 2>/dev/null; true",
        "gen/**",
        "",
    ));
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("outside.txt"), "keep\n");
    let (_, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0);
    assert_eq!(env.tree(), before);
}

#[test]
fn timeout_kills_the_command_and_its_children_and_rolls_back() {
    let env = env_with_rules("");
    let before = env.tree();
    let marker = env.tmp.path().join("grandchild.pid");
    let script = format!(
        "echo x > gen/t.txt; sleep 30 & echo $! > {}; sleep 30",
        marker.display()
    );
    let id = env.plan(&exec_plan(&script, "gen/**", "timeout = \"1s\"\n"));
    env.approve(&id);
    let started = std::time::Instant::now();
    let out = env
        .cmd()
        .args(["apply", &id])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(
        String::from_utf8_lossy(&out).contains("timed out"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert_eq!(env.tree(), before);
    if let Ok(pid) = std::fs::read_to_string(&marker) {
        let pid = pid.trim();
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "grandchild {pid} survived the timeout");
    }
}

#[test]
fn flooding_output_is_capped_in_the_journal() {
    let env = env_with_rules("");
    let id = env.plan(&exec_plan(
        "head -c 200000 /dev/zero | tr '\\0' 'a'; echo > gen/done",
        "gen/**",
        "",
    ));
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    let events = env.events();
    let committed = events
        .iter()
        .find(|e| e["kind"] == "run.committed")
        .expect("committed");
    let exec = &committed["data"]["exec"][0];
    assert_eq!(exec["output_bytes"], 200000);
    assert_eq!(exec["output_truncated"], true);
    assert!(
        exec["user_ms"].is_u64() && exec["max_rss_kib"].as_u64().unwrap_or(0) > 0,
        "{exec}"
    );
    assert!(committed["duration_ms"].is_u64());
}

#[test]
fn command_not_on_the_allow_list_is_refused_at_plan_time() {
    let env = env_with_rules("");
    let plan = "title = \"t\"\n[[action]]\nkind = \"exec\"\nrun = [\"rm\", \"-rf\", \"/\"]\ntouches = [\"**\"]\n";
    let file = env.tmp.path().join("p.toml");
    std::fs::write(&file, plan).unwrap();
    let out = env
        .cmd()
        .arg("plan")
        .arg(&file)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("not in `[exec] commands`"));
    // And without [exec] allow at all.
    let bare = Env::new();
    let out = bare
        .cmd()
        .arg("plan")
        .arg(&file)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("do not allow exec"));
}

#[test]
fn failing_verify_rolls_everything_back_and_passing_verify_commits() {
    let env = env_with_rules("[verify]\nrun = [\"sh\", \"-c\", \"grep -q good VERSION\"]\n");
    let before = env.tree();
    let bad = env.plan(
        "title = \"bad\"\n[[action]]\nkind = \"write\"\npath = \"VERSION\"\ncontent = \"bad\\n\"\n",
    );
    env.approve(&bad);
    env.cmd().args(["apply", &bad]).assert().code(1);
    assert_eq!(env.tree(), before);
    assert!(env.event_kinds().iter().any(|k| k == "run.failed"));
    let good = env.plan("title = \"good\"\n[[action]]\nkind = \"write\"\npath = \"VERSION\"\ncontent = \"good\\n\"\n");
    env.approve(&good);
    env.cmd().args(["apply", &good]).assert().success();
    assert_eq!(env.read_str("VERSION"), "good\n");
}

#[test]
fn limits_are_enforced_at_plan_and_apply_time() {
    let env = Env::new();
    env.write("autonomy.toml", "[limits]\nmax_file_bytes = \"10\"\n");
    let file = env.tmp.path().join("big.toml");
    std::fs::write(&file, "title = \"big\"\n[[action]]\nkind = \"write\"\npath = \"a\"\ncontent = \"0123456789abcdef\"\n").unwrap();
    let out = env
        .cmd()
        .arg("plan")
        .arg(&file)
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("max_file_bytes"));
    // Planned under generous limits, then the limit tightens before apply.
    env.write("autonomy.toml", "");
    let id = env.plan("title = \"big\"\n[[action]]\nkind = \"write\"\npath = \"a\"\ncontent = \"0123456789abcdef\"\n");
    env.approve(&id);
    env.write("autonomy.toml", "[limits]\nmax_file_bytes = \"10\"\n");
    let out = env
        .cmd()
        .args(["apply", &id])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(
        String::from_utf8_lossy(&out).contains("max_file_bytes"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(!env.exists("a"));
}

#[test]
fn without_landlock_the_workspace_scan_catches_an_undeclared_write() {
    let env = env_with_rules("");
    let id = env.plan(&exec_plan(
        "echo x > gen/new.txt; echo sneaky > outside.txt",
        "gen/**",
        "",
    ));
    env.approve(&id);
    let out = env
        .cmd()
        .env("AUTONOMY_LANDLOCK", "off")
        .env("AUTONOMY_NAMESPACES", "off")
        .args(["apply", &id])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(
        err.contains("outside its declared `touches`") && err.contains("outside.txt"),
        "{err}"
    );
    // What the command did inside touches is undone; the outside write is reported.
    assert!(!env.exists("gen/new.txt"));
    assert_eq!(env.read_str("gen/old.txt"), "old\n");
}
