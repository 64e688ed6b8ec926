//! Every step of a run forward: one implementation for apply and rollback. File
//! contents and deletes are taken in three batches, so that a run waits for the disk a few
//! times instead of several times per file, with the same guarantees as one step at a
//! time:
//!
//! 1. every new content to its temp file (final mode set), then all of them fsynced at
//!    once;
//! 2. for each replaced file, its `before` re-checked and its old inode kept by a hard
//!    link in the run's backup folder (under a write lease when it is to become the
//!    snapshot), then that folder fsynced once;
//! 3. in plan order, each path replaced by a rename (a deleted file is moved out to the
//!    backup folder, also under a lease), then every folder touched fsynced once, all at
//!    once; then every kept inode whose lease did not stay intact is replaced by a copy
//!    ([`StepCtx::settle`]).
//!
//! So a rename never becomes durable before the content it exposes or the old content it
//! hides, and a crash anywhere leaves each path wholly before or after. Folders to create
//! come before the files and folders to remove after them, and a mode change is taken in
//! place, each one step at a time ([`StepCtx::step_one`]). Undo and recovery
//! ([`StepCtx::backward`], `fsops.rs`) decide path by path by looking at it and put old
//! files back by rename (every replaced file has its backup, so that needs no free space).
//! Temp files carry the run's random token; a replaced file's owner and group are given to
//! its new inode.

use super::fsops::{
    Kept, StepCtx, copy_to_temp, keep_old_unsynced, make_link, move_out, std_mode, sync, with_path,
    write_temp_unsynced,
};
use super::{Reporter, failpoint};
use crate::error::{Error, Result};
use crate::model::{Change, State};
use crate::paths::RelPath;
use crate::util::inode::open_regular;
use crate::util::par::{IO_THREADS, try_each};
use cap_std::fs::{Dir, MetadataExt, Permissions, PermissionsExt};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

/// How a step is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum How {
    /// A new folder: one step, outermost first.
    MakeDir,
    /// A folder removed (it must be empty by then): one step, innermost first.
    RemoveDir,
    /// New content: temp file, then rename over the path (batched).
    Replace,
    /// Moved out to the backup folder (batched).
    Delete,
    /// Only the mode changes: one step, in place (or a new inode when shared).
    Chmod,
    /// Only a folder's mode changes: one step, in place.
    ChmodDir,
}

/// How `c` is taken; `None` for a change no step implements (a file becoming a folder).
fn how(c: &Change) -> Option<How> {
    match (&c.before, &c.after) {
        (State::File { sha256: a, .. }, State::File { sha256: b, .. }) if a == b => {
            Some(How::Chmod)
        }
        // A link is made under the temp name and renamed over the path like a file.
        (
            State::Absent | State::File { .. } | State::Symlink { .. },
            State::File { .. } | State::Symlink { .. },
        ) => Some(How::Replace),
        (State::File { .. } | State::Symlink { .. }, State::Absent) => Some(How::Delete),
        (State::Absent, State::Dir { .. }) => Some(How::MakeDir),
        (State::Dir { .. }, State::Absent) => Some(How::RemoveDir),
        (State::Dir { mode: Some(a) }, State::Dir { mode: Some(b) }) if a != b => {
            Some(How::ChmodDir)
        }
        _ => None,
    }
}

fn interrupted() -> Error {
    Error::failed("the run was interrupted by a signal")
}

impl StepCtx<'_> {
    /// Take every step of `order` (an execution order of `changes`), printing each as its
    /// path changes. `done` receives the steps that may have touched the workspace (for
    /// undo, in order), also when a step fails.
    pub fn forward_all(
        &mut self,
        order: &[usize],
        changes: &[Change],
        reporter: &mut dyn Reporter,
        stop: &AtomicBool,
        done: &mut Vec<usize>,
    ) -> Result<()> {
        let total = order.len();
        // Folder steps (`execution_order`): made or opened up first, removed or closed last.
        let mkdir = |i: &usize| changes[*i].after.is_dir();
        let rmdir = |i: &usize| changes[*i].before.is_dir();
        let pre = order.iter().take_while(|i| mkdir(i)).count();
        let post = order[pre..].iter().rev().take_while(|i| rmdir(i)).count();
        let files = &order[pre..total - post];
        for (n, &i) in order[..pre].iter().enumerate() {
            self.single(n, total, i, &changes[i], reporter, stop, done)?;
        }
        self.files(pre, total, files, changes, reporter, stop, done)?;
        for (n, &i) in order[total - post..].iter().enumerate() {
            self.single(
                total - post + n,
                total,
                i,
                &changes[i],
                reporter,
                stop,
                done,
            )?;
        }
        Ok(())
    }

    /// One step on its own (a folder), printed first.
    #[allow(clippy::too_many_arguments)]
    fn single(
        &mut self,
        n: usize,
        total: usize,
        i: usize,
        change: &Change,
        reporter: &mut dyn Reporter,
        stop: &AtomicBool,
        done: &mut Vec<usize>,
    ) -> Result<()> {
        if stop.load(Ordering::Relaxed) {
            return Err(interrupted());
        }
        reporter.step(n, total, change);
        // The failing step may have half-happened; undo looks at it too.
        done.push(i);
        self.step_one(i, change)
    }

    /// Take a folder or mode step: `before` re-checked just before changing anything.
    fn step_one(&mut self, i: usize, change: &Change) -> Result<()> {
        let rel = change.rel()?;
        // Not read again when the drift check just hashed it and it provably did not change.
        self.check_before(&rel, change)?;
        match how(change) {
            Some(How::MakeDir) => {
                let hint = self.owner_hints.get(change.path.as_str()).copied();
                self.make_dir(&rel, change.after.dir_mode(), hint)
            }
            Some(How::RemoveDir) => {
                // Its owner and group, so that a rollback re-creating it restores them.
                if let Ok(m) = self.parent(&rel)?.symlink_metadata(rel.file_name()) {
                    self.owners.insert(i, (m.uid(), m.gid()));
                }
                self.remove_dir(&rel)
            }
            Some(How::Chmod) => self.chmod(i, &rel, change),
            Some(How::ChmodDir) => self.chmod_dir(&rel, change.after.dir_mode()),
            _ => Err(Error::failed(format!(
                "{rel}: unsupported change {} -> {}",
                change.before.describe(),
                change.after.describe()
            ))),
        }
    }

    /// Create folder `rel` with `mode` (0755 unless recorded) and make it durable.
    fn make_dir(&mut self, rel: &RelPath, mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
        let name = rel.file_name();
        let dir = self.parent(rel)?;
        dir.create_dir(name)
            .map_err(|e| Error::io(format!("creating folder {rel}"), e))?;
        // A folder a rollback re-creates gets its recorded owner and group (before the
        // mode: a chown clears set-id bits).
        super::fsops::keep_owner_at(dir, name, owner)
            .map_err(|e| Error::io(format!("creating folder {rel}"), e))?;
        dir.set_permissions(name, Permissions::from_mode(mode))
            .map_err(|e| Error::io(format!("creating folder {rel}"), e))?;
        sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))
    }

    /// Give folder `rel` its new mode, on the folder itself (opened without following a
    /// link), and make it durable.
    pub(super) fn chmod_dir(&mut self, rel: &RelPath, mode: u32) -> Result<()> {
        let dir = self.parent(rel)?;
        super::fsops::set_dir_mode(dir, rel.file_name(), mode)
            .map_err(|e| Error::io(format!("changing the mode of folder {rel}"), e))?;
        sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))
    }

    /// Remove folder `rel`, which must be empty (a file the plan does not know stops it).
    fn remove_dir(&mut self, rel: &RelPath) -> Result<()> {
        self.forget(rel);
        let dir = self.parent(rel)?;
        dir.remove_dir(rel.file_name()).map_err(|e| {
            if e.raw_os_error() == Some(39) {
                Error::stale(format!(
                    "cannot remove folder {rel}: it holds files the plan does not know about"
                ))
                .hint("move those files away or make a new plan that deletes them")
            } else {
                Error::io(format!("removing folder {rel}"), e)
            }
        })?;
        sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))
    }

    /// Give the file at `rel` its new mode. A file with other hard links (maybe outside
    /// the workspace) gets an inode of its own with the new mode, so that the other
    /// names keep theirs.
    fn chmod(&mut self, i: usize, rel: &RelPath, change: &Change) -> Result<()> {
        let (State::File { sha256, .. }, State::File { mode, .. }) =
            (&change.before, &change.after)
        else {
            return Err(Error::failed(format!(
                "internal: {rel} is not a mode change"
            )));
        };
        let name = rel.file_name();
        let tmp = self.tmp(i)?;
        let dir = self.parent(rel)?;
        let meta = dir
            .symlink_metadata(name)
            .map_err(|e| Error::io(format!("reading {rel}"), e))?;
        let owner = (meta.uid(), meta.gid());
        if meta.nlink() > 1 {
            copy_to_temp(dir, name, &tmp, sha256, *mode, owner).map_err(|e| with_path(e, rel))?;
            dir.rename(&tmp, dir, name).map_err(|e| {
                let _ = dir.remove_file(&tmp);
                Error::io(format!("replacing {rel}"), e)
            })?;
            sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
        } else {
            let f = open_regular(dir, name).map_err(|e| Error::io(format!("opening {rel}"), e))?;
            f.set_permissions(std_mode(*mode))
                .map_err(|e| Error::io(format!("changing the mode of {rel}"), e))?;
            f.sync_all()
                .map_err(|e| Error::io(format!("syncing {rel}"), e))?;
        }
        self.owners.insert(i, owner);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn files(
        &mut self,
        first: usize,
        total: usize,
        files: &[usize],
        changes: &[Change],
        reporter: &mut dyn Reporter,
        stop: &AtomicBool,
        done: &mut Vec<usize>,
    ) -> Result<()> {
        let replace: Vec<usize> = files
            .iter()
            .copied()
            .filter(|&i| how(&changes[i]) == Some(How::Replace))
            .collect();
        let rels: HashMap<usize, RelPath> = files
            .iter()
            .map(|&i| Ok((i, changes[i].rel()?)))
            .collect::<Result<_>>()?;
        // Replaced paths whose temp file (and backup link) exist but which were not renamed
        // yet: on failure these are cleaned up here, as their paths were never touched.
        let mut prepared: Vec<usize> = Vec::new();
        let mut written: HashMap<usize, u64> = HashMap::new();
        let res = self.prepare(&replace, changes, &rels, stop, &mut prepared, &mut written);
        if let Err(e) = res {
            self.discard(&prepared, &rels);
            return Err(e);
        }
        // 3. The replacements, in plan order.
        let mut dirty: BTreeSet<Option<RelPath>> = BTreeSet::new();
        let mut backups_dirty = false;
        for (k, &i) in files.iter().enumerate() {
            let c = &changes[i];
            let rel = &rels[&i];
            if stop.load(Ordering::Relaxed) {
                self.discard(&prepared, &rels);
                return Err(interrupted());
            }
            reporter.step(first + k, total, c);
            let h = how(c);
            if h == Some(How::Delete)
                && let Err(e) = self.check_before(rel, c)
            {
                self.discard(&prepared, &rels);
                return Err(e);
            }
            // The failing step may have half-happened; undo looks at it too.
            done.push(i);
            prepared.retain(|&p| p != i);
            let res = match h {
                Some(How::Replace) => self.swap_in(i, rel),
                Some(How::Delete) => {
                    backups_dirty = true;
                    self.move_away(i, rel, c)
                }
                _ => self.step_one(i, c),
            };
            if let Err(e) = res {
                self.discard(&prepared, &rels);
                return Err(e);
            }
            if matches!(h, Some(How::Replace | How::Delete)) {
                dirty.insert(rel.parent());
                self.bytes_written += written.get(&i).copied().unwrap_or(0);
            }
        }
        let mut folders: Vec<&Dir> = dirty.iter().filter_map(|k| self.dirs.get(k)).collect();
        if backups_dirty {
            folders.push(&self.backups);
        }
        try_each(&folders, IO_THREADS, |d| sync(d))
            .map_err(|e| Error::io("syncing the changed folders", e))?;
        // No path names a kept old inode any more: keep it only if nobody else can write it.
        self.settle(&|i| changes[i].before.file_hash().map(str::to_string))
    }

    /// Batches 1 and 2: temp files written and fsynced; `before` re-checked and the old
    /// inodes kept, the backup folder fsynced.
    fn prepare(
        &mut self,
        replace: &[usize],
        changes: &[Change],
        rels: &HashMap<usize, RelPath>,
        stop: &AtomicBool,
        prepared: &mut Vec<usize>,
        written: &mut HashMap<usize, u64>,
    ) -> Result<()> {
        self.write_temps(replace, changes, rels, stop, prepared, written)?;
        self.keep_olds(replace, changes, rels, stop)
    }

    /// Batch 1: every new content to its temp file (owner, group and final mode set),
    /// written on every core, then all fsynced.
    fn write_temps(
        &mut self,
        replace: &[usize],
        changes: &[Change],
        rels: &HashMap<usize, RelPath>,
        stop: &AtomicBool,
        prepared: &mut Vec<usize>,
        written: &mut HashMap<usize, u64>,
    ) -> Result<()> {
        // 1. The parent folders opened, then the temp files written on every core (each
        // blob is read, verified and copied; creating files costs the kernel CPU too).
        for &i in replace {
            self.parent(&rels[&i])?;
        }
        prepared.extend_from_slice(replace);
        let mut jobs = Vec::new();
        for &i in replace {
            let rel = &rels[&i];
            if let State::Symlink { target } = &changes[i].after {
                // A new link: made under its temp name now, renamed over the path in
                // batch 3 (a link has no content to fsync; the folder fsync covers it).
                let tmp = self.tmp(i)?;
                let dir = self
                    .dirs
                    .get(&rel.parent())
                    .ok_or_else(|| Error::failed("internal: directory cache"))?;
                make_link(dir, &tmp, target)
                    .map_err(|e| Error::io(format!("creating the link {rel}"), e))?;
                // The old entry's owner (a link replacing a file or link), or the recorded
                // one of a link a rollback re-creates.
                let owner = match dir.symlink_metadata(rel.file_name()) {
                    Ok(m) => Some((m.uid(), m.gid())),
                    Err(_) => self.owner_hints.get(changes[i].path.as_str()).copied(),
                };
                super::fsops::keep_owner_at(dir, &tmp, owner)
                    .map_err(|e| Error::io(format!("creating the link {rel}"), e))?;
                continue;
            }
            let State::File { sha256, mode } = &changes[i].after else {
                continue;
            };
            let dir = self
                .dirs
                .get(&rel.parent())
                .ok_or_else(|| Error::failed("internal: directory cache"))?;
            let hint = self.owner_hints.get(changes[i].path.as_str()).copied();
            jobs.push((i, rel, dir, sha256.as_str(), *mode, self.tmp(i)?, hint));
        }
        let blobs = self.blobs;
        let results = crate::util::par::map(
            &jobs,
            crate::util::par::cpus(),
            |(i, rel, dir, sha256, mode, tmp, hint)| {
                if stop.load(Ordering::Relaxed) {
                    return Err(interrupted());
                }
                // The new inode gets the old file's owner and group (or, for a file a
                // rollback re-creates, the recorded ones).
                let old = match dir.symlink_metadata(rel.file_name()) {
                    Ok(m) if m.is_file() => Some((m.uid(), m.gid())),
                    _ => None,
                };
                let (n, file) = write_temp_unsynced(dir, tmp, blobs, sha256, *mode, old.or(*hint))
                    .map_err(|e| with_path(e, rel))?;
                crate::store::sync::start_writeback(&file);
                drop(file);
                failpoint("step.after_temp");
                Ok((*i, n, old))
            },
        );
        for res in results {
            let (i, n, old) = res?;
            written.insert(i, n);
            if let Some(owner) = old {
                self.owners.insert(i, owner);
            }
        }
        let temps: Vec<(&Dir, String)> = replace
            .iter()
            .filter(|&&i| changes[i].after.file_hash().is_some())
            .map(|&i| {
                let dir = self
                    .dirs
                    .get(&rels[&i].parent())
                    .ok_or_else(|| Error::failed("internal: directory cache"))?;
                Ok((dir, self.tmp(i)?))
            })
            .collect::<Result<_>>()?;
        try_each(&temps, IO_THREADS, |(dir, tmp)| {
            open_regular(dir, tmp)?.sync_all()
        })
        .map_err(|e| Error::io("writing the new files (temp files)", e))?;
        Ok(())
    }

    /// Batch 2: each replaced file's `before` re-checked and its old inode kept in the
    /// backup folder (under a write lease when it is to become the snapshot), then the
    /// folder fsynced once.
    fn keep_olds(
        &mut self,
        replace: &[usize],
        changes: &[Change],
        rels: &HashMap<usize, RelPath>,
        stop: &AtomicBool,
    ) -> Result<()> {
        let mut kept = false;
        for &i in replace {
            if stop.load(Ordering::Relaxed) {
                return Err(interrupted());
            }
            let (c, rel) = (&changes[i], &rels[&i]);
            self.check_before(rel, c)?;
            let Some(old) = c.before.file_hash() else {
                continue;
            };
            // Every replaced file keeps a backup, so that undo and recovery put it back by
            // rename (no free space needed). Old content the store lacks becomes the
            // snapshot: its inode is kept under a write lease.
            let snapshot = !self.blobs.contains(old);
            let dir = self
                .dirs
                .get(&rel.parent())
                .ok_or_else(|| Error::failed("internal: directory cache"))?;
            let lease = keep_old_unsynced(
                dir,
                rel.file_name(),
                &self.backups,
                &i.to_string(),
                snapshot,
            )
            .map_err(|e| Error::io(format!("keeping the old {rel}"), e))?;
            self.kept.insert(i, Kept { lease, snapshot });
            kept = true;
            failpoint("step.after_backup");
        }
        if kept {
            sync(&self.backups).map_err(|e| Error::io("syncing the backup folder", e))?;
        }
        Ok(())
    }

    /// Rename the prepared temp file of step `i` over its path.
    fn swap_in(&mut self, i: usize, rel: &RelPath) -> Result<()> {
        let tmp = self.tmp(i)?;
        let dir = self.parent(rel)?;
        dir.rename(&tmp, dir, rel.file_name()).map_err(|e| {
            let _ = dir.remove_file(&tmp);
            Error::io(format!("replacing {rel}"), e)
        })?;
        failpoint("step.after_rename");
        Ok(())
    }

    /// Move the file at `rel` out to the backup folder (a delete that can be undone).
    fn move_away(&mut self, i: usize, rel: &RelPath, change: &Change) -> Result<()> {
        self.parent(rel)?;
        let dir = self
            .dirs
            .get(&rel.parent())
            .ok_or_else(|| Error::failed("internal: directory cache"))?;
        if let Ok(m) = dir.symlink_metadata(rel.file_name()) {
            self.owners.insert(i, (m.uid(), m.gid()));
        }
        let snapshot = change
            .before
            .file_hash()
            .is_some_and(|h| !self.blobs.contains(h));
        let lease = move_out(
            dir,
            rel.file_name(),
            &self.backups,
            &i.to_string(),
            snapshot,
        )
        .map_err(|e| Error::io(format!("deleting {rel}"), e))?;
        self.kept.insert(i, Kept { lease, snapshot });
        failpoint("step.after_rename");
        Ok(())
    }

    /// The `before` of a change still holds, or the run stops here.
    fn check_before(&self, rel: &RelPath, change: &Change) -> Result<()> {
        let now = self.ws.recheck(rel)?;
        if now != change.before {
            return Err(Error::stale(format!(
                "{rel} changed during the run (expected {}, found {})",
                change.before.describe(),
                now.describe()
            ))
            .hint("nothing was left half-done; check the file and apply again"));
        }
        Ok(())
    }

    /// Remove the temp files and backup links of steps whose paths were never touched.
    fn discard(&mut self, prepared: &[usize], rels: &HashMap<usize, RelPath>) {
        for &i in prepared {
            if let (Some(dir), Ok(tmp)) = (
                rels.get(&i).and_then(|r| self.dirs.get(&r.parent())),
                self.tmp(i),
            ) {
                let _ = dir.remove_file(tmp);
            }
            self.kept.remove(&i);
            let _ = self.backups.remove_file(i.to_string());
        }
    }
}
