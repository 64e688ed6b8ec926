//! What landed is checked against the plan: after every step (and the exec steps and the
//! verify command) and before the commit, each path the plan changes must hold exactly the
//! plan's `after` (file bytes by hash, mode, link target, folder). Anything else means a
//! process outside the run wrote there meanwhile: the run fails with an integrity error
//! (exit 7), journaled, and is undone; a path holding content that is neither `before`
//! nor `after` is never overwritten blindly: the run is left for `autonomy recover`, which
//! names it (and `recover --overwrite` keeps that content before putting `before` back).

use super::run::Run;
use crate::error::{Error, Result};

impl Run<'_> {
    /// Every path of the plan holds its `after` (see the module note).
    pub(super) fn check_landed(&self) -> Result<()> {
        super::pause_point("run.before_landed");
        let mut differ = Vec::new();
        for &i in self.order() {
            let c = &self.plan.changes[i];
            let now = match self.fs.ws.state(&c.rel()?) {
                Ok(now) => now,
                Err(e) => {
                    differ.push(format!("{} (unreadable: {})", c.path, e.message));
                    continue;
                }
            };
            if now != c.after {
                differ.push(format!(
                    "{} holds {}, the plan {}",
                    c.path,
                    now.describe(),
                    c.after.describe()
                ));
            }
        }
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
