//! The file-system half of a step: the run's context (backup folder, folder handles, kept
//! old inodes), the primitives a step forward is made of (temp files, keeping the old
//! inode by hard link, fsync; `forward.rs` takes the steps), and putting a path back. Every access goes
//! through cap-std handles opened beneath the workspace root without following symlinks,
//! and only regular files are ever opened (`inode::open_regular`).

use super::failpoint;
use crate::error::{Error, Result};
use crate::model::{Change, State};
use crate::paths::RelPath;
use crate::store::blobs::BlobStore;
use crate::util::inode::{Lease, copy_file_hashing, keep_owner, not_regular_io, open_regular};
use crate::workspace::Workspace;
use cap_std::fs::{Dir, MetadataExt, OpenOptions, OpenOptionsExt, Permissions, PermissionsExt};
use std::collections::HashMap;
use std::io;

/// The prefix of every temp file a run creates in the workspace.
pub const TEMP_PREFIX: &str = ".autonomy-tmp-";

/// Name of the temp file for step `index` of the run whose temp token is `token`. The
/// token is random (unguessable) and journaled with the run's intent before any temp file
/// exists, so recovery removes only files it can prove the run created, never a user's
/// file that merely looks like one.
pub fn temp_name(token: &str, index: usize) -> String {
    format!("{TEMP_PREFIX}{token}-{index}")
}

/// A new random temp token (16 hex digits from the OS random source).
pub fn new_token() -> String {
    let mut buf = [0u8; 8];
    if getrandom::fill(&mut buf).is_err() {
        // Not guessable enough to matter only if the OS random source fails; mix in what
        // differs between runs.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        buf = ((t as u64) ^ (u64::from(std::process::id()) << 32)).to_le_bytes();
    }
    hex::encode(buf)
}

/// An old file kept in the run's backup folder for undo, and as the snapshot when the
/// store does not hold its content yet (`snapshot`). `lease` is held from before the old
/// inode was kept until the path stopped naming it; without an intact lease the backup is
/// replaced by a copy before it becomes a blob ([`StepCtx::settle`]).
pub(super) struct Kept {
    pub lease: Option<Lease>,
    pub snapshot: bool,
}

/// Per-run file-system context: the workspace, the run's backup folder, and a cache of
/// opened parent directories.
pub struct StepCtx<'a> {
    pub ws: &'a Workspace,
    pub blobs: &'a BlobStore,
    pub run: i64,
    /// The run's temp token (see [`temp_name`]); `None` for a run journaled before temp
    /// tokens existed, whose leftovers are then not removed.
    pub token: Option<String>,
    pub backups: Dir,
    pub(super) dirs: HashMap<Option<RelPath>, Dir>,
    pub bytes_written: u64,
    /// Old files kept, by step index.
    pub(super) kept: HashMap<usize, Kept>,
    /// Owner and group of each step's old file (journaled, so rollback can restore them).
    pub owners: HashMap<usize, (u32, u32)>,
    /// Owner and group to give a file a step creates (a rollback re-creating a deleted
    /// file), by path.
    pub owner_hints: HashMap<String, (u32, u32)>,
}

impl<'a> StepCtx<'a> {
    pub fn new(
        ws: &'a Workspace,
        blobs: &'a BlobStore,
        run: i64,
        token: Option<String>,
    ) -> Result<Self> {
        let path = backup_dir_path(ws, run);
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::io(format!("creating {}", rel_state(&path)), e))?;
        let backups = Dir::open_ambient_dir(&path, cap_std::ambient_authority())
            .map_err(|e| Error::io(format!("opening {}", rel_state(&path)), e))?;
        Ok(StepCtx {
            ws,
            blobs,
            run,
            token,
            backups,
            dirs: HashMap::new(),
            bytes_written: 0,
            kept: HashMap::new(),
            owners: HashMap::new(),
            owner_hints: HashMap::new(),
        })
    }

    pub(super) fn parent(&mut self, rel: &RelPath) -> Result<&Dir> {
        let key = rel.parent();
        if !self.dirs.contains_key(&key) {
            let d = self.ws.open_dir(key.as_ref())?;
            self.dirs.insert(key.clone(), d);
        }
        self.dirs
            .get(&key)
            .ok_or_else(|| Error::failed("internal: directory cache"))
    }

    /// The temp name of step `index` (a run always has a token while it runs forward).
    pub(super) fn tmp(&self, index: usize) -> Result<String> {
        self.token
            .as_deref()
            .map(|t| temp_name(t, index))
            .ok_or_else(|| Error::failed("internal: a run without a temp token"))
    }

    /// Forget cached handles (after folders were created or removed).
    pub(super) fn forget(&mut self, rel: &RelPath) {
        self.dirs
            .retain(|k, _| k.as_ref().is_none_or(|k| k != rel && !k.is_within(rel)));
    }

    /// Put `change.path` back to `before`, deciding by what is there now: `after` is undone,
    /// `before` is left alone, anything else is a conflict that stops recovery.
    pub fn backward(&mut self, index: usize, change: &Change) -> Result<bool> {
        self.backward_inner(index, change, false)
    }

    /// [`StepCtx::backward`], but content that is neither `before` nor `after` is
    /// overwritten too (`recover --overwrite`; the caller kept it first).
    pub fn backward_forced(&mut self, index: usize, change: &Change) -> Result<bool> {
        self.backward_inner(index, change, true)
    }

    fn backward_inner(&mut self, index: usize, change: &Change, force: bool) -> Result<bool> {
        // Undo reads the kept old files: no lease of ours may stand in the way (an open
        // breaks a lease, and a non-blocking open of a leased file fails).
        self.kept.clear();
        let rel = change.rel()?;
        // A temp file named with this run's token is provably this run's: remove it. A run
        // journaled without a token leaves its temp files alone (they may be a user's).
        if let Some(tmp) = self.token.as_deref().map(|t| temp_name(t, index))
            && let Ok(dir) = self.parent(&rel)
        {
            let _ = dir.remove_file(&tmp);
        }
        let now = self.ws.state(&rel)?;
        if now == change.before {
            let _ = self.backups.remove_file(index.to_string());
            return Ok(false);
        }
        if now != change.after {
            if !force {
                return Err(Error::stale(format!(
                    "{rel} is neither as before the run nor as after it (found {}); autonomy will not overwrite it",
                    now.describe()
                ))
                .hint("put the file back to either version by hand (see `autonomy preview`), then run `autonomy recover` again"));
            }
            self.overwrite_back(index, &rel, change, &now)?;
        } else {
            self.undo_step(index, &rel, change)?;
        }
        failpoint("undo.after_step");
        Ok(true)
    }

    /// Put `before` back over content that is neither `before` nor `after` (`recover
    /// --overwrite`; the caller kept it).
    fn overwrite_back(
        &mut self,
        index: usize,
        rel: &RelPath,
        change: &Change,
        now: &State,
    ) -> Result<()> {
        let name = rel.file_name();
        match (&change.before, now) {
            (State::File { sha256, mode }, _) => {
                if now.is_dir() {
                    self.forget(rel);
                    let dir = self.parent(rel)?;
                    dir.remove_dir(name).map_err(|e| {
                        Error::io(format!("removing folder {rel} (it must be empty)"), e)
                    })?;
                }
                self.restore_file(index, rel, change, sha256, *mode)?;
            }
            (State::Symlink { target }, _) => {
                if now.is_dir() {
                    self.forget(rel);
                    let dir = self.parent(rel)?;
                    dir.remove_dir(name).map_err(|e| {
                        Error::io(format!("removing folder {rel} (it must be empty)"), e)
                    })?;
                }
                self.restore_link(index, rel, target)?;
            }
            (State::Absent, State::Dir { .. })
            | (State::Dir { .. }, State::File { .. } | State::Symlink { .. })
            | (State::Absent, State::File { .. } | State::Symlink { .. }) => {
                self.forget(rel);
                let dir = self.parent(rel)?;
                if now.is_dir() {
                    dir.remove_dir(name).map_err(|e| {
                        Error::io(format!("removing folder {rel} (it must be empty)"), e)
                    })?;
                } else {
                    dir.remove_file(name)
                        .map_err(|e| Error::io(format!("removing {rel}"), e))?;
                }
                if change.before.is_dir() {
                    dir.create_dir(name)
                        .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
                    dir.set_permissions(name, Permissions::from_mode(change.before.dir_mode()))
                        .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
                }
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            // A folder of yet another mode: its recorded mode back.
            (State::Dir { mode: Some(m) }, State::Dir { .. }) => self.chmod_dir(rel, *m)?,
            _ => {}
        }
        Ok(())
    }

    /// Undo one step whose path holds its `after`.
    fn undo_step(&mut self, index: usize, rel: &RelPath, change: &Change) -> Result<()> {
        let name = rel.file_name();
        match (&change.before, &change.after) {
            (State::File { sha256: a, mode }, State::File { sha256: b, .. }) if a == b => {
                let dir = self.parent(rel)?;
                let f =
                    open_regular(dir, name).map_err(|e| Error::io(format!("opening {rel}"), e))?;
                f.set_permissions(std_mode(*mode))
                    .map_err(|e| Error::io(format!("restoring the mode of {rel}"), e))?;
                f.sync_all()
                    .map_err(|e| Error::io(format!("syncing {rel}"), e))?;
            }
            (State::File { sha256, mode }, _) => {
                self.restore_file(index, rel, change, sha256, *mode)?;
            }
            (State::Symlink { target }, _) => self.restore_link(index, rel, target)?,
            (State::Absent, State::File { .. } | State::Symlink { .. }) => {
                let dir = self.parent(rel)?;
                dir.remove_file(name)
                    .map_err(|e| Error::io(format!("removing {rel}"), e))?;
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            (State::Absent, State::Dir { .. }) => {
                self.forget(rel);
                let dir = self.parent(rel)?;
                dir.remove_dir(name).map_err(|e| {
                    Error::io(format!("removing folder {rel} (it must be empty)"), e)
                })?;
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            (State::Dir { .. }, State::Absent) => {
                let dir = self.parent(rel)?;
                dir.create_dir(name)
                    .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
                dir.set_permissions(name, Permissions::from_mode(change.before.dir_mode()))
                    .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            (State::Dir { mode: Some(m) }, State::Dir { .. }) => self.chmod_dir(rel, *m)?,
            _ => {
                return Err(Error::failed(format!(
                    "{rel}: cannot undo {} -> {}",
                    change.before.describe(),
                    change.after.describe()
                )));
            }
        }
        Ok(())
    }

    /// Put the old content of step `index` back at `rel`: the kept old inode by rename when
    /// there is one (no space needed; owner and everything else come back with it), else a
    /// copy from the store.
    fn restore_file(
        &mut self,
        index: usize,
        rel: &RelPath,
        change: &Change,
        sha256: &str,
        mode: u32,
    ) -> Result<()> {
        let name = rel.file_name().to_string();
        let key = index.to_string();
        let backup_ok = open_regular(&self.backups, &key)
            .ok()
            .and_then(|f| crate::util::hash::hash_reader(f).ok())
            .is_some_and(|(h, _)| h == sha256);
        if backup_ok {
            // The old inode (or its copy) goes back by rename: no space needed, and
            // owner, group and every other attribute come back with it. A store
            // name this run's snapshot gave it is taken back first, so that the
            // workspace never shares an inode with a blob.
            self.unshare_from_store(&key, sha256)?;
            let backups = self
                .backups
                .try_clone()
                .map_err(|e| Error::io("opening the backup folder", e))?;
            let dir = self.parent(rel)?;
            backups
                .rename(&key, dir, &name)
                .map_err(|e| Error::io(format!("restoring {rel}"), e))?;
            dir.set_permissions(&name, Permissions::from_mode(mode))
                .map_err(|e| Error::io(format!("restoring {rel}"), e))?;
        } else {
            let tmp = match &self.token {
                Some(t) => temp_name(t, index),
                None => format!("{TEMP_PREFIX}{}-{index}", new_token()),
            };
            let blobs = self.blobs;
            let hint = self.owner_hints.get(change.path.as_str()).copied();
            let dir = self.parent(rel)?;
            // The path holds `after` now, whose owner is the old file's (kept on
            // replace); keep it.
            let owner = dir
                .symlink_metadata(&name)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| (m.uid(), m.gid()))
                .or(hint);
            write_temp(dir, &tmp, blobs, sha256, mode, owner).map_err(|e| with_path(e, rel))?;
            dir.rename(&tmp, dir, &name).map_err(|e| {
                let _ = dir.remove_file(&tmp);
                Error::io(format!("restoring {rel}"), e)
            })?;
        }
        let dir = self.parent(rel)?;
        sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
        Ok(())
    }

    /// Put the link `-> target` back at `rel` (over what is there, never a folder), by a
    /// new link renamed over the path; a link this run moved out to its backup folder is
    /// dropped.
    fn restore_link(&mut self, index: usize, rel: &RelPath, target: &str) -> Result<()> {
        let tmp = match &self.token {
            Some(t) => temp_name(t, index),
            None => format!("{TEMP_PREFIX}{}-{index}", new_token()),
        };
        let dir = self.parent(rel)?;
        let _ = dir.remove_file(&tmp);
        put_link(dir, &tmp, rel.file_name(), target, rel)?;
        sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
        if self
            .backups
            .symlink_metadata(index.to_string())
            .is_ok_and(|m| m.is_symlink())
        {
            let _ = self.backups.remove_file(index.to_string());
        }
        Ok(())
    }

    /// If this run's snapshot linked backup `key` into the store as blob `hash` (same
    /// inode), remove that store name again (durably).
    fn unshare_from_store(&self, key: &str, hash: &str) -> Result<()> {
        use std::os::unix::fs::MetadataExt as _;
        let Ok(meta) = self.backups.symlink_metadata(key) else {
            return Ok(());
        };
        if meta.nlink() < 2 {
            return Ok(());
        }
        let Ok(blob) = self.blobs.path(hash) else {
            return Ok(());
        };
        match std::fs::symlink_metadata(&blob) {
            Ok(b) if b.ino() == meta.ino() && b.dev() == meta.dev() => {
                std::fs::remove_file(&blob)
                    .map_err(|e| Error::io(format!("removing {}", blob.display()), e))?;
                if let Some(parent) = blob.parent() {
                    crate::store::sync_dir(parent)
                        .map_err(|e| Error::io("syncing .autonomy/objects", e))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Once every path was renamed: each kept old file that is to become a snapshot must
    /// be an inode nobody else can write. An intact write lease proves it (nobody opened
    /// the file between the lease and the moment the path stopped naming it); otherwise
    /// the backup is replaced by a copy, taken while the lease (if any) still makes an
    /// opener wait, and checked against `before`. Every lease is released here.
    pub(super) fn settle(&mut self, before_of: &dyn Fn(usize) -> Option<String>) -> Result<()> {
        let mut kept: Vec<(usize, Kept)> = self.kept.drain().collect();
        kept.sort_by_key(|(i, _)| *i);
        let mut copied = false;
        for (i, k) in &kept {
            if !k.snapshot || k.lease.as_ref().is_some_and(Lease::intact) {
                continue;
            }
            let Some(want) = before_of(*i) else { continue };
            let key = i.to_string();
            let src = match &k.lease {
                Some(l) => l
                    .file()
                    .try_clone()
                    .map_err(|e| Error::io("reading a kept old file", e))?,
                None => open_regular(&self.backups, &key)
                    .map_err(|e| Error::io("reading a kept old file", e))?,
            };
            let got = copy_over(&src, &self.backups, &key)
                .map_err(|e| Error::io("copying a kept old file in .autonomy/runs", e))?;
            if got != want {
                return Err(Error::stale(format!(
                    "another process wrote to an old file while the run replaced it (expected {}, found {})",
                    &want[..12.min(want.len())],
                    &got[..12.min(got.len())]
                ))
                .hint("find what writes to the workspace, stop it, and apply again"));
            }
            copied = true;
        }
        if copied {
            sync(&self.backups).map_err(|e| Error::io("syncing the backup folder", e))?;
        }
        drop(kept);
        Ok(())
    }
}

/// What was being written when `e` happened: the path, as context (`caused by:` keeps
/// the cause).
pub(super) fn with_path(e: Error, rel: &RelPath) -> Error {
    e.context(format!("writing {rel}"))
}

/// Write blob `hash` into a new temp file with its final owner and mode, and fsync it.
fn write_temp(
    dir: &Dir,
    tmp: &str,
    blobs: &BlobStore,
    hash: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<u64> {
    let (n, file) = write_temp_unsynced(dir, tmp, blobs, hash, mode, owner)?;
    if let Err(e) = file.sync_all() {
        let _ = dir.remove_file(tmp);
        return Err(Error::io(format!("writing temp file {tmp}"), e));
    }
    Ok(n)
}

/// Create temp file `tmp` in `dir` (0600, never an existing file: nothing is removed
/// first, so a file of the user's with that name is never touched).
fn create_temp(dir: &Dir, tmp: &str) -> Result<cap_std::fs::File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true).mode(0o600);
    dir.open_with(tmp, &opts)
        .map_err(|e| Error::io(format!("creating temp file {tmp}"), e))
}

/// [`write_temp`] without the fsync, which the caller owes before the rename.
pub(super) fn write_temp_unsynced(
    dir: &Dir,
    tmp: &str,
    blobs: &BlobStore,
    hash: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(u64, cap_std::fs::File)> {
    let file = create_temp(dir, tmp)?;
    let res = blobs
        .copy_into(hash, &file, &format!("writing temp file {tmp}"))
        .and_then(|n| {
            // Owner first (fchown clears set-id bits), then the final mode, before the
            // rename, so that neither a 0600 temp mode nor the creator's ids ever leak.
            keep_owner(&file, owner)
                .and_then(|_| file.set_permissions(Permissions::from_mode(mode)))
                .map_err(|e| Error::io(format!("setting owner and mode of temp file {tmp}"), e))
                .map(|_| n)
        });
    match res {
        Ok(n) => Ok((n, file)),
        Err(e) => {
            drop(file);
            let _ = dir.remove_file(tmp);
            Err(e)
        }
    }
}

/// A temp file holding a copy of `name` (checked to hash to `want`), with `owner` and
/// `mode`, fsynced.
pub(super) fn copy_to_temp(
    dir: &Dir,
    name: &str,
    tmp: &str,
    want: &str,
    mode: u32,
    owner: (u32, u32),
) -> Result<()> {
    let src = open_regular(dir, name).map_err(|e| Error::io("reading the file", e))?;
    let file = create_temp(dir, tmp)?;
    let mut std_file = file.into_std();
    let res = (|| {
        let (got, _) = copy_file_hashing(&src, &mut std_file)
            .map_err(|e| Error::io(format!("writing temp file {tmp}"), e))?;
        if got != want {
            return Err(Error::stale(format!(
                "the file changed during the run (expected {}, found {})",
                &want[..12.min(want.len())],
                &got[..12.min(got.len())]
            )));
        }
        keep_owner(&std_file, Some(owner))
            .and_then(|_| std_file.set_permissions(std_mode(mode)))
            .and_then(|_| std_file.sync_all())
            .map_err(|e| Error::io(format!("writing temp file {tmp}"), e))
    })();
    if res.is_err() {
        let _ = dir.remove_file(tmp);
    }
    res
}

/// Keep the old file under the backup folder: a hard link to the same inode when it has
/// no other links and lives on the same file system, a copy otherwise. With `lease`, a
/// write lease is taken before the link (see [`Kept`]); the lease is `None` when the
/// kernel refused it (another process has the file open). The caller owes an fsync of the
/// backup folder before the rename that replaces the path.
pub(super) fn keep_old_unsynced(
    dir: &Dir,
    name: &str,
    backups: &Dir,
    key: &str,
    lease: bool,
) -> io::Result<Option<Lease>> {
    let meta = dir.symlink_metadata(name)?;
    if !meta.is_file() {
        return Err(not_regular_io(meta.mode()));
    }
    if meta.nlink() == 1 {
        let held = if lease { Lease::take(dir, name)? } else { None };
        let mut linked = dir.hard_link(name, backups, key);
        if linked
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::AlreadyExists)
        {
            // A leftover in the run's own backup folder (never a user's file).
            let _ = backups.remove_file(key);
            linked = dir.hard_link(name, backups, key);
        }
        match linked {
            Ok(()) => return Ok(held),
            Err(e) if matches!(e.raw_os_error(), Some(18) | Some(1) | Some(95)) => {} // EXDEV, EPERM, EOPNOTSUPP
            Err(e) => return Err(e),
        }
    }
    copy_between(dir, name, backups, key)?;
    Ok(None)
}

/// Move a file out to the backup folder (a delete that can be undone), under a write
/// lease when `lease` (see [`keep_old_unsynced`]).
pub(super) fn move_out(
    dir: &Dir,
    name: &str,
    backups: &Dir,
    key: &str,
    lease: bool,
) -> io::Result<Option<Lease>> {
    let meta = dir.symlink_metadata(name)?;
    if !meta.is_file() && !meta.is_symlink() {
        return Err(not_regular_io(meta.mode()));
    }
    let held = if lease && meta.is_file() && meta.nlink() == 1 {
        Lease::take(dir, name)?
    } else {
        None
    };
    match dir.rename(name, backups, key) {
        Ok(()) => Ok(held),
        Err(e) if e.raw_os_error() == Some(18) => {
            drop(held);
            copy_between(dir, name, backups, key)?;
            sync(backups)?;
            dir.remove_file(name)?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Copy regular file `name` from `from` to `key` in `to` with its owner and mode, fsynced;
/// returns the sha256 of what was copied.
fn copy_between(from: &Dir, name: &str, to: &Dir, key: &str) -> io::Result<String> {
    let src = open_regular(from, name)?;
    let _ = to.remove_file(key);
    copy_new(&src, to, key)
}

/// Copy `src` (from its start) into a new file `key` in `to`, keeping its owner and mode.
fn copy_new(src: &std::fs::File, to: &Dir, key: &str) -> io::Result<String> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = src.metadata()?;
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true).mode(0o600);
    let mut dst = to.open_with(key, &opts)?.into_std();
    let (hash, _) = copy_file_hashing(src, &mut dst)?;
    keep_owner(&dst, Some((meta.uid(), meta.gid())))?;
    dst.set_permissions(std_mode(meta.mode() & 0o7777))?;
    dst.sync_all()?;
    Ok(hash)
}

/// Replace backup `key` by a copy of `src` (written beside it, then renamed over it).
fn copy_over(src: &std::fs::File, backups: &Dir, key: &str) -> io::Result<String> {
    let tmp = format!("{key}.copy");
    let _ = backups.remove_file(&tmp);
    let hash = copy_new(src, backups, &tmp)?;
    backups.rename(&tmp, backups, key)?;
    Ok(hash)
}

/// Permission bits for a `std` file.
pub(super) fn std_mode(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::Permissions::from_mode(mode)
}

pub(super) fn sync(dir: &Dir) -> io::Result<()> {
    // A directory handle opened read-only can be fsynced on Linux.
    let f = dir.open(".")?;
    f.sync_all()
}

pub fn backup_dir_path(ws: &Workspace, run: i64) -> std::path::PathBuf {
    ws.state_path().join("runs").join(run.to_string())
}

fn rel_state(p: &std::path::Path) -> String {
    p.to_string_lossy()
        .rsplit_once(".autonomy")
        .map(|(_, r)| format!(".autonomy{r}"))
        .unwrap_or_default()
}

/// Make `rel` hold `state` (a file from the blob store, or nothing), atomically: used to
/// restore what an exec step touched. A file keeps the owner and group of the file it
/// replaces (or `owner` when there is none). Folders are not handled here. The temp file
/// is named with the run's token and `slot` (unique per restore within the run).
pub fn put_state(
    ws: &Workspace,
    blobs: &BlobStore,
    rel: &RelPath,
    state: &State,
    tmp: &str,
    owner: Option<(u32, u32)>,
) -> Result<()> {
    let dir = ws.open_dir(rel.parent().as_ref())?;
    let name = rel.file_name();
    match state {
        State::File { sha256, mode } => {
            let owner = dir
                .symlink_metadata(name)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| (m.uid(), m.gid()))
                .or(owner);
            write_temp(&dir, tmp, blobs, sha256, *mode, owner).map_err(|e| with_path(e, rel))?;
            dir.rename(tmp, &dir, name).map_err(|e| {
                let _ = dir.remove_file(tmp);
                Error::io(format!("restoring {rel}"), e)
            })?;
        }
        State::Absent => match dir.remove_file(name) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("removing {rel}"), e)),
        },
        State::Symlink { target } => put_link(&dir, tmp, name, target, rel)?,
        State::Dir { .. } => {
            return Err(Error::failed(format!(
                "internal: cannot restore folder {rel} here"
            )));
        }
    }
    sync(&dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))
}

/// Give the entry `name` in `dir` (a folder or a link, never followed) the owner and group
/// `owner`, as [`crate::util::inode::keep_owner`] does for files: root always; anyone
/// else keeps at least the group where they may, and cannot give an entry away.
pub(super) fn keep_owner_at(dir: &Dir, name: &str, owner: Option<(u32, u32)>) -> io::Result<()> {
    use rustix::fs::{AtFlags, Gid, Uid};
    let Some((uid, gid)) = owner else {
        return Ok(());
    };
    let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io::Error::from)?;
    if (st.st_uid, st.st_gid) == (uid, gid) {
        return Ok(());
    }
    let (u, g) = (Uid::from_raw(uid), Gid::from_raw(gid));
    match rustix::fs::chownat(dir, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::PERM) => {
            if st.st_gid != gid {
                let _ = rustix::fs::chownat(dir, name, None, Some(g), AtFlags::SYMLINK_NOFOLLOW);
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Give the folder `name` in `dir` the permission bits `mode`: on the folder itself,
/// opened without following a link (a link put there meanwhile fails the open).
pub(super) fn set_dir_mode(dir: &Dir, name: &str, mode: u32) -> io::Result<()> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let sub = match rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(io::Error::from) {
        Ok(sub) => sub,
        // Not root, and the folder is closed to its owner: by name, below the root (the
        // caller just checked that it is a folder, not a link).
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            if !dir.symlink_metadata(name)?.is_dir() {
                return Err(e);
            }
            return dir.set_permissions(name, Permissions::from_mode(mode & 0o7777));
        }
        Err(e) => return Err(e),
    };
    rustix::fs::fchmod(&sub, Mode::from_raw_mode(mode & 0o7777)).map_err(io::Error::from)?;
    std::fs::File::from(sub).sync_all()
}

/// Create the symlink `tmp -> target` in `dir` (never an existing name: nothing is
/// removed first). The link is made relative to `dir`'s descriptor only; its target is
/// text and is never resolved.
pub(super) fn make_link(dir: &Dir, tmp: &str, target: &str) -> io::Result<()> {
    rustix::fs::symlinkat(target, dir, tmp).map_err(io::Error::from)
}

/// Make `name` in `dir` the symlink `-> target`, atomically: a link under the temp name
/// `tmp`, renamed over `name` (which may hold a file or another link; never a folder).
/// The caller fsyncs `dir`.
pub(super) fn put_link(
    dir: &Dir,
    tmp: &str,
    name: &str,
    target: &str,
    rel: &RelPath,
) -> Result<()> {
    make_link(dir, tmp, target).map_err(|e| Error::io(format!("creating the link {rel}"), e))?;
    dir.rename(tmp, dir, name).map_err(|e| {
        let _ = dir.remove_file(tmp);
        Error::io(format!("creating the link {rel}"), e)
    })
}
