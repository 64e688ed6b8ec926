//! `plan --capture`: run a command in a copy-on-write view of the workspace (never in it,
//! see [`crate::view`]) and turn what it changed into plan operations.
//!
//! The command sees the whole workspace at its own path; `--scope` limits what is
//! planned, and changes outside it are returned apart so that the caller reports them.
//! Symlinks the command made, retargeted or removed are planned as links (never
//! followed); special files cannot be planned and are returned apart.

use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecOutcome, ExecSpec, ExitKind, Isolation, IsolationMode};
use crate::paths::RelPath;
use crate::plan::compile::{ModeSpec, Op};
use crate::view::{Change, Entry, View};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub struct Captured {
    pub ops: Vec<(String, Op)>,
    pub outcome: ExecOutcome,
    /// Changes outside `--scope`: reported, not planned.
    pub outside_scope: Vec<String>,
    /// Changes that cannot be planned yet (special files, folder modes, links whose target
    /// is not UTF-8, names a plan cannot hold), each with why.
    pub unplannable: Vec<(String, String)>,
    /// Why the view is a scratch copy, when it is.
    pub fallback: Option<String>,
}

/// How the command may end for its changes to be planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Only a zero exit status.
    Refuse,
    /// Any exit status (`--allow-failure`); a signal or the timeout still plans nothing.
    Plan,
    /// As `Plan`, but a signal or the timeout is no error: nothing is planned and the
    /// outcome says how the command ended (an agent's shell call, whose output goes back
    /// to the agent either way).
    Report,
}

/// Runs `argv` in a view of `root` and returns the ops that reproduce its changes within
/// `scopes` (everything when empty).
pub fn capture(
    root: &Path,
    argv: &[String],
    scopes: &[RelPath],
    timeout: Duration,
    on_failure: OnFailure,
    sink: &mut dyn Write,
) -> Result<Captured> {
    capture_in(root, None, argv, scopes, timeout, on_failure, sink)
}

/// As [`capture`], with the command started in the workspace folder `cwd` (the root when
/// `None`).
pub fn capture_in(
    root: &Path,
    cwd: Option<&RelPath>,
    argv: &[String],
    scopes: &[RelPath],
    timeout: Duration,
    on_failure: OnFailure,
    sink: &mut dyn Write,
) -> Result<Captured> {
    let mut view = View::create(root)?;
    let spec = ExecSpec {
        argv: argv.to_vec(),
        cwd: match cwd {
            Some(rel) => view.root().join(rel.as_str()),
            None => view.root().to_path_buf(),
        },
        env: Vec::new(),
        timeout,
        max_output_bytes: 1 << 20,
        memory_limit: None,
        confinement: Confinement::ReadOnlyExcept {
            read_write: Vec::new(),
        },
        confinement_required: true,
        isolation: Isolation {
            mode: IsolationMode::Required,
            visible: Vec::new(),
            masked: Vec::new(),
        },
        network: crate::exec::Network::None,
    };
    let shown = shell_words::join(argv);
    let outcome = view
        .run(&spec, sink, &AtomicBool::new(false))
        .map_err(|e| e.hint("nothing was planned and the workspace was not touched"))?;
    match (outcome.status, on_failure) {
        (ExitKind::Exited(0), _) | (ExitKind::Exited(_), OnFailure::Plan | OnFailure::Report) => {}
        (_, OnFailure::Report) => {
            let fallback = view.fallback().map(str::to_string);
            view.discard()?;
            return Ok(Captured {
                ops: Vec::new(),
                outcome,
                outside_scope: Vec::new(),
                unplannable: Vec::new(),
                fallback,
            });
        }
        (other, _) => {
            let how = if matches!(other, ExitKind::Exited(_)) {
                "fix the command and capture again, or plan its changes anyway with \
                 --allow-failure"
            } else {
                "fix the command and capture again"
            };
            return Err(Error::failed(format!(
                "`{shown}` failed in the view ({}); nothing was planned",
                crate::exec::describe(other)
            ))
            .hint(format!("the workspace was not touched; {how}")));
        }
    }
    let found = view_ops(&view, scopes)?;
    let captured = Captured {
        ops: found.ops,
        outcome,
        outside_scope: found.outside_scope,
        unplannable: found.unplannable,
        fallback: view.fallback().map(str::to_string),
    };
    view.discard()?;
    Ok(captured)
}

/// What a view holds, as plan operations: the ops within `scopes` (everything when
/// empty), changes outside them, and changes a plan cannot hold.
#[derive(Default)]
pub struct ViewOps {
    pub ops: Vec<(String, Op)>,
    pub outside_scope: Vec<String>,
    pub unplannable: Vec<(String, String)>,
}

/// The operations that reproduce everything `view` holds that differs from the
/// workspace now (within `scopes`): what a capture plans after its command, and what a
/// session proposes.
pub fn view_ops(view: &View, scopes: &[RelPath]) -> Result<ViewOps> {
    let changes = view.changes()?;
    let mut captured = ViewOps::default();
    // A folder the command emptied but kept stays: the plan would otherwise remove it as
    // git does (`Overlay::remove_emptied`); a `mkdir` of it marks it kept.
    let after: std::collections::HashMap<String, bool> = changes
        .iter()
        .map(|c| (c.path.clone(), matches!(c.after, Entry::Dir { .. })))
        .collect();
    let mut kept = std::collections::BTreeSet::new();
    for c in &changes {
        if matches!(c.after, Entry::Absent)
            && let Some((parent, _)) = c.path.rsplit_once('/')
            && after.get(parent).copied().unwrap_or(true)
        {
            kept.insert(parent.to_string());
        }
    }
    for c in changes {
        to_ops(view, c, scopes, &mut captured)?;
    }
    for dir in kept {
        if let Ok(path) = RelPath::parse(&dir)
            && in_scope(&path, scopes)
        {
            captured
                .ops
                .push((format!("capture: {path}"), Op::Mkdir { path }));
        }
    }
    Ok(captured)
}

fn in_scope(path: &RelPath, scopes: &[RelPath]) -> bool {
    scopes.is_empty() || scopes.iter().any(|s| path == s || path.is_within(s))
}

fn to_ops(view: &View, c: Change, scopes: &[RelPath], out: &mut ViewOps) -> Result<()> {
    let path = match RelPath::parse(&c.path) {
        Ok(p) => p,
        Err(e) => {
            out.unplannable.push((c.path, e.message));
            return Ok(());
        }
    };
    if !in_scope(&path, scopes) {
        // A new folder that holds a scope is made by the scope's own changes.
        let holds_scope = scopes.iter().any(|s| s.is_within(&path));
        if !(holds_scope && matches!(c.after, Entry::Dir { .. })) {
            out.outside_scope.push(c.path);
        }
        return Ok(());
    }
    let label = format!("capture: {path}");
    let not_yet = |what: &str| (c.path.clone(), what.to_string());
    match (&c.before, &c.after) {
        (before, Entry::Symlink { target }) => match target.to_str() {
            Some(t) if crate::model::plan::valid_link_target(t) => {
                if matches!(before, Entry::Dir { .. } | Entry::Other) {
                    out.ops
                        .push((label.clone(), Op::Delete { path: path.clone() }));
                }
                out.ops.push((
                    label,
                    Op::Symlink {
                        path,
                        target: t.to_string(),
                    },
                ));
            }
            _ => out.unplannable.push(not_yet(&format!(
                "a symlink (-> {}) whose target is not UTF-8 or is too long",
                target.display()
            ))),
        },
        (_, Entry::Other) => out
            .unplannable
            .push(not_yet("a FIFO, socket or device; those are never planned")),
        (Entry::Absent, Entry::Absent) => {}
        (_, Entry::Absent) => out.ops.push((label, Op::Delete { path })),
        // A folder's mode: as the command left it (a new folder too, unless it has the
        // default a new folder gets anyway).
        (Entry::Dir { .. }, Entry::Dir { mode }) => out.ops.push((
            label,
            Op::Chmod {
                path,
                mode: ModeSpec::Exact(*mode),
            },
        )),
        (before, Entry::Dir { mode }) => {
            if !matches!(before, Entry::Absent) {
                out.ops
                    .push((label.clone(), Op::Delete { path: path.clone() }));
            }
            out.ops
                .push((label.clone(), Op::Mkdir { path: path.clone() }));
            if *mode != crate::model::plan::DEFAULT_DIR_MODE {
                out.ops.push((
                    label,
                    Op::Chmod {
                        path,
                        mode: ModeSpec::Exact(*mode),
                    },
                ));
            }
        }
        (before, Entry::File { mode, .. }) => {
            if matches!(before, Entry::Dir { .. } | Entry::Other) {
                out.ops
                    .push((label.clone(), Op::Delete { path: path.clone() }));
            }
            if c.content_changed || !matches!(before, Entry::File { .. }) {
                let bytes = view.read(&c.path)?;
                out.ops.push((
                    label,
                    Op::Write {
                        path,
                        bytes,
                        mode: Some(ModeSpec::Exact(*mode)),
                    },
                ));
            } else {
                out.ops.push((
                    label,
                    Op::Chmod {
                        path,
                        mode: ModeSpec::Exact(*mode),
                    },
                ));
            }
        }
    }
    Ok(())
}
