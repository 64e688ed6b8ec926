//! Exec steps inside a run: snapshot every file the step may touch (durably journaled
//! before the command starts), run the command confined (Landlock per directory where the
//! kernel has it), then compare the whole workspace before and after: a change outside
//! `touches` fails the run; the changes inside become part of the run's record, so that
//! rollback and recovery restore them.

use super::fsops::put_state;
use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecSpec, ExitKind};
use crate::plan::{Change, ExecStep, State};
use crate::rules::{Rules, compile_glob};
use crate::store::blobs::BlobStore;
use crate::workspace::{RelPath, STATE_DIR, Workspace};
use globset::GlobMatcher;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the scan sees at a path: enough to detect any write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Dir,
    File {
        len: u64,
        mode: u32,
        mtime: i64,
        mtime_ns: i64,
        ctime: i64,
        ctime_ns: i64,
        ino: u64,
    },
}

fn scan(root: &Path) -> Result<BTreeMap<String, Seen>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Seen>) -> Result<()> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
            let p = entry.path();
            let rel = p
                .strip_prefix(root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            if rel == STATE_DIR {
                continue;
            }
            let m = std::fs::symlink_metadata(&p)
                .map_err(|e| Error::io(format!("reading {rel}"), e))?;
            if m.is_dir() {
                out.insert(rel, Seen::Dir);
                walk(root, &p, out)?;
            } else {
                out.insert(
                    rel,
                    Seen::File {
                        len: m.len(),
                        mode: m.mode(),
                        mtime: m.mtime(),
                        mtime_ns: m.mtime_nsec(),
                        ctime: m.ctime(),
                        ctime_ns: m.ctime_nsec(),
                        ino: m.ino(),
                    },
                );
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out)?;
    Ok(out)
}

fn globs(step: &ExecStep) -> Result<Vec<GlobMatcher>> {
    step.touches.iter().map(|t| compile_glob(t)).collect()
}

fn matches(globs: &[GlobMatcher], path: &str) -> bool {
    globs.iter().any(|g| g.is_match(path))
}

/// Store the file at `rel` in the blob store and return its state.
fn capture_file(ws: &Workspace, blobs: &BlobStore, rel: &str) -> Result<State> {
    let rel = RelPath::parse(rel)?;
    let meta = ws
        .lstat(&rel)?
        .ok_or_else(|| Error::failed(format!("{rel} vanished while being read")))?;
    let dir = ws.open_dir(rel.parent().as_ref())?;
    let f = dir
        .open(rel.file_name())
        .map_err(|e| Error::io(format!("reading {rel}"), e))?;
    let (hash, _) = blobs.put_reader(f)?;
    use cap_std::fs::PermissionsExt;
    Ok(State::File {
        sha256: hash,
        mode: meta.permissions().mode() & 0o7777,
    })
}

/// The snapshot of one step: every file matching its `touches`, with content stored.
pub fn snapshot(
    ws: &Workspace,
    blobs: &BlobStore,
    step: &ExecStep,
) -> Result<BTreeMap<String, State>> {
    let g = globs(step)?;
    let mut out = BTreeMap::new();
    for (rel, seen) in scan(&ws.root)? {
        if matches!(seen, Seen::File { .. }) && matches(&g, &rel) {
            out.insert(rel.clone(), capture_file(ws, blobs, &rel)?);
        }
    }
    Ok(out)
}

/// What one step did.
pub struct StepResult {
    pub changes: Vec<Change>,
    pub metrics: serde_json::Value,
    pub output_blob: Option<String>,
}

/// The folders Landlock may open for writing: the literal prefix of each glob. A glob
/// that can match at the top level opens every top-level folder except `.autonomy/`.
pub fn writable_dirs(root: &Path, step_touches: &[String]) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    for t in step_touches {
        let t = t.trim_start_matches('/');
        let literal: Vec<&str> = if t.contains('/') {
            t.split('/')
                .take_while(|c| !c.contains(['*', '?', '[', '{']))
                .collect()
        } else {
            Vec::new()
        };
        // A fully literal pattern names a file: open its folder.
        let literal = if literal.len() == t.split('/').count() {
            &literal[..literal.len().saturating_sub(1)]
        } else {
            &literal[..]
        };
        let mut dir = root.to_path_buf();
        for c in literal {
            if dir.join(c).is_dir() {
                dir.push(c);
            } else {
                break;
            }
        }
        if dir == root {
            if let Ok(rd) = std::fs::read_dir(root) {
                for e in rd.flatten() {
                    if e.file_name() != STATE_DIR {
                        out.insert(e.path());
                    }
                }
            }
        } else {
            out.insert(dir);
        }
    }
    out.into_iter().collect()
}

/// Run one step. `before` is its journaled snapshot. On success the step's changes inside
/// `touches` (files and new folders) are returned; any change outside is an error.
pub fn run_step(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    step: &ExecStep,
    before: &BTreeMap<String, State>,
    sink: &mut dyn Write,
) -> Result<StepResult> {
    let g = globs(step)?;
    let scan_before = scan(&ws.root)?;
    let tmp = tempfile::Builder::new()
        .prefix("autonomy-exec-")
        .tempdir()
        .map_err(|e| Error::io("creating a temp folder", e))?;
    let mut writable = writable_dirs(&ws.root, &step.touches);
    writable.push(tmp.path().to_path_buf());
    let mut env: Vec<(String, String)> = step
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !step.env.contains_key("TMPDIR") {
        env.push(("TMPDIR".into(), tmp.path().display().to_string()));
    }
    let cwd = if step.cwd.is_empty() {
        ws.root.clone()
    } else {
        ws.root.join(RelPath::parse(&step.cwd)?.as_str())
    };
    let spec = ExecSpec {
        argv: step.run.clone(),
        cwd,
        env,
        timeout: Duration::from_millis(step.timeout_ms),
        max_output_bytes: rules.exec_max_output()?,
        memory_limit: rules
            .exec
            .max_memory
            .as_deref()
            .map(crate::rules::parse_size)
            .transpose()?,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: false,
    };
    let shown = shell_words::join(&step.run);
    let outcome =
        crate::exec::run(&spec, sink).map_err(|e| Error::failed(format!("exec `{shown}`: {e}")))?;
    let output_blob = if outcome.kept_output.is_empty() {
        None
    } else {
        Some(blobs.put(&outcome.kept_output)?)
    };
    let metrics = serde_json::json!({
        "argv": step.run,
        "exit": match outcome.status { ExitKind::Exited(c) => serde_json::json!(c), ExitKind::Signaled(s) => serde_json::json!(format!("signal {s}")), ExitKind::TimedOut => serde_json::json!("timeout") },
        "wall_ms": outcome.wall.as_millis() as u64,
        "user_ms": outcome.user_cpu.as_millis() as u64,
        "sys_ms": outcome.sys_cpu.as_millis() as u64,
        "max_rss_kib": outcome.max_rss_kib,
        "output_bytes": outcome.total_output_bytes,
        "output_truncated": outcome.output_truncated,
        "output_blob": output_blob,
        "confined": outcome.confined,
    });
    let status_err = match outcome.status {
        ExitKind::Exited(0) => None,
        other => Some(crate::capture::describe(other)),
    };
    let scan_after = scan(&ws.root)?;
    // Everything outside `touches` must be exactly as it was.
    let mut undeclared = Vec::new();
    let after_files: BTreeSet<&String> = scan_after
        .iter()
        .filter(|(p, s)| matches!(s, Seen::File { .. }) && matches(&g, p))
        .map(|(p, _)| p)
        .collect();
    let keys: BTreeSet<&String> = scan_before.keys().chain(scan_after.keys()).collect();
    let mut new_dirs = Vec::new();
    for p in keys {
        let (b, a) = (scan_before.get(p), scan_after.get(p));
        if b == a {
            continue;
        }
        match (b, a) {
            (Some(Seen::File { .. }) | None, Some(Seen::File { .. }) | None) if matches(&g, p) => {}
            (None, Some(Seen::Dir)) => {
                let declared =
                    matches(&g, p) || after_files.iter().any(|f| f.starts_with(&format!("{p}/")));
                if declared {
                    new_dirs.push(p.clone());
                } else {
                    undeclared.push(p.clone());
                }
            }
            _ => undeclared.push(p.clone()),
        }
    }
    if let Some(why) = status_err {
        return Err(Error::failed(format!("exec `{shown}` failed ({why})")));
    }
    if !undeclared.is_empty() {
        let list: Vec<String> = undeclared
            .iter()
            .take(20)
            .map(|p| format!("  {p}"))
            .collect();
        return Err(Error::failed(format!(
            "exec `{shown}` changed paths outside its declared `touches`:\n{}",
            list.join("\n")
        ))
        .hint(
            "declare every path the command writes in `touches`, or keep it from writing there",
        ));
    }
    let mut changes = Vec::new();
    for d in &new_dirs {
        changes.push(Change {
            path: d.clone(),
            before: State::Absent,
            after: State::Dir,
            from: None,
        });
    }
    let paths: BTreeSet<&String> = before.keys().chain(after_files.iter().copied()).collect();
    for p in paths {
        let b = before.get(p).cloned().unwrap_or(State::Absent);
        let a = if after_files.contains(p) {
            capture_file(ws, blobs, p)?
        } else {
            State::Absent
        };
        if a != b {
            if let Some(rule) = rules.rules.iter().find(|r| r.deny && r.matches(p)) {
                return Err(Error::failed(format!(
                    "exec `{shown}` changed {p}, which rule {:?} denies",
                    rule.name
                )));
            }
            changes.push(Change {
                path: p.clone(),
                before: b,
                after: a,
                from: None,
            });
        }
    }
    Ok(StepResult {
        changes,
        metrics,
        output_blob,
    })
}

/// Put every path a step may have touched back to its snapshot: files restored, files
/// the command created removed, folders it created removed when empty. Idempotent.
pub fn restore(
    ws: &Workspace,
    blobs: &BlobStore,
    step: &ExecStep,
    before: &BTreeMap<String, State>,
) -> Result<Vec<String>> {
    let g = globs(step)?;
    let mut restored = Vec::new();
    let now = scan(&ws.root)?;
    for (p, seen) in &now {
        if matches!(seen, Seen::File { .. }) && matches(&g, p) && !before.contains_key(p) {
            let rel = RelPath::parse(p)?;
            put_state(ws, blobs, &rel, &State::Absent)?;
            restored.push(p.clone());
        }
    }
    for (p, state) in before {
        let rel = RelPath::parse(p)?;
        if ws.state(&rel)? != *state {
            put_state(ws, blobs, &rel, state)?;
            restored.push(p.clone());
        }
    }
    // Folders the command created, deepest first, when they are empty again.
    let mut dirs: Vec<&String> = now
        .iter()
        .filter(|(_, s)| **s == Seen::Dir)
        .map(|(p, _)| p)
        .collect();
    dirs.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    for d in dirs {
        if before.keys().any(|f| f.starts_with(&format!("{d}/"))) {
            continue;
        }
        let touched_inside = restored.iter().any(|f| f.starts_with(&format!("{d}/")));
        if touched_inside && std::fs::remove_dir(ws.root.join(d)).is_ok() {
            restored.push(d.clone());
        }
    }
    Ok(restored)
}

/// Run the workspace's `[verify]` command after every step, before the commit. Its writes
/// are confined to `writes` (build output, not part of the plan); it must not change what
/// the run wrote. Returns its metrics; an error rolls the whole run back.
pub fn run_verify(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    written: &[Change],
    sink: &mut dyn Write,
) -> Result<Option<serde_json::Value>> {
    let Some(v) = &rules.verify else {
        return Ok(None);
    };
    let timeout = match &v.timeout {
        Some(t) => crate::rules::parse_duration(t)?,
        None => Duration::from_secs(600),
    };
    let tmp = tempfile::Builder::new()
        .prefix("autonomy-verify-")
        .tempdir()
        .map_err(|e| Error::io("creating a temp folder", e))?;
    let mut writable = if v.writes.is_empty() {
        Vec::new()
    } else {
        writable_dirs(&ws.root, &v.writes)
    };
    writable.push(tmp.path().to_path_buf());
    let spec = ExecSpec {
        argv: v.run.clone(),
        cwd: ws.root.clone(),
        env: vec![("TMPDIR".into(), tmp.path().display().to_string())],
        timeout,
        max_output_bytes: rules.exec_max_output()?,
        memory_limit: rules
            .exec
            .max_memory
            .as_deref()
            .map(crate::rules::parse_size)
            .transpose()?,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: false,
    };
    let shown = shell_words::join(&v.run);
    let outcome = crate::exec::run(&spec, sink)
        .map_err(|e| Error::failed(format!("verify command `{shown}`: {e}")))?;
    let output_blob = if outcome.kept_output.is_empty() {
        None
    } else {
        Some(blobs.put(&outcome.kept_output)?)
    };
    let metrics = serde_json::json!({
        "argv": v.run, "wall_ms": outcome.wall.as_millis() as u64,
        "user_ms": outcome.user_cpu.as_millis() as u64, "sys_ms": outcome.sys_cpu.as_millis() as u64,
        "max_rss_kib": outcome.max_rss_kib, "output_blob": output_blob, "output_truncated": outcome.output_truncated,
    });
    if outcome.status != ExitKind::Exited(0) {
        return Err(Error::failed(format!(
            "the verify command `{shown}` failed ({}); the workspace is not left in a state its own checks reject",
            crate::capture::describe(outcome.status)
        ))
        .hint("see its output above (also kept in the journal); fix the plan and apply again"));
    }
    for c in written {
        let rel = RelPath::parse(&c.path)?;
        if ws.state(&rel)? != c.after {
            return Err(Error::failed(format!(
                "the verify command `{shown}` changed {}, which the run wrote",
                c.path
            )));
        }
    }
    Ok(Some(metrics))
}
