//! What one more approval would do for a plan, in words: which requirements it counts
//! toward and which stay unmet after it. `approve` says this before asking and after
//! recording, and `status` uses the unmet part, so nobody reads "approved" for a plan the
//! rules will still refuse. Counting itself is `gate::evaluate`; this only compares.

use super::gate::Standing;
use serde::Serialize;

/// One requirement and how it stands.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Progress {
    pub name: String,
    pub needed: u32,
    pub held: u32,
    pub signed: bool,
    pub paths: Vec<String>,
}

impl Progress {
    fn of(s: &Standing) -> Self {
        Progress {
            name: s.requirement.name.clone(),
            needed: s.requirement.approvals,
            held: s.held,
            signed: s.requirement.signed,
            paths: s.requirement.paths.clone(),
        }
    }

    /// `rule "deploy" needs 2 signed approvals, has 1` (for an unmet one) or
    /// `rule "default" (1 of 1)` (for one counted toward).
    pub fn missing_sentence(&self) -> String {
        let what = if self.signed {
            "signed approval"
        } else {
            "approval"
        };
        let s = if self.needed == 1 { "" } else { "s" };
        let scope = if self.paths.is_empty() {
            String::new()
        } else if self.paths.len() <= 3 {
            format!(" (for {})", self.paths.join(", "))
        } else {
            format!(
                " (for {}, … {} paths)",
                self.paths[..3].join(", "),
                self.paths.len()
            )
        };
        let only = if self.signed {
            "; approvals at a terminal never count for it"
        } else {
            ""
        };
        format!(
            "rule {:?} needs {} {what}{s} from distinct approvers, has {}{scope}{only}",
            self.name, self.needed, self.held
        )
    }

    pub fn counted_sentence(&self) -> String {
        format!("rule {:?} ({} of {})", self.name, self.held, self.needed)
    }
}

/// Before and after one more approval.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outlook {
    /// Requirements the approval counts toward, as they stand after it.
    pub counts_for: Vec<Progress>,
    /// Requirements still unmet after it.
    pub still_needed: Vec<Progress>,
    /// Whether every requirement is met before it (the approval adds nothing needed).
    pub ready_before: bool,
    /// Whether every requirement is met after it: the plan can be applied.
    pub ready_after: bool,
}

impl Outlook {
    /// What the rules still need, one `  - SENTENCE` line each, as messages list it.
    pub fn still_needed_lines(&self) -> String {
        self.still_needed
            .iter()
            .map(|p| format!("  - {}", p.missing_sentence()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Compare standings without and with the approval (same requirements, same order).
    pub fn compare(before: &[Standing], after: &[Standing]) -> Outlook {
        let counts_for = before
            .iter()
            .zip(after)
            .filter(|(b, a)| a.held > b.held)
            .map(|(_, a)| Progress::of(a))
            .collect();
        Outlook {
            counts_for,
            still_needed: unmet(after),
            ready_before: before.iter().all(Standing::met),
            ready_after: after.iter().all(Standing::met),
        }
    }

    /// The approval changes nothing the rules count.
    pub fn counts_for_nothing(&self) -> bool {
        self.counts_for.is_empty()
    }
}

/// Every unmet requirement.
pub fn unmet(standings: &[Standing]) -> Vec<Progress> {
    standings
        .iter()
        .filter(|s| !s.met())
        .map(Progress::of)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::approval::gate::{Held, evaluate};
    use crate::policy::rules::Requirement;

    fn req(name: &str, n: u32, signed: bool) -> Requirement {
        Requirement {
            name: name.into(),
            approvals: n,
            signed,
            paths: vec![],
        }
    }
    fn terminal(p: &str) -> Held {
        Held {
            row: None,
            principal: p.into(),
            method: "terminal".into(),
            key: None,
            // One OS user per name: terminal approvals count once per OS user.
            os_uid: Some(p.bytes().map(u32::from).sum()),
            os_user: Some(p.into()),
        }
    }

    #[test]
    fn a_terminal_approval_counts_for_the_default_but_not_a_signed_rule() {
        let reqs = [req("default", 1, false), req("deploy", 2, true)];
        let o = Outlook::compare(&evaluate(&reqs, &[]), &evaluate(&reqs, &[terminal("a")]));
        assert_eq!(o.counts_for.len(), 1);
        assert_eq!(o.counts_for[0].name, "default");
        assert_eq!(o.still_needed.len(), 1);
        assert_eq!(o.still_needed[0].name, "deploy");
        assert!(!o.ready_after);
        assert!(
            o.still_needed[0]
                .missing_sentence()
                .contains("needs 2 signed approvals from distinct approvers, has 0"),
            "{}",
            o.still_needed[0].missing_sentence()
        );
    }

    #[test]
    fn the_same_person_twice_counts_for_nothing() {
        let reqs = [req("default", 2, false)];
        let held = [terminal("a")];
        let o = Outlook::compare(
            &evaluate(&reqs, &held),
            &evaluate(&reqs, &[terminal("a"), terminal("a")]),
        );
        assert!(o.counts_for_nothing());
        assert!(!o.ready_after);
    }

    #[test]
    fn the_last_needed_approval_makes_it_ready() {
        let reqs = [req("default", 2, false)];
        let o = Outlook::compare(
            &evaluate(&reqs, &[terminal("a")]),
            &evaluate(&reqs, &[terminal("a"), terminal("b")]),
        );
        assert_eq!(
            o.counts_for[0].counted_sentence(),
            "rule \"default\" (2 of 2)"
        );
        assert!(o.ready_after && !o.ready_before);
    }
}
