//! Application of one parsed [`FilePatch`] to a file's old content, with no fuzz.

use super::binary;
use super::{BinaryData, BinaryPatch, FilePatch, Hunk, HunkLine, PatchBody, PatchError, PatchKind};

/// Computes the new content of `patch`'s file from `old`, the current content of
/// `patch.old_path` (`None` when there is no such file, as for a creation).
///
/// Returns `None` when the patch deletes the file. Text hunks must match exactly (no
/// fuzz, no whitespace leniency) but may apply at another line than their header says:
/// the nearest matching position is used, hunks apply in order and may not overlap. A
/// hunk starting at line 1 must match at the top of the file and a hunk without trailing
/// context at its end, as in `git apply`. A text deletion requires the old content to be
/// exactly what the patch removes. Binary patches are checked against `old` through their
/// reverse block when the patch has one (as `git diff --binary` writes).
pub fn apply(patch: &FilePatch, old: Option<&[u8]>) -> Result<Option<Vec<u8>>, PatchError> {
    let path = patch.path();
    let state = |path: &str, reason: &str| PatchError::FileState {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    match (patch.kind, old) {
        (PatchKind::Create, Some(_)) => {
            return Err(state(
                path,
                "the patch creates this file, but it already exists",
            ));
        }
        (PatchKind::Rename | PatchKind::Copy, None) => {
            let source = patch.old_path.as_deref().unwrap_or(path);
            let what = if patch.kind == PatchKind::Rename {
                "rename"
            } else {
                "copy"
            };
            return Err(state(source, &format!("the file to {what} does not exist")));
        }
        (PatchKind::Modify | PatchKind::Delete, None) => {
            return Err(state(
                path,
                "the patch changes this file, but it does not exist",
            ));
        }
        _ => {}
    }
    let base = old.unwrap_or_default();
    let new = match &patch.body {
        PatchBody::None => base.to_vec(),
        PatchBody::Text(hunks) => apply_hunks(path, base, hunks)?,
        PatchBody::Binary(binary) => apply_binary(path, old, binary)?,
    };
    if patch.kind == PatchKind::Delete {
        if !matches!(patch.body, PatchBody::Binary(_)) && !new.is_empty() {
            return Err(state(
                path,
                "the patch deletes this file, but the file has content the patch does not remove",
            ));
        }
        return Ok(None);
    }
    Ok(Some(new))
}

fn apply_binary(
    path: &str,
    old: Option<&[u8]>,
    patch: &BinaryPatch,
) -> Result<Vec<u8>, PatchError> {
    let fail = |reason: String| PatchError::BinaryFailed {
        path: path.to_owned(),
        reason,
    };
    let new = match &patch.forward {
        BinaryData::Literal(data) => data.clone(),
        BinaryData::Delta(delta) => {
            binary::apply_delta(old.unwrap_or_default(), delta).map_err(fail)?
        }
    };
    if let (Some(old), Some(reverse)) = (old, &patch.reverse) {
        let back = match reverse {
            BinaryData::Literal(data) => data.clone(),
            BinaryData::Delta(delta) => binary::apply_delta(&new, delta)
                .map_err(|r| fail(format!("its reverse block is inconsistent ({r})")))?,
        };
        if back != old {
            return Err(fail(
                "the file's current content is not the content the patch was made against"
                    .to_owned(),
            ));
        }
    }
    Ok(new)
}

/// The old-side lines of a hunk (context and removed).
fn old_side(line: &HunkLine) -> Option<&[u8]> {
    match line {
        HunkLine::Context(c) | HunkLine::Remove(c) => Some(c),
        HunkLine::Add(_) => None,
    }
}

/// The new-side lines of a hunk (context and added).
fn new_side(line: &HunkLine) -> Option<&[u8]> {
    match line {
        HunkLine::Context(c) | HunkLine::Add(c) => Some(c),
        HunkLine::Remove(_) => None,
    }
}

fn apply_hunks(path: &str, old: &[u8], hunks: &[Hunk]) -> Result<Vec<u8>, PatchError> {
    let lines: Vec<&[u8]> = old.split_inclusive(|&b| b == b'\n').collect();
    let mut out = Vec::with_capacity(old.len());
    // Old lines already copied or replaced; the next hunk must start at or after it.
    let mut done = 0usize;
    // Where the previous hunk was expected and where it applied, to carry its offset.
    let (mut last_expected, mut last_found) = (0usize, 0usize);
    for (index, hunk) in hunks.iter().enumerate() {
        let pre: Vec<&[u8]> = hunk.lines.iter().filter_map(old_side).collect();
        let trailing_context = hunk
            .lines
            .iter()
            .rev()
            .take_while(|l| matches!(l, HunkLine::Context(_)))
            .count();
        let anchor = Anchor {
            start: hunk.old_start <= 1,
            end: trailing_context == 0,
        };
        let stated = if hunk.old_lines == 0 {
            hunk.old_start
        } else {
            hunk.old_start.saturating_sub(1)
        };
        let expected = stated
            .saturating_add(last_found)
            .saturating_sub(last_expected);
        let Some(found) = find(&lines, &pre, expected, done, anchor) else {
            return Err(PatchError::HunkFailed {
                path: path.to_owned(),
                hunk: index + 1,
                header: hunk.header(),
                reason: explain(&lines, &pre, expected.max(done), anchor),
            });
        };
        for line in lines.get(done..found).unwrap_or_default() {
            out.extend_from_slice(line);
        }
        for line in hunk.lines.iter().filter_map(new_side) {
            out.extend_from_slice(line);
        }
        done = found.saturating_add(pre.len());
        (last_expected, last_found) = (stated, found);
    }
    for line in lines.get(done..).unwrap_or_default() {
        out.extend_from_slice(line);
    }
    Ok(out)
}

/// Where a hunk is pinned: a hunk starting at line 0 or 1 at the top of the file, a hunk
/// without trailing context at its end.
#[derive(Clone, Copy)]
struct Anchor {
    start: bool,
    end: bool,
}

fn matches_at(lines: &[&[u8]], pre: &[&[u8]], pos: usize) -> bool {
    pos.checked_add(pre.len())
        .and_then(|end| lines.get(pos..end))
        .is_some_and(|window| window == pre)
}

/// The position (index into `lines`) where `pre` matches, nearest to `expected` first, not
/// before `min`.
fn find(
    lines: &[&[u8]],
    pre: &[&[u8]],
    expected: usize,
    min: usize,
    anchor: Anchor,
) -> Option<usize> {
    let max = lines.len().checked_sub(pre.len())?;
    if min > max {
        return None;
    }
    if anchor.start || anchor.end {
        if anchor.start && anchor.end && max != 0 {
            return None;
        }
        let pos = if anchor.start { 0 } else { max };
        return (pos >= min && matches_at(lines, pre, pos)).then_some(pos);
    }
    let expected = expected.clamp(min, max);
    if matches_at(lines, pre, expected) {
        return Some(expected);
    }
    for distance in 1..=(max - min) {
        let before = expected.checked_sub(distance).filter(|&p| p >= min);
        let after = expected.checked_add(distance).filter(|&p| p <= max);
        if before.is_none() && after.is_none() {
            break;
        }
        if let Some(pos) = before.filter(|&p| matches_at(lines, pre, p)) {
            return Some(pos);
        }
        if let Some(pos) = after.filter(|&p| matches_at(lines, pre, p)) {
            return Some(pos);
        }
    }
    None
}

/// Says why `pre` does not match, comparing it with the file at the expected position.
fn explain(lines: &[&[u8]], pre: &[&[u8]], expected: usize, anchor: Anchor) -> String {
    let base = "context does not match";
    let pos = if anchor.start {
        0
    } else if anchor.end {
        lines.len().saturating_sub(pre.len())
    } else {
        expected
    };
    for (i, want) in pre.iter().enumerate() {
        let number = pos.saturating_add(i).saturating_add(1);
        match lines.get(pos.saturating_add(i)) {
            None => {
                return format!(
                    "{base}: the file has {} lines, but the hunk expects line {number} to be {}",
                    lines.len(),
                    show(want)
                );
            }
            Some(have) if have != want => {
                return if trim_newline(have) == trim_newline(want) {
                    format!(
                        "{base}: line {number} differs from the patch only in its line ending or final newline"
                    )
                } else {
                    format!(
                        "{base}: line {number} is {} but the patch expects {}",
                        show(have),
                        show(want)
                    )
                };
            }
            Some(_) => {}
        }
    }
    if anchor.start && anchor.end {
        format!("{base}: the hunk must cover the whole file, but the file has other lines")
    } else if anchor.end {
        format!("{base}: the hunk has no trailing context, so it must apply at the end of the file")
    } else if anchor.start {
        format!("{base}: the hunk must apply at the start of the file")
    } else {
        format!("{base}: the matching lines overlap an earlier hunk")
    }
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// A line for an error message: quoted, lossily decoded, shortened.
fn show(line: &[u8]) -> String {
    const MAX: usize = 60;
    let text = String::from_utf8_lossy(trim_newline(line));
    let short: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        format!("{short:?}…")
    } else {
        format!("{short:?}")
    }
}
