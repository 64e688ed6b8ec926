//! Counting approvals against requirements. A k-of-n requirement needs k approvals from
//! distinct principals *and* distinct keys: the count is a maximum matching between
//! principals and keys, so one signer twice, or two principals sharing a key, count once.

use crate::rules::Requirement;
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
}

impl Held {
    pub fn signed(&self) -> bool {
        self.key.is_some()
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
            Standing {
                requirement: r.clone(),
                held: counted.len() as u32,
                counted,
            }
        })
        .collect()
}

/// Kuhn's augmenting-path matching between principals and keys (a terminal approval has a
/// key of its own). Returns the approvals in the matching.
fn max_matching(eligible: &[usize], held: &[Held]) -> Vec<usize> {
    use std::collections::HashMap;
    let key_of = |i: usize| {
        held[i]
            .key
            .clone()
            .unwrap_or_else(|| format!("terminal:{i}"))
    };
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
        }
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
