//! Test environment: a temp workspace, the real binary with a pinned identity and no
//! colours or pager, helpers to write files, make plans, approve through a real
//! pseudo-terminal, and snapshot the tree byte for byte and mode for mode.
#![allow(dead_code)]

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const ACTOR: &str = "tester@example.com";

/// What one path of a tree holds: None for a folder, else (bytes, mode).
pub type Entry = Option<(Vec<u8>, u32)>;
/// A workspace tree as `Env::tree` returns it.
pub type Tree = BTreeMap<String, Entry>;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_autonomy"))
}

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
}

impl Env {
    /// A fresh, initialised workspace.
    pub fn new() -> Env {
        let env = Env::bare();
        env.cmd().arg("init").assert().success();
        env
    }

    /// A fresh, initialised workspace on a memory file system (/dev/shm) where there is
    /// one, for tests that run many fsync-heavy commands and test behaviour across process
    /// kills, not power loss (where fsync matters). Falls back to the usual temp folder.
    pub fn new_fast() -> Env {
        let shm = Path::new("/dev/shm");
        let tmp = if shm.is_dir() {
            tempfile::Builder::new()
                .prefix("autonomy-test-")
                .tempdir_in(shm)
                .or_else(|_| tempfile::tempdir())
        } else {
            tempfile::tempdir()
        }
        .expect("tempdir");
        let env = Env::bare_in(tmp);
        env.cmd().arg("init").assert().success();
        env
    }

    /// A fresh folder without a workspace.
    pub fn bare() -> Env {
        Env::bare_in(tempfile::tempdir().expect("tempdir"))
    }

    fn bare_in(tmp: tempfile::TempDir) -> Env {
        let root = tmp.path().join("ws");
        std::fs::create_dir(&root).expect("mkdir");
        Env { tmp, root }
    }

    /// The binary, run in the workspace with a pinned identity and plain output.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin());
        c.current_dir(&self.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", "cat")
            .env_remove("AUTONOMY_PAGER")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("AUTONOMY_NOW")
            .env_remove("AUTONOMY_TEST_SEED");
        c
    }

    /// A std Command (for spawning and killing).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(bin());
        c.current_dir(&self.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", "cat");
        c
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir -p");
        }
        std::fs::write(p, content).expect("write");
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).expect("read")
    }

    pub fn read_str(&self, rel: &str) -> String {
        String::from_utf8(self.read(rel)).expect("utf8")
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).symlink_metadata().is_ok()
    }

    pub fn mode(&self, rel: &str) -> u32 {
        std::fs::metadata(self.path(rel))
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777
    }

    /// Write `toml` to a plan file outside the workspace and plan it; returns the full id.
    pub fn plan(&self, toml: &str) -> String {
        let id = self.plan_short(toml);
        self.full_id(&id)
    }

    pub fn plan_short(&self, toml: &str) -> String {
        let file = self.tmp.path().join(format!("plan-{}.toml", rand_suffix()));
        std::fs::write(&file, toml).expect("write plan");
        let out = self
            .cmd()
            .arg("plan")
            .arg(&file)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).expect("utf8").trim().to_string()
    }

    /// Expand a short id via `plan --format json`-free route: the journal listing.
    pub fn full_id(&self, short: &str) -> String {
        let out = self
            .cmd()
            .args(["preview", short, "--format", "json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        v["plan"]["id"].as_str().expect("id").to_string()
    }

    /// Run `autonomy ARGS` in a real pseudo-terminal, answering the approval prompt with
    /// `answer`. A high-risk plan's prompt asks for the first 4 hex digits of its id; there
    /// an `answer` of `y` is given as those digits (tests/integration/gate.rs checks that a
    /// plain `y` declines). Returns (everything printed, exit code).
    pub fn tty(&self, args: &[&str], answer: &str) -> (String, i32) {
        let mut c = std::process::Command::new(bin());
        c.args(args)
            .current_dir(&self.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", "cat")
            .env_remove("CI");
        let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("spawn in pty");
        let (mut out, found) = p
            .exp_regex(r"\[y/N\]|high-risk plan [0-9a-f]{12}\? Type the first 4 hex digits")
            .expect("prompt shown");
        let digits = found.strip_prefix("high-risk plan ").map(|rest| &rest[..4]);
        let answer = match digits {
            Some(d) if answer == "y" => d,
            _ => answer,
        };
        if digits.is_some() {
            out.push_str(&found);
        }
        p.send_line(answer).expect("answer");
        out.push_str(&p.exp_eof().unwrap_or_default());
        let code = match p.process().wait() {
            Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
            other => panic!("unexpected status {other:?}"),
        };
        (out, code)
    }

    /// Run `autonomy ARGS` in a real pseudo-terminal and type nothing: for commands that
    /// must finish without asking. Returns (everything printed, exit code).
    pub fn tty_unanswered(&self, args: &[&str]) -> (String, i32) {
        let mut c = std::process::Command::new(bin());
        c.args(args)
            .current_dir(&self.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", "cat")
            .env_remove("CI");
        let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("spawn in pty");
        let out = p.exp_eof().expect("finishes without asking");
        let code = match p.process().wait() {
            Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
            other => panic!("unexpected status {other:?}"),
        };
        (out, code)
    }

    /// Approve `id` at a (pseudo-)terminal with "y".
    pub fn approve(&self, id: &str) {
        let (out, code) = self.tty(&["approve", id], "y");
        assert_eq!(code, 0, "approve failed: {out}");
    }

    /// The workspace tree (without .autonomy): path -> (bytes, mode); folders as None;
    /// symlinks as (target, 0o120000), never followed.
    pub fn tree(&self) -> BTreeMap<String, Option<(Vec<u8>, u32)>> {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.root, &mut out);
        out
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        let out = self
            .cmd()
            .args(["log", "--format", "json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let v: serde_json::Value = serde_json::from_slice(&out).expect("json");
        v["events"].as_array().expect("events").clone()
    }

    pub fn event_kinds(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["kind"].as_str().unwrap_or("").to_string())
            .collect()
    }

    pub fn verify_ok(&self) {
        self.cmd().arg("verify").assert().success();
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<(Vec<u8>, u32)>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry"))
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p
            .strip_prefix(root)
            .expect("prefix")
            .to_string_lossy()
            .into_owned();
        if rel == ".autonomy" {
            continue;
        }
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        if meta.is_dir() {
            out.insert(rel, None);
            walk(root, &p, out);
        } else if meta.is_symlink() || !meta.is_file() {
            // A symlink is recorded by its target (never followed), anything else that is
            // not a regular file (fifo, socket) by its type bits, never read.
            let target = std::fs::read_link(&p)
                .map(|t| t.into_os_string().into_encoded_bytes())
                .unwrap_or_default();
            out.insert(rel, Some((target, meta.permissions().mode() & 0o170000)));
        } else {
            out.insert(
                rel,
                Some((
                    std::fs::read(&p).expect("read"),
                    meta.permissions().mode() & 0o7777,
                )),
            );
        }
    }
}

pub fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Skip a test with a printed reason (never silently). Under CI (`CI=true`) a skip is a
/// failure: CI runs as root with every tool installed by `.ci/run`, so a skip there means a
/// missing install step, not a machine that cannot run the test.
pub fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
        panic!("SKIPPED under CI, which counts as a failure: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// What a finished command printed and how it exited.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stdout and stderr together (for messages that may go to either).
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Env {
    /// Run `autonomy ARGS` (stdin empty, not a terminal) and return its output, whatever
    /// the exit code.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, "")
    }

    /// Run `autonomy ARGS` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Out {
        let out = self
            .cmd()
            .args(args)
            .write_stdin(input.as_bytes().to_vec())
            .output()
            .expect("run autonomy");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Write `toml` to a fresh plan file outside the workspace and return its path.
    pub fn plan_file(&self, toml: impl AsRef<[u8]>) -> PathBuf {
        let file = self.tmp.path().join(format!("plan-{}.toml", rand_suffix()));
        std::fs::write(&file, toml).expect("write plan");
        file
    }

    /// Plan `toml`, expecting it to be refused; returns the output.
    pub fn plan_refused(&self, toml: &str) -> Out {
        let file = self.plan_file(toml);
        let out = self.run(&["plan", file.to_str().expect("utf8 path")]);
        assert_ne!(out.code, 0, "plan was accepted: {out:?}");
        out
    }

    /// Run `autonomy ARGS` in a pseudo-terminal where no prompt is expected; returns
    /// (everything printed, exit code).
    pub fn tty_no_prompt(&self, args: &[&str]) -> (String, i32) {
        let mut c = std::process::Command::new(bin());
        c.args(args)
            .current_dir(&self.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", "cat")
            .env_remove("CI");
        let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("spawn in pty");
        let out = p.exp_eof().unwrap_or_default();
        let code = match p.process().wait() {
            Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
            other => panic!("unexpected status {other:?}"),
        };
        (out, code)
    }

    /// Plan and approve (at a pseudo-terminal) in one go; returns the full id.
    pub fn plan_approved(&self, toml: &str) -> String {
        let id = self.plan(toml);
        self.approve(&id);
        id
    }

    /// The ids of every stored plan (from `plan.created` events), newest first.
    pub fn plan_ids(&self) -> Vec<String> {
        self.events()
            .iter()
            .filter(|e| e["kind"] == "plan.created")
            .filter_map(|e| e["plan"].as_str().map(str::to_string))
            .collect()
    }

    /// `autonomy status --format json`.
    pub fn status_json(&self) -> serde_json::Value {
        let out = self.run(&["status", "--format", "json"]);
        assert_eq!(out.code, 0, "status failed: {out:?}");
        serde_json::from_str(&out.stdout).expect("status json")
    }

    pub fn set_mode(&self, rel: &str, mode: u32) {
        std::fs::set_permissions(self.path(rel), std::fs::Permissions::from_mode(mode))
            .expect("chmod");
    }

    /// Hold `.autonomy/lock` (an exclusive flock on a descriptor of our own, as another
    /// process would) until the guard is dropped.
    pub fn hold_lock(&self) -> LockGuard {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(".autonomy/lock"))
            .expect("open lock");
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .expect("flock");
        LockGuard { _file: file }
    }
}

/// An flock on `.autonomy/lock`, released on drop. Released explicitly, not only by
/// closing the descriptor: a process another test thread forks at that moment shares the
/// open file (until it execs), and would keep the lock held for the next command.
pub struct LockGuard {
    _file: std::fs::File,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = rustix::fs::flock(&self._file, rustix::fs::FlockOperation::Unlock);
    }
}

/// A tree snapshot as a short readable diff, for assertion messages.
pub fn tree_diff(
    a: &BTreeMap<String, Option<(Vec<u8>, u32)>>,
    b: &BTreeMap<String, Option<(Vec<u8>, u32)>>,
) -> String {
    let mut out = String::new();
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        let (x, y) = (a.get(k), b.get(k));
        if x != y {
            let d = |v: Option<&Option<(Vec<u8>, u32)>>| match v {
                None => "absent".to_string(),
                Some(None) => "dir".to_string(),
                Some(Some((bytes, mode))) => format!("{} bytes mode {mode:o}", bytes.len()),
            };
            out.push_str(&format!("  {k}: {} vs {}\n", d(x), d(y)));
        }
    }
    out
}

impl Env {
    /// Run `autonomy ARGS` in a real pseudo-terminal with extra environment, without
    /// answering anything. Returns (everything printed, exit code).
    pub fn pty(&self, args: &[&str], envs: &[(&str, &str)]) -> (String, i32) {
        let mut c = std::process::Command::new(bin());
        c.args(args)
            .current_dir(&self.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", "cat")
            .env_remove("AUTONOMY_PAGER")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CI");
        for (k, v) in envs {
            c.env(k, v);
        }
        let mut p = rexpect::session::spawn_command(c, Some(30_000)).expect("spawn in pty");
        let out = p.exp_eof().unwrap_or_default();
        let code = match p.process().wait() {
            Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
            other => panic!("unexpected status {other:?}"),
        };
        (out, code)
    }

    /// Store `n` tiny plans (one new folder each, titled "bulk 0" .. "bulk n-1", oldest
    /// first) straight through the library, much faster than `n` `autonomy plan` calls.
    /// Returns their full ids, oldest first.
    pub fn bulk_plans(&self, n: usize) -> Vec<String> {
        use autonomy::model::{Change, Plan, State};
        let mut s = autonomy::ops::session::Session::open(&self.root).expect("open workspace");
        // Test data only: durability does not matter here, speed does.
        s.journal.unsynced_for_test_data().expect("pragma");
        let workspace = s.workspace_id().expect("workspace id");
        (0..n)
            .map(|i| {
                let plan = Plan {
                    format: autonomy::model::plan::PLAN_FORMAT.to_string(),
                    workspace: workspace.clone(),
                    created: "2026-01-01T00:00:00Z".to_string(),
                    title: format!("bulk {i}"),
                    author: ACTOR.to_string(),
                    description: None,
                    reverses: None,
                    changes: vec![Change {
                        path: format!("bulk-{i}"),
                        before: State::Absent,
                        after: State::dir(),
                        from: None,
                    }],
                    exec: Vec::new(),
                };
                s.insert_plan(&plan, "file")
                    .expect("insert plan")
                    .into_string()
            })
            .collect()
    }

    /// Append `n` small events to the journal in one transaction (a long log).
    pub fn bulk_events(&self, n: usize) {
        let mut s = autonomy::ops::session::Session::open(&self.root).expect("open workspace");
        s.journal
            .write(|tx| {
                for i in 0..n {
                    // Filler of a kind that names no plan and changes nothing.
                    tx.event(
                        ACTOR,
                        autonomy::model::EventKind::PlanPreviewed,
                        None,
                        &serde_json::json!({ "note": format!("filler event number {i}") }),
                    )?;
                }
                Ok(())
            })
            .expect("append events");
    }
}

// // Helpers for the robustness suites (failpoints, kills, disk full, races, hostile input,
// tampering). Everything below is additive.

use std::process::Output;

impl Env {
    /// A fresh, initialised workspace in a temp folder under `parent` (e.g. a tmpfs).
    pub fn new_in(parent: &Path) -> Env {
        let tmp = tempfile::tempdir_in(parent).expect("tempdir");
        let root = tmp.path().join("ws");
        std::fs::create_dir(&root).expect("mkdir");
        let env = Env { tmp, root };
        env.cmd().arg("init").assert().success();
        env
    }

    /// Run `autonomy ARGS` to completion (no terminal); stdin is empty.
    pub fn output(&self, args: &[&str]) -> Output {
        self.output_env(args, &[])
    }

    /// Run `autonomy ARGS` with extra environment variables.
    pub fn output_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut c = self.std_cmd();
        c.args(args)
            .env_remove("AUTONOMY_FAILPOINT")
            .stdin(std::process::Stdio::null());
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().expect("run autonomy")
    }

    /// The journal, opened directly (for inspection and deliberate tampering).
    pub fn journal(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.root.join(".autonomy/journal.db"))
            .expect("open journal");
        c.busy_timeout(std::time::Duration::from_secs(30))
            .expect("busy timeout");
        c
    }

    /// A count from the journal, e.g. `SELECT COUNT(*) FROM plans`.
    pub fn count(&self, sql: &str) -> i64 {
        self.journal()
            .query_row(sql, [], |r| r.get(0))
            .expect("count query")
    }

    /// `log --head`: `SEQ:HASH`.
    pub fn head(&self) -> String {
        let out = self.output(&["log", "--head"]);
        assert_eq!(out.status.code(), Some(0), "log --head: {}", text(&out));
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_string()
    }

    /// Apply `id` (already approved) and insist it succeeds.
    pub fn apply_ok(&self, id: &str) {
        let out = self.output(&["apply", id]);
        assert_eq!(out.status.code(), Some(0), "apply {id}: {}", text(&out));
    }

    /// Create (or reuse) the reverse plan of applied plan `id`; returns its full id.
    pub fn rollback_plan(&self, id: &str) -> String {
        let out = self.output(&["rollback", id, "--plan-only"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "rollback --plan-only: {}",
            text(&out)
        );
        let short = String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_string();
        self.full_id_db(&short)
    }
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        clip(&String::from_utf8_lossy(&o.stdout)),
        clip(&String::from_utf8_lossy(&o.stderr))
    )
}

/// At most 4 KiB of `s` (some hostile inputs are echoed back in errors).
pub fn clip(s: &str) -> String {
    if s.len() <= 4096 {
        return s.to_string();
    }
    let mut end = 4096;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... [{} bytes in all]", &s[..end], s.len())
}

/// The signal that ended the process, if one did.
pub fn signal_of(status: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.signal()
}

/// Insist a command ended by itself (no signal, no panic) with one of `codes`.
pub fn assert_exit_in(o: &Output, codes: &[i32], what: &str) {
    assert!(
        signal_of(&o.status).is_none(),
        "{what}: killed by signal: {}",
        text(o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{what}: panicked: {}",
        text(o)
    );
    let code = o.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "{what}: exit {code}, expected one of {codes:?}: {}",
        text(o)
    );
}

/// A tiny seeded PRNG (xorshift64*), so that random trials can be replayed from a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The seed for randomised tests: `AUTONOMY_TEST_SEED_ROBUST` if set, else `default`.
pub fn seed(default: u64) -> u64 {
    std::env::var("AUTONOMY_TEST_SEED_ROBUST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Make an ed25519 key pair with ssh-keygen in `dir`; returns the private key path and
/// the `keytype base64` public part, or `None` (with a printed reason) without ssh-keygen.
pub fn ssh_key(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    let key = dir.join(name);
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            skip(&format!("ssh-keygen failed: {}", text(&o)));
            return None;
        }
        Err(e) => {
            skip(&format!("ssh-keygen is not available: {e}"));
            return None;
        }
    }
    let public = std::fs::read_to_string(key.with_extension("pub")).ok()?;
    let mut parts = public.split_whitespace();
    let public = format!("{} {}", parts.next()?, parts.next()?);
    Some((key, public))
}

impl Env {
    /// List `public` (`keytype base64`) for `principal` in `.autonomy/allowed_signers`.
    pub fn allow_signer(&self, principal: &str, public: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join(".autonomy/allowed_signers"))
            .expect("open allowed_signers");
        writeln!(f, "{principal} {public}").expect("write allowed_signers");
    }

    /// `approve ID --sign-with KEY -o FILE` (outside the workspace); returns FILE.
    pub fn sign(&self, id: &str, key: &Path) -> PathBuf {
        let file = self
            .tmp
            .path()
            .join(format!("{}-{}.approval", &id[..12], rand_suffix()));
        let out = self.output(&[
            "approve",
            id,
            "--sign-with",
            key.to_str().expect("utf8 key path"),
            "-o",
            file.to_str().expect("utf8 path"),
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "approve --sign-with: {}",
            text(&out)
        );
        file
    }
}

/// A folder on a memory file system (`/dev/shm`) when there is one, else the temp folder.
/// Process crashes (kill -9, abort) do not depend on fsync, so the tests that run many
/// of them use it to stay fast on a slow disk.
pub fn fast_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let probe = tempfile::tempdir_in(shm);
    if shm.is_dir() && probe.is_ok() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

impl Env {
    /// The full id of a plan from its unique prefix, read from the journal.
    pub fn full_id_db(&self, short: &str) -> String {
        self.journal()
            .query_row(
                "SELECT id FROM plans WHERE id LIKE ?1 || '%'",
                [short],
                |r| r.get(0),
            )
            .expect("plan id")
    }
}
