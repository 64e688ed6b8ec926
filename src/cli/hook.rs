//! `autonomy hook AGENT`: the entry point an agent's pre-tool hook runs.

use super::{Ctx, Format};
use crate::agents::answer::{Reply, Verdict, reply};
use crate::agents::{Agent, ToolCall, ToolKind};
use crate::error::{Error, Result};
use crate::model::event::AgentCall;
use crate::model::{EventKind, PlanId, PlanStatus};
use crate::ops::propose::{self, Made, Proposal, Source};
use crate::ops::session::Session;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Answer a coding agent's pre-tool hook (run by the agent, not by people)
///
/// Reads the agent's hook JSON on stdin and answers in that agent's own format. A file tool
/// call (write, edit, multi-edit, apply_patch, replace) becomes a pending plan with the exact
/// bytes, author agent:AGENT; the hook waits up to `[agents] wait` (autonomy.toml, default
/// 10m) for a decision (`autonomy approve`, `reject`, or signed approvals). Approved: autonomy
/// applies the plan as a journaled run (undo with `autonomy rollback`) and tells the agent it
/// is done, so the agent's own tool does not write again. Declined, rejected or no decision
/// in time: the agent is told no, with the reason and the plan id; nothing changes. Shell
/// commands that may change files are refused for now; plain reading commands pass.
///
/// Never fails open: bad input, any error, a crash or a timeout is a refusal in the agent's
/// format. `autonomy agent install AGENT` writes the configuration that runs this.
///
/// AGENT: claude, codex, gemini, cursor, copilot, goose, openhands, cline.
///
/// Example (what Claude Code's hook configuration runs):
///   autonomy hook claude || { echo 'autonomy hook failed' >&2; exit 2; }
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct HookArgs {
    /// The agent whose hook runs this.
    #[arg(value_name = "AGENT")]
    pub agent: String,
}

/// The answer is written once: by the hook, or by the watchdog when time runs out.
static ANSWERED: Mutex<bool> = Mutex::new(false);

/// Write the answer once. `None` when it was already written; otherwise the exit code to
/// end with: the reply's, or 2 (every agent's "block") when the answer could not be
/// written whole, since an agent that reads no answer from an exit 0 lets the tool run.
fn answer(r: &Reply) -> Option<u8> {
    let mut done = ANSWERED.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return None;
    }
    let mut out = std::io::stdout().lock();
    let written = out.write_all(r.stdout.as_bytes()).and_then(|_| out.flush());
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(r.stderr.as_bytes()).and_then(|_| err.flush());
    *done = true;
    Some(if written.is_ok() { r.code } else { 2 })
}

/// Before the rules are read: how long reading the input and opening the workspace may take.
const SETUP_TIME: Duration = Duration::from_secs(20);
/// After the decision: how long applying may take before the watchdog answers.
const APPLY_TIME: Duration = Duration::from_secs(120);

static DEADLINE: Mutex<Option<Instant>> = Mutex::new(None);

fn set_deadline(d: Instant) {
    *DEADLINE.lock().unwrap_or_else(|e| e.into_inner()) = Some(d);
}

pub fn run(args: HookArgs, ctx: &Ctx) -> ExitCode {
    let agent = Agent::from_name(&args.agent);
    set_deadline(Instant::now() + SETUP_TIME);
    // The watchdog: when the hook has not answered in time, refuse and exit.
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let late = DEADLINE
                .lock()
                .map(|d| d.is_some_and(|d| Instant::now() > d))
                .unwrap_or(true);
            if late {
                let r = reply(
                    agent,
                    &Verdict::Deny(
                        "autonomy refused this tool call: the hook ran out of time. If it was applying an approved plan, that run is interrupted and `autonomy recover` puts every path back; `autonomy status` shows any plan it made.".into(),
                    ),
                );
                if let Some(code) = answer(&r) {
                    std::process::exit(code.into());
                }
                return;
            }
        }
    });
    let verdict = match agent {
        None => Verdict::Deny(format!(
            "autonomy refused this tool call: unknown agent {:?} (known: {})",
            args.agent,
            Agent::ALL.map(|a| a.name()).join(", ")
        )),
        Some(agent) => {
            let ctx = Ctx {
                dir: ctx.dir.clone(),
                format: Format::Text,
            };
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decide(agent, &ctx))) {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => Verdict::Deny(format!(
                    "autonomy refused this tool call: {}{}",
                    e.full_message(),
                    e.hint.map(|h| format!(" ({h})")).unwrap_or_default()
                )),
                Err(_) => Verdict::Deny(
                    "autonomy refused this tool call: the hook failed unexpectedly (a bug; please report it). If it was applying an approved plan, `autonomy status` says so and `autonomy recover` puts every path back.".into(),
                ),
            }
        }
    };
    let r = reply(agent, &verdict);
    ExitCode::from(answer(&r).unwrap_or(r.code))
}

fn read_input() -> Result<Vec<u8>> {
    let max = crate::agents::parse::MAX_INPUT;
    let mut input = Vec::new();
    std::io::stdin()
        .take(max + 1)
        .read_to_end(&mut input)
        .map_err(|e| Error::io("reading the hook input on stdin", e))?;
    if input.len() as u64 > max {
        return Err(Error::failed("the hook input is larger than 64 MiB"));
    }
    Ok(input)
}

fn decide(agent: Agent, ctx: &Ctx) -> Result<Verdict> {
    let started = Instant::now();
    let input = read_input()?;
    // The agent acts; the person's identity is looked up only to apply (see `apply_with`),
    // and the log is left for the next command to fold in: each costs the waiting agent
    // milliseconds (a `git config` process; three fsyncs).
    let mut s = Session::open_as(&ctx.dir, &agent.author())?;
    s.journal.leave_log_on_close()?;
    let root = std::path::absolute(&s.ws.root)
        .map_err(|e| Error::io("resolving the workspace root", e))?;
    let call = crate::agents::parse::parse(agent, &input, &root)?;
    let rules = s.rules()?;
    // Answer before the agent gives up on the hook: some (Gemini CLI) then run the tool.
    let limit = crate::agents::config::hook_timeout(agent, &root);
    let margin = (limit / 10).clamp(Duration::from_secs(1), Duration::from_secs(10));
    let answer_by = started + limit.saturating_sub(margin);
    set_deadline(answer_by);
    let reserve = (limit / 5).min(APPLY_TIME);
    let wanted = rules.agents_wait();
    let wait = wanted.min(
        answer_by
            .saturating_duration_since(Instant::now())
            .saturating_sub(reserve),
    );
    let capped = (wait < wanted).then(|| {
        format!(
            " ({agent} stops waiting for its hook after {}; `autonomy agent install {agent}` configures 30m)",
            humantime::format_duration(limit)
        )
    });
    let shell_mode = rules
        .agents
        .shell
        .clone()
        .unwrap_or_else(|| "capture".into());
    match &call.kind {
        ToolKind::ReadOnly => Ok(Verdict::Allow),
        ToolKind::Other => Ok(Verdict::Deny(format!(
            "autonomy refused the tool {:?}: it cannot tell which files that tool changes. Use the file tools (write/edit) so that each change becomes a plan a person approves.",
            call.tool
        ))),
        ToolKind::Shell { command } => {
            if crate::agents::shell::read_only(command) {
                return Ok(Verdict::Allow);
            }
            journal_call(&mut s, &call, "refused: shell")?;
            let why = if shell_mode == "deny" {
                "`[agents] shell = \"deny\"` in autonomy.toml refuses shell commands that may change files"
            } else {
                "shell commands that may change files cannot yet run as reviewed captures here"
            };
            Ok(Verdict::Deny(format!(
                "autonomy refused this shell command: {why}. Plain reading commands (ls, cat, grep, ...) run; make file changes with the file tools (write/edit), each of which becomes a plan a person approves."
            )))
        }
        _ => {
            // `[agents] headless = "defer"` in a headless Claude Code run: stop the run on
            // an undecided change instead of waiting (see `headless_claude`).
            let defer = agent == Agent::Claude && rules.agents_defer() && headless_claude();
            let wait = if defer { Duration::ZERO } else { wait };
            let capped = capped.as_deref().unwrap_or_default();
            file_call(&mut s, &call, wait, capped, defer)
        }
    }
}

/// Claude Code runs this hook from a headless run (`claude -p`), where it honours `defer`.
/// Interactively it ignores `defer` and goes on to run the tool, so both signs must hold:
/// `CLAUDE_CODE_ENTRYPOINT` says `sdk-…` (Claude Code sets `sdk-cli` for `-p`, but keeps a
/// value it inherited), and the `claude` process that started this hook (an ancestor
/// named `claude…`) has `-p` or `--print` among its arguments. Anything unclear: not
/// headless, so the hook waits and refuses as usual.
fn headless_claude() -> bool {
    if !std::env::var("CLAUDE_CODE_ENTRYPOINT").is_ok_and(|e| e.starts_with("sdk")) {
        return false;
    }
    let mut pid = std::os::unix::process::parent_id();
    for _ in 0..8 {
        if pid <= 1 {
            return false;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        let mut args = cmdline.split(|b| *b == 0);
        let argv0 = args.next().unwrap_or_default();
        let name = argv0.rsplit(|b| *b == b'/').next().unwrap_or_default();
        if name.starts_with(b"claude") {
            return args.any(|a| a == b"-p" || a == b"--print");
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
        else {
            return false;
        };
        pid = ppid;
    }
    false
}

/// Journal `agent.call` for a call that made no plan: which agent, session and tool call,
/// and what came of it. The agent is the actor.
fn journal_call(s: &mut Session, call: &ToolCall, outcome: &str) -> Result<()> {
    let me = std::mem::replace(&mut s.actor, call.agent.author());
    let data = crate::model::event::encode(&call_event(call, outcome));
    let r = s.event(EventKind::AgentCall, None, data);
    s.actor = me;
    r
}

/// The data of an `agent.call` event (its `plan` is set by whoever knows it).
fn call_event(call: &ToolCall, outcome: &str) -> AgentCall {
    AgentCall {
        agent: call.agent.name().into(),
        session: call.session.clone(),
        tool_call: call.call_id.clone(),
        tool: call.tool.clone(),
        plan: None,
        outcome: outcome.into(),
    }
}

fn file_call(
    s: &mut Session,
    call: &ToolCall,
    wait: Duration,
    capped: &str,
    defer: bool,
) -> Result<Verdict> {
    // A deferred call asked again (`claude -p --resume`) is the same tool call: its plan
    // and what was decided about it (approved, declined, applied with signed approvals).
    let asked_before = if defer {
        s.journal
            .plan_of_call(call.agent.name(), &call.session, &call.call_id)?
            .and_then(|p| PlanId::parse(&p))
    } else {
        None
    };
    let made = match asked_before {
        Some(id) => Some(id),
        None => plan_call(s, call)?,
    };
    let id = match made {
        Some(id) => id,
        None => {
            return Ok(Verdict::Deny(format!(
                "Nothing to do: {} changes nothing (the files already hold that content). No plan was made.",
                call.kind.summary()
            )));
        }
    };
    let short = id.short();
    let start = Instant::now();
    loop {
        let d = crate::ops::decision::decision(s, &id)?;
        if !d.stale.is_empty() {
            return Ok(Verdict::Deny(format!(
                "autonomy refused this change: {} changed since plan {short} was made, so it can no longer apply. Nothing was changed; read the file again and retry.",
                d.stale.join(", ")
            )));
        }
        let reason = d
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let by = d.by.as_deref().unwrap_or("a person");
        match d.decision.as_str() {
            "approved" if d.ready => {
                let applied = apply(s, &id, wait);
                let now = crate::ops::decision::decision(s, &id)?;
                if now.status != PlanStatus::Applied {
                    applied?;
                    return Err(Error::failed(format!(
                        "plan {short} was approved but not applied"
                    )));
                }
                return Ok(Verdict::Deny(format!(
                    "Done: autonomy applied this change as plan {short}, approved by {by}. {} now holds exactly the requested content; the tool itself did not run, so do not repeat this call. Continue with the next step.",
                    call.kind.summary()
                )));
            }
            "applied" => {
                return Ok(Verdict::Deny(format!(
                    "Done: plan {short} with this change was applied (approved by {by}); do not repeat this call. Continue with the next step."
                )));
            }
            "declined" => {
                return Ok(Verdict::Deny(format!(
                    "The person declined this change (plan {short}, by {by}){reason}. Nothing was changed."
                )));
            }
            "rejected" => {
                return Ok(Verdict::Deny(format!(
                    "The person rejected this change (plan {short}, by {by}){reason}. Nothing was changed."
                )));
            }
            "rolled_back" => {
                return Ok(Verdict::Deny(format!(
                    "Plan {short} with this change was applied and rolled back. Nothing was changed by this call."
                )));
            }
            _ => {}
        }
        if defer {
            // A pipeline signs instead of typing y (`autonomy approve PLAN --sign-with KEY`
            // leaves the file in .autonomy/approvals/): the resumed call presents those files
            // to apply as `autonomy apply PLAN --approval FILE` would; apply checks them all.
            let signed = crate::ops::review::signed_files(s, &id)?;
            let mut short_of = String::new();
            if !signed.is_empty() {
                match apply_with(s, &id, wait, &signed) {
                    Ok(()) => {
                        return Ok(Verdict::Deny(format!(
                            "Done: autonomy applied this change as plan {short}, with the signed approvals in .autonomy/approvals/. {} now holds exactly the requested content; the tool itself did not run, so do not repeat this call. Continue with the next step.",
                            call.kind.summary()
                        )));
                    }
                    Err(e) if e.kind == crate::error::Kind::NotApproved => {
                        short_of = format!(
                            " (the signed approvals found are not enough: {})",
                            e.message
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
            let mut deferred = call_event(call, "deferred");
            deferred.plan = Some(id.to_string());
            let me = std::mem::replace(&mut s.actor, call.agent.author());
            let r = s.event(
                EventKind::AgentCall,
                Some(&id),
                crate::model::event::encode(&deferred),
            );
            s.actor = me;
            r?;
            return Ok(Verdict::Defer(format!(
                "Plan {short} with this change waits for a person's decision{short_of}, so this headless run stops here; nothing was changed. Decide it (`autonomy review`, `autonomy approve {short}`, or signed approvals and `autonomy apply {short} --approval FILE`), then resume the run: `claude -p --resume {}`.",
                call.session
            )));
        }
        if start.elapsed() >= wait {
            return Ok(Verdict::Deny(format!(
                "No decision on plan {short} within {}{capped}: nothing was changed. The plan stays pending; a person may still approve and apply it (`autonomy approve {short}`, `autonomy apply {short}`).",
                humantime::format_duration(Duration::from_secs(wait.as_secs()))
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An agent's file tool call becomes a pending plan through `ops::propose`, as every
/// other front door's source does: the exact bytes (`Source::Ops`), author and actor
/// `agent:AGENT`, the agent's session and tool call recorded in `plan.created`, the
/// contents its edits were computed from checked against the plan's `before`, and the
/// `agent.call` event in the same transaction. `None` when the call changes nothing.
pub fn plan_call(s: &mut Session, call: &ToolCall) -> Result<Option<PlanId>> {
    let ops = crate::agents::to_ops::ops(&s.ws, &call.kind)?;
    let mut record = serde_json::Map::new();
    record.insert("agent".into(), call.agent.name().into());
    record.insert("session".into(), call.session.clone().into());
    record.insert("tool_call".into(), call.call_id.clone().into());
    let mut p = Proposal::new(Source::Ops(ops.ops)).title(Some(format!(
        "{}: {}",
        call.agent,
        call.kind.summary()
    )));
    p.description = Some(format!(
        "Tool call {} ({}) of {} session {}.",
        call.call_id, call.tool, call.agent, call.session
    ));
    p.via = Some("agent".into());
    p.record = record;
    p.based_on = ops.read;
    p.call = Some(call_event(call, "planned"));
    let me = std::mem::replace(&mut s.actor, call.agent.author());
    let proposed = propose::propose(s, p);
    s.actor = me;
    Ok(match proposed?.made {
        Made::New { id, .. } | Made::Same { id, .. } => Some(id),
        Made::Nothing { .. } => None,
    })
}

/// Apply an approved plan through `ops::apply`, as `autonomy apply` does: every check in
/// `engine::admit`, a journaled run that `autonomy rollback` undoes. No `Consent`: a hook
/// never asks; the person decided through `approve` or `review`. Nothing is printed (the
/// hook's stdout is its answer to the agent).
pub fn apply(s: &mut Session, id: &PlanId, wait: Duration) -> Result<()> {
    apply_with(s, id, wait, &[])
}

/// [`apply`], presenting signed approval files as `autonomy apply --approval FILE` does.
fn apply_with(
    s: &mut Session,
    id: &PlanId,
    wait: Duration,
    approvals: &[std::path::PathBuf],
) -> Result<()> {
    // The run is the person's who decided to let the agent's change land, as it would be
    // with `autonomy apply` in their shell.
    s.actor = crate::util::identity::acting_identity(&s.ws.root);
    let opts = crate::ops::apply::Options {
        approvals,
        wait: Some(Duration::from_secs(wait.as_secs().clamp(1, 60))),
    };
    crate::ops::apply::apply(s, Some(id), opts, None, &mut crate::engine::Quiet)?;
    Ok(())
}
