//! `autonomy __generate DIR` (for maintainers, outside the public command tree): write the
//! static completion scripts and the man pages that are checked in under `completions/`
//! and `man/`, from the clap tree itself, so they can never drift from the CLI (a test
//! regenerates and compares).

use super::EXIT_CODES;
use crate::error::{Error, Result};
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The argument that selects the generator: `autonomy __generate DIR`.
pub const NAME: &str = "__generate";

/// Write completions/autonomy.{bash,zsh,fish,elv,ps1} and man/autonomy*.1 under DIR
///
/// For maintainers: run `cargo run -- __generate .` at the repository root after changing
/// the command line, and commit the result.
#[derive(Debug, clap::Parser)]
#[command(name = "autonomy __generate", verbatim_doc_comment)]
pub struct GenerateArgs {
    /// The folder to write completions/ and man/ into (the repository root).
    #[arg(value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: PathBuf,
}

/// The shells with a checked-in static script, and the file each goes to.
pub const SHELLS: [(Shell, &str); 5] = [
    (Shell::Bash, "autonomy.bash"),
    (Shell::Zsh, "autonomy.zsh"),
    (Shell::Fish, "autonomy.fish"),
    (Shell::Elvish, "autonomy.elv"),
    (Shell::PowerShell, "autonomy.ps1"),
];

/// What lives in `.autonomy/` (and next to it), for the FILES section.
const FILES: [(&str, &str); 6] = [
    (
        ".autonomy/journal.db",
        "The journal (SQLite, WAL): plans, changes, approvals, runs, and the append-only, hash-chained events that `autonomy log` shows and `autonomy verify` checks.",
    ),
    (
        ".autonomy/objects/",
        "The blob store: new contents and snapshots, content-addressed (named by the sha256 of their bytes), immutable, verified on every read.",
    ),
    (
        ".autonomy/lock",
        "The workspace-wide writer lock (flock). The holder writes its pid and command inside, for the busy error (exit 5).",
    ),
    (
        ".autonomy/.gitignore",
        "Keeps git from tracking .autonomy/ (it holds a single `*`).",
    ),
    (
        ".autonomy/allowed_signers",
        "The default allowed-signers file for signed approvals (git's format), unless the rules name another.",
    ),
    (
        "autonomy.toml",
        "The rules at the workspace root: approvals required, signed-only paths, denied paths, limits, exec and verify settings.",
    ),
];

const ENVIRONMENT: [(&str, &str); 7] = [
    (
        "AUTONOMY_ACTOR",
        "The acting identity recorded with every event (default: git's user.email, else login@hostname).",
    ),
    (
        "AUTONOMY_PAGER, PAGER",
        "The pager for long output when stdout is a terminal (default: less -FRX).",
    ),
    (
        "NO_COLOR",
        "When set and not empty, no colours under --color auto.",
    ),
    (
        "CLICOLOR_FORCE",
        "When set and not 0, colours under --color auto even on a pipe.",
    ),
    (
        "CI",
        "When set, no progress bar is drawn for long runs (every step is still printed).",
    ),
    (
        "AUTONOMY_SPOOL",
        "Set by `autonomy sandbox` for the agent: the folder to write proposals into.",
    ),
    (
        "COMPLETE",
        "Shell completion protocol: `COMPLETE=bash autonomy` prints a registration script (see autonomy-completions(1)).",
    ),
];

pub fn main() -> ExitCode {
    use clap::Parser;
    let args = match GenerateArgs::try_parse_from(
        std::iter::once("autonomy __generate".into()).chain(std::env::args_os().skip(2)),
    ) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match write_all(&args.dir) {
        Ok(written) => {
            super::ui::say(&format!(
                "Wrote {} under {}",
                crate::text::count(written.len() as u64, "file"),
                args.dir.display()
            ));
            ExitCode::SUCCESS
        }
        Err(e) => {
            super::ui::error(&e);
            ExitCode::from(e.kind.exit_code())
        }
    }
}

/// Write every generated file under `root`, removing stale generated ones. Returns the
/// paths written, relative to `root`.
pub fn write_all(root: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    for (sub, prefix) in [("completions", "autonomy."), ("man", "autonomy")] {
        let dir = root.join(sub);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        // A removed command must not leave its page behind.
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
            .flatten()
        {
            if entry.file_name().to_string_lossy().starts_with(prefix) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    let mut files: Vec<(String, Vec<u8>)> = SHELLS
        .iter()
        .map(|(shell, name)| (format!("completions/{name}"), completion_script(*shell)))
        .collect();
    for (name, page) in man_pages() {
        files.push((format!("man/{name}"), page));
    }
    for (rel, bytes) in files {
        let path = root.join(&rel);
        std::fs::write(&path, bytes)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
        written.push(rel);
    }
    Ok(written)
}

/// The static completion script for `shell` (what `autonomy completions SHELL` prints).
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut cmd = super::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "autonomy", &mut buf);
    buf
}

/// Every man page: `autonomy.1`, then `autonomy-<cmd>.1` for each visible command.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    let mut root = super::command().disable_help_subcommand(true);
    root.build();
    let subs: Vec<clap::Command> = root
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .cloned()
        .collect();
    let names: Vec<String> = subs.iter().map(page_name).collect();
    let mut pages = vec![("autonomy.1".to_string(), man_page(&root, &names, true))];
    for sub in &subs {
        pages.push((
            format!("{}.1", page_name(sub)),
            man_page(sub, &["autonomy".to_string()], false),
        ));
    }
    pages
}

fn page_name(cmd: &clap::Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

/// One page: clap_mangen's standard sections, then EXIT STATUS, ENVIRONMENT (main page),
/// FILES and SEE ALSO. The exit codes come from [`EXIT_CODES`], so help and man agree.
fn man_page(cmd: &clap::Command, see_also: &[String], main: bool) -> Vec<u8> {
    // The exit codes get their own section below instead of clap_mangen's "EXTRA"; every
    // page carries the version (subcommands have none of their own).
    let cmd = cmd
        .clone()
        .after_long_help(None::<&str>)
        .version(env!("CARGO_PKG_VERSION"));
    let man = Man::new(cmd.clone());
    // Each render_* call starts with the same preamble; keep one.
    let preamble = Roff::new().render();
    let body = |f: &dyn Fn(&mut Vec<u8>) -> std::io::Result<()>| -> String {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = f(&mut buf);
        let text = String::from_utf8_lossy(&buf).into_owned();
        text.strip_prefix(&preamble).unwrap_or(&text).to_string()
    };
    let mut out = preamble.clone();
    out.push_str(&body(&|w| man.render_title(w)));
    out.push_str(&body(&|w| man.render_name_section(w)));
    out.push_str(&body(&|w| man.render_synopsis_section(w)));
    out.push_str(&body(&|w| man.render_description_section(w)));
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        out.push_str(&body(&|w| man.render_options_section(w)));
    }
    if cmd.get_subcommands().any(|c| !c.is_hide_set()) {
        out.push_str(&body(&|w| man.render_subcommands_section(w)));
    }
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    for line in EXIT_CODES.lines().skip(1) {
        if let Some((code, what)) = line.trim().split_once(char::is_whitespace) {
            roff.control("TP", []);
            roff.text([bold(code)]);
            roff.text([roman(what.trim())]);
        }
    }
    if main {
        roff.control("SH", ["ENVIRONMENT"]);
        for (name, what) in ENVIRONMENT {
            roff.control("TP", []);
            roff.text([bold(name)]);
            roff.text([roman(what)]);
        }
    }
    roff.control("SH", ["FILES"]);
    for (path, what) in FILES {
        roff.control("TP", []);
        roff.text([bold(path)]);
        roff.text([roman(what)]);
    }
    roff.control("SH", ["SEE ALSO"]);
    let refs: Vec<String> = see_also.iter().map(|n| format!("{n}(1)")).collect();
    roff.text([roman(refs.join(", "))]);
    roff.control("PP", []);
    roff.text([roman(
        "The JSON documents printed with --format json are described in docs/json.md.",
    )]);
    out.push_str(&body(&|w| roff.to_writer(w)));
    out.push_str(&body(&|w| man.render_version_section(w)));
    out.into_bytes()
}
