
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'autonomy' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'autonomy'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'autonomy' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Create a workspace (.autonomy/) in this folder')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Compile a plan file, a patch or a captured command into a pending plan')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the plans by status, the rules in force, and what needs attention')
            [CompletionResult]::new('preview', 'preview', [CompletionResultType]::ParameterValue, 'Show exactly what a plan would change')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a plan at a terminal, or write a signed approval file')
            [CompletionResult]::new('reject', 'reject', [CompletionResultType]::ParameterValue, 'Reject a plan for good')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Apply an approved plan as one all-or-nothing run')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Undo an applied plan: make its reverse plan, preview it, approve it, apply it')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print a plan''s canonical JSON, or a path''s content after (or before) it')
            [CompletionResult]::new('export', 'export', [CompletionResultType]::ParameterValue, 'Write a plan bundle for review on another machine')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show the journal, newest first')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Show how plans fare, from the journal')
            [CompletionResult]::new('rules', 'rules', [CompletionResultType]::ParameterValue, 'Work with the rules file, autonomy.toml')
            [CompletionResult]::new('signers', 'signers', [CompletionResultType]::ParameterValue, 'Manage who may sign approvals: the allowed-signers file')
            [CompletionResult]::new('recover', 'recover', [CompletionResultType]::ParameterValue, 'Put the workspace back after an interrupted run')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Check the journal''s hash chain, the blob store and every signature')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Remove blobs that no plan or snapshot needs')
            [CompletionResult]::new('sandbox', 'sandbox', [CompletionResultType]::ParameterValue, 'Run an agent read-only; it proposes plans through a spool')
            [CompletionResult]::new('session', 'session', [CompletionResultType]::ParameterValue, 'Run any agent in a view of the workspace; what it changes becomes a plan')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'Wire coding agents to this workspace so their every change becomes a plan')
            [CompletionResult]::new('hook', 'hook', [CompletionResultType]::ParameterValue, 'Answer a coding agent''s pre-tool hook (run by the agent, not by people)')
            [CompletionResult]::new('review', 'review', [CompletionResultType]::ParameterValue, 'Decide plans as they arrive: the console for a second terminal')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve MCP on stdio so agents propose plans as tools (never approve or apply)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a static completion script for a shell')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Show help for a command, or describe a file format')
            break
        }
        'autonomy;init' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;plan' {
            [CompletionResult]::new('--patch', '--patch', [CompletionResultType]::ParameterName, 'Make the plan from a unified diff (`git diff --binary`, `git format-patch`, `diff -u`), or `-` for stdin. Context must match exactly; line offsets are fine, fuzz is not')
            [CompletionResult]::new('--scope', '--scope', [CompletionResultType]::ParameterName, 'With --capture: plan only changes to these paths (repeatable); the command''s changes elsewhere are listed and not planned')
            [CompletionResult]::new('--title', '--title', [CompletionResultType]::ParameterName, 'The plan''s title (default: the patch''s Subject, or the captured command)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--capture', '--capture', [CompletionResultType]::ParameterName, 'Run CMD in a copy-on-write view of the workspace (never in it) and plan what it changed')
            [CompletionResult]::new('--allow-failure', '--allow-failure', [CompletionResultType]::ParameterName, 'With --capture: plan the command''s changes even when it exits with a non-zero status (a signal or the timeout still plans nothing)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;status' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many plans to list per status')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'How many plans to list per status')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;preview' {
            [CompletionResult]::new('--bundle', '--bundle', [CompletionResultType]::ParameterName, 'Preview the plan in this bundle (from `autonomy export`); needs no workspace. Run it inside a checkout to see real diffs where the files match the plan''s `before`')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--stat', '--stat', [CompletionResultType]::ParameterName, 'Only a diffstat: one line per path')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;approve' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why you approve; recorded in the journal')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'Approve as this identity instead of the acting one. A terminal approval also records your OS user, and counts once per OS user for rules needing several')
            [CompletionResult]::new('--sign-with', '--sign-with', [CompletionResultType]::ParameterName, 'Sign the statement with this SSH private key and write an approval file')
            [CompletionResult]::new('--signature', '--signature', [CompletionResultType]::ParameterName, 'Turn `ssh-keygen -Y sign` output (STATEMENT.sig next to STATEMENT) into an approval file')
            [CompletionResult]::new('--statement-file', '--statement-file', [CompletionResultType]::ParameterName, 'The statement that --signature signed (default: the signature''s path without `.sig`)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the approval file (default: .autonomy/approvals/<plan12>.approval in a workspace, else <plan12>.approval here)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the approval file (default: .autonomy/approvals/<plan12>.approval in a workspace, else <plan12>.approval here)')
            [CompletionResult]::new('--expires', '--expires', [CompletionResultType]::ParameterName, 'How long a signed approval stays valid')
            [CompletionResult]::new('--bundle', '--bundle', [CompletionResultType]::ParameterName, 'Approve the plan in this bundle (from `autonomy export`); needs no workspace. Use with --statement, --sign-with or --signature')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--statement', '--statement', [CompletionResultType]::ParameterName, 'Print the approval statement to sign with any SSH tool, and nothing else')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'With --sign-with or --statement: show only the diffstat before signing, not the whole diff')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'With --sign-with or --statement: show only the diffstat before signing, not the whole diff')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;reject' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why; recorded in the journal')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;apply' {
            [CompletionResult]::new('--approval', '--approval', [CompletionResultType]::ParameterName, 'A signed approval file to count (repeatable)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait up to SECS for the workspace lock instead of failing at once')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;rollback' {
            [CompletionResult]::new('--path', '--path', [CompletionResultType]::ParameterName, 'Revert only the plan''s paths matching GLOB (repeatable; `*` stays in a folder, `**` crosses folders, a pattern without `/` matches the name at any depth)')
            [CompletionResult]::new('--approval', '--approval', [CompletionResultType]::ParameterName, 'A signed approval file for the reverse plan (repeatable)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait up to SECS for the workspace lock instead of failing at once')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'The folder for --merge and --continue (default: .autonomy/merge/PLAN12/)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'The folder for --merge and --continue (default: .autonomy/merge/PLAN12/)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--plan-only', '--plan-only', [CompletionResultType]::ParameterName, 'Only create the reverse plan and print its id; a later `rollback PLAN` reuses it')
            [CompletionResult]::new('--merge', '--merge', [CompletionResultType]::ParameterName, 'On line conflicts, write each conflicted file with diff3 markers for you to resolve, then stop; `--continue` picks up the resolution')
            [CompletionResult]::new('--continue', '--continue', [CompletionResultType]::ParameterName, 'Make the reverse plan with the conflicts resolved by hand after `--merge`')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;show' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--before', '--before', [CompletionResultType]::ParameterName, 'The content before the plan instead of after it (needs `:PATH`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;export' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the bundle')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the bundle')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;log' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Show at most N events')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Show at most N events')
            [CompletionResult]::new('--kind', '--kind', [CompletionResultType]::ParameterName, 'Only events of this kind, family (`run`) or glob (`approval.*`); repeatable')
            [CompletionResult]::new('--actor', '--actor', [CompletionResultType]::ParameterName, 'Only events by this actor (an identity, or a glob such as `agent:*`); repeatable')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events since WHEN: a duration back from now (`30m`, `2h`, `7d`) or a date')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only the tool calls of this coding agent (claude, codex, gemini, ...), the events of the plans they made, and of those plans'' rollbacks')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Only the tool calls of this agent session (its session id, as `agent.call` records it), the events of the plans they made, and of those plans'' rollbacks')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--oneline', '--oneline', [CompletionResultType]::ParameterName, 'One short line per event: seq, time, kind, plan, summary')
            [CompletionResult]::new('--head', '--head', [CompletionResultType]::ParameterName, 'Print `SEQ:HASH` of the chain head and nothing else')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;stats' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only plans created (and runs started) since then: a duration back from now (30d, 12h, 2w) or a date (2026-01-31, or RFC 3339). Default: the whole history')
            [CompletionResult]::new('--depth', '--depth', [CompletionResultType]::ParameterName, 'Group paths by directory at this depth (1: top-level folders)')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only the plans this coding agent''s tool calls made (claude, codex, gemini, ...)')
            [CompletionResult]::new('--session', '--session', [CompletionResultType]::ParameterName, 'Only the plans the tool calls of this agent session made (its session id)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;rules' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('suggest', 'suggest', [CompletionResultType]::ParameterValue, 'Propose additions to autonomy.toml from the history, as a unified diff')
            break
        }
        'autonomy;rules;suggest' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Look at plans created since then: a duration back from now (30d, 12h, 2w) or a date')
            [CompletionResult]::new('--depth', '--depth', [CompletionResultType]::ParameterName, 'Group paths by directory at this depth (1: top-level folders)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--plan', '--plan', [CompletionResultType]::ParameterName, 'Make the suggestion a pending plan (a `write` of the new autonomy.toml) and print its id; it needs approval like any other plan')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;signers' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Trust a public key to sign approvals as PRINCIPAL')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the allowed signers, with each key''s fingerprint')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Stop trusting PRINCIPAL''s keys (or one of them, with --key)')
            break
        }
        'autonomy;signers;add' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'autonomy;signers;list' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'autonomy;signers;remove' {
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'Only the key with this fingerprint (SHA256:…, as `signers list` shows it)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'autonomy;recover' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait up to SECS for the workspace lock instead of failing at once')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--overwrite', '--overwrite', [CompletionResultType]::ParameterName, 'Put back every path even where its content is not recognised; that content is kept in .autonomy/objects first and listed in the journal (`run.recovered`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;verify' {
            [CompletionResult]::new('--expect-head', '--expect-head', [CompletionResultType]::ParameterName, 'Also check the chain against a head recorded earlier (`autonomy log --head`)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;gc' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait up to SECS for the workspace lock instead of failing at once')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Only list what would be removed')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;sandbox' {
            [CompletionResult]::new('--spool', '--spool', [CompletionResultType]::ParameterName, 'The spool folder (default: a fresh folder under $TMPDIR)')
            [CompletionResult]::new('--allow-write', '--allow-write', [CompletionResultType]::ParameterName, 'A folder the agent may write (build output such as target/); repeatable. Never .autonomy/, never through a symlink inside the workspace; /tmp and the other hidden folders stay hidden')
            [CompletionResult]::new('--as', '--as', [CompletionResultType]::ParameterName, 'The agent''s name in the journal (default: agent:<command name>)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;session' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The session''s name (letters, digits, ''.'', ''_'', ''-''; default: the agent''s command name and four random hex digits)')
            [CompletionResult]::new('--allow-write', '--allow-write', [CompletionResultType]::ParameterName, 'A folder the agent may write for real, outside the view (build output such as target/); repeatable; what it writes there is never part of a plan. Never .autonomy/, never through a symlink inside the workspace')
            [CompletionResult]::new('--allow-connect', '--allow-connect', [CompletionResultType]::ParameterName, 'A TCP port the agent may connect to, besides 443 (HTTPS, where model APIs are); repeatable: e.g. a local model server''s. Every other TCP port, on any host, is refused, so local services (databases, Docker, dev servers) are out of its reach')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('propose', 'propose', [CompletionResultType]::ParameterValue, 'Propose what a session''s view changed since its last applied plan, now')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'The open sessions: name, view, agent command, running or exited, last plan')
            [CompletionResult]::new('end', 'end', [CompletionResultType]::ParameterValue, 'Discard a session''s view and close it (its plans stay as they are)')
            break
        }
        'autonomy;session;propose' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;session;list' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'autonomy;session;end' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'End it even while its agent runs (the agent then works on a discarded view)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'autonomy;agent' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Plan the agent''s hook configuration (approve and apply it to wire the agent)')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Plan the removal of the agent''s hook configuration')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the agents, whether each is wired here, and whether its hook answers')
            break
        }
        'autonomy;agent;install' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--print', '--print', [CompletionResultType]::ParameterName, 'Print the configuration file as it would be, and plan nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'autonomy;agent;uninstall' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--print', '--print', [CompletionResultType]::ParameterName, 'Print the configuration file as it would be, and plan nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'autonomy;agent;list' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'autonomy;hook' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;review' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Decide the plans waiting now, then exit (default: keep watching)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;mcp' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;completions' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'autonomy;help' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (NO_COLOR and CLICOLOR_FORCE are honoured under auto)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format for commands that print data (jsonl: log only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
