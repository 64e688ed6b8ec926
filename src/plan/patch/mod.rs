//! In-memory parsing and application of unified diffs and git patches, text and binary.
//!
//! [`parse`] reads `git diff` (including `--binary`), `git format-patch` and plain
//! `diff -u` / `diff -ruN` output into [`FilePatch`]es, and [`apply`] computes the new
//! content of one file from its old content. Nothing here touches the file system: the
//! caller reads the old files and writes the results.
//!
//! To apply a whole patch set the way `git apply` does, read every old content from the
//! tree as it was *before* the patch (the source of a copy is its old content even when
//! the same patch also modifies it), then remove the old paths of deletions and renames,
//! then write each new content with `new_mode` (or the old mode when that is `None`).

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod apply;
mod binary;
mod parse;

#[cfg(all(test, unix))]
mod git_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;

pub use apply::apply;
pub use parse::parse;

/// The change a patch makes to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    /// Path before the change, without the `a/` prefix; `None` for a created file.
    pub old_path: Option<String>,
    /// Path after the change, without the `b/` prefix; `None` for a deleted file.
    pub new_path: Option<String>,
    /// What happens to the file.
    pub kind: PatchKind,
    /// Git mode before the change (`0o100644`, `0o100755`, `0o120000`), when the patch says.
    pub old_mode: Option<u32>,
    /// Git mode after the change, when the patch says; `None` keeps the old mode.
    pub new_mode: Option<u32>,
    /// The content change.
    pub body: PatchBody,
}

impl FilePatch {
    /// The path to show a person: the new path, or the old one for a deletion.
    pub fn path(&self) -> &str {
        self.new_path
            .as_deref()
            .or(self.old_path.as_deref())
            .unwrap_or("")
    }
}

/// What a [`FilePatch`] does to its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// Changes content and/or mode in place.
    Modify,
    /// Creates `new_path`.
    Create,
    /// Deletes `old_path`.
    Delete,
    /// Moves `old_path` to `new_path`, possibly changing it.
    Rename,
    /// Copies `old_path` to `new_path`, possibly changing the copy.
    Copy,
}

/// The content part of a [`FilePatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchBody {
    /// Unified-diff hunks, in file order.
    Text(Vec<Hunk>),
    /// A `GIT binary patch`.
    Binary(BinaryPatch),
    /// No content change: a pure rename or copy, a mode change, or an empty created or
    /// deleted file.
    None,
}

/// One `@@ -l,s +l,s @@` hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// First old line (1-based; 0 when the hunk has no old lines and inserts at the top).
    pub old_start: usize,
    /// Number of old (context and removed) lines.
    pub old_lines: usize,
    /// First new line (1-based; 0 when the hunk has no new lines).
    pub new_start: usize,
    /// Number of new (context and added) lines.
    pub new_lines: usize,
    /// The text after the closing `@@` (often a function name), lossily decoded.
    pub section: String,
    /// The lines of the hunk.
    pub lines: Vec<HunkLine>,
}

impl Hunk {
    /// The hunk header as git writes it, without the section, e.g. `@@ -10,4 +10,5 @@`.
    pub fn header(&self) -> String {
        fn range(start: usize, count: usize) -> String {
            if count == 1 {
                start.to_string()
            } else {
                format!("{start},{count}")
            }
        }
        format!(
            "@@ -{} +{} @@",
            range(self.old_start, self.old_lines),
            range(self.new_start, self.new_lines)
        )
    }
}

/// One line of a hunk. The bytes include the line's `\n`, except for a last line marked
/// `\ No newline at end of file`; a `\r` before the `\n` is part of the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HunkLine {
    /// A line present on both sides (` `).
    Context(Vec<u8>),
    /// A line only on the old side (`-`).
    Remove(Vec<u8>),
    /// A line only on the new side (`+`).
    Add(Vec<u8>),
}

impl HunkLine {
    /// The line's bytes, including its `\n` when it has one.
    pub fn content(&self) -> &[u8] {
        match self {
            HunkLine::Context(c) | HunkLine::Remove(c) | HunkLine::Add(c) => c,
        }
    }
}

/// A `GIT binary patch`: the forward change and, when present, the reverse change that
/// [`apply`] uses to check the old content is the one the patch was made against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPatch {
    /// Turns the old content into the new one.
    pub forward: BinaryData,
    /// Turns the new content back into the old one.
    pub reverse: Option<BinaryData>,
}

/// One block of a binary patch, already base85-decoded and inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryData {
    /// The complete content.
    Literal(Vec<u8>),
    /// A git delta (pack format) against the other side's content.
    Delta(Vec<u8>),
}

/// Why a patch could not be parsed or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The input holds no file change at all.
    #[error(
        "The input contains no diff: expected `git diff`, `git format-patch` or `diff -u` output."
    )]
    NoPatch,
    /// The patch text is not well formed.
    #[error("Line {line} of the patch is malformed: {reason}.")]
    Malformed {
        /// 1-based line number in the patch text.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A path in the patch is not UTF-8.
    #[error(
        "Line {line} of the patch names a path that is not valid UTF-8 ({path}); only UTF-8 paths are supported."
    )]
    NonUtf8Path {
        /// 1-based line number in the patch text.
        line: usize,
        /// The path, lossily decoded.
        path: String,
    },
    /// A path in the patch could escape or damage the repository.
    #[error("Line {line} of the patch names the unsafe path {path:?}: {reason}.")]
    UnsafePath {
        /// 1-based line number in the patch text.
        line: usize,
        /// The path.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// `Binary files a/x and b/x differ` without the data to apply.
    #[error(
        "{path}: the patch says this binary file changed but does not contain the change; regenerate the patch with `git diff --binary`."
    )]
    BinaryWithoutData {
        /// The file.
        path: String,
    },
    /// A text hunk does not match the old content.
    #[error("{path}: hunk {hunk} ({header}) does not apply: {reason}.")]
    HunkFailed {
        /// The file.
        path: String,
        /// 1-based hunk number within the file.
        hunk: usize,
        /// The hunk header, e.g. `@@ -10,4 +10,5 @@`.
        header: String,
        /// What did not match.
        reason: String,
    },
    /// A binary patch does not match the old content or is corrupt.
    #[error("{path}: the binary patch does not apply: {reason}.")]
    BinaryFailed {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The file's existence or content does not fit the change (e.g. creating a file that
    /// exists).
    #[error("{path}: {reason}.")]
    FileState {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}
