//! Fidelity (issue 15, the rest): renames shown as renames (like git) in preview, apply and
//! the log; sandbox spools that make links; folder mode changes as plan changes; links
//! under exec `touches`; owners of folders and links kept through rollback; stale views
//! collected by `gc`; agents' writes through links refused alike.

use crate::common::*;
use std::path::Path;

/// Run git in `dir`, insisting it succeeds; returns stdout.
fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=fixture",
            "-c",
            "user.email=fixture@autonomy.invalid",
            "-c",
            "core.fileMode=true",
            "-c",
            "core.symlinks=true",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn put(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::write(&p, content).expect("write");
}

fn link(target: &str, at: &Path) {
    let _ = std::fs::remove_file(at);
    std::os::unix::fs::symlink(target, at).expect("symlink");
}

fn numbers(from: u32, to: u32) -> String {
    (from..=to).map(|i| format!("{i}\n")).collect()
}

/// A git repository in the workspace with two commits: the second renames with an edit
/// (`ten` -> `ten2`, git: 87%), renames purely (`same.txt` -> `sub/same.txt`, a link
/// `lnk` -> `lnk2`), and deletes one file while creating an unrelated one (no rename).
/// Returns the two commits.
fn rename_history(env: &Env) -> (String, String) {
    let root = env.root.clone();
    git(&root, &["init", "-q", "-b", "main"]);
    std::fs::write(root.join(".git/info/exclude"), ".autonomy/\n").expect("exclude");
    let commit = |msg: &str| {
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "-m", msg]);
        String::from_utf8(git(&root, &["rev-parse", "HEAD"]))
            .expect("utf8")
            .trim()
            .to_string()
    };
    put(&root, "ten", &numbers(1, 10));
    put(&root, "same.txt", "the same bytes\n");
    put(&root, "gone.txt", "alpha\nbravo\ncharlie\n");
    link("same.txt", &root.join("lnk"));
    let c0 = commit("c0");
    std::fs::remove_file(root.join("ten")).expect("rm");
    put(&root, "ten2", &numbers(1, 11));
    std::fs::remove_file(root.join("same.txt")).expect("rm");
    put(&root, "sub/same.txt", "the same bytes\n");
    std::fs::remove_file(root.join("lnk")).expect("rm");
    link("same.txt", &root.join("lnk2"));
    std::fs::remove_file(root.join("gone.txt")).expect("rm");
    put(&root, "fresh.txt", "xylophone\nyodel\nzebra\n");
    let c1 = commit("c1 renames");
    git(&root, &["checkout", "-q", "-f", &c0]);
    (c0, c1)
}

fn plan_patch(env: &Env, patch: &[u8]) -> String {
    let out = env
        .cmd()
        .args(["plan", "--patch", "-", "--title", "renames"])
        .write_stdin(patch.to_vec())
        .output()
        .expect("plan");
    assert_eq!(out.status.code(), Some(0), "plan --patch: {}", text(&out));
    env.full_id_db(String::from_utf8_lossy(&out.stdout).trim())
}

/// The preview of a plan whose deletes and creates are renames (planned from a patch with
/// `--no-renames`, so the patch itself says nothing of renames) reads as git's `-M`:
/// `rename from/to`, the similarity index, only the content hunks, a pure rename with no
/// hunk at all, and an unrelated delete and create left alone.
#[test]
fn a_plan_of_deletes_and_creates_previews_its_renames_as_git_does() {
    let env = Env::new();
    let (c0, c1) = rename_history(&env);
    let patch = git(&env.root, &["diff", "--binary", "--no-renames", &c0, &c1]);
    assert!(!String::from_utf8_lossy(&patch).contains("rename from"));
    let id = plan_patch(&env, &patch);
    let out = env.output(&["preview", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    for want in [
        "renamed ten -> ten2\n    similarity index 87%\n    rename from ten\n    rename to ten2\n--- a/ten\n+++ b/ten2\n@@ -8,3 +8,4 @@\n 8\n 9\n 10\n+11\n",
        "renamed same.txt -> sub/same.txt\n    similarity index 100%\n    rename from same.txt\n    rename to sub/same.txt\n\n",
        "renamed lnk -> lnk2\n    similarity index 100%\n    rename from lnk\n    rename to lnk2\n    link -> \"same.txt\"\n\n",
        "deleted gone.txt\n",
        "new file fresh.txt\n",
    ] {
        assert!(shown.contains(want), "missing {want:?} in:\n{shown}");
    }
    // Only the content hunk: ten's old lines are never shown as removed.
    assert!(!shown.contains("\n-1\n"), "{shown}");
    // A rename counts once: 3 renames, 1 folder, 1 delete, 1 create; 1 + 3 lines.
    assert!(
        shown.contains("6 files changed, 4 insertions(+), 3 deletions(-)"),
        "{shown}"
    );

    let stat = env.output(&["preview", &id, "--stat"]);
    let stat = String::from_utf8_lossy(&stat.stdout).to_string();
    for want in [
        " ten => ten2           | +1 -0\n",
        " same.txt => sub/same.txt | renamed\n",
    ] {
        let want = want.split_whitespace().collect::<Vec<_>>().join(" ");
        let got: Vec<String> = stat
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert!(got.contains(&want), "missing {want:?} in:\n{stat}");
    }

    let json = env.output(&["preview", &id, "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let renames: Vec<(String, String, u64)> = doc["renames"]
        .as_array()
        .expect("renames")
        .iter()
        .map(|r| {
            (
                r["from"].as_str().unwrap().to_string(),
                r["to"].as_str().unwrap().to_string(),
                r["similarity"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        renames,
        [
            ("lnk".into(), "lnk2".into(), 100),
            ("same.txt".into(), "sub/same.txt".into(), 100),
            ("ten".into(), "ten2".into(), 87),
        ]
    );
    let change = |p: &str| {
        doc["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["path"] == p)
            .cloned()
            .expect("change")
    };
    // Underneath, still a delete and a create.
    assert_eq!(change("ten")["action"], "delete");
    assert_eq!(change("ten")["renamed_to"], "ten2");
    assert_eq!(change("ten")["removed_lines"], 0);
    assert_eq!(change("ten2")["action"], "create");
    assert_eq!(change("ten2")["rename_from"], "ten");
    assert_eq!(change("ten2")["added_lines"], 1);
    assert_eq!(change("ten2")["removed_lines"], 0);
    assert_eq!(doc["stat"]["files"], 6);
}

/// The same history as a patch with `rename from/to` (git's default): the preview reads as
/// renames too, the apply output names each rename once, the log's `plan.created` names
/// them, and apply then rollback is exact.
#[test]
fn renames_show_in_apply_output_and_the_log() {
    let env = Env::new();
    let (c0, c1) = rename_history(&env);
    let patch = git(&env.root, &["diff", "--binary", "-M", &c0, &c1]);
    assert!(String::from_utf8_lossy(&patch).contains("rename from ten\n"));
    let before = env.tree();
    let id = plan_patch(&env, &patch);
    let shown = String::from_utf8_lossy(&env.output(&["preview", &id]).stdout).to_string();
    assert!(
        shown.contains("renamed ten -> ten2\n    similarity index 87%\n"),
        "{shown}"
    );
    assert!(
        shown.contains("renamed same.txt -> sub/same.txt\n    similarity index 100%\n"),
        "{shown}"
    );
    env.approve(&id);
    let out = env.output(&["apply", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        said.contains("  rename  ten => ten2 (87% similar)\n"),
        "{said}"
    );
    assert!(
        said.contains("  rename  same.txt => sub/same.txt\n"),
        "{said}"
    );
    assert!(said.contains("  rename  lnk => lnk2\n"), "{said}");
    assert!(!said.contains("delete  ten\n"), "{said}");
    assert!(!said.contains("create  ten2\n"), "{said}");
    assert!(said.contains("  delete  gone.txt\n"), "{said}");

    let log = String::from_utf8_lossy(&env.output(&["log"]).stdout).to_string();
    assert!(log.contains("(3 renames)"), "{log}");
    let created = env
        .events()
        .into_iter()
        .find(|e| e["kind"] == "plan.created")
        .expect("plan.created");
    assert_eq!(created["data"]["renames"][2]["from"], "ten");
    assert_eq!(created["data"]["renames"][2]["similarity"], 87);

    // Rolled back: the reverse plan renames back, and the tree is exactly as before.
    let rev = env.rollback_plan(&id);
    let shown = String::from_utf8_lossy(&env.output(&["preview", &rev]).stdout).to_string();
    assert!(shown.contains("renamed ten2 -> ten\n"), "{shown}");
    env.approve(&rev);
    env.apply_ok(&rev);
    assert_eq!(env.tree(), before);
    env.verify_ok();
}

/// One rename is named in the log line; a plan file's `move` with an edit reads as a
/// rename with its similarity.
#[test]
fn a_moved_and_edited_file_is_one_rename_in_the_log() {
    let env = Env::new();
    env.write("docs/a.md", numbers(1, 20));
    let id = env.plan(
        r#"title = "move it"
[[action]]
kind = "move"
from = "docs/a.md"
to = "docs/b.md"
[[action]]
kind = "edit"
path = "docs/b.md"
find = "20\n"
replace = "twenty\n"
"#,
    );
    let log = String::from_utf8_lossy(&env.output(&["log"]).stdout).to_string();
    assert!(log.contains("(renamed docs/{a.md => b.md} 87%)"), "{log}");
    let shown = String::from_utf8_lossy(&env.output(&["preview", &id]).stdout).to_string();
    assert!(
        shown.contains("renamed docs/a.md -> docs/b.md\n    similarity index 87%\n"),
        "{shown}"
    );
    assert!(shown.contains("-20\n+twenty\n"), "{shown}");
    assert!(!shown.contains("moved from"), "{shown}");
}
