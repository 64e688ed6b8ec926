//! `PlanId`: a plan's id, the sha256 of its canonical encoding as 64 lowercase hex
//! digits. Validated wherever one enters from outside (the journal, a person, a file), so
//! code that holds a `PlanId` may show its short form without checking its length.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How many digits of an id people see.
pub const SHORT_LEN: usize = 12;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlanId(String);

impl PlanId {
    /// `text` if it is a full id (64 lowercase hex digits).
    pub fn parse(text: &str) -> Option<PlanId> {
        is_full_id(text).then(|| PlanId(text.to_string()))
    }

    /// An id read from the journal: anything but a full id there means the journal was
    /// edited (exit 7), never a panic further on.
    pub fn from_journal(text: String, what: &str) -> Result<PlanId> {
        if is_full_id(&text) {
            return Ok(PlanId(text));
        }
        Err(Error::integrity(format!(
            "{what} holds {:?}, which is not a plan id (64 hex digits); the journal was altered",
            clip(&text)
        ))
        .hint("run `autonomy verify`; restore .autonomy/ from a backup"))
    }

    /// The id of a digest just computed (sha256 hex): always a full id.
    pub(crate) fn from_digest(hex: String) -> PlanId {
        debug_assert!(is_full_id(&hex));
        PlanId(hex)
    }

    /// The 12-digit form shown to people.
    pub fn short(&self) -> &str {
        &self.0[..SHORT_LEN]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The first 12 characters of an id-like text for messages, whatever its length: for
/// text that has not been validated (a hash column, an event's plan column).
pub fn short(text: &str) -> &str {
    match text.char_indices().nth(SHORT_LEN) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

fn is_full_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

impl TryFrom<String> for PlanId {
    type Error = String;
    fn try_from(text: String) -> std::result::Result<PlanId, String> {
        if is_full_id(&text) {
            Ok(PlanId(text))
        } else {
            Err(format!(
                "{:?} is not a plan id (64 hex digits)",
                clip(&text)
            ))
        }
    }
}

impl From<PlanId> for String {
    fn from(id: PlanId) -> String {
        id.0
    }
}

impl std::ops::Deref for PlanId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PlanId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for PlanId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for PlanId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PlanId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for PlanId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl fmt::Display for PlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlanId({})", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_lowercase_hex_is_an_id() {
        let good = "a".repeat(64);
        assert_eq!(PlanId::parse(&good).map(|i| i.short().len()), Some(12));
        for bad in [
            "",
            "abc",
            &"A".repeat(64),
            &"a".repeat(63),
            &"g".repeat(64),
            &"é".repeat(32),
        ] {
            assert!(PlanId::parse(bad).is_none(), "{bad:?}");
            let e = PlanId::from_journal(bad.to_string(), "plans.id").unwrap_err();
            assert_eq!(e.kind, crate::error::Kind::Integrity);
        }
        assert_eq!(short("é"), "é");
        assert_eq!(short(&"é".repeat(20)), "é".repeat(12));
    }
}
