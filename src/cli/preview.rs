//! `autonomy preview`

use super::{Ctx, ui};
use crate::approval::record;
use crate::error::Result;
use crate::plan::Plan;
use crate::render::diff::MAX_DIFF_BYTES;
use crate::render::preview::{self, Fetched, PreviewDoc};
use crate::session::{Default, Session};
use crate::workspace::RelPath;
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
        let doc = build_doc(&s, &row.id, &plan, &row.status, &|_, t| t.to_string())?;
        ui::json(&doc);
    } else {
        show(&s, &row.id, &plan, &row.status, args.stat, false)?;
    }
    s.event(
        "plan.previewed",
        Some(&row.id),
        serde_json::json!({ "stat": args.stat }),
    )?;
    Ok(())
}

/// Build the preview document for a stored plan.
pub fn build_doc(
    s: &Session,
    plan_id: &str,
    plan: &Plan,
    status: &str,
    styled: &dyn Fn(&Style, &str) -> String,
) -> Result<PreviewDoc> {
    let mut held = record::recorded(s, plan_id)?;
    held.extend(signed_and_used(s, plan_id)?);
    let standings = record::standings(s, plan, &held)?;
    let signers = s.rules()?.allowed_signers.clone();
    let policy: Vec<&str> = plan
        .policy_paths(&signers)
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    let contents = |path: &str, hash: &str| fetch(s, path, hash);
    Ok(preview::build(&preview::Input {
        id: plan_id,
        plan,
        status,
        standings: &standings,
        held: &held,
        risk: crate::risk::in_force(&s.journal.conn, plan_id, plan, &signers)?,
        policy_paths: &policy,
        contents: &contents,
        styled,
    }))
}

/// The signed approvals a committed run of the plan counted: they are part of what was
/// held, so the preview of an applied plan shows them instead of "missing".
fn signed_and_used(s: &Session, plan_id: &str) -> Result<Vec<crate::approval::gate::Held>> {
    let mut stmt = s.journal.conn.prepare(
        "SELECT a.id, a.principal, a.method, a.key_fingerprint FROM approvals a
         JOIN runs r ON r.id = a.consumed_by
         WHERE a.plan = ?1 AND a.method <> 'terminal' AND a.decision = 'approve' AND r.state = 'committed'
         ORDER BY a.id",
    )?;
    let rows = stmt
        .query_map([plan_id], |r| {
            Ok(crate::approval::gate::Held {
                row: Some(r.get(0)?),
                principal: r.get(1)?,
                method: r.get(2)?,
                key: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Render the preview to the terminal: paged on stdout, or on stderr before a prompt when
/// stdout is not a terminal.
pub fn show(
    s: &Session,
    plan_id: &str,
    plan: &Plan,
    status: &str,
    stat_only: bool,
    for_prompt: bool,
) -> Result<()> {
    let to_stderr = for_prompt && !std::io::stdout().is_terminal();
    let styled: &dyn Fn(&Style, &str) -> String = if to_stderr {
        &ui::err_style
    } else {
        &ui::out_style
    };
    let doc = build_doc(s, plan_id, plan, status, styled)?;
    let text = preview::render_text(&doc, stat_only, styled);
    if to_stderr {
        eprint!("{text}");
    } else if let Err(e) = crate::render::pager::page(&text) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        return Err(crate::Error::io("writing the preview", e));
    }
    Ok(())
}

/// Contents by hash: the blob store first, then the workspace file if it still matches.
fn fetch(s: &Session, path: &str, hash: &str) -> Option<Fetched> {
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
    (crate::hash::sha256_hex(&bytes) == hash).then_some(Fetched::Bytes(bytes))
}

/// Preview a bundle: new contents from the bundle, old contents from the current folder
/// where a file there matches the plan's `before` hash.
fn preview_bundle(ctx: &Ctx, path: &std::path::Path, stat_only: bool) -> Result<()> {
    let bundle = crate::bundle::read(&ctx.dir.join(path))?;
    let contents = |rel: &str, hash: &str| -> Option<Fetched> {
        if let Some(b) = bundle.blobs.get(hash) {
            return Some(if b.len() > MAX_DIFF_BYTES {
                Fetched::TooLarge(b.len() as u64)
            } else {
                Fetched::Bytes(b.clone())
            });
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
        (crate::hash::sha256_hex(&bytes) == hash).then_some(Fetched::Bytes(bytes))
    };
    let policy: Vec<&str> = bundle
        .plan
        .policy_paths(crate::rules::DEFAULT_SIGNERS)
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    let styled: &dyn Fn(&Style, &str) -> String = if ctx.json() {
        &|_, t| t.to_string()
    } else {
        &ui::out_style
    };
    // Away from the workspace there is no history: plan signals only.
    let mut risk = crate::risk::assess(&bundle.plan, crate::rules::DEFAULT_SIGNERS, None)?;
    risk.reasons.insert(0, crate::risk::Reason {
        signal: "bundle",
        weight: 0,
        reason: "reviewing a bundle: the history signals and approvals are judged by the workspace's rules when the plan is applied".into(),
    });
    let doc = preview::build(&preview::Input {
        id: &bundle.id,
        plan: &bundle.plan,
        status: "bundle",
        standings: &[],
        held: &[],
        risk,
        policy_paths: &policy,
        contents: &contents,
        styled,
    });
    if ctx.json() {
        ui::json(&doc);
        return Ok(());
    }
    let text = preview::render_text(&doc, stat_only, styled);
    crate::render::pager::page(&text).map_err(|e| crate::Error::io("writing the preview", e))
}
