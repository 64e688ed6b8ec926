//! Colour decisions: `--color auto|always|never`, `NO_COLOR`, `CLICOLOR_FORCE`, and
//! whether each stream is a terminal. The decision is returned, not installed: the output
//! owner (`cli::ui::Ui`) keeps it. Styles are named for what they mean.

use console::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Whether stdout and stderr get colours, given whether each is a terminal (`terminals`:
/// stdout, stderr; the output owner looks).
pub fn decide(choice: ColorChoice, terminals: (bool, bool)) -> (bool, bool) {
    match choice {
        ColorChoice::Always => (true, true),
        ColorChoice::Never => (false, false),
        ColorChoice::Auto => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let force =
                std::env::var_os("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0");
            if no_color {
                (false, false)
            } else if force {
                (true, true)
            } else {
                terminals
            }
        }
    }
}

pub fn added() -> Style {
    Style::new().green()
}
pub fn removed() -> Style {
    Style::new().red()
}
pub fn added_word() -> Style {
    Style::new().green().reverse()
}
pub fn removed_word() -> Style {
    Style::new().red().reverse()
}
pub fn hunk() -> Style {
    Style::new().cyan()
}
pub fn header() -> Style {
    Style::new().bold()
}
pub fn dim() -> Style {
    Style::new().dim()
}
pub fn warn() -> Style {
    Style::new().yellow().bold()
}
pub fn danger() -> Style {
    Style::new().red().bold()
}
pub fn id() -> Style {
    Style::new().yellow()
}
