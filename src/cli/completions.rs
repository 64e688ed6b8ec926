//! `autonomy completions`

use super::Ctx;
use crate::error::Result;
use clap_complete::Shell;

/// Print a static completion script for a shell
///
/// Dynamic completion is richer (plan ids with their titles, read from the journal); enable
/// it instead with one line in your shell's start-up file:
///   bash:        source <(COMPLETE=bash autonomy)
///   zsh:         source <(COMPLETE=zsh autonomy)
///   fish:        COMPLETE=fish autonomy | source
///   elvish:      eval (E:COMPLETE=elvish autonomy | slurp)
///   powershell:  $env:COMPLETE = "powershell"; autonomy | Out-String | Invoke-Expression
///
/// Example:
///   autonomy completions bash > ~/.local/share/bash-completion/completions/autonomy
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CompletionsArgs {
    /// The shell to generate for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs, _ctx: &Ctx) -> Result<()> {
    let script = super::generate::completion_script(args.shell);
    super::ui::print(&String::from_utf8_lossy(&script));
    Ok(())
}
