//! Everything under `.autonomy/`: the SQLite journal, the content-addressed blob store
//! and the workspace-wide writer lock.

pub mod blobs;
pub mod check;
pub mod hashes;
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
