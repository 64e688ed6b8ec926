//! The seccomp filter every confined run gets: `socket(2)` is refused (`EACCES`) for every
//! address family the run's [`Network`] does not need. Unix sockets are never allowed,
//! so a confined command reaches no other process through a socket, whether it was bound
//! before the run started (those are also covered by `/dev/null`), after it, or in the
//! abstract namespace (which Landlock scopes only from ABI 6). `socketpair(2)` stays
//! allowed (pipes and IPC inside the run). `io_uring_setup(2)` is refused too: an
//! io_uring `IORING_OP_SOCKET` would create a socket without the `socket` call.
//!
//! Built (allocating) before the fork, installed in the child right before `exec`, after
//! `no_new_privs` ([`install`]: two system calls, no allocation). A filter that cannot be
//! built or installed stops the run: it fails closed.

use std::collections::BTreeMap;
use std::io;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::{ExecError, Network};

/// The x32 ABI's system-call bit on x86_64 (the same audit architecture, other numbers).
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// The address families a run on `network` may open sockets of.
fn allowed_families(network: &Network) -> &'static [i32] {
    match network {
        Network::None => &[],
        Network::Tcp { .. } | Network::Host => &[libc::AF_INET, libc::AF_INET6, libc::AF_NETLINK],
    }
}

/// The BPF program for `network`.
pub(super) fn filter(network: &Network) -> Result<BpfProgram, ExecError> {
    let err = |e: seccompiler::BackendError| ExecError::Isolation {
        reason: format!("building the seccomp filter: {e}"),
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| ExecError::Isolation {
        reason: format!("no seccomp filter for this architecture: {e}"),
    })?;
    // One rule: the family is none of the allowed ones (conditions are ANDed); no rule at
    // all: every call matches.
    let families = allowed_families(network);
    let socket_rules = if families.is_empty() {
        Vec::new()
    } else {
        let conds = families
            .iter()
            .map(|&f| SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Ne, f as u64))
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        vec![SeccompRule::new(conds).map_err(err)?]
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    rules.insert(libc::SYS_socket, socket_rules.clone());
    rules.insert(libc::SYS_io_uring_setup, Vec::new());
    if arch == TargetArch::x86_64 {
        rules.insert(X32_SYSCALL_BIT | libc::SYS_socket, socket_rules);
        rules.insert(X32_SYSCALL_BIT | libc::SYS_io_uring_setup, Vec::new());
    }
    let f = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        arch,
    )
    .map_err(err)?;
    BpfProgram::try_from(f).map_err(err)
}

/// Installs `program` on the calling thread (sets `no_new_privs` first). Async-signal-safe:
/// two system calls, no allocation.
pub(super) fn install(program: &[seccompiler::sock_filter]) -> io::Result<()> {
    match seccompiler::apply_filter(program) {
        Ok(()) => Ok(()),
        Err(seccompiler::Error::Seccomp(e) | seccompiler::Error::Prctl(e)) => Err(e),
        Err(_) => Err(io::Error::from_raw_os_error(libc::EINVAL)),
    }
}
