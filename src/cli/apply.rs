//! `autonomy apply`

use super::{Ctx, gate, ui};
use crate::error::Result;
use crate::model::RunKind;
use crate::model::{Change, Plan};
use crate::ops::apply::Reporter;
use crate::ops::apply::{Applied, Options, Progress};
use crate::ops::session::Session;
use std::path::PathBuf;
use std::time::Duration;

/// Apply an approved plan as one all-or-nothing run
///
/// In order: take the workspace lock (exit 5 if busy), refuse while an interrupted run exists
/// (exit 6), check approvals against the rules (exit 3; at a terminal, when your approval is
/// all that is missing and the plan is not stale, preview and ask as `autonomy approve`
/// does), check that every path is still as planned (exit 4, naming each drifted path), then
/// replace each path atomically, printing each step. A presented approval file is journaled
/// as granted only when it counts toward the run; otherwise as refused, with why. On any
/// failure every path is put back and the run is recorded as failed (exit 1); the same plan
/// may be applied again once the cause is gone.
///
/// Without PLAN, the newest approved plan.
///
/// Examples:
///   autonomy apply
///   autonomy apply 3f9c2a1b7e40 --approval alice.approval --approval bob.approval
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ApplyArgs {
    /// Plan id or unique prefix (default: the newest approved plan).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::pending_plans))]
    pub plan: Option<String>,
    /// A signed approval file to count (repeatable).
    #[arg(long = "approval", value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub approvals: Vec<PathBuf>,
    /// Wait up to SECS for the workspace lock instead of failing at once.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
}

pub fn run(args: ApplyArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("apply")?;
    let mut s = Session::open(&ctx.dir)?;
    let opts = Options {
        approvals: &args.approvals,
        wait: args.wait.map(Duration::from_secs),
    };
    let mut terminal = gate::Terminal::here();
    let consent = terminal.as_mut().map(|t| t as _);
    let applied = crate::ops::apply::apply(
        &mut s,
        args.plan.as_deref(),
        opts,
        consent,
        &mut Printer::default(),
    )?;
    render(ctx, &applied);
    Ok(())
}

/// Says that the run starts, then prints each step (`ui::StepPrinter`).
#[derive(Default)]
pub struct Printer {
    steps: Option<ui::StepPrinter>,
    renames: Vec<crate::plan::renames::Rename>,
}

impl Printer {
    fn steps(&mut self) -> &mut ui::StepPrinter {
        self.steps.get_or_insert_with(|| ui::StepPrinter::new(0))
    }
}

impl Progress for Printer {
    fn renames(&mut self, renames: &[crate::plan::renames::Rename]) {
        self.renames = renames.to_vec();
    }
    fn begin(&mut self, plan_id: &str, plan: &Plan, kind: RunKind) {
        let verb = if kind == RunKind::Apply {
            "Applying"
        } else {
            "Rolling back with"
        };
        ui::say(&format!(
            "{verb} plan {} {:?} ({})",
            short(plan_id),
            crate::paths::printable(&plan.title),
            crate::util::text::count(plan.changes.len() as u64, "change")
        ));
        self.steps = Some(ui::StepPrinter::new(plan.changes.len()).with_renames(&self.renames));
    }
}

impl Reporter for Printer {
    fn step(&mut self, index: usize, total: usize, change: &Change) {
        self.steps().step(index, total, change);
    }
    fn undo(&mut self, change: &Change) {
        self.steps().undo(change);
    }
    fn finish(&mut self) {
        self.steps().finish();
    }
    fn command(&mut self, what: &str, argv: &[String]) {
        self.steps().command(what, argv);
    }
    fn output(&mut self) -> Box<dyn std::io::Write> {
        self.steps().output()
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// What the run did: the JSON document on stdout (`--format json`), the summary on stderr.
pub fn render(ctx: &Ctx, applied: &Applied) {
    let outcome = &applied.run;
    if ctx.json() {
        let mut doc = serde_json::json!({ "format_version": crate::model::FORMAT_VERSION, "plan": applied.plan, "run": outcome });
        if !applied.renames.is_empty() {
            doc["renames"] = serde_json::json!(applied.renames);
        }
        ui::json(&doc);
    }
    let short = short(&applied.plan);
    match &applied.reverses {
        None => ui::say(&format!(
            "Applied plan {short}: {}, {} written in {}. Undo it with `autonomy rollback {short}`.",
            crate::util::text::count(outcome.files_changed as u64, "change"),
            crate::util::text::size(outcome.bytes_written),
            crate::util::text::duration_ms(outcome.duration_ms)
        )),
        Some(orig) if orig.still_applied => ui::say(&format!(
            "Rolled back part of plan {0}: {1} restored in {2} (rollback plan {short}). Plan {0} stays applied; `autonomy rollback {0}` reverts the rest.",
            self::short(&orig.plan),
            crate::util::text::count(outcome.files_changed as u64, "path"),
            crate::util::text::duration_ms(outcome.duration_ms)
        )),
        Some(orig) => ui::say(&format!(
            "Rolled back plan {}: {} restored in {} (rollback plan {short}).",
            self::short(&orig.plan),
            crate::util::text::count(outcome.files_changed as u64, "path"),
            crate::util::text::duration_ms(outcome.duration_ms)
        )),
    }
}
