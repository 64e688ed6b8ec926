//! The checked-in completion scripts and man pages are exactly what the current command
//! line generates, and the man pages say what the exit codes and files are.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::Path;

const REGENERATE: &str = "cargo run -- __generate .";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `root/completions` and `root/man`: relative path -> bytes.
fn generated_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["completions", "man"] {
        let Ok(entries) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in entries {
            let e = e.expect("entry");
            let rel = format!("{sub}/{}", e.file_name().to_string_lossy());
            out.insert(rel, std::fs::read(e.path()).expect("read"));
        }
    }
    out
}

#[test]
fn checked_in_completions_and_man_pages_are_current() {
    let tmp = tempfile::tempdir().expect("tempdir");
    assert_cmd::Command::new(bin())
        .arg("__generate")
        .arg(tmp.path())
        .assert()
        .success();
    let fresh = generated_files(tmp.path());
    let checked_in = generated_files(repo());
    assert!(fresh.len() >= 5 + 2, "too few files generated: {fresh:?}");
    let mut problems = Vec::new();
    for (rel, bytes) in &fresh {
        match checked_in.get(rel) {
            None => problems.push(format!("{rel} is missing")),
            Some(old) if old != bytes => problems.push(format!("{rel} is out of date")),
            Some(_) => {}
        }
    }
    for rel in checked_in.keys() {
        if !fresh.contains_key(rel) {
            problems.push(format!("{rel} is no longer generated (remove it)"));
        }
    }
    assert!(
        problems.is_empty(),
        "the checked-in completions and man pages differ from the command line:\n  {}\nregenerate them at the repository root with:\n  {REGENERATE}\nand commit the result",
        problems.join("\n  ")
    );
}

#[test]
fn completions_command_prints_the_checked_in_scripts() {
    for (shell, file) in [
        ("bash", "autonomy.bash"),
        ("zsh", "autonomy.zsh"),
        ("fish", "autonomy.fish"),
        ("elvish", "autonomy.elv"),
        ("powershell", "autonomy.ps1"),
    ] {
        let expected = std::fs::read(repo().join("completions").join(file)).expect("read");
        Env::bare()
            .cmd()
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(expected);
    }
}

#[test]
fn every_man_page_has_exit_status_and_files() {
    let pages = generated_files(repo());
    let pages: Vec<_> = pages
        .iter()
        .filter(|(k, _)| k.starts_with("man/"))
        .collect();
    // The main page and one per command (section 1), one per file format (section 5).
    let commands = autonomy::cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .count();
    let formats = autonomy::cli::topics::TOPICS.len();
    assert_eq!(
        pages.len(),
        commands + 1 + formats,
        "{:?}",
        pages.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    let (commands_pages, format_pages): (Vec<_>, Vec<_>) =
        pages.into_iter().partition(|(k, _)| k.ends_with(".1"));
    assert_eq!(format_pages.len(), formats);
    for (name, bytes) in format_pages {
        let text = String::from_utf8_lossy(bytes);
        for needle in [
            ".TH AUTONOMY\\-",
            " 5 ",
            ".SH NAME",
            ".SH DESCRIPTION",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(text.contains(needle), "{name} lacks {needle:?}");
        }
    }
    for (name, bytes) in commands_pages {
        let text = String::from_utf8_lossy(bytes);
        for needle in [
            ".SH \"EXIT STATUS\"",
            "not approved",
            "integrity failure",
            ".SH FILES",
            ".autonomy/journal.db",
            ".autonomy/objects/",
            ".autonomy/lock",
            ".autonomy/.gitignore",
            ".SH \"SEE ALSO\"",
        ] {
            assert!(text.contains(needle), "{name} lacks {needle:?}");
        }
        assert!(
            !text.contains("__generate"),
            "{name} mentions the generator"
        );
    }
    let main =
        String::from_utf8_lossy(&std::fs::read(repo().join("man/autonomy.1")).expect("read"))
            .into_owned();
    for needle in [
        "autonomy\\-rollback\\fR(1)",
        "autonomy\\-plan\\fR(5)",
        ".SH ENVIRONMENT",
        "AUTONOMY_PAGER",
        "NO_COLOR",
    ] {
        assert!(main.contains(needle), "autonomy.1 lacks {needle:?}");
    }
}

#[test]
fn the_generator_is_in_no_help_text() {
    let out = Env::bare()
        .cmd()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(!String::from_utf8_lossy(&out).contains("__generate"));
}
