//! `autonomy reject`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::model::{EventKind, PlanStatus};
use crate::ops::session::{Default, Session, status_refusal};

/// Reject a plan for good
///
/// Records the refusal in the journal; the plan can no longer be applied. Final: to change
/// your mind, make the plan again. Without PLAN, the newest pending plan.
///
/// Example:
///   autonomy reject 3f9c --reason "touches the wrong service"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RejectArgs {
    /// Plan id or unique prefix (default: the newest pending plan).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::pending_plans))]
    pub plan: Option<String>,
    /// Why; recorded in the journal.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub fn run(args: RejectArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("reject")?;
    let mut s = Session::open(&ctx.dir)?;
    s.refuse_if_interrupted()?;
    let row = s.resolve(args.plan.as_deref(), Default::NewestPending)?;
    if let Some(e) = status_refusal(&row) {
        if row.status == PlanStatus::Rejected {
            ui::say(&format!("Plan {} was already rejected.", row.id.short()));
            return Ok(());
        }
        return Err(
            Error::failed(e.message).hint("an applied plan is undone with `autonomy rollback`")
        );
    }
    let actor = s.actor.clone();
    s.set_status(
        &row.id,
        PlanStatus::Rejected,
        EventKind::PlanRejected,
        serde_json::json!({ "principal": actor, "reason": args.reason }),
    )?;
    ui::say(&format!(
        "Rejected plan {} {:?}; it can no longer be applied.",
        row.id.short(),
        row.title
    ));
    Ok(())
}
