//! Shell tool calls. Until commands run as captures in an isolated view (they then become
//! plans like file tool calls), a hook lets through only commands that plainly read:
//! one simple command, no shell syntax at all (no redirection, pipe, substitution,
//! variable, glob or separator), whose program only reads and none of whose options can
//! write or run another program. Everything else is refused with the reason.

/// Programs that only read, and the options that would make them write or execute.
const READERS: &[(&str, &[&str])] = &[
    ("pwd", &[]),
    ("ls", &[]),
    ("cat", &[]),
    ("head", &[]),
    ("tail", &[]),
    ("wc", &[]),
    ("stat", &[]),
    ("echo", &[]),
    ("true", &[]),
    ("grep", &[]),
    ("rg", &["--pre", "--pre-glob", "--search-zip", "-z"]),
    ("diff", &[]),
    ("cmp", &[]),
    ("sha256sum", &[]),
];

/// Whether `command` certainly changes nothing (see the module note).
pub fn read_only(command: &str) -> bool {
    let cmd = command.trim();
    if cmd.is_empty()
        || cmd
            .chars()
            .any(|c| "|&;<>()$`\\*?[]{}~!#\n\r=".contains(c) || c.is_control())
    {
        return false;
    }
    let Ok(words) = shell_words::split(cmd) else {
        return false;
    };
    let Some((prog, args)) = words.split_first() else {
        return false;
    };
    let Some((_, bad)) = READERS.iter().find(|(p, _)| p == prog) else {
        return false;
    };
    // A refused one-letter flag is also refused inside a group (`-nz` is `-n -z`).
    !args.iter().any(|a| {
        bad.iter().any(|b| {
            a == b
                || a.starts_with(&format!("{b}="))
                || (b.len() == 2
                    && a.starts_with('-')
                    && !a.starts_with("--")
                    && a[1..].contains(&b[1..]))
        })
    })
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
        ] {
            assert!(!read_only(no), "{no}");
        }
    }
}
