//! `autonomy review`

use super::preview::{Dest, build_doc, emit};
use super::{Ctx, gate, prompt, ui};
use crate::error::{Error, Kind, Result};
use crate::model::{PlanId, PlanStatus};
use crate::ops::approve::Approval;
use crate::ops::approve::{Consent, Question, Reply};
use crate::ops::review::Incoming;
use crate::ops::session::Session;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Decide plans as they arrive: the console for a second terminal
///
/// Shows each plan waiting for a decision (pending, not declined), oldest first: who asked
/// for it (for a coding agent's hook: the agent, its session and the tool call), the full
/// preview (every change as a diff, risk notes, what the rules need), then asks as
/// `autonomy approve` does: `Approve plan ID? [y/N]`, a line ended by Enter; keys typed
/// before the question appeared are discarded; a high-risk plan asks for the first 4 hex
/// digits of its id. `y` approves (the agent's waiting hook then applies the plan and the
/// agent goes on); anything else declines, and asks for a reason (`no: REASON` gives it at
/// once), which goes back to the agent with the plan id. A plan whose files changed since
/// it was made is stale and is not offered.
///
/// Without --once it keeps watching for new plans until `q` and Enter, Ctrl-D or Ctrl-C.
/// Without a terminal (stdin and stderr) it refuses with exit 3.
///
/// Examples:
///   autonomy review              # in a second terminal, next to the agent
///   autonomy review --once       # decide what is waiting now, then exit
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ReviewArgs {
    /// Decide the plans waiting now, then exit (default: keep watching).
    #[arg(long)]
    pub once: bool,
}

/// How often the journal is read for new plans while watching.
const POLL: Duration = Duration::from_millis(200);

pub fn run(args: ReviewArgs, ctx: &Ctx) -> Result<()> {
    if ctx.json() {
        return Err(Error::usage(
            "`autonomy review` is a console for a person; use `autonomy status --format json` for data",
        ));
    }
    let mut s = Session::open(&ctx.dir)?;
    if !ui::interactive() {
        return Err(Error::not_approved(
            "`autonomy review` needs a terminal (stdin and stderr), and there is none; nothing was decided",
        )
        .hint("run it in a terminal next to the agent, or sign plans: `autonomy approve PLAN --sign-with KEY`"));
    }
    // Ctrl-C while watching stops the console; at a question it ends the process at once
    // (nothing is recorded for that plan).
    let stop = Arc::new(AtomicBool::new(false));
    let asking = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_default(sig, Arc::clone(&asking));
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    let mut seen: HashSet<PlanId> = HashSet::new();
    // Approved plans whose application the console reports when it happens.
    let mut approved: Vec<(PlanId, bool)> = Vec::new();
    let mut first = true;
    let mut failure: Option<Error> = None;
    loop {
        let new = crate::ops::review::incoming(&s, &seen)?;
        if first {
            first = false;
            let watching = if args.once {
                ""
            } else {
                " Watching for new plans (q and Enter, Ctrl-D or Ctrl-C to stop)."
            };
            let waiting = match new.len() {
                0 => "No plan is waiting for a decision.".to_string(),
                1 => "1 plan is waiting for a decision.".to_string(),
                n => format!("{n} plans are waiting for a decision."),
            };
            ui::say(&format!("{waiting}{watching}"));
        }
        for inc in new {
            seen.insert(inc.id.clone());
            introduce(&inc);
            let short = crate::model::id::short(&inc.id).to_string();
            if !inc.stale.is_empty() {
                ui::say(&format!(
                    "Plan {short} is stale: {} changed since it was made, so it cannot be applied and is not offered.{}",
                    inc.stale.join(", "),
                    if inc.call.is_some() {
                        " The agent's hook tells it so."
                    } else {
                        ""
                    }
                ));
                continue;
            }
            // A fresh session per plan: the rules in force now, as `approve` would read them.
            s = Session::open(&ctx.dir)?;
            let mut console = Console {
                asking: Arc::clone(&asking),
                eof: false,
            };
            let decided = crate::ops::review::decide(&mut s, &inc.id, &mut console);
            asking.store(false, Ordering::SeqCst);
            match decided {
                Ok(a) => {
                    if let Some(ok) = tell(&inc, &a) {
                        approved.push((inc.id.clone(), ok));
                    }
                }
                Err(e) if e.kind == Kind::Integrity => return Err(e),
                Err(e) => {
                    ui::error(&e);
                    failure.get_or_insert(e);
                }
            }
            if console.eof {
                ui::say("End of input: stopped reviewing.");
                return done(failure);
            }
            if stop.load(Ordering::SeqCst) {
                break;
            }
        }
        report_applied(&s, &mut approved)?;
        if args.once {
            return done(failure);
        }
        if stop.load(Ordering::SeqCst) || idle(POLL) || stop.load(Ordering::SeqCst) {
            ui::say("Stopped reviewing.");
            return done(failure);
        }
    }
}

/// `--once`, Ctrl-D or `q`: the first failure met on the way, if any.
fn done(failure: Option<Error>) -> Result<()> {
    failure.map_or(Ok(()), Err)
}

/// The line that introduces a plan: its id and title, and who asked for it.
fn introduce(inc: &Incoming) {
    let short = crate::model::id::short(&inc.id);
    let who = match &inc.call {
        Some(c) => format!(
            "{} (session {}, tool call {}: {})",
            c.agent, c.session, c.tool_call, c.tool
        ),
        None => inc.author.clone(),
    };
    ui::say(&format!(
        "\n=== Plan {short} \"{}\" from {who}, made {} ===",
        inc.title, inc.created
    ));
}

/// Say what the decision means for the plan; `Some(is an agent's)` when it was approved
/// and every rule is met (its application is reported when it happens).
fn tell(inc: &Incoming, a: &Approval) -> Option<bool> {
    let short = crate::model::id::short(&inc.id);
    let agent = inc.call.is_some();
    match a {
        Approval::NothingToAdd { outlook, .. } => {
            let missing = outlook.still_needed_lines();
            ui::say(&format!(
                "An approval at this terminal would not count for plan {short}; nothing was recorded. The rules still need:\n{}",
                missing
            ));
            None
        }
        Approval::Decided { reply, outlook, .. } if reply.approve => {
            if !outlook.ready_after {
                let missing = outlook.still_needed_lines();
                ui::say(&format!(
                    "Recorded your approval of plan {short}; it cannot be applied yet, the rules still need:\n{}",
                    missing
                ));
                return None;
            }
            if let Some(c) = inc.call.as_ref().filter(|c| c.outcome == "deferred") {
                ui::say(&format!(
                    "Approved plan {short}. The agent's headless run stopped on it (deferred): resume it with `claude -p --resume {}`, and its hook applies the plan.",
                    c.session
                ));
                return None;
            }
            if agent {
                ui::say(&format!(
                    "Approved plan {short}; the agent's hook applies it now (`autonomy rollback {short}` undoes it)."
                ));
            } else {
                ui::say(&format!(
                    "Approved plan {short}. Apply it with `autonomy apply {short}`."
                ));
            }
            Some(agent)
        }
        Approval::Decided { reply, .. } => {
            let why = reply
                .reason
                .as_deref()
                .map(|r| format!(" with the reason \"{r}\""))
                .unwrap_or_default();
            let to = if agent {
                "; the agent is told so, with the plan id"
            } else {
                ""
            };
            ui::say(&format!(
                "Declined plan {short}{why}{to}. Nothing changes; it can still be approved later (`autonomy approve {short}`)."
            ));
            None
        }
    }
}

/// Report the approved agents' plans that have been applied since the last look.
fn report_applied(s: &Session, approved: &mut Vec<(PlanId, bool)>) -> Result<()> {
    let mut left = Vec::new();
    for (id, agent) in approved.drain(..) {
        let short = crate::model::id::short(&id).to_string();
        match crate::ops::review::status(s, &id)? {
            Some(PlanStatus::Applied) => ui::say(&format!("Plan {short} is applied.")),
            Some(PlanStatus::Approved) if agent => left.push((id, agent)),
            _ => {}
        }
    }
    *approved = left;
    Ok(())
}

/// Wait up to `time` for the person to type a line while no plan waits: `true` to stop
/// (`q`, end of input). Other lines are answered with how to stop.
fn idle(time: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(&stdin, PollFlags::IN)];
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: time.as_nanos() as i64,
    };
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) if n > 0 => {}
        _ => return false,
    }
    if fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR) {
        return true;
    }
    let mut line = String::new();
    match std::io::BufRead::read_line(&mut stdin.lock(), &mut line) {
        Ok(0) | Err(_) => true,
        Ok(_) => {
            let l = line.trim().to_ascii_lowercase();
            if l == "q" || l == "quit" {
                return true;
            }
            ui::say("(No plan is waiting; q and Enter, Ctrl-D or Ctrl-C stop reviewing.)");
            false
        }
    }
}

/// The person at this terminal, asked about one plan as `approve` asks, and for a reason
/// after a decline.
struct Console {
    asking: Arc<AtomicBool>,
    eof: bool,
}

impl Consent<Session> for Console {
    fn ask(&mut self, s: &Session, q: &Question<'_>) -> Result<Reply> {
        // The preview on stderr, in full: a console scrolls, it does not page.
        let doc = build_doc(s, q.plan_id, q.plan, q.status, Dest::Stderr.styled())?;
        emit(&doc, false, Dest::Stderr, true)?;
        ui::say_raw(&crate::render::preview::prompt_summary(
            &doc,
            q.approver,
            "at this terminal",
            Some(q.outlook),
            &ui::err_style,
        ));
        let (question, expect) = gate::question("Approve", q.plan_id, doc.risk_level);
        self.asking.store(true, Ordering::SeqCst);
        let mut answer = prompt::ask(&question, &expect)?;
        if !answer.approve && answer.reason.is_none() && !answer.eof {
            answer.reason = prompt::ask_line(
                "Declined. Why? (sent back with the plan id; Enter for no reason):",
            )?;
        }
        self.asking.store(false, Ordering::SeqCst);
        self.eof = answer.eof;
        Ok(Reply {
            approve: answer.approve,
            reason: answer.reason,
            typed: answer.typed,
        })
    }
}
