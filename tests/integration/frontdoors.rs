//! The front doors for agents, end to end: `plan --patch` from real `git diff` output
//! (and over this repository's own history), `plan --capture`, and `sandbox`.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn have_git() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A workspace that is also a git repository with two commits covering every diff feature;
/// returns (env, the diff between them).
fn repo_with_history() -> (Env, Vec<u8>) {
    let env = Env::new();
    git(&env.root, &["init", "-q"]);
    env.write("keep.txt", "unchanged\n");
    env.write("edit.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\n");
    env.write(
        "rename-me.txt",
        "alpha\nbeta\ngamma\ndelta\nepsilon\nzeta\n",
    );
    env.write("no-newline.txt", "last line without newline");
    env.write("gone.txt", "to be deleted\n");
    env.write("script.sh", "#!/bin/sh\necho hi\n");
    env.write(
        "bin.dat",
        (0..4096u32)
            .map(|i| (i * 7 % 251) as u8)
            .collect::<Vec<u8>>(),
    );
    git(&env.root, &["add", "-A"]);
    git(&env.root, &["commit", "-qm", "A"]);
    env.write("edit.txt", "one\ntwo\nTHREE\nfour\nfive\nsix\nSEVEN\n");
    std::fs::rename(env.path("rename-me.txt"), env.path("renamed.txt")).unwrap();
    env.write("renamed.txt", "alpha\nbeta\ngamma\ndelta\nepsilon\nZETA\n");
    env.write("no-newline.txt", "last line without newline\nnow has one\n");
    std::fs::remove_file(env.path("gone.txt")).unwrap();
    std::fs::set_permissions(
        env.path("script.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let mut bin = env.read("bin.dat");
    bin[100] ^= 0xff;
    bin.extend_from_slice(&[0, 1, 2, 3]);
    env.write("bin.dat", bin);
    env.write("ä/ö ü.txt", "non-ascii path\n");
    env.write("new/created.txt", "created\n");
    git(&env.root, &["add", "-A"]);
    git(&env.root, &["commit", "-qm", "B"]);
    let diff = git(&env.root, &["diff", "--binary", "-M", "HEAD~1", "HEAD"]);
    // The workspace goes back to commit A (B stays on the branch `main`).
    git(&env.root, &["checkout", "-q", "--detach", "HEAD~1"]);
    (env, diff)
}

fn without_git(tree: Tree) -> Tree {
    tree.into_iter()
        .filter(|(p, _)| p != ".git" && !p.starts_with(".git/"))
        .collect()
}

#[test]
fn a_real_git_diff_becomes_a_plan_that_reproduces_the_target_and_rolls_back() {
    if !have_git() {
        return skip("git is not installed");
    }
    let (env, diff) = repo_with_history();
    let source = without_git(env.tree());
    let patch = env.tmp.path().join("change.diff");
    std::fs::write(&patch, &diff).unwrap();
    let id = env
        .cmd()
        .arg("plan")
        .arg("--patch")
        .arg(&patch)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let id = String::from_utf8(id).unwrap().trim().to_string();
    // The preview is the exact diff: every path, the rename labelled.
    let preview = env.run(&["preview", &id]);
    for p in [
        "edit.txt",
        "renamed.txt",
        "rename from rename-me.txt",
        "gone.txt",
        "script.sh",
        "bin.dat",
        "ä/ö ü.txt",
    ] {
        assert!(
            preview.stdout.contains(p),
            "preview lacks {p}:\n{}",
            preview.stdout
        );
    }
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    // The workspace now equals commit B exactly, bytes and modes.
    let target = env.tmp.path().join("b");
    std::fs::create_dir(&target).unwrap();
    let archive = git(&env.root, &["archive", "main"]);
    let mut tar = Command::new("tar")
        .args(["-x", "-C"])
        .arg(&target)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(tar.stdin.as_mut().unwrap(), &archive).unwrap();
    drop(tar.stdin.take());
    assert!(tar.wait().unwrap().success());
    let expected = Env {
        tmp: tempfile::tempdir().unwrap(),
        root: target.clone(),
    }
    .tree();
    let mut expected: Tree = expected
        .into_iter()
        .filter(|(p, _)| !p.starts_with(".autonomy"))
        .collect();
    // Compare paths, file bytes and executable bits (git records no other mode bits).
    let got = without_git(env.tree());
    expected.remove(".gitignore");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (p, v) in &expected {
        if let (Some((b, m)), Some(Some((gb, gm)))) = (v, got.get(p)) {
            assert_eq!(b, gb, "{p} differs from commit B");
            assert_eq!(
                m & 0o111,
                gm & 0o111,
                "{p}: executable bit differs from commit B"
            );
        }
    }
    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        without_git(env.tree()),
        source,
        "rollback restores the source tree"
    );
    env.verify_ok();
}

#[test]
fn a_hunk_that_does_not_apply_is_refused_naming_file_and_hunk() {
    if !have_git() {
        return skip("git is not installed");
    }
    let (env, diff) = repo_with_history();
    env.write(
        "edit.txt",
        "one\ntwo\nthree has changed meanwhile\nfour\nfive\nsix\nseven\n",
    );
    let before = env.tree();
    let patch = env.tmp.path().join("change.diff");
    std::fs::write(&patch, &diff).unwrap();
    let out = env.run(&["plan", "--patch", patch.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("edit.txt") && out.stderr.contains("hunk 1"),
        "{}",
        out.stderr
    );
    assert_eq!(env.tree(), before);
    let out = env.run_stdin(&["plan", "--patch", "-"], "this is not a diff\n");
    assert_eq!(out.code, 1, "{out:?}");
}

/// Every consecutive pair of this repository's own recent commits: the diff, applied by
/// the patch engine to the older tree, must give the newer tree byte for byte.
#[test]
fn patches_replay_this_repositorys_own_history() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !have_git() || !repo.join(".git").exists() {
        return skip("no git history here (not a git checkout)");
    }
    let revs = String::from_utf8(git(
        repo,
        &["rev-list", "--first-parent", "--max-count=25", "HEAD"],
    ))
    .unwrap();
    let revs: Vec<&str> = revs.lines().collect();
    if revs.len() < 2 {
        return skip("fewer than two commits in this checkout's history");
    }
    let mut files_checked = 0;
    for pair in revs.windows(2) {
        let (new, old) = (pair[0], pair[1]);
        let diff = git(repo, &["diff", "--binary", "-M", old, new]);
        if diff.is_empty() {
            continue;
        }
        let patches =
            autonomy::plan::patch::parse(&diff).unwrap_or_else(|e| panic!("{old}..{new}: {e}"));
        for p in &patches {
            let old_bytes = p
                .old_path
                .as_ref()
                .map(|op| git(repo, &["show", &format!("{old}:{op}")]));
            let result = autonomy::plan::patch::apply(p, old_bytes.as_deref())
                .unwrap_or_else(|e| panic!("{old}..{new}: {e}"));
            match (&p.new_path, result) {
                (Some(np), Some(bytes)) => {
                    let want = git(repo, &["show", &format!("{new}:{np}")]);
                    assert!(
                        bytes == want,
                        "{old}..{new}: {np} differs after applying the diff"
                    );
                    files_checked += 1;
                }
                (None, None) => files_checked += 1,
                other => panic!("{old}..{new}: unexpected result {:?}", other.0),
            }
        }
    }
    eprintln!(
        "replayed {} commits of this repository, {files_checked} file patches",
        revs.len() - 1
    );
    assert!(files_checked > 0);
}

#[test]
fn capture_plans_creates_modifies_deletes_and_chmods_without_touching_the_workspace() {
    let env = Env::new();
    env.write("src/a.txt", "a\n");
    env.write("src/gone.txt", "x\n");
    env.write("run.sh", "#!/bin/sh\n");
    let before = env.tree();
    let out = env.run(&[
        "plan",
        "--capture",
        "--",
        "sh",
        "-c",
        "echo new > src/new.txt; echo changed > src/a.txt; rm src/gone.txt; chmod 755 run.sh",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.tree(), before, "capture must never touch the workspace");
    let id = out.stdout.trim().to_string();
    let doc: serde_json::Value =
        serde_json::from_str(&env.run(&["preview", &id, "--format", "json"]).stdout).unwrap();
    let mut actions: Vec<String> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap(),
                c["path"].as_str().unwrap()
            )
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "chmod run.sh",
            "create src/new.txt",
            "delete src/gone.txt",
            "modify src/a.txt"
        ]
    );
    assert!(doc["plan"]["title"].as_str().unwrap().contains("sh -c"));
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("src/a.txt"), "changed\n");
    assert_eq!(env.mode("run.sh"), 0o755);
}

#[test]
fn capture_of_a_failing_command_plans_nothing() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let before = env.tree();
    let out = env.run(&[
        "plan",
        "--capture",
        "--",
        "sh",
        "-c",
        "echo half > a.txt; exit 3",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("exit status 3") && out.stderr.contains("nothing was planned"),
        "{}",
        out.stderr
    );
    assert_eq!(env.tree(), before);
    assert!(env.status_json()["pending"].as_array().unwrap().is_empty());
}

#[test]
fn sandboxed_agent_reads_but_cannot_write_and_proposes_through_the_spool() {
    let env = Env::new();
    env.write("secret-plan.txt", "readable\n");
    let before = env.tree();
    let agent = env.tmp.path().join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\n\
         cat secret-plan.txt >/dev/null && echo READ-OK\n\
         (echo evil > secret-plan.txt) 2>/dev/null && echo WROTE-WORKSPACE\n\
         (echo evil > .autonomy/evil) 2>/dev/null && echo WROTE-STATE\n\
         (echo evil > .autonomy/journal.db) 2>/dev/null && echo WROTE-JOURNAL\n\
         printf 'title = \"from agent\"\\n[[action]]\\nkind = \"write\"\\npath = \"AGENT.md\"\\ncontent = \"hi\\\\n\"\\n' > \"$AUTONOMY_SPOOL/p.toml\"\n\
         exit 7\n",
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.run(&["sandbox", "--", agent.to_str().unwrap()]);
    // The agent's own status is returned (DESIGN.md, `sandbox`), and also said in words.
    assert_eq!(out.code, 7, "the agent's status is returned: {out:?}");
    assert!(out.stderr.contains("exited with status 7"), "{out:?}");
    assert!(out.stdout.contains("READ-OK"), "{out:?}");
    assert!(
        !out.stdout.contains("WROTE"),
        "a direct write got through: {out:?}"
    );
    assert_eq!(env.tree(), before, "nothing applied, nothing written");
    let pending = env.status_json()["pending"].as_array().unwrap().clone();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["title"], "from agent");
    assert_eq!(pending[0]["author"], "agent:agent.sh");
    let kinds = env.event_kinds();
    assert!(
        kinds.iter().any(|k| k == "sandbox.started")
            && kinds.iter().any(|k| k == "sandbox.finished")
    );
    env.verify_ok();
}

#[test]
fn sandbox_refuses_to_run_unconfined() {
    let env = Env::new();
    let marker = env.tmp.path().join("ran");
    let out = env
        .cmd()
        .env("AUTONOMY_LANDLOCK", "off")
        .args(["sandbox", "--", "touch"])
        .arg(&marker)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Landlock is unavailable"));
    assert!(!marker.exists(), "the agent must never run unconfined");
}

#[test]
fn sandbox_never_opens_the_state_directory_for_writing() {
    let env = Env::new();
    let out = env.run(&["sandbox", "--allow-write", ".", "--", "true"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains(".autonomy"), "{}", out.stderr);
    let out = env.run(&[
        "sandbox",
        "--allow-write",
        ".autonomy/objects",
        "--",
        "true",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
}
