//! Dynamic completion candidates: plan ids that fit the command, newest first, each with
//! its title and status, read from the journal read-only. Any error yields nothing.
//!
//! Plan ids come before options (a word without a leading `-` is far more often an id),
//! and bash, which has no column for descriptions, gets each title next to its id when it
//! lists several candidates, as cobra-based tools do.

use crate::model::PlanStatus;
use clap_complete::CompletionCandidate;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

const CAP: usize = 100;

const PLANS_TAG: &str = "plans";

/// The shells `COMPLETE=SHELL autonomy` serves: clap_complete's, with bash showing help.
pub const SHELLS: clap_complete::env::Shells<'static> = clap_complete::env::Shells(&[
    &BashWithHelp,
    &clap_complete::env::Elvish,
    &clap_complete::env::Fish,
    &clap_complete::env::Powershell,
    &clap_complete::env::Zsh,
]);

/// clap_complete's bash adapter, but where bash lists several candidates each shows its
/// help (a plan's title and status) after it, padded into a column. A single candidate,
/// and the menu-complete and insert-completions modes that put candidates on the command
/// line, get the bare value.
pub struct BashWithHelp;

impl clap_complete::env::EnvCompleter for BashWithHelp {
    fn name(&self) -> &'static str {
        "bash"
    }
    fn is(&self, name: &str) -> bool {
        name == "bash"
    }
    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let mut script = Vec::new();
        clap_complete::env::Bash.write_registration(var, name, bin, completer, &mut script)?;
        // Tell the completer how wide the terminal is (COLUMNS is not exported).
        let script = String::from_utf8_lossy(&script).replacen(
            "_CLAP_IFS=\"$IFS\" \\",
            "_CLAP_IFS=\"$IFS\" \\\n        _AUTONOMY_COLUMNS=\"${COLUMNS:-80}\" \\",
            1,
        );
        buf.write_all(script.as_bytes())
    }
    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<std::ffi::OsString>,
        current_dir: Option<&Path>,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let index: usize = std::env::var("_CLAP_COMPLETE_INDEX")
            .ok()
            .and_then(|i| i.parse().ok())
            .unwrap_or_default();
        let ifs = std::env::var("_CLAP_IFS").unwrap_or_else(|_| "\n".into());
        // 37: menu-complete, 42: insert-completions: the value goes onto the command line.
        let inserting = matches!(
            std::env::var("_CLAP_COMPLETE_COMP_TYPE").as_deref(),
            Ok("37" | "42")
        );
        let columns: usize = std::env::var("_AUTONOMY_COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(80);
        let completions = clap_complete::engine::complete(cmd, args, index, current_dir)?;
        let described = completions.len() > 1 && !inserting;
        let width = completions
            .iter()
            .map(|c| c.get_value().len())
            .max()
            .unwrap_or(0);
        let lines: Vec<String> = completions
            .iter()
            .map(|c| {
                let value = c.get_value().to_string_lossy().into_owned();
                match c.get_help() {
                    Some(help) if described => {
                        let help = help.to_string();
                        let line = format!(
                            "{value:<width$}  ({})",
                            help.lines().next().unwrap_or_default()
                        );
                        console::truncate_str(&line, columns.saturating_sub(1).max(width), "…)")
                            .into_owned()
                    }
                    _ => value,
                }
            })
            .collect();
        buf.write_all(lines.join(&ifs).as_bytes())
    }
}

fn candidates(current: &OsStr, statuses: &[PlanStatus]) -> Vec<CompletionCandidate> {
    // The prefix typed so far narrows the query itself, so a plan older than the newest
    // CAP is still found once a few digits of its id are typed.
    let Some(prefix) = current.to_str().map(str::to_ascii_lowercase) else {
        return Vec::new();
    };
    if prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Vec::new();
    }
    let Some(start) = start_dir() else {
        return Vec::new();
    };
    // Only a workspace the user may use (another user's journal is not even read).
    let Ok(root) = crate::workspace::find_root(&start) else {
        return Vec::new();
    };
    let db = root.join(crate::paths::STATE_DIR).join("journal.db");
    query(&db, statuses, &prefix).unwrap_or_default()
}

/// Where the command being completed will run: the current directory, or the `-C DIR` on
/// the command line being completed (the shell passes its words after `--`).
fn start_dir() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Some(match dash_c(&args) {
        // The shell passes the word as typed, before tilde expansion.
        Some(d) => match (d.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
            _ => cwd.join(d),
        },
        None => cwd,
    })
}

/// The last `-C DIR` (or `-CDIR`) among the words after `--`, ignoring the word being
/// completed (the last one).
fn dash_c(args: &[String]) -> Option<&str> {
    let escape = args.iter().position(|a| a == "--")?;
    let words = args.get(escape + 1..)?;
    let words = &words[..words.len().saturating_sub(1)];
    let mut found = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if w == "--" {
            break;
        }
        if w == "-C" {
            if let Some(next) = words.get(i + 1) {
                found = Some(next.as_str());
            }
            i += 2;
            continue;
        }
        if let Some(d) = w.strip_prefix("-C")
            && !d.is_empty()
        {
            found = Some(d);
        }
        i += 1;
    }
    found
}

fn query(
    db: &Path,
    statuses: &[PlanStatus],
    prefix: &str,
) -> crate::Result<Vec<CompletionCandidate>> {
    let rows = crate::ops::session::completion_plans(db, statuses, prefix, CAP)?;
    let mut out = Vec::new();
    for (n, row) in rows.into_iter().enumerate() {
        let help: String = format!(
            "{} ({})",
            crate::paths::printable(&row.title),
            row.status.as_str().replace('_', " ")
        )
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(80)
        .collect();
        out.push(
            CompletionCandidate::new(row.id.short().to_string())
                .help(Some(help.into()))
                // clap_complete orders candidates by the first appearance of their tag; the
                // options carry none, so tagged ids, offered first, stay first.
                .tag(Some(PLANS_TAG.into()))
                .display_order(Some(n)),
        );
    }
    Ok(out)
}

/// Plans awaiting a decision or a run: pending and approved.
pub fn pending_plans(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, &[PlanStatus::Pending, PlanStatus::Approved])
}

pub fn applied_plans(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, &[PlanStatus::Applied])
}

pub fn all_plans(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, &[])
}

#[cfg(test)]
mod tests {
    use super::dash_c;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn dash_c_is_read_from_the_words_being_completed() {
        assert_eq!(
            dash_c(&words("autonomy -- autonomy -C ws preview ")),
            Some("ws")
        );
        assert_eq!(
            dash_c(&words("autonomy -- autonomy -Cws preview 3f")),
            Some("ws")
        );
        assert_eq!(dash_c(&words("autonomy -- autonomy preview ")), None);
        // The word being completed is not a finished -C value.
        assert_eq!(dash_c(&words("autonomy -- autonomy -C")), None);
        assert_eq!(dash_c(&words("autonomy -C x")), None);
    }
}
