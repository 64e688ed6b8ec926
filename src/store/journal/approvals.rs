//! The SQL of approvals and of the admission check: a person's decision, a presented
//! signed approval that counted, whether an approval id was consumed, and a plan's status
//! as stored.

use super::Journal;
use crate::error::Result;
use crate::model::{EventKind, PlanStatus};
use rusqlite::{OptionalExtension, params};
use serde_json::json;

/// A decision typed by a person (`approve` or `decline`), and who typed it.
pub struct Decision<'a> {
    pub plan_id: &'a str,
    pub principal: &'a str,
    pub approve: bool,
    pub reason: Option<&'a str>,
    /// The OS user who typed it, beside the identity it claims.
    pub os_uid: Option<u32>,
    pub os_user: Option<&'a str>,
}

/// Record a terminal decision: its row, the plan approved (when pending), and
/// `approval.granted` or `approval.declined`, in one transaction.
pub fn record_decision(journal: &mut Journal, d: &Decision<'_>) -> Result<()> {
    let (decision, kind) = if d.approve {
        ("approve", EventKind::ApprovalGranted)
    } else {
        ("decline", EventKind::ApprovalDeclined)
    };
    journal.write(|tx| {
        tx.tx.execute(
            "INSERT INTO approvals (plan, at, principal, method, decision, reason) VALUES (?1, ?2, ?3, 'terminal', ?4, ?5)",
            params![d.plan_id, crate::util::ids::now_string(), d.principal, decision, d.reason],
        )?;
        if d.approve {
            tx.tx.execute(
                "UPDATE plans SET status = 'approved' WHERE id = ?1 AND status = 'pending'",
                [d.plan_id],
            )?;
        }
        tx.event(
            d.principal,
            kind,
            Some(d.plan_id),
            &json!({ "method": "terminal", "principal": d.principal, "reason": d.reason, "os_uid": d.os_uid, "os_user": d.os_user }),
        )?;
        Ok(())
    })
}

/// A presented signed approval that counts toward a run.
pub struct SignedGrant<'a> {
    pub plan_id: &'a str,
    pub principal: &'a str,
    pub approval_id: &'a str,
    pub fingerprint: &'a str,
    /// The statement's text, and the whole file as presented.
    pub statement: &'a str,
    pub file_text: &'a str,
    /// The file as named by whoever presented it.
    pub file: &'a str,
}

/// Record a signed approval that counts: its row (reused when the same approval was
/// counted before and not consumed) and `approval.granted`. Returns the row, to mark
/// consumed when the run commits.
pub fn grant_signed(journal: &mut Journal, g: &SignedGrant<'_>) -> Result<i64> {
    journal.write(|tx| {
        let existing: Option<i64> = tx
            .tx
            .query_row(
                "SELECT id FROM approvals WHERE plan = ?1 AND approval_id = ?2 AND consumed_by IS NULL",
                params![g.plan_id, g.approval_id],
                |r| r.get(0),
            )
            .optional()?;
        let row = match existing {
            Some(id) => id,
            None => {
                tx.tx.execute(
                    "INSERT INTO approvals (plan, at, principal, method, decision, approval_id, key_fingerprint, statement, signature)
                     VALUES (?1, ?2, ?3, 'ssh', 'approve', ?4, ?5, ?6, ?7)",
                    params![g.plan_id, crate::util::ids::now_string(), g.principal, g.approval_id, g.fingerprint, g.statement, g.file_text],
                )?;
                tx.tx.last_insert_rowid()
            }
        };
        tx.event(
            g.principal,
            EventKind::ApprovalGranted,
            Some(g.plan_id),
            &json!({ "method": "ssh", "principal": g.principal, "key_fingerprint": g.fingerprint, "approval_id": g.approval_id, "file": g.file }),
        )?;
        Ok(row)
    })
}

/// Whether the approvals table marks this approval id consumed by any run.
pub fn consumed_anywhere(journal: &Journal, approval_id: &str) -> Result<bool> {
    Ok(journal
        .conn
        .query_row(
            "SELECT 1 FROM approvals WHERE approval_id = ?1 AND consumed_by IS NOT NULL",
            [approval_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The plan's status as stored (`None`: no such plan; an unknown status is exit 7).
pub fn plan_status(journal: &Journal, plan_id: &str) -> Result<Option<PlanStatus>> {
    journal.plan_status(plan_id)
}
