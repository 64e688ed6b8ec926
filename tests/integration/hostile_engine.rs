//! The run engine against a hostile or unlucky world (issue 12, findings 7-11, 13, 15, 17,
//! 18, 22): exec steps that write where they did not declare, crashes in the middle of a
//! command followed by hand edits, processes holding a file open, a disk that fills at the
//! commit, hard links, signals, FIFOs, files named like autonomy's temp files, and files
//! owned by another user. Real processes, real signals, a real tmpfs, real hard links and
//! FIFOs, a real `nobody`-owned file (as root).

use crate::common::*;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const EXEC_RULES: &str = "[exec]\nallow = true\ncommands = [\"sh\"]\ntimeout = \"60s\"\n";

fn exec_plan(script: &str, touches: &[&str]) -> String {
    format!(
        "title = \"exec\"\n[[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", {script:?}]\ntouches = {touches:?}\n"
    )
}

/// Roll back applied plan `id` through the ordinary commands.
fn rollback(env: &Env, id: &str) {
    let rev = env.rollback_plan(id);
    env.approve(&rev);
    env.apply_ok(&rev);
}

/// Wait until `cond` holds (up to `limit`); whether it did.
fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Wait for `child` up to `limit`; kill it (and fail) if it takes longer.
fn wait_or_kill(child: &mut std::process::Child, limit: Duration, what: &str) -> Out {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut stdout = String::new();
            let mut stderr = String::new();
            use std::io::Read;
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_string(&mut stdout);
            }
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            return Out {
                code: status.code().unwrap_or(-1),
                stdout,
                stderr,
            };
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(env: &Env, args: &[&str]) -> std::process::Child {
    env.std_cmd()
        .args(args)
        .env_remove("AUTONOMY_FAILPOINT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn autonomy")
}

/// As [`spawn`], without private namespaces, so that a command's `$$` is a pid this test
/// can watch (inside a PID namespace it names another process here). The namespaced path,
/// where the kernel ends every process of the step, is held by `hostile_confine`.
fn spawn_host_pids(env: &Env, args: &[&str]) -> std::process::Child {
    env.std_cmd()
        .args(args)
        .env_remove("AUTONOMY_FAILPOINT")
        .env("AUTONOMY_NAMESPACES", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn autonomy")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn mkfifo(p: &Path) {
    let ok = Command::new("mkfifo")
        .arg(p)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", p.display());
}

fn pid_alive(pid: i32) -> bool {
    // A zombie counts as gone: it no longer runs.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

// ---------------------------------------------------------------------------------------
// 7. A failed exec step leaves its undeclared writes in place while saying every path was
// put back.

/// An exec step whose `touches` are `gen/*.txt` also rewrites, deletes and creates files
/// beside them in `gen/` (which its confinement opens for writing). The run fails, and
/// every one of those paths is put back exactly, whether the command exits 0 or not; the
/// message says what happened and claims nothing false.
#[test]
fn exec_undeclared_writes_are_undone_and_the_message_is_true() {
    for exit in ["0", "3"] {
        let env = Env::new();
        env.write("autonomy.toml", EXEC_RULES);
        env.write("gen/a.txt", "a\n");
        env.write("gen/data.bin", "precious data\n");
        env.write("gen/sub/keep.bin", "keep me\n");
        env.set_mode("gen/data.bin", 0o640);
        let before = env.tree();
        let script = format!(
            "echo new > gen/a.txt; echo evil > gen/data.bin; chmod 600 gen/data.bin; rm gen/sub/keep.bin; \
             mkdir gen/newdir; echo z > gen/newdir/f.bin; echo n > gen/n.txt; exit {exit}"
        );
        let id = env.plan_approved(&exec_plan(&script, &["gen/*.txt"]));
        let out = env.run(&["apply", &id]);
        assert_eq!(out.code, 1, "exit {exit}: {out:?}");
        assert!(
            out.stderr.contains("outside its declared `touches`"),
            "{out:?}"
        );
        assert!(
            out.stderr.contains("gen/data.bin"),
            "names the path: {out:?}"
        );
        assert_eq!(
            env.tree(),
            before,
            "exit {exit}: not put back:\n{}",
            tree_diff(&env.tree(), &before)
        );
        assert!(out.stderr.contains("every path was put back"), "{out:?}");
        assert!(env.status_json()["interrupted_run"].is_null());
        env.verify_ok();
    }
}

/// Without Landlock (or should it fail), a command can change a file outside everything
/// autonomy snapshotted. What it created is removed; what it changed there cannot be put
/// back, and the message says so instead of claiming every path was put back.
#[test]
fn exec_changes_autonomy_kept_nothing_for_are_named_not_claimed() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/old.txt", "old\n");
    env.write("outside.txt", "keep\n");
    let id = env.plan_approved(&exec_plan(
        "echo x > gen/new.txt; (echo sneaky > outside.txt; echo made > made.txt) 2>/dev/null; exit 0",
        &["gen/**"],
    ));
    // Neither kernel confinement (private namespaces, Landlock) may stop the write here.
    let o = env.output_env(
        &["apply", &id],
        &[("AUTONOMY_LANDLOCK", "off"), ("AUTONOMY_NAMESPACES", "off")],
    );
    assert_exit_in(
        &o,
        &[1],
        "apply with an undeclared write outside the snapshot",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!env.exists("gen/new.txt"), "{err}");
    assert!(
        !env.exists("made.txt"),
        "a file the command made is removed: {err}"
    );
    if env.read_str("outside.txt") == "sneaky\n" {
        assert!(
            err.contains("kept no old content for") && err.contains("outside.txt"),
            "{err}"
        );
        assert!(
            !err.contains("the run failed; every path was put back as it was"),
            "{err}"
        );
    } else {
        assert!(err.contains("every path was put back"), "{err}");
    }
    assert!(env.status_json()["interrupted_run"].is_null());
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// 8. `recover` after an interrupted exec step deleted files created and overwrote edits
// made by hand under `touches` since the crash.

fn two_step_exec_env() -> (Env, String) {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/old.txt", "old\n");
    env.write("keep.txt", "keep\n");
    let id = env.plan_approved(
        "title = \"two steps\"\n\
         [[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", \"echo new > gen/new.txt; echo changed > gen/old.txt\"]\ntouches = [\"gen/**\"]\n\
         [[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", \"echo second > gen/second.txt\"]\ntouches = [\"gen/**\"]\n",
    );
    (env, id)
}

/// A crash after the first step's command finished (its effects journaled), then hand
/// work under `touches`: a new file and an edit of a file the step wrote. `recover` stops
/// with exit 4 naming the edited file and touches nothing; once the edit is undone by
/// hand it recovers, and the hand-made file survives.
#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn recover_after_exec_crash_keeps_hand_work_and_stops_on_unknown_content() {
    let (env, id) = two_step_exec_env();
    let before = env.tree();
    for fp in ["exec.after_observed:1", "exec.after_snapshot:2"] {
        let o = env.output_env(&["apply", &id], &[("AUTONOMY_FAILPOINT", fp)]);
        assert_eq!(signal_of(&o.status), Some(6), "{fp}: {}", text(&o));
        assert_eq!(env.read_str("gen/new.txt"), "new\n");
        // By hand, after the crash.
        env.write("gen/hand.txt", "made by hand\n");
        env.write("gen/new.txt", "my edit\n");
        let o = env.output(&["recover"]);
        assert_exit_in(&o, &[4], &format!("{fp}: recover with an unknown edit"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("gen/new.txt"), "{fp}: names the path: {err}");
        assert_eq!(env.read_str("gen/new.txt"), "my edit\n", "{fp}: edit kept");
        assert_eq!(env.read_str("gen/hand.txt"), "made by hand\n");
        assert_eq!(
            env.read_str("gen/old.txt"),
            "changed\n",
            "{fp}: nothing undone yet"
        );
        // Put the step's version back by hand: now recovery knows every path.
        env.write("gen/new.txt", "new\n");
        let o = env.output(&["recover"]);
        assert_exit_in(&o, &[0], &format!("{fp}: recover"));
        assert_eq!(
            env.read_str("gen/hand.txt"),
            "made by hand\n",
            "{fp}: hand-made file deleted"
        );
        std::fs::remove_file(env.path("gen/hand.txt")).expect("rm");
        assert_eq!(
            env.tree(),
            before,
            "{fp}: {}",
            tree_diff(&env.tree(), &before)
        );
        env.verify_ok();
    }
    env.apply_ok(&id);
    assert_eq!(env.read_str("gen/second.txt"), "second\n");
}

/// `kill -9` while the step's command runs: what it wrote is not known, so `recover`
/// names every path that differs from the snapshot (exit 4) and changes nothing;
/// `recover --overwrite` then puts the snapshot back, keeping the overwritten content in
/// the store and naming it in the journal.
#[test]
fn recover_after_kill_during_a_command_names_its_writes_until_overwrite() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/old.txt", "old\n");
    let before = env.tree();
    let id = env.plan_approved(&exec_plan(
        "echo partial > gen/old.txt; echo $$ > gen/pid; sleep 60",
        &["gen/**"],
    ));
    let mut child = spawn_host_pids(&env, &["apply", &id]);
    let pid_file = env.path("gen/pid");
    assert!(
        wait_until(Duration::from_secs(30), || std::fs::read_to_string(
            &pid_file
        )
        .is_ok_and(|s| s.ends_with('\n'))),
        "the command did not start"
    );
    let pid: i32 = env.read_str("gen/pid").trim().parse().expect("pid");
    child.kill().expect("kill -9");
    let _ = child.wait();
    // The command is in its own session and outlives autonomy; stop it too.
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    assert!(wait_until(Duration::from_secs(10), || !pid_alive(pid)));

    let o = env.output(&["recover"]);
    assert_exit_in(&o, &[4], "recover after a kill during the command");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("gen/old.txt") && err.contains("gen/pid"),
        "{err}"
    );
    assert_eq!(
        env.read_str("gen/old.txt"),
        "partial\n",
        "nothing overwritten"
    );
    assert_exit_in(&env.output(&["plan", "-"]), &[6], "still interrupted");

    let o = env.output(&["recover", "--overwrite"]);
    assert_exit_in(&o, &[0], "recover --overwrite");
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
    let kept: Vec<serde_json::Value> = env
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "run.recovered")
        .collect();
    let overwritten = kept[0]["data"]["overwritten"].to_string();
    assert!(overwritten.contains("gen/old.txt"), "{overwritten}");
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// 9. A snapshot blob was the old file's live inode: a process holding the file open could
// still write to it.

/// The test process holds a file open for writing while a plan replaces it (and another
/// that the plan deletes), then writes through its descriptors. The snapshots are not
/// touched: `verify` passes and rollback restores the exact old bytes.
#[test]
fn a_process_holding_the_old_file_open_cannot_change_the_snapshot() {
    let env = Env::new();
    env.write("a.txt", "original a\n");
    env.write("b.txt", "original b\n");
    env.write("c.txt", "nobody has this open\n");
    let before = env.tree();
    let open = |p: &str| {
        std::fs::OpenOptions::new()
            .append(true)
            .open(env.path(p))
            .expect("open")
    };
    let (mut fa, mut fb) = (open("a.txt"), open("b.txt"));
    let id = env.plan_approved(
        "title = \"replace while open\"\n\
         [[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"new a\\n\"\n\
         [[action]]\nkind = \"delete\"\npath = \"b.txt\"\n\
         [[action]]\nkind = \"write\"\npath = \"c.txt\"\ncontent = \"new c\\n\"\n",
    );
    env.apply_ok(&id);
    fa.write_all(b"written later through an old descriptor\n")
        .expect("write a");
    fb.write_all(b"written later through an old descriptor\n")
        .expect("write b");
    drop((fa, fb));
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[0], "verify after writes through old descriptors");
    rollback(&env, &id);
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// 10 and 22. A full disk at the commit; recovery on a full disk; what a full disk is called.

/// A tmpfs mounted on a temp folder; unmounted when dropped (also when a test fails).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed (not root or not permitted): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// A workspace on `fs` whose verify command fills the disk (into `build/`, which it may
/// write), and an approved plan replacing two files and deleting a third.
fn filling_env(fs: &Tmpfs) -> (Env, String) {
    let env = Env::new_in(fs.path());
    env.write(
        "autonomy.toml",
        "[verify]\nrun = [\"sh\", \"-c\", \"cat /dev/zero > build/fill 2>/dev/null; true\"]\nwrites = [\"build/**\"]\n",
    );
    env.write("build/.keep", "");
    env.write("a.txt", "old a\n");
    env.write("b.txt", "old b\n");
    env.write("c.txt", "old c\n");
    let id = env.plan_approved(
        "title = \"fills the disk\"\n\
         [[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"new a\\n\"\n\
         [[action]]\nkind = \"write\"\npath = \"b.txt\"\ncontent = \"new b\\n\"\n\
         [[action]]\nkind = \"delete\"\npath = \"c.txt\"\n",
    );
    (env, id)
}

/// Whether the verify command's filler took (most of) the 8 MiB.
fn filled(env: &Env) -> bool {
    std::fs::metadata(env.path("build/fill")).is_ok_and(|m| m.len() > 4 << 20)
}

fn without_fill(mut t: Tree) -> Tree {
    t.remove("build/fill");
    t
}

/// The verify command fills the disk before the commit: the run still commits (room for
/// the journal was set aside before it began), and everything is consistent afterwards.
#[test]
fn a_disk_filled_before_the_commit_does_not_stop_it() {
    let fs = match Tmpfs::mount("8m") {
        Ok(fs) => fs,
        Err(e) => return skip(&e),
    };
    let (env, id) = filling_env(&fs);
    let before = env.tree();
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[0], "apply whose verify fills the disk");
    assert!(filled(&env), "the verify command did not fill the disk");
    assert_eq!(env.read_str("a.txt"), "new a\n");
    assert!(!env.exists("c.txt"));
    assert!(env.status_json()["interrupted_run"].is_null());
    assert!(
        !env.exists(".autonomy/reserve"),
        "the reservation is released"
    );
    std::fs::remove_file(env.path("build/fill")).expect("free space");
    env.verify_ok();
    rollback(&env, &id);
    let (now, before) = (without_fill(env.tree()), without_fill(before));
    assert!(now == before, "{}", tree_diff(&now, &before));
}

/// A crash at the commit with the disk full (the verify command filled it): `recover`
/// finishes while the disk is still full, putting every file back by rename.
#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn recover_finishes_while_the_disk_is_still_full() {
    let fs = match Tmpfs::mount("8m") {
        Ok(fs) => fs,
        Err(e) => return skip(&e),
    };
    let (env, id) = filling_env(&fs);
    let before = env.tree();
    for fp in ["run.before_snapshot", "run.after_snapshot"] {
        let o = env.output_env(&["apply", &id], &[("AUTONOMY_FAILPOINT", fp)]);
        assert_eq!(signal_of(&o.status), Some(6), "{fp}: {}", text(&o));
        assert!(
            filled(&env),
            "{fp}: the verify command did not fill the disk"
        );
        let free = rustix::fs::statvfs(fs.path()).expect("statvfs");
        assert!(
            free.f_bavail * free.f_frsize < 1 << 20,
            "{fp}: the disk is not full"
        );
        let o = env.output(&["recover"]);
        assert_exit_in(&o, &[0], &format!("{fp}: recover on a full disk"));
        let (now, want) = (without_fill(env.tree()), without_fill(before.clone()));
        assert!(now == want, "{fp}: {}", tree_diff(&now, &want));
        std::fs::remove_file(env.path("build/fill")).expect("free space");
        env.verify_ok();
    }
}

/// Writing a temp file fails for want of space: the error says so and names the file
/// and the temp file, not "reading blob".
#[test]
fn a_full_disk_while_writing_a_temp_file_is_called_that() {
    let fs = match Tmpfs::mount("8m") {
        Ok(fs) => fs,
        Err(e) => return skip(&e),
    };
    let env = Env::new_in(fs.path());
    env.write("small.txt", "small\n");
    env.write("big.bin", "tiny\n");
    let file = env.plan_file(format!(
        "title = \"big\"\n[[action]]\nkind = \"write\"\npath = \"big.bin\"\ncontent = \"{}\"\n",
        "x".repeat(2 << 20)
    ));
    let o = env.run(&["plan", file.to_str().expect("utf8")]);
    assert_eq!(o.code, 0, "{o:?}");
    std::fs::remove_file(&file).expect("rm plan file");
    let id = env.full_id(o.stdout.trim());
    env.approve(&id);
    let before = env.tree();
    // Leave room for the run's reservation, not for the 2 MiB file.
    let filler = env.tmp.path().join("filler");
    let mut f = std::fs::File::create(&filler).expect("filler");
    let chunk = vec![0x5au8; 64 << 10];
    while f.write(&chunk).is_ok_and(|n| n > 0) {}
    let len = f.metadata().expect("stat").len();
    f.set_len(len.saturating_sub(256 << 10)).expect("truncate");
    drop(f);
    let o = env.run(&["apply", &id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("disk is full"), "{o:?}");
    assert!(o.stderr.contains("big.bin"), "{o:?}");
    assert!(o.stderr.contains("temp file"), "names the action: {o:?}");
    assert!(!o.stderr.contains("reading blob"), "misleading: {o:?}");
    assert_eq!(env.tree(), before);
    std::fs::remove_file(filler).expect("free");
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// 11. A mode-only change applied to a shared inode changed a hard link outside.

#[test]
fn a_mode_change_does_not_reach_a_hard_link_outside_the_workspace() {
    let env = Env::new();
    env.write("tool.sh", "#!/bin/sh\necho hi\n");
    env.set_mode("tool.sh", 0o644);
    let outside = env.tmp.path().join("outside-link");
    std::fs::hard_link(env.path("tool.sh"), &outside).expect("hard link");
    let before = env.tree();
    let id = env.plan_approved(
        "title = \"chmod\"\n[[action]]\nkind = \"chmod\"\npath = \"tool.sh\"\nexecutable = true\n",
    );
    env.apply_ok(&id);
    assert_eq!(env.mode("tool.sh"), 0o755);
    let m = std::fs::metadata(&outside).expect("stat outside");
    assert_eq!(m.mode() & 0o7777, 0o644, "the link outside was changed");
    assert_eq!(
        std::fs::read(&outside).expect("read"),
        b"#!/bin/sh\necho hi\n"
    );
    rollback(&env, &id);
    assert_eq!(env.tree(), before);
    assert_eq!(
        std::fs::metadata(&outside).expect("stat").mode() & 0o7777,
        0o644
    );
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// 13. SIGINT/SIGTERM during an exec step were ignored and the run committed.

#[test]
fn a_signal_during_an_exec_step_stops_it_and_undoes_the_run() {
    for sig in ["TERM", "INT"] {
        let env = Env::new();
        env.write("autonomy.toml", EXEC_RULES);
        env.write("gen/old.txt", "old\n");
        env.write("plain.txt", "plain\n");
        let before = env.tree();
        let id = env.plan_approved(
            "title = \"slow\"\n\
             [[action]]\nkind = \"write\"\npath = \"plain.txt\"\ncontent = \"changed\\n\"\n\
             [[action]]\nkind = \"exec\"\nrun = [\"sh\", \"-c\", \"echo changed > gen/old.txt; echo $$ > gen/pid; sleep 60\"]\ntouches = [\"gen/**\"]\n",
        );
        let mut child = spawn_host_pids(&env, &["apply", &id]);
        let pid_file = env.path("gen/pid");
        assert!(
            wait_until(Duration::from_secs(30), || std::fs::read_to_string(
                &pid_file
            )
            .is_ok_and(|s| s.ends_with('\n'))),
            "{sig}: the command did not start"
        );
        let pid: i32 = env.read_str("gen/pid").trim().parse().expect("pid");
        let t0 = Instant::now();
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok);
        let out = wait_or_kill(&mut child, Duration::from_secs(20), "apply after a signal");
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{sig}: the step ran on"
        );
        assert_eq!(out.code, 1, "{sig}: {out:?}");
        assert!(out.stderr.contains("interrupted by a signal"), "{out:?}");
        assert!(!pid_alive(pid), "{sig}: the command still runs");
        assert_eq!(
            env.tree(),
            before,
            "{sig}: {}",
            tree_diff(&env.tree(), &before)
        );
        assert!(env.status_json()["interrupted_run"].is_null());
        assert!(env.event_kinds().contains(&"run.failed".to_string()));
        assert!(!env.event_kinds().contains(&"run.committed".to_string()));
        env.verify_ok();
    }
}

// ---------------------------------------------------------------------------------------
// 15 and 22. A FIFO under `touches` hung `apply` forever, holding the lock.

#[test]
fn a_fifo_under_touches_is_refused_not_waited_on() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/a.txt", "a\n");
    mkfifo(&env.path("gen/pipe"));
    let before = env.tree();
    let id = env.plan_approved(&exec_plan("echo b > gen/a.txt", &["gen/**"]));
    let mut child = spawn(&env, &["apply", &id]);
    let out = wait_or_kill(&mut child, Duration::from_secs(30), "apply with a fifo");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("gen/pipe"), "names the path: {out:?}");
    assert!(out.stderr.contains("fifo"), "says what it is: {out:?}");
    assert!(!out.stderr.contains("is a directory"), "{out:?}");
    assert_eq!(env.tree(), before);
    // The lock was released: the next command runs at once.
    let o = env.run(&["recover"]);
    assert_eq!(o.code, 0, "{o:?}");
    env.verify_ok();
}

/// A command that makes a FIFO (or turns a file into one) under its `touches`: the step
/// fails naming it, and it is removed without ever being opened.
#[test]
fn a_fifo_made_by_a_command_fails_the_step_and_is_removed() {
    let env = Env::new();
    env.write("autonomy.toml", EXEC_RULES);
    env.write("gen/a.txt", "a\n");
    let before = env.tree();
    let id = env.plan_approved(&exec_plan(
        "mkfifo gen/q && echo b > gen/a.txt",
        &["gen/**"],
    ));
    let mut child = spawn(&env, &["apply", &id]);
    let out = wait_or_kill(&mut child, Duration::from_secs(30), "apply making a fifo");
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("gen/q") && out.stderr.contains("fifo"),
        "{out:?}"
    );
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
    env.verify_ok();
}

// ---------------------------------------------------------------------------------------
// 17. `apply` deleted a user file named like its temp files.

fn temp_lookalikes(env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["", "d/"] {
        for run in 1..=4 {
            for idx in 0..=3 {
                let p = format!("{dir}.autonomy-tmp-{run}-{idx}");
                env.write(&p, format!("mine: {p}\n"));
                out.push(p);
            }
        }
        let p = format!("{dir}.autonomy-tmp-restore-abcdef");
        env.write(&p, "mine too\n");
        out.push(p);
    }
    out
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn user_files_named_like_temp_files_are_never_removed() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    env.write("d/b.txt", "b\n");
    let mine = temp_lookalikes(&env);
    let before = env.tree();
    let id = env.plan_approved(
        "title = \"two files\"\n\
         [[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"A\\n\"\n\
         [[action]]\nkind = \"write\"\npath = \"d/b.txt\"\ncontent = \"B\\n\"\n",
    );
    // A crash with temp files written, recovered; then the plan applied and rolled back.
    let o = env.output_env(
        &["apply", &id],
        &[("AUTONOMY_FAILPOINT", "step.after_temp")],
    );
    assert_eq!(signal_of(&o.status), Some(6), "{}", text(&o));
    assert_exit_in(&env.output(&["recover"]), &[0], "recover");
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
    env.apply_ok(&id);
    rollback(&env, &id);
    for p in &mine {
        assert_eq!(
            env.read_str(p),
            if p.contains("restore") {
                "mine too\n".to_string()
            } else {
                format!("mine: {p}\n")
            },
            "{p}"
        );
    }
    assert_eq!(env.tree(), before, "{}", tree_diff(&env.tree(), &before));
}

// ---------------------------------------------------------------------------------------
// 18. Owner and group were not kept: a root apply turned a `nobody` 0600 file into root's.

const NOBODY: u32 = 65534;

fn owner(p: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(p).expect("stat");
    (m.uid(), m.gid())
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown");
}

#[test]
#[cfg_attr(
    not(feature = "failpoints"),
    ignore = "needs --features failpoints (README test command)"
)]
fn owner_and_group_are_kept_on_edit_and_restored_by_rollback_and_recover() {
    if !is_root() {
        return skip("needs root to give files to nobody");
    }
    let env = Env::new();
    env.write("secret.txt", "nobody's secret\n");
    env.write("gone.txt", "nobody's old file\n");
    env.write("mode.sh", "#!/bin/sh\n");
    for p in ["secret.txt", "gone.txt", "mode.sh"] {
        chown(&env.path(p), NOBODY, NOBODY);
    }
    env.set_mode("secret.txt", 0o600);
    let id = env.plan_approved(
        "title = \"owned by nobody\"\n\
         [[action]]\nkind = \"write\"\npath = \"secret.txt\"\ncontent = \"edited\\n\"\n\
         [[action]]\nkind = \"delete\"\npath = \"gone.txt\"\n\
         [[action]]\nkind = \"chmod\"\npath = \"mode.sh\"\nexecutable = true\n",
    );
    let check = |what: &str| {
        for p in ["secret.txt", "gone.txt", "mode.sh"] {
            if env.exists(p) {
                assert_eq!(owner(&env.path(p)), (NOBODY, NOBODY), "{what}: {p}");
            }
        }
    };
    // A crash after a replacement, recovered.
    let before = env.tree();
    let o = env.output_env(
        &["apply", &id],
        &[("AUTONOMY_FAILPOINT", "step.after_rename:2")],
    );
    assert_eq!(signal_of(&o.status), Some(6), "{}", text(&o));
    assert_exit_in(&env.output(&["recover"]), &[0], "recover");
    assert_eq!(env.tree(), before);
    check("after recover");
    // Applied: the edit keeps the owner, group and mode.
    env.apply_ok(&id);
    assert_eq!(env.read_str("secret.txt"), "edited\n");
    assert_eq!(env.mode("secret.txt"), 0o600);
    check("after apply");
    // Rolled back: the deleted file comes back with its owner and group.
    rollback(&env, &id);
    assert_eq!(env.tree(), before);
    check("after rollback");
    assert!(env.exists("gone.txt"));
    env.verify_ok();
}

/// Backups of a kept old file do not stay behind (temp files, reservation, run folders).
#[test]
fn nothing_is_left_behind_in_the_state_folder() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let id = env.plan_approved(
        "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"b\\n\"\n",
    );
    env.apply_ok(&id);
    rollback(&env, &id);
    let runs: Vec<PathBuf> = std::fs::read_dir(env.path(".autonomy/runs"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(runs.is_empty(), "{runs:?}");
    assert!(!env.exists(".autonomy/reserve"));
    assert!(!env.tree().keys().any(|k| k.contains(".autonomy-tmp")));
}
