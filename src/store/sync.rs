//! Waiting on the disk as little as durability allows: many fsyncs at once, and writeback
//! started early.

use std::fs::File;
use std::io;
use std::path::Path;

/// fsync many files or folders at once (see [`crate::util::par::IO_THREADS`]); the first error.
/// Opened without blocking or following a symlink: a FIFO put in a file's place is never
/// waited on.
pub fn sync_paths(paths: &[&Path]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::util::par::try_each(paths, crate::util::par::IO_THREADS, |p| {
        File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
            .open(p)?
            .sync_all()
    })
}

/// Ask the kernel to start writing `file` back now, without waiting, so that the fsync
/// that must follow finds less to do. A hint only: errors are the fsync's to report.
pub fn start_writeback(file: &impl std::os::fd::AsRawFd) {
    // SAFETY: sync_file_range takes a descriptor the caller holds open and plain integers.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}
