//! The admission check: the one way to an [`Approved`] token, and so to a run. In the
//! design's order, the first failing check wins: the workspace lock (exit 5), an
//! interrupted run (6), the rules (a denied path, the limits: 1), the approvals (3), then
//! drift (4). `run::execute` takes the token, so no front door can run a plan with a check
//! skipped or out of order; the token holds the lock until the run ends.
//!
//! A person at a front door may be asked when their approval is all the rules still need
//! ([`Consent`]); the check records what they answered, as the OS user running it, and
//! counts again: a front door can only say yes or no, never vouch for an approval.
//!
//! Only `admit` makes the token. Its fields are private, so it cannot be built elsewhere:
//!
//! ```compile_fail,E0451
//! # #![allow(unreachable_code)]
//! let _token = autonomy::engine::admit::Approved {
//!     _lock: todo!(),
//!     root: todo!(),
//!     plan_id: todo!(),
//!     plan: todo!(),
//!     kind: todo!(),
//!     consume: todo!(),
//! };
//! ```
//!
//! nor copied to run a second time (it is not `Clone`):
//!
//! ```compile_fail,E0599
//! fn twice(t: &autonomy::engine::admit::Approved) -> autonomy::engine::admit::Approved {
//!     t.clone()
//! }
//! ```
//!
//! while the front door may read what it admitted:
//!
//! ```
//! fn show(t: &autonomy::engine::admit::Approved) -> (&str, usize) {
//!     (t.plan_id(), t.plan().changes.len())
//! }
//! ```

use crate::error::{Error, Kind, Result};
use crate::model::RunKind;
use crate::model::{EventKind, Plan, PlanId, PlanStatus, State};
use crate::policy::approval::check::{
    Presented, Unmet, outlook_with, recorded, standings, terminal, verify_files,
};
use crate::policy::approval::gate::Standing;
use crate::policy::approval::outlook::Outlook;
use crate::policy::rules::Rules;
use crate::store::blobs::BlobStore;
use crate::store::journal::Journal;
use crate::store::journal::approvals::{self, Decision, SignedGrant};
use crate::store::lock::Lock;
use crate::workspace::Workspace;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// A plan that passed every check, in order, with the lock still held. Made only by
/// [`admit`]; `run::execute` takes it by value, so a token runs one plan once.
pub struct Approved {
    _lock: Lock,
    /// The root of the workspace whose lock is held and whose files were checked.
    root: PathBuf,
    plan_id: PlanId,
    plan: Plan,
    kind: RunKind,
    consume: Vec<i64>,
}

impl Approved {
    /// The full id of the admitted plan.
    pub fn plan_id(&self) -> &PlanId {
        &self.plan_id
    }
    /// The plan as checked.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
    pub fn kind(&self) -> RunKind {
        self.kind
    }
    /// Approval rows to mark consumed when the run commits.
    pub fn consume(&self) -> &[i64] {
        &self.consume
    }
    /// Refuse a run in another workspace than the one admitted (and locked).
    pub fn check_workspace(&self, ws: &Workspace) -> Result<()> {
        if ws.root == self.root {
            return Ok(());
        }
        Err(Error::failed(format!(
            "plan {} was admitted in {}, not in {}",
            short(&self.plan_id),
            self.root.display(),
            ws.root.display()
        )))
    }
}

impl std::fmt::Debug for Approved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approved")
            .field("plan_id", &self.plan_id)
            .field("kind", &self.kind)
            .field("consume", &self.consume)
            .finish_non_exhaustive()
    }
}

/// An open workspace as the check sees it (the `ops` session implements it).
pub trait OpenWorkspace {
    fn ws(&self) -> &Workspace;
    fn journal(&self) -> &Journal;
    fn journal_mut(&mut self) -> &mut Journal;
    fn blobs(&self) -> &BlobStore;
    /// The rules, or why they do not parse.
    fn rules(&self) -> Result<&Rules>;
    /// The acting identity: who is recorded as asking, and as approving when asked.
    fn actor(&self) -> &str;
}

/// What a front door asks to run.
#[derive(Debug)]
pub struct Request<'a> {
    /// The full plan id.
    pub plan_id: &'a PlanId,
    /// The stored plan (as loaded, its id recomputed).
    pub plan: Plan,
    pub kind: RunKind,
    /// Signed approval files presented with the request.
    pub approvals: &'a [PathBuf],
    /// How long to wait for the lock (none: fail at once).
    pub wait: Option<Duration>,
}

/// What a front door is asked when the approval of the person at it is all the rules still
/// need (and the plan is not stale).
pub struct Question<'a> {
    pub plan_id: &'a PlanId,
    pub plan: &'a Plan,
    pub status: PlanStatus,
    /// Who would approve: the acting identity.
    pub approver: &'a str,
    /// What that approval would count for.
    pub outlook: &'a Outlook,
}

/// The person's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub approve: bool,
    /// Why, when they said (`no: REASON`).
    pub reason: Option<String>,
    /// What they typed, as typed (named in the "declined" error).
    pub typed: String,
}

/// A front door that can ask its person (the CLI at a terminal: preview, then prompt).
/// Hooks and MCP have nobody to ask and pass none.
pub trait Consent<S: ?Sized> {
    fn ask(&mut self, s: &S, q: &Question<'_>) -> Result<Reply>;
}

/// Run every check in order and hand out the token, or the first failure (with what each
/// presented approval file turned out to be journaled: granted when it counts, refused
/// with why otherwise).
pub fn admit<S: OpenWorkspace + ?Sized>(
    s: &mut S,
    req: Request<'_>,
    consent: Option<&mut dyn Consent<S>>,
) -> Result<Approved> {
    let Request {
        plan_id,
        plan,
        kind,
        approvals,
        wait,
    } = req;
    // A plan that can no longer run is refused before anyone waits for the lock.
    let status = status_of(s.journal(), plan_id)?;
    if let Some(e) = status_refusal(plan_id, status) {
        // A replayed approval is the more important news: say so (exit 3).
        if status == PlanStatus::Applied && !approvals.is_empty() {
            let valid = presented(s, plan_id, approvals)?;
            refuse_all(
                s,
                plan_id,
                &valid,
                "not counted: the plan was already applied",
            )?;
        }
        return Err(e);
    }
    s.rules()?;
    // 1. The lock (5).
    let lock = crate::store::lock::acquire(&s.ws().state_path(), kind.as_str(), wait)?;
    // 2. An interrupted run (6).
    if let Some((run, plan)) = interrupted(s.journal())? {
        return Err(interrupted_error(run, &plan));
    }
    // The status was read before the lock: while we waited, another process may have
    // applied (and even rolled back) this plan. A plan applies at most once.
    let status = status_of(s.journal(), plan_id)?;
    if let Some(e) = status_refusal(plan_id, status) {
        return Err(e);
    }
    // The status just read must be the one the plan's events give (exit 7 otherwise).
    crate::store::journal::derived::check_plan_row(s.journal(), plan_id)?;
    // 3. The rules (1): the plan is untrusted and the workspace may have changed, so every
    // path is checked again, then the limits.
    let rules = s.rules()?;
    crate::plan::check::check_plan(s.ws(), rules, &plan)?;
    rules.check_limits(&plan, &|h| s.blobs().size(h))?;
    // 4. The approvals (3).
    let consume = approve(s, plan_id, &plan, status, approvals, consent)?;
    // 5. Drift (4).
    let drifted = drift(s.ws(), &plan)?;
    if !drifted.is_empty() {
        return Err(drift_error(short(plan_id), &drifted));
    }
    Ok(Approved {
        _lock: lock,
        root: s.ws().root.clone(),
        plan_id: plan_id.clone(),
        plan,
        kind,
        consume,
    })
}

/// The approvals check: what is recorded plus what is presented, asking the person when
/// only their approval is missing. Returns the approval rows the run consumes.
fn approve<S: OpenWorkspace + ?Sized>(
    s: &mut S,
    plan_id: &PlanId,
    plan: &Plan,
    status: PlanStatus,
    files: &[PathBuf],
    consent: Option<&mut dyn Consent<S>>,
) -> Result<Vec<i64>> {
    let mut held = recorded(s.journal(), plan_id)?;
    let presented = presented(s, plan_id, files)?;
    let first_presented = held.len();
    held.extend(presented.iter().map(Presented::held));
    let mut standings = standings(s.journal(), s.rules()?, plan, &held)?;
    if let Some(consent) = consent
        && Unmet::of(&standings).is_some()
    {
        let me = terminal(s.actor());
        let outlook = outlook_with(s.journal(), s.rules()?, plan, &held, me.clone())?;
        // Ask only where a yes would let the run go ahead; otherwise the error below says
        // what is missing.
        if outlook.ready_after {
            let stale = drift(s.ws(), plan)?;
            if !stale.is_empty() {
                refuse_all(s, plan_id, &presented, "not counted: the plan is stale")?;
                return Err(stale_error(plan_id, &stale, "approved"));
            }
            let question = Question {
                plan_id,
                plan,
                status,
                approver: s.actor(),
                outlook: &outlook,
            };
            let reply = consent.ask(s, &question)?;
            let actor = s.actor().to_string();
            approvals::record_decision(
                s.journal_mut(),
                &Decision {
                    plan_id,
                    principal: &actor,
                    approve: reply.approve,
                    reason: reply.reason.as_deref(),
                    os_uid: me.os_uid,
                    os_user: me.os_user.as_deref(),
                },
            )?;
            if !reply.approve {
                let why = "not counted: the plan was declined at the terminal";
                refuse_all(s, plan_id, &presented, why)?;
                return Err(declined_error(short(plan_id), &reply.typed, false));
            }
            held.push(me);
            standings = self::standings(s.journal(), s.rules()?, plan, &held)?;
        }
    }
    if let Some(unmet) = Unmet::of(&standings) {
        refuse_all(s, plan_id, &presented, &unmet.reason())?;
        return Err(unmet.error(short(plan_id)));
    }
    consume(s, plan_id, &presented, first_presented, &standings)
}

/// Journal each presented approval as what it was: counted (its row is returned, to be
/// consumed by the run), or a duplicate of a signer or key already counted.
fn consume<S: OpenWorkspace + ?Sized>(
    s: &mut S,
    plan_id: &str,
    presented: &[Presented],
    first_presented: usize,
    standings: &[Standing],
) -> Result<Vec<i64>> {
    let counted: BTreeSet<usize> = standings
        .iter()
        .flat_map(|st| st.counted.iter().copied())
        .collect();
    let mut rows = Vec::new();
    for (i, p) in presented.iter().enumerate() {
        if counted.contains(&(first_presented + i)) {
            let acc = &p.accepted;
            let grant = SignedGrant {
                plan_id,
                principal: &acc.principal,
                approval_id: &acc.approval_id,
                fingerprint: &acc.fingerprint,
                statement: &acc.statement.render(),
                file_text: &String::from_utf8_lossy(&p.bytes),
                file: &p.file,
            };
            rows.push(approvals::grant_signed(s.journal_mut(), &grant)?);
        } else {
            let why = format!(
                "valid, but does not count: {} or key {} already counts for this plan",
                p.accepted.principal, p.accepted.fingerprint
            );
            refuse_presented(s, plan_id, p, &why)?;
        }
    }
    Ok(rows)
}

/// Verify the presented files. When any is refused, every refused file is journaled as
/// `approval.refused` with its reason, the valid ones as `approval.refused` too (they were
/// not counted), and the first refusal is the error (exit 3). Nothing is journaled for
/// valid files otherwise: that waits until it is known whether they count.
fn presented<S: OpenWorkspace + ?Sized>(
    s: &mut S,
    plan_id: &str,
    files: &[PathBuf],
) -> Result<Vec<Presented>> {
    let verified = verify_files(s.journal(), &s.ws().root, s.rules()?, plan_id, files)?;
    let Some(first) = verified.refused.first().cloned() else {
        return Ok(verified.valid);
    };
    let actor = s.actor().to_string();
    for r in &verified.refused {
        s.journal_mut().event(
            &actor,
            EventKind::ApprovalRefused,
            Some(plan_id),
            &json!({ "file": r.file, "reason": r.reason }),
        )?;
    }
    let why = format!(
        "not counted: approval file {} presented with it was refused",
        first.file
    );
    refuse_all(s, plan_id, &verified.valid, &why)?;
    Err(Error::not_approved(format!(
        "approval file {} refused: {}",
        first.file, first.reason
    ))
    .hint("nothing was changed; ask the approver for a new approval file for this plan"))
}

fn refuse_all<S: OpenWorkspace + ?Sized>(
    s: &mut S,
    plan_id: &str,
    presented: &[Presented],
    why: &str,
) -> Result<()> {
    for p in presented {
        refuse_presented(s, plan_id, p, why)?;
    }
    Ok(())
}

/// Record a valid presented approval that did not count: `approval.refused` with
/// `valid: true` and the reason. Nothing is stored as held, and its approval id stays
/// unused, so the same file may be presented again.
fn refuse_presented<S: OpenWorkspace + ?Sized>(
    s: &mut S,
    plan_id: &str,
    p: &Presented,
    reason: &str,
) -> Result<()> {
    let actor = s.actor().to_string();
    let acc = &p.accepted;
    s.journal_mut().event(
        &actor,
        EventKind::ApprovalRefused,
        Some(plan_id),
        &json!({
            "file": p.file, "reason": reason, "valid": true, "method": "ssh",
            "principal": acc.principal, "key_fingerprint": acc.fingerprint, "approval_id": acc.approval_id,
        }),
    )?;
    Ok(())
}

fn status_of(journal: &Journal, plan_id: &str) -> Result<PlanStatus> {
    approvals::plan_status(journal, plan_id)?.ok_or_else(|| {
        Error::integrity(format!("plan {} is not in the journal", short(plan_id)))
            .hint("run `autonomy verify`")
    })
}

use crate::model::id::short;

/// A plan that cannot be applied because of its status.
pub fn status_refusal(plan_id: &PlanId, status: PlanStatus) -> Option<Error> {
    let short = plan_id.short();
    match status {
        PlanStatus::Applied => Some(
            Error::failed(format!(
                "plan {short} was already applied; a plan applies at most once"
            ))
            .hint(format!("to undo it: autonomy rollback {short}")),
        ),
        PlanStatus::RolledBack => Some(
            Error::failed(format!("plan {short} was applied and then rolled back"))
                .hint("make a new plan to apply its changes again"),
        ),
        PlanStatus::Rejected => Some(
            Error::new(
                Kind::NotApproved,
                format!("plan {short} was rejected; it can no longer be applied"),
            )
            .hint("make a new plan"),
        ),
        PlanStatus::Pending | PlanStatus::Approved => None,
    }
}

/// Paths whose current state differs from the plan's `before`, with what is there now.
/// Files are hashed on every core, unless provably unchanged since they were last hashed
/// (see `Workspace::recheck`).
pub fn drift(ws: &Workspace, plan: &Plan) -> Result<Vec<(String, State)>> {
    let rels = plan
        .changes
        .iter()
        .map(|c| c.rel())
        .collect::<Result<Vec<_>>>()?;
    let states = ws.rechecks(&rels);
    ws.save_hashes();
    let mut out = Vec::new();
    for (c, now) in plan.changes.iter().zip(states) {
        let now = now?;
        if now != c.before {
            out.push((c.path.clone(), now));
        }
    }
    Ok(out)
}

/// The drift error (exit 4) naming every drifted path.
pub fn drift_error(plan_short: &str, drifted: &[(String, State)]) -> Error {
    let list: Vec<String> = drifted.iter().map(|(p, _)| format!("  {p}")).collect();
    Error::stale(format!(
        "plan {plan_short} no longer matches the workspace; {} changed since it was planned:\n{}",
        crate::util::text::count(drifted.len() as u64, "path"),
        list.join("\n")
    ))
    .hint("nothing was changed; make a new plan against the current files")
}

/// The stale error (exit 4): the plan's `before` no longer holds, so it is not `what`
/// (approved, signed).
pub fn stale_error(plan_id: &str, stale: &[(String, State)], what: &str) -> Error {
    let short = short(plan_id);
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

/// The "declined" error (exit 3); `typed` is the answer as typed.
pub fn declined_error(short: &str, typed: &str, by_approve: bool) -> Error {
    let typed = if typed.is_empty() {
        String::new()
    } else {
        format!(" (the answer was {typed:?})")
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

/// A run left `running` by a process that is gone (the caller holds the lock). A row
/// marked running whose events say it ended is an integrity error (exit 7): recovering it
/// would undo a committed run without an approval.
pub fn interrupted(journal: &Journal) -> Result<Option<(i64, PlanId)>> {
    let found = journal.running_run()?;
    if let Some((run, plan)) = &found {
        crate::store::journal::derived::check_running_row(journal, *run, plan)?;
    }
    Ok(found)
}

pub fn interrupted_error(run: i64, plan: &str) -> Error {
    Error::new(
        Kind::Interrupted,
        format!(
            "run {run} of plan {} was interrupted and the workspace may be half-changed",
            crate::model::id::short(plan)
        ),
    )
    .hint("run `autonomy recover` to put every path back, then try again")
}
