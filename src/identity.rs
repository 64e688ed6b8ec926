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
