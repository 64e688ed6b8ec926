//! Confinement of everything run on a plan's behalf (exec steps, the verify command,
//! `plan --capture`, `sandbox`), tried as a hostile agent or plan author would: real
//! listeners on real Unix sockets, a real tmux server, a real ssh-agent holding a key,
//! root trying to change metadata, setsid'd children holding the lock, FIFOs and huge
//! files in the spool. Each test fails on the Landlock-only confinement it replaced.

use crate::common::*;
use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EXEC_RULES: &str = r#"
[exec]
allow = true
commands = ["sh"]
timeout = "30s"
"#;

/// A Perl one-file client: tries to connect to each address (`@name` = abstract) and
/// prints CONNECTED or refused. Perl is part of every Debian base system.
const CONNECT_PL: &str = r#"use Socket;
for my $a (@ARGV) {
    # Confined runs cannot even make a Unix socket (seccomp): that is a refusal too.
    socket(my $s, AF_UNIX, SOCK_STREAM, 0) or do { print "refused $a: socket: $!\n"; next };
    my $x = $a; $x =~ s/^@/\0/;
    if (connect($s, pack_sockaddr_un($x))) { print "CONNECTED $a\n" } else { print "refused $a: $!\n" }
    close $s;
}
"#;

/// A folder outside every place the confinement hides (`/tmp`, `/run`...): the build's
/// own temp folder, so that a test there is about masking, not hiding.
fn visible_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("confine-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir in CARGO_TARGET_TMPDIR")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// An executable `#!/bin/sh` script outside the workspace.
fn script(env: &Env, name: &str, body: &str) -> PathBuf {
    let p = env.tmp.path().join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// How a bounded run ended.
#[derive(Debug)]
struct Bounded {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    timed_out: bool,
}

/// Runs `cmd`, killing it after `limit` (so a hang fails the test instead of hanging
/// the suite); `waitpid` reaps it.
#[allow(clippy::zombie_processes)]
fn run_bounded(mut cmd: Command, limit: Duration) -> Bounded {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut timed_out = false;
    loop {
        // SAFETY: waiting for our own child with valid pointers.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            break;
        }
        if start.elapsed() > limit && !timed_out {
            timed_out = true;
            // SAFETY: killing our own (unreaped) child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = start.elapsed();
    // The pipes may stay open in a process that escaped; do not wait on them forever.
    let join = |t: std::thread::JoinHandle<Vec<u8>>| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !t.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if t.is_finished() {
            String::from_utf8_lossy(&t.join().unwrap_or_default()).into_owned()
        } else {
            "<output still held open by a leftover process>".to_string()
        }
    };
    Bounded {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: join(t_out),
        stderr: join(t_err),
        elapsed,
        timed_out,
    }
}

/// `autonomy sandbox -- AGENT` with extra environment, bounded in time.
fn sandbox(env: &Env, agent: &Path, vars: &[(&str, &str)]) -> Bounded {
    let mut c = env.std_cmd();
    c.arg("sandbox").arg("--").arg(agent);
    for (k, v) in vars {
        c.env(k, v);
    }
    run_bounded(c, Duration::from_secs(60))
}

/// Processes whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            out.push(format!("{}: {text}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// Waits up to 5 s for every process matching `needle` to be gone; returns what is left.
fn left_after(needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_with(needle);
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A listener that records whether anyone connected.
struct Listener {
    addr: String,
    sock: UnixListener,
}

impl Listener {
    fn path(p: &Path) -> Listener {
        let sock = UnixListener::bind(p).expect("bind");
        sock.set_nonblocking(true).unwrap();
        Listener {
            addr: p.display().to_string(),
            sock,
        }
    }

    fn abstract_name(name: &str) -> Listener {
        let a = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixListener::bind_addr(&a).expect("bind abstract");
        sock.set_nonblocking(true).unwrap();
        Listener {
            addr: format!("@{name}"),
            sock,
        }
    }

    /// True if a connection is waiting (and takes it).
    fn was_reached(&self) -> bool {
        match self.sock.accept() {
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => panic!("accept on {}: {e}", self.addr),
        }
    }
}

fn listeners(env: &Env, run_dir: &Path, visible: &Path) -> Vec<Listener> {
    vec![
        // /tmp, where tmux, ssh-agent and X keep theirs.
        Listener::path(&env.tmp.path().join("user.sock")),
        // A /run/user/UID-like folder (D-Bus, gpg-agent, systemd --user).
        Listener::path(&run_dir.join("bus")),
        // The workspace itself, and a folder nothing hides.
        Listener::path(&env.root.join("ws.sock")),
        Listener::path(&visible.join("vis.sock")),
        Listener::abstract_name(&format!("autonomy-confine-{}", rand_suffix())),
    ]
}

/// A folder under /run/user (as D-Bus and gpg-agent use), or under /run when there is
/// no /run/user; None when neither can be written (not root).
fn run_user_dir() -> Option<tempfile::TempDir> {
    for base in ["/run/user", "/run"] {
        if let Ok(d) = tempfile::Builder::new()
            .prefix("autonomy-confine-")
            .tempdir_in(base)
        {
            return Some(d);
        }
    }
    None
}

#[test]
fn sandboxed_agent_cannot_reach_unix_sockets_user_processes_listen_on() {
    let env = Env::new();
    let Some(run_dir) = run_user_dir() else {
        skip("cannot create a folder under /run/user or /run (needs root)");
        return;
    };
    let visible = visible_dir();
    let socks = listeners(&env, run_dir.path(), visible.path());
    let conn = visible.path().join("connect.pl");
    std::fs::write(&conn, CONNECT_PL).unwrap();
    let addrs: Vec<&str> = socks.iter().map(|l| l.addr.as_str()).collect();
    // Unconfined, every one of them answers: the test is not vacuous.
    let direct = Command::new("perl")
        .arg(&conn)
        .args(&addrs)
        .output()
        .unwrap();
    let direct = String::from_utf8_lossy(&direct.stdout).into_owned();
    for l in &socks {
        assert!(
            direct.contains(&format!("CONNECTED {}", l.addr)),
            "{direct}"
        );
        assert!(l.was_reached());
    }
    let agent = script(
        &env,
        "agent.sh",
        &format!("perl {} {}\n", conn.display(), addrs.join(" ")),
    );
    let out = sandbox(&env, &agent, &[]);
    assert!(!out.timed_out, "{out:?}");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(!out.stdout.contains("CONNECTED"), "{}", out.stdout);
    for l in &socks {
        assert!(!l.was_reached(), "the agent reached {}", l.addr);
    }
}

#[test]
fn an_exec_step_cannot_reach_unix_sockets_user_processes_listen_on() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/.keep", "");
    env.write("connect.pl", CONNECT_PL);
    let Some(run_dir) = run_user_dir() else {
        skip("cannot create a folder under /run/user or /run (needs root)");
        return;
    };
    let visible = visible_dir();
    let socks = listeners(&env, run_dir.path(), visible.path());
    let addrs: Vec<&str> = socks.iter().map(|l| l.addr.as_str()).collect();
    let id = env.plan(&format!(
        "title = \"sockets\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {:?}]\ntouches = [\"gen/**\"]\n",
        format!("perl connect.pl {} > gen/result.txt", addrs.join(" "))
    ));
    env.approve(&id);
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    let result = env.read_str("gen/result.txt");
    assert!(!result.contains("CONNECTED"), "{result}");
    assert_eq!(result.lines().count(), socks.len(), "{result}");
    for l in &socks {
        assert!(!l.was_reached(), "the exec step reached {}", l.addr);
    }
}

/// Kills a test tmux server when the test ends, however it ends.
struct TmuxServer(String);

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .env_remove("TMUX")
            .stderr(Stdio::null())
            .status();
    }
}

fn wait_for(path: &Path, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    path.exists()
}

#[test]
fn sandboxed_agent_cannot_drive_the_users_tmux_server() {
    if !have("tmux") {
        skip("tmux is not installed (.ci/run installs it)");
        return;
    }
    let env = Env::new();
    let name = format!("autonomy-confine-{}", rand_suffix());
    let status = Command::new("tmux")
        .args([
            "-L",
            &name,
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "sh",
        ])
        .env_remove("TMUX")
        .status()
        .unwrap();
    assert!(status.success());
    let _server = TmuxServer(name.clone());
    let socket = Command::new("tmux")
        .args(["-L", &name, "display-message", "-p", "#{socket_path}"])
        .env_remove("TMUX")
        .output()
        .unwrap();
    let socket = String::from_utf8_lossy(&socket.stdout).trim().to_string();
    assert!(Path::new(&socket).exists(), "tmux socket {socket:?}");
    let marker = env.tmp.path().join("pwned");
    let keys = format!("echo pwned > {}", marker.display());
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "tmux -L {name} send-keys -t t '{keys}' Enter\n\
             tmux -S {socket} send-keys -t t '{keys}' Enter\n\
             tmux send-keys -t t '{keys}' Enter\n\
             echo tried\n"
        ),
    );
    // The agent inherits the user's TMUX variable, as an agent started in tmux would.
    let tmux_var = format!("{socket},1,0");
    let out = sandbox(&env, &agent, &[("TMUX", &tmux_var), ("TMUX_PANE", "%0")]);
    assert!(out.stdout.contains("tried"), "{out:?}");
    assert!(
        !wait_for(&marker, 2),
        "the agent typed into the user's tmux: {out:?}"
    );
    // Unconfined, the same keys reach the server: the test is not vacuous.
    let keys2 = format!("echo reached > {}.direct", marker.display());
    Command::new("tmux")
        .args(["-L", &name, "send-keys", "-t", "t", &keys2, "Enter"])
        .env_remove("TMUX")
        .status()
        .unwrap();
    assert!(wait_for(
        &PathBuf::from(format!("{}.direct", marker.display())),
        10
    ));
}

/// Kills a test ssh-agent when the test ends.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sandboxed_agent_cannot_sign_with_the_users_ssh_agent_or_keys() {
    if !have("ssh-agent") || !have("ssh-add") || !have("ssh-keygen") {
        skip("ssh-agent, ssh-add or ssh-keygen is not installed (.ci/run installs them)");
        return;
    }
    let env = Env::new();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("id_ed25519");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "user", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let sock = keys.path().join("agent.sock");
    let _agent = Agent(
        Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for(&sock, 10), "ssh-agent did not start");
    let st = Command::new("ssh-add")
        .arg(&key)
        .env("SSH_AUTH_SOCK", &sock)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // The public key where the agent can read it; the private key stays in /tmp.
    let visible = visible_dir();
    let public = visible.path().join("id_ed25519.pub");
    std::fs::copy(key.with_extension("pub"), &public).unwrap();
    // A home whose ~/.ssh holds an unencrypted key, readable by the user.
    let home = visible.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::copy(&key, home.join(".ssh/id_ed25519")).unwrap();
    let sign = format!(
        "echo statement | ssh-keygen -Y sign -n autonomy-approval -f {}",
        public.display()
    );
    // Unconfined, the agent signs: the test is not vacuous.
    let direct = Command::new("sh")
        .args(["-c", &sign])
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&direct.stdout).contains("BEGIN SSH SIGNATURE"));
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "echo \"sock=[$SSH_AUTH_SOCK]\"\n\
             {sign}\n\
             SSH_AUTH_SOCK={sock} {sign}\n\
             cat \"$HOME/.ssh/id_ed25519\" && echo READ-PRIVATE-KEY\n\
             echo statement | ssh-keygen -Y sign -n autonomy-approval -f \"$HOME/.ssh/id_ed25519\"\n\
             echo done\n",
            sock = sock.display()
        ),
    );
    let out = sandbox(
        &env,
        &agent,
        &[
            ("SSH_AUTH_SOCK", sock.to_str().unwrap()),
            ("HOME", home.to_str().unwrap()),
        ],
    );
    assert!(out.stdout.contains("done"), "{out:?}");
    assert!(out.stdout.contains("sock=[]"), "{}", out.stdout);
    assert!(
        !out.stdout.contains("BEGIN SSH SIGNATURE"),
        "the agent signed with the user's key: {}",
        out.stdout
    );
    assert!(!out.stdout.contains("READ-PRIVATE-KEY"), "{}", out.stdout);
}

#[test]
fn sandboxed_environment_has_no_session_handles() {
    let env = Env::new();
    let agent = script(&env, "agent.sh", "env\n");
    let vars = [
        ("SSH_AUTH_SOCK", "/tmp/ssh-x/agent.1"),
        ("SSH_AGENT_PID", "1"),
        ("GPG_AGENT_INFO", "/run/user/0/gnupg/S.gpg-agent:1:1"),
        ("TMUX", "/tmp/tmux-0/default,1,0"),
        ("TMUX_PANE", "%1"),
        ("STY", "1.pts-0.host"),
        ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/0/bus"),
        (
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/run/dbus/system_bus_socket",
        ),
        ("XDG_RUNTIME_DIR", "/run/user/0"),
        ("DISPLAY", ":0"),
        ("WAYLAND_DISPLAY", "wayland-0"),
        ("KRB5CCNAME", "FILE:/tmp/krb5cc_0"),
        ("AGENT_API_KEY", "kept"),
    ];
    let out = sandbox(&env, &agent, &vars);
    assert_eq!(out.code, Some(0), "{out:?}");
    for (k, _) in &vars[..vars.len() - 1] {
        assert!(
            !out.stdout.lines().any(|l| l.starts_with(&format!("{k}="))),
            "{k} reached the agent"
        );
    }
    assert!(out.stdout.contains("AGENT_API_KEY=kept"), "{}", out.stdout);
}

#[test]
fn sandbox_ignores_relative_path_entries() {
    let env = Env::new();
    env.write("ls", "#!/bin/sh\necho PLANTED\n");
    std::fs::set_permissions(env.path("ls"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(".::{}", std::env::var("PATH").unwrap_or_default());
    let mut c = env.std_cmd();
    c.args(["sandbox", "--", "ls"]).env("PATH", &path);
    let out = run_bounded(c, Duration::from_secs(60));
    assert!(!out.stdout.contains("PLANTED"), "{out:?}");
    let agent = script(&env, "agent.sh", "ls >/dev/null; echo \"path=[$PATH]\"\n");
    let out = sandbox(&env, &agent, &[("PATH", &path)]);
    assert!(!out.stdout.contains("PLANTED"), "{out:?}");
    let printed = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("path=["))
        .unwrap_or_default()
        .trim_end_matches(']')
        .to_string();
    assert!(
        printed.split(':').all(|e| e.starts_with('/')),
        "{printed:?}"
    );
}

fn meta_of(p: &Path) -> (u32, u32, u32, i64) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.mode(), m.uid(), m.gid(), m.mtime())
}

#[test]
fn sandboxed_root_cannot_change_metadata_in_the_workspace_or_elsewhere() {
    let env = Env::new();
    env.write("f.txt", "content\n");
    let visible = visible_dir();
    let elsewhere = visible.path().join("other.txt");
    std::fs::write(&elsewhere, "other\n").unwrap();
    let targets = [env.path("f.txt"), env.root.clone(), elsewhere.clone()];
    let before: Vec<_> = targets.iter().map(|p| meta_of(p)).collect();
    let mut body = String::new();
    for t in &targets {
        let t = t.display();
        body.push_str(&format!(
            "chmod 777 {t} && echo CHMOD\n\
             chown 65534:65534 {t} && echo CHOWN\n\
             touch -m -d 2001-02-03 {t} && echo TOUCH\n"
        ));
    }
    body.push_str("echo done\n");
    let agent = script(&env, "agent.sh", &body);
    let out = sandbox(&env, &agent, &[]);
    assert!(out.stdout.contains("done"), "{out:?}");
    let after: Vec<_> = targets.iter().map(|p| meta_of(p)).collect();
    assert_eq!(before, after, "{out:?}");
    for word in ["CHMOD", "CHOWN", "TOUCH"] {
        assert!(!out.stdout.contains(word), "{}", out.stdout);
    }
}

#[test]
fn sandboxed_agent_cannot_signal_outside_processes() {
    let env = Env::new();
    let mut victim = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = victim.id();
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "kill -TERM {pid} && echo SIGNALLED\nkill -KILL {pid} && echo KILLED\n\
             cat /proc/{pid}/environ >/dev/null 2>&1 && echo READ-ENVIRON\necho done\n"
        ),
    );
    let out = sandbox(&env, &agent, &[]);
    assert!(out.stdout.contains("done"), "{out:?}");
    let alive = victim.try_wait().unwrap().is_none();
    let _ = victim.kill();
    let _ = victim.wait();
    assert!(alive, "the agent killed an outside process: {out:?}");
    assert!(!out.stdout.contains("SIGNALLED") && !out.stdout.contains("READ-ENVIRON"));
}

#[test]
fn a_setsid_child_of_the_agent_neither_survives_nor_keeps_the_lock() {
    let env = Env::new();
    // A first run creates .autonomy/lock, so the agent has a file to flock.
    let id = env
        .plan("title = \"one\"\n[[action]]\nkind = \"write\"\npath = \"a\"\ncontent = \"1\\n\"\n");
    env.approve(&id);
    assert_eq!(env.run(&["apply", &id]).code, 0);
    assert!(env.path(".autonomy/lock").exists());
    let tag = format!("98{}.5", std::process::id());
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "setsid flock .autonomy/lock sleep {tag} </dev/null >/dev/null 2>&1 &\n\
             setsid sh -c 'sleep {tag}' </dev/null >/dev/null 2>&1 &\n\
             sleep 1\necho started\n"
        ),
    );
    let out = sandbox(&env, &agent, &[]);
    assert!(!out.timed_out, "{out:?}");
    assert!(out.stdout.contains("started"), "{out:?}");
    assert_eq!(left_after(&format!("sleep {tag}")), Vec::<String>::new());
    let id = env
        .plan("title = \"two\"\n[[action]]\nkind = \"write\"\npath = \"b\"\ncontent = \"2\\n\"\n");
    env.approve(&id);
    let applied = env.run(&["apply", &id]);
    assert_eq!(applied.code, 0, "the lock is still held: {applied:?}");
}

#[test]
fn nothing_an_exec_step_or_capture_starts_outlives_it() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/.keep", "");
    let tag = format!("97{}.5", std::process::id());
    let id = env.plan(&format!(
        "title = \"daemon\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {:?}]\ntouches = [\"gen/**\"]\n",
        format!("setsid sleep {tag} </dev/null >/dev/null 2>&1 & echo x > gen/out.txt")
    ));
    env.approve(&id);
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(left_after(&format!("sleep {tag}")), Vec::<String>::new());

    let tag = format!("96{}.5", std::process::id());
    let script = format!("setsid sleep {tag} </dev/null >/dev/null 2>&1 & echo x > new.txt");
    let out = env.run(&["plan", "--capture", "--", "sh", "-c", &script]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(left_after(&format!("sleep {tag}")), Vec::<String>::new());
}

#[test]
fn a_fifo_as_content_file_does_not_hang_the_sandbox() {
    let env = Env::new();
    let agent = script(
        &env,
        "agent.sh",
        "mkfifo \"$AUTONOMY_SPOOL/data\"\n\
         printf 'title = \"fifo\"\\n[[action]]\\nkind = \"write\"\\npath = \"x\"\\ncontent_file = \"data\"\\n' > \"$AUTONOMY_SPOOL/p.toml\"\n\
         mkfifo \"$AUTONOMY_SPOOL/q.toml\"\n\
         echo written\n",
    );
    let out = sandbox(&env, &agent, &[]);
    assert!(!out.timed_out, "the sandbox hung on a FIFO: {out:?}");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    assert!(env.status_json()["pending"].as_array().unwrap().is_empty());
}

#[test]
fn a_huge_spool_file_is_refused_in_bounded_time_and_memory() {
    let env = Env::new();
    let agent = script(
        &env,
        "agent.sh",
        "truncate -s 2G \"$AUTONOMY_SPOOL/big.diff\"\necho written\n",
    );
    // autonomy gets 1 GiB of address space (RLIMIT_AS): reading the 2 GiB file whole
    // would abort it. (ru_maxrss cannot tell: it includes the forking test process.)
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" \"$@\"")
        .arg(bin())
        .args(["sandbox", "--"])
        .arg(&agent)
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1");
    let out = run_bounded(c, Duration::from_secs(60));
    assert!(!out.timed_out, "{out:?}");
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains("limit for spool files"),
        "{}",
        out.stderr
    );
    assert!(out.elapsed < Duration::from_secs(30), "{:?}", out.elapsed);
}

#[test]
fn exec_output_escape_sequences_are_shown_not_obeyed() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/.keep", "");
    let id = env.plan(&format!(
        "title = \"esc\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {:?}]\ntouches = [\"gen/**\"]\n",
        "printf 'before\\033[1A\\033[2K\\033]0;title\\007after\\n'"
    ));
    env.approve(&id);
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
    assert!(out.stderr.contains("\\u{1b}[2K"), "{:?}", out.stderr);
}

#[test]
fn an_exec_step_never_writes_through_a_symlinked_folder() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/.keep", "");
    let outside = visible_dir();
    let id = env.plan(&format!(
        "title = \"link\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {:?}]\ntouches = [\"gen/**\"]\n",
        "echo x > gen/escaped.txt"
    ));
    env.approve(&id);
    // Between plan and apply, `gen` becomes a symlink to a folder outside.
    std::fs::remove_dir_all(env.path("gen")).unwrap();
    std::os::unix::fs::symlink(outside.path(), env.path("gen")).unwrap();
    let out = env.run(&["apply", &id]);
    assert!(
        !outside.path().join("escaped.txt").exists(),
        "an exec step wrote outside the workspace through a symlink: {out:?}"
    );
}

#[test]
fn allow_write_never_follows_a_symlink_in_the_workspace() {
    let env = Env::new();
    let outside = visible_dir();
    std::os::unix::fs::symlink(outside.path(), env.path("out")).unwrap();
    let agent = script(&env, "agent.sh", "echo x > out/escaped.txt\n");
    let mut c = env.std_cmd();
    c.args(["sandbox", "--allow-write", "out", "--"])
        .arg(&agent);
    let out = run_bounded(c, Duration::from_secs(60));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("symlink"), "{}", out.stderr);
    assert!(!outside.path().join("escaped.txt").exists());
}

fn verify_rules(script: &str) -> String {
    format!("[verify]\nrun = [\"sh\", \"-c\", {script:?}]\nwrites = [\"**/__pycache__/**\"]\n")
}

#[test]
fn the_verify_command_writes_only_what_writes_covers() {
    let env = Env::new();
    env.write("README", "readme\n");
    env.write("src/main.py", "print(1)\n");
    env.write("src/__pycache__/main.pyc", "old\n");
    env.write(
        "autonomy.toml",
        verify_rules(
            "echo new > src/__pycache__/main.pyc; \
             echo evil > src/evil.txt; chmod 700 README; echo evil > deploy.txt; true",
        ),
    );
    let mode = env.mode("README");
    let id = env.plan(
        "title = \"v\"\n[[action]]\nkind = \"write\"\npath = \"src/new.py\"\ncontent = \"x\\n\"\n",
    );
    env.approve(&id);
    let out = env.run(&["apply", &id]);
    assert!(!env.exists("src/evil.txt"), "{out:?}");
    assert!(!env.exists("deploy.txt"), "{out:?}");
    assert_eq!(env.mode("README"), mode, "{out:?}");
    // What `writes` covers stays writable: the run commits.
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.read_str("src/__pycache__/main.pyc"), "new\n");
}

#[test]
fn without_kernel_confinement_the_scan_fails_a_verify_that_writes_undeclared_paths() {
    let env = Env::new();
    env.write("src/main.py", "print(1)\n");
    env.write("autonomy.toml", verify_rules("echo evil > src/evil.txt"));
    let before = env.tree();
    let id = env.plan(
        "title = \"v\"\n[[action]]\nkind = \"write\"\npath = \"src/new.py\"\ncontent = \"x\\n\"\n",
    );
    env.approve(&id);
    let out = env
        .cmd()
        .env("AUTONOMY_LANDLOCK", "off")
        .env("AUTONOMY_NAMESPACES", "off")
        .args(["apply", &id])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("outside its declared `writes`") && err.contains("src/evil.txt"),
        "{err}"
    );
    assert!(!env.exists("src/new.py"), "the run was not undone");
    let mut after = env.tree();
    after.remove("src/evil.txt");
    assert_eq!(after, before);
}

#[test]
fn an_unprivileged_user_is_confined_through_a_user_namespace() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !have("setpriv") {
        skip("needs root and setpriv to run autonomy as another (unprivileged) user");
        return;
    }
    const NOBODY: u32 = 65534;
    let base = tempfile::tempdir().unwrap();
    let chown = |p: &Path| std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).unwrap();
    chown(base.path());
    let ws = base.path().join("ws");
    let as_nobody = |args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(args)
            .current_dir(base.path())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", base.path())
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1");
        c
    };
    let st = as_nobody(&["mkdir", "ws"]).status().unwrap();
    assert!(st.success());
    let bin = bin();
    let mut init = as_nobody(&[bin.to_str().unwrap(), "init"]);
    init.current_dir(&ws);
    assert!(init.status().unwrap().success());
    std::fs::write(ws.join("f.txt"), "mine\n").unwrap();
    chown(&ws.join("f.txt"));
    // Root's listeners, open to everyone: only the confinement stands in the way.
    let visible = visible_dir();
    std::fs::set_permissions(visible.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socks = [
        Listener::path(&base.path().join("user.sock")),
        Listener::path(&visible.path().join("vis.sock")),
    ];
    for l in &socks {
        std::fs::set_permissions(&l.addr, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let conn = visible.path().join("connect.pl");
    std::fs::write(&conn, CONNECT_PL).unwrap();
    let addrs: Vec<&str> = socks.iter().map(|l| l.addr.as_str()).collect();
    let mut direct = vec!["perl", conn.to_str().unwrap()];
    direct.extend(&addrs);
    let direct = as_nobody(&direct).output().unwrap();
    let direct = String::from_utf8_lossy(&direct.stdout).into_owned();
    assert_eq!(direct.matches("CONNECTED").count(), socks.len(), "{direct}");
    for l in &socks {
        assert!(l.was_reached());
    }
    let tag = format!("95{}.5", std::process::id());
    let agent = base.path().join("agent.sh");
    std::fs::write(
        &agent,
        format!(
            "#!/bin/sh\nperl {} {}\necho x > f.txt || echo write-refused\n\
             chmod 777 f.txt || echo chmod-refused\n\
             setsid sleep {tag} </dev/null >/dev/null 2>&1 &\necho done\n",
            conn.display(),
            addrs.join(" ")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
    chown(&agent);
    let mode = std::fs::metadata(ws.join("f.txt")).unwrap().mode();
    let mut c = as_nobody(&[
        bin.to_str().unwrap(),
        "sandbox",
        "--",
        agent.to_str().unwrap(),
    ]);
    c.current_dir(&ws);
    let out = run_bounded(c, Duration::from_secs(60));
    if out.stderr.contains("private namespaces are unavailable") {
        skip(&format!(
            "unprivileged user namespaces are disabled here: {}",
            out.stderr
        ));
        return;
    }
    assert!(out.stdout.contains("done"), "{out:?}");
    assert!(!out.stdout.contains("CONNECTED"), "{}", out.stdout);
    for l in &socks {
        assert!(!l.was_reached(), "the agent reached {}", l.addr);
    }
    assert!(out.stdout.contains("write-refused") && out.stdout.contains("chmod-refused"));
    assert_eq!(std::fs::read_to_string(ws.join("f.txt")).unwrap(), "mine\n");
    assert_eq!(std::fs::metadata(ws.join("f.txt")).unwrap().mode(), mode);
    assert_eq!(left_after(&format!("sleep {tag}")), Vec::<String>::new());
}

#[test]
fn without_landlock_an_exec_step_still_has_no_capabilities_and_a_read_only_view() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/.keep", "");
    env.write("out.txt", "keep\n");
    let mode = env.mode("out.txt");
    let id = env.plan(&format!(
        "title = \"caps\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {:?}]\ntouches = [\"gen/**\"]\n",
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status > gen/status.txt; chmod 600 out.txt; true"
    ));
    env.approve(&id);
    let out = env
        .cmd()
        .env("AUTONOMY_LANDLOCK", "off")
        .args(["apply", &id])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let status = env.read_str("gen/status.txt");
    assert!(status.contains("CapEff:\t0000000000000000"), "{status}");
    assert!(status.contains("CapBnd:\t0000000000000000"), "{status}");
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    assert_eq!(env.mode("out.txt"), mode);
}

#[test]
fn a_confined_command_sees_no_disks_terminals_or_input_devices() {
    let env = Env::new();
    let agent = script(
        &env,
        "agent.sh",
        "ls -A /dev; ls -A /dev/pts | sed 's/^/pts:/'\n\
         echo ok > /dev/null && head -c 1 /dev/zero | wc -c && echo devices-work\n",
    );
    let out = sandbox(&env, &agent, &[]);
    assert!(out.stdout.contains("devices-work"), "{out:?}");
    let allowed = [
        "fd",
        "full",
        "null",
        "pts",
        "random",
        "shm",
        "stderr",
        "stdin",
        "stdout",
        "tty",
        "urandom",
        "zero",
        "1",
        "devices-work",
    ];
    for line in out.stdout.lines() {
        assert!(
            allowed.contains(&line),
            "{line:?} is reachable in the sandbox's /dev:\n{}",
            out.stdout
        );
    }
}
