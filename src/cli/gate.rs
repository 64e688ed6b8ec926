//! The approval gate at a terminal, shared by `approve`, `apply` and `rollback`: refuse
//! stale plans before anyone is asked, and offer the preview, a compact summary and the
//! prompt. Counting what is held and journaling it is `engine::admit`'s; `apply` and
//! `rollback` lend it [`Terminal`] to ask the person when only their approval is missing.

use super::prompt::{self, Answer, Expect};
use super::ui;
use crate::error::Result;
use crate::model::Plan;
use crate::ops::approve::{Consent, Question, Reply};
use crate::ops::session::Session;
use crate::policy::approval::check;
use crate::policy::approval::gate::Held;
use crate::policy::approval::outlook::Outlook;
use crate::policy::risk::Level;

pub use crate::ops::approve::{declined_error, stale_error};

/// The person at this terminal, asked as `autonomy approve` asks.
pub struct Terminal;

impl Terminal {
    /// Someone to ask only when stdin and stderr are terminals.
    pub fn here() -> Option<Terminal> {
        ui::interactive().then_some(Terminal)
    }
}

impl Consent<Session> for Terminal {
    fn ask(&mut self, s: &Session, q: &Question<'_>) -> Result<Reply> {
        let answer = offer(s, q.plan_id, q.plan, q.status, q.approver, q.outlook)?;
        Ok(Reply {
            approve: answer.approve,
            reason: answer.reason,
            typed: answer.typed,
        })
    }
}

/// What one more approval (`extra`) would count for, given what is `held`.
pub fn outlook_with(s: &Session, plan: &Plan, held: &[Held], extra: Held) -> Result<Outlook> {
    check::outlook_with(&s.journal, s.rules()?, plan, held, extra)
}

/// Refuse (exit 4) when the plan's `before` no longer holds.
pub fn refuse_if_stale(
    s: &Session,
    plan_id: &str,
    plan: &Plan,
    status: crate::model::PlanStatus,
    what: &str,
) -> Result<()> {
    let stale = crate::ops::preview::stale_paths(s, plan, status)?;
    if stale.is_empty() {
        Ok(())
    } else {
        Err(stale_error(plan_id, &stale, what))
    }
}

/// Show the full preview (through the pager on a terminal), then, once it is closed, the
/// compact summary and the prompt right under it.
pub fn offer(
    s: &Session,
    plan_id: &str,
    plan: &Plan,
    status: crate::model::PlanStatus,
    approver: &str,
    outlook: &Outlook,
) -> Result<Answer> {
    let doc = super::preview::show(s, plan_id, plan, status, false, true)?;
    ui::say_raw(&crate::render::preview::prompt_summary(
        &doc,
        approver,
        "at this terminal",
        Some(outlook),
        &ui::err_style,
    ));
    let (question, expect) = question("Approve", plan_id, doc.risk_level);
    prompt::ask(&question, &expect)
}

/// The question for `verb` (Approve, Sign): `[y/N]`, or for a high-risk plan, the first 4
/// hex digits of its id.
pub fn question(verb: &str, plan_id: &str, level: Level) -> (String, Expect) {
    let short = &plan_id[..12.min(plan_id.len())];
    if level == Level::High {
        (
            format!(
                "{verb} high-risk plan {short}? Type the first 4 hex digits of its id to confirm (anything else declines):"
            ),
            Expect::IdDigits(plan_id.to_string()),
        )
    } else {
        (format!("{verb} plan {short}? [y/N]"), Expect::YesNo)
    }
}
