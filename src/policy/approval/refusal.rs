//! Why an approval was refused: one variant per reason, each with a plain
//! English message.

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::sshsig::NAMESPACE;

/// Which bound of an `allowed_signers` validity window was violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityBound {
    /// The key's `valid-after` time has not been reached yet.
    ValidAfter,
    /// The key's `valid-before` time has passed.
    ValidBefore,
}

/// A reason to refuse an approval.
///
/// Strings that come from the approval file are shown with `{:?}` so that
/// control characters cannot reach a terminal unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    /// The file could not be parsed.
    #[error("malformed approval file: {0}")]
    Malformed(String),
    /// The signature does not verify over the statement.
    #[error("bad signature: the signature does not verify over the statement")]
    BadSignature,
    /// The signature was made for another namespace.
    #[error("wrong namespace: the signature is for namespace {found:?}, not {NAMESPACE:?}")]
    WrongNamespace {
        /// Namespace found in the signature.
        found: String,
    },
    /// No `allowed_signers` line lists this principal with this key.
    #[error(
        "unknown principal: no allowed_signers entry lists {principal:?} with key {fingerprint}{}",
        listed_as_note(.listed_as)
    )]
    UnknownPrincipal {
        /// The approver named in the statement.
        principal: String,
        /// Fingerprint of the signing key.
        fingerprint: String,
        /// The principals a line lists with this very key, when one does: the approval was
        /// most likely made under the wrong name (`approve --as` fixes it).
        listed_as: Option<String>,
    },
    /// The key is listed for the principal but not for this namespace.
    #[error(
        "key {fingerprint} of {principal:?} is not allowed to sign for namespace {namespace:?} (allowed_signers line {line})"
    )]
    NamespaceNotAllowed {
        /// The approver named in the statement.
        principal: String,
        /// Fingerprint of the signing key.
        fingerprint: String,
        /// The namespace asked for.
        namespace: String,
        /// The `allowed_signers` line that restricts it.
        line: usize,
    },
    /// The key is listed but outside its `valid-after`/`valid-before` window.
    #[error("{}", outside_window_message(.principal, .fingerprint, *.bound, .limit, *.line))]
    OutsideValidityWindow {
        /// The approver named in the statement.
        principal: String,
        /// Fingerprint of the signing key.
        fingerprint: String,
        /// Which bound was violated.
        bound: ValidityBound,
        /// The bound's time.
        limit: DateTime<Utc>,
        /// The `allowed_signers` line carrying the window.
        line: usize,
    },
    /// The statement's `expires` time has passed.
    #[error("approval expired at {}", rfc3339(.expires))]
    Expired {
        /// When it expired.
        expires: DateTime<Utc>,
    },
    /// The statement's `created` time is too far in the future.
    #[error("approval is not yet valid: it was created at {}, which is in the future", rfc3339(.created))]
    NotYetValid {
        /// The claimed creation time.
        created: DateTime<Utc>,
    },
    /// The statement approves another plan.
    #[error("approval is for plan {found}, not for plan {expected}")]
    OtherPlan {
        /// 12-hex prefix of the plan being approved.
        expected: String,
        /// 12-hex prefix of the plan named in the statement.
        found: String,
    },
    /// The statement belongs to another workspace.
    #[error("approval is for workspace {found:?}, not for this workspace {expected:?}")]
    OtherWorkspace {
        /// This workspace.
        expected: String,
        /// The workspace named in the statement.
        found: String,
    },
    /// The approval id was used before.
    #[error("approval {0} has already been used")]
    AlreadyUsed(String),
    /// The statement's decision is not `approve`.
    #[error("decision is {0:?}, not \"approve\"")]
    DecisionNotApprove(String),
}

fn rfc3339(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn outside_window_message(
    principal: &str,
    fingerprint: &str,
    bound: ValidityBound,
    limit: &DateTime<Utc>,
    line: usize,
) -> String {
    let (what, option) = match bound {
        ValidityBound::ValidAfter => ("is not valid yet", "valid-after"),
        ValidityBound::ValidBefore => ("is no longer valid", "valid-before"),
    };
    format!(
        "key {fingerprint} of {principal:?} {what}: allowed_signers line {line} has {option} {}",
        rfc3339(limit)
    )
}

/// For an unknown principal whose key is listed under another name: say that name, and
/// how to sign as it.
fn listed_as_note(listed_as: &Option<String>) -> String {
    match listed_as {
        Some(principals) => format!(
            "; that key is listed for {principals:?}: the approval must be made as that identity (`autonomy approve --as ID --sign-with KEY`)"
        ),
        None => String::new(),
    }
}
