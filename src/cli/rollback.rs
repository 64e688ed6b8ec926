//! `autonomy rollback`

use super::{Ctx, ui};
use crate::engine::run::{RunKind, drift, drift_error};
use crate::error::{Error, Result};
use crate::plan::model::PLAN_FORMAT;
use crate::plan::{Change, Plan};
use crate::session::{Default, PlanRow, Session};
use rusqlite::OptionalExtension;
use std::path::PathBuf;

/// Undo an applied plan: make its reverse plan (after = the snapshot), preview it, approve
/// it, and apply it as a run.
///
/// The reverse plan is an ordinary plan: previewed, approved (at a terminal, or with
/// --approval FILE signed for the reverse plan's id) and journaled; it can itself be rolled
/// back. Where files changed since the plan was applied, rollback refuses with exit 4 and
/// names them; it never clobbers later work.
///
/// Without PLAN, the newest applied plan.
///
/// Examples:
///   autonomy rollback
///   id=$(autonomy rollback 3f9c --plan-only)   # a pipeline signs $id, then:
///   autonomy rollback 3f9c --approval alice.approval
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// Plan id or unique prefix (default: the newest applied plan).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCandidates::new(super::complete::applied_plans))]
    pub plan: Option<String>,
    /// Only create the reverse plan and print its id; a later `rollback PLAN` reuses it.
    #[arg(long)]
    pub plan_only: bool,
    /// A signed approval file for the reverse plan (repeatable).
    #[arg(long = "approval", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub approvals: Vec<PathBuf>,
    /// Wait up to SECS for the workspace lock instead of failing at once.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
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
                    .hint("`autonomy status` lists the plans")
            } else {
                e
            }
        })?;
    let (rev_row, reverse) = reverse_for(&mut s, &row)?;
    if args.plan_only {
        super::plan::report(ctx, &rev_row.id, &reverse);
        return Ok(());
    }
    super::apply::run_plan(
        &mut s,
        ctx,
        &rev_row,
        &reverse,
        RunKind::Rollback,
        &args.approvals,
        args.wait,
    )
}

/// Find or make the pending reverse plan of `row`.
fn reverse_for(s: &mut Session, row: &PlanRow) -> Result<(PlanRow, Plan)> {
    let short = &row.id[..12];
    // PLAN may name a pending reverse plan itself.
    if row.reverses.is_some() && matches!(row.status.as_str(), "pending" | "approved") {
        let plan = s.load_plan(&row.id)?;
        return Ok((row.clone(), plan));
    }
    if row.status != "applied" {
        return Err(Error::failed(format!(
            "plan {short} is {}, not applied; only an applied plan can be rolled back",
            row.status.replace('_', " ")
        ))
        .hint("`autonomy status` lists the applied plans"));
    }
    let existing: Option<String> = s
        .journal
        .conn
        .query_row(
            "SELECT id FROM plans WHERE reverses = ?1 AND status IN ('pending', 'approved') ORDER BY seq DESC LIMIT 1",
            [&row.id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        let rev_row = s.resolve(Some(&id), Default::Newest)?;
        let plan = s.load_plan(&id)?;
        ui::say(&format!(
            "Using the pending rollback plan {} for plan {short}.",
            &id[..12]
        ));
        return Ok((rev_row, plan));
    }
    let orig = s.load_plan(&row.id)?;
    let reverse = Plan {
        format: PLAN_FORMAT.to_string(),
        workspace: s.workspace_id()?,
        created: crate::ids::now_string(),
        title: format!("Roll back: {}", orig.title),
        author: s.actor.clone(),
        description: Some(format!("Reverses plan {} ({:?}).", row.id, orig.title)),
        reverses: Some(row.id.clone()),
        changes: orig
            .changes
            .iter()
            .map(|c| Change {
                path: c.path.clone(),
                before: c.after.clone(),
                after: c.before.clone(),
                from: None,
            })
            .collect(),
        exec: Vec::new(),
    };
    for c in &reverse.changes {
        if let Some(h) = c.after.file_hash()
            && c.before.file_hash() != Some(h)
            && !s.blobs.contains(h)
        {
            return Err(Error::integrity(format!(
                "the snapshot of {} (blob {}) is missing; plan {short} cannot be rolled back",
                c.path,
                &h[..12]
            ))
            .hint("run `autonomy verify`; restore .autonomy/ from a backup"));
        }
    }
    let drifted = drift(&s.ws, &reverse)?;
    if !drifted.is_empty() {
        let mut e = drift_error(short, &drifted);
        e.message = format!(
            "cannot roll back plan {short}: {} path(s) changed since it was applied, and rollback never overwrites later work:\n{}",
            drifted.len(),
            drifted
                .iter()
                .map(|(p, _)| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        return Err(
            e.hint("nothing was changed; undo those edits first, or make a new plan by hand")
        );
    }
    let id = match s.insert_plan(&reverse, "rollback") {
        Ok(id) => id,
        // Another rollback of this plan made the very same reverse plan at the same
        // moment (same second, same actor): it is ours too.
        Err(e) => {
            let id = reverse.id();
            match s.resolve(Some(&id), Default::Newest) {
                Ok(r) if r.reverses.as_deref() == Some(row.id.as_str()) => id,
                _ => return Err(e),
            }
        }
    };
    let rev_row = s.resolve(Some(&id), Default::Newest)?;
    Ok((rev_row, reverse))
}
