//! Rolling back: find or make the reverse plan of an applied plan (three-way merged with
//! later changes, `--merge` conflicts written out and read back), then run it through the
//! very same path as any plan, `ops::apply::run_plan`, as a rollback run.

use crate::engine::admit::Consent;
use crate::error::{Error, Result};
use crate::model::RunKind;
use crate::model::{Change, Plan, PlanId, PlanStatus};
use crate::ops::apply::{Applied, Options, Progress, run_plan};
use crate::ops::session::{Default, PlanRow, Session};
use crate::plan::revert;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Admit and run the stored reverse plan `rev_id` (every check, in order).
pub fn apply_reverse(
    s: &mut Session,
    rev_id: &crate::model::PlanId,
    reverse: Plan,
    opts: Options<'_>,
    consent: Option<&mut dyn Consent<Session>>,
    progress: &mut dyn Progress,
) -> Result<Applied> {
    run_plan(
        s,
        rev_id,
        reverse,
        RunKind::Rollback,
        opts,
        consent,
        progress,
    )
}

/// Where and how `--merge` / `--continue` work.
#[derive(Debug, Clone)]
pub struct Merging {
    pub dir: PathBuf,
    /// `dir` as messages show it.
    pub shown: PathBuf,
    /// --merge: write line conflicts out for a person to resolve.
    pub write: bool,
    /// --continue: read the resolutions back.
    pub resume: bool,
}

/// The reverse plan a rollback runs, and what making it found.
#[derive(Debug)]
pub struct Reverse {
    pub row: PlanRow,
    pub plan: Plan,
    /// An open reverse plan of the same paths already existed and is used again (not
    /// said when PLAN named that reverse plan itself).
    pub reused: bool,
    /// Paths merged three ways with later changes.
    pub merged: Vec<String>,
    /// Paths already as they were before the plan.
    pub unchanged: Vec<String>,
}

/// The record `--merge` leaves next to the conflicted files.
const MERGE_STATE: &str = ".autonomy-merge.json";

#[derive(serde::Serialize, serde::Deserialize)]
struct MergeState {
    /// The plan being rolled back.
    plan: String,
    /// Each conflicted path and the sha256 of the workspace file it was merged from.
    paths: std::collections::BTreeMap<String, String>,
}

/// Find or make the pending reverse plan of `row` (for the paths matching `globs`, or all).
pub fn reverse_for(
    s: &mut Session,
    row: &PlanRow,
    globs: &[String],
    merge: &Merging,
) -> Result<Reverse> {
    let short = row.id.short();
    if (merge.write || merge.resume) && s.place_of(&merge.dir) == crate::ops::session::Inside::Tree
    {
        return Err(Error::usage(format!(
            "the merge folder {} is inside the workspace tree, which only plans change",
            merge.shown.display()
        ))
        .hint("name a folder outside the workspace with -o DIR, or leave -o out (.autonomy/merge/PLAN12/)"));
    }
    // PLAN may name a pending reverse plan itself.
    if row.reverses.is_some() && row.status.is_open() {
        if !globs.is_empty() {
            return Err(Error::usage(format!(
                "plan {short} is itself a pending rollback plan; --path chooses paths when one is made"
            ))
            .hint("name the original plan with --path, or this one without it"));
        }
        let plan = s.load_plan(&row.id)?;
        return Ok(Reverse::stored(row.clone(), plan, false));
    }
    if row.status != PlanStatus::Applied {
        return Err(Error::failed(format!(
            "plan {short} is {}, not applied; only an applied plan can be rolled back",
            row.status.as_str().replace('_', " ")
        ))
        .hint("`autonomy status` lists the applied plans"));
    }
    let mut orig = s.load_plan(&row.id)?;
    // What its exec steps changed is reverted like the plan's own changes.
    orig.changes.extend(exec_effects(s, &row.id)?);
    let selected = revert::select_paths(&orig, globs)?;
    let resolved = if merge.resume {
        read_resolutions(s, &row.id, &merge.dir)?
    } else {
        std::collections::BTreeMap::new()
    };
    if let Some(id) = pending_reverse(s, &row.id, &selected)?
        && !merge.resume
    {
        let rev_row = s.resolve(Some(&id), Default::Newest)?;
        let plan = s.load_plan(&id)?;
        return Ok(Reverse::stored(rev_row, plan, true));
    }
    let actor = s.actor.clone();
    let rev = match revert::build_resolved(
        &s.ws, &s.blobs, &row.id, &orig, &selected, globs, &actor, &resolved,
    )? {
        Ok(rev) => rev,
        Err(conflicts) => return Err(conflict_refusal(&row.id, &conflicts, merge)?),
    };
    let rev_row = store_reverse(s, &row.id, &rev)?;
    if merge.resume {
        // The resolutions now live in the reverse plan.
        let _ = std::fs::remove_dir_all(&merge.dir);
    }
    Ok(Reverse {
        row: rev_row,
        plan: rev.plan,
        reused: false,
        merged: rev.merged,
        unchanged: rev.unchanged,
    })
}

impl Reverse {
    /// A reverse plan already in the journal.
    fn stored(row: PlanRow, plan: Plan, reused: bool) -> Reverse {
        Reverse {
            row,
            plan,
            reused,
            merged: Vec::new(),
            unchanged: Vec::new(),
        }
    }
}

/// The refusal for a rollback whose paths conflict with later changes (exit 4): with
/// `--merge` and only line conflicts, the conflicted files are written out first (failing
/// to write them is the error returned); otherwise the hint says what can be done.
fn conflict_refusal(
    plan_id: &PlanId,
    conflicts: &[revert::Conflict],
    merge: &Merging,
) -> Result<Error> {
    let short = plan_id.short();
    let err = revert::conflict_error(short, conflicts);
    if merge.write && conflicts.iter().all(|c| c.marked.is_some()) {
        return write_conflicts(plan_id, conflicts, merge, err);
    }
    if merge.write {
        let other: Vec<&str> = conflicts
            .iter()
            .filter(|c| c.marked.is_none())
            .map(|c| c.path.as_str())
            .collect();
        return Ok(err.hint(format!(
            "--merge resolves line conflicts only; roll back the other paths first, or leave these out with --path: {}",
            other.join(", ")
        )));
    }
    Ok(err.hint(format!(
        "nothing was changed; `autonomy rollback {short} --merge` writes the conflicted files with diff3 markers for you to resolve, or roll back only the other paths with --path GLOB"
    )))
}

/// Store a reverse plan just made (its blobs, then the plan with the paths it covers).
fn store_reverse(s: &mut Session, orig: &PlanId, rev: &revert::Revert) -> Result<PlanRow> {
    for bytes in &rev.blobs {
        s.blobs.put(bytes)?;
    }
    let mut extra = serde_json::Map::new();
    extra.insert("partial".into(), json!(rev.partial));
    extra.insert("merged".into(), json!(rev.merged));
    let id = match s.insert_plan_covering(&rev.plan, "rollback", extra, Some(&rev.paths)) {
        Ok(id) => id,
        // Another rollback of this plan made the very same reverse plan at the same moment
        // (same second, same actor): it is ours too.
        Err(e) => {
            let id = rev.plan.id();
            match s.resolve(Some(&id), Default::Newest) {
                Ok(r) if r.reverses.as_deref() == Some(orig.as_str()) => id,
                _ => return Err(e),
            }
        }
    };
    s.resolve(Some(&id), Default::Newest)
}

/// Write each line-conflicted file, with its markers, under `dir` (and the record of what
/// it was merged from); return the exit-4 error saying what to do next.
fn write_conflicts(
    plan_id: &str,
    conflicts: &[revert::Conflict],
    merge: &Merging,
    err: Error,
) -> Result<Error> {
    let short = crate::model::id::short(plan_id);
    let dir = merge.dir.as_path();
    let io =
        |e: std::io::Error| Error::io(format!("writing the merge folder {}", dir.display()), e);
    if dir.exists() {
        // Only a merge folder this command wrote is replaced; any other folder is someone's.
        if !dir.join(MERGE_STATE).is_file() {
            return Err(Error::usage(format!(
                "{} exists and is not a merge folder; nothing was changed",
                merge.shown.display()
            ))
            .hint("name a new folder with -o DIR, or leave -o out (.autonomy/merge/PLAN12/)"));
        }
        std::fs::remove_dir_all(dir).map_err(io)?;
    }
    let mut state = MergeState {
        plan: plan_id.to_string(),
        paths: std::collections::BTreeMap::new(),
    };
    let mut listed = Vec::new();
    for c in conflicts {
        let Some((bytes, hash)) = &c.marked else {
            continue;
        };
        let file = dir.join(&c.path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&file, bytes).map_err(io)?;
        state.paths.insert(c.path.clone(), hash.clone());
        listed.push(format!("  {}", merge.shown.join(&c.path).display()));
    }
    let record = serde_json::to_vec_pretty(&state).unwrap_or_default();
    std::fs::write(dir.join(MERGE_STATE), record).map_err(io)?;
    let mut msg = err.message;
    msg.push_str(&format!(
        "\nthe conflicted files, with diff3 markers, are in {}:\n{}",
        merge.shown.display(),
        listed.join("\n")
    ));
    Ok(Error::stale(msg).hint(format!(
        "edit each file to what should remain (remove every <<<<<<<, ||||||| and >>>>>>> section), then `autonomy rollback {short} --continue`; nothing was changed"
    )))
}

/// The resolutions a person made in the merge folder, checked: for this plan, no marker
/// left, and each workspace file still as it was when `--merge` wrote the conflict.
fn read_resolutions(
    s: &Session,
    plan_id: &str,
    dir: &std::path::Path,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let short = crate::model::id::short(plan_id);
    let text = std::fs::read(dir.join(MERGE_STATE)).map_err(|e| {
        Error::usage(format!(
            "no merge in progress for plan {short} in {} ({e})",
            dir.display()
        ))
        .hint(format!(
            "start one with `autonomy rollback {short} --merge`"
        ))
    })?;
    let state: MergeState = serde_json::from_slice(&text).map_err(|e| {
        Error::failed(format!(
            "{} does not decode ({e})",
            dir.join(MERGE_STATE).display()
        ))
        .hint(format!(
            "start again with `autonomy rollback {short} --merge`"
        ))
    })?;
    if state.plan != plan_id {
        return Err(Error::usage(format!(
            "the merge in {} is for plan {}, not {short}",
            dir.display(),
            state.plan.get(..12).unwrap_or(&state.plan)
        )));
    }
    let mut out = std::collections::BTreeMap::new();
    for (path, hash) in &state.paths {
        let rel = crate::paths::RelPath::from_stored(path)?;
        let now = s.ws.state(&rel)?;
        if now.file_hash() != Some(hash.as_str()) {
            return Err(Error::stale(format!(
                "{path} changed in the workspace since `--merge` wrote its conflict"
            ))
            .hint(format!(
                "run `autonomy rollback {short} --merge` again to merge with the file as it is now"
            )));
        }
        let file = dir.join(path);
        let bytes = std::fs::read(&file)
            .map_err(|e| Error::io(format!("reading the resolution {}", file.display()), e))?;
        let left = revert::leftover_markers(&bytes);
        if !left.is_empty() {
            let lines: Vec<String> = left.iter().map(usize::to_string).collect();
            return Err(Error::stale(format!(
                "{} still has conflict markers (line {})",
                file.display(),
                lines.join(", ")
            ))
            .hint("edit it to what should remain, then run --continue again"));
        }
        out.insert(path.clone(), bytes);
    }
    Ok(out)
}

/// A pending (or approved) reverse plan of `orig_id` covering exactly `selected`.
fn pending_reverse(s: &Session, orig_id: &str, selected: &[String]) -> Result<Option<PlanId>> {
    let want: BTreeSet<&str> = selected.iter().map(String::as_str).collect();
    for id in s.journal.open_reverse_plans(orig_id)? {
        let covers = s.journal.covered_paths(&id)?;
        if covers.iter().map(String::as_str).collect::<BTreeSet<_>>() == want {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// What the plan's exec steps changed (recorded when its run committed), as changes: the
/// commands are not run again; their effects inside `touches` are reverted (and merged)
/// like any file.
fn exec_effects(s: &Session, plan_id: &str) -> Result<Vec<Change>> {
    use crate::model::State;
    let rows = s.journal.committed_exec_effects(plan_id)?;
    let mut folded: std::collections::BTreeMap<String, (State, State)> =
        std::collections::BTreeMap::new();
    for (path, before, after) in rows {
        let decode = |t: &str| -> Result<State> {
            serde_json::from_str(t).map_err(|e| {
                Error::integrity(format!(
                    "the journal's record of {path} does not decode: {e}"
                ))
            })
        };
        let (b, a) = (decode(&before)?, decode(&after)?);
        folded
            .entry(path)
            .and_modify(|e| e.1 = a.clone())
            .or_insert((b, a));
    }
    Ok(folded
        .into_iter()
        .filter(|(_, (b, a))| b != a)
        .map(|(path, (b, a))| Change {
            path,
            before: b,
            after: a,
            from: None,
        })
        .collect())
}
