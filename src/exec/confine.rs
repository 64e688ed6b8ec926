//! Landlock detection and write-confinement rulesets applied to child processes.
//!
//! The ruleset is fully built in the parent (paths opened, rules added) and
//! only its file descriptor crosses `fork`: the child performs two raw system
//! calls, `prctl(PR_SET_NO_NEW_PRIVS)` and `landlock_restrict_self`, both
//! async-signal-safe and allocation-free. The ruleset fd is close-on-exec
//! (the kernel always sets `O_CLOEXEC` on it), so it does not leak into the
//! command.

use std::fs::OpenOptions;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, NetPort, PathBeneath, Ruleset,
    RulesetAttr, Scope,
};
use landlock::{RulesetCreated, RulesetCreatedAttr};

use super::{ExecError, Network};

/// The first Landlock ABI that can restrict TCP connect and bind (Linux 6.7).
pub(super) const NET_ABI: i32 = 4;

/// Environment variable that, when set to `off`, makes [`landlock_status`]
/// report Landlock as unavailable (used to exercise the fallback paths).
pub const LANDLOCK_ENV_VAR: &str = "AUTONOMY_LANDLOCK";

/// Whether the running kernel can enforce Landlock rulesets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LandlockStatus {
    /// Landlock works; `abi` is the kernel's ABI version (1 = Linux 5.13, ...).
    Available {
        /// Kernel Landlock ABI version.
        abi: i32,
    },
    /// Landlock cannot be used.
    Unavailable {
        /// Human-readable reason.
        reason: String,
    },
}

/// Probes the kernel's Landlock ABI, honouring `AUTONOMY_LANDLOCK=off`.
pub fn landlock_status() -> LandlockStatus {
    if std::env::var_os(LANDLOCK_ENV_VAR).is_some_and(|v| v.eq_ignore_ascii_case("off")) {
        return LandlockStatus::Unavailable {
            reason: format!("disabled by {LANDLOCK_ENV_VAR}=off"),
        };
    }
    kernel_abi()
}

fn kernel_abi() -> LandlockStatus {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: a NULL attribute pointer with size 0 and the VERSION flag is the
    // documented way to query the ABI; no memory is read or written.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if ret >= 1 {
        return LandlockStatus::Available {
            abi: i32::try_from(ret).unwrap_or(i32::MAX),
        };
    }
    let err = io::Error::last_os_error();
    let reason = match err.raw_os_error() {
        Some(libc::ENOSYS) => "Landlock is not built into this kernel".to_owned(),
        Some(libc::EOPNOTSUPP) => {
            "Landlock is built in but not enabled (missing from the lsm= boot list)".to_owned()
        }
        _ => format!("Landlock ABI probe failed: {err}"),
    };
    LandlockStatus::Unavailable { reason }
}

/// A created Landlock ruleset, ready to be enforced in a child.
#[derive(Debug)]
pub(super) struct PreparedRuleset {
    fd: OwnedFd,
}

impl PreparedRuleset {
    /// Builds a ruleset that handles every write-type right known to `abi`
    /// and grants them only beneath `read_write` and on `/dev/null`. From ABI 6 on it
    /// also scopes abstract Unix sockets and signals to the command's own domain: it
    /// cannot connect to an abstract socket another process listens on, nor signal a
    /// process outside. (Ptrace of outside processes is refused at every ABI.)
    /// Paths are opened without following a final symlink. With [`Network::Tcp`] it also
    /// handles TCP bind and connect and allows only connecting to the listed ports; a
    /// kernel without that (ABI < 4) is an error, never a silent pass.
    pub(super) fn build(
        abi_version: i32,
        read_write: &[PathBuf],
        network: &Network,
    ) -> Result<Self, ExecError> {
        let abi = ABI::from(abi_version);
        let write = AccessFs::from_write(abi);
        let file_rights = AccessFs::from_file(abi);
        let scopes = Scope::from_all(abi);
        let mut ruleset = Ruleset::default()
            .set_compatibility(CompatLevel::HardRequirement)
            .handle_access(write)?;
        if !scopes.is_empty() {
            ruleset = ruleset.scope(scopes)?;
        }
        let ports: &[u16] = match network {
            Network::Tcp { connect_ports } => {
                if abi_version < NET_ABI {
                    return Err(net_unavailable(abi_version));
                }
                ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
                connect_ports
            }
            Network::None | Network::Host => &[],
        };
        let mut created: RulesetCreated = ruleset.create()?;
        for &port in ports {
            created = created.add_rule(NetPort::new(port, AccessNet::ConnectTcp))?;
        }
        let dev_null = Path::new("/dev/null");
        let extra = dev_null.exists().then_some(dev_null);
        for path in read_write.iter().map(PathBuf::as_path).chain(extra) {
            let path_err = |source| ExecError::ConfinementPath {
                path: path.to_path_buf(),
                source,
            };
            let file = OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_PATH | libc::O_NOFOLLOW)
                .open(path)
                .map_err(path_err)?;
            let meta = file.metadata().map_err(path_err)?;
            if meta.file_type().is_symlink() {
                return Err(path_err(io::Error::from_raw_os_error(libc::ELOOP)));
            }
            let access = if meta.is_dir() {
                write
            } else {
                write & file_rights
            };
            created = created.add_rule(PathBeneath::new(file, access))?;
        }
        let fd: Option<OwnedFd> = created.into();
        match fd {
            Some(fd) => Ok(Self { fd }),
            None => Err(ExecError::LandlockUnavailable {
                reason: "the kernel did not create a ruleset".to_owned(),
            }),
        }
    }

    /// Raw descriptor to hand to [`restrict_self`] in the child.
    pub(super) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Why TCP ports cannot be restricted with Landlock ABI `abi`.
pub(super) fn net_unavailable(abi: i32) -> ExecError {
    ExecError::Network {
        reason: format!(
            "limiting TCP to given ports needs Landlock ABI {NET_ABI} (Linux 6.7 or later); this kernel has ABI {abi}. Nothing ran; run it with no network or the host's network instead"
        ),
    }
}

/// Enforces the ruleset `fd` on the calling (single-threaded, post-fork)
/// process. Async-signal-safe: two system calls, no allocation.
pub(super) fn restrict_self(fd: RawFd) -> io::Result<()> {
    rustix::thread::set_no_new_privs(true)?;
    // SAFETY: plain system call on a valid ruleset fd with flags 0.
    let ret = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0 as libc::c_uint) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
