//! `autonomy status`

use super::{Ctx, ui};
use crate::error::Result;
use crate::model::PlanStatus;
use crate::ops::session::{PlanRow, Session};
use crate::render::status::{
    DeclinedRow, InterruptedDoc, RulesDoc, SessionDoc, StatusDoc, StatusPlan, render_text,
    rules_summary,
};

/// Show the plans by status, the rules in force, and what needs attention
///
/// Lists the plans by status, each with its id, creation time, title and author: pending
/// (waiting for a decision), declined (a person said no; they can still approve later, or
/// reject), approved (ready to apply), applied (can be rolled back) and rolled back (a
/// rejected plan is final and not listed). Then the lock holder if any, an interrupted run
/// if any, and the rules in force (autonomy.toml, or the defaults) in a few words, or why
/// the rules file does not parse.
/// An approved plan is marked "approved and ready to apply" when the approvals held meet
/// every rule, else "approved, still needs …" with what is missing. A pending or approved
/// plan whose files changed since it was made is marked STALE: it can no longer be approved
/// or applied.
///
/// Examples:
///   autonomy status
///   autonomy status -n 5
///   autonomy status --format json | jq -r '.pending[].id'
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct StatusArgs {
    /// How many plans to list per status.
    #[arg(short = 'n', long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
}

pub fn run(args: StatusArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("status")?;
    let s = Session::open_read_only(&ctx.dir)?;
    let holder = s.lock_holder();
    let interrupted = s.interrupted_run()?;
    let present = s.ws.root.join(crate::paths::RULES_FILE).exists();
    let doc = StatusDoc {
        format_version: crate::model::FORMAT_VERSION,
        workspace: s.workspace_id()?,
        root: s
            .ws
            .root
            .canonicalize()
            .unwrap_or_else(|_| s.ws.root.clone())
            .display()
            .to_string(),
        pending: annotate(&s, s.plans_with_status(&[PlanStatus::Pending], args.limit)?),
        waiting: annotate(&s, waiting(&s, args.limit)?),
        declined: declined(&s, args.limit)?,
        approved: annotate(
            &s,
            s.plans_with_status(&[PlanStatus::Approved], args.limit)?,
        ),
        applied: annotate(&s, s.plans_with_status(&[PlanStatus::Applied], args.limit)?),
        rolled_back: s.plans_with_status(&[PlanStatus::RolledBack], args.limit)?,
        lock_holder: holder,
        interrupted_run: interrupted.map(|(run, plan)| InterruptedDoc {
            run,
            plan: plan.into_string(),
        }),
        sessions: crate::ops::agent_session::list(&s)?
            .into_iter()
            .map(|l| SessionDoc {
                name: l.row.name,
                agent: l.row.agent,
                started: l.row.started,
                running: l.running,
                last_plan: l.row.last_plan.map(|(id, _)| id.into_string()),
            })
            .collect(),
        rules: RulesDoc {
            present,
            ok: s.rules.is_ok(),
            error: s.rules.as_ref().err().map(|e| e.message.clone()),
            digest: s.journal.rules_digest.clone(),
            summary: s.rules.as_ref().map(rules_summary).unwrap_or_default(),
        },
    };
    if ctx.json() {
        ui::json(&doc);
    } else {
        ui::print(&render_text(&doc, &ui::out_style));
    }
    Ok(())
}

/// Readiness and staleness of each listed plan. A check that fails (an unreadable plan or
/// path, rules that do not parse) is reported in the plan's line, never fails `status`.
fn annotate(s: &Session, rows: Vec<PlanRow>) -> Vec<StatusPlan> {
    rows.into_iter()
        .map(|row| {
            let mut p = StatusPlan {
                row,
                ready: false,
                still_needed: Vec::new(),
                stale: Vec::new(),
            };
            if !p.row.status.is_open() {
                return p;
            }
            let plan = match s.load_plan(&p.row.id) {
                Ok(plan) => plan,
                Err(e) => {
                    p.still_needed = vec![e.message];
                    return p;
                }
            };
            match crate::ops::preview::drift(s, &plan) {
                Ok(d) => p.stale = d.into_iter().map(|(path, _)| path).collect(),
                Err(e) => p.stale = vec![format!("(cannot check: {})", e.message)],
            }
            if p.row.status == PlanStatus::Approved {
                let standings = crate::ops::approvals::recorded(s, &p.row.id)
                    .and_then(|held| crate::ops::approvals::standings(s, &plan, &held));
                match standings {
                    Ok(st) => {
                        p.still_needed = crate::policy::approval::outlook::unmet(&st)
                            .iter()
                            .map(|m| m.missing_sentence())
                            .collect();
                        p.ready = p.still_needed.is_empty() && p.stale.is_empty();
                    }
                    Err(e) => {
                        p.still_needed = vec![format!(
                            "cannot tell ({})",
                            e.message.lines().next().unwrap_or("")
                        )]
                    }
                }
            }
            p
        })
        .collect()
}

/// Pending plans no one has declined (no decision yet, or the latest is not a decline),
/// newest first.
fn waiting(s: &Session, limit: usize) -> Result<Vec<PlanRow>> {
    s.journal.waiting_plans(limit)
}

/// Pending plans whose latest decision is a decline, newest first.
fn declined(s: &Session, limit: usize) -> Result<Vec<DeclinedRow>> {
    Ok(s.journal
        .declined_plans(limit)?
        .into_iter()
        .map(|(plan, declined_by, reason)| DeclinedRow {
            plan,
            declined_by,
            reason,
        })
        .collect())
}
