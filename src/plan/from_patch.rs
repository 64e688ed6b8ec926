//! Turning a git-style unified diff into plan operations: every old content is read from
//! the workspace first (as `git apply` does), each file patch is applied in memory, then
//! deletions and renames are planned before the new contents are written.

use super::op::{ModeSpec, Op};
use super::patch::{self, FilePatch, PatchKind};
use crate::error::{Error, Result};
use crate::paths::RelPath;
use crate::workspace::Workspace;

/// The title a patch suggests: a `Subject:` line of `git format-patch` output.
pub fn suggested_title(input: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&input[..input.len().min(64 * 1024)]);
    let subject = text.lines().find_map(|l| l.strip_prefix("Subject: "))?;
    let subject = match subject.strip_prefix('[') {
        Some(rest) => rest.split_once("] ").map_or(subject, |(_, s)| s),
        None => subject,
    };
    let t = subject.trim();
    // A title is one line: a stray `\r` or control in the subject shows escaped.
    (!t.is_empty()).then(|| crate::paths::printable(t).into_owned())
}

/// Git's mode for a symbolic link; its "content" in a diff is the link's target.
const GIT_LINK: u32 = 0o120000;

fn git_mode(mode: u32, path: &str) -> Result<u32> {
    match mode & 0o170000 {
        0o100000 | 0 => Ok(mode & 0o7777),
        _ => Err(Error::failed(format!(
            "{path}: unsupported file mode {mode:o} in the patch"
        ))),
    }
}

fn is_link_mode(mode: Option<u32>) -> bool {
    mode.is_some_and(|m| m & 0o170000 == GIT_LINK)
}

/// The old side of a file patch as git sees it: a file's bytes, or a link's target (with
/// `true`); never followed.
fn read_old(ws: &Workspace, path: &str) -> Result<Option<(Vec<u8>, bool)>> {
    let rel = RelPath::parse(path)?;
    match ws.state(&rel)? {
        crate::model::State::Absent => Ok(None),
        crate::model::State::Symlink { target } => Ok(Some((target.into_bytes(), true))),
        crate::model::State::File { .. } => {
            let dir = ws.open_dir(rel.parent().as_ref())?;
            dir.read(rel.file_name())
                .map(|b| Some((b, false)))
                .map_err(|e| Error::io(format!("reading {rel}"), e))
        }
        crate::model::State::Dir { .. } => Err(Error::failed(format!(
            "{rel} is a directory; the patch expects a file"
        ))),
    }
}

/// A file patch with its result computed against the workspace: the new side's bytes (a
/// link's target for a link), and whether the new side is a symbolic link.
struct Applied<'p> {
    patch: &'p FilePatch,
    new: Option<Vec<u8>>,
    new_link: bool,
}

/// Parse and apply `input` against the workspace, producing ops for the plan compiler.
pub fn ops(ws: &Workspace, input: &[u8], name: &str) -> Result<Vec<(String, Op)>> {
    let patches = patch::parse(input).map_err(|e| {
        Error::failed(format!("patch {name}: {e}"))
            .hint("give a unified diff as `git diff --binary` or `diff -u` writes it")
    })?;
    // 1. Every result computed from the tree as it is now.
    let results = patches
        .iter()
        .map(|p| apply_one(ws, p, name))
        .collect::<Result<Vec<_>>>()?;
    // 2. Deletions and renames first, then contents and modes.
    let mut ops = Vec::new();
    for a in &results {
        if let Some(op) = removal(a.patch)? {
            ops.push((label(name, a.patch), op));
        }
    }
    for a in results {
        let label = label(name, a.patch);
        if let Some(op) = new_side(a, name)? {
            ops.push((label, op));
        }
    }
    Ok(ops)
}

/// What the ops of file patch `p` are labelled with in errors.
fn label(name: &str, p: &FilePatch) -> String {
    format!("patch {name}: {}", p.path())
}

/// Apply one file patch in memory to its old side as the workspace holds it.
fn apply_one<'p>(ws: &Workspace, p: &'p FilePatch, name: &str) -> Result<Applied<'p>> {
    let (old, old_link) = match &p.old_path {
        Some(op) if p.kind != PatchKind::Create => match read_old(ws, op)? {
            Some((b, link)) => (Some(b), link),
            None => (None, false),
        },
        _ => (None, false),
    };
    // The patch and the workspace must agree on what the old side is.
    if let Some(op) = &p.old_path
        && old.is_some()
        && p.old_mode.is_some()
        && is_link_mode(p.old_mode) != old_link
    {
        return Err(Error::failed(format!(
            "patch {name}: the patch expects {op} to be a {}, but it is a {} in the workspace",
            if old_link { "file" } else { "symbolic link" },
            if old_link { "symbolic link" } else { "file" },
        )));
    }
    if let (Some(op), None) = (&p.old_path, &old)
        && p.kind != PatchKind::Create
    {
        return Err(Error::failed(format!(
            "patch {name}: {op} does not exist in the workspace"
        )));
    }
    let new = patch::apply(p, old.as_deref()).map_err(|e| {
        Error::failed(format!("patch {name}: {e}")).hint(
            "the patch must apply exactly to the current files (offsets are fine, fuzz is not)",
        )
    })?;
    // A link's new side: the new mode says so, or (none given) the old side was one.
    let new_link = match p.new_mode {
        Some(m) => is_link_mode(Some(m)),
        None => old_link && p.kind != PatchKind::Create,
    };
    Ok(Applied {
        patch: p,
        new,
        new_link,
    })
}

/// The delete or move a file patch makes, if it makes one.
fn removal(p: &FilePatch) -> Result<Option<Op>> {
    Ok(match p.kind {
        PatchKind::Delete => {
            let path = RelPath::parse(p.old_path.as_deref().unwrap_or(""))?;
            Some(Op::Delete { path })
        }
        PatchKind::Rename => {
            let from = RelPath::parse(p.old_path.as_deref().unwrap_or(""))?;
            let to = RelPath::parse(p.new_path.as_deref().unwrap_or(""))?;
            Some(Op::Move { from, to })
        }
        _ => None,
    })
}

/// The op that gives a file patch's new path its new content, target or mode, if any.
fn new_side(a: Applied, name: &str) -> Result<Option<Op>> {
    let p = a.patch;
    let Some(new_path) = &p.new_path else {
        return Ok(None);
    };
    let path = RelPath::parse(new_path)?;
    if a.new_link {
        let Some(bytes) = a.new else { return Ok(None) };
        return link_side(p, path, bytes, name);
    }
    let mode = p
        .new_mode
        .map(|m| git_mode(m, new_path))
        .transpose()?
        .map(ModeSpec::Exact);
    let old_same = p.old_path.as_ref().is_some_and(|o| o == new_path);
    let Some(bytes) = a.new else { return Ok(None) };
    // A pure rename or mode change carries no new content.
    let no_content =
        matches!(p.body, patch::PatchBody::None) && (p.kind == PatchKind::Rename || old_same);
    Ok(if no_content {
        mode.map(|m| Op::Chmod { path, mode: m })
    } else {
        Some(Op::Write { path, bytes, mode })
    })
}

/// A link's new side: its target checked; set unless the patch only renames it (a move,
/// planned with the removals).
fn link_side(p: &FilePatch, path: RelPath, bytes: Vec<u8>, name: &str) -> Result<Option<Op>> {
    let new_path = p.new_path.as_deref().unwrap_or("");
    let target = String::from_utf8(bytes).map_err(|_| {
        Error::failed(format!(
            "patch {name}: the link {new_path} would get a target that is not UTF-8"
        ))
    })?;
    if !crate::model::plan::valid_link_target(&target) {
        return Err(Error::failed(format!(
            "patch {name}: the link {new_path} would get an empty or oversized target"
        )));
    }
    let pure_move = matches!(p.body, patch::PatchBody::None) && p.kind == PatchKind::Rename;
    Ok((!pure_move).then_some(Op::Symlink { path, target }))
}
