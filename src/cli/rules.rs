//! `autonomy rules suggest`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::ops::session::Session;
use crate::paths::RULES_FILE;
use crate::plan::compile::{self, Meta};
use crate::plan::file::{Action, PlanFile};

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
    let since = crate::ops::stats::parse_since(&args.since, crate::util::ids::now())?;
    let window = match humantime::parse_duration(&args.since) {
        Ok(d) if d.as_secs() == 86400 => "in the last day".to_string(),
        Ok(d) if d.as_secs() % 86400 == 0 => format!("in {} days", d.as_secs() / 86400),
        Ok(_) => format!("in the last {}", args.since),
        Err(_) => format!("since {since}"),
    };
    let old_text = match std::fs::read(s.ws.root.join(RULES_FILE)) {
        Ok(b) => String::from_utf8(b)
            .map_err(|_| Error::failed("autonomy.toml is not UTF-8; fix it first"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("reading autonomy.toml", e)),
    };
    let rules = s.rules()?;
    let found = crate::ops::suggest::suggest(
        &s.journal,
        rules,
        &old_text,
        Some(&since),
        &window,
        args.depth,
    )?;
    if found.suggestions.is_empty() {
        if ctx.json() {
            ui::json(&serde_json::json!({
                "format_version": 1, "since": since, "suggestions": [], "diff": null, "plan": null,
            }));
        }
        ui::say(&format!(
            "No suggestions: nothing in the history {window} warrants a new rule."
        ));
        return Ok(());
    }
    let old_name = if old_text.is_empty() && !s.ws.root.join(RULES_FILE).exists() {
        "/dev/null".to_string()
    } else {
        format!("a/{RULES_FILE}")
    };
    let diff = format!(
        "--- {old_name}\n+++ b/{RULES_FILE}\n{}",
        crate::render::diff::hunks(&found.old_text, &found.new_text, &|_, t| t.to_string())
    );
    let mut plan_id = None;
    if args.plan {
        let evidence: Vec<String> = found
            .suggestions
            .iter()
            .flat_map(|x| x.evidence.iter().cloned())
            .collect();
        let pf = PlanFile {
            title: "Tighten the rules from history".into(),
            author: None,
            description: Some(format!(
                "Suggested by `autonomy rules suggest --since {}`:\n{}",
                args.since,
                evidence.join("\n")
            )),
            action: vec![Action {
                kind: "write".into(),
                path: Some(RULES_FILE.into()),
                content: Some(found.new_text.clone()),
                ..Action::default()
            }],
        };
        let meta = Meta {
            workspace: s.workspace_id()?,
            title: pf.title.clone(),
            author: s.actor.clone(),
            description: pf.description.clone(),
        };
        let plan = compile::compile(&s.ws, &pf, None, meta, s.rules()?, &s.blobs)?;
        let id = s.insert_plan(&plan, "rules suggest")?;
        plan_id = Some(id);
    }
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": 1, "since": since, "suggestions": found.suggestions,
            "diff": diff, "plan": plan_id,
        }));
    } else if plan_id.is_none() {
        let styled = |st: &console::Style, t: &str| ui::out_style(st, t);
        let colored = crate::render::diff::hunks(&found.old_text, &found.new_text, &styled);
        ui::print(&format!("--- {old_name}\n+++ b/{RULES_FILE}\n{colored}"));
    }
    match &plan_id {
        Some(id) => {
            if !ctx.json() {
                ui::println(crate::model::id::short(id));
            }
            ui::say(&format!(
                "Planned {} \"Tighten the rules from history\": {} as a change to {RULES_FILE}. Review it with `autonomy preview {}`; it applies only once approved.",
                crate::model::id::short(id),
                crate::util::text::count(found.suggestions.len() as u64, "suggested rule"),
                crate::model::id::short(id)
            ));
        }
        None => ui::say(&format!(
            "{}. Nothing was changed; `autonomy rules suggest --plan` makes them a plan to review and approve.",
            crate::util::text::count(found.suggestions.len() as u64, "suggested rule")
        )),
    }
    Ok(())
}
