//! Everything under `.autonomy/`: the SQLite journal (all SQL lives in `journal`), the
//! content-addressed blob store and the workspace-wide writer lock.

pub mod blobs;
pub mod bundle;
pub mod journal;
pub mod lock;
pub mod sync;

use std::fs::File;
use std::io;
use std::path::Path;

/// fsync a directory so that a rename or create inside it is durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Read a small configuration file: it must be a regular file (not a fifo, which would
/// block, nor a device like /dev/zero, which never ends) of at most `max` bytes. A symlink
/// is followed (a rules or signers file may live elsewhere); the type is checked on the
/// opened descriptor (`util::inode`, the one bounded reader).
pub fn read_config_file(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = crate::util::inode::open_regular_path_following(path)?;
    crate::util::inode::read_bounded(file, max)
}
