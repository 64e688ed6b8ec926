//! Tests for the exec module; they spawn real processes.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    Confinement, ExecError, ExecSpec, ExitKind, LANDLOCK_ENV_VAR, LandlockStatus, landlock_status,
    run,
};

fn spec(argv: &[&str], cwd: &Path) -> ExecSpec {
    ExecSpec {
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        cwd: cwd.to_path_buf(),
        env: Vec::new(),
        timeout: Duration::from_secs(30),
        max_output_bytes: 1 << 20,
        memory_limit: None,
        confinement: Confinement::None,
        confinement_required: false,
        isolation: Default::default(),
        network: super::Network::None,
    }
}

fn sh(script: &str, cwd: &Path) -> ExecSpec {
    spec(&["sh", "-c", script], cwd)
}

fn run_vec(spec: &ExecSpec) -> (super::ExecOutcome, Vec<u8>) {
    let mut sink = Vec::new();
    let outcome = run(spec, &mut sink).expect("run failed");
    (outcome, sink)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// True once `pid` no longer exists (or is only an unreaped zombie).
fn process_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // SAFETY: signal 0 only checks for existence.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')))
            .unwrap_or(false);
        if !alive || zombie {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "pid file never written");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn stdout_and_stderr_captured_streamed_and_exit_code_passed() {
    let dir = tempfile::tempdir().unwrap();
    let (out, sink) = run_vec(&sh("echo out; echo err 1>&2; exit 3", dir.path()));
    assert_eq!(out.status, ExitKind::Exited(3));
    let kept = text(&out.kept_output);
    assert!(kept.contains("out\n") && kept.contains("err\n"), "{kept:?}");
    assert_eq!(sink, out.kept_output);
    assert_eq!(out.total_output_bytes, 8);
    assert!(!out.output_truncated);
    assert!(!out.confined);
}

#[test]
fn output_reaches_sink_while_child_runs() {
    struct Stamped(Vec<(Instant, Vec<u8>)>);
    impl Write for Stamped {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.push((Instant::now(), buf.to_vec()));
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut sink = Stamped(Vec::new());
    let out = run(
        &sh("echo first; sleep 1; echo second", dir.path()),
        &mut sink,
    )
    .unwrap();
    let end = Instant::now();
    assert_eq!(out.status, ExitKind::Exited(0));
    let (first_at, first) = &sink.0[0];
    assert_eq!(first, b"first\n");
    assert!(end.duration_since(*first_at) >= Duration::from_millis(700));
}

#[test]
fn environment_is_scrubbed() {
    let dir = tempfile::tempdir().unwrap();
    let undeclared = std::env::vars()
        .map(|(k, _)| k)
        .find(|k| !["PATH", "HOME", "LANG"].contains(&k.as_str()))
        .expect("test process has some other variable (cargo sets several)");
    let mut s = spec(&["env"], dir.path());
    s.env = vec![("DECLARED_VAR".into(), "hello world".into())];
    let (out, _) = run_vec(&s);
    assert_eq!(out.status, ExitKind::Exited(0));
    let lines: Vec<String> = text(&out.kept_output).lines().map(str::to_owned).collect();
    assert!(lines.contains(&"DECLARED_VAR=hello world".to_owned()));
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with(&format!("{undeclared}=")))
    );
    for var in ["PATH", "HOME", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            assert!(lines.contains(&format!("{var}={v}")), "{var} missing");
        }
    }
    let allowed = ["PATH", "HOME", "LANG", "DECLARED_VAR"];
    for line in &lines {
        let name = line.split('=').next().unwrap_or_default();
        assert!(allowed.contains(&name), "unexpected variable {line}");
    }
}

#[test]
fn declared_path_overrides_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(&["definitely-not-a-real-command-xyz"], dir.path());
    s.env = vec![("PATH".into(), "/nonexistent-bin".into())];
    match run(&s, &mut io::sink()) {
        Err(ExecError::CommandNotFound { command, path }) => {
            assert_eq!(command, "definitely-not-a-real-command-xyz");
            assert_eq!(path, "/nonexistent-bin");
        }
        other => panic!("expected CommandNotFound, got {other:?}"),
    }
}

#[test]
fn relative_program_resolves_against_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hello.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi from script\n").unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let (out, _) = run_vec(&spec(&["./hello.sh"], dir.path()));
    assert_eq!(out.status, ExitKind::Exited(0));
    assert_eq!(text(&out.kept_output), "hi from script\n");
}

#[test]
fn setup_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        run(&spec(&[], dir.path()), &mut io::sink()),
        Err(ExecError::EmptyArgv)
    ));
    let missing = dir.path().join("nope");
    match run(&spec(&["true"], &missing), &mut io::sink()) {
        Err(ExecError::CwdMissing { cwd }) => assert_eq!(cwd, missing),
        other => panic!("expected CwdMissing, got {other:?}"),
    }
    let err = run(&spec(&["no-such-cmd-abc"], dir.path()), &mut io::sink()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no-such-cmd-abc") && msg.contains("PATH="),
        "{msg}"
    );
}

#[test]
fn stdin_is_dev_null() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_vec(&sh("cat; echo done", dir.path()));
    assert_eq!(out.status, ExitKind::Exited(0));
    assert_eq!(text(&out.kept_output), "done\n");
}

#[test]
fn timeout_kills_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = sh("sleep 30 & echo $! > grandchild.pid; sleep 30", dir.path());
    s.timeout = Duration::from_secs(1);
    let (out, _) = run_vec(&s);
    assert_eq!(out.status, ExitKind::TimedOut);
    assert!(out.wall >= Duration::from_secs(1), "{:?}", out.wall);
    assert!(out.wall < Duration::from_secs(4), "{:?}", out.wall);
    let pid = read_pid(&dir.path().join("grandchild.pid"));
    assert!(process_gone(pid), "grandchild {pid} survived");
}

#[test]
fn background_job_killed_when_child_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_vec(&sh(
        "sleep 30 & echo $! > grandchild.pid; echo bye",
        dir.path(),
    ));
    assert_eq!(out.status, ExitKind::Exited(0));
    assert!(out.wall < Duration::from_secs(5), "{:?}", out.wall);
    let pid = read_pid(&dir.path().join("grandchild.pid"));
    assert!(process_gone(pid), "grandchild {pid} survived");
}

#[test]
fn flooding_child_is_bounded_and_does_not_deadlock() {
    struct Counter(u64);
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    // Both streams flood at once.
    let mut s = sh(
        "yes | head -c 30000000 & yes err | head -c 20000000 1>&2; wait",
        dir.path(),
    );
    s.max_output_bytes = 1 << 20;
    let mut sink = Counter(0);
    let out = run(&s, &mut sink).unwrap();
    assert_eq!(out.status, ExitKind::Exited(0));
    assert_eq!(out.kept_output.len(), 1 << 20);
    assert!(out.output_truncated);
    assert_eq!(out.total_output_bytes, 50_000_000);
    assert_eq!(sink.0, 50_000_000);
}

#[test]
fn memory_limit_is_enforced() {
    let dir = tempfile::tempdir().unwrap();
    // dd allocates a buffer of `bs` bytes up front.
    let argv = ["dd", "if=/dev/zero", "of=/dev/null", "bs=512M", "count=1"];
    let (free, _) = run_vec(&spec(&argv, dir.path()));
    assert_eq!(free.status, ExitKind::Exited(0));
    let mut limited = spec(&argv, dir.path());
    limited.memory_limit = Some(64 << 20);
    let (out, _) = run_vec(&limited);
    assert!(
        matches!(out.status, ExitKind::Exited(c) if c != 0),
        "{:?}: {}",
        out.status,
        text(&out.kept_output)
    );
    assert!(text(&out.kept_output).contains("memory exhausted"));
}

#[test]
fn rusage_is_reported_for_busy_child() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_vec(&sh(
        "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done",
        dir.path(),
    ));
    assert_eq!(out.status, ExitKind::Exited(0));
    assert!(out.user_cpu + out.sys_cpu > Duration::ZERO, "{out:?}");
    assert!(out.user_cpu > Duration::from_millis(10), "{out:?}");
    assert!(out.max_rss_kib > 0);
    assert!(out.wall > Duration::ZERO);
}

#[test]
fn signaled_child_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = run_vec(&sh("kill -TERM $$", dir.path()));
    assert_eq!(out.status, ExitKind::Signaled(libc::SIGTERM));
}

fn landlock_dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("dirA");
    let b = root.path().join("dirB");
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    std::fs::write(b.join("existing"), "readable\n").unwrap();
    (root, a, b)
}

fn confined(script: &str, cwd: &Path, rw: &Path) -> ExecSpec {
    let mut s = sh(script, cwd);
    s.confinement = Confinement::ReadOnlyExcept {
        read_write: vec![rw.to_path_buf()],
    };
    s.confinement_required = true;
    s
}

#[test]
fn landlock_confines_writes_to_declared_dirs() {
    if let LandlockStatus::Unavailable { reason } = landlock_status() {
        // Test output, not the program's (the print lints are for the program).
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("skipping: Landlock unavailable: {reason}\n"),
        );
        return;
    }
    let (root, a, b) = landlock_dirs();
    let cwd = root.path();

    let (out, _) = run_vec(&confined(
        "echo hi > dirA/x && mkdir dirA/sub && mv dirA/x dirA/sub/x && echo ok > /dev/null",
        cwd,
        &a,
    ));
    assert_eq!(
        out.status,
        ExitKind::Exited(0),
        "{}",
        text(&out.kept_output)
    );
    assert!(out.confined);
    assert!(a.join("sub/x").exists());

    let (out, _) = run_vec(&confined("echo hi > dirB/y", cwd, &a));
    assert!(matches!(out.status, ExitKind::Exited(c) if c != 0));
    assert!(
        text(&out.kept_output).contains("Permission denied"),
        "{}",
        text(&out.kept_output)
    );
    assert!(!b.join("y").exists());

    let (out, _) = run_vec(&confined("cat dirB/existing", cwd, &a));
    assert_eq!(out.status, ExitKind::Exited(0));
    assert_eq!(text(&out.kept_output), "readable\n");

    for script in [
        "rm dirB/existing",
        "truncate -s 0 dirB/existing",
        "mkdir dirB/sub",
        "mv dirA/sub/x dirB/x",
        "ln -s /etc/passwd dirB/link",
        "echo hi > x-in-root",
    ] {
        let (out, _) = run_vec(&confined(script, cwd, &a));
        assert!(
            matches!(out.status, ExitKind::Exited(c) if c != 0),
            "`{script}` was allowed"
        );
    }
    assert_eq!(
        std::fs::read_to_string(b.join("existing")).unwrap(),
        "readable\n"
    );
    assert_eq!(std::fs::read_dir(&b).unwrap().count(), 1);
    assert!(a.join("sub/x").exists());
    assert!(!cwd.join("x-in-root").exists());
}

#[test]
fn landlock_missing_rw_path_is_an_error() {
    if let LandlockStatus::Unavailable { .. } = landlock_status() {
        return;
    }
    let (root, a, _) = landlock_dirs();
    let missing = a.join("missing");
    match run(&confined("true", root.path(), &missing), &mut io::sink()) {
        Err(ExecError::ConfinementPath { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected ConfinementPath, got {other:?}"),
    }
}

/// Re-runs `landlock_off_inner` in a child test process with
/// `AUTONOMY_LANDLOCK=off` (setting it here would race other test threads).
#[test]
fn landlock_off_refuses_required_confinement() {
    let module = module_path!();
    let test_path = module.split_once("::").map_or(module, |(_, rest)| rest);
    let name = format!("{test_path}::landlock_off_inner");
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new(exe)
        .args([name.as_str(), "--exact", "--ignored", "--test-threads=1"])
        .env(LANDLOCK_ENV_VAR, "off")
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        text(&output.stderr)
    );
}

#[test]
#[ignore = "run by landlock_off_refuses_required_confinement with AUTONOMY_LANDLOCK=off"]
fn landlock_off_inner() {
    assert!(matches!(
        landlock_status(),
        LandlockStatus::Unavailable { .. }
    ));
    let (root, a, _) = landlock_dirs();
    let marker = root.path().join("marker");
    let s = confined("touch marker", root.path(), &a);
    match run(&s, &mut io::sink()) {
        Err(ExecError::LandlockUnavailable { reason }) => {
            assert!(reason.contains(LANDLOCK_ENV_VAR))
        }
        other => panic!("expected LandlockUnavailable, got {other:?}"),
    }
    assert!(!marker.exists(), "command ran without confinement");

    let mut optional = s.clone();
    optional.confinement_required = false;
    let (out, _) = run_vec(&optional);
    assert_eq!(out.status, ExitKind::Exited(0));
    assert!(!out.confined);
    assert!(marker.exists());
}

#[test]
fn landlock_status_reports_abi() {
    match landlock_status() {
        LandlockStatus::Available { abi } => assert!(abi >= 1),
        LandlockStatus::Unavailable { reason } => assert!(!reason.is_empty()),
    }
}

#[test]
fn no_descriptors_leak_into_confined_child() {
    if let LandlockStatus::Unavailable { .. } = landlock_status() {
        return;
    }
    // A descriptor without O_CLOEXEC in the parent must still not leak.
    let leaky = std::fs::File::open("/dev/null").unwrap();
    let leaky_fd = std::os::fd::AsRawFd::as_raw_fd(&leaky);
    // SAFETY: clearing FD_CLOEXEC on a descriptor we own.
    assert_eq!(unsafe { libc::fcntl(leaky_fd, libc::F_SETFD, 0) }, 0);
    let (root, a, _) = landlock_dirs();
    let mut s = spec(&["ls", "-1", "/proc/self/fd"], root.path());
    s.confinement = Confinement::ReadOnlyExcept {
        read_write: vec![a],
    };
    let (out, _) = run_vec(&s);
    assert_eq!(out.status, ExitKind::Exited(0));
    assert!(out.confined);
    // 0-2 are stdio, 3 is ls's own directory handle.
    assert_eq!(text(&out.kept_output), "0\n1\n2\n3\n");
    drop(leaky);
}
