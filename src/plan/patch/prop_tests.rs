//! Property tests: `parse` and `apply` never panic, whatever the input.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::binary::encode_block;
use super::{apply, parse};
use proptest::collection::vec;
use proptest::prelude::*;

/// Valid patches to mutate, with the old content each applies to.
fn seeds() -> Vec<(Vec<u8>, Vec<u8>)> {
    let old_bin: Vec<u8> = (0u8..200).collect();
    let new_bin: Vec<u8> = (0u8..200).rev().collect();
    // Delta: copy 100 bytes at offset 50, insert 3 bytes.
    let delta = [
        200u8,
        1,
        103,
        0x80 | 0x01 | 0x10,
        50,
        100,
        3,
        b'a',
        b'b',
        b'c',
    ];
    let binary = format!(
        "diff --git a/b.bin b/b.bin\nindex 1111111..2222222 100644\nGIT binary patch\n{}{}",
        encode_block("literal", &new_bin),
        encode_block("literal", &old_bin)
    );
    let binary_delta = format!(
        "diff --git a/d.bin b/d.bin\nindex 1111111..2222222 100644\nGIT binary patch\n{}",
        encode_block("delta", &delta)
    );
    let text = "\
From 1234 Mon Sep 17 00:00:00 2001
Subject: [PATCH] x

---
diff --git a/src/a.rs b/src/a.rs
index 83db48f..bf269f4 100644
--- a/src/a.rs
+++ b/src/a.rs
@@ -1,3 +1,3 @@ fn main() {
 one
-two
+TWO
 three
@@ -6,3 +6,4 @@
 six
 seven
+seven and a half
 eight
diff --git \"a/\\303\\244.txt\" \"b/\\303\\244 x.txt\"
similarity index 80%
rename from \"\\303\\244.txt\"
rename to \"\\303\\244 x.txt\"
index 1..2 100644
--- \"a/\\303\\244.txt\"
+++ \"b/\\303\\244 x.txt\"
@@ -1,2 +1,2 @@
 a
-b
\\ No newline at end of file
+b
-- 
2.47.3
";
    let plain = "\
--- a/f\t2024-01-01 00:00:00.000000000 +0000
+++ b/f\t2024-01-02 00:00:00.000000000 +0000
@@ -1,2 +1,2 @@
-x
+y
 z
--- a/n\t1970-01-01 00:00:00.000000000 +0000
+++ b/n\t2024-01-02 00:00:00.000000000 +0000
@@ -0,0 +1 @@
+new
";
    let old_text = b"one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n".to_vec();
    vec![
        (text.as_bytes().to_vec(), old_text),
        (binary.into_bytes(), old_bin.clone()),
        (binary_delta.into_bytes(), old_bin),
        (plain.as_bytes().to_vec(), b"x\nz\n".to_vec()),
    ]
}

/// Patch-like lines for building random but plausible inputs.
const FRAGMENTS: &[&str] = &[
    "diff --git a/x b/x\n",
    "diff --git a/x b/y\n",
    "diff --git \"a/\\303\\244\" \"b/\\303\\244\"\n",
    "new file mode 100644\n",
    "deleted file mode 100755\n",
    "old mode 100644\n",
    "new mode 100755\n",
    "rename from x\n",
    "rename to y\n",
    "copy from x\n",
    "copy to y\n",
    "similarity index 90%\n",
    "index 1234567..89abcde 100644\n",
    "--- a/x\n",
    "+++ b/x\n",
    "--- /dev/null\n",
    "+++ /dev/null\n",
    "@@ -1,2 +1,2 @@\n",
    "@@ -0,0 +1 @@\n",
    "@@ -1 +0,0 @@\n",
    "@@ -3,0 +4,2 @@\n",
    "@@ -18446744073709551615,1 +1 @@\n",
    " a\n",
    "-a\n",
    "+b\n",
    "\n",
    "\\ No newline at end of file\n",
    "GIT binary patch\n",
    "literal 0\n",
    "literal 5\n",
    "delta 7\n",
    "delta 999999999999\n",
    "HcmV?d00001\n",
    "zcmV?d00001\n",
    "Binary files a/x and b/x differ\n",
    "-- \n",
];

fn run_all(input: &[u8], olds: &[&[u8]]) {
    if let Ok(patches) = parse(input) {
        for patch in &patches {
            let _ = apply(patch, None);
            for old in olds {
                let _ = apply(patch, Some(old));
            }
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        input in vec(any::<u8>(), 0..2048),
        old in vec(any::<u8>(), 0..256),
    ) {
        run_all(&input, &[&old]);
    }

    #[test]
    fn patch_like_lines_never_panic(
        picks in vec(0..FRAGMENTS.len(), 0..40),
        old in vec(prop::sample::select(vec![b'a', b'b', b'\n', 0u8]), 0..64),
    ) {
        let input: String = picks.iter().map(|&i| FRAGMENTS[i]).collect();
        run_all(input.as_bytes(), &[&old, b"a\nb\n", b""]);
    }

    #[test]
    fn mutated_patches_never_panic(
        seed in 0usize..4,
        edits in vec((any::<usize>(), 0u8..4, any::<u8>()), 1..6),
        noise in vec(any::<u8>(), 0..64),
    ) {
        let seeds = seeds();
        let (mut input, old) = seeds[seed].clone();
        for (at, op, byte) in edits {
            if input.is_empty() {
                input.push(byte);
                continue;
            }
            let at = at % input.len();
            match op {
                0 => input[at] = byte,
                1 => input.insert(at, byte),
                2 => { input.remove(at); }
                _ => input.truncate(at),
            }
        }
        run_all(&input, &[&old, &noise, b""]);
    }
}

#[test]
fn seeds_are_valid() {
    for (input, old) in seeds() {
        let patches = parse(&input).unwrap_or_else(|e| panic!("{e}"));
        let first = &patches[0];
        apply(first, Some(&old)).unwrap_or_else(|e| panic!("{e}"));
    }
}
