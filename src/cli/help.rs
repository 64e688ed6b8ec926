//! `autonomy help`: a command's full help, or a file format (a topic). Replaces clap's
//! built-in help command so that topics, which are not commands, have a home.

use super::{Ctx, topics};
use crate::error::{Error, Result};
use clap_complete::CompletionCandidate;

/// Show help for a command, or describe a file format
///
/// `autonomy help COMMAND` prints the command's full help, as `autonomy COMMAND --help`
/// does. The file formats you write by hand are topics: `autonomy help plan-file` (the plan
/// file, also `man 5 autonomy-plan`) and `autonomy help rules-file` (autonomy.toml, also
/// `man 5 autonomy-rules`). Long text goes through the pager on a terminal.
///
/// Examples:
///   autonomy help
///   autonomy help apply
///   autonomy help plan-file
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct HelpArgs {
    /// A command (and subcommand), or a topic: plan-file, rules-file.
    #[arg(value_name = "COMMAND|TOPIC", add = clap_complete::ArgValueCandidates::new(candidates))]
    pub what: Vec<String>,
}

pub fn run(args: HelpArgs, _ctx: &Ctx) -> Result<()> {
    let mut root = super::command();
    root.build();
    let Some(first) = args.what.first() else {
        return page(&styled(root.render_long_help()));
    };
    if let Some(topic) = topics::find(first) {
        if args.what.len() > 1 {
            return Err(Error::usage(format!(
                "`autonomy help {first}` takes nothing after the topic"
            )));
        }
        return page(&format!(
            "{}(5): {}\n\n{}",
            topic.page, topic.summary, topic.text
        ));
    }
    let mut cmd = &mut root;
    for name in &args.what {
        let known: Vec<String> = cmd
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .map(|c| c.get_name().to_string())
            .collect();
        match cmd.find_subcommand_mut(name) {
            Some(sub) => cmd = sub,
            None => {
                let topics: Vec<&str> = topics::TOPICS.iter().map(|t| t.name).collect();
                return Err(Error::usage(format!(
                    "no command or topic {name:?}; commands: {}; topics: {}",
                    known.join(", "),
                    topics.join(", ")
                )));
            }
        }
    }
    page(&styled(cmd.render_long_help()))
}

/// Help text with clap's styles where stdout has colours, plain otherwise.
fn styled(help: clap::builder::StyledStr) -> String {
    if super::ui::current().color_out() {
        help.ansi().to_string()
    } else {
        help.to_string()
    }
}

fn page(text: &str) -> Result<()> {
    super::ui::page(text, "writing the help")
}

/// Every command and topic, for shell completion.
fn candidates() -> Vec<CompletionCandidate> {
    let root = super::command();
    let mut out: Vec<CompletionCandidate> = root
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| CompletionCandidate::new(c.get_name().to_string()).help(c.get_about().cloned()))
        .collect();
    out.extend(
        topics::TOPICS
            .iter()
            .map(|t| CompletionCandidate::new(t.name).help(Some(t.summary.into()))),
    );
    out
}
