//! A file tool call turned into the plan operations that give the exact bytes the agent's
//! tool would have written: edits and patch updates are applied here to the file's current
//! content, so the plan (and so the preview and the approval) holds whole contents.

use super::{ToolKind, edits, patch::FileOp};
use crate::error::{Error, Result};
use crate::model::State;
use crate::paths::RelPath;
use crate::plan::compile::Op;
use crate::util::hash::sha256_hex;
use crate::workspace::Workspace;

/// The operations, in order, and the contents they were computed from (path → sha256 of
/// the text read), so that `ops::propose` checks the plan's `before` is exactly that.
pub struct Ops {
    pub ops: Vec<Op>,
    pub read: Vec<(RelPath, String)>,
}

/// The text of `rel` now, or `None` when nothing is there.
fn current(
    ws: &Workspace,
    rel: &RelPath,
    read: &mut Vec<(RelPath, String)>,
) -> Result<Option<String>> {
    match ws.state(rel)? {
        State::Absent => Ok(None),
        State::Dir { .. } => Err(Error::failed(format!("{rel} is a folder, not a file"))),
        State::Symlink { .. } => Err(through_link(rel)),
        State::File { sha256, .. } => {
            let dir = ws.open_dir(rel.parent().as_ref())?;
            let bytes = dir
                .read(rel.file_name())
                .map_err(|e| Error::io(format!("reading {rel}"), e))?;
            if sha256_hex(&bytes) != sha256 {
                return Err(Error::stale(format!(
                    "{rel} changed while it was being read"
                )));
            }
            read.push((rel.clone(), sha256));
            let text = String::from_utf8(bytes).map_err(|_| {
                Error::failed(format!(
                    "{rel} is not UTF-8 text; an edit tool cannot change it"
                ))
            })?;
            Ok(Some(text))
        }
    }
}

/// The agent's own tool would write through the link (to its target, maybe outside the
/// workspace); autonomy never follows one, and replacing the link by a file is not what
/// the agent asked for: refused alike for writes and edits.
fn through_link(rel: &RelPath) -> Error {
    Error::failed(format!(
        "{rel} is a symbolic link; an agent's file tool call is not applied through a link"
    ))
    .hint(format!(
        "write the file the link points to by its own path, or delete the link {rel} first"
    ))
}

/// A whole-file write to `rel`: refused where `rel` is a link (as an edit is).
fn writable(ws: &Workspace, rel: &RelPath) -> Result<()> {
    match ws.state(rel) {
        Ok(State::Symlink { .. }) => Err(through_link(rel)),
        _ => Ok(()),
    }
}

pub fn ops(ws: &Workspace, kind: &ToolKind) -> Result<Ops> {
    let mut read = Vec::new();
    let write = |path: &RelPath, text: String| Op::Write {
        path: path.clone(),
        bytes: text.into_bytes(),
        mode: None,
    };
    let mut ops = Vec::new();
    match kind {
        ToolKind::Write { path, content } => {
            writable(ws, path)?;
            ops.push(write(path, content.clone()));
        }
        ToolKind::Edit { path, edits: list } => {
            let now = current(ws, path, &mut read)?;
            let text = edits::apply(path.as_str(), now.as_deref(), list)?;
            ops.push(write(path, text));
        }
        ToolKind::ApplyPatch(files) => {
            for f in files {
                match f {
                    FileOp::Add { path, content } => {
                        writable(ws, path)?;
                        ops.push(write(path, content.clone()));
                    }
                    FileOp::Delete { path } => ops.push(Op::Delete { path: path.clone() }),
                    FileOp::Update {
                        path,
                        move_to,
                        hunks,
                    } => {
                        let now = current(ws, path, &mut read)?.ok_or_else(|| {
                            Error::failed(format!(
                                "apply_patch: cannot update {path}: it does not exist"
                            ))
                        })?;
                        let text = if hunks.is_empty() {
                            now
                        } else {
                            super::patch::apply(path.as_str(), &now, hunks)?
                        };
                        match move_to {
                            Some(to) if to != path => {
                                writable(ws, to)?;
                                ops.push(Op::Move {
                                    from: path.clone(),
                                    to: to.clone(),
                                });
                                ops.push(write(to, text));
                            }
                            _ => ops.push(write(path, text)),
                        }
                    }
                }
            }
        }
        _ => {
            return Err(Error::failed(
                "this tool call changes no file through a file tool",
            ));
        }
    }
    Ok(Ops { ops, read })
}
