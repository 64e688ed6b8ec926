//! Recording approvals in the journal: interactive decisions, and signed approval files
//! verified in-process. A presented file is journaled once its fate is known:
//! `approval.granted` when it counted toward a run, `approval.refused` (with the reason in
//! words) when it was invalid or did not count.
//!
//! A terminal decision records the OS user who typed it (`os_uid`, `os_user`) beside the
//! identity it claims, since `--as` can claim any: for k-of-n rules terminal approvals
//! count once per OS user (see `gate`). The gate reads terminal approvals from the
//! hash-chained events, and whether a signed approval was consumed from the events as
//! well as the table, so an edited approvals table cannot add or revive an approval.

use crate::error::{Error, Result};
use crate::model::Plan;
use crate::ops::session::Session;
use crate::policy::approval::allowed_signers::AllowedSigners;
use crate::policy::approval::gate::{Held, Standing, evaluate};
use crate::policy::approval::verify::{Accepted, VerifyContext, verify_approval};
use rusqlite::{OptionalExtension, params};
use serde_json::json;
use std::path::Path;

/// The largest approval file we read.
const MAX_APPROVAL_FILE: u64 = 64 * 1024;

/// The largest allowed-signers file we read.
const MAX_SIGNERS_FILE: u64 = 16 << 20;

/// Record an interactive decision (`approve` or `decline`) by `principal`.
pub fn record_decision(
    s: &mut Session,
    plan_id: &str,
    principal: &str,
    approve: bool,
    reason: Option<&str>,
) -> Result<()> {
    let rules = s.journal.rules_digest.clone();
    let (decision, kind) = if approve {
        ("approve", "approval.granted")
    } else {
        ("decline", "approval.declined")
    };
    let (os_uid, os_user) = crate::util::identity::os_user();
    s.journal.write(|tx| {
        tx.execute(
            "INSERT INTO approvals (plan, at, principal, method, decision, reason) VALUES (?1, ?2, ?3, 'terminal', ?4, ?5)",
            params![plan_id, crate::util::ids::now_string(), principal, decision, reason],
        )?;
        if approve {
            tx.execute("UPDATE plans SET status = 'approved' WHERE id = ?1 AND status = 'pending'", [plan_id])?;
        }
        crate::store::journal::append_event(
            tx,
            &rules,
            principal,
            kind,
            Some(plan_id),
            &json!({ "method": "terminal", "principal": principal, "reason": reason, "os_uid": os_uid, "os_user": os_user }),
        )?;
        Ok(())
    })
}

/// Interactive approvals recorded for a plan, read from its `approval.granted` events.
pub fn recorded(s: &Session, plan_id: &str) -> Result<Vec<Held>> {
    Ok(
        crate::store::derived::terminal_approvals(&s.journal.conn, plan_id)?
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

/// The allowed-signers file the rules name (relative to the workspace root).
pub fn load_signers(s: &Session) -> Result<AllowedSigners> {
    let rel = s.rules()?.allowed_signers.clone();
    let path = s.ws.root.join(&rel);
    // Inside the state folder it must be the user's (or root's), at any depth.
    if rel.starts_with(&format!("{}/", crate::paths::STATE_DIR)) {
        crate::workspace::trust::check_file(&s.ws.root, &path)?;
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
/// decided with the others held (`standings`); only then is it journaled, as
/// `approval.granted` when it counts ([`grant_presented`]) or `approval.refused` when it
/// does not ([`refuse_presented`]), so the journal never records more than happened.
#[derive(Debug, Clone)]
pub struct Presented {
    /// The file as named on the command line.
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

/// Verify each signed approval file for `plan_id`. Journals nothing for a valid file (see
/// [`Presented`]). When any file is refused, every refused file is journaled as
/// `approval.refused` with its reason, the valid ones as `approval.refused` too (they were
/// not counted), and the first refusal is returned as an exit-3 error.
pub fn verify_files(
    s: &mut Session,
    plan_id: &str,
    files: &[std::path::PathBuf],
) -> Result<Vec<Presented>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let signers = load_signers(s)?;
    let workspace = s.workspace_id()?;
    // Consumed by the plan's own run.committed events (an approval names one plan), or
    // by the table (any plan).
    let consumed = crate::store::derived::consumed_for_plan(&s.journal.conn, plan_id)?;
    let mut valid = Vec::new();
    let mut refused = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let bytes = read_capped(f)?;
        let conn = &s.journal.conn;
        let is_consumed = |id: &str| -> bool {
            consumed.contains(id)
                || conn.query_row(
                "SELECT 1 FROM approvals WHERE approval_id = ?1 AND consumed_by IS NOT NULL",
                [id],
                |_| Ok(()),
            )
            .optional()
            .ok()
            .flatten()
            .is_some()
        };
        let ctx = VerifyContext {
            workspace: &workspace,
            plan: plan_id,
            now: s.clock.deadline_now(),
            signers: &signers,
            is_consumed: &is_consumed,
        };
        match verify_approval(&bytes, &ctx) {
            Ok(accepted) => valid.push(Presented {
                file: name,
                accepted,
                bytes,
            }),
            Err(refusal) => refused.push((name, refusal.to_string())),
        }
    }
    let Some((first, first_reason)) = refused.first().cloned() else {
        return Ok(valid);
    };
    let actor = s.actor.clone();
    for (name, reason) in &refused {
        s.journal.event(
            &actor,
            "approval.refused",
            Some(plan_id),
            &json!({ "file": name, "reason": reason }),
        )?;
    }
    let why = format!("not counted: approval file {first} presented with it was refused");
    for p in &valid {
        refuse_presented(s, plan_id, p, &why)?;
    }
    Err(
        Error::not_approved(format!("approval file {first} refused: {first_reason}"))
            .hint("nothing was changed; ask the approver for a new approval file for this plan"),
    )
}

/// Record a presented approval that counts: its row in the approvals table (reused when
/// the same file was counted before and not consumed) and `approval.granted`. Returns the
/// row, to mark consumed when the run commits.
pub fn grant_presented(s: &mut Session, plan_id: &str, p: &Presented) -> Result<i64> {
    let rules = s.journal.rules_digest.clone();
    let acc = &p.accepted;
    let statement = acc.statement.render();
    let name = &p.file;
    s.journal.write(|tx| {
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM approvals WHERE plan = ?1 AND approval_id = ?2 AND consumed_by IS NULL",
                params![plan_id, acc.approval_id],
                |r| r.get(0),
            )
            .optional()?;
        let row = match existing {
            Some(id) => id,
            None => {
                tx.execute(
                    "INSERT INTO approvals (plan, at, principal, method, decision, approval_id, key_fingerprint, statement, signature)
                     VALUES (?1, ?2, ?3, 'ssh', 'approve', ?4, ?5, ?6, ?7)",
                    params![plan_id, crate::util::ids::now_string(), acc.principal, acc.approval_id, acc.fingerprint, statement, String::from_utf8_lossy(&p.bytes)],
                )?;
                tx.last_insert_rowid()
            }
        };
        crate::store::journal::append_event(
            tx,
            &rules,
            &acc.principal,
            "approval.granted",
            Some(plan_id),
            &json!({ "method": "ssh", "principal": acc.principal, "key_fingerprint": acc.fingerprint, "approval_id": acc.approval_id, "file": name }),
        )?;
        Ok(row)
    })
}

/// Record a valid presented approval that did not count (the threshold was not met, it
/// duplicates a signer or key already counted, the plan was declined or already applied):
/// `approval.refused` with `valid: true` and the reason. Nothing is stored as held, and
/// its approval id stays unused, so the same file may be presented again.
pub fn refuse_presented(s: &mut Session, plan_id: &str, p: &Presented, reason: &str) -> Result<()> {
    let actor = s.actor.clone();
    let acc = &p.accepted;
    s.journal.event(
        &actor,
        "approval.refused",
        Some(plan_id),
        &json!({
            "file": p.file, "reason": reason, "valid": true, "method": "ssh",
            "principal": acc.principal, "key_fingerprint": acc.fingerprint, "approval_id": acc.approval_id,
        }),
    )?;
    Ok(())
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

/// Held approvals (recorded + presented) and how each requirement stands. Rules keyed on
/// risk see the level in force for the plan (`crate::policy::risk::in_force`).
pub fn standings(s: &Session, plan: &Plan, held: &[Held]) -> Result<Vec<Standing>> {
    let rules = s.rules()?;
    let risk =
        crate::policy::risk::in_force(&s.journal.conn, &plan.id(), plan, &rules.allowed_signers)?;
    let reqs = rules.requirements(plan, Some(risk.level.as_str()));
    Ok(evaluate(&reqs, held))
}

/// The "not approved" error naming every unmet requirement.
pub fn unmet_error(short: &str, standings: &[Standing]) -> Error {
    let lines: Vec<String> = standings
        .iter()
        .filter(|s| !s.met())
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
                "  rule {:?}: needs {}, has {}{scope}",
                s.requirement.name,
                crate::util::text::count(s.requirement.approvals, what),
                s.held
            )
        })
        .collect();
    let mut lines = lines;
    let notes = os_user_notes(standings);
    lines.extend(notes.iter().map(|n| format!("  note: {n}")));
    let signed = standings.iter().any(|s| !s.met() && s.requirement.signed);
    let hint = if !notes.is_empty() && !signed {
        format!(
            "terminal approvals count once per OS user: have another person approve from their own account (`autonomy approve {short}`), or pass signed approvals by distinct people with distinct keys (`autonomy approve {short} --sign-with KEY`, then --approval FILE), which are the real multi-person gate"
        )
    } else if signed {
        format!(
            "have approvers sign it (`autonomy approve {short} --sign-with KEY`) and pass each file with --approval FILE"
        )
    } else {
        format!(
            "approve it at a terminal with `autonomy approve {short}`, or pass a signed approval with --approval FILE"
        )
    };
    Error::not_approved(format!(
        "plan {short} is not approved:\n{}",
        lines.join("\n")
    ))
    .hint(hint)
}

/// The notes of unmet requirements about one OS user approving under several names.
fn os_user_notes(standings: &[Standing]) -> Vec<String> {
    let mut notes: Vec<String> = standings
        .iter()
        .filter(|s| !s.met())
        .filter_map(|s| s.note.clone())
        .collect();
    notes.dedup();
    notes
}

/// After a terminal approval of `plan_id`: `None` when the approvals now meet every
/// requirement, else what is still missing, in words, with why an approval under another
/// name by the same OS user did not count. `approve` says this instead of "approved".
pub fn still_needed(s: &Session, plan_id: &str, plan: &Plan) -> Result<Option<String>> {
    let held = recorded(s, plan_id)?;
    let standings = standings(s, plan, &held)?;
    if standings.iter().all(|st| st.met()) {
        return Ok(None);
    }
    let err = unmet_error(&plan_id[..12.min(plan_id.len())], &standings);
    let body: Vec<&str> = err.message.lines().skip(1).collect();
    Ok(Some(format!(
        "{}
{}",
        body.join("\n"),
        err.hint.unwrap_or_default()
    )))
}
