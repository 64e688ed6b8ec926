//! Red-team findings on what agent shell calls and captures may reach (issue: harden-exec):
//! read-only shell calls are decided by an allow-list of options and journaled; captures
//! have no network (a private network namespace, and no TCP/UDP sockets at all); no run
//! can create a Unix socket (seccomp), so sockets bound after the run started are out of
//! reach too; the fallback scratch copy cannot read the real `.autonomy/`.

use super::agents::{agent_calls, hook, hook_output, workspace};
use crate::common::{Env, skip};
use serde_json::json;
use std::io::ErrorKind;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

const PYTHON: &str = "/usr/bin/python3";

/// A folder outside every place the confinement hides (`/tmp`, `/run`...).
fn visible_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("harden-exec-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir in CARGO_TARGET_TMPDIR")
}

fn claude_shell(env: &Env, command: &str) -> serde_json::Value {
    json!({"session_id": "sess-h", "transcript_path": "/h/t.jsonl", "cwd": env.root,
           "permission_mode": "acceptEdits", "hook_event_name": "PreToolUse",
           "tool_name": "Bash", "tool_input": {"command": command},
           "tool_use_id": "toolu_h"})
}

/// `plan --capture -- bash -c SCRIPT` in `env`; `None` after a printed skip where this
/// machine cannot run captures.
fn capture(env: &Env, envs: &[(&str, &str)], script: &str) -> Option<std::process::Output> {
    let out = env
        .std_cmd()
        .envs(envs.iter().copied())
        .args([
            "plan",
            "--capture",
            "--allow-failure",
            "--",
            "bash",
            "-c",
            script,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("namespaces required but unavailable")
        || stderr.contains("Landlock confinement required but unavailable")
    {
        skip(&format!("captures cannot run here: {stderr}"));
        return None;
    }
    Some(out)
}

// ------------------------------------------------------------- 1. read-only allow-list

/// Options a reader does not list (rg's `--hostname-bin` runs a program) make the call a
/// capture, in every spelling; before, READERS was a deny-list and these were allowed to
/// run for real, with no plan and no journal entry.
#[test]
fn a_reader_with_an_unlisted_option_runs_as_a_capture_not_for_real() {
    let env = workspace("5s");
    env.write("deploy.sh", "#!/bin/sh\necho pwned > pwned\n");
    std::fs::set_permissions(
        env.path("deploy.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let before = env.tree();
    for cmd in [
        "rg --hostname-bin ./deploy.sh --hyperlink-format default --color always x",
        "rg --hostname-bin=./deploy.sh --hyperlink-format=default x",
        "rg -z x",
        "diff -l a b",
        "ls --unknown-option",
    ] {
        let (code, out, err) = hook_output(hook(&env, "claude", &claude_shell(&env, cmd)));
        assert_eq!(code, 0, "{cmd}: {err}");
        assert!(
            out.contains("\"deny\"") && out.contains("isolated view"),
            "`{cmd}` was allowed to run for real: {out:?} {err}"
        );
    }
    assert_eq!(env.tree(), before, "nothing changed for real");
    let outcomes: Vec<String> = agent_calls(&env)
        .iter()
        .map(|e| {
            e["data"]["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        outcomes.iter().all(|o| !o.starts_with("allowed")),
        "{outcomes:?}"
    );
}

/// Plain reading keeps working without a capture, and each allowed call is journaled.
#[test]
fn plain_reads_are_allowed_and_journaled() {
    let env = workspace("5s");
    env.write("a.txt", "a\nb\n");
    for cmd in [
        "ls -la",
        "grep -rn pat .",
        "cat a.txt",
        "head -n 5 a.txt",
        "wc -l a.txt",
    ] {
        let (code, out, err) = hook_output(hook(&env, "claude", &claude_shell(&env, cmd)));
        assert_eq!((code, out.as_str()), (0, ""), "{cmd}: {err}");
    }
    let calls = agent_calls(&env);
    let allowed = calls
        .iter()
        .filter(|e| e["data"]["outcome"] == "allowed: read-only")
        .count();
    assert_eq!(allowed, 5, "{calls:?}");
    assert_eq!(calls[0]["data"]["agent"], "claude", "{calls:?}");
    env.verify_ok();
}

// -------------------------------------------------------------------- 2. no network

/// A capture cannot reach a TCP service on 127.0.0.1 (such a service could run commands
/// or write the real workspace for it).
#[test]
fn a_capture_cannot_connect_to_a_local_tcp_service() {
    let env = Env::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "(exec 3<>/dev/tcp/127.0.0.1/{port}) && echo CONN\"\"ECTED; \
         {PYTHON} -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2); print(\"CONN\" + \"ECTED\")'; \
         {PYTHON} -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b\"x\", (\"127.0.0.1\", {port})); print(\"UDP-\" + \"SENT\")'; \
         echo do\"\"ne"
    );
    let Some(out) = capture(&env, &[], &script) else {
        return;
    };
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("done"), "{all}");
    assert!(!all.contains("CONNECTED"), "{all}");
    assert!(!all.contains("UDP-SENT"), "{all}");
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the capture reached the listener: {other:?}\n{all}"),
    }
}

// ------------------------------------------------------------ 3. Unix sockets (seccomp)

/// A Unix socket bound (in a folder the confinement does not hide, and in the abstract
/// namespace) only after the capture was set up is still out of reach: no run may create
/// a Unix socket at all; `socketpair` still works.
#[test]
fn a_unix_socket_made_after_the_capture_started_is_out_of_reach() {
    use std::os::linux::net::SocketAddrExt;
    let dir = visible_dir();
    let env = Env::new_in(dir.path());
    let sock = dir.path().join("late.sock");
    let abstract_name = format!("autonomy-harden-{}", crate::common::rand_suffix());
    let script = format!(
        r#"[ -S "{s}" ] || echo ABSENT-AT-""START
        for i in $(seq 100); do [ -S "{s}" ] && break; sleep 0.1; done
        sleep 0.3
        {PYTHON} - <<'PY'
import socket
for addr in ["{s}", "\0{a}"]:
    try:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(addr)
        print("CONN" + "ECTED", repr(addr))
    except OSError as e:
        print("refused", repr(addr), e)
a, b = socket.socketpair()
a.send(b"pair")
print("SOCKETPAIR", b.recv(4).decode())
PY
        echo do""ne"#,
        s = sock.display(),
        a = abstract_name,
    );
    let child = env
        .std_cmd()
        .args([
            "plan",
            "--capture",
            "--allow-failure",
            "--",
            "bash",
            "-c",
            &script,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let abs_addr =
        std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
    let abs = std::os::unix::net::UnixListener::bind_addr(&abs_addr).unwrap();
    abs.set_nonblocking(true).unwrap();
    let out = child.wait_with_output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if all.contains("namespaces required but unavailable") {
        skip(&format!("captures cannot run here: {all}"));
        return;
    }
    assert!(all.contains("ABSENT-AT-START"), "{all}");
    assert!(all.contains("done"), "{all}");
    assert!(
        all.contains("SOCKETPAIR pair"),
        "socketpair must keep working: {all}"
    );
    assert!(!all.contains("CONNECTED"), "{all}");
    for l in [&listener, &abs] {
        match l.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("the capture reached a Unix socket: {other:?}\n{all}"),
        }
    }
    assert!(
        all.contains("Permission denied"),
        "refused with EACCES: {all}"
    );
}

// --------------------------------------------------------- 4. the fallback copy's view

/// With `AUTONOMY_OVERLAY=off` the command runs in a scratch copy and the real workspace
/// is visible read-only; its `.autonomy/` is not readable or listable there.
#[test]
fn the_fallback_copy_cannot_read_the_real_state_folder() {
    let dir = visible_dir();
    let env = Env::new_in(dir.path());
    env.write("a.txt", "a\n");
    let real = env.root.canonicalize().unwrap();
    let r = real.display();
    let script = format!(
        r#"head -c1 "{r}/a.txt" >/dev/null && echo WORKSPACE-""VISIBLE
        head -c1 "{r}/.autonomy/journal.db" >/dev/null 2>&1 && echo "LE""AK read journal"
        ls -A "{r}/.autonomy" 2>/dev/null | grep -q . && echo "LE""AK listed .autonomy"
        (echo x > "{r}/.autonomy/pwned") 2>/dev/null && echo "LE""AK wrote"
        echo b > a.txt; echo do""ne"#
    );
    let Some(out) = capture(&env, &[("AUTONOMY_OVERLAY", "off")], &script) else {
        return;
    };
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("scratch copy") && all.contains("done"),
        "{all}"
    );
    assert!(
        all.contains("WORKSPACE-VISIBLE"),
        "the test must see the real tree: {all}"
    );
    assert!(!all.contains("LEAK"), "{all}");
    assert!(!Path::new(&format!("{r}/.autonomy/pwned")).exists());
    env.verify_ok();
}
