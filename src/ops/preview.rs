//! Previewing a plan: what a preview shows besides the plan itself (the approvals held and
//! still needed, the risk in force, the policy paths, the paths that drifted) and the
//! contents its diffs are made from, for a stored plan or a bundle. Rendering is the front
//! door's (`render::preview`); journaling that a preview was shown is here.

use crate::error::Result;
use crate::model::content::MAX_DIFF_BYTES;
use crate::model::{EventKind, Fetched, Plan, PlanStatus, State};
use crate::ops::approvals;
use crate::ops::session::{Default, Session};
use crate::paths::RelPath;
use crate::policy::approval::gate::{Held, Standing};
use crate::policy::risk::{Assessment, Reason};
use crate::policy::rules::DEFAULT_SIGNERS;
pub use crate::store::bundle::Bundle;
use std::path::Path;

/// What a preview shows of a plan beyond its changes.
#[derive(Debug)]
pub struct Facts {
    pub held: Vec<Held>,
    pub standings: Vec<Standing>,
    pub risk: Assessment,
    /// The plan's paths that change who may approve (signers, rules).
    pub policy_paths: Vec<String>,
    /// Paths that drifted from the plan's `before`, with what is there now.
    pub stale: Vec<(String, State)>,
}

/// The facts of a stored plan in this workspace.
pub fn facts(s: &Session, plan_id: &str, plan: &Plan, status: PlanStatus) -> Result<Facts> {
    let mut held = approvals::recorded(s, plan_id)?;
    held.extend(signed_and_used(s, plan_id)?);
    let standings = approvals::standings(s, plan, &held)?;
    let signers = s.rules()?.allowed_signers.clone();
    let policy_paths = plan
        .policy_paths(&signers)
        .iter()
        .map(|c| c.path.clone())
        .collect();
    Ok(Facts {
        stale: stale_paths(s, plan, status)?,
        risk: crate::policy::risk::in_force(&s.journal, plan_id, plan, &signers)?,
        held,
        standings,
        policy_paths,
    })
}

/// Journal that the plan was previewed.
pub fn previewed(s: &mut Session, plan_id: &str, stat: bool) -> Result<()> {
    s.event(
        EventKind::PlanPreviewed,
        Some(plan_id),
        serde_json::json!({ "stat": stat }),
    )
}

/// Paths of a stored plan that no longer hold its `before`, for a plan that may still be
/// approved or applied (pending or approved); empty otherwise.
pub fn stale_paths(s: &Session, plan: &Plan, status: PlanStatus) -> Result<Vec<(String, State)>> {
    if !status.is_open() {
        return Ok(Vec::new());
    }
    crate::engine::admit::drift(&s.ws, plan)
}

/// Paths of `plan` that no longer hold its `before`, with what is there now.
pub fn drift(s: &Session, plan: &Plan) -> Result<Vec<(String, State)>> {
    crate::engine::admit::drift(&s.ws, plan)
}

/// The signed approvals a committed run of the plan counted: they are part of what was
/// held, so the preview of an applied plan shows them instead of "missing".
fn signed_and_used(s: &Session, plan_id: &str) -> Result<Vec<Held>> {
    let rows = s
        .journal
        .used_signed_approvals(plan_id)?
        .into_iter()
        .map(|a| Held {
            row: Some(a.row),
            principal: a.principal,
            method: a.method,
            key: a.key,
            os_uid: None,
            os_user: None,
        })
        .collect();
    Ok(rows)
}

/// Contents by hash: the blob store first, then the workspace file if it still matches.
pub fn fetch(s: &Session, path: &str, hash: &str) -> Option<Fetched> {
    if let Some(size) = s.blobs.size(hash) {
        if size > MAX_DIFF_BYTES as u64 {
            return Some(Fetched::TooLarge(size));
        }
        if let Ok(bytes) = s.blobs.read(hash) {
            return Some(Fetched::Bytes(bytes));
        }
    }
    matching_file(&s.ws, path, hash)
}

/// The workspace file at `path` if it is a regular file whose content has `hash`.
fn matching_file(ws: &crate::workspace::Workspace, path: &str, hash: &str) -> Option<Fetched> {
    let rel = RelPath::parse(path).ok()?;
    let meta = ws.lstat(&rel).ok()??;
    if !meta.is_file() {
        return None;
    }
    if meta.len() > MAX_DIFF_BYTES as u64 {
        return Some(Fetched::TooLarge(meta.len()));
    }
    let bytes = ws
        .open_dir(rel.parent().as_ref())
        .ok()?
        .read(rel.file_name())
        .ok()?;
    (crate::util::hash::sha256_hex(&bytes) == hash).then_some(Fetched::Bytes(bytes))
}

/// Read an exported bundle (checked: its id is its plan's).
pub fn read_bundle(path: &Path) -> Result<Bundle> {
    crate::store::bundle::read(path)
}

/// Contents of a bundle's plan by hash: from the bundle, else (older bundles carry no old
/// contents) a file under `dir` that matches the hash.
pub fn bundle_fetch(dir: &Path, bundle: &Bundle, rel: &str, hash: &str) -> Option<Fetched> {
    if let Some(b) = bundle.blobs.get(hash) {
        return Some(if b.len() > MAX_DIFF_BYTES {
            Fetched::TooLarge(b.len() as u64)
        } else {
            Fetched::Bytes(b.clone())
        });
    }
    if let Some(&size) = bundle.large.get(hash) {
        return Some(Fetched::TooLarge(size));
    }
    let local = crate::workspace::Workspace::open(dir).ok()?;
    match matching_file(&local, rel, hash)? {
        // A local file too large to diff is not shown at all for a bundle.
        Fetched::TooLarge(_) => None,
        found => Some(found),
    }
}

/// The facts of a bundle's plan seen from `dir`: away from its workspace there is no
/// history, so plan signals only and no approvals.
pub fn bundle_facts(dir: &Path, bundle: &Bundle) -> Result<Facts> {
    let policy_paths = bundle
        .plan
        .policy_paths(DEFAULT_SIGNERS)
        .iter()
        .map(|c| c.path.clone())
        .collect();
    let mut risk = crate::policy::risk::assess(&bundle.plan, DEFAULT_SIGNERS, None)?;
    risk.reasons.insert(0, Reason {
        signal: "bundle",
        weight: 0,
        reason: "reviewing a bundle: the history signals and approvals are judged by the workspace's rules when the plan is applied".into(),
    });
    Ok(Facts {
        held: Vec::new(),
        standings: Vec::new(),
        risk,
        policy_paths,
        stale: bundle_stale(dir, bundle)?,
    })
}

/// Drift of a bundle's plan when `dir` is inside the very workspace it was made for (a
/// reviewer's plain checkout has no `.autonomy/`: nothing to check there; the workspace
/// checks again at apply time).
pub fn bundle_stale(dir: &Path, bundle: &Bundle) -> Result<Vec<(String, State)>> {
    let Ok(s) = Session::open_read_only(dir) else {
        return Ok(Vec::new());
    };
    if s.workspace_id().ok().as_deref() != Some(bundle.plan.workspace.as_str()) {
        return Ok(Vec::new());
    }
    let status = s
        .resolve(Some(&bundle.id), Default::Newest)
        .map(|r| r.status)
        .unwrap_or(PlanStatus::Pending);
    stale_paths(&s, &bundle.plan, status)
}
