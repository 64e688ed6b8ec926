//! Whether two globs might match a common path: the test that decides which rules an
//! exec step's `touches` fall under, and whether a glob can reach the rules or signers
//! file. It errs one way only: when in doubt (negated classes, case folding of classes,
//! brace lists too long to expand) the answer is "they might", so a rule applies.
//!
//! Both globs are read with the design's semantics: `*`, `?` and `[...]` within one
//! component, `**` as a whole component for any number of components, and a pattern
//! without `/` matching at any depth. The test is an exact product construction over
//! components, and over characters within a component.

/// Brace lists expanding to more alternatives than this are treated as "anything".
const MAX_ALTERNATIVES: usize = 256;

/// Might some path match both `a` and `b`? `case_insensitive` compares letters without
/// case, as the rules do.
pub fn may_overlap(a: &str, b: &str, case_insensitive: bool) -> bool {
    let (a, b) = if case_insensitive {
        (fold_literals(a), fold_literals(b))
    } else {
        (a.to_string(), b.to_string())
    };
    let (a, b) = (a.as_str(), b.as_str());
    let (Some(xa), Some(xb)) = (expand(a), expand(b)) else {
        return true;
    };
    let anchored = |p: &str| p.contains('/');
    xa.iter().any(|pa| {
        let sa = segments(pa, anchored(a));
        xb.iter()
            .any(|pb| seq_overlap(&sa, &segments(pb, anchored(b)), case_insensitive))
    })
}

/// Might `glob` match the one path `path`? (The path is taken literally.)
pub fn may_match(glob: &str, path: &str, case_insensitive: bool) -> bool {
    let literal: String = path
        .chars()
        .flat_map(|c| {
            let escape = matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\');
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect();
    // A literal path with a `/` is anchored; without one it names a top-level entry.
    let anchored = if literal.contains('/') {
        literal
    } else {
        format!("/{literal}")
    };
    may_overlap(glob, &anchored, case_insensitive)
}

/// Case-fold a pattern's characters outside `[...]` classes (see [`super::fold`]); a
/// class keeps its ranges, which `chars_meet` compares without case.
fn fold_literals(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let (mut in_class, mut escaped) = (false, false);
    for c in pattern.chars() {
        match c {
            _ if escaped || in_class => {
                escaped = false;
                if c == ']' && in_class {
                    in_class = false;
                }
                out.push(c);
            }
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '[' => {
                in_class = true;
                out.push(c);
            }
            c => out.push_str(&super::fold(&c.to_string())),
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    Any,
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
    Star,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    GlobStar,
    Part(Vec<Tok>),
}

/// Expand `{a,b}` lists (nested too) into plain alternatives; `None` when too many.
fn expand(pattern: &str) -> Option<Vec<String>> {
    let chars: Vec<char> = pattern.chars().collect();
    // Find the first top-level `{` with its matching `}`.
    let (mut i, mut in_class, mut open) = (0, false, None);
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(start) = open else {
        return Some(vec![pattern.to_string()]);
    };
    let (mut depth, mut j, mut alts, mut from) = (0usize, start, Vec::new(), start + 1);
    let mut close = None;
    in_class = false;
    while j < chars.len() {
        match chars[j] {
            '\\' => j += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => depth += 1,
            '}' if !in_class => {
                depth -= 1;
                if depth == 0 {
                    alts.push(chars[from..j].iter().collect::<String>());
                    close = Some(j);
                    break;
                }
            }
            ',' if !in_class && depth == 1 => {
                alts.push(chars[from..j].iter().collect::<String>());
                from = j + 1;
            }
            _ => {}
        }
        j += 1;
    }
    let Some(end) = close else {
        // Unbalanced: read the brace literally (globset refuses such a glob anyway).
        return Some(vec![pattern.to_string()]);
    };
    let head: String = chars[..start].iter().collect();
    let tail: String = chars[end + 1..].iter().collect();
    let mut out = Vec::new();
    for alt in alts {
        for e in expand(&format!("{head}{alt}{tail}"))? {
            out.push(e);
            if out.len() > MAX_ALTERNATIVES {
                return None;
            }
        }
    }
    Some(out)
}

fn segments(pattern: &str, anchored: bool) -> Vec<Seg> {
    let body = pattern.trim_start_matches('/').trim_end_matches('/');
    let mut out = Vec::new();
    if !anchored {
        out.push(Seg::GlobStar);
    }
    for part in body.split('/') {
        if part == "**" {
            if out.last() != Some(&Seg::GlobStar) {
                out.push(Seg::GlobStar);
            }
        } else {
            out.push(Seg::Part(tokens(part)));
        }
    }
    out
}

fn tokens(part: &str) -> Vec<Tok> {
    let chars: Vec<char> = part.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(Tok::Lit(chars[i + 1]));
                i += 1;
            }
            '*' => {
                if out.last() != Some(&Tok::Star) {
                    out.push(Tok::Star);
                }
            }
            '?' => out.push(Tok::Any),
            '[' => match class(&chars[i + 1..]) {
                Some((tok, used)) => {
                    out.push(tok);
                    i += used;
                }
                None => out.push(Tok::Lit('[')),
            },
            c => out.push(Tok::Lit(c)),
        }
        i += 1;
    }
    out
}

/// Parse a class body after `[`; returns the token and how many chars it used (up to and
/// including the closing `]`).
fn class(rest: &[char]) -> Option<(Tok, usize)> {
    let mut i = 0;
    let negated = matches!(rest.first(), Some('!') | Some('^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    while i < rest.len() {
        let c = rest[i];
        if c == ']' && !first {
            return Some((Tok::Class { ranges, negated }, i + 1));
        }
        first = false;
        if i + 2 < rest.len() && rest[i + 1] == '-' && rest[i + 2] != ']' {
            ranges.push((c, rest[i + 2]));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
    None
}

fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
}

/// Is there one character both tokens match?
fn chars_meet(a: &Tok, b: &Tok, ci: bool) -> bool {
    match (a, b) {
        (Tok::Star, _) | (_, Tok::Star) | (Tok::Any, _) | (_, Tok::Any) => true,
        (Tok::Lit(x), Tok::Lit(y)) => x == y || (ci && fold(*x) == fold(*y)),
        (Tok::Lit(x), Tok::Class { ranges, negated })
        | (Tok::Class { ranges, negated }, Tok::Lit(x)) => {
            let hit = |c: char| in_ranges(ranges, c) != *negated;
            if !ci {
                hit(*x)
            } else {
                hit(*x) || x.to_lowercase().chain(x.to_uppercase()).any(hit)
            }
        }
        (
            Tok::Class {
                ranges: ra,
                negated: na,
            },
            Tok::Class {
                ranges: rb,
                negated: nb,
            },
        ) => {
            *na || *nb
                || ci
                || ra
                    .iter()
                    .any(|&(lo, hi)| rb.iter().any(|&(l2, h2)| lo <= h2 && l2 <= hi))
        }
    }
}

/// Might one component match both token lists?
fn part_overlap(a: &[Tok], b: &[Tok], ci: bool) -> bool {
    product(a.len(), b.len(), |i, j, push| {
        let (ta, tb) = (a.get(i), b.get(j));
        if ta == Some(&Tok::Star) {
            push(i + 1, j);
            if tb.is_some_and(|t| *t != Tok::Star) {
                push(i, j + 1);
            }
        }
        if tb == Some(&Tok::Star) {
            push(i, j + 1);
            if ta.is_some_and(|t| *t != Tok::Star) {
                push(i + 1, j);
            }
        }
        if let (Some(x), Some(y)) = (ta, tb)
            && *x != Tok::Star
            && *y != Tok::Star
            && chars_meet(x, y, ci)
        {
            push(i + 1, j + 1);
        }
    })
}

fn seq_overlap(a: &[Seg], b: &[Seg], ci: bool) -> bool {
    product(a.len(), b.len(), |i, j, push| {
        let (sa, sb) = (a.get(i), b.get(j));
        if sa == Some(&Seg::GlobStar) {
            push(i + 1, j);
            if sb.is_some() {
                push(i, j + 1);
            }
        }
        if sb == Some(&Seg::GlobStar) {
            push(i, j + 1);
            if sa.is_some() {
                push(i + 1, j);
            }
        }
        if let (Some(Seg::Part(x)), Some(Seg::Part(y))) = (sa, sb)
            && part_overlap(x, y, ci)
        {
            push(i + 1, j + 1);
        }
    })
}

/// Search the product of two linear automata of lengths `n` and `m` from (0, 0) for
/// (n, m); `step` pushes the successors of a state.
fn product(n: usize, m: usize, step: impl Fn(usize, usize, &mut dyn FnMut(usize, usize))) -> bool {
    let mut seen = vec![false; (n + 1) * (m + 1)];
    let mut todo = vec![(0usize, 0usize)];
    seen[0] = true;
    while let Some((i, j)) = todo.pop() {
        if i == n && j == m {
            return true;
        }
        step(i, j, &mut |x, y| {
            if x <= n && y <= m && !seen[x * (m + 1) + y] {
                seen[x * (m + 1) + y] = true;
                todo.push((x, y));
            }
        });
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_globs() {
        for (a, b) in [
            ("deploy/**", "deploy/**"),
            ("deploy/**", "**"),
            ("deploy/**", "*/prod.yml"),
            ("deploy/**", "deploy/*.yml"),
            ("deploy/**", "**/prod.yml"),
            ("*.tf", "infra/**"),
            ("*.tf", "**/main.*"),
            ("secrets/**", "{src,secrets}/**"),
            ("src/*.rs", "src/[a-m]*.rs"),
            ("a?c", "abc"),
            ("autonomy.toml", "*"),
            ("autonomy.toml", "*.toml"),
            ("autonomy.toml", "**"),
            ("/autonomy.toml", "auto*"),
            (".env*", "app/.env.local"),
            ("x/**/y", "x/a/b/y"),
            ("autonomy.toml", "src/**"),
        ] {
            assert!(may_overlap(a, b, false), "{a} vs {b}");
            assert!(may_overlap(b, a, false), "{b} vs {a}");
        }
    }

    #[test]
    fn disjoint_globs() {
        for (a, b) in [
            ("deploy/**", "src/**"),
            ("deploy/**", "x/deploy/a"),
            ("*.tf", "*.rs"),
            ("src/*.rs", "src/x/*.rs"),
            ("/autonomy.toml", "src/**"),
            ("/autonomy.toml", "gen/*"),
            ("/autonomy.toml", "*.rs"),
            ("a/[b-d]", "a/[x-z]"),
            ("gen/**", "deploy/**/*.yml"),
        ] {
            assert!(!may_overlap(a, b, false), "{a} vs {b}");
            assert!(!may_overlap(b, a, false), "{b} vs {a}");
        }
    }

    #[test]
    fn case_and_literal_paths() {
        assert!(!may_overlap("secrets/**", "Secrets/x", false));
        assert!(may_overlap("secrets/**", "Secrets/x", true));
        // Folded as a case-insensitive file system folds: long s, Kelvin sign, sharp s.
        assert!(may_overlap("secrets/**", "\u{17F}ecrets/x", true));
        assert!(may_overlap("kube/*", "\u{212A}ube/x", true));
        assert!(may_overlap("strasse/*", "stra\u{DF}e/*", true));
        assert!(may_overlap("[s]ecrets/**", "\u{17F}*/x", true));
        assert!(!may_overlap("secrets/**", "\u{17F}ecrets/x", false));
        assert!(may_match("**", "autonomy.toml", false));
        assert!(may_match("*.toml", "autonomy.toml", false));
        assert!(!may_match("src/**", "autonomy.toml", false));
        assert!(!may_match("*.rs", "autonomy.toml", false));
        assert!(may_match("config/*", "config/allowed_signers", false));
        assert!(may_match("AUTONOMY.TOML", "autonomy.toml", true));
        assert!(!may_match("a*", "b[1]", false));
        assert!(may_match("b?1?", "b[1]", false));
    }
}
