//! The workspace's `[verify]` command, run after every step and before the commit: its
//! writes confined to `writes` (build output), everything it changed checked against
//! what it may change, protected files it changed put back.

use super::scan::{Seen, capture_file, scan};
use super::{child_path, isolation};
use crate::engine::fsops::{TEMP_PREFIX, new_token, put_state};
use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecOutcome, ExecSpec, ExitKind};
use crate::model::{Change, Plan, State};
use crate::paths::{Globs, RelPath, STATE_DIR, nested_workspaces};
use crate::policy::rules::{Rules, VerifySection, compile_glob};
use crate::store::blobs::BlobStore;
use crate::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    format!("{TEMP_PREFIX}{}-v", new_token())
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
    let (program, timeout) = verify_program(ws, v)?;
    let writes = Globs::new(&v.writes)
        .map_err(|e| Error::failed(format!("autonomy.toml: [verify] writes: {}", e.message)))?;
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
    let mut writable = verify_writable(ws, rules, plan, v, &protected, &scan_before)?;
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
        memory_limit: rules.exec_memory_limit()?,
        confinement: Confinement::ReadOnlyExcept {
            read_write: writable,
        },
        confinement_required: false,
        isolation: isolation(ws, &scan_before),
        network: crate::exec::Network::None,
    };
    let shown = shell_words::join(&v.run);
    let outcome = crate::exec::run_cancellable(&spec, sink, cancel)
        .map_err(|e| Error::failed(format!("verify command `{shown}`: {e}")))?;
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::failed(format!(
            "the verify command `{shown}` was stopped: the run was interrupted by a signal"
        )));
    }
    let metrics = verify_metrics(blobs, v, &outcome)?;
    // What it changed that it may not: outside `writes`, or protected.
    let scan_after = scan(&ws.root)?;
    let refused = refused(&writes, &protected, &scan_before, &scan_after);
    if !refused.is_empty() {
        let scans = (&scan_before, &scan_after);
        return Err(put_back_refused(
            ws, blobs, &shown, &refused, &kept, &protected, scans,
        ));
    }
    if outcome.status != ExitKind::Exited(0) {
        return Err(Error::failed(format!(
            "the verify command `{shown}` failed ({}); the workspace is not left in a state its own checks reject",
            crate::exec::describe(outcome.status)
        ))
        .hint("see its output above (also kept in the journal); fix the plan and apply again"));
    }
    check_written(ws, &shown, written)?;
    Ok(Some(metrics))
}

/// Every path the run wrote still holds what it wrote: the verify command may not change
/// the plan's work.
fn check_written(ws: &Workspace, shown: &str, written: &[Change]) -> Result<()> {
    for c in written {
        let rel = RelPath::parse(&c.path)?;
        if ws.state(&rel)? != c.after {
            return Err(Error::failed(format!(
                "the verify command `{shown}` changed {}, which the run wrote",
                c.path
            )));
        }
    }
    Ok(())
}

/// The verify command's program (a name looked up in `PATH`) and its time limit.
fn verify_program(ws: &Workspace, v: &VerifySection) -> Result<(String, Duration)> {
    let timeout = match &v.timeout {
        Some(t) => crate::policy::rules::parse_duration(t)?,
        None => Duration::from_secs(600),
    };
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
    Ok((program, timeout))
}

/// The folders the verify command may write: those a `writes` pattern covers entirely,
/// less any that hold a protected path or a nested workspace.
fn verify_writable(
    ws: &Workspace,
    rules: &Rules,
    plan: &Plan,
    v: &VerifySection,
    protected: &dyn Fn(&str) -> bool,
    scan_before: &BTreeMap<String, Seen>,
) -> Result<Vec<PathBuf>> {
    // The kernel lets it write only folders a `writes` pattern covers entirely, less any
    // that hold a protected path or a nested workspace; the scan catches the rest.
    let keep_out = verify_keep_out(rules, plan);
    let writable: Vec<PathBuf> = covered_dirs(&ws.root, &v.writes, scan_before)?
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
    Ok(writable)
}

/// The verify command's metrics, its output kept in the store.
fn verify_metrics(
    blobs: &BlobStore,
    v: &VerifySection,
    outcome: &ExecOutcome,
) -> Result<serde_json::Value> {
    let output_blob = if outcome.kept_output.is_empty() {
        None
    } else {
        Some(blobs.put(&outcome.kept_output)?)
    };
    Ok(serde_json::json!({
        "argv": v.run, "wall_ms": outcome.wall.as_millis() as u64,
        "user_ms": outcome.user_cpu.as_millis() as u64, "sys_ms": outcome.sys_cpu.as_millis() as u64,
        "max_rss_kib": outcome.max_rss_kib, "output_blob": output_blob, "output_truncated": outcome.output_truncated,
        "confined": outcome.confined, "isolated": outcome.isolated,
    }))
}

/// The paths the command changed that it may not: outside `writes`, or protected.
fn refused(
    writes: &Globs,
    protected: &dyn Fn(&str) -> bool,
    scan_before: &BTreeMap<String, Seen>,
    scan_after: &BTreeMap<String, Seen>,
) -> Vec<String> {
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
    refused
}

/// Put back the protected files among `refused` (from their copies; one the command
/// created is removed), and the error naming every refused path and what became of it.
fn put_back_refused(
    ws: &Workspace,
    blobs: &BlobStore,
    shown: &str,
    refused: &[String],
    kept: &BTreeMap<String, State>,
    protected: &dyn Fn(&str) -> bool,
    (scan_before, scan_after): (&BTreeMap<String, Seen>, &BTreeMap<String, Seen>),
) -> Error {
    let mut restored = Vec::new();
    for p in refused {
        let put = (|| -> Result<bool> {
            let rel = RelPath::parse(p)?;
            match (kept.get(p), scan_before.get(p)) {
                (Some(state), _) => put_state(ws, blobs, &rel, state, &put_back_tmp(), None)?,
                (None, None) if protected(p) => {
                    if let Some(Seen::File { .. }) = scan_after.get(p) {
                        put_state(ws, blobs, &rel, &State::Absent, &put_back_tmp(), None)?;
                    }
                }
                _ => return Ok(false),
            }
            Ok(true)
        })();
        match put {
            Ok(true) => restored.push(p.as_str()),
            Ok(false) => {}
            Err(e) => return e,
        }
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
    Error::failed(format!(
        "the verify command {shown:?} changed paths it may not change:\n{}",
        list.join("\n")
    ))
    .hint("keep the verify command's writes inside [verify] writes, away from the rules, the signers file and paths that need more approvals")
}
