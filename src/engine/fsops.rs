//! The file-system half of a step: replace one path atomically (temp file, fsync, keep the
//! old inode by hard link, rename, fsync the directory), and put it back. Every access goes
//! through cap-std handles opened beneath the workspace root without following symlinks.

use super::failpoint;
use crate::error::{Error, Result};
use crate::plan::{Change, State};
use crate::store::blobs::BlobStore;
use crate::workspace::{RelPath, Workspace};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt, Permissions, PermissionsExt};
use std::collections::HashMap;
use std::io::{self, Write};

/// Name of the temp file for step `index` of run `run`: deterministic, so that recovery
/// finds and removes every one a crash leaves behind.
pub fn temp_name(run: i64, index: usize) -> String {
    format!(".autonomy-tmp-{run}-{index}")
}

/// Per-run file-system context: the workspace, the run's backup folder, and a cache of
/// opened parent directories.
pub struct StepCtx<'a> {
    pub ws: &'a Workspace,
    pub blobs: &'a BlobStore,
    pub run: i64,
    pub backups: Dir,
    dirs: HashMap<Option<RelPath>, Dir>,
    pub bytes_written: u64,
}

impl<'a> StepCtx<'a> {
    pub fn new(ws: &'a Workspace, blobs: &'a BlobStore, run: i64) -> Result<Self> {
        let path = backup_dir_path(ws, run);
        std::fs::create_dir_all(&path)
            .map_err(|e| Error::io(format!("creating {}", rel_state(&path)), e))?;
        let backups = Dir::open_ambient_dir(&path, cap_std::ambient_authority())
            .map_err(|e| Error::io(format!("opening {}", rel_state(&path)), e))?;
        Ok(StepCtx {
            ws,
            blobs,
            run,
            backups,
            dirs: HashMap::new(),
            bytes_written: 0,
        })
    }

    fn parent(&mut self, rel: &RelPath) -> Result<&Dir> {
        let key = rel.parent();
        if !self.dirs.contains_key(&key) {
            let d = self.ws.open_dir(key.as_ref())?;
            self.dirs.insert(key.clone(), d);
        }
        self.dirs
            .get(&key)
            .ok_or_else(|| Error::failed("internal: directory cache"))
    }

    /// Forget cached handles (after folders were created or removed).
    fn forget(&mut self, rel: &RelPath) {
        self.dirs
            .retain(|k, _| k.as_ref().is_none_or(|k| k != rel && !k.is_within(rel)));
    }

    /// Move `change.path` from `before` to `after`. The caller has checked the plan; this
    /// re-checks `before` just before replacing.
    pub fn forward(&mut self, index: usize, change: &Change) -> Result<()> {
        let rel = change.rel()?;
        let now = self.ws.state(&rel)?;
        if now != change.before {
            return Err(Error::stale(format!(
                "{rel} changed during the run (expected {}, found {})",
                change.before.describe(),
                now.describe()
            ))
            .hint("nothing was left half-done; check the file and apply again"));
        }
        let name = rel.file_name().to_string();
        let tmp = temp_name(self.run, index);
        match (&change.before, &change.after) {
            (State::File { sha256: a, .. }, State::File { sha256: b, mode }) if a == b => {
                let dir = self.parent(&rel)?;
                let f = dir
                    .open(&name)
                    .map_err(|e| Error::io(format!("opening {rel}"), e))?;
                f.set_permissions(Permissions::from_mode(*mode))
                    .map_err(|e| Error::io(format!("changing the mode of {rel}"), e))?;
                f.sync_all()
                    .map_err(|e| Error::io(format!("syncing {rel}"), e))?;
            }
            (before, State::File { sha256, mode }) => {
                let blobs = self.blobs;
                let dir = self.parent(&rel)?;
                let written =
                    write_temp(dir, &tmp, blobs, sha256, *mode).map_err(|e| with_path(e, &rel))?;
                failpoint("step.after_temp");
                if before.file_hash().is_some() {
                    let backups = self
                        .backups
                        .try_clone()
                        .map_err(|e| Error::io("opening the backup folder", e))?;
                    let dir = self.parent(&rel)?;
                    keep_old(dir, &name, &backups, &index.to_string()).map_err(|e| {
                        let _ = dir.remove_file(&tmp);
                        Error::io(format!("keeping the old {rel}"), e)
                    })?;
                    failpoint("step.after_backup");
                }
                let dir = self.parent(&rel)?;
                dir.rename(&tmp, dir, &name).map_err(|e| {
                    let _ = dir.remove_file(&tmp);
                    Error::io(format!("replacing {rel}"), e)
                })?;
                failpoint("step.after_rename");
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
                self.bytes_written += written;
            }
            (State::File { .. }, State::Absent) => {
                let backups = self
                    .backups
                    .try_clone()
                    .map_err(|e| Error::io("opening the backup folder", e))?;
                let dir = self.parent(&rel)?;
                move_out(dir, &name, &backups, &index.to_string())
                    .map_err(|e| Error::io(format!("deleting {rel}"), e))?;
                failpoint("step.after_rename");
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
                sync(&backups).map_err(|e| Error::io("syncing the backup folder", e))?;
            }
            (State::Absent, State::Dir) => {
                let dir = self.parent(&rel)?;
                dir.create_dir(&name)
                    .map_err(|e| Error::io(format!("creating folder {rel}"), e))?;
                dir.set_permissions(&name, Permissions::from_mode(0o755))
                    .map_err(|e| Error::io(format!("creating folder {rel}"), e))?;
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            (State::Dir, State::Absent) => {
                self.forget(&rel);
                let dir = self.parent(&rel)?;
                dir.remove_dir(&name).map_err(|e| {
                    if e.raw_os_error() == Some(39) {
                        Error::stale(format!("cannot remove folder {rel}: it holds files the plan does not know about"))
                            .hint("move those files away or make a new plan that deletes them")
                    } else {
                        Error::io(format!("removing folder {rel}"), e)
                    }
                })?;
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            _ => {
                return Err(Error::failed(format!(
                    "{rel}: unsupported change {} -> {}",
                    change.before.describe(),
                    change.after.describe()
                )));
            }
        }
        Ok(())
    }

    /// Put `change.path` back to `before`, deciding by what is there now: `after` is undone,
    /// `before` is left alone, anything else is a conflict that stops recovery.
    pub fn backward(&mut self, index: usize, change: &Change) -> Result<bool> {
        let rel = change.rel()?;
        let name = rel.file_name().to_string();
        let tmp = temp_name(self.run, index);
        // A temp file left by a crash is never the user's; remove it either way.
        if let Ok(dir) = self.parent(&rel) {
            let _ = dir.remove_file(&tmp);
        }
        let now = self.ws.state(&rel)?;
        if now == change.before {
            let _ = self.backups.remove_file(index.to_string());
            return Ok(false);
        }
        if now != change.after {
            return Err(Error::stale(format!(
                "{rel} is neither as before the run nor as after it (found {}); autonomy will not overwrite it",
                now.describe()
            ))
            .hint("put the file back to either version by hand (see `autonomy preview`), then run `autonomy recover` again"));
        }
        match (&change.before, &change.after) {
            (State::File { sha256: a, mode }, State::File { sha256: b, .. }) if a == b => {
                let dir = self.parent(&rel)?;
                dir.set_permissions(&name, Permissions::from_mode(*mode))
                    .map_err(|e| Error::io(format!("restoring the mode of {rel}"), e))?;
                let f = dir
                    .open(&name)
                    .map_err(|e| Error::io(format!("opening {rel}"), e))?;
                f.sync_all()
                    .map_err(|e| Error::io(format!("syncing {rel}"), e))?;
            }
            (State::File { sha256, mode }, _) => {
                let key = index.to_string();
                let backup_ok = self
                    .backups
                    .open(&key)
                    .ok()
                    .and_then(|f| crate::hash::hash_reader(f).ok())
                    .is_some_and(|(h, _)| &h == sha256);
                let backups = self
                    .backups
                    .try_clone()
                    .map_err(|e| Error::io("opening the backup folder", e))?;
                let blobs = self.blobs;
                let dir = self.parent(&rel)?;
                if backup_ok {
                    backups
                        .rename(&key, dir, &name)
                        .map_err(|e| Error::io(format!("restoring {rel}"), e))?;
                    dir.set_permissions(&name, Permissions::from_mode(*mode))
                        .map_err(|e| Error::io(format!("restoring {rel}"), e))?;
                } else {
                    write_temp(dir, &tmp, blobs, sha256, *mode).map_err(|e| with_path(e, &rel))?;
                    dir.rename(&tmp, dir, &name)
                        .map_err(|e| Error::io(format!("restoring {rel}"), e))?;
                }
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            (State::Absent, State::File { .. }) => {
                let dir = self.parent(&rel)?;
                dir.remove_file(&name)
                    .map_err(|e| Error::io(format!("removing {rel}"), e))?;
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            (State::Absent, State::Dir) => {
                self.forget(&rel);
                let dir = self.parent(&rel)?;
                dir.remove_dir(&name).map_err(|e| {
                    Error::io(format!("removing folder {rel} (it must be empty)"), e)
                })?;
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            (State::Dir, State::Absent) => {
                let dir = self.parent(&rel)?;
                dir.create_dir(&name)
                    .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
                dir.set_permissions(&name, Permissions::from_mode(0o755))
                    .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
                sync(dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            }
            _ => {
                return Err(Error::failed(format!(
                    "{rel}: cannot undo {} -> {}",
                    change.before.describe(),
                    change.after.describe()
                )));
            }
        }
        failpoint("undo.after_step");
        Ok(true)
    }
}

fn with_path(mut e: Error, rel: &RelPath) -> Error {
    if !e.message.contains(rel.as_str()) {
        e.message = format!("writing {rel}: {}", e.message);
    }
    e
}

/// Write blob `hash` into a new temp file with its final mode, and fsync it.
fn write_temp(dir: &Dir, tmp: &str, blobs: &BlobStore, hash: &str, mode: u32) -> Result<u64> {
    let _ = dir.remove_file(tmp);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true).mode(0o600);
    let file = dir
        .open_with(tmp, &opts)
        .map_err(|e| Error::io("creating a temp file", e))?;
    let mut w = io::BufWriter::with_capacity(256 * 1024, file);
    let res = blobs.copy_to(hash, &mut w).and_then(|n| {
        w.flush().map_err(|e| Error::io("writing", e))?;
        Ok(n)
    });
    let file = match w.into_inner() {
        Ok(f) => f,
        Err(e) => {
            let _ = dir.remove_file(tmp);
            return Err(Error::io("writing", e.into_error()));
        }
    };
    let n = match res {
        Ok(n) => n,
        Err(e) => {
            drop(file);
            let _ = dir.remove_file(tmp);
            return Err(e);
        }
    };
    // The temp file is 0600; set the final mode before the rename so it never leaks.
    let done = file
        .set_permissions(Permissions::from_mode(mode))
        .and_then(|_| file.sync_all());
    if let Err(e) = done {
        let _ = dir.remove_file(tmp);
        return Err(Error::io("writing", e));
    }
    Ok(n)
}

/// Keep the old file under the backup folder: a hard link to the same inode when it has no
/// other links and lives on the same file system, a copy otherwise.
fn keep_old(dir: &Dir, name: &str, backups: &Dir, key: &str) -> io::Result<()> {
    use cap_std::fs::MetadataExt;
    let _ = backups.remove_file(key);
    let meta = dir.symlink_metadata(name)?;
    if meta.nlink() == 1 {
        match dir.hard_link(name, backups, key) {
            Ok(()) => return sync(backups),
            Err(e) if matches!(e.raw_os_error(), Some(18) | Some(1) | Some(95)) => {} // EXDEV, EPERM, EOPNOTSUPP
            Err(e) => return Err(e),
        }
    }
    copy_between(dir, name, backups, key)?;
    sync(backups)
}

/// Move a file out to the backup folder (a delete that can be undone).
fn move_out(dir: &Dir, name: &str, backups: &Dir, key: &str) -> io::Result<()> {
    let _ = backups.remove_file(key);
    match dir.rename(name, backups, key) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(18) => {
            copy_between(dir, name, backups, key)?;
            sync(backups)?;
            dir.remove_file(name)
        }
        Err(e) => Err(e),
    }
}

fn copy_between(from: &Dir, name: &str, to: &Dir, key: &str) -> io::Result<()> {
    let mut src = from.open(name)?;
    let mode = src.metadata()?.permissions().mode();
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true).mode(0o600);
    let mut dst = to.open_with(key, &opts)?;
    io::copy(&mut src, &mut dst)?;
    dst.set_permissions(Permissions::from_mode(mode))?;
    dst.sync_all()
}

fn sync(dir: &Dir) -> io::Result<()> {
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
/// restore what an exec step touched. Folders are not handled here.
pub fn put_state(ws: &Workspace, blobs: &BlobStore, rel: &RelPath, state: &State) -> Result<()> {
    let dir = ws.open_dir(rel.parent().as_ref())?;
    let name = rel.file_name();
    match state {
        State::File { sha256, mode } => {
            let tmp = format!(".autonomy-tmp-restore-{}", crate::ids::random_hex(6));
            write_temp(&dir, &tmp, blobs, sha256, *mode).map_err(|e| with_path(e, rel))?;
            dir.rename(&tmp, &dir, name).map_err(|e| {
                let _ = dir.remove_file(&tmp);
                Error::io(format!("restoring {rel}"), e)
            })?;
        }
        State::Absent => match dir.remove_file(name) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("removing {rel}"), e)),
        },
        State::Dir => {
            return Err(Error::failed(format!(
                "internal: cannot restore folder {rel} here"
            )));
        }
    }
    sync(&dir).map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))
}
