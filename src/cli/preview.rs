//! `autonomy preview`

use super::{Ctx, ui};
use crate::error::Result;
use crate::model::{Plan, PlanStatus};
use crate::ops;
use crate::ops::preview::Bundle;
use crate::ops::session::{Default, Session};
use crate::render::preview::{self, PreviewDoc};
use console::Style;

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
    ops::preview::previewed(&mut s, &row.id, args.stat)?;
    Ok(())
}

/// Build the preview document for a stored plan.
pub fn build_doc(
    s: &Session,
    plan_id: &str,
    plan: &Plan,
    status: PlanStatus,
    styled: &dyn Fn(&Style, &str) -> String,
) -> Result<PreviewDoc> {
    let facts = ops::preview::facts(s, plan_id, plan, status)?;
    let contents = |path: &str, hash: &str| ops::preview::fetch(s, path, hash);
    Ok(doc_of(
        plan_id,
        plan,
        status.as_str(),
        facts,
        &contents,
        styled,
    ))
}

/// The preview document of a plan from what `ops::preview` found.
fn doc_of(
    id: &str,
    plan: &Plan,
    status: &str,
    facts: ops::preview::Facts,
    contents: preview::Contents<'_>,
    styled: &dyn Fn(&Style, &str) -> String,
) -> PreviewDoc {
    let policy: Vec<&str> = facts.policy_paths.iter().map(String::as_str).collect();
    preview::build(&preview::Input {
        id,
        plan,
        status,
        standings: &facts.standings,
        held: &facts.held,
        risk: facts.risk,
        policy_paths: &policy,
        stale: &facts.stale,
        contents,
        styled,
    })
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
        if ui::stdout_is_terminal() {
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
    ui::page(&text, "writing the preview")?;
    Ok(())
}

/// Preview a bundle: old and new contents from the bundle (old contents of older bundles
/// from the current folder where a file there matches the plan's `before` hash).
fn preview_bundle(ctx: &Ctx, path: &std::path::Path, stat_only: bool) -> Result<()> {
    let bundle = ops::preview::read_bundle(&ctx.dir.join(path))?;
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
    bundle: &Bundle,
    styled: &dyn Fn(&Style, &str) -> String,
) -> Result<PreviewDoc> {
    let facts = ops::preview::bundle_facts(&ctx.dir, bundle)?;
    let contents = |rel: &str, hash: &str| ops::preview::bundle_fetch(&ctx.dir, bundle, rel, hash);
    Ok(doc_of(
        &bundle.id,
        &bundle.plan,
        "bundle",
        facts,
        &contents,
        styled,
    ))
}
