//! `kill -9` at random moments during `rollback` of a multi-hundred-file plan, and during
//! the `recover` that follows: afterwards the tree is wholly the applied state or wholly
//! the rolled-back state (never a mix), the plan statuses agree with it, and `verify`
//! passes. Moments come from a seeded PRNG (`AUTONOMY_TEST_SEED_ROBUST` replays a run).

use crate::common::*;
use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

type Tree = BTreeMap<String, Option<(Vec<u8>, u32)>>;

const FILES: usize = 300;

fn plan_toml(title: &str) -> String {
    let mut s = format!("title = {title:?}\n");
    for i in 0..FILES {
        // Mixed sizes so that some steps take longer than others.
        let body = format!("new content of file {i}\n").repeat(1 + i % 7 * 40);
        s.push_str(&format!(
            "[[action]]\nkind = \"write\"\npath = \"d{}/f{i}.txt\"\ncontent = {body:?}\n",
            i / 25
        ));
    }
    // A file that appears and one that goes away, so rollback deletes and creates too.
    s.push_str(
        "[[action]]\nkind = \"write\"\npath = \"added/by-plan.txt\"\ncontent = \"added\\n\"\n",
    );
    s.push_str("[[action]]\nkind = \"delete\"\npath = \"doomed.txt\"\n");
    s
}

fn fixture(env: &Env) {
    for i in 0..FILES {
        env.write(&format!("d{}/f{i}.txt", i / 25), format!("original {i}\n"));
    }
    env.write("doomed.txt", "deleted by the plan\n");
}

struct State {
    env: Env,
    plan: String,
    original: Tree,
    applied: Tree,
    generation: u32,
    key: Option<std::path::PathBuf>,
}

impl State {
    fn new() -> State {
        let env = Env::new_in(&fast_dir());
        fixture(&env);
        let original = env.tree();
        let plan = env.plan(&plan_toml("rewrite every file #0"));
        env.approve(&plan);
        env.apply_ok(&plan);
        let applied = env.tree();
        assert_ne!(original, applied);
        let key = ssh_key(env.tmp.path(), "signer").map(|(key, public)| {
            env.allow_signer(ACTOR, &public);
            key
        });
        State {
            env,
            plan,
            original,
            applied,
            generation: 0,
            key,
        }
    }

    fn status_of(&self, id: &str) -> String {
        self.env
            .journal()
            .query_row("SELECT status FROM plans WHERE id = ?1", [id], |r| r.get(0))
            .expect("plan status")
    }

    /// The approved reverse plan of the current plan.
    fn reverse(&self) -> String {
        let rev = self.env.rollback_plan(&self.plan);
        if self.status_of(&rev) == "pending" {
            self.env.approve(&rev);
        }
        rev
    }

    /// Back to the applied state with a fresh plan (the old one was rolled back). The
    /// forward plan is approved with a signed approval when ssh-keygen exists (no 300-file
    /// preview to render), else at a pseudo-terminal.
    fn reapply(&mut self) {
        self.generation += 1;
        let file = self.env.plan_file(plan_toml(&format!(
            "rewrite every file #{}",
            self.generation
        )));
        let o = self.env.output(&["plan", file.to_str().expect("utf8")]);
        assert_exit_in(&o, &[0], "plan");
        let short = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let plan = self.env.full_id_db(&short);
        match &self.key {
            Some(key) => {
                let approval = self.env.sign(&plan, key);
                let o = self.env.output(&[
                    "apply",
                    &plan,
                    "--approval",
                    approval.to_str().expect("utf8"),
                ]);
                assert_exit_in(&o, &[0], "apply with a signed approval");
            }
            None => {
                self.env.approve(&plan);
                self.env.apply_ok(&plan);
            }
        }
        assert_eq!(self.env.tree(), self.applied);
        self.plan = plan;
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.env
            .std_cmd()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    }

    /// Wait until `child` has started its run (its backup folder exists) or ended.
    fn wait_for_run(&self, child: &mut Child) {
        let runs = self.env.path(".autonomy/runs");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let started = std::fs::read_dir(&runs).is_ok_and(|mut d| d.next().is_some());
            if started || !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// How long the last committed run took, in microseconds.
    fn last_run_us(&self) -> u64 {
        let ms: i64 = self
            .env
            .journal()
            .query_row(
                "SELECT duration_ms FROM runs WHERE state = 'committed' ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .expect("duration");
        ms.max(1) as u64 * 1000
    }

    fn interrupted(&self) -> bool {
        self.env
            .count("SELECT COUNT(*) FROM runs WHERE state = 'running'")
            > 0
    }
}

/// Kill `child` with SIGKILL after `delay` (unless it finished); true if it was killed.
fn kill_after(child: Child, delay: Duration) -> bool {
    let mut child = child;
    std::thread::sleep(delay);
    let killed = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let status = child.wait().expect("wait");
    killed && signal_of(&status) == Some(9)
}

#[derive(Default, Debug)]
struct Tally {
    trials: u32,
    killed_mid_run: u32,
    rolled_back: u32,
    left_applied: u32,
    recover_killed: u32,
}

fn run_trials(trials: u32, seed_default: u64) -> Tally {
    let seed = seed(seed_default);
    let mut rng = Rng::new(seed);
    let mut st = State::new();

    // How long an uninterrupted rollback takes here: the kill window. Kills land anywhere
    // from the start of the process in one trial of four, and inside the run itself (its
    // backup folder has appeared) otherwise. Both windows follow the machine's speed.
    let rev = st.reverse();
    let t0 = Instant::now();
    let o = st.env.output(&["rollback", &rev]);
    let mut process_us = t0.elapsed().as_micros() as u64;
    assert_exit_in(&o, &[0], "timing rollback");
    assert_eq!(st.env.tree(), st.original);
    let mut run_us = st.last_run_us();
    st.reapply();

    let mut tally = Tally::default();
    for trial in 0..trials {
        let ctx = format!("seed {seed}, trial {trial}");
        let rev = st.reverse();
        let t0 = Instant::now();
        let mut child = st.spawn(&["rollback", &rev]);
        let killed = if rng.below(4) == 0 {
            kill_after(
                child,
                Duration::from_micros(rng.below(process_us * 11 / 10)),
            )
        } else {
            st.wait_for_run(&mut child);
            kill_after(child, Duration::from_micros(rng.below(run_us * 11 / 10)))
        };
        if !killed {
            // It finished first: the machine is faster now; follow it.
            process_us = (process_us + t0.elapsed().as_micros() as u64) / 2;
            run_us = (run_us + st.last_run_us()) / 2;
        }
        tally.trials += 1;
        if st.interrupted() {
            assert!(
                killed,
                "{ctx}: a run is left running but rollback was not killed"
            );
            tally.killed_mid_run += 1;
            // Three times in four, kill the recovery too (it undoes fewer steps than a
            // whole rollback takes, so its window is shorter).
            if rng.below(4) != 0 {
                let d = Duration::from_micros(rng.below(run_us / 2 + 20_000));
                if kill_after(st.spawn(&["recover"]), d) && st.interrupted() {
                    tally.recover_killed += 1;
                }
            }
        }
        let o = st.env.output(&["recover"]);
        assert_exit_in(&o, &[0], &format!("{ctx}: recover"));
        let o = st.env.output(&["verify"]);
        assert_exit_in(&o, &[0], &format!("{ctx}: verify"));
        let tree = st.env.tree();
        if tree == st.applied {
            tally.left_applied += 1;
            assert_eq!(st.status_of(&st.plan), "applied", "{ctx}");
            assert_ne!(st.status_of(&rev), "applied", "{ctx}");
        } else if tree == st.original {
            tally.rolled_back += 1;
            assert_eq!(st.status_of(&st.plan), "rolled_back", "{ctx}");
            assert_eq!(st.status_of(&rev), "applied", "{ctx}");
            st.reapply();
        } else {
            let mixed: Vec<&String> = tree
                .iter()
                .filter(|(k, v)| st.applied.get(*k) != Some(v))
                .map(|(k, _)| k)
                .take(5)
                .collect();
            panic!("{ctx}: the tree is neither applied nor rolled back; differs at {mixed:?}");
        }
    }
    // The last word: a clean rollback still works.
    let rev = st.reverse();
    let o = st.env.output(&["rollback", &rev]);
    assert_exit_in(&o, &[0], "final rollback");
    assert_eq!(st.env.tree(), st.original);
    st.env.verify_ok();
    eprintln!(
        "killrollback (seed {seed}): {} trials: {} killed mid-run and recovered to the applied state, {} completed the rollback, {} recovers killed too; all consistent",
        tally.trials, tally.killed_mid_run, tally.rolled_back, tally.recover_killed
    );
    tally
}

#[test]
fn kill9_during_rollback_and_recover() {
    let t = run_trials(24, 0x5EED_0001);
    assert_eq!(t.left_applied + t.rolled_back, t.trials);
    assert!(
        t.killed_mid_run > 0,
        "no trial killed a rollback mid-run; the kill window is wrong: {t:?}"
    );
}

#[test]
#[ignore = "long: hundreds of kill -9 trials (run with --ignored)"]
fn kill9_during_rollback_and_recover_many() {
    let t = run_trials(300, 0x5EED_0002);
    assert_eq!(t.left_applied + t.rolled_back, t.trials);
}
