//! What landed is checked against the plan: for a plan an agent made, after every step (and
//! the exec steps and the verify command) and before the commit, each path the plan changes
//! must hold exactly the plan's `after` (file bytes by hash, mode, link target, folder). Anything else means a
//! process outside the run wrote there meanwhile: the run fails with an integrity error
//! (exit 7), journaled, and is undone; a path holding content that is neither `before`
//! nor `after` is never overwritten blindly: the run is left for `autonomy recover`, which
//! names it (and `recover --overwrite` keeps that content before putting `before` back).

use super::run::Run;
use crate::error::{Error, Result};

impl Run<'_> {
    /// Every path of the plan holds its `after` (see the module note). Only for plans an
    /// agent made (author `agent:...`): the agent goes on working in the same workspace
    /// while its plan is applied, so a concurrent writer is expected there; it re-reads
    /// every written byte (about +60% apply time on a 2000-file plan, measured), too much
    /// to pay on every run.
    pub(super) fn check_landed(&self) -> Result<()> {
        if !self.plan.author.starts_with("agent:") {
            return Ok(());
        }
        super::pause_point("run.before_landed");
        let ws = self.fs.ws;
        let changes = &self.plan.changes;
        let differ: Vec<String> =
            crate::util::par::map(self.order(), crate::util::par::IO_THREADS, |&i| {
                let c = &changes[i];
                match c.rel().and_then(|rel| ws.state(&rel)) {
                    Ok(now) if now == c.after => None,
                    Ok(now) => Some(format!(
                        "{} holds {}, the plan {}",
                        crate::paths::printable(&c.path),
                        now.describe(),
                        c.after.describe()
                    )),
                    Err(e) => Some(format!("{} (unreadable: {})", c.path, e.message)),
                }
            })
            .into_iter()
            .flatten()
            .collect();
        if differ.is_empty() {
            return Ok(());
        }
        Err(Error::integrity(format!(
            "what landed differs from the plan: {} (another process changed {} during the run)",
            differ.join("; "),
            if differ.len() == 1 { "it" } else { "them" }
        )))
    }
}
