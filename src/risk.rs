//! Risk notes shown in every preview: deterministic signals from the plan itself
//! (deletions, size, executable bits, policy changes).

use crate::plan::{Plan, State};

/// Plain-language notes, most important first.
pub fn notes(plan: &Plan, signers_path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let policy: Vec<&str> = plan
        .policy_paths(signers_path)
        .iter()
        .map(|c| c.path.as_str())
        .collect();
    if !policy.is_empty() {
        out.push(format!(
            "changes the approval policy ({})",
            policy.join(", ")
        ));
    }
    let deleted = plan
        .changes
        .iter()
        .filter(|c| c.before.file_hash().is_some() && c.after.is_absent())
        .count();
    if deleted > 0 {
        out.push(format!("deletes {deleted} file(s)"));
    }
    let exec_on = plan
        .changes
        .iter()
        .filter(|c| {
            c.after.mode().is_some_and(|m| m & 0o111 != 0)
                && c.before.mode().is_none_or(|m| m & 0o111 == 0)
        })
        .count();
    if exec_on > 0 {
        out.push(format!("makes {exec_on} file(s) executable"));
    }
    if !plan.exec.is_empty() {
        out.push(format!(
            "runs {} command(s); effects outside their declared paths and outside the file system cannot be rolled back",
            plan.exec.len()
        ));
    }
    let files = plan
        .changes
        .iter()
        .filter(|c| !matches!(c.after, State::Dir) && !matches!(c.before, State::Dir))
        .count();
    if files >= 50 {
        out.push(format!("large plan: {files} files"));
    }
    out
}
