//! Output helpers: data to stdout (a closed pipe ends the program quietly), messages and
//! errors to stderr, styles applied only where colours are enabled for that stream.

use crate::error::Error;
use console::Style;
use std::io::{self, IsTerminal, Write};

/// Style text for stdout.
pub fn out_style(style: &Style, text: &str) -> String {
    style.apply_to(text).to_string()
}

/// Style text for stderr.
pub fn err_style(style: &Style, text: &str) -> String {
    style.clone().for_stderr().apply_to(text).to_string()
}

/// Write data to stdout. A closed pipe (`autonomy log | head`) exits quietly.
pub fn print(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// Print one JSON document on stdout.
pub fn json(value: &impl serde::Serialize) {
    match crate::render::json_document(value, true) {
        Ok(s) => println(&s),
        Err(e) => eprintln!("error: encoding JSON: {e}"),
    }
}

/// A human message on stderr.
pub fn say(text: &str) {
    let _ = writeln!(io::stderr(), "{text}");
}

pub fn error(e: &Error) {
    let label = err_style(&Style::new().red().bold(), "error:");
    let mut msg = format!("{label} {}", e.message);
    if let Some(h) = &e.hint {
        msg.push_str(&format!(
            "\n{} {h}",
            err_style(&Style::new().cyan(), "hint:")
        ));
    }
    let _ = writeln!(io::stderr(), "{msg}");
}

/// Prompts are shown only when both stdin and stderr are terminals.
pub fn interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// Prints each step of a run on stderr as it happens (no silent execution); on a terminal
/// with many steps, a progress bar keeps the screen readable while every step is still
/// listed above it.
pub struct StepPrinter {
    bar: Option<indicatif::ProgressBar>,
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
        StepPrinter { bar }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => say(&text),
        }
    }
}

impl crate::engine::Reporter for StepPrinter {
    fn step(&mut self, _index: usize, _total: usize, change: &crate::model::Change) {
        self.line(format!("  {:<7} {}", change.verb(), change.path));
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
