//! Help topics that are not commands: the file formats a person writes by hand. One text
//! each, printed by `autonomy help TOPIC` and turned into a section-5 man page by the
//! generator, so the installed page and the built-in help can never differ.
//!
//! The text is plain: a line in capitals at column 0 starts a section, an indented line
//! belongs to a literal block (examples, tables), anything else is prose.

/// A topic: its name for `autonomy help`, its man page (section 5), a one-line summary and
/// its text.
pub struct Topic {
    pub name: &'static str,
    pub page: &'static str,
    pub summary: &'static str,
    pub text: &'static str,
}

pub const TOPICS: [Topic; 2] = [
    Topic {
        name: "plan-file",
        page: "autonomy-plan",
        summary: "the plan file format (TOML) that `autonomy plan` reads",
        text: PLAN_FILE,
    },
    Topic {
        name: "rules-file",
        page: "autonomy-rules",
        summary: "the rules file (autonomy.toml): approvals, denied paths, limits, exec, verify",
        text: RULES_FILE,
    },
];

pub fn find(name: &str) -> Option<&'static Topic> {
    TOPICS.iter().find(|t| t.name == name)
}

const PLAN_FILE: &str = r#"DESCRIPTION
A plan file is what an actor (an agent, a bot, a script, a person) writes to
propose a change: a TOML file with a title and a list of actions. `autonomy plan
FILE` compiles it against the workspace into a pending plan: every edit is
resolved to the exact bytes that will be written, so the preview shows, and the
approval covers, exactly what `apply` writes. Nothing changes until the plan is
approved and applied.

Unknown keys are errors, and each kind of action takes only its own keys, so a
typo never silently changes what a plan means. The first wrong key in the file
is reported, with its line, and the keys that are allowed there.

HEADER
  title = "Rename the config key"     required, not empty
  author = "agent:refactor-bot"       optional; default: the acting identity
  description = "Why this change."    optional; shown in the preview

Then one [[action]] table per action.

KEYS EVERY ACTION TAKES
  kind     write, edit, delete, move, mkdir, chmod, symlink or exec
  id       optional, unique: a name other actions can list in `after`
  after    optional: ids of actions this one comes after

Actions on the same path fold in dependency order (`after`, then file order); a
cycle is an error naming it. File actions run before exec steps.

KINDS
  write    path, and one of content, content_base64, content_file;
           optional mode ("0755") or executable (true)
  edit     path, find, replace; optional count (how many times find
           must occur, default 1: anything else is an error)
  delete   path (a file, or a folder with everything in it)
  move     from, to (the target must not exist)
  mkdir    path
  chmod    path (a file or a folder), and mode ("0700") or executable
           (true: x wherever r is set, as git does)
  symlink  path, target (created or retargeted; the target is recorded
           verbatim and never followed)
  exec     run (argv, no shell); touches (globs of the paths it may
           change); optional timeout ("2m"), cwd, env (a table)

`content_file` is relative to the plan file's folder and must stay inside it; it
is the way to put large or binary content in a plan (`content_base64` works
too). An edit keeps the file's mode, owner and group; a new file gets 0644
unless the plan says otherwise. Parent folders a write needs are created by the
plan and removed by its rollback.

EXEC STEPS
An exec action runs a command after the file changes. It is refused unless the
rules allow it (`[exec] allow = true` and argv[0] listed in `[exec] commands`;
see autonomy-rules(5)). The command runs with a scrubbed environment (PATH,
HOME, LANG and what `env` declares), in its own process group, killed at its
timeout, and may change only what `touches` declares: anything else fails the
run and is undone. What it changed inside `touches` is snapshotted and rolled
back with the plan; effects outside the file system (network, databases) cannot
be rolled back.

PATHS
Paths are relative to the workspace root and normalised. Absolute paths, `..`
that escapes the workspace, NUL, `.autonomy/` in any spelling, and any path
whose parent passes through a symbolic link are refused when the plan is made
and checked again when it is applied.

Globs (in `touches` and in the rules) match workspace-relative paths: `*` and
`?` stay within one path segment, `**` crosses segments, and a pattern without
`/` matches the name at any depth, as in .gitignore.

EXAMPLE
  title = "Raise the timeout and record the version"
  author = "agent:refactor-bot"
  description = "The upstream service got slower."

  [[action]]
  id = "version"
  kind = "write"
  path = "VERSION"
  content = "1.2.0\n"

  [[action]]
  kind = "edit"
  path = "config/app.toml"
  find = "timeout_ms = 500"
  replace = "timeout_ms = 750"
  after = ["version"]

  [[action]]
  kind = "move"
  from = "docs/a.md"
  to = "docs/b.md"

  [[action]]
  kind = "chmod"
  path = "scripts/run.sh"
  executable = true

  [[action]]
  kind = "exec"
  run = ["cargo", "fmt"]
  touches = ["src/**"]
  timeout = "2m"

Plan it, read it, approve it, apply it:
  id=$(autonomy plan change.toml)
  autonomy preview "$id"
  autonomy approve "$id"
  autonomy apply "$id"

A plan file may also come on stdin (`autonomy plan -`); then `content_file` is
not available. A plan file that changes nothing is not an error: `autonomy plan`
says so, prints no id and exits 0.
"#;

const RULES_FILE: &str = r#"DESCRIPTION
The rules file, autonomy.toml at the workspace root, is the workspace's policy:
how many approvals a plan needs, which paths need more (or signed approvals),
which paths are never to be touched, resource limits, and what exec steps and
the verify command may do. It is version-controlled with the project. Without it
the defaults hold: one approval for any plan, no exec steps, no verify command.

Every event in the journal records the digest of the rules in force. A plan that
changes the rules file or the allowed-signers file is a policy change: it is
judged by the rules in force before it and marked POLICY CHANGE in its preview.
`autonomy status` summarises the rules in force; unknown keys are errors.

APPROVAL
  [approval]
  required = 1                  approvals from distinct identities for any plan
  allowed_signers = ".autonomy/allowed_signers"
                                the allowed-signers file for signed approvals
                                (`autonomy signers` manages it)

RULES
Each [[rule]] applies to the plans that change one of its paths (or to every
plan when it has none). Requirements add up: a plan must meet every rule that
applies to it.

  [[rule]]
  name = "production config"
  paths = ["deploy/**", "*.tf"]  globs; without paths: every plan
  approvals = 2                  distinct principals (signed: distinct keys)
  signed = true                  only signed approvals count
  risk = "high"                  only plans at this risk level or above

  [[rule]]
  name = "never"
  paths = ["secrets/**", ".env*"]
  deny = true                    refused when the plan is made

LIMITS
  [limits]
  max_file_bytes = "64MiB"       default 4GiB
  max_plan_bytes = "1GiB"        default 16GiB
  max_changes = 100000           default 1000000

Sizes are written 512KiB, 64MiB, 1GiB; durations 30s, 10m, 1h.

EXEC
  [exec]
  allow = false                  exec steps are refused unless true
  commands = ["cargo"]           allowed argv[0]
  timeout = "10m"                the longest a step may run (default 10m)
  max_output_bytes = "1MiB"      output kept in the journal
  max_memory = "2GiB"            address-space limit for commands, when set

VERIFY
  [verify]
  run = ["cargo", "check"]       after apply and rollback; failing undoes the run
  timeout = "10m"
  writes = ["target/**"]         build output it may write; not part of the plan

AGENTS
  [agents]                       coding agents wired with `autonomy agent install`
  wait = "10m"                   how long a tool call waits for a decision
                                 (capped below the agent's own hook timeout)
  shell = "capture"              or "deny": shell commands that may change files
                                 (refused either way for now; reading ones run)
  headless = "wait"              or "defer": a headless Claude Code run (claude -p)
                                 stops on an undecided change (the plan stays
                                 pending); `claude -p --resume SESSION` goes on

EXAMPLE
  [approval]
  required = 1

  [[rule]]
  name = "deploy needs two signed approvals"
  paths = ["deploy/**"]
  approvals = 2
  signed = true

  [[rule]]
  name = "never touch secrets"
  paths = ["secrets/**"]
  deny = true

  [exec]
  allow = true
  commands = ["cargo"]
"#;
