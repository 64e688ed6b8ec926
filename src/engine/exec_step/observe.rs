//! What an exec step's command did: the scans before and after compared, every change
//! described as `before -> after` (the *observed* changes, which undo reverses), the
//! changes inside `touches` kept as the step's record, and anything it may not do (an
//! undeclared change, a denied path, a FIFO or symlink made or replaced) named.

use super::StepRun;
use super::scan::{Seen, capture_many, is_link, matches};
use crate::error::{Error, Result};
use crate::model::{Change, ExecStep, State};
use crate::paths::{Globs, RelPath};
use crate::policy::rules::Rules;
use crate::store::blobs::BlobStore;
use crate::util::inode::kind_name;
use crate::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet};

/// The changed paths of one step, sorted by what they need.
#[derive(Default)]
struct Sorted {
    /// Changed outside `touches`.
    undeclared: Vec<String>,
    /// Kind changes to or from a FIFO, socket, device or symlink (described).
    special: Vec<String>,
    created_special: Vec<String>,
    unrestorable: Vec<String>,
    /// Files present after the step whose change is to be described (declared ones get
    /// their content stored: the run's record needs it).
    declared_files: Vec<String>,
    other_files: Vec<String>,
    gone_files: Vec<String>,
    dir_changes: Vec<(String, State, State)>,
}

/// Compare the scans around a step and describe every change (see [`StepRun`]).
pub(super) fn observe(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    step: &ExecStep,
    g: &Globs,
    before: &BTreeMap<String, State>,
    scans: (&BTreeMap<String, Seen>, &BTreeMap<String, Seen>),
) -> Result<StepRun> {
    let shown = step.run.join(" ");
    let sorted = sort(ws, g, before, scans.0, scans.1)?;
    let (observed, changes, denied) = describe(ws, blobs, rules, &shown, g, before, &sorted)?;
    let failure = failure(&shown, &sorted, denied);
    Ok(StepRun {
        metrics: serde_json::Value::Null,
        output_blob: None,
        observed,
        changes,
        created_special: sorted.created_special,
        unrestorable: sorted.unrestorable,
        failure,
    })
}

/// Sort every path whose scan differs by what describing it needs.
fn sort(
    ws: &Workspace,
    g: &Globs,
    before: &BTreeMap<String, State>,
    scan_before: &BTreeMap<String, Seen>,
    scan_after: &BTreeMap<String, Seen>,
) -> Result<Sorted> {
    let mut s = Sorted::default();
    let keys: BTreeSet<&String> = scan_before.keys().chain(scan_after.keys()).collect();
    for p in keys {
        let (b, a) = (scan_before.get(p), scan_after.get(p));
        if b == a {
            continue;
        }
        let declared = matches(g, p);
        // Files and links (kept as links, never followed) are put back alike.
        let file_like = |s: Option<&Seen>| match s {
            None | Some(Seen::File { .. }) => true,
            Some(Seen::Other { mode, .. }) => is_link(*mode),
            Some(Seen::Dir { .. }) => false,
        };
        match (b, a) {
            _ if file_like(b) && file_like(a) && (declared || !is_link_seen(a)) => {
                if !declared {
                    s.undeclared.push(p.clone());
                }
                if b.is_some() && !before.contains_key(p) {
                    // Changed, but its old state was never kept (outside the reach).
                    s.unrestorable.push(p.clone());
                    continue;
                }
                match a {
                    Some(_) if declared => s.declared_files.push(p.clone()),
                    Some(_) => s.other_files.push(p.clone()),
                    None => s.gone_files.push(p.clone()),
                }
            }
            (_, Some(Seen::Other { mode, .. })) => {
                s.special.push(format!("  {p} is now {}", kind_name(*mode)));
                if b.is_none() {
                    s.created_special.push(p.clone());
                } else {
                    s.unrestorable.push(p.clone());
                }
            }
            (Some(Seen::Other { mode, .. }), _) => {
                s.special.push(format!("  {p} was {}", kind_name(*mode)));
                s.unrestorable.push(p.clone());
            }
            _ => sort_folder(ws, g, before, scan_after, p, b, a, declared, &mut s)?,
        }
    }
    Ok(s)
}

fn is_link_seen(s: Option<&Seen>) -> bool {
    matches!(s, Some(Seen::Other { mode, .. }) if is_link(*mode))
}

/// A change that involves a folder: made, removed, changed in place, or swapped with a
/// file.
#[allow(clippy::too_many_arguments)]
fn sort_folder(
    ws: &Workspace,
    g: &Globs,
    before: &BTreeMap<String, State>,
    scan_after: &BTreeMap<String, Seen>,
    p: &String,
    b: Option<&Seen>,
    a: Option<&Seen>,
    declared: bool,
    s: &mut Sorted,
) -> Result<()> {
    match (b, a) {
        (None, Some(Seen::Dir { .. })) => {
            let inside =
                |f: &String| f.starts_with(p.as_str()) && f.as_bytes().get(p.len()) == Some(&b'/');
            let holds_declared = scan_after
                .iter()
                .any(|(f, s)| matches!(s, Seen::File { .. }) && inside(f) && matches(g, f));
            if !(declared || holds_declared) {
                s.undeclared.push(p.clone());
            }
            s.dir_changes.push((p.clone(), State::Absent, State::dir()));
        }
        (Some(Seen::Dir { .. }), None) => {
            s.undeclared.push(p.clone());
            let was = before.get(p).cloned().unwrap_or_else(State::dir);
            s.dir_changes.push((p.clone(), was, State::Absent));
        }
        (Some(Seen::Dir { .. }), Some(Seen::Dir { .. })) => {
            // Its mode, owner or identity changed: never declarable, not restorable.
            s.undeclared.push(p.clone());
            s.unrestorable.push(p.clone());
        }
        _ => {
            // A file became a folder or the other way round.
            s.undeclared.push(p.clone());
            let bs = if matches!(b, Some(Seen::Dir { .. })) {
                Some(State::dir())
            } else {
                before.get(p).cloned()
            };
            match bs {
                Some(bs) if matches!(a, Some(Seen::Dir { .. })) => {
                    s.dir_changes.push((p.clone(), bs, State::dir()));
                }
                Some(bs) => {
                    let after = ws.state(&RelPath::parse(p)?)?;
                    s.dir_changes.push((p.clone(), bs, after));
                }
                None => s.unrestorable.push(p.clone()),
            }
        }
    }
    Ok(())
}

/// Every change as `before -> after` (observed), the declared ones (the step's record,
/// folders first as a plan records them), and the first change a `deny` rule covers.
#[allow(clippy::type_complexity)]
fn describe(
    ws: &Workspace,
    blobs: &BlobStore,
    rules: &Rules,
    shown: &str,
    g: &Globs,
    before: &BTreeMap<String, State>,
    s: &Sorted,
) -> Result<(Vec<Change>, Vec<Change>, Option<Error>)> {
    let mut observed = Vec::new();
    let mut changes = Vec::new();
    let declared_states = capture_many(ws, blobs, &s.declared_files)?;
    let other_rels = s
        .other_files
        .iter()
        .map(|r| RelPath::parse(r))
        .collect::<Result<Vec<_>>>()?;
    let other_states = ws.rechecks(&other_rels);
    let file_afters = s
        .declared_files
        .iter()
        .zip(declared_states.into_iter().map(Ok))
        .chain(s.other_files.iter().zip(other_states))
        .chain(s.gone_files.iter().map(|p| (p, Ok(State::Absent))));
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
    for (p, b, a) in &s.dir_changes {
        let c = Change {
            path: p.clone(),
            before: b.clone(),
            after: a.clone(),
            from: None,
        };
        if c.before == State::Absent && c.after.is_dir() && !s.undeclared.contains(p) {
            changes.push(c.clone());
        }
        observed.push(c);
    }
    // Folders first (outermost first), as a plan records them.
    changes.sort_by_key(|c| (!c.after.is_dir(), c.path.matches('/').count()));
    Ok((observed, changes, denied))
}

/// Why the step fails, if it does: undeclared changes and kind changes first, else a
/// denied path.
fn failure(shown: &str, s: &Sorted, denied: Option<Error>) -> Option<Error> {
    let mut problems = Vec::new();
    if !s.undeclared.is_empty() {
        let list: Vec<String> = s
            .undeclared
            .iter()
            .take(20)
            .map(|p| format!("  {p}"))
            .collect();
        problems.push(format!(
            "exec `{shown}` changed paths outside its declared `touches`:\n{}",
            list.join("\n")
        ));
    }
    if !s.special.is_empty() {
        problems.push(format!(
            "exec {shown:?} changed the kind of paths to or from something autonomy never opens (a fifo, socket, device or symlink):\n{}",
            s.special.join("\n")
        ));
    }
    if problems.is_empty() {
        return denied;
    }
    Some(
        Error::failed(problems.join("\n")).hint(
            "declare every path the command writes in `touches`, or keep it from writing there",
        ),
    )
}
