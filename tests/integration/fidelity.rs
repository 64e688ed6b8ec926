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

/// An agent in the sandbox proposes links through its spool, as a plan file
/// (`kind = "symlink"`) and as a patch (a new link, mode 120000, and a file turned into a
/// link): each is a pending plan that previews `link -> target`, applies as a link (never
/// followed) and rolls back.
#[test]
fn sandbox_spool_files_make_links() {
    let env = Env::new();
    env.write("a.txt", "alpha\n");
    env.write("was-file", "a file first\n");
    let before = env.tree();
    let agent = env.tmp.path().join("agent.sh");
    std::fs::write(
        &agent,
        "#!/bin/sh\n\
         printf 'title = \"link it\"\\n[[action]]\\nkind = \"symlink\"\\npath = \"cur\"\\ntarget = \"a.txt\"\\n' > \"$AUTONOMY_SPOOL/p.toml\"\n\
         cat > \"$AUTONOMY_SPOOL/q.diff\" <<'EOT'\n\
diff --git a/l2 b/l2\n\
new file mode 120000\n\
--- /dev/null\n\
+++ b/l2\n\
@@ -0,0 +1 @@\n\
+../outside\n\
\\ No newline at end of file\n\
diff --git a/was-file b/was-file\n\
deleted file mode 100644\n\
--- a/was-file\n\
+++ /dev/null\n\
@@ -1 +0,0 @@\n\
-a file first\n\
diff --git a/was-file b/was-file\n\
new file mode 120000\n\
--- /dev/null\n\
+++ b/was-file\n\
@@ -0,0 +1 @@\n\
+a.txt\n\
\\ No newline at end of file\n\
EOT\n",
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = env.run(&["sandbox", "--", agent.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("2 plans proposed"), "{out:?}");
    assert_eq!(env.tree(), before, "nothing applied by the sandbox");
    let pending = env.status_json()["pending"].as_array().unwrap().clone();
    assert_eq!(pending.len(), 2, "{pending:?}");
    let id_of = |title: &str| {
        pending
            .iter()
            .find(|p| p["title"] == title)
            .and_then(|p| p["id"].as_str())
            .expect("plan")
            .to_string()
    };
    let toml_plan = id_of("link it");
    let patch_plan = id_of("Apply patch q.diff");
    let shown = env.run(&["preview", &toml_plan]).stdout;
    assert!(
        shown.contains("new link cur\n    link -> \"a.txt\""),
        "{shown}"
    );
    let shown = env.run(&["preview", &patch_plan]).stdout;
    assert!(
        shown.contains("new link l2\n    link -> \"../outside\""),
        "{shown}"
    );
    assert!(
        shown.contains("file to link was-file\n    link -> \"a.txt\""),
        "{shown}"
    );
    for id in [&toml_plan, &patch_plan] {
        env.approve(id);
        env.apply_ok(id);
    }
    let target = |p: &str| std::fs::read_link(env.path(p)).expect("a link");
    assert_eq!(target("cur"), Path::new("a.txt"));
    assert_eq!(target("l2"), Path::new("../outside"));
    assert_eq!(target("was-file"), Path::new("a.txt"));
    for id in [&patch_plan, &toml_plan] {
        let rev = env.rollback_plan(id);
        env.approve(&rev);
        env.apply_ok(&rev);
    }
    assert_eq!(env.tree(), before);
    env.verify_ok();
}

/// Every entry below `root` (without `.autonomy` and `.git`): path -> (kind, mode, uid,
/// gid), links never followed.
fn entries(root: &Path) -> std::collections::BTreeMap<String, (char, u32, u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut std::collections::BTreeMap<String, (char, u32, u32, u32)>,
    ) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
            if rel == ".autonomy" || rel == ".git" {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).expect("lstat");
            let kind = if m.is_dir() {
                'd'
            } else if m.file_type().is_symlink() {
                'l'
            } else {
                'f'
            };
            out.insert(rel, (kind, m.mode() & 0o7777, m.uid(), m.gid()));
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn set_mode(env: &Env, rel: &str, mode: u32) {
    std::fs::set_permissions(
        env.path(rel),
        std::os::unix::fs::PermissionsExt::from_mode(mode),
    )
    .expect("chmod");
}

/// A folder's mode is a change a plan file makes (`chmod` with `mode`, also on a folder
/// it makes), previewed as `mode 0755 -> 0700`, applied and rolled back exactly; a moved
/// folder keeps its mode (not 0755).
#[test]
fn plan_files_change_folder_modes_and_rollback_restores_them() {
    let env = Env::new();
    env.write("priv/a.txt", "a\n");
    env.write("open/b.txt", "b\n");
    env.write("moveme/sub/c.txt", "c\n");
    set_mode(&env, "open", 0o700);
    set_mode(&env, "moveme", 0o711);
    set_mode(&env, "moveme/sub", 0o750);
    let before = entries(&env.root);
    let id = env.plan(
        r#"title = "folder modes"
[[action]]
kind = "chmod"
path = "priv"
mode = "0700"
[[action]]
kind = "chmod"
path = "open"
mode = "0755"
[[action]]
kind = "write"
path = "priv/new.txt"
content = "new\n"
[[action]]
kind = "mkdir"
path = "made"
[[action]]
kind = "chmod"
path = "made"
mode = "0750"
[[action]]
kind = "move"
from = "moveme"
to = "moved"
"#,
    );
    let shown = env.run(&["preview", &id]).stdout;
    for want in [
        "mode changed priv\n    mode 0755 -> 0700\n",
        "mode changed open\n    mode 0700 -> 0755\n",
        "new folder made\n    new folder mode 0750\n",
        "new folder moved\n    new folder mode 0711\n",
        "new folder moved/sub\n    new folder mode 0750\n",
    ] {
        assert!(shown.contains(want), "missing {want:?} in:\n{shown}");
    }
    let json = env.output(&["preview", &id, "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let priv_change = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == "priv")
        .cloned()
        .expect("priv");
    assert_eq!(priv_change["action"], "chmod");
    assert_eq!(priv_change["before"]["mode"], 0o755);
    assert_eq!(priv_change["after"]["mode"], 0o700);
    env.approve(&id);
    env.apply_ok(&id);
    let now = entries(&env.root);
    assert_eq!(now["priv"].1, 0o700);
    assert_eq!(now["open"].1, 0o755);
    assert_eq!(now["made"].1, 0o750);
    assert_eq!(now["moved"].1, 0o711, "a moved folder keeps its mode");
    assert_eq!(now["moved/sub"].1, 0o750);
    assert_eq!(env.read_str("priv/new.txt"), "new\n");
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    env.apply_ok(&rev);
    assert_eq!(
        entries(&env.root),
        before,
        "rollback is exact, folder modes included"
    );
    env.verify_ok();
}

/// A capture plans the folder modes the command set (before, they were listed as
/// unplannable): an existing folder's chmod and a new folder's mode.
#[test]
fn a_capture_plans_folder_modes() {
    let env = Env::new();
    env.write("sub/a.txt", "a\n");
    let before = entries(&env.root);
    let out = env.output(&[
        "plan",
        "--capture",
        "--",
        "sh",
        "-c",
        "chmod 700 sub && mkdir fresh && chmod 750 fresh && echo f > fresh/f.txt",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!said.contains("cannot be planned"), "{said}");
    let id = env.full_id_db(String::from_utf8_lossy(&out.stdout).trim());
    let shown = env.run(&["preview", &id]).stdout;
    assert!(
        shown.contains("mode changed sub\n    mode 0755 -> 0700\n"),
        "{shown}"
    );
    assert!(
        shown.contains("new folder fresh\n    new folder mode 0750\n"),
        "{shown}"
    );
    env.approve(&id);
    env.apply_ok(&id);
    let now = entries(&env.root);
    assert_eq!(now["sub"].1, 0o700);
    assert_eq!(now["fresh"].1, 0o750);
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    env.apply_ok(&rev);
    assert_eq!(entries(&env.root), before);
    env.verify_ok();
}

/// A run that fails after a folder's mode changed puts the mode back (undo), and
/// recovery after a crash does too.
#[test]
fn a_failed_run_puts_a_folder_mode_back() {
    let env = Env::new();
    env.write("d/a.txt", "a\n");
    env.write("z.txt", "z\n");
    let before = entries(&env.root);
    // Opening up `d` runs first; the write of z.txt then finds z.txt changed: the run
    // fails and is undone.
    let id = env.plan(
        r#"title = "open and write"
[[action]]
kind = "chmod"
path = "d"
mode = "0777"
[[action]]
kind = "write"
path = "z.txt"
content = "new\n"
"#,
    );
    env.approve(&id);
    let out = env.output_env(
        &["apply", &id],
        &[("AUTONOMY_FAILPOINT", "step.after_rename")],
    );
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let out = env.output(&["recover"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        entries(&env.root),
        before,
        "recovery puts the folder mode back"
    );
    env.verify_ok();
}

/// A folder and a link a plan deletes come back on rollback with their owner and group
/// (as files do), and with the folder's mode.
#[test]
fn rollback_recreates_folders_and_links_with_their_owners() {
    if unsafe { libc::geteuid() } != 0 {
        return skip("needs root to chown entries to nobody");
    }
    let env = Env::new();
    env.write("theirs/inner/f.txt", "f\n");
    env.write("keep.txt", "k\n");
    std::os::unix::fs::symlink("keep.txt", env.path("theirs/lnk")).expect("symlink");
    set_mode(&env, "theirs/inner", 0o750);
    for p in ["theirs", "theirs/inner", "theirs/inner/f.txt", "theirs/lnk"] {
        std::os::unix::fs::lchown(env.path(p), Some(65534), Some(65534)).expect("chown");
    }
    let before = entries(&env.root);
    let id = env.plan(
        r#"title = "remove theirs"
[[action]]
kind = "delete"
path = "theirs"
"#,
    );
    env.approve(&id);
    env.apply_ok(&id);
    assert!(!env.path("theirs").exists());
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    env.apply_ok(&rev);
    assert_eq!(
        entries(&env.root),
        before,
        "folders and links come back with owner, group and mode"
    );
    env.verify_ok();
}

const EXEC_RULES: &str = r#"
[exec]
allow = true
commands = ["sh"]
timeout = "20s"
"#;

fn exec_plan(script: &str, touches: &str) -> String {
    format!(
        "title = \"exec\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {script:?}]\ntouches = [{touches:?}]\n"
    )
}

/// Links under an exec step's `touches` are kept as links (target read, never followed):
/// a step that leaves them alone runs (before, any link there stopped the step), a step
/// that retargets, deletes or makes links is recorded and rolled back exactly, and a
/// failing step puts them back.
#[test]
fn links_under_exec_touches_are_kept_and_restored_as_links() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/old.txt", "old\n");
    env.write("outside.txt", "keep\n");
    std::os::unix::fs::symlink("old.txt", env.path("gen/link")).expect("symlink");
    std::os::unix::fs::symlink("../outside.txt", env.path("gen/l2")).expect("symlink");
    let before = entries(&env.root);

    // 1. A step that does not touch the links.
    let id = env.plan(&exec_plan("echo new > gen/new.txt", "gen/**"));
    env.approve(&id);
    let out = env.output(&["apply", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(env.read_str("gen/new.txt"), "new\n");
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    env.apply_ok(&rev);
    assert_eq!(entries(&env.root), before);

    // 2. A step that retargets one link, deletes another and makes a third.
    let id = env.plan(&exec_plan(
        "ln -sfn new-target gen/link && rm gen/l2 && ln -s /etc/hostname gen/l3",
        "gen/**",
    ));
    env.approve(&id);
    let out = env.output(&["apply", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let target = |p: &str| std::fs::read_link(env.path(p)).expect("a link");
    assert_eq!(target("gen/link"), Path::new("new-target"));
    assert!(std::fs::symlink_metadata(env.path("gen/l2")).is_err());
    assert_eq!(target("gen/l3"), Path::new("/etc/hostname"));
    assert_eq!(env.read_str("outside.txt"), "keep\n", "never followed");
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    env.apply_ok(&rev);
    assert_eq!(entries(&env.root), before, "links back as they were");

    // 3. A failing step: what it did to the links is undone at once.
    let id = env.plan(&exec_plan(
        "ln -sfn elsewhere gen/link && rm gen/l2 && exit 3",
        "gen/**",
    ));
    env.approve(&id);
    let out = env.output(&["apply", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(entries(&env.root), before, "a failed step puts links back");
    env.verify_ok();
}

/// An agent's `Write` to a path that is a link (here to a file outside the workspace) is
/// refused like its `Edit`, with the same reason: neither writes through the link nor
/// plans to replace it, and no plan is made.
#[test]
fn an_agent_write_through_a_link_is_refused_like_an_edit() {
    let env = Env::new();
    env.write("autonomy.toml", "[agents]\nwait = \"1s\"\n");
    let outside = env.tmp.path().join("outside.txt");
    std::fs::write(&outside, "secret\n").expect("write");
    std::os::unix::fs::symlink(&outside, env.path("lnk")).expect("symlink");
    let file = env.path("lnk").to_string_lossy().to_string();
    let root = env.root.to_string_lossy().to_string();
    for (tool, input) in [
        (
            "Write",
            serde_json::json!({ "file_path": file, "content": "pwned\n" }),
        ),
        (
            "Edit",
            serde_json::json!({ "file_path": file, "old_string": "secret", "new_string": "pwned" }),
        ),
    ] {
        let call = serde_json::json!({
            "session_id": "s1", "hook_event_name": "PreToolUse", "tool_name": tool,
            "tool_use_id": format!("t-{tool}"), "cwd": root, "tool_input": input,
        });
        let out = env
            .cmd()
            .args(["hook", "claude"])
            .write_stdin(call.to_string())
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .expect("hook");
        let answer = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(answer.contains("\"deny\""), "{tool}: {answer}");
        assert!(
            answer.contains(
                "lnk is a symbolic link; an agent's file tool call is not applied through a link"
            ),
            "{tool}: {answer}"
        );
    }
    assert!(
        env.status_json()["pending"].as_array().unwrap().is_empty(),
        "no plan made"
    );
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret\n");
    assert!(
        std::fs::symlink_metadata(env.path("lnk"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

fn views(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(env.path(".autonomy/views"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("v-"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A view a killed capture left behind is removed by `gc`; a view whose owner is still
/// running is not (its owner holds the view's lock), nor one kept on purpose.
#[test]
fn gc_collects_views_left_by_a_killed_capture_and_only_those() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let mut child = std::process::Command::new(bin())
        .current_dir(&env.root)
        .args(["plan", "--capture", "--", "sleep", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("capture");
    let started = std::time::Instant::now();
    while views(&env).is_empty() && started.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let live = views(&env);
    assert_eq!(live.len(), 1, "the capture's view appears");
    // Its owner runs: gc leaves it.
    let out = env.output(&["gc"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(views(&env), live, "a live view is never collected");
    // The owner dies without cleaning up.
    child.kill().expect("kill");
    child.wait().expect("wait");
    assert_eq!(views(&env), live, "a killed capture leaves its view");
    // A view kept on purpose (a session between commands) stays too.
    let kept = env.path(".autonomy/views/v-kept");
    std::fs::create_dir_all(kept.join("upper")).expect("mkdir");
    std::fs::write(kept.join("kept"), "").expect("mark");
    let out = env.output(&["gc", "--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(said.contains("Would remove 1 stale view"), "{said}");
    assert_eq!(views(&env).len(), 2, "--dry-run removes nothing");
    let out = env.output(&["gc"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(said.contains("Removed 1 stale view"), "{said}");
    assert_eq!(views(&env), ["v-kept"]);
    env.verify_ok();
}

/// A folder an exec step removes (never declarable: the step fails) comes back with its
/// mode, not 0755.
#[test]
fn a_folder_an_exec_step_removes_comes_back_with_its_mode() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/priv/secret.txt", "s\n");
    set_mode(&env, "gen/priv", 0o700);
    let before = entries(&env.root);
    let id = env.plan(&exec_plan("rm -r gen/priv", "gen/**"));
    env.approve(&id);
    let out = env.output(&["apply", &id]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(entries(&env.root), before, "gen/priv back with mode 0700");
    env.verify_ok();
}
