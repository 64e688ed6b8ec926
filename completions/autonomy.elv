
use builtin;
use str;

set edit:completion:arg-completer[autonomy] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'autonomy'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'autonomy'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand init 'Create a workspace (.autonomy/) in this folder'
            cand plan 'Compile a plan file, a patch or a captured command into a pending plan'
            cand status 'Show pending, approved and applied plans, and what needs attention'
            cand preview 'Show exactly what a plan would change'
            cand approve 'Approve a plan at a terminal, or write a signed approval file'
            cand reject 'Reject a plan for good'
            cand apply 'Apply an approved plan as one all-or-nothing run'
            cand rollback 'Undo an applied plan: make its reverse plan, preview it, approve it, apply it'
            cand export 'Write a plan bundle for review on another machine'
            cand log 'Show the journal, newest first'
            cand stats 'Show how plans fare, from the journal'
            cand rules 'Work with the rules file, autonomy.toml'
            cand recover 'Put the workspace back after an interrupted run'
            cand verify 'Check the journal''s hash chain, the blob store and every signature'
            cand gc 'Remove blobs that no plan or snapshot needs'
            cand sandbox 'Run an agent read-only; it proposes plans through a spool'
            cand completions 'Print a static completion script for a shell'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'autonomy;init'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;plan'= {
            cand --patch 'Make the plan from a unified diff (`git diff --binary`, `git format-patch`, `diff -u`), or `-` for stdin. Context must match exactly; line offsets are fine, fuzz is not'
            cand --scope 'With --capture: copy and compare only these paths (repeatable)'
            cand --title 'The plan''s title (default: the patch''s Subject, or the captured command)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --capture 'Run CMD in a scratch copy of the workspace (never in it) and plan what it changed'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;status'= {
            cand -n 'How many plans to list per status'
            cand --limit 'How many plans to list per status'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;preview'= {
            cand --bundle 'Preview the plan in this bundle (from `autonomy export`); needs no workspace. Run it inside a checkout to see real diffs where the files match the plan''s `before`'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --stat 'Only a diffstat: one line per path'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;approve'= {
            cand --reason 'Why you approve; recorded in the journal'
            cand --as 'Approve as this identity instead of the acting one'
            cand --sign-with 'Sign the statement with this SSH private key and write an approval file'
            cand --signature 'Turn `ssh-keygen -Y sign` output (STATEMENT.sig next to STATEMENT) into an approval file'
            cand --statement-file 'The statement that --signature signed (default: the signature''s path without `.sig`)'
            cand -o 'Where to write the approval file (default: <plan12>.approval)'
            cand --output 'Where to write the approval file (default: <plan12>.approval)'
            cand --expires 'How long a signed approval stays valid'
            cand --bundle 'Approve the plan in this bundle (from `autonomy export`); needs no workspace. Use with --statement, --sign-with or --signature'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --statement 'Print the approval statement to sign with any SSH tool, and nothing else'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;reject'= {
            cand --reason 'Why; recorded in the journal'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;apply'= {
            cand --approval 'A signed approval file to count (repeatable)'
            cand --wait 'Wait up to SECS for the workspace lock instead of failing at once'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;rollback'= {
            cand --path 'Revert only the plan''s paths matching GLOB (repeatable; `*` stays in a folder, `**` crosses folders, a pattern without `/` matches the name at any depth)'
            cand --approval 'A signed approval file for the reverse plan (repeatable)'
            cand --wait 'Wait up to SECS for the workspace lock instead of failing at once'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --plan-only 'Only create the reverse plan and print its id; a later `rollback PLAN` reuses it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;export'= {
            cand -o 'Where to write the bundle'
            cand --output 'Where to write the bundle'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;log'= {
            cand -n 'Show at most N events'
            cand --limit 'Show at most N events'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --head 'Print `SEQ:HASH` of the chain head and nothing else'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;stats'= {
            cand --since 'Only plans created (and runs started) since then: a duration back from now (30d, 12h, 2w) or a date (2026-01-31, or RFC 3339). Default: the whole history'
            cand --depth 'Group paths by directory at this depth (1: top-level folders)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;rules'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand suggest 'Propose additions to autonomy.toml from the history, as a unified diff'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'autonomy;rules;suggest'= {
            cand --since 'Look at plans created since then: a duration back from now (30d, 12h, 2w) or a date'
            cand --depth 'Group paths by directory at this depth (1: top-level folders)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --plan 'Make the suggestion a pending plan (a `write` of the new autonomy.toml) and print its id; it needs approval like any other plan'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;rules;help'= {
            cand suggest 'Propose additions to autonomy.toml from the history, as a unified diff'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'autonomy;rules;help;suggest'= {
        }
        &'autonomy;rules;help;help'= {
        }
        &'autonomy;recover'= {
            cand --wait 'Wait up to SECS for the workspace lock instead of failing at once'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --overwrite 'Put back every path even where its content is not recognised; that content is kept in .autonomy/objects first and listed in the journal (`run.recovered`)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;verify'= {
            cand --expect-head 'Also check the chain against a head recorded earlier (`autonomy log --head`)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;gc'= {
            cand --wait 'Wait up to SECS for the workspace lock instead of failing at once'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --dry-run 'Only list what would be removed'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;sandbox'= {
            cand --spool 'The spool folder (default: a fresh folder under $TMPDIR)'
            cand --allow-write 'A folder the agent may write (build output such as target/); repeatable'
            cand --as 'The agent''s name in the journal (default: agent:<command name>)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;completions'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;help'= {
            cand init 'Create a workspace (.autonomy/) in this folder'
            cand plan 'Compile a plan file, a patch or a captured command into a pending plan'
            cand status 'Show pending, approved and applied plans, and what needs attention'
            cand preview 'Show exactly what a plan would change'
            cand approve 'Approve a plan at a terminal, or write a signed approval file'
            cand reject 'Reject a plan for good'
            cand apply 'Apply an approved plan as one all-or-nothing run'
            cand rollback 'Undo an applied plan: make its reverse plan, preview it, approve it, apply it'
            cand export 'Write a plan bundle for review on another machine'
            cand log 'Show the journal, newest first'
            cand stats 'Show how plans fare, from the journal'
            cand rules 'Work with the rules file, autonomy.toml'
            cand recover 'Put the workspace back after an interrupted run'
            cand verify 'Check the journal''s hash chain, the blob store and every signature'
            cand gc 'Remove blobs that no plan or snapshot needs'
            cand sandbox 'Run an agent read-only; it proposes plans through a spool'
            cand completions 'Print a static completion script for a shell'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'autonomy;help;init'= {
        }
        &'autonomy;help;plan'= {
        }
        &'autonomy;help;status'= {
        }
        &'autonomy;help;preview'= {
        }
        &'autonomy;help;approve'= {
        }
        &'autonomy;help;reject'= {
        }
        &'autonomy;help;apply'= {
        }
        &'autonomy;help;rollback'= {
        }
        &'autonomy;help;export'= {
        }
        &'autonomy;help;log'= {
        }
        &'autonomy;help;stats'= {
        }
        &'autonomy;help;rules'= {
            cand suggest 'Propose additions to autonomy.toml from the history, as a unified diff'
        }
        &'autonomy;help;rules;suggest'= {
        }
        &'autonomy;help;recover'= {
        }
        &'autonomy;help;verify'= {
        }
        &'autonomy;help;gc'= {
        }
        &'autonomy;help;sandbox'= {
        }
        &'autonomy;help;completions'= {
        }
        &'autonomy;help;help'= {
        }
    ]
    $completions[$command]
}
