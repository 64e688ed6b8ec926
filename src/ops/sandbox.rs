//! `autonomy sandbox`: run an agent confined (private namespaces and Landlock, see
//! `crate::exec`; refused where the kernel lacks either), with the workspace and
//! `.autonomy/` read-only, so its only way to change the project is a plan file or patch
//! written into the spool, which becomes a pending plan that a person must approve. The
//! tree's metadata is compared before and after as a second line (the read-only mounts
//! already stop mode, owner and time changes).
//!
//! Everything the agent leaves in the spool is untrusted input: read with the one reader,
//! `plan::read` (no symlinks, no FIFOs or devices, at most `MAX_PROPOSAL_BYTES`), and
//! planned by `ops::propose` exactly as `autonomy plan` plans a file. The run itself (the
//! agent, the spool watcher, the replies) is [`run`].

pub mod run;

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A spool file seen, with the (mtime, size) it had when it was planned.
pub type Seen = BTreeMap<PathBuf, (SystemTime, u64)>;

/// Spool entries that are complete (unchanged for `settle`) and new or rewritten since
/// seen: every non-folder named `*.toml`, `*.diff` or `*.patch`.
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
        // A symlink, FIFO or device named like a proposal is taken too: the reader refuses
        // it, and the agent is told why in its reply file (a folder is not a proposal).
        if meta.is_dir() {
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
        if rel == crate::paths::STATE_DIR {
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
/// folder that contains it), or that goes through a symlink inside the workspace (one an
/// agent could have planted to point the writable set somewhere else). Symlinks outside
/// the workspace (`/home -> /var/home`) are the system's and are followed.
pub fn check_allow_write(path: &Path, state: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(path)
        .map_err(|e| Error::io(format!("resolving {}", path.display()), e))?;
    let state = state.canonicalize().unwrap_or_else(|_| state.to_path_buf());
    let root = state.parent().unwrap_or(&state).to_path_buf();
    let mut cur = PathBuf::new();
    for comp in abs.components() {
        cur.push(comp);
        let is_link = std::fs::symlink_metadata(&cur).is_ok_and(|m| m.file_type().is_symlink());
        let in_workspace = cur
            .parent()
            .and_then(|p| p.canonicalize().ok())
            .is_some_and(|p| p.starts_with(&root));
        if is_link && in_workspace {
            return Err(Error::usage(format!(
                "--allow-write {} goes through the symlink {} inside the workspace; \
                 writable folders are never reached through symlinks",
                path.display(),
                cur.display()
            ))
            .hint("name the real folder"));
        }
    }
    let p = abs
        .canonicalize()
        .map_err(|e| Error::io(format!("--allow-write {}", path.display()), e))?;
    if p.starts_with(&state) || state.starts_with(&p) {
        return Err(Error::usage(format!(
            "--allow-write {} would let the agent write into .autonomy/; that is never allowed",
            path.display()
        ))
        .hint("open only build-output folders such as target/"));
    }
    Ok(p)
}

/// The largest refused proposal kept under `.autonomy/spool-rejects/` (a larger one is
/// journaled by size and hash only).
pub const MAX_KEPT_REJECT: u64 = 16 << 20;

/// Where refused spool proposals are kept, inside the state directory.
pub const REJECTS_DIR: &str = "spool-rejects";

/// The reply file next to a spool proposal: `NAME.decision` for `NAME` (`fix.toml` ->
/// `fix.toml.decision`).
pub fn decision_path(spool: &Path, proposal_name: &str) -> PathBuf {
    spool.join(format!("{proposal_name}.decision"))
}

/// Write a reply file atomically (a fresh temp file with a random name, created
/// exclusively, never through a link the agent planted, then renamed over the old reply),
/// so the agent reads either the old or the new decision, never half of one.
pub fn write_reply(spool: &Path, proposal_name: &str, doc: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    let path = decision_path(spool, proposal_name);
    let mut text = serde_json::to_string_pretty(doc)
        .map_err(|e| Error::failed(format!("encoding {}: {e}", path.display())))?;
    text.push('\n');
    let mut tmp = tempfile::Builder::new()
        .prefix(".autonomy-reply-")
        .tempfile_in(spool)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    tmp.write_all(text.as_bytes())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    // The agent (the same user, or another one when the invoker is root) must read it.
    let _ = std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    );
    tmp.persist(&path)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e.error))?;
    Ok(())
}

/// Keep a refused proposal's bytes under `.autonomy/spool-rejects/` as
/// `<time>-<name>`; returns its path relative to the workspace root (`None` when it is
/// too large to keep).
pub fn keep_reject(state_dir: &Path, name: &str, bytes: &[u8]) -> Result<Option<String>> {
    use std::os::unix::fs::DirBuilderExt;
    if bytes.len() as u64 > MAX_KEPT_REJECT {
        return Ok(None);
    }
    let dir = state_dir.join(REJECTS_DIR);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::io(format!("creating {}", dir.display()), e)),
    }
    let stamp = crate::util::ids::now_string().replace(':', "");
    // The name came from the agent: keep it printable and inside the folder.
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let file = format!("{stamp}-{}-{safe}", crate::util::ids::random_hex(4));
    let path = dir.join(&file);
    let mut opts = std::fs::OpenOptions::new();
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| Error::io(format!("keeping the refused proposal {name}"), e))?;
    std::io::Write::write_all(&mut f, bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("keeping the refused proposal {name}"), e))?;
    Ok(Some(format!(
        "{}/{REJECTS_DIR}/{file}",
        crate::paths::STATE_DIR
    )))
}
