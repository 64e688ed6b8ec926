//! Putting back what an exec step changed, path by path by what it holds now: its
//! observed `after` is put back to `before`, `before` is left alone, anything else stops
//! with a conflict (exit 4) naming the path, unless told to overwrite (the current content
//! is then kept in the store first). A path whose old content autonomy never had (outside
//! the reach) is reported as not put back, never claimed.

use super::scan::{globs, in_reach, matches, reach, scan};
use crate::engine::fsops::{TEMP_PREFIX, put_state, sync};
use crate::error::{Error, Result};
use crate::model::{Change, ExecStep, State};
use crate::paths::RelPath;
use crate::store::blobs::BlobStore;
use crate::util::inode::{kind_name, open_regular};
use crate::workspace::Workspace;
use std::collections::BTreeMap;

/// One path a step may have changed: its snapshot, and what the step left there when that
/// is known (`None`: the step was interrupted while running).
#[derive(Debug, Clone)]
pub struct Undo {
    pub path: String,
    pub before: State,
    pub after: Option<State>,
}

/// The undo list of an interrupted step whose `after` is unknown: every path of its
/// snapshot, and every path now within its reach that the snapshot lacks (so `before` is
/// absent).
pub fn unknown_after(
    ws: &Workspace,
    step: &ExecStep,
    snapshot: &BTreeMap<String, State>,
) -> Result<Vec<Undo>> {
    let scanned = scan(&ws.root)?;
    let g = globs(step, &scanned)?;
    let reach = reach(&ws.root, &g, &scanned);
    let mut out: Vec<Undo> = snapshot
        .iter()
        .map(|(p, s)| Undo {
            path: p.clone(),
            before: s.clone(),
            after: None,
        })
        .collect();
    for p in scanned.into_keys() {
        if (matches(&g, &p) || in_reach(&reach, &p)) && !snapshot.contains_key(&p) {
            out.push(Undo {
                path: p,
                before: State::Absent,
                after: None,
            });
        }
    }
    Ok(out)
}

/// What [`undo`] did.
#[derive(Debug, Default)]
pub struct Undone {
    pub restored: Vec<String>,
    /// Paths left as they are, with why (a folder that is not empty, ...).
    pub left: Vec<String>,
    /// Overwritten contents kept in the store: (path, sha256).
    pub kept: Vec<(String, String)>,
}

/// What a path holds now, for undo: a plan state (a link as a link, never followed), or
/// a description of something autonomy does not open (a FIFO, socket or device).
pub(super) fn now_state(
    ws: &Workspace,
    rel: &RelPath,
) -> Result<std::result::Result<State, String>> {
    match ws.lstat(rel) {
        Ok(Some(m)) if m.file_type().is_symlink() => {}
        Ok(Some(m)) if !m.is_file() && !m.is_dir() => {
            return Ok(Err(
                kind_name(cap_std::fs::MetadataExt::mode(&m)).to_string()
            ));
        }
        Ok(_) => {}
        // `lstat` refuses any symbolic link on the way; which one it was is told by the
        // file types on the way, not by the error's words. A link at the path itself is
        // read as a link; one among its parents is not.
        Err(_) => match link_on_the_way(ws, rel)? {
            Some(LinkAt::Path) => {
                return Ok(match ws.state(rel) {
                    Ok(st @ State::Symlink { .. }) => Ok(st),
                    _ => Err("a symbolic link".to_string()),
                });
            }
            Some(LinkAt::Parent) => return Ok(Err("a symbolic link".to_string())),
            None => {}
        },
    }
    Ok(Ok(ws.state(rel)?))
}

/// Where a symbolic link lies on the way to a path.
#[derive(Debug, PartialEq)]
enum LinkAt {
    /// The path itself is a link.
    Path,
    /// One of its parent folders is.
    Parent,
}

/// The symbolic link on the way to `rel`, if there is one, found by the file type of each
/// component (lstat, never followed). A component that is missing, not a folder, or that
/// cannot be read ends the walk with `None`: the caller reads the path again and reports
/// what it finds.
fn link_on_the_way(ws: &Workspace, rel: &RelPath) -> Result<Option<LinkAt>> {
    let mut dir = ws.open_dir(None)?;
    let mut parts = rel.as_str().split('/').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        match dir.symlink_metadata(part) {
            Ok(m) if m.is_symlink() => {
                return Ok(Some(if last { LinkAt::Path } else { LinkAt::Parent }));
            }
            Ok(m) if m.is_dir() && !last => match cap_fs_ext::DirExt::open_dir_nofollow(&dir, part)
            {
                Ok(d) => dir = d,
                Err(_) => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// A path to put back, and what it holds now (a state, or the kind of a non-regular file).
type Todo<'a> = (&'a Undo, std::result::Result<State, String>);

/// Put the paths of one step back, deciding each by what it holds now: `before` is left,
/// a known `after` is put back to `before`, anything else is a conflict. Every path is
/// checked before anything changes; conflicts stop with exit 4 naming them all, unless
/// `overwrite`, in which case the current content is stored (and listed in
/// [`Undone::kept`]) and the path restored all the same. `tmp` names temp files (the
/// run's token and the step; recovery removes leftovers by that prefix). `specials` are
/// non-regular files the step created (removed without being opened).
pub fn undo(
    ws: &Workspace,
    blobs: &BlobStore,
    list: &[Undo],
    specials: &[String],
    tmp: &str,
    overwrite: bool,
    shown: &str,
) -> Result<Undone> {
    let mut done = Undone::default();
    let todo = decide(ws, blobs, list, overwrite, shown, &mut done)?;
    remove_specials(ws, specials, &mut done)?;
    put_back(ws, blobs, &todo, tmp, &mut done)?;
    Ok(done)
}

/// Decide every path before anything changes: the ones to put back, or the conflicts.
fn decide<'a>(
    ws: &Workspace,
    blobs: &BlobStore,
    list: &'a [Undo],
    overwrite: bool,
    shown: &str,
    done: &mut Undone,
) -> Result<Vec<Todo<'a>>> {
    let mut todo: Vec<Todo> = Vec::new();
    let mut conflicts = Vec::new();
    for u in list {
        let rel = RelPath::parse(&u.path)?;
        let now = now_state(ws, &rel)?;
        // A folder is a folder: its mode is put back where it is re-created, not compared.
        let as_before = |n: &State| *n == u.before || (n.is_dir() && u.before.is_dir());
        match &now {
            Ok(n) if as_before(n) => continue,
            Ok(n) if Some(n) == u.after.as_ref() => {}
            _ if overwrite => {
                if let Ok(State::File { .. }) = &now {
                    let dir = ws.open_dir(rel.parent().as_ref())?;
                    let f = open_regular(&dir, rel.file_name())
                        .map_err(|e| Error::io(format!("reading {rel}"), e))?;
                    let (h, _) = blobs.put_reader(f)?;
                    done.kept.push((u.path.clone(), h));
                }
            }
            _ => {
                let found = match &now {
                    Ok(s) => s.describe(),
                    Err(kind) => kind.clone(),
                };
                let why = if u.after.is_none() {
                    "written while the command was running when the run was interrupted (what it wrote is not known)"
                } else {
                    "neither as before the command nor as it left it"
                };
                conflicts.push(format!(
                    "  {}: {why}; found {found}, before it was {}",
                    u.path,
                    u.before.describe()
                ));
                continue;
            }
        }
        todo.push((u, now));
    }
    if !conflicts.is_empty() {
        return Err(Error::stale(format!(
            "cannot put back what exec {shown:?} changed: {} hold content autonomy does not recognise, and it will not overwrite them:\n{}",
            crate::util::text::count(conflicts.len() as u64, "path"),
            conflicts.join("\n")
        ))
        .hint("put each back by hand (or keep your version and make its snapshot state true), then run `autonomy recover` again; `autonomy recover --overwrite` puts the snapshot back anyway, keeping the current contents in .autonomy/objects (listed in the journal)"));
    }
    Ok(todo)
}

/// Remove the non-regular files the step created, without opening them.
fn remove_specials(ws: &Workspace, specials: &[String], done: &mut Undone) -> Result<()> {
    for p in specials {
        let rel = RelPath::parse(p)?;
        let dir = ws.open_dir(rel.parent().as_ref())?;
        match dir.symlink_metadata(rel.file_name()) {
            Ok(m) if !m.is_file() && !m.is_dir() => {
                dir.remove_file(rel.file_name())
                    .map_err(|e| Error::io(format!("removing {rel}"), e))?;
                done.restored.push(p.clone());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Put each decided path back, in an order that always works: files that were not there
/// removed, new folders removed innermost first, old folders made again outermost first,
/// then old files' contents by rename.
fn put_back(
    ws: &Workspace,
    blobs: &BlobStore,
    todo: &[Todo],
    tmp: &str,
    done: &mut Undone,
) -> Result<()> {
    let depth = |p: &str| p.matches('/').count();
    let is_dir = |s: &std::result::Result<State, String>| matches!(s, Ok(State::Dir { .. }));
    // 1. Files and other non-folders where `before` holds no file: removed.
    for (u, now) in todo {
        if !is_dir(now)
            && !matches!(now, Ok(State::Absent))
            && !matches!(u.before, State::File { .. })
        {
            let rel = RelPath::parse(&u.path)?;
            let dir = ws.open_dir(rel.parent().as_ref())?;
            dir.remove_file(rel.file_name())
                .map_err(|e| Error::io(format!("removing {rel}"), e))?;
            sync(&dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            done.restored.push(u.path.clone());
        }
    }
    // 2. Folders that were not there before: removed when empty, innermost first.
    let mut rm: Vec<&Todo> = todo
        .iter()
        .filter(|(u, now)| is_dir(now) && !u.before.is_dir())
        .collect();
    rm.sort_by_key(|(u, _)| std::cmp::Reverse(depth(&u.path)));
    for (u, _) in rm {
        match std::fs::remove_dir(ws.root.join(&u.path)) {
            Ok(()) => done.restored.push(u.path.clone()),
            Err(e) => done
                .left
                .push(format!("{} (a folder the command made: {e})", u.path)),
        }
    }
    // 3. Folders that were there before: made again, outermost first.
    let mut mk: Vec<&Todo> = todo
        .iter()
        .filter(|(u, now)| u.before.is_dir() && !is_dir(now))
        .collect();
    mk.sort_by_key(|(u, _)| depth(&u.path));
    for (u, _) in mk {
        let rel = RelPath::parse(&u.path)?;
        let dir = ws.open_dir(rel.parent().as_ref())?;
        dir.create_dir(rel.file_name())
            .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
        // Its recorded mode (0755 for a snapshot from before modes were recorded).
        dir.set_permissions(
            rel.file_name(),
            cap_std::fs::PermissionsExt::from_mode(u.before.dir_mode()),
        )
        .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
        sync(&dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
        done.restored.push(u.path.clone());
    }
    // 4. Files and links that were there before: their snapshot content (or target), by
    // rename.
    let mut n = 0usize;
    for (u, _) in todo {
        if let State::File { .. } | State::Symlink { .. } = &u.before {
            let rel = RelPath::parse(&u.path)?;
            n += 1;
            put_state(ws, blobs, &rel, &u.before, &format!("{tmp}-{n}"), None)?;
            done.restored.push(u.path.clone());
        }
    }
    Ok(())
}

/// The undo list of a step whose observed changes are known.
pub fn undo_list(observed: &[Change]) -> Vec<Undo> {
    observed
        .iter()
        .map(|c| Undo {
            path: c.path.clone(),
            before: c.before.clone(),
            after: Some(c.after.clone()),
        })
        .collect()
}

/// The temp-name prefix for restores of step `k` of a run with temp token `token`.
pub fn restore_tmp(token: &str, k: usize) -> String {
    format!("{TEMP_PREFIX}{token}-x{k}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now(ws: &Workspace, p: &str) -> std::result::Result<State, String> {
        now_state(ws, &RelPath::parse(p).unwrap()).unwrap()
    }

    #[test]
    fn links_are_told_apart_by_file_type() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real/a symbolic link")).unwrap();
        std::fs::write(root.join("real/a symbolic link/f"), "x").unwrap();
        std::os::unix::fs::symlink("real", root.join("link")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let ws = Workspace::open(root).unwrap();
        assert_eq!(
            now(&ws, "link"),
            Ok(State::Symlink {
                target: "real".to_string()
            })
        );
        assert_eq!(
            now(&ws, "link/a symbolic link/f"),
            Err("a symbolic link".to_string())
        );
        assert_eq!(now(&ws, "fifo"), Err("a fifo (named pipe)".to_string()));
        assert!(matches!(
            now(&ws, "real/a symbolic link/f"),
            Ok(State::File { .. })
        ));
        assert_eq!(now(&ws, "real/missing"), Ok(State::Absent));
        let rel = |p: &str| RelPath::parse(p).unwrap();
        assert_eq!(
            link_on_the_way(&ws, &rel("link")).unwrap(),
            Some(LinkAt::Path)
        );
        assert_eq!(
            link_on_the_way(&ws, &rel("link/x")).unwrap(),
            Some(LinkAt::Parent)
        );
        assert_eq!(
            link_on_the_way(&ws, &rel("real/a symbolic link/f")).unwrap(),
            None
        );
    }
}
