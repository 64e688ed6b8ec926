//! Parser for `git diff`, `git format-patch` and plain `diff -u` / `diff -ruN` output.

use super::binary;
use super::{BinaryData, BinaryPatch, FilePatch, Hunk, HunkLine, PatchBody, PatchError, PatchKind};

/// Parses every file change in `input`.
///
/// Text before the first file header (mail headers, the commit message, a diffstat) and
/// after the last hunk (the `-- ` signature of `git format-patch`) is skipped. Paths are
/// returned without their `a/` / `b/` prefixes; for plain `diff -u` output one leading
/// component is stripped when every path has one (`git apply -p1`). Paths that are not
/// UTF-8, absolute, or contain `.`, `..` or `.git` components are refused. Input with no
/// file change at all is an error ([`PatchError::NoPatch`]).
pub fn parse(input: &[u8]) -> Result<Vec<FilePatch>, PatchError> {
    let mut parser = Parser {
        lines: input.split_inclusive(|&b| b == b'\n').collect(),
        pos: 0,
    };
    let mut patches = Vec::new();
    while let Some(line) = parser.peek() {
        let text = trim_eol(line);
        if text.starts_with(b"diff --git ") {
            patches.push(parser.git_patch(text)?);
        } else if text.starts_with(b"diff --cc ") || text.starts_with(b"diff --combined ") {
            return Err(parser.error("combined diffs of merge commits are not supported"));
        } else if parser.at_file_header() {
            patches.push(parser.unified_patch()?);
        } else if text.starts_with(b"@@ -") {
            return Err(parser.error(
                "a hunk header appears without a file header (`diff --git` or `---`/`+++` lines) before it",
            ));
        } else if let Some(path) = binary_files_differ(text) {
            return Err(PatchError::BinaryWithoutData { path });
        } else if text == b"GIT binary patch" {
            return Err(parser.error("`GIT binary patch` appears without a `diff --git` line"));
        } else {
            parser.pos += 1;
        }
    }
    if patches.is_empty() {
        Err(PatchError::NoPatch)
    } else {
        Ok(patches)
    }
}

/// A `---` or `+++` line: the raw name (prefix not yet stripped; `None` for `/dev/null`),
/// whatever follows it (a timestamp in plain diffs) and its line number.
struct NameLine {
    name: Option<Vec<u8>>,
    timestamp: Vec<u8>,
    line: usize,
}

/// The extended header lines after `diff --git`.
#[derive(Default)]
struct GitHeader {
    old_mode: Option<u32>,
    new_mode: Option<u32>,
    deleted_mode: Option<u32>,
    new_file_mode: Option<u32>,
    index_mode: Option<u32>,
    rename_from: Option<String>,
    rename_to: Option<String>,
    copy_from: Option<String>,
    copy_to: Option<String>,
}

impl GitHeader {
    /// What the section does, by its header lines (at most one of create, delete, rename
    /// and copy).
    fn kind(&self, start: usize) -> Result<PatchKind, PatchError> {
        let created = self.new_file_mode.is_some();
        let deleted = self.deleted_mode.is_some();
        let renamed = self.rename_from.is_some() || self.rename_to.is_some();
        let copied = self.copy_from.is_some() || self.copy_to.is_some();
        if [created, deleted, renamed, copied]
            .iter()
            .filter(|&&b| b)
            .count()
            > 1
        {
            return Err(malformed(
                start,
                "the file header combines incompatible `new file`, `deleted file`, `rename` and `copy` lines",
            ));
        }
        Ok(if created {
            PatchKind::Create
        } else if deleted {
            PatchKind::Delete
        } else if renamed {
            PatchKind::Rename
        } else if copied {
            PatchKind::Copy
        } else {
            PatchKind::Modify
        })
    }

    /// The old and new paths: from `rename`/`copy` lines, else the `---`/`+++` lines, else
    /// the `diff --git` line.
    fn paths(
        &self,
        kind: PatchKind,
        git_names: Option<&(String, String)>,
        minus: Option<&(Option<String>, usize)>,
        plus: Option<&(Option<String>, usize)>,
        start: usize,
    ) -> Result<(Option<String>, Option<String>), PatchError> {
        let pair = |from: &Option<String>, to: &Option<String>, what: &str| match (from, to) {
            (Some(f), Some(t)) => Ok((Some(f.clone()), Some(t.clone()))),
            _ => Err(malformed(
                start,
                format!("the file header has only one of `{what} from` and `{what} to`"),
            )),
        };
        let minus_name = minus.and_then(|(n, _)| n.clone());
        let plus_name = plus.and_then(|(n, _)| n.clone());
        let (old_path, new_path) = match kind {
            PatchKind::Rename => pair(&self.rename_from, &self.rename_to, "rename")?,
            PatchKind::Copy => pair(&self.copy_from, &self.copy_to, "copy")?,
            PatchKind::Create => (None, plus_name.or(git_names.map(|(_, b)| b.clone()))),
            PatchKind::Delete => (minus_name.or(git_names.map(|(a, _)| a.clone())), None),
            PatchKind::Modify => {
                let name = minus_name
                    .or(plus_name)
                    .or(git_names.map(|(a, _)| a.clone()));
                (name.clone(), name)
            }
        };
        if old_path.is_none() && new_path.is_none() {
            return Err(malformed(
                start,
                "cannot tell the file name from the `diff --git` line; quote names with spaces or add `---`/`+++` lines",
            ));
        }
        Ok((old_path, new_path))
    }

    /// The old and new modes: from `new file`/`deleted file`, else `old mode` and `new
    /// mode` (both or neither), else the `index` line's.
    fn modes(
        &self,
        kind: PatchKind,
        start: usize,
    ) -> Result<(Option<u32>, Option<u32>), PatchError> {
        Ok(match kind {
            PatchKind::Create => (None, self.new_file_mode),
            PatchKind::Delete => (self.deleted_mode, None),
            _ => match (self.old_mode, self.new_mode) {
                (Some(o), Some(n)) => (Some(o), Some(n)),
                (None, None) => (self.index_mode, self.index_mode),
                _ => {
                    return Err(malformed(
                        start,
                        "the file header has only one of `old mode` and `new mode`",
                    ));
                }
            },
        })
    }
}

struct Parser<'a> {
    lines: Vec<&'a [u8]>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a [u8]> {
        self.lines.get(self.pos).copied()
    }

    fn line_no(&self) -> usize {
        self.pos + 1
    }

    fn error(&self, reason: impl Into<String>) -> PatchError {
        malformed(self.line_no(), reason)
    }

    /// Whether the current line is `--- ` followed by a `+++ ` line.
    fn at_file_header(&self) -> bool {
        self.peek().is_some_and(|l| l.starts_with(b"--- "))
            && self
                .lines
                .get(self.pos + 1)
                .is_some_and(|l| l.starts_with(b"+++ "))
    }

    /// Parses one `diff --git` section; `first` is its first line without end of line.
    fn git_patch(&mut self, first: &[u8]) -> Result<FilePatch, PatchError> {
        let start = self.line_no();
        let rest = first.strip_prefix(b"diff --git ").unwrap_or_default();
        let git_names = git_line_names(rest)
            .map_err(|r| malformed(start, r))?
            .map(|(a, b)| Ok::<_, PatchError>((to_path(&a, start)?, to_path(&b, start)?)))
            .transpose()?;
        self.pos += 1;
        let h = self.git_header()?;
        let kind = h.kind(start)?;
        let header_name = || {
            h.rename_to
                .clone()
                .or(h.copy_to.clone())
                .or(git_names.as_ref().map(|(_, b)| b.clone()))
                .unwrap_or_default()
        };
        let (minus, plus, body) = self.git_body(header_name)?;
        let (old_path, new_path) = h.paths(
            kind,
            git_names.as_ref(),
            minus.as_ref(),
            plus.as_ref(),
            start,
        )?;
        check_names(
            kind,
            &old_path,
            &new_path,
            git_names.as_ref(),
            minus.as_ref(),
            plus.as_ref(),
            start,
        )?;
        let (old_mode, new_mode) = h.modes(kind, start)?;
        if kind == PatchKind::Modify && body == PatchBody::None && old_mode == new_mode {
            return Err(malformed(
                start,
                format!(
                    "the `diff --git` section for {} describes no change",
                    old_path.as_deref().unwrap_or_default()
                ),
            ));
        }
        if let PatchBody::Text(hunks) = &body {
            check_hunks(kind, hunks, start)?;
        }
        Ok(FilePatch {
            old_path,
            new_path,
            kind,
            old_mode,
            new_mode,
            body,
        })
    }

    /// The extended header lines after `diff --git` (modes, rename, copy, index).
    fn git_header(&mut self) -> Result<GitHeader, PatchError> {
        let mut h = GitHeader::default();
        while let Some(line) = self.peek() {
            let text = trim_eol(line);
            let ln = self.line_no();
            let err = |r: String| malformed(ln, r);
            if let Some(v) = text.strip_prefix(b"old mode ") {
                h.old_mode = Some(parse_mode(v).map_err(err)?);
            } else if let Some(v) = text.strip_prefix(b"new mode ") {
                h.new_mode = Some(parse_mode(v).map_err(err)?);
            } else if let Some(v) = text.strip_prefix(b"deleted file mode ") {
                h.deleted_mode = Some(parse_mode(v).map_err(err)?);
            } else if let Some(v) = text.strip_prefix(b"new file mode ") {
                h.new_file_mode = Some(parse_mode(v).map_err(err)?);
            } else if let Some(v) = text
                .strip_prefix(b"similarity index ")
                .or_else(|| text.strip_prefix(b"dissimilarity index "))
            {
                parse_percent(v).map_err(err)?;
            } else if let Some(v) = text.strip_prefix(b"rename from ") {
                h.rename_from = Some(field_path(v, ln)?);
            } else if let Some(v) = text.strip_prefix(b"rename to ") {
                h.rename_to = Some(field_path(v, ln)?);
            } else if let Some(v) = text.strip_prefix(b"copy from ") {
                h.copy_from = Some(field_path(v, ln)?);
            } else if let Some(v) = text.strip_prefix(b"copy to ") {
                h.copy_to = Some(field_path(v, ln)?);
            } else if let Some(v) = text.strip_prefix(b"index ") {
                h.index_mode = parse_index(v).map_err(err)?;
            } else {
                break;
            }
            self.pos += 1;
        }
        Ok(h)
    }

    /// The section's body: `---`/`+++` lines and hunks, a binary patch, or nothing.
    /// Returns the `---` and `+++` sides (name, line) when there are any.
    #[allow(clippy::type_complexity)]
    fn git_body(
        &mut self,
        header_name: impl Fn() -> String,
    ) -> Result<
        (
            Option<(Option<String>, usize)>,
            Option<(Option<String>, usize)>,
            PatchBody,
        ),
        PatchError,
    > {
        if self.at_file_header() {
            let minus = self.git_side(b"--- ")?;
            let plus = self.git_side(b"+++ ")?;
            return Ok((Some(minus), Some(plus), PatchBody::Text(self.hunks()?)));
        }
        let body = if self
            .peek()
            .is_some_and(|l| trim_eol(l) == b"GIT binary patch")
        {
            self.pos += 1;
            PatchBody::Binary(self.binary()?)
        } else if self
            .peek()
            .is_some_and(|l| binary_files_differ(trim_eol(l)).is_some())
        {
            return Err(PatchError::BinaryWithoutData {
                path: header_name(),
            });
        } else {
            PatchBody::None
        };
        Ok((None, None, body))
    }

    /// Reads a `---`/`+++` line of a git diff: the path with its `a/`/`b/` prefix stripped.
    fn git_side(&mut self, prefix: &[u8]) -> Result<(Option<String>, usize), PatchError> {
        let raw = self.name_line(prefix)?;
        let name = match raw.name {
            Some(n) => Some(to_path(
                &strip_component(&n).map_err(|r| malformed(raw.line, r))?,
                raw.line,
            )?),
            None => None,
        };
        Ok((name, raw.line))
    }

    /// Reads a `---`/`+++` line.
    fn name_line(&mut self, prefix: &[u8]) -> Result<NameLine, PatchError> {
        let line = self.line_no();
        let text = self.peek().map(trim_eol).unwrap_or_default();
        let rest = text.strip_prefix(prefix).ok_or_else(|| {
            malformed(
                line,
                format!(
                    "expected a line starting with `{}`",
                    String::from_utf8_lossy(prefix)
                ),
            )
        })?;
        let (name, timestamp) = if rest.first() == Some(&b'"') {
            let (name, used) = unquote(rest).map_err(|r| malformed(line, r))?;
            (name, rest.get(used..).unwrap_or_default())
        } else {
            match rest.iter().position(|&b| b == b'\t') {
                Some(tab) => {
                    let (name, tail) = rest.split_at(tab);
                    (name.to_vec(), tail)
                }
                None => (rest.to_vec(), &b""[..]),
            }
        };
        self.pos += 1;
        if name.is_empty() {
            return Err(malformed(line, "the file name is empty"));
        }
        Ok(NameLine {
            name: (name != b"/dev/null").then_some(name),
            timestamp: timestamp.trim_ascii().to_vec(),
            line,
        })
    }

    /// Parses a plain unified diff section (`---`/`+++` without `diff --git`).
    fn unified_patch(&mut self) -> Result<FilePatch, PatchError> {
        let minus = self.name_line(b"--- ")?;
        let plus = self.name_line(b"+++ ")?;
        let hunks = self.hunks()?;
        let names: Vec<&Vec<u8>> = [&minus.name, &plus.name].into_iter().flatten().collect();
        if names.is_empty() {
            return Err(malformed(
                minus.line,
                "both the `---` and the `+++` line name /dev/null",
            ));
        }
        let strip = names.iter().all(|n| n.contains(&b'/'));
        let side = |raw: &NameLine| -> Result<Option<String>, PatchError> {
            match &raw.name {
                None => Ok(None),
                Some(n) if strip => Ok(Some(to_path(
                    &strip_component(n).map_err(|r| malformed(raw.line, r))?,
                    raw.line,
                )?)),
                Some(n) => Ok(Some(to_path(n, raw.line)?)),
            }
        };
        let old = side(&minus)?;
        let new = side(&plus)?;
        // `diff -N` shows a missing file as an empty one dated at the Unix epoch.
        let only_hunk = match hunks.as_slice() {
            [h] => Some(h),
            _ => None,
        };
        let from_nothing = only_hunk.is_some_and(|h| h.old_start == 0 && h.old_lines == 0)
            && is_epoch(&minus.timestamp);
        let to_nothing = only_hunk.is_some_and(|h| h.new_start == 0 && h.new_lines == 0)
            && is_epoch(&plus.timestamp);
        let kind = match (&old, &new) {
            (None, _) => PatchKind::Create,
            (_, None) => PatchKind::Delete,
            _ if from_nothing => PatchKind::Create,
            _ if to_nothing => PatchKind::Delete,
            _ => PatchKind::Modify,
        };
        let (old_path, new_path) = match kind {
            PatchKind::Create => (None, new.or(old)),
            PatchKind::Delete => (old.or(new), None),
            _ => {
                let name = new.or(old);
                (name.clone(), name)
            }
        };
        check_hunks(kind, &hunks, minus.line)?;
        Ok(FilePatch {
            old_path,
            new_path,
            kind,
            old_mode: None,
            new_mode: None,
            body: PatchBody::Text(hunks),
        })
    }

    /// Parses the hunks after a `+++` line.
    fn hunks(&mut self) -> Result<Vec<Hunk>, PatchError> {
        let mut hunks = Vec::new();
        while self.peek().is_some_and(|l| l.starts_with(b"@@ -")) {
            let number = hunks.len() + 1;
            let hunk = self.hunk(number)?;
            if self.peek().is_some_and(|l| self.is_stray(l)) {
                return Err(self.error(format!(
                    "hunk {number} ({}) has more lines than its header declares",
                    hunk.header()
                )));
            }
            hunks.push(hunk);
        }
        if hunks.is_empty() {
            return Err(
                self.error("expected a hunk header (`@@ -l,s +l,s @@`) after the `+++` line")
            );
        }
        Ok(hunks)
    }

    /// Whether `line`, just after a complete hunk, looks like a hunk line that its header
    /// did not count (rather than the next header or trailing text).
    fn is_stray(&self, line: &[u8]) -> bool {
        match line.first() {
            Some(b'+' | b' ' | b'\\') => true,
            Some(b'-') => {
                let text = trim_eol(line);
                !(text == b"-- " || text == b"--" || self.at_file_header())
            }
            _ => false,
        }
    }

    /// Parses one hunk, checking its lines against the counts in its header.
    fn hunk(&mut self, number: usize) -> Result<Hunk, PatchError> {
        let start = self.line_no();
        let text = self.peek().map(trim_eol).unwrap_or_default();
        let mut hunk =
            parse_hunk_header(text).map_err(|r| malformed(start, format!("hunk {number}: {r}")))?;
        self.pos += 1;
        let (mut old_left, mut new_left) = (hunk.old_lines, hunk.new_lines);
        // Set once a side's last line was marked `\ No newline at end of file`.
        let (mut old_ended, mut new_ended) = (false, false);
        let miscount = |hunk: &Hunk, line: usize| {
            malformed(
                line,
                format!(
                    "hunk {number} ({}) does not match the line counts in its header",
                    hunk.header()
                ),
            )
        };
        while let Some(line) = self.peek() {
            let ln = self.line_no();
            let Some((&first, rest)) = line.split_first() else {
                break;
            };
            if first == b'\\' {
                let Some(last) = hunk.lines.last_mut() else {
                    return Err(malformed(
                        ln,
                        "`\\ No newline at end of file` does not follow a hunk line",
                    ));
                };
                let (HunkLine::Context(c) | HunkLine::Remove(c) | HunkLine::Add(c)) = last;
                if c.pop() != Some(b'\n') {
                    return Err(malformed(
                        ln,
                        "`\\ No newline at end of file` appears twice for one line",
                    ));
                }
                match last {
                    HunkLine::Context(_) => (old_ended, new_ended) = (true, true),
                    HunkLine::Remove(_) => old_ended = true,
                    HunkLine::Add(_) => new_ended = true,
                }
                self.pos += 1;
                continue;
            }
            if old_left == 0 && new_left == 0 {
                break;
            }
            let mut content = rest.to_vec();
            if content.last() != Some(&b'\n') {
                // The patch text itself lacks its final newline.
                content.push(b'\n');
            }
            let (uses_old, uses_new, hunk_line) = match first {
                b' ' | b'\n' => (true, true, HunkLine::Context(content)),
                b'-' => (true, false, HunkLine::Remove(content)),
                b'+' => (false, true, HunkLine::Add(content)),
                _ => break,
            };
            if (uses_old && old_left == 0) || (uses_new && new_left == 0) {
                return Err(miscount(&hunk, start));
            }
            if (uses_old && old_ended) || (uses_new && new_ended) {
                return Err(malformed(
                    ln,
                    "a hunk line follows the last line of its side (marked `\\ No newline at end of file`)",
                ));
            }
            if uses_old {
                old_left -= 1;
            }
            if uses_new {
                new_left -= 1;
            }
            hunk.lines.push(hunk_line);
            self.pos += 1;
        }
        if old_left != 0 || new_left != 0 {
            return Err(malformed(
                start,
                format!(
                    "hunk {number} ({}) has fewer lines than its header declares ({old_left} old and {new_left} new lines missing)",
                    hunk.header()
                ),
            ));
        }
        Ok(hunk)
    }

    /// Parses the blocks after `GIT binary patch`.
    fn binary(&mut self) -> Result<BinaryPatch, PatchError> {
        let forward = self.binary_block()?.ok_or_else(|| {
            self.error("expected `literal N` or `delta N` after `GIT binary patch`")
        })?;
        let reverse = self.binary_block()?;
        Ok(BinaryPatch { forward, reverse })
    }

    /// Parses one `literal N` / `delta N` block, if the current line starts one.
    fn binary_block(&mut self) -> Result<Option<BinaryData>, PatchError> {
        let Some(line) = self.peek() else {
            return Ok(None);
        };
        let text = trim_eol(line);
        let (is_delta, size) = if let Some(n) = text.strip_prefix(b"literal ") {
            (false, n)
        } else if let Some(n) = text.strip_prefix(b"delta ") {
            (true, n)
        } else {
            return Ok(None);
        };
        let start = self.line_no();
        let size = parse_number(size)
            .ok_or_else(|| malformed(start, "the binary block size is not a number"))?;
        self.pos += 1;
        let mut compressed = Vec::new();
        while let Some(line) = self.peek() {
            let text = trim_eol(line);
            if text.is_empty() {
                self.pos += 1;
                break;
            }
            binary::decode_line(text, &mut compressed).map_err(|r| self.error(r))?;
            self.pos += 1;
        }
        let data = binary::inflate(&compressed, size).map_err(|r| malformed(start, r))?;
        Ok(Some(if is_delta {
            BinaryData::Delta(data)
        } else {
            BinaryData::Literal(data)
        }))
    }
}

fn malformed(line: usize, reason: impl Into<String>) -> PatchError {
    PatchError::Malformed {
        line,
        reason: reason.into(),
    }
}

/// A header line without its `\n` or `\r\n`.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Checks that the names in the `diff --git`, `---` and `+++` lines agree with the paths.
fn check_names(
    kind: PatchKind,
    old_path: &Option<String>,
    new_path: &Option<String>,
    git_names: Option<&(String, String)>,
    minus: Option<&(Option<String>, usize)>,
    plus: Option<&(Option<String>, usize)>,
    start: usize,
) -> Result<(), PatchError> {
    let mismatch = |line: usize, what: &str, found: &Option<String>, wanted: &Option<String>| {
        let show = |n: &Option<String>| n.clone().unwrap_or_else(|| "/dev/null".to_owned());
        malformed(
            line,
            format!(
                "the {what} names {}, but the file header says {}",
                show(found),
                show(wanted)
            ),
        )
    };
    if let Some((name, line)) = minus
        && name != old_path
    {
        return Err(mismatch(*line, "`---` line", name, old_path));
    }
    if let Some((name, line)) = plus
        && name != new_path
    {
        return Err(mismatch(*line, "`+++` line", name, new_path));
    }
    if let Some((a, b)) = git_names {
        let (a, b) = (Some(a.clone()), Some(b.clone()));
        let old = if kind == PatchKind::Create {
            new_path
        } else {
            old_path
        };
        let new = if kind == PatchKind::Delete {
            old_path
        } else {
            new_path
        };
        if &a != old {
            return Err(mismatch(start, "`diff --git` line", &a, old));
        }
        if &b != new {
            return Err(mismatch(start, "`diff --git` line", &b, new));
        }
    }
    Ok(())
}

/// Checks that a created file's hunks expect no old lines and a deleted file's keep none.
fn check_hunks(kind: PatchKind, hunks: &[Hunk], line: usize) -> Result<(), PatchError> {
    for (i, h) in hunks.iter().enumerate() {
        if kind == PatchKind::Create && h.old_lines != 0 {
            return Err(malformed(
                line,
                format!(
                    "the patch creates the file, but hunk {} ({}) expects existing lines",
                    i + 1,
                    h.header()
                ),
            ));
        }
        if kind == PatchKind::Delete && h.new_lines != 0 {
            return Err(malformed(
                line,
                format!(
                    "the patch deletes the file, but hunk {} ({}) leaves lines in it",
                    i + 1,
                    h.header()
                ),
            ));
        }
    }
    Ok(())
}

/// The file name of a `Binary files X and Y differ` line, if `text` is one.
fn binary_files_differ(text: &[u8]) -> Option<String> {
    let middle = text
        .strip_prefix(b"Binary files ")?
        .strip_suffix(b" differ")?;
    let text = String::from_utf8_lossy(middle);
    let (old, new) = text.rsplit_once(" and ")?;
    let name = if new == "/dev/null" { old } else { new };
    let name = name.trim_matches('"');
    Some(
        name.split_once('/')
            .map_or(name, |(_, rest)| rest)
            .to_owned(),
    )
}

/// Converts a path to a `String`, refusing non-UTF-8 and unsafe paths.
fn to_path(bytes: &[u8], line: usize) -> Result<String, PatchError> {
    let path = String::from_utf8(bytes.to_vec()).map_err(|_| PatchError::NonUtf8Path {
        line,
        path: String::from_utf8_lossy(bytes).into_owned(),
    })?;
    let unsafe_path = |reason: &str| PatchError::UnsafePath {
        line,
        path: path.clone(),
        reason: reason.to_owned(),
    };
    if path.starts_with('/') {
        return Err(unsafe_path("absolute paths are not allowed"));
    }
    if path.contains('\0') {
        return Err(unsafe_path("it contains a NUL character"));
    }
    for component in path.split('/') {
        if component.is_empty() {
            return Err(unsafe_path("it has an empty component"));
        }
        if component == "." || component == ".." {
            return Err(unsafe_path("`.` and `..` components are not allowed"));
        }
        if component.eq_ignore_ascii_case(".git") {
            return Err(unsafe_path("paths inside `.git` are not allowed"));
        }
    }
    Ok(path)
}

/// Strips the first path component (`a/x` → `x`), like `git apply -p1`.
fn strip_component(name: &[u8]) -> Result<Vec<u8>, String> {
    match name.iter().position(|&b| b == b'/') {
        Some(slash) => Ok(name.get(slash + 1..).unwrap_or_default().to_vec()),
        None => Err(format!(
            "the file name {:?} has no `a/` or `b/` prefix to strip (was the diff made with --no-prefix?)",
            String::from_utf8_lossy(name)
        )),
    }
}

/// The old and new names of a `diff --git` line, prefixes stripped.
type NamePair = (Vec<u8>, Vec<u8>);

/// Splits the names of a `diff --git` line and strips their prefixes. `None` when the
/// names are unquoted, differ and contain spaces, so that the split is ambiguous.
fn git_line_names(rest: &[u8]) -> Result<Option<NamePair>, String> {
    if rest.first() == Some(&b'"') {
        let (a, used) = unquote(rest)?;
        let tail = rest
            .get(used..)
            .unwrap_or_default()
            .strip_prefix(b" ")
            .ok_or("expected a space after the first file name of the `diff --git` line")?;
        let b = if tail.first() == Some(&b'"') {
            let (b, used) = unquote(tail)?;
            if used != tail.len() {
                return Err("unexpected text after the second file name".to_owned());
            }
            b
        } else {
            tail.to_vec()
        };
        return Ok(Some((strip_component(&a)?, strip_component(&b)?)));
    }
    let spaces: Vec<usize> = rest
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b' ')
        .map(|(i, _)| i)
        .collect();
    let split = |i: usize| {
        let (a, b) = rest.split_at(i);
        (a, b.get(1..).unwrap_or_default())
    };
    if rest.last() == Some(&b'"') {
        for &i in &spaces {
            let (a, b) = split(i);
            if b.first() == Some(&b'"')
                && let Ok((b, used)) = unquote(b)
                && Some(used) == rest.len().checked_sub(i + 1)
            {
                return Ok(Some((strip_component(a)?, strip_component(&b)?)));
            }
        }
    }
    if let [only] = spaces.as_slice() {
        let (a, b) = split(*only);
        return Ok(Some((strip_component(a)?, strip_component(b)?)));
    }
    for &i in &spaces {
        let (a, b) = split(i);
        if let (Ok(a), Ok(b)) = (strip_component(a), strip_component(b))
            && a == b
            && !a.is_empty()
        {
            return Ok(Some((a, b)));
        }
    }
    Ok(None)
}

/// Decodes a C-style quoted name as git writes it (`"a/\303\244.txt"`), returning the
/// bytes and how many input bytes the quoted name used.
fn unquote(s: &[u8]) -> Result<(Vec<u8>, usize), String> {
    const UNTERMINATED: &str = "a quoted file name is not terminated";
    let mut out = Vec::new();
    let mut i = 1;
    loop {
        let &c = s.get(i).ok_or(UNTERMINATED)?;
        i += 1;
        match c {
            b'"' => return Ok((out, i)),
            b'\\' => {
                let &e = s.get(i).ok_or(UNTERMINATED)?;
                i += 1;
                let byte = match e {
                    b'a' => 0x07,
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'v' => 0x0b,
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    b'"' | b'\\' => e,
                    b'0'..=b'3' => {
                        let octal = |j: usize| s.get(j).filter(|d| (b'0'..=b'7').contains(d));
                        let (Some(&d1), Some(&d2)) = (octal(i), octal(i + 1)) else {
                            return Err(
                                "a quoted file name has an octal escape without three digits"
                                    .to_owned(),
                            );
                        };
                        i += 2;
                        (e - b'0') * 64 + (d1 - b'0') * 8 + (d2 - b'0')
                    }
                    _ => {
                        return Err(format!(
                            "a quoted file name has the unknown escape `\\{}`",
                            char::from(e)
                        ));
                    }
                };
                out.push(byte);
            }
            _ => out.push(c),
        }
    }
}

/// The name of a `rename from` / `copy to` (etc.) line: quoted or raw, with no prefix.
fn field_path(value: &[u8], line: usize) -> Result<String, PatchError> {
    let name = if value.first() == Some(&b'"') {
        let (name, used) = unquote(value).map_err(|r| malformed(line, r))?;
        if used != value.len() {
            return Err(malformed(line, "unexpected text after a quoted file name"));
        }
        name
    } else {
        value.to_vec()
    };
    to_path(&name, line)
}

/// A decimal number of at most 18 digits.
fn parse_number(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &d| {
        acc.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

/// An octal git file mode such as `100644`.
fn parse_mode(value: &[u8]) -> Result<u32, String> {
    let invalid = || format!("invalid file mode {:?}", String::from_utf8_lossy(value));
    if value.is_empty() || value.len() > 7 {
        return Err(invalid());
    }
    let mut mode = 0u32;
    for &d in value {
        if !(b'0'..=b'7').contains(&d) {
            return Err(invalid());
        }
        mode = mode * 8 + u32::from(d - b'0');
    }
    if mode & 0o170000 == 0o160000 {
        return Err("submodule changes (mode 160000) are not supported".to_owned());
    }
    Ok(mode)
}

/// `NN%` of a similarity line.
fn parse_percent(value: &[u8]) -> Result<(), String> {
    match value.strip_suffix(b"%").and_then(parse_number) {
        Some(n) if n <= 100 => Ok(()),
        _ => Err(format!(
            "invalid similarity {:?}",
            String::from_utf8_lossy(value)
        )),
    }
}

/// `abc123..def456[ mode]` of an `index` line; returns the mode.
fn parse_index(value: &[u8]) -> Result<Option<u32>, String> {
    let (hashes, mode) = match value.iter().position(|&b| b == b' ') {
        Some(space) => {
            let (h, m) = value.split_at(space);
            (h, Some(m.get(1..).unwrap_or_default()))
        }
        None => (value, None),
    };
    let is_hash = |h: &[u8]| !h.is_empty() && h.len() <= 64 && h.iter().all(u8::is_ascii_hexdigit);
    let valid = hashes
        .windows(2)
        .position(|w| w == b"..")
        .map(|dots| hashes.split_at(dots))
        .is_some_and(|(a, b)| is_hash(a) && is_hash(b.get(2..).unwrap_or_default()));
    if !valid {
        return Err(format!(
            "invalid `index` line value {:?}",
            String::from_utf8_lossy(value)
        ));
    }
    mode.map(parse_mode).transpose()
}

/// Parses `@@ -l[,s] +l[,s] @@[ section]` into an empty [`Hunk`].
fn parse_hunk_header(text: &[u8]) -> Result<Hunk, String> {
    let bad = || {
        format!(
            "malformed hunk header {:?}; expected `@@ -l,s +l,s @@`",
            String::from_utf8_lossy(text)
        )
    };
    let range = |s: &[u8]| -> Option<(usize, usize, usize)> {
        let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
        let n = digits(s);
        let start = parse_number(s.get(..n)?)?;
        match s.get(n) {
            Some(b',') => {
                let rest = s.get(n + 1..)?;
                let m = digits(rest);
                Some((start, parse_number(rest.get(..m)?)?, n + 1 + m))
            }
            _ => Some((start, 1, n)),
        }
    };
    let rest = text.strip_prefix(b"@@ -").ok_or_else(bad)?;
    let (old_start, old_lines, used) = range(rest).ok_or_else(bad)?;
    let rest = rest
        .get(used..)
        .and_then(|r| r.strip_prefix(b" +"))
        .ok_or_else(bad)?;
    let (new_start, new_lines, used) = range(rest).ok_or_else(bad)?;
    let rest = rest
        .get(used..)
        .and_then(|r| r.strip_prefix(b" @@"))
        .ok_or_else(bad)?;
    if (old_lines > 0 && old_start == 0) || (new_lines > 0 && new_start == 0) {
        return Err(format!(
            "hunk header {:?} has lines starting at line 0",
            String::from_utf8_lossy(text)
        ));
    }
    Ok(Hunk {
        old_start,
        old_lines,
        new_start,
        new_lines,
        section: String::from_utf8_lossy(rest.strip_prefix(b" ").unwrap_or(rest)).into_owned(),
        lines: Vec::new(),
    })
}

/// Whether a `diff -u` timestamp (`1970-01-01 00:00:00.000000000 +0000`, in any time zone)
/// is the Unix epoch, which `diff -N` uses for a file that does not exist.
fn is_epoch(timestamp: &[u8]) -> bool {
    fn epoch_seconds(text: &str) -> Option<i64> {
        let mut parts = text.split_ascii_whitespace();
        let date = parts.next()?;
        let time = parts.next()?;
        let zone = parts.next().unwrap_or("+0000");
        let mut ymd = date.splitn(3, '-').map(str::parse::<i64>);
        let (y, m, d) = (ymd.next()?.ok()?, ymd.next()?.ok()?, ymd.next()?.ok()?);
        let (clock, fraction) = time.split_once('.').unwrap_or((time, "0"));
        if !fraction.bytes().all(|b| b == b'0') {
            return None;
        }
        let mut hms = clock.splitn(3, ':').map(str::parse::<i64>);
        let (h, min, s) = (hms.next()?.ok()?, hms.next()?.ok()?, hms.next()?.ok()?);
        let sign = match zone.get(..1)? {
            "+" => 1,
            "-" => -1,
            _ => return None,
        };
        let zone = zone.get(1..)?;
        if zone.len() != 4 {
            return None;
        }
        let offset =
            zone.get(..2)?.parse::<i64>().ok()? * 3600 + zone.get(2..)?.parse::<i64>().ok()? * 60;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1900..=2100).contains(&y) {
            return None;
        }
        // Days from 1970-01-01 to y-m-d (proleptic Gregorian calendar).
        let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * m + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400 + h * 3600 + min * 60 + s - sign * offset)
    }
    std::str::from_utf8(timestamp).ok().and_then(epoch_seconds) == Some(0)
}
