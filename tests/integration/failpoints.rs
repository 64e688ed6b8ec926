//! Every failpoint of the run engine, for apply and for rollback: the process aborts there
//! (a real SIGABRT), `status` reports the interrupted run, every mutating command refuses
//! with exit 6, and `recover` puts the tree back byte for byte and mode for mode; a crash
//! during `recover` followed by another `recover` ends in the same place. `verify` passes.
//!
//! Needs `--features failpoints` (the README's test command); without it the tests that
//! crash the binary are ignored, with that reason.

use crate::common::*;
use autonomy::engine::FAILPOINTS;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

type Tree = BTreeMap<String, Option<(Vec<u8>, u32)>>;

const SIGABRT: i32 = 6;

/// Fifteen changes of every kind: modify (keeping and changing modes), delete, chmod,
/// create in new nested folders, and a whole folder removed.
const PLAN: &str = r#"
title = "Many kinds of change"

[[action]]
kind = "write"
path = "a.txt"
content = "ALPHA\n"

[[action]]
kind = "edit"
path = "b.sh"
find = "echo b"
replace = "echo B"

[[action]]
kind = "delete"
path = "c.txt"

[[action]]
kind = "chmod"
path = "e.txt"
mode = "0640"

[[action]]
kind = "write"
path = "f1.txt"
content = "f1 v2\n"

[[action]]
kind = "write"
path = "f2.txt"
content = "f2 v2\n"

[[action]]
kind = "write"
path = "f3.txt"
content = "f3 v2\n"

[[action]]
kind = "write"
path = "f4.txt"
content = "f4 v2\n"

[[action]]
kind = "write"
path = "f5.txt"
content = "f5 v2\n"

[[action]]
kind = "write"
path = "new/deep/n.txt"
content = "new\n"
mode = "0600"

[[action]]
kind = "delete"
path = "old"
"#;

/// Changes in the plan (one per path, folders included).
const CHANGES: u32 = 15;

fn fixture(env: &Env) {
    env.write("a.txt", "alpha\n");
    env.write("b.sh", "#!/bin/sh\necho b\n");
    chmod(env, "b.sh", 0o755);
    env.write("c.txt", "gone soon\n");
    env.write("e.txt", "mode only\n");
    chmod(env, "e.txt", 0o600);
    for i in 1..=5 {
        env.write(&format!("f{i}.txt"), format!("f{i} v1\n"));
    }
    env.write("old/one.txt", "1\n");
    env.write("old/two.txt", "2\n");
    env.write("keep/untouched.txt", "never part of the plan\n");
}

fn chmod(env: &Env, rel: &str, mode: u32) {
    std::fs::set_permissions(env.path(rel), std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Whether this test binary's `autonomy` was built with failpoints (probe once).
fn failpoints_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        let env = Env::new();
        env.write("x", "1\n");
        let id = env.plan(
            "title = \"probe\"\n[[action]]\nkind = \"write\"\npath = \"x\"\ncontent = \"2\\n\"\n",
        );
        env.approve(&id);
        let out = env.output_env(
            &["apply", &id],
            &[("AUTONOMY_FAILPOINT", "run.after_intent")],
        );
        signal_of(&out.status) == Some(SIGABRT)
    })
}

/// The tests that call this are ignored without the feature; with it, a failpoint that
/// does not fire is a failure, never a skip.
fn enabled_or_skip() -> bool {
    assert!(
        failpoints_enabled(),
        "built with --features failpoints, yet AUTONOMY_FAILPOINT did not abort the run"
    );
    true
}

/// A workspace with the fixture and the plan approved. Returns (env, plan id, before).
fn setup() -> (Env, String, Tree) {
    let env = Env::new();
    fixture(&env);
    let id = env.plan(PLAN);
    env.approve(&id);
    let before = env.tree();
    (env, id, before)
}

/// Run `args` with the failpoint `spec`; insist it died of SIGABRT; check that the
/// interruption is reported and blocks every mutating command; crash `recover` too when
/// `recover_crash` is given; then recover and check the tree is exactly `before`.
fn crash_and_recover(
    env: &Env,
    args: &[&str],
    spec: &str,
    recover_crash: Option<&str>,
    before: &Tree,
    other_plan: &str,
) {
    let what = format!("{} with AUTONOMY_FAILPOINT={spec}", args.join(" "));
    let out = env.output_env(args, &[("AUTONOMY_FAILPOINT", spec)]);
    assert_eq!(
        signal_of(&out.status),
        Some(SIGABRT),
        "{what} should abort: {}",
        text(&out)
    );
    let runs_before = env.count("SELECT COUNT(*) FROM runs WHERE state = 'running'");
    assert_eq!(runs_before, 1, "{what}: one run left running");

    // `status` reports the interrupted run.
    let st = env.status_json();
    assert!(
        st["interrupted_run"].is_object(),
        "{what}: status does not report the interrupted run: {st}"
    );
    // Every mutating command refuses with exit 6.
    let file = env
        .plan_file("title = \"x\"\n[[action]]\nkind = \"write\"\npath = \"zz\"\ncontent = \"z\"\n");
    let file = file.to_str().expect("utf8");
    for cmd in [
        vec!["apply", other_plan],
        vec!["rollback"],
        vec!["plan", file],
        vec!["approve", other_plan],
        vec!["gc"],
    ] {
        let o = env.output(&cmd);
        assert_exit_in(&o, &[6], &format!("{what}: then `{}`", cmd.join(" ")));
    }
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[6], &format!("{what}: then verify"));

    if let Some(spec2) = recover_crash {
        let o = env.output_env(&["recover"], &[("AUTONOMY_FAILPOINT", spec2)]);
        assert_eq!(
            signal_of(&o.status),
            Some(SIGABRT),
            "{what}: recover with {spec2} should abort: {}",
            text(&o)
        );
        let st = env.status_json();
        assert!(
            st["interrupted_run"].is_object(),
            "{what}: after a crashed recover the run is still interrupted: {st}"
        );
    }
    let o = env.output(&["recover"]);
    assert_exit_in(&o, &[0], &format!("{what}: recover"));
    assert_eq!(&env.tree(), before, "{what}: tree after recover");
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[0], &format!("{what}: verify after recover"));
    // Idempotent.
    let o = env.output(&["recover"]);
    assert_exit_in(&o, &[0], &format!("{what}: second recover"));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Nothing to recover"),
        "{what}: {}",
        text(&o)
    );
    assert_eq!(&env.tree(), before, "{what}: tree after a second recover");
    assert!(env.status_json()["interrupted_run"].is_null());
    assert_eq!(
        env.count("SELECT COUNT(*) FROM runs WHERE state = 'running'"),
        0
    );
}

/// How often each step failpoint is reached by the apply and by the rollback of PLAN.
fn hits(fp: &str, rollback: bool) -> u32 {
    match (fp, rollback) {
        ("step.after_temp", false) => 8,      // a b f1-5 n
        ("step.after_temp", true) => 10,      // a b c f1-5 one two
        ("step.after_backup", _) => 7,        // a b f1-5
        ("step.after_rename", _) => 11,       // writes and file deletes
        ("undo.after_step", false) => 14,     // every done step but the failing rmdir
        ("undo.after_step", true) => 13,      //
        ("recover.after_step", _) => CHANGES, // every change, in reverse
        _ => 1,
    }
}

/// N values to try in CI: first, middle, last.
fn ns(fp: &str, rollback: bool) -> Vec<u32> {
    let h = hits(fp, rollback);
    let mut v = vec![1, h.div_ceil(2), h];
    v.dedup();
    v
}

fn spec(fp: &str, n: u32) -> String {
    if n == 1 && hits(fp, false) == 1 {
        fp.to_string()
    } else {
        format!("{fp}:{n}")
    }
}

/// The interrupted run of an apply (at `fp`, each N), then the same for a rollback.
fn exercise(fp: &str) {
    if !enabled_or_skip() {
        return;
    }
    assert!(
        FAILPOINTS.contains(&fp),
        "{fp} is not in engine::FAILPOINTS"
    );
    let mut rng = Rng::new(seed(0xFA11) ^ fp.len() as u64);
    // Apply.
    let (env, id, before) = setup();
    let other = env.plan("title = \"other\"\n[[action]]\nkind = \"write\"\npath = \"other.txt\"\ncontent = \"o\\n\"\n");
    for n in ns(fp, false) {
        let recover_crash = format!("recover.after_step:{}", 1 + rng.below(CHANGES as u64));
        for crash in [None, Some(recover_crash.as_str())] {
            crash_and_recover(&env, &["apply", &id], &spec(fp, n), crash, &before, &other);
        }
    }
    // After all that, the plan still applies cleanly.
    env.apply_ok(&id);
    // Rollback.
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    let applied = env.tree();
    for n in ns(fp, true) {
        crash_and_recover(
            &env,
            &["rollback", &rev],
            &spec(fp, n),
            Some("recover.after_step:2"),
            &applied,
            &other,
        );
    }
    let o = env.output(&["rollback", &rev]);
    assert_exit_in(&o, &[0], "final rollback");
    assert_eq!(
        env.tree(),
        before,
        "rollback after the crashes restores every byte and mode"
    );
    env.verify_ok();
}

/// `undo.after_step` needs a run that fails and is being put back: a folder the plan
/// removes gains a file the plan does not know, so the last step (rmdir) fails.
fn exercise_undo(rollback_too: bool) {
    if !enabled_or_skip() {
        return;
    }
    let fp = "undo.after_step";
    let (env, id, _) = setup();
    env.write("old/extra.txt", "someone else's\n");
    let before = env.tree();
    let other = env.plan("title = \"other\"\n[[action]]\nkind = \"write\"\npath = \"other.txt\"\ncontent = \"o\\n\"\n");
    // Without a failpoint the run fails cleanly and is put back (exit 4: the folder holds
    // files the plan does not know about).
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[4], "apply into a folder with an unknown file");
    assert_eq!(env.tree(), before);
    for n in ns(fp, false) {
        crash_and_recover(
            &env,
            &["apply", &id],
            &format!("{fp}:{n}"),
            Some("recover.after_step:3"),
            &before,
            &other,
        );
    }
    if !rollback_too {
        return;
    }
    std::fs::remove_file(env.path("old/extra.txt")).expect("rm");
    env.apply_ok(&id);
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    env.write("new/deep/extra.txt", "made after the apply\n");
    let applied = env.tree();
    for n in ns(fp, true) {
        crash_and_recover(
            &env,
            &["rollback", &rev],
            &format!("{fp}:{n}"),
            Some("recover.after_step:5"),
            &applied,
            &other,
        );
    }
    std::fs::remove_file(env.path("new/deep/extra.txt")).expect("rm");
    let o = env.output(&["rollback", &rev]);
    assert_exit_in(&o, &[0], "final rollback");
    env.verify_ok();
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_run_after_intent() {
    exercise("run.after_intent");
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_step_after_temp() {
    exercise("step.after_temp");
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_step_after_backup() {
    exercise("step.after_backup");
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_step_after_rename() {
    exercise("step.after_rename");
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_run_before_snapshot() {
    exercise("run.before_snapshot");
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_run_after_snapshot() {
    exercise("run.after_snapshot");
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_undo_after_step() {
    exercise_undo(true);
}

/// A crash during recover, at each of its steps, after an apply that crashed mid-way.
#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_recover_after_step() {
    if !enabled_or_skip() {
        return;
    }
    let (env, id, before) = setup();
    let other = env.plan("title = \"other\"\n[[action]]\nkind = \"write\"\npath = \"other.txt\"\ncontent = \"o\\n\"\n");
    for n in ns("recover.after_step", false) {
        crash_and_recover(
            &env,
            &["apply", &id],
            "step.after_rename:6",
            Some(&format!("recover.after_step:{n}")),
            &before,
            &other,
        );
    }
    // Crash recover repeatedly, one step further each time, then finish.
    let out = env.output_env(
        &["apply", &id],
        &[("AUTONOMY_FAILPOINT", "step.after_backup:5")],
    );
    assert_eq!(signal_of(&out.status), Some(SIGABRT), "{}", text(&out));
    for n in 1..=3 {
        let o = env.output_env(
            &["recover"],
            &[("AUTONOMY_FAILPOINT", &format!("recover.after_step:{n}"))],
        );
        assert_eq!(signal_of(&o.status), Some(SIGABRT), "{}", text(&o));
    }
    let o = env.output(&["recover"]);
    assert_exit_in(&o, &[0], "recover after three crashed recovers");
    assert_eq!(env.tree(), before);
    env.verify_ok();
}

/// A crash after an exec step's snapshot was journaled, with the command's effects on
/// disk (a previous step ran and changed files): recover restores every touched path from
/// the snapshot, removes what the commands created, and undoes the file changes.
#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_exec_after_snapshot() {
    if !enabled_or_skip() {
        return;
    }
    let env = Env::new();
    env.write(
        "autonomy.toml",
        "[exec]\nallow = true\ncommands = [\"sh\"]\n",
    );
    env.write("gen/old.txt", "old\n");
    env.write("keep.txt", "keep\n");
    let before = env.tree();
    let id = env.plan(
        "title = \"exec crash\"\n\
         [[action]]\nkind = \"write\"\npath = \"input.txt\"\ncontent = \"in\\n\"\n\
         [[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", \"echo new > gen/new.txt; echo changed > gen/old.txt\"]\ntouches = [\"gen/**\"]\n\
         [[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", \"rm gen/old.txt\"]\ntouches = [\"gen/**\"]\n",
    );
    env.approve(&id);
    // The second step's snapshot: the first step's effects are on disk.
    for n in [1, 2] {
        let o = env.output_env(
            &["apply", &id],
            &[("AUTONOMY_FAILPOINT", &format!("exec.after_snapshot:{n}"))],
        );
        assert_eq!(signal_of(&o.status), Some(SIGABRT), "{}", text(&o));
        assert_exit_in(&env.output(&["plan", "-"]), &[6], "plan while interrupted");
        let o = env.output(&["recover"]);
        assert_exit_in(&o, &[0], "recover after an exec crash");
        assert_eq!(env.tree(), before, "after crash {n}");
        env.verify_ok();
    }
    // And the plan still applies once the cause is gone.
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("gen/new.txt"), "new\n");
    assert!(!env.exists("gen/old.txt"));
}

/// Every named failpoint is covered by a test above.
#[test]
fn failpoint_list_is_covered() {
    let covered = [
        "run.after_intent",
        "step.after_temp",
        "step.after_backup",
        "step.after_rename",
        "run.before_snapshot",
        "run.after_snapshot",
        "undo.after_step",
        "recover.after_step",
        "exec.after_snapshot",
        // tests/integration/hostile_engine.rs
        "exec.after_observed",
    ];
    for fp in FAILPOINTS {
        assert!(covered.contains(fp), "failpoint {fp} has no test");
    }
}

/// Every N for every step failpoint, for apply and rollback, until the run completes.
#[test]
#[ignore = "long: every N of every failpoint (run with --ignored)"]
fn failpoint_sweep_every_n() {
    if !enabled_or_skip() {
        return;
    }
    for fp in ["step.after_temp", "step.after_backup", "step.after_rename"] {
        for rollback in [false, true] {
            let (env, id, before) = setup();
            let other = env.plan("title = \"other\"\n[[action]]\nkind = \"write\"\npath = \"other.txt\"\ncontent = \"o\\n\"\n");
            let (args, expect): (Vec<String>, Tree) = if rollback {
                env.apply_ok(&id);
                let rev = env.rollback_plan(&id);
                env.approve(&rev);
                (vec!["rollback".into(), rev], env.tree())
            } else {
                (vec!["apply".into(), id.clone()], before.clone())
            };
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            for n in 1..=hits(fp, rollback) {
                for k in [1, 7, CHANGES] {
                    crash_and_recover(
                        &env,
                        &args,
                        &format!("{fp}:{n}"),
                        Some(&format!("recover.after_step:{k}")),
                        &expect,
                        &other,
                    );
                }
            }
            // One past the last hit: the run completes.
            let o = env.output_env(
                &args,
                &[(
                    "AUTONOMY_FAILPOINT",
                    &format!("{fp}:{}", hits(fp, rollback) + 1),
                )],
            );
            assert_exit_in(&o, &[0], &format!("{fp} past its last hit"));
            env.verify_ok();
            if rollback {
                assert_eq!(env.tree(), before);
            }
        }
    }
}

/// Sanity check of the fixture's counts: N = hits aborts, N = hits + 1 completes.
#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn failpoint_hit_counts_match_the_fixture() {
    if !enabled_or_skip() {
        return;
    }
    for fp in ["step.after_temp", "step.after_backup", "step.after_rename"] {
        let (env, id, _) = setup();
        let o = env.output_env(
            &["apply", &id],
            &[(
                "AUTONOMY_FAILPOINT",
                &format!("{fp}:{}", hits(fp, false) + 1),
            )],
        );
        assert_exit_in(&o, &[0], &format!("{fp} one past the last hit"));
        let rev = env.rollback_plan(&id);
        env.approve(&rev);
        let o = env.output_env(
            &["rollback", &rev],
            &[(
                "AUTONOMY_FAILPOINT",
                &format!("{fp}:{}", hits(fp, true) + 1),
            )],
        );
        assert_exit_in(&o, &[0], &format!("{fp} one past the last hit (rollback)"));
    }
}
