//! Confined, bounded execution of plan-step commands (Linux only).
//!
//! [`run`] starts one command without a shell, with a scrubbed environment,
//! stdin from `/dev/null`, in its own session / process group, optionally
//! under a Landlock ruleset that forbids filesystem writes outside declared
//! directories, with an optional `RLIMIT_AS` cap and a wall-clock timeout.
//! Output from stdout and stderr is streamed to a caller-provided sink as it
//! arrives; only a bounded prefix is kept in the returned [`ExecOutcome`].
//!
//! Process-group policy: the child calls `setsid()` before `exec`, so its pid
//! is also its process-group id. When the timeout expires, the whole group
//! gets `SIGKILL`. When the direct child exits on its own, the rest of its
//! group (background jobs, daemons that did not create their own session) is
//! also killed with `SIGKILL` before the child is reaped, so no grandchild
//! outlives the step. A descendant that deliberately calls `setsid()` /
//! `setpgid()` itself escapes the group; its output is drained for at most
//! [`EXIT_DRAIN_GRACE`] after the direct child exits, then the pipes are
//! dropped.
//!
//! Descriptors: the child gets `/dev/null` as stdin and two pipes as
//! stdout/stderr; every other descriptor is marked close-on-exec in the child
//! (`close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`), because Landlock does not
//! restrict descriptors that are already open.

mod confine;
mod runner;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub use confine::{LANDLOCK_ENV_VAR, LandlockStatus, landlock_status};
pub use runner::{EXIT_DRAIN_GRACE, run, run_cancellable};

/// Filesystem confinement requested for a command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Confinement {
    /// No Landlock ruleset is applied.
    #[default]
    None,
    /// Reading and executing stay allowed everywhere; every write-type access
    /// (write, truncate, create, remove, rename/link, device ioctl) is allowed
    /// only beneath the listed paths (directories or single files) and on
    /// `/dev/null`. Put scratch/temp directories the command needs here too.
    ReadOnlyExcept {
        /// Directories (or files) that stay writable. Each must exist.
        read_write: Vec<PathBuf>,
    },
}

/// Everything needed to run one command.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    /// Program and arguments; no shell. `argv[0]` without a `/` is looked up
    /// in the scrubbed `PATH`; with a `/` it is taken relative to `cwd`.
    pub argv: Vec<String>,
    /// Working directory of the child; must exist.
    pub cwd: PathBuf,
    /// Declared variables. The environment is cleared; only `PATH`, `HOME`
    /// and `LANG` from the parent (if set) plus these are passed (these win).
    pub env: Vec<(String, String)>,
    /// Wall-clock limit for the whole run, output draining included.
    pub timeout: Duration,
    /// How much combined output to keep in [`ExecOutcome::kept_output`].
    /// The sink still receives everything.
    pub max_output_bytes: u64,
    /// `RLIMIT_AS` (bytes) set in the child before `exec`.
    pub memory_limit: Option<u64>,
    /// Filesystem confinement.
    pub confinement: Confinement,
    /// If true and Landlock is unavailable, refuse to run at all.
    pub confinement_required: bool,
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Exited normally with this code.
    Exited(i32),
    /// Killed by this signal (not by our timeout).
    Signaled(i32),
    /// The timeout expired; the process group was killed.
    TimedOut,
}

/// Result of a completed run.
#[derive(Debug, Clone)]
pub struct ExecOutcome {
    /// Exit status of the direct child.
    pub status: ExitKind,
    /// First `max_output_bytes` of interleaved stdout+stderr.
    pub kept_output: Vec<u8>,
    /// True when more output arrived than was kept.
    pub output_truncated: bool,
    /// Total bytes read from stdout and stderr.
    pub total_output_bytes: u64,
    /// Wall-clock time from spawn to reap.
    pub wall: Duration,
    /// User CPU time of the child and the descendants it waited for.
    pub user_cpu: Duration,
    /// System CPU time of the child and the descendants it waited for.
    pub sys_cpu: Duration,
    /// Peak resident set size (KiB) of the child or its largest waited-for descendant.
    pub max_rss_kib: u64,
    /// Whether a Landlock ruleset was enforced on the child.
    pub confined: bool,
}

/// Errors from [`run`].
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// `argv` was empty.
    #[error("empty command line")]
    EmptyArgv,
    /// The program could not be found or is not executable.
    #[error("command not found: `{command}` (PATH={path})")]
    CommandNotFound {
        /// `argv[0]` as given.
        command: String,
        /// The scrubbed `PATH` used for the lookup (`<unset>` if none).
        path: String,
    },
    /// The working directory does not exist or is not a directory.
    #[error("working directory does not exist: {}", cwd.display())]
    CwdMissing {
        /// The requested working directory.
        cwd: PathBuf,
    },
    /// Confinement was required but Landlock cannot be used; nothing ran.
    #[error("Landlock confinement required but unavailable: {reason}")]
    LandlockUnavailable {
        /// Why Landlock is unavailable.
        reason: String,
    },
    /// A writable path for the ruleset could not be opened.
    #[error("cannot open writable path {} for the Landlock ruleset: {source}", path.display())]
    ConfinementPath {
        /// The offending path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// Building the Landlock ruleset failed.
    #[error("cannot build Landlock ruleset: {0}")]
    Ruleset(#[from] landlock::RulesetError),
    /// Spawning the child failed (includes failures of the pre-exec setup:
    /// setsid, setrlimit, no_new_privs, landlock_restrict_self).
    #[error("failed to spawn {}: {source}", program.display())]
    Spawn {
        /// Resolved program path.
        program: PathBuf,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// A system call while supervising the child failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// Writing to the output sink failed; the child's group was killed.
    #[error("writing command output to sink failed: {0}")]
    Sink(#[source] io::Error),
}
