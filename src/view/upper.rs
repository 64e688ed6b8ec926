//! Reading an overlay's upper layer back as changes, touching only what it holds (and,
//! for a replaced folder, that folder's listing in the workspace).
//!
//! In the upper layer (mounted with `redirect_dir=nofollow`, `metacopy=off`, `index=off`):
//! - a char device 0:0 is a whiteout: the workspace's entry of that name is deleted;
//! - a folder with the xattr `trusted.overlay.opaque` (or `user.overlay.opaque` under
//!   `userxattr`) = `y` replaces the workspace's folder: what it does not hold is deleted,
//!   and so is everything below it;
//! - any other folder merges with the workspace's (it is there because something inside
//!   changed, or its mode or times did);
//! - a regular file is a whole copy: new, changed, or a copy-up whose bytes and mode equal
//!   the workspace's (`touch`, a chown, an open for writing that wrote nothing), which is
//!   dropped here;
//! - a symlink or a special file is what the command made at that path.

use super::beneath::{FdAccess, Tree};
use super::{Change, Entry};
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The upper layer is read beneath its own descriptor, no symlink followed in any
/// component (`super::beneath`): a command still running in the view that swaps a folder
/// for a link to `.autonomy/` makes the read-back fail, never read the real state.
pub(super) fn changes(root: &Path, upper: &Path) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    let tree = Tree::open(upper)?;
    walk(root, &tree, "", true, false, &mut out)?;
    Ok(out)
}

/// What `p` holds, without following a final symlink.
pub(super) fn entry(p: &Path) -> Result<Entry> {
    match fs::symlink_metadata(p) {
        Ok(m) => Ok(entry_of(p, &m)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Entry::Absent),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(Entry::Absent),
        Err(e) => Err(Error::io(format!("reading {}", p.display()), e)),
    }
}

pub(super) fn entry_of(p: &Path, m: &fs::Metadata) -> Result<Entry> {
    let mode = m.permissions().mode() & 0o7777;
    let ft = m.file_type();
    Ok(if ft.is_dir() {
        Entry::Dir { mode }
    } else if ft.is_file() {
        Entry::File { mode, len: m.len() }
    } else if ft.is_symlink() {
        Entry::Symlink {
            target: fs::read_link(p)
                .map_err(|e| Error::io(format!("reading the link {}", p.display()), e))?,
        }
    } else {
        Entry::Other
    })
}

fn name_of(e: &fs::DirEntry, dir: &Path) -> Result<String> {
    e.file_name().to_str().map(str::to_string).ok_or_else(|| {
        Error::failed(format!(
            "{} holds a file name that is not UTF-8",
            dir.display()
        ))
    })
}

fn list(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))? {
        let e = e.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        names.push(name_of(&e, dir)?);
    }
    names.sort();
    Ok(names)
}

/// Walks the upper folder `rel`. `lower_dir`: the workspace holds a real folder at `rel`
/// (so its entries are the `before` states); `replaced`: the upper folder defines the
/// whole content at `rel` (it or an ancestor is opaque), so workspace entries it lacks
/// are deleted.
fn walk(
    root: &Path,
    upper: &Tree,
    rel: &str,
    lower_dir: bool,
    replaced: bool,
    out: &mut Vec<Change>,
) -> Result<()> {
    let names = upper.list(rel)?;
    if replaced && lower_dir {
        out.extend(gone_from(root, rel, &names)?);
    }
    for name in names {
        if rel.is_empty() && skip_top(&name) {
            continue;
        }
        visit(root, upper, join(rel, &name), lower_dir, replaced, out)?;
    }
    Ok(())
}

/// Reads the upper layer's entry at `path` (in a folder walked with `lower_dir` and
/// `replaced`, see [`walk`]) as a change, walking into it when it is a folder.
fn visit(
    root: &Path,
    upper: &Tree,
    path: String,
    lower_dir: bool,
    replaced: bool,
    out: &mut Vec<Change>,
) -> Result<()> {
    // Gone since the listing (the command is still running): nothing to read.
    let Some(node) = upper.node(&path)? else {
        return Ok(());
    };
    let before = if lower_dir {
        entry(&root.join(&path))?
    } else {
        Entry::Absent
    };
    if Tree::is_whiteout(&node) {
        if before != Entry::Absent {
            out.push(Change {
                path,
                before,
                after: Entry::Absent,
                content_changed: false,
            });
        }
        return Ok(());
    }
    let after = upper.entry_of(&path, &node)?;
    // Not root: a folder or file the command made unreadable is opened up for the
    // read-back and given its mode again afterwards (the view may live on).
    let _access = FdAccess::grant(&node);
    match &after {
        Entry::Dir { mode } => {
            let opaque = replaced || upper.is_opaque(&path);
            let was_dir = matches!(before, Entry::Dir { .. });
            let differs = match &before {
                Entry::Dir { mode: old } => old != mode,
                _ => true,
            };
            if differs {
                out.push(Change {
                    path: path.clone(),
                    before,
                    after: after.clone(),
                    content_changed: false,
                });
            }
            walk(root, upper, &path, was_dir, opaque && was_dir, out)?;
        }
        Entry::File { .. } => out.extend(file_change(root, upper, path, before, after)?),
        Entry::Symlink { .. } | Entry::Other => {
            if before != after {
                out.push(Change {
                    path,
                    before,
                    after,
                    content_changed: false,
                });
            }
        }
        Entry::Absent => {}
    }
    Ok(())
}

/// The workspace's entries of the folder `rel` that the upper folder replacing it (its
/// listing: `names`) no longer holds: each is deleted.
fn gone_from(root: &Path, rel: &str, names: &[String]) -> Result<Vec<Change>> {
    let present: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut gone = Vec::new();
    for name in list(&root.join(rel))? {
        if rel.is_empty() && skip_top(&name) {
            continue;
        }
        if !present.contains(name.as_str()) {
            let path = join(rel, &name);
            let before = entry(&root.join(&path))?;
            gone.push(Change {
                path,
                before,
                after: Entry::Absent,
                content_changed: false,
            });
        }
    }
    Ok(gone)
}

/// The change of the regular file at `path` in the upper layer (`after`) from the
/// workspace's `before`; `None` for a copy-up with the same bytes and mode.
fn file_change(
    root: &Path,
    upper: &Tree,
    path: String,
    before: Entry,
    after: Entry,
) -> Result<Option<Change>> {
    let Entry::File { mode, len } = &after else {
        return Ok(None);
    };
    let content_changed = match &before {
        Entry::File {
            len: old_len,
            mode: _,
        } if old_len == len => {
            let up = upper
                .open_file(&path)
                .map_err(|e| Error::io(format!("reading {path} in the view"), e))?;
            !same_content(&root.join(&path), up)?
        }
        _ => true,
    };
    let mode_changed = !matches!(&before, Entry::File { mode: m, .. } if m == mode);
    if !(content_changed || mode_changed) {
        return Ok(None);
    }
    Ok(Some(Change {
        path,
        before,
        after,
        content_changed,
    }))
}

/// `.autonomy/` and `.git/` are not the command's to change (sealed and read-only in the
/// view); should an entry of that name show up anyway, it is not a change to plan.
pub(super) fn skip_top(name: &str) -> bool {
    name == crate::paths::STATE_DIR || name == ".git"
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// Whether two regular files of equal length hold the same bytes (streamed).
pub(super) fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    let fb = crate::util::inode::open_regular_path(b)
        .map_err(|e| Error::io(format!("reading {}", b.display()), e))?;
    same_content(a, fb)
}

/// Whether the regular file at `a` holds the bytes of the open file `fb`.
fn same_content(a: &Path, mut fb: fs::File) -> Result<bool> {
    let mut fa = crate::util::inode::open_regular_path(a)
        .map_err(|e| Error::io(format!("reading {}", a.display()), e))?;
    let mut ba = vec![0u8; 1 << 16];
    let mut bb = vec![0u8; 1 << 16];
    loop {
        let n = read_full(&mut fa, &mut ba).map_err(|e| Error::io("comparing files", e))?;
        let m = read_full(&mut fb, &mut bb).map_err(|e| Error::io("comparing files", e))?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
