//! The one reader for every file a proposal reads: plan files, patches, spool files and the
//! `content_file`s a plan file names. Each is opened without following a symlink at its
//! last component and without blocking, checked on the opened descriptor to be a regular
//! file (FIFOs, sockets and devices are never read), and read to at most a cap; every
//! refusal names the file and the cap. The primitives are `util::inode`'s.

use crate::error::{Error, Result};
use crate::paths::RelPath;
use crate::util::inode;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The largest plan file, patch or spool file read (stdin included): 256 MiB. Big
/// contents belong in `content_file`s, whose cap is the rules' `max_file_bytes`.
pub const MAX_PROPOSAL_BYTES: u64 = 256 << 20;

/// What is being read: decides the words of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    PlanFile,
    Patch,
    SpoolFile,
    ContentFile,
}

impl What {
    fn noun(self) -> &'static str {
        match self {
            What::PlanFile => "plan file",
            What::Patch => "patch",
            What::SpoolFile => "spool file",
            What::ContentFile => "content_file",
        }
    }
    fn limit(self) -> &'static str {
        match self {
            What::PlanFile => " for plan files",
            What::Patch => " for patches",
            What::SpoolFile => " for spool files",
            What::ContentFile => " max_file_bytes of autonomy.toml",
        }
    }
}

/// Read the file at `path` (shown as `shown`) whole, at most `max` bytes.
pub fn read_path(what: What, path: &Path, shown: &str, max: u64) -> Result<Vec<u8>> {
    let file = inode::open_regular_path(path).map_err(|e| refusal(what, shown, e))?;
    inode::read_bounded(file, max).map_err(|e| refusal(what, shown, e))
}

/// Read standard input whole, at most `max` bytes (a pipe is what stdin usually is).
pub fn read_stdin(what: What, max: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refusal(what, "<stdin>", e))?;
    if bytes.len() as u64 > max {
        return Err(refusal(
            what,
            "<stdin>",
            io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("it is over the {} limit", crate::util::text::size(max)),
            ),
        ));
    }
    Ok(bytes)
}

/// Open `rel` below the folder `dir` for streaming (a `content_file`): no component may
/// leave `dir` (cap-std), the last is never followed if it is a symlink, and a file over
/// `max` is refused before it is read. Returns the file and its size; the caller reads
/// at most `max + 1` bytes of it.
pub fn open_below(what: What, dir: &Path, rel: &RelPath, max: u64) -> Result<(File, u64)> {
    let shown = rel.as_str();
    // Not found, or a folder on the way that leads out: say where it was looked for.
    let not_opened = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied | io::ErrorKind::Other
            if !inode::is_symlink_refusal(&e) =>
        {
            Error::io(
                format!(
                    "reading {} {shown} (relative to {}, and it must stay inside it)",
                    what.noun(),
                    dir.display()
                ),
                e,
            )
        }
        _ => refusal(what, shown, e),
    };
    let root = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
        .map_err(|e| Error::io(format!("opening the folder {}", dir.display()), e))?;
    let parent = match rel.parent() {
        Some(p) => root.open_dir(p.as_str()),
        None => root.try_clone(),
    }
    .map_err(not_opened)?;
    let file = inode::open_regular(&parent, rel.file_name()).map_err(not_opened)?;
    let size = file.metadata().map_err(|e| refusal(what, shown, e))?.len();
    if size > max {
        return Err(refusal(what, shown, inode::too_large_io(size, max)));
    }
    Ok((file, size))
}

/// The error for a file that was not read: what it is, its name, why, and the cap (the
/// cap is in `e`'s text, see `inode::too_large_io`).
pub fn refusal(what: What, shown: &str, e: io::Error) -> Error {
    let noun = what.noun();
    if inode::is_symlink_refusal(&e) {
        return Error::failed(format!(
            "{noun} {shown} is a symbolic link; only regular files are read, never through a link"
        ))
        .hint("name the file the link points to");
    }
    match e.kind() {
        io::ErrorKind::FileTooLarge => Error::failed(format!(
            "{noun} {shown} was not read: {e}{}",
            what.limit()
        ))
        .hint(match what {
            What::PlanFile => "put large contents in files and name them with `content_file`",
            What::ContentFile => "raise max_file_bytes in autonomy.toml, or split the file",
            _ => "split the change into smaller proposals",
        }),
        io::ErrorKind::InvalidInput => Error::failed(format!("{noun} {shown} was not read: {e}")),
        _ => Error::io(format!("reading {noun} {shown}"), e),
    }
}
