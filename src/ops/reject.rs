//! Rejecting a plan for good: recorded in the journal, the plan can no longer be applied.

use crate::error::{Error, Result};
use crate::model::{EventKind, PlanStatus};
use crate::ops::session::{Default, Session, status_refusal};
use serde_json::json;

/// A rejected plan.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub plan: String,
    pub title: String,
    /// It was rejected before; nothing was recorded now.
    pub already: bool,
}

/// Reject `plan` (an id or unique prefix; none: the newest pending plan), with `reason`.
pub fn reject(s: &mut Session, plan: Option<&str>, reason: Option<&str>) -> Result<Rejected> {
    s.refuse_if_interrupted()?;
    let row = s.resolve(plan, Default::NewestPending)?;
    if let Some(e) = status_refusal(&row) {
        if row.status == PlanStatus::Rejected {
            return Ok(Rejected {
                plan: row.id.to_string(),
                title: row.title,
                already: true,
            });
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
        json!({ "principal": actor, "reason": reason }),
    )?;
    Ok(Rejected {
        plan: row.id.to_string(),
        title: row.title,
        already: false,
    })
}
