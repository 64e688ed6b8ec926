//! Help that teaches: commands listed in workflow order, and every command with a one-line
//! summary, a longer description and at least one example.

use crate::common::*;

/// The workflow, in order. New commands may go anywhere between these.
const WORKFLOW: [&str; 15] = [
    "init",
    "plan",
    "status",
    "preview",
    "approve",
    "reject",
    "apply",
    "rollback",
    "export",
    "log",
    "recover",
    "verify",
    "gc",
    "sandbox",
    "completions",
];

/// The command names listed under "Commands:" in `autonomy --help`.
fn listed_commands() -> Vec<String> {
    let out = Env::bare()
        .cmd()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf8");
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        // A command line starts with two spaces and a name; wrapped help is indented more.
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

#[test]
fn help_lists_the_commands_in_workflow_order() {
    let listed = listed_commands();
    let positions: Vec<usize> = WORKFLOW
        .iter()
        .map(|c| {
            listed
                .iter()
                .position(|l| l == c)
                .unwrap_or_else(|| panic!("`autonomy --help` does not list {c}: {listed:?}"))
        })
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "not in workflow order: {listed:?}"
    );
}

#[test]
fn every_command_has_a_summary_a_description_and_an_example() {
    let root = autonomy::cli::command();
    for cmd in root.get_subcommands().filter(|c| !c.is_hide_set()) {
        let name = cmd.get_name();
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        assert!(!about.is_empty(), "{name}: no summary");
        assert!(
            !about.contains('\n'),
            "{name}: summary is more than one line: {about:?}"
        );
        assert!(
            about.len() <= 80,
            "{name}: summary longer than 80 characters: {about:?}"
        );
        assert!(
            !about.ends_with('.'),
            "{name}: summary ends with a period: {about:?}"
        );
        let long = cmd
            .get_long_about()
            .map(|a| a.to_string())
            .unwrap_or_default();
        assert!(
            long.lines().filter(|l| !l.trim().is_empty()).count() >= 3,
            "{name}: no longer description: {long:?}"
        );
        assert!(
            long.contains("Example")
                && long
                    .lines()
                    .any(|l| l.starts_with("  ") && l.contains(&format!("autonomy {name}"))),
            "{name}: no example (an `Example:` block with an indented `autonomy {name}` line)"
        );
    }
}

#[test]
fn long_help_keeps_example_lines_apart() {
    let out = Env::bare()
        .cmd()
        .args(["log", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf8");
    assert!(
        text.contains("\n  autonomy log -n 5\n  autonomy log 3f9c\n"),
        "{text}"
    );
}

#[test]
fn top_level_help_ends_with_the_exit_codes() {
    let out = Env::bare()
        .cmd()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).expect("utf8");
    let codes = text.split("Exit codes:").nth(1).expect("exit codes listed");
    for code in 0..=7 {
        assert!(
            codes.contains(&format!("\n  {code}  ")),
            "code {code} missing: {codes}"
        );
    }
}
