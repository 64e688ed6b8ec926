//! Rolling back: a reverse plan (made by `cli::rollback` today) runs through the very same
//! path as any plan, `ops::apply::run_plan`, as a rollback run.

use crate::engine::admit::Consent;
use crate::error::Result;
use crate::model::Plan;
use crate::model::RunKind;
use crate::ops::apply::{Applied, Options, Progress, run_plan};
use crate::ops::session::Session;

/// Admit and run the stored reverse plan `rev_id` (every check, in order).
pub fn apply_reverse(
    s: &mut Session,
    rev_id: &crate::model::PlanId,
    reverse: Plan,
    opts: Options<'_>,
    consent: Option<&mut dyn Consent<Session>>,
    progress: &mut dyn Progress,
) -> Result<Applied> {
    run_plan(
        s,
        rev_id,
        reverse,
        RunKind::Rollback,
        opts,
        consent,
        progress,
    )
}
