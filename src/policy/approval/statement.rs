//! The approval statement: its fixed text format, strict parser and renderer.
//!
//! A statement is the exact byte sequence that an approver signs:
//!
//! ```text
//! autonomy-approval v1
//! approval = "<32 lowercase hex>"
//! workspace = "<workspace id>"
//! plan = "<64 lowercase hex>"
//! approver = "alice@example.com"
//! decision = "approve"
//! created = "2026-11-23T10:00:00Z"
//! expires = "2026-11-24T10:00:00Z"
//! ```
//!
//! Every line ends with `\n`, the last one included. The parser accepts only
//! the canonical form, so `render(parse(x)) == x` for every accepted `x`.

use chrono::{DateTime, NaiveDateTime, Utc};
use thiserror::Error;

/// First line of every statement.
pub const HEADER: &str = "autonomy-approval v1";

/// The only decision this version understands.
pub const DECISION_APPROVE: &str = "approve";

/// The keys of a statement, in the order they must appear.
pub const KEYS: [&str; 7] = [
    "approval",
    "workspace",
    "plan",
    "approver",
    "decision",
    "created",
    "expires",
];

/// Longest value accepted for any field, in bytes.
pub const MAX_VALUE_LEN: usize = 256;

const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// Why a statement text was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StatementError {
    /// The text is empty.
    #[error("statement is empty")]
    Empty,
    /// The final line has no terminating newline.
    #[error("statement does not end with a newline")]
    NoFinalNewline,
    /// The first line is not the expected header.
    #[error("line 1: expected header {HEADER:?}")]
    BadHeader,
    /// The statement ends before all keys were seen.
    #[error("statement is truncated: missing key {0:?}")]
    MissingKey(&'static str),
    /// A line is not `key = "value"` for the expected key.
    #[error("line {line}: expected `{key} = \"...\"`")]
    BadLine {
        /// 1-based line number.
        line: usize,
        /// The key expected on that line.
        key: &'static str,
    },
    /// A value is syntactically quoted but its content is not acceptable.
    #[error("line {line}: invalid {key}: {reason}")]
    BadValue {
        /// 1-based line number.
        line: usize,
        /// The key of the offending value.
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Lines follow the `expires` line.
    #[error("line {0}: unexpected content after `expires`")]
    TrailingLines(usize),
    /// `expires` is not after `created`.
    #[error("expires must be later than created")]
    ExpiresBeforeCreated,
    /// The statement is well formed but its decision is not `approve`.
    #[error("unsupported decision {0:?} (only \"approve\" is supported)")]
    UnsupportedDecision(String),
    /// The statement does not re-render to the same bytes.
    #[error("statement is not in canonical form")]
    NotCanonical,
}

/// A parsed approval statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Random 128-bit approval id, 32 lowercase hex digits.
    pub approval: String,
    /// Workspace id the approval is bound to.
    pub workspace: String,
    /// Full 64-hex plan id the approval is bound to.
    pub plan: String,
    /// Principal that approves; matched against `allowed_signers`.
    pub approver: String,
    /// Always `approve` in this version.
    pub decision: String,
    /// When the statement was created (whole seconds, UTC).
    pub created: DateTime<Utc>,
    /// When the statement stops being valid (whole seconds, UTC).
    pub expires: DateTime<Utc>,
}

impl Statement {
    /// Render the statement in its canonical text form.
    ///
    /// Only a statement for which [`Statement::validate`] succeeds renders to
    /// text that [`Statement::parse`] accepts.
    pub fn render(&self) -> String {
        let values = [
            self.approval.as_str(),
            self.workspace.as_str(),
            self.plan.as_str(),
            self.approver.as_str(),
            self.decision.as_str(),
            &format_timestamp(&self.created),
            &format_timestamp(&self.expires),
        ];
        let mut out = String::with_capacity(512);
        out.push_str(HEADER);
        out.push('\n');
        for (key, value) in KEYS.iter().zip(values) {
            out.push_str(key);
            out.push_str(" = \"");
            out.push_str(value);
            out.push_str("\"\n");
        }
        out
    }

    /// Check that this statement renders to text that [`Statement::parse`]
    /// accepts and that parses back to the same statement.
    pub fn validate(&self) -> Result<(), StatementError> {
        let parsed = Self::parse(&self.render())?;
        if &parsed == self {
            Ok(())
        } else {
            // Only sub-second or leap-second timestamps can get here.
            Err(StatementError::NotCanonical)
        }
    }

    /// Parse a statement, accepting only the canonical form.
    pub fn parse(text: &str) -> Result<Statement, StatementError> {
        if text.is_empty() {
            return Err(StatementError::Empty);
        }
        let Some(body) = text.strip_suffix('\n') else {
            return Err(StatementError::NoFinalNewline);
        };
        let mut lines = body.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(StatementError::BadHeader);
        }

        let mut values: Vec<String> = Vec::with_capacity(KEYS.len());
        for (index, key) in KEYS.iter().enumerate() {
            let line_no = index + 2;
            let line = lines.next().ok_or(StatementError::MissingKey(key))?;
            let raw =
                split_line(line, key).ok_or(StatementError::BadLine { line: line_no, key })?;
            check_value(key, raw).map_err(|reason| StatementError::BadValue {
                line: line_no,
                key,
                reason,
            })?;
            values.push(raw.to_owned());
        }
        if lines.next().is_some() {
            return Err(StatementError::TrailingLines(KEYS.len() + 2));
        }

        let mut values = values.into_iter();
        let mut next = || values.next().unwrap_or_default();
        let approval = next();
        let workspace = next();
        let plan = next();
        let approver = next();
        let decision = next();
        let created_text = next();
        let expires_text = next();
        let created = parse_timestamp(&created_text).ok_or_else(|| bad_time(7, "created"))?;
        let expires = parse_timestamp(&expires_text).ok_or_else(|| bad_time(8, "expires"))?;
        if expires <= created {
            return Err(StatementError::ExpiresBeforeCreated);
        }
        if decision != DECISION_APPROVE {
            return Err(StatementError::UnsupportedDecision(decision));
        }
        let statement = Statement {
            approval,
            workspace,
            plan,
            approver,
            decision,
            created,
            expires,
        };
        if statement.render() != text {
            return Err(StatementError::NotCanonical);
        }
        Ok(statement)
    }
}

/// Generate a fresh random approval id (128 bits, 32 lowercase hex digits).
pub fn generate_approval_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Format a timestamp the way statements carry it: RFC 3339, UTC, `Z`,
/// whole seconds (any sub-second part is dropped).
pub fn format_timestamp(at: &DateTime<Utc>) -> String {
    at.format(TIMESTAMP_FORMAT).to_string()
}

/// Parse a statement timestamp; only the exact canonical form is accepted.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if text.len() != 20 {
        return None;
    }
    let naive = NaiveDateTime::parse_from_str(text, TIMESTAMP_FORMAT).ok()?;
    let at = naive.and_utc();
    // Rejects leap seconds (`:60`) and any non-canonical spelling.
    if at.timestamp_subsec_nanos() != 0 || format_timestamp(&at) != text {
        return None;
    }
    Some(at)
}

fn bad_time(line: usize, key: &'static str) -> StatementError {
    StatementError::BadValue {
        line,
        key,
        reason: "expected an RFC 3339 UTC time like 2026-11-23T10:00:00Z".to_owned(),
    }
}

/// Split `key = "value"` and return the raw value, or `None` if the line
/// does not have exactly that shape.
fn split_line<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(key)?.strip_prefix(" = \"")?;
    let value = rest.strip_suffix('"')?;
    Some(value)
}

fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("value is empty".to_owned());
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(format!("value is longer than {MAX_VALUE_LEN} bytes"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| *c == '"' || *c == '\\' || c.is_control())
    {
        return Err(format!("value contains forbidden character {c:?}"));
    }
    match key {
        "approval" => check_hex(value, 32),
        "plan" => check_hex(value, 64),
        "approver" => check_principal(value),
        "decision" => {
            if value.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                Ok(())
            } else {
                Err("expected a lowercase word".to_owned())
            }
        }
        // Timestamps are checked after the whole statement is split.
        _ => Ok(()),
    }
}

fn check_hex(value: &str, len: usize) -> Result<(), String> {
    if value.len() == len
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(format!("expected {len} lowercase hex digits"))
    }
}

/// Characters an approver may not contain: whitespace and the characters
/// that have a meaning in `allowed_signers` principal lists (`,` separates,
/// `*` and `?` are wildcards, `!` negates).
pub fn check_principal(value: &str) -> Result<(), String> {
    match value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "\"\\,*?!".contains(*c))
    {
        Some(c) => Err(format!("approver contains forbidden character {c:?}")),
        None if value.is_empty() => Err("approver is empty".to_owned()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "autonomy-approval v1\n\
approval = \"0123456789abcdef0123456789abcdef\"\n\
workspace = \"ws-1\"\n\
plan = \"aaaaaaaaaaaabbbbbbbbbbbbccccccccccccddddddddddddeeeeeeeeeeee0000\"\n\
approver = \"alice@example.com\"\n\
decision = \"approve\"\n\
created = \"2026-11-23T10:00:00Z\"\n\
expires = \"2026-11-24T10:00:00Z\"\n";

    fn sample() -> Statement {
        Statement::parse(VALID).expect("sample parses")
    }

    #[test]
    fn round_trip() {
        let s = sample();
        assert_eq!(s.render(), VALID);
        assert_eq!(s.approver, "alice@example.com");
        assert_eq!(s.created.to_rfc3339(), "2026-11-23T10:00:00+00:00");
        assert_eq!(Statement::parse(&s.render()), Ok(s.clone()));
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn generated_id_is_valid() {
        let id = generate_approval_id().expect("random");
        assert_eq!(check_hex(&id, 32), Ok(()));
        let mut s = sample();
        s.approval = id;
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn validate_rejects_subsecond_times() {
        let mut s = sample();
        s.created += chrono::Duration::milliseconds(5);
        assert_eq!(s.validate(), Err(StatementError::NotCanonical));
    }

    fn replace(from: &str, to: &str) -> String {
        assert!(VALID.contains(from), "{from}");
        VALID.replacen(from, to, 1)
    }

    #[test]
    fn malformed_statements() {
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            (VALID.trim_end().to_owned(), "newline"),
            (
                replace("autonomy-approval v1", "autonomy-approval v2"),
                "header",
            ),
            (format!("\n{VALID}"), "header"),
            (format!("{VALID}extra = \"x\"\n"), "after `expires`"),
            (format!("{VALID}\n"), "after `expires`"),
            (VALID.replace('\n', "\r\n"), "line 1"),
            (replace("approval = ", "approval  = "), "line 2"),
            (replace("approval = \"0123", "approval = \"0X23"), "hex"),
            (replace("0123456789abcdef\"", "0123456789ABCDEF\""), "hex"),
            (replace("0123456789abcdef\"", "0123456789abcde\""), "hex"),
            (replace("ee0000\"", "ee000\""), "hex"),
            (replace("workspace = \"ws-1\"", "workspace = \"\""), "empty"),
            (
                replace("workspace = \"ws-1\"", "workspace = ws-1"),
                "line 3",
            ),
            (replace("ws-1", "ws\"1"), "line 3"),
            (replace("ws-1", "ws\\1"), "forbidden"),
            (replace("ws-1", "ws\t1"), "forbidden"),
            (replace("ws-1", &"w".repeat(MAX_VALUE_LEN + 1)), "longer"),
            (
                replace("alice@example.com", "alice @example.com"),
                "forbidden",
            ),
            (replace("alice@example.com", "alice,bob"), "forbidden"),
            (replace("alice@example.com", "*"), "forbidden"),
            (replace("alice@example.com", "!alice"), "forbidden"),
            (replace("\"approve\"", "\"reject\""), "unsupported decision"),
            (replace("\"approve\"", "\"Approve\""), "lowercase"),
            (
                replace("10:00:00Z\"\nexpires", "10:00:00+00:00\"\nexpires"),
                "RFC 3339",
            ),
            (
                replace("10:00:00Z\"\nexpires", "10:00:00.5Z\"\nexpires"),
                "RFC 3339",
            ),
            (
                replace("2026-11-23T10:00:00Z", "2026-11-23 10:00:00Z"),
                "RFC 3339",
            ),
            (
                replace("2026-11-23T10:00:00Z", "2026-11-23T23:59:60Z"),
                "RFC 3339",
            ),
            (
                replace("2026-11-23T10:00:00Z", "2026-02-30T10:00:00Z"),
                "RFC 3339",
            ),
            (
                replace("2026-11-23T10:00:00Z", "2026-11-23t10:00:00z"),
                "RFC 3339",
            ),
            (
                replace("2026-11-24T10:00:00Z", "2026-11-23T10:00:00Z"),
                "later",
            ),
            (replace("decision = \"approve\"\n", ""), "line 6"),
            (
                replace("workspace = \"ws-1\"\nplan", "plan").replacen(
                    "approver = \"alice@example.com\"\n",
                    "approver = \"alice@example.com\"\nworkspace = \"ws-1\"\n",
                    1,
                ),
                "line 3",
            ),
            (
                VALID.lines().take(5).map(|l| format!("{l}\n")).collect(),
                "missing key \"decision\"",
            ),
        ];
        for (text, expect) in cases {
            let err = Statement::parse(&text).expect_err(&text);
            let msg = err.to_string();
            assert!(
                msg.contains(expect),
                "{text:?}: got {msg:?}, want {expect:?}"
            );
        }
    }

    #[test]
    fn unsupported_decision_is_distinct() {
        let err = Statement::parse(&replace("\"approve\"", "\"reject\"")).expect_err("reject");
        assert_eq!(
            err,
            StatementError::UnsupportedDecision("reject".to_owned())
        );
    }

    #[test]
    fn unicode_approver_is_allowed() {
        let text = replace("alice@example.com", "zoë@example.com");
        let s = Statement::parse(&text).expect("parses");
        assert_eq!(s.render(), text);
    }
}
