//! `autonomy apply`

use super::{Ctx, gate, ui};
use crate::engine::run::{self, RunKind, drift, drift_error};
use crate::error::Result;
use crate::model::{Plan, PlanStatus};
use crate::ops::session::{Default, PlanRow, Session, status_refusal};
use std::path::PathBuf;
use std::time::Duration;

/// Apply an approved plan as one all-or-nothing run
///
/// In order: take the workspace lock (exit 5 if busy), refuse while an interrupted run exists
/// (exit 6), check approvals against the rules (exit 3; at a terminal, when your approval is
/// all that is missing and the plan is not stale, preview and ask as `autonomy approve`
/// does), check that every path is still as planned (exit 4, naming each drifted path), then
/// replace each path atomically, printing each step. A presented approval file is journaled
/// as granted only when it counts toward the run; otherwise as refused, with why. On any
/// failure every path is put back and the run is recorded as failed (exit 1); the same plan
/// may be applied again once the cause is gone.
///
/// Without PLAN, the newest approved plan.
///
/// Examples:
///   autonomy apply
///   autonomy apply 3f9c2a1b7e40 --approval alice.approval --approval bob.approval
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ApplyArgs {
    /// Plan id or unique prefix (default: the newest approved plan).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::pending_plans))]
    pub plan: Option<String>,
    /// A signed approval file to count (repeatable).
    #[arg(long = "approval", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub approvals: Vec<PathBuf>,
    /// Wait up to SECS for the workspace lock instead of failing at once.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
}

pub fn run(args: ApplyArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("apply")?;
    let mut s = Session::open(&ctx.dir)?;
    let row = s.resolve(args.plan.as_deref(), Default::NewestApproved).map_err(|e| {
        if args.plan.is_none() {
            crate::Error::usage("there is no approved plan to apply")
                .hint("name the plan (`autonomy apply ID`), or approve one first with `autonomy approve`")
        } else {
            e
        }
    })?;
    let plan = s.load_plan(&row.id)?;
    run_plan(
        &mut s,
        ctx,
        &row,
        &plan,
        RunKind::Apply,
        &args.approvals,
        args.wait,
    )
}

/// The engine's checks in their documented order, then the run. Shared with rollback.
pub fn run_plan(
    s: &mut Session,
    ctx: &Ctx,
    row: &PlanRow,
    plan: &Plan,
    kind: RunKind,
    approvals: &[PathBuf],
    wait: Option<u64>,
) -> Result<()> {
    if let Some(e) = status_refusal(row) {
        // A replayed approval is the more important news: say so (exit 3).
        if row.status == PlanStatus::Applied && !approvals.is_empty() {
            use crate::ops::approvals;
            let presented = approvals::verify_files(s, &row.id, approvals)?;
            for p in &presented {
                approvals::refuse_presented(
                    s,
                    &row.id,
                    p,
                    "not counted: the plan was already applied",
                )?;
            }
        }
        return Err(e);
    }
    let short = row.id.short().to_string();
    s.rules()?;
    let _lock = s.lock(kind.as_str(), wait.map(Duration::from_secs))?;
    if let Some((run, plan)) = run::interrupted(&s.journal)? {
        return Err(run::interrupted_error(run, &plan));
    }
    // The status was read before the lock: while we waited, another process may have
    // applied (and even rolled back) this plan. A plan applies at most once.
    let row = &s.resolve(Some(&row.id), Default::Newest)?;
    if let Some(e) = status_refusal(row) {
        return Err(e);
    }
    // The status just read must be the one the plan's events give (exit 7 otherwise).
    crate::store::journal::derived::check_plan_row(&s.journal, &row.id)?;
    // The plan is untrusted and the workspace may have changed: every path check again.
    crate::plan::check::check_plan(&s.ws, s.rules()?, plan)?;
    s.rules()?.check_limits(plan, &|h| s.blobs.size(h))?;
    let consume = gate::ensure(s, &row.id, plan, row.status, approvals)?;
    let drifted = drift(&s.ws, plan)?;
    if !drifted.is_empty() {
        return Err(drift_error(&short, &drifted));
    }
    let verb = if kind == RunKind::Apply {
        "Applying"
    } else {
        "Rolling back with"
    };
    ui::say(&format!(
        "{verb} plan {short} {:?} ({})",
        plan.title,
        crate::util::text::count(plan.changes.len() as u64, "change")
    ));
    let mut reporter = super::ui::StepPrinter::new(plan.changes.len());
    let actor = s.actor.clone();
    let rules = crate::policy::rules::Rules::load(&s.ws.root)?;
    let outcome = run::execute(
        &s.ws,
        &mut s.journal,
        &s.blobs,
        &actor,
        &row.id,
        plan,
        kind,
        &consume,
        &rules,
        &mut reporter,
    )?;
    if ctx.json() {
        ui::json(
            &serde_json::json!({ "format_version": crate::model::FORMAT_VERSION, "plan": row.id, "run": outcome }),
        );
    }
    match &plan.reverses {
        None => ui::say(&format!(
            "Applied plan {short}: {}, {} written in {}. Undo it with `autonomy rollback {short}`.",
            crate::util::text::count(outcome.files_changed as u64, "change"),
            crate::util::text::size(outcome.bytes_written),
            crate::util::text::duration_ms(outcome.duration_ms)
        )),
        Some(orig) if s.resolve(Some(orig), Default::Newest)?.status == PlanStatus::Applied => {
            ui::say(&format!(
                "Rolled back part of plan {0}: {1} restored in {2} (rollback plan {short}). Plan {0} stays applied; `autonomy rollback {0}` reverts the rest.",
                crate::model::id::short(orig),
                crate::util::text::count(outcome.files_changed as u64, "path"),
                crate::util::text::duration_ms(outcome.duration_ms)
            ))
        }
        Some(orig) => ui::say(&format!(
            "Rolled back plan {}: {} restored in {} (rollback plan {short}).",
            crate::model::id::short(orig),
            crate::util::text::count(outcome.files_changed as u64, "path"),
            crate::util::text::duration_ms(outcome.duration_ms)
        )),
    }
    Ok(())
}
