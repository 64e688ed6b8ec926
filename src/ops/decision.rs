//! A plan's decision as the actor that proposed it should hear it: approved and ready,
//! approved but still needing more, declined (with the reason, and the plan stays
//! approvable), rejected (final, with the reason), applied, or still pending; and whether
//! the plan went stale. Every front door that waits on a person (the sandbox's spool
//! decision files today; hooks, the review console and MCP later) reads it here, so they
//! all tell the agent the same thing.

use crate::error::Result;
use crate::model::{EventKind, PlanStatus};
use crate::ops::approvals;
use crate::ops::session::Session;
use crate::policy::approval::outlook::unmet;
use serde::Serialize;

/// What was decided about a plan, newest decision first.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Decision {
    /// The full plan id.
    pub plan: crate::model::PlanId,
    /// The plan's status (`pending`, `approved`, `applied`, `rejected`, `rolled_back`).
    pub status: PlanStatus,
    /// `pending`, `approved`, `declined`, `rejected`, `applied` or `rolled_back`.
    pub decision: String,
    /// For `approved`: every requirement of the rules is met, `autonomy apply` can run it.
    pub ready: bool,
    /// For `approved`: the requirements still unmet, in words.
    pub still_needed: Vec<String>,
    /// Who made the newest decision, and why (the `--reason`, or the text typed after
    /// `no` at the prompt).
    pub by: Option<String>,
    pub reason: Option<String>,
    /// When (UTC, RFC 3339).
    pub at: Option<String>,
    /// Paths changed since the plan was made: it can no longer be approved or applied.
    pub stale: Vec<String>,
}

/// Read the decision about `plan_id` (a full id) from the journal, and check it against
/// the workspace for staleness while it is still pending or approved.
pub fn decision(s: &Session, plan_id: &str) -> Result<Decision> {
    let row = s.resolve(Some(plan_id), crate::ops::session::Default::Newest)?;
    // The event that made the plan what it is: its rejection, its newest approval, or for a
    // pending plan its newest decline.
    let kind = match row.status {
        PlanStatus::Rejected => EventKind::PlanRejected,
        PlanStatus::Pending => EventKind::ApprovalDeclined,
        _ => EventKind::ApprovalGranted,
    };
    let last = s
        .journal
        .latest_event(&row.id, kind)?
        .map(|e| (e.kind, e.actor, e.data, e.at));
    let mut d = Decision {
        plan: row.id.clone(),
        status: row.status,
        decision: row.status.as_str().to_string(),
        ready: false,
        still_needed: Vec::new(),
        by: None,
        reason: None,
        at: None,
        stale: Vec::new(),
    };
    if let Some((kind, actor, data, at)) = last {
        let data: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
        let text = |k: &str| data.get(k).and_then(|v| v.as_str()).map(str::to_string);
        d.by = text("principal").or(Some(actor));
        d.reason = text("reason");
        d.at = Some(at);
        if row.status == PlanStatus::Pending && kind == EventKind::ApprovalDeclined.as_str() {
            d.decision = "declined".into();
        }
    }
    if row.status.is_open() {
        let plan = s.load_plan(&row.id)?;
        d.stale = crate::engine::admit::drift(&s.ws, &plan)?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        if row.status == PlanStatus::Approved {
            let held = approvals::recorded(s, &row.id)?;
            match approvals::standings(s, &plan, &held) {
                Ok(st) => {
                    d.still_needed = unmet(&st).iter().map(|p| p.missing_sentence()).collect();
                    d.ready = d.still_needed.is_empty();
                }
                Err(e) => d.still_needed = vec![e.message],
            }
        }
    }
    Ok(d)
}
