//! The acting identity: `AUTONOMY_ACTOR`, else git's `user.email` for the workspace, else
//! `login@hostname` (the login from the password database when `$USER` is unset).

use std::path::Path;
use std::process::{Command, Stdio};

pub fn acting_identity(root: &Path) -> String {
    if let Ok(actor) = std::env::var("AUTONOMY_ACTOR")
        && !actor.trim().is_empty()
    {
        return clean(&actor);
    }
    if let Some(email) = git_email(root) {
        return email;
    }
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| whoami::username().ok())
        .unwrap_or_else(|| "unknown".into());
    let host = whoami::hostname().unwrap_or_else(|_| "localhost".into());
    clean(&format!("{user}@{host}"))
}

fn git_email(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["config", "user.email"])
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let email = String::from_utf8(out.stdout).ok()?;
    let email = email.trim();
    (out.status.success() && !email.is_empty()).then(|| clean(email))
}

/// Identities end up in approval statements and logs: keep them to one printable line.
pub fn clean(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
        .take(200)
        .collect()
}

/// The login name of `uid` from the password database (NSS), if it has one.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `passwd` is plain data that getpwuid_r fills in; its string pointers
        // point into `buf`, which outlives every use of them below.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let ret = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut found,
            )
        };
        if ret == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if ret != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: a non-null pw_name is a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some(clean(&name.to_string_lossy())).filter(|n| !n.is_empty());
    }
}

/// The operating-system user running this process (real uid) and its login name: what a
/// terminal approval records beside the identity it claims, since `--as` can claim any.
pub fn os_user() -> (u32, Option<String>) {
    let uid = rustix::process::getuid().as_raw();
    (uid, user_name(uid))
}
