//! Approvals as the session sees them: a person's decision recorded, the approvals a plan
//! holds and how the rules stand with them, and what is still missing. The counting and
//! the verification of signed files live in `policy::approval::check`; what a run may
//! count is decided by `engine::admit`, the only way to a run.
//!
//! A terminal decision records the OS user who typed it (`os_uid`, `os_user`) beside the
//! identity it claims, since `--as` can claim any: for k-of-n rules terminal approvals
//! count once per OS user (see `policy::approval::gate`).

use crate::error::Result;
use crate::model::Plan;
use crate::ops::session::Session;
use crate::policy::approval::check;
use crate::policy::approval::gate::{Held, Standing};
use crate::store::journal::approvals::{self, Decision};

/// Record an interactive decision (`approve` or `decline`) by `principal`, as the OS user
/// running this process.
pub fn record_decision(
    s: &mut Session,
    plan_id: &str,
    principal: &str,
    approve: bool,
    reason: Option<&str>,
) -> Result<()> {
    let (os_uid, os_user) = crate::util::identity::os_user();
    approvals::record_decision(
        &mut s.journal,
        &Decision {
            plan_id,
            principal,
            approve,
            reason,
            os_uid: Some(os_uid),
            os_user: os_user.as_deref(),
        },
    )
}

/// Interactive approvals recorded for a plan, read from its `approval.granted` events.
pub fn recorded(s: &Session, plan_id: &str) -> Result<Vec<Held>> {
    check::recorded(&s.journal, plan_id)
}

/// Held approvals (recorded + presented) and how each requirement stands.
pub fn standings(s: &Session, plan: &Plan, held: &[Held]) -> Result<Vec<Standing>> {
    check::standings(&s.journal, s.rules()?, plan, held)
}
