//! Real trees, whole (issue 15): symlinks as entries (created, retargeted, deleted, file to
//! link and back), never followed; replays of small git repositories through
//! `plan --patch`, applied and rolled back, compared with git's own checkouts.

use crate::common::*;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A tree as git sees it (without `.autonomy` and `.git`): path -> entry, never following
/// a link; folders with their mode.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir(u32),
    File(Vec<u8>, u32),
    Link(String),
}

fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    walk_entries(root, root, &mut out);
    out
}

fn walk_entries(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    for p in names {
        let rel = p
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .to_string();
        if rel == ".autonomy" || rel == ".git" {
            continue;
        }
        let m = std::fs::symlink_metadata(&p).expect("lstat");
        let mode = m.permissions().mode() & 0o7777;
        if m.file_type().is_symlink() {
            let t = std::fs::read_link(&p).expect("readlink");
            out.insert(rel, Entry::Link(t.to_string_lossy().to_string()));
        } else if m.is_dir() {
            out.insert(rel, Entry::Dir(mode));
            walk_entries(root, &p, out);
        } else {
            out.insert(rel, Entry::File(std::fs::read(&p).expect("read"), mode));
        }
    }
}

fn diff(a: &BTreeMap<String, Entry>, b: &BTreeMap<String, Entry>) -> String {
    let mut s = String::new();
    for k in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if a.get(k) != b.get(k) {
            let show = |e: Option<&Entry>| match e {
                None => "absent".to_string(),
                Some(Entry::Dir(m)) => format!("dir {m:o}"),
                Some(Entry::File(b, m)) => format!("file {} bytes {m:o}", b.len()),
                Some(Entry::Link(t)) => format!("link -> {t}"),
            };
            s.push_str(&format!("{k}: {} vs {}\n", show(a.get(k)), show(b.get(k))));
        }
    }
    s
}

/// Approve and apply `id`, then check the journal.
fn approve_apply(env: &Env, id: &str) {
    env.approve(id);
    env.apply_ok(id);
}

/// Roll `id` back (reverse plan approved and applied).
fn roll_back(env: &Env, id: &str) {
    let rev = env.rollback_plan(id);
    approve_apply(env, &rev);
}

#[test]
fn plan_files_create_retarget_and_delete_links_which_roll_back() {
    let env = Env::new();
    env.write("releases/1.0/app", "one\n");
    env.write("releases/2.0/app", "two\n");
    std::os::unix::fs::symlink("releases/1.0", env.path("current")).expect("symlink");
    std::os::unix::fs::symlink("../etc/passwd", env.path("old")).expect("symlink");
    let before = snapshot(&env.root);
    let id = env.plan(
        r#"title = "links"
[[action]]
kind = "symlink"
path = "current"
target = "releases/2.0"
[[action]]
kind = "symlink"
path = "bin/app"
target = "/usr/bin/true"
[[action]]
kind = "delete"
path = "old"
[[action]]
kind = "write"
path = "releases/1.0/app"
content = "uno\n"
"#,
    );
    let out = env.output(&["preview", &id]);
    let shown = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        shown.contains("link -> \"releases/2.0\" (was -> \"releases/1.0\")"),
        "{shown}"
    );
    assert!(shown.contains("link -> \"/usr/bin/true\""), "{shown}");
    assert!(shown.contains("was link -> \"../etc/passwd\""), "{shown}");
    approve_apply(&env, &id);
    let after = snapshot(&env.root);
    assert_eq!(
        after.get("current"),
        Some(&Entry::Link("releases/2.0".into()))
    );
    assert_eq!(
        after.get("bin/app"),
        Some(&Entry::Link("/usr/bin/true".into()))
    );
    assert_eq!(after.get("old"), None);
    assert_eq!(
        after.get("releases/1.0/app"),
        Some(&Entry::File(b"uno\n".to_vec(), 0o644))
    );
    roll_back(&env, &id);
    let back = snapshot(&env.root);
    assert_eq!(back, before, "{}", diff(&back, &before));
    env.verify_ok();
}

#[test]
fn a_path_through_a_link_stays_refused() {
    let env = Env::new();
    env.write("real/a", "a\n");
    std::os::unix::fs::symlink("real", env.path("via")).expect("symlink");
    let out = env
        .cmd()
        .args(["plan", "-"])
        .write_stdin(
            "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"via/a\"\ncontent = \"x\"\n",
        )
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("symbolic link"),
        "{}",
        text(&out)
    );
    assert_eq!(env.read_str("real/a"), "a\n");
}

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
            "-c",
            "tar.umask=022",
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

fn link(target: &str, at: &Path) {
    if let Some(p) = at.parent() {
        std::fs::create_dir_all(p).expect("mkdir");
    }
    let _ = std::fs::remove_file(at);
    std::os::unix::fs::symlink(target, at).expect("symlink");
}

fn put(root: &Path, rel: &str, content: &str, mode: u32) {
    let p = root.join(rel);
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let _ = std::fs::remove_file(&p);
    std::fs::write(&p, content).expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The tree git's checkout of `commit` holds (from `git archive`, files 0644/0755, folders
/// 0755, links as links).
fn git_tree(repo: &Path, commit: &str) -> BTreeMap<String, Entry> {
    let scratch = tempfile::tempdir().expect("tempdir");
    let tar = git(repo, &["archive", "--format=tar", commit]);
    let mut child = std::process::Command::new("tar")
        .args(["-x", "-p", "-C"])
        .arg(scratch.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("tar");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&tar)
        .expect("feed tar");
    assert!(child.wait().expect("tar ends").success());
    // tar gives the root's own mode to nothing here; folders come out 0755.
    snapshot(scratch.path())
}

/// Each commit of a small history (symlinks added, retargeted, file to link, link to file,
/// a link deleted, a mode flip, folders emptied by a delete and by a move), replayed through
/// `plan --patch` of `git diff --binary`: applied, the tree is git's checkout of the commit
/// (`git status` clean against it, and the same entries, links and empty folders); rolled
/// back, it is exactly the parent again; planned and applied again to go on.
#[test]
fn git_history_with_links_modes_and_emptied_folders_replays_exactly() {
    let env = Env::new();
    let root = env.root.clone();
    git(&root, &["init", "-q", "-b", "main"]);
    std::fs::write(root.join(".git/info/exclude"), ".autonomy/\n").expect("exclude");
    let commit = |msg: &str| {
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", msg]);
        String::from_utf8(git(&root, &["rev-parse", "HEAD"]))
            .expect("utf8")
            .trim()
            .to_string()
    };
    // c0: the starting tree.
    put(&root, "a.txt", "alpha\n", 0o644);
    put(&root, "sub/b.txt", "bravo\n", 0o644);
    put(&root, "lib/x.txt", "x-ray\n", 0o644);
    put(&root, "script.sh", "#!/bin/sh\necho hi\n", 0o644);
    put(&root, "only/one.txt", "lonely\n", 0o644);
    put(&root, "deep/er/est.txt", "deep\n", 0o644);
    put(&root, "keep/k.txt", "kilo\nline two\nline three\n", 0o644);
    put(&root, "ftl.txt", "file to link\n", 0o644);
    link("a.txt", &root.join("ltf"));
    link("sub/b.txt", &root.join("doomed"));
    let mut commits = vec![commit("c0")];
    // c1: links added (one absolute, one climbing out).
    link("sub", &root.join("cur"));
    link("/etc/hostname", &root.join("abs"));
    link("../../outside", &root.join("lib/up"));
    commits.push(commit("c1 links added"));
    // c2: a link retargeted.
    link("lib", &root.join("cur"));
    commits.push(commit("c2 retarget"));
    // c3: a file becomes a link.
    std::fs::remove_file(root.join("ftl.txt")).expect("rm");
    link("a.txt", &root.join("ftl.txt"));
    commits.push(commit("c3 file to link"));
    // c4: a link becomes a file.
    std::fs::remove_file(root.join("ltf")).expect("rm");
    put(&root, "ltf", "now a file\n", 0o644);
    commits.push(commit("c4 link to file"));
    // c5: a link deleted.
    std::fs::remove_file(root.join("doomed")).expect("rm");
    commits.push(commit("c5 link deleted"));
    // c6: a mode flip.
    std::fs::set_permissions(
        root.join("script.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    commits.push(commit("c6 mode flip"));
    // c7: folders emptied by deletes (one nested two deep).
    std::fs::remove_dir_all(root.join("only")).expect("rm");
    std::fs::remove_dir_all(root.join("deep")).expect("rm");
    commits.push(commit("c7 emptied folders"));
    // c8: a folder emptied by a rename with an edit.
    std::fs::create_dir_all(root.join("moved")).expect("mkdir");
    put(&root, "moved/k.txt", "kilo\nline 2\nline three\n", 0o644);
    std::fs::remove_dir_all(root.join("keep")).expect("rm");
    commits.push(commit("c8 rename"));

    git(&root, &["checkout", "-q", "--detach", "-f", &commits[0]]);
    git(&root, &["clean", "-q", "-fdx", "-e", ".autonomy"]);
    assert_eq!(snapshot(&root), git_tree(&root, &commits[0]));
    let mut replayed = 0;
    for pair in commits.windows(2) {
        let (parent, child) = (&pair[0], &pair[1]);
        let patch = git(&root, &["diff", "--binary", "--no-color", parent, child]);
        let plan = |env: &Env| {
            let out = env
                .cmd()
                .args(["plan", "--patch", "-", "--title", "replay"])
                .write_stdin(patch.clone())
                .output()
                .expect("plan");
            assert_eq!(
                out.status.code(),
                Some(0),
                "plan --patch of {child}:\n{}\n{}",
                String::from_utf8_lossy(&patch),
                text(&out)
            );
            env.full_id_db(String::from_utf8_lossy(&out.stdout).trim())
        };
        let before = snapshot(&root);
        let id = plan(&env);
        approve_apply(&env, &id);
        let want = git_tree(&root, child);
        let got = snapshot(&root);
        assert_eq!(got, want, "after {child}:\n{}", diff(&got, &want));
        // git agrees: HEAD moved to the commit without touching the tree, status clean.
        git(&root, &["update-ref", "--no-deref", "HEAD", child]);
        git(&root, &["reset", "-q"]);
        let status = git(&root, &["status", "--porcelain", "--untracked-files=all"]);
        assert!(status.is_empty(), "{}", String::from_utf8_lossy(&status));
        // Rolled back: exactly the parent.
        roll_back(&env, &id);
        let back = snapshot(&root);
        assert_eq!(
            back,
            before,
            "rollback of {child}:\n{}",
            diff(&back, &before)
        );
        // Forward again, to go on.
        let again = plan(&env);
        approve_apply(&env, &again);
        assert_eq!(snapshot(&root), want);
        replayed += 1;
    }
    assert_eq!(replayed, commits.len() - 1);
    env.verify_ok();
}

/// Writing over a link that points outside replaces the link by a file; the file it
/// pointed at is never written, and rollback brings the link back.
#[test]
fn writing_over_a_link_replaces_the_link_never_its_target() {
    let env = Env::new();
    let outside = tempfile::tempdir().expect("tempdir");
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "secret\n").expect("write");
    std::os::unix::fs::symlink(&secret, env.path("f.txt")).expect("symlink");
    let before = snapshot(&env.root);
    let id = env.plan(
        "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"f.txt\"\ncontent = \"mine\\n\"\n",
    );
    approve_apply(&env, &id);
    assert_eq!(std::fs::read_to_string(&secret).expect("read"), "secret\n");
    assert_eq!(
        snapshot(&env.root).get("f.txt"),
        Some(&Entry::File(b"mine\n".to_vec(), 0o644))
    );
    roll_back(&env, &id);
    assert_eq!(snapshot(&env.root), before);
    assert_eq!(std::fs::read_to_string(&secret).expect("read"), "secret\n");
}

/// A 0700 folder emptied by a plan is removed as its own change and comes back 0700 on
/// rollback; a folder the plan keeps (`mkdir`) stays.
#[test]
fn an_emptied_0700_folder_is_removed_and_rollback_restores_its_mode() {
    let env = Env::new();
    env.write("secret/inner/key", "k\n");
    env.write("kept/only", "o\n");
    for (d, m) in [("secret", 0o700), ("secret/inner", 0o750)] {
        std::fs::set_permissions(env.path(d), std::fs::Permissions::from_mode(m)).expect("chmod");
    }
    let before = snapshot(&env.root);
    let id = env.plan(
        r#"title = "empty"
[[action]]
kind = "delete"
path = "secret/inner/key"
[[action]]
kind = "delete"
path = "kept/only"
[[action]]
kind = "mkdir"
path = "kept"
"#,
    );
    approve_apply(&env, &id);
    let after = snapshot(&env.root);
    assert!(!env.path("secret").exists(), "{after:?}");
    assert_eq!(after.get("kept"), Some(&Entry::Dir(0o755)));
    roll_back(&env, &id);
    let back = snapshot(&env.root);
    assert_eq!(back, before, "{}", diff(&back, &before));
    env.verify_ok();
}

/// A run with links killed after each rename (`step.after_rename:N`) is put back by
/// `recover`: links recreated with their targets, files and emptied folders back.
#[test]
fn recover_after_a_crash_mid_run_puts_links_back() {
    if !cfg!(feature = "failpoints") {
        return skip("built without --features failpoints");
    }
    let env = Env::new();
    env.write("a.txt", "a\n");
    env.write("ftl.txt", "file\n");
    env.write("gone/only", "o\n");
    for (target, at) in [("a.txt", "cur"), ("a.txt", "ltf"), ("x", "doomed")] {
        std::os::unix::fs::symlink(target, env.path(at)).expect("symlink");
    }
    std::fs::set_permissions(env.path("gone"), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    let before = snapshot(&env.root);
    let id = env.plan(
        r#"title = "links"
[[action]]
kind = "symlink"
path = "cur"
target = "gone"
[[action]]
kind = "symlink"
path = "ftl.txt"
target = "a.txt"
[[action]]
kind = "write"
path = "ltf"
content = "now a file\n"
[[action]]
kind = "delete"
path = "doomed"
[[action]]
kind = "delete"
path = "gone/only"
[[action]]
kind = "symlink"
path = "new/link"
target = "../a.txt"
"#,
    );
    env.approve(&id);
    let mut crashed = 0;
    for n in 1..=6 {
        let out = env.output_env(
            &["apply", &id],
            &[("AUTONOMY_FAILPOINT", &format!("step.after_rename:{n}"))],
        );
        if signal_of(&out.status).is_none() {
            // Fewer renames than n: the run completed; nothing more to crash.
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            break;
        }
        crashed += 1;
        let rec = env.output(&["recover"]);
        assert_eq!(
            rec.status.code(),
            Some(0),
            "recover after {n}: {}",
            text(&rec)
        );
        let now = snapshot(&env.root);
        assert_eq!(now, before, "after crash {n}:\n{}", diff(&now, &before));
    }
    assert!(crashed >= 4, "only {crashed} crash points were reached");
    // After every step (the emptied 0700 folder removed last): recover makes it again 0700.
    let out = env.output_env(
        &["apply", &id],
        &[("AUTONOMY_FAILPOINT", "run.before_snapshot")],
    );
    assert_eq!(signal_of(&out.status), Some(6), "{}", text(&out));
    assert!(
        !env.path("gone").exists(),
        "the folder step ran before the crash"
    );
    let rec = env.output(&["recover"]);
    assert_eq!(rec.status.code(), Some(0), "{}", text(&rec));
    let now = snapshot(&env.root);
    assert_eq!(now, before, "{}", diff(&now, &before));
    env.apply_ok(&id);
    assert!(!env.path("gone").exists());
    assert_eq!(
        std::fs::read_link(env.path("new/link")).expect("link"),
        Path::new("../a.txt")
    );
    env.verify_ok();
}

/// Owner and group are kept: an edit of a `nobody` file as root leaves it `nobody`, and a
/// rollback of its deletion brings it back `nobody`; a folder's too.
#[test]
fn owners_and_groups_are_kept_through_apply_and_rollback() {
    use std::os::unix::fs::MetadataExt;
    if unsafe { libc::geteuid() } != 0 {
        return skip("needs root to chown files to nobody");
    }
    let env = Env::new();
    env.write("theirs/edited", "one\n");
    env.write("theirs/deleted", "gone\n");
    for p in ["theirs", "theirs/edited", "theirs/deleted"] {
        std::os::unix::fs::lchown(env.path(p), Some(65534), Some(65534)).expect("chown");
    }
    let owner = |p: &str| {
        let m = std::fs::symlink_metadata(env.path(p)).expect("stat");
        (m.uid(), m.gid())
    };
    let id = env.plan(
        r#"title = "owners"
[[action]]
kind = "edit"
path = "theirs/edited"
find = "one"
replace = "two"
[[action]]
kind = "delete"
path = "theirs/deleted"
"#,
    );
    approve_apply(&env, &id);
    assert_eq!(owner("theirs/edited"), (65534, 65534));
    roll_back(&env, &id);
    assert_eq!(owner("theirs/edited"), (65534, 65534));
    assert_eq!(owner("theirs/deleted"), (65534, 65534));
    assert_eq!(env.read_str("theirs/deleted"), "gone\n");
}

mod identity {
    //! apply then rollback is the identity, extended to links and folder modes: random
    //! trees (folders 0700/0750/0755, files, links relative, absolute and climbing out)
    //! and random plans that create, retarget and delete links, write over them, and
    //! empty folders.
    use super::*;
    use proptest::prelude::*;

    const MODES: [u32; 3] = [0o700, 0o750, 0o755];
    const TARGETS: [&str; 5] = ["f0", "../d1", "/etc/hostname", "../../out", "d0/f1"];

    #[derive(Debug, Clone)]
    enum Act {
        Link(u8, u8),
        Delete(u8),
        Write(u8),
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Act::Link(a, b)),
            any::<u8>().prop_map(Act::Delete),
            any::<u8>().prop_map(Act::Write),
        ]
    }

    fn setup(env: &Env, modes: &[u8], links: &[u8]) {
        for d in 0..3usize {
            env.write(&format!("d{d}/f{d}"), format!("file {d}\n"));
            if d == 1 {
                env.write("d1/g", "g\n");
            }
        }
        env.write("f0", "top\n");
        for (i, t) in links.iter().enumerate() {
            let at = if i % 2 == 0 {
                format!("l{i}")
            } else {
                format!("d{}/l{i}", i % 3)
            };
            std::os::unix::fs::symlink(TARGETS[*t as usize % TARGETS.len()], env.path(&at))
                .expect("symlink");
        }
        for (d, m) in modes.iter().enumerate() {
            std::fs::set_permissions(
                env.path(&format!("d{d}")),
                std::fs::Permissions::from_mode(MODES[*m as usize % MODES.len()]),
            )
            .expect("chmod");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("AUTONOMY_PROP_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12),
            max_shrink_iters: 32,
            failure_persistence: None,
            .. ProptestConfig::default()
        })]
        #[test]
        fn apply_then_rollback_is_the_identity_with_links_and_folder_modes(
            modes in proptest::collection::vec(any::<u8>(), 3),
            links in proptest::collection::vec(any::<u8>(), 0..5),
            acts in proptest::collection::vec(act(), 1..6),
        ) {
            let env = Env::new();
            setup(&env, &modes, &links);
            let before = snapshot(&env.root);
            // Entries to act on: every file and link there is now (folders excluded).
            let entries: Vec<String> = before
                .iter()
                .filter(|(_, e)| !matches!(e, Entry::Dir(_)))
                .map(|(p, _)| p.clone())
                .collect();
            let mut toml = String::from("title = \"random links\"\n");
            let mut touched = std::collections::BTreeSet::new();
            for (k, a) in acts.iter().enumerate() {
                let (path, body) = match a {
                    Act::Link(p, t) => {
                        let path = if *p % 3 == 0 {
                            format!("new{k}")
                        } else {
                            entries[*p as usize % entries.len()].clone()
                        };
                        let t = TARGETS[*t as usize % TARGETS.len()];
                        (path.clone(), format!("kind = \"symlink\"\npath = \"{path}\"\ntarget = \"{t}\""))
                    }
                    Act::Delete(p) => {
                        let path = entries[*p as usize % entries.len()].clone();
                        (path.clone(), format!("kind = \"delete\"\npath = \"{path}\""))
                    }
                    Act::Write(p) => {
                        let path = entries[*p as usize % entries.len()].clone();
                        (path.clone(), format!("kind = \"write\"\npath = \"{path}\"\ncontent = \"w{k}\\n\""))
                    }
                };
                // One action per path keeps every plan valid (a second on the same path
                // could meet what the first left, e.g. a delete of a deleted file).
                if touched.insert(path) {
                    toml += &format!("[[action]]\n{body}\n");
                }
            }
            // Every plan changes something.
            toml += "[[action]]\nkind = \"write\"\npath = \"zz.txt\"\ncontent = \"z\\n\"\n";
            let id = env.plan(&toml);
            approve_apply(&env, &id);
            roll_back(&env, &id);
            let back = snapshot(&env.root);
            prop_assert_eq!(&back, &before, "{}\n{}", toml, diff(&back, &before));
            env.verify_ok();
        }
    }
}
