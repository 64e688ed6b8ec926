//! The man pages, written from the clap tree and the help topics: `autonomy(1)`, one
//! `autonomy-COMMAND(1)` per command, and one section-5 page per file format. Rendered by
//! hand rather than by clap_mangen so that the SYNOPSIS keeps every value name, examples
//! and tables stay literal blocks (`.nf`, never filled and justified like prose), global
//! options have their own section, and SEE ALSO names only pages that are installed
//! alongside.

use super::EXIT_CODES;
use super::topics::{TOPICS, Topic};
use std::fmt::Write;

/// What lives in `.autonomy/` (and next to it), for the FILES section.
const FILES: [(&str, &str); 8] = [
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
        "The default allowed-signers file for signed approvals (git's format), unless the rules name another; `autonomy signers` manages it.",
    ),
    (
        ".autonomy/approvals/",
        "Where `autonomy approve --sign-with` writes an approval file when no -o is given, out of the workspace's tree.",
    ),
    (
        ".autonomy/merge/",
        "Where `autonomy rollback --merge` leaves conflicted files, with diff3 markers, for a person to resolve.",
    ),
    (
        "autonomy.toml",
        "The rules at the workspace root: approvals required, signed-only paths, denied paths, limits, exec and verify settings (autonomy-rules(5)).",
    ),
];

const ENVIRONMENT: [(&str, &str); 10] = [
    (
        "AUTONOMY_SAFE_DIRECTORIES",
        "Workspaces to use even though their .autonomy/ is not owned by you (or is writable by others): colon-separated absolute paths, or * for any. Without it such a workspace is refused (exit 1), as git refuses another user's .git.",
    ),
    (
        "AUTONOMY_ACTOR",
        "The acting identity recorded with every event (default: git's user.email, else login@hostname).",
    ),
    (
        "AUTONOMY_PAGER, PAGER",
        "The pager for long output when stdout is a terminal (default: less -FRX).",
    ),
    (
        "LESS, LV",
        "When unset, autonomy sets LESS=FRX and LV=-c for the pager, as git does, so that colours show and short output stays on the screen.",
    ),
    (
        "COLUMNS",
        "The width `autonomy log` fits its lines to when stdout is not a terminal (on a terminal, the terminal's width).",
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

/// Every page, as (file name, roff source).
pub fn pages() -> Vec<(String, Vec<u8>)> {
    let mut root = super::command();
    root.build();
    let subs: Vec<&clap::Command> = root
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .collect();
    let topic_refs: Vec<String> = TOPICS.iter().map(|t| format!("{}(5)", t.page)).collect();
    let mut main_refs: Vec<String> = subs
        .iter()
        .map(|c| format!("autonomy-{}(1)", c.get_name()))
        .collect();
    main_refs.extend(topic_refs.iter().cloned());
    let mut pages = vec![(
        "autonomy.1".to_string(),
        command_page(&root, "autonomy", &main_refs, true).into_bytes(),
    )];
    for sub in &subs {
        let name = format!("autonomy-{}", sub.get_name());
        let mut refs = vec!["autonomy(1)".to_string()];
        refs.extend(topic_refs.iter().cloned());
        pages.push((
            format!("{name}.1"),
            command_page(sub, &name, &refs, false).into_bytes(),
        ));
    }
    for topic in &TOPICS {
        pages.push((format!("{}.5", topic.page), topic_page(topic).into_bytes()));
    }
    pages
}

/// Text for a roff text line: backslashes and hyphens escaped, a leading `.` or `'`
/// guarded so it is never read as a request.
fn esc(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

fn b(text: &str) -> String {
    format!("\\fB{}\\fR", esc(text))
}

fn i(text: &str) -> String {
    format!("\\fI{}\\fR", esc(text))
}

fn header(out: &mut String, name: &str, section: u8) {
    let _ = writeln!(
        out,
        ".TH {} {section} \"\" \"autonomy {}\" \"autonomy manual\"",
        esc(&name.to_uppercase()),
        env!("CARGO_PKG_VERSION")
    );
    // Ragged right and no hyphenation: flags, ids and paths must read (and copy) whole.
    out.push_str(".ad l\n.nh\n");
}

/// Prose and literal blocks: a line indented by whitespace belongs to a literal block
/// (examples, tables), shown as is (`.nf`); other lines are prose, filled; a blank line
/// ends a paragraph; with `headings`, a line in capitals at column 0 starts a section.
fn body(out: &mut String, text: &str, headings: bool) {
    let mut prose: Vec<&str> = Vec::new();
    let mut literal: Vec<&str> = Vec::new();
    let flush = |out: &mut String, prose: &mut Vec<&str>, literal: &mut Vec<&str>| {
        if !prose.is_empty() {
            out.push_str(".PP\n");
            for l in prose.drain(..) {
                out.push_str(&esc(l.trim()));
                out.push('\n');
            }
        }
        if !literal.is_empty() {
            // The common indent goes; the rest is kept.
            let indent = literal
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            out.push_str(".PP\n.RS 4\n.nf\n");
            while literal.last().is_some_and(|l| l.trim().is_empty()) {
                literal.pop();
            }
            for l in literal.drain(..) {
                out.push_str(&esc(l.get(indent..).unwrap_or("")));
                out.push('\n');
            }
            out.push_str(".fi\n.RE\n");
        }
    };
    for line in text.lines() {
        let is_heading = headings
            && !line.is_empty()
            && line
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == ' ' || c == '-');
        if is_heading {
            flush(out, &mut prose, &mut literal);
            let _ = writeln!(out, ".SH {}", quoted(line));
        } else if line.trim().is_empty() {
            if literal.is_empty() {
                flush(out, &mut prose, &mut literal);
            } else {
                // A blank line inside a literal block (between TOML tables) stays in it
                // unless prose follows.
                literal.push(line);
            }
        } else if line.starts_with(char::is_whitespace) {
            if !prose.is_empty() {
                // "Examples:" and the lines under it: the prose line, then the block.
                let mut p = std::mem::take(&mut prose);
                flush(out, &mut p, &mut Vec::new());
            }
            literal.push(line);
        } else {
            if !literal.is_empty() {
                flush(out, &mut Vec::new(), &mut literal);
            }
            prose.push(line);
        }
    }
    flush(out, &mut prose, &mut literal);
}

fn quoted(heading: &str) -> String {
    if heading.contains(' ') {
        format!("\"{heading}\"")
    } else {
        heading.to_string()
    }
}

/// `[--wait SECS]`, `[--approval FILE]...`, `[PLAN]`, `-- CMD...`: every argument with its
/// value name, as the usage line has it.
fn synopsis_item(arg: &clap::Arg) -> String {
    let value = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
    let many = matches!(
        arg.get_action(),
        clap::ArgAction::Append | clap::ArgAction::Count
    ) || arg.get_num_args().is_some_and(|n| n.max_values() > 1);
    let dots = if many { "..." } else { "" };
    let item = if arg.is_positional() {
        let last = if arg.is_last_set() { "\\-\\- " } else { "" };
        format!("{last}{}{dots}", i(&value))
    } else {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("{}|{}", b(&format!("-{s}")), b(&format!("--{l}"))),
            (Some(s), None) => b(&format!("-{s}")),
            (None, Some(l)) => b(&format!("--{l}")),
            (None, None) => i(&value),
        };
        if arg.get_action().takes_values() {
            format!("{flag} {}{dots}", i(&value))
        } else {
            format!("{flag}{dots}")
        }
    };
    if arg.is_required_set() {
        item
    } else {
        format!("[{item}]")
    }
}

fn is_help(arg: &clap::Arg) -> bool {
    matches!(
        arg.get_action(),
        clap::ArgAction::Help
            | clap::ArgAction::HelpLong
            | clap::ArgAction::HelpShort
            | clap::ArgAction::Version
    )
}

fn visible(cmd: &clap::Command) -> Vec<&clap::Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_hide_set() && !is_help(a))
        .collect()
}

fn options_section(out: &mut String, title: &str, args: &[&clap::Arg]) {
    if args.is_empty() {
        return;
    }
    let _ = writeln!(out, ".SH {}", quoted(title));
    for arg in args {
        out.push_str(".TP\n");
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map(|v| v.to_string());
        let mut head: Vec<String> = Vec::new();
        if arg.is_positional() {
            head.push(i(value.as_deref().unwrap_or(arg.get_id().as_str())));
        } else {
            if let Some(s) = arg.get_short() {
                head.push(b(&format!("-{s}")));
            }
            if let Some(l) = arg.get_long() {
                head.push(b(&format!("--{l}")));
            }
        }
        let mut line = head.join(", ");
        if !arg.is_positional()
            && arg.get_action().takes_values()
            && let Some(v) = &value
        {
            line.push(' ');
            line.push_str(&i(v));
        }
        out.push_str(&line);
        out.push('\n');
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let mut text = help.trim().to_string();
        if !text.is_empty() && !text.ends_with(['.', ':']) {
            text.push('.');
        }
        let values: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        if !values.is_empty() {
            let _ = write!(text, " One of: {}.", values.join(", "));
        }
        let flag = matches!(
            arg.get_action(),
            clap::ArgAction::SetTrue | clap::ArgAction::SetFalse | clap::ArgAction::Count
        );
        let defaults: Vec<String> = if flag {
            &[][..]
        } else {
            arg.get_default_values()
        }
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
        if !defaults.is_empty() {
            let _ = write!(text, " Default: {}.", defaults.join(", "));
        }
        out.push_str(&esc(&text));
        out.push('\n');
    }
}

fn command_page(cmd: &clap::Command, name: &str, see_also: &[String], main: bool) -> String {
    let mut out = String::new();
    header(&mut out, name, 1);
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let _ = writeln!(out, ".SH NAME\n{} \\- {}", esc(name), esc(&about));
    // SYNOPSIS: the command words, its own options, its arguments, then the globals.
    let words = if main {
        "autonomy".to_string()
    } else {
        format!("autonomy {}", cmd.get_name())
    };
    let args = visible(cmd);
    let (global, own): (Vec<&clap::Arg>, Vec<&clap::Arg>) =
        args.into_iter().partition(|a| a.is_global_set());
    let (positional, options): (Vec<&clap::Arg>, Vec<&clap::Arg>) =
        own.iter().partition(|a| a.is_positional());
    let mut items: Vec<String> = options.iter().map(|a| synopsis_item(a)).collect();
    items.extend(global.iter().map(|a| synopsis_item(a)));
    if cmd.has_subcommands() {
        items.push(i("COMMAND"));
    }
    items.extend(positional.iter().map(|a| synopsis_item(a)));
    let _ = writeln!(out, ".SH SYNOPSIS\n.B {}\n{}", esc(&words), items.join(" "));
    out.push_str(".SH DESCRIPTION\n");
    let long = cmd
        .get_long_about()
        .map(|a| a.to_string())
        .unwrap_or_else(|| about.clone());
    // The first paragraph is the summary, already in NAME.
    let rest = long
        .strip_prefix(about.as_str())
        .map(str::trim_start)
        .unwrap_or(&long);
    body(&mut out, if rest.is_empty() { &about } else { rest }, false);
    let own: Vec<&clap::Arg> = own.into_iter().filter(|a| !a.is_positional()).collect();
    options_section(&mut out, "ARGUMENTS", &positional);
    options_section(&mut out, "OPTIONS", &own);
    options_section(&mut out, "GLOBAL OPTIONS", &global);
    let subs: Vec<&clap::Command> = cmd.get_subcommands().filter(|c| !c.is_hide_set()).collect();
    if !subs.is_empty() {
        out.push_str(".SH COMMANDS\n");
        for sub in subs {
            let page = if main {
                format!("{}(1)", b(&format!("autonomy-{}", sub.get_name())))
            } else {
                b(&format!("{words} {}", sub.get_name()))
            };
            let _ = writeln!(
                out,
                ".TP\n{}\n{}",
                page,
                esc(&sub.get_about().map(|a| a.to_string()).unwrap_or_default())
            );
        }
    }
    if main {
        out.push_str(".SH \"FILE FORMATS\"\n");
        for t in &TOPICS {
            let _ = writeln!(
                out,
                ".TP\n{}(5)\n{} (also `autonomy help {}`).",
                b(t.page),
                esc(&capitalised(t.summary)),
                esc(t.name)
            );
        }
    }
    out.push_str(".SH \"EXIT STATUS\"\n");
    for line in EXIT_CODES.lines().skip(1) {
        if let Some((code, what)) = line.trim().split_once(char::is_whitespace) {
            let _ = writeln!(out, ".TP\n{}\n{}", b(code), esc(what.trim()));
        }
    }
    if main {
        out.push_str(".SH ENVIRONMENT\n");
        for (name, what) in ENVIRONMENT {
            let _ = writeln!(out, ".TP\n{}\n{}", b(name), esc(what));
        }
    }
    files_section(&mut out);
    see_also_section(&mut out, see_also);
    out
}

fn files_section(out: &mut String) {
    out.push_str(".SH FILES\n");
    for (path, what) in FILES {
        let _ = writeln!(out, ".TP\n{}\n{}", b(path), esc(what));
    }
}

fn see_also_section(out: &mut String, refs: &[String]) {
    out.push_str(".SH \"SEE ALSO\"\n");
    let refs: Vec<String> = refs
        .iter()
        .map(|r| match r.split_once('(') {
            Some((page, rest)) => format!("{}({rest}", b(page)),
            None => b(r),
        })
        .collect();
    out.push_str(&refs.join(", "));
    out.push('\n');
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn topic_page(t: &Topic) -> String {
    let mut out = String::new();
    header(&mut out, t.page, 5);
    let _ = writeln!(out, ".SH NAME\n{} \\- {}", esc(t.page), esc(t.summary));
    body(&mut out, t.text, true);
    let mut refs = vec!["autonomy(1)".to_string()];
    refs.extend(
        TOPICS
            .iter()
            .filter(|o| o.page != t.page)
            .map(|o| format!("{}(5)", o.page)),
    );
    let command = t.page.trim_start_matches("autonomy-");
    refs.push(format!("autonomy-{command}(1)"));
    see_also_section(&mut out, &refs);
    out
}
