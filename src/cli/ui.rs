//! The one owner of terminal output (like cargo's `Shell`, jj's `Ui`): data to stdout,
//! messages and errors to stderr, styles applied only where this process decided colours
//! are on for that stream. The decision is made once, in `cli::main`, from `--color`,
//! `NO_COLOR`, `CLICOLOR_FORCE` and whether each stream is a terminal, and is a field of
//! the `Ui`, not the `console` crate's global switch. A closed stdout (`autonomy log |
//! head`) is remembered here and ends the program quietly in `main`; any other failure to
//! write or encode output is kept as an error that `main` reports with its exit code, never
//! swallowed, and no function here ends the process.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::error::Error;
use crate::render::color::ColorChoice;
use console::Style;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, OnceLock};

/// Where output goes and how it looks, decided once per process.
#[derive(Debug)]
pub struct Ui {
    color_out: bool,
    color_err: bool,
    /// The first failure to write or encode output (a closed stdout included).
    failure: Mutex<Option<Error>>,
}

static UI: OnceLock<Ui> = OnceLock::new();

impl Ui {
    /// Decide colours for both streams from the flag, the environment and the terminals.
    pub fn new(choice: ColorChoice) -> Ui {
        let terminals = (
            console::Term::stdout().is_term(),
            console::Term::stderr().is_term(),
        );
        let (color_out, color_err) = crate::render::color::decide(choice, terminals);
        Ui {
            color_out,
            color_err,
            failure: Mutex::new(None),
        }
    }

    /// Plain output, no colours: what library callers and tests get before `main` runs.
    pub fn plain() -> Ui {
        Ui {
            color_out: false,
            color_err: false,
            failure: Mutex::new(None),
        }
    }

    /// Make this the process's output owner (once; `cli::main` does it first thing).
    pub fn install(self) -> &'static Ui {
        let _ = UI.set(self);
        current()
    }

    pub fn color_out(&self) -> bool {
        self.color_out
    }

    pub fn color_err(&self) -> bool {
        self.color_err
    }

    fn remember(&self, e: Error) {
        if let Ok(mut slot) = self.failure.lock()
            && slot.is_none()
        {
            *slot = Some(e);
        }
    }

    fn stdout_closed(&self) -> bool {
        self.failure
            .lock()
            .is_ok_and(|slot| slot.as_ref().is_some_and(Error::is_closed_pipe))
    }

    /// The failure kept while writing output, if any (taken once, by `main`).
    pub fn take_failure(&self) -> Option<Error> {
        self.failure.lock().ok().and_then(|mut slot| slot.take())
    }

    fn write_out(&self, bytes: &[u8]) {
        if self.stdout_closed() {
            return;
        }
        let mut out = io::stdout().lock();
        if let Err(e) = out.write_all(bytes).and_then(|_| out.flush()) {
            self.remember(Error::io("writing to stdout", e));
        }
    }

    fn write_err(&self, text: &str) {
        // Nowhere left to report a failure to write to stderr.
        let _ = io::stderr().lock().write_all(text.as_bytes());
    }

    fn style(on: bool, style: &Style, text: &str) -> String {
        if on {
            style.clone().force_styling(true).apply_to(text).to_string()
        } else {
            text.to_string()
        }
    }

    /// Report `e` as a cause list: `error: ...`, one `  caused by: ...` per cause, the
    /// hint last.
    pub fn report(&self, e: &Error) {
        self.write_err(&self.report_text(e));
    }

    fn report_text(&self, e: &Error) -> String {
        let mut chain = e.chain();
        let mut msg = format!(
            "{} {}",
            Ui::style(self.color_err, &Style::new().red().bold(), "error:"),
            chain.next().unwrap_or_default()
        );
        for cause in chain {
            msg.push_str(&format!("\n  caused by: {cause}"));
        }
        if let Some(h) = &e.hint {
            msg.push_str(&format!(
                "\n{} {h}",
                Ui::style(self.color_err, &Style::new().cyan(), "hint:")
            ));
        }
        msg.push('\n');
        msg
    }
}

/// The process's output owner (plain output until `cli::main` installs one).
pub fn current() -> &'static Ui {
    UI.get_or_init(Ui::plain)
}

/// Style text for stdout.
pub fn out_style(style: &Style, text: &str) -> String {
    Ui::style(current().color_out, style, text)
}

/// Style text for stderr.
pub fn err_style(style: &Style, text: &str) -> String {
    Ui::style(current().color_err, style, text)
}

/// Write data to stdout. A closed pipe (`autonomy log | head`) or another write failure is
/// kept for `main`, which ends quietly or reports it; later data is dropped.
pub fn print(text: &str) {
    current().write_out(text.as_bytes());
}

/// Write data that need not be text (a file's content) to stdout, as `print` does.
pub fn print_bytes(bytes: &[u8]) {
    current().write_out(bytes);
}

pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// Print one JSON document on stdout. A value that cannot be encoded is an error (kept
/// for `main`, exit 1), never a silent success.
pub fn json(value: &impl serde::Serialize) {
    match crate::render::json_document(value, true) {
        Ok(s) => println(&s),
        Err(e) => current().remember(Error::failed("encoding the JSON output").caused_by(e)),
    }
}

/// A human message on stderr.
pub fn say(text: &str) {
    current().write_err(&format!("{text}\n"));
}

/// Text on stderr as it is (no newline added).
pub fn say_raw(text: &str) {
    current().write_err(text);
}

pub fn error(e: &Error) {
    current().report(e);
}

/// Prompts are shown only when both stdin and stderr are terminals.
pub fn interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// Whether stdout is a terminal (a pager, a trailing newline for a person, escapes made
/// visible), as opposed to a pipe or file that gets data unchanged.
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// The terminal's width in columns when stdout is a terminal.
pub fn stdout_columns() -> Option<usize> {
    if !stdout_is_terminal() {
        return None;
    }
    console::Term::stdout()
        .size_checked()
        .map(|(_, cols)| cols as usize)
}

/// Stdout as a writer, for output streamed as it is made (`log`, the sandbox's relay):
/// every write goes through the owner, and a failure (a closed pipe included) is both
/// returned and kept for `main`, as `print` keeps it.
pub fn stdout() -> Stream {
    Stream { err: false }
}

/// Stderr as a writer, for a command's own output relayed as it comes (`plan --capture`).
pub fn stderr() -> Stream {
    Stream { err: true }
}

/// One of the process's two output streams, written only through the owner.
#[derive(Debug, Clone, Copy)]
pub struct Stream {
    err: bool,
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.err {
            return io::stderr().lock().write(buf);
        }
        let ui = current();
        if ui.stdout_closed() {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        io::stdout().lock().write(buf).inspect_err(|e| {
            ui.remember(Error::io(
                "writing to stdout",
                io::Error::new(e.kind(), e.to_string()),
            ));
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.err {
            return io::stderr().lock().flush();
        }
        io::stdout().lock().flush()
    }
}

/// Write `text` to stdout, through the pager when stdout is a terminal (`render::pager`
/// picks and runs it). A closed pipe comes back as an error that `main` ends on quietly;
/// `what` names the output in any other error (`writing the preview`).
pub fn page(text: &str, what: &str) -> Result<(), Error> {
    crate::render::pager::page(text, stdout_is_terminal(), &mut stdout())
        .map_err(|e| Error::io(what, e))
}

/// Write an agent's answer whole: `out` to stdout, `err` to stderr. Only whether stdout
/// took it matters (an agent that reads no answer may let its tool run).
pub fn answer(out: &[u8], err: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    let written = stdout.write_all(out).and_then(|_| stdout.flush());
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(err).and_then(|_| stderr.flush());
    written
}

/// Prints each step of a run on stderr as it happens (no silent execution); on a terminal
/// with many steps, a progress bar keeps the screen readable while every step is still
/// listed above it.
pub struct StepPrinter {
    bar: Option<indicatif::ProgressBar>,
    /// Each side of a rename -> the rename's line (`rename  a => b (87%)`), printed at
    /// whichever side runs first; the other side prints nothing more.
    renames: std::collections::HashMap<String, (usize, String)>,
    renames_shown: std::collections::HashSet<usize>,
}

impl StepPrinter {
    pub fn new(total: usize) -> Self {
        let show_bar =
            total >= 50 && io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let bar = show_bar.then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("  [{bar:30}] {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        StepPrinter {
            bar,
            renames: Default::default(),
            renames_shown: Default::default(),
        }
    }

    /// Show these deletes and creates as renames.
    pub fn with_renames(mut self, renames: &[crate::plan::renames::Rename]) -> Self {
        for (k, r) in renames.iter().enumerate() {
            let sim = match r.similarity {
                Some(s) if s < 100 => format!(" ({s}% similar)"),
                _ => String::new(),
            };
            let line = format!("  {:<7} {}{sim}", "rename", r.label());
            self.renames.insert(r.from.clone(), (k, line.clone()));
            self.renames.insert(r.to.clone(), (k, line));
        }
        self
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => say(&text),
        }
    }
}

impl crate::ops::apply::Reporter for StepPrinter {
    fn step(&mut self, _index: usize, _total: usize, change: &crate::model::Change) {
        match self.renames.get(&change.path) {
            Some((k, line)) => {
                if self.renames_shown.insert(*k) {
                    self.line(line.clone());
                }
            }
            None => self.line(format!("  {:<7} {}", change.verb(), change.path)),
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
    fn undo(&mut self, change: &crate::model::Change) {
        self.line(format!(
            "  {} {}",
            err_style(&Style::new().yellow(), "restore"),
            change.path
        ));
    }
    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
    fn command(&mut self, what: &str, argv: &[String]) {
        say(&format!("  {:<7} {}", what, shell_words::join(argv)));
    }
    /// Command output (exec steps, the verify command) is the plan's, not ours: its
    /// escape sequences are shown, never obeyed, so it cannot erase or rewrite the
    /// lines that say what the run did. The raw bytes are kept in the journal.
    fn output(&mut self) -> Box<dyn Write> {
        Box::new(crate::render::termsafe::TerminalSafe::new(io::stderr()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_prints_as_a_cause_list_with_the_hint_last() {
        let e = Error::stale("config/app.toml changed since it was planned")
            .hint("make a new plan")
            .context("applying plan 0123456789ab");
        assert_eq!(
            Ui::plain().report_text(&e),
            "error: applying plan 0123456789ab\n  caused by: config/app.toml changed since it was planned\nhint: make a new plan\n"
        );
    }

    #[test]
    fn colour_is_the_owners_decision_not_the_console_crates() {
        console::set_colors_enabled(true);
        console::set_colors_enabled_stderr(true);
        let plain = Ui::plain();
        assert_eq!(Ui::style(plain.color_out, &Style::new().red(), "x"), "x");
        let e = Error::failed("boom");
        assert_eq!(plain.report_text(&e), "error: boom\n");
        let coloured = Ui::new(ColorChoice::Always);
        assert!(coloured.report_text(&e).contains('\u{1b}'));
        console::set_colors_enabled(false);
        assert!(Ui::style(coloured.color_out, &Style::new().red(), "x").contains('\u{1b}'));
    }

    /// A JSON document that cannot be encoded is kept as an error for `main` (exit 1);
    /// before, it was printed and the command exited 0.
    #[test]
    fn a_json_encoding_error_is_an_error() {
        struct Unencodable;
        impl serde::Serialize for Unencodable {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("cannot encode this"))
            }
        }
        let ui = Ui::plain();
        match crate::render::json_document(&Unencodable, true) {
            Ok(_) => panic!("encoded"),
            Err(e) => ui.remember(Error::failed("encoding the JSON output").caused_by(e)),
        }
        let failure = ui.take_failure().expect("kept");
        assert_eq!(failure.kind.exit_code(), 1);
        assert_eq!(
            failure.full_message(),
            "encoding the JSON output: cannot encode this"
        );
        // Through the free function and the process's owner, too.
        json(&Unencodable);
        assert!(current().take_failure().is_some());
    }
}
