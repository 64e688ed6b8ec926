//! `autonomy rollback`

use super::{Ctx, ui};
use crate::engine::run::{RunKind, drift, drift_error};
use crate::error::{Error, Result};
use crate::plan::model::PLAN_FORMAT;
use crate::plan::{Change, Plan};
use crate::session::{Default, PlanRow, Session};
use rusqlite::OptionalExtension;
use std::path::PathBuf;

/// Undo an applied plan, as a new previewed and approved run
///
/// Makes the reverse plan (after = the snapshot), previews it, asks for approval (at a
/// terminal, or --approval FILE signed for the reverse plan's id) and applies it as a run. The
/// reverse plan is an ordinary plan, journaled, and can itself be rolled back. Where files
/// changed since the plan was applied, rollback refuses with exit 4 and names them; it never
/// clobbers later work.
///
/// Without PLAN, the newest applied plan.
///
/// Examples:
///   autonomy rollback
///   id=$(autonomy rollback 3f9c --plan-only)   # a pipeline signs $id, then:
///   autonomy rollback 3f9c --approval alice.approval
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RollbackArgs {
    /// Plan id or unique prefix (default: the newest applied plan).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::applied_plans))]
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
    let mut reverse = reverse;
    reverse.changes.extend(exec_reversals(s, &row.id)?);
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
    let id = s.insert_plan(&reverse, "rollback")?;
    let rev_row = s.resolve(Some(&id), Default::Newest)?;
    Ok((rev_row, reverse))
}

/// What the plan's exec steps changed (recorded when its run committed), reversed: the
/// commands are not run again; their effects inside `touches` are undone like any file.
fn exec_reversals(s: &Session, plan_id: &str) -> Result<Vec<Change>> {
    use crate::plan::State;
    let mut stmt = s.journal.conn.prepare(
        "SELECT e.path, e.before, e.after FROM run_exec e JOIN runs r ON r.id = e.run
         WHERE r.plan = ?1 AND r.state = 'committed' AND e.after IS NOT NULL ORDER BY e.run, e.step",
    )?;
    let rows = stmt.query_map([plan_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut folded: std::collections::BTreeMap<String, (State, State)> =
        std::collections::BTreeMap::new();
    for row in rows {
        let (path, before, after) = row?;
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
            before: a,
            after: b,
            from: None,
        })
        .collect())
}
