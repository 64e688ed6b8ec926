//! Codex's `apply_patch` format: `*** Begin Patch`, then per file `*** Add File: P` (lines
//! starting with `+`), `*** Delete File: P`, or `*** Update File: P` (optionally
//! `*** Move to: Q`) with `@@ [context]` hunks of ` `/`-`/`+` lines and an optional
//! `*** End of File`, then `*** End Patch`. Parsed into typed operations; an update is
//! applied to a file's current text here, so the plan holds the exact resulting bytes.

use crate::error::{Error, Result};
use crate::paths::RelPath;

/// One file operation of a patch. Paths are as written in the patch (resolved by the
/// caller against the agent's working directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawOp {
    Add {
        path: String,
        content: String,
    },
    Delete {
        path: String,
    },
    Update {
        path: String,
        move_to: Option<String>,
        hunks: Vec<Hunk>,
    },
}

/// A file operation with workspace-relative paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOp {
    Add {
        path: RelPath,
        content: String,
    },
    Delete {
        path: RelPath,
    },
    Update {
        path: RelPath,
        move_to: Option<RelPath>,
        hunks: Vec<Hunk>,
    },
}

impl std::fmt::Display for FileOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileOp::Add { path, .. } => write!(f, "add {path}"),
            FileOp::Delete { path } => write!(f, "delete {path}"),
            FileOp::Update {
                path,
                move_to: Some(to),
                ..
            } => write!(f, "update {path} -> {to}"),
            FileOp::Update { path, .. } => write!(f, "update {path}"),
        }
    }
}

/// One `@@` hunk: an optional context line to seek first, then the old and new lines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hunk {
    pub context: Option<String>,
    pub old: Vec<String>,
    pub new: Vec<String>,
    /// `*** End of File`: the hunk's old lines end the file.
    pub at_eof: bool,
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::failed(format!("apply_patch: {msg}"))
}

/// Parse a whole patch.
pub fn parse(text: &str) -> Result<Vec<RawOp>> {
    let lines: Vec<&str> = text.trim().lines().collect();
    if lines.first().map(|l| l.trim()) != Some("*** Begin Patch") {
        return Err(bad("the patch must start with `*** Begin Patch`"));
    }
    if lines.last().map(|l| l.trim()) != Some("*** End Patch") {
        return Err(bad("the patch must end with `*** End Patch`"));
    }
    let body = &lines[1..lines.len() - 1];
    let mut ops = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let line = body[i];
        if let Some(p) = line.strip_prefix("*** Add File: ") {
            i += 1;
            ops.push(add_file(body, &mut i, p)?);
        } else if let Some(p) = line.strip_prefix("*** Delete File: ") {
            ops.push(RawOp::Delete {
                path: p.trim().to_string(),
            });
            i += 1;
        } else if let Some(p) = line.strip_prefix("*** Update File: ") {
            i += 1;
            ops.push(update_file(body, &mut i, p)?);
        } else if line.trim().is_empty() {
            i += 1;
        } else {
            return Err(bad(format!("unexpected line {line:?}")));
        }
    }
    if ops.is_empty() {
        return Err(bad("the patch changes no file"));
    }
    Ok(ops)
}

/// The `+` lines of added file `p` from `body[*i]` on, up to the next `*** ` line.
fn add_file(body: &[&str], i: &mut usize, p: &str) -> Result<RawOp> {
    let mut content = String::new();
    while *i < body.len() && !body[*i].starts_with("*** ") {
        let l = body[*i]
            .strip_prefix('+')
            .ok_or_else(|| bad(format!("line {:?} of added file {p} lacks `+`", body[*i])))?;
        content.push_str(l);
        content.push('\n');
        *i += 1;
    }
    Ok(RawOp::Add {
        path: p.trim().to_string(),
        content,
    })
}

/// The update of file `p` from `body[*i]` on: an optional `*** Move to:`, then its hunks
/// up to the next `*** ` line (`*** End of File` aside).
fn update_file(body: &[&str], i: &mut usize, p: &str) -> Result<RawOp> {
    let mut move_to = None;
    if *i < body.len()
        && let Some(q) = body[*i].strip_prefix("*** Move to: ")
    {
        move_to = Some(q.trim().to_string());
        *i += 1;
    }
    let mut hunks: Vec<Hunk> = Vec::new();
    while *i < body.len() {
        let l = body[*i];
        if l == "*** End of File" {
            let h = hunks
                .last_mut()
                .ok_or_else(|| bad("`*** End of File` before any hunk"))?;
            h.at_eof = true;
        } else if l.starts_with("*** ") {
            break;
        } else if let Some(ctx) = l.strip_prefix("@@") {
            let ctx = ctx.trim();
            hunks.push(Hunk {
                context: (!ctx.is_empty()).then(|| ctx.to_string()),
                ..Hunk::default()
            });
        } else {
            hunk_line(&mut hunks, l, p)?;
        }
        *i += 1;
    }
    if hunks.is_empty() && move_to.is_none() {
        return Err(bad(format!("the update of {p} has no hunk")));
    }
    Ok(RawOp::Update {
        path: p.trim().to_string(),
        move_to,
        hunks,
    })
}

/// One ` `/`-`/`+` (or empty) line `l` of the update of `p`, added to its last hunk.
fn hunk_line(hunks: &mut Vec<Hunk>, l: &str, p: &str) -> Result<()> {
    if hunks.is_empty() {
        // The first hunk may omit its `@@` line.
        hunks.push(Hunk::default());
    }
    let h = hunks.last_mut().ok_or_else(|| bad("internal"))?;
    match l.chars().next() {
        Some('+') => h.new.push(l[1..].to_string()),
        Some('-') => h.old.push(l[1..].to_string()),
        Some(' ') => {
            h.old.push(l[1..].to_string());
            h.new.push(l[1..].to_string());
        }
        None => {
            h.old.push(String::new());
            h.new.push(String::new());
        }
        _ => return Err(bad(format!("unexpected line {l:?} in the update of {p}"))),
    }
    Ok(())
}

/// Apply an update's hunks to a file's text, as Codex does: each hunk's old lines are
/// sought from where the previous hunk ended (after its context line, if any), exactly,
/// then ignoring trailing whitespace, then ignoring surrounding whitespace. The result
/// ends with a newline.
pub fn apply(path: &str, text: &str, hunks: &[Hunk]) -> Result<String> {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut at = 0usize;
    for (n, h) in hunks.iter().enumerate() {
        if let Some(ctx) = &h.context {
            let found = seek(&lines, std::slice::from_ref(ctx), at, false).ok_or_else(|| {
                bad(format!(
                    "{path}: hunk {}: context line {ctx:?} not found",
                    n + 1
                ))
            })?;
            at = found + 1;
        }
        if h.old.is_empty() {
            // Pure addition: at the end of the file (or after the context line).
            let pos = if h.context.is_some() { at } else { lines.len() };
            lines.splice(pos..pos, h.new.iter().cloned());
            at = pos + h.new.len();
            continue;
        }
        let mut old: &[String] = &h.old;
        let mut found = seek(&lines, old, at, h.at_eof);
        if found.is_none() && old.last().is_some_and(|l| l.is_empty()) {
            // A trailing blank line in the hunk may stand for the end of the file.
            old = &old[..old.len() - 1];
            found = seek(&lines, old, at, h.at_eof);
        }
        let pos = found.ok_or_else(|| {
            bad(format!(
                "{path}: hunk {} does not match the file (expected lines {:?})",
                n + 1,
                h.old.iter().take(3).collect::<Vec<_>>()
            ))
        })?;
        let mut new = h.new.clone();
        if old.len() < h.old.len() && new.last().is_some_and(|l| l.is_empty()) {
            new.pop();
        }
        lines.splice(pos..pos + old.len(), new.iter().cloned());
        at = pos + new.len();
    }
    let mut out = lines.join("\n");
    out.push('\n');
    Ok(out)
}

/// A way of comparing a file's line with a patch's line.
type LineEq = dyn Fn(&str, &str) -> bool;

fn seek(lines: &[String], want: &[String], from: usize, eof: bool) -> Option<usize> {
    if want.len() > lines.len() {
        return None;
    }
    let last = lines.len() - want.len();
    let fits = |i: usize, eq: &LineEq| want.iter().enumerate().all(|(k, w)| eq(&lines[i + k], w));
    let eqs: [&LineEq; 3] = [
        &|a, b| a == b,
        &|a, b| a.trim_end() == b.trim_end(),
        &|a, b| a.trim() == b.trim(),
    ];
    for eq in eqs {
        if eof {
            if last >= from && fits(last, eq) {
                return Some(last);
            }
            continue;
        }
        if let Some(i) = (from..=last).find(|&i| fits(i, eq)) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_file_operation() {
        let p = "*** Begin Patch\n*** Add File: a.txt\n+one\n+two\n*** Delete File: b.txt\n*** Update File: c.txt\n*** Move to: d.txt\n@@ fn main\n-old\n+new\n ctx\n*** End of File\n*** End Patch\n";
        let ops = parse(p).unwrap();
        assert_eq!(
            ops[0],
            RawOp::Add {
                path: "a.txt".into(),
                content: "one\ntwo\n".into()
            }
        );
        assert_eq!(
            ops[1],
            RawOp::Delete {
                path: "b.txt".into()
            }
        );
        let RawOp::Update {
            path,
            move_to,
            hunks,
        } = &ops[2]
        else {
            panic!()
        };
        assert_eq!(path, "c.txt");
        assert_eq!(move_to.as_deref(), Some("d.txt"));
        assert_eq!(hunks[0].context.as_deref(), Some("fn main"));
        assert_eq!(hunks[0].old, vec!["old", "ctx"]);
        assert_eq!(hunks[0].new, vec!["new", "ctx"]);
        assert!(hunks[0].at_eof);
    }

    #[test]
    fn applies_hunks_in_order_with_context() {
        let text = "a\nb\nc\nd\nb\n";
        let hunks = vec![Hunk {
            context: Some("d".into()),
            old: vec!["b".into()],
            new: vec!["B".into()],
            at_eof: false,
        }];
        assert_eq!(apply("f", text, &hunks).unwrap(), "a\nb\nc\nd\nB\n");
        let miss = vec![Hunk {
            old: vec!["zzz".into()],
            new: vec![],
            ..Hunk::default()
        }];
        assert!(
            apply("f", text, &miss)
                .unwrap_err()
                .message
                .contains("does not match")
        );
    }

    #[test]
    fn refuses_a_malformed_patch() {
        assert!(parse("*** Add File: x\n+a\n").is_err());
        assert!(parse("*** Begin Patch\n*** Add File: x\nno plus\n*** End Patch").is_err());
        assert!(parse("*** Begin Patch\n*** End Patch").is_err());
    }
}
