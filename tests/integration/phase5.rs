//! Phase 5: three-way revert of older plans, selective rollback, `stats`, risk from history
//! (and rules keyed on it), and `rules suggest`.

use crate::common::*;
use serde_json::Value;

const TEN: &str = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";

fn edit(title: &str, path: &str, find: &str, replace: &str) -> String {
    format!(
        "title = {title:?}\n[[action]]\nkind = \"edit\"\npath = {path:?}\nfind = {find:?}\nreplace = {replace:?}\n"
    )
}

fn write(title: &str, path: &str, content: &str) -> String {
    format!(
        "title = {title:?}\n[[action]]\nkind = \"write\"\npath = {path:?}\ncontent = {content:?}\n"
    )
}

/// Plan, approve at a terminal, apply; returns the full id.
fn applied(env: &Env, toml: &str) -> String {
    let id = env.plan(toml);
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    id
}

fn status_of(env: &Env, id: &str) -> String {
    let out = env
        .cmd()
        .args(["preview", id, "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: Value = serde_json::from_slice(&out).expect("json");
    v["plan"]["status"].as_str().expect("status").to_string()
}

fn preview_json(env: &Env, id: &str) -> Value {
    let out = env
        .cmd()
        .args(["preview", id, "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("json")
}

fn plan_created(env: &Env, id: &str) -> Value {
    env.events()
        .into_iter()
        .find(|e| e["kind"] == "plan.created" && e["plan"] == id)
        .expect("plan.created event")
}

#[test]
fn revert_of_an_older_plan_keeps_a_later_change_to_the_same_file() {
    let env = Env::new();
    env.write("f.txt", TEN);
    let old = applied(&env, &edit("two", "f.txt", "2\n", "two\n"));
    applied(&env, &edit("nine", "f.txt", "9\n", "nine\n"));
    let (out, code) = env.tty(&["rollback", &old], "y");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Merged with later changes"), "{out}");
    assert_eq!(env.read_str("f.txt"), "1\n2\n3\n4\n5\n6\n7\n8\nnine\n10\n");
    assert_eq!(status_of(&env, &old), "rolled_back");
    env.verify_ok();
}

#[test]
fn revert_with_an_overlapping_later_change_is_a_conflict_and_changes_nothing() {
    let env = Env::new();
    env.write("f.txt", TEN);
    let old = applied(&env, &edit("five", "f.txt", "5\n", "five\n"));
    applied(&env, &edit("FIVE", "f.txt", "five\n", "FIVE\n"));
    let tree = env.tree();
    let plans_before = env.event_kinds().len();
    let out = env.cmd().args(["rollback", &old]).assert().code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    for needle in [
        "f.txt",
        "conflict at line 5",
        "<<<<<<< current",
        "FIVE",
        "||||||| as the plan left it",
        "five",
        ">>>>>>> before the plan",
        "nothing was changed",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert_eq!(env.tree(), tree);
    assert_eq!(
        env.event_kinds().len(),
        plans_before,
        "no plan was recorded"
    );
    assert_eq!(status_of(&env, &old), "applied");
    env.verify_ok();
}

#[test]
fn revert_across_files_merges_only_those_changed_later() {
    let env = Env::new();
    env.write("a.txt", TEN);
    env.write("b.txt", TEN);
    env.write("bin.dat", b"\x00\x01old".as_slice());
    let old = env.plan(
        r#"
title = "three files"
[[action]]
kind = "edit"
path = "a.txt"
find = "1\n"
replace = "one\n"
count = 1
[[action]]
kind = "edit"
path = "b.txt"
find = "2\n"
replace = "two\n"
[[action]]
kind = "write"
path = "c.txt"
content = "new\n"
"#,
    );
    env.approve(&old);
    env.cmd().args(["apply", &old]).assert().success();
    applied(&env, &edit("later b", "b.txt", "8\n", "eight\n"));
    let (out, code) = env.tty(&["rollback", &old], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.read_str("a.txt"), TEN);
    assert_eq!(env.read_str("b.txt"), "1\n2\n3\n4\n5\n6\n7\neight\n9\n10\n");
    assert!(!env.exists("c.txt"));
    let rev = env
        .events()
        .into_iter()
        .find(|e| e["kind"] == "plan.created" && e["data"]["reverses"] == old.as_str())
        .expect("the reverse plan");
    assert_eq!(rev["data"]["merged"], serde_json::json!(["b.txt"]));
    assert_eq!(rev["data"]["partial"], false);

    // A binary file changed later is a conflict.
    let bin = applied(
        &env,
        "title = \"bin\"\n[[action]]\nkind = \"write\"\npath = \"bin.dat\"\ncontent_base64 = \"AAFuZXc=\"\n",
    );
    env.write("bin.dat", b"\x00\x01newer".as_slice());
    let out = env.cmd().args(["rollback", &bin]).assert().code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("bin.dat") && err.contains("binary"), "{err}");
    // A file the plan created and someone changed since is a conflict too.
    let created = applied(&env, &write("create", "d.txt", "d\n"));
    env.write("d.txt", "d, edited by hand\n");
    let out = env.cmd().args(["rollback", &created]).assert().code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("d.txt") && err.contains("created it"), "{err}");
    // A folder the plan created that holds new files since is a conflict, not a failed run.
    let made = applied(&env, &write("folder", "newdir/a.txt", "a\n"));
    env.write("newdir/extra.txt", "later\n");
    let tree = env.tree();
    let out = env.cmd().args(["rollback", &made]).assert().code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("newdir/extra.txt"), "{err}");
    assert_eq!(env.tree(), tree);
    env.verify_ok();
}

#[test]
fn selective_rollback_reverts_only_the_chosen_paths() {
    let env = Env::new();
    env.write("x/1.txt", "one\n");
    env.write("x/2.txt", "two\n");
    env.write("y.txt", "why\n");
    let id = env.plan(
        r#"
title = "three"
[[action]]
kind = "write"
path = "x/1.txt"
content = "ONE\n"
[[action]]
kind = "write"
path = "x/2.txt"
content = "TWO\n"
[[action]]
kind = "write"
path = "y.txt"
content = "WHY\n"
"#,
    );
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    // A glob that matches nothing is a usage error naming the plan's paths.
    let out = env
        .cmd()
        .args(["rollback", &id, "--path", "z/**"])
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("y.txt"));

    let (out, code) = env.tty(&["rollback", &id, "--path", "x/**"], "y");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("stays applied"), "{out}");
    assert_eq!(env.read_str("x/1.txt"), "one\n");
    assert_eq!(env.read_str("x/2.txt"), "two\n");
    assert_eq!(env.read_str("y.txt"), "WHY\n");
    assert_eq!(status_of(&env, &id), "applied");
    let ev = env
        .events()
        .into_iter()
        .find(|e| e["kind"] == "plan.created" && e["data"]["reverses"] == id.as_str())
        .expect("reverse plan");
    assert_eq!(
        ev["data"]["paths"],
        serde_json::json!(["x/1.txt", "x/2.txt"])
    );
    assert_eq!(ev["data"]["partial"], true);
    let rev = preview_json(&env, ev["plan"].as_str().unwrap());
    let desc = rev["plan"]["description"].as_str().unwrap();
    assert!(
        desc.contains("x/1.txt, x/2.txt") && desc.contains("--path"),
        "{desc}"
    );

    // The rest later: the plan is then rolled back whole.
    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "{out}");
    assert_eq!(env.read_str("y.txt"), "why\n");
    assert_eq!(status_of(&env, &id), "rolled_back");
    env.verify_ok();
}

/// Build a history on `path`: one applied plan per entry, rolled back where `true`.
/// Approvals are not needed (`required = 0` while the history is made).
fn history(env: &Env, path: &str, rolled: &[bool]) {
    env.write("autonomy.toml", "[approval]\nrequired = 0\n");
    for (i, rb) in rolled.iter().enumerate() {
        let id = env.plan(&write(&format!("step {i}"), path, &format!("v{i}\n")));
        env.cmd().args(["apply", &id]).assert().success();
        if *rb {
            env.cmd().args(["rollback", &id]).assert().success();
        }
    }
}

/// The preview's risk fields as one object: level, score, reasons (and the notes).
fn risk(env: &Env, id: &str) -> Value {
    let doc = preview_json(env, id);
    serde_json::json!({
        "level": doc["risk_level"], "score": doc["risk_score"],
        "reasons": doc["risk_reasons"], "notes": doc["risk"],
    })
}

fn signals(risk: &Value) -> Vec<String> {
    risk["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signal"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn risk_levels_follow_the_history_and_the_plan() {
    let env = Env::new();
    // 3 of the last 5 plans on the path rolled back: high.
    history(&env, "deploy/app.yml", &[false, true, false, true, true]);
    let id = env.plan(&write("next", "deploy/app.yml", "next\n"));
    let r = risk(&env, &id);
    assert_eq!(r["level"], "high", "{r}");
    assert!(
        signals(&r).contains(&"history.rolled_back".to_string()),
        "{r}"
    );
    assert!(r["notes"][0].is_string(), "risk notes stay sentences: {r}");
    let reason = r["reasons"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("deploy/app.yml: 3 of its last 5 plans were rolled back"),
        "{reason}"
    );
    let text = env.cmd().args(["preview", &id]).assert().success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    assert!(text.contains("Risk: high"), "{text}");
    // The level is recorded when the plan is made.
    assert_eq!(plan_created(&env, &id)["data"]["risk"]["level"], "high");

    // Only older rollbacks beyond the last five: not high.
    let env = Env::new();
    history(
        &env,
        "a.txt",
        &[true, true, true, false, false, false, false, false],
    );
    let id = env.plan(&write("next", "a.txt", "next\n"));
    assert_eq!(risk(&env, &id)["level"], "low");
    // Two of five: a weaker signal.
    history(&env, "b.txt", &[true, false, true, false, false]);
    let id = env.plan(&write("next", "b.txt", "next\n"));
    let r = risk(&env, &id);
    assert_eq!(r["level"], "low");
    assert_eq!(signals(&r), ["history.sometimes_rolled_back"]);

    // A quiet plan has no signals; a policy change is high; a deletion is noted.
    let id = env.plan(&write("quiet", "c.txt", "c\n"));
    let r = risk(&env, &id);
    assert_eq!(
        (r["level"].as_str(), r["score"].as_u64()),
        (Some("low"), Some(0))
    );
    let id = env.plan(&write(
        "policy",
        "autonomy.toml",
        "[approval]\nrequired = 1\n",
    ));
    let r = risk(&env, &id);
    assert_eq!(r["level"], "high");
    assert_eq!(signals(&r), ["policy"]);
    let id = env.plan("title = \"rm\"\n[[action]]\nkind = \"delete\"\npath = \"a.txt\"\n");
    assert_eq!(signals(&risk(&env, &id)), ["deletions"]);
}

#[test]
fn a_high_risk_rule_is_enforced_at_apply() {
    let env = Env::new();
    history(&env, "deploy/app.yml", &[true, true, true]);
    env.write(
        "autonomy.toml",
        "[approval]\nrequired = 1\n\n[[rule]]\nname = \"risky plans\"\nrisk = \"high\"\napprovals = 2\n",
    );
    let id = env.plan(&write("next", "deploy/app.yml", "next\n"));
    let doc = preview_json(&env, &id);
    let reqs: Vec<&str> = doc["approvals"]["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(reqs, ["default", "risky plans"]);
    env.approve(&id);
    let out = env.cmd().args(["apply", &id]).assert().code(3);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("risky plans") && err.contains("needs 2"),
        "{err}"
    );
    assert!(!env.exists("deploy/app.yml"), "nothing was applied");
    // The second approval is another person's: a signed one (the same OS user approving
    // again `--as` someone else counts once; see hostile_state.rs).
    let Some((key, public)) = ssh_key(env.tmp.path(), "second") else {
        return;
    };
    env.allow_signer("second@example.com", &public);
    let file = env.tmp.path().join("second.approval");
    let (key, file) = (key.to_str().unwrap(), file.to_str().unwrap());
    env.cmd()
        .args([
            "approve",
            &id,
            "--as",
            "second@example.com",
            "--sign-with",
            key,
            "-o",
            file,
        ])
        .assert()
        .success();
    env.cmd()
        .args(["apply", &id, "--approval", file])
        .assert()
        .success();
    assert_eq!(env.read_str("deploy/app.yml"), "next\n");

    // A low-risk plan needs only the default approval.
    let id = env.plan(&write("calm", "other.txt", "x\n"));
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    env.verify_ok();
}

#[test]
fn rules_suggest_proposes_rules_with_evidence_and_none_for_a_quiet_history() {
    let env = Env::new();
    env.write("autonomy.toml", "[approval]\nrequired = 0\n");
    for i in 0..3 {
        let id = env.plan(&write(
            &format!("calm {i}"),
            "src/lib.rs",
            &format!("{i}\n"),
        ));
        env.cmd().args(["apply", &id]).assert().success();
    }
    let out = env.cmd().args(["rules", "suggest"]).assert().success();
    assert!(out.get_output().stdout.is_empty());
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("No suggestions"), "{err}");

    // deploy/: 4 of 6 plans rolled back.
    for i in 0..6 {
        let id = env.plan(&write(
            &format!("deploy {i}"),
            &format!("deploy/f{i}.yml"),
            "x\n",
        ));
        env.cmd().args(["apply", &id]).assert().success();
        if i < 4 {
            env.cmd().args(["rollback", &id]).assert().success();
        }
    }
    let out = env.cmd().args(["rules", "suggest"]).assert().success();
    let diff = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for needle in [
        "--- a/autonomy.toml",
        "+++ b/autonomy.toml",
        "+# deploy/: 4 of 6 plans rolled back in 30 days",
        "+paths = [\"deploy/**\"]",
        "+approvals = 2",
    ] {
        assert!(diff.contains(needle), "missing {needle:?} in:\n{diff}");
    }
    assert!(!diff.contains("src/"), "{diff}");
    assert_eq!(env.read_str("autonomy.toml"), "[approval]\nrequired = 0\n");
    let out = env
        .cmd()
        .args(["rules", "suggest", "--format", "json"])
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["suggestions"][0]["kind"], "rollbacks");

    // --plan: an ordinary pending plan, a policy change, nothing applied.
    let out = env
        .cmd()
        .args(["rules", "suggest", "--plan"])
        .assert()
        .success();
    let short = String::from_utf8_lossy(&out.get_output().stdout)
        .trim()
        .to_string();
    assert_eq!(short.len(), 12, "{short}");
    let doc = preview_json(&env, &short);
    assert_eq!(doc["plan"]["status"], "pending");
    assert_eq!(doc["policy_change"], true);
    assert_eq!(doc["risk_level"], "high");
    assert_eq!(doc["changes"][0]["path"], "autonomy.toml");
    assert!(
        doc["changes"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+# deploy/: 4 of 6 plans rolled back in 30 days")
    );
    assert_eq!(env.read_str("autonomy.toml"), "[approval]\nrequired = 0\n");
    env.verify_ok();
}

// ---- stats on a synthetic journal ----

/// One synthetic plan and what happened to it.
struct Synth {
    created_min: i64,
    dir: &'static str,
    approved_after_s: Option<i64>,
    declined: bool,
    rejected: bool,
    applied: bool,
    failed: bool,
    verify_failed: bool,
    rolled_back: bool,
    apply_ms: i64,
    verify_ms: Option<i64>,
    exec: Option<(i64, i64, i64)>,
}

const DIRS: [&str; 4] = ["deploy", "src", "docs", "web"];

fn synth(i: i64) -> Synth {
    let k = i % 10;
    let approved = k >= 2;
    Synth {
        created_min: i,
        dir: DIRS[(i % 4) as usize],
        approved_after_s: approved.then_some((i % 7 + 1) * 60),
        declined: k == 1,
        rejected: k == 1,
        applied: k >= 3,
        failed: k == 2,
        verify_failed: i % 20 == 2,
        rolled_back: k == 3,
        apply_ms: i % 100,
        verify_ms: (k == 5).then_some(100 + i % 50),
        exec: (k == 4).then_some((10, 5, 1000 + i)),
    }
}

fn at(min: i64, extra_s: i64) -> String {
    chrono_like(min * 60 + extra_s)
}

/// 2026-01-01T00:00:00Z plus `secs`, formatted like the journal.
fn chrono_like(secs: i64) -> String {
    let days = secs / 86400;
    let rem = secs % 86400;
    // January has 31 days, February 28: enough for the synthetic range (< 59 days).
    let (month, day) = if days < 31 {
        (1, days + 1)
    } else {
        (2, days - 30)
    };
    format!(
        "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Write `n` synthetic plans (with changes, approvals, runs, and about ten events each)
/// straight into the workspace's journal.
fn fill_journal(env: &Env, n: i64) {
    let conn = rusqlite::Connection::open(env.path(".autonomy/journal.db")).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
        .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    let mut seq: i64 = tx
        .query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))
        .unwrap();
    let mut plan_seq = 0i64;
    {
        let mut plan = tx.prepare("INSERT INTO plans (id, seq, created, title, author, status, reverses, canonical) VALUES (?1, ?2, ?3, 't', 'a', ?4, ?5, '{}')").unwrap();
        let mut change = tx.prepare("INSERT INTO changes (plan, idx, path, before_hash, after_hash) VALUES (?1, ?2, ?3, NULL, NULL)").unwrap();
        let mut approval = tx.prepare("INSERT INTO approvals (plan, at, principal, method, decision) VALUES (?1, ?2, 'p', 'terminal', ?3)").unwrap();
        let mut run = tx.prepare("INSERT INTO runs (plan, kind, state, started, finished, duration_ms, metrics) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)").unwrap();
        let mut event = tx.prepare("INSERT INTO events (seq, at, actor, kind, plan, rules, data, prev, hash) VALUES (?1, ?2, 'a', ?3, ?4, 'r', ?5, 'p', 'h')").unwrap();
        let mut ev = |seq: &mut i64, at: &str, kind: &str, plan: &str, data: &str| {
            *seq += 1;
            event
                .execute(rusqlite::params![*seq, at, kind, plan, data])
                .unwrap();
        };
        for i in 0..n {
            let s = synth(i);
            let id = format!("{i:064x}");
            let created = at(s.created_min, 0);
            let status = if s.rolled_back {
                "rolled_back"
            } else if s.applied {
                "applied"
            } else if s.rejected {
                "rejected"
            } else if s.approved_after_s.is_some() {
                "approved"
            } else {
                "pending"
            };
            plan_seq += 1;
            plan.execute(rusqlite::params![
                id,
                plan_seq,
                created,
                status,
                None::<String>
            ])
            .unwrap();
            let paths = [
                format!("{}/f{}.txt", s.dir, i % 50),
                format!("{}/sub/g.txt", s.dir),
            ];
            for (k, p) in paths.iter().enumerate() {
                change.execute(rusqlite::params![id, k as i64, p]).unwrap();
            }
            ev(
                &mut seq,
                &created,
                "plan.created",
                &id,
                r#"{"risk":{"level":"low"}}"#,
            );
            ev(&mut seq, &created, "plan.previewed", &id, "{}");
            if s.declined {
                approval
                    .execute(rusqlite::params![id, created, "decline"])
                    .unwrap();
                ev(&mut seq, &created, "approval.declined", &id, "{}");
                ev(&mut seq, &created, "plan.rejected", &id, "{}");
            }
            if let Some(after) = s.approved_after_s {
                let t = at(s.created_min, after);
                approval
                    .execute(rusqlite::params![id, t, "approve"])
                    .unwrap();
                ev(&mut seq, &t, "approval.granted", &id, "{}");
            }
            if s.failed {
                // As the engine records them: no metrics, the error in words.
                let error = if s.verify_failed {
                    "the verify command [\"make\"] failed (exit status 2); the workspace is not left in a state its own checks reject"
                } else {
                    "exec [\"make\"] failed (exit status 1)"
                };
                run.execute(rusqlite::params![
                    id,
                    "apply",
                    "failed",
                    created,
                    3,
                    None::<String>
                ])
                .unwrap();
                tx.execute(
                    "UPDATE runs SET error = ?1 WHERE id = last_insert_rowid()",
                    [error],
                )
                .unwrap();
                ev(&mut seq, &created, "run.started", &id, "{}");
                ev(&mut seq, &created, "run.failed", &id, "{}");
            }
            if s.applied {
                let mut m = serde_json::json!({ "duration_ms": s.apply_ms });
                // The engine's shape: `verify` and `exec` metrics of the commands.
                if let Some(v) = s.verify_ms {
                    m["verify"] = serde_json::json!({ "argv": ["make"], "wall_ms": v });
                }
                if let Some((u, sy, rss)) = s.exec {
                    m["exec"] = serde_json::json!([
                        { "argv": ["make"], "user_ms": u, "sys_ms": sy, "max_rss_kib": rss }
                    ]);
                }
                run.execute(rusqlite::params![
                    id,
                    "apply",
                    "committed",
                    created,
                    s.apply_ms,
                    m.to_string()
                ])
                .unwrap();
                ev(&mut seq, &created, "run.started", &id, "{}");
                for _ in 0..4 {
                    ev(&mut seq, &created, "run.step", &id, "{}");
                }
                ev(&mut seq, &created, "run.committed", &id, "{}");
            }
            if s.rolled_back {
                let rid = format!("{:064x}", i + (1 << 40));
                plan_seq += 1;
                plan.execute(rusqlite::params![rid, plan_seq, created, "applied", id])
                    .unwrap();
                for (k, p) in paths.iter().enumerate() {
                    change.execute(rusqlite::params![rid, k as i64, p]).unwrap();
                }
                run.execute(rusqlite::params![
                    rid,
                    "rollback",
                    "committed",
                    created,
                    1,
                    "{}"
                ])
                .unwrap();
                ev(&mut seq, &created, "plan.created", &rid, "{}");
                ev(&mut seq, &created, "run.committed", &rid, "{}");
            }
        }
    }
    tx.commit().unwrap();
}

/// Nearest-rank percentile, as `stats` computes it.
fn pct(v: &mut [i64], p: usize) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    let rank = (v.len() * p).div_ceil(100).max(1);
    Some(v[rank - 1])
}

fn stats_json(env: &Env, args: &[&str]) -> Value {
    let out = env
        .cmd()
        .arg("stats")
        .args(args)
        .args(["--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).expect("json")
}

fn check_stats(v: &Value, plans: &[Synth]) {
    let count = |f: &dyn Fn(&Synth) -> bool| plans.iter().filter(|s| f(s)).count() as u64;
    let p = &v["plans"];
    assert_eq!(p["proposed"], plans.len() as u64);
    assert_eq!(p["approved"], count(&|s| s.approved_after_s.is_some()));
    assert_eq!(p["declined"], count(&|s| s.declined));
    assert_eq!(p["rejected"], count(&|s| s.rejected));
    assert_eq!(p["applied"], count(&|s| s.applied));
    assert_eq!(p["failed"], count(&|s| s.failed));
    assert_eq!(p["rolled_back"], count(&|s| s.rolled_back));
    let mut lat: Vec<i64> = plans.iter().filter_map(|s| s.approved_after_s).collect();
    assert_eq!(v["approval_latency_s"]["count"], lat.len() as u64);
    assert_eq!(v["approval_latency_s"]["p50"].as_i64(), pct(&mut lat, 50));
    assert_eq!(v["approval_latency_s"]["p95"].as_i64(), pct(&mut lat, 95));
    let mut apply: Vec<i64> = plans
        .iter()
        .filter(|s| s.applied)
        .map(|s| s.apply_ms)
        .collect();
    assert_eq!(v["apply_ms"]["p50"].as_i64(), pct(&mut apply, 50));
    assert_eq!(v["apply_ms"]["p95"].as_i64(), pct(&mut apply, 95));
    let mut verify: Vec<i64> = plans.iter().filter_map(|s| s.verify_ms).collect();
    assert_eq!(v["verify_ms"]["count"], verify.len() as u64);
    assert_eq!(v["verify_ms"]["p95"].as_i64(), pct(&mut verify, 95));
    let execs: Vec<(i64, i64, i64)> = plans.iter().filter_map(|s| s.exec).collect();
    assert_eq!(v["exec"]["steps"], execs.len() as u64);
    assert_eq!(v["exec"]["user_ms"], execs.iter().map(|e| e.0).sum::<i64>());
    assert_eq!(
        v["exec"]["cpu_ms"],
        execs.iter().map(|e| e.0 + e.1).sum::<i64>()
    );
    assert_eq!(
        v["exec"]["max_rss_kib"].as_i64(),
        execs.iter().map(|e| e.2).max()
    );
    for d in v["directories"].as_array().unwrap() {
        let name = d["dir"].as_str().unwrap().trim_end_matches('/');
        let mine: Vec<&Synth> = plans.iter().filter(|s| s.dir == name).collect();
        assert_eq!(d["plans"], mine.len() as u64, "{d}");
        assert_eq!(
            d["rolled_back"],
            mine.iter().filter(|s| s.rolled_back).count() as u64
        );
        assert_eq!(
            d["failed_verifies"],
            mine.iter().filter(|s| s.failed && s.verify_failed).count() as u64
        );
    }
}

#[test]
fn stats_on_a_synthetic_journal_match_known_counts() {
    let env = Env::new();
    let n = 2000;
    fill_journal(&env, n);
    let all: Vec<Synth> = (0..n).map(synth).collect();
    let v = stats_json(&env, &[]);
    check_stats(&v, &all);
    assert_eq!(v["directories"].as_array().unwrap().len(), 4);
    // src/ and web/ carry the rollbacks (i % 10 == 3 lands on odd i % 4): 100 of 500 each.
    let src = v["directories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dir"] == "src/")
        .unwrap();
    assert_eq!(
        (src["plans"].as_u64(), src["rolled_back"].as_u64()),
        (Some(500), Some(100))
    );
    assert_eq!(src["rollback_rate"], 0.2);

    // A window: the second half (plans are a minute apart from 2026-01-01).
    let since = at(n / 2, 0);
    let v = stats_json(&env, &["--since", &since]);
    check_stats(&v, &all[(n / 2) as usize..]);

    // Depth 2: each directory's sub/ folder and its files apart.
    let v = stats_json(&env, &["--depth", "2"]);
    let dirs: Vec<&str> = v["directories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["dir"].as_str().unwrap())
        .collect();
    assert!(
        dirs.contains(&"deploy/sub/") && dirs.contains(&"deploy/"),
        "{dirs:?}"
    );
    let text = env.cmd().arg("stats").assert().success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    assert!(
        text.contains("rolled back") && text.contains("src/"),
        "{text}"
    );
}

/// `cargo test --features failpoints --test integration -- --ignored --nocapture
/// stats_on_a_million_events`: times `autonomy stats` on a journal of about a million
/// events (132,000 plans; `AUTONOMY_BENCH_PLANS=N` for another size). With
/// `AUTONOMY_BENCH_KEEP=DIR` it only generates the workspace into DIR, to time a release
/// build by hand (`autonomy -C DIR stats`).
#[test]
#[ignore]
fn stats_on_a_million_events() {
    let env = Env::new();
    let t = std::time::Instant::now();
    let plans = std::env::var("AUTONOMY_BENCH_PLANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(132_000);
    fill_journal(&env, plans);
    let conn = rusqlite::Connection::open(env.path(".autonomy/journal.db")).unwrap();
    let events: i64 = conn
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    eprintln!("generated {events} events in {:?}", t.elapsed());
    if let Ok(dir) = std::env::var("AUTONOMY_BENCH_KEEP") {
        // Keep the workspace for timing other builds by hand; skip the timings here.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&env.root, &dir).unwrap();
        return;
    }
    for args in [vec![], vec!["--since", "2026-02-01"], vec!["--depth", "2"]] {
        let t = std::time::Instant::now();
        let v = stats_json(&env, &args);
        eprintln!("autonomy stats {args:?}: {:?}", t.elapsed());
        assert!(v["plans"]["proposed"].as_u64().unwrap() > 0);
    }
    let t = std::time::Instant::now();
    env.cmd().args(["rules", "suggest"]).assert().success();
    eprintln!("autonomy rules suggest: {:?}", t.elapsed());
}
