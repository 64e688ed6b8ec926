//! `autonomy reject`

use super::{Ctx, ui};
use crate::error::Result;
use crate::ops::session::Session;

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
    let r = crate::ops::reject::reject(&mut s, args.plan.as_deref(), args.reason.as_deref())?;
    let short = r.plan.get(..12).unwrap_or(&r.plan);
    if r.already {
        ui::say(&format!("Plan {short} was already rejected."));
    } else {
        ui::say(&format!(
            "Rejected plan {short} {:?}; it can no longer be applied.",
            crate::paths::printable(&r.title)
        ));
    }
    Ok(())
}
