//! `autonomy status` as text.

use super::color;
use crate::session::PlanRow;
use console::Style;
use serde::Serialize;
use std::fmt::Write;

#[derive(Serialize)]
pub struct StatusDoc {
    pub format_version: u32,
    pub workspace: String,
    pub root: String,
    pub pending: Vec<StatusPlan>,
    pub approved: Vec<StatusPlan>,
    pub applied: Vec<StatusPlan>,
    pub lock_holder: Option<String>,
    pub interrupted_run: Option<InterruptedDoc>,
    pub rules: RulesDoc,
}

/// A listed plan: its row, and for a plan that may still be applied, whether it can be.
#[derive(Serialize)]
pub struct StatusPlan {
    #[serde(flatten)]
    pub row: PlanRow,
    /// Every rule is met by the approvals held and the plan is not stale: `apply` can run
    /// it (approved plans only; false otherwise).
    pub ready: bool,
    /// For an approved plan: the requirements still unmet, in words.
    pub still_needed: Vec<String>,
    /// For a pending or approved plan: paths changed since it was planned (it can no longer
    /// be approved or applied).
    pub stale: Vec<String>,
}

#[derive(Serialize)]
pub struct InterruptedDoc {
    pub run: i64,
    pub plan: String,
}

#[derive(Serialize)]
pub struct RulesDoc {
    pub present: bool,
    pub ok: bool,
    pub error: Option<String>,
    pub digest: String,
}

pub fn render_text(doc: &StatusDoc, styled: &dyn Fn(&Style, &str) -> String) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Workspace {} at {}", &doc.workspace, doc.root);
    if let Some(run) = &doc.interrupted_run {
        let _ = writeln!(
            out,
            "{}",
            styled(
                &color::danger(),
                &format!(
                    "Interrupted run {} of plan {}: the workspace may be half-changed. Run `autonomy recover` to put it back.",
                    run.run,
                    &run.plan[..12.min(run.plan.len())]
                )
            )
        );
    }
    if let Some(h) = &doc.lock_holder {
        let _ = writeln!(out, "Lock held by {h}");
    }
    for (name, rows) in [
        ("pending", &doc.pending),
        ("approved", &doc.approved),
        ("applied", &doc.applied),
    ] {
        let _ = writeln!(out, "{} {name} plan(s)", rows.len());
        for r in rows.iter() {
            let note = if !r.stale.is_empty() {
                styled(
                    &color::danger(),
                    &format!(
                        "  STALE: {} changed since it was planned; it cannot be approved or applied",
                        short_paths(&r.stale)
                    ),
                )
            } else if name == "approved" && r.ready {
                styled(&color::added(), "  approved and ready to apply")
            } else if name == "approved" {
                styled(
                    &color::warn(),
                    &format!("  approved, still needs: {}", r.still_needed.join("; ")),
                )
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {}  {}  ({}){note}",
                styled(&color::id(), &r.row.id[..12]),
                super::diff::printable(&r.row.title),
                super::diff::printable(&r.row.author)
            );
        }
    }
    match (&doc.rules.present, &doc.rules.error) {
        (false, _) => {
            let _ = writeln!(
                out,
                "Rules: no autonomy.toml (defaults: 1 approval for any plan)"
            );
        }
        (true, None) => {
            let _ = writeln!(
                out,
                "Rules: autonomy.toml parses ({})",
                &doc.rules.digest[..12]
            );
        }
        (true, Some(e)) => {
            let _ = writeln!(
                out,
                "{}",
                styled(
                    &color::danger(),
                    &format!("Rules: autonomy.toml does not parse: {e}")
                )
            );
        }
    }
    out
}

fn short_paths(paths: &[String]) -> String {
    let shown: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| super::diff::printable(p).into_owned())
        .collect();
    if paths.len() > 3 {
        format!("{} and {} more", shown.join(", "), paths.len() - 3)
    } else {
        shown.join(", ")
    }
}
