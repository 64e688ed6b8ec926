//! Environments for confined commands: what never crosses into one, `PATH` without
//! relative entries, and the socket paths a variable names.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;

/// Variables that hand a process a way into another process of the user's session
/// (agents holding keys, terminal multiplexers, message buses, displays, credential
/// caches, editors' and terminals' remote-control sockets). They are never passed to a
/// confined command, whatever else is passed through.
pub const SCRUBBED_VARS: &[&str] = &[
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "GIT_ASKPASS",
    "GPG_AGENT_INFO",
    "TMUX",
    "TMUX_PANE",
    "TMUX_TMPDIR",
    "STY",
    "WINDOW",
    "ZELLIJ",
    "ZELLIJ_SESSION_NAME",
    "DBUS_SESSION_BUS_ADDRESS",
    "DBUS_SYSTEM_BUS_ADDRESS",
    "DBUS_STARTER_ADDRESS",
    "XDG_RUNTIME_DIR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "WAYLAND_SOCKET",
    "XAUTHORITY",
    "KRB5CCNAME",
    "DOCKER_HOST",
    "CONTAINER_HOST",
    "KITTY_LISTEN_ON",
    "KITTY_WINDOW_ID",
    "WEZTERM_UNIX_SOCKET",
    "ALACRITTY_SOCKET",
    "NVIM",
    "NVIM_LISTEN_ADDRESS",
    "EMACS_SOCKET_NAME",
    "I3SOCK",
    "SWAYSOCK",
    "HYPRLAND_INSTANCE_SIGNATURE",
    "VSCODE_IPC_HOOK",
    "VSCODE_IPC_HOOK_CLI",
    "VSCODE_GIT_IPC_HANDLE",
    "JUPYTER_RUNTIME_DIR",
];

/// Whether `name=value` must not reach a confined command: a listed variable, or one
/// whose value names a Unix socket that exists.
pub fn is_scrubbed(name: &OsStr, value: &OsStr) -> bool {
    SCRUBBED_VARS.iter().any(|v| OsStr::new(v) == name) || !socket_paths(name, value).is_empty()
}

/// The parent's environment minus [`is_scrubbed`] variables and minus `skip`, with `PATH`
/// reduced to absolute entries. Variables that are not UTF-8 are dropped.
pub fn passthrough_env(skip: &[&str]) -> Vec<(String, String)> {
    std::env::vars_os()
        .filter(|(k, v)| !is_scrubbed(k, v))
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            if k == "PATH" {
                let p = sanitize_path(OsStr::new(&v)).to_string_lossy().into_owned();
                (k, p)
            } else {
                (k, v)
            }
        })
        .collect()
}

/// `PATH` with empty and relative entries removed: they would resolve against whatever
/// folder the command happens to run in (the workspace), so a file there could stand in
/// for a system command.
pub fn sanitize_path(path: &OsStr) -> OsString {
    let kept: Vec<PathBuf> = std::env::split_paths(path)
        .filter(|p| p.is_absolute())
        .collect();
    std::env::join_paths(kept).unwrap_or_default()
}

/// Existing Unix sockets named by a variable's value: the whole value, the part after a
/// `unix:` / `unix:path=` prefix, or any `,` `;` `:`-separated piece that is an absolute
/// path to a socket (`TMUX=/tmp/tmux-0/default,123,0`, `GPG_AGENT_INFO=/run/..:1:1`).
pub fn socket_paths(_name: &OsStr, value: &OsStr) -> Vec<PathBuf> {
    let bytes = value.as_bytes();
    if !bytes.contains(&b'/') {
        return Vec::new();
    }
    let mut out = Vec::new();
    for piece in bytes.split(|b| matches!(b, b',' | b';' | b':' | b'=')) {
        if piece.first() != Some(&b'/') {
            continue;
        }
        let p = PathBuf::from(OsStr::from_bytes(piece));
        let is_socket = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_socket());
        if is_socket && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_entries_are_dropped() {
        let p = sanitize_path(OsStr::new("/usr/bin::.:bin:/bin:./x"));
        assert_eq!(p, OsString::from("/usr/bin:/bin"));
    }

    #[test]
    fn socket_values_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let tmux = format!("{},123,0", sock.display());
        assert_eq!(
            socket_paths(OsStr::new("X"), OsStr::new(&tmux)),
            vec![sock.clone()]
        );
        let dbus = format!("unix:path={},guid=1", sock.display());
        assert!(is_scrubbed(OsStr::new("ANY_NAME"), OsStr::new(&dbus)));
        assert!(is_scrubbed(OsStr::new("SSH_AUTH_SOCK"), OsStr::new("")));
        assert!(!is_scrubbed(OsStr::new("HOME"), dir.path().as_os_str()));
    }
}
