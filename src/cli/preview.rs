//! `autonomy preview`

use super::{Ctx, ui};
use crate::error::Result;
use crate::model::{Plan, PlanStatus, State};
use crate::ops::approvals;
use crate::ops::session::{Default, Session};
use crate::paths::RelPath;
use crate::render::diff::MAX_DIFF_BYTES;
use crate::render::preview::{self, Fetched, PreviewDoc};
use console::Style;
use std::io::IsTerminal;

/// Show exactly what a plan would change
///
/// The header (id, title, author, created, status, approvals held and needed), risk notes,
/// then every change as a coloured unified diff (binary and large files as sizes and hashes).
/// Long output goes through a pager on a terminal (AUTONOMY_PAGER, PAGER, or less -FRX).
///
/// Without PLAN, the newest pending plan.
///
/// Examples:
///   autonomy preview
///   autonomy preview 3f9c --stat
///   autonomy preview --format json | jq -r '.changes[].path'
///   autonomy preview --bundle bump.autonomy
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct PreviewArgs {
    /// Plan id or unique prefix (default: the newest pending plan).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::all_plans))]
    pub plan: Option<String>,
    /// Only a diffstat: one line per path.
    #[arg(long)]
    pub stat: bool,
    /// Preview the plan in this bundle (from `autonomy export`); needs no workspace. Run it
    /// inside a checkout to see real diffs where the files match the plan's `before`.
    #[arg(long, value_name = "FILE", conflicts_with = "plan", value_hint = clap::ValueHint::FilePath)]
    pub bundle: Option<std::path::PathBuf>,
}

pub fn run(args: PreviewArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("preview")?;
    if let Some(path) = &args.bundle {
        return preview_bundle(ctx, path, args.stat);
    }
    let mut s = Session::open(&ctx.dir)?;
    let row = s.resolve(args.plan.as_deref(), Default::NewestPending)?;
    let plan = s.load_plan(&row.id)?;
    if ctx.json() {
        let doc = build_doc(&s, &row.id, &plan, row.status, &|_, t| t.to_string())?;
        ui::json(&doc);
    } else {
        let doc = show(&s, &row.id, &plan, row.status, args.stat, false)?;
        if !doc.stale.is_empty() {
            // Also on stderr, after the pager: the warning must not scroll away.
            ui::say(preview::stale_banner(&doc, &ui::err_style).trim_end());
        }
    }
    s.event(
        crate::model::EventKind::PlanPreviewed,
        Some(&row.id),
        serde_json::json!({ "stat": args.stat }),
    )?;
    Ok(())
}

/// Paths of a stored plan that no longer hold its `before`, for a plan that may still be
/// approved or applied (pending or approved); empty otherwise.
pub fn stale_paths(s: &Session, plan: &Plan, status: PlanStatus) -> Result<Vec<(String, State)>> {
    if !status.is_open() {
        return Ok(Vec::new());
    }
    crate::engine::admit::drift(&s.ws, plan)
}

/// Build the preview document for a stored plan.
pub fn build_doc(
    s: &Session,
    plan_id: &str,
    plan: &Plan,
    status: PlanStatus,
    styled: &dyn Fn(&Style, &str) -> String,
) -> Result<PreviewDoc> {
    let mut held = approvals::recorded(s, plan_id)?;
    held.extend(signed_and_used(s, plan_id)?);
    let standings = approvals::standings(s, plan, &held)?;
    let signers = s.rules()?.allowed_signers.clone();
    let policy: Vec<&str> = plan
        .policy_paths(&signers)
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    let stale = stale_paths(s, plan, status)?;
    let contents = |path: &str, hash: &str| fetch(s, path, hash);
    Ok(preview::build(&preview::Input {
        id: plan_id,
        plan,
        status: status.as_str(),
        standings: &standings,
        held: &held,
        risk: crate::policy::risk::in_force(&s.journal, plan_id, plan, &signers)?,
        policy_paths: &policy,
        stale: &stale,
        contents: &contents,
        styled,
    }))
}

/// Where a preview goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// stdout, through the pager when stdout is a terminal.
    Paged,
    /// stderr (stdout carries data, or is not a terminal before a prompt).
    Stderr,
}

impl Dest {
    /// Before a prompt: paged when stdout is a terminal, else on stderr so the person at
    /// the terminal still sees it (`autonomy approve > log`).
    pub fn for_prompt() -> Dest {
        if std::io::stdout().is_terminal() {
            Dest::Paged
        } else {
            Dest::Stderr
        }
    }
    pub fn styled(self) -> &'static dyn Fn(&Style, &str) -> String {
        match self {
            Dest::Paged => &ui::out_style,
            Dest::Stderr => &ui::err_style,
        }
    }
}

/// The signed approvals a committed run of the plan counted: they are part of what was
/// held, so the preview of an applied plan shows them instead of "missing".
fn signed_and_used(s: &Session, plan_id: &str) -> Result<Vec<crate::policy::approval::gate::Held>> {
    let rows = s
        .journal
        .used_signed_approvals(plan_id)?
        .into_iter()
        .map(|a| crate::policy::approval::gate::Held {
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

/// Render the preview to the terminal: paged on stdout, or on stderr before a prompt when
/// stdout is not a terminal. Returns the document shown.
pub fn show(
    s: &Session,
    plan_id: &str,
    plan: &Plan,
    status: PlanStatus,
    stat_only: bool,
    for_prompt: bool,
) -> Result<PreviewDoc> {
    let dest = if for_prompt {
        Dest::for_prompt()
    } else {
        Dest::Paged
    };
    let doc = build_doc(s, plan_id, plan, status, dest.styled())?;
    emit(&doc, stat_only, dest, for_prompt)?;
    Ok(doc)
}

/// Write a built preview to `dest`. Before a prompt, a paged preview ends by saying how to
/// get to the question (quit the pager), since the question comes only after it closes.
pub fn emit(doc: &PreviewDoc, stat_only: bool, dest: Dest, for_prompt: bool) -> Result<()> {
    let mut text = preview::render_text(doc, stat_only, dest.styled());
    if dest == Dest::Stderr {
        ui::say_raw(&text);
        return Ok(());
    }
    if for_prompt {
        text.push_str(&format!(
            "\n(End of the preview of plan {}. Quit the pager (q) to get to the question.)\n",
            crate::model::id::short(&doc.plan.id)
        ));
    }
    // A closed pipe comes back as an error that `main` ends on quietly.
    if let Err(e) = crate::render::pager::page(&text) {
        return Err(crate::Error::io("writing the preview", e));
    }
    Ok(())
}

/// Contents by hash: the blob store first, then the workspace file if it still matches.
pub(super) fn fetch(s: &Session, path: &str, hash: &str) -> Option<Fetched> {
    if let Some(size) = s.blobs.size(hash) {
        if size > MAX_DIFF_BYTES as u64 {
            return Some(Fetched::TooLarge(size));
        }
        if let Ok(bytes) = s.blobs.read(hash) {
            return Some(Fetched::Bytes(bytes));
        }
    }
    let rel = RelPath::parse(path).ok()?;
    let meta = s.ws.lstat(&rel).ok()??;
    if !meta.is_file() {
        return None;
    }
    if meta.len() > MAX_DIFF_BYTES as u64 {
        return Some(Fetched::TooLarge(meta.len()));
    }
    let dir = s.ws.open_dir(rel.parent().as_ref()).ok()?;
    let bytes = dir.read(rel.file_name()).ok()?;
    (crate::util::hash::sha256_hex(&bytes) == hash).then_some(Fetched::Bytes(bytes))
}

/// Preview a bundle: old and new contents from the bundle (old contents of older bundles
/// from the current folder where a file there matches the plan's `before` hash).
fn preview_bundle(ctx: &Ctx, path: &std::path::Path, stat_only: bool) -> Result<()> {
    let bundle = crate::store::bundle::read(&ctx.dir.join(path))?;
    let styled: &dyn Fn(&Style, &str) -> String = if ctx.json() {
        &|_, t| t.to_string()
    } else {
        &ui::out_style
    };
    let doc = bundle_doc(ctx, &bundle, styled)?;
    if ctx.json() {
        ui::json(&doc);
        return Ok(());
    }
    emit(&doc, stat_only, Dest::Paged, false)?;
    if !doc.stale.is_empty() {
        ui::say(preview::stale_banner(&doc, &ui::err_style).trim_end());
    }
    Ok(())
}

/// The preview document of a bundle. Inside the workspace the plan was made in, staleness
/// is checked against it too.
pub fn bundle_doc(
    ctx: &Ctx,
    bundle: &crate::store::bundle::Bundle,
    styled: &dyn Fn(&Style, &str) -> String,
) -> Result<PreviewDoc> {
    let contents = |rel: &str, hash: &str| -> Option<Fetched> {
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
        let rel = RelPath::parse(rel).ok()?;
        let local = crate::workspace::Workspace::open(&ctx.dir).ok()?;
        let meta = local.lstat(&rel).ok()??;
        if !meta.is_file() || meta.len() > MAX_DIFF_BYTES as u64 {
            return None;
        }
        let bytes = local
            .open_dir(rel.parent().as_ref())
            .ok()?
            .read(rel.file_name())
            .ok()?;
        (crate::util::hash::sha256_hex(&bytes) == hash).then_some(Fetched::Bytes(bytes))
    };
    let policy: Vec<&str> = bundle
        .plan
        .policy_paths(crate::policy::rules::DEFAULT_SIGNERS)
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    // Away from the workspace there is no history: plan signals only.
    let mut risk =
        crate::policy::risk::assess(&bundle.plan, crate::policy::rules::DEFAULT_SIGNERS, None)?;
    risk.reasons.insert(0, crate::policy::risk::Reason {
        signal: "bundle",
        weight: 0,
        reason: "reviewing a bundle: the history signals and approvals are judged by the workspace's rules when the plan is applied".into(),
    });
    let stale = bundle_stale(ctx, bundle)?;
    Ok(preview::build(&preview::Input {
        id: &bundle.id,
        plan: &bundle.plan,
        status: "bundle",
        standings: &[],
        held: &[],
        risk,
        policy_paths: &policy,
        stale: &stale,
        contents: &contents,
        styled,
    }))
}

/// Drift of a bundle's plan when the current folder is inside the very workspace it was
/// made for (a reviewer's plain checkout has no `.autonomy/`: nothing to check there; the
/// workspace checks again at apply time).
pub fn bundle_stale(
    ctx: &Ctx,
    bundle: &crate::store::bundle::Bundle,
) -> Result<Vec<(String, State)>> {
    let Ok(s) = Session::open_read_only(&ctx.dir) else {
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
