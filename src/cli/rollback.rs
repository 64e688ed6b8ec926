//! `autonomy rollback`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::ops::apply::Options;
use crate::ops::rollback;
use crate::ops::session::{Default, Session};
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
    let mut merge = rollback::Merging {
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
    let rev = rollback::reverse_for(&mut s, &row, &args.paths, &merge)?;
    let short = row.id.short();
    if rev.reused {
        ui::say(&format!(
            "Using the pending rollback plan {} for plan {short}.",
            rev.row.id.short()
        ));
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
    let (rev_row, reverse) = (rev.row, rev.plan);
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
    let applied =
        rollback::apply_reverse(&mut s, &rev_row.id, reverse, opts, consent, &mut printer)?;
    super::apply::render(ctx, &applied);
    Ok(())
}
