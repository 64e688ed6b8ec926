//! Unit tests for parsing and applying patches.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::binary::{apply_delta, decode_line, encode_block, encode_line, inflate};
use super::{
    BinaryData, FilePatch, Hunk, HunkLine, PatchBody, PatchError, PatchKind, apply, parse,
};

fn one(input: &str) -> FilePatch {
    let mut patches = parse(input.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(patches.len(), 1, "{patches:#?}");
    patches.remove(0)
}

fn hunks(p: &FilePatch) -> &[Hunk] {
    match &p.body {
        PatchBody::Text(h) => h,
        other => panic!("expected text hunks, got {other:?}"),
    }
}

fn apply_ok(p: &FilePatch, old: &str) -> String {
    let new = apply(p, Some(old.as_bytes()))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap();
    String::from_utf8(new).unwrap()
}

fn err_text(e: &PatchError) -> String {
    e.to_string()
}

const MODIFY: &str = "\
diff --git a/src/a.rs b/src/a.rs
index 83db48f..bf269f4 100644
--- a/src/a.rs
+++ b/src/a.rs
@@ -1,3 +1,3 @@ fn main() {
 one
-two
+TWO
 three
";

#[test]
fn parses_modification() {
    let p = one(MODIFY);
    assert_eq!(p.kind, PatchKind::Modify);
    assert_eq!(p.old_path.as_deref(), Some("src/a.rs"));
    assert_eq!(p.new_path.as_deref(), Some("src/a.rs"));
    assert_eq!((p.old_mode, p.new_mode), (Some(0o100644), Some(0o100644)));
    let h = &hunks(&p)[0];
    assert_eq!(
        (h.old_start, h.old_lines, h.new_start, h.new_lines),
        (1, 3, 1, 3)
    );
    assert_eq!(h.section, "fn main() {");
    assert_eq!(h.header(), "@@ -1,3 +1,3 @@");
    assert_eq!(
        h.lines,
        vec![
            HunkLine::Context(b"one\n".to_vec()),
            HunkLine::Remove(b"two\n".to_vec()),
            HunkLine::Add(b"TWO\n".to_vec()),
            HunkLine::Context(b"three\n".to_vec()),
        ]
    );
    assert_eq!(apply_ok(&p, "one\ntwo\nthree\n"), "one\nTWO\nthree\n");
}

#[test]
fn parses_creation_deletion_and_empty_file() {
    let p = one(
        "diff --git a/new.txt b/new.txt\nnew file mode 100755\nindex 0000000..9daeafb\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+test\n",
    );
    assert_eq!(p.kind, PatchKind::Create);
    assert_eq!(
        (p.old_path.as_deref(), p.new_path.as_deref()),
        (None, Some("new.txt"))
    );
    assert_eq!((p.old_mode, p.new_mode), (None, Some(0o100755)));
    assert_eq!(apply(&p, None).unwrap(), Some(b"test\n".to_vec()));
    assert!(matches!(
        apply(&p, Some(b"x")),
        Err(PatchError::FileState { .. })
    ));

    let p = one(
        "diff --git a/old.txt b/old.txt\ndeleted file mode 100644\nindex 9daeafb..0000000\n--- a/old.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n",
    );
    assert_eq!(p.kind, PatchKind::Delete);
    assert_eq!(
        (p.old_path.as_deref(), p.new_path.as_deref()),
        (Some("old.txt"), None)
    );
    assert_eq!((p.old_mode, p.new_mode), (Some(0o100644), None));
    assert_eq!(apply(&p, Some(b"a\nb\n")).unwrap(), None);
    let e = apply(&p, Some(b"a\nb\nc\n")).unwrap_err();
    assert!(matches!(e, PatchError::HunkFailed { .. }), "{e}");
    assert!(apply(&p, Some(b"a\nB\n")).is_err());

    let p = one("diff --git a/empty b/empty\nnew file mode 100644\nindex 0000000..e69de29\n");
    assert_eq!(p.kind, PatchKind::Create);
    assert_eq!(p.body, PatchBody::None);
    assert_eq!(apply(&p, None).unwrap(), Some(Vec::new()));

    let p = one("diff --git a/empty b/empty\ndeleted file mode 100644\nindex e69de29..0000000\n");
    assert_eq!(p.kind, PatchKind::Delete);
    assert_eq!(apply(&p, Some(b"")).unwrap(), None);
    let e = err_text(&apply(&p, Some(b"data")).unwrap_err());
    assert_eq!(
        e,
        "empty: the patch deletes this file, but the file has content the patch does not remove."
    );
}

#[test]
fn parses_mode_change() {
    let p = one("diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n");
    assert_eq!(p.kind, PatchKind::Modify);
    assert_eq!((p.old_mode, p.new_mode), (Some(0o100644), Some(0o100755)));
    assert_eq!(p.body, PatchBody::None);
    assert_eq!(apply_ok(&p, "echo\n"), "echo\n");

    let p = one(
        "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\nindex 1..2\n--- a/run.sh\n+++ b/run.sh\n@@ -1 +1 @@\n-a\n+b\n",
    );
    assert_eq!((p.old_mode, p.new_mode), (Some(0o100644), Some(0o100755)));
    assert_eq!(apply_ok(&p, "a\n"), "b\n");
}

#[test]
fn parses_rename_and_copy() {
    let p = one(
        "diff --git a/old/x.txt b/new/y.txt\nsimilarity index 100%\nrename from old/x.txt\nrename to new/y.txt\n",
    );
    assert_eq!(p.kind, PatchKind::Rename);
    assert_eq!(p.old_path.as_deref(), Some("old/x.txt"));
    assert_eq!(p.new_path.as_deref(), Some("new/y.txt"));
    assert_eq!(p.body, PatchBody::None);
    assert_eq!(apply_ok(&p, "same\n"), "same\n");

    let p = one(
        "diff --git a/a b/b\nsimilarity index 80%\nrename from a\nrename to b\nindex 1111111..2222222 100644\n--- a/a\n+++ b/b\n@@ -1,2 +1,2 @@\n x\n-y\n+z\n",
    );
    assert_eq!(p.kind, PatchKind::Rename);
    assert_eq!(apply_ok(&p, "x\ny\n"), "x\nz\n");

    let p = one(
        "diff --git a/src.txt b/dst.txt\nsimilarity index 90%\ncopy from src.txt\ncopy to dst.txt\nindex 1111111..2222222 100644\n--- a/src.txt\n+++ b/dst.txt\n@@ -1 +1 @@\n-y\n+z\n",
    );
    assert_eq!(p.kind, PatchKind::Copy);
    assert_eq!(
        (p.old_path.as_deref(), p.new_path.as_deref()),
        (Some("src.txt"), Some("dst.txt"))
    );
    assert_eq!(apply_ok(&p, "y\n"), "z\n");
    let e = err_text(&apply(&p, None).unwrap_err());
    assert_eq!(e, "src.txt: the file to copy does not exist.");
}

#[test]
fn parses_dissimilarity_index() {
    let p = one(
        "diff --git a/f b/f\ndissimilarity index 100%\nindex 1111111..2222222 100644\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-old\n+new\n",
    );
    assert_eq!(apply_ok(&p, "old\n"), "new\n");
    assert!(parse(b"diff --git a/f b/f\ndissimilarity index 101%\n").is_err());
}

#[test]
fn rejects_inconsistent_headers() {
    let e =
        parse(b"diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n")
            .unwrap_err();
    assert!(matches!(e, PatchError::Malformed { line: 4, .. }), "{e}");
    let e =
        parse(b"diff --git a/x b/x\nnew file mode 100644\ndeleted file mode 100644\n").unwrap_err();
    assert!(err_text(&e).contains("incompatible"));
    let e = parse(b"diff --git a/x b/y\nrename from x\n").unwrap_err();
    assert!(err_text(&e).contains("only one of `rename from` and `rename to`"));
    let e = parse(b"diff --git a/x b/x\nold mode 100644\n").unwrap_err();
    assert!(err_text(&e).contains("`old mode`"));
    let e = parse(b"diff --git a/x b/x\nindex 1..2 100644\n").unwrap_err();
    assert!(err_text(&e).contains("describes no change"), "{e}");
    let e = parse(b"diff --git a/x b/x\nold mode 100644\nnew mode 1x0755\n").unwrap_err();
    assert!(err_text(&e).contains("invalid file mode"), "{e}");
    let e = parse(b"diff --git a/sub b/sub\nindex 1..2 160000\n--- a/sub\n+++ b/sub\n@@ -1 +1 @@\n-Subproject commit 1\n+Subproject commit 2\n").unwrap_err();
    assert!(err_text(&e).contains("submodule"), "{e}");
    let e = parse(b"diff --git x x\nindex 1..2 100644\n--- x\n+++ x\n@@ -1 +1 @@\n-a\n+b\n")
        .unwrap_err();
    assert!(err_text(&e).contains("--no-prefix"), "{e}");
}

#[test]
fn names_must_agree_with_diff_git_line() {
    let e =
        parse(b"diff --git a/x b/x\nindex 1..2 100644\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n")
            .unwrap_err();
    assert_eq!(
        err_text(&e),
        "Line 1 of the patch is malformed: the `diff --git` line names x, but the file header says y."
    );
}

#[test]
fn parses_quoted_paths() {
    let p = one(
        "diff --git \"a/\\303\\244/\\303\\266.txt\" \"b/\\303\\244/\\303\\266.txt\"\nindex 1..2 100644\n--- \"a/\\303\\244/\\303\\266.txt\"\n+++ \"b/\\303\\244/\\303\\266.txt\"\n@@ -1 +1 @@\n-a\n+b\n",
    );
    assert_eq!(p.new_path.as_deref(), Some("ä/ö.txt"));
    assert_eq!(p.old_path.as_deref(), Some("ä/ö.txt"));

    let p = one(
        "diff --git \"a/t\\tn\\nq\\\"b\\\\.txt\" \"b/t\\tn\\nq\\\"b\\\\.txt\"\nnew file mode 100644\nindex 0000000..e69de29\n",
    );
    assert_eq!(p.new_path.as_deref(), Some("t\tn\nq\"b\\.txt"));

    // Rename from a plain name to a quoted one.
    let p = one(
        "diff --git a/plain.txt \"b/\\303\\244.txt\"\nsimilarity index 100%\nrename from plain.txt\nrename to \"\\303\\244.txt\"\n",
    );
    assert_eq!(p.old_path.as_deref(), Some("plain.txt"));
    assert_eq!(p.new_path.as_deref(), Some("ä.txt"));

    let e =
        parse(b"diff --git \"a/\\377.txt\" \"b/\\377.txt\"\nnew file mode 100644\n").unwrap_err();
    assert!(matches!(e, PatchError::NonUtf8Path { line: 1, .. }), "{e}");
    assert!(err_text(&e).contains("not valid UTF-8"));

    let e = parse(b"diff --git \"a/x\\q\" \"b/x\\q\"\nnew file mode 100644\n").unwrap_err();
    assert!(err_text(&e).contains("unknown escape"), "{e}");
    let e = parse(b"diff --git \"a/x b/x\nnew file mode 100644\n").unwrap_err();
    assert!(err_text(&e).contains("not terminated"), "{e}");
}

#[test]
fn parses_unquoted_paths_with_spaces() {
    let p = one(
        "diff --git a/with space.txt b/with space.txt\nindex 1..2 100644\n--- a/with space.txt\t\n+++ b/with space.txt\t\n@@ -1 +1 @@\n-a\n+b\n",
    );
    assert_eq!(p.new_path.as_deref(), Some("with space.txt"));
    let p = one("diff --git a/a b/c b/a b/c\nold mode 100644\nnew mode 100755\n");
    assert_eq!(p.new_path.as_deref(), Some("a b/c"));
}

#[test]
fn rejects_unsafe_paths() {
    for path in ["../x", "a/../../x", ".git/config", "x/.GIT/hooks", "a//b"] {
        let input = format!("diff --git a/{path} b/{path}\nnew file mode 100644\n");
        let e = parse(input.as_bytes()).unwrap_err();
        assert!(matches!(e, PatchError::UnsafePath { .. }), "{path}: {e}");
    }
    // Like `git apply -p1`, an absolute plain-diff path loses its leading `/`.
    let p = parse(b"--- /dev/null\n+++ /etc/passwd\n@@ -0,0 +1 @@\n+x\n").unwrap();
    assert_eq!(p[0].new_path.as_deref(), Some("etc/passwd"));
}

#[test]
fn handles_no_newline_at_end_of_file() {
    // Removing the final newline.
    let p = one(
        "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n",
    );
    assert_eq!(hunks(&p)[0].lines[2], HunkLine::Add(b"b".to_vec()));
    assert_eq!(apply_ok(&p, "a\nb\n"), "a\nb");
    // Adding it back.
    let p = one(
        "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+c\n",
    );
    assert_eq!(apply_ok(&p, "a\nb"), "a\nb\nc\n");
    // The old side must really lack the newline.
    let e = err_text(&apply(&p, Some(b"a\nb\n")).unwrap_err());
    assert_eq!(
        e,
        "f: hunk 1 (@@ -1,2 +1,3 @@) does not apply: context does not match: line 2 differs from the patch only in its line ending or final newline."
    );
    // Both sides without a newline, on a context line.
    let p = one(
        "diff --git a/f b/f\nindex 1..2 100644\n--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n\\ No newline at end of file\n",
    );
    assert_eq!(apply_ok(&p, "a\nb"), "A\nb");
    // A line may not follow the last line of its side.
    let e =
        parse(b"--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-a\n\\ No newline at end of file\n-b\n+x\n+y\n")
            .unwrap_err();
    assert!(err_text(&e).contains("follows the last line"), "{e}");
}

#[test]
fn validates_hunk_line_counts() {
    let e = parse(b"--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n").unwrap_err();
    assert_eq!(
        err_text(&e),
        "Line 3 of the patch is malformed: hunk 1 (@@ -1,3 +1,3 @@) has fewer lines than its header declares (1 old and 1 new lines missing)."
    );
    let e = parse(b"--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n+d\n").unwrap_err();
    assert!(
        err_text(&e).contains("more lines than its header declares"),
        "{e}"
    );
    let e = parse(b"--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n-c\n+d\n").unwrap_err();
    assert!(
        err_text(&e).contains("does not match the line counts"),
        "{e}"
    );
    let e = parse(b"--- a/f\n+++ b/f\n@@ -1,2 +1,x @@\n a\n").unwrap_err();
    assert!(err_text(&e).contains("malformed hunk header"), "{e}");
    let e = parse(b"--- a/f\n+++ b/f\nnot a hunk\n").unwrap_err();
    assert!(err_text(&e).contains("expected a hunk header"), "{e}");
    // An empty line inside a hunk is an empty context line, as in git.
    let p = one("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n");
    assert_eq!(apply_ok(&p, "a\n\nb\n"), "a\n\nc\n");
    // A patch missing its final newline still means a full line.
    let p = one("--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b");
    assert_eq!(apply_ok(&p, "a\n"), "b\n");
}

#[test]
fn parses_format_patch_mail() {
    let mail = "\
From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001
From: A U Thor <a@example.com>
Date: Mon, 1 Jan 2024 00:00:00 +0000
Subject: [PATCH 1/2] Change things

Body text with --- dashes and @@ signs in it.
---
 a.txt | 2 +-
 1 file changed, 1 insertion(+), 1 deletion(-)

diff --git a/a.txt b/a.txt
index 1111111..2222222 100644
--- a/a.txt
+++ b/a.txt
@@ -1 +1 @@
-old
+new
-- 
2.47.3

From abcdef Mon Sep 17 00:00:00 2001
Subject: [PATCH 2/2] More

---
diff --git a/b.txt b/b.txt
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/b.txt
@@ -0,0 +1 @@
+b
-- 
2.47.3
";
    let patches = parse(mail.as_bytes()).unwrap();
    assert_eq!(patches.len(), 2);
    assert_eq!(apply_ok(&patches[0], "old\n"), "new\n");
    assert_eq!(patches[1].kind, PatchKind::Create);
}

#[test]
fn parses_plain_unified_diffs() {
    let input = "\
diff -ruN a/dir/f.txt b/dir/f.txt
--- a/dir/f.txt\t2024-05-01 10:00:00.000000000 +0200
+++ b/dir/f.txt\t2024-05-02 10:00:00.000000000 +0200
@@ -1,2 +1,2 @@
 x
-y
+z
diff -ruN a/gone.txt b/gone.txt
--- a/gone.txt\t2024-05-01 10:00:00.000000000 +0200
+++ b/gone.txt\t1970-01-01 01:00:00.000000000 +0100
@@ -1 +0,0 @@
-bye
diff -ruN a/new.txt b/new.txt
--- a/new.txt\t1969-12-31 19:00:00.000000000 -0500
+++ b/new.txt\t2024-05-02 10:00:00.000000000 +0200
@@ -0,0 +1 @@
+hi
--- /dev/null
+++ b/made.txt
@@ -0,0 +1 @@
+made
--- a/removed.txt
+++ /dev/null
@@ -1 +0,0 @@
-x
";
    let p = parse(input.as_bytes()).unwrap();
    assert_eq!(p.len(), 5);
    assert_eq!(p[0].kind, PatchKind::Modify);
    assert_eq!(p[0].new_path.as_deref(), Some("dir/f.txt"));
    assert_eq!(p[0].old_path.as_deref(), Some("dir/f.txt"));
    assert_eq!(apply_ok(&p[0], "x\ny\n"), "x\nz\n");
    assert_eq!(p[1].kind, PatchKind::Delete);
    assert_eq!(p[1].old_path.as_deref(), Some("gone.txt"));
    assert_eq!(apply(&p[1], Some(b"bye\n")).unwrap(), None);
    assert_eq!(p[2].kind, PatchKind::Create);
    assert_eq!(p[2].new_path.as_deref(), Some("new.txt"));
    assert_eq!(apply(&p[2], None).unwrap(), Some(b"hi\n".to_vec()));
    assert_eq!(p[3].kind, PatchKind::Create);
    assert_eq!(p[3].new_path.as_deref(), Some("made.txt"));
    assert_eq!(p[4].kind, PatchKind::Delete);
    assert_eq!(p[4].old_path.as_deref(), Some("removed.txt"));

    // No leading component is stripped unless every path has one.
    let p = one("--- f.orig\n+++ f\n@@ -1 +1 @@\n-a\n+b\n");
    assert_eq!(
        (p.old_path.as_deref(), p.new_path.as_deref()),
        (Some("f"), Some("f"))
    );
    // An empty file that is not dated at the epoch is modified, not created.
    let p = one(
        "--- a/e\t2024-01-01 00:00:00.000000000 +0000\n+++ b/e\t2024-01-02 00:00:00.000000000 +0000\n@@ -0,0 +1 @@\n+x\n",
    );
    assert_eq!(p.kind, PatchKind::Modify);
    assert_eq!(apply_ok(&p, ""), "x\n");
}

#[test]
fn reports_missing_binary_data() {
    let e = parse(
        b"diff --git a/img.png b/img.png\nindex 1111111..2222222 100644\nBinary files a/img.png and b/img.png differ\n",
    )
    .unwrap_err();
    assert_eq!(
        err_text(&e),
        "img.png: the patch says this binary file changed but does not contain the change; regenerate the patch with `git diff --binary`."
    );
    let e = parse(b"Only in a: x\nBinary files a/d/x.bin and b/d/x.bin differ\n").unwrap_err();
    assert_eq!(
        e,
        PatchError::BinaryWithoutData {
            path: "d/x.bin".to_owned()
        }
    );
}

#[test]
fn rejects_other_non_patches() {
    assert_eq!(parse(b"").unwrap_err(), PatchError::NoPatch);
    assert_eq!(parse(b"hello\nworld\n").unwrap_err(), PatchError::NoPatch);
    let e = parse(b"text\n@@ -1 +1 @@\n-a\n+b\n").unwrap_err();
    assert!(matches!(e, PatchError::Malformed { line: 2, .. }), "{e}");
    let e = parse(b"diff --cc f\nindex 1,2..3\n@@@ -1,1 -1,1 +1,1 @@@\n").unwrap_err();
    assert!(err_text(&e).contains("combined diffs"));
}

fn binary_patch(kind_line: &str, forward: &str, reverse: Option<&str>) -> String {
    let mut s = format!("diff --git a/b.bin b/b.bin\n{kind_line}GIT binary patch\n{forward}");
    if let Some(r) = reverse {
        s.push_str(r);
    }
    s
}

#[test]
fn base85_lines_round_trip() {
    for len in [1usize, 3, 4, 5, 26, 27, 51, 52] {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let line = encode_line(&data);
        let mut out = Vec::new();
        decode_line(line.as_bytes(), &mut out).unwrap();
        assert_eq!(out, data, "len {len}");
    }
    // Known value from git: the empty zlib stream of `literal 0`.
    let mut out = Vec::new();
    decode_line(b"HcmV?d00001", &mut out).unwrap();
    assert_eq!(out, vec![0x78, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    assert_eq!(inflate(&out, 0).unwrap(), Vec::<u8>::new());

    let mut out = Vec::new();
    assert!(
        decode_line(b"Hcm\"?d00001", &mut out)
            .unwrap_err()
            .contains("not a base85")
    );
    assert!(
        decode_line(b"Hcm", &mut out)
            .unwrap_err()
            .contains("needs 10")
    );
    assert!(
        decode_line(b"1cmV?d", &mut out)
            .unwrap_err()
            .contains("length character")
    );
    assert!(
        decode_line(b"A~~~~~", &mut out)
            .unwrap_err()
            .contains("32 bits")
    );
}

#[test]
fn inflate_checks_sizes() {
    let block = encode_block("literal", b"hello hello hello");
    let mut compressed = Vec::new();
    for line in block.lines().skip(1).filter(|l| !l.is_empty()) {
        decode_line(line.as_bytes(), &mut compressed).unwrap();
    }
    assert_eq!(inflate(&compressed, 17).unwrap(), b"hello hello hello");
    assert!(inflate(&compressed, 16).unwrap_err().contains("more than"));
    assert!(
        inflate(&compressed, 18)
            .unwrap_err()
            .contains("declares 18")
    );
    let truncated = &compressed[..compressed.len() - 3];
    assert!(inflate(truncated, 17).is_err());
    let mut trailing = compressed.clone();
    trailing.push(0);
    assert!(
        inflate(&trailing, 17)
            .unwrap_err()
            .contains("after the end")
    );
    assert!(inflate(b"garbage", 1).is_err());
}

#[test]
fn parses_and_applies_binary_literal() {
    let old: Vec<u8> = (0u8..=255).collect();
    let new: Vec<u8> = (0u8..=255).rev().chain([0, 1, 2]).collect();
    let patch = binary_patch(
        "index 1111111..2222222 100644\n",
        &encode_block("literal", &new),
        Some(&encode_block("literal", &old)),
    );
    let p = one(&patch);
    let PatchBody::Binary(b) = &p.body else {
        panic!("not binary")
    };
    assert_eq!(b.forward, BinaryData::Literal(new.clone()));
    assert_eq!(apply(&p, Some(&old)).unwrap(), Some(new.clone()));
    // The reverse block proves the old content is the expected one.
    let e = err_text(&apply(&p, Some(b"other")).unwrap_err());
    assert_eq!(
        e,
        "b.bin: the binary patch does not apply: the file's current content is not the content the patch was made against."
    );

    // New binary file: forward literal, reverse `literal 0`.
    let patch = binary_patch(
        "new file mode 100644\nindex 0000000..2222222\n",
        &encode_block("literal", &new),
        Some("literal 0\nHcmV?d00001\n\n"),
    );
    let p = one(&patch);
    assert_eq!(p.kind, PatchKind::Create);
    assert_eq!(apply(&p, None).unwrap(), Some(new.clone()));

    // Deleted binary file.
    let patch = binary_patch(
        "deleted file mode 100644\nindex 2222222..0000000\n",
        "literal 0\nHcmV?d00001\n\n",
        Some(&encode_block("literal", &new)),
    );
    let p = one(&patch);
    assert_eq!(apply(&p, Some(&new)).unwrap(), None);
    assert!(apply(&p, Some(&old)).is_err());

    // Declared size must match the inflated size.
    let bad = encode_block("literal", &new).replace("literal 259", "literal 258");
    let e = parse(binary_patch("index 1..2 100644\n", &bad, None).as_bytes()).unwrap_err();
    assert!(err_text(&e).contains("more than the 258 bytes"), "{e}");
    let e = parse(b"diff --git a/b.bin b/b.bin\nindex 1..2 100644\nGIT binary patch\nbogus\n")
        .unwrap_err();
    assert!(
        err_text(&e).contains("expected `literal N` or `delta N`"),
        "{e}"
    );
}

/// Encodes a delta size the way git does.
fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

#[test]
fn applies_git_deltas() {
    let base: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
    // Copy 200 bytes at offset 10, insert "XYZ", copy 5 bytes at offset 0x0101.
    let mut delta = varint(base.len());
    delta.extend(varint(200 + 3 + 5));
    delta.extend([0x80 | 0x01 | 0x10, 10, 200]);
    delta.extend([3, b'X', b'Y', b'Z']);
    delta.extend([0x80 | 0x01 | 0x02 | 0x10, 0x01, 0x01, 5]);
    let out = apply_delta(&base, &delta).unwrap();
    let mut expected = base[10..210].to_vec();
    expected.extend(b"XYZ");
    expected.extend(&base[257..262]);
    assert_eq!(out, expected);

    // Errors: wrong source size, copy out of bounds, opcode 0, truncation, size mismatch.
    assert!(
        apply_delta(&base[1..], &delta)
            .unwrap_err()
            .contains("299 bytes")
    );
    let mut oob = varint(base.len());
    oob.extend(varint(10));
    oob.extend([0x80 | 0x02 | 0x10, 0x02, 10]);
    assert!(apply_delta(&base, &oob).unwrap_err().contains("offset 512"));
    let mut zero = varint(base.len());
    zero.extend(varint(1));
    zero.push(0);
    assert!(apply_delta(&base, &zero).unwrap_err().contains("reserved"));
    let mut short = varint(base.len());
    short.extend(varint(5));
    short.extend([5, b'a']);
    assert!(apply_delta(&base, &short).unwrap_err().contains("insert"));
    let mut big = varint(base.len());
    big.extend(varint(2));
    big.extend([3, b'a', b'b', b'c']);
    assert!(apply_delta(&base, &big).unwrap_err().contains("more than"));
    let mut small = varint(base.len());
    small.extend(varint(4));
    small.extend([3, b'a', b'b', b'c']);
    assert!(
        apply_delta(&base, &small)
            .unwrap_err()
            .contains("produces 3")
    );
    assert!(
        apply_delta(&base, &[0xff; 12])
            .unwrap_err()
            .contains("large")
    );
    // Copy size 0 means 0x10000.
    let large: Vec<u8> = vec![7; 0x10000];
    let mut d = varint(large.len());
    d.extend(varint(0x10000));
    d.push(0x80);
    assert_eq!(apply_delta(&large, &d).unwrap(), large);

    // Through a patch: forward delta and reverse delta.
    let mut reverse = varint(expected.len());
    reverse.extend(varint(base.len()));
    for chunk in base.chunks(100) {
        reverse.push(chunk.len() as u8);
        reverse.extend(chunk);
    }
    let patch = binary_patch(
        "index 1..2 100644\n",
        &encode_block("delta", &delta),
        Some(&encode_block("delta", &reverse)),
    );
    let p = one(&patch);
    assert_eq!(apply(&p, Some(&base)).unwrap(), Some(expected));
    let mut changed = base.clone();
    changed[0] ^= 1;
    let e = err_text(&apply(&p, Some(&changed)).unwrap_err());
    assert!(
        e.contains("not the content the patch was made against"),
        "{e}"
    );
}

#[test]
fn applies_at_an_offset() {
    let p = one(
        "--- a/f\n+++ b/f\n@@ -2,3 +2,3 @@\n c1\n-old\n+new\n c2\n@@ -10,3 +10,4 @@\n d1\n d2\n+added\n d3\n",
    );
    let mut old: Vec<String> = vec!["top".into(); 4];
    old.extend(["x", "c1", "old", "c2"].map(String::from));
    old.extend((0..6).map(|i| format!("f{i}")));
    old.extend(["d1", "d2", "d3", "tail"].map(String::from));
    let old = old.join("\n") + "\n";
    let new = apply_ok(&p, &old);
    assert!(new.contains("c1\nnew\nc2\n"));
    assert!(new.contains("d1\nd2\nadded\nd3\ntail\n"));
}

#[test]
fn prefers_the_nearest_match() {
    // The hunk context occurs at lines 2 and 8; the header says line 6, so line 8 wins.
    let p = one("--- a/f\n+++ b/f\n@@ -6,3 +6,3 @@\n k\n-v\n+w\n k2\n");
    let old = "a\nk\nv\nk2\nb\nc\nd\nk\nv\nk2\ne\n";
    assert_eq!(apply_ok(&p, old), "a\nk\nv\nk2\nb\nc\nd\nk\nw\nk2\ne\n");
    let p = one("--- a/f\n+++ b/f\n@@ -3,3 +3,3 @@\n k\n-v\n+w\n k2\n");
    assert_eq!(apply_ok(&p, old), "a\nk\nw\nk2\nb\nc\nd\nk\nv\nk2\ne\n");
}

#[test]
fn hunks_apply_in_order_without_overlap() {
    // Both hunks would match the same lines; the second may not reuse them.
    let p =
        one("--- a/f\n+++ b/f\n@@ -2,3 +2,3 @@\n a\n-b\n+B\n c\n@@ -2,3 +2,3 @@\n a\n-b\n+B\n c\n");
    let e = err_text(&apply(&p, Some(b"0\na\nb\nc\nz\n")).unwrap_err());
    assert!(
        e.starts_with("f: hunk 2 (@@ -2,3 +2,3 @@) does not apply:"),
        "{e}"
    );
    assert_eq!(
        apply_ok(&p, "0\na\nb\nc\nz\na\nb\nc\ny\n"),
        "0\na\nB\nc\nz\na\nB\nc\ny\n"
    );
}

#[test]
fn failing_hunk_error_names_file_hunk_and_header() {
    let p = one(
        "diff --git a/src/a.rs b/src/a.rs\nindex 1..2 100644\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1,3 +1,3 @@\n l1\n-l2\n+L2\n l3\n@@ -10,4 +10,5 @@\n l10\n l11\n+new\n l12\n l13\n",
    );
    let old: String = (1..=20).map(|i| format!("l{i}\n")).collect();
    let broken = old.replace("l12\n", "changed\n");
    let e = apply(&p, Some(broken.as_bytes())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "src/a.rs: hunk 2 (@@ -10,4 +10,5 @@) does not apply: context does not match: line 12 is \"changed\" but the patch expects \"l12\"."
    );
    assert!(matches!(e, PatchError::HunkFailed { hunk: 2, .. }));
    let new = apply_ok(&p, &old);
    assert!(new.contains("l11\nnew\nl12\n"));
}

#[test]
fn context_must_match_exactly() {
    let p = one("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n d\n");
    assert!(apply(&p, Some(b"a\nb \nd\n")).is_err());
    assert!(apply(&p, Some(b"a\r\nb\r\nd\r\n")).is_err());
    assert!(apply(&p, Some(b"A\nb\nd\n")).is_err());
    // CRLF content is matched and kept byte for byte.
    let p = one("--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n");
    assert_eq!(apply_ok(&p, "a\r\nb\r\n"), "a\r\nc\r\n");
}

#[test]
fn missing_trailing_context_pins_to_end() {
    let p = one("--- a/f\n+++ b/f\n@@ -2,2 +2,3 @@\n b\n c\n+d\n");
    assert_eq!(apply_ok(&p, "a\nb\nc\n"), "a\nb\nc\nd\n");
    let e = err_text(&apply(&p, Some(b"a\nb\nc\nx\n")).unwrap_err());
    assert!(e.contains("end of the file") || e.contains("line"), "{e}");
}

#[test]
fn works_on_non_utf8_lines() {
    let mut patch =
        b"--- a/latin1.txt\n+++ b/latin1.txt\n@@ -1,2 +1,2 @@\n caf\xe9\n-na\xefve\n+NA\xcfVE\n"
            .to_vec();
    let p = parse(&patch).unwrap().remove(0);
    let out = apply(&p, Some(b"caf\xe9\nna\xefve\n")).unwrap().unwrap();
    assert_eq!(out, b"caf\xe9\nNA\xcfVE\n");
    patch.truncate(10);
    assert!(parse(&patch).is_err());
}

#[test]
fn apply_checks_file_existence() {
    let p = one(MODIFY);
    let e = err_text(&apply(&p, None).unwrap_err());
    assert_eq!(
        e,
        "src/a.rs: the patch changes this file, but it does not exist."
    );
    let e = err_text(
        &apply(
            &one("--- /dev/null\n+++ b/n\n@@ -0,0 +1 @@\n+x\n"),
            Some(b""),
        )
        .unwrap_err(),
    );
    assert_eq!(e, "n: the patch creates this file, but it already exists.");
}

#[test]
fn create_and_delete_hunks_are_checked() {
    let e = parse(
        b"diff --git a/n b/n\nnew file mode 100644\n--- /dev/null\n+++ b/n\n@@ -1 +1 @@\n-a\n+b\n",
    )
    .unwrap_err();
    assert!(err_text(&e).contains("expects existing lines"), "{e}");
    let e = parse(b"diff --git a/n b/n\ndeleted file mode 100644\n--- a/n\n+++ /dev/null\n@@ -1 +1 @@\n-a\n+b\n")
        .unwrap_err();
    assert!(err_text(&e).contains("leaves lines"), "{e}");
}
