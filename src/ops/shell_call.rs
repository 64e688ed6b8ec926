//! A coding agent's shell tool call run as a capture: the command (through the shell the
//! agents use) in a copy-on-write view of the workspace, confined as every capture is
//! (writes reach only the view and its private `$TMPDIR`; the real workspace is read-only
//! to it, `.autonomy/` is an empty sealed folder, no SSH agent or other inherited
//! environment), bounded in time (its process group is killed at the limit). What it
//! changed comes back as plan operations for the front door to propose; the view is
//! discarded either way.

use crate::error::Result;
use crate::ops::session::Session;
use crate::paths::RelPath;
use crate::plan::capture::{Captured, OnFailure};
use std::io::Write;
use std::time::Duration;

/// The shell a command line runs in: bash where there is one (what the agents' own shell
/// tools use), else the POSIX shell.
fn shell() -> String {
    ["/bin/bash", "/usr/bin/bash"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .unwrap_or("/bin/sh")
        .to_string()
}

/// Run `command` in a view of the workspace, started in `cwd` (the root when `None`), for
/// at most `timeout`; its output streams to `output`. A command that exits non-zero still
/// has its changes returned (the caller says how it ended); one stopped by a signal or the
/// timeout returns none.
pub fn capture(
    s: &Session,
    command: &str,
    cwd: Option<&RelPath>,
    timeout: Duration,
    output: &mut dyn Write,
) -> Result<Captured> {
    s.refuse_if_interrupted()?;
    let argv = vec![shell(), "-c".to_string(), command.to_string()];
    crate::plan::capture::capture_in(
        &s.ws.root,
        cwd,
        &argv,
        &[],
        timeout,
        OnFailure::Report,
        output,
    )
}
