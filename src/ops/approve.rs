//! Approving a plan interactively: the person at a front door is shown the plan and asked
//! (through a [`Consent`]), and their decision is recorded. Refused before anyone is asked
//! while a run is interrupted (exit 6), when the plan is stale (4), or when there is nobody
//! to ask (3). Signed approvals are written by the signer's tools and count when presented
//! to `apply`; they are not this.

use crate::engine::admit::drift;
pub use crate::engine::admit::{Consent, Question, Reply, declined_error, stale_error};
use crate::error::{Error, Result};
use crate::ops::approvals;
use crate::ops::session::{Default, Session, status_refusal};
use crate::policy::approval::check;
use crate::policy::approval::outlook::Outlook;

/// What became of the request.
#[derive(Debug, Clone)]
pub enum Approval {
    /// An approval by this person would count for nothing the rules need (they need signed
    /// approvals, or this OS user already counts): nothing was asked or recorded.
    NothingToAdd {
        plan: String,
        approver: String,
        outlook: Outlook,
    },
    /// The person answered; their decision is recorded (a decline too).
    Decided {
        plan: String,
        approver: String,
        reply: Reply,
        outlook: Outlook,
    },
}

/// Ask the person behind `consent` to approve `plan` (an id or unique prefix; none: the
/// newest pending plan) as `approver` (none: the acting identity), and record the answer
/// with `reason` (none: the reason they typed).
pub fn approve(
    s: &mut Session,
    plan: Option<&str>,
    approver: Option<&str>,
    reason: Option<&str>,
    consent: Option<&mut dyn Consent<Session>>,
) -> Result<Approval> {
    let row = s.resolve(plan, Default::NewestPending)?;
    if let Some(e) = status_refusal(&row) {
        return Err(e);
    }
    let short = row.id.get(..12).unwrap_or(&row.id).to_string();
    let approver = crate::util::identity::clean(approver.unwrap_or(&s.actor));
    let plan = s.load_plan(&row.id)?;
    s.refuse_if_interrupted()?;
    let stale = drift(&s.ws, &plan)?;
    if !stale.is_empty() {
        return Err(stale_error(&row.id, &stale, "approved"));
    }
    let Some(consent) = consent else {
        return Err(Error::not_approved(format!("approving plan {short} needs a terminal (stdin and stderr), and there is none"))
            .hint(format!(
                "approve it at a terminal with `autonomy approve {short}`, or sign it: `autonomy approve {short} --sign-with KEY` and pass --approval FILE to apply"
            )));
    };
    let held = approvals::recorded(s, &row.id)?;
    let me = check::terminal(&approver);
    let outlook = check::outlook_with(&s.journal, s.rules()?, &plan, &held, me)?;
    if outlook.counts_for_nothing() {
        return Ok(Approval::NothingToAdd {
            plan: row.id.to_string(),
            approver,
            outlook,
        });
    }
    let question = Question {
        plan_id: &row.id,
        plan: &plan,
        status: row.status,
        approver: &approver,
        outlook: &outlook,
    };
    let reply = consent.ask(s, &question)?;
    let reason = reason.map(str::to_string).or_else(|| reply.reason.clone());
    approvals::record_decision(s, &row.id, &approver, reply.approve, reason.as_deref())?;
    Ok(Approval::Decided {
        plan: row.id.to_string(),
        approver,
        reply,
        outlook,
    })
}
