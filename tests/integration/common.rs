//! Test environment: a temp workspace, the real binary with a pinned identity and no
//! colours or pager, helpers to write files, make plans, approve through a real
//! pseudo-terminal, and snapshot the tree byte for byte and mode for mode.
#![allow(dead_code)]

use assert_cmd::Command;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub const ACTOR: &str = "tester@example.com";

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

    /// A fresh folder without a workspace.
    pub fn bare() -> Env {
        let tmp = tempfile::tempdir().expect("tempdir");
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
    /// `answer`. Returns (everything printed, exit code).
    pub fn tty(&self, args: &[&str], answer: &str) -> (String, i32) {
        let mut c = std::process::Command::new(bin());
        c.args(args)
            .current_dir(&self.root)
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", "cat")
            .env_remove("CI");
        let mut p = rexpect::session::spawn_command(c, Some(20_000)).expect("spawn in pty");
        let mut out = p.exp_string("[y/N]").expect("prompt shown");
        p.send_line(answer).expect("answer");
        out.push_str(&p.exp_eof().unwrap_or_default());
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

    /// The workspace tree (without .autonomy): path -> (bytes, mode); folders as None.
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

/// Skip a test with a printed reason (never silently).
pub fn skip(reason: &str) {
    eprintln!("SKIPPED: {reason}");
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
        use autonomy::plan::{Change, Plan, State};
        let mut s = autonomy::session::Session::open(&self.root).expect("open workspace");
        // Test data only: durability does not matter here, speed does.
        s.journal
            .conn
            .pragma_update(None, "synchronous", "OFF")
            .expect("pragma");
        let workspace = s.workspace_id().expect("workspace id");
        (0..n)
            .map(|i| {
                let plan = Plan {
                    format: autonomy::plan::model::PLAN_FORMAT.to_string(),
                    workspace: workspace.clone(),
                    created: "2026-01-01T00:00:00Z".to_string(),
                    title: format!("bulk {i}"),
                    author: ACTOR.to_string(),
                    description: None,
                    reverses: None,
                    changes: vec![Change {
                        path: format!("bulk-{i}"),
                        before: State::Absent,
                        after: State::Dir,
                        from: None,
                    }],
                    exec: Vec::new(),
                };
                s.insert_plan(&plan, "file").expect("insert plan")
            })
            .collect()
    }

    /// Append `n` small events to the journal in one transaction (a long log).
    pub fn bulk_events(&self, n: usize) {
        let mut s = autonomy::session::Session::open(&self.root).expect("open workspace");
        let rules = s.journal.rules_digest.clone();
        s.journal
            .write(|tx| {
                for i in 0..n {
                    autonomy::store::journal::append_event(
                        tx,
                        &rules,
                        ACTOR,
                        "test.note",
                        None,
                        &serde_json::json!({ "note": format!("filler event number {i}") }),
                    )?;
                }
                Ok(())
            })
            .expect("append events");
    }
}
