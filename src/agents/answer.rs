//! The hook's answer in each agent's own format. A refusal is always a form the agent
//! honours as "do not run the tool"; where an agent runs the tool when its hook fails
//! (exit codes other than 0 and 2), the refusal never relies on that path.

use super::Agent;
use serde_json::json;

/// What the hook decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let the agent's tool run (a read-only call).
    Allow,
    /// Do not run the agent's tool; the text goes to the model.
    Deny(String),
    /// Claude Code headless (`claude -p`): stop the run here without running the tool;
    /// `claude -p --resume` asks the hook again. Every other agent gets a refusal.
    Defer(String),
}

/// What the hook process writes and how it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub stderr: String,
    pub code: u8,
}

/// The answer for `agent` (`None`: the agent is unknown; exit 2 with the reason on
/// stderr, the one refusal every hook-capable agent honours).
pub fn reply(agent: Option<Agent>, verdict: &Verdict) -> Reply {
    let ok = |v: serde_json::Value| Reply {
        stdout: format!("{v}\n"),
        stderr: String::new(),
        code: 0,
    };
    let empty = Reply {
        stdout: String::new(),
        stderr: String::new(),
        code: 0,
    };
    let Some(agent) = agent else {
        return match verdict {
            Verdict::Allow => empty,
            Verdict::Deny(r) | Verdict::Defer(r) => Reply {
                stdout: String::new(),
                stderr: format!("{r}\n"),
                code: 2,
            },
        };
    };
    match (agent, verdict) {
        (Agent::Claude, Verdict::Defer(r)) => ok(json!({
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "defer",
                "permissionDecisionReason": r,
            }
        })),
        // No answer lets the agent's own permission flow go on (an explicit "allow" would
        // skip its prompts).
        (Agent::Claude | Agent::OpenHands | Agent::Codex | Agent::Goose, Verdict::Allow) => empty,
        (Agent::Claude | Agent::OpenHands | Agent::Codex, Verdict::Deny(r) | Verdict::Defer(r)) => {
            ok(json!({
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": r,
                }
            }))
        }
        (Agent::Gemini, Verdict::Allow) => ok(json!({ "decision": "allow" })),
        (Agent::Gemini, Verdict::Deny(r) | Verdict::Defer(r)) => {
            ok(json!({ "decision": "deny", "reason": r }))
        }
        (Agent::Cursor, Verdict::Allow) => ok(json!({ "permission": "allow" })),
        (Agent::Cursor, Verdict::Deny(r) | Verdict::Defer(r)) => ok(json!({
            "permission": "deny", "agent_message": r, "user_message": r,
        })),
        (Agent::Copilot, Verdict::Allow) => ok(json!({ "permissionDecision": "allow" })),
        (Agent::Copilot, Verdict::Deny(r) | Verdict::Defer(r)) => ok(json!({
            "permissionDecision": "deny", "permissionDecisionReason": r,
        })),
        // Goose runs the tool when a hook fails unless configured otherwise; its block is
        // both the JSON and exit 2 with the reason on stderr.
        (Agent::Goose, Verdict::Deny(r) | Verdict::Defer(r)) => Reply {
            stdout: format!("{}\n", json!({ "decision": "block", "reason": r })),
            stderr: format!("{r}\n"),
            code: 2,
        },
        (Agent::Cline, Verdict::Allow) => ok(json!({ "cancel": false })),
        (Agent::Cline, Verdict::Deny(r) | Verdict::Defer(r)) => {
            ok(json!({ "cancel": true, "errorMessage": r }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deny(a: Agent) -> serde_json::Value {
        let r = reply(Some(a), &Verdict::Deny("no: plan abc".into()));
        serde_json::from_str(&r.stdout).unwrap()
    }

    #[test]
    fn each_agent_gets_its_own_deny() {
        let c = deny(Agent::Claude);
        assert_eq!(c["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(
            c["hookSpecificOutput"]["permissionDecisionReason"],
            "no: plan abc"
        );
        assert_eq!(deny(Agent::OpenHands), c);
        assert_eq!(deny(Agent::Codex), c);
        assert_eq!(
            deny(Agent::Gemini),
            json!({"decision": "deny", "reason": "no: plan abc"})
        );
        assert_eq!(deny(Agent::Cursor)["permission"], "deny");
        assert_eq!(deny(Agent::Cursor)["agent_message"], "no: plan abc");
        assert_eq!(deny(Agent::Copilot)["permissionDecision"], "deny");
        assert_eq!(
            deny(Agent::Goose),
            json!({"decision": "block", "reason": "no: plan abc"})
        );
        assert_eq!(
            reply(Some(Agent::Goose), &Verdict::Deny("x".into())).code,
            2
        );
        assert_eq!(
            deny(Agent::Cline),
            json!({"cancel": true, "errorMessage": "no: plan abc"})
        );
        let unknown = reply(None, &Verdict::Deny("why".into()));
        assert_eq!((unknown.code, unknown.stderr.as_str()), (2, "why\n"));
    }

    #[test]
    fn allow_is_empty_where_silence_means_go_on() {
        for a in [Agent::Claude, Agent::Codex, Agent::OpenHands, Agent::Goose] {
            let r = reply(Some(a), &Verdict::Allow);
            assert_eq!((r.stdout.as_str(), r.code), ("", 0), "{a}");
        }
        assert_eq!(
            reply(Some(Agent::Cline), &Verdict::Allow).stdout,
            "{\"cancel\":false}\n"
        );
    }

    #[test]
    fn only_claude_code_defers_every_other_agent_refuses() {
        let r = reply(
            Some(Agent::Claude),
            &Verdict::Defer("pending: plan abc".into()),
        );
        let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "defer");
        assert_eq!(r.code, 0);
        for a in Agent::ALL.into_iter().filter(|a| *a != Agent::Claude) {
            let defer = reply(Some(a), &Verdict::Defer("pending: plan abc".into()));
            let deny = reply(Some(a), &Verdict::Deny("pending: plan abc".into()));
            assert_eq!(defer, deny, "{a}");
        }
    }
}
