//! End-to-end tests with real `git diff --binary`, `git format-patch` and `diff -ruN` output:
//! every file patch is applied to the old tree and the result must equal the new tree byte
//! for byte and mode for mode.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::{BinaryData, FilePatch, PatchBody, PatchKind, apply, parse};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Path → (content, git mode).
type Tree = BTreeMap<String, (Vec<u8>, u32)>;

fn run(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &str)], ok: &[i32]) -> Vec<u8> {
    let mut command = Command::new(program);
    command
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_EXTERNAL_DIFF");
    for (k, v) in envs {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(
        ok.contains(&out.status.code().unwrap_or(-1)),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
    let mut all = vec![
        "-c",
        "user.name=Patch Test",
        "-c",
        "user.email=patch@example.com",
        "-c",
        "init.defaultBranch=main",
    ];
    all.extend_from_slice(args);
    run(dir, "git", &all, &[], &[0])
}

/// Deterministic pseudo-random bytes (xorshift64), always containing a NUL so git sees
/// them as binary.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    out[0] = 0;
    out
}

fn write(root: &Path, path: &str, content: &[u8]) {
    let full = root.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, content).unwrap();
}

fn chmod(root: &Path, path: &str, mode: u32) {
    fs::set_permissions(root.join(path), fs::Permissions::from_mode(mode)).unwrap();
}

fn remove(root: &Path, path: &str) {
    fs::remove_file(root.join(path)).unwrap();
}

fn lines(prefix: &str, n: usize) -> String {
    (1..=n).map(|i| format!("{prefix} {i}\n")).collect()
}

fn snapshot(root: &Path) -> Tree {
    fn walk(root: &Path, dir: &Path, tree: &mut Tree) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, tree);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                let exec = entry.metadata().unwrap().permissions().mode() & 0o111 != 0;
                let mode = if exec { 0o100755 } else { 0o100644 };
                tree.insert(rel, (fs::read(&path).unwrap(), mode));
            }
        }
    }
    let mut tree = Tree::new();
    walk(root, root, &mut tree);
    tree
}

/// Applies a whole patch set the way `git apply` does: every old content is read from
/// the tree before the patch, then deletions and renames remove their old paths, then
/// results are written.
fn apply_all(tree: &Tree, patches: &[FilePatch]) -> Tree {
    let mut results = Vec::new();
    for patch in patches {
        let old = patch.old_path.as_ref().map(|path| {
            tree.get(path)
                .unwrap_or_else(|| panic!("{path} is not in the old tree"))
        });
        let new = apply(patch, old.map(|(content, _)| content.as_slice()))
            .unwrap_or_else(|e| panic!("{e}"));
        results.push((patch, old.map(|(_, mode)| *mode), new));
    }
    let mut out = tree.clone();
    for (patch, _, _) in &results {
        if matches!(patch.kind, PatchKind::Delete | PatchKind::Rename) {
            out.remove(patch.old_path.as_ref().unwrap());
        }
    }
    for (patch, old_mode, new) in results {
        if let (Some(path), Some(content)) = (&patch.new_path, new) {
            let mode = patch.new_mode.or(old_mode).unwrap_or(0o100644);
            out.insert(path.clone(), (content, mode));
        }
    }
    out
}

fn assert_trees_eq(actual: &Tree, expected: &Tree, what: &str) {
    let differing: Vec<&String> = actual
        .keys()
        .chain(expected.keys())
        .filter(|k| actual.get(*k) != expected.get(*k))
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: these paths differ: {differing:?}"
    );
}

/// Builds a repository with commits tagged c0..c3 and returns the tree of each.
fn build_history(root: &Path) -> Vec<Tree> {
    git(root, &["init", "-q"]);
    let commit = |root: &Path, n: usize| {
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", &format!("commit {n}")]);
        git(root, &["tag", &format!("c{n}")]);
        snapshot(root)
    };

    write(root, "mod.txt", lines("line", 30).as_bytes());
    write(root, "rename_src.txt", lines("rename", 20).as_bytes());
    write(root, "copy_src.txt", lines("copy", 20).as_bytes());
    write(root, "mode.sh", b"#!/bin/sh\necho hi\n");
    write(root, "mode_edit.sh", b"#!/bin/sh\necho one\n");
    write(root, "bin_small.bin", &random_bytes(1, 4096));
    write(root, "bin_gone.bin", &random_bytes(2, 1000));
    write(root, "nonl_add.txt", b"a\nb");
    write(root, "nonl_remove.txt", b"a\nb\n");
    write(root, "\u{e4}/\u{f6}.txt", b"umlaut\nfile\n");
    write(root, "with space.txt", lines("space", 10).as_bytes());
    write(root, "delete_me.txt", b"bye\nnow\n");
    write(root, "empty_gone.txt", b"");
    write(root, "latin1.txt", b"caf\xe9\nna\xefve\nend\n");
    write(root, "crlf.txt", b"one\r\ntwo\r\nthree\r\n");
    write(root, "dir/deep/keep.txt", b"keep\n");
    let mut trees = vec![commit(root, 0)];

    let mut text = lines("line", 30).replace("line 3\n", "LINE THREE\n");
    text = text.replace("line 25\n", "line 25 changed\n");
    write(root, "mod.txt", text.as_bytes());
    remove(root, "rename_src.txt");
    let renamed = lines("rename", 20).replace("rename 10\n", "rename ten\n");
    write(root, "moved/renamed.txt", renamed.as_bytes());
    let copied = lines("copy", 20).replace("copy 5\n", "copy five\n");
    write(root, "copy_dst.txt", copied.as_bytes());
    chmod(root, "mode.sh", 0o755);
    write(root, "mode_edit.sh", b"#!/bin/sh\necho two\n");
    chmod(root, "mode_edit.sh", 0o755);
    let mut small = random_bytes(1, 4096);
    for b in &mut small[100..104] {
        *b ^= 0x5a;
    }
    write(root, "bin_small.bin", &small);
    write(root, "new.bin", &random_bytes(3, 2000));
    trees.push(commit(root, 1));

    write(root, "nonl_add.txt", b"a\nb\nc\n");
    write(root, "nonl_remove.txt", b"a\nB");
    write(root, "\u{e4}/\u{f6}.txt", b"umlaut\nfile changed\n");
    write(root, "\u{e4}/n\u{eb}u file.txt", b"new\nnon-ascii\n");
    write(
        root,
        "with space.txt",
        lines("space", 10)
            .replace("space 2\n", "space two\n")
            .as_bytes(),
    );
    remove(root, "delete_me.txt");
    remove(root, "bin_gone.bin");
    remove(root, "empty_gone.txt");
    write(root, "created.txt", b"new\nfile\n");
    write(root, "empty.txt", b"");
    write(root, "latin1.txt", b"caf\xe9\nNA\xcfVE\nend\n");
    write(root, "crlf.txt", b"one\r\nTWO\r\nthree\r\n");
    trees.push(commit(root, 2));

    let mut text = String::from_utf8(fs::read(root.join("mod.txt")).unwrap()).unwrap();
    text = format!(
        "new top 1\nnew top 2\n{}",
        text.replace("line 28\n", "line 28!\n")
    );
    write(root, "mod.txt", text.as_bytes());
    let renamed = renamed.replace("rename 18\n", "rename eighteen\n");
    write(root, "moved/renamed.txt", renamed.as_bytes());
    small[3000] ^= 0xff;
    write(root, "bin_small.bin", &small);
    let spaced = fs::read(root.join("with space.txt")).unwrap();
    remove(root, "with space.txt");
    write(root, "other space.txt", &spaced);
    trees.push(commit(root, 3));
    trees
}

const FIND_ALL: [&str; 4] = ["--binary", "-M", "-C", "--find-copies-harder"];

#[test]
fn git_diff_between_commits_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let trees = build_history(root);

    let variants: [&[&str]; 4] = [
        &FIND_ALL,
        &["--binary"],
        &["--binary", "--no-renames", "-U1"],
        &["--binary", "-M", "--full-index", "-U5"],
    ];
    for options in variants {
        for (from, to) in [(0, 3), (0, 1), (1, 2), (2, 3)] {
            let mut args = vec!["diff"];
            args.extend_from_slice(options);
            let (a, b) = (format!("c{from}"), format!("c{to}"));
            args.extend([a.as_str(), b.as_str()]);
            let diff = git(root, &args);
            let patches = parse(&diff).unwrap_or_else(|e| panic!("{options:?} {a}..{b}: {e}"));
            let result = apply_all(&trees[from], &patches);
            assert_trees_eq(
                &result,
                &trees[to],
                &format!("git diff {options:?} {a} {b}"),
            );
        }
    }

    // The main variant exercises every kind of change.
    let mut args = vec!["diff"];
    args.extend_from_slice(&FIND_ALL);
    args.extend(["c0", "c3"]);
    let diff = git(root, &args);
    let text = String::from_utf8_lossy(&diff);
    assert!(text.contains("\"a/\\303\\244/\\303\\266.txt\""), "{text}");
    let patches = parse(&diff).unwrap();
    let has = |f: &dyn Fn(&FilePatch) -> bool| patches.iter().any(f);
    for kind in [
        PatchKind::Modify,
        PatchKind::Create,
        PatchKind::Delete,
        PatchKind::Rename,
        PatchKind::Copy,
    ] {
        assert!(has(&|p| p.kind == kind), "no {kind:?} in {text}");
    }
    let forward = |p: &FilePatch| match &p.body {
        PatchBody::Binary(b) => Some(b.forward.clone()),
        _ => None,
    };
    assert!(has(&|p| matches!(forward(p), Some(BinaryData::Delta(_)))));
    assert!(has(
        &|p| p.kind == PatchKind::Create && matches!(forward(p), Some(BinaryData::Literal(_)))
    ));
    assert!(has(&|p| p.kind == PatchKind::Delete && forward(p).is_some()));
    assert!(has(&|p| p.new_path.as_deref() == Some("\u{e4}/\u{f6}.txt")));
    assert!(has(&|p| p.kind == PatchKind::Rename
        && p.old_path.as_deref() == Some("with space.txt")
        && p.new_path.as_deref() == Some("other space.txt")));
    assert!(has(&|p| p.old_mode == Some(0o100644)
        && p.new_mode == Some(0o100755)
        && p.body == PatchBody::None));
    // Git pairs the new empty file with the deleted one; without rename detection both
    // show as an empty creation and an empty deletion.
    assert!(has(
        &|p| p.new_path.as_deref() == Some("empty.txt") && p.body == PatchBody::None
    ));
    let plain = parse(&git(
        root,
        &["diff", "--binary", "--no-renames", "c0", "c3"],
    ))
    .unwrap();
    assert!(plain.iter().any(|p| p.kind == PatchKind::Create
        && p.new_path.as_deref() == Some("empty.txt")
        && p.body == PatchBody::None));
    assert!(plain.iter().any(|p| p.kind == PatchKind::Delete
        && p.old_path.as_deref() == Some("empty_gone.txt")
        && p.body == PatchBody::None));
    assert!(has(&|p| p.kind == PatchKind::Copy
        && p.old_path.as_deref() == Some("copy_src.txt")
        && matches!(p.body, PatchBody::Text(_))));
}

#[test]
fn format_patch_series_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    fs::create_dir(&root).unwrap();
    let trees = build_history(&root);
    let out_dir = tmp.path().join("mails");
    let out = out_dir.to_str().unwrap();
    let mut args = vec!["format-patch", "-q", "-o", out];
    args.extend_from_slice(&FIND_ALL);
    args.push("c0..c3");
    git(&root, &args);
    let mut mails: Vec<_> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    mails.sort();
    assert_eq!(mails.len(), 3);

    let mut tree = trees[0].clone();
    let mut mbox = Vec::new();
    for (i, mail) in mails.iter().enumerate() {
        let content = fs::read(mail).unwrap();
        assert!(content.starts_with(b"From "));
        let patches = parse(&content).unwrap_or_else(|e| panic!("{}: {e}", mail.display()));
        tree = apply_all(&tree, &patches);
        assert_trees_eq(&tree, &trees[i + 1], &mail.display().to_string());
        mbox.extend(content);
    }
    // The whole series as one mailbox parses too.
    assert!(parse(&mbox).unwrap().len() > 20);
}

#[test]
fn diff_ru_n_between_directories_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    fs::create_dir(&root).unwrap();
    let trees = build_history(&root);
    // Plain diff cannot carry binary data, modes, or empty files (`-N` treats a missing
    // file as empty), so compare non-empty text files only.
    let text_only = |tree: &Tree| -> BTreeMap<String, Vec<u8>> {
        tree.iter()
            .filter(|(_, (c, _))| !c.is_empty() && !c.contains(&0))
            .map(|(p, (c, _))| (p.clone(), c.clone()))
            .collect()
    };
    let (old, new) = (text_only(&trees[0]), text_only(&trees[3]));
    for (dir, files) in [("a", &old), ("b", &new)] {
        for (path, content) in files {
            write(&tmp.path().join(dir), path, content);
        }
    }
    // A time zone west of UTC makes the epoch dates of created/deleted files
    // `1969-12-31 19:00:00.000000000 -0500`.
    let diff = run(
        tmp.path(),
        "diff",
        &["-ruN", "a", "b"],
        &[("TZ", "XST+5"), ("LC_ALL", "C")],
        &[1],
    );
    assert!(String::from_utf8_lossy(&diff).contains("1969-12-31 19:00:00"));
    let patches = parse(&diff).unwrap();
    assert!(patches.iter().any(|p| p.kind == PatchKind::Create));
    assert!(patches.iter().any(|p| p.kind == PatchKind::Delete));
    let tree: Tree = old
        .iter()
        .map(|(p, c)| (p.clone(), (c.clone(), 0)))
        .collect();
    let result: BTreeMap<String, Vec<u8>> = apply_all(&tree, &patches)
        .into_iter()
        .map(|(p, (c, _))| (p, c))
        .collect();
    assert_eq!(result, new);
}
