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
use crate::ops::propose::{Proposal, Source, propose};
use crate::ops::session::Session;
use crate::ops::stats::DirStats;
use crate::paths::RULES_FILE;
use crate::paths::RelPath;
use crate::plan::compile::Op;
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

/// What `rules suggest` found for a workspace, and the plan it made (with `plan`).
pub struct Found {
    /// The window's start in the stored time format.
    pub since: String,
    /// The window in words ("in 30 days"), as the evidence lines say it.
    pub window: String,
    pub suggestions: Suggestions,
    /// Whether the workspace has a rules file (else the diff is against `/dev/null`).
    pub rules_file_exists: bool,
    /// The pending plan that writes the new rules file, when one was asked for.
    pub plan: Option<crate::model::PlanId>,
}

/// Suggest rules from the history of the workspace `s` over the window `since` (a duration
/// back from now, or a date), grouping paths by directory at `depth`; with `make_plan`, make
/// the suggestion a pending plan that writes the new rules file (only when there are
/// suggestions).
pub fn for_workspace(
    s: &mut Session,
    since_arg: &str,
    depth: usize,
    make_plan: bool,
) -> Result<Found> {
    let since = crate::ops::stats::parse_since(since_arg, crate::util::ids::now())?;
    let window = window_words(since_arg, &since);
    let old_text = match std::fs::read(s.ws.root.join(RULES_FILE)) {
        Ok(b) => String::from_utf8(b)
            .map_err(|_| Error::failed("autonomy.toml is not UTF-8; fix it first"))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("reading autonomy.toml", e)),
    };
    let rules = s.rules()?;
    let suggestions = suggest(&s.journal, rules, &old_text, Some(&since), &window, depth)?;
    let mut found = Found {
        since,
        window,
        rules_file_exists: true,
        plan: None,
        suggestions,
    };
    if found.suggestions.suggestions.is_empty() {
        return Ok(found);
    }
    found.rules_file_exists = !old_text.is_empty() || s.ws.root.join(RULES_FILE).exists();
    if make_plan {
        found.plan = Some(plan_suggestions(s, since_arg, &found.suggestions)?);
    }
    Ok(found)
}

/// The window in evidence lines: "in the last day", "in 30 days", "in the last 12h",
/// "since DATE".
fn window_words(since_arg: &str, since: &str) -> String {
    match humantime::parse_duration(since_arg) {
        Ok(d) if d.as_secs() == 86400 => "in the last day".to_string(),
        Ok(d) if d.as_secs() % 86400 == 0 => format!("in {} days", d.as_secs() / 86400),
        Ok(_) => format!("in the last {since_arg}"),
        Err(_) => format!("since {since}"),
    }
}

/// Propose a pending plan that writes the rules file with the suggestions added, its
/// description the evidence (through `ops::propose`, as every plan is made; an identical
/// open plan is returned as it is).
fn plan_suggestions(
    s: &mut Session,
    since_arg: &str,
    found: &Suggestions,
) -> Result<crate::model::PlanId> {
    let evidence: Vec<String> = found
        .suggestions
        .iter()
        .flat_map(|x| x.evidence.iter().cloned())
        .collect();
    let write = Op::Write {
        path: RelPath::parse(RULES_FILE)?,
        bytes: found.new_text.clone().into_bytes(),
        mode: None,
    };
    let mut proposal = Proposal::new(Source::Ops(vec![write]))
        .title(Some("Tighten the rules from history".into()));
    proposal.description = Some(format!(
        "Suggested by `autonomy rules suggest --since {since_arg}`:\n{}",
        evidence.join("\n")
    ));
    proposal.via = Some("rules suggest".into());
    let proposed = propose(s, proposal)?;
    let id = proposed
        .id()
        .and_then(crate::model::PlanId::parse)
        .ok_or_else(|| Error::failed("the suggested rules change nothing in autonomy.toml"))?;
    Ok(id)
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
