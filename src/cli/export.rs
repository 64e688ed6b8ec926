//! `autonomy export`

use super::{Ctx, ui};
use crate::error::Result;
use crate::session::{Default, Session};
use std::path::PathBuf;

/// Write a plan bundle for review on another machine
///
/// The bundle holds the plan and its new contents; the `before` side is hashes only, so
/// nothing else leaves the workspace. A reviewer previews and signs it on their own machine
/// (run inside their checkout, the preview shows real diffs where their files match).
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
    let row = s.resolve(args.plan.as_deref(), Default::NewestPending)?;
    let plan = s.load_plan(&row.id)?;
    let out = ctx.dir.join(&args.output);
    let size = crate::bundle::write(&out, &plan, &|h| s.blobs.read(h))?;
    s.event(
        "plan.exported",
        Some(&row.id),
        serde_json::json!({ "file": args.output, "bytes": size }),
    )?;
    if ctx.json() {
        ui::json(
            &serde_json::json!({ "format_version": crate::render::FORMAT_VERSION, "plan": row.id, "file": args.output, "bytes": size }),
        );
    }
    ui::say(&format!(
        "Exported plan {} to {} ({}). Reviewers: `autonomy preview --bundle {}`.",
        &row.id[..12],
        args.output.display(),
        crate::render::diff::human_size(size),
        args.output.display()
    ));
    Ok(())
}
