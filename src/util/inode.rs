//! What the engine may do with an inode it finds in the workspace, and how it keeps one.
//!
//! - Only regular files are ever opened, and they are opened without blocking and without
//!   following a symlink, then checked with `fstat` before a byte is read: a FIFO, socket or
//!   device swapped in at a path never hangs a run or reaches a device driver.
//! - An old file is kept as the snapshot by its own inode only while no other process has
//!   it open: a write lease (`F_SETLEASE F_WRLCK`) is granted by the kernel only when no
//!   other descriptor is open on the file, and any `open` or `truncate` by another process
//!   while it is held breaks it (the opener waits until the holder lets go). A lease still
//!   intact once the path no longer names the inode proves nobody else can write it; a
//!   broken or refused one means the content is copied instead (see `fsops`).
//! - Owner and group are carried over to the inode that replaces a file.

use cap_std::fs::Dir;
use rustix::fs::{FileType, Mode, OFlags, fstat, openat};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Once;

/// What a file-type mode names, for messages ("gen/p is a fifo").
pub fn kind_name(mode: u32) -> &'static str {
    match FileType::from_raw_mode(mode as _) {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a fifo (named pipe)",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "not a regular file",
    }
}

/// The error for a path that is not a regular file where one is needed.
pub fn not_regular_io(mode: u32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "it is {}, not a regular file; autonomy never opens fifos, sockets or devices",
            kind_name(mode)
        ),
    )
}

/// Open `name` in `dir` for reading: regular files only, never blocking (a FIFO is not
/// waited on), never through a symlink, never becoming a controlling terminal.
pub fn open_regular(dir: &Dir, name: &str) -> io::Result<File> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = match openat(dir, name, flags | OFlags::NONBLOCK, Mode::empty()) {
        Ok(fd) => fd,
        // Another process holds a lease on it: a regular file, then, whose holder is being
        // asked to let go; wait for that as any open would.
        Err(rustix::io::Errno::WOULDBLOCK) => openat(dir, name, flags, Mode::empty())?,
        Err(e) => return Err(e.into()),
    };
    let st = fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(not_regular_io(st.st_mode as u32));
    }
    Ok(File::from(fd))
}

/// Open the file at `path` for reading, as [`open_regular`] does: regular files only,
/// never blocking, never through a symlink at its last component (`ELOOP`), never becoming
/// a controlling terminal. A device is refused by a look before the open (so no driver's
/// open runs), and the type is checked again on the opened descriptor, so a swap after
/// the look changes nothing.
pub fn open_regular_path(path: &std::path::Path) -> io::Result<File> {
    open_path(path, false)
}

/// Open `path` as [`open_regular_path`] does, except that a symlink is followed: for the
/// configuration files a person may keep elsewhere (rules, allowed signers).
pub fn open_regular_path_following(path: &std::path::Path) -> io::Result<File> {
    open_path(path, true)
}

fn open_path(path: &std::path::Path, follow: bool) -> io::Result<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let look = if follow {
        std::fs::metadata(path)?
    } else {
        std::fs::symlink_metadata(path)?
    };
    if look.file_type().is_symlink() {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    if !look.is_file() {
        return Err(not_regular_io(look.mode()));
    }
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | nofollow)
        .open(path)?;
    let st = fstat(&file)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(not_regular_io(st.st_mode as u32));
    }
    Ok(file)
}

/// Whether an open failed because its last component is a symlink (`O_NOFOLLOW`).
pub fn is_symlink_refusal(err: &io::Error) -> bool {
    err.raw_os_error() == Some(libc::ELOOP)
}

/// The error for a file over a size limit: `ErrorKind::FileTooLarge`, with its size.
pub fn too_large_io(size: u64, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "it is {}, over the {} limit",
            crate::util::text::size(size),
            crate::util::text::size(max)
        ),
    )
}

/// Read all of an opened regular file, at most `max` bytes: a file whose size is over
/// `max` is refused before a byte is read, and one that grows past it while being read is
/// refused too (one byte more than `max` is read to tell). Never holds more than
/// `max + 1` bytes; the buffer is sized from the file, so the bytes are held once.
pub fn read_bounded(file: File, max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let size = file.metadata()?.len();
    if size > max {
        return Err(too_large_io(size, max));
    }
    let mut bytes = Vec::with_capacity(size as usize + 1);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large_io(bytes.len() as u64, max));
    }
    Ok(bytes)
}

/// A write lease on a file the engine is about to keep as a snapshot.
pub struct Lease {
    file: File,
}

/// Lease breaks are announced with SIGIO, whose default action ends the process: take it
/// over once (a handler, not SIG_IGN, so commands started later get the default back).
fn handle_sigio() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let _ = signal_hook::flag::register(signal_hook::consts::SIGIO, flag);
    });
}

impl Lease {
    /// A write lease on `name` in `dir`, or `None` when the kernel refuses one: another
    /// descriptor is open on the file (EAGAIN), it is not ours to lease (EACCES: the
    /// caller neither owns it nor has CAP_LEASE), or the file system has no leases.
    pub fn take(dir: &Dir, name: &str) -> io::Result<Option<Lease>> {
        handle_sigio();
        let file = open_regular(dir, name)?;
        // SAFETY: fcntl on a descriptor we own, with integer arguments.
        let ret = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_WRLCK) };
        if ret == 0 {
            return Ok(Some(Lease { file }));
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN | libc::EACCES | libc::EPERM | libc::EINVAL | libc::ENOLCK) => {
                Ok(None)
            }
            _ => Err(err),
        }
    }

    /// Whether the lease is still held whole: no other process opened or truncated the
    /// file since it was taken (a break in progress reports the type it is breaking to).
    pub fn intact(&self) -> bool {
        // SAFETY: fcntl on a descriptor we own.
        let ret = unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_GETLEASE) };
        ret == libc::F_WRLCK
    }

    /// The leased file, open for reading (to copy it while an opener still waits).
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Closing the descriptor drops the lease too; say so explicitly all the same.
        // SAFETY: fcntl on a descriptor we own.
        unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    }
}

/// Give `file` (a temp file the engine just created) the owner and group `(uid, gid)` of
/// the file it replaces. Root can always; anyone else can keep the group when they are a
/// member of it, and cannot give a file away (then the file keeps the creator's ids).
/// `fchown` clears set-id bits, so the caller sets the mode afterwards.
pub fn keep_owner(file: &impl AsRawFd, owner: Option<(u32, u32)>) -> io::Result<()> {
    let Some((uid, gid)) = owner else {
        return Ok(());
    };
    // SAFETY: fstat into a zeroed plain-data struct on a descriptor the caller holds.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(file.as_raw_fd(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if (st.st_uid, st.st_gid) == (uid, gid) {
        return Ok(());
    }
    // SAFETY: fchown on a descriptor the caller holds, with integer ids.
    if unsafe { libc::fchown(file.as_raw_fd(), uid, gid) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() != Some(libc::EPERM) {
        return Err(err);
    }
    if st.st_gid != gid {
        // Not allowed to give the file away; keep at least the group when we may.
        // SAFETY: as above; uid -1 leaves the owner as it is.
        unsafe { libc::fchown(file.as_raw_fd(), u32::MAX, gid) };
    }
    Ok(())
}

/// Copy everything `src` holds (from its start) into `dst`, returning the sha256 of the
/// bytes copied and their count. Read and write errors are told apart in the message.
pub fn copy_file_hashing(src: &File, dst: &mut File) -> io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0u64;
    loop {
        let n = src
            .read_at(&mut buf, off)
            .map_err(|e| io::Error::new(e.kind(), format!("reading the old file: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n])?;
        off += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), off))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dir_with(name: &str, content: &str) -> (tempfile::TempDir, Dir) {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::write(tmp.path().join(name), content).expect("write");
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).expect("dir");
        (tmp, dir)
    }

    /// A lease is refused while another descriptor is open for writing.
    #[test]
    fn no_lease_while_another_descriptor_is_open() {
        let (tmp, dir) = dir_with("f", "x");
        let other = std::fs::OpenOptions::new()
            .append(true)
            .open(tmp.path().join("f"))
            .expect("open");
        assert!(Lease::take(&dir, "f").expect("take").is_none());
        drop(other);
        let lease = Lease::take(&dir, "f").expect("take");
        if !rustix::process::geteuid().is_root() && lease.is_none() {
            // Not our file to lease (as non-root the owner must be us): nothing to test.
            return;
        }
        assert!(lease.expect("a lease once nothing else is open").intact());
    }

    /// Another process (here a thread) opening the file breaks the lease, and waits until
    /// the holder lets go: the holder sees the break and can still copy the old bytes.
    #[test]
    fn an_open_by_anyone_else_breaks_the_lease_and_waits() {
        let (tmp, dir) = dir_with("f", "old bytes");
        let Some(lease) = Lease::take(&dir, "f").expect("take") else {
            return; // leases unavailable here (not ours, or no lease support)
        };
        assert!(lease.intact());
        let path = tmp.path().join("f");
        let opener = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            use std::io::Write;
            f.write_all(b" and more").expect("write");
        });
        let t0 = std::time::Instant::now();
        while lease.intact() && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!lease.intact(), "the open did not break the lease");
        // The opener still waits: the content is as it was.
        let mut copy = tempfile::tempfile().expect("tempfile");
        let (_, n) = copy_file_hashing(lease.file(), &mut copy).expect("copy");
        assert_eq!(n, "old bytes".len() as u64);
        drop(lease);
        opener.join().expect("opener");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("f")).expect("read"),
            "old bytes and more"
        );
    }

    #[test]
    fn fifos_are_refused_without_blocking() {
        let tmp = tempfile::tempdir().expect("tempdir");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            tmp.path().join("p"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .expect("mkfifo");
        let dir = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).expect("dir");
        let err = open_regular(&dir, "p").expect_err("a fifo is not opened");
        assert!(err.to_string().contains("fifo"), "{err}");
    }
}
