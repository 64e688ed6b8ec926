//! The approval gate shared by `approve`, `apply` and `rollback`: count what is held
//! (recorded and presented files), journal each presented file as what it turned out to be
//! (granted when it counted, refused when it did not), refuse stale plans before anyone is
//! asked, and at a terminal offer the preview, a compact summary and the prompt.

use super::prompt::{self, Answer, Expect};
use super::ui;
use crate::error::{Error, Result};
use crate::model::{Plan, State};
use crate::ops::approvals::{self, Presented};
use crate::ops::session::Session;
use crate::policy::approval::gate::{Held, Standing};
use crate::policy::approval::outlook::Outlook;
use crate::policy::risk::Level;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Check approvals; returns the approval rows to mark consumed when the run commits.
pub fn ensure(
    s: &mut Session,
    plan_id: &str,
    plan: &Plan,
    status: &str,
    files: &[PathBuf],
) -> Result<Vec<i64>> {
    let short = &plan_id[..12];
    let mut held = approvals::recorded(s, plan_id)?;
    let presented = approvals::verify_files(s, plan_id, files)?;
    let first_presented = held.len();
    held.extend(presented.iter().map(Presented::held));
    let mut standings = approvals::standings(s, plan, &held)?;
    if !all_met(&standings) && ui::interactive() {
        let actor = s.actor.clone();
        let outlook = outlook_with(s, plan, &held, terminal(&actor))?;
        // Ask only where a yes would let the run go ahead; otherwise the error below says
        // what is missing.
        if outlook.ready_after {
            let stale = super::preview::stale_paths(s, plan, status)?;
            if !stale.is_empty() {
                refuse_all(s, plan_id, &presented, "not counted: the plan is stale")?;
                return Err(stale_error(plan_id, &stale, "approved"));
            }
            let answer = offer(s, plan_id, plan, status, &actor, &outlook)?;
            approvals::record_decision(
                s,
                plan_id,
                &actor,
                answer.approve,
                answer.reason.as_deref(),
            )?;
            if !answer.approve {
                refuse_all(
                    s,
                    plan_id,
                    &presented,
                    "not counted: the plan was declined at the terminal",
                )?;
                return Err(declined_error(short, &answer, false));
            }
            held.push(terminal(&actor));
            standings = approvals::standings(s, plan, &held)?;
        }
    }
    if !all_met(&standings) {
        let err = approvals::unmet_error(short, &standings);
        let reason = format!(
            "threshold not met: {}",
            err.message
                .lines()
                .skip(1)
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("; ")
        );
        refuse_all(s, plan_id, &presented, &reason)?;
        return Err(err);
    }
    // Journal each presented approval as what it was: counted, or a duplicate that did not.
    let counted: BTreeSet<usize> = standings
        .iter()
        .flat_map(|st| st.counted.iter().copied())
        .collect();
    let mut consume = Vec::new();
    for (i, p) in presented.iter().enumerate() {
        if counted.contains(&(first_presented + i)) {
            consume.push(approvals::grant_presented(s, plan_id, p)?);
        } else {
            let why = format!(
                "valid, but does not count: {} or key {} already counts for this plan",
                p.accepted.principal, p.accepted.fingerprint
            );
            approvals::refuse_presented(s, plan_id, p, &why)?;
        }
    }
    Ok(consume)
}

fn all_met(standings: &[Standing]) -> bool {
    standings.iter().all(Standing::met)
}

fn refuse_all(s: &mut Session, plan_id: &str, presented: &[Presented], why: &str) -> Result<()> {
    for p in presented {
        approvals::refuse_presented(s, plan_id, p, why)?;
    }
    Ok(())
}

/// An approval typed at this terminal by `principal`.
pub fn terminal(principal: &str) -> Held {
    let (uid, user) = crate::util::identity::os_user();
    Held {
        row: None,
        principal: principal.to_string(),
        method: "terminal".into(),
        key: None,
        os_uid: Some(uid),
        os_user: user,
    }
}

/// What one more approval (`extra`) would count for, given what is `held`.
pub fn outlook_with(s: &Session, plan: &Plan, held: &[Held], extra: Held) -> Result<Outlook> {
    let before = approvals::standings(s, plan, held)?;
    let mut with = held.to_vec();
    with.push(extra);
    let after = approvals::standings(s, plan, &with)?;
    Ok(Outlook::compare(&before, &after))
}

/// The stale error (exit 4): the plan's `before` no longer holds, so it is not `what`.
pub fn stale_error(plan_id: &str, stale: &[(String, State)], what: &str) -> Error {
    let short = &plan_id[..12.min(plan_id.len())];
    let list: Vec<String> = stale
        .iter()
        .take(20)
        .map(|(p, now)| format!("  {p} (now {})", now.describe()))
        .collect();
    let more = if stale.len() > 20 {
        format!("\n  … and {} more", stale.len() - 20)
    } else {
        String::new()
    };
    Error::stale(format!(
        "plan {short} is stale: {} changed since it was planned, so it cannot be {what}:\n{}{more}",
        crate::util::text::count(stale.len() as u64, "path"),
        list.join("\n")
    ))
    .hint(format!(
        "nothing was recorded; make a new plan against the current files (`autonomy preview {short}` shows what changed), and `autonomy reject {short}` this one"
    ))
}

/// Refuse (exit 4) when the plan's `before` no longer holds.
pub fn refuse_if_stale(
    s: &Session,
    plan_id: &str,
    plan: &Plan,
    status: &str,
    what: &str,
) -> Result<()> {
    let stale = super::preview::stale_paths(s, plan, status)?;
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
    status: &str,
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

/// The "declined" error (exit 3).
pub fn declined_error(short: &str, answer: &Answer, by_approve: bool) -> Error {
    let typed = if answer.typed.is_empty() {
        String::new()
    } else {
        format!(" (the answer was {:?})", answer.typed)
    };
    let msg = if by_approve {
        format!("plan {short} was declined{typed}; nothing was approved")
    } else {
        format!("plan {short} was declined{typed}; nothing was changed")
    };
    Error::not_approved(msg).hint(format!(
        "it stays pending; approve it later with `autonomy approve {short}`, or `autonomy reject {short}`"
    ))
}
