//! Spawning, supervising and reaping one command: timeout, output streaming, rusage.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::process::{
    Pid, PidfdFlags, Resource, Rlimit, Signal, getrlimit, kill_process, kill_process_group,
    pidfd_open, setrlimit, setsid,
};

use super::confine::{LandlockStatus, PreparedRuleset, landlock_status, restrict_self};
use super::isolate::{self, Report};
use super::{Confinement, ExecError, ExecOutcome, ExecSpec, ExitKind, IsolationMode, Network};

/// How long output is still drained after the direct child has exited (or
/// was killed at the timeout) and its group was killed. Only matters when a
/// descendant escaped the process group while holding the output pipes.
pub const EXIT_DRAIN_GRACE: Duration = Duration::from_millis(500);

/// Parent variables passed through the scrubbed environment, if set.
const PASSTHROUGH_VARS: [&str; 3] = ["PATH", "HOME", "LANG"];

const READ_CHUNK: usize = 64 * 1024;

/// Runs `spec`, streaming stdout and stderr to `out_sink` as they arrive.
///
/// Returns once the direct child has been reaped and the output pipes are
/// drained: at the latest about `timeout + EXIT_DRAIN_GRACE` after the start.
/// See the module documentation for the confinement and process-group policy.
pub fn run(spec: &ExecSpec, out_sink: &mut dyn Write) -> Result<ExecOutcome, ExecError> {
    run_cancellable(spec, out_sink, &std::sync::atomic::AtomicBool::new(false))
}

/// [`run`], but once `cancel` is set (by the caller's SIGINT/SIGTERM handling) the
/// command's whole process group is killed at once (checked at least every 100 ms) and
/// the outcome reports it killed by SIGKILL; the caller knows why.
pub fn run_cancellable(
    spec: &ExecSpec,
    out_sink: &mut dyn Write,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<ExecOutcome, ExecError> {
    run_inner(spec, None, out_sink, cancel)
}

/// [`run_cancellable`] in a copy-on-write view: the command runs in private namespaces
/// (required, whatever `spec.isolation.mode` says) where `layers.lower` shows the overlay
/// of `layers.upper` on the real folder, writable (Landlock included), with
/// `layers.read_only` bound read-only over it and `layers.sealed` covered. `spec.cwd` is
/// a path as it appears in the view. [`ExecError::OverlayUnavailable`]: the kernel
/// refused the overlay and nothing ran.
pub fn run_in_view(
    spec: &ExecSpec,
    layers: &super::OverlayLayers,
    out_sink: &mut dyn Write,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<ExecOutcome, ExecError> {
    let spec = in_view_spec(spec);
    let view = InView {
        layers,
        attached: false,
    };
    run_inner(&spec, Some(view), out_sink, cancel)
}

/// What a command in a view runs under: isolation required, and at least read-only
/// confinement (the view is its only writable tree).
fn in_view_spec(spec: &ExecSpec) -> ExecSpec {
    let mut spec = spec.clone();
    spec.isolation.mode = IsolationMode::Required;
    if spec.confinement == Confinement::None {
        spec.confinement = Confinement::ReadOnlyExcept {
            read_write: Vec::new(),
        };
    }
    spec
}

/// [`run_in_view`] with the command attached to this process's terminal: its stdin,
/// stdout and stderr are this process's own (an interactive agent gets the real
/// terminal; nothing is captured, `kept_output` stays empty). The command still runs in
/// its own session (the terminal is not its controlling terminal, so it cannot push
/// keystrokes into the invoker's shell with `TIOCSTI`), confined as in [`run_in_view`].
pub fn run_in_view_attached(
    spec: &ExecSpec,
    layers: &super::OverlayLayers,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<ExecOutcome, ExecError> {
    let spec = in_view_spec(spec);
    let view = InView {
        layers,
        attached: true,
    };
    run_inner(&spec, Some(view), &mut io::sink(), cancel)
}

/// A command run in a copy-on-write view: its layers, and whether it is attached to
/// this process's terminal.
#[derive(Clone, Copy)]
struct InView<'a> {
    layers: &'a super::OverlayLayers,
    attached: bool,
}

fn run_inner(
    spec: &ExecSpec,
    view: Option<InView>,
    out_sink: &mut dyn Write,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<ExecOutcome, ExecError> {
    let Some(command) = spec.argv.first() else {
        return Err(ExecError::EmptyArgv);
    };
    if !spec.cwd.is_dir() {
        return Err(ExecError::CwdMissing {
            cwd: spec.cwd.clone(),
        });
    }
    let env = build_env(&spec.env);
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str());
    let program = resolve_program(command, &spec.cwd, path_var)?;
    let Confinement::ReadOnlyExcept { read_write } = &spec.confinement else {
        return run_direct(spec, &program, &env, None, false, out_sink, cancel);
    };
    let abi = match landlock_status() {
        LandlockStatus::Available { abi } => Some(abi),
        LandlockStatus::Unavailable { reason } if spec.confinement_required => {
            return Err(ExecError::LandlockUnavailable { reason });
        }
        LandlockStatus::Unavailable { reason } if matches!(spec.network, Network::Tcp { .. }) => {
            return Err(ExecError::Network {
                reason: format!("limiting TCP to given ports needs Landlock: {reason}"),
            });
        }
        LandlockStatus::Unavailable { .. } => None,
    };
    if let (Network::Tcp { .. }, Some(abi)) = (&spec.network, abi)
        && abi < super::confine::NET_ABI
    {
        return Err(super::confine::net_unavailable(abi));
    }
    if spec.isolation.mode != IsolationMode::Off {
        match isolate::availability() {
            Ok(()) => {
                if let Some(outcome) =
                    run_isolated(spec, &program, &env, abi, view, out_sink, cancel)?
                {
                    return Ok(outcome);
                }
            }
            Err(reason) if spec.isolation.mode == IsolationMode::Required => {
                return Err(ExecError::IsolationUnavailable { reason });
            }
            Err(_) => {}
        }
    }
    let ruleset = match abi {
        Some(abi) => Some(PreparedRuleset::build(abi, read_write, &spec.network)?),
        None => None,
    };
    run_direct(spec, &program, &env, ruleset, true, out_sink, cancel)
}

/// Whether commands can run in private namespaces here (probed once per process by
/// starting the helper with nothing to run); the reason when not.
pub fn isolation_status() -> Result<(), String> {
    static PROBED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    isolate::availability()?;
    PROBED
        .get_or_init(|| {
            let probe = probe_isolation();
            if let Err(reason) = &probe {
                isolate::mark_unavailable(reason);
            }
            probe
        })
        .clone()
}

fn probe_isolation() -> Result<(), String> {
    let (report_r, report_w) = pipe_cloexec().map_err(|e| format!("creating a pipe: {e}"))?;
    let spec = isolate::HelperSpec {
        program: Vec::new(),
        argv: Vec::new(),
        env: Vec::new(),
        cwd: b"/".to_vec(),
        rlimit_as: None,
        landlock_abi: None,
        read_write: Vec::new(),
        visible: Vec::new(),
        reachable: Vec::new(),
        hide: path_bytes(&isolate::hidden_folders()),
        mask: Vec::new(),
        report_fd: report_w.as_raw_fd(),
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        probe: true,
        stdin_fd: None,
        overlay: None,
        network: Network::None,
    };
    let json = serde_json::to_vec(&spec).map_err(|e| e.to_string())?;
    let mut child = isolate::helper_command(report_w.as_raw_fd(), None)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the namespace helper: {e}"))?;
    drop(report_w);
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&json);
    }
    let _ = child.wait();
    match Report::parse(&read_report(&report_r)) {
        Some(Report::Finished { .. }) => Ok(()),
        Some(Report::Unavailable(r) | Report::Error(r) | Report::OverlayUnavailable(r)) => Err(r),
        None => Err("the namespace helper did not answer".to_owned()),
    }
}

fn path_bytes(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths
        .iter()
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .collect()
}

fn pipe_cloexec() -> io::Result<(File, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors that we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created.
    Ok(unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads the helper's report: everything until EOF, waiting at most two seconds for the
/// last writer (the namespace's PID 1, which may outlive a killed helper by a moment).
fn read_report(r: &File) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let mut fds = [PollFd::new(r, PollFlags::IN)];
        let Ok(left) = Timespec::try_from(deadline - now) else {
            break;
        };
        match poll(&mut fds, Some(&left)) {
            Ok(0) => break,
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(_) => break,
        }
        match (&*r).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > 64 * 1024 {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    out
}

/// Runs the command through the namespace helper. `Ok(None)`: the kernel refused the
/// namespaces (nothing ran) and the caller may fall back.
fn run_isolated(
    spec: &ExecSpec,
    program: &Path,
    env: &[(OsString, OsString)],
    abi: Option<i32>,
    view: Option<InView>,
    out_sink: &mut dyn Write,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Option<ExecOutcome>, ExecError> {
    let overlay = view.map(|v| v.layers);
    let attached = view.is_some_and(|v| v.attached);
    let paths = helper_paths(spec, program, env)?;
    let (report_r, report_w) = pipe_cloexec().map_err(|source| ExecError::Io {
        context: "creating the report pipe",
        source,
    })?;
    // Attached: the terminal's stdin reaches the helper as another descriptor (its own
    // stdin carries the spec); stdout and stderr are inherited as they are.
    let stdin_dup = if attached { Some(dup_stdin()?) } else { None };
    let stdin_fd = stdin_dup.as_ref().map(AsRawFd::as_raw_fd);
    let hs = helper_spec(
        spec,
        env,
        &paths,
        abi,
        report_w.as_raw_fd(),
        stdin_fd,
        overlay,
    )?;
    let json = serde_json::to_vec(&hs).map_err(|e| ExecError::Isolation {
        reason: format!("encoding the helper's spec: {e}"),
    })?;
    let start = Instant::now();
    let mut helper = isolate::helper_command(report_w.as_raw_fd(), stdin_fd);
    if attached {
        helper.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    }
    let mut child = helper.spawn().map_err(|source| ExecError::Spawn {
        program: PathBuf::from("/proc/self/exe"),
        source,
    })?;
    drop(report_w);
    drop(stdin_dup);
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that died early shows up below as a missing report.
        let _ = stdin.write_all(&json);
    }
    let (raw_status, usage, timed_out, capture) =
        supervise_child(child, spec, start, out_sink, cancel)?;
    let wall = start.elapsed();
    let report = Report::parse(&read_report(&report_r));
    let Some(ended) = isolated_end(spec, report, raw_status, &usage, timed_out)? else {
        return Ok(None);
    };
    Ok(Some(ExecOutcome {
        status: ended.status,
        kept_output: capture.kept,
        output_truncated: capture.truncated,
        total_output_bytes: capture.total,
        wall,
        user_cpu: ended.user_cpu,
        sys_cpu: ended.sys_cpu,
        max_rss_kib: ended.max_rss_kib,
        confined: abi.is_some(),
        isolated: true,
    }))
}

/// The paths the namespace helper mounts on or puts back, canonical as it needs them.
struct HelperPaths {
    program: PathBuf,
    cwd: PathBuf,
    read_write: Vec<PathBuf>,
    visible: Vec<PathBuf>,
    reachable: Vec<PathBuf>,
    mask: Vec<PathBuf>,
}

/// `p` canonical, or the confinement error naming it.
fn canonical(p: &Path) -> Result<PathBuf, ExecError> {
    p.canonicalize()
        .map_err(|source| ExecError::ConfinementPath {
            path: p.to_path_buf(),
            source,
        })
}

/// Resolves the writable set, the program, the cwd, the visible and reachable trees and
/// the files to mask (in that order, so the first missing path is the one named).
fn helper_paths(
    spec: &ExecSpec,
    program: &Path,
    env: &[(OsString, OsString)],
) -> Result<HelperPaths, ExecError> {
    let read_write: &[PathBuf] = match &spec.confinement {
        Confinement::ReadOnlyExcept { read_write } => read_write,
        Confinement::None => &[],
    };
    let rw = read_write
        .iter()
        .map(|p| canonical(p))
        .collect::<Result<Vec<_>, _>>()?;
    let program = canonical(program)?;
    let cwd = canonical(&spec.cwd)?;
    let mut visible = Vec::new();
    for v in &spec.isolation.visible {
        visible.push(canonical(v)?);
    }
    let mut reachable = vec![cwd.clone(), program.clone()];
    if let Some(home) = std::env::var_os("HOME").and_then(|h| PathBuf::from(h).canonicalize().ok())
    {
        reachable.push(home);
    }
    // Canonical, like every path the helper mounts on; a missing file needs no cover.
    let mask: Vec<PathBuf> = spec
        .isolation
        .masked
        .iter()
        .cloned()
        .chain(isolate::named_sockets(env))
        .filter_map(|p| p.canonicalize().ok())
        .collect();
    Ok(HelperPaths {
        program,
        cwd,
        read_write: rw,
        visible,
        reachable,
        mask,
    })
}

/// A close-on-exec duplicate of this process's stdin (above stderr), for an attached
/// command.
fn dup_stdin() -> Result<OwnedFd, ExecError> {
    // SAFETY: fcntl on our own stdin; the new descriptor is ours.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return Err(ExecError::Io {
            context: "duplicating stdin for the command",
            source: io::Error::last_os_error(),
        });
    }
    // SAFETY: the kernel just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The spec sent to the namespace helper on its stdin.
fn helper_spec(
    spec: &ExecSpec,
    env: &[(OsString, OsString)],
    paths: &HelperPaths,
    abi: Option<i32>,
    report_fd: RawFd,
    stdin_fd: Option<RawFd>,
    overlay: Option<&super::OverlayLayers>,
) -> Result<isolate::HelperSpec, ExecError> {
    Ok(isolate::HelperSpec {
        program: paths.program.as_os_str().as_bytes().to_vec(),
        argv: spec.argv.iter().map(|a| a.as_bytes().to_vec()).collect(),
        env: env
            .iter()
            .map(|(k, v)| {
                let mut kv = k.as_bytes().to_vec();
                kv.push(b'=');
                kv.extend_from_slice(v.as_bytes());
                kv
            })
            .collect(),
        cwd: paths.cwd.as_os_str().as_bytes().to_vec(),
        rlimit_as: spec.memory_limit,
        landlock_abi: abi,
        read_write: path_bytes(&paths.read_write),
        visible: path_bytes(&paths.visible),
        reachable: path_bytes(&paths.reachable),
        hide: path_bytes(&isolate::hidden_folders()),
        mask: path_bytes(&paths.mask),
        report_fd,
        uid: rustix::process::geteuid().as_raw(),
        gid: rustix::process::getegid().as_raw(),
        probe: false,
        stdin_fd,
        overlay: match overlay {
            Some(o) => Some(overlay_spec(o, &canonical)?),
            None => None,
        },
        network: spec.network.clone(),
    })
}

/// How an isolated command ended and what it used.
struct Ended {
    status: ExitKind,
    user_cpu: Duration,
    sys_cpu: Duration,
    max_rss_kib: u64,
}

impl Ended {
    /// From the helper's own wait status and rusage (no report of the command's).
    fn from_helper(status: ExitKind, usage: &libc::rusage) -> Ended {
        Ended {
            status,
            user_cpu: timeval_to_duration(usage.ru_utime),
            sys_cpu: timeval_to_duration(usage.ru_stime),
            max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        }
    }
}

/// Reads the helper's report (and, when it had none, its own end). `Ok(None)`: the
/// kernel refused the namespaces, nothing ran, and isolation was not required.
fn isolated_end(
    spec: &ExecSpec,
    report: Option<Report>,
    raw_status: i32,
    usage: &libc::rusage,
    timed_out: bool,
) -> Result<Option<Ended>, ExecError> {
    Ok(Some(match report {
        Some(Report::Unavailable(reason)) => {
            isolate::mark_unavailable(&reason);
            if spec.isolation.mode == IsolationMode::Required {
                return Err(ExecError::IsolationUnavailable { reason });
            }
            return Ok(None);
        }
        Some(Report::Error(reason)) => return Err(ExecError::Isolation { reason }),
        Some(Report::OverlayUnavailable(reason)) => {
            return Err(ExecError::OverlayUnavailable { reason });
        }
        _ if timed_out => Ended::from_helper(ExitKind::TimedOut, usage),
        Some(Report::Finished {
            status,
            user_us,
            sys_us,
            max_rss_kib,
        }) => Ended {
            status: exit_kind(status),
            user_cpu: Duration::from_micros(user_us),
            sys_cpu: Duration::from_micros(sys_us),
            max_rss_kib,
        },
        None if libc::WIFSIGNALED(raw_status) => {
            Ended::from_helper(ExitKind::Signaled(libc::WTERMSIG(raw_status)), usage)
        }
        None => {
            return Err(ExecError::Isolation {
                reason: format!(
                    "the namespace helper ended without a report (wait status {raw_status:#x})"
                ),
            });
        }
    }))
}

/// The helper's description of a view: canonical paths; missing `read_only` or
/// `sealed` entries are left out.
fn overlay_spec(
    o: &super::OverlayLayers,
    canon: &dyn Fn(&Path) -> Result<PathBuf, ExecError>,
) -> Result<super::overlay::OverlaySpec, ExecError> {
    let bytes = |p: PathBuf| p.as_os_str().as_bytes().to_vec();
    // The last component is not resolved: a `.git` that is a symlink stays one.
    let existing = |ps: &[PathBuf]| -> Vec<Vec<u8>> {
        ps.iter()
            .filter_map(|p| Some(p.parent()?.canonicalize().ok()?.join(p.file_name()?)))
            .filter(|p| std::fs::symlink_metadata(p).is_ok())
            .map(bytes)
            .collect()
    };
    Ok(super::overlay::OverlaySpec {
        lower: bytes(canon(&o.lower)?),
        upper: bytes(canon(&o.upper)?),
        work: bytes(canon(&o.work)?),
        read_only: existing(&o.read_only),
        sealed: existing(&o.sealed),
    })
}

fn exit_kind(raw_status: i32) -> ExitKind {
    if libc::WIFEXITED(raw_status) {
        ExitKind::Exited(libc::WEXITSTATUS(raw_status))
    } else {
        ExitKind::Signaled(libc::WTERMSIG(raw_status))
    }
}

/// Runs the command as a direct child: Landlock (when `ruleset` is given) applied
/// between fork and exec; `confine` also sets `no_new_privs` and drops capabilities.
fn run_direct(
    spec: &ExecSpec,
    program: &Path,
    env: &[(OsString, OsString)],
    ruleset: Option<PreparedRuleset>,
    confine: bool,
    out_sink: &mut dyn Write,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<ExecOutcome, ExecError> {
    let command = &spec.argv[0];
    let confined = ruleset.is_some();
    let rlimit = spec.memory_limit.map(child_rlimit);
    let mut cmd = Command::new(program);
    cmd.arg0(command)
        .args(&spec.argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let ruleset_fd = ruleset.as_ref().map(PreparedRuleset::raw_fd);
    let filter = match confine {
        true => Some(super::seccomp::filter(&spec.network)?),
        false => None,
    };
    // SAFETY: the closure runs between fork and exec; it only performs raw
    // system calls (setsid, setrlimit, prctl, landlock_restrict_self, capset, seccomp) on
    // values computed before the fork, and neither allocates nor locks.
    unsafe {
        cmd.pre_exec(move || child_setup(rlimit, ruleset_fd, confine, filter.as_deref()));
    }
    let start = Instant::now();
    let child = cmd.spawn().map_err(|source| ExecError::Spawn {
        program: program.to_path_buf(),
        source,
    })?;
    drop(ruleset);
    let (raw_status, usage, timed_out, capture) =
        supervise_child(child, spec, start, out_sink, cancel)?;
    let wall = start.elapsed();
    let status = if timed_out {
        ExitKind::TimedOut
    } else {
        exit_kind(raw_status)
    };
    Ok(ExecOutcome {
        status,
        kept_output: capture.kept,
        output_truncated: capture.truncated,
        total_output_bytes: capture.total,
        wall,
        user_cpu: timeval_to_duration(usage.ru_utime),
        sys_cpu: timeval_to_duration(usage.ru_stime),
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        confined,
        isolated: false,
    })
}

type Supervised<'a> = (i32, libc::rusage, bool, Capture<'a>);

/// Streams a spawned child's output until it has exited (or timed out) and its pipes
/// are drained; the child must lead its own process group.
fn supervise_child<'a>(
    mut child: std::process::Child,
    spec: &ExecSpec,
    start: Instant,
    out_sink: &'a mut dyn Write,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<Supervised<'a>, ExecError> {
    let mut reaper = Reaper {
        pid: Pid::from_child(&child),
        reaped: false,
    };
    let pipes = [
        child.stdout.take().map(|p| File::from(OwnedFd::from(p))),
        child.stderr.take().map(|p| File::from(OwnedFd::from(p))),
    ];
    let pidfd = pidfd_open(reaper.pid, PidfdFlags::empty()).map_err(|e| ExecError::Io {
        context: "pidfd_open on the child",
        source: e.into(),
    })?;
    let mut capture = Capture {
        sink: out_sink,
        kept: Vec::new(),
        max: spec.max_output_bytes,
        total: 0,
        truncated: false,
    };
    let deadline = start.checked_add(spec.timeout);
    let (raw_status, usage, timed_out) =
        supervise(&mut reaper, pipes, pidfd, deadline, &mut capture, cancel)?;
    Ok((raw_status, usage, timed_out, capture))
}

/// Poll loop over stdout, stderr and the child's pidfd. Returns the raw wait
/// status, the child's rusage and whether the timeout fired.
fn supervise(
    reaper: &mut Reaper,
    mut pipes: [Option<File>; 2],
    pidfd: OwnedFd,
    deadline: Option<Instant>,
    capture: &mut Capture<'_>,
    cancel: &std::sync::atomic::AtomicBool,
) -> Result<(i32, libc::rusage, bool), ExecError> {
    let mut pidfd = Some(pidfd);
    let mut exit: Option<(i32, libc::rusage)> = None;
    let mut timed_out = false;
    let mut drain_until: Option<Instant> = None;
    let mut buf = vec![0u8; READ_CHUNK];

    loop {
        if let Some(done) = exit
            && pipes.iter().all(Option::is_none)
        {
            return Ok((done.0, done.1, timed_out));
        }
        let now = Instant::now();
        if exit.is_none() && cancel.load(std::sync::atomic::Ordering::Relaxed) {
            reaper.kill_all();
            exit = Some(reaper.reap()?);
            pidfd = None;
            drain_until = Some(now + EXIT_DRAIN_GRACE);
            continue;
        }
        let limit = drain_until.or(deadline);
        if let Some(limit) = limit
            && now >= limit
        {
            match exit {
                // Drain grace (or the deadline while draining) is over: drop the pipes.
                Some(done) => return Ok((done.0, done.1, timed_out)),
                None => {
                    timed_out = true;
                    reaper.kill_all();
                    exit = Some(reaper.reap()?);
                    pidfd = None;
                    drain_until = Some(now + EXIT_DRAIN_GRACE);
                    continue;
                }
            }
        }
        // Wake at least every 100 ms while the command runs, to notice `cancel`.
        let tick = (exit.is_none()).then(|| now + Duration::from_millis(100));
        let limit = match (limit, tick) {
            (Some(l), Some(t)) => Some(l.min(t)),
            (l, t) => l.or(t),
        };
        let timeout = match limit {
            Some(limit) => Some(Timespec::try_from(limit - now).map_err(|_| ExecError::Io {
                context: "converting the poll timeout",
                source: io::Error::from(io::ErrorKind::InvalidInput),
            })?),
            None => None,
        };

        // Slots 0 and 1 are stdout/stderr, slot 2 the pidfd.
        let mut ready = [false; 3];
        {
            let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(3);
            let mut slots: Vec<usize> = Vec::with_capacity(3);
            for (i, pipe) in pipes.iter().enumerate() {
                if let Some(pipe) = pipe {
                    fds.push(PollFd::new(pipe, PollFlags::IN));
                    slots.push(i);
                }
            }
            if let Some(pidfd) = &pidfd {
                fds.push(PollFd::new(pidfd, PollFlags::IN));
                slots.push(2);
            }
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(e) => {
                    return Err(ExecError::Io {
                        context: "polling the child's output",
                        source: e.into(),
                    });
                }
            }
            for (fd, slot) in fds.iter().zip(slots) {
                ready[slot] = !fd.revents().is_empty();
            }
        }

        for (i, pipe) in pipes.iter_mut().enumerate() {
            if !ready[i] {
                continue;
            }
            let Some(file) = pipe else { continue };
            match file.read(&mut buf) {
                Ok(0) => *pipe = None,
                Ok(n) => capture.push(&buf[..n]).map_err(ExecError::Sink)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ExecError::Io {
                        context: "reading the child's output",
                        source,
                    });
                }
            }
        }

        if ready[2] && exit.is_none() {
            // The direct child is a zombie now, so its pid (= pgid) cannot be
            // reused yet: kill what is left of its group, then reap it.
            reaper.kill_group();
            exit = Some(reaper.reap()?);
            pidfd = None;
            let grace_end = Instant::now() + EXIT_DRAIN_GRACE;
            drain_until = Some(deadline.map_or(grace_end, |d| d.min(grace_end)));
        }
    }
}

/// Accumulates the kept prefix and forwards every chunk to the sink.
struct Capture<'a> {
    sink: &'a mut dyn Write,
    kept: Vec<u8>,
    max: u64,
    total: u64,
    truncated: bool,
}

impl Capture<'_> {
    fn push(&mut self, data: &[u8]) -> io::Result<()> {
        let len = data.len() as u64;
        self.total = self.total.saturating_add(len);
        let room = self.max.saturating_sub(self.kept.len() as u64);
        let take = usize::try_from(room.min(len)).unwrap_or(data.len());
        self.kept.extend_from_slice(&data[..take]);
        if take < data.len() {
            self.truncated = true;
        }
        self.sink.write_all(data)?;
        self.sink.flush()
    }
}

/// Owns the obligation to kill and reap the child; does so on drop if an
/// error interrupted supervision.
struct Reaper {
    pid: Pid,
    reaped: bool,
}

impl Reaper {
    fn kill_group(&self) {
        // ESRCH (group already empty) is expected and harmless.
        let _ = kill_process_group(self.pid, Signal::KILL);
    }

    fn kill_all(&self) {
        self.kill_group();
        // In case the child moved itself to another process group.
        let _ = kill_process(self.pid, Signal::KILL);
    }

    fn reap(&mut self) -> Result<(i32, libc::rusage), ExecError> {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; all-zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: valid pointers to locals; pid is our own unreaped child.
            let ret = unsafe { libc::wait4(self.pid.as_raw_pid(), &mut status, 0, &mut usage) };
            if ret == self.pid.as_raw_pid() {
                self.reaped = true;
                return Ok((status, usage));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                self.reaped = true; // nothing left to reap (e.g. ECHILD)
                return Err(ExecError::Io {
                    context: "wait4 on the child",
                    source: err,
                });
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_all();
            let _ = self.reap();
        }
    }
}

/// Runs in the child between fork and exec. Async-signal-safe only. `confine` sets
/// `no_new_privs` and drops every capability (root included) even where there is no
/// Landlock ruleset to enforce; the seccomp `filter` (when given) is installed last.
pub(super) fn child_setup(
    rlimit: Option<Rlimit>,
    ruleset_fd: Option<i32>,
    confine: bool,
    filter: Option<&[seccompiler::sock_filter]>,
) -> io::Result<()> {
    mark_inherited_fds_cloexec()?;
    setsid()?;
    if let Some(limit) = rlimit {
        setrlimit(Resource::As, limit)?;
    }
    if let Some(fd) = ruleset_fd {
        restrict_self(fd)?;
    }
    if confine || ruleset_fd.is_some() {
        rustix::thread::set_no_new_privs(true)?;
        drop_capabilities()?;
    }
    if let Some(program) = filter {
        super::seccomp::install(program)?;
    }
    Ok(())
}

/// A confined child keeps no capabilities, root included: empty the bounding set (so
/// `exec` cannot regain them), clear the ambient set, then zero the current sets.
fn drop_capabilities() -> io::Result<()> {
    for cap in 0..64 {
        // SAFETY: plain prctl on integer arguments; EINVAL past the last cap is expected.
        let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if ret != 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINVAL) => break,
                // Without CAP_SETPCAP (not root) there is nothing to drop.
                Some(libc::EPERM) => break,
                _ => return Err(err),
            }
        }
    }
    // SAFETY: plain prctl on integer arguments.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset with a v3 header and two data structs, as the kernel ABI requires.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Marks every descriptor above stderr close-on-exec, so descriptors the
/// parent itself inherited without `O_CLOEXEC` do not reach the command
/// (Landlock cannot restrict already-open descriptors). They stay open until
/// `exec`, which keeps std's exec-error pipe and the ruleset fd usable.
/// Kernels without `CLOSE_RANGE_CLOEXEC` (< 5.11) are tolerated.
pub(super) fn mark_inherited_fds_cloexec() -> io::Result<()> {
    // SAFETY: plain system call on integer arguments.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOSYS | libc::EINVAL) => Ok(()),
        _ => Err(err),
    }
}

/// The child's `RLIMIT_AS`, clamped to the parent's hard limit so that an
/// unprivileged parent never fails trying to raise it.
pub(super) fn child_rlimit(bytes: u64) -> Rlimit {
    let hard = getrlimit(Resource::As).maximum;
    let value = hard.map_or(bytes, |h| h.min(bytes));
    Rlimit {
        current: Some(value),
        maximum: Some(value),
    }
}

/// `PATH`, `HOME`, `LANG` from the parent (if set), overridden/extended by
/// the declared variables; `PATH` without relative entries.
fn build_env(declared: &[(String, String)]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = PASSTHROUGH_VARS
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
        .collect();
    for (k, v) in declared {
        env.retain(|(existing, _)| existing != k.as_str());
        env.push((k.into(), v.into()));
    }
    for (k, v) in &mut env {
        if k == "PATH" {
            *v = super::environ::sanitize_path(v);
        }
    }
    env
}

fn resolve_program(command: &str, cwd: &Path, path: Option<&OsStr>) -> Result<PathBuf, ExecError> {
    let not_found = || ExecError::CommandNotFound {
        command: command.to_owned(),
        path: path.map_or_else(
            || "<unset>".to_owned(),
            |p| p.to_string_lossy().into_owned(),
        ),
    };
    if command.contains('/') {
        let candidate = cwd.join(command);
        return if is_executable(&candidate) {
            Ok(candidate)
        } else {
            Err(not_found())
        };
    }
    if command.is_empty() {
        return Err(not_found());
    }
    let Some(path) = path else {
        return Err(not_found());
    };
    std::env::split_paths(path)
        .map(|dir| cwd.join(dir).join(command)) // empty entry = cwd (POSIX)
        .find(|candidate| is_executable(candidate))
        .ok_or_else(not_found)
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn timeval_to_duration(tv: libc::timeval) -> Duration {
    let secs = u64::try_from(tv.tv_sec).unwrap_or(0);
    let micros = u64::try_from(tv.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(micros)
}
