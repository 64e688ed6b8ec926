//! `autonomy session`: a real agent (a shell script) in a copy-on-write view of the
//! workspace; what it changed becomes one pending plan; escape attempts from inside (the
//! real path, `.autonomy/`, Unix sockets, a real tmux server); two proposals in one
//! session; a crash of the agent and of autonomy mid-session; `session list` / `end`.

use crate::common::*;
use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An executable `#!/bin/sh` script outside the workspace.
fn script(env: &Env, name: &str, body: &str) -> PathBuf {
    let p = env.tmp.path().join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// A folder outside every place the confinement hides (`/tmp`, `/run`...).
fn visible_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("session-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir in CARGO_TARGET_TMPDIR")
}

/// A home folder for the agent (writable to it), inside the test's temp folder.
fn home(env: &Env) -> PathBuf {
    let h = env.tmp.path().join("home");
    std::fs::create_dir_all(&h).unwrap();
    h
}

/// `autonomy session ARGS` (stdin not a terminal), with the test's home folder.
fn session(env: &Env, args: &[&str]) -> Out {
    let out = env
        .std_cmd()
        .arg("session")
        .args(args)
        .env("HOME", home(env))
        .env_remove("CI")
        .stdin(Stdio::null())
        .output()
        .expect("run autonomy session");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The 12-hex plan id a session printed last on stdout.
fn plan_id(out: &Out) -> String {
    out.stdout
        .lines()
        .rev()
        .find(|l| l.len() == 12 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no plan id in {out:?}"))
        .to_string()
}

fn list_json(env: &Env) -> serde_json::Value {
    let out = env.run(&["session", "list", "--format", "json"]);
    assert_eq!(out.code, 0, "{out:?}");
    serde_json::from_str(&out.stdout).expect("json")
}

fn plan_json(env: &Env, id: &str) -> serde_json::Value {
    let out = env.run(&["show", id]);
    assert_eq!(out.code, 0, "{out:?}");
    serde_json::from_str(&out.stdout).expect("plan json")
}

fn paths_of(plan: &serde_json::Value) -> Vec<String> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_string())
        .collect()
}

fn status_of(env: &Env, id: &str) -> String {
    let v = env.status_json();
    for key in ["pending", "approved", "applied", "rejected"] {
        if let Some(a) = v[key].as_array()
            && a.iter()
                .any(|p| p["id"].as_str().is_some_and(|x| x.starts_with(id)))
        {
            return key.to_string();
        }
    }
    let out = env.run(&["preview", id]);
    out.all()
        .lines()
        .find_map(|l| l.strip_prefix("Status:").map(|s| s.trim().to_string()))
        .unwrap_or_default()
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

fn kernel_ok(env: &Env) -> bool {
    let out = session(env, &["--name", "probe", "--", "true"]);
    if out.code != 0 {
        let why = out.all();
        if why.contains("unavailable") {
            skip(&format!("sessions cannot run here: {why}"));
            return false;
        }
        panic!("probe session failed: {out:?}");
    }
    env.run(&["session", "end", "probe"]);
    true
}

#[test]
fn a_session_plans_what_the_agent_changed_and_the_workspace_is_untouched_until_apply() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    env.write("a.txt", "hello\n");
    env.write("d.txt", "gone\n");
    env.write("m.sh", "echo m\n");
    env.write("keep/k.txt", "k\n");
    let before = env.tree();
    // The agent creates, modifies, deletes, chmods and links, and reads each back.
    let agent = script(
        &env,
        "agent.sh",
        "set -e\n\
         echo new > n.txt\n\
         echo more >> a.txt\n\
         rm d.txt\n\
         chmod 755 m.sh\n\
         ln -s a.txt link\n\
         mkdir -p sub/deep && echo deep > sub/deep/f.txt\n\
         test \"$(cat n.txt)\" = new\n\
         test \"$(cat a.txt)\" = \"$(printf 'hello\\nmore')\"\n\
         test ! -e d.txt\n\
         test -x m.sh\n\
         test \"$(readlink link)\" = a.txt\n\
         test \"$(cat sub/deep/f.txt)\" = deep\n\
         echo readback-ok\n",
    );
    let out = session(&env, &["--name", "work", "--", agent.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("readback-ok"), "{out:?}");
    // Nothing landed: the workspace is byte for byte and mode for mode what it was.
    assert_eq!(env.tree(), before, "the session changed the workspace");
    let id = plan_id(&out);
    let plan = plan_json(&env, &id);
    assert_eq!(plan["author"], "agent:agent.sh");
    let mut paths = paths_of(&plan);
    paths.sort();
    for p in [
        "a.txt",
        "d.txt",
        "link",
        "m.sh",
        "n.txt",
        "sub",
        "sub/deep",
        "sub/deep/f.txt",
    ] {
        assert!(paths.iter().any(|x| x == p), "{p} missing from {paths:?}");
    }
    assert!(!paths.iter().any(|p| p.starts_with("keep")), "{paths:?}");
    // The journal names the session and the agent.
    let events = env.events();
    let created = events
        .iter()
        .find(|e| e["kind"] == "plan.created")
        .expect("plan.created");
    assert_eq!(created["actor"], "agent:agent.sh");
    assert_eq!(created["data"]["session"], "work");
    assert_eq!(created["data"]["source"], "session");
    assert!(events.iter().any(|e| e["kind"] == "session.started"));
    assert!(events.iter().any(|e| e["kind"] == "session.agent_exited"));
    // Applied: the workspace is what the agent made.
    env.approve(&id);
    let applied = env.run(&["apply", &id]);
    assert_eq!(applied.code, 0, "{applied:?}");
    assert_eq!(env.read_str("n.txt"), "new\n");
    assert_eq!(env.read_str("a.txt"), "hello\nmore\n");
    assert!(!env.exists("d.txt"));
    assert_eq!(env.mode("m.sh"), 0o755);
    assert_eq!(
        std::fs::read_link(env.path("link")).unwrap(),
        PathBuf::from("a.txt")
    );
    // The view continues from the new state: nothing is left to propose.
    let again = env.run(&["session", "propose", "work"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stdout.trim().is_empty(), "{again:?}");
    assert!(again.stderr.contains("nothing to propose"), "{again:?}");
    // A new agent in the same session sees the view (applied state and all) and
    // changes on from there.
    let next = script(
        &env,
        "next.sh",
        "set -e\ntest \"$(cat n.txt)\" = new\necho again >> n.txt\n",
    );
    let out = session(&env, &["--name", "work", "--", next.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let plan = plan_json(&env, &plan_id(&out));
    assert_eq!(paths_of(&plan), vec!["n.txt".to_string()], "{plan}");
    env.verify_ok();
}

/// A real tmux server, killed when the test ends.
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

/// Perl client: connects to each address (`@name` = abstract), prints CONNECTED or not.
const CONNECT_PL: &str = r#"use Socket;
for my $a (@ARGV) {
    socket(my $s, AF_UNIX, SOCK_STREAM, 0) or die "socket: $!";
    my $x = $a; $x =~ s/^@/\0/;
    if (connect($s, pack_sockaddr_un($x))) { print "CONNECTED $a\n" } else { print "refused $a: $!\n" }
    close $s;
}
"#;

fn reached(l: &UnixListener) -> bool {
    match l.accept() {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("accept: {e}"),
    }
}

#[test]
fn a_session_agent_cannot_reach_the_real_workspace_autonomy_or_the_users_sockets() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    for tool in ["tmux", "perl"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map_or(true, |s| !s.success())
        {
            skip(&format!("{tool} is not installed (.ci/run installs it)"));
            return;
        }
    }
    env.write("a.txt", "real\n");
    // The home folder holds the workspace: it is writable to the agent, yet the
    // workspace inside it is seen only through the view.
    let ws_home = env.tmp.path().to_path_buf();
    let visible = visible_dir();
    let path_sock = visible.path().join("user.sock");
    let path_l = UnixListener::bind(&path_sock).unwrap();
    path_l.set_nonblocking(true).unwrap();
    let abs_name = format!("autonomy-session-{}", rand_suffix());
    let abs_l =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(abs_name.as_bytes()).unwrap())
            .unwrap();
    abs_l.set_nonblocking(true).unwrap();
    let conn = visible.path().join("connect.pl");
    std::fs::write(&conn, CONNECT_PL).unwrap();
    let name = format!("autonomy-session-{}", rand_suffix());
    assert!(
        Command::new("tmux")
            .args([
                "-L",
                &name,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "t",
                "sh"
            ])
            .env_remove("TMUX")
            .status()
            .unwrap()
            .success()
    );
    let _server = TmuxServer(name.clone());
    let socket = Command::new("tmux")
        .args(["-L", &name, "display-message", "-p", "#{socket_path}"])
        .env_remove("TMUX")
        .output()
        .unwrap();
    let socket = String::from_utf8_lossy(&socket.stdout).trim().to_string();
    let marker = visible.path().join("pwned");
    let keys = format!("echo pwned > {}", marker.display());
    let ws = env.root.display().to_string();
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "echo view > {ws}/a.txt\n\
             echo via-view > {ws}/b.txt\n\
             echo x > {realhome}/planted-in-home 2>/dev/null && echo WROTE-HOME\n\
             echo x > \"$HOME/own\" && echo OWN-HOME\n\
             echo x > {ws}/.autonomy/journal.db 2>/dev/null && echo WROTE-JOURNAL\n\
             echo x > {ws}/.autonomy/planted 2>/dev/null && echo WROTE-STATE\n\
             ls -A {ws}/.autonomy | grep -q . && echo SAW-STATE\n\
             cat {ws}/.autonomy/journal.db >/dev/null 2>&1 && echo READ-JOURNAL\n\
             umount {ws} 2>/dev/null && echo UNMOUNTED\n\
             echo x > /proc/1/root{ws}/c.txt 2>/dev/null\n\
             perl {conn} {sock} @{abs}\n\
             tmux -L {name} send-keys -t t '{keys}' Enter 2>/dev/null\n\
             tmux -S {socket} send-keys -t t '{keys}' Enter 2>/dev/null\n\
             test -n \"$SSH_AUTH_SOCK\" && echo HAS-SSH-AGENT\n\
             echo tried\n",
            conn = conn.display(),
            sock = path_sock.display(),
            abs = abs_name,
            realhome = ws_home.display(),
        ),
    );
    let out = env
        .std_cmd()
        .args(["session", "--name", "esc", "--", agent.to_str().unwrap()])
        .env("HOME", &ws_home)
        .env("TMUX", format!("{socket},1,0"))
        .env("SSH_AUTH_SOCK", path_sock.display().to_string())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("tried"), "{all}");
    for bad in [
        "WROTE-JOURNAL",
        "WROTE-STATE",
        "SAW-STATE",
        "READ-JOURNAL",
        "UNMOUNTED",
        "CONNECTED",
        "HAS-SSH-AGENT",
        "WROTE-HOME",
    ] {
        assert!(!stdout.contains(bad), "{bad}: {all}");
    }
    assert!(
        stdout.contains("OWN-HOME"),
        "its private home is writable: {all}"
    );
    assert!(!ws_home.join("planted-in-home").exists());
    assert!(
        !reached(&path_l),
        "the agent reached {}",
        path_sock.display()
    );
    assert!(!reached(&abs_l), "the agent reached @{abs_name}");
    assert!(
        !wait_for(&marker, 2),
        "the agent typed into the user's tmux"
    );
    // The real workspace is untouched; the writes went to the view and are the plan.
    assert_eq!(env.read_str("a.txt"), "real\n");
    assert!(!env.exists("b.txt") && !env.exists("c.txt"));
    assert!(!env.path(".autonomy/planted").exists());
    env.verify_ok();
    let plan = plan_json(
        &env,
        &plan_id(&Out {
            code: 0,
            stdout: stdout.clone(),
            stderr: String::new(),
        }),
    );
    let mut paths = paths_of(&plan);
    paths.sort();
    assert_eq!(
        paths,
        vec!["a.txt".to_string(), "b.txt".to_string()],
        "{all}"
    );
    // Unconfined, the same keys reach the tmux server: the test is not vacuous.
    Command::new("tmux")
        .args(["-L", &name, "send-keys", "-t", "t", &keys, "Enter"])
        .env_remove("TMUX")
        .status()
        .unwrap();
    assert!(
        wait_for(&marker, 10),
        "tmux did not run the keys unconfined"
    );
}

/// Starts `autonomy session --name NAME -- AGENT` in the background; `gate` is a folder
/// outside the view the agent may write (to say how far it got).
fn spawn_session(env: &Env, name: &str, agent: &Path, gate: &Path) -> std::process::Child {
    env.std_cmd()
        .args(["session", "--name", name, "--allow-write"])
        .arg(gate)
        .arg("--")
        .arg(agent)
        .env("HOME", home(env))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn session")
}

fn finish(child: std::process::Child) -> Out {
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn two_proposals_in_one_session_the_second_after_the_first_is_applied() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    env.write("a.txt", "a0\n");
    env.write("b.txt", "b0\n");
    let gate = visible_dir();
    let g = gate.path().display().to_string();
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "echo a1 > a.txt\ntouch {g}/first\n\
             while [ ! -e {g}/go ]; do sleep 0.05; done\n\
             test \"$(cat a.txt)\" = a1 || echo LOST-OWN-WRITE\n\
             echo b1 > b.txt\n"
        ),
    );
    let child = spawn_session(&env, "two", &agent, gate.path());
    assert!(
        wait_for(&gate.path().join("first"), 30),
        "agent did not start"
    );
    // While it runs: `session list` says so, `end` refuses, `propose` plans a.txt.
    let l = list_json(&env);
    assert_eq!(l["sessions"][0]["name"], "two");
    assert_eq!(l["sessions"][0]["state"], "running");
    let end = env.run(&["session", "end", "two"]);
    assert_eq!(end.code, 5, "{end:?}");
    assert!(
        end.stderr.contains("two") && end.stderr.contains("--force"),
        "{end:?}"
    );
    let p1 = env.run(&["session", "propose", "two"]);
    assert_eq!(p1.code, 0, "{p1:?}");
    let id1 = plan_id(&p1);
    assert_eq!(paths_of(&plan_json(&env, &id1)), vec!["a.txt"]);
    env.approve(&id1);
    assert_eq!(env.run(&["apply", &id1]).code, 0);
    assert_eq!(env.read_str("a.txt"), "a1\n");
    std::fs::write(gate.path().join("go"), "").unwrap();
    let out = finish(child);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("LOST-OWN-WRITE"), "{out:?}");
    // The second holds only what changed since the first was applied.
    let id2 = plan_id(&out);
    assert_ne!(id1, id2);
    let p2 = plan_json(&env, &id2);
    assert_eq!(paths_of(&p2), vec!["b.txt"], "{p2}");
    assert_eq!(env.read_str("b.txt"), "b0\n");
    let l = list_json(&env);
    assert_eq!(l["sessions"][0]["state"], "exited");
    assert_eq!(
        l["sessions"][0]["last_plan"]["id"].as_str().unwrap()[..12],
        id2
    );
    env.verify_ok();
}

#[test]
fn a_second_proposal_supersedes_a_pending_one_and_drift_is_reported() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    env.write("a.txt", "a0\n");
    env.write("b.txt", "b0\n");
    let gate = visible_dir();
    let g = gate.path().display().to_string();
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "echo a1 > a.txt\ntouch {g}/first\n\
             while [ ! -e {g}/go ]; do sleep 0.05; done\n\
             echo b1 > b.txt\n"
        ),
    );
    let child = spawn_session(&env, "sup", &agent, gate.path());
    assert!(wait_for(&gate.path().join("first"), 30));
    let p1 = env.run(&["session", "propose"]);
    assert_eq!(p1.code, 0, "{p1:?}");
    let id1 = plan_id(&p1);
    // Proposing again with nothing changed is the same plan.
    let same = env.run(&["session", "propose", "sup"]);
    assert_eq!(plan_id(&same), id1, "{same:?}");
    std::fs::write(gate.path().join("go"), "").unwrap();
    let out = finish(child);
    assert_eq!(out.code, 0, "{out:?}");
    let id2 = plan_id(&out);
    let mut paths = paths_of(&plan_json(&env, &id2));
    paths.sort();
    assert_eq!(paths, vec!["a.txt", "b.txt"]);
    assert!(out.stderr.contains("supersedes"), "{out:?}");
    assert_eq!(status_of(&env, &id1), "rejected");
    // The workspace moves on under the pending plan: apply reports the drift (exit 4).
    env.approve(&id2);
    env.write("b.txt", "someone else\n");
    let apply = env.run(&["apply", &id2]);
    assert_eq!(apply.code, 4, "{apply:?}");
    assert!(apply.stderr.contains("b.txt"), "{apply:?}");
    // Proposed again, it plans against the workspace as it is now: exact again.
    let p3 = env.run(&["session", "propose", "sup"]);
    assert_eq!(p3.code, 1, "an approved plan is not withdrawn: {p3:?}");
    assert!(p3.stderr.contains("approved"), "{p3:?}");
    env.run(&["reject", &id2]);
    let p3 = env.run(&["session", "propose", "sup"]);
    assert_eq!(p3.code, 0, "{p3:?}");
    let id3 = plan_id(&p3);
    env.approve(&id3);
    assert_eq!(env.run(&["apply", &id3]).code, 0);
    assert_eq!(env.read_str("b.txt"), "b1\n");
    env.verify_ok();
}

#[test]
fn a_session_survives_a_crash_of_its_agent() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    let agent = script(&env, "agent.sh", "echo half > half.txt\nkill -9 $$\n");
    let out = session(&env, &["--name", "crash", "--", agent.to_str().unwrap()]);
    assert_eq!(out.code, 137, "the agent's own status: {out:?}");
    let id = plan_id(&out);
    assert_eq!(paths_of(&plan_json(&env, &id)), vec!["half.txt"]);
    assert!(!env.exists("half.txt"));
    env.verify_ok();
}

/// A session whose agent runs `work`, says it is ready, then sleeps under a tag unique to
/// this test process (`sleep 10000NN`, to find it with pgrep): the tag, the gate folder
/// (keep it alive) and autonomy's process.
fn waiting_agent(
    env: &Env,
    name: &str,
    work: &str,
    n: u32,
) -> (String, tempfile::TempDir, std::process::Child) {
    let gate = visible_dir();
    let g = gate.path().display().to_string();
    let tag = format!(
        "sleep {}",
        1_000_000 + std::process::id() % 100_000 * 10 + n
    );
    let agent = script(
        env,
        "agent.sh",
        &format!("{work}\ntouch {g}/ready\nexec {tag}\n"),
    );
    let child = spawn_session(env, name, &agent, gate.path());
    assert!(wait_for(&gate.path().join("ready"), 30));
    (tag, gate, child)
}

#[test]
fn a_session_survives_a_crash_of_autonomy_and_is_found_and_proposable_afterwards() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    let (tag, _gate, child) = waiting_agent(&env, "boom", "echo kept > kept.txt", 1);
    // SAFETY: killing our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    let out = finish(child);
    assert_ne!(out.code, 0);
    // The agent died with it (nothing of the session is left running).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ps = Command::new("pgrep").args(["-f", &tag]).output().unwrap();
        if ps.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the agent outlived autonomy");
        std::thread::sleep(Duration::from_millis(100));
    }
    let l = list_json(&env);
    assert_eq!(l["sessions"][0]["name"], "boom");
    assert_eq!(l["sessions"][0]["state"], "exited");
    // `status` lists it too, with the next steps.
    let st = env.run(&["status", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&st.stdout).expect("status JSON");
    assert_eq!(doc["sessions"][0]["name"], "boom", "{doc:#}");
    assert_eq!(doc["sessions"][0]["running"], false, "{doc:#}");
    let st = env.run(&["status"]);
    assert!(
        st.stdout.contains("`autonomy session propose NAME`") && st.stdout.contains("agent exited"),
        "{st:?}"
    );
    assert_eq!(l["sessions"][0]["view_present"], true);
    assert!(l["sessions"][0]["last_plan"].is_null());
    let p = env.run(&["session", "propose", "boom"]);
    assert_eq!(p.code, 0, "{p:?}");
    let id = plan_id(&p);
    assert_eq!(paths_of(&plan_json(&env, &id)), vec!["kept.txt"]);
    assert!(!env.exists("kept.txt"));
    // Ended: the view is gone, the plan stays pending.
    let view = l["sessions"][0]["view"].as_str().unwrap().to_string();
    let end = env.run(&["session", "end", "boom"]);
    assert_eq!(end.code, 0, "{end:?}");
    assert!(!env.path(&format!(".autonomy/views/{view}")).exists());
    assert_eq!(list_json(&env)["sessions"].as_array().unwrap().len(), 0);
    assert_eq!(status_of(&env, &id), "pending");
    let st = env.run(&["status", "--format", "json"]);
    assert!(
        !st.stdout.contains("\"sessions\""),
        "an ended session is not listed: {}",
        st.stdout
    );
    env.verify_ok();
}

#[test]
fn session_names_and_unknown_sessions_are_refused_with_the_next_step() {
    let env = Env::new();
    for bad in ["../x", "a/b", ".hidden", "-x", ""] {
        let flag = format!("--name={bad}");
        let out = env.run(&["session", &flag, "--", "true"]);
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
        assert!(out.stderr.contains("session name"), "{out:?}");
    }
    let out = env.run(&["session", "end", "nosuch"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("nosuch") && out.stderr.contains("session list"),
        "{out:?}"
    );
    let out = env.run(&["session", "propose"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("no session is open"), "{out:?}");
    let out = env.run(&["session"]);
    assert_eq!(out.code, 2, "{out:?}");
}

#[test]
fn the_agents_home_is_private_never_the_invokers_or_the_workspace() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    env.write("a.txt", "real\n");
    // A writable real home would let the agent plant what the person's own tools run
    // later (`~/.gitconfig` with core.fsmonitor, `~/.bashrc`), outside any plan.
    let real_home = env.tmp.path().join("realhome");
    std::fs::create_dir_all(&real_home).unwrap();
    std::fs::write(real_home.join(".gitconfig"), "[user]\n\tname = me\n").unwrap();
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "test \"$HOME\" = {rh} && echo SAME-HOME\n\
             printf '[core]\\n\\tfsmonitor = evil\\n' > \"$HOME/.gitconfig\" && echo WROTE-OWN\n\
             printf '[core]\\n\\tfsmonitor = evil\\n' > {rh}/.gitconfig 2>/dev/null && echo WROTE-REAL\n\
             echo x > {rh}/.bashrc 2>/dev/null && echo WROTE-REAL\n\
             true\n",
            rh = real_home.display()
        ),
    );
    for home in [real_home.clone(), env.root.clone()] {
        let out = env
            .std_cmd()
            .args(["session", "--", agent.to_str().unwrap()])
            .env("HOME", &home)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(stdout.contains("WROTE-OWN"), "{all}");
        assert!(
            !stdout.contains("SAME-HOME") && !stdout.contains("WROTE-REAL"),
            "{all}"
        );
        assert!(all.contains("private"), "the home note is shown: {all}");
        assert_eq!(
            std::fs::read_to_string(real_home.join(".gitconfig")).unwrap(),
            "[user]\n\tname = me\n"
        );
        assert!(!real_home.join(".bashrc").exists());
        assert_eq!(env.read_str("a.txt"), "real\n");
        assert!(!env.exists(".gitconfig"), "{all}");
    }
}

#[test]
fn an_interactive_agent_gets_the_terminal_and_cannot_type_into_the_invokers_shell() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    // TIOCSTI pushes bytes into a terminal's input, as if typed: an agent that could do
    // it would run commands in the invoker's shell after the session ends.
    let tiocsti = "perl -e 'require \"sys/ioctl.ph\"; \
                   my $c = \"X\"; print ioctl(STDIN, 0x5412, $c) ? \"TIOCSTI-WORKED\\n\" : \"tiocsti refused: $!\\n\"'";
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "test -t 0 && test -t 1 && test -t 2 && echo TTY-OK\n\
             {tiocsti}\n\
             printf 'name? '\nread answer\necho \"got:$answer\"\necho \"$answer\" > answer.txt\n"
        ),
    );
    let mut c = std::process::Command::new(bin());
    c.args(["session", "--name", "tty", "--", agent.to_str().unwrap()])
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1")
        .env("HOME", home(&env))
        .env_remove("CI");
    let mut p = rexpect::session::spawn_command(c, Some(30_000)).expect("spawn in pty");
    let before = p.exp_string("name? ").expect("the agent prompt");
    p.send_line("typed-by-person").expect("type");
    let out = format!("{before}{}", p.exp_eof().unwrap_or_default());
    let code = match p.process().wait() {
        Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
        other => panic!("unexpected status {other:?}"),
    };
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("TTY-OK"), "{out}");
    assert!(out.contains("got:typed-by-person"), "{out}");
    assert!(!out.contains("TIOCSTI-WORKED"), "{out}");
    assert!(out.contains("tiocsti refused"), "{out}");
    // The same call from a process whose terminal it is works: the test is not vacuous.
    let mut direct = std::process::Command::new("sh");
    direct.args(["-c", tiocsti]);
    let mut d = rexpect::session::spawn_command(direct, Some(10_000)).expect("spawn");
    let direct_out = d.exp_eof().unwrap_or_default();
    assert!(direct_out.contains("TIOCSTI-WORKED"), "{direct_out}");
    assert!(!env.exists("answer.txt"));
    let id = out
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| l.len() == 12 && l.chars().all(|c| c.is_ascii_hexdigit()))
        .expect("plan id");
    assert_eq!(paths_of(&plan_json(&env, id)), vec!["answer.txt"]);
}

#[test]
fn an_interrupt_stops_the_agent_and_proposes_what_it_did() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    let (tag, _gate, child) = waiting_agent(&env, "int", "echo done > done.txt", 2);
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let out = finish(child);
    assert_eq!(out.code, 128 + 9, "the agent was stopped: {out:?}");
    let id = plan_id(&out);
    assert_eq!(paths_of(&plan_json(&env, &id)), vec!["done.txt"]);
    let ps = Command::new("pgrep").args(["-f", &tag]).output().unwrap();
    assert!(ps.stdout.is_empty(), "the agent outlived the interrupt");
}

#[test]
fn ending_a_running_session_by_force_discards_its_view_and_nothing_is_proposed() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    let gate = visible_dir();
    let g = gate.path().display().to_string();
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "echo w > w.txt\ntouch {g}/ready\n\
             while [ ! -e {g}/go ]; do sleep 0.05; done\n"
        ),
    );
    let child = spawn_session(&env, "forced", &agent, gate.path());
    assert!(wait_for(&gate.path().join("ready"), 30));
    // `status` shows the open session and that its agent runs.
    let st = env.run(&["status"]);
    assert!(
        st.stdout.contains("1 open agent session") && st.stdout.contains("  forced  agent:"),
        "{st:?}"
    );
    assert!(st.stdout.contains("agent running"), "{st:?}");
    let view = list_json(&env)["sessions"][0]["view"]
        .as_str()
        .unwrap()
        .to_string();
    let end = env.run(&["session", "end", "forced", "--force"]);
    assert_eq!(end.code, 0, "{end:?}");
    assert!(!env.path(&format!(".autonomy/views/{view}")).exists());
    std::fs::write(gate.path().join("go"), "").unwrap();
    let out = finish(child);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("was ended while its agent ran"),
        "{out:?}"
    );
    assert!(out.stdout.trim().is_empty(), "{out:?}");
    assert!(!env.exists("w.txt"));
    assert!(
        env.status_json()["pending"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
    env.verify_ok();
}

/// Whether a listener got a connection within a short while (non-blocking accept).
fn tcp_reached(l: &std::net::TcpListener) -> bool {
    l.set_nonblocking(true).unwrap();
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if l.accept().is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_session_agent_reaches_no_local_tcp_service_unless_its_port_is_allowed() {
    let env = Env::new();
    if !kernel_ok(&env) {
        return;
    }
    // A local service that runs what it is sent (Docker's API, a dev server) would write
    // the real workspace for the agent: only 443 and `--allow-connect` ports are open.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let agent = script(
        &env,
        "agent.sh",
        &format!(
            "bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null && echo CONNECTED\necho tried\n"
        ),
    );
    let out = session(&env, &["--", agent.to_str().unwrap()]);
    assert!(out.stdout.contains("tried"), "{out:?}");
    assert!(!out.stdout.contains("CONNECTED"), "{out:?}");
    assert!(!tcp_reached(&l), "the agent reached 127.0.0.1:{port}");
    // Allowed by name, the same connection goes through: the test is not vacuous.
    let p = port.to_string();
    let out = session(
        &env,
        &["--allow-connect", &p, "--", agent.to_str().unwrap()],
    );
    assert!(out.stdout.contains("CONNECTED"), "{out:?}");
    assert!(tcp_reached(&l), "the allowed port was not reached");
}
