//! The fallback view: a scratch copy of the workspace in `$TMPDIR`, where the kernel
//! cannot mount an overlay. Costs the whole tree to set up and to read back.
//!
//! The copy skips `.autonomy/` (never the command's business) and `.git/` (history is
//! not planned, and it can be large); symlinks are copied as symlinks. Files are copied
//! with `std::fs::copy` (`copy_file_range`: reflinks on btrfs/XFS), never hard-linked,
//! which would let the command write through into the workspace. The command sees the
//! copy's path, not the workspace's, and fresh mtimes.

use super::upper::{entry_of, same_bytes, skip_top};
use super::{Change, Entry};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub(super) struct Copy {
    scratch: tempfile::TempDir,
    copy: PathBuf,
    before: BTreeMap<String, Entry>,
    /// Each copied file's inode, size, mtime and ctime right after copying: a file whose
    /// signature is the same afterwards was not written (no call sets a ctime back).
    copied: HashMap<String, Signature>,
}

type Signature = (u64, u64, i64, i64, i64, i64);

fn signature(m: &fs::Metadata) -> Signature {
    (
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    )
}

impl Copy {
    pub(super) fn make(root: &Path) -> Result<Copy> {
        let scratch = tempfile::Builder::new()
            .prefix("autonomy-capture-")
            .tempdir()
            .map_err(|e| Error::io("creating a scratch folder", e))?;
        let copy = scratch.path().join(
            root.file_name()
                .map_or_else(|| "ws".into(), |n| n.to_os_string()),
        );
        fs::create_dir_all(&copy).map_err(|e| Error::io("creating a scratch folder", e))?;
        let mut before = BTreeMap::new();
        collect(root, "", &mut before)?;
        let mut copied = HashMap::new();
        for (rel, e) in &before {
            let dst = copy.join(rel);
            let done = match e {
                Entry::Dir { mode } => fs::create_dir(&dst).and_then(|()| {
                    fs::set_permissions(&dst, fs::Permissions::from_mode(*mode | 0o700))
                }),
                Entry::File { mode, .. } => fs::copy(root.join(rel), &dst)
                    .and_then(|_| fs::set_permissions(&dst, fs::Permissions::from_mode(*mode))),
                Entry::Symlink { target } => std::os::unix::fs::symlink(target, &dst),
                Entry::Other | Entry::Absent => Ok(()),
            };
            done.map_err(|er| Error::io(format!("copying {rel} to the scratch copy"), er))?;
            if matches!(e, Entry::File { .. }) {
                let m = fs::symlink_metadata(&dst)
                    .map_err(|er| Error::io(format!("copying {rel} to the scratch copy"), er))?;
                copied.insert(rel.clone(), signature(&m));
            }
        }
        Ok(Copy {
            scratch,
            copy,
            before,
            copied,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.copy
    }

    pub(super) fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    pub(super) fn changes(&self, root: &Path) -> Result<Vec<Change>> {
        let mut after = BTreeMap::new();
        collect(&self.copy, "", &mut after)?;
        let mut out = Vec::new();
        let mut removed_dirs: Vec<&str> = Vec::new();
        for (rel, e) in &self.before {
            if after.contains_key(rel)
                || removed_dirs
                    .iter()
                    .any(|d| rel.starts_with(&format!("{d}/")))
            {
                continue;
            }
            if matches!(e, Entry::Dir { .. }) {
                removed_dirs.push(rel);
            }
            out.push(Change {
                path: rel.clone(),
                before: e.clone(),
                after: Entry::Absent,
                content_changed: false,
            });
        }
        for (rel, e) in after {
            let before = self.before.get(&rel).cloned().unwrap_or(Entry::Absent);
            let untouched = || {
                let now = fs::symlink_metadata(self.copy.join(&rel)).ok();
                now.is_some_and(|m| self.copied.get(&rel) == Some(&signature(&m)))
            };
            let content_changed = match (&before, &e) {
                (Entry::File { len: a, .. }, Entry::File { len: b, .. }) if a == b => {
                    !untouched() && !same_bytes(&root.join(&rel), &self.copy.join(&rel))?
                }
                (_, Entry::File { .. }) => true,
                _ => false,
            };
            let same = match (&before, &e) {
                (Entry::File { mode: a, .. }, Entry::File { mode: b, .. }) => {
                    a == b && !content_changed
                }
                (Entry::Dir { mode: a }, Entry::Dir { mode: b }) => a == b || a | 0o700 == *b,
                (a, b) => a == b,
            };
            if !same {
                out.push(Change {
                    path: rel,
                    before,
                    after: e,
                    content_changed,
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }
}

/// Every entry below `root/rel` (skipping `.autonomy` and `.git` at the top).
fn collect(root: &Path, rel: &str, out: &mut BTreeMap<String, Entry>) -> Result<()> {
    let dir = root.join(rel);
    let rd = fs::read_dir(&dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for e in rd {
        let e = e.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            return Err(Error::failed(format!(
                "{} holds a file name that is not UTF-8",
                dir.display()
            )));
        };
        if rel.is_empty() && skip_top(&name) {
            continue;
        }
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let p = root.join(&child);
        let meta =
            fs::symlink_metadata(&p).map_err(|er| Error::io(format!("reading {child}"), er))?;
        let entry = entry_of(&p, &meta)?;
        let is_dir = matches!(entry, Entry::Dir { .. });
        out.insert(child.clone(), entry);
        if is_dir {
            collect(root, &child, out)?;
        }
    }
    Ok(())
}
