//! Reading a tree the command may still be changing (a view's upper layer, or its scratch
//! copy) without ever leaving it: every open and stat resolves beneath the tree's own
//! descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`,
//! so a folder swapped for a symlink (to the workspace's `.autonomy/`, say) in any
//! component fails the lookup (`ELOOP`) instead of being followed; the last component is
//! opened `O_NOFOLLOW` (a link there is read as a link, `O_PATH`). What is read, stat'ed
//! and compared is the inode the one descriptor names: nothing is opened twice by path.

use super::Entry;
use crate::error::{Error, Result};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, Stat, fstat, openat2};
use std::ffi::CStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A folder read only beneath its own descriptor.
pub(super) struct Tree {
    fd: OwnedFd,
    path: PathBuf,
}

/// One inode of the tree: an `O_PATH` descriptor (never following a link) and its stat.
pub(super) struct Node {
    pub fd: OwnedFd,
    pub st: Stat,
}

impl Tree {
    pub(super) fn open(path: &Path) -> Result<Tree> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )
        .map_err(|e| Error::io(format!("opening {}", path.display()), e.into()))?;
        Ok(Tree {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// `rel` resolved beneath the tree, no symlink followed in any component.
    fn at(&self, rel: &str, flags: OFlags) -> io::Result<OwnedFd> {
        let rel = if rel.is_empty() { "." } else { rel };
        // openat2 refuses O_PATH with flags beyond O_CLOEXEC, O_DIRECTORY, O_NOFOLLOW.
        let flags = if flags.contains(OFlags::PATH) {
            flags
        } else {
            flags | OFlags::NOCTTY
        };
        loop {
            match openat2(
                &self.fd,
                rel,
                flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
            ) {
                // openat2 asks to be retried when a rename raced the lookup.
                Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => continue,
                r => return r.map_err(io::Error::from),
            }
        }
    }

    fn shown(&self, rel: &str) -> String {
        self.path.join(rel).display().to_string()
    }

    /// The inode at `rel` (a link itself, not its target); `None` when nothing is there.
    pub(super) fn node(&self, rel: &str) -> Result<Option<Node>> {
        match self.at(rel, OFlags::PATH) {
            Ok(fd) => {
                let st = fstat(&fd)
                    .map_err(|e| Error::io(format!("reading {}", self.shown(rel)), e.into()))?;
                Ok(Some(Node { fd, st }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(
                format!(
                    "reading {} (a component that is a symbolic link is not followed)",
                    self.shown(rel)
                ),
                e,
            )),
        }
    }

    /// What `node` (at `rel`) holds.
    pub(super) fn entry_of(&self, rel: &str, node: &Node) -> Result<Entry> {
        let mode = node.st.st_mode & 0o7777;
        Ok(match FileType::from_raw_mode(node.st.st_mode) {
            FileType::Directory => Entry::Dir { mode },
            FileType::RegularFile => Entry::File {
                mode,
                len: node.st.st_size as u64,
            },
            FileType::Symlink => {
                // readlinkat with an empty path reads the link the O_PATH descriptor is.
                let t = rustix::fs::readlinkat(&node.fd, c"", Vec::new()).map_err(|e| {
                    Error::io(format!("reading the link {}", self.shown(rel)), e.into())
                })?;
                Entry::Symlink {
                    target: PathBuf::from(std::ffi::OsString::from(
                        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(t.as_bytes()),
                    )),
                }
            }
            _ => Entry::Other,
        })
    }

    /// Whether the node is an overlay whiteout (a character device 0:0).
    pub(super) fn is_whiteout(node: &Node) -> bool {
        FileType::from_raw_mode(node.st.st_mode) == FileType::CharacterDevice
            && node.st.st_rdev == 0
    }

    /// A folder of the tree, opened for listing and its xattrs.
    fn dir(&self, rel: &str) -> Result<OwnedFd> {
        self.at(rel, OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(|e| Error::io(format!("listing {}", self.shown(rel)), e))
    }

    /// The names in the folder `rel`, sorted.
    pub(super) fn list(&self, rel: &str) -> Result<Vec<String>> {
        let fd = self.dir(rel)?;
        let mut names = Vec::new();
        let dir = rustix::fs::Dir::read_from(&fd)
            .map_err(|e| Error::io(format!("listing {}", self.shown(rel)), e.into()))?;
        for e in dir {
            let e = e.map_err(|e| Error::io(format!("listing {}", self.shown(rel)), e.into()))?;
            let name = e.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = std::str::from_utf8(name).map_err(|_| {
                Error::failed(format!(
                    "{} holds a file name that is not UTF-8",
                    self.shown(rel)
                ))
            })?;
            names.push(name.to_string());
        }
        names.sort();
        Ok(names)
    }

    /// Whether the folder `rel` is opaque (overlay's xattr `y`, trusted or user).
    pub(super) fn is_opaque(&self, rel: &str) -> bool {
        let Ok(fd) = self.dir(rel) else {
            return false;
        };
        let y = |name: &CStr| {
            let mut buf = [0u8; 4];
            matches!(rustix::fs::fgetxattr(&fd, name, &mut buf[..]), Ok(1)) && buf[0] == b'y'
        };
        y(c"trusted.overlay.opaque") || y(c"user.overlay.opaque")
    }

    /// The regular file at `rel`, opened for reading (never a FIFO or device, never
    /// blocking, never through a link).
    pub(super) fn open_file(&self, rel: &str) -> io::Result<fs::File> {
        let fd = self.at(rel, OFlags::RDONLY | OFlags::NONBLOCK)?;
        let st = fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
            return Err(io::Error::other("not a regular file"));
        }
        Ok(fs::File::from(fd))
    }
}

/// Owner read (and search, for a folder) on one inode of the tree while it lives, given
/// through its own descriptor (`/proc/self/fd/N` names that inode, whatever the path now
/// holds); the mode is put back on drop. Nothing to do for root, a link, or an already
/// readable inode.
pub(super) struct FdAccess {
    fd: OwnedFd,
    mode: u32,
}

impl FdAccess {
    pub(super) fn grant(node: &Node) -> Option<FdAccess> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            return None;
        }
        let ft = FileType::from_raw_mode(node.st.st_mode);
        if !matches!(ft, FileType::Directory | FileType::RegularFile) {
            return None;
        }
        let mode = node.st.st_mode & 0o7777;
        let need = if ft == FileType::Directory {
            0o500
        } else {
            0o400
        };
        if mode & need == need {
            return None;
        }
        let fd = node.fd.as_fd().try_clone_to_owned().ok()?;
        chmod_fd(&fd, mode | need).ok()?;
        Some(FdAccess { fd, mode })
    }
}

fn chmod_fd(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        format!("/proc/self/fd/{}", fd.as_raw_fd()),
        fs::Permissions::from_mode(mode),
    )
}

impl Drop for FdAccess {
    fn drop(&mut self) {
        let _ = chmod_fd(&self.fd, self.mode);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// A thread keeps swapping the folder `d` (holding a decoy) with a symlink to a folder
    /// holding the secret, while the reader reads `d/journal.db` and walks the upper layer
    /// as `View::read` and `View::changes` do: it sees the decoy or fails, never the secret.
    #[test]
    fn a_folder_swapped_for_a_link_is_never_followed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let upper = tmp.path().join("upper");
        let lower = tmp.path().join("lower");
        let state = tmp.path().join("state");
        for d in [&upper, &lower, &state] {
            fs::create_dir(d).expect("mkdir");
        }
        fs::write(state.join("journal.db"), "SECRET").expect("write");
        fs::create_dir(upper.join("d")).expect("mkdir");
        fs::write(upper.join("d/journal.db"), "decoy").expect("write");
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (upper, state, stop) = (upper.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = fs::rename(upper.join("d"), upper.join("x"));
                    let _ = std::os::unix::fs::symlink(&state, upper.join("d"));
                    let _ = fs::remove_file(upper.join("d"));
                    let _ = fs::rename(upper.join("x"), upper.join("d"));
                }
            })
        };
        let tree = Tree::open(&upper).expect("open");
        let (mut decoys, mut walks, mut naive_secrets) = (0, 0, 0);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while std::time::Instant::now() < deadline {
            if let Ok(mut f) = tree.open_file("d/journal.db") {
                let mut s = String::new();
                f.read_to_string(&mut s).expect("read");
                assert_eq!(s, "decoy", "read through a swapped-in link");
                decoys += 1;
            }
            if let Ok(changes) = super::super::upper::changes(&lower, &upper) {
                walks += 1;
                for c in changes {
                    assert!(
                        !matches!(c.after, Entry::File { len: 6, .. }),
                        "walked into the link: {c:?}"
                    );
                }
            }
            // The old way (O_NOFOLLOW on the last component only) for comparison: it is
            // the race this test provokes.
            if fs::read_to_string(upper.join("d/journal.db")).is_ok_and(|s| s == "SECRET") {
                naive_secrets += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().expect("swapper");
        assert!(
            decoys > 0 && walks > 0,
            "the reader never got through ({decoys} reads, {walks} walks; a path-based open \
             read the secret {naive_secrets} times)"
        );
        // With no swapper, the walk sees the link as a link, and the decoy as a file.
        fs::remove_dir_all(upper.join("d")).expect("rm");
        std::os::unix::fs::symlink(&state, upper.join("d")).expect("symlink");
        fs::create_dir(upper.join("e")).expect("mkdir");
        fs::write(upper.join("e/f"), "decoy").expect("write");
        let changes = super::super::upper::changes(&lower, &upper).expect("walk");
        assert!(
            changes
                .iter()
                .any(|c| c.path == "d" && matches!(c.after, Entry::Symlink { .. })),
            "{changes:?}"
        );
        assert!(changes.iter().any(|c| c.path == "e/f"), "{changes:?}");
    }
}
