//! What a plan holds and whether it is enough: the terminal approvals the journal records,
//! signed approval files verified in-process as they are presented, how each requirement
//! of the rules stands, and what is missing, as data. Reads only; the admission check
//! (`engine::admit`) journals what it decides.
//!
//! The gate reads terminal approvals from the hash-chained events, and whether a signed
//! approval was consumed from the events as well as the table, so an edited approvals table
//! cannot add or revive an approval.

use super::allowed_signers::AllowedSigners;
use super::gate::{Held, Standing, evaluate};
use super::outlook::Outlook;
use super::verify::{Accepted, VerifyContext, verify_approval};
use crate::error::{Error, Result};
use crate::model::Plan;
use crate::policy::rules::Rules;
use crate::store::journal::Journal;
use std::path::{Path, PathBuf};

/// The largest approval file we read.
const MAX_APPROVAL_FILE: u64 = 64 * 1024;

/// The largest allowed-signers file we read.
const MAX_SIGNERS_FILE: u64 = 16 << 20;

/// Interactive approvals recorded for a plan, read from its `approval.granted` events.
pub fn recorded(journal: &Journal, plan_id: &str) -> Result<Vec<Held>> {
    Ok(
        crate::store::journal::derived::terminal_approvals(journal, plan_id)?
            .into_iter()
            .map(|t| Held {
                row: None,
                principal: t.principal,
                method: "terminal".into(),
                key: None,
                os_uid: t.os_uid,
                os_user: t.os_user,
            })
            .collect(),
    )
}

/// An approval typed at a terminal by `principal`, as the OS user running this process.
pub fn terminal(principal: &str) -> Held {
    let (uid, user) = crate::util::identity::os_user();
    Held {
        row: None,
        principal: principal.to_string(),
        method: "terminal".into(),
        key: None,
        os_uid: Some(uid),
        os_user: user,
    }
}

/// Held approvals (recorded + presented) and how each requirement stands. Rules keyed on
/// risk see the level in force for the plan (`crate::policy::risk::in_force`).
pub fn standings(
    journal: &Journal,
    rules: &Rules,
    plan: &Plan,
    held: &[Held],
) -> Result<Vec<Standing>> {
    let risk = crate::policy::risk::in_force(journal, &plan.id(), plan, &rules.allowed_signers)?;
    let reqs = rules.requirements(plan, Some(risk.level.as_str()));
    Ok(evaluate(&reqs, held))
}

/// What one more approval (`extra`) would count for, given what is `held`.
pub fn outlook_with(
    journal: &Journal,
    rules: &Rules,
    plan: &Plan,
    held: &[Held],
    extra: Held,
) -> Result<Outlook> {
    let before = standings(journal, rules, plan, held)?;
    let mut with = held.to_vec();
    with.push(extra);
    let after = standings(journal, rules, plan, &with)?;
    Ok(Outlook::compare(&before, &after))
}

/// The allowed-signers file the rules name (relative to the workspace root).
pub fn load_signers(root: &Path, rules: &Rules) -> Result<AllowedSigners> {
    let rel = &rules.allowed_signers;
    let path = root.join(rel);
    // Inside the state folder it must be the user's (or root's), at any depth.
    if rel.starts_with(&format!("{}/", crate::paths::STATE_DIR)) {
        crate::workspace::trust::check_file(root, &path)?;
    }
    let bytes = match crate::store::read_config_file(&path, MAX_SIGNERS_FILE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(format!("reading allowed signers file {rel}"), e)),
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::failed(format!("allowed signers file {rel} is not valid UTF-8"))
            .hint("fix the file (git's allowed_signers format)")
    })?;
    AllowedSigners::parse(&text).map_err(|e| {
        Error::failed(format!("allowed signers file {rel}: {e}"))
            .hint("fix the file (git's allowed_signers format)")
    })
}

/// A signed approval file that verified: valid, but not yet counted. Whether it counts is
/// decided with the others held; only then is it journaled, as `approval.granted` when it
/// counts or `approval.refused` when it does not, so the journal never records more than
/// happened.
#[derive(Debug, Clone)]
pub struct Presented {
    /// The file as named by whoever presented it.
    pub file: String,
    pub accepted: Accepted,
    /// The whole file, recorded with the approval when it counts.
    pub bytes: Vec<u8>,
}

impl Presented {
    pub fn held(&self) -> Held {
        Held {
            row: None,
            principal: self.accepted.principal.clone(),
            method: "ssh".into(),
            key: Some(self.accepted.fingerprint.clone()),
            os_uid: None,
            os_user: None,
        }
    }
}

/// A refused approval file and why, in words.
#[derive(Debug, Clone)]
pub struct RefusedFile {
    pub file: String,
    pub reason: String,
}

/// The presented files, sorted: those that verified and those refused.
#[derive(Debug, Default)]
pub struct Verified {
    pub valid: Vec<Presented>,
    pub refused: Vec<RefusedFile>,
}

/// Verify each signed approval file for `plan_id` against the allowed signers, the
/// workspace, the time now, and the approval ids consumed so far. Reads only.
pub fn verify_files(
    journal: &Journal,
    root: &Path,
    rules: &Rules,
    plan_id: &str,
    files: &[PathBuf],
) -> Result<Verified> {
    let mut out = Verified::default();
    if files.is_empty() {
        return Ok(out);
    }
    let signers = load_signers(root, rules)?;
    let workspace = journal.workspace_id()?;
    // Consumed by the plan's own run.committed events (an approval names one plan), or
    // by the table (any plan).
    let consumed = crate::store::journal::derived::consumed_for_plan(journal, plan_id)?;
    // A table that cannot be read counts the id as consumed: refusing is the safe side.
    let is_consumed = |id: &str| -> bool {
        consumed.contains(id)
            || crate::store::journal::approvals::consumed_anywhere(journal, id).unwrap_or(true)
    };
    for f in files {
        let name = f.display().to_string();
        let bytes = read_capped(f)?;
        let ctx = VerifyContext {
            workspace: &workspace,
            plan: plan_id,
            now: crate::util::clock::Clock::system().deadline_now(),
            signers: &signers,
            is_consumed: &is_consumed,
        };
        match verify_approval(&bytes, &ctx) {
            Ok(accepted) => out.valid.push(Presented {
                file: name,
                accepted,
                bytes,
            }),
            Err(refusal) => out.refused.push(RefusedFile {
                file: name,
                reason: refusal.to_string(),
            }),
        }
    }
    Ok(out)
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("reading approval file {}", path.display()), e))?;
    let mut bytes = Vec::new();
    f.take(MAX_APPROVAL_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("reading approval file {}", path.display()), e))?;
    Ok(bytes)
}

/// The requirements the held approvals do not meet, as data: each rule's line, the notes on
/// one OS user approving under several names, and whether a signed rule is among them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    /// `rule "default": needs 1 approval, has 0` per unmet requirement.
    pub rules: Vec<String>,
    /// Why some terminal approvals did not count.
    pub notes: Vec<String>,
    /// Some unmet requirement needs signed approvals.
    pub signed: bool,
}

impl Unmet {
    /// `None` when every requirement is met.
    pub fn of(standings: &[Standing]) -> Option<Unmet> {
        let unmet: Vec<&Standing> = standings.iter().filter(|s| !s.met()).collect();
        if unmet.is_empty() {
            return None;
        }
        let rules = unmet
            .iter()
            .map(|s| {
                let what = if s.requirement.signed {
                    "signed approval"
                } else {
                    "approval"
                };
                let scope = if s.requirement.paths.is_empty() {
                    String::new()
                } else {
                    format!(" (paths: {})", s.requirement.paths.join(", "))
                };
                format!(
                    "rule {:?}: needs {}, has {}{scope}",
                    s.requirement.name,
                    crate::util::text::count(s.requirement.approvals, what),
                    s.held
                )
            })
            .collect();
        let mut notes: Vec<String> = unmet.iter().filter_map(|s| s.note.clone()).collect();
        notes.dedup();
        Some(Unmet {
            rules,
            notes,
            signed: unmet.iter().any(|s| s.requirement.signed),
        })
    }

    /// Every line: the rules, then the notes (`note: …`).
    pub fn lines(&self) -> Vec<String> {
        self.rules
            .iter()
            .cloned()
            .chain(self.notes.iter().map(|n| format!("note: {n}")))
            .collect()
    }

    /// Why a valid presented approval did not count.
    pub fn reason(&self) -> String {
        format!("threshold not met: {}", self.lines().join("; "))
    }

    /// What to do next, for plan `short`.
    pub fn hint(&self, short: &str) -> String {
        if !self.notes.is_empty() && !self.signed {
            format!(
                "terminal approvals count once per OS user: have another person approve from their own account (`autonomy approve {short}`), or pass signed approvals by distinct people with distinct keys (`autonomy approve {short} --sign-with KEY`, then --approval FILE), which are the real multi-person gate"
            )
        } else if self.signed {
            format!(
                "have approvers sign it (`autonomy approve {short} --sign-with KEY`) and pass each file with --approval FILE"
            )
        } else {
            format!(
                "approve it at a terminal with `autonomy approve {short}`, or pass a signed approval with --approval FILE"
            )
        }
    }

    /// The "not approved" error (exit 3) naming every unmet requirement.
    pub fn error(&self, short: &str) -> Error {
        let body: Vec<String> = self.lines().iter().map(|l| format!("  {l}")).collect();
        Error::not_approved(format!(
            "plan {short} is not approved:\n{}",
            body.join("\n")
        ))
        .hint(self.hint(short))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rules::Requirement;

    fn terminal_as(principal: &str, uid: u32) -> Held {
        Held {
            row: None,
            principal: principal.into(),
            method: "terminal".into(),
            key: None,
            os_uid: Some(uid),
            os_user: Some(format!("user{uid}")),
        }
    }

    fn req(name: &str, approvals: u32, signed: bool, paths: &[&str]) -> Requirement {
        Requirement {
            name: name.into(),
            approvals,
            signed,
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn met_requirements_leave_nothing_unmet() {
        let st = evaluate(&[req("default", 1, false, &[])], &[terminal_as("a", 1)]);
        assert_eq!(Unmet::of(&st), None);
    }

    /// The refusal reason, the error and the hint come from the same data: nothing is
    /// parsed back out of a message.
    #[test]
    fn unmet_requirements_are_data_the_error_and_the_reason_are_made_from() {
        let reqs = [
            req("default", 2, false, &[]),
            req("deploy", 1, true, &["deploy/a.yml"]),
        ];
        let held = [terminal_as("alice", 7), terminal_as("bob", 7)];
        let unmet = Unmet::of(&evaluate(&reqs, &held)).expect("unmet");
        assert_eq!(
            unmet.rules,
            [
                "rule \"default\": needs 2 approvals, has 1",
                "rule \"deploy\": needs 1 signed approval, has 0 (paths: deploy/a.yml)",
            ]
        );
        assert_eq!(unmet.notes.len(), 1, "{unmet:?}");
        assert!(unmet.signed);
        assert_eq!(
            unmet.reason(),
            format!(
                "threshold not met: {}; {}; note: {}",
                unmet.rules[0], unmet.rules[1], unmet.notes[0]
            )
        );
        let err = unmet.error("0123456789ab");
        assert_eq!(err.kind, crate::error::Kind::NotApproved);
        assert_eq!(
            err.message,
            format!(
                "plan 0123456789ab is not approved:\n  {}\n  {}\n  note: {}",
                unmet.rules[0], unmet.rules[1], unmet.notes[0]
            )
        );
        assert!(err.hint.unwrap_or_default().contains("--sign-with KEY"));
    }
}
