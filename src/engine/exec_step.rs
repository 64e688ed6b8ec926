//! Exec steps inside a run: snapshot every file the step may touch (durably journaled
//! before the command starts), run the command confined (Landlock per directory where the
//! kernel has it), then compare the whole workspace before and after: a change outside
//! `touches` fails the run; the changes inside become part of the run's record, so that
//! rollback and recovery restore them.

use super::fsops::put_state;
use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecSpec, ExitKind, Isolation, IsolationMode};
use crate::paths::{Globs, nested_workspaces};
use crate::plan::{Change, ExecStep, Plan, State};
use crate::rules::{Rules, compile_glob};
use crate::store::blobs::BlobStore;
use crate::workspace::{RelPath, STATE_DIR, Workspace};
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

/// A step's `touches`, checked again (the stored plan is untrusted) and bounded: they
/// never cover a state folder or anything in a nested workspace of `scanned`.
fn globs(step: &ExecStep, scanned: &BTreeMap<String, Seen>) -> Result<Globs> {
    Ok(Globs::new(&step.touches)?.excluding(nested_workspaces(scanned.keys().map(String::as_str))))
}

fn matches(globs: &Globs, path: &str) -> bool {
    globs.covers(path)
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
    let scanned = scan(&ws.root)?;
    let g = globs(step, &scanned)?;
    let mut out = BTreeMap::new();
    for (rel, seen) in scanned {
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
    [crate::workspace::RULES_FILE, rules.allowed_signers.as_str()]
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
        if *seen == Seen::Dir && name == STATE_DIR {
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
                .filter(|(rel, seen)| **seen == Seen::Dir && g.is_match(rel.as_str()))
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
            .map(crate::rules::parse_size)
            .transpose()?,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: false,
        isolation,
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
        "isolated": outcome.isolated,
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
    let now = scan(&ws.root)?;
    let g = globs(step, &now)?;
    let mut restored = Vec::new();
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

/// Whether the verify command may never change `path` for this plan: the policy files,
/// a path a `deny` rule covers, and a path covered by a rule with paths that the plan did
/// not fall under (so its approvals were never asked for). Letters compare without case.
fn verify_protected<'a>(rules: &'a Rules, plan: &'a Plan) -> impl Fn(&str) -> bool + 'a {
    let unmet: Vec<&crate::rules::Rule> = rules
        .rules
        .iter()
        .filter(|r| r.paths.is_some() && (r.deny || !r.applies_to(plan)))
        .collect();
    move |p: &str| {
        crate::plan::model::is_policy_path(p, &rules.allowed_signers)
            || unmet.iter().any(|r| r.matches(p))
    }
}

/// The literal prefixes of the protected paths, kept out of the verify command's
/// writable set so that the kernel refuses its writes there.
fn verify_keep_out(rules: &Rules, plan: &Plan) -> Vec<String> {
    let mut out = vec![
        crate::workspace::RULES_FILE.to_string(),
        rules.allowed_signers.clone(),
    ];
    for r in rules.rules.iter().filter(|r| r.deny || !r.applies_to(plan)) {
        for (pattern, _) in r.paths.iter().flatten() {
            out.extend(crate::paths::writable::literal_prefix(pattern));
        }
    }
    out
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
/// Returns its metrics; an error rolls the whole run back.
pub fn run_verify(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    plan: &Plan,
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
                            || (*seen == Seen::Dir && p.rsplit('/').next() == Some(STATE_DIR)))
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
            .map(crate::rules::parse_size)
            .transpose()?,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: false,
        isolation: isolation(ws, &scan_before),
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
            (None, Some(Seen::Dir)) => writes.covers(p) || writes.might_cover_under(p),
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
                (Some(state), _) => put_state(ws, blobs, &rel, state)?,
                (None, None) if protected(p) => {
                    if let Some(Seen::File { .. }) = scan_after.get(p) {
                        put_state(ws, blobs, &rel, &State::Absent)?;
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
