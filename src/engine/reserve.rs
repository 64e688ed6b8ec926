//! Room on the disk for the end of a run, set aside before the run begins.
//!
//! A run that fills the disk must still be able to commit (the journal grows, the snapshot
//! gets fan-out folders) or, failing that, to record that it failed. So before the intent
//! is written, `.autonomy/reserve` is allocated (`fallocate`) with room for the run's
//! journal entries and snapshot folders, and removed just before the commit, before undo
//! and at the start of recovery, handing that room back to exactly those steps. Putting
//! files back never needs room: every replaced or deleted file keeps its old inode in the
//! run's backup folder and goes back by rename.

use crate::error::{Error, Result};
use crate::workspace::Workspace;
use std::path::PathBuf;

/// The reservation file's name under `.autonomy/`.
pub const RESERVE_FILE: &str = "reserve";

/// A reservation, released (the file removed) when dropped.
pub struct Reservation {
    path: Option<PathBuf>,
}

/// Room for a run of `changes` file changes and `steps` exec steps: the journal's
/// entries for each (intent, commit, events and indexes, WAL frames) and a fan-out folder
/// per new snapshot blob, with a floor for a small run.
pub fn estimate(changes: usize, steps: usize) -> u64 {
    let n = (changes + steps) as u64;
    (128 << 10) + n * (4 << 10) + (changes.min(256) as u64) * (4 << 10)
}

impl Reservation {
    /// Set `bytes` aside. A full disk is an error that changes nothing (exit 1).
    pub fn take(ws: &Workspace, bytes: u64) -> Result<Reservation> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = ws.state_path().join(RESERVE_FILE);
        let _ = std::fs::remove_file(&path);
        let what = || {
            format!(
                "setting aside {} KiB in .autonomy/{RESERVE_FILE} for the run's journal and snapshot",
                bytes.div_ceil(1024)
            )
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(what(), e))?;
        let res = match rustix::fs::fallocate(&file, rustix::fs::FallocateFlags::empty(), 0, bytes)
        {
            Ok(()) => Ok(()),
            // No fallocate on this file system: write the room out instead.
            Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::NOSYS) => {
                write_zeros(&file, bytes)
            }
            Err(e) => Err(e.into()),
        };
        drop(file);
        let reservation = Reservation { path: Some(path) };
        match res {
            Ok(()) => Ok(reservation),
            Err(e) => {
                drop(reservation);
                Err(Error::io(what(), e)
                    .hint("free some space, then run the command again; nothing was changed"))
            }
        }
    }

    /// Hand the room back (idempotent).
    pub fn release(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Remove a reservation a crashed run left behind (recovery needs its room).
    pub fn release_leftover(ws: &Workspace) {
        let _ = std::fs::remove_file(ws.state_path().join(RESERVE_FILE));
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.release();
    }
}

fn write_zeros(file: &std::fs::File, bytes: u64) -> std::io::Result<()> {
    use std::io::Write;
    let chunk = vec![0u8; 64 << 10];
    let mut left = bytes;
    let mut f = file;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    f.sync_data()
}
