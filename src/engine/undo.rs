//! Putting a run back: one mechanism for a run that failed (apply or rollback) and for
//! recovery after a crash. Exec steps are undone newest first, by what each command was
//! seen to change (or, when that is unknown, by its snapshot), then the file steps in
//! reverse order, each path decided by what it holds now: `after` is undone, `before` is
//! left, anything else stops with exit 4 (unless told to overwrite).

use super::exec_step::{self, StepRun, Undo};
use super::fsops::new_token;
use super::run::Run;
use super::{Reporter, failpoint};
use crate::error::{Error, Kind, Result};
use crate::model::{ExecStep, State};
use crate::workspace::Workspace;
use std::collections::BTreeMap;

/// What undoing one exec step needs.
pub(super) struct ExecUndo {
    pub k: usize,
    pub list: Vec<Undo>,
    /// Non-regular files the command created (removed without being opened).
    pub specials: Vec<String>,
    /// Changed paths whose old state autonomy never had: reported, never claimed.
    pub unrestorable: Vec<String>,
    /// Put the snapshot back over content that is neither `before` nor the observed
    /// `after`: the command ran but what it did is unknown, or `recover --overwrite`.
    pub force: bool,
}

impl ExecUndo {
    /// A step whose changes were observed.
    pub fn observed(k: usize, res: &StepRun) -> ExecUndo {
        ExecUndo {
            k,
            list: exec_step::undo_list(&res.observed),
            specials: res.created_special.clone(),
            unrestorable: res.unrestorable.clone(),
            force: false,
        }
    }

    /// A step that may have run without its effects being observed: its snapshot goes
    /// back over whatever it left.
    pub fn blind(
        ws: &Workspace,
        k: usize,
        step: &ExecStep,
        before: &BTreeMap<String, State>,
    ) -> ExecUndo {
        let list = exec_step::unknown_after(ws, step, before).unwrap_or_else(|_| {
            before
                .iter()
                .map(|(p, s)| Undo {
                    path: p.clone(),
                    before: s.clone(),
                    after: None,
                })
                .collect()
        });
        ExecUndo {
            k,
            list,
            specials: Vec::new(),
            unrestorable: Vec::new(),
            force: true,
        }
    }
}

/// Which undo: a failed run's (only the steps it took; no pre-check), or recovery's (every
/// step, all conflicts named before any path changes; `overwrite` puts `before` back over
/// unknown content, kept in the store first).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum UndoMode {
    Failed,
    Recover { overwrite: bool },
}

/// What an undo put back so far (also when it stopped part-way).
#[derive(Default)]
pub(super) struct Undone {
    /// Paths exec steps changed that were put back.
    pub exec: Vec<String>,
    /// Paths of file steps that were put back.
    pub files: Vec<String>,
    /// Paths left as they are, with why where known.
    pub left: Vec<String>,
    /// Unknown contents overwritten and kept in the store: (path, sha256).
    pub kept: Vec<(String, String)>,
}

impl Undone {
    /// Every path put back: exec steps' first (they are undone first), then files.
    pub fn restored(&self) -> Vec<String> {
        self.exec.iter().chain(&self.files).cloned().collect()
    }
}

/// An undo that stopped: the exec step it was putting back (its command line), if any.
pub(super) struct UndoStopped {
    pub step: Option<String>,
    pub error: Error,
}

impl UndoStopped {
    /// The error for a failed run whose undo stopped too: the run stays interrupted.
    pub fn after(self, err: Error) -> Error {
        let what = match &self.step {
            Some(shown) => format!("putting back what `{shown}` changed failed too"),
            None => "putting things back failed too".to_string(),
        };
        Error::new(
            Kind::Interrupted,
            format!(
                "{}\nthen {what}: {}",
                err.full_message(),
                self.error.full_message()
            ),
        )
        .hint("run `autonomy recover` once the cause is fixed")
    }
}

impl Run<'_> {
    /// Put the run back: exec steps newest first, then the file steps in `done`, in
    /// reverse. Progress goes to `undone` as it happens.
    pub(super) fn undo(
        &mut self,
        mode: UndoMode,
        reporter: &mut dyn Reporter,
        undone: &mut Undone,
    ) -> std::result::Result<(), UndoStopped> {
        self.undo_exec(undone)?;
        let file = |error| UndoStopped { step: None, error };
        let force = mode == UndoMode::Recover { overwrite: true };
        if let UndoMode::Recover { overwrite } = mode {
            self.check_conflicts(overwrite, undone).map_err(file)?;
        }
        let plan = self.plan;
        for k in (0..self.done.len()).rev() {
            let i = self.done[k];
            let c = &plan.changes[i];
            let moved = if force {
                self.fs.backward_forced(i, c)
            } else {
                self.fs.backward(i, c)
            };
            if moved.map_err(file)? {
                reporter.undo(c);
                undone.files.push(c.path.clone());
            }
            if mode != UndoMode::Failed {
                failpoint("recover.after_step");
            }
        }
        Ok(())
    }

    /// The exec steps, newest first (they ran after the file steps).
    fn undo_exec(&mut self, undone: &mut Undone) -> std::result::Result<(), UndoStopped> {
        let token = self.fs.token.clone().unwrap_or_else(new_token);
        for s in self.exec_undo.iter().rev() {
            let shown = self.plan.exec[s.k].run.join(" ");
            let res = exec_step::undo(
                self.fs.ws,
                self.fs.blobs,
                &s.list,
                &s.specials,
                &exec_step::restore_tmp(&token, s.k),
                s.force,
                &shown,
            );
            let done = res.map_err(|error| UndoStopped {
                step: Some(shown),
                error,
            })?;
            undone.exec.extend(done.restored);
            undone.kept.extend(done.kept);
            undone.left.extend(s.unrestorable.iter().cloned());
            undone.left.extend(done.left);
        }
        Ok(())
    }

    /// Recovery decides every file step before undoing any, so that all conflicts are
    /// named at once; with `overwrite`, unknown file contents are kept in the store.
    fn check_conflicts(&mut self, overwrite: bool, undone: &mut Undone) -> Result<()> {
        let (ws, blobs) = (self.fs.ws, self.fs.blobs);
        let mut conflicts = Vec::new();
        for &i in self.order() {
            let c = &self.plan.changes[i];
            let rel = c.rel()?;
            let now = ws.state(&rel)?;
            if now == c.before || now == c.after {
                continue;
            }
            if !overwrite {
                conflicts.push(format!("  {}: found {}", c.path, now.describe()));
            } else if let State::File { .. } = now {
                let dir = ws.open_dir(rel.parent().as_ref())?;
                let f = crate::util::inode::open_regular(&dir, rel.file_name())
                    .map_err(|e| Error::io(format!("reading {rel}"), e))?;
                let (h, _) = blobs.put_reader(f)?;
                undone.kept.push((c.path.clone(), h));
            }
        }
        if conflicts.is_empty() {
            return Ok(());
        }
        Err(Error::stale(format!(
            "{} neither as before the interrupted run nor as after it; autonomy will not overwrite them:\n{}",
            crate::util::text::count(conflicts.len() as u64, "path"),
            conflicts.join("\n")
        ))
        .hint("put each file back to either version by hand (see `autonomy preview`), then run `autonomy recover` again; or run `autonomy recover --overwrite` to put back the run's `before` anyway (the current contents are kept in .autonomy/objects and listed in the journal)"))
    }
}

/// The error a failed run ends with, once it was put back: the cause, then what was put
/// back (naming any path autonomy kept no old content for) and whether recording the
/// failure worked. A stale path (4) and a damaged blob store (7) keep their exit codes.
pub(super) fn failed_error(err: Error, not_restored: &[String], recorded: Result<()>) -> Error {
    let put_back = if not_restored.is_empty() {
        "every path was put back as it was".to_string()
    } else {
        let list: Vec<String> = not_restored
            .iter()
            .take(20)
            .map(|p| format!("  {p}"))
            .collect();
        format!(
            "every path the plan and its commands changed was put back as it was, except {} autonomy kept no old content for (they are as the command left them):\n{}",
            crate::util::text::count(not_restored.len() as u64, "path"),
            list.join("\n")
        )
    };
    if let Err(e) = recorded {
        return Error::new(
            err.kind,
            format!(
                "{}\n({put_back}, but recording the failure failed: {})",
                err.full_message(),
                e.full_message()
            ),
        );
    }
    let kind = match err.kind {
        Kind::Stale | Kind::Integrity => err.kind,
        _ => Kind::Failed,
    };
    let mut out = Error::new(
        kind,
        format!("{}\nthe run failed; {put_back}", err.full_message()),
    );
    out.hint = err
        .hint
        .or(Some("fix the cause and apply the same plan again".into()));
    out
}
