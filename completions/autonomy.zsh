#compdef autonomy

autoload -U is-at-least

_autonomy() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
":: :_autonomy_commands" \
"*::: :->autonomy" \
&& ret=0
    case $state in
    (autonomy)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:autonomy-command-$line[1]:"
        case $line[1] in
            (init)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(plan)
_arguments "${_arguments_options[@]}" : \
'--patch=[Make the plan from a unified diff (\`git diff --binary\`, \`git format-patch\`, \`diff -u\`), or \`-\` for stdin. Context must match exactly; line offsets are fine, fuzz is not]:FILE:_files' \
'*--scope=[With --capture\: plan only changes to these paths (repeatable); the command'\''s changes elsewhere are listed and not planned]:PATH:_default' \
'--title=[The plan'\''s title (default\: the patch'\''s Subject, or the captured command)]:TEXT:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--capture[Run CMD in a copy-on-write view of the workspace (never in it) and plan what it changed]' \
'--allow-failure[With --capture\: plan the command'\''s changes even when it exits with a non-zero status (a signal or the timeout still plans nothing)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::file -- The plan file, or `-` for stdin:_files' \
'*::command -- The command for --capture, after `--`:_default' \
&& ret=0
;;
(status)
_arguments "${_arguments_options[@]}" : \
'-n+[How many plans to list per status]:N:_default' \
'--limit=[How many plans to list per status]:N:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(preview)
_arguments "${_arguments_options[@]}" : \
'()--bundle=[Preview the plan in this bundle (from \`autonomy export\`); needs no workspace. Run it inside a checkout to see real diffs where the files match the plan'\''s \`before\`]:FILE:_files' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--stat[Only a diffstat\: one line per path]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::plan -- Plan id or unique prefix (default\: the newest pending plan):_default' \
&& ret=0
;;
(approve)
_arguments "${_arguments_options[@]}" : \
'--reason=[Why you approve; recorded in the journal]:TEXT:_default' \
'--as=[Approve as this identity instead of the acting one. A terminal approval also records your OS user, and counts once per OS user for rules needing several]:ID:_default' \
'(--signature)--sign-with=[Sign the statement with this SSH private key and write an approval file]:KEY:_files' \
'--signature=[Turn \`ssh-keygen -Y sign\` output (STATEMENT.sig next to STATEMENT) into an approval file]:FILE:_files' \
'--statement-file=[The statement that --signature signed (default\: the signature'\''s path without \`.sig\`)]:FILE:_files' \
'-o+[Where to write the approval file (default\: .autonomy/approvals/<plan12>.approval in a workspace, else <plan12>.approval here)]:FILE:_files' \
'--output=[Where to write the approval file (default\: .autonomy/approvals/<plan12>.approval in a workspace, else <plan12>.approval here)]:FILE:_files' \
'--expires=[How long a signed approval stays valid]:DURATION:_default' \
'()--bundle=[Approve the plan in this bundle (from \`autonomy export\`); needs no workspace. Use with --statement, --sign-with or --signature]:FILE:_files' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'(--sign-with --signature)--statement[Print the approval statement to sign with any SSH tool, and nothing else]' \
'-q[With --sign-with or --statement\: show only the diffstat before signing, not the whole diff]' \
'--quiet[With --sign-with or --statement\: show only the diffstat before signing, not the whole diff]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::plan -- Plan id or unique prefix (default\: the newest pending plan):_default' \
&& ret=0
;;
(reject)
_arguments "${_arguments_options[@]}" : \
'--reason=[Why; recorded in the journal]:TEXT:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::plan -- Plan id or unique prefix (default\: the newest pending plan):_default' \
&& ret=0
;;
(apply)
_arguments "${_arguments_options[@]}" : \
'*--approval=[A signed approval file to count (repeatable)]:FILE:_files' \
'--wait=[Wait up to SECS for the workspace lock instead of failing at once]:SECS:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::plan -- Plan id or unique prefix (default\: the newest approved plan):_default' \
&& ret=0
;;
(rollback)
_arguments "${_arguments_options[@]}" : \
'*--path=[Revert only the plan'\''s paths matching GLOB (repeatable; \`*\` stays in a folder, \`**\` crosses folders, a pattern without \`/\` matches the name at any depth)]:GLOB:_default' \
'*--approval=[A signed approval file for the reverse plan (repeatable)]:FILE:_files' \
'--wait=[Wait up to SECS for the workspace lock instead of failing at once]:SECS:_default' \
'-o+[The folder for --merge and --continue (default\: .autonomy/merge/PLAN12/)]:DIR:_files -/' \
'--output=[The folder for --merge and --continue (default\: .autonomy/merge/PLAN12/)]:DIR:_files -/' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--plan-only[Only create the reverse plan and print its id; a later \`rollback PLAN\` reuses it]' \
'(--continue)--merge[On line conflicts, write each conflicted file with diff3 markers for you to resolve, then stop; \`--continue\` picks up the resolution]' \
'--continue[Make the reverse plan with the conflicts resolved by hand after \`--merge\`]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::plan -- Plan id or unique prefix (default\: the newest applied plan that is not a rollback):_default' \
&& ret=0
;;
(show)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--before[The content before the plan instead of after it (needs \`\:PATH\`)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':what -- A plan id or unique prefix, optionally with `\:PATH` (a path the plan changes):_default' \
&& ret=0
;;
(export)
_arguments "${_arguments_options[@]}" : \
'-o+[Where to write the bundle]:FILE:_files' \
'--output=[Where to write the bundle]:FILE:_files' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::plan -- Plan id or unique prefix (default\: the newest pending plan):_default' \
&& ret=0
;;
(log)
_arguments "${_arguments_options[@]}" : \
'-n+[Show at most N events]:N:_default' \
'--limit=[Show at most N events]:N:_default' \
'*--kind=[Only events of this kind, family (\`run\`) or glob (\`approval.*\`); repeatable]:KIND:_default' \
'*--actor=[Only events by this actor (an identity, or a glob such as \`agent\:*\`); repeatable]:ACTOR:_default' \
'--since=[Only events since WHEN\: a duration back from now (\`30m\`, \`2h\`, \`7d\`) or a date]:WHEN:_default' \
'--agent=[Only the tool calls of this coding agent (claude, codex, gemini, ...), the events of the plans they made, and of those plans'\'' rollbacks]:AGENT:_default' \
'--session=[Only the tool calls of this agent session (its session id, as \`agent.call\` records it), the events of the plans they made, and of those plans'\'' rollbacks]:ID:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--oneline[One short line per event\: seq, time, kind, plan, summary]' \
'(-n --limit --oneline --kind --actor --since --agent --session)--head[Print \`SEQ\:HASH\` of the chain head and nothing else]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::plan -- Only events of this plan (id or unique prefix):_default' \
&& ret=0
;;
(stats)
_arguments "${_arguments_options[@]}" : \
'--since=[Only plans created (and runs started) since then\: a duration back from now (30d, 12h, 2w) or a date (2026-01-31, or RFC 3339). Default\: the whole history]:DURATION|DATE:_default' \
'--depth=[Group paths by directory at this depth (1\: top-level folders)]:N:_default' \
'--agent=[Only the plans this coding agent'\''s tool calls made (claude, codex, gemini, ...)]:AGENT:_default' \
'--session=[Only the plans the tool calls of this agent session made (its session id)]:ID:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(rules)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
":: :_autonomy__subcmd__rules_commands" \
"*::: :->rules" \
&& ret=0

    case $state in
    (rules)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:autonomy-rules-command-$line[1]:"
        case $line[1] in
            (suggest)
_arguments "${_arguments_options[@]}" : \
'--since=[Look at plans created since then\: a duration back from now (30d, 12h, 2w) or a date]:DURATION|DATE:_default' \
'--depth=[Group paths by directory at this depth (1\: top-level folders)]:N:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--plan[Make the suggestion a pending plan (a \`write\` of the new autonomy.toml) and print its id; it needs approval like any other plan]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
        esac
    ;;
esac
;;
(signers)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
":: :_autonomy__subcmd__signers_commands" \
"*::: :->signers" \
&& ret=0

    case $state in
    (signers)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:autonomy-signers-command-$line[1]:"
        case $line[1] in
            (add)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help]' \
'--help[Print help]' \
':principal -- The identity approvals are made as (e.g. alice@example.com):_default' \
':key -- The public key file (`.pub`), or `-` for stdin:_files' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(remove)
_arguments "${_arguments_options[@]}" : \
'--key=[Only the key with this fingerprint (SHA256\:…, as \`signers list\` shows it)]:FINGERPRINT:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help]' \
'--help[Print help]' \
':principal -- The identity to remove:_default' \
&& ret=0
;;
        esac
    ;;
esac
;;
(recover)
_arguments "${_arguments_options[@]}" : \
'--wait=[Wait up to SECS for the workspace lock instead of failing at once]:SECS:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--overwrite[Put back every path even where its content is not recognised; that content is kept in .autonomy/objects first and listed in the journal (\`run.recovered\`)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(verify)
_arguments "${_arguments_options[@]}" : \
'--expect-head=[Also check the chain against a head recorded earlier (\`autonomy log --head\`)]:SEQ:HASH:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(gc)
_arguments "${_arguments_options[@]}" : \
'--wait=[Wait up to SECS for the workspace lock instead of failing at once]:SECS:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--dry-run[Only list what would be removed]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(sandbox)
_arguments "${_arguments_options[@]}" : \
'--spool=[The spool folder (default\: a fresh folder under \$TMPDIR)]:DIR:_files -/' \
'*--allow-write=[A folder the agent may write (build output such as target/); repeatable. Never .autonomy/, never through a symlink inside the workspace; /tmp and the other hidden folders stay hidden]:PATH:_files -/' \
'--as=[The agent'\''s name in the journal (default\: agent\:<command name>)]:ID:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'*::command -- The agent command, after `--`:_default' \
&& ret=0
;;
(session)
_arguments "${_arguments_options[@]}" : \
'--name=[The session'\''s name (letters, digits, '\''.'\'', '\''_'\'', '\''-'\''; default\: the agent'\''s command name and four random hex digits)]:NAME:_default' \
'*--allow-write=[A folder the agent may write for real, outside the view (build output such as target/); repeatable; what it writes there is never part of a plan. Never .autonomy/, never through a symlink inside the workspace]:PATH:_files -/' \
'*--allow-connect=[A TCP port the agent may connect to, besides 443 (HTTPS, where model APIs are); repeatable\: e.g. a local model server'\''s. Every other TCP port, on any host, is refused, so local services (databases, Docker, dev servers) are out of its reach]:PORT:_default' \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':command -- The agent command, after `--`:_default' \
":: :_autonomy__subcmd__session_commands" \
"*::: :->session" \
&& ret=0

    case $state in
    (session)
        words=($line[2] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:autonomy-session-command-$line[2]:"
        case $line[2] in
            (propose)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::name -- The session (default\: the only open one):_default' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
(end)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--force[End it even while its agent runs (the agent then works on a discarded view)]' \
'-h[Print help]' \
'--help[Print help]' \
':name -- The session:_default' \
&& ret=0
;;
        esac
    ;;
esac
;;
(agent)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
":: :_autonomy__subcmd__agent_commands" \
"*::: :->agent" \
&& ret=0

    case $state in
    (agent)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:autonomy-agent-command-$line[1]:"
        case $line[1] in
            (install)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--print[Print the configuration file as it would be, and plan nothing]' \
'-h[Print help]' \
'--help[Print help]' \
':agent -- claude, codex, gemini, cursor, copilot, goose, openhands or cline:(claude codex gemini cursor copilot goose openhands cline)' \
&& ret=0
;;
(uninstall)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--print[Print the configuration file as it would be, and plan nothing]' \
'-h[Print help]' \
'--help[Print help]' \
':agent -- claude, codex, gemini, cursor, copilot, goose, openhands or cline:(claude codex gemini cursor copilot goose openhands cline)' \
&& ret=0
;;
(list)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help]' \
'--help[Print help]' \
&& ret=0
;;
        esac
    ;;
esac
;;
(hook)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':agent -- The agent whose hook runs this:_default' \
&& ret=0
;;
(review)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'--once[Decide the plans waiting now, then exit (default\: keep watching)]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(mcp)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
&& ret=0
;;
(completions)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
':shell -- The shell to generate for:(bash elvish fish powershell zsh)' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
'-C+[Run as if started in DIR]:DIR:_files -/' \
'--color=[When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)]:WHEN:(auto always never)' \
'--format=[Output format for commands that print data (jsonl\: log only)]:FORMAT:(text json jsonl)' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'*::what -- A command (and subcommand), or a topic\: plan-file, rules-file:_default' \
&& ret=0
;;
        esac
    ;;
esac
}

(( $+functions[_autonomy_commands] )) ||
_autonomy_commands() {
    local commands; commands=(
'init:Create a workspace (.autonomy/) in this folder' \
'plan:Compile a plan file, a patch or a captured command into a pending plan' \
'status:Show the plans by status, the rules in force, and what needs attention' \
'preview:Show exactly what a plan would change' \
'approve:Approve a plan at a terminal, or write a signed approval file' \
'reject:Reject a plan for good' \
'apply:Apply an approved plan as one all-or-nothing run' \
'rollback:Undo an applied plan\: make its reverse plan, preview it, approve it, apply it' \
'show:Print a plan'\''s canonical JSON, or a path'\''s content after (or before) it' \
'export:Write a plan bundle for review on another machine' \
'log:Show the journal, newest first' \
'stats:Show how plans fare, from the journal' \
'rules:Work with the rules file, autonomy.toml' \
'signers:Manage who may sign approvals\: the allowed-signers file' \
'recover:Put the workspace back after an interrupted run' \
'verify:Check the journal'\''s hash chain, the blob store and every signature' \
'gc:Remove blobs that no plan or snapshot needs' \
'sandbox:Run an agent read-only; it proposes plans through a spool' \
'session:Run any agent in a view of the workspace; what it changes becomes a plan' \
'agent:Wire coding agents to this workspace so their every change becomes a plan' \
'hook:Answer a coding agent'\''s pre-tool hook (run by the agent, not by people)' \
'review:Decide plans as they arrive\: the console for a second terminal' \
'mcp:Serve MCP on stdio so agents propose plans as tools (never approve or apply)' \
'completions:Print a static completion script for a shell' \
'help:Show help for a command, or describe a file format' \
    )
    _describe -t commands 'autonomy commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__agent_commands] )) ||
_autonomy__subcmd__agent_commands() {
    local commands; commands=(
'install:Plan the agent'\''s hook configuration (approve and apply it to wire the agent)' \
'uninstall:Plan the removal of the agent'\''s hook configuration' \
'list:List the agents, whether each is wired here, and whether its hook answers' \
    )
    _describe -t commands 'autonomy agent commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__agent__subcmd__install_commands] )) ||
_autonomy__subcmd__agent__subcmd__install_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy agent install commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__agent__subcmd__list_commands] )) ||
_autonomy__subcmd__agent__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy agent list commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__agent__subcmd__uninstall_commands] )) ||
_autonomy__subcmd__agent__subcmd__uninstall_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy agent uninstall commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__apply_commands] )) ||
_autonomy__subcmd__apply_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy apply commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__approve_commands] )) ||
_autonomy__subcmd__approve_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy approve commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__completions_commands] )) ||
_autonomy__subcmd__completions_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy completions commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__export_commands] )) ||
_autonomy__subcmd__export_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy export commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__gc_commands] )) ||
_autonomy__subcmd__gc_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy gc commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__help_commands] )) ||
_autonomy__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy help commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__hook_commands] )) ||
_autonomy__subcmd__hook_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy hook commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__init_commands] )) ||
_autonomy__subcmd__init_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy init commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__log_commands] )) ||
_autonomy__subcmd__log_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy log commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__mcp_commands] )) ||
_autonomy__subcmd__mcp_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy mcp commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__plan_commands] )) ||
_autonomy__subcmd__plan_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy plan commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__preview_commands] )) ||
_autonomy__subcmd__preview_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy preview commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__recover_commands] )) ||
_autonomy__subcmd__recover_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy recover commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__reject_commands] )) ||
_autonomy__subcmd__reject_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy reject commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__review_commands] )) ||
_autonomy__subcmd__review_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy review commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__rollback_commands] )) ||
_autonomy__subcmd__rollback_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy rollback commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__rules_commands] )) ||
_autonomy__subcmd__rules_commands() {
    local commands; commands=(
'suggest:Propose additions to autonomy.toml from the history, as a unified diff' \
    )
    _describe -t commands 'autonomy rules commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__rules__subcmd__suggest_commands] )) ||
_autonomy__subcmd__rules__subcmd__suggest_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy rules suggest commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__sandbox_commands] )) ||
_autonomy__subcmd__sandbox_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy sandbox commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__session_commands] )) ||
_autonomy__subcmd__session_commands() {
    local commands; commands=(
'propose:Propose what a session'\''s view changed since its last applied plan, now' \
'list:The open sessions\: name, view, agent command, running or exited, last plan' \
'end:Discard a session'\''s view and close it (its plans stay as they are)' \
    )
    _describe -t commands 'autonomy session commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__session__subcmd__end_commands] )) ||
_autonomy__subcmd__session__subcmd__end_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy session end commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__session__subcmd__list_commands] )) ||
_autonomy__subcmd__session__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy session list commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__session__subcmd__propose_commands] )) ||
_autonomy__subcmd__session__subcmd__propose_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy session propose commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__show_commands] )) ||
_autonomy__subcmd__show_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy show commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__signers_commands] )) ||
_autonomy__subcmd__signers_commands() {
    local commands; commands=(
'add:Trust a public key to sign approvals as PRINCIPAL' \
'list:List the allowed signers, with each key'\''s fingerprint' \
'remove:Stop trusting PRINCIPAL'\''s keys (or one of them, with --key)' \
    )
    _describe -t commands 'autonomy signers commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__signers__subcmd__add_commands] )) ||
_autonomy__subcmd__signers__subcmd__add_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy signers add commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__signers__subcmd__list_commands] )) ||
_autonomy__subcmd__signers__subcmd__list_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy signers list commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__signers__subcmd__remove_commands] )) ||
_autonomy__subcmd__signers__subcmd__remove_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy signers remove commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__stats_commands] )) ||
_autonomy__subcmd__stats_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy stats commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__status_commands] )) ||
_autonomy__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy status commands' commands "$@"
}
(( $+functions[_autonomy__subcmd__verify_commands] )) ||
_autonomy__subcmd__verify_commands() {
    local commands; commands=()
    _describe -t commands 'autonomy verify commands' commands "$@"
}

if [ "$funcstack[1]" = "_autonomy" ]; then
    _autonomy "$@"
else
    compdef _autonomy autonomy
fi
