//! `autonomy plan`

use super::{Ctx, ui};
use crate::error::Result;
use crate::ops::propose::{self, Input, Made, Proposal, Proposed, Source};
use crate::ops::session::Session;
use std::path::PathBuf;

/// Compile a plan file, a patch or a captured command into a pending plan
///
/// The plan file (TOML) has a title and a list of actions, each of one kind: write, edit,
/// delete, move, mkdir, chmod, symlink, exec. `autonomy help plan-file` (or `man 5
/// autonomy-plan`) describes every key. Edits are resolved to full contents now, so the
/// preview shows and the approval covers exactly the bytes that `apply` will write. Prints
/// the plan id (12 hex digits) on stdout and a summary on stderr. A plan that would change
/// nothing is no error: it prints no id, says so, and exits 0. Planning again what is
/// already pending (the same changes, exec steps, title and author, by the same actor) makes
/// no second plan: it prints the pending plan's id and exits 0.
///
/// Example plan file:
///   title = "Bump the version"
///   [[action]]
///   kind = "write"
///   path = "VERSION"
///   content = "1.2.0\n"
///
/// Examples:
///   id=$(autonomy plan change.toml) && autonomy preview "$id"
///   git diff --binary | autonomy plan --patch -
///   autonomy plan --capture --scope src -- cargo fmt
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "patch", "capture"])))]
pub struct PlanArgs {
    /// The plan file, or `-` for stdin.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub file: Option<PathBuf>,
    /// Make the plan from a unified diff (`git diff --binary`, `git format-patch`, `diff -u`),
    /// or `-` for stdin. Context must match exactly; line offsets are fine, fuzz is not.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub patch: Option<PathBuf>,
    /// Run CMD in a copy-on-write view of the workspace (never in it) and plan what it
    /// changed.
    #[arg(long, requires = "command")]
    pub capture: bool,
    /// With --capture: plan only changes to these paths (repeatable); the command's
    /// changes elsewhere are listed and not planned.
    #[arg(long, value_name = "PATH", requires = "capture")]
    pub scope: Vec<String>,
    /// With --capture: plan the command's changes even when it exits with a non-zero
    /// status (a signal or the timeout still plans nothing).
    #[arg(long, requires = "capture")]
    pub allow_failure: bool,
    /// The plan's title (default: the patch's Subject, or the captured command).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// The command for --capture, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

pub fn run(args: PlanArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("plan")?;
    let mut s = Session::open(&ctx.dir)?;
    s.refuse_if_interrupted()?;
    let source = if let Some(patch) = &args.patch {
        Source::Patch(Input::from_arg(patch, &ctx.dir))
    } else if args.capture {
        return super::capture::plan_capture(&mut s, ctx, args);
    } else {
        Source::PlanFile(Input::from_arg(
            &args.file.clone().unwrap_or_default(),
            &ctx.dir,
        ))
    };
    let proposed = propose::propose(&mut s, Proposal::new(source).title(args.title))?;
    render(ctx, &proposed);
    Ok(())
}

/// Print what `propose` made: the id on stdout (or the JSON document), and a line on
/// stderr saying whether it is a new plan, the pending one again, or nothing.
pub fn render(ctx: &Ctx, proposed: &Proposed) {
    for note in &proposed.notes {
        ui::say(&format!("note: {note}"));
    }
    match &proposed.made {
        Made::New { id, plan } => report(ctx, id, plan),
        Made::Same { id, plan, status } => {
            ui::say(&format!(
                "Same plan as the {status} plan {}: it is already stored; nothing new was planned.",
                &id[..12]
            ));
            report(ctx, id, plan);
        }
        Made::Nothing { why } => nothing_to_plan(ctx, why),
    }
}

/// A no-op is not a failure (exit 0), and no plan is made: stdout stays empty (`plan`
/// is null in JSON), so `id=$(autonomy plan ...)` is empty, and stderr says why.
pub(super) fn nothing_to_plan(ctx: &Ctx, why: &str) {
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "plan": null, "nothing_to_plan": why,
        }));
    }
    ui::say(&format!("Nothing to plan: {why}. No plan was made."));
}

/// The plan's deletes and creates that read as renames (none when it has not both).
fn renames_of(ctx: &Ctx, plan: &crate::model::Plan) -> Vec<crate::plan::renames::Rename> {
    let has = |f: &dyn Fn(&crate::model::Change) -> bool| plan.changes.iter().any(f);
    if !has(&|c| c.after.is_absent()) || !has(&|c| c.before.is_absent()) {
        return Vec::new();
    }
    match Session::open_read_only(&ctx.dir) {
        Ok(s) => crate::ops::renames::detect(&s.ws, &s.blobs, plan),
        Err(_) => Vec::new(),
    }
}

/// Print the id (stdout) and a one-line summary (stderr).
pub fn report(ctx: &Ctx, id: &str, plan: &crate::model::Plan) {
    let renames = renames_of(ctx, plan);
    let mut counts = std::collections::BTreeMap::new();
    if !renames.is_empty() {
        counts.insert("renamed", renames.len());
    }
    let sides: std::collections::HashSet<usize> = renames
        .iter()
        .flat_map(|r| [r.from_index, r.to_index])
        .collect();
    for (i, c) in plan.changes.iter().enumerate() {
        if !sides.contains(&i) {
            *counts.entry(c.verb()).or_insert(0usize) += 1;
        }
    }
    let parts = crate::render::change_counts(&counts, plan.exec.len());
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION,
            "plan": { "id": id, "short": crate::model::id::short(id), "title": plan.title, "author": plan.author,
                      "created": plan.created, "changes": plan.changes.len(), "reverses": plan.reverses }
        }));
    } else {
        ui::println(crate::model::id::short(id));
    }
    ui::say(&format!(
        "Planned {} {:?}: {} ({}). Review it with `autonomy preview {}`.",
        crate::model::id::short(id),
        crate::paths::printable(&plan.title),
        crate::util::text::count(plan.changes.len() as u64, "change"),
        parts.join(", "),
        crate::model::id::short(id)
    ));
}
