//! `autonomy recover`

use super::{Ctx, ui};
use crate::error::Result;
use crate::ops::session::Session;
use std::time::Duration;

/// Put the workspace back after an interrupted run
///
/// Each path the run touched is decided by what is there now: content equal to the run's
/// `after` is undone, content equal to `before` is left, anything else stops recovery and is
/// named (exit 4) so that nobody's work is overwritten. An exec step's paths are decided
/// against what its command was seen to write; a step interrupted while its command ran
/// has no known result, so anything differing from its snapshot is named. Safe to run
/// again; with nothing interrupted it does nothing.
///
/// Example:
///   autonomy status && autonomy recover && autonomy verify
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RecoverArgs {
    /// Wait up to SECS for the workspace lock instead of failing at once.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
    /// Put back every path even where its content is not recognised; that content is kept
    /// in .autonomy/objects first and listed in the journal (`run.recovered`).
    #[arg(long)]
    pub overwrite: bool,
}

pub fn run(args: RecoverArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("recover")?;
    let mut s = Session::open(&ctx.dir)?;
    let mut reporter = ui::StepPrinter::new(0);
    let done = crate::ops::recover::recover(
        &mut s,
        args.wait.map(Duration::from_secs),
        args.overwrite,
        &mut reporter,
    )?;
    if ctx.json() {
        ui::json(
            &serde_json::json!({ "format_version": crate::model::FORMAT_VERSION, "recovered": done }),
        );
    }
    match done {
        None => ui::say("Nothing to recover: no run was interrupted."),
        Some(r) => {
            ui::say(&format!(
                "Recovered run {} of plan {}: {} put back as they were before it. Check with `autonomy verify`.",
                r.run,
                r.plan.short(),
                crate::util::text::count(r.restored.len() as u64, "path")
            ));
            for o in &r.overwritten {
                ui::say(&format!(
                    "  overwrote {}; its content is kept as blob {}",
                    o.path,
                    &o.kept[..12.min(o.kept.len())]
                ));
            }
        }
    }
    Ok(())
}
