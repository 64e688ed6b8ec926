//! Every way a plan is made goes through `ops::propose`: the same header checks, size caps,
//! reader, dedupe and journaling for plan files, patches, captures and sandbox spool files
//! (issue 13, "making a plan is written four times"), and re-planning an identical plan
//! returns the pending one (issue 15, "Re-planning").

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PLAN: &str =
    "title = \"Bump\"\n[[action]]\nkind = \"write\"\npath = \"VERSION\"\ncontent = \"2\\n\"\n";

const PATCH: &str = "--- a/VERSION\n+++ b/VERSION\n@@ -1 +1 @@\n-1\n+2\n";

/// Anything larger than the 256 MiB cap for plan files, patches and spool files.
const OVER_CAP: u64 = (256 << 20) + 1;

fn env() -> Env {
    let env = Env::new();
    env.write("VERSION", "1\n");
    env
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// A sparse file of `len` bytes (no disk used).
fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(len))
        .expect("sparse file");
}

/// `autonomy ARGS` with a deadline: a reader that blocked on a FIFO fails the test
/// instead of hanging it.
fn run_bounded(env: &Env, args: &[&str]) -> Out {
    let out = env
        .cmd()
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("run autonomy");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn pending(env: &Env) -> Vec<String> {
    env.status_json()["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Re-planning

/// The same plan file planned again (within the second, and a second later) is the
/// pending plan: exit 0, its id on stdout, a line saying so, and no second plan or event.
#[test]
fn replanning_an_identical_plan_file_returns_the_pending_id() {
    let env = env();
    let file = env.plan_file(PLAN);
    let file = file.to_str().unwrap();
    let first = env.run(&["plan", file]);
    assert_eq!(first.code, 0, "{first:?}");
    let again = env.run(&["plan", file]);
    assert_eq!((again.code, &again.stdout), (0, &first.stdout), "{again:?}");
    assert!(
        again.stderr.contains("Same plan as the pending plan"),
        "{again:?}"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let later = env.run(&["plan", file, "--format", "json"]);
    assert_eq!(later.code, 0, "{later:?}");
    let v: serde_json::Value = serde_json::from_str(&later.stdout).unwrap();
    assert_eq!(v["plan"]["short"].as_str().unwrap(), first.stdout.trim());
    assert_eq!(pending(&env).len(), 1);
    let created = env.plan_ids();
    assert_eq!(created.len(), 1, "one plan.created: {created:?}");
    env.verify_ok();
}

#[test]
fn replanning_an_identical_patch_or_capture_returns_the_pending_id() {
    let env = env();
    let patch = env.tmp.path().join("bump.diff");
    std::fs::write(&patch, PATCH).unwrap();
    let patch = patch.to_str().unwrap();
    let first = env.run(&["plan", "--patch", patch]);
    assert_eq!(first.code, 0, "{first:?}");
    std::thread::sleep(Duration::from_millis(1100));
    let again = env.run(&["plan", "--patch", patch]);
    assert_eq!((again.code, &again.stdout), (0, &first.stdout), "{again:?}");
    assert!(
        again.stderr.contains("Same plan as the pending plan"),
        "{again:?}"
    );

    let capture = ["plan", "--capture", "--", "sh", "-c", "echo new > NEW.txt"];
    let first = env.run(&capture);
    assert_eq!(first.code, 0, "{first:?}");
    std::thread::sleep(Duration::from_millis(1100));
    let again = env.run(&capture);
    assert_eq!((again.code, &again.stdout), (0, &first.stdout), "{again:?}");
    assert_eq!(pending(&env).len(), 2);
    env.verify_ok();
}

/// Identical means by the same actor: another actor's identical plan is a plan of its
/// own (and gets an id of its own even within the same second).
#[test]
fn an_identical_plan_by_another_actor_is_a_new_plan() {
    let env = env();
    let file = env.plan_file(PLAN.replace("title", "author = \"bot\"\ntitle"));
    let file = file.to_str().unwrap();
    let now = "2026-01-02T03:04:05Z";
    let mine = env
        .cmd()
        .env("AUTONOMY_NOW", now)
        .args(["plan", file])
        .output()
        .unwrap();
    let theirs = env
        .cmd()
        .env("AUTONOMY_NOW", now)
        .env("AUTONOMY_ACTOR", "someone-else@example.com")
        .args(["plan", file])
        .output()
        .unwrap();
    assert!(
        mine.status.success() && theirs.status.success(),
        "{theirs:?}"
    );
    assert_ne!(mine.stdout, theirs.stdout);
    assert_eq!(pending(&env).len(), 2);
    env.verify_ok();
}

/// A plan identical to a rejected one, made in the same second (the clock pinned), is a
/// new pending plan, not an error and not the rejected plan.
#[test]
fn replanning_after_a_reject_in_the_same_second_is_a_new_plan() {
    let env = env();
    let file = env.plan_file(PLAN);
    let file = file.to_str().unwrap();
    let now = "2026-01-02T03:04:05Z";
    let run = |args: &[&str]| {
        let o = env
            .cmd()
            .env("AUTONOMY_NOW", now)
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, first, err) = run(&["plan", file]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["reject", &first]);
    assert_eq!(code, 0, "{err}");
    let (code, second, err) = run(&["plan", file]);
    assert_eq!(code, 0, "{err}");
    assert_ne!(second, first, "{err}");
    assert!(err.contains("Planned"), "{err}");
    assert_eq!(pending(&env).len(), 1);
    env.verify_ok();
}

/// An approved identical plan is returned too (same bytes, nothing to approve again).
#[test]
fn replanning_an_approved_plan_returns_it() {
    let env = env();
    let id = env.plan_approved(PLAN);
    let file = env.plan_file(PLAN);
    let out = env.run(&["plan", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), &id[..12]);
    assert!(out.stderr.contains("approved plan"), "{out:?}");
}

// ---------------------------------------------------------------------------------------
// The one reader, for each kind of file

#[test]
fn plan_files_patches_and_content_files_are_never_read_through_a_symlink() {
    let env = env();
    let dir = env.tmp.path().join("plans");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("real.toml"), PLAN).unwrap();
    std::os::unix::fs::symlink(dir.join("real.toml"), dir.join("link.toml")).unwrap();
    let out = run_bounded(&env, &["plan", dir.join("link.toml").to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("link.toml is a symbolic link"),
        "{out:?}"
    );

    std::fs::write(dir.join("real.diff"), PATCH).unwrap();
    std::os::unix::fs::symlink(dir.join("real.diff"), dir.join("link.diff")).unwrap();
    let out = run_bounded(
        &env,
        &["plan", "--patch", dir.join("link.diff").to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("patch"), "{out:?}");
    assert!(
        out.stderr.contains("link.diff is a symbolic link"),
        "{out:?}"
    );

    std::fs::write(dir.join("body.txt"), "2\n").unwrap();
    std::os::unix::fs::symlink(dir.join("body.txt"), dir.join("body-link.txt")).unwrap();
    std::fs::write(
        dir.join("cf.toml"),
        "title = \"cf\"\n[[action]]\nkind = \"write\"\npath = \"VERSION\"\ncontent_file = \"body-link.txt\"\n",
    )
    .unwrap();
    let out = run_bounded(&env, &["plan", dir.join("cf.toml").to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("content_file body-link.txt is a symbolic link"),
        "{out:?}"
    );
    assert!(pending(&env).is_empty());
}

#[test]
fn plan_files_patches_and_content_files_are_never_read_from_a_fifo() {
    let env = env();
    let dir = env.tmp.path().join("plans");
    std::fs::create_dir(&dir).unwrap();
    mkfifo(&dir.join("p.toml"));
    let out = run_bounded(&env, &["plan", dir.join("p.toml").to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("plan file"), "{out:?}");
    assert!(out.stderr.contains("not a regular file"), "{out:?}");

    mkfifo(&dir.join("p.diff"));
    let out = run_bounded(
        &env,
        &["plan", "--patch", dir.join("p.diff").to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("patch"), "{out:?}");
    assert!(out.stderr.contains("not a regular file"), "{out:?}");

    mkfifo(&dir.join("body"));
    std::fs::write(
        dir.join("cf.toml"),
        "title = \"cf\"\n[[action]]\nkind = \"write\"\npath = \"VERSION\"\ncontent_file = \"body\"\n",
    )
    .unwrap();
    let out = run_bounded(&env, &["plan", dir.join("cf.toml").to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("content_file body"), "{out:?}");
    assert!(out.stderr.contains("not a regular file"), "{out:?}");
    assert!(pending(&env).is_empty());
}

#[test]
fn oversized_plan_files_patches_and_content_files_are_refused_naming_the_cap() {
    let env = env();
    let dir = env.tmp.path().join("plans");
    std::fs::create_dir(&dir).unwrap();
    sparse(&dir.join("big.toml"), OVER_CAP);
    let out = run_bounded(&env, &["plan", dir.join("big.toml").to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("big.toml"), "{out:?}");
    assert!(
        out.stderr
            .contains("over the 256.0 MiB limit for plan files"),
        "{out:?}"
    );

    sparse(&dir.join("big.diff"), OVER_CAP);
    let out = run_bounded(
        &env,
        &["plan", "--patch", dir.join("big.diff").to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("over the 256.0 MiB limit for patches"),
        "{out:?}"
    );

    env.write("autonomy.toml", "[limits]\nmax_file_bytes = \"1KiB\"\n");
    std::fs::write(dir.join("body"), vec![b'x'; 2048]).unwrap();
    std::fs::write(
        dir.join("cf.toml"),
        "title = \"cf\"\n[[action]]\nkind = \"write\"\npath = \"VERSION\"\ncontent_file = \"body\"\n",
    )
    .unwrap();
    let out = run_bounded(&env, &["plan", dir.join("cf.toml").to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("content_file body"), "{out:?}");
    assert!(
        out.stderr.contains("over the 1.0 KiB limit max_file_bytes"),
        "{out:?}"
    );
    assert!(pending(&env).is_empty());
}

// ---------------------------------------------------------------------------------------
// Sandbox spool files: the same checks as a plan file

fn sandbox_or_skip(env: &Env) -> bool {
    let out = env.run(&["sandbox", "--", "true"]);
    if out.code != 0 && out.stderr.contains("cannot sandbox") {
        skip("the kernel cannot sandbox an agent here (Landlock or namespaces)");
        return false;
    }
    true
}

/// Run `script` as a sandboxed agent with the spool at a known folder.
fn sandbox(env: &Env, script: &str) -> (Out, PathBuf) {
    let agent = env.tmp.path().join(format!("agent-{}.sh", rand_suffix()));
    std::fs::write(&agent, format!("#!/bin/sh\nset -e\n{script}")).unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spool = env.tmp.path().join(format!("spool-{}", rand_suffix()));
    let out = run_bounded(
        env,
        &[
            "sandbox",
            "--spool",
            spool.to_str().unwrap(),
            "--",
            agent.to_str().unwrap(),
        ],
    );
    (out, spool)
}

fn reply(spool: &Path, file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(spool.join(format!("{file}.decision")))
        .unwrap_or_else(|e| panic!("no reply for {file}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Two identical spool files (and a plan file identical to them, by the same actor) are
/// one pending plan; each reply names it.
#[test]
fn identical_spool_files_are_one_plan_like_identical_plan_files() {
    let env = env();
    if !sandbox_or_skip(&env) {
        return;
    }
    // The agent sees the workspace (read-only), not the test's temp folder.
    env.write("proposals/plan.toml", PLAN);
    let plan = env.path("proposals/plan.toml");
    let (out, spool) = sandbox(
        &env,
        &format!(
            "cp {p} \"$AUTONOMY_SPOOL/a.toml\"\ncp {p} \"$AUTONOMY_SPOOL/b.toml\"\nsleep 1.5\ncp {p} \"$AUTONOMY_SPOOL/c.toml\"\n",
            p = plan.display()
        ),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("refused"), "{out:?}");
    let ids: Vec<String> = ["a.toml", "b.toml", "c.toml"]
        .iter()
        .map(|f| {
            reply(&spool, f)["plan"]
                .as_str()
                .expect("plan id")
                .to_string()
        })
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(pending(&env), vec![ids[0].clone()]);
    assert!(
        out.stderr.contains("same plan as the pending plan"),
        "{out:?}"
    );
    // The plan is journaled once, with the agent as actor and the spool as its source.
    let created: Vec<serde_json::Value> = env
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "plan.created")
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert!(created[0]["actor"].as_str().unwrap().starts_with("agent:"));
    assert_eq!(created[0]["data"]["source"], "sandbox");
    env.verify_ok();
}

/// A spool file with an over-long title, or over the cap, is refused with the same words
/// as a plan file; a symlink or FIFO in the spool is refused by the reader (and answered)
/// instead of being skipped in silence.
#[test]
fn spool_files_are_refused_like_plan_files() {
    let env = env();
    if !sandbox_or_skip(&env) {
        return;
    }
    let long = format!(
        "title = \"{}\"\n[[action]]\nkind = \"write\"\npath = \"VERSION\"\ncontent = \"3\\n\"\n",
        "T".repeat(2000)
    );
    env.write("proposals/long.toml", &long);
    let long_file = env.path("proposals/long.toml");
    let as_plan = env.run(&["plan", long_file.to_str().unwrap()]);
    assert_eq!(as_plan.code, 1, "{as_plan:?}");
    let why = "is 2000 bytes long; the limit is 1024";
    assert!(as_plan.stderr.contains(why), "{as_plan:?}");

    let (out, spool) = sandbox(
        &env,
        &format!(
            "cp {long} \"$AUTONOMY_SPOOL/long.toml\"\n\
             truncate -s {OVER_CAP} \"$AUTONOMY_SPOOL/big.toml\"\n\
             truncate -s {OVER_CAP} \"$AUTONOMY_SPOOL/big.diff\"\n\
             ln -s long.toml \"$AUTONOMY_SPOOL/link.toml\"\n\
             mkfifo \"$AUTONOMY_SPOOL/fifo.diff\"\n",
            long = long_file.display()
        ),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let expect = [
        ("long.toml", why),
        ("big.toml", "over the 256.0 MiB limit for spool files"),
        ("big.diff", "over the 256.0 MiB limit for spool files"),
        ("link.toml", "is a symbolic link"),
        ("fifo.diff", "not a regular file"),
    ];
    let refused: Vec<serde_json::Value> = env
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "sandbox.proposal_refused")
        .collect();
    for (file, why) in expect {
        let r = reply(&spool, file);
        assert_eq!(r["decision"], "refused", "{file}: {r}");
        assert!(r["reason"].as_str().unwrap().contains(why), "{file}: {r}");
        assert!(
            out.stderr.lines().any(
                |l| l.starts_with(&format!("error: spool file {file} refused")) && l.contains(why)
            ),
            "{file}: {out:?}"
        );
        assert!(
            refused.iter().any(|e| e["data"]["file"] == file),
            "{file} journaled: {refused:?}"
        );
    }
    assert!(pending(&env).is_empty());
    env.verify_ok();
}

/// A spool file that changes nothing is no plan and no refusal, as with `autonomy plan`.
#[test]
fn a_spool_file_that_changes_nothing_is_nothing_to_plan() {
    let env = env();
    if !sandbox_or_skip(&env) {
        return;
    }
    env.write("proposals/noop.toml", PLAN.replace("2\\n", "1\\n"));
    let noop = env.path("proposals/noop.toml");
    let out = env.run(&["plan", noop.to_str().unwrap()]);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out:?}");
    let (out, spool) = sandbox(
        &env,
        &format!("cp {} \"$AUTONOMY_SPOOL/noop.toml\"\n", noop.display()),
    );
    assert_eq!(out.code, 0, "{out:?}");
    let r = reply(&spool, "noop.toml");
    assert_eq!(r["decision"], "nothing_to_plan", "{r}");
    assert!(r["plan"].is_null(), "{r}");
    assert!(
        !env.event_kinds()
            .iter()
            .any(|k| k == "sandbox.proposal_refused")
    );
    assert!(pending(&env).is_empty());
}
