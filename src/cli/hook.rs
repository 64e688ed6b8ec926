//! `autonomy hook AGENT`: the entry point an agent's pre-tool hook runs.

use super::{Ctx, Format};
use crate::agents::answer::{Reply, Verdict, reply};
use crate::agents::{Agent, ToolCall, ToolKind};
use crate::error::{Error, Result};
use crate::model::event::AgentCall;
use crate::model::{EventKind, PlanId, PlanStatus};
use crate::ops::propose::{self, Made, Proposal, Source};
use crate::ops::session::Session;
use std::io::Read;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod shell;

/// Answer a coding agent's pre-tool hook (run by the agent, not by people)
///
/// Reads the agent's hook JSON on stdin and answers in that agent's own format. A file tool
/// call (write, edit, multi-edit, apply_patch, replace) becomes a pending plan with the exact
/// bytes, author agent:AGENT; the hook waits up to `[agents] wait` (autonomy.toml, default
/// 10m) for a decision (`autonomy approve`, `reject`, or signed approvals). Approved: autonomy
/// applies the plan as a journaled run (undo with `autonomy rollback`) and tells the agent it
/// is done, so the agent's own tool does not write again. Declined, rejected or no decision
/// in time: the agent is told no, with the reason and the plan id; nothing changes.
/// Plain reading shell commands (ls, cat, grep, ...) run as they are. Any other shell
/// command runs as a capture in an isolated copy-on-write view of the workspace (the
/// workspace itself is read-only to it, `.autonomy/` unreachable, no SSH agent), bounded
/// in time; the agent gets its output either way. What it changed becomes one pending plan
/// decided and applied like a file tool call; `[agents] shell = "deny"` refuses such
/// commands instead.
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
    let written = super::ui::answer(r.stdout.as_bytes(), r.stderr.as_bytes());
    *done = true;
    Some(if written.is_ok() { r.code } else { 2 })
}

/// Before the rules are read: how long reading the input and opening the workspace may take.
const SETUP_TIME: Duration = Duration::from_secs(20);
/// After the decision: how long applying may take before the watchdog answers.
const APPLY_TIME: Duration = Duration::from_secs(120);

/// When the hook should have answered, and the last moment it can still answer before
/// the agent gives up on it (the slack is for stopping and undoing a run in progress).
static DEADLINE: Mutex<Option<(Instant, Instant)>> = Mutex::new(None);

fn set_deadline(answer_by: Instant, last: Instant) {
    *DEADLINE.lock().unwrap_or_else(|e| e.into_inner()) = Some((answer_by, last.max(answer_by)));
}

/// A run (autonomy's engine applying an approved plan) is in progress in this process.
static IN_RUN: AtomicBool = AtomicBool::new(false);
/// The watchdog stopped that run because the answer was due.
static RUN_STOPPED: AtomicBool = AtomicBool::new(false);

/// What the watchdog does now: nothing yet, stop the run in progress (which undoes itself
/// and lets the hook answer), or answer itself and exit.
#[derive(Debug, PartialEq, Eq)]
enum Watch {
    Wait,
    StopRun,
    Refuse,
}

fn watch(now: Instant, deadline: Option<(Instant, Instant)>, in_run: bool) -> Watch {
    match deadline {
        // Unreadable deadline: refuse (fail closed).
        None => Watch::Refuse,
        Some((answer_by, _)) if now <= answer_by => Watch::Wait,
        Some((_, last)) if in_run && now <= last => Watch::StopRun,
        Some(_) => Watch::Refuse,
    }
}

pub fn run(args: HookArgs, ctx: &Ctx) -> ExitCode {
    let agent = Agent::from_name(&args.agent);
    let setup = Instant::now() + SETUP_TIME;
    set_deadline(setup, setup);
    // The watchdog: when the hook has not answered in time, refuse and exit. A run in
    // progress is first asked to stop (it undoes itself, and the hook then answers with
    // what happened); only when even that takes too long does the watchdog answer over it,
    // leaving the run for `autonomy recover` (every command refuses until then).
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let deadline = DEADLINE.lock().map(|d| *d).ok().flatten();
            // A run it stopped is still being wrapped up (undone, journaled, worded) until
            // the hook answers: it keeps its extra time.
            let running = IN_RUN.load(Ordering::SeqCst) || RUN_STOPPED.load(Ordering::SeqCst);
            let todo = watch(Instant::now(), deadline, running);
            if todo == Watch::StopRun {
                if !RUN_STOPPED.swap(true, Ordering::SeqCst) {
                    crate::ops::apply::request_stop();
                }
                continue;
            }
            if todo == Watch::Refuse {
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
    // A run still in progress at `answer_by` is stopped and undone in the time left.
    set_deadline(answer_by, started + limit.saturating_sub(margin / 4));
    let budget = Budget {
        agent,
        limit,
        answer_by,
        reserve: (limit / 5).min(APPLY_TIME),
        wanted: rules.agents_wait(),
    };
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
                // Audited like every other call: one journal event, no plan.
                journal_call(&mut s, &call, "allowed: read-only")?;
                return Ok(Verdict::Allow);
            }
            if shell_mode == "deny" {
                journal_call(&mut s, &call, "refused: shell")?;
                return Ok(Verdict::Deny(
                    "autonomy refused this shell command: `[agents] shell = \"deny\"` in autonomy.toml refuses shell commands that may change files. Plain reading commands (ls, cat, grep, ...) run; make file changes with the file tools (write/edit), each of which becomes a plan a person approves.".into(),
                ));
            }
            let at = crate::agents::shell::context(agent, &input, &root)?;
            shell::shell_call(&mut s, &call, command, &at, &budget)
        }
        _ => {
            let (wait, capped) = budget.wait();
            // `[agents] headless = "defer"` in a headless Claude Code run: stop the run on
            // an undecided change instead of waiting (see `headless_claude`).
            let defer = agent == Agent::Claude && rules.agents_defer() && headless_claude();
            let wait = if defer { Duration::ZERO } else { wait };
            file_call(&mut s, &call, wait, &capped, defer)
        }
    }
}

/// The hook's time: the agent's own limit for it, when the answer is due, what to keep
/// for applying, and how long the rules want it to wait for a decision.
struct Budget {
    agent: Agent,
    limit: Duration,
    answer_by: Instant,
    reserve: Duration,
    wanted: Duration,
}

impl Budget {
    /// Time left before the answer is due, less what applying needs.
    fn left(&self) -> Duration {
        self.answer_by
            .saturating_duration_since(Instant::now())
            .saturating_sub(self.reserve)
    }

    /// How long to wait for a decision from now, and the words for a wait the agent's
    /// limit cut short (empty when it did not).
    fn wait(&self) -> (Duration, String) {
        let wait = self.wanted.min(self.left());
        let capped = if wait < self.wanted {
            format!(
                " ({} stops waiting for its hook after {}; `autonomy agent install {}` configures 30m)",
                self.agent,
                humantime::format_duration(self.limit),
                self.agent
            )
        } else {
            String::new()
        };
        (wait, capped)
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
    let said = match await_decision(s, &id, wait)? {
        Decided::Stale(paths) => format!(
            "autonomy refused this change: {} changed since plan {short} was made, so it can no longer apply. Nothing was changed; read the file again and retry.",
            paths.join(", ")
        ),
        Decided::Applied { by, now: true } => format!(
            "Done: autonomy applied this change as plan {short}, approved by {by}. {} now holds exactly the requested content; the tool itself did not run, so do not repeat this call. Continue with the next step.",
            call.kind.summary()
        ),
        Decided::Applied { by, now: false } => format!(
            "Done: plan {short} with this change was applied (approved by {by}); do not repeat this call. Continue with the next step."
        ),
        Decided::Declined { by, reason } => format!(
            "The person declined this change (plan {short}, by {by}){reason}. Nothing was changed."
        ),
        Decided::Rejected { by, reason } => format!(
            "The person rejected this change (plan {short}, by {by}){reason}. Nothing was changed."
        ),
        Decided::RolledBack => format!(
            "Plan {short} with this change was applied and rolled back. Nothing was changed by this call."
        ),
        Decided::Undecided(_) if defer => return defer_call(s, call, &id, wait),
        Decided::Undecided(waited) => format!(
            "No decision on plan {short} within {waited}{capped}: nothing was changed. The plan stays pending; a person may still approve and apply it (`autonomy approve {short}`, `autonomy apply {short}`)."
        ),
    };
    Ok(Verdict::Deny(said))
}

/// `[agents] headless = "defer"`: an undecided plan stops the headless run instead of
/// waiting; signed approvals already in `.autonomy/approvals/` are presented first.
fn defer_call(s: &mut Session, call: &ToolCall, id: &PlanId, wait: Duration) -> Result<Verdict> {
    let short = id.short();
    // A pipeline signs instead of typing y (`autonomy approve PLAN --sign-with KEY`
    // leaves the file in .autonomy/approvals/): the resumed call presents those files
    // to apply as `autonomy apply PLAN --approval FILE` would; apply checks them all.
    let signed = crate::ops::review::signed_files(s, id)?;
    let mut short_of = String::new();
    if !signed.is_empty() {
        match apply_with(s, id, wait, &signed) {
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
        Some(id),
        crate::model::event::encode(&deferred),
    );
    s.actor = me;
    r?;
    Ok(Verdict::Defer(format!(
        "Plan {short} with this change waits for a person's decision{short_of}, so this headless run stops here; nothing was changed. Decide it (`autonomy review`, `autonomy approve {short}`, or signed approvals and `autonomy apply {short} --approval FILE`), then resume the run: `claude -p --resume {}`.",
        call.session
    )))
}

/// How the plan a tool call made was decided: the wait for a decision (and the apply
/// after an approval) that file and shell calls share; each words it for the agent.
enum Decided {
    /// Paths changed since the plan was made: it can no longer apply.
    Stale(Vec<String>),
    /// Applied: by this hook just now (`now`), or already before.
    Applied {
        by: String,
        now: bool,
    },
    /// Declined or rejected, by whom, and the reason as `: REASON` (or empty).
    Declined {
        by: String,
        reason: String,
    },
    Rejected {
        by: String,
        reason: String,
    },
    RolledBack,
    /// No decision within the wait (its length, in words).
    Undecided(String),
}

/// Wait up to `wait` for a decision on plan `id`; an approval that is ready is applied
/// here by autonomy's engine ([`apply`]), so the plan lands exactly as approved.
fn await_decision(s: &mut Session, id: &PlanId, wait: Duration) -> Result<Decided> {
    let short = id.short();
    let start = Instant::now();
    loop {
        let d = crate::ops::decision::decision(s, id)?;
        if !d.stale.is_empty() {
            return Ok(Decided::Stale(d.stale));
        }
        let reason = d
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let by = d.by.clone().unwrap_or_else(|| "a person".into());
        match d.decision.as_str() {
            "approved" if d.ready => {
                let applied = apply(s, id, wait);
                if applied.is_ok() {
                    // Landed: told as such even if reading the decision back would fail
                    // (a refusal would make the agent believe nothing changed).
                    return Ok(Decided::Applied { by, now: true });
                }
                let now = crate::ops::decision::decision(s, id)?;
                if now.status != PlanStatus::Applied {
                    if RUN_STOPPED.load(Ordering::SeqCst) {
                        return Err(Error::failed(format!(
                            "the hook ran out of time while applying plan {short}; the run was stopped and undone, so nothing was changed. The plan stays approved: `autonomy apply {short}` applies it"
                        )));
                    }
                    applied?;
                    return Err(Error::failed(format!(
                        "plan {short} was approved but not applied; `autonomy status` says why, and `autonomy apply {short}` applies it"
                    )));
                }
                return Ok(Decided::Applied { by, now: true });
            }
            "applied" => return Ok(Decided::Applied { by, now: false }),
            "declined" => return Ok(Decided::Declined { by, reason }),
            "rejected" => return Ok(Decided::Rejected { by, reason }),
            "rolled_back" => return Ok(Decided::RolledBack),
            _ => {}
        }
        if start.elapsed() >= wait {
            return Ok(Decided::Undecided(
                humantime::format_duration(Duration::from_secs(wait.as_secs())).to_string(),
            ));
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
    let mut p = Proposal::new(Source::Ops(ops.ops));
    p.description = Some(format!(
        "Tool call {} ({}) of {} session {}.",
        call.call_id, call.tool, call.agent, call.session
    ));
    p.based_on = ops.read;
    propose_call(s, call, p)
}

/// Propose `p` as the plan of `call`: titled after the call, author and actor
/// `agent:AGENT`, the agent's session and tool call recorded in `plan.created`, the
/// `agent.call` event in the same transaction. `None` when it changes nothing.
fn propose_call(s: &mut Session, call: &ToolCall, mut p: Proposal) -> Result<Option<PlanId>> {
    p.record.insert("agent".into(), call.agent.name().into());
    p.record
        .insert("session".into(), call.session.clone().into());
    p.record
        .insert("tool_call".into(), call.call_id.clone().into());
    let title = p.title.take().unwrap_or_else(|| call.kind.summary());
    p.title = Some(format!("{}: {title}", call.agent));
    p.via = Some("agent".into());
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
    // While the run is in progress the watchdog does not answer over it: at the deadline it
    // stops the run, which undoes itself, and the answer says so.
    IN_RUN.store(true, Ordering::SeqCst);
    let applied = crate::ops::apply::apply(s, Some(id), opts, None, &mut crate::ops::apply::Quiet);
    IN_RUN.store(false, Ordering::SeqCst);
    applied?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Watch, watch};
    use std::time::{Duration, Instant};

    #[test]
    fn the_watchdog_stops_a_run_before_answering_over_it() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let d = Some((t + s, t + 3 * s));
        assert_eq!(watch(t, d, false), Watch::Wait);
        assert_eq!(watch(t, d, true), Watch::Wait);
        assert_eq!(watch(t + 2 * s, d, false), Watch::Refuse);
        assert_eq!(watch(t + 2 * s, d, true), Watch::StopRun);
        assert_eq!(watch(t + 4 * s, d, true), Watch::Refuse);
        assert_eq!(watch(t, None, false), Watch::Refuse);
    }
}
