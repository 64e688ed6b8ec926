//! Text edits as the agents' edit tools define them (Claude `Edit`/`MultiEdit`, Gemini
//! `replace`, Goose `developer__edit`, Copilot `edit`, Cline `replace_in_file`), applied to
//! a file's current text so that the plan holds the exact resulting bytes.

use super::{Replace, Times};
use crate::error::{Error, Result};

/// Apply `edits` in order to `text` (`None`: the file does not exist; only an edit with an
/// empty `old` may create it, as Claude's and Gemini's tools do).
pub fn apply(path: &str, text: Option<&str>, edits: &[Replace]) -> Result<String> {
    let mut cur: Option<String> = text.map(str::to_string);
    for (n, e) in edits.iter().enumerate() {
        let which = if edits.len() > 1 {
            format!("edit {} of {path}", n + 1)
        } else {
            format!("edit of {path}")
        };
        let Some(body) = cur.as_deref() else {
            if e.old.is_empty() {
                cur = Some(e.new.clone());
                continue;
            }
            return Err(Error::failed(format!("{which}: {path} does not exist")));
        };
        if e.old.is_empty() {
            if body.is_empty() {
                cur = Some(e.new.clone());
                continue;
            }
            return Err(Error::failed(format!(
                "{which}: the text to replace is empty but {path} is not"
            )));
        }
        let found = body.matches(e.old.as_str()).count();
        let out = match (e.times, found) {
            (_, 0) => {
                return Err(Error::failed(format!(
                    "{which}: the text to replace does not occur in {path}"
                )));
            }
            (Times::Unique, n) if n > 1 => {
                return Err(Error::failed(format!(
                    "{which}: the text to replace occurs {n} times in {path}; it must be unique"
                )));
            }
            (Times::All, _) => body.replace(e.old.as_str(), &e.new),
            _ => body.replacen(e.old.as_str(), &e.new, 1),
        };
        cur = Some(out);
    }
    cur.ok_or_else(|| Error::failed(format!("no edit of {path}")))
}

/// Cline's `replace_in_file` diff: blocks of `------- SEARCH`, the old text, `=======`,
/// the new text, `+++++++ REPLACE` (the older spelling `<<<<<<< SEARCH` / `>>>>>>>
/// REPLACE` too). Each block replaces the first occurrence.
pub fn cline_blocks(diff: &str) -> Result<Vec<Replace>> {
    let is = |l: &str, marks: &[&str]| marks.iter().any(|m| l.trim_end() == *m);
    const SEARCH: [&str; 2] = ["------- SEARCH", "<<<<<<< SEARCH"];
    const MID: [&str; 1] = ["======="];
    const REPLACE: [&str; 2] = ["+++++++ REPLACE", ">>>>>>> REPLACE"];
    let mut out = Vec::new();
    let mut state = 0; // 0 outside, 1 search, 2 replace
    let (mut old, mut new) = (Vec::<&str>::new(), Vec::<&str>::new());
    for l in diff.lines() {
        match state {
            0 if is(l, &SEARCH) => state = 1,
            0 if l.trim().is_empty() => {}
            0 => {
                return Err(Error::failed(format!(
                    "replace_in_file: unexpected line {l:?} outside a SEARCH/REPLACE block"
                )));
            }
            1 if is(l, &MID) => state = 2,
            1 => old.push(l),
            2 if is(l, &REPLACE) => {
                let join = |v: &[&str]| {
                    if v.is_empty() {
                        String::new()
                    } else {
                        format!("{}\n", v.join("\n"))
                    }
                };
                out.push(Replace {
                    old: join(&old),
                    new: join(&new),
                    times: Times::First,
                });
                old.clear();
                new.clear();
                state = 0;
            }
            _ => new.push(l),
        }
    }
    if state != 0 || out.is_empty() {
        return Err(Error::failed(
            "replace_in_file: the diff has no complete SEARCH/REPLACE block",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(old: &str, new: &str, times: Times) -> Replace {
        Replace {
            old: old.into(),
            new: new.into(),
            times,
        }
    }

    #[test]
    fn edits_apply_in_order_and_check_uniqueness() {
        let t = "a = 1\nb = 1\n";
        assert_eq!(
            apply("f", Some(t), &[r("a = 1", "a = 2", Times::Unique)]).unwrap(),
            "a = 2\nb = 1\n"
        );
        assert!(
            apply("f", Some(t), &[r("= 1", "= 2", Times::Unique)])
                .unwrap_err()
                .message
                .contains("2 times")
        );
        assert_eq!(
            apply("f", Some(t), &[r("= 1", "= 2", Times::All)]).unwrap(),
            "a = 2\nb = 2\n"
        );
        assert_eq!(
            apply(
                "f",
                Some(t),
                &[r("a", "x", Times::Unique), r("x = 1", "y", Times::Unique)]
            )
            .unwrap(),
            "y\nb = 1\n"
        );
        assert!(apply("f", Some(t), &[r("zz", "y", Times::Unique)]).is_err());
        assert_eq!(
            apply("f", None, &[r("", "new\n", Times::Unique)]).unwrap(),
            "new\n"
        );
        assert!(apply("f", None, &[r("x", "new\n", Times::Unique)]).is_err());
    }

    #[test]
    fn cline_search_replace_blocks() {
        let d = "------- SEARCH\nold line\n=======\nnew line\n+++++++ REPLACE\n\n<<<<<<< SEARCH\na\n=======\n>>>>>>> REPLACE\n";
        let b = cline_blocks(d).unwrap();
        assert_eq!(
            b,
            vec![
                r("old line\n", "new line\n", Times::First),
                r("a\n", "", Times::First)
            ]
        );
        assert!(cline_blocks("------- SEARCH\nx\n").is_err());
    }
}
