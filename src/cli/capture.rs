//! `autonomy plan --capture`: the CLI half (output streaming and reporting).

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::plan::compile::{self, Meta};
use crate::session::Session;
use crate::workspace::RelPath;

pub fn plan_capture(
    s: &mut Session,
    ctx: &Ctx,
    argv: &[String],
    scopes: &[String],
    allow_failure: bool,
    title: Option<&str>,
) -> Result<()> {
    if argv.is_empty() {
        return Err(Error::usage(
            "--capture needs a command after `--`, e.g. autonomy plan --capture -- cargo fmt",
        ));
    }
    let scopes = scopes
        .iter()
        .map(|p| RelPath::parse(p))
        .collect::<Result<Vec<_>>>()?;
    let timeout = match &s.rules()?.exec.timeout {
        Some(t) => crate::rules::parse_duration(t)?,
        None => std::time::Duration::from_secs(600),
    };
    let shown = shell_words::join(argv);
    ui::say(&format!(
        "Running `{shown}` in a copy-on-write view of the workspace (the workspace is not touched)"
    ));
    // The command's output is shown with its escape sequences made visible.
    let mut sink = crate::render::termsafe::TerminalSafe::new(std::io::stderr());
    let on_failure = if allow_failure {
        crate::capture::OnFailure::Plan
    } else {
        crate::capture::OnFailure::Refuse
    };
    let captured =
        crate::capture::capture(&s.ws.root, argv, &scopes, timeout, on_failure, &mut sink)?;
    if let Some(why) = &captured.fallback {
        ui::say(&format!(
            "note: the kernel cannot mount a copy-on-write view here ({why}); the command ran \
             in a scratch copy of the workspace instead, which costs a copy of the whole tree"
        ));
    }
    let status = captured.outcome.status;
    if status != crate::exec::ExitKind::Exited(0) {
        ui::say(&format!(
            "note: `{shown}` ended with {}; its changes are planned anyway (--allow-failure)",
            crate::capture::describe(status)
        ));
    }
    report_left_out(&shown, &captured);
    if captured.ops.is_empty() {
        return super::plan::nothing_to_plan(
            ctx,
            &format!("`{shown}` changed nothing that can be planned"),
        );
    }
    let meta = Meta {
        workspace: s.workspace_id()?,
        title: title
            .map(str::to_string)
            .unwrap_or_else(|| format!("Captured: {shown}")),
        author: s.actor.clone(),
        description: Some(match status {
            crate::exec::ExitKind::Exited(0) => {
                format!("Changes made by `{shown}` in a view of the workspace.")
            }
            other => format!(
                "Changes made by `{shown}` in a view of the workspace; it ended with {} \
                 (planned with --allow-failure).",
                crate::capture::describe(other)
            ),
        }),
    };
    let plan = compile::compile_ops(&s.ws, captured.ops, meta, s.rules()?, &s.blobs)?;
    let id = s.insert_plan(&plan, "capture")?;
    super::plan::report(ctx, &id, &plan);
    Ok(())
}

/// Tells what the command changed that is not in the plan: outside `--scope`, or not
/// plannable yet. Never silent.
fn report_left_out(shown: &str, captured: &crate::capture::Captured) {
    const SHOWN: usize = 20;
    let out = &captured.outside_scope;
    if !out.is_empty() {
        ui::say(&format!(
            "warning: `{shown}` also changed {} outside --scope; not planned:",
            crate::text::count(out.len() as u64, "path")
        ));
        for p in out.iter().take(SHOWN) {
            ui::say(&format!("  {p}"));
        }
        if out.len() > SHOWN {
            ui::say(&format!("  ... and {} more", out.len() - SHOWN));
        }
    }
    let un = &captured.unplannable;
    if !un.is_empty() {
        ui::say(&format!(
            "warning: `{shown}` made {} that cannot be planned; not planned:",
            crate::text::count(un.len() as u64, "change")
        ));
        for (p, why) in un.iter().take(SHOWN) {
            ui::say(&format!("  {p}: {why}"));
        }
        if un.len() > SHOWN {
            ui::say(&format!("  ... and {} more", un.len() - SHOWN));
        }
    }
}
