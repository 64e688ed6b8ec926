//! Shell tool calls. A hook lets through, to run for real, only commands that plainly read:
//! one simple command, no shell syntax at all (no redirection, pipe, substitution,
//! variable, glob or separator), whose program only reads and every option of which is on
//! that program's allow-list of options known to only read ([`READERS`]; an option not
//! listed, in any spelling, makes the command a capture). The hook journals each call it
//! lets through (`agent.call`, outcome `allowed: read-only`). Every other command runs as a capture in an isolated
//! view of the workspace (`ops::shell_call`), and what it changed becomes a plan; here is
//! where it runs ([`context`]: the agent's working folder, its own time limit).

use super::Agent;
use crate::error::{Error, Result};
use crate::paths::RelPath;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A program that only reads, and the options known to only read (an ALLOW-list: any
/// option not listed makes the command not read-only, so it runs as a capture).
struct Reader {
    program: &'static str,
    /// One-letter options without a value (they may be grouped: `-la`).
    short: &'static str,
    /// One-letter options that take a value (`-n 5`, `-n5`, last in a group: `-rn5`).
    short_value: &'static str,
    /// Long options without a value.
    long: &'static [&'static str],
    /// Long options that take a value (`--lines 5`, `--lines=5`).
    long_value: &'static [&'static str],
    /// Long options whose value is optional (`--color`, `--color=never`; never the next
    /// word).
    long_optional: &'static [&'static str],
}

/// What [`read_only`] lets through. Options that run another program (`rg --pre`,
/// `--hostname-bin`, `-z`; `diff -l`), follow a file forever (`tail -f`) or write
/// (`sort -o`, `tree -o`) are simply not listed, nor are programs with such options.
const READERS: &[Reader] = &[
    Reader {
        program: "pwd",
        short: "LP",
        short_value: "",
        long: &["logical", "physical", "help", "version"],
        long_value: &[],
        long_optional: &[],
    },
    Reader {
        program: "ls",
        short: "aAbBcCdfFgGhHiklLmnNopqQrRsStuUvxXZ1",
        short_value: "IwT",
        long: &[
            "all",
            "almost-all",
            "author",
            "escape",
            "directory",
            "dired",
            "classify",
            "file-type",
            "full-time",
            "group-directories-first",
            "no-group",
            "human-readable",
            "si",
            "dereference-command-line",
            "dereference-command-line-symlink-to-dir",
            "inode",
            "kibibytes",
            "literal",
            "dereference",
            "numeric-uid-gid",
            "hide-control-chars",
            "show-control-chars",
            "quote-name",
            "reverse",
            "recursive",
            "size",
            "context",
            "zero",
            "ignore-backups",
            "help",
            "version",
        ],
        long_value: &[
            "block-size",
            "format",
            "hide",
            "ignore",
            "indicator-style",
            "quoting-style",
            "sort",
            "time",
            "time-style",
            "tabsize",
            "width",
        ],
        long_optional: &["color", "colour", "hyperlink"],
    },
    Reader {
        program: "cat",
        short: "AbeEnstTuv",
        short_value: "",
        long: &[
            "show-all",
            "number-nonblank",
            "show-ends",
            "number",
            "squeeze-blank",
            "show-tabs",
            "show-nonprinting",
            "help",
            "version",
        ],
        long_value: &[],
        long_optional: &[],
    },
    Reader {
        program: "head",
        short: "qvz0123456789",
        short_value: "cn",
        long: &[
            "quiet",
            "silent",
            "verbose",
            "zero-terminated",
            "help",
            "version",
        ],
        long_value: &["bytes", "lines"],
        long_optional: &[],
    },
    Reader {
        program: "tail",
        short: "qvz0123456789",
        short_value: "cn",
        long: &[
            "quiet",
            "silent",
            "verbose",
            "zero-terminated",
            "help",
            "version",
        ],
        long_value: &["bytes", "lines"],
        long_optional: &[],
    },
    Reader {
        program: "wc",
        short: "clLmw",
        short_value: "",
        long: &[
            "bytes",
            "chars",
            "lines",
            "max-line-length",
            "words",
            "help",
            "version",
        ],
        long_value: &["total"],
        long_optional: &[],
    },
    Reader {
        program: "stat",
        short: "fLt",
        short_value: "c",
        long: &["dereference", "file-system", "terse", "help", "version"],
        long_value: &["format", "printf", "cached"],
        long_optional: &[],
    },
    Reader {
        program: "echo",
        short: "neE",
        short_value: "",
        long: &[],
        long_value: &[],
        long_optional: &[],
    },
    Reader {
        program: "true",
        short: "",
        short_value: "",
        long: &[],
        long_value: &[],
        long_optional: &[],
    },
    Reader {
        program: "grep",
        short: "abcEFGhHiIlLnoPqrRsTUvVwxyzZ0123456789",
        short_value: "ABCdDefm",
        long: &[
            "extended-regexp",
            "fixed-strings",
            "basic-regexp",
            "perl-regexp",
            "ignore-case",
            "no-ignore-case",
            "word-regexp",
            "line-regexp",
            "null-data",
            "no-messages",
            "invert-match",
            "byte-offset",
            "line-number",
            "line-buffered",
            "with-filename",
            "no-filename",
            "only-matching",
            "quiet",
            "silent",
            "text",
            "recursive",
            "dereference-recursive",
            "files-without-match",
            "files-with-matches",
            "count",
            "initial-tab",
            "null",
            "help",
            "version",
        ],
        long_value: &[
            "regexp",
            "file",
            "label",
            "binary-files",
            "include",
            "exclude",
            "exclude-from",
            "exclude-dir",
            "after-context",
            "before-context",
            "context",
            "max-count",
            "devices",
            "directories",
        ],
        long_optional: &["color", "colour"],
    },
    Reader {
        program: "rg",
        short: "abcFHiIlLnNopqsSuUvwxV0.",
        short_value: "ABCeEfgmMtTjdr",
        long: &[
            "hidden",
            "no-hidden",
            "no-ignore",
            "ignore",
            "no-ignore-vcs",
            "no-ignore-parent",
            "no-ignore-dot",
            "no-ignore-global",
            "no-ignore-files",
            "no-ignore-exclude",
            "no-require-git",
            "ignore-case",
            "smart-case",
            "case-sensitive",
            "fixed-strings",
            "no-fixed-strings",
            "word-regexp",
            "line-regexp",
            "line-number",
            "no-line-number",
            "files",
            "files-with-matches",
            "files-without-match",
            "count",
            "count-matches",
            "only-matching",
            "invert-match",
            "follow",
            "no-follow",
            "type-list",
            "heading",
            "no-heading",
            "with-filename",
            "no-filename",
            "json",
            "no-json",
            "vimgrep",
            "column",
            "no-column",
            "no-messages",
            "multiline",
            "multiline-dotall",
            "pcre2",
            "text",
            "binary",
            "null",
            "null-data",
            "trim",
            "stats",
            "unrestricted",
            "quiet",
            "passthru",
            "byte-offset",
            "crlf",
            "one-file-system",
            "no-config",
            "no-unicode",
            "glob-case-insensitive",
            "files-without-match",
            "help",
            "version",
        ],
        long_value: &[
            "regexp",
            "file",
            "glob",
            "iglob",
            "type",
            "type-not",
            "max-count",
            "max-depth",
            "max-columns",
            "max-filesize",
            "context",
            "after-context",
            "before-context",
            "sort",
            "sortr",
            "replace",
            "encoding",
            "threads",
            "ignore-file",
            "path-separator",
            "context-separator",
            "field-match-separator",
            "field-context-separator",
            "engine",
            "colors",
        ],
        long_optional: &["color"],
    },
    Reader {
        program: "diff",
        short: "abBcdeEiNnpPqrstTuwyZ",
        short_value: "CUxXSWF",
        long: &[
            "normal",
            "brief",
            "report-identical-files",
            "side-by-side",
            "left-column",
            "suppress-common-lines",
            "show-c-function",
            "new-file",
            "unidirectional-new-file",
            "ignore-case",
            "ignore-file-name-case",
            "no-ignore-file-name-case",
            "ignore-tab-expansion",
            "ignore-trailing-space",
            "ignore-space-change",
            "ignore-all-space",
            "ignore-blank-lines",
            "text",
            "strip-trailing-cr",
            "expand-tabs",
            "initial-tab",
            "minimal",
            "speed-large-files",
            "no-dereference",
            "recursive",
            "help",
            "version",
        ],
        long_value: &[
            "exclude",
            "exclude-from",
            "starting-file",
            "from-file",
            "to-file",
            "width",
            "show-function-line",
            "label",
            "tabsize",
            "ignore-matching-lines",
            "horizon-lines",
            "palette",
        ],
        long_optional: &["unified", "context", "color"],
    },
    Reader {
        program: "cmp",
        short: "blsz",
        short_value: "in",
        long: &[
            "print-bytes",
            "verbose",
            "quiet",
            "silent",
            "zero",
            "help",
            "version",
        ],
        long_value: &["ignore-initial", "bytes"],
        long_optional: &[],
    },
    Reader {
        program: "sha256sum",
        short: "bctwz",
        short_value: "",
        long: &[
            "binary",
            "check",
            "text",
            "tag",
            "zero",
            "quiet",
            "status",
            "strict",
            "warn",
            "ignore-missing",
            "help",
            "version",
        ],
        long_value: &[],
        long_optional: &[],
    },
];

/// Whether `command` certainly changes nothing (see the module note): one simple
/// command, no shell syntax, a program of [`READERS`] and only options it lists.
pub fn read_only(command: &str) -> bool {
    let cmd = command.trim();
    if cmd.is_empty()
        || cmd
            .chars()
            .any(|c| "|&;<>()$`\\*?[]{}~!#\n\r".contains(c) || c.is_control())
    {
        return false;
    }
    let Ok(words) = shell_words::split(cmd) else {
        return false;
    };
    let Some((prog, args)) = words.split_first() else {
        return false;
    };
    // An assignment (`FOO=1 ls`) or a path (`./ls`) is not a listed program.
    let Some(reader) = READERS.iter().find(|r| r.program == prog) else {
        return false;
    };
    // rg also takes options from the file `RIPGREP_CONFIG_PATH` names (`--pre` there runs
    // a program), unless told not to.
    if prog == "rg"
        && std::env::var_os("RIPGREP_CONFIG_PATH").is_some_and(|v| !v.is_empty())
        && !args
            .iter()
            .take_while(|a| *a != "--")
            .any(|a| a == "--no-config")
    {
        return false;
    }
    options_only_read(reader, args)
}

/// Whether every option in `args` is one `reader` lists (operands are what it reads).
fn options_only_read(reader: &Reader, args: &[String]) -> bool {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if a == "--" {
            return true;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            let ok = match value {
                Some(_) => {
                    reader.long_value.contains(&name) || reader.long_optional.contains(&name)
                }
                None if reader.long_value.contains(&name) => {
                    // The value is the next word.
                    if i >= args.len() {
                        return false;
                    }
                    i += 1;
                    true
                }
                None => reader.long.contains(&name) || reader.long_optional.contains(&name),
            };
            if !ok {
                return false;
            }
            continue;
        }
        let Some(group) = a.strip_prefix('-') else {
            continue; // an operand
        };
        if group.is_empty() {
            continue; // `-`: stdin
        }
        for (at, c) in group.char_indices() {
            if reader.short.contains(c) {
                continue;
            }
            if !reader.short_value.contains(c) {
                return false;
            }
            // The rest of the group is the value, else the next word.
            if at + c.len_utf8() == group.len() {
                if i >= args.len() {
                    return false;
                }
                i += 1;
            }
            break;
        }
    }
    true
}

/// Where and how long an agent's shell command runs, from its hook input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// The workspace folder the command starts in (`None`: the workspace root).
    pub cwd: Option<RelPath>,
    /// The time limit the agent's tool call asks for (Claude's `timeout`, Codex's
    /// `timeout_ms`), when it gives one.
    pub timeout: Option<Duration>,
}

/// The command's [`Context`]: the folder the agent runs it in (its session's `cwd`, or the
/// tool's own `dir_path`/`workdir`), which must be a folder inside the workspace `root`.
pub fn context(agent: Agent, input: &[u8], root: &Path) -> Result<Context> {
    let v: Value = serde_json::from_slice(input)
        .map_err(|e| Error::failed(format!("the {agent} hook input is not valid JSON: {e}")))?;
    let args = match agent {
        Agent::Cline => v.pointer("/preToolUse/parameters"),
        Agent::Copilot => v.get("toolArgs"),
        _ => v.get("tool_input").or_else(|| v.get("toolArgs")),
    };
    let args = match args {
        Some(Value::String(t)) => serde_json::from_str(t).unwrap_or(Value::Null),
        Some(a) => a.clone(),
        None => Value::Null,
    };
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|t| !t.is_empty())
    }
    let session_cwd = match agent {
        Agent::Cline => text(v.pointer("/workspaceRoots/0")),
        _ => text(v.get("cwd")),
    };
    let base = session_cwd.map(Path::new).unwrap_or(root);
    let dir = match text(args.get("dir_path").or_else(|| args.get("workdir"))) {
        Some(d) => base.join(d),
        None => base.to_path_buf(),
    };
    let ms = args
        .get("timeout")
        .or_else(|| args.get("timeout_ms"))
        .and_then(Value::as_u64);
    Ok(Context {
        cwd: folder_in(root, &dir)?,
        timeout: ms.filter(|&m| m > 0).map(Duration::from_millis),
    })
}

/// `dir` as a workspace folder (`None`: the root itself); an error when it is not a folder
/// inside the workspace.
fn folder_in(root: &Path, dir: &Path) -> Result<Option<RelPath>> {
    let outside = || {
        Error::failed(format!(
            "the shell command would run in {}, which is not a folder inside the workspace {}",
            dir.display(),
            root.display()
        ))
        .hint("shell commands run as captures only inside the workspace; cd into it first")
    };
    let root = root
        .canonicalize()
        .map_err(|e| Error::io(format!("resolving the workspace {}", root.display()), e))?;
    let dir = dir.canonicalize().map_err(|_| outside())?;
    if !dir.is_dir() {
        return Err(outside());
    }
    let rest = dir.strip_prefix(&root).map_err(|_| outside())?;
    if rest.as_os_str().is_empty() {
        return Ok(None);
    }
    let text = rest.to_str().ok_or_else(outside)?;
    RelPath::parse(text).map(Some).map_err(|_| outside())
}

#[cfg(test)]
mod tests {
    use super::read_only;

    #[test]
    fn only_plain_readers_pass() {
        for ok in [
            "ls -la src",
            "cat README.md",
            "grep -n foo src/lib.rs",
            "pwd",
            "rg foo",
            "ls -la",
            "grep -rn pat dir",
            "rg -n --hidden pat",
            "cat f",
            "head -n 5 f",
            "head -n5 f",
            "head --lines=5 f",
            "tail -5 f",
            "wc -l f",
            "diff -u a b",
            "diff --unified=3 a b",
            "grep -e -x -- -y f",
            "rg --type=rust --max-depth 2 foo",
            "ls --color=never -1",
            "sha256sum -c sums",
        ] {
            assert!(read_only(ok), "{ok}");
        }
        for no in [
            // Programs with flags that write (`file -C`, `tree -R`/`-o`) are not readers.
            "file -C -m m",
            "tree -R -H x",
            "tree -ao out",
            // A refused flag inside a group of short flags.
            "rg -nz foo",
            "echo hi > x",
            "cat a | tee b",
            "ls; rm -rf /",
            "rm x",
            "sed -i s/a/b/ f",
            "ls $(rm x)",
            "cat `rm x`",
            "find . -delete",
            "rg --pre sh x",
            "FOO=1 ls",
            "git status",
            "",
            "ls\nrm x",
            "tree -o out",
            // Options not on a reader's allow-list, in every spelling.
            "rg --hostname-bin ./deploy.sh --hyperlink-format default --color always x",
            "rg --hostname-bin=./deploy.sh x",
            "rg --pre=sh x",
            "rg -z x",
            "rg --search-zip x",
            "rg -nz x",
            "diff -l a b",
            "diff --paginate a b",
            "tail -f log",
            "ls --frobnicate",
            "head -n",
            "ls -la -Y",
            "X=1 ls",
            "./ls",
        ] {
            assert!(!read_only(no), "{no}");
        }
    }

    #[test]
    fn context_is_the_agents_folder_inside_the_workspace() {
        use super::{Agent, context};
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        std::fs::create_dir_all(root.join("sub/deep")).unwrap();
        let at = |agent, v: serde_json::Value| context(agent, v.to_string().as_bytes(), root);
        let c = at(
            Agent::Claude,
            serde_json::json!({"cwd": root.join("sub"), "tool_input": {"command": "make", "timeout": 5000}}),
        )
        .unwrap();
        assert_eq!(c.cwd.as_ref().map(|p| p.as_str()), Some("sub"));
        assert_eq!(c.timeout, Some(std::time::Duration::from_secs(5)));
        let g = at(
            Agent::Gemini,
            serde_json::json!({"cwd": root, "tool_input": {"command": "ls", "dir_path": "sub/deep"}}),
        )
        .unwrap();
        assert_eq!(g.cwd.as_ref().map(|p| p.as_str()), Some("sub/deep"));
        assert_eq!(
            at(
                Agent::Codex,
                serde_json::json!({"cwd": root, "tool_input": {"command": "x"}})
            )
            .unwrap(),
            super::Context::default()
        );
        for bad in ["/", "/tmp", "sub/../.."] {
            let e = at(
                Agent::Claude,
                serde_json::json!({"cwd": root.join(bad), "tool_input": {"command": "x"}}),
            );
            assert!(e.is_err(), "{bad}");
        }
        let e = at(
            Agent::Claude,
            serde_json::json!({"cwd": root.join(".autonomy"), "tool_input": {}}),
        );
        std::fs::create_dir(root.join(".autonomy")).unwrap();
        let e2 = at(
            Agent::Claude,
            serde_json::json!({"cwd": root.join(".autonomy"), "tool_input": {}}),
        );
        assert!(e.is_err() && e2.is_err());
    }
}
