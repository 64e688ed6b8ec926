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
/// block, nor a device like /dev/zero, which never ends) of at most `max` bytes.
pub fn read_config_file(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let file = File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {}", crate::util::text::size(max)),
        ));
    }
    Ok(bytes)
}
