//! Dynamic shell completion (`COMPLETE=fish autonomy -- autonomy preview ''`, the protocol
//! the registered shell functions use): plan ids that fit each command, newest first, with
//! their titles, capped, read-only, silent outside a workspace.

use crate::common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// One completion request through the fish protocol: `words` is the command line after the
/// program name, its last word the one being completed. Returns (value, help) pairs.
fn complete_in(dir: &Path, words: &[&str]) -> Vec<(String, String)> {
    let out = assert_cmd::Command::new(bin())
        .current_dir(dir)
        .env("COMPLETE", "fish")
        .env_remove("AUTONOMY_PAGER")
        .arg("--")
        .arg("autonomy")
        .args(words)
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| {
            let (v, h) = l.split_once('\t').unwrap_or((l, ""));
            (v.to_string(), h.to_string())
        })
        .collect()
}

/// Only the plan-id candidates (completion also offers flags).
fn plan_ids(cands: &[(String, String)]) -> Vec<String> {
    cands
        .iter()
        .filter(|(v, _)| v.len() == 12 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|(v, _)| v.clone())
        .collect()
}

fn short(id: &str) -> String {
    id[..12].to_string()
}

fn plan_toml(title: &str, path: &str) -> String {
    format!(
        "title = \"{title}\"\n[[action]]\nkind = \"write\"\npath = \"{path}\"\ncontent = \"x\\n\"\n"
    )
}

#[test]
fn each_command_offers_the_plans_it_can_act_on_newest_first_with_titles() {
    let env = Env::new();
    let applied = env.plan(&plan_toml("Applied one", "a.txt"));
    env.approve(&applied);
    env.cmd().args(["apply", &applied]).assert().success();
    let approved = env.plan(&plan_toml("Approved one", "b.txt"));
    env.approve(&approved);
    let pending = env.plan(&plan_toml("Pending one", "c.txt"));
    let rejected = env.plan(&plan_toml("Rejected one", "d.txt"));
    env.cmd().args(["reject", &rejected]).assert().success();

    let waiting = vec![short(&pending), short(&approved)];
    let everything = vec![
        short(&rejected),
        short(&pending),
        short(&approved),
        short(&applied),
    ];
    for cmd in ["approve", "apply", "reject"] {
        let c = complete_in(&env.root, &[cmd, ""]);
        assert_eq!(plan_ids(&c), waiting, "{cmd}: {c:?}");
    }
    let c = complete_in(&env.root, &["rollback", ""]);
    assert_eq!(plan_ids(&c), vec![short(&applied)], "rollback: {c:?}");
    for cmd in ["preview", "log", "export"] {
        let c = complete_in(&env.root, &[cmd, ""]);
        assert_eq!(plan_ids(&c), everything, "{cmd}: {c:?}");
    }

    // Each candidate carries its title and status as help.
    let c = complete_in(&env.root, &["preview", ""]);
    let help = |id: &str| {
        c.iter()
            .find(|(v, _)| *v == short(id))
            .map(|(_, h)| h.clone())
            .unwrap_or_default()
    };
    assert_eq!(help(&pending), "Pending one (pending)");
    assert_eq!(help(&approved), "Approved one (approved)");
    assert_eq!(help(&applied), "Applied one (applied)");
    assert_eq!(help(&rejected), "Rejected one (rejected)");

    // A typed prefix narrows the candidates; a non-hex word matches none.
    let c = complete_in(&env.root, &["preview", &pending[..6]]);
    assert_eq!(plan_ids(&c), vec![short(&pending)]);
    assert!(plan_ids(&complete_in(&env.root, &["preview", "zz"])).is_empty());
}

#[test]
fn candidates_are_capped_at_100_and_older_plans_are_found_by_prefix() {
    let env = Env::new();
    let ids = env.bulk_plans(150);
    let c = complete_in(&env.root, &["preview", ""]);
    let got = plan_ids(&c);
    let newest: Vec<String> = ids.iter().rev().take(100).map(|i| short(i)).collect();
    assert_eq!(got, newest, "the newest 100, newest first");
    assert!(c.iter().any(|(_, h)| h == "bulk 149 (pending)"));
    // The oldest plan is beyond the cap, yet a prefix of its id finds it.
    let oldest = &ids[0];
    let c = complete_in(&env.root, &["preview", &oldest[..8]]);
    assert!(plan_ids(&c).contains(&short(oldest)), "{c:?}");
}

#[test]
fn outside_a_workspace_or_on_a_broken_journal_nothing_is_offered() {
    let env = Env::bare();
    let c = complete_in(&env.root, &["preview", ""]);
    assert!(plan_ids(&c).is_empty(), "{c:?}");
    // Flags are still completed.
    assert!(c.iter().any(|(v, _)| v == "--stat"), "{c:?}");

    std::fs::create_dir(env.path(".autonomy")).expect("mkdir");
    std::fs::write(env.path(".autonomy/journal.db"), "not a database").expect("write");
    for cmd in ["approve", "rollback", "log"] {
        let c = complete_in(&env.root, &[cmd, ""]);
        assert!(plan_ids(&c).is_empty(), "{cmd}: {c:?}");
    }
}

#[test]
fn completion_reads_the_workspace_that_dash_c_names() {
    let env = Env::new();
    let id = env.plan(&plan_toml("Over there", "x.txt"));
    let parent = env.tmp.path();
    assert!(plan_ids(&complete_in(parent, &["preview", ""])).is_empty());
    let c = complete_in(parent, &["-C", "ws", "preview", ""]);
    assert_eq!(plan_ids(&c), vec![short(&id)]);
}

#[test]
fn completion_leaves_the_journal_untouched() {
    let env = Env::new();
    env.plan(&plan_toml("One", "x.txt"));
    let before = env.events().len();
    complete_in(&env.root, &["approve", ""]);
    complete_in(&env.root, &["log", ""]);
    assert_eq!(env.events().len(), before);
    env.verify_ok();
}

#[test]
fn bash_protocol_lists_the_same_candidates() {
    let env = Env::new();
    let id = env.plan(&plan_toml("Bash", "x.txt"));
    let out = env
        .cmd()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "2")
        .env("_CLAP_IFS", "\n")
        .args(["--", "autonomy", "approve", ""])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).expect("utf8");
    // Several candidates (the id, then the options): bash lists each with its help.
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&short(&id)) && first.contains("(Bash (pending))"),
        "{out}"
    );
}

#[test]
fn registration_scripts_name_the_binary_for_every_shell() {
    let env = Env::bare();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env
            .cmd()
            .env("COMPLETE", shell)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8(out).expect("utf8");
        assert!(
            out.contains("autonomy") && out.contains("COMPLETE"),
            "{shell}: {out}"
        );
    }
}

/// A benchmark figure, not an assertion: completion latency on a journal of 5,000 plans.
/// Printed with `--nocapture`:
///   cargo test --features failpoints --test integration completion_time -- --nocapture
#[test]
fn completion_time_on_5000_plans() {
    let env = Env::new();
    let t = Instant::now();
    let ids = env.bulk_plans(5000);
    let made = t.elapsed();
    let time = |words: &[&str]| -> Duration {
        let mut runs: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let c = complete_in(&env.root, words);
                assert!(!plan_ids(&c).is_empty());
                t.elapsed()
            })
            .collect();
        runs.sort();
        runs[runs.len() / 2]
    };
    let all = time(&["preview", ""]);
    let waiting = time(&["approve", ""]);
    let prefix = time(&["preview", &ids[0][..6]]);
    eprintln!(
        "completion on 5000 plans (made in {made:?}), median of 5 (debug build): \
         preview '' {all:?}, approve '' {waiting:?}, preview <prefix> {prefix:?}"
    );
}
