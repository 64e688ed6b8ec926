//! The content-addressed blob store: `objects/ab/cdef…` named by the sha256 of their
//! bytes, written to a temp file, fsynced and renamed, never modified, and verified on
//! every read so that a damaged blob is never used.

use super::sync::{start_writeback, sync_paths};
use super::sync_dir;
use crate::error::{Error, Result};
use crate::util::hash::{copy_hashing, hash_reader, is_sha256_hex, sha256_hex};
use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub struct BlobStore {
    root: PathBuf,
}

const TMP_PREFIX: &str = "tmp-";

impl BlobStore {
    pub fn new(root: PathBuf) -> Self {
        BlobStore { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where blob `hash` lives. The name is validated first: the journal is untrusted.
    pub fn path(&self, hash: &str) -> Result<PathBuf> {
        if !is_sha256_hex(hash) {
            return Err(Error::integrity(format!(
                "invalid blob name {hash:?} recorded in the journal"
            )));
        }
        Ok(self.root.join(&hash[..2]).join(&hash[2..]))
    }

    pub fn contains(&self, hash: &str) -> bool {
        self.path(hash).is_ok_and(|p| p.is_file())
    }

    /// Store `bytes`; returns their hash. Idempotent.
    pub fn put(&self, bytes: &[u8]) -> Result<String> {
        let hash = sha256_hex(bytes);
        if self.contains(&hash) {
            return Ok(hash);
        }
        let (tmp, mut file) = self.temp_file()?;
        let res = file
            .write_all(bytes)
            .and_then(|_| file.sync_data())
            .map_err(|e| Error::io("writing a blob to .autonomy/objects", e));
        drop(file);
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.install(&tmp, &hash)?;
        Ok(hash)
    }

    /// Stream `reader` into the store, hashing as it goes; returns (hash, size).
    pub fn put_reader(&self, reader: impl Read) -> Result<(String, u64)> {
        let (tmp, mut file) = self.temp_file()?;
        let res = copy_tagged(
            reader,
            &mut file,
            "reading the content to store",
            "writing a blob to .autonomy/objects",
        )
        .and_then(|r| {
            file.sync_data()
                .map(|_| r)
                .map_err(|e| Error::io("writing a blob to .autonomy/objects", e))
        });
        drop(file);
        match res {
            Ok((hash, size)) => {
                if self.contains(&hash) {
                    let _ = fs::remove_file(&tmp);
                } else {
                    self.install(&tmp, &hash)?;
                }
                Ok((hash, size))
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Make the kept old files `files` (path, hash already verified by the caller) blobs,
    /// without copying: each is hard-linked into the store, then every fan-out folder is
    /// fsynced once. A file that has other links (it could still change through them) is
    /// copied instead, and the copy verified. Returns the store names this call created, so
    /// that a run whose commit then fails can take them back ([`BlobStore::unadopt`]): until
    /// the run commits, its backup folder still names every kept file, and undo and recovery
    /// move those back into the workspace by rename, which needs no free space.
    pub fn adopt_many(&self, files: &[(PathBuf, String)]) -> Result<Vec<PathBuf>> {
        use std::os::unix::fs::MetadataExt;
        let mut created_dirs = false;
        let mut dirty: BTreeSet<PathBuf> = BTreeSet::new();
        let mut made = Vec::new();
        for (file, hash) in files {
            if self.contains(hash) {
                continue;
            }
            let dest = self.path(hash)?;
            created_dirs |= self.make_fanout(&dest)?;
            let meta = fs::symlink_metadata(file)
                .map_err(|e| Error::io(format!("reading snapshot {}", file.display()), e))?;
            if meta.nlink() == 1 && meta.is_file() {
                match fs::hard_link(file, &dest) {
                    Ok(()) => {
                        let _ = make_read_only(&dest);
                        dirty.extend(dest.parent().map(Path::to_path_buf));
                        made.push(dest);
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    // EXDEV, EPERM, EOPNOTSUPP: copy below.
                    Err(e) if matches!(e.raw_os_error(), Some(18) | Some(1) | Some(95)) => {}
                    Err(e) => {
                        return Err(Error::io(format!("storing snapshot {}", dest.display()), e));
                    }
                }
            }
            // Shared with another name, or not linkable: a verified copy (durable on its own).
            let src = open_regular_path(file)
                .map_err(|e| Error::io(format!("reading snapshot {}", file.display()), e))?;
            let (got, _) = self.put_reader(src)?;
            if &got != hash {
                return Err(Error::stale(format!(
                    "the old content kept as a snapshot changed while the run held it (expected {}, found {}); another process wrote to it",
                    short(hash),
                    short(&got)
                ))
                .hint("find what writes to the file, stop it, and apply again"));
            }
        }
        self.sync_fanouts(created_dirs, &dirty)?;
        Ok(made)
    }

    /// Take back store names [`BlobStore::adopt_many`] created (a run that did not commit).
    pub fn unadopt(&self, made: &[PathBuf]) -> Result<()> {
        let mut dirty: BTreeSet<PathBuf> = BTreeSet::new();
        for dest in made {
            match fs::remove_file(dest) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::io(format!("removing {}", dest.display()), e));
                }
            }
            dirty.extend(dest.parent().map(Path::to_path_buf));
        }
        self.sync_fanouts(false, &dirty)
    }

    /// Start a batch of new blobs (see [`BlobBatch`]).
    pub fn batch(&self) -> BlobBatch<'_> {
        BlobBatch {
            store: self,
            staged: HashMap::new(),
        }
    }

    /// Create the fan-out folder of `dest` if missing; whether it was created.
    fn make_fanout(&self, dest: &Path) -> Result<bool> {
        match dest.parent() {
            Some(parent) if !parent.is_dir() => {
                fs::create_dir_all(parent)
                    .map_err(|e| Error::io("creating .autonomy/objects", e))?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Make renames into `dirty` fan-out folders durable (and new folders, via the root).
    fn sync_fanouts(&self, created: bool, dirty: &BTreeSet<PathBuf>) -> Result<()> {
        let mut paths: Vec<&Path> = dirty.iter().map(PathBuf::as_path).collect();
        if created {
            paths.push(&self.root);
        }
        sync_paths(&paths).map_err(|e| Error::io("syncing .autonomy/objects", e))
    }

    /// Read a whole blob, verifying its hash.
    pub fn read(&self, hash: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.copy_to(hash, &mut out)?;
        Ok(out)
    }

    /// Stream a blob into `sink`, verifying its hash as it goes. On a mismatch the caller
    /// must discard what was written; the error says so.
    pub fn copy_to(&self, hash: &str, sink: impl Write) -> Result<u64> {
        self.copy_into(
            hash,
            sink,
            &format!("writing a copy of blob {}", short(hash)),
        )
    }

    /// [`BlobStore::copy_to`], naming a failure to write `sink` as `sink_what` (a full disk
    /// while writing a temp file is not a problem reading the blob).
    pub fn copy_into(&self, hash: &str, sink: impl Write, sink_what: &str) -> Result<u64> {
        let path = self.path(hash)?;
        let file = open_regular_path(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::integrity(format!(
                    "blob {} is missing from .autonomy/objects",
                    short(hash)
                ))
                .hint("run `autonomy verify`; restore .autonomy/ from a backup")
            } else {
                Error::io(format!("reading blob {}", short(hash)), e)
            }
        })?;
        let (got, size) = copy_tagged(
            file,
            sink,
            &format!("reading blob {}", short(hash)),
            sink_what,
        )?;
        if got != hash {
            return Err(corrupt(hash));
        }
        Ok(size)
    }

    /// Re-hash a stored blob. `Ok(false)` when it is missing.
    pub fn check(&self, hash: &str) -> Result<bool> {
        let path = self.path(hash)?;
        let file = match open_regular_path(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(format!("reading blob {}", short(hash)), e)),
        };
        let (got, _) =
            hash_reader(file).map_err(|e| Error::io(format!("reading blob {}", short(hash)), e))?;
        if got != hash {
            return Err(corrupt(hash));
        }
        Ok(true)
    }

    pub fn size(&self, hash: &str) -> Option<u64> {
        self.path(hash)
            .ok()
            .and_then(|p| fs::metadata(p).ok())
            .map(|m| m.len())
    }

    /// Every blob name in the store, and every leftover temp file.
    pub fn list(&self) -> Result<(Vec<String>, Vec<PathBuf>)> {
        let mut blobs = Vec::new();
        let mut temps = Vec::new();
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((blobs, temps)),
            Err(e) => return Err(Error::io("listing .autonomy/objects", e)),
        };
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("listing .autonomy/objects", e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TMP_PREFIX) {
                temps.push(entry.path());
                continue;
            }
            if name.len() != 2 || !entry.path().is_dir() {
                continue;
            }
            let sub = fs::read_dir(entry.path())
                .map_err(|e| Error::io("listing .autonomy/objects", e))?;
            for f in sub {
                let f = f.map_err(|e| Error::io("listing .autonomy/objects", e))?;
                let rest = f.file_name().to_string_lossy().into_owned();
                blobs.push(format!("{name}{rest}"));
            }
        }
        blobs.sort();
        Ok((blobs, temps))
    }

    pub fn remove(&self, hash: &str) -> Result<()> {
        let path = self.path(hash)?;
        fs::remove_file(&path).map_err(|e| Error::io(format!("removing blob {}", short(hash)), e))
    }

    fn temp_file(&self) -> Result<(PathBuf, File)> {
        fs::create_dir_all(&self.root).map_err(|e| Error::io("creating .autonomy/objects", e))?;
        let path = self
            .root
            .join(format!("{TMP_PREFIX}{}", crate::util::ids::random_hex(12)));
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("creating a temp file in .autonomy/objects", e))?;
        Ok((path, file))
    }

    fn ensure_fanout(&self, dest: &Path) -> Result<()> {
        if let Some(parent) = dest.parent()
            && !parent.is_dir()
        {
            fs::create_dir_all(parent).map_err(|e| Error::io("creating .autonomy/objects", e))?;
            sync_dir(&self.root).map_err(|e| Error::io("syncing .autonomy/objects", e))?;
        }
        Ok(())
    }

    fn install(&self, tmp: &Path, hash: &str) -> Result<()> {
        let dest = self.path(hash)?;
        self.ensure_fanout(&dest)?;
        let _ = make_read_only(tmp);
        if let Err(e) = fs::rename(tmp, &dest) {
            let _ = fs::remove_file(tmp);
            return Err(Error::io("storing a blob in .autonomy/objects", e));
        }
        sync_parent(&dest)
    }
}

/// New blobs written together. Each is streamed to a temp file in the store, hashed on
/// the way and not yet fsynced; [`BlobBatch::commit`] then fsyncs them all at once, renames
/// each into place and fsyncs each fan-out folder once, which is as durable as
/// [`BlobStore::put`] one by one (file data first, then the rename, then its folder) at a
/// fraction of the waiting. Whatever a batch did not commit is removed when it is dropped.
/// Contents up to this size are read whole before anything is written.
const SMALL: usize = 1 << 20;

pub struct BlobBatch<'a> {
    store: &'a BlobStore,
    /// hash -> (temp file, size)
    staged: HashMap<String, (PathBuf, u64)>,
}

impl BlobBatch<'_> {
    /// Stage `bytes`; returns their hash. Nothing is written for content already stored
    /// or staged.
    pub fn put(&mut self, bytes: &[u8]) -> Result<String> {
        let hash = sha256_hex(bytes);
        if self.staged.contains_key(&hash) || self.store.contains(&hash) {
            return Ok(hash);
        }
        let (tmp, mut file) = self.store.temp_file()?;
        if let Err(e) = file.write_all(bytes) {
            drop(file);
            let _ = fs::remove_file(&tmp);
            return Err(Error::io("writing a blob to .autonomy/objects", e));
        }
        start_writeback(&file);
        self.staged.insert(hash.clone(), (tmp, bytes.len() as u64));
        Ok(hash)
    }

    /// Stage everything `reader` yields, hashing while copying (memory stays bounded);
    /// returns (hash, size). Small contents are hashed first, so that content already
    /// stored or staged costs no file.
    pub fn put_reader(&mut self, reader: impl Read) -> Result<(String, u64)> {
        let mut head = Vec::new();
        let mut reader = reader;
        (&mut reader)
            .take(SMALL as u64 + 1)
            .read_to_end(&mut head)
            .map_err(|e| Error::io("reading new content", e))?;
        if head.len() <= SMALL {
            let size = head.len() as u64;
            return Ok((self.put(&head)?, size));
        }
        let (tmp, mut file) = self.store.temp_file()?;
        let res = copy_tagged(
            io::Cursor::new(head).chain(reader),
            &mut file,
            "reading new content",
            "writing a blob to .autonomy/objects",
        );
        start_writeback(&file);
        drop(file);
        match res {
            Ok((hash, size)) => {
                if self.staged.contains_key(&hash) || self.store.contains(&hash) {
                    let _ = fs::remove_file(&tmp);
                } else {
                    self.staged.insert(hash.clone(), (tmp, size));
                }
                Ok((hash, size))
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// The size of a staged or stored blob.
    pub fn size(&self, hash: &str) -> Option<u64> {
        match self.staged.get(hash) {
            Some((_, size)) => Some(*size),
            None => self.store.size(hash),
        }
    }

    /// Read a staged (or stored) blob back whole, verifying its hash.
    pub fn read(&self, hash: &str) -> Result<Vec<u8>> {
        let Some((tmp, _)) = self.staged.get(hash) else {
            return self.store.read(hash);
        };
        let mut out = Vec::new();
        let file = File::open(tmp).map_err(|e| Error::io("reading a staged blob", e))?;
        let (got, _) =
            copy_hashing(file, &mut out).map_err(|e| Error::io("reading a staged blob", e))?;
        if got != hash {
            return Err(corrupt(hash));
        }
        Ok(out)
    }

    /// Forget a staged blob (its temp file is removed).
    pub fn discard(&mut self, hash: &str) {
        if let Some((tmp, _)) = self.staged.remove(hash) {
            let _ = fs::remove_file(tmp);
        }
    }

    /// Make the staged blobs that `keep` accepts durable in the store; drop the others.
    pub fn commit(mut self, keep: &dyn Fn(&str) -> bool) -> Result<()> {
        let staged: Vec<(String, (PathBuf, u64))> = self.staged.drain().collect();
        let mut kept = Vec::new();
        for (hash, (tmp, _)) in staged {
            if keep(&hash) {
                kept.push((hash, tmp));
            } else {
                let _ = fs::remove_file(&tmp);
            }
        }
        let res = self.install_all(&kept);
        if res.is_err() {
            for (_, tmp) in &kept {
                let _ = fs::remove_file(tmp);
            }
        }
        res
    }

    fn install_all(&self, kept: &[(String, PathBuf)]) -> Result<()> {
        // 1. Every file's data, all at once.
        let temps: Vec<&Path> = kept.iter().map(|(_, t)| t.as_path()).collect();
        sync_paths(&temps).map_err(|e| Error::io("writing a blob to .autonomy/objects", e))?;
        // 2. The renames, then each fan-out folder once.
        let mut created = false;
        let mut dirty: BTreeSet<PathBuf> = BTreeSet::new();
        for (hash, tmp) in kept {
            let dest = self.store.path(hash)?;
            created |= self.store.make_fanout(&dest)?;
            let _ = make_read_only(tmp);
            fs::rename(tmp, &dest)
                .map_err(|e| Error::io("storing a blob in .autonomy/objects", e))?;
            dirty.extend(dest.parent().map(Path::to_path_buf));
        }
        self.store.sync_fanouts(created, &dirty)
    }
}

impl Drop for BlobBatch<'_> {
    fn drop(&mut self) {
        for (_, (tmp, _)) in self.staged.drain() {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Open a file for reading: regular files only, without blocking (a FIFO planted where a
/// file should be is refused, not waited on) and without following a symlink.
pub fn open_regular_path(path: &Path) -> io::Result<File> {
    crate::util::inode::open_regular_path(path)
}

/// Copy `reader` into `sink` hashing on the way, telling a failure to read (`read_what`)
/// from a failure to write (`write_what`) in the error.
pub fn copy_tagged(
    reader: impl Read,
    sink: impl Write,
    read_what: &str,
    write_what: &str,
) -> Result<(String, u64)> {
    struct R<T> {
        inner: T,
        failed: bool,
    }
    impl<T: Read> Read for R<T> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let r = self.inner.read(buf);
            self.failed |= r
                .as_ref()
                .is_err_and(|e| e.kind() != io::ErrorKind::Interrupted);
            r
        }
    }
    let mut r = R {
        inner: reader,
        failed: false,
    };
    copy_hashing(&mut r, sink).map_err(|e| {
        if r.failed {
            Error::io(read_what, e)
        } else {
            Error::io(write_what, e)
        }
    })
}

fn make_read_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o444))
}

fn sync_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        sync_dir(parent).map_err(|e| Error::io("syncing .autonomy/objects", e))?;
    }
    Ok(())
}

fn corrupt(hash: &str) -> Error {
    Error::integrity(format!(
        "blob {} in .autonomy/objects does not match its hash; it was damaged or tampered with",
        short(hash)
    ))
    .hint("run `autonomy verify`; restore .autonomy/ from a backup")
}

pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
