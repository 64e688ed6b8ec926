//! Everything under `.autonomy/`: the SQLite journal, the content-addressed blob store
//! and the workspace-wide writer lock.

pub mod blobs;
pub mod check;
pub mod journal;
pub mod lock;

use std::fs::File;
use std::io;
use std::path::Path;

/// fsync a directory so that a rename or create inside it is durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// fsync many files or folders at once (see [`crate::par::IO_THREADS`]); the first error.
pub fn sync_paths(paths: &[&Path]) -> io::Result<()> {
    crate::par::try_each(paths, crate::par::IO_THREADS, |p| File::open(p)?.sync_all())
}

/// Ask the kernel to start writing `file` back now, without waiting, so that the fsync
/// that must follow finds less to do. A hint only: errors are the fsync's to report.
pub fn start_writeback(file: &impl std::os::fd::AsRawFd) {
    // SAFETY: sync_file_range takes a descriptor the caller holds open and plain integers.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}
