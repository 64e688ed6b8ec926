//! `autonomy stats`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::ops::session::Session;

/// Show how plans fare, from the journal
///
/// Plans proposed, approved, declined, rejected, applied, failed and rolled back;
/// approval latency (plan created to first approval); apply and verify durations
/// (p50/p95); exec CPU time and peak memory; and per directory the rate of rollbacks and
/// failed verifies.
///
/// Counts follow the plans proposed in the window; durations follow the runs started in
/// it. `--agent` and `--session` keep only the plans that a coding agent's tool calls made
/// (as `agent.call` records them) and their runs. Everything is aggregated by SQLite, so
/// it stays quick on large journals.
///
/// Examples:
///   autonomy stats
///   autonomy stats --agent claude --since 7d
///   autonomy stats --since 30d --depth 2
///   autonomy stats --since 2026-01-01 --format json | jq '.directories[0]'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct StatsArgs {
    /// Only plans created (and runs started) since then: a duration back from now (30d,
    /// 12h, 2w) or a date (2026-01-31, or RFC 3339). Default: the whole history.
    #[arg(long, value_name = "DURATION|DATE")]
    pub since: Option<String>,
    /// Group paths by directory at this depth (1: top-level folders).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub depth: usize,
    /// Only the plans this coding agent's tool calls made (claude, codex, gemini, ...).
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,
    /// Only the plans the tool calls of this agent session made (its session id).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
}

pub fn run(args: StatsArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("stats")?;
    if args.depth == 0 {
        return Err(Error::usage("--depth must be 1 or more"));
    }
    let s = Session::open(&ctx.dir)?;
    let since = args
        .since
        .as_deref()
        .map(|raw| crate::ops::stats::parse_since(raw, crate::util::ids::now()))
        .transpose()?;
    let agents = crate::ops::stats::AgentScope {
        agent: args.agent.clone(),
        session: args.session.clone(),
    };
    let stats = crate::ops::stats::compute_for(&s.journal, since.as_deref(), args.depth, &agents)?;
    if ctx.json() {
        ui::json(&stats);
    } else {
        let mut window = match (&args.since, &since) {
            (Some(raw), Some(t)) => format!("since {t} ({raw})"),
            _ => "over the whole history".to_string(),
        };
        let who = match (&args.agent, &args.session) {
            (Some(a), Some(id)) => format!("by agent {a} in session {id} "),
            (Some(a), None) => format!("by agent {a} "),
            (None, Some(id)) => format!("in agent session {id} "),
            (None, None) => String::new(),
        };
        window.insert_str(0, &who);
        ui::print(&crate::render::stats::render_text(&stats, &window));
    }
    Ok(())
}
