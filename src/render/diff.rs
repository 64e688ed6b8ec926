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

/// The line diff of `old` and `new`. A rewrite that keeps almost no line of a large file
/// (regenerated, minified or random content) is shown as every line removed and added, as
/// the minimal diff shows it anyway, without searching for a minimal diff, whose cost grows
/// with the square of the lines changed. The choice depends only on the two texts, so a
/// plan always previews the same way.
fn line_diff<'a>(old: &'a [&'a str], new: &'a [&'a str], rewritten: bool) -> TextDiff<'a, 'a, str> {
    let mut config = TextDiff::configure();
    if rewritten {
        // An expired deadline: once the common start and end are taken off, the rest is
        // one removal and one addition.
        config.deadline(std::time::Instant::now());
    }
    config.diff_slices(old, new)
}

/// Whether both sides are large and under 2% of the smaller side's lines appear on the other.
fn mostly_rewritten(old: &[&str], new: &[&str]) -> bool {
    const LARGE: usize = 200;
    let smaller = old.len().min(new.len());
    if smaller < LARGE {
        return false;
    }
    let (small, large) = if old.len() <= new.len() {
        (old, new)
    } else {
        (new, old)
    };
    let seen: std::collections::HashSet<&str> = large.iter().copied().collect();
    let shared = small.iter().filter(|l| seen.contains(*l)).count();
    shared * 50 < smaller
}

/// Lines added and removed.
pub fn counts(old: &str, new: &str) -> (usize, usize) {
    let (old, new) = (lines(old), lines(new));
    let diff = line_diff(&old, &new, mostly_rewritten(&old, &new));
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
    // A file rewritten almost whole gets no word highlights: every word of it changed.
    let rewritten = mostly_rewritten(&old, &new);
    let diff = line_diff(&old, &new, rewritten);
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
            // Each line as its pieces, emphasised or not (word highlights only where a file
            // was not rewritten whole: there, every word changed).
            let changes: Vec<(ChangeTag, Vec<(bool, String)>)> = if rewritten {
                diff.iter_changes(op)
                    .map(|c| (c.tag(), vec![(false, c.value().to_string())]))
                    .collect()
            } else {
                diff.iter_inline_changes(op)
                    .map(|c| {
                        let parts = c
                            .iter_strings_lossy()
                            .map(|(emph, v)| (emph, v.to_string()))
                            .collect();
                        (c.tag(), parts)
                    })
                    .collect()
            };
            for (tag, parts) in changes {
                let (sign, base, strong) = match tag {
                    ChangeTag::Delete => ("-", color::removed(), color::removed_word()),
                    ChangeTag::Insert => ("+", color::added(), color::added_word()),
                    ChangeTag::Equal => (" ", Style::new(), Style::new()),
                };
                let mut line = String::new();
                let mut ends_newline = false;
                for (emph, value) in parts {
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

    /// A large file rewritten almost whole: every old line removed and every new line
    /// added, in one hunk, no word highlights; its counts agree; a file that keeps most of
    /// its lines is still diffed line by line.
    #[test]
    fn a_file_rewritten_whole_is_one_removal_and_one_addition() {
        let old: String = (0..300)
            .map(|i| format!("old line {i} {}\n", i * 7919 % 1000))
            .collect();
        let mut new: String = (0..300)
            .map(|i| format!("new line {i} {}\n", i * 104_729 % 1000))
            .collect();
        new.push_str("old line 5 535\n"); // one line in common: under 2%
        let (o, n) = (lines(&old), lines(&new));
        assert!(mostly_rewritten(&o, &n));
        assert_eq!(counts(&old, &new), (301, 300));
        let plain = |_: &Style, t: &str| t.to_string();
        let text = hunks(&old, &new, &plain);
        assert_eq!(
            text.lines().filter(|l| l.starts_with("@@")).count(),
            1,
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| l.starts_with('-')).count(), 300);
        assert_eq!(text.lines().filter(|l| l.starts_with('+')).count(), 301);
        let first_add = text.lines().position(|l| l.starts_with('+')).unwrap();
        let last_del = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with('-'))
            .map(|(i, _)| i)
            .last()
            .unwrap();
        assert!(last_del < first_add, "every removal before the additions");
        // Mostly kept: a real line diff.
        let edited = old.replacen("old line 3 ", "edited line 3 ", 1);
        assert!(!mostly_rewritten(&o, &lines(&edited)));
        assert_eq!(counts(&old, &edited), (1, 1));
        // Small files are never shortcut.
        assert!(!mostly_rewritten(&lines("a\nb\n"), &lines("c\nd\n")));
    }
}
