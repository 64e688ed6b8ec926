//! `autonomy rules suggest`: read the history and propose additions to `autonomy.toml`,
//! each with its evidence as a TOML comment. Suggestions only ever add requirements, and
//! are never applied by themselves: `--plan` turns them into an ordinary pending plan.
//!
//! What warrants a suggestion (over the window, by directory at the chosen depth):
//! - a directory where at least `MIN_EVENTS` plans, and at least half of its plans, were
//!   rolled back: a rule asking two approvals for its paths;
//! - the same for failed verifies;
//! - at least `MIN_EVENTS` plans assessed high risk while no rule keys on `risk = "high"`:
//!   a rule asking two approvals for high-risk plans.

use crate::error::{Error, Result};
use crate::ops::stats::DirStats;
use crate::policy::rules::Rules;
use crate::store::journal::Journal;
use serde::Serialize;
use std::fmt::Write;

/// How many rollbacks (or failed verifies, or high-risk plans) it takes to suggest a rule.
pub const MIN_EVENTS: u64 = 3;
/// The share of a directory's plans that must have been rolled back (or failed verify).
pub const MIN_RATE: f64 = 0.5;

#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// `rollbacks`, `failed_verifies` or `high_risk`.
    pub kind: &'static str,
    /// The evidence, one line each (also written as TOML comments above the rule).
    pub evidence: Vec<String>,
    /// The `[[rule]]` table to add, as TOML (without the comments).
    pub rule: String,
}

/// The suggestions for this history, and the rules file with them added.
#[derive(Debug, Serialize)]
pub struct Suggestions {
    pub suggestions: Vec<Suggestion>,
    /// The rules file now (empty when there is none) and with the suggestions appended.
    #[serde(skip)]
    pub old_text: String,
    #[serde(skip)]
    pub new_text: String,
}

/// Compute suggestions from the journal. `window` describes the window in evidence lines
/// ("in 30 days"); `since` is its start in the stored time format.
pub fn suggest(
    journal: &Journal,
    rules: &Rules,
    old_text: &str,
    since: Option<&str>,
    window: &str,
    depth: usize,
) -> Result<Suggestions> {
    let stats = crate::ops::stats::compute(journal, since, depth)?;
    let mut suggestions = Vec::new();
    for d in &stats.directories {
        let glob = dir_glob(&d.dir);
        if already_covered(rules, &glob) {
            continue;
        }
        let mut evidence = Vec::new();
        let mut kind = "";
        if warrants(d.rolled_back, d.rollback_rate) {
            kind = "rollbacks";
            evidence.push(format!(
                "{}: {} of {} plans rolled back {window}",
                d.dir, d.rolled_back, d.plans
            ));
        }
        if warrants(d.failed_verifies, d.failed_verify_rate) {
            if kind.is_empty() {
                kind = "failed_verifies";
            }
            evidence.push(format!(
                "{}: {} of {} plans failed their verify command {window}",
                d.dir, d.failed_verifies, d.plans
            ));
        }
        if evidence.is_empty() {
            continue;
        }
        suggestions.push(Suggestion {
            kind,
            evidence,
            rule: dir_rule(d, &glob),
        });
    }
    let has_risk_rule = rules
        .rules
        .iter()
        .any(|r| !r.deny && r.risk.as_deref() == Some("high"));
    if !has_risk_rule {
        let (high, total, rolled) = journal.high_risk_counts(since.unwrap_or(""))?;
        if high >= MIN_EVENTS {
            let mut line = format!("{high} of {total} plans were assessed high risk {window}");
            if rolled > 0 {
                let _ = write!(line, "; {rolled} of those rolled back");
            }
            suggestions.push(Suggestion {
                kind: "high_risk",
                evidence: vec![line, "no rule asks more of high-risk plans".into()],
                rule: "[[rule]]\nname = \"high risk: two approvals\"\nrisk = \"high\"\napprovals = 2\n"
                    .into(),
            });
        }
    }
    let mut new_text = old_text.to_string();
    if !suggestions.is_empty() {
        if !new_text.is_empty() && !new_text.ends_with('\n') {
            new_text.push('\n');
        }
        for s in &suggestions {
            if !new_text.is_empty() {
                new_text.push('\n');
            }
            let _ = writeln!(new_text, "# Suggested by `autonomy rules suggest`:");
            for e in &s.evidence {
                let _ = writeln!(new_text, "# {e}");
            }
            new_text.push_str(&s.rule);
        }
        // What we propose must itself be a valid rules file.
        Rules::parse(new_text.as_bytes()).map_err(|e| {
            Error::failed(format!(
                "internal: the suggested autonomy.toml does not parse: {}",
                e.message
            ))
        })?;
    }
    Ok(Suggestions {
        suggestions,
        old_text: old_text.to_string(),
        new_text,
    })
}

fn warrants(n: u64, rate: f64) -> bool {
    n >= MIN_EVENTS && rate >= MIN_RATE
}

/// The glob for a directory from `stats` (`deploy/` -> `deploy/**`, `./` -> root files).
fn dir_glob(dir: &str) -> String {
    if dir == "./" {
        "/*".to_string()
    } else {
        format!("{dir}**")
    }
}

/// A rule already asks two approvals (or signed ones) for exactly this glob.
fn already_covered(rules: &Rules, glob: &str) -> bool {
    rules.rules.iter().any(|r| {
        (r.deny || r.approvals >= 2 || r.signed)
            && r.risk.is_none()
            && r.paths
                .as_ref()
                .is_some_and(|ps| ps.iter().any(|(p, _)| p == glob))
    })
}

fn dir_rule(d: &DirStats, glob: &str) -> String {
    let name = if d.dir == "./" {
        "root files: two approvals".to_string()
    } else {
        format!("{}: two approvals", d.dir)
    };
    format!(
        "[[rule]]\nname = {}\npaths = [{}]\napprovals = 2\n",
        toml_string(&name),
        toml_string(glob)
    )
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
