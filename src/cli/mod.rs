//! The command line: the clap tree (commands in workflow order) and the one match that
//! dispatches. Each command lives in its own file and stays thin.

mod agent;
mod apply;
mod approve;
mod capture;
pub mod complete;
mod completions;
mod export;
mod gate;
mod gc;
pub mod generate;
mod help;
mod hook;
mod init;
mod log;
mod manpage;
mod mcp;
mod plan;
mod preview;
mod prompt;
mod recover;
mod reject;
mod review;
mod rollback;
mod rules;
mod sandbox;
mod session;
mod show;
mod signers;
mod stats;
mod status;
pub mod topics;
pub mod ui;
mod verify;

use crate::error::Error;
use crate::render::color::ColorChoice;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// The exit codes, as `--help` and the man pages list them.
macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0  done, or nothing to do (nothing to plan: no id is printed; an identical plan exists)
  1  error (I/O, failed run, bad plan file, a path the rules deny; a sandboxed agent failed)
  2  usage
  3  not approved (missing, declined, invalid, expired, below threshold)
  4  stale or conflict (the workspace differs from the plan's `before`)
  5  busy (another process holds .autonomy/lock)
  6  an interrupted run needs `autonomy recover`
  7  integrity failure (journal or blob store)"
    };
}

pub const EXIT_CODES: &str = exit_codes!();

/// The end of `autonomy --help`: the file formats, then the exit codes.
const AFTER_LONG_HELP: &str = concat!(
    "\
File formats:
  autonomy help plan-file   the plan file (TOML) that `autonomy plan` reads
  autonomy help rules-file  the rules file, autonomy.toml

",
    exit_codes!()
);

/// The help heading of the options every command takes, kept apart from each command's own
/// (as cargo and jj do).
const GLOBAL: &str = "Global options";

/// Make autonomous changes safe: plan, preview, approve, apply, roll back, audit
///
/// An actor (an AI agent, a bot, a script) proposes a plan; a person previews the exact
/// diff and approves it; autonomy applies it atomically with snapshots, can roll it back,
/// and records every decision and effect in a hash-chained journal under .autonomy/.
///
/// Quick start:
///   autonomy init
///   autonomy plan change.toml      # prints the plan id
///   autonomy preview               # the exact diff
///   autonomy approve               # at a terminal: [y/N]
///   autonomy apply
///   autonomy rollback              # undo the newest applied plan
///   autonomy log
///
/// `autonomy help COMMAND` (or `man autonomy-COMMAND`) explains each command with examples.
#[derive(Debug, Parser)]
#[command(
    name = "autonomy",
    version,
    verbatim_doc_comment,
    after_long_help = AFTER_LONG_HELP,
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Run as if started in DIR.
    #[arg(short = 'C', global = true, help_heading = GLOBAL, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<PathBuf>,
    /// When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto).
    #[arg(long, global = true, help_heading = GLOBAL, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Output format for commands that print data (jsonl: log only).
    #[arg(long, global = true, help_heading = GLOBAL, value_enum, default_value_t = Format::Text, value_name = "FORMAT")]
    pub format: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Jsonl,
}

/// The commands, in the order of the workflow: `autonomy --help` lists them in this order.
#[derive(Debug, Subcommand)]
pub enum Command {
    Init(init::InitArgs),
    Plan(plan::PlanArgs),
    Status(status::StatusArgs),
    Preview(preview::PreviewArgs),
    Approve(approve::ApproveArgs),
    Reject(reject::RejectArgs),
    Apply(apply::ApplyArgs),
    Rollback(rollback::RollbackArgs),
    Show(show::ShowArgs),
    Export(export::ExportArgs),
    Log(log::LogArgs),
    Stats(stats::StatsArgs),
    Rules(rules::RulesArgs),
    Signers(signers::SignersArgs),
    Recover(recover::RecoverArgs),
    Verify(verify::VerifyArgs),
    Gc(gc::GcArgs),
    Sandbox(sandbox::SandboxArgs),
    Session(session::SessionArgs),
    Agent(agent::AgentArgs),
    Hook(hook::HookArgs),
    Review(review::ReviewArgs),
    Mcp(mcp::McpArgs),
    Completions(completions::CompletionsArgs),
    Help(help::HelpArgs),
}

/// What every command gets besides its own arguments.
pub struct Ctx {
    pub dir: PathBuf,
    pub format: Format,
}

impl Ctx {
    pub fn json(&self) -> bool {
        self.format != Format::Text
    }
    /// Refuse `jsonl` where only `log` takes it.
    pub fn no_jsonl(&self, command: &str) -> crate::Result<()> {
        if self.format == Format::Jsonl {
            return Err(Error::usage(format!(
                "`autonomy {command}` prints text or json; jsonl is for `autonomy log`"
            )));
        }
        Ok(())
    }
}

pub fn command() -> clap::Command {
    Cli::command()
}

pub fn main() -> ExitCode {
    // The maintainers' generator stays out of the clap tree, so that no help text, man page
    // or completion script (clap_complete lists hidden commands) ever mentions it.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == generate::NAME)
    {
        return generate::main();
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // The output owner: colours decided once, here, for the whole run.
    let ui = ui::Ui::new(cli.color).install();
    let result = run(cli);
    // What the command returned first; else a failure kept while writing its output (a
    // JSON document that did not encode, stdout gone).
    let result = match (result, ui.take_failure()) {
        (Err(e), _) | (Ok(_), Some(e)) => Err(e),
        (Ok(code), None) => Ok(code),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`autonomy log | head`): not an error.
        Err(e) if e.is_closed_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            ui.report(&e);
            ExitCode::from(e.kind.exit_code())
        }
    }
}

/// Run the parsed command; the exit code on success (0, or a sandboxed agent's).
fn run(cli: Cli) -> crate::Result<ExitCode> {
    let dir = match &cli.dir {
        Some(d) => d.clone(),
        None => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "-C {}: no such directory",
            dir.display()
        )));
    }
    let ctx = Ctx {
        dir,
        format: cli.format,
    };
    match cli.command {
        Command::Init(a) => init::run(a, &ctx),
        Command::Plan(a) => plan::run(a, &ctx),
        Command::Status(a) => status::run(a, &ctx),
        Command::Preview(a) => preview::run(a, &ctx),
        Command::Approve(a) => approve::run(a, &ctx),
        Command::Reject(a) => reject::run(a, &ctx),
        Command::Apply(a) => apply::run(a, &ctx),
        Command::Rollback(a) => rollback::run(a, &ctx),
        Command::Show(a) => show::run(a, &ctx),
        Command::Export(a) => export::run(a, &ctx),
        Command::Log(a) => log::run(a, &ctx),
        Command::Stats(a) => stats::run(a, &ctx),
        Command::Rules(a) => rules::run(a, &ctx),
        Command::Signers(a) => signers::run(a, &ctx),
        Command::Recover(a) => recover::run(a, &ctx),
        Command::Verify(a) => verify::run(a, &ctx),
        Command::Gc(a) => gc::run(a, &ctx),
        Command::Sandbox(a) => return sandbox::run(a, &ctx),
        Command::Session(a) => return session::run(a, &ctx),
        Command::Agent(a) => agent::run(a, &ctx),
        Command::Hook(a) => return Ok(hook::run(a, &ctx)),
        Command::Review(a) => review::run(a, &ctx),
        Command::Mcp(a) => mcp::run(a, &ctx),
        Command::Completions(a) => completions::run(a, &ctx),
        Command::Help(a) => help::run(a, &ctx),
    }
    .map(|()| ExitCode::SUCCESS)
}
