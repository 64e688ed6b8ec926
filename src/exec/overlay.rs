//! The helper's half of a copy-on-write view (the view layer above reads it): an overlay
//! file system whose read-only lower layer is the workspace, mounted at the workspace's own
//! path inside the command's private mount namespace.
//!
//! Built with the new mount API (`fsopen("overlay")`, `fsconfig`, `fsmount`) into a
//! detached mount that `build_view` then places like any kept tree, before the rest of
//! the file system is made read-only. Layers are named by `/proc/self/fd/N` of `O_PATH`
//! descriptors, so no path needs the option syntax's escaping. Options: `index=off`,
//! `metacopy=off`, `redirect_dir=nofollow` (the upper layer then holds only whole files,
//! char-device whiteouts and opaque folders, which the view layer reads back), plus
//! `userxattr` inside a user namespace.
//!
//! Around the overlay: the real subtrees listed in `read_only` (`.git`) are bound read-only
//! over it; the folders in `sealed` (`.autonomy/`) are covered with an empty read-only
//! tmpfs; and every other mount through which the real workspace folder would still show
//! (a bind mount of its file system elsewhere) gets an empty read-only tmpfs at that spot.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The layers of a view, as the caller gives them to [`super::run_in_view`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayLayers {
    /// The workspace: the read-only lower layer, and where the view is mounted.
    pub lower: PathBuf,
    /// The upper layer (must be empty or a previous upper of the same view).
    pub upper: PathBuf,
    /// Overlay's work folder: empty, on the same file system as `upper`.
    pub work: PathBuf,
    /// Real subtrees bound read-only over the view at their own paths (`.git`).
    pub read_only: Vec<PathBuf>,
    /// Folders inside the view covered with an empty read-only tmpfs (`.autonomy`).
    pub sealed: Vec<PathBuf>,
}

/// [`OverlayLayers`] as the helper receives it (canonical paths as bytes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OverlaySpec {
    pub lower: Vec<u8>,
    pub upper: Vec<u8>,
    pub work: Vec<u8>,
    pub read_only: Vec<Vec<u8>>,
    pub sealed: Vec<Vec<u8>>,
}

/// Environment variable that, when set to `off`, makes the kernel's overlay file system
/// count as unavailable, so views fall back to a scratch copy (like `AUTONOMY_NAMESPACES`).
pub const OVERLAY_ENV_VAR: &str = "AUTONOMY_OVERLAY";

/// Whether overlay views are switched off by [`OVERLAY_ENV_VAR`]; the reason when so.
pub fn overlay_disabled() -> Option<String> {
    std::env::var_os(OVERLAY_ENV_VAR)
        .is_some_and(|v| v.eq_ignore_ascii_case("off"))
        .then(|| format!("disabled by {OVERLAY_ENV_VAR}=off"))
}

const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;

fn open_path(p: &[u8]) -> io::Result<OwnedFd> {
    let c = CString::new(p.to_vec()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: open with a valid C string; returns a new descriptor or -1.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fsconfig(
    fs: RawFd,
    cmd: libc::c_uint,
    key: Option<&str>,
    value: Option<&str>,
) -> io::Result<()> {
    let key = key.map(|k| CString::new(k).unwrap_or_default());
    let value = value.map(|v| CString::new(v).unwrap_or_default());
    // SAFETY: fsconfig with valid C strings (or NULL) and aux 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs,
            cmd,
            key.as_ref().map_or(std::ptr::null(), |k| k.as_ptr()),
            value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            0,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The kernel's own messages about a failed configuration (read from the fs context).
fn kernel_log(fs: &OwnedFd) -> String {
    // SAFETY: make the descriptor non-blocking; it is ours.
    unsafe {
        let fl = libc::fcntl(fs.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fs.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let Ok(dup) = fs.try_clone() else {
        return String::new();
    };
    let mut f = File::from(dup);
    let mut msgs = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..16 {
        match f.read(&mut buf) {
            Ok(n) if n > 0 => {
                let line = String::from_utf8_lossy(&buf[..n]);
                msgs.push(line.trim_start_matches("e ").trim().to_owned());
            }
            _ => break,
        }
    }
    msgs.join("; ")
}

/// Creates the overlay as a detached mount. `Err` carries why the kernel refused it.
pub(super) fn create(spec: &OverlaySpec, userns: bool) -> Result<OwnedFd, String> {
    if let Some(why) = overlay_disabled() {
        return Err(why);
    }
    let lower = open_path(&spec.lower).map_err(|e| format!("opening the workspace: {e}"))?;
    let upper = open_path(&spec.upper).map_err(|e| format!("opening the upper layer: {e}"))?;
    let work = open_path(&spec.work).map_err(|e| format!("opening the work folder: {e}"))?;
    let fd_path = |fd: &OwnedFd| format!("/proc/self/fd/{}", fd.as_raw_fd());
    // SAFETY: fsopen with a static C string.
    let ret = unsafe { libc::syscall(libc::SYS_fsopen, c"overlay".as_ptr(), FSOPEN_CLOEXEC) };
    if ret < 0 {
        return Err(format!(
            "the kernel has no overlay file system here (fsopen: {})",
            io::Error::last_os_error()
        ));
    }
    // SAFETY: the kernel just returned this descriptor.
    let fs = unsafe { OwnedFd::from_raw_fd(ret as RawFd) };
    let set = |k: &str, v: &str| {
        fsconfig(fs.as_raw_fd(), FSCONFIG_SET_STRING, Some(k), Some(v))
            .map_err(|e| format!("overlay option {k}={v}: {e}"))
    };
    set("lowerdir", &fd_path(&lower))?;
    set("upperdir", &fd_path(&upper))?;
    set("workdir", &fd_path(&work))?;
    set("index", "off")?;
    set("metacopy", "off")?;
    set("redirect_dir", "nofollow")?;
    if userns {
        fsconfig(fs.as_raw_fd(), FSCONFIG_SET_FLAG, Some("userxattr"), None)
            .map_err(|e| format!("overlay option userxattr: {e}"))?;
    }
    if let Err(e) = fsconfig(fs.as_raw_fd(), FSCONFIG_CMD_CREATE, None, None) {
        let log = kernel_log(&fs);
        return Err(if log.is_empty() {
            format!("mounting the overlay: {e} (the kernel log may say more)")
        } else {
            format!("mounting the overlay: {e} ({log})")
        });
    }
    // SAFETY: fsmount on the configured context.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        )
    };
    if ret < 0 {
        return Err(format!(
            "mounting the overlay (fsmount): {}",
            io::Error::last_os_error()
        ));
    }
    // SAFETY: the kernel just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// One line of `/proc/self/mountinfo`: device, root within its file system, mount point.
struct MountLine {
    dev: String,
    root: PathBuf,
    point: PathBuf,
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash).
fn unescape(field: &[u8]) -> PathBuf {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\'
            && i + 3 < field.len()
            && field[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = field[i + 1..i + 4]
                .iter()
                .fold(0u32, |a, b| a * 8 + u32::from(b - b'0'));
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

fn mountinfo() -> Vec<MountLine> {
    let Ok(text) = std::fs::read("/proc/self/mountinfo") else {
        return Vec::new();
    };
    text.split(|&b| b == b'\n')
        .filter_map(|line| {
            let f: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            (f.len() > 4).then(|| MountLine {
                dev: String::from_utf8_lossy(f[2]).into_owned(),
                root: unescape(f[3]),
                point: unescape(f[4]),
            })
        })
        .collect()
}

/// Other paths at which the folder `target`, or part of it, shows in this mount
/// namespace: for each mount of the same file system whose root holds `target`'s folder,
/// the spot where that folder appears; for each whose root lies inside it (a bind mount
/// of a subfolder, `.autonomy/` say), its mount point. Nested mounts shadowing such a spot
/// are not resolved (the spot is covered anyway).
pub(super) fn aliases(target: &Path) -> Vec<PathBuf> {
    let mounts = mountinfo();
    // The mount that holds `target`: the last-listed one with the longest mount point.
    let Some(home) = mounts.iter().filter(|m| target.starts_with(&m.point)).fold(
        None::<&MountLine>,
        |best, m| match best {
            Some(b) if b.point.components().count() > m.point.components().count() => Some(b),
            _ => Some(m),
        },
    ) else {
        return Vec::new();
    };
    let Ok(rest) = target.strip_prefix(&home.point) else {
        return Vec::new();
    };
    let in_fs = home.root.join(rest);
    let mut out: Vec<PathBuf> = Vec::new();
    for m in mounts.iter().filter(|m| m.dev == home.dev) {
        let spot = match in_fs.strip_prefix(&m.root) {
            Ok(under) => m.point.join(under),
            Err(_) if m.root.starts_with(&in_fs) => m.point.clone(),
            Err(_) => continue,
        };
        if spot != target && !out.contains(&spot) {
            out.push(spot);
        }
    }
    out
}
