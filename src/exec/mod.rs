//! Confined, bounded execution of commands run on a plan's behalf (Linux only).
//!
//! [`run`] starts one command without a shell, stdin from `/dev/null`, in its own
//! session / process group, with a wall-clock timeout and an optional `RLIMIT_AS` cap.
//! Output from stdout and stderr is streamed to a caller-provided sink as it arrives;
//! only a bounded prefix is kept in the returned [`ExecOutcome`].
//!
//! Confinement ([`Confinement::ReadOnlyExcept`]) has two layers, both enforced by the
//! kernel:
//!
//! - **Private namespaces** ([`Isolation`], see `isolate.rs`): a mount namespace where
//!   the whole file system is read-only except the declared writable set, where `/tmp`,
//!   `/var/tmp`, `/run`, `$XDG_RUNTIME_DIR`, the folders of the user's socket variables,
//!   `~/.ssh` and `~/.gnupg` are empty private tmpfs, `/dev` holds only `null`, `zero`,
//!   `full`, `random`, `urandom` and `tty` (no disks, terminals or input devices), and
//!   where every pathname
//!   Unix socket that exists when the command starts (and `.autonomy/lock`) is covered by
//!   `/dev/null`; a PID namespace (outside processes cannot be named, and everything left
//!   in it dies with the command: setsid'd daemons too); an IPC namespace; a user
//!   namespace when not root. Set up by a re-executed helper, not between fork and exec.
//! - **Landlock**: writes only beneath the writable set and on `/dev/null`; abstract Unix
//!   sockets and signals scoped to the command (Landlock ABI 6+); ptrace of processes
//!   outside the domain refused (any ABI). With `no_new_privs` and no capabilities, root
//!   included (bounding, ambient, effective, permitted and inheritable sets emptied).
//!
//! - **Network** ([`Network`]): none (a private network namespace), TCP to listed ports
//!   (Landlock ABI 4), or the host's; and a **seccomp** filter (`seccomp.rs`) that refuses
//!   `socket(2)` for every family the network does not need, Unix sockets always.
//!
//! Where namespaces are unavailable, [`IsolationMode::Required`] refuses to run and
//! [`IsolationMode::Preferred`] falls back to Landlock alone, with the old process-group
//! policy: the child calls `setsid()`, and when it exits or times out its group gets
//! `SIGKILL`; a descendant that calls `setsid()` itself escapes that kill, and its output
//! is drained for at most [`EXIT_DRAIN_GRACE`].
//!
//! The program is executed by absolute path: `argv[0]` with a `/` is taken relative to
//! `cwd`, without one it is looked up in the scrubbed `PATH`, from which relative
//! entries are removed first ([`environ::sanitize_path`]).
//!
//! Descriptors: the child gets `/dev/null` as stdin and two pipes as stdout/stderr;
//! every other descriptor is marked close-on-exec in the child
//! (`close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`), because Landlock does not restrict
//! descriptors that are already open.

mod confine;
pub mod environ;
mod isolate;
mod overlay;
mod runner;
mod seccomp;

/// How a run ended, in words (`exit status 2`, `killed by signal 9`).
pub fn describe(k: ExitKind) -> String {
    match k {
        ExitKind::Exited(c) => format!("exit status {c}"),
        ExitKind::Signaled(s) => format!("killed by signal {s}"),
        ExitKind::TimedOut => "timed out and was killed".into(),
    }
}

#[cfg(test)]
mod net_tests;
#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub use confine::{LANDLOCK_ENV_VAR, LandlockStatus, landlock_status};
pub use isolate::{NAMESPACES_ENV_VAR, init_from_main};
pub use overlay::{OVERLAY_ENV_VAR, OverlayLayers, overlay_disabled};
pub use runner::{
    EXIT_DRAIN_GRACE, isolation_status, run, run_cancellable, run_in_view, run_in_view_attached,
};

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

/// What network a confined command may use. Every confined run is also refused
/// `socket(2)` for every address family but those its network needs (seccomp, see
/// `seccomp.rs`): never Unix sockets (`socketpair` stays), so no socket of another process
/// can be reached, whenever it was bound.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Network {
    /// None: a private, empty network namespace where namespaces are used, and no
    /// socket of any family (captures, exec steps, the verify command).
    #[default]
    None,
    /// The host's network, TCP only to these ports (Landlock ABI 4+, Linux 6.7; refused
    /// to run where the kernel cannot enforce it); binding no TCP port at all. UDP (DNS)
    /// is not restricted. For an agent that must reach its model's API.
    Tcp {
        /// Remote TCP ports the command may connect to.
        connect_ports: Vec<u16>,
    },
    /// The host's network, unrestricted (IPv4, IPv6 and netlink sockets).
    Host,
}

/// Whether a confined command runs in private namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationMode {
    /// Landlock only (if confined at all).
    #[default]
    Off,
    /// Namespaces where the kernel allows them, else Landlock only.
    Preferred,
    /// Namespaces or nothing: refuse to run where they are unavailable.
    Required,
}

/// The namespace half of confinement; used only with [`Confinement::ReadOnlyExcept`].
#[derive(Debug, Clone, Default)]
pub struct Isolation {
    /// Whether to use namespaces.
    pub mode: IsolationMode,
    /// Trees that must stay visible (read-only) even when they lie under a hidden folder
    /// such as `/tmp`: the workspace, the plan's folder. `cwd`, the program and `HOME`
    /// are added automatically.
    pub visible: Vec<PathBuf>,
    /// Files covered by `/dev/null` (for example `.autonomy/lock`, which a command could
    /// otherwise hold with `flock` on a read-only descriptor); folders covered by an empty
    /// read-only tmpfs (a state folder the command must not read).
    pub masked: Vec<PathBuf>,
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
    /// Private namespaces (with [`Confinement::ReadOnlyExcept`]).
    pub isolation: Isolation,
    /// The network a confined command may use (ignored with [`Confinement::None`]).
    pub network: Network,
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
    /// Whether the child ran in private namespaces.
    pub isolated: bool,
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
    /// The kernel refused to mount a copy-on-write view (no overlay file system, or not
    /// in this namespace); nothing ran, and the caller may fall back to a copy.
    #[error("cannot mount a copy-on-write view of the workspace: {reason}")]
    OverlayUnavailable {
        /// Why.
        reason: String,
    },
    /// The network the spec asks for cannot be enforced here; nothing ran.
    #[error("cannot confine the command's network: {reason}")]
    Network {
        /// Why.
        reason: String,
    },
    /// Namespaces were required but cannot be used here; nothing ran.
    #[error("private namespaces required but unavailable: {reason}")]
    IsolationUnavailable {
        /// Why.
        reason: String,
    },
    /// Setting up the private namespaces failed; nothing ran.
    #[error("cannot confine the command: {reason}")]
    Isolation {
        /// What failed.
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
