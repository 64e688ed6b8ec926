//! Exec steps inside a run.
//!
//! 1. Snapshot: every file and folder the step can change, which is every path its
//!    `touches` match and everything under the folders its confinement opens for writing
//!    (its *reach*), with file contents in the blob store (reusing what the store already
//!    holds), journaled durably before the command starts. Only regular files are opened;
//!    a FIFO, socket, device or symlink that `touches` names stops the step before it runs.
//! 2. The command runs confined (Landlock per directory where the kernel has it) and is
//!    killed, with its process group, when the run is interrupted by a signal.
//! 3. The whole workspace is scanned before and after. Every path that changed is
//!    described as `before -> after` (the *observed* changes), which the run journals
//!    durably at once, so that recovery can tell the command's writes from anything else.
//!    A change outside `touches` fails the run; the changes inside become part of the
//!    run's record, so that rollback restores them.
//! 4. Undo ([`undo`]) decides path by path by what is there now, as for file changes:
//!    the observed `after` is put back to `before`, `before` is left alone, anything else
//!    stops with a conflict (exit 4) naming the path, unless told to overwrite (the current
//!    content is then kept in the store first). A path whose old content autonomy never
//!    had (outside the reach) is reported as not put back, never claimed.

use super::fsops::{TEMP_PREFIX, put_state};
use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecSpec, ExitKind, Isolation, IsolationMode};
use crate::model::{Change, ExecStep, Plan, State};
use crate::paths::{Globs, nested_workspaces};
use crate::paths::{RelPath, STATE_DIR};
use crate::policy::rules::{Rules, compile_glob};
use crate::store::blobs::BlobStore;
use crate::util::inode::{kind_name, open_regular};
use crate::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What the scan sees at a path: enough to detect any write, without opening anything.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
        ino: u64,
    },
    File {
        len: u64,
        mode: u32,
        mtime: i64,
        mtime_ns: i64,
        ctime: i64,
        ctime_ns: i64,
        ino: u64,
    },
    /// A symlink, FIFO, socket or device: never opened, followed or read.
    Other {
        mode: u32,
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
                out.insert(
                    rel,
                    Seen::Dir {
                        mode: m.mode(),
                        uid: m.uid(),
                        gid: m.gid(),
                        ino: m.ino(),
                    },
                );
                walk(root, &p, out)?;
            } else if m.is_file() {
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
            } else {
                out.insert(
                    rel,
                    Seen::Other {
                        mode: m.mode(),
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

/// A step's `touches`, checked again (the stored plan is untrusted) and bounded: they
/// never cover a state folder or anything in a nested workspace of `scanned`.
fn globs(step: &ExecStep, scanned: &BTreeMap<String, Seen>) -> Result<Globs> {
    Ok(Globs::new(&step.touches)?.excluding(nested_workspaces(scanned.keys().map(String::as_str))))
}

fn matches(globs: &Globs, path: &str) -> bool {
    globs.covers(path)
}

/// The workspace-relative folders (and files) a step's confinement lets it write.
fn reach(root: &Path, g: &Globs, scanned: &BTreeMap<String, Seen>) -> Vec<String> {
    writable_dirs(root, g, scanned, &[])
        .iter()
        .filter_map(|d| d.strip_prefix(root).ok())
        .map(|r| r.to_string_lossy().into_owned())
        .filter(|r| !r.is_empty())
        .collect()
}

fn in_reach(reach: &[String], p: &str) -> bool {
    reach
        .iter()
        .any(|r| p == r || (p.starts_with(r.as_str()) && p.as_bytes().get(r.len()) == Some(&b'/')))
}

/// Hash the files `rels` (reusing the hash cache) and store every content the store
/// lacks, all made durable at once. Only regular files are opened.
fn capture_many(ws: &Workspace, blobs: &BlobStore, rels: &[String]) -> Result<Vec<State>> {
    let parsed = rels
        .iter()
        .map(|r| RelPath::parse(r))
        .collect::<Result<Vec<_>>>()?;
    let states = ws.rechecks(&parsed);
    let mut batch = blobs.batch();
    let mut out = Vec::with_capacity(rels.len());
    for (rel, st) in parsed.iter().zip(states) {
        let st = st?;
        let st = match st {
            State::File { sha256, mode } if !blobs.contains(&sha256) => {
                let dir = ws.open_dir(rel.parent().as_ref())?;
                let f = open_regular(&dir, rel.file_name())
                    .map_err(|e| Error::io(format!("reading {rel}"), e))?;
                let mode_now = f
                    .metadata()
                    .map(|m| m.mode() & 0o7777)
                    .map_err(|e| Error::io(format!("reading {rel}"), e))?;
                let (got, _) = batch.put_reader(f)?;
                if got == sha256 {
                    State::File { sha256, mode }
                } else {
                    // It changed between the hash and the copy: what was stored is what
                    // it held.
                    State::File {
                        sha256: got,
                        mode: mode_now,
                    }
                }
            }
            other => other,
        };
        out.push(st);
    }
    batch.commit(&|_| true)?;
    ws.save_hashes();
    Ok(out)
}

/// The snapshot of one step: every file and folder it can change (see the module
/// documentation), with file contents stored.
pub fn snapshot(
    ws: &Workspace,
    blobs: &BlobStore,
    step: &ExecStep,
) -> Result<BTreeMap<String, State>> {
    let scanned = scan(&ws.root)?;
    let g = globs(step, &scanned)?;
    let reach = reach(&ws.root, &g, &scanned);
    let shown = step.run.join(" ");
    let mut out = BTreeMap::new();
    let mut files = Vec::new();
    for (rel, seen) in scanned {
        let declared = matches(&g, &rel);
        if !declared && !in_reach(&reach, &rel) {
            continue;
        }
        match seen {
            Seen::Dir { .. } => {
                out.insert(rel, State::Dir);
            }
            Seen::File { .. } => files.push(rel),
            Seen::Other { mode, .. } if declared => {
                return Err(Error::failed(format!(
                    "exec {shown:?} may change {rel} (its `touches` match it), which is {}; autonomy never opens fifos, sockets or devices and does not follow symlinks, so it cannot keep or restore it",
                    kind_name(mode)
                ))
                .hint(format!("remove {rel} or narrow the step's `touches`, then apply again")));
            }
            // Outside `touches`: never opened; any change to it fails the step.
            Seen::Other { .. } => {}
        }
    }
    let states = capture_many(ws, blobs, &files)?;
    out.extend(files.into_iter().zip(states));
    Ok(out)
}

/// What one step did.
pub struct StepRun {
    pub metrics: serde_json::Value,
    pub output_blob: Option<String>,
    /// Every change autonomy can describe, declared or not, as `before -> after`: what the
    /// run journals at once and what undo reverses.
    pub observed: Vec<Change>,
    /// The changes inside `touches`: the step's record when the run commits.
    pub changes: Vec<Change>,
    /// Non-regular files (FIFOs, sockets, devices, symlinks) the command created, which
    /// undo removes without opening them.
    pub created_special: Vec<String>,
    /// Changed paths whose old state autonomy does not have (outside the snapshot).
    pub unrestorable: Vec<String>,
    /// Why the step failed, if it did (the command's status, an undeclared change, a
    /// denied path, an interrupt).
    pub failure: Option<Error>,
}

/// The folders and files Landlock may open for writing (see `paths::writable`): the
/// literal prefix of each glob, never a state folder, a nested workspace, a symlink, or a
/// path in `keep_out`.
fn writable_dirs(
    root: &Path,
    globs: &Globs,
    scanned: &BTreeMap<String, Seen>,
    keep_out: &[String],
) -> Vec<PathBuf> {
    let nested = nested_workspaces(scanned.keys().map(String::as_str));
    crate::paths::writable::writable_roots(root, globs, &nested, keep_out)
}

/// The policy files a command's globs cannot reach by name: kept out of its writable set.
fn policy_keep_out(rules: &Rules, globs: &Globs) -> Vec<String> {
    [crate::paths::RULES_FILE, rules.allowed_signers.as_str()]
        .into_iter()
        .filter(|p| !globs.covers(p))
        .map(str::to_string)
        .collect()
}

/// The command line to run: `run[0]` replaced by the absolute program recorded in the
/// plan (checked again: it must still be an executable outside the workspace).
fn argv_of(ws: &Workspace, step: &ExecStep) -> Result<Vec<String>> {
    let program = step.program.as_deref().ok_or_else(|| {
        Error::failed(format!(
            "exec {:?} has no recorded program (planned by an older autonomy)",
            step.run.first().map_or("", String::as_str)
        ))
        .hint("plan it again")
    })?;
    crate::plan::exec_check::check_program(program, &ws.root)?;
    let mut argv = step.run.clone();
    argv[0] = program.to_string();
    Ok(argv)
}

/// `PATH` for a child: the invoker's, without relative entries or entries in the workspace.
fn child_path(ws: &Workspace) -> (String, String) {
    let p = crate::plan::exec_check::child_path(std::env::var_os("PATH").as_deref(), &ws.root);
    ("PATH".into(), p.to_string_lossy().into_owned())
}

/// Private namespaces where the kernel allows them (else Landlock and the scan): the
/// workspace stays visible read-only wherever it lives, so do nested workspaces' state
/// folders even inside a writable folder, and the lock is out of reach.
fn isolation(ws: &Workspace, scan: &BTreeMap<String, Seen>) -> Isolation {
    let mut visible = vec![ws.root.clone()];
    for (rel, seen) in scan {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if matches!(seen, Seen::Dir { .. }) && name == STATE_DIR {
            visible.push(ws.root.join(rel));
        }
    }
    Isolation {
        mode: IsolationMode::Preferred,
        visible,
        masked: vec![ws.state_path().join("lock")],
    }
}

/// The folders the verify command may write: those a `writes` pattern covers entirely
/// (`target/**`, `**/__pycache__/**`; `**` is every top-level entry but `.autonomy/`).
/// A pattern that names files (`*.log`) opens nothing, so that everything the command
/// can write is declared: there is never an undeclared write to undo.
fn covered_dirs(
    root: &Path,
    writes: &[String],
    scan: &BTreeMap<String, Seen>,
) -> Result<Vec<PathBuf>> {
    let mut found: BTreeSet<&String> = BTreeSet::new();
    for w in writes {
        let w = w.trim_start_matches('/');
        if w == "**" {
            found.extend(scan.keys().filter(|rel| !rel.contains('/')));
            continue;
        }
        let Some(prefix) = w.strip_suffix("/**") else {
            continue;
        };
        let g = compile_glob(prefix)?;
        found.extend(
            scan.iter()
                .filter(|(rel, seen)| matches!(seen, Seen::Dir { .. }) && g.is_match(rel.as_str()))
                .map(|(rel, _)| rel),
        );
    }
    // Only the outermost of nested folders.
    let list: Vec<&String> = found.iter().copied().collect();
    Ok(list
        .iter()
        .filter(|rel| !list.iter().any(|o| rel.starts_with(&format!("{o}/"))))
        .map(|rel| root.join(rel))
        .collect())
}

/// Run one step. `before` is its journaled snapshot; `cancel` is the run's interrupt flag
/// (the command's process group is killed when it is set). An `Err` means the command
/// did not run, or what it did could not be observed; otherwise the result says what it
/// changed and whether the step failed.
pub fn run_step(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    step: &ExecStep,
    before: &BTreeMap<String, State>,
    sink: &mut dyn Write,
    cancel: &AtomicBool,
) -> Result<StepRun> {
    crate::plan::exec_check::check_step(rules, step, &ws.root)?;
    let scan_before = scan(&ws.root)?;
    let g = globs(step, &scan_before)?;
    let isolation = isolation(ws, &scan_before);
    let tmp = tempfile::Builder::new()
        .prefix("autonomy-exec-")
        .tempdir()
        .map_err(|e| Error::io("creating a temp folder", e))?;
    let mut writable = writable_dirs(&ws.root, &g, &scan_before, &policy_keep_out(rules, &g));
    writable.push(tmp.path().to_path_buf());
    let mut env: Vec<(String, String)> = step
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(child_path(ws));
    if !step.env.contains_key("TMPDIR") {
        env.push(("TMPDIR".into(), tmp.path().display().to_string()));
    }
    let cwd = if step.cwd.is_empty() {
        ws.root.clone()
    } else {
        // A real folder inside the workspace, with no symlink on the way.
        let rel = RelPath::parse(&step.cwd)?;
        ws.open_dir(Some(&rel)).map_err(|e| {
            Error::failed(format!(
                "exec cwd {rel} is not a folder inside the workspace: {}",
                e.message
            ))
        })?;
        ws.root.join(rel.as_str())
    };
    let spec = ExecSpec {
        argv: argv_of(ws, step)?,
        cwd,
        env,
        timeout: Duration::from_millis(step.timeout_ms),
        max_output_bytes: rules.exec_max_output()?,
        memory_limit: rules
            .exec
            .max_memory
            .as_deref()
            .map(crate::policy::rules::parse_size)
            .transpose()?,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: false,
        isolation,
    };
    let shown = shell_words::join(&step.run);
    let outcome = crate::exec::run_cancellable(&spec, sink, cancel)
        .map_err(|e| Error::failed(format!("exec `{shown}`: {e}")))?;
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
        "isolated": outcome.isolated,
    });
    let status_err = if cancel.load(Ordering::Relaxed) {
        Some(Error::failed(format!(
            "exec {shown:?} was stopped: the run was interrupted by a signal (its process group was killed)"
        )))
    } else {
        match outcome.status {
            ExitKind::Exited(0) => None,
            other => Some(Error::failed(format!(
                "exec {shown:?} failed ({})",
                crate::exec::describe(other)
            ))),
        }
    };
    let scan_after = scan(&ws.root)?;
    let mut run = observe(
        ws,
        blobs,
        rules,
        step,
        &g,
        before,
        &scan_before,
        &scan_after,
    )?;
    run.metrics = metrics;
    run.output_blob = output_blob;
    // The command's own failure comes first; an undeclared change is named either way.
    run.failure = match (status_err, run.failure.take()) {
        (Some(a), Some(b)) => Some(Error::failed(format!("{}\n{}", a.message, b.message))),
        (a, b) => a.or(b),
    };
    Ok(run)
}

/// Compare the scans around a step and describe every change (see [`StepRun`]).
#[allow(clippy::too_many_arguments)]
fn observe(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    step: &ExecStep,
    g: &Globs,
    before: &BTreeMap<String, State>,
    scan_before: &BTreeMap<String, Seen>,
    scan_after: &BTreeMap<String, Seen>,
) -> Result<StepRun> {
    let shown = step.run.join(" ");
    let mut undeclared = Vec::new();
    let mut special = Vec::new();
    let mut created_special = Vec::new();
    let mut unrestorable = Vec::new();
    // Files present after the step whose change is to be described (declared ones get
    // their content stored: the run's record needs it).
    let mut declared_files = Vec::new();
    let mut other_files = Vec::new();
    let mut dir_changes: Vec<(String, State, State)> = Vec::new();
    let mut gone_files: Vec<String> = Vec::new();
    let keys: BTreeSet<&String> = scan_before.keys().chain(scan_after.keys()).collect();
    for p in keys {
        let (b, a) = (scan_before.get(p), scan_after.get(p));
        if b == a {
            continue;
        }
        let declared = matches(g, p);
        let file_like = |s: Option<&Seen>| matches!(s, None | Some(Seen::File { .. }));
        match (b, a) {
            (_, Some(Seen::Other { mode, .. })) => {
                special.push(format!("  {p} is now {}", kind_name(*mode)));
                if b.is_none() {
                    created_special.push(p.clone());
                } else {
                    unrestorable.push(p.clone());
                }
            }
            (Some(Seen::Other { mode, .. }), _) => {
                special.push(format!("  {p} was {}", kind_name(*mode)));
                unrestorable.push(p.clone());
            }
            _ if file_like(b) && file_like(a) => {
                if !declared {
                    undeclared.push(p.clone());
                }
                if b.is_some() && !before.contains_key(p) {
                    // Changed, but its old content was never kept (outside the reach).
                    unrestorable.push(p.clone());
                    continue;
                }
                match a {
                    Some(_) if declared => declared_files.push(p.clone()),
                    Some(_) => other_files.push(p.clone()),
                    None => gone_files.push(p.clone()),
                }
            }
            (None, Some(Seen::Dir { .. })) => {
                let inside = |f: &String| {
                    f.starts_with(p.as_str()) && f.as_bytes().get(p.len()) == Some(&b'/')
                };
                let holds_declared = scan_after
                    .iter()
                    .any(|(f, s)| matches!(s, Seen::File { .. }) && inside(f) && matches(g, f));
                if !(declared || holds_declared) {
                    undeclared.push(p.clone());
                }
                dir_changes.push((p.clone(), State::Absent, State::Dir));
            }
            (Some(Seen::Dir { .. }), None) => {
                undeclared.push(p.clone());
                dir_changes.push((p.clone(), State::Dir, State::Absent));
            }
            (Some(Seen::Dir { .. }), Some(Seen::Dir { .. })) => {
                // Its mode, owner or identity changed: never declarable, not restorable.
                undeclared.push(p.clone());
                unrestorable.push(p.clone());
            }
            _ => {
                // A file became a folder or the other way round.
                undeclared.push(p.clone());
                let bs = if matches!(b, Some(Seen::Dir { .. })) {
                    Some(State::Dir)
                } else {
                    before.get(p).cloned()
                };
                match bs {
                    Some(bs) if matches!(a, Some(Seen::Dir { .. })) => {
                        dir_changes.push((p.clone(), bs, State::Dir));
                    }
                    Some(bs) => {
                        let after = ws.state(&RelPath::parse(p)?)?;
                        dir_changes.push((p.clone(), bs, after));
                    }
                    None => unrestorable.push(p.clone()),
                }
            }
        }
    }
    let mut observed = Vec::new();
    let mut changes = Vec::new();
    let declared_states = capture_many(ws, blobs, &declared_files)?;
    let other_rels = other_files
        .iter()
        .map(|r| RelPath::parse(r))
        .collect::<Result<Vec<_>>>()?;
    let other_states = ws.rechecks(&other_rels);
    let file_afters = declared_files
        .iter()
        .zip(declared_states.into_iter().map(Ok))
        .chain(other_files.iter().zip(other_states))
        .chain(gone_files.iter().map(|p| (p, Ok(State::Absent))));
    let mut denied = None;
    for (p, after) in file_afters {
        let after = after?;
        let b = before.get(p).cloned().unwrap_or(State::Absent);
        if after == b {
            continue;
        }
        let c = Change {
            path: p.clone(),
            before: b,
            after,
            from: None,
        };
        if matches(g, p) {
            if denied.is_none()
                && let Some(rule) = rules.rules.iter().find(|r| r.deny && r.matches(p))
            {
                denied = Some(Error::failed(format!(
                    "exec {shown:?} changed {p}, which rule {:?} denies",
                    rule.name
                )));
            }
            changes.push(c.clone());
        }
        observed.push(c);
    }
    for (p, b, a) in dir_changes {
        let c = Change {
            path: p.clone(),
            before: b,
            after: a,
            from: None,
        };
        if c.before == State::Absent && c.after == State::Dir && !undeclared.contains(&p) {
            changes.push(c.clone());
        }
        observed.push(c);
    }
    // Folders first (outermost first), as a plan records them.
    changes.sort_by_key(|c| (c.after != State::Dir, c.path.matches('/').count()));
    let mut problems = Vec::new();
    if !undeclared.is_empty() {
        let list: Vec<String> = undeclared
            .iter()
            .take(20)
            .map(|p| format!("  {p}"))
            .collect();
        problems.push(format!(
            "exec `{shown}` changed paths outside its declared `touches`:\n{}",
            list.join("\n")
        ));
    }
    if !special.is_empty() {
        problems.push(format!(
            "exec {shown:?} changed the kind of paths to or from something autonomy never opens (a fifo, socket, device or symlink):\n{}",
            special.join("\n")
        ));
    }
    let failure = if problems.is_empty() {
        denied
    } else {
        Some(Error::failed(problems.join("\n")).hint(
            "declare every path the command writes in `touches`, or keep it from writing there",
        ))
    };
    Ok(StepRun {
        metrics: serde_json::Value::Null,
        output_blob: None,
        observed,
        changes,
        created_special,
        unrestorable,
        failure,
    })
}

/// One path a step may have changed: its snapshot, and what the step left there when that
/// is known (`None`: the step was interrupted while running).
#[derive(Debug, Clone)]
pub struct Undo {
    pub path: String,
    pub before: State,
    pub after: Option<State>,
}

/// The undo list of an interrupted step whose `after` is unknown: every path of its
/// snapshot, and every path now within its reach that the snapshot lacks (so `before` is
/// absent).
pub fn unknown_after(
    ws: &Workspace,
    step: &ExecStep,
    snapshot: &BTreeMap<String, State>,
) -> Result<Vec<Undo>> {
    let scanned = scan(&ws.root)?;
    let g = globs(step, &scanned)?;
    let reach = reach(&ws.root, &g, &scanned);
    let mut out: Vec<Undo> = snapshot
        .iter()
        .map(|(p, s)| Undo {
            path: p.clone(),
            before: s.clone(),
            after: None,
        })
        .collect();
    for (p, _) in scan(&ws.root)? {
        if (matches(&g, &p) || in_reach(&reach, &p)) && !snapshot.contains_key(&p) {
            out.push(Undo {
                path: p,
                before: State::Absent,
                after: None,
            });
        }
    }
    Ok(out)
}

/// What [`undo`] did.
#[derive(Debug, Default)]
pub struct Undone {
    pub restored: Vec<String>,
    /// Paths left as they are, with why (a folder that is not empty, ...).
    pub left: Vec<String>,
    /// Overwritten contents kept in the store: (path, sha256).
    pub kept: Vec<(String, String)>,
}

/// What a path holds now, for undo: a plan state, or a description of something autonomy
/// does not open (a FIFO, socket, device or symlink).
fn now_state(ws: &Workspace, rel: &RelPath) -> Result<std::result::Result<State, String>> {
    match ws.lstat(rel) {
        Ok(Some(m)) if !m.is_file() && !m.is_dir() => {
            return Ok(Err(
                kind_name(cap_std::fs::MetadataExt::mode(&m)).to_string()
            ));
        }
        Err(e) if e.message.contains("symbolic link") => {
            return Ok(Err("a symbolic link".to_string()));
        }
        _ => {}
    }
    Ok(Ok(ws.state(rel)?))
}

/// Put the paths of one step back, deciding each by what it holds now: `before` is left,
/// a known `after` is put back to `before`, anything else is a conflict. Every path is
/// checked before anything changes; conflicts stop with exit 4 naming them all, unless
/// `overwrite`, in which case the current content is stored (and listed in
/// [`Undone::kept`]) and the path restored all the same. `tmp` names temp files (the
/// run's token and the step; recovery removes leftovers by that prefix). `specials` are
/// non-regular files the step created (removed without being opened).
pub fn undo(
    ws: &Workspace,
    blobs: &BlobStore,
    list: &[Undo],
    specials: &[String],
    tmp: &str,
    overwrite: bool,
    shown: &str,
) -> Result<Undone> {
    let mut done = Undone::default();
    let mut todo: Vec<(&Undo, std::result::Result<State, String>)> = Vec::new();
    let mut conflicts = Vec::new();
    for u in list {
        let rel = RelPath::parse(&u.path)?;
        let now = now_state(ws, &rel)?;
        match &now {
            Ok(n) if *n == u.before => continue,
            Ok(n) if Some(n) == u.after.as_ref() => {}
            _ if overwrite => {
                if let Ok(State::File { .. }) = &now {
                    let dir = ws.open_dir(rel.parent().as_ref())?;
                    let f = open_regular(&dir, rel.file_name())
                        .map_err(|e| Error::io(format!("reading {rel}"), e))?;
                    let (h, _) = blobs.put_reader(f)?;
                    done.kept.push((u.path.clone(), h));
                }
            }
            _ => {
                let found = match &now {
                    Ok(s) => s.describe(),
                    Err(kind) => kind.clone(),
                };
                let why = if u.after.is_none() {
                    "written while the command was running when the run was interrupted (what it wrote is not known)"
                } else {
                    "neither as before the command nor as it left it"
                };
                conflicts.push(format!(
                    "  {}: {why}; found {found}, before it was {}",
                    u.path,
                    u.before.describe()
                ));
                continue;
            }
        }
        todo.push((u, now));
    }
    if !conflicts.is_empty() {
        return Err(Error::stale(format!(
            "cannot put back what exec {shown:?} changed: {} hold content autonomy does not recognise, and it will not overwrite them:\n{}",
            crate::util::text::count(conflicts.len() as u64, "path"),
            conflicts.join("\n")
        ))
        .hint("put each back by hand (or keep your version and make its snapshot state true), then run `autonomy recover` again; `autonomy recover --overwrite` puts the snapshot back anyway, keeping the current contents in .autonomy/objects (listed in the journal)"));
    }
    for p in specials {
        let rel = RelPath::parse(p)?;
        let dir = ws.open_dir(rel.parent().as_ref())?;
        match dir.symlink_metadata(rel.file_name()) {
            Ok(m) if !m.is_file() && !m.is_dir() => {
                dir.remove_file(rel.file_name())
                    .map_err(|e| Error::io(format!("removing {rel}"), e))?;
                done.restored.push(p.clone());
            }
            _ => {}
        }
    }
    let depth = |p: &str| p.matches('/').count();
    let is_dir = |s: &std::result::Result<State, String>| matches!(s, Ok(State::Dir));
    // 1. Files and other non-folders where `before` holds no file: removed.
    for (u, now) in &todo {
        if !is_dir(now)
            && !matches!(now, Ok(State::Absent))
            && !matches!(u.before, State::File { .. })
        {
            let rel = RelPath::parse(&u.path)?;
            let dir = ws.open_dir(rel.parent().as_ref())?;
            dir.remove_file(rel.file_name())
                .map_err(|e| Error::io(format!("removing {rel}"), e))?;
            super::fsops::sync(&dir)
                .map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
            done.restored.push(u.path.clone());
        }
    }
    // 2. Folders that were not there before: removed when empty, innermost first.
    let mut rm: Vec<&(&Undo, _)> = todo
        .iter()
        .filter(|(u, now)| is_dir(now) && u.before != State::Dir)
        .collect();
    rm.sort_by_key(|(u, _)| std::cmp::Reverse(depth(&u.path)));
    for (u, _) in rm {
        match std::fs::remove_dir(ws.root.join(&u.path)) {
            Ok(()) => done.restored.push(u.path.clone()),
            Err(e) => done
                .left
                .push(format!("{} (a folder the command made: {e})", u.path)),
        }
    }
    // 3. Folders that were there before: made again, outermost first.
    let mut mk: Vec<&(&Undo, _)> = todo
        .iter()
        .filter(|(u, now)| u.before == State::Dir && !is_dir(now))
        .collect();
    mk.sort_by_key(|(u, _)| depth(&u.path));
    for (u, _) in mk {
        let rel = RelPath::parse(&u.path)?;
        let dir = ws.open_dir(rel.parent().as_ref())?;
        dir.create_dir(rel.file_name())
            .map_err(|e| Error::io(format!("restoring folder {rel}"), e))?;
        super::fsops::sync(&dir)
            .map_err(|e| Error::io(format!("syncing the folder of {rel}"), e))?;
        done.restored.push(u.path.clone());
    }
    // 4. Files that were there before: their snapshot content, by rename.
    let mut n = 0usize;
    for (u, _) in &todo {
        if let State::File { .. } = &u.before {
            let rel = RelPath::parse(&u.path)?;
            n += 1;
            put_state(ws, blobs, &rel, &u.before, &format!("{tmp}-{n}"), None)?;
            done.restored.push(u.path.clone());
        }
    }
    Ok(done)
}

/// The undo list of a step whose observed changes are known.
pub fn undo_list(observed: &[Change]) -> Vec<Undo> {
    observed
        .iter()
        .map(|c| Undo {
            path: c.path.clone(),
            before: c.before.clone(),
            after: Some(c.after.clone()),
        })
        .collect()
}

/// The temp-name prefix for restores of step `k` of a run with temp token `token`.
pub fn restore_tmp(token: &str, k: usize) -> String {
    format!("{TEMP_PREFIX}{token}-x{k}")
}

/// Whether the verify command may never change `path` for this plan: the policy files,
/// a path a `deny` rule covers, and a path covered by a rule with paths that the plan did
/// not fall under (so its approvals were never asked for). Letters compare without case.
fn verify_protected<'a>(rules: &'a Rules, plan: &'a Plan) -> impl Fn(&str) -> bool + 'a {
    let unmet: Vec<&crate::policy::rules::Rule> = rules
        .rules
        .iter()
        .filter(|r| r.paths.is_some() && (r.deny || !r.applies_to(plan)))
        .collect();
    move |p: &str| {
        crate::model::plan::is_policy_path(p, &rules.allowed_signers)
            || unmet.iter().any(|r| r.matches(p))
    }
}

/// The literal prefixes of the protected paths, kept out of the verify command's
/// writable set so that the kernel refuses its writes there.
fn verify_keep_out(rules: &Rules, plan: &Plan) -> Vec<String> {
    let mut out = vec![
        crate::paths::RULES_FILE.to_string(),
        rules.allowed_signers.clone(),
    ];
    for r in rules.rules.iter().filter(|r| r.deny || !r.applies_to(plan)) {
        for (pattern, _) in r.paths.iter().flatten() {
            out.extend(crate::paths::writable::literal_prefix(pattern));
        }
    }
    out
}

/// A temp-file name for putting back a file the verify command changed.
fn put_back_tmp() -> String {
    format!("{TEMP_PREFIX}{}-v", super::fsops::new_token())
}

/// One file's state, its content kept in the store.
fn capture_file(ws: &Workspace, blobs: &BlobStore, rel: &str) -> Result<State> {
    capture_many(ws, blobs, &[rel.to_string()])?
        .pop()
        .ok_or_else(|| Error::failed(format!("reading {rel}: nothing was read")))
}

/// Create the literal output folders `writes` names (`target/**` makes `target/`), as the
/// build would on its first run: only folders a pattern covers entirely are writable to
/// the command, so one that does not exist yet could never be written. Each component is
/// created and opened beneath the workspace without following a symlink.
fn create_output_dirs(
    ws: &Workspace,
    writes: &[String],
    protected: &dyn Fn(&str) -> bool,
) -> Result<()> {
    use cap_fs_ext::DirExt;
    for w in writes {
        let Some(prefix) = w.trim_start_matches('/').strip_suffix("/**") else {
            continue;
        };
        if prefix.contains(['*', '?', '[', '{', '\\']) || protected(prefix) {
            continue;
        }
        let Ok(rel) = RelPath::parse(prefix) else {
            continue;
        };
        let mut dir = ws.open_dir(None)?;
        for name in rel.as_str().split('/') {
            match dir.create_dir(name) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::io(
                        format!("creating the verify output folder {rel}"),
                        e,
                    ));
                }
            }
            dir = dir.open_dir_nofollow(name).map_err(|e| {
                Error::io(
                    format!("opening the verify output folder {rel} (a symlink is never followed)"),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

/// Run the workspace's `[verify]` command after every step, before the commit. Its writes
/// are confined to `writes` (build output, not part of the plan), which never include a
/// state folder, a nested workspace, the policy files, or a path the rules protect beyond
/// what this plan was approved for (`verify_protected`): Landlock keeps the literal ones
/// out, and an exact scan before and after catches the rest. A change outside `writes`
/// fails the run; a protected file it changed is put back from a copy taken before it ran.
/// Returns its metrics; an error rolls the whole run back. `cancel` is the run's
/// interrupt flag.
pub fn run_verify(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    plan: &Plan,
    written: &[Change],
    sink: &mut dyn Write,
    cancel: &AtomicBool,
) -> Result<Option<serde_json::Value>> {
    let Some(v) = &rules.verify else {
        return Ok(None);
    };
    let timeout = match &v.timeout {
        Some(t) => crate::policy::rules::parse_duration(t)?,
        None => Duration::from_secs(600),
    };
    let writes = Globs::new(&v.writes)
        .map_err(|e| Error::failed(format!("autonomy.toml: [verify] writes: {}", e.message)))?;
    // A name is looked up in PATH without its relative entries (never a program a plan
    // wrote); a path the rules name (`./ci/check.sh`) is theirs to choose.
    let program = if v.run[0].contains('/') {
        v.run[0].clone()
    } else {
        crate::plan::exec_check::resolve_program(
            &v.run[0],
            std::env::var_os("PATH").as_deref(),
            &ws.root,
        )
        .map_err(|e| Error::failed(format!("the verify command: {}", e.message)))?
    };
    let protected = verify_protected(rules, plan);
    create_output_dirs(ws, &v.writes, &protected)?;
    let scan_before = scan(&ws.root)?;
    let writes = writes.excluding(nested_workspaces(scan_before.keys().map(String::as_str)));
    // Copies of the protected files, to put back whatever the command changes among them.
    let mut kept: BTreeMap<String, State> = BTreeMap::new();
    for (p, seen) in &scan_before {
        if matches!(seen, Seen::File { .. }) && protected(p) {
            kept.insert(p.clone(), capture_file(ws, blobs, p)?);
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("autonomy-verify-")
        .tempdir()
        .map_err(|e| Error::io("creating a temp folder", e))?;
    // The kernel lets it write only folders a `writes` pattern covers entirely, less any
    // that hold a protected path or a nested workspace; the scan below catches the rest.
    let keep_out = verify_keep_out(rules, plan);
    let mut writable: Vec<PathBuf> = covered_dirs(&ws.root, &v.writes, &scan_before)?
        .into_iter()
        .filter(|dir| {
            let rel = dir
                .strip_prefix(&ws.root)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            let under = format!("{rel}/");
            !protected(&rel)
                && !keep_out.iter().any(|k| k == &rel || k.starts_with(&under))
                && !scan_before.iter().any(|(p, seen)| {
                    p.starts_with(&under)
                        && (protected(p)
                            || (matches!(seen, Seen::Dir { .. })
                                && p.rsplit('/').next() == Some(STATE_DIR)))
                })
        })
        .collect();
    writable.push(tmp.path().to_path_buf());
    let mut argv = v.run.clone();
    argv[0] = program;
    let spec = ExecSpec {
        argv,
        cwd: ws.root.clone(),
        env: vec![
            child_path(ws),
            ("TMPDIR".into(), tmp.path().display().to_string()),
        ],
        timeout,
        max_output_bytes: rules.exec_max_output()?,
        memory_limit: rules
            .exec
            .max_memory
            .as_deref()
            .map(crate::policy::rules::parse_size)
            .transpose()?,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: false,
        isolation: isolation(ws, &scan_before),
    };
    let shown = shell_words::join(&v.run);
    let outcome = crate::exec::run_cancellable(&spec, sink, cancel)
        .map_err(|e| Error::failed(format!("verify command `{shown}`: {e}")))?;
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::failed(format!(
            "the verify command `{shown}` was stopped: the run was interrupted by a signal"
        )));
    }
    let output_blob = if outcome.kept_output.is_empty() {
        None
    } else {
        Some(blobs.put(&outcome.kept_output)?)
    };
    let metrics = serde_json::json!({
        "argv": v.run, "wall_ms": outcome.wall.as_millis() as u64,
        "user_ms": outcome.user_cpu.as_millis() as u64, "sys_ms": outcome.sys_cpu.as_millis() as u64,
        "max_rss_kib": outcome.max_rss_kib, "output_blob": output_blob, "output_truncated": outcome.output_truncated,
        "confined": outcome.confined, "isolated": outcome.isolated,
    });
    // What it changed that it may not: outside `writes`, or protected.
    let scan_after = scan(&ws.root)?;
    let keys: BTreeSet<&String> = scan_before.keys().chain(scan_after.keys()).collect();
    let mut refused = Vec::new();
    for p in keys {
        let (b, a) = (scan_before.get(p), scan_after.get(p));
        if b == a {
            continue;
        }
        let declared = match (b, a) {
            // A folder made for output (`__pycache__`): fine where outputs may go.
            (None, Some(Seen::Dir { .. })) => writes.covers(p) || writes.might_cover_under(p),
            _ => writes.covers(p),
        };
        if !declared || protected(p) {
            refused.push(p.clone());
        }
    }
    if !refused.is_empty() {
        let mut restored = Vec::new();
        for p in &refused {
            let rel = RelPath::parse(p)?;
            match (kept.get(p), scan_before.get(p)) {
                (Some(state), _) => put_state(ws, blobs, &rel, state, &put_back_tmp(), None)?,
                (None, None) if protected(p) => {
                    if let Some(Seen::File { .. }) = scan_after.get(p) {
                        put_state(ws, blobs, &rel, &State::Absent, &put_back_tmp(), None)?;
                    }
                }
                _ => continue,
            }
            restored.push(p.as_str());
        }
        let list: Vec<String> = refused
            .iter()
            .take(20)
            .map(|p| {
                let why = match (protected(p), restored.contains(&p.as_str())) {
                    (true, true) => "protected beyond this plan's approvals; put back",
                    (true, false) => "protected beyond this plan's approvals",
                    (false, _) => "outside its declared `writes`",
                };
                format!("  {p} ({why})")
            })
            .collect();
        return Err(Error::failed(format!(
            "the verify command {shown:?} changed paths it may not change:\n{}",
            list.join("\n")
        ))
        .hint("keep the verify command's writes inside [verify] writes, away from the rules, the signers file and paths that need more approvals"));
    }
    if outcome.status != ExitKind::Exited(0) {
        return Err(Error::failed(format!(
            "the verify command `{shown}` failed ({}); the workspace is not left in a state its own checks reject",
            crate::exec::describe(outcome.status)
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
