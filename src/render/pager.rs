//! The pager for long output on a terminal: `AUTONOMY_PAGER`, else `PAGER`, else
//! `less -FRX`; never used when stdout is not a terminal. As git does, `LESS=FRX` and
//! `LV=-c` are set for the pager when unset, so that `PAGER=less` shows colours instead of
//! raw escapes and short output does not clear the screen. A closed pipe on stdout
//! (`autonomy log | head`) is returned as the error it is; `main` ends quietly on it.

use std::io::{self, Write};
use std::process::{Command, Stdio};

/// Write `text` through the pager when `terminal` (stdout is one), else to `out`.
pub fn page(text: &str, terminal: bool, out: &mut dyn Write) -> io::Result<()> {
    if terminal {
        let pager = std::env::var("AUTONOMY_PAGER")
            .ok()
            .or_else(|| std::env::var("PAGER").ok())
            .unwrap_or_else(|| "less -FRX".to_string());
        let words = shell_words::split(&pager).unwrap_or_default();
        if let Some((prog, args)) = words.split_first()
            && !(prog == "cat" && args.is_empty())
            && let Ok(mut child) = pager_command(prog, args).spawn()
        {
            if let Some(mut stdin) = child.stdin.take() {
                // The user quitting the pager early closes the pipe: not an error.
                let _ = stdin.write_all(text.as_bytes());
            }
            let _ = child.wait();
            return Ok(());
        }
    }
    out.write_all(text.as_bytes()).and_then(|_| out.flush())
}

/// The pager's command, with git's defaults for `less` and `lv` where the user set none.
fn pager_command(prog: &str, args: &[String]) -> Command {
    let mut c = Command::new(prog);
    c.args(args).stdin(Stdio::piped());
    if std::env::var_os("LESS").is_none() {
        c.env("LESS", "FRX");
    }
    if std::env::var_os("LV").is_none() {
        c.env("LV", "-c");
    }
    c
}
