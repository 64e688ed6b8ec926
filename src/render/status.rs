//! `autonomy status` as text: what needs attention first (an interrupted run, the lock),
//! then the plans by status (each with its id, creation time, title and author), then the
//! rules in force in a few words.

use super::color;
use crate::ops::session::PlanRow;
use crate::paths::printable;
use crate::policy::rules::Rules;
use crate::util::text::count;
use console::Style;
use serde::Serialize;
use std::fmt::Write;

#[derive(Serialize)]
pub struct StatusDoc {
    pub format_version: u32,
    pub workspace: String,
    pub root: String,
    /// Every plan whose status is `pending`, declined ones included (see `declined`).
    pub pending: Vec<StatusPlan>,
    /// The pending plans no one has declined: what waits for a first decision.
    #[serde(skip)]
    pub waiting: Vec<StatusPlan>,
    /// The pending plans whose latest decision is a decline: they wait for a new decision.
    pub declined: Vec<DeclinedRow>,
    pub approved: Vec<StatusPlan>,
    pub applied: Vec<StatusPlan>,
    pub rolled_back: Vec<PlanRow>,
    pub lock_holder: Option<String>,
    pub interrupted_run: Option<InterruptedDoc>,
    /// Agent sessions not ended (`autonomy session`): their views hold changes until
    /// proposed or ended. Left out of the JSON when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<SessionDoc>,
    pub rules: RulesDoc,
}

/// An open agent session, as `status` lists it.
#[derive(Serialize)]
pub struct SessionDoc {
    pub name: String,
    /// The agent's identity (`agent:NAME`).
    pub agent: String,
    pub started: String,
    /// Its agent runs now.
    pub running: bool,
    /// The plan it proposed last, if any.
    pub last_plan: Option<String>,
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
pub struct DeclinedRow {
    #[serde(flatten)]
    pub plan: PlanRow,
    pub declined_by: String,
    pub reason: Option<String>,
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
    /// The rules in force, one sentence each.
    pub summary: Vec<String>,
}

/// The rules in force in a few sentences: approvals for any plan, each rule, what exec and
/// verify may do.
pub fn rules_summary(r: &Rules) -> Vec<String> {
    let mut out = vec![format!("{} for any plan", count(r.required, "approval"))];
    for rule in &r.rules {
        let scope = match &rule.paths {
            None => "every plan".to_string(),
            Some(globs) => globs
                .iter()
                .map(|(g, _)| g.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let risk = rule
            .risk
            .as_deref()
            .map(|l| format!(" at {l} risk or above"))
            .unwrap_or_default();
        let what = if rule.deny {
            format!("{scope} denied")
        } else {
            let kind = if rule.signed {
                "signed approval"
            } else {
                "approval"
            };
            format!("{} for {scope}{risk}", count(rule.approvals.max(1), kind))
        };
        out.push(format!("{:?}: {what}", rule.name));
    }
    out.push(if r.exec.allow {
        if r.exec.commands.is_empty() {
            "exec steps allowed (any command)".to_string()
        } else {
            format!("exec steps allowed: {}", r.exec.commands.join(", "))
        }
    } else {
        "exec steps refused".to_string()
    });
    if let Some(v) = &r.verify {
        out.push(format!("verify after apply: {}", shell_words::join(&v.run)));
    }
    out.push(format!("signers file: {}", r.allowed_signers));
    out
}

fn row(out: &mut String, r: &PlanRow, note: &str, styled: &dyn Fn(&Style, &str) -> String) {
    let reverses = match &r.reverses {
        Some(orig) => format!(" reverses {}", orig.get(..12).unwrap_or(orig)),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "  {}  {}  {}  ({}){reverses}{note}",
        styled(&color::id(), r.id.get(..12).unwrap_or(&r.id)),
        r.created,
        printable(&r.title),
        printable(&r.author)
    );
}

/// The note after a plan that may still be applied: STALE, ready, or what it still needs.
fn plan_note(r: &StatusPlan, approved: bool, styled: &dyn Fn(&Style, &str) -> String) -> String {
    if !r.stale.is_empty() {
        styled(
            &color::danger(),
            &format!(
                "  STALE: {} changed since it was planned; it cannot be approved or applied",
                short_paths(&r.stale)
            ),
        )
    } else if approved && r.ready {
        styled(&color::added(), "  approved and ready to apply")
    } else if approved {
        styled(
            &color::warn(),
            &format!("  approved, still needs: {}", r.still_needed.join("; ")),
        )
    } else {
        String::new()
    }
}

pub fn render_text(doc: &StatusDoc, styled: &dyn Fn(&Style, &str) -> String) -> String {
    let mut out = String::new();
    render_workspace(&mut out, doc, styled);
    let _ = writeln!(out);
    render_plans(&mut out, doc, styled);
    let _ = writeln!(out);
    render_rules(&mut out, doc, styled);
    out
}

/// The workspace line, an interrupted run and who holds the lock.
fn render_workspace(out: &mut String, doc: &StatusDoc, styled: &dyn Fn(&Style, &str) -> String) {
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
    render_sessions(out, &doc.sessions);
}

/// Open agent sessions, each with what to do next.
fn render_sessions(out: &mut String, sessions: &[SessionDoc]) {
    if sessions.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{} (`autonomy session propose NAME` plans what the agent changed; `autonomy session end NAME` discards it):",
        count(sessions.len() as u64, "open agent session")
    );
    for s in sessions {
        let state = if s.running {
            "agent running"
        } else {
            "agent exited"
        };
        let last = s
            .last_plan
            .as_deref()
            .map(|p| format!(", last plan {}", crate::model::id::short(p)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {}  since {}, {state}{last}",
            printable(&s.name),
            printable(&s.agent),
            s.started
        );
    }
}

/// Every plan that is not done with, grouped by status, each group with its next step.
fn render_plans(out: &mut String, doc: &StatusDoc, styled: &dyn Fn(&Style, &str) -> String) {
    let waiting = &doc.waiting;
    if waiting.is_empty() {
        let _ = writeln!(out, "No pending plans.");
    } else {
        let _ = writeln!(
            out,
            "{} (approve or reject):",
            count(waiting.len() as u64, "pending plan")
        );
        for r in waiting {
            row(out, &r.row, &plan_note(r, false, styled), styled);
        }
    }
    if !doc.declined.is_empty() {
        let _ = writeln!(
            out,
            "{} (approve later, or reject):",
            count(doc.declined.len() as u64, "declined plan")
        );
        for d in &doc.declined {
            let why = d
                .reason
                .as_deref()
                .map(|r| format!(": {:?}", printable(r)))
                .unwrap_or_default();
            let note = format!(" declined by {}{why}", printable(&d.declined_by));
            row(out, &d.plan, &note, styled);
        }
    }
    for (what, next, rows, approved) in [
        ("approved plan", " (apply)", &doc.approved, true),
        ("applied plan", " (roll back)", &doc.applied, false),
    ] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{}{next}:", count(rows.len() as u64, what));
        for r in rows {
            row(out, &r.row, &plan_note(r, approved, styled), styled);
        }
    }
    if !doc.rolled_back.is_empty() {
        let _ = writeln!(
            out,
            "{}:",
            count(doc.rolled_back.len() as u64, "rolled-back plan")
        );
        for r in &doc.rolled_back {
            row(out, r, "", styled);
        }
    }
}

/// Which rules are in force (or why they do not parse), then their summary lines.
fn render_rules(out: &mut String, doc: &StatusDoc, styled: &dyn Fn(&Style, &str) -> String) {
    match (&doc.rules.present, &doc.rules.error) {
        (false, _) => {
            let _ = writeln!(out, "Rules: no autonomy.toml, so the defaults:");
        }
        (true, None) => {
            let _ = writeln!(
                out,
                "Rules: autonomy.toml ({}):",
                &doc.rules.digest[..12.min(doc.rules.digest.len())]
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
            let _ = writeln!(
                out,
                "  (see the rules file format: `autonomy help rules-file`)"
            );
        }
    }
    for line in &doc.rules.summary {
        let _ = writeln!(out, "  {}", printable(line));
    }
}

fn short_paths(paths: &[String]) -> String {
    let shown: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| printable(p).into_owned())
        .collect();
    if paths.len() > 3 {
        format!("{} and {} more", shown.join(", "), paths.len() - 3)
    } else {
        shown.join(", ")
    }
}
