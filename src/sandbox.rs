//! `autonomy sandbox`: run an agent with the workspace and `.autonomy/` read-only
//! (Landlock; refused where the kernel lacks it), so its only way to change the project is
//! a plan file or patch written into the spool, which becomes a pending plan that a person
//! must approve. Metadata changes Landlock cannot stop (mode, owner, times) are detected by
//! comparing the tree before and after.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A spool file seen, with the (mtime, size) it had when it was planned.
pub type Seen = BTreeMap<PathBuf, (SystemTime, u64)>;

/// Spool files that are complete (unchanged for `settle`) and new or rewritten since seen.
pub fn ready_files(
    spool: &Path,
    seen: &Seen,
    settle: Duration,
) -> Vec<(PathBuf, (SystemTime, u64))> {
    let Ok(rd) = std::fs::read_dir(spool) else {
        return Vec::new();
    };
    let now = SystemTime::now();
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "toml" | "diff" | "patch") {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let Ok(mtime) = meta.modified() else { continue };
        let stamp = (mtime, meta.len());
        if seen.get(&path) == Some(&stamp) {
            continue;
        }
        let settled = now.duration_since(mtime).is_ok_and(|age| age >= settle);
        if settled {
            out.push((path, stamp));
        }
    }
    out.sort();
    out
}

/// Mode, owner and times of every path in the tree (symlinks not followed).
pub type Meta = BTreeMap<String, (u32, u32, u32, i64)>;

pub fn metadata_snapshot(root: &Path) -> Meta {
    let mut out = Meta::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Meta) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in rd.flatten() {
        let p = entry.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = p
            .strip_prefix(root)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_default();
        // autonomy itself writes .autonomy/ while the agent runs (spool plans): watch only
        // the mode and owner of the folder itself there.
        if rel == crate::workspace::STATE_DIR {
            out.insert(rel, (m.mode(), m.uid(), m.gid(), 0));
            continue;
        }
        out.insert(rel, (m.mode(), m.uid(), m.gid(), m.mtime()));
        if m.is_dir() {
            walk(root, &p, out);
        }
    }
}

/// Paths whose metadata differs (or that appeared or vanished) between two snapshots.
pub fn metadata_changes(before: &Meta, after: &Meta) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in before {
        match after.get(k) {
            None => out.push(format!("{k}: removed")),
            Some(w) if w != v => {
                let mut what = Vec::new();
                if v.0 != w.0 {
                    what.push(format!("mode {:o} -> {:o}", v.0 & 0o7777, w.0 & 0o7777));
                }
                if v.1 != w.1 || v.2 != w.2 {
                    what.push(format!("owner {}:{} -> {}:{}", v.1, v.2, w.1, w.2));
                }
                if v.3 != w.3 {
                    what.push("modification time".to_string());
                }
                out.push(format!("{k}: {}", what.join(", ")));
            }
            Some(_) => {}
        }
    }
    for k in after.keys() {
        if !before.contains_key(k) {
            out.push(format!("{k}: appeared"));
        }
    }
    out
}

/// Refuse a writable path that would open `.autonomy/` (the state dir, inside it, or a
/// folder that contains it).
pub fn check_allow_write(path: &Path, state: &Path) -> Result<PathBuf> {
    let p = std::path::absolute(path)
        .map_err(|e| Error::io(format!("resolving {}", path.display()), e))?;
    let p = p
        .canonicalize()
        .map_err(|e| Error::io(format!("--allow-write {}", path.display()), e))?;
    let state = state.canonicalize().unwrap_or_else(|_| state.to_path_buf());
    if p.starts_with(&state) || state.starts_with(&p) {
        return Err(Error::usage(format!(
            "--allow-write {} would let the agent write into .autonomy/; that is never allowed",
            path.display()
        ))
        .hint("open only build-output folders such as target/"));
    }
    Ok(p)
}
