//! Coding agents plug in through their pre-tool hooks: each agent's hook input parsed into
//! one typed [`ToolCall`], and allow/deny answers rendered in each agent's own format.
//! Formats of Claude Code, Codex and Gemini CLI are checked against the real clients
//! (tests/integration/agents.rs); Cursor, Copilot CLI, Goose, OpenHands and Cline follow
//! their documentation (unit tests with recorded payloads).
//! Library code: nothing here prints.

pub mod answer;
pub mod config;
pub mod edits;
pub mod parse;
pub mod patch;
pub mod shell;
pub mod to_ops;

use crate::paths::RelPath;

/// The agents `autonomy hook` and `autonomy agent install` know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {
    Claude,
    Codex,
    Gemini,
    Cursor,
    Copilot,
    Goose,
    OpenHands,
    Cline,
}

impl Agent {
    pub const ALL: [Agent; 8] = [
        Agent::Claude,
        Agent::Codex,
        Agent::Gemini,
        Agent::Cursor,
        Agent::Copilot,
        Agent::Goose,
        Agent::OpenHands,
        Agent::Cline,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Codex => "codex",
            Agent::Gemini => "gemini",
            Agent::Cursor => "cursor",
            Agent::Copilot => "copilot",
            Agent::Goose => "goose",
            Agent::OpenHands => "openhands",
            Agent::Cline => "cline",
        }
    }

    pub fn from_name(name: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The identity plans from this agent carry (`agent:claude`).
    pub fn author(self) -> String {
        format!("agent:{}", self.name())
    }
}

impl std::fmt::Display for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One tool call an agent is about to make, as its hook reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub agent: Agent,
    /// The agent's session (conversation, task) id; empty when the agent gives none.
    pub session: String,
    /// The agent's id of this tool call; empty when the agent gives none.
    pub call_id: String,
    /// The tool's name as the agent spells it.
    pub tool: String,
    pub kind: ToolKind,
}

/// What the tool call would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolKind {
    /// Write a whole file (create or replace).
    Write { path: RelPath, content: String },
    /// Replace text in one file, edit after edit (one edit, or a multi-edit).
    Edit { path: RelPath, edits: Vec<Replace> },
    /// Codex's `apply_patch`: files added, updated (maybe moved) or deleted.
    ApplyPatch(Vec<patch::FileOp>),
    /// A shell command.
    Shell { command: String },
    /// A tool that only reads (the agent's own read/search tools).
    ReadOnly,
    /// Anything else: autonomy cannot tell what it changes, so it is refused.
    Other,
}

/// One text replacement of an edit tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    pub old: String,
    pub new: String,
    pub times: Times,
}

/// How many occurrences of `old` an edit replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// Exactly one occurrence must exist (Claude's Edit, Gemini's replace).
    Unique,
    /// The first occurrence (Cline's SEARCH/REPLACE blocks).
    First,
    /// Every occurrence, at least one (`replace_all`, `allow_multiple`).
    All,
}

impl ToolKind {
    /// Whether the call changes files through a file tool (becomes a plan).
    pub fn is_file_change(&self) -> bool {
        matches!(
            self,
            ToolKind::Write { .. } | ToolKind::Edit { .. } | ToolKind::ApplyPatch(_)
        )
    }

    /// Short description for the plan title and messages.
    pub fn summary(&self) -> String {
        match self {
            ToolKind::Write { path, .. } => format!("write {path}"),
            ToolKind::Edit { path, edits } if edits.len() > 1 => {
                format!("edit {path} ({} edits)", edits.len())
            }
            ToolKind::Edit { path, .. } => format!("edit {path}"),
            ToolKind::ApplyPatch(ops) => {
                let names: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
                format!("apply_patch: {}", names.join(", "))
            }
            // A title is one line: a command's newlines and other controls show escaped.
            ToolKind::Shell { command } => format!("shell: {}", crate::paths::printable(command)),
            ToolKind::ReadOnly => "read".into(),
            ToolKind::Other => "other".into(),
        }
    }
}
