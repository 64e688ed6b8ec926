//! Unified diffs with a few lines of context and word-level highlights inside changed
//! lines. Binary or oversized contents are summarised by size and hash, never loaded
//! into a diff.

use super::color;
use console::Style;
use similar::{ChangeTag, TextDiff};
use std::fmt::Write;

pub use crate::model::content::MAX_DIFF_BYTES;
const CONTEXT: usize = 3;

/// Whether bytes should be shown as text.
pub fn is_text(bytes: &[u8]) -> bool {
    bytes.len() <= MAX_DIFF_BYTES
        && !bytes[..bytes.len().min(8000)].contains(&0)
        && std::str::from_utf8(bytes).is_ok()
}

/// A text's lines as git counts them: ended by `\n` only (a lone `\r` is part of its
/// line and shown escaped, never a line break of its own), each with its `\n`.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// Lines added and removed.
pub fn counts(old: &str, new: &str) -> (usize, usize) {
    let (old, new) = (lines(old), lines(new));
    let diff = TextDiff::from_slices(&old, &new);
    let mut add = 0;
    let mut del = 0;
    for c in diff.iter_all_changes() {
        match c.tag() {
            ChangeTag::Insert => add += 1,
            ChangeTag::Delete => del += 1,
            ChangeTag::Equal => {}
        }
    }
    (add, del)
}

/// The hunks of a unified diff (no file header), coloured when colours are enabled for
/// the stream the caller writes to (`styled` picks the stream).
pub fn hunks(old: &str, new: &str, styled: &dyn Fn(&Style, &str) -> String) -> String {
    let (old, new) = (lines(old), lines(new));
    let diff = TextDiff::from_slices(&old, &new);
    let mut out = String::new();
    for group in diff.grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let o = first.old_range().start..last.old_range().end;
        let n = first.new_range().start..last.new_range().end;
        let head = format!(
            "@@ -{} +{} @@",
            range(o.start, o.len()),
            range(n.start, n.len())
        );
        let _ = writeln!(out, "{}", styled(&color::hunk(), &head));
        for op in &group {
            for change in diff.iter_inline_changes(op) {
                let (sign, base, strong) = match change.tag() {
                    ChangeTag::Delete => ("-", color::removed(), color::removed_word()),
                    ChangeTag::Insert => ("+", color::added(), color::added_word()),
                    ChangeTag::Equal => (" ", Style::new(), Style::new()),
                };
                let mut line = String::new();
                let mut ends_newline = false;
                for (emph, value) in change.iter_strings_lossy() {
                    let value = value.to_string();
                    let (text, nl) = match value.strip_suffix('\n') {
                        Some(t) => (t.to_string(), true),
                        None => (value.clone(), false),
                    };
                    ends_newline |= nl;
                    let st = if emph { &strong } else { &base };
                    line.push_str(&styled(st, &crate::paths::printable_content(&text)));
                }
                let _ = writeln!(out, "{}{}", styled(&base, sign), line);
                if !ends_newline {
                    let _ = writeln!(
                        out,
                        "{}",
                        styled(&color::dim(), "\\ No newline at end of file")
                    );
                }
            }
        }
    }
    out
}

fn range(start: usize, len: usize) -> String {
    let first = if len == 0 { start } else { start + 1 };
    if len == 1 {
        format!("{first}")
    } else {
        format!("{first},{len}")
    }
}

/// Human size: 1.2 KiB (one format everywhere: [`crate::util::text::size`]).
pub fn human_size(n: u64) -> String {
    crate::util::text::size(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::printable_content as printable;

    #[test]
    fn escape_sequences_are_made_visible() {
        assert_eq!(printable("a\u{1b}[2Kb"), "a\\u{1b}[2Kb");
        assert_eq!(printable("tab\tok\r"), "tab\tok\\u{d}");
    }

    #[test]
    fn hidden_changes_stay_visible_in_hunks() {
        let out = hunks("safe\n", "evil\u{1b}[1A\u{1b}[2Ksafe\n", &|_, s| {
            s.to_string()
        });
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.contains("\\u{1b}[1A"), "{out}");
    }

    #[test]
    fn a_carriage_return_is_not_a_line_end() {
        let out = hunks("a\rb\nc\n", "a\rb\nd\n", &|_, s| s.to_string());
        assert!(!out.contains("No newline"), "{out}");
        assert!(out.contains(" a\\u{d}b\n"), "{out}");
        assert_eq!(counts("a\rb\nc\n", "a\rb\nd\n"), (1, 1));
        let crlf = hunks("x\r\n", "y\r\n", &|_, s| s.to_string());
        assert!(!crlf.contains("No newline"), "{crlf}");
    }
}
