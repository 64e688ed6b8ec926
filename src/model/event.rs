//! What the journal's events say: their kinds, and the payloads of the events the code
//! reads back. Payloads are encoded through `serde_json::Value` (keys in sorted order),
//! exactly as the `json!` literals they replace, so existing chains keep verifying.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! event_kinds {
    ($($variant:ident = $text:literal),+ $(,)?) => {
        /// An event's kind, as stored in `events.kind`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($variant),+
        }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $text),+
                }
            }

            /// A kind this build writes; `None` for any other text (a journal from a newer
            /// build may hold kinds this one does not know: they are shown, not judged).
            pub fn parse(text: &str) -> Option<EventKind> {
                match text {
                    $($text => Some(EventKind::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

event_kinds! {
    Init = "init",
    PlanCreated = "plan.created",
    PlanPreviewed = "plan.previewed",
    PlanExported = "plan.exported",
    PlanRejected = "plan.rejected",
    ApprovalGranted = "approval.granted",
    ApprovalDeclined = "approval.declined",
    ApprovalRefused = "approval.refused",
    RunStarted = "run.started",
    RunStep = "run.step",
    RunCommitted = "run.committed",
    RunFailed = "run.failed",
    RunRecovered = "run.recovered",
    RunRecoveryStopped = "run.recovery_stopped",
    RunRolledBack = "run.rolled_back",
    RulesChanged = "rules.changed",
    SignersChanged = "signers.changed",
    SandboxStarted = "sandbox.started",
    SandboxFinished = "sandbox.finished",
    SandboxProposalRefused = "sandbox.proposal_refused",
    Gc = "gc",
    AgentCall = "agent.call",
    SessionStarted = "session.started",
    SessionAgentExited = "session.agent_exited",
    SessionEnded = "session.ended",
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `init`: the workspace id the chain is bound to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Init {
    pub workspace: String,
}

/// `rules.changed`: the rules digest before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulesChanged {
    pub from: String,
    pub to: String,
}

/// `run.started`: a run's intent. `temp_token` names its temp files (absent in runs from
/// before tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run: i64,
    pub kind: String,
    pub changes: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_token: Option<String>,
}

/// `run.step`: one change a committed run made. `step` is set for an exec step's effect
/// (`action` `exec:…`); `owner` is the old file's (uid, gid), so that a rollback that
/// re-creates it restores them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStep {
    pub run: i64,
    pub path: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    pub before: crate::model::State,
    pub after: crate::model::State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<(u32, u32)>,
}

/// `agent.call`: one tool call of a coding agent that `autonomy hook` decided: which
/// agent, session and tool call, the plan it became (if any) and what came of it
/// (`planned`, `refused: shell`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentCall {
    pub agent: String,
    pub session: String,
    pub tool_call: String,
    pub tool: String,
    pub plan: Option<String>,
    pub outcome: String,
}

/// A payload as stored: through `Value`, so keys are sorted as `json!` sorts them.
pub fn encode(payload: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(payload).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_read_back() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(EventKind::parse("plan.Created"), None);
    }

    /// The typed payloads encode to the bytes the `json!` literals wrote.
    #[test]
    fn payloads_encode_as_the_literals_did() {
        let st = crate::model::State::File {
            sha256: "ab".repeat(32),
            mode: 0o644,
        };
        let step = RunStep {
            run: 3,
            path: "a/b".into(),
            action: "exec:write".into(),
            step: Some(1),
            before: crate::model::State::Absent,
            after: st.clone(),
            owner: None,
        };
        let old = json!({ "run": 3, "path": "a/b", "action": "exec:write", "step": 1, "before": crate::model::State::Absent, "after": st });
        assert_eq!(encode(&step).to_string(), old.to_string());
        let started = RunStarted {
            run: 7,
            kind: "apply".into(),
            changes: 2,
            temp_token: Some("ff".into()),
        };
        let old = json!({ "run": 7, "kind": "apply", "changes": 2, "temp_token": "ff" });
        assert_eq!(encode(&started).to_string(), old.to_string());
        let mut plain = step.clone();
        plain.step = None;
        plain.action = "write".into();
        plain.owner = Some((1000, 100));
        let mut old = json!({ "run": 3, "path": "a/b", "action": "write", "before": crate::model::State::Absent, "after": plain.after });
        old["owner"] = json!([1000, 100]);
        assert_eq!(encode(&plain).to_string(), old.to_string());
        // `agent.call`: the bytes the hook's `json!` literal wrote before it was typed.
        let call = AgentCall {
            agent: "claude".into(),
            session: "s1".into(),
            tool_call: "t1".into(),
            tool: "Write".into(),
            plan: None,
            outcome: "refused: shell".into(),
        };
        let old = json!({ "agent": "claude", "session": "s1", "tool_call": "t1", "tool": "Write", "plan": null, "outcome": "refused: shell" });
        assert_eq!(encode(&call).to_string(), old.to_string());
        assert_eq!(EventKind::parse("agent.call"), Some(EventKind::AgentCall));
    }
}
