//! The approval gate shared by `apply` and `rollback`: count what is held (recorded and
//! presented files), and at a terminal offer to preview and approve what is missing.

use super::ui;
use crate::approval::record;
use crate::error::Result;
use crate::plan::Plan;
use crate::session::Session;
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
    let mut held = record::recorded(s, plan_id)?;
    let signed = record::accept_files(s, plan_id, files)?;
    held.extend(signed.iter().cloned());
    let mut standings = record::standings(s, plan, &held)?;
    let unmet_signed = standings
        .iter()
        .any(|st| !st.met() && st.requirement.signed);
    if !standings.iter().all(|st| st.met()) && !unmet_signed && ui::interactive() {
        super::preview::show(s, plan_id, plan, status, false, true)?;
        if ask(short)? {
            let actor = s.actor.clone();
            record::record_decision(s, plan_id, &actor, true, None)?;
            held = record::recorded(s, plan_id)?;
            held.extend(signed.iter().cloned());
            standings = record::standings(s, plan, &held)?;
        } else {
            let actor = s.actor.clone();
            record::record_decision(s, plan_id, &actor, false, None)?;
            return Err(crate::Error::not_approved(format!(
                "plan {short} was declined; nothing was changed"
            ))
            .hint(format!("approve it later with `autonomy approve {short}`")));
        }
    }
    if !standings.iter().all(|st| st.met()) {
        let err = record::unmet_error(short, &standings);
        if !files.is_empty() {
            let reason = format!(
                "threshold not met: {}",
                err.message
                    .lines()
                    .skip(1)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            s.event(
                "approval.refused",
                Some(plan_id),
                serde_json::json!({ "reason": reason }),
            )?;
        }
        return Err(err);
    }
    Ok(signed.iter().filter_map(|h| h.row).collect())
}

/// Ask `Approve plan X? [y/N]` on the terminal (default no).
pub fn ask(short: &str) -> Result<bool> {
    dialoguer::Confirm::new()
        .with_prompt(format!("Approve plan {short}?"))
        .default(false)
        .interact_on(&console::Term::stderr())
        .map_err(|e| {
            crate::Error::not_approved(format!(
                "no answer to the approval prompt ({e}); nothing was approved"
            ))
        })
}
