//! `autonomy review`: the person's console. Which plans are waiting for a decision (pending,
//! not declined), who asked for each (the coding agent's `agent.call`: agent, session,
//! tool call), whether it can still be offered (a stale plan cannot), and the decision,
//! recorded through `ops::approve` exactly as `autonomy approve` records it, so that a hook
//! waiting on the plan (`ops::decision`) applies it or tells its agent no with the reason.

use crate::engine::admit::{Consent, drift};
use crate::error::Result;
use crate::model::event::AgentCall;
use crate::model::{EventKind, PlanId, PlanStatus};
use crate::ops::approve::Approval;
use crate::ops::session::Session;
use std::collections::HashSet;

/// A plan waiting for a decision, as the console introduces it.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub id: PlanId,
    pub title: String,
    pub author: String,
    pub created: String,
    /// The coding agent's tool call this plan answers, when a hook made it.
    pub call: Option<AgentCall>,
    /// Paths changed since the plan was made: it is not offered.
    pub stale: Vec<String>,
}

/// Plans waiting for a decision that are not in `seen`, oldest first (the order they
/// arrived in).
pub fn incoming(s: &Session, seen: &HashSet<PlanId>) -> Result<Vec<Incoming>> {
    let mut rows = s.journal.waiting_plans(10_000)?;
    rows.retain(|r| !seen.contains(&r.id));
    rows.reverse();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let call = s
            .journal
            .latest_event(&row.id, EventKind::AgentCall)?
            .and_then(|e| serde_json::from_str::<AgentCall>(&e.data).ok());
        let plan = s.load_plan(&row.id)?;
        let stale = drift(&s.ws, &plan)?.into_iter().map(|(p, _)| p).collect();
        out.push(Incoming {
            id: row.id,
            title: row.title,
            author: row.author,
            created: row.created,
            call,
            stale,
        });
    }
    Ok(out)
}

/// Ask the person behind `consent` about `plan` and record the answer (a decline with the
/// reason they typed), as `autonomy approve PLAN` does: every refusal of `ops::approve`
/// holds (interrupted run, stale plan, no terminal, a plan no longer pending).
pub fn decide(
    s: &mut Session,
    plan: &PlanId,
    consent: &mut dyn Consent<Session>,
) -> Result<Approval> {
    crate::ops::approve::approve(s, Some(plan.as_str()), None, None, Some(consent))
}

/// A plan's status now (`None`: no such plan).
pub fn status(s: &Session, plan: &PlanId) -> Result<Option<PlanStatus>> {
    s.journal.plan_status(plan)
}

/// The signed approval files left for `plan` where `autonomy approve PLAN --sign-with KEY`
/// writes them by default (`.autonomy/approvals/<plan12>*.approval`), sorted. Nothing is
/// trusted by being there: `apply` verifies each file (signature, allowed signer, plan,
/// expiry, single use) as it does for `--approval FILE`.
pub fn signed_files(s: &Session, plan: &PlanId) -> Result<Vec<std::path::PathBuf>> {
    let dir = s.ws.state_path().join("approvals");
    let short = crate::model::id::short(plan);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(crate::error::Error::io(
                format!("reading {}", dir.display()),
                e,
            ));
        }
    };
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(short) && name.ends_with(".approval")
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}
