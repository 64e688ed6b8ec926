//! `autonomy export`

use super::{Ctx, ui};
use crate::error::Result;
use crate::ops::session::Session;
use std::path::PathBuf;

/// Write a plan bundle for review on another machine
///
/// The bundle holds the plan, its new contents and the old contents of the files it modifies
/// or deletes (each checked against its hash when read), so a reviewer previews the same
/// diff, removed lines included, on a machine that has only the bundle, and signs it there.
/// A pending or approved plan whose files changed since it was made is stale and is not
/// exported (exit 4).
///
/// Without PLAN, the newest pending plan.
///
/// Examples:
///   autonomy export 3f9c -o bump.autonomy
///   autonomy preview --bundle bump.autonomy
///   autonomy approve --bundle bump.autonomy --sign-with ~/.ssh/id_ed25519 -o alice.approval
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ExportArgs {
    /// Plan id or unique prefix (default: the newest pending plan).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::all_plans))]
    pub plan: Option<String>,
    /// Where to write the bundle.
    #[arg(short = 'o', long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: PathBuf,
}

pub fn run(args: ExportArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("export")?;
    let mut s = Session::open(&ctx.dir)?;
    let out = ctx.dir.join(&args.output);
    let done = crate::ops::export::export(&mut s, args.plan.as_deref(), &out, &args.output)?;
    if ctx.json() {
        ui::json(
            &serde_json::json!({ "format_version": crate::model::FORMAT_VERSION, "plan": done.plan, "file": args.output, "bytes": done.bytes }),
        );
    }
    ui::say(&format!(
        "Exported plan {} to {} ({}). Reviewers: `autonomy preview --bundle {}`.",
        done.plan.short(),
        args.output.display(),
        crate::render::diff::human_size(done.bytes),
        args.output.display()
    ));
    Ok(())
}
