# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_autonomy_global_optspecs
    string join \n C= color= format= h/help V/version
end

function __fish_autonomy_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_autonomy_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_autonomy_using_subcommand
    set -l cmd (__fish_autonomy_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c autonomy -n "__fish_autonomy_needs_command" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_needs_command" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_needs_command" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_needs_command" -s V -l version -d 'Print version'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "init" -d 'Create a workspace (.autonomy/) in this folder'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "plan" -d 'Compile a plan file, a patch or a captured command into a pending plan'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "status" -d 'Show the plans by status, the rules in force, and what needs attention'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "preview" -d 'Show exactly what a plan would change'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "approve" -d 'Approve a plan at a terminal, or write a signed approval file'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "reject" -d 'Reject a plan for good'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "apply" -d 'Apply an approved plan as one all-or-nothing run'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "rollback" -d 'Undo an applied plan: make its reverse plan, preview it, approve it, apply it'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "show" -d 'Print a plan\'s canonical JSON, or a path\'s content after (or before) it'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "export" -d 'Write a plan bundle for review on another machine'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "log" -d 'Show the journal, newest first'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "stats" -d 'Show how plans fare, from the journal'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "rules" -d 'Work with the rules file, autonomy.toml'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "signers" -d 'Manage who may sign approvals: the allowed-signers file'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "recover" -d 'Put the workspace back after an interrupted run'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "verify" -d 'Check the journal\'s hash chain, the blob store and every signature'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "gc" -d 'Remove blobs that no plan or snapshot needs'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "sandbox" -d 'Run an agent read-only; it proposes plans through a spool'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "session" -d 'Run any agent in a view of the workspace; what it changes becomes a plan'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "agent" -d 'Wire coding agents to this workspace so their every change becomes a plan'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "hook" -d 'Answer a coding agent\'s pre-tool hook (run by the agent, not by people)'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "review" -d 'Decide plans as they arrive: the console for a second terminal'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "mcp" -d 'Serve MCP on stdio so agents propose plans as tools (never approve or apply)'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "completions" -d 'Print a static completion script for a shell'
complete -c autonomy -n "__fish_autonomy_needs_command" -f -a "help" -d 'Show help for a command, or describe a file format'
complete -c autonomy -n "__fish_autonomy_using_subcommand init" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand init" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand init" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -l patch -d 'Make the plan from a unified diff (`git diff --binary`, `git format-patch`, `diff -u`), or `-` for stdin. Context must match exactly; line offsets are fine, fuzz is not' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -l scope -d 'With --capture: plan only changes to these paths (repeatable); the command\'s changes elsewhere are listed and not planned' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -l title -d 'The plan\'s title (default: the patch\'s Subject, or the captured command)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -l capture -d 'Run CMD in a copy-on-write view of the workspace (never in it) and plan what it changed'
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -l allow-failure -d 'With --capture: plan the command\'s changes even when it exits with a non-zero status (a signal or the timeout still plans nothing)'
complete -c autonomy -n "__fish_autonomy_using_subcommand plan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand status" -s n -l limit -d 'How many plans to list per status' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand status" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand status" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand status" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand preview" -l bundle -d 'Preview the plan in this bundle (from `autonomy export`); needs no workspace. Run it inside a checkout to see real diffs where the files match the plan\'s `before`' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand preview" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand preview" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand preview" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand preview" -l stat -d 'Only a diffstat: one line per path'
complete -c autonomy -n "__fish_autonomy_using_subcommand preview" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l reason -d 'Why you approve; recorded in the journal' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l as -d 'Approve as this identity instead of the acting one. A terminal approval also records your OS user, and counts once per OS user for rules needing several' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l sign-with -d 'Sign the statement with this SSH private key and write an approval file' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l signature -d 'Turn `ssh-keygen -Y sign` output (STATEMENT.sig next to STATEMENT) into an approval file' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l statement-file -d 'The statement that --signature signed (default: the signature\'s path without `.sig`)' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -s o -l output -d 'Where to write the approval file (default: .autonomy/approvals/<plan12>.approval in a workspace, else <plan12>.approval here)' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l expires -d 'How long a signed approval stays valid' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l bundle -d 'Approve the plan in this bundle (from `autonomy export`); needs no workspace. Use with --statement, --sign-with or --signature' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -l statement -d 'Print the approval statement to sign with any SSH tool, and nothing else'
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -s q -l quiet -d 'With --sign-with or --statement: show only the diffstat before signing, not the whole diff'
complete -c autonomy -n "__fish_autonomy_using_subcommand approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand reject" -l reason -d 'Why; recorded in the journal' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand reject" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand reject" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand reject" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand reject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand apply" -l approval -d 'A signed approval file to count (repeatable)' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand apply" -l wait -d 'Wait up to SECS for the workspace lock instead of failing at once' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand apply" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand apply" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand apply" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -l path -d 'Revert only the plan\'s paths matching GLOB (repeatable; `*` stays in a folder, `**` crosses folders, a pattern without `/` matches the name at any depth)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -l approval -d 'A signed approval file for the reverse plan (repeatable)' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -l wait -d 'Wait up to SECS for the workspace lock instead of failing at once' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -s o -l output -d 'The folder for --merge and --continue (default: .autonomy/merge/PLAN12/)' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -l plan-only -d 'Only create the reverse plan and print its id; a later `rollback PLAN` reuses it'
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -l merge -d 'On line conflicts, write each conflicted file with diff3 markers for you to resolve, then stop; `--continue` picks up the resolution'
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -l continue -d 'Make the reverse plan with the conflicts resolved by hand after `--merge`'
complete -c autonomy -n "__fish_autonomy_using_subcommand rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand show" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand show" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand show" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand show" -l before -d 'The content before the plan instead of after it (needs `:PATH`)'
complete -c autonomy -n "__fish_autonomy_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand export" -s o -l output -d 'Where to write the bundle' -r -F
complete -c autonomy -n "__fish_autonomy_using_subcommand export" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand export" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand export" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand export" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -s n -l limit -d 'Show at most N events' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l kind -d 'Only events of this kind, family (`run`) or glob (`approval.*`); repeatable' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l actor -d 'Only events by this actor (an identity, or a glob such as `agent:*`); repeatable' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l since -d 'Only events since WHEN: a duration back from now (`30m`, `2h`, `7d`) or a date' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l agent -d 'Only the tool calls of this coding agent (claude, codex, gemini, ...), the events of the plans they made, and of those plans\' rollbacks' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l session -d 'Only the tool calls of this agent session (its session id, as `agent.call` records it), the events of the plans they made, and of those plans\' rollbacks' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l oneline -d 'One short line per event: seq, time, kind, plan, summary'
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -l head -d 'Print `SEQ:HASH` of the chain head and nothing else'
complete -c autonomy -n "__fish_autonomy_using_subcommand log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand stats" -l since -d 'Only plans created (and runs started) since then: a duration back from now (30d, 12h, 2w) or a date (2026-01-31, or RFC 3339). Default: the whole history' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand stats" -l depth -d 'Group paths by directory at this depth (1: top-level folders)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand stats" -l agent -d 'Only the plans this coding agent\'s tool calls made (claude, codex, gemini, ...)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand stats" -l session -d 'Only the plans the tool calls of this agent session made (its session id)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand stats" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand stats" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand stats" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and not __fish_seen_subcommand_from suggest" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and not __fish_seen_subcommand_from suggest" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and not __fish_seen_subcommand_from suggest" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and not __fish_seen_subcommand_from suggest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and not __fish_seen_subcommand_from suggest" -f -a "suggest" -d 'Propose additions to autonomy.toml from the history, as a unified diff'
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and __fish_seen_subcommand_from suggest" -l since -d 'Look at plans created since then: a duration back from now (30d, 12h, 2w) or a date' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and __fish_seen_subcommand_from suggest" -l depth -d 'Group paths by directory at this depth (1: top-level folders)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and __fish_seen_subcommand_from suggest" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and __fish_seen_subcommand_from suggest" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and __fish_seen_subcommand_from suggest" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and __fish_seen_subcommand_from suggest" -l plan -d 'Make the suggestion a pending plan (a `write` of the new autonomy.toml) and print its id; it needs approval like any other plan'
complete -c autonomy -n "__fish_autonomy_using_subcommand rules; and __fish_seen_subcommand_from suggest" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and not __fish_seen_subcommand_from add list remove" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and not __fish_seen_subcommand_from add list remove" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and not __fish_seen_subcommand_from add list remove" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and not __fish_seen_subcommand_from add list remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and not __fish_seen_subcommand_from add list remove" -f -a "add" -d 'Trust a public key to sign approvals as PRINCIPAL'
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and not __fish_seen_subcommand_from add list remove" -f -a "list" -d 'List the allowed signers, with each key\'s fingerprint'
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and not __fish_seen_subcommand_from add list remove" -f -a "remove" -d 'Stop trusting PRINCIPAL\'s keys (or one of them, with --key)'
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from add" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from add" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from add" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from list" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from list" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from list" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from remove" -l key -d 'Only the key with this fingerprint (SHA256:…, as `signers list` shows it)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from remove" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from remove" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from remove" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand signers; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c autonomy -n "__fish_autonomy_using_subcommand recover" -l wait -d 'Wait up to SECS for the workspace lock instead of failing at once' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand recover" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand recover" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand recover" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand recover" -l overwrite -d 'Put back every path even where its content is not recognised; that content is kept in .autonomy/objects first and listed in the journal (`run.recovered`)'
complete -c autonomy -n "__fish_autonomy_using_subcommand recover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand verify" -l expect-head -d 'Also check the chain against a head recorded earlier (`autonomy log --head`)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand verify" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand verify" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand verify" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand gc" -l wait -d 'Wait up to SECS for the workspace lock instead of failing at once' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand gc" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand gc" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand gc" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand gc" -l dry-run -d 'Only list what would be removed'
complete -c autonomy -n "__fish_autonomy_using_subcommand gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand sandbox" -l spool -d 'The spool folder (default: a fresh folder under $TMPDIR)' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand sandbox" -l allow-write -d 'A folder the agent may write (build output such as target/); repeatable. Never .autonomy/, never through a symlink inside the workspace; /tmp and the other hidden folders stay hidden' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand sandbox" -l as -d 'The agent\'s name in the journal (default: agent:<command name>)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand sandbox" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand sandbox" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand sandbox" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand sandbox" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -l name -d 'The session\'s name (letters, digits, \'.\', \'_\', \'-\'; default: the agent\'s command name and four random hex digits)' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -l allow-write -d 'A folder the agent may write for real, outside the view (build output such as target/); repeatable; what it writes there is never part of a plan. Never .autonomy/, never through a symlink inside the workspace' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -l allow-connect -d 'A TCP port the agent may connect to, besides 443 (HTTPS, where model APIs are); repeatable: e.g. a local model server\'s. Every other TCP port, on any host, is refused, so local services (databases, Docker, dev servers) are out of its reach' -r
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -a "propose" -d 'Propose what a session\'s view changed since its last applied plan, now'
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -a "list" -d 'The open sessions: name, view, agent command, running or exited, last plan'
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and not __fish_seen_subcommand_from propose list end" -a "end" -d 'Discard a session\'s view and close it (its plans stay as they are)'
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from propose" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from propose" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from propose" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from propose" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from list" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from list" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from list" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from end" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from end" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from end" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from end" -l force -d 'End it even while its agent runs (the agent then works on a discarded view)'
complete -c autonomy -n "__fish_autonomy_using_subcommand session; and __fish_seen_subcommand_from end" -s h -l help -d 'Print help'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall list" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall list" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall list" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall list" -f -a "install" -d 'Plan the agent\'s hook configuration (approve and apply it to wire the agent)'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall list" -f -a "uninstall" -d 'Plan the removal of the agent\'s hook configuration'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and not __fish_seen_subcommand_from install uninstall list" -f -a "list" -d 'List the agents, whether each is wired here, and whether its hook answers'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from install" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from install" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from install" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from install" -l print -d 'Print the configuration file as it would be, and plan nothing'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -l print -d 'Print the configuration file as it would be, and plan nothing'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help'
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from list" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from list" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from list" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand agent; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c autonomy -n "__fish_autonomy_using_subcommand hook" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand hook" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand hook" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand hook" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand review" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand review" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand review" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand review" -l once -d 'Decide the plans waiting now, then exit (default: keep watching)'
complete -c autonomy -n "__fish_autonomy_using_subcommand review" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand mcp" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand mcp" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand mcp" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand completions" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand completions" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand completions" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c autonomy -n "__fish_autonomy_using_subcommand help" -s C -d 'Run as if started in DIR' -r -f -a "(__fish_complete_directories)"
complete -c autonomy -n "__fish_autonomy_using_subcommand help" -l color -d 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand help" -l format -d 'Output format for commands that print data (jsonl: log only)' -r -f -a "text\t''
json\t''
jsonl\t''"
complete -c autonomy -n "__fish_autonomy_using_subcommand help" -s h -l help -d 'Print help (see more with \'--help\')'
