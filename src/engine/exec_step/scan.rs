//! What an exec step can reach: the exact scan of the workspace (`lstat` only, nothing
//! opened), the step's `touches` and the folders its confinement opens for writing, and
//! its snapshot, every file and folder it can change with file contents in the store.

use crate::error::{Error, Result};
use crate::model::{ExecStep, State};
use crate::paths::{Globs, RelPath, STATE_DIR, nested_workspaces};
use crate::store::blobs::BlobStore;
use crate::util::inode::{kind_name, open_regular};
use crate::workspace::Workspace;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What the scan sees at a path: enough to detect any write, without opening anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seen {
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
        ino: u64,
    },
    File {
        len: u64,
        mode: u32,
        mtime: i64,
        mtime_ns: i64,
        ctime: i64,
        ctime_ns: i64,
        ino: u64,
    },
    /// A symlink, FIFO, socket or device: never opened, followed or read.
    Other {
        mode: u32,
        ctime: i64,
        ctime_ns: i64,
        ino: u64,
    },
}

/// Whether a scanned `mode` is a symbolic link's.
pub(super) fn is_link(mode: u32) -> bool {
    mode & libc::S_IFMT == libc::S_IFLNK
}

pub(super) fn scan(root: &Path) -> Result<BTreeMap<String, Seen>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Seen>) -> Result<()> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            let p = entry.path();
            let rel = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            if rel == STATE_DIR {
                continue;
            }
            let m = std::fs::symlink_metadata(&p)
                .map_err(|e| Error::io(format!("reading {rel}"), e))?;
            if m.is_dir() {
                out.insert(
                    rel,
                    Seen::Dir {
                        mode: m.mode(),
                        uid: m.uid(),
                        gid: m.gid(),
                        ino: m.ino(),
                    },
                );
                walk(root, &p, out)?;
            } else if m.is_file() {
                out.insert(
                    rel,
                    Seen::File {
                        len: m.len(),
                        mode: m.mode(),
                        mtime: m.mtime(),
                        mtime_ns: m.mtime_nsec(),
                        ctime: m.ctime(),
                        ctime_ns: m.ctime_nsec(),
                        ino: m.ino(),
                    },
                );
            } else {
                out.insert(
                    rel,
                    Seen::Other {
                        mode: m.mode(),
                        ctime: m.ctime(),
                        ctime_ns: m.ctime_nsec(),
                        ino: m.ino(),
                    },
                );
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

/// A step's `touches`, checked again (the stored plan is untrusted) and bounded: they
/// never cover a state folder or anything in a nested workspace of `scanned`.
pub(super) fn globs(step: &ExecStep, scanned: &BTreeMap<String, Seen>) -> Result<Globs> {
    Ok(Globs::new(&step.touches)?.excluding(nested_workspaces(scanned.keys().map(String::as_str))))
}

pub(super) fn matches(globs: &Globs, path: &str) -> bool {
    globs.covers(path)
}

/// The workspace-relative folders (and files) a step's confinement lets it write.
pub(super) fn reach(root: &Path, g: &Globs, scanned: &BTreeMap<String, Seen>) -> Vec<String> {
    writable_dirs(root, g, scanned, &[])
        .iter()
        .filter_map(|d| d.strip_prefix(root).ok())
        .map(|r| r.to_string_lossy().into_owned())
        .filter(|r| !r.is_empty())
        .collect()
}

pub(super) fn in_reach(reach: &[String], p: &str) -> bool {
    reach
        .iter()
        .any(|r| p == r || (p.starts_with(r.as_str()) && p.as_bytes().get(r.len()) == Some(&b'/')))
}

/// The folders and files Landlock may open for writing (see `paths::writable`): the
/// literal prefix of each glob, never a state folder, a nested workspace, a symlink, or a
/// path in `keep_out`.
pub(super) fn writable_dirs(
    root: &Path,
    globs: &Globs,
    scanned: &BTreeMap<String, Seen>,
    keep_out: &[String],
) -> Vec<PathBuf> {
    let nested = nested_workspaces(scanned.keys().map(String::as_str));
    crate::paths::writable::writable_roots(root, globs, &nested, keep_out)
}

/// Hash the files `rels` (reusing the hash cache) and store every content the store
/// lacks, all made durable at once. Only regular files are opened.
pub(super) fn capture_many(
    ws: &Workspace,
    blobs: &BlobStore,
    rels: &[String],
) -> Result<Vec<State>> {
    let parsed = rels
        .iter()
        .map(|r| RelPath::parse(r))
        .collect::<Result<Vec<_>>>()?;
    let states = ws.rechecks(&parsed);
    let mut batch = blobs.batch();
    let mut out = Vec::with_capacity(rels.len());
    for (rel, st) in parsed.iter().zip(states) {
        let st = st?;
        let st = match st {
            State::File { sha256, mode } if !blobs.contains(&sha256) => {
                let dir = ws.open_dir(rel.parent().as_ref())?;
                let f = open_regular(&dir, rel.file_name())
                    .map_err(|e| Error::io(format!("reading {rel}"), e))?;
                let mode_now = f
                    .metadata()
                    .map(|m| m.mode() & 0o7777)
                    .map_err(|e| Error::io(format!("reading {rel}"), e))?;
                let (got, _) = batch.put_reader(f)?;
                if got == sha256 {
                    State::File { sha256, mode }
                } else {
                    // It changed between the hash and the copy: what was stored is what
                    // it held.
                    State::File {
                        sha256: got,
                        mode: mode_now,
                    }
                }
            }
            other => other,
        };
        out.push(st);
    }
    batch.commit(&|_| true)?;
    ws.save_hashes();
    Ok(out)
}

/// One file's state, its content kept in the store.
pub(super) fn capture_file(ws: &Workspace, blobs: &BlobStore, rel: &str) -> Result<State> {
    capture_many(ws, blobs, &[rel.to_string()])?
        .pop()
        .ok_or_else(|| Error::failed(format!("reading {rel}: nothing was read")))
}

/// The snapshot of one step: every file and folder it can change (see the module
/// documentation), with file contents stored.
pub fn snapshot(
    ws: &Workspace,
    blobs: &BlobStore,
    step: &ExecStep,
) -> Result<BTreeMap<String, State>> {
    let scanned = scan(&ws.root)?;
    let g = globs(step, &scanned)?;
    let reach = reach(&ws.root, &g, &scanned);
    let shown = step.run.join(" ");
    let mut out = BTreeMap::new();
    let mut files = Vec::new();
    for (rel, seen) in scanned {
        let declared = matches(&g, &rel);
        if !declared && !in_reach(&reach, &rel) {
            continue;
        }
        match seen {
            // With its mode, so that a folder the command removes comes back as it was.
            Seen::Dir { mode, .. } => {
                out.insert(
                    rel,
                    State::Dir {
                        mode: Some(mode & 0o7777),
                    },
                );
            }
            Seen::File { .. } => files.push(rel),
            // A link is kept as a link: its target read, never followed.
            Seen::Other { mode, .. } if declared && is_link(mode) => {
                let st = ws.state(&RelPath::parse(&rel)?)?;
                out.insert(rel, st);
            }
            Seen::Other { mode, .. } if declared => {
                return Err(Error::failed(format!(
                    "exec {shown:?} may change {rel} (its `touches` match it), which is {}; autonomy never opens fifos, sockets or devices, so it cannot keep or restore it",
                    kind_name(mode)
                ))
                .hint(format!("remove {rel} or narrow the step's `touches`, then apply again")));
            }
            // Outside `touches`: never opened; any change to it fails the step.
            Seen::Other { .. } => {}
        }
    }
    let states = capture_many(ws, blobs, &files)?;
    out.extend(files.into_iter().zip(states));
    Ok(out)
}
