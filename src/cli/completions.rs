//! `autonomy completions`

use super::Ctx;
use crate::error::Result;
use clap_complete::Shell;

/// Print a static completion script for SHELL.
///
/// Dynamic completion (plan ids with their titles) is richer; enable it instead with:
///   bash:  source <(COMPLETE=bash autonomy)
///   zsh:   source <(COMPLETE=zsh autonomy)
///   fish:  COMPLETE=fish autonomy | source
///
/// Example:
///   autonomy completions bash > ~/.local/share/bash-completion/completions/autonomy
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to generate for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs, _ctx: &Ctx) -> Result<()> {
    let mut cmd = super::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "autonomy", &mut buf);
    super::ui::print(&String::from_utf8_lossy(&buf));
    Ok(())
}
