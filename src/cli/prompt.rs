//! The approval prompt at a terminal: a typed answer ended by Enter, never a single key.
//! Keys typed before the question appeared (a `y` typed with the Enter that started the
//! command, keys pressed while the preview was drawn or paged) are discarded first, so
//! only an answer typed to this question can approve.

use crate::error::{Error, Result};
use std::io::{self, BufRead};

/// What approves.
pub enum Expect {
    /// `y` or `yes` (any case).
    YesNo,
    /// The first 4 hex digits of the plan id (a high-risk plan): a reflexive `y` is not
    /// enough. Holds the full id; any prefix of 4 or more of its digits is accepted.
    IdDigits(String),
}

/// The answer: approve or not, and for a decline, a reason typed after `no`
/// (`no: keep the old name`), which goes back to the plan's author.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub approve: bool,
    pub reason: Option<String>,
    /// What was typed, trimmed (for the message after a decline).
    pub typed: String,
    /// The input ended (Ctrl-D) instead of a line: declines.
    pub eof: bool,
}

/// Ask `question` on stderr and read one line from stdin (the terminal). End of input
/// declines.
pub fn ask(question: &str, expect: &Expect) -> Result<Answer> {
    let stdin = io::stdin();
    let _mode = LineMode::enter(&stdin);
    discard_typeahead(&stdin);
    crate::cli::ui::say_raw(&format!("{question} "));
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line).map_err(|e| {
        Error::not_approved(format!(
            "no answer to the approval prompt ({e}); nothing was approved"
        ))
    })?;
    if read == 0 {
        // End of input (Ctrl-D): a newline keeps the next message off the prompt line.
        crate::cli::ui::say("");
    }
    let mut answer = parse(&line, expect);
    answer.eof = read == 0;
    Ok(answer)
}

/// Ask `question` on stderr and read one free-text line (a reason), keeping what was
/// typed ahead (it answers this question). `None` at the end of input or for an empty line.
pub fn ask_line(question: &str) -> Result<Option<String>> {
    let stdin = io::stdin();
    let _mode = LineMode::enter(&stdin);
    crate::cli::ui::say_raw(&format!("{question} "));
    let mut line = String::new();
    let read = stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("reading the answer at the terminal", e))?;
    if read == 0 {
        crate::cli::ui::say("");
    }
    let line = line.trim();
    Ok((!line.is_empty()).then(|| line.to_string()))
}

/// Interpret a typed line.
pub fn parse(line: &str, expect: &Expect) -> Answer {
    let typed = line.trim().to_string();
    let lower = typed.to_ascii_lowercase();
    let approve = match expect {
        Expect::YesNo => lower == "y" || lower == "yes",
        Expect::IdDigits(id) => {
            lower.len() >= 4
                && lower.len() <= id.len()
                && lower.bytes().all(|b| b.is_ascii_hexdigit())
                && id.starts_with(&lower)
        }
    };
    let reason = if approve {
        None
    } else {
        decline_reason(&typed)
    };
    Answer {
        approve,
        reason,
        typed,
        eof: false,
    }
}

/// `no: why`, `n why`, `no - why`: the text after the `no`.
fn decline_reason(typed: &str) -> Option<String> {
    let lower = typed.to_ascii_lowercase();
    let rest = if lower.starts_with("no") && !lower[2..].starts_with(char::is_alphanumeric) {
        &typed[2..]
    } else if lower.starts_with('n') && !lower[1..].starts_with(char::is_alphanumeric) {
        &typed[1..]
    } else {
        return None;
    };
    let rest = rest.trim_start_matches([':', ',', '-', ' ', '\t']).trim();
    (!rest.is_empty()).then(|| rest.to_string())
}

/// Throw away input typed before the question appeared (TCIFLUSH on the terminal).
fn discard_typeahead(stdin: &io::Stdin) {
    let _ = rustix::termios::tcflush(stdin, rustix::termios::QueueSelector::IFlush);
}

/// Canonical mode for the length of the prompt, so the answer is a line that only Enter
/// sends; a terminal left raw (a pager that crashed) also gets its echo back. The previous
/// mode comes back when this is dropped.
struct LineMode<'a> {
    stdin: &'a io::Stdin,
    saved: Option<rustix::termios::Termios>,
}

impl<'a> LineMode<'a> {
    fn enter(stdin: &'a io::Stdin) -> Self {
        use rustix::termios::{InputModes, LocalModes, OptionalActions, tcgetattr, tcsetattr};
        let Ok(saved) = tcgetattr(stdin) else {
            return LineMode { stdin, saved: None };
        };
        if saved.local_modes.contains(LocalModes::ICANON) {
            return LineMode { stdin, saved: None };
        }
        let mut t = saved.clone();
        t.local_modes |=
            LocalModes::ICANON | LocalModes::ECHO | LocalModes::ECHOE | LocalModes::ECHOK;
        t.input_modes |= InputModes::ICRNL;
        let changed = tcsetattr(stdin, OptionalActions::Now, &t).is_ok();
        LineMode {
            stdin,
            saved: changed.then_some(saved),
        }
    }
}

impl Drop for LineMode<'_> {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = rustix::termios::tcsetattr(
                self.stdin,
                rustix::termios::OptionalActions::Now,
                saved,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f9c2a1b7e40aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn only_y_or_yes_approves() {
        for yes in ["y\n", "yes\n", " YES \n", "Y"] {
            assert!(parse(yes, &Expect::YesNo).approve, "{yes:?}");
        }
        for no in [
            "\n",
            "",
            "n\n",
            "ye\n",
            "yess\n",
            "y es\n",
            "sure\n",
            "yes please\n",
        ] {
            assert!(!parse(no, &Expect::YesNo).approve, "{no:?}");
        }
    }

    #[test]
    fn a_high_risk_plan_needs_its_id_digits() {
        let e = Expect::IdDigits(ID.into());
        for yes in ["3f9c", "3F9C\n", "3f9c2a1b", &ID[..12], ID] {
            assert!(parse(yes, &e).approve, "{yes:?}");
        }
        for no in ["y", "yes", "3f9", "3f9d", "f9c2", "3f9cx", ""] {
            assert!(!parse(no, &e).approve, "{no:?}");
        }
    }

    #[test]
    fn a_reason_follows_no() {
        let r = |s: &str| parse(s, &Expect::YesNo).reason;
        assert_eq!(r("no: keep the old name"), Some("keep the old name".into()));
        assert_eq!(r("n - wrong file"), Some("wrong file".into()));
        assert_eq!(r("No, not now\n"), Some("not now".into()));
        assert_eq!(r("no"), None);
        assert_eq!(r("nope"), None);
        assert_eq!(r(""), None);
        assert_eq!(r("y"), None);
    }
}
