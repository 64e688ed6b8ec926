//! Risk, shown in every preview and keyed on by rules (`[[rule]] risk = "high"`): a
//! deterministic sum of documented signals from the plan itself and from the project's
//! history in the journal. docs/risk.md lists every signal and its weight.
//!
//! Learning only ever tightens: the level a plan was given when it was created is
//! recorded in its `plan.created` event, and the level used at apply time is the higher of
//! that and the level now; and a rule's `risk` means "at this level or above", so a higher
//! level only ever adds rules, never drops one.

use crate::error::Result;
use crate::model::{Plan, State};
use crate::store::journal::Journal;
use crate::store::journal::history::PathHistory;
use serde::Serialize;

/// The three levels, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "low" => Some(Level::Low),
            "medium" => Some(Level::Medium),
            "high" => Some(Level::High),
            _ => None,
        }
    }
    /// The level a score reaches.
    pub fn from_score(score: u32) -> Level {
        if score >= HIGH_AT {
            Level::High
        } else if score >= MEDIUM_AT {
            Level::Medium
        } else {
            Level::Low
        }
    }
}

/// Scores at or above these are medium and high.
pub const MEDIUM_AT: u32 = 3;
pub const HIGH_AT: u32 = 6;

/// How many of a path's most recent decided plans the history signals look at, and how
/// many of those rolled back (or failed) make the signal fire.
pub const WINDOW: usize = 5;
pub const MOSTLY: usize = 3;

/// One signal that fired, with its weight and the evidence in words.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    pub signal: &'static str,
    pub weight: u32,
    pub reason: String,
}

/// A plan's risk: the level, the score it comes from, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub level: Level,
    pub score: u32,
    pub reasons: Vec<Reason>,
    /// The level recorded when the plan was created, when it is higher than today's (the
    /// level in force never drops).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorded: Option<Level>,
}

impl Assessment {
    /// Plain-language notes, most important first (for compact listings).
    pub fn notes(&self) -> Vec<String> {
        self.reasons.iter().map(|r| r.reason.clone()).collect()
    }
}

/// Assess `plan`. With `history` (the journal), path history counts; `exclude` is the
/// plan's own id, left out of its history.
pub fn assess(
    plan: &Plan,
    signers_path: &str,
    history: Option<(&Journal, &str)>,
) -> Result<Assessment> {
    let mut reasons = plan_signals(plan, signers_path);
    if let Some((journal, exclude)) = history {
        reasons.extend(history_signals(journal, plan, exclude)?);
    }
    reasons.sort_by_key(|r| std::cmp::Reverse(r.weight));
    let score = reasons.iter().map(|r| r.weight).sum();
    Ok(Assessment {
        level: Level::from_score(score),
        score,
        reasons,
        recorded: None,
    })
}

/// The assessment in force for a stored plan: today's, raised to the level recorded when
/// it was created if that was higher.
pub fn in_force(
    journal: &Journal,
    plan_id: &str,
    plan: &Plan,
    signers: &str,
) -> Result<Assessment> {
    let mut a = assess(plan, signers, Some((journal, plan_id)))?;
    if let Some(rec) = recorded_level(journal, plan_id)?
        && rec > a.level
    {
        a.level = rec;
        a.recorded = Some(rec);
        a.reasons.push(Reason {
            signal: "recorded",
            weight: 0,
            reason: format!(
                "assessed {} when it was planned; the level never drops",
                rec.as_str()
            ),
        });
    }
    Ok(a)
}

/// The level recorded in a plan's `plan.created` event, if any.
pub fn recorded_level(journal: &Journal, plan_id: &str) -> Result<Option<Level>> {
    let level = journal.recorded_risk_level(plan_id)?;
    Ok(level.as_deref().and_then(Level::parse))
}

/// Signals from the plan alone: policy, exec steps, size, deletions, executable bits.
pub fn plan_signals(plan: &Plan, signers_path: &str) -> Vec<Reason> {
    [
        policy_signal(plan, signers_path),
        exec_signal(plan),
        link_signal(plan),
        git_signal(plan),
        special_bits_signal(plan),
        size_signal(plan),
        deletions_signal(plan),
        executable_signal(plan),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The plan changes the rules or signers file, or runs a command that may write them.
fn policy_signal(plan: &Plan, signers_path: &str) -> Option<Reason> {
    let mut policy: Vec<String> = plan
        .policy_paths(signers_path)
        .iter()
        .map(|c| c.path.clone())
        .collect();
    // An exec step that may write the rules or signers file changes the policy too.
    policy.extend(
        plan.policy_globs(signers_path)
            .into_iter()
            .map(|g| format!("exec touches {g}")),
    );
    (!policy.is_empty()).then(|| Reason {
        signal: "policy",
        weight: 6,
        reason: format!("changes the approval policy ({})", policy.join(", ")),
    })
}

/// The plan runs commands.
fn exec_signal(plan: &Plan) -> Option<Reason> {
    (!plan.exec.is_empty()).then(|| Reason {
        signal: "exec",
        weight: 3,
        reason: format!(
            "runs {}; effects outside their declared paths and outside the file system cannot be rolled back",
            crate::util::text::count(plan.exec.len() as u64, "command")
        ),
    })
}

/// The plan makes links that point outside the workspace or at an absolute path.
fn link_signal(plan: &Plan) -> Option<Reason> {
    let outward: Vec<String> = plan
        .changes
        .iter()
        .filter_map(|c| {
            let t = c.after.link_target()?;
            link_leaves(&c.path, t).then(|| format!("{} -> {}", c.path, t))
        })
        .collect();
    (!outward.is_empty()).then(|| Reason {
        signal: "link",
        weight: 2,
        reason: format!(
            "makes {} pointing outside the workspace or at an absolute path ({}); autonomy never follows it, but whatever reads it will",
            crate::util::text::count(outward.len() as u64, "link"),
            crate::paths::shown(&outward.join(", "))
        ),
    })
}

/// The plan changes many files (directories aside).
fn size_signal(plan: &Plan) -> Option<Reason> {
    let files = plan
        .changes
        .iter()
        .filter(|c| !c.after.is_dir() && !c.before.is_dir())
        .count();
    if files >= 100 {
        Some(Reason {
            signal: "size",
            weight: 3,
            reason: format!("large plan: {files} files"),
        })
    } else if files >= 20 {
        Some(Reason {
            signal: "size",
            weight: 1,
            reason: format!("sizeable plan: {files} files"),
        })
    } else {
        None
    }
}

/// The plan deletes files (those moved elsewhere aside).
fn deletions_signal(plan: &Plan) -> Option<Reason> {
    let deleted = plan
        .changes
        .iter()
        .filter(|c| c.before.file_hash().is_some() && c.after.is_absent() && c.from.is_none())
        .count();
    if deleted == 0 {
        return None;
    }
    let moved_away = plan.changes.iter().filter(|c| c.from.is_some()).count();
    let deleted = deleted.saturating_sub(moved_away);
    let weight = if deleted >= 10 {
        2
    } else if deleted > 0 {
        1
    } else {
        return None;
    };
    Some(Reason {
        signal: "deletions",
        weight,
        reason: format!(
            "deletes {}",
            crate::util::text::count(deleted as u64, "file")
        ),
    })
}

/// The plan makes files executable that were not.
fn executable_signal(plan: &Plan) -> Option<Reason> {
    let exec_on = plan
        .changes
        .iter()
        .filter(|c| {
            c.after.mode().is_some_and(|m| m & 0o111 != 0)
                && c.before.mode().is_none_or(|m| m & 0o111 == 0)
        })
        .count();
    (exec_on > 0).then(|| Reason {
        signal: "executable",
        weight: 1,
        reason: format!(
            "makes {} executable",
            crate::util::text::count(exec_on as u64, "file")
        ),
    })
}

/// Whether a (normalised) path has a component git would take for its own folder: `.git`
/// in any case, also with the trailing dots and spaces some file systems drop.
pub fn names_git(path: &str) -> bool {
    path.split('/')
        .any(|c| c.trim_end_matches(['.', ' ']).eq_ignore_ascii_case(".git"))
}

/// Writing into a `.git` folder (this repository's or a nested one's) is code execution:
/// git runs hooks (`.git/hooks/*`) and commands named in its config (`core.fsmonitor`,
/// `core.sshCommand`, filters, aliases) the next time anyone runs git there. High on its own.
fn git_signal(plan: &Plan) -> Option<Reason> {
    let mut hits: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| names_git(&c.path) || c.from.as_deref().is_some_and(names_git))
        .map(|c| c.path.clone())
        .collect();
    hits.extend(
        plan.changes
            .iter()
            .filter(|c| c.after.link_target().is_some_and(names_git))
            .map(|c| format!("{} -> {}", c.path, c.after.link_target().unwrap_or(""))),
    );
    hits.extend(
        plan.exec
            .iter()
            .flat_map(|e| e.touches.iter())
            .filter(|g| names_git(g))
            .map(|g| format!("exec touches {g}")),
    );
    if hits.is_empty() {
        return None;
    }
    Some(Reason {
        signal: "git",
        weight: 6,
        reason: format!(
            "writes inside a .git folder ({}); git runs its hooks and the commands its config names (core.fsmonitor, core.sshCommand, filters): code execution the next time anyone runs git there",
            first_three(&hits)
        ),
    })
}

/// The first three of `hits`, escaped for one line, then how many more there are.
fn first_three(hits: &[String]) -> String {
    let shown = crate::paths::printable(&hits[..hits.len().min(3)].join(", ")).into_owned();
    match hits.len() {
        n if n > 3 => format!("{shown}, and {} more", n - 3),
        _ => shown,
    }
}

/// The bits beyond the permissions: setuid, setgid, sticky.
const SPECIAL_BITS: [(u32, &str); 3] = [(0o4000, "setuid"), (0o2000, "setgid"), (0o1000, "sticky")];

/// A file the plan gives a setuid, setgid or sticky bit it did not have (a plan file's
/// `mode`, a capture, a patch): a setuid or setgid program runs with its owner's or group's
/// rights whoever starts it, and autonomy writes files as the user applying the plan
/// (root, often). High on its own, naming the bit and the file.
fn special_bits_signal(plan: &Plan) -> Option<Reason> {
    let mut hits = Vec::new();
    for c in &plan.changes {
        let Some(after) = c.after.mode() else {
            continue;
        };
        let before = c.before.mode().unwrap_or(0);
        for (bit, name) in SPECIAL_BITS {
            if after & bit != 0 && before & bit == 0 {
                hits.push(format!("{name} on {} (mode {after:04o})", c.path));
            }
        }
    }
    if hits.is_empty() {
        return None;
    }
    Some(Reason {
        signal: "special_bits",
        weight: 6,
        reason: format!(
            "sets a special permission bit: {}; a setuid or setgid program runs with its owner's or group's rights, whoever starts it",
            first_three(&hits)
        ),
    })
}

/// Signals from the paths' history: mostly rolled back (high), sometimes rolled back, and
/// mostly failing. Each fires once per plan, naming up to three paths.
fn history_signals(journal: &Journal, plan: &Plan, exclude: &str) -> Result<Vec<Reason>> {
    let mut mostly_rb = Vec::new();
    let mut some_rb = Vec::new();
    let mut failing = Vec::new();
    for c in &plan.changes {
        if matches!(c.after, State::Dir { .. }) || matches!(c.before, State::Dir { .. }) {
            continue;
        }
        let h = journal.path_history(&c.path, exclude, WINDOW)?;
        if h.rolled_back >= MOSTLY {
            mostly_rb.push((c.path.as_str(), h));
        } else if h.rolled_back >= 2 {
            some_rb.push((c.path.as_str(), h));
        }
        if h.failed >= MOSTLY {
            failing.push((c.path.as_str(), h));
        }
    }
    let list = |v: &[(&str, PathHistory)], what: &dyn Fn(&PathHistory) -> usize, verb: &str| {
        let mut parts: Vec<String> = v
            .iter()
            .take(3)
            .map(|(p, h)| format!("{p}: {} of its last {} plans {verb}", what(h), h.decided))
            .collect();
        if v.len() > 3 {
            parts.push(format!(
                "and {} more",
                crate::util::text::count((v.len() - 3) as u64, "path")
            ));
        }
        parts.join("; ")
    };
    let mut out = Vec::new();
    if !mostly_rb.is_empty() {
        out.push(Reason {
            signal: "history.rolled_back",
            weight: 6,
            reason: list(&mostly_rb, &|h| h.rolled_back, "were rolled back"),
        });
    }
    if !some_rb.is_empty() {
        out.push(Reason {
            signal: "history.sometimes_rolled_back",
            weight: 2,
            reason: list(&some_rb, &|h| h.rolled_back, "were rolled back"),
        });
    }
    if !failing.is_empty() {
        out.push(Reason {
            signal: "history.failed",
            weight: 3,
            reason: list(&failing, &|h| h.failed, "failed to apply"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_map_to_levels() {
        assert_eq!(Level::from_score(0), Level::Low);
        assert_eq!(Level::from_score(2), Level::Low);
        assert_eq!(Level::from_score(3), Level::Medium);
        assert_eq!(Level::from_score(6), Level::High);
        assert!(Level::High > Level::Medium && Level::Medium > Level::Low);
    }
}

/// Whether the link at `path` with `target` is absolute or, resolved lexically from the
/// link's folder, leaves the workspace. (A target leading into a state folder is refused
/// when the plan is made: `plan::links`.)
pub fn link_leaves(path: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return true;
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return true;
                }
            }
            s => parts.push(s),
        }
    }
    false
}

#[cfg(test)]
mod link_tests {
    use super::link_leaves;

    #[test]
    fn absolute_and_escaping_targets_leave() {
        assert!(link_leaves("a", "/etc/passwd"));
        assert!(link_leaves("a", "../x"));
        assert!(link_leaves("d/a", "../../x"));
        assert!(!link_leaves("d/a", "../x"));
        assert!(!link_leaves("current", "releases/1.2.0"));
        assert!(!link_leaves("d/e/a", "./../f/./g"));
    }
}
