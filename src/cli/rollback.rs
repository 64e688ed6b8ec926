//! `autonomy rollback`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::model::{Change, Plan, PlanId, PlanStatus};
use crate::ops::apply::Options;
use crate::ops::session::{Default, PlanRow, Session};
use crate::plan::revert;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Undo an applied plan: make its reverse plan, preview it, approve it, apply it
///
/// The reverse plan is an ordinary plan: previewed, approved (at a terminal, or with
/// --approval FILE signed for the reverse plan's id) and journaled; it can itself be rolled
/// back. Paths untouched since the plan go back to the snapshot. Paths changed since are
/// merged three ways, as `git revert` does (base: the plan's result; ours: the file now;
/// theirs: the file before the plan), so later work is kept. Where the two changes
/// overlap, or a changed file is binary, created or deleted since, rollback refuses with
/// exit 4, shows every conflicted path and hunk, and changes nothing.
///
/// --path GLOB reverts only those of the plan's paths (repeatable); the plan stays
/// `applied` until every path has been reverted, then becomes `rolled_back`.
///
/// --merge resolves line conflicts as `git revert` does: each conflicted file is written,
/// with diff3 conflict markers (current / as the plan left it / before the plan), to
/// .autonomy/merge/PLAN12/ (or -o DIR), outside the workspace tree, and rollback stops
/// with exit 4. Edit those files to what should remain, then `autonomy rollback PLAN
/// --continue` makes the reverse plan with your resolutions (refusing while a marker is
/// left, or if the workspace changed since), previews and asks as usual.
///
/// Without PLAN, the newest applied plan that is not itself a rollback (so a second bare
/// `autonomy rollback` undoes the plan before, not the rollback); name a rollback plan to
/// undo it.
///
/// Examples:
///   autonomy rollback
///   autonomy rollback 3f9c --path 'deploy/**'  # only the plan's changes under deploy/
///   autonomy rollback 3f9c --merge             # conflicts to .autonomy/merge/3f9c…/
///   autonomy rollback 3f9c --continue          # after editing them
///   id=$(autonomy rollback 3f9c --plan-only)   # a pipeline signs $id, then:
///   autonomy rollback 3f9c --approval alice.approval
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RollbackArgs {
    /// Plan id or unique prefix (default: the newest applied plan that is not a rollback).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::applied_plans))]
    pub plan: Option<String>,
    /// Only create the reverse plan and print its id; a later `rollback PLAN` reuses it.
    #[arg(long)]
    pub plan_only: bool,
    /// Revert only the plan's paths matching GLOB (repeatable; `*` stays in a folder, `**`
    /// crosses folders, a pattern without `/` matches the name at any depth).
    #[arg(long = "path", value_name = "GLOB")]
    pub paths: Vec<String>,
    /// A signed approval file for the reverse plan (repeatable).
    #[arg(long = "approval", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub approvals: Vec<PathBuf>,
    /// Wait up to SECS for the workspace lock instead of failing at once.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
    /// On line conflicts, write each conflicted file with diff3 markers for you to resolve,
    /// then stop; `--continue` picks up the resolution.
    #[arg(long, conflicts_with = "resume")]
    pub merge: bool,
    /// Make the reverse plan with the conflicts resolved by hand after `--merge`.
    #[arg(long = "continue", id = "resume")]
    pub resume: bool,
    /// The folder for --merge and --continue (default: .autonomy/merge/PLAN12/).
    #[arg(short = 'o', long = "output", value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub merge_dir: Option<PathBuf>,
}

pub fn run(args: RollbackArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("rollback")?;
    let mut s = Session::open(&ctx.dir)?;
    s.refuse_if_interrupted()?;
    let row = s
        .resolve(args.plan.as_deref(), Default::NewestApplied)
        .map_err(|e| {
            if args.plan.is_none() {
                Error::usage("there is no applied plan to roll back")
                    .hint("`autonomy status` lists the plans; to undo a rollback itself, name its plan: `autonomy rollback PLAN`")
            } else {
                e
            }
        })?;
    if args.merge_dir.is_some() && !args.merge && !args.resume {
        return Err(Error::usage(
            "-o DIR is the folder of --merge and --continue",
        ));
    }
    let mut merge = Merging {
        shown: PathBuf::new(),
        dir: match &args.merge_dir {
            Some(d) => ctx.dir.join(d),
            None => {
                s.ws.state_path()
                    .join("merge")
                    .join(row.id.get(..12).unwrap_or(&row.id))
            }
        },
        write: args.merge,
        resume: args.resume,
    };
    // Messages name the folder as the person would type it from here.
    let here = std::path::absolute(&ctx.dir).unwrap_or_else(|_| ctx.dir.clone());
    merge.shown = std::path::absolute(&merge.dir)
        .ok()
        .and_then(|d| d.strip_prefix(&here).ok().map(PathBuf::from))
        .unwrap_or_else(|| merge.dir.clone());
    let (rev_row, reverse) = reverse_for(&mut s, &row, &args.paths, &merge)?;
    if args.plan_only {
        super::plan::report(ctx, &rev_row.id, &reverse);
        return Ok(());
    }
    let opts = Options {
        approvals: &args.approvals,
        wait: args.wait.map(std::time::Duration::from_secs),
    };
    let mut terminal = super::gate::Terminal::here();
    let consent = terminal.as_mut().map(|t| t as _);
    let mut printer = super::apply::Printer::default();
    let applied = crate::ops::rollback::apply_reverse(
        &mut s,
        &rev_row.id,
        reverse,
        opts,
        consent,
        &mut printer,
    )?;
    super::apply::render(ctx, &applied);
    Ok(())
}

/// Where and how `--merge` / `--continue` work.
struct Merging {
    dir: PathBuf,
    /// `dir` as messages show it.
    shown: PathBuf,
    /// --merge: write line conflicts out for a person to resolve.
    write: bool,
    /// --continue: read the resolutions back.
    resume: bool,
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
fn reverse_for(
    s: &mut Session,
    row: &PlanRow,
    globs: &[String],
    merge: &Merging,
) -> Result<(PlanRow, Plan)> {
    let short = row.id.short();
    // PLAN may name a pending reverse plan itself.
    if row.reverses.is_some() && row.status.is_open() {
        if !globs.is_empty() {
            return Err(Error::usage(format!(
                "plan {short} is itself a pending rollback plan; --path chooses paths when one is made"
            ))
            .hint("name the original plan with --path, or this one without it"));
        }
        let plan = s.load_plan(&row.id)?;
        return Ok((row.clone(), plan));
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
        ui::say(&format!(
            "Using the pending rollback plan {} for plan {short}.",
            id.short()
        ));
        return Ok((rev_row, plan));
    }
    let actor = s.actor.clone();
    let rev = match revert::build_resolved(
        &s.ws, &s.blobs, &row.id, &orig, &selected, globs, &actor, &resolved,
    )? {
        Ok(rev) => rev,
        Err(conflicts) => {
            let err = revert::conflict_error(short, &conflicts);
            if merge.write && conflicts.iter().all(|c| c.marked.is_some()) {
                return Err(write_conflicts(&row.id, &conflicts, merge, err)?);
            }
            if merge.write {
                let other: Vec<&str> = conflicts
                    .iter()
                    .filter(|c| c.marked.is_none())
                    .map(|c| c.path.as_str())
                    .collect();
                return Err(err.hint(format!(
                    "--merge resolves line conflicts only; roll back the other paths first, or leave these out with --path: {}",
                    other.join(", ")
                )));
            }
            return Err(err.hint(format!(
                "nothing was changed; `autonomy rollback {short} --merge` writes the conflicted files with diff3 markers for you to resolve, or roll back only the other paths with --path GLOB"
            )));
        }
    };
    for bytes in &rev.blobs {
        s.blobs.put(bytes)?;
    }
    if !rev.merged.is_empty() {
        ui::say(&format!(
            "Merged with later changes (three-way, as git revert does): {}",
            rev.merged.join(", ")
        ));
    }
    if !rev.unchanged.is_empty() {
        ui::say(&format!(
            "Already as before plan {short}: {}",
            rev.unchanged.join(", ")
        ));
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
                Ok(r) if r.reverses.as_deref() == Some(row.id.as_str()) => id,
                _ => return Err(e),
            }
        }
    };
    let rev_row = s.resolve(Some(&id), Default::Newest)?;
    if merge.resume {
        // The resolutions now live in the reverse plan.
        let _ = std::fs::remove_dir_all(&merge.dir);
    }
    Ok((rev_row, rev.plan))
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
