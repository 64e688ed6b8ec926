//! Counting approvals against requirements. A k-of-n requirement needs k approvals from
//! distinct principals *and* distinct keys: the count is a maximum matching between
//! principals and keys, so one signer twice, or two principals sharing a key, count once.
//!
//! A terminal approval's "key" is the OS user who typed it: `--as` can claim any identity,
//! but one OS user approving as alice and then as bob is still one person at one
//! terminal, so terminal approvals count once per OS uid. Terminal approvals recorded
//! before the OS user was (no `os_uid`) share one key: together they count once. Signed
//! approvals are the real multi-person gate: distinct principals with distinct keys.

use crate::policy::rules::Requirement;
use serde::Serialize;

/// One approval held for a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Held {
    /// Row id in the approvals table, when recorded.
    pub row: Option<i64>,
    pub principal: String,
    /// `terminal` or `ssh`.
    pub method: String,
    /// Fingerprint of the signing key (signed approvals only).
    pub key: Option<String>,
    /// The OS user who typed a terminal approval (uid and login name), when recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_user: Option<String>,
}

impl Held {
    pub fn signed(&self) -> bool {
        self.key.is_some()
    }

    /// What stands for "a distinct key" in the matching: the signing key, or for a
    /// terminal approval the OS user who typed it.
    fn matching_key(&self) -> String {
        match (&self.key, self.os_uid) {
            (Some(k), _) => format!("key {k}"),
            (None, Some(uid)) => format!("os uid {uid}"),
            (None, None) => "os uid unrecorded".to_string(),
        }
    }

    /// The OS user in words: `root (uid 0)`.
    fn os_user_words(&self) -> String {
        match (&self.os_user, self.os_uid) {
            (Some(name), Some(uid)) => format!("{name} (uid {uid})"),
            (_, Some(uid)) => format!("uid {uid}"),
            _ => "an OS user autonomy did not yet record".to_string(),
        }
    }
}

/// How one requirement stands.
#[derive(Debug, Clone, Serialize)]
pub struct Standing {
    pub requirement: Requirement,
    pub held: u32,
    /// Approvals that count toward it (indexes into the held list).
    #[serde(skip)]
    pub counted: Vec<usize>,
    /// Why some terminal approvals did not count: the same OS user typed them under
    /// different identities.
    #[serde(skip)]
    pub note: Option<String>,
}

impl Standing {
    pub fn met(&self) -> bool {
        self.held >= self.requirement.approvals
    }
}

/// Evaluate every requirement. Terminal approvals never count toward a `signed` rule.
pub fn evaluate(reqs: &[Requirement], held: &[Held]) -> Vec<Standing> {
    reqs.iter()
        .map(|r| {
            let eligible: Vec<usize> = (0..held.len())
                .filter(|&i| !r.signed || held[i].signed())
                .collect();
            let counted = max_matching(&eligible, held);
            let note = same_os_user_note(&eligible, &counted, held);
            Standing {
                requirement: r.clone(),
                held: counted.len() as u32,
                counted,
                note,
            }
        })
        .collect()
}

/// When terminal approvals by several identities were left out because one OS user typed
/// them all, say so (the count alone would look like a bug to the people involved).
fn same_os_user_note(eligible: &[usize], counted: &[usize], held: &[Held]) -> Option<String> {
    for &c in counted.iter().filter(|&&c| !held[c].signed()) {
        let key = held[c].matching_key();
        let mut names: Vec<&str> = eligible
            .iter()
            .filter(|&&i| !held[i].signed() && held[i].matching_key() == key)
            .map(|&i| held[i].principal.as_str())
            .collect();
        names.sort();
        names.dedup();
        if names.len() > 1 {
            return Some(format!(
                "the terminal approvals by {} were all typed by one OS user, {}, and count as one person: `--as` names an identity, it does not make another person",
                names.join(", "),
                held[c].os_user_words()
            ));
        }
    }
    None
}

/// Kuhn's augmenting-path matching between principals and keys (a terminal approval's key
/// is its OS user). Returns the approvals in the matching.
fn max_matching(eligible: &[usize], held: &[Held]) -> Vec<usize> {
    use std::collections::HashMap;
    let key_of = |i: usize| held[i].matching_key();
    let mut principals: Vec<&str> = eligible
        .iter()
        .map(|&i| held[i].principal.as_str())
        .collect();
    principals.sort();
    principals.dedup();
    // key -> (principal index, approval index)
    let mut owner: HashMap<String, (usize, usize)> = HashMap::new();
    fn try_assign(
        p: usize,
        principals: &[&str],
        eligible: &[usize],
        held: &[Held],
        key_of: &dyn Fn(usize) -> String,
        owner: &mut HashMap<String, (usize, usize)>,
        seen: &mut std::collections::HashSet<String>,
    ) -> bool {
        for &i in eligible
            .iter()
            .filter(|&&i| held[i].principal == principals[p])
        {
            let k = key_of(i);
            if !seen.insert(k.clone()) {
                continue;
            }
            let free = match owner.get(&k) {
                None => true,
                Some(&(q, _)) => try_assign(q, principals, eligible, held, key_of, owner, seen),
            };
            if free {
                owner.insert(k, (p, i));
                return true;
            }
        }
        false
    }
    for p in 0..principals.len() {
        let mut seen = std::collections::HashSet::new();
        try_assign(
            p,
            &principals,
            eligible,
            held,
            &key_of,
            &mut owner,
            &mut seen,
        );
    }
    let mut out: Vec<usize> = owner.values().map(|&(_, i)| i).collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(p: &str, key: Option<&str>) -> Held {
        Held {
            row: None,
            principal: p.into(),
            method: if key.is_some() { "ssh" } else { "terminal" }.into(),
            key: key.map(Into::into),
            os_uid: key.is_none().then_some(1000),
            os_user: key.is_none().then(|| "alice".into()),
        }
    }
    fn t(p: &str, uid: Option<u32>) -> Held {
        Held {
            os_uid: uid,
            os_user: uid.map(|u| format!("user{u}")),
            ..h(p, None)
        }
    }

    #[test]
    fn one_os_user_under_two_names_counts_once() {
        let s = evaluate(&[req(2, false)], &[t("alice", Some(0)), t("bob", Some(0))]);
        assert_eq!(s[0].held, 1);
        let note = s[0].note.as_deref().unwrap_or_default();
        assert!(
            note.contains("alice, bob") && note.contains("user0 (uid 0)"),
            "{note}"
        );
    }

    #[test]
    fn two_os_users_count_twice() {
        let s = evaluate(
            &[req(2, false)],
            &[t("alice", Some(1000)), t("bob", Some(1001))],
        );
        assert_eq!(s[0].held, 2);
        assert_eq!(s[0].note, None);
    }

    #[test]
    fn terminal_approvals_without_a_recorded_os_user_count_once_together() {
        let s = evaluate(&[req(2, false)], &[t("alice", None), t("bob", None)]);
        assert_eq!(s[0].held, 1);
        // An unrecorded one and a recorded one are two keys.
        let s = evaluate(&[req(2, false)], &[t("alice", None), t("bob", Some(1))]);
        assert_eq!(s[0].held, 2);
    }

    #[test]
    fn a_terminal_and_a_signed_approval_by_another_principal_count_twice() {
        let s = evaluate(
            &[req(2, false)],
            &[t("alice", Some(0)), h("bob", Some("k1"))],
        );
        assert_eq!(s[0].held, 2);
        // The same principal both ways is still one.
        let s = evaluate(
            &[req(2, false)],
            &[t("alice", Some(0)), h("alice", Some("k1"))],
        );
        assert_eq!(s[0].held, 1);
    }
    fn req(n: u32, signed: bool) -> Requirement {
        Requirement {
            name: "r".into(),
            approvals: n,
            signed,
            paths: vec![],
        }
    }

    #[test]
    fn one_signer_twice_counts_once() {
        let s = evaluate(
            &[req(2, true)],
            &[h("alice", Some("k1")), h("alice", Some("k1"))],
        );
        assert_eq!(s[0].held, 1);
    }

    #[test]
    fn two_principals_sharing_a_key_count_once() {
        let s = evaluate(
            &[req(2, true)],
            &[h("alice", Some("k1")), h("bob", Some("k1"))],
        );
        assert_eq!(s[0].held, 1);
    }

    #[test]
    fn terminal_approval_does_not_count_for_signed() {
        let s = evaluate(&[req(1, true), req(1, false)], &[h("alice", None)]);
        assert_eq!(s[0].held, 0);
        assert_eq!(s[1].held, 1);
    }

    #[test]
    fn matching_finds_the_best_assignment() {
        // alice has k1 and k2, bob only k1: both can count (alice->k2, bob->k1).
        let s = evaluate(
            &[req(2, true)],
            &[
                h("alice", Some("k1")),
                h("alice", Some("k2")),
                h("bob", Some("k1")),
            ],
        );
        assert_eq!(s[0].held, 2);
    }
}
