//! `autonomy plan --capture`: the CLI half (the command's output made safe for the
//! terminal, then `ops::propose`).

use super::plan::PlanArgs;
use super::{Ctx, ui};
use crate::error::Result;
use crate::ops::propose::{self, Capture, Proposal, Source};
use crate::ops::session::Session;

pub fn plan_capture(s: &mut Session, ctx: &Ctx, args: PlanArgs) -> Result<()> {
    if !args.command.is_empty() {
        ui::say(&format!(
            "Running `{}` in a copy-on-write view of the workspace (the workspace is not touched)",
            shell_words::join(&args.command)
        ));
    }
    // The command's output is shown with its escape sequences made visible.
    let mut sink = crate::render::termsafe::TerminalSafe::new(ui::stderr());
    let source = Source::Capture(Capture {
        argv: args.command,
        scopes: args.scope,
        output: &mut sink,
        allow_failure: args.allow_failure,
    });
    let proposed = propose::propose(s, Proposal::new(source).title(args.title))?;
    super::plan::render(ctx, &proposed);
    Ok(())
}
