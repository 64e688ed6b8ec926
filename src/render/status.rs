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
    pub pending: Vec<PlanRow>,
    pub approved: Vec<PlanRow>,
    pub applied: Vec<PlanRow>,
    pub lock_holder: Option<String>,
    pub interrupted_run: Option<InterruptedDoc>,
    pub rules: RulesDoc,
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
            let _ = writeln!(
                out,
                "  {}  {}  ({})",
                styled(&color::id(), &r.id[..12]),
                super::diff::printable(&r.title),
                super::diff::printable(&r.author)
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
