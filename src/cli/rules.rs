//! `autonomy rules suggest`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::ops::session::Session;
use crate::ops::suggest::Found;
use crate::paths::RULES_FILE;

/// Work with the rules file, autonomy.toml
///
/// `rules suggest` reads the history and proposes additions to autonomy.toml as a unified
/// diff, each rule with its evidence as a TOML comment ("deploy/: 4 of 6 plans rolled back
/// in 30 days"). Suggestions only ever add requirements, and are never applied by
/// themselves: `--plan` makes them an ordinary pending plan to preview and approve.
/// See `autonomy rules suggest --help`.
///
/// Examples:
///   autonomy rules suggest
///   autonomy rules suggest --since 90d --depth 2
///   autonomy rules suggest --plan && autonomy preview
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    Suggest(SuggestArgs),
}

/// Propose additions to autonomy.toml from the history, as a unified diff
///
/// Each proposed rule carries its evidence as a TOML comment ("deploy/: 4 of 6 plans
/// rolled back in 30 days"). Suggestions only ever add requirements: a directory whose
/// plans were mostly rolled back (3 or more, and at least half) or mostly failed their
/// verify command gets a rule asking two approvals; many high-risk plans with no rule
/// keyed on `risk = "high"` get one. Nothing is ever applied by itself: --plan makes the
/// suggestion an ordinary pending plan (a policy change) to preview, approve and apply.
/// A quiet history gets no suggestions (exit 0).
///
/// Examples:
///   autonomy rules suggest
///   autonomy rules suggest --since 90d --depth 2
///   autonomy rules suggest --plan && autonomy preview
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SuggestArgs {
    /// Look at plans created since then: a duration back from now (30d, 12h, 2w) or a date.
    #[arg(long, default_value = "30d", value_name = "DURATION|DATE")]
    pub since: String,
    /// Group paths by directory at this depth (1: top-level folders).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub depth: usize,
    /// Make the suggestion a pending plan (a `write` of the new autonomy.toml) and print
    /// its id; it needs approval like any other plan.
    #[arg(long)]
    pub plan: bool,
}

pub fn run(args: RulesArgs, ctx: &Ctx) -> Result<()> {
    match args.command {
        RulesCommand::Suggest(a) => suggest(a, ctx),
    }
}

fn suggest(args: SuggestArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("rules suggest")?;
    if args.depth == 0 {
        return Err(Error::usage("--depth must be 1 or more"));
    }
    let mut s = Session::open(&ctx.dir)?;
    let found = crate::ops::suggest::for_workspace(&mut s, &args.since, args.depth, args.plan)?;
    if found.suggestions.suggestions.is_empty() {
        if ctx.json() {
            ui::json(&serde_json::json!({
                "format_version": 1, "since": found.since, "suggestions": [], "diff": null, "plan": null,
            }));
        }
        ui::say(&format!(
            "No suggestions: nothing in the history {} warrants a new rule.",
            found.window
        ));
        return Ok(());
    }
    print_suggestions(ctx, &found);
    let count =
        crate::util::text::count(found.suggestions.suggestions.len() as u64, "suggested rule");
    match &found.plan {
        Some(id) => {
            if !ctx.json() {
                ui::println(crate::model::id::short(id));
            }
            ui::say(&format!(
                "Planned {} \"Tighten the rules from history\": {count} as a change to {RULES_FILE}. Review it with `autonomy preview {}`; it applies only once approved.",
                crate::model::id::short(id),
                crate::model::id::short(id)
            ));
        }
        None => ui::say(&format!(
            "{count}. Nothing was changed; `autonomy rules suggest --plan` makes them a plan to review and approve."
        )),
    }
    Ok(())
}

/// The suggestions: as a JSON document (with the diff and the plan made), or, when no plan
/// was made, as a coloured unified diff of the rules file.
fn print_suggestions(ctx: &Ctx, found: &Found) {
    let (old_text, new_text) = (&found.suggestions.old_text, &found.suggestions.new_text);
    let old_name = if found.rules_file_exists {
        format!("a/{RULES_FILE}")
    } else {
        "/dev/null".to_string()
    };
    if ctx.json() {
        let diff = format!(
            "--- {old_name}\n+++ b/{RULES_FILE}\n{}",
            crate::render::diff::hunks(old_text, new_text, &|_, t| t.to_string())
        );
        ui::json(&serde_json::json!({
            "format_version": 1, "since": found.since, "suggestions": found.suggestions.suggestions,
            "diff": diff, "plan": found.plan,
        }));
    } else if found.plan.is_none() {
        let styled = |st: &console::Style, t: &str| ui::out_style(st, t);
        let colored = crate::render::diff::hunks(old_text, new_text, &styled);
        ui::print(&format!("--- {old_name}\n+++ b/{RULES_FILE}\n{colored}"));
    }
}
