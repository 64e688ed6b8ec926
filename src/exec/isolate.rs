//! Private namespaces for a confined command: the half of confinement the kernel enforces
//! with mounts rather than with Landlock.
//!
//! Why a helper process: setting up namespaces and mounts takes dozens of system calls,
//! path strings and error messages, and `autonomy` is multi-threaded (the sandbox's spool
//! watcher, test harnesses), so doing it between `fork` and `exec` would have to be
//! allocation-free code. Instead the runner re-executes its own binary
//! (`/proc/self/exe __autonomy-confine`, see [`init_from_main`]); that fresh process is
//! single-threaded, reads a [`HelperSpec`] on stdin and then, with ordinary Rust:
//!
//! 1. `unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC)`, plus `CLONE_NEWNET` when the
//!    command has no network ([`super::Network::None`]: its own empty namespace, loopback
//!    down) and `CLONE_NEWUSER` (mapping only the caller's own uid and gid) when it is not
//!    root;
//! 2. makes every mount private, clones the trees that must stay visible (the workspace,
//!    the writable set) with `open_tree`, and turns the whole file system read-only
//!    (`mount_setattr(AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID)`);
//! 3. replaces the places where other programs keep their sockets (`/tmp`, `/var/tmp`,
//!    `/run`, `$XDG_RUNTIME_DIR`, the folders of `SSH_AUTH_SOCK` and the like, `~/.ssh`,
//!    `~/.gnupg`) with empty private tmpfs, rebuilds `/dev` with only harmless devices
//!    (and a private `/dev/shm`), puts the kept trees back at their
//!    paths (read-only, the writable set read-write), and covers every pathname Unix
//!    socket that exists at that moment (`/proc/net/unix`) and `.autonomy/lock` with
//!    `/dev/null`;
//! 4. builds the Landlock ruleset (writes only beneath the writable set; abstract Unix
//!    sockets and signals scoped to the command's own domain where the kernel has ABI 6);
//! 5. forks the namespace's PID 1, which mounts a fresh `/proc`, starts the command in
//!    its own session with `no_new_privs`, the ruleset, `RLIMIT_AS` and no capabilities,
//!    reaps orphans, and reports the command's wait status. When PID 1 exits the kernel
//!    kills every process left in the namespace, setsid'd daemons included.
//!
//! The helper talks to the runner through a report pipe: `U` + reason (namespaces are
//! unavailable; nothing ran), `E` + message (a setup error; nothing ran), or `S` + the
//! command's wait status and resource usage.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::confine::PreparedRuleset;

/// The hidden first argument that turns `autonomy` into the confinement helper.
pub(super) const HELPER_ARG: &str = "__autonomy-confine";

/// Environment variable that, when set to `off`, makes namespaces count as unavailable
/// (used to exercise the fallback paths, like `AUTONOMY_LANDLOCK=off`).
pub const NAMESPACES_ENV_VAR: &str = "AUTONOMY_NAMESPACES";

/// Size of each private tmpfs that replaces a socket folder.
const TMPFS_OPTIONS: &str = "mode=1777,size=256m,nr_inodes=65536";

/// The devices a command finds in its `/dev` (each bound from the real one, read-only
/// mount, so only writes to the device itself work: Landlock allows only `/dev/null`).
/// Disks, terminals (`/dev/pts`), consoles and input devices are not there, so even a
/// root command without Landlock can neither write a raw disk nor read keystrokes.
/// `/dev/tty` is kept so that a program asking for a terminal gets "no such device".
const DEV_FILES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// Largest spec the helper accepts on stdin.
const MAX_SPEC: u64 = 64 << 20;

static HELPER_ENABLED: AtomicBool = AtomicBool::new(false);
static UNAVAILABLE: OnceLock<String> = OnceLock::new();

/// Called first thing in `main`: runs the confinement helper when this process was
/// started as one (and never returns then); otherwise records that this binary can serve
/// as the helper for the commands it runs. Library users that never call it (unit tests)
/// get no namespaces: required isolation is refused, preferred isolation falls back.
pub fn init_from_main() {
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new(HELPER_ARG)) {
        helper_main();
    }
    HELPER_ENABLED.store(true, Ordering::Relaxed);
}

/// Whether a namespace helper can be started; the reason when not.
pub(super) fn availability() -> Result<(), String> {
    if std::env::var_os(NAMESPACES_ENV_VAR).is_some_and(|v| v.eq_ignore_ascii_case("off")) {
        return Err(format!("disabled by {NAMESPACES_ENV_VAR}=off"));
    }
    if !HELPER_ENABLED.load(Ordering::Relaxed) {
        return Err("not running as the autonomy binary (no namespace helper)".to_owned());
    }
    match UNAVAILABLE.get() {
        Some(reason) => Err(reason.clone()),
        None => Ok(()),
    }
}

/// Remembers that the kernel refused namespaces, so later commands skip the attempt.
pub(super) fn mark_unavailable(reason: &str) {
    let _ = UNAVAILABLE.set(reason.to_owned());
}

/// Everything the helper needs, sent as JSON on its stdin. Paths are absolute and
/// canonical (the runner resolved them); byte strings keep non-UTF-8 names intact.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct HelperSpec {
    /// Absolute path of the program to execute (never searched in `PATH`).
    pub program: Vec<u8>,
    /// Full argv, `argv[0]` as the caller gave it.
    pub argv: Vec<Vec<u8>>,
    /// `NAME=value` entries: the command's whole environment.
    pub env: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    pub rlimit_as: Option<u64>,
    /// Landlock ABI to build the ruleset for, when Landlock is available.
    pub landlock_abi: Option<i32>,
    /// Trees that stay writable.
    pub read_write: Vec<Vec<u8>>,
    /// Trees that must stay visible and read-only even when under a hidden folder or
    /// inside a writable tree (the workspace).
    pub visible: Vec<Vec<u8>>,
    /// Paths the command needs to reach (its cwd, program, home), put back only when a
    /// hidden folder covers them and no kept tree already holds them.
    pub reachable: Vec<Vec<u8>>,
    /// Folders replaced by an empty private tmpfs.
    pub hide: Vec<Vec<u8>>,
    /// Files (sockets, the lock) covered by `/dev/null`; folders (a state folder) by an
    /// empty read-only tmpfs.
    pub mask: Vec<Vec<u8>>,
    /// The write end of the report pipe.
    pub report_fd: RawFd,
    pub uid: u32,
    pub gid: u32,
    /// Only set the namespaces up and report success; run nothing.
    pub probe: bool,
    /// The descriptor (inherited from the runner) that becomes the command's stdin, for
    /// a command attached to the terminal; `None`: `/dev/null`.
    #[serde(default)]
    pub stdin_fd: Option<RawFd>,
    /// A copy-on-write view of the workspace mounted at its own path (`overlay.rs`).
    #[serde(default)]
    pub overlay: Option<super::overlay::OverlaySpec>,
    /// The command's network: [`super::Network::None`] unshares a private, empty network
    /// namespace too.
    #[serde(default)]
    pub network: super::Network,
}

/// What the helper reported.
#[derive(Debug)]
pub(super) enum Report {
    /// Namespaces cannot be used here; the command did not run.
    Unavailable(String),
    /// Setting up failed; the command did not run.
    Error(String),
    /// The kernel refused the overlay view; the command did not run.
    OverlayUnavailable(String),
    /// The command ran; its raw wait status and usage.
    Finished {
        status: i32,
        user_us: u64,
        sys_us: u64,
        max_rss_kib: u64,
    },
}

impl Report {
    pub(super) fn parse(bytes: &[u8]) -> Option<Report> {
        let (kind, rest) = bytes.split_first()?;
        let text = || String::from_utf8_lossy(rest).into_owned();
        match kind {
            b'U' => Some(Report::Unavailable(text())),
            b'E' => Some(Report::Error(text())),
            b'O' => Some(Report::OverlayUnavailable(text())),
            b'S' if rest.len() >= 28 => {
                let u64_at = |i: usize| {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&rest[i..i + 8]);
                    u64::from_le_bytes(b)
                };
                let mut s = [0u8; 4];
                s.copy_from_slice(&rest[..4]);
                Some(Report::Finished {
                    status: i32::from_le_bytes(s),
                    user_us: u64_at(4),
                    sys_us: u64_at(12),
                    max_rss_kib: u64_at(20),
                })
            }
            _ => None,
        }
    }
}

/// The standard places where other programs listen (sockets) or keep per-session
/// state, `/dev` (rebuilt with only the harmless devices, see [`DEV_FILES`]: no disks,
/// no terminals, no input devices), the folders named by this process's socket
/// variables, and the user's key
/// folders (`~/.ssh`, `~/.gnupg`: approvals are signed with those keys). Only existing
/// real folders are returned, canonical, without duplicates. A socket's folder that is
/// the home folder or holds it is left alone (the socket itself is covered instead).
pub(super) fn hidden_folders() -> Vec<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .and_then(|h| h.canonicalize().ok());
    let mut out: Vec<PathBuf> = ["/tmp", "/var/tmp", "/run", "/var/run", "/dev"]
        .iter()
        .map(PathBuf::from)
        .collect();
    for (k, v) in std::env::vars_os() {
        if k == "XDG_RUNTIME_DIR" || k == "TMPDIR" || k == "TMUX_TMPDIR" {
            out.push(PathBuf::from(v));
            continue;
        }
        for sock in super::environ::socket_paths(&k, &v) {
            let Some(parent) = sock.parent().and_then(|p| p.canonicalize().ok()) else {
                continue;
            };
            if home.as_ref().is_some_and(|h| h.starts_with(&parent)) {
                continue;
            }
            out.push(parent);
        }
    }
    if let Some(home) = &home {
        out.push(home.join(".ssh"));
        out.push(home.join(".gnupg"));
    }
    let mut canon: Vec<PathBuf> = Vec::new();
    for p in out {
        if !p.is_absolute() {
            continue;
        }
        let Ok(c) = p.canonicalize() else { continue };
        if !c.is_dir() || c == Path::new("/") || canon.contains(&c) {
            continue;
        }
        canon.push(c);
    }
    canon.sort();
    canon
}

/// Sockets named by the caller's environment (and the command's), to cover one by one
/// wherever they are.
pub(super) fn named_sockets(extra_env: &[(OsString, OsString)]) -> Vec<PathBuf> {
    let own_env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let mut out = Vec::new();
    for (k, v) in own_env.iter().chain(extra_env) {
        for p in super::environ::socket_paths(k, v) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// Spawns the helper (not yet fed). `report_w` is the write end of the report pipe; it
/// is the only descriptor besides stdio that the helper inherits.
pub(super) fn helper_command(report_w: RawFd, stdin_fd: Option<RawFd>) -> Command {
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg0("autonomy-confine")
        .arg(HELPER_ARG)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: runs between fork and exec; only raw system calls on integers computed
    // before the fork (no allocation, no locks).
    let parent = std::process::id() as libc::pid_t;
    unsafe {
        cmd.pre_exec(move || helper_pre_exec(report_w, stdin_fd, parent));
    }
    cmd
}

/// In the forked child before the helper's exec: every inherited descriptor except the
/// report pipe close-on-exec, a new session, and death with the runner.
fn helper_pre_exec(
    report_w: RawFd,
    stdin_fd: Option<RawFd>,
    parent: libc::pid_t,
) -> io::Result<()> {
    super::runner::mark_inherited_fds_cloexec()?;
    // SAFETY: plain fcntl/prctl/getppid/setsid on integers.
    unsafe {
        if libc::fcntl(report_w, libc::F_SETFD, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(fd) = stdin_fd
            && libc::fcntl(fd, libc::F_SETFD, 0) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        if libc::getppid() != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The helper process.

/// A setup failure: whether it means "no namespaces here" or a real error.
enum Fail {
    Unavailable(String),
    Error(String),
    /// The overlay view cannot be mounted here (the caller may fall back to a copy).
    Overlay(String),
}

fn unavailable(what: &str, e: io::Error) -> Fail {
    Fail::Unavailable(format!("{what}: {e}"))
}

fn error(what: String, e: io::Error) -> Fail {
    Fail::Error(format!("{what}: {e}"))
}

fn helper_main() -> ! {
    let mut raw = Vec::new();
    let read = io::stdin().lock().take(MAX_SPEC).read_to_end(&mut raw);
    let spec: HelperSpec = match read
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_slice(&raw).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(io::stderr(), "autonomy-confine: bad spec: {e}");
            std::process::exit(125);
        }
    };
    // SAFETY: the runner passed us this descriptor and nothing else owns it.
    let mut report = unsafe { File::from_raw_fd(spec.report_fd) };
    set_cloexec(report.as_raw_fd());
    let code = match helper(&spec, &mut report) {
        Ok(()) => 0,
        Err(Fail::Unavailable(msg)) => {
            send(&mut report, b'U', msg.as_bytes());
            0
        }
        Err(Fail::Error(msg)) => {
            send(&mut report, b'E', msg.as_bytes());
            0
        }
        Err(Fail::Overlay(msg)) => {
            send(&mut report, b'O', msg.as_bytes());
            0
        }
    };
    std::process::exit(code)
}

fn send(report: &mut File, kind: u8, payload: &[u8]) {
    let mut msg = Vec::with_capacity(payload.len().min(4000) + 1);
    msg.push(kind);
    msg.extend_from_slice(&payload[..payload.len().min(4000)]);
    let _ = report.write_all(&msg);
}

fn set_cloexec(fd: RawFd) {
    // SAFETY: plain fcntl on a descriptor we own.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

fn cstr(bytes: &[u8]) -> Result<CString, Fail> {
    CString::new(bytes.to_vec()).map_err(|_| Fail::Error("a path contains a NUL byte".into()))
}

fn path_of(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

fn helper(spec: &HelperSpec, report: &mut File) -> Result<(), Fail> {
    // stdin carried the spec; the command gets /dev/null, or the terminal's stdin that
    // the runner passed along for an attached command.
    let null = File::open("/dev/null").map_err(|e| error("opening /dev/null".into(), e))?;
    let from = spec.stdin_fd.unwrap_or(null.as_raw_fd());
    // SAFETY: dup2 onto stdin, which we own.
    if unsafe { libc::dup2(from, 0) } < 0 {
        return Err(error(
            "redirecting stdin".into(),
            io::Error::last_os_error(),
        ));
    }
    if let Some(fd) = spec.stdin_fd {
        // SAFETY: the runner's descriptor, now duplicated onto stdin.
        unsafe { libc::close(fd) };
    }
    drop(null);
    let sockets = listening_sockets();
    let userns = enter_namespaces(spec)?;
    build_view(spec, &sockets, userns)?;
    if spec.probe {
        send(report, b'S', &[0u8; 28]);
        return Ok(());
    }
    let ruleset = match spec.landlock_abi {
        Some(abi) => {
            // The view is writable at the workspace's path (resolved now, so the rule
            // is on the overlay, not on the real folder beneath it).
            let rw: Vec<PathBuf> = spec
                .read_write
                .iter()
                .chain(spec.overlay.as_ref().map(|o| &o.lower))
                .map(|p| path_of(p))
                .collect();
            Some(
                PreparedRuleset::build(abi, &rw, &spec.network)
                    .map_err(|e| Fail::Error(e.to_string()))?,
            )
        }
        None => None,
    };
    // A pipe whose write end only this process holds: PID 1 sees EOF on it if we die
    // before it has armed its parent-death signal.
    let (alive_r, alive_w) = pipe().map_err(|e| error("creating a pipe".into(), e))?;
    // SAFETY: this process is single-threaded (a fresh exec, no threads started), so the
    // child may run arbitrary code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(error(
            "forking the namespace's first process".into(),
            io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        drop(alive_w);
        let code = init(spec, ruleset.as_ref(), report, &alive_r);
        std::process::exit(code);
    }
    drop(alive_r);
    drop(ruleset);
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            break;
        }
    }
    drop(alive_w);
    Ok(())
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both were just created.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Returns whether a user namespace was needed.
fn enter_namespaces(spec: &HelperSpec) -> Result<bool, Fail> {
    let mut base = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC;
    // No network: a namespace of its own with only a loopback that stays down.
    if spec.network == super::Network::None {
        base |= libc::CLONE_NEWNET;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    // Root unshares the mount namespace directly (it has CAP_SYS_ADMIN); everyone else
    // (and root without that capability, e.g. in a container) goes through a user
    // namespace that maps only its own ids.
    let tries: &[bool] = if root { &[false, true] } else { &[true] };
    let mut last = None;
    for &userns in tries {
        let flags = if userns {
            base | libc::CLONE_NEWUSER
        } else {
            base
        };
        // SAFETY: unshare on a single-threaded process.
        if unsafe { libc::unshare(flags) } == 0 {
            if userns {
                write_id_maps(spec)?;
            }
            return make_private().map(|()| userns);
        }
        last = Some(io::Error::last_os_error());
    }
    Err(unavailable(
        "creating private namespaces (unshare)",
        last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EPERM)),
    ))
}

fn write_id_maps(spec: &HelperSpec) -> Result<(), Fail> {
    let w = |path: &str, text: String| {
        std::fs::write(path, text).map_err(|e| unavailable(&format!("writing {path}"), e))
    };
    w("/proc/self/setgroups", "deny".into())?;
    w("/proc/self/uid_map", format!("{0} {0} 1\n", spec.uid))?;
    w("/proc/self/gid_map", format!("{0} {0} 1\n", spec.gid))
}

fn make_private() -> Result<(), Fail> {
    // SAFETY: mount(2) with static strings and no data.
    let r = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(unavailable(
            "making mounts private",
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn open_tree(path: &CStr) -> io::Result<OwnedFd> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | libc::AT_RECURSIVE as libc::c_uint
        | libc::AT_SYMLINK_NOFOLLOW as libc::c_uint;
    // SAFETY: open_tree with a valid C string; returns a new descriptor or -1.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

fn mount_setattr(dirfd: RawFd, path: &CStr, flags: libc::c_uint, set: u64) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr with a valid struct and its size.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn move_mount(from: &OwnedFd, to: &CStr) -> io::Result<()> {
    // SAFETY: move_mount of a detached tree (by descriptor) onto a path.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn mount(
    source: &CStr,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    // SAFETY: mount(2) with valid C strings (or NULL).
    let ret = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.map_or(std::ptr::null(), CStr::as_ptr),
            flags,
            data.map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One step of building the view, applied shallowest path first.
enum Step {
    /// Put a cloned tree back at its path.
    Place { fd: OwnedFd, is_dir: bool },
    /// Replace a folder by an empty private tmpfs.
    Hide,
    /// Cover a folder with an empty read-only tmpfs (`.autonomy/` in a view).
    Seal,
    /// Cover a file by `/dev/null`.
    Mask,
}

fn depth(p: &Path) -> usize {
    p.components().count()
}

fn is_under(p: &Path, ancestor: &Path) -> bool {
    p.starts_with(ancestor)
}

/// A step of building the view at its path, with its rank among steps at the same depth.
type Planned = (PathBuf, u8, Step);

fn build_view(spec: &HelperSpec, sockets: &[PathBuf], userns: bool) -> Result<(), Fail> {
    let rw: Vec<PathBuf> = spec.read_write.iter().map(|p| path_of(p)).collect();
    let hide: Vec<PathBuf> = spec.hide.iter().map(|p| path_of(p)).collect();
    let mut steps: Vec<Planned> = Vec::new();
    // The copy-on-write view first, while every layer is still reachable and writable.
    let view_at = spec.overlay.as_ref().map(|o| path_of(&o.lower));
    if let Some(o) = &spec.overlay {
        view_steps(o, userns, &mut steps)?;
    }
    let ro = kept_read_only(spec, &rw, &hide, view_at.as_deref());
    // Clone before anything changes the view.
    clone_kept(&rw, &ro, &mut steps)?;
    // Everything else read-only, set-id bits ignored.
    mount_setattr(
        libc::AT_FDCWD,
        c"/",
        libc::AT_RECURSIVE as libc::c_uint,
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
    )
    .map_err(|e| error("making the file system read-only".into(), e))?;
    // A hidden folder wins over a kept tree at the same path (an --allow-write /tmp
    // does not bring back the user's sockets).
    for h in &hide {
        steps.push((h.clone(), 2, Step::Hide));
    }
    for m in spec
        .mask
        .iter()
        .map(|p| path_of(p))
        .chain(sockets.iter().cloned())
    {
        steps.push((m, 3, Step::Mask));
    }
    steps.sort_by(|a, b| depth(&a.0).cmp(&depth(&b.0)).then(a.1.cmp(&b.1)));
    apply_steps(steps)
}

/// The trees put back read-only: the visible ones a hidden folder covers or a writable
/// tree holds, and the reachable ones (and, when `/dev` is hidden, its harmless devices)
/// that a hidden folder covers, unless a kept tree or the view already holds them.
fn kept_read_only(
    spec: &HelperSpec,
    rw: &[PathBuf],
    hide: &[PathBuf],
    view_at: Option<&Path>,
) -> Vec<PathBuf> {
    let mut ro: Vec<PathBuf> = Vec::new();
    let hidden = |v: &Path| hide.iter().any(|h| is_under(v, h));
    let in_view = |v: &Path| view_at.is_some_and(|t| is_under(v, t));
    for v in spec.visible.iter().map(|p| path_of(p)) {
        if in_view(&v) {
            continue;
        }
        // Kept when a hidden folder covers it or a writable tree holds it (where it must
        // be made read-only again), unless another kept tree already does.
        let covered = ro.iter().any(|o| is_under(&v, o));
        let needed = hidden(&v) || rw.iter().any(|w| is_under(&v, w) && w != &v);
        if !covered && needed {
            ro.push(v);
        }
    }
    let dev_hidden = hide.iter().any(|h| h == Path::new("/dev"));
    let devices = DEV_FILES
        .iter()
        .map(PathBuf::from)
        .filter(|d| dev_hidden && d.exists());
    for v in spec.reachable.iter().map(|p| path_of(p)).chain(devices) {
        let covered = ro.iter().chain(rw).any(|o| is_under(&v, o)) || in_view(&v);
        if !covered && hidden(&v) {
            ro.push(v);
        }
    }
    ro
}

/// Clones the writable trees (`rw`, staying writable) and the read-only ones (`ro`) as
/// detached mounts, to be placed back once the rest is read-only and hidden.
fn clone_kept(rw: &[PathBuf], ro: &[PathBuf], steps: &mut Vec<Planned>) -> Result<(), Fail> {
    for (path, writable) in rw
        .iter()
        .map(|p| (p, true))
        .chain(ro.iter().map(|p| (p, false)))
    {
        let c = cstr(path.as_os_str().as_bytes())?;
        let fd =
            open_tree(&c).map_err(|e| error(format!("keeping {} visible", path.display()), e))?;
        let meta = File::from(fd.try_clone().map_err(|e| error("dup".into(), e))?)
            .metadata()
            .map_err(|e| error(format!("reading {}", path.display()), e))?;
        let set = if writable {
            MOUNT_ATTR_NOSUID
        } else {
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID
        };
        mount_setattr(
            fd.as_raw_fd(),
            c"",
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            set,
        )
        .map_err(|e| error(format!("setting up {}", path.display()), e))?;
        // Read-only trees go after writable ones at the same depth, so that a path that
        // is both ends up read-only.
        steps.push((
            path.clone(),
            if writable { 0 } else { 1 },
            Step::Place {
                fd,
                is_dir: meta.is_dir(),
            },
        ));
    }
    Ok(())
}

/// Carries out the sorted steps, shallowest path first.
fn apply_steps(steps: Vec<Planned>) -> Result<(), Fail> {
    let tmpfs_opts =
        CString::new(TMPFS_OPTIONS).map_err(|_| Fail::Error("tmpfs options".into()))?;
    let dev_opts = c"mode=755,size=1m,nr_inodes=1024".to_owned();
    for (path, _, step) in steps {
        let c = cstr(path.as_os_str().as_bytes())?;
        match step {
            Step::Place { fd, is_dir } => {
                ensure_mountpoint(&path, is_dir)?;
                move_mount(&fd, &c)
                    .map_err(|e| error(format!("mounting {}", path.display()), e))?;
            }
            Step::Seal => {
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    seal(&path, &c)?;
                }
            }
            Step::Hide => hide_folder(&path, &c, &dev_opts, &tmpfs_opts)?,
            Step::Mask => mask(&path, &c)?,
        }
    }
    Ok(())
}

/// An empty read-only tmpfs over the folder `path` (`c`).
fn seal(path: &Path, c: &CStr) -> Result<(), Fail> {
    mount(
        c"tmpfs",
        c,
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | libc::MS_RDONLY,
        Some(c"mode=755,size=4k,nr_inodes=1"),
    )
    .map_err(|e| error(format!("sealing {}", path.display()), e))
}

/// An empty private tmpfs over the folder `path` (`c`); `/dev` is then given its
/// harmless devices back.
fn hide_folder(path: &Path, c: &CStr, dev_opts: &CStr, tmpfs_opts: &CStr) -> Result<(), Fail> {
    // Hidden already by a shallower hide, or not a folder: nothing to do.
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let opts = if path == Path::new("/dev") {
        dev_opts
    } else {
        tmpfs_opts
    };
    mount(
        c"tmpfs",
        c,
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(opts),
    )
    .map_err(|e| error(format!("hiding {}", path.display()), e))?;
    // Before anything deeper is put back (a workspace in /dev/shm).
    if path == Path::new("/dev") {
        populate_dev(tmpfs_opts)?;
    }
    Ok(())
}

/// Covers a file (a socket, the lock) with `/dev/null`, a folder (a state folder) with
/// an empty read-only tmpfs; a symlink or a missing path is left alone.
fn mask(path: &Path, c: &CStr) -> Result<(), Fail> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    if meta.is_dir() {
        return seal(path, c);
    }
    mount(c"/dev/null", c, None, libc::MS_BIND, None)
        .map_err(|e| error(format!("covering {}", path.display()), e))
}

/// The steps that mount a copy-on-write view at the workspace's path: the overlay
/// (writable), the real `read_only` subtrees over it, empty read-only tmpfs over the
/// `sealed` folders and over every other place where the real workspace still shows.
fn view_steps(
    o: &super::overlay::OverlaySpec,
    userns: bool,
    steps: &mut Vec<Planned>,
) -> Result<(), Fail> {
    let target = path_of(&o.lower);
    let aliases = super::overlay::aliases(&target);
    let fd = super::overlay::create(o, userns).map_err(Fail::Overlay)?;
    steps.push((target.clone(), 0, Step::Place { fd, is_dir: true }));
    for p in o.read_only.iter().map(|p| path_of(p)) {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let c = cstr(p.as_os_str().as_bytes())?;
        let fd = open_tree(&c).map_err(|e| error(format!("keeping {} visible", p.display()), e))?;
        mount_setattr(
            fd.as_raw_fd(),
            c"",
            (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID,
        )
        .map_err(|e| error(format!("making {} read-only", p.display()), e))?;
        steps.push((
            p,
            1,
            Step::Place {
                fd,
                is_dir: meta.is_dir(),
            },
        ));
    }
    for p in o.sealed.iter().map(|p| path_of(p)).chain(aliases) {
        steps.push((p, 2, Step::Seal));
    }
    Ok(())
}

/// The rest of a rebuilt `/dev`: the `/proc/self/fd` links, an empty private `/dev/shm`,
/// an empty `/dev/pts` (no terminal of the user's is reachable).
fn populate_dev(tmpfs_opts: &CStr) -> Result<(), Fail> {
    let mk = |what: &str, r: io::Result<()>| match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(error(format!("creating /dev/{what}"), e)),
    };
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        mk(
            name,
            std::os::unix::fs::symlink(target, Path::new("/dev").join(name)),
        )?;
    }
    mk("pts", std::fs::create_dir("/dev/pts"))?;
    mk("shm", std::fs::create_dir("/dev/shm"))?;
    mount(
        c"tmpfs",
        c"/dev/shm",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(tmpfs_opts),
    )
    .map_err(|e| error("mounting /dev/shm".into(), e))
}

/// Creates the mount point for a kept tree inside a private tmpfs when it is missing.
fn ensure_mountpoint(path: &Path, is_dir: bool) -> Result<(), Fail> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(());
    }
    let mk = || -> io::Result<()> {
        if is_dir {
            std::fs::create_dir_all(path)
        } else {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            File::create(path).map(drop)
        }
    };
    mk().map_err(|e| error(format!("creating the mount point {}", path.display()), e))
}

/// Paths of the pathname Unix sockets bound in this network namespace that exist as
/// sockets now (`/proc/net/unix`); abstract ones (`@name`) are Landlock's to scope.
fn listening_sockets() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read("/proc/net/unix") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for line in text.split(|&b| b == b'\n').skip(1) {
        // Num RefCount Protocol Flags Type St Inode Path (the path may hold spaces).
        let mut rest = line;
        let mut fields = 0;
        while fields < 7 {
            let trimmed = trim_start(rest);
            let Some(end) = trimmed.iter().position(|&b| b == b' ') else {
                rest = &[];
                break;
            };
            rest = &trimmed[end..];
            fields += 1;
        }
        let path = trim_start(rest);
        if path.first() != Some(&b'/') {
            continue;
        }
        let p = PathBuf::from(OsString::from_vec(path.to_vec()));
        let is_socket = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_socket());
        if is_socket && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ').count();
    &b[n..]
}

/// The namespace's PID 1: arms its parent-death signal, mounts a fresh `/proc`, starts
/// the command, reaps everything, reports the command's status, and exits, which makes
/// the kernel kill whatever is left in the namespace. Returns the exit code.
fn init(
    spec: &HelperSpec,
    ruleset: Option<&PreparedRuleset>,
    report: &mut File,
    alive: &OwnedFd,
) -> i32 {
    if !arm_parent_death(alive) {
        return 1;
    }
    // A /proc of this PID namespace: outside processes are not even listed. Where the
    // kernel refuses (a masked /proc in a container), the read-only old one stays; the
    // PID namespace and Landlock still keep the command from signalling or tracing them.
    let _ = mount(
        c"proc",
        c"/proc",
        Some(c"proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    );
    let _ = std::env::set_current_dir("/");
    let mut cmd = command_of(spec);
    let rlimit = spec.rlimit_as.map(super::runner::child_rlimit);
    let ruleset_fd = ruleset.map(PreparedRuleset::raw_fd);
    let filter = match super::seccomp::filter(&spec.network) {
        Ok(f) => f,
        Err(e) => {
            send(report, b'E', e.to_string().as_bytes());
            return 1;
        }
    };
    // SAFETY: this process is single-threaded; the closure only makes system calls.
    // no_new_privs and no capabilities whether or not there is a Landlock ruleset; the
    // socket filter last.
    unsafe {
        cmd.pre_exec(move || {
            super::runner::child_setup(rlimit, ruleset_fd, true, Some(filter.as_slice()))
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            send(
                report,
                b'E',
                format!("cannot run {}: {e}", path_of(&spec.program).display()).as_bytes(),
            );
            return 1;
        }
    };
    reap_all(child.id() as libc::pid_t, report)
}

/// Arms PID 1's parent-death signal; false when the helper already died (its end of the
/// `alive` pipe is closed), so that nothing is started.
fn arm_parent_death(alive: &OwnedFd) -> bool {
    // SAFETY: prctl on integers.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // If the helper already died, its end of the pipe is closed: EOF, not EAGAIN.
    // SAFETY: a non-blocking read into a local buffer.
    unsafe {
        let fl = libc::fcntl(alive.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(alive.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        let mut b = 0u8;
        libc::read(alive.as_raw_fd(), (&mut b as *mut u8).cast(), 1) != 0
    }
}

/// The command as the spec describes it (program, argv, environment, cwd), its stdin
/// the terminal's or `/dev/null`, its output this process's.
fn command_of(spec: &HelperSpec) -> Command {
    let mut cmd = Command::new(path_of(&spec.program));
    let argv: Vec<OsString> = spec
        .argv
        .iter()
        .map(|a| OsString::from_vec(a.clone()))
        .collect();
    if let Some(a0) = argv.first() {
        cmd.arg0(a0);
    }
    cmd.args(argv.iter().skip(1)).env_clear();
    for kv in &spec.env {
        let (k, v) = match kv.iter().position(|&b| b == b'=') {
            Some(i) => (&kv[..i], &kv[i + 1..]),
            None => (&kv[..], &[][..]),
        };
        cmd.env(OsStr::from_bytes(k), OsStr::from_bytes(v));
    }
    let stdin = if spec.stdin_fd.is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    };
    cmd.current_dir(path_of(&spec.cwd))
        .stdin(stdin)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    cmd
}

/// Reaps every process of the namespace (PID 1 adopts orphans) until the command
/// `cmd_pid` ends, then reports its wait status and usage. Returns PID 1's exit code.
fn reap_all(cmd_pid: libc::pid_t, report: &mut File) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain old data.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: waiting for any child of ours (PID 1 adopts orphans).
        let pid = unsafe { libc::wait4(-1, &mut status, 0, &mut usage) };
        if pid == cmd_pid {
            let mut msg = Vec::with_capacity(28);
            msg.extend_from_slice(&status.to_le_bytes());
            msg.extend_from_slice(&micros(usage.ru_utime).to_le_bytes());
            msg.extend_from_slice(&micros(usage.ru_stime).to_le_bytes());
            msg.extend_from_slice(&u64::try_from(usage.ru_maxrss).unwrap_or(0).to_le_bytes());
            send(report, b'S', &msg);
            return 0;
        }
        if pid < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return 1;
        }
    }
}

fn micros(tv: libc::timeval) -> u64 {
    u64::try_from(tv.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(tv.tv_usec).unwrap_or(0)
}
