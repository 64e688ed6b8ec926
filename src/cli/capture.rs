//! `autonomy plan --capture`: the CLI half (output streaming and reporting).

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::ops::session::Session;
use crate::paths::RelPath;
use crate::plan::compile::{self, Meta};

pub fn plan_capture(
    s: &mut Session,
    ctx: &Ctx,
    argv: &[String],
    scopes: &[String],
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
        Some(t) => crate::policy::rules::parse_duration(t)?,
        None => std::time::Duration::from_secs(600),
    };
    ui::say(&format!(
        "Running `{}` in a scratch copy of the workspace (the workspace is not touched)",
        shell_words::join(argv)
    ));
    // The command's output is shown with its escape sequences made visible.
    let mut sink = crate::render::termsafe::TerminalSafe::new(std::io::stderr());
    let captured = crate::plan::capture::capture(&s.ws.root, argv, &scopes, timeout, &mut sink)?;
    for l in &captured.skipped_symlinks {
        ui::say(&format!("note: symlink {l} was not copied or compared"));
    }
    let shown = shell_words::join(argv);
    if captured.ops.is_empty() {
        return super::plan::nothing_to_plan(
            ctx,
            &format!("`{shown}` changed nothing in the scratch copy"),
        );
    }
    let meta = Meta {
        workspace: s.workspace_id()?,
        title: title
            .map(str::to_string)
            .unwrap_or_else(|| format!("Captured: {shown}")),
        author: s.actor.clone(),
        description: Some(format!(
            "Changes made by `{shown}` in a scratch copy of the workspace."
        )),
    };
    let plan = compile::compile_ops(&s.ws, captured.ops, meta, s.rules()?, &s.blobs)?;
    let id = s.insert_plan(&plan, "capture")?;
    super::plan::report(ctx, &id, &plan);
    Ok(())
}
