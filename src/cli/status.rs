//! `autonomy status`

use super::{Ctx, ui};
use crate::error::Result;
use crate::render::status::{InterruptedDoc, RulesDoc, StatusDoc, render_text};
use crate::session::Session;

/// Show pending, approved and applied plans, and what needs attention
///
/// Lists the plans by status (id and title each), the lock holder if any, an interrupted run
/// if any, and whether the rules file (autonomy.toml) parses.
///
/// Examples:
///   autonomy status
///   autonomy status --format json | jq -r '.pending[].id'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    /// How many plans to list per status.
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
}

pub fn run(args: StatusArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("status")?;
    let s = Session::open_read_only(&ctx.dir)?;
    let holder = crate::store::lock::holder(&s.ws.state_path());
    let interrupted = s.interrupted_run()?;
    let present = s.ws.root.join(crate::workspace::RULES_FILE).exists();
    let doc = StatusDoc {
        format_version: crate::render::FORMAT_VERSION,
        workspace: s.workspace_id()?,
        root: s
            .ws
            .root
            .canonicalize()
            .unwrap_or_else(|_| s.ws.root.clone())
            .display()
            .to_string(),
        pending: s.plans_with_status(&["pending"], args.limit)?,
        approved: s.plans_with_status(&["approved"], args.limit)?,
        applied: s.plans_with_status(&["applied"], args.limit)?,
        lock_holder: holder,
        interrupted_run: interrupted.map(|(run, plan)| InterruptedDoc { run, plan }),
        rules: RulesDoc {
            present,
            ok: s.rules.is_ok(),
            error: s.rules.as_ref().err().map(|e| e.message.clone()),
            digest: s.journal.rules_digest.clone(),
        },
    };
    if ctx.json() {
        ui::json(&doc);
    } else {
        ui::print(&render_text(&doc, &ui::out_style));
    }
    Ok(())
}
