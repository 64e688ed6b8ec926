//! Applying a plan: the one entry point every front door calls (the CLI's `apply` and
//! `rollback`; hooks, review, sessions and MCP next). Every check runs in `engine::admit`,
//! in the design's order; only the token it hands out starts a run. Progress and the
//! question for the person (when a front door has one) go through traits, so this knows
//! nothing of clap or terminals.

use crate::engine::admit::{self, Consent, Request};
pub use crate::engine::run::request_stop;
use crate::engine::run::{self, RunOutcome};
pub use crate::engine::{Quiet, Reporter};
use crate::error::{Error, Result};
use crate::model::RunKind;
use crate::model::{Plan, PlanId, PlanStatus};
use crate::ops::session::{Default, Session};
use crate::plan::renames::Rename;
use crate::policy::rules::Rules;
use std::path::PathBuf;
use std::time::Duration;

/// How to apply, as the front door was told.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Signed approval files to count.
    pub approvals: &'a [PathBuf],
    /// How long to wait for the lock (none: fail at once, exit 5).
    pub wait: Option<Duration>,
}

/// Hears about the run: its start once every check passed, then each step.
pub trait Progress: Reporter {
    /// The plan's deletes and creates that read as renames (`plan::renames`), told just
    /// before `begin`, so that the steps can be shown as renames.
    fn renames(&mut self, _renames: &[Rename]) {}
    /// Every check passed; the run starts now.
    fn begin(&mut self, _plan_id: &str, _plan: &Plan, _kind: RunKind) {}
}

impl Progress for crate::engine::Quiet {}

/// What a committed run did, for the front door to render.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The full id of the plan that ran.
    pub plan: String,
    pub kind: RunKind,
    pub title: String,
    /// For a reverse plan: the plan it reverts, and whether that plan stays applied
    /// (a rollback of some of its paths).
    pub reverses: Option<Reverted>,
    pub run: RunOutcome,
    /// The deletes and creates of the run that read as renames.
    pub renames: Vec<Rename>,
}

/// The plan a rollback reverted.
#[derive(Debug, Clone)]
pub struct Reverted {
    pub plan: String,
    pub still_applied: bool,
}

/// Apply `plan` (an id or unique prefix; none: the newest approved plan).
pub fn apply(
    s: &mut Session,
    plan: Option<&str>,
    opts: Options<'_>,
    consent: Option<&mut dyn Consent<Session>>,
    progress: &mut dyn Progress,
) -> Result<Applied> {
    let row = s.resolve(plan, Default::NewestApproved).map_err(|e| {
        if plan.is_none() {
            Error::usage("there is no approved plan to apply").hint(
                "name the plan (`autonomy apply ID`), or approve one first with `autonomy approve`",
            )
        } else {
            e
        }
    })?;
    let loaded = s.load_plan(&row.id)?;
    run_plan(s, &row.id, loaded, RunKind::Apply, opts, consent, progress)
}

/// Admit a stored plan (every check, in order) and run it. Shared with rollback.
pub fn run_plan(
    s: &mut Session,
    plan_id: &PlanId,
    plan: Plan,
    kind: RunKind,
    opts: Options<'_>,
    consent: Option<&mut dyn Consent<Session>>,
    progress: &mut dyn Progress,
) -> Result<Applied> {
    let request = Request {
        plan_id,
        plan,
        kind,
        approvals: opts.approvals,
        wait: opts.wait,
    };
    let approved = admit::admit(s, request, consent)?;
    let renames = crate::ops::renames::detect(&s.ws, &s.blobs, approved.plan());
    progress.renames(&renames);
    progress.begin(plan_id, approved.plan(), kind);
    let title = approved.plan().title.clone();
    let reverses = approved.plan().reverses.clone();
    let actor = s.actor.clone();
    let rules = Rules::load(&s.ws.root)?;
    let outcome = run::execute(
        &s.ws,
        &mut s.journal,
        &s.blobs,
        &actor,
        approved,
        &rules,
        progress,
    )?;
    let reverses = match reverses {
        Some(orig) => Some(Reverted {
            still_applied: s.resolve(Some(&orig), Default::Newest)?.status == PlanStatus::Applied,
            plan: orig.into_string(),
        }),
        None => None,
    };
    Ok(Applied {
        plan: plan_id.to_string(),
        kind,
        title,
        reverses,
        run: outcome,
        renames,
    })
}
