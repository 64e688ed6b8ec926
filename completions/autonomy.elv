
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
            cand status 'Show the plans by status, the rules in force, and what needs attention'
            cand preview 'Show exactly what a plan would change'
            cand approve 'Approve a plan at a terminal, or write a signed approval file'
            cand reject 'Reject a plan for good'
            cand apply 'Apply an approved plan as one all-or-nothing run'
            cand rollback 'Undo an applied plan: make its reverse plan, preview it, approve it, apply it'
            cand show 'Print a plan''s canonical JSON, or a path''s content after (or before) it'
            cand export 'Write a plan bundle for review on another machine'
            cand log 'Show the journal, newest first'
            cand stats 'Show how plans fare, from the journal'
            cand rules 'Work with the rules file, autonomy.toml'
            cand signers 'Manage who may sign approvals: the allowed-signers file'
            cand recover 'Put the workspace back after an interrupted run'
            cand verify 'Check the journal''s hash chain, the blob store and every signature'
            cand gc 'Remove blobs that no plan or snapshot needs'
            cand sandbox 'Run an agent read-only; it proposes plans through a spool'
            cand session 'Run any agent in a view of the workspace; what it changes becomes a plan'
            cand agent 'Wire coding agents to this workspace so their every change becomes a plan'
            cand hook 'Answer a coding agent''s pre-tool hook (run by the agent, not by people)'
            cand review 'Decide plans as they arrive: the console for a second terminal'
            cand mcp 'Serve MCP on stdio so agents propose plans as tools (never approve or apply)'
            cand completions 'Print a static completion script for a shell'
            cand help 'Show help for a command, or describe a file format'
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
            cand --scope 'With --capture: plan only changes to these paths (repeatable); the command''s changes elsewhere are listed and not planned'
            cand --title 'The plan''s title (default: the patch''s Subject, or the captured command)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --capture 'Run CMD in a copy-on-write view of the workspace (never in it) and plan what it changed'
            cand --allow-failure 'With --capture: plan the command''s changes even when it exits with a non-zero status (a signal or the timeout still plans nothing)'
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
            cand --as 'Approve as this identity instead of the acting one. A terminal approval also records your OS user, and counts once per OS user for rules needing several'
            cand --sign-with 'Sign the statement with this SSH private key and write an approval file'
            cand --signature 'Turn `ssh-keygen -Y sign` output (STATEMENT.sig next to STATEMENT) into an approval file'
            cand --statement-file 'The statement that --signature signed (default: the signature''s path without `.sig`)'
            cand -o 'Where to write the approval file (default: .autonomy/approvals/<plan12>.approval in a workspace, else <plan12>.approval here)'
            cand --output 'Where to write the approval file (default: .autonomy/approvals/<plan12>.approval in a workspace, else <plan12>.approval here)'
            cand --expires 'How long a signed approval stays valid'
            cand --bundle 'Approve the plan in this bundle (from `autonomy export`); needs no workspace. Use with --statement, --sign-with or --signature'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --statement 'Print the approval statement to sign with any SSH tool, and nothing else'
            cand -q 'With --sign-with or --statement: show only the diffstat before signing, not the whole diff'
            cand --quiet 'With --sign-with or --statement: show only the diffstat before signing, not the whole diff'
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
            cand -o 'The folder for --merge and --continue (default: .autonomy/merge/PLAN12/)'
            cand --output 'The folder for --merge and --continue (default: .autonomy/merge/PLAN12/)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --plan-only 'Only create the reverse plan and print its id; a later `rollback PLAN` reuses it'
            cand --merge 'On line conflicts, write each conflicted file with diff3 markers for you to resolve, then stop; `--continue` picks up the resolution'
            cand --continue 'Make the reverse plan with the conflicts resolved by hand after `--merge`'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;show'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --before 'The content before the plan instead of after it (needs `:PATH`)'
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
            cand --kind 'Only events of this kind, family (`run`) or glob (`approval.*`); repeatable'
            cand --actor 'Only events by this actor (an identity, or a glob such as `agent:*`); repeatable'
            cand --since 'Only events since WHEN: a duration back from now (`30m`, `2h`, `7d`) or a date'
            cand --agent 'Only the tool calls of this coding agent (claude, codex, gemini, ...), the events of the plans they made, and of those plans'' rollbacks'
            cand --session 'Only the tool calls of this agent session (its session id, as `agent.call` records it), the events of the plans they made, and of those plans'' rollbacks'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --oneline 'One short line per event: seq, time, kind, plan, summary'
            cand --head 'Print `SEQ:HASH` of the chain head and nothing else'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;stats'= {
            cand --since 'Only plans created (and runs started) since then: a duration back from now (30d, 12h, 2w) or a date (2026-01-31, or RFC 3339). Default: the whole history'
            cand --depth 'Group paths by directory at this depth (1: top-level folders)'
            cand --agent 'Only the plans this coding agent''s tool calls made (claude, codex, gemini, ...)'
            cand --session 'Only the plans the tool calls of this agent session made (its session id)'
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
        &'autonomy;signers'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand add 'Trust a public key to sign approvals as PRINCIPAL'
            cand list 'List the allowed signers, with each key''s fingerprint'
            cand remove 'Stop trusting PRINCIPAL''s keys (or one of them, with --key)'
        }
        &'autonomy;signers;add'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'autonomy;signers;list'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'autonomy;signers;remove'= {
            cand --key 'Only the key with this fingerprint (SHA256:…, as `signers list` shows it)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help'
            cand --help 'Print help'
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
            cand --allow-write 'A folder the agent may write (build output such as target/); repeatable. Never .autonomy/, never through a symlink inside the workspace; /tmp and the other hidden folders stay hidden'
            cand --as 'The agent''s name in the journal (default: agent:<command name>)'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;session'= {
            cand --name 'The session''s name (letters, digits, ''.'', ''_'', ''-''; default: the agent''s command name and four random hex digits)'
            cand --allow-write 'A folder the agent may write for real, outside the view (build output such as target/); repeatable; what it writes there is never part of a plan. Never .autonomy/, never through a symlink inside the workspace'
            cand --allow-connect 'A TCP port the agent may connect to, besides 443 (HTTPS, where model APIs are); repeatable: e.g. a local model server''s. Every other TCP port, on any host, is refused, so local services (databases, Docker, dev servers) are out of its reach'
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand propose 'Propose what a session''s view changed since its last applied plan, now'
            cand list 'The open sessions: name, view, agent command, running or exited, last plan'
            cand end 'Discard a session''s view and close it (its plans stay as they are)'
        }
        &'autonomy;session;propose'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;session;list'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'autonomy;session;end'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --force 'End it even while its agent runs (the agent then works on a discarded view)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'autonomy;agent'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand install 'Plan the agent''s hook configuration (approve and apply it to wire the agent)'
            cand uninstall 'Plan the removal of the agent''s hook configuration'
            cand list 'List the agents, whether each is wired here, and whether its hook answers'
        }
        &'autonomy;agent;install'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --print 'Print the configuration file as it would be, and plan nothing'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'autonomy;agent;uninstall'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --print 'Print the configuration file as it would be, and plan nothing'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'autonomy;agent;list'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'autonomy;hook'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;review'= {
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand --once 'Decide the plans waiting now, then exit (default: keep watching)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'autonomy;mcp'= {
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
            cand -C 'Run as if started in DIR'
            cand --color 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)'
            cand --format 'Output format for commands that print data (jsonl: log only)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
    ]
    $completions[$command]
}
