//! The workspace: finding its root (the folder holding `.autonomy/`, like git), and
//! workspace-relative paths that can never escape it. All access below the root goes
//! through cap-std handles opened component by component without following symlinks.

pub mod hashes;
pub mod trust;

use crate::error::{Error, Kind, Result};
use crate::paths::{RelPath, STATE_DIR};
use crate::workspace::hashes::{HashCache, StatSig, coarse_now};
use cap_fs_ext::DirExt;
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, fstat, openat, statat};
use rustix::io::Errno;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The root of the workspace containing `start`: the nearest folder at or above it that
/// holds `.autonomy/`, which must then pass the ownership check
/// ([`crate::workspace::trust::check`]). Another user's workspace is an error naming its
/// owner, never silently used and never skipped for one further up (as git stops at the
/// first `.git`). A `.autonomy` that is a symbolic link is refused the same way.
pub fn find_root(start: &Path) -> Result<PathBuf> {
    let start = std::path::absolute(start)
        .map_err(|e| Error::io(format!("resolving {}", start.display()), e))?;
    let mut cur: Option<&Path> = Some(&start);
    while let Some(dir) = cur {
        match std::fs::symlink_metadata(dir.join(STATE_DIR)) {
            Ok(m) if m.is_dir() || m.is_symlink() => {
                crate::workspace::trust::check(dir)?;
                return Ok(dir.to_path_buf());
            }
            _ => cur = dir.parent(),
        }
    }
    Err(Error::failed(format!(
        "no autonomy workspace in {} or any parent folder",
        start.display()
    ))
    .hint("run `autonomy init` at the project root first (or pass -C DIR)"))
}

/// An open workspace: its root on disk and a capability handle to it.
pub struct Workspace {
    pub root: PathBuf,
    pub dir: Dir,
    /// Files hashed, with the stat signature each had (`.autonomy/hashes`), for
    /// [`Workspace::recheck`].
    hashed: Mutex<HashCache>,
}

impl Workspace {
    /// Find the workspace containing `start` (see [`find_root`]) and open it.
    pub fn discover(start: &Path) -> Result<Workspace> {
        Workspace::open(&find_root(start)?)
    }

    pub fn open(root: &Path) -> Result<Workspace> {
        let dir = Dir::open_ambient_dir(root, ambient_authority())
            .map_err(|e| Error::io(format!("opening workspace {}", root.display()), e))?;
        Ok(Workspace {
            root: root.to_path_buf(),
            dir,
            hashed: Mutex::new(HashCache::default()),
        })
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// Open the directory `rel` (or the root for `None`) beneath the root, refusing any
    /// symlink on the way.
    pub fn open_dir(&self, rel: Option<&RelPath>) -> Result<Dir> {
        let mut dir = self
            .dir
            .try_clone()
            .map_err(|e| Error::io("opening the workspace root", e))?;
        if let Some(rel) = rel {
            for part in rel.as_str().split('/') {
                dir = dir.open_dir_nofollow(part).map_err(|e| {
                    if is_symlink_error(&e)
                        || dir.symlink_metadata(part).is_ok_and(|m| m.is_symlink())
                    {
                        symlink_refused(rel)
                    } else {
                        Error::io(format!("opening folder {rel}"), e)
                    }
                })?;
            }
        }
        Ok(dir)
    }

    /// What is at `rel` now, without following symlinks. A symlink anywhere on the way is
    /// an error naming the path.
    pub fn lstat(&self, rel: &RelPath) -> Result<Option<cap_std::fs::Metadata>> {
        let Some(parent) = self.parent_dir(rel)? else {
            return Ok(None);
        };
        match parent.symlink_metadata(rel.file_name()) {
            Ok(m) if m.is_symlink() => Err(symlink_refused(rel)),
            Ok(m) => Ok(Some(m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(20) => Ok(None), // ENOTDIR: a parent is a file
            Err(e) => Err(Error::io(format!("reading {rel}"), e)),
        }
    }

    /// The folder holding `rel`, or `None` when a parent is missing or is a file.
    fn parent_dir(&self, rel: &RelPath) -> Result<Option<Dir>> {
        match rel.parent() {
            None => self.open_dir(None).map(Some),
            Some(p) => match self.open_dir(Some(&p)) {
                Ok(d) => Ok(Some(d)),
                Err(e) if e.kind == Kind::Failed && !self.ancestor_exists(&p)? => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// Whether every ancestor of `p` (and `p`) exists as a real directory; false when one
    /// is missing or is a file. A symlink is an error.
    fn ancestor_exists(&self, p: &RelPath) -> Result<bool> {
        let mut dir = self.open_dir(None)?;
        for part in p.as_str().split('/') {
            match dir.symlink_metadata(part) {
                Ok(m) if m.is_symlink() => return Err(symlink_refused(p)),
                Ok(m) if m.is_dir() => {
                    dir = dir
                        .open_dir_nofollow(part)
                        .map_err(|e| Error::io(format!("opening folder {p}"), e))?;
                }
                Ok(_) => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(Error::io(format!("reading {p}"), e)),
            }
        }
        Ok(true)
    }
}

impl Workspace {
    /// What `rel` holds now, as a plan state (files hashed, symlinks refused).
    ///
    /// A file's hash is remembered with its stat signature when the file provably did not
    /// change since before it was read (see [`Workspace::recheck`]).
    pub fn state(&self, rel: &RelPath) -> Result<crate::model::State> {
        use crate::model::State;
        // Taken before anything is read: a change after this instant gets a ctime >= it.
        let started = coarse_now();
        let Some(parent) = self.parent_dir(rel)? else {
            return Ok(State::Absent);
        };
        let name = rel.file_name();
        let st = match statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(State::Absent),
            Err(e) => return Err(Error::io(format!("reading {rel}"), e.into())),
        };
        match FileType::from_raw_mode(st.st_mode) {
            // A link is an entry of its own: its target is read, never followed.
            FileType::Symlink => return read_link_state(&parent, rel),
            FileType::Directory => {
                return Ok(State::Dir {
                    mode: Some(st.st_mode & 0o7777),
                });
            }
            FileType::RegularFile => {}
            _ => return Err(not_regular(rel)),
        }
        // Non-blocking, so that a FIFO swapped in since the stat is not waited on (the
        // fstat below refuses it); a lease held elsewhere (EWOULDBLOCK) is waited for.
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
        let fd = match openat(&parent, name, flags | OFlags::NONBLOCK, Mode::empty()) {
            Err(Errno::WOULDBLOCK) => openat(&parent, name, flags, Mode::empty()),
            other => other,
        }
        .map_err(|e| match e {
            Errno::LOOP => symlink_refused(rel),
            e => Error::io(format!("reading {rel}"), e.into()),
        })?;
        let file = std::fs::File::from(fd);
        let read = |e: Errno| Error::io(format!("reading {rel}"), e.into());
        let before = fstat(&file).map_err(read)?;
        if FileType::from_raw_mode(before.st_mode) != FileType::RegularFile {
            return Err(not_regular(rel));
        }
        let (hash, _) = crate::util::hash::hash_reader(&file)
            .map_err(|e| Error::io(format!("reading {rel}"), e))?;
        let after = fstat(&file).map_err(read)?;
        let state = State::File {
            sha256: hash,
            mode: before.st_mode & 0o7777,
        };
        let sig = StatSig::of(&before);
        if let Ok(mut cache) = self.hashed.lock() {
            if sig == StatSig::of(&after) && sig.changed_before(started) {
                cache.insert(rel, sig, state.clone());
            } else {
                cache.remove(rel);
            }
        }
        Ok(state)
    }

    /// What `rel` holds now, like [`Workspace::state`], but a file hashed before (by this
    /// process or, through `.autonomy/hashes`, an earlier command) is not read again when
    /// its stat signature (device, inode, type and mode, size, mtime and ctime, to the
    /// nanosecond) is unchanged. That is safe because a hash is only remembered when the
    /// file's ctime was older than the moment hashing began: any later change to the file
    /// sets its ctime to a time at or after that moment, so the signature differs.
    /// `docs/performance.md` lists what a stat check cannot see (the "racy" cases).
    pub fn recheck(&self, rel: &RelPath) -> Result<crate::model::State> {
        let state_dir = self.state_path();
        let cached = self
            .hashed
            .lock()
            .ok()
            .and_then(|mut c| c.get(&state_dir, rel));
        if let Some((sig, state)) = cached
            && let Ok(Some(parent)) = self.parent_dir(rel)
            && let Ok(st) = statat(&parent, rel.file_name(), AtFlags::SYMLINK_NOFOLLOW)
            && StatSig::of(&st) == sig
        {
            return Ok(state);
        }
        self.state(rel)
    }

    /// [`Workspace::recheck`] of many paths, on every core; results in input order.
    pub fn rechecks(&self, rels: &[RelPath]) -> Vec<Result<crate::model::State>> {
        crate::util::par::map(rels, crate::util::par::cpus(), |rel| self.recheck(rel))
    }

    /// Write what was learnt to `.autonomy/hashes` (best effort: it is only a cache).
    pub fn save_hashes(&self) {
        if let Ok(mut cache) = self.hashed.lock() {
            let _ = cache.save(&self.state_path());
        }
    }
}

/// The state of the symlink `rel` in `parent`: its target, verbatim (not UTF-8 or over
/// the bound: refused, naming the path).
fn read_link_state(parent: &Dir, rel: &RelPath) -> Result<crate::model::State> {
    let target = rustix::fs::readlinkat(parent, rel.file_name(), Vec::new())
        .map_err(|e| Error::io(format!("reading the link {rel}"), e.into()))?;
    let target = target.into_string().map_err(|_| {
        Error::failed(format!(
            "the link {rel} has a target that is not UTF-8; autonomy cannot record it"
        ))
    })?;
    if !crate::model::plan::valid_link_target(&target) {
        return Err(Error::failed(format!(
            "the link {rel} has a target autonomy cannot record (empty or over {} bytes)",
            crate::model::plan::MAX_LINK_TARGET
        )));
    }
    Ok(crate::model::State::Symlink { target })
}

fn not_regular(rel: &RelPath) -> Error {
    Error::failed(format!(
        "{rel} is not a regular file or directory (a device, socket or fifo)"
    ))
}

fn is_symlink_error(e: &io::Error) -> bool {
    // ELOOP from O_NOFOLLOW, or cap-std's own refusal to leave the root.
    e.raw_os_error() == Some(40)
        || e.kind() == io::ErrorKind::PermissionDenied && e.to_string().contains("outside")
}

pub fn symlink_refused(rel: &RelPath) -> Error {
    Error::failed(format!(
        "path {rel} goes through a symbolic link; autonomy does not follow or replace symlinks"
    ))
    .hint("change the real path instead, or remove the link")
}
