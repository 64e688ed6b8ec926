//! The single entry point that decides whether an approval file approves a
//! given plan in a given workspace now.

use chrono::{DateTime, TimeDelta, Utc};

use super::allowed_signers::AllowedSigners;
use super::file::{FileError, parse_approval_file};
use super::refusal::Refusal;
use super::sshsig::{NAMESPACE, verify_signature};
use super::statement::{Statement, StatementError};

/// How far in the future a statement's `created` time may be (clock skew
/// between the approver's machine and this one), in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 5 * 60;

/// What an approval is checked against.
pub struct VerifyContext<'a> {
    /// This workspace's id.
    pub workspace: &'a str,
    /// The full 64-hex id of the plan to approve.
    pub plan: &'a str,
    /// The current time.
    pub now: DateTime<Utc>,
    /// Who may approve.
    pub signers: &'a AllowedSigners,
    /// Whether an approval id has been used already.
    pub is_consumed: &'a dyn Fn(&str) -> bool,
}

/// An accepted approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The statement's approval id.
    pub approval_id: String,
    /// The approver, as authorized by `allowed_signers`.
    pub principal: String,
    /// `SHA256:...` fingerprint of the signing key.
    pub fingerprint: String,
    /// The signing key in OpenSSH public key format (no comment).
    pub key_openssh: String,
    /// The whole statement.
    pub statement: Statement,
}

/// Verify an approval file.
///
/// Checks, in order: the file parses (a decision other than `approve` is
/// reported as such), the signature verifies, its namespace is
/// `autonomy-approval`, the workspace and plan match, the statement is
/// within its `created`/`expires` window, `allowed_signers` lets the key
/// sign as the approver for the namespace now, and the approval id is
/// unused.
pub fn verify_approval(bytes: &[u8], ctx: &VerifyContext) -> Result<Accepted, Refusal> {
    let file = parse_approval_file(bytes).map_err(|e| match e {
        FileError::Statement(StatementError::UnsupportedDecision(decision)) => {
            Refusal::DecisionNotApprove(decision)
        }
        other => Refusal::Malformed(other.to_string()),
    })?;
    let verified = verify_signature(file.statement_text.as_bytes(), &file.signature_pem)?;
    let statement = file.statement;

    if statement.workspace != ctx.workspace {
        return Err(Refusal::OtherWorkspace {
            expected: ctx.workspace.to_owned(),
            found: statement.workspace,
        });
    }
    if statement.plan != ctx.plan {
        return Err(Refusal::OtherPlan {
            expected: plan_prefix(ctx.plan),
            found: plan_prefix(&statement.plan),
        });
    }
    if ctx.now >= statement.expires {
        return Err(Refusal::Expired {
            expires: statement.expires,
        });
    }
    let latest_created = ctx
        .now
        .checked_add_signed(TimeDelta::seconds(MAX_CLOCK_SKEW_SECS));
    if latest_created.is_some_and(|latest| statement.created > latest) {
        return Err(Refusal::NotYetValid {
            created: statement.created,
        });
    }
    ctx.signers.authorize(
        &statement.approver,
        &verified.public_key,
        NAMESPACE,
        ctx.now,
    )?;
    if (ctx.is_consumed)(&statement.approval) {
        return Err(Refusal::AlreadyUsed(statement.approval));
    }
    let key_openssh = verified
        .public_key
        .to_openssh()
        .map_err(|e| Refusal::Malformed(format!("cannot encode signing key: {e}")))?;

    Ok(Accepted {
        approval_id: statement.approval.clone(),
        principal: statement.approver.clone(),
        fingerprint: verified.fingerprint,
        key_openssh,
        statement,
    })
}

fn plan_prefix(plan: &str) -> String {
    plan.get(..12).unwrap_or(plan).to_owned()
}
