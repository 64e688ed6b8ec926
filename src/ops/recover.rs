//! Recovering from an interrupted run: under the workspace lock, each path the run touched
//! is put back by what is there now (`engine::recover`).

use crate::engine::Reporter;
pub use crate::engine::recover::Recovered;
use crate::error::Result;
use crate::ops::session::Session;
use std::time::Duration;

/// Put the workspace back after an interrupted run; `None` when no run was interrupted.
/// `overwrite` puts back paths whose content is not recognised too (kept as blobs first).
pub fn recover(
    s: &mut Session,
    wait: Option<Duration>,
    overwrite: bool,
    reporter: &mut dyn Reporter,
) -> Result<Option<Recovered>> {
    let _lock = s.lock("recover", wait)?;
    let actor = s.actor.clone();
    crate::engine::recover::recover(&s.ws, &mut s.journal, &s.blobs, &actor, reporter, overwrite)
}
