//! `autonomy __generate DIR` (for maintainers, outside the public command tree): write the
//! static completion scripts and the man pages that are checked in under `completions/`
//! and `man/`, from the clap tree itself, so they can never drift from the CLI (a test
//! regenerates and compares).

use crate::error::{Error, Result};
use clap_complete::Shell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The argument that selects the generator: `autonomy __generate DIR`.
pub const NAME: &str = "__generate";

/// Write completions/autonomy.{bash,zsh,fish,elv,ps1} and man/autonomy*.{1,5} under DIR
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
                crate::util::text::count(written.len() as u64, "file"),
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

/// Every man page: `autonomy.1`, `autonomy-<cmd>.1` for each visible command, and one
/// section-5 page per file format (see `manpage.rs`).
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    super::manpage::pages()
}
