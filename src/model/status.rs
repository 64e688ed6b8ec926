//! The states a plan and a run go through, as stored in the journal (`plans.status`,
//! `runs.state`). Text read back that names no state means the journal was edited: an
//! integrity error (exit 7), never a silent "other".

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident, $column:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Text read from the journal; anything unknown is an integrity error.
            pub fn from_journal(text: &str) -> Result<$name> {
                $name::parse(text).ok_or_else(|| {
                    Error::integrity(format!(
                        "{} holds {:?}, which is not a known value; the journal was altered",
                        $column,
                        crate::model::id::short(text)
                    ))
                    .hint("run `autonomy verify`; restore .autonomy/ from a backup")
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum!(
    /// Where a plan is: proposed, approved, applied (by a committed run), rolled back (an
    /// applied reverse plan undid it), or rejected.
    PlanStatus, "plans.status" {
        Pending = "pending",
        Approved = "approved",
        Applied = "applied",
        RolledBack = "rolled_back",
        Rejected = "rejected",
    }
);

stored_enum!(
    /// Where a run is: running (or interrupted, when nobody holds the lock), committed,
    /// failed (every path put back), or recovered after a crash.
    RunState, "runs.state" {
        Running = "running",
        Committed = "committed",
        Failed = "failed",
        Recovered = "recovered",
    }
);

stored_enum!(
    /// What a run does: apply a plan, or apply a reverse plan (rollback).
    RunKind, "runs.kind" {
        Apply = "apply",
        Rollback = "rollback",
    }
);

impl PlanStatus {
    /// Pending or approved: not yet applied, not rejected.
    pub fn is_open(self) -> bool {
        matches!(self, PlanStatus::Pending | PlanStatus::Approved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_and_unknown_text_is_integrity() {
        for s in PlanStatus::ALL {
            assert_eq!(PlanStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).ok(), Some(s.as_str().into()));
        }
        for s in RunState::ALL {
            assert_eq!(RunState::parse(s.as_str()), Some(*s));
        }
        let e = PlanStatus::from_journal("Applied").unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Integrity);
        assert!(RunState::from_journal("").is_err());
    }
}
