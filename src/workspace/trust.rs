//! Whose `.autonomy/` this is. A state folder decides what gets applied (its journal holds
//! the approvals, its signers file says whose signatures count), so autonomy uses one only
//! when the user running the command owns it, as git refuses another user's `.git/` since
//! CVE-2022-24765. `AUTONOMY_SAFE_DIRECTORIES` (colon-separated workspace paths, or `*`)
//! is the way out for deliberately shared workspaces, like git's `safe.directory`.
//!
//! Checked when a workspace is found, before anything in it is read:
//! - `.autonomy/` is a real folder (not a symlink) owned by the effective user;
//! - it is not writable by group or others (it is created 0700), so nobody else can put a
//!   journal, blob or signers file into it later;
//! - every entry directly in it (journal.db and its -wal/-shm files, objects/, lock,
//!   hashes, allowed_signers, runs/) is owned by the user or by root, and a symlink there
//!   leads to a file owned by the user or root (entries made before the folder was
//!   tightened, or hard links, cannot smuggle another user's file in);
//! - the workspace folder itself is not writable by every user without the sticky bit
//!   (anyone could rename `.autonomy/` away and put their own in its place).
//!
//! Root is held to the same rule: root refuses a state folder owned by `nobody`.

use crate::error::{Error, Result};
use crate::paths::STATE_DIR;
use rustix::fs::{AtFlags, CWD, Dir, FileType, Mode, OFlags, Stat, fstat, openat, statat};
use rustix::io::Errno;
use std::path::{Path, PathBuf};

/// The environment variable naming workspaces trusted whoever owns them.
pub const SAFE_ENV: &str = "AUTONOMY_SAFE_DIRECTORIES";

/// Refuse (exit 1) the workspace at `root` unless its state folder is the user's own, or
/// `AUTONOMY_SAFE_DIRECTORIES` lists it.
pub fn check(root: &Path) -> Result<()> {
    if safe_listed(root, std::env::var_os(SAFE_ENV).as_deref()) {
        return Ok(());
    }
    match first_problem(root, rustix::process::geteuid().as_raw())? {
        None => Ok(()),
        Some(p) => Err(Error::failed(p.message).hint(format!(
            "{}; or, if you trust this workspace, list it: `export {SAFE_ENV}={}` (colon-separated absolute workspace paths, or * for any). autonomy uses only a state folder you own, so that another user's journal, approvals or signers cannot decide what is applied on your behalf (as git refuses another user's .git)",
            p.fix,
            root.display()
        ))),
    }
}

/// Refuse (exit 1) a file in the state folder of the workspace at `root` (the signers file
/// the rules name, at any depth) that belongs to another user than the one running the
/// command or root, following symlinks, unless `AUTONOMY_SAFE_DIRECTORIES` lists the
/// workspace. A missing file is fine.
pub fn check_file(root: &Path, path: &Path) -> Result<()> {
    if safe_listed(root, std::env::var_os(SAFE_ENV).as_deref()) {
        return Ok(());
    }
    let st = match statat(CWD, path, AtFlags::empty()) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e.into())),
    };
    match foreign(&st, rustix::process::geteuid().as_raw(), path) {
        None => Ok(()),
        Some(p) => Err(Error::failed(p.message).hint(format!(
            "{}; or, if you trust this workspace, list it: `export {SAFE_ENV}={}`",
            p.fix,
            root.display()
        ))),
    }
}

/// Why a state folder is not trusted, and the fix that does not need the safe list.
#[derive(Debug)]
struct Problem {
    message: String,
    fix: String,
}

/// What makes the state folder at `root` untrustworthy for `uid`, or `None`.
fn first_problem(root: &Path, uid: u32) -> Result<Option<Problem>> {
    let state = root.join(STATE_DIR);
    let io = |what: &str, e: Errno| Error::io(format!("{what} {}", state.display()), e.into());
    let fd = match openat(
        CWD,
        &state,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::LOOP | Errno::NOTDIR) => {
            return Ok(Some(Problem {
                message: format!(
                    "{} is a symbolic link; autonomy keeps its state only in a real folder, which a link could swap for another user's",
                    state.display()
                ),
                fix: "replace the link with the folder it points to".into(),
            }));
        }
        Err(e) => return Err(io("opening", e)),
    };
    let st = fstat(&fd).map_err(|e| io("reading", e))?;
    if st.st_uid != uid {
        return Ok(Some(Problem {
            message: format!(
                "the workspace {} belongs to another user: {} is owned by {}, and you are {}",
                root.display(),
                state.display(),
                who(st.st_uid),
                who(uid)
            ),
            fix: format!("run the command as {}", who(st.st_uid)),
        }));
    }
    if st.st_mode & 0o022 != 0 {
        return Ok(Some(Problem {
            message: format!(
                "{} is writable by {} (mode {:04o}), who could replace its journal, approvals or signers; autonomy creates it 0700",
                state.display(),
                writable_by(st.st_mode),
                st.st_mode & 0o7777
            ),
            fix: format!("run `chmod 700 {}`", state.display()),
        }));
    }
    let dir = Dir::read_from(&fd).map_err(|e| io("listing", e))?;
    for entry in dir {
        let entry = entry.map_err(|e| io("listing", e))?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let shown = || state.join(String::from_utf8_lossy(name.to_bytes()).as_ref());
        let est = match statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => s,
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(io("reading", e)),
        };
        if let Some(p) = foreign(&est, uid, &shown()) {
            return Ok(Some(p));
        }
        if FileType::from_raw_mode(est.st_mode) == FileType::Symlink {
            match statat(&fd, name, AtFlags::empty()) {
                Ok(target) => {
                    if let Some(mut p) = foreign(&target, uid, &shown()) {
                        p.message.push_str(" (through the symbolic link)");
                        return Ok(Some(p));
                    }
                }
                Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR | Errno::ACCESS) => {}
                Err(e) => return Err(io("reading", e)),
            }
        }
    }
    let rst = statat(CWD, root, AtFlags::empty())
        .map_err(|e| Error::io(format!("reading {}", root.display()), e.into()))?;
    if rst.st_mode & 0o002 != 0 && rst.st_mode & 0o1000 == 0 {
        return Ok(Some(Problem {
            message: format!(
                "the workspace folder {} is writable by every user (mode {:04o}, no sticky bit): any of them could swap its .autonomy/ for their own",
                root.display(),
                rst.st_mode & 0o7777
            ),
            fix: format!("run `chmod o-w {}` (or `chmod +t`)", root.display()),
        }));
    }
    Ok(None)
}

/// An entry of the state folder owned by someone other than `uid` and root.
fn foreign(st: &Stat, uid: u32, path: &Path) -> Option<Problem> {
    (st.st_uid != uid && st.st_uid != 0).then(|| Problem {
        message: format!(
            "{} is owned by {}, not by you, {}: another user's file in the state folder could decide what is applied",
            path.display(),
            who(st.st_uid),
            who(uid)
        ),
        fix: format!("check where it came from, then remove it or `chown {uid} {}`", path.display()),
    })
}

fn writable_by(mode: u32) -> &'static str {
    match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "its group and every other user",
        (true, false) => "its group",
        _ => "every other user",
    }
}

/// `name (uid N)`, or `uid N` when the password database has no name for it.
fn who(uid: u32) -> String {
    match crate::util::identity::user_name(uid) {
        Some(name) => format!("{name} (uid {uid})"),
        None => format!("uid {uid}"),
    }
}

/// Whether `value` (the variable's value) lists `root`: `*` lists every workspace; other
/// entries are absolute paths, compared as written and with symlinks resolved. Empty and
/// relative entries list nothing.
fn safe_listed(root: &Path, value: Option<&std::ffi::OsStr>) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Some(value) = value else { return false };
    let real = std::fs::canonicalize(root).ok();
    let root = normal(root);
    value.as_bytes().split(|&b| b == b':').any(|entry| {
        if entry == b"*" {
            return true;
        }
        let entry = Path::new(std::ffi::OsStr::from_bytes(entry));
        if !entry.is_absolute() {
            return false;
        }
        let entry_norm = normal(entry);
        entry_norm == root
            || real
                .as_ref()
                .is_some_and(|r| std::fs::canonicalize(entry).is_ok_and(|e| &e == r))
    })
}

/// `path` without `.` components, repeated or trailing slashes (`..` is left alone: it is
/// resolved by `canonicalize` in the other comparison).
fn normal(path: &Path) -> PathBuf {
    path.components().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn safe_list_entries() {
        let root = Path::new("/srv/shared/ws");
        let listed = |v: &str| safe_listed(root, Some(OsStr::new(v)));
        assert!(listed("*"));
        assert!(listed("/srv/shared/ws"));
        assert!(listed("/srv/shared/ws/"));
        assert!(listed("/other:/srv/shared/ws"));
        assert!(listed("/srv/shared//ws/."));
        assert!(!listed(""));
        assert!(!listed("/srv/shared"));
        assert!(!listed("/srv/shared/ws2"));
        assert!(!listed("srv/shared/ws"));
        assert!(!listed("**"));
        assert!(!safe_listed(root, None));
    }

    #[test]
    fn own_state_folder_is_trusted_and_others_are_not() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let state = tmp.path().join(STATE_DIR);
        std::fs::create_dir(&state).expect("mkdir");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::fs::write(state.join("journal.db"), b"").expect("write");
        let me = rustix::process::geteuid().as_raw();
        let problem = |uid| {
            first_problem(tmp.path(), uid)
                .expect("check")
                .map(|p| p.message)
        };
        assert_eq!(problem(me), None);
        let other = problem(me + 1);
        assert!(
            other
                .as_deref()
                .is_some_and(|p| p.contains("belongs to another user")),
            "{other:?}"
        );
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o770)).expect("chmod");
        let loose = problem(me);
        assert!(
            loose
                .as_deref()
                .is_some_and(|p| p.contains("writable by its group")),
            "{loose:?}"
        );
    }
}
