//! A shell tool call that is not plainly reading runs as a capture (`ops::shell_call`): in
//! an isolated copy-on-write view of the workspace, bounded in time. The agent always gets
//! the command's output and how it ended. What it changed becomes one pending plan
//! (`propose_call`, as a file tool call's), decided and applied through the same wait
//! ([`super::await_decision`]); the agent's own tool never runs it again, so the answer is
//! the agent's refusal carrying the outcome and the output.

use super::{Budget, Decided, await_decision, journal_call, propose_call};
use crate::agents::answer::Verdict;
use crate::agents::shell::Context;
use crate::agents::{Agent, ToolCall};
use crate::error::Result;
use crate::exec::ExitKind;
use crate::ops::propose::{Proposal, Source};
use crate::ops::session::Session;
use crate::plan::compile::Op;
use std::io::Write;
use std::time::Duration;

/// What the agent gets of a command's output: its first and last bytes.
const HEAD: usize = 8 << 10;
const TAIL: usize = 16 << 10;
/// A command's time limit when neither the tool call nor the rules give one.
const DEFAULT_TIME: Duration = Duration::from_secs(600);
/// Less than this left before the hook must answer: the command is not started.
const MIN_TIME: Duration = Duration::from_secs(1);
/// How much of the command line the plan's record and description hold.
const MAX_SHOWN: usize = 16 << 10;

pub(super) fn shell_call(
    s: &mut Session,
    call: &ToolCall,
    command: &str,
    at: &Context,
    budget: &Budget,
) -> Result<Verdict> {
    let (time, cut_short) = time_to_run(s, at, budget)?;
    if time < MIN_TIME {
        journal_call(s, call, "refused: no time")?;
        return Ok(Verdict::Deny(format!(
            "autonomy refused this shell command: {} gives its hook too little time to run it and still answer (`autonomy agent install {}` configures 30m). Nothing was run or changed.",
            call.agent, call.agent
        )));
    }
    let mut out = Output::default();
    let captured = crate::ops::shell_call::capture(s, command, at.cwd.as_ref(), time, &mut out)?;
    let status = captured.outcome.status;
    let result = out.result(command, at, status, captured.fallback.as_deref());
    let deny = |said: String| Ok(Verdict::Deny(format!("{said}\n\n{result}")));
    if matches!(status, ExitKind::TimedOut | ExitKind::Signaled(_)) {
        journal_call(s, call, "ran: stopped")?;
        let why = stopped_why(status, cut_short, time, &call.agent);
        return deny(format!(
            "The command was stopped: {why}. It ran in an isolated view of the workspace, so nothing was changed and nothing was planned."
        ));
    }
    if !captured.unplannable.is_empty() {
        journal_call(s, call, "refused: unplannable")?;
        let list: Vec<String> = captured
            .unplannable
            .iter()
            .take(20)
            .map(|(p, why)| format!("{p} ({why})"))
            .collect();
        return deny(format!(
            "autonomy refused this command's changes: it made changes a plan cannot hold: {}. Nothing was changed (the command ran in an isolated view of the workspace).",
            list.join("; ")
        ));
    }
    let ops: Vec<Op> = captured.ops.into_iter().map(|(_, op)| op).collect();
    let changed = touched(&ops);
    if ops.is_empty() {
        journal_call(s, call, "ran: no changes")?;
        return deny(unchanged());
    }
    let p = call_proposal(call, command, at, status, ops);
    let id = match propose_call(s, call, p) {
        Ok(Some(id)) => id,
        Ok(None) => {
            journal_call(s, call, "ran: no changes")?;
            return deny(unchanged());
        }
        Err(e) if e.kind == crate::error::Kind::Failed => {
            journal_call(s, call, "refused: not plannable")?;
            return deny(format!(
                "autonomy refused this command's changes: {}{}. Nothing was changed (the command ran in an isolated view of the workspace).",
                e.full_message(),
                e.hint.map(|h| format!(" ({h})")).unwrap_or_default()
            ));
        }
        Err(e) => return Err(e),
    };
    let (wait, capped) = budget.wait();
    let decided = await_decision(s, &id, wait)?;
    deny(decision_told(decided, id.short(), &changed, &capped))
}

/// How long the command may run, and whether that is less than it would get were it not
/// for the hook's own answer: at most half of what is left of it, so that a person still
/// has time to decide on what it changed.
fn time_to_run(s: &mut Session, at: &Context, budget: &Budget) -> Result<(Duration, bool)> {
    let mut time = at.timeout.unwrap_or(DEFAULT_TIME);
    if let Some(t) = &s.rules()?.exec.timeout {
        time = time.min(crate::policy::rules::parse_duration(t)?);
    }
    let left = budget.left() / 2;
    let cut_short = left < time;
    Ok((time.min(left), cut_short))
}

/// Why a command that timed out or was killed by a signal was stopped.
fn stopped_why(status: ExitKind, cut_short: bool, time: Duration, agent: &Agent) -> String {
    if status == ExitKind::TimedOut && cut_short {
        format!(
            "it was still running after {}, the most the hook can give it before {} stops waiting for the answer, and was killed with its process group",
            secs(time),
            agent
        )
    } else if status == ExitKind::TimedOut {
        format!(
            "it was still running after {} and was killed with its process group",
            secs(time)
        )
    } else {
        crate::exec::describe(status)
    }
}

/// The plan of what the command changed, described with the call and the command.
fn call_proposal(
    call: &ToolCall,
    command: &str,
    at: &Context,
    status: ExitKind,
    ops: Vec<Op>,
) -> Proposal<'static> {
    let mut p = Proposal::new(Source::Ops(ops));
    p.title = Some(format!("shell: {}", one_line(command, 200)));
    p.description = Some(format!(
        "Changes made by shell tool call {} ({}) of {} session {}, run in an isolated view of the workspace{}; it ended with {}.\n\n$ {}",
        call.call_id,
        call.tool,
        call.agent,
        call.session,
        at.cwd
            .as_ref()
            .map(|c| format!(" in {c}/"))
            .unwrap_or_default(),
        crate::exec::describe(status),
        bounded(command, MAX_SHOWN)
    ));
    p.record
        .insert("command".into(), bounded(command, MAX_SHOWN).into());
    p
}

/// What the agent is told of the decision on plan `short` with the command's changes.
fn decision_told(decided: Decided, short: &str, changed: &str, capped: &str) -> String {
    match decided {
        Decided::Stale(paths) => format!(
            "autonomy refused this command's changes: {} changed since plan {short} was made, so it can no longer apply. Nothing was changed; run the command again if it is still needed.",
            paths.join(", ")
        ),
        Decided::Applied { by, now: true } => format!(
            "Done: the command ran in an isolated view of the workspace, and autonomy applied what it changed ({changed}) as plan {short}, approved by {by}. Its output is below. The command must not run again (that would repeat its changes); continue with the next step."
        ),
        Decided::Applied { by, now: false } => format!(
            "Done: plan {short} with this command's changes ({changed}) was applied (approved by {by}); do not run the command again. Continue with the next step."
        ),
        Decided::Declined { by, reason } => format!(
            "The person declined the changes of this command (plan {short}, by {by}){reason}. Nothing was changed: the command ran only in an isolated view of the workspace (its output is below)."
        ),
        Decided::Rejected { by, reason } => format!(
            "The person rejected the changes of this command (plan {short}, by {by}){reason}. Nothing was changed: the command ran only in an isolated view of the workspace (its output is below)."
        ),
        Decided::RolledBack => format!(
            "Plan {short} with this command's changes was applied and rolled back. Nothing was changed by this call."
        ),
        Decided::Undecided(waited) => format!(
            "No decision on plan {short} (this command's changes: {changed}) within {waited}{capped}: nothing was changed. The plan stays pending; a person may still approve and apply it (`autonomy approve {short}`, `autonomy apply {short}`)."
        ),
    }
}

fn unchanged() -> String {
    "The command ran in an isolated view of the workspace and changed no file, so there is nothing to approve or apply. Its result is below; it need not run again.".into()
}

fn secs(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs().max(1))).to_string()
}

/// The paths the operations change, for the agent (the first 20).
fn touched(ops: &[Op]) -> String {
    let mut paths: Vec<String> = Vec::new();
    for op in ops {
        let p = match op {
            Op::Write { path, .. }
            | Op::WriteStaged { path, .. }
            | Op::Edit { path, .. }
            | Op::Delete { path }
            | Op::Mkdir { path }
            | Op::Chmod { path, .. }
            | Op::Symlink { path, .. } => path.to_string(),
            Op::Move { to, .. } => to.to_string(),
            Op::Exec(_) => continue,
        };
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    let n = paths.len();
    let mut text = paths.into_iter().take(20).collect::<Vec<_>>().join(", ");
    if n > 20 {
        text.push_str(&format!(" and {} more", n - 20));
    }
    text
}

/// The first line of `text`, at most `max` bytes (on a character boundary).
fn one_line(text: &str, max: usize) -> String {
    let line = text.trim().lines().next().unwrap_or_default();
    let mut shown = bounded(line, max);
    if shown.len() < text.trim().len() && !shown.ends_with('…') {
        shown.push('…');
    }
    shown
}

/// `text` cut to at most `max` bytes on a character boundary, marked when cut.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A command's output as the agent gets it: the first [`HEAD`] and last [`TAIL`] bytes of
/// stdout and stderr together, and how many bytes were left out between them.
#[derive(Default)]
struct Output {
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    total: u64,
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.total += buf.len() as u64;
        let room = HEAD.saturating_sub(self.head.len()).min(buf.len());
        self.head.extend_from_slice(&buf[..room]);
        let rest = &buf[room..];
        let rest = &rest[rest.len().saturating_sub(TAIL)..];
        self.tail.extend(rest);
        while self.tail.len() > TAIL {
            self.tail.pop_front();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Output {
    /// The command, how it ended, and its output, for the agent.
    fn result(
        &self,
        command: &str,
        at: &Context,
        status: ExitKind,
        fallback: Option<&str>,
    ) -> String {
        let mut bytes = self.head.clone();
        let kept = (self.head.len() + self.tail.len()) as u64;
        if self.total > kept {
            bytes.extend_from_slice(
                format!(
                    "\n[... {} bytes of output left out ...]\n",
                    self.total - kept
                )
                .as_bytes(),
            );
        }
        bytes.extend(self.tail.iter());
        let text = String::from_utf8_lossy(&bytes);
        let ended = match status {
            ExitKind::Exited(c) => format!("exit code {c}"),
            other => crate::exec::describe(other),
        };
        let mut said = format!(
            "Command: {}\nIt ended with {ended}{}. Output (stdout and stderr):\n",
            bounded(command, 2000),
            at.cwd
                .as_ref()
                .map(|c| format!(" (run in {c}/)"))
                .unwrap_or_default()
        );
        if text.is_empty() {
            said.push_str("(no output)");
        } else {
            said.push_str(&text);
        }
        if let Some(why) = fallback {
            said.push_str(&format!(
                "\n(The view was a scratch copy of the workspace: {why}.)"
            ));
        }
        said
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_its_start_and_end() {
        let mut o = Output::default();
        let big: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        o.write_all(b"START\n").unwrap();
        o.write_all(&big).unwrap();
        o.write_all(b"\nEND").unwrap();
        let r = o.result("make", &Context::default(), ExitKind::Exited(2), None);
        assert!(r.contains("START") && r.ends_with("END"), "{}", &r[..200]);
        assert!(r.contains("exit code 2") && r.contains("bytes of output left out"));
        assert!(r.len() < HEAD + TAIL + 500);
        let e = Output::default().result("true", &Context::default(), ExitKind::Exited(0), None);
        assert!(e.ends_with("(no output)"), "{e}");
    }

    #[test]
    fn titles_are_one_bounded_line() {
        assert_eq!(one_line("echo a\necho b", 200), "echo a…");
        assert_eq!(one_line("ls", 200), "ls");
        assert!(one_line(&"é".repeat(300), 200).len() <= 204);
    }
}
