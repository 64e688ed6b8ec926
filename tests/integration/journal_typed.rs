//! The typed journal (issue 13): ids, statuses and covered paths read back from the
//! journal are checked, so an edited row is an integrity failure (exit 7) and never a
//! panic (exit 101); the schema migrates forward keeping `verify` and rollback coverage.

use crate::common::{Env, text};

const TWO_FILES: &str = r#"
title = "two files"
[[action]]
kind = "write"
path = "x/1.txt"
content = "ONE\n"
[[action]]
kind = "write"
path = "y.txt"
content = "WHY\n"
"#;

/// A workspace where plans apply without approvals, with `x/1.txt` and `y.txt`.
fn open_env() -> Env {
    let env = Env::new();
    env.write("autonomy.toml", "[approval]\nrequired = 0\n");
    env.write("x/1.txt", "one\n");
    env.write("y.txt", "why\n");
    env
}

/// Run `args`; insist on exit 7 with an error that says the journal was altered.
fn integrity(env: &Env, args: &[&str]) {
    let out = env.output(args);
    assert_eq!(
        out.status.code(),
        Some(7),
        "autonomy {args:?}: {}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("altered") && !err.contains("panicked"),
        "autonomy {args:?}: {}",
        text(&out)
    );
}

/// Run `sql` on the journal with foreign keys off (as an editor of the file would).
fn tamper(env: &Env, sql: &str) {
    let db = env.journal();
    db.execute_batch(&format!("PRAGMA foreign_keys = OFF; {sql}"))
        .expect("tamper");
}

/// Regression (issue 13): after `plans.id` was edited to something that is not a plan
/// id, `status` and `preview` panicked slicing `&id[..12]` (exit 101).
#[test]
fn a_tampered_plan_id_is_an_integrity_failure_never_a_panic() {
    let env = open_env();
    let id = env.plan(TWO_FILES);
    let prefix = &id[..8];
    tamper(
        &env,
        &format!("UPDATE plans SET id = '{prefix}' WHERE id = '{id}'"),
    );
    integrity(&env, &["status"]);
    integrity(&env, &["status", "--format", "json"]);
    integrity(&env, &["preview"]);
    integrity(&env, &["preview", prefix]);
    integrity(&env, &["log", prefix]);
    integrity(&env, &["apply", prefix]);
    integrity(&env, &["approve", prefix]);
    // Non-hex text, and an id one digit too long, the same.
    for bad in [
        "zzzzzzzz",
        &format!("{prefix}{}", &id[8..])[..],
        &format!("{id}0"),
    ] {
        let now: String = env
            .journal()
            .query_row("SELECT id FROM plans", [], |r| r.get(0))
            .expect("row");
        tamper(
            &env,
            &format!("UPDATE plans SET id = '{bad}' WHERE id = '{now}'"),
        );
        if bad.len() == 64 {
            continue; // the original id again: nothing to see
        }
        integrity(&env, &["status"]);
    }
}

/// A reverse plan naming a plan id that is not one is caught the same way.
#[test]
fn a_tampered_reverses_column_is_an_integrity_failure() {
    let env = open_env();
    let id = env.plan(TWO_FILES);
    env.apply_ok(&id);
    let rev = env.rollback_plan(&id);
    tamper(
        &env,
        &format!("UPDATE plans SET reverses = 'abc' WHERE id = '{rev}'"),
    );
    integrity(&env, &["status"]);
    integrity(&env, &["preview", &rev[..12]]);
}

/// A status this build never writes (here a different case) is not "some other
/// status": every command that reads it stops with exit 7.
#[test]
fn an_unknown_status_is_an_integrity_failure() {
    let env = open_env();
    let id = env.plan(TWO_FILES);
    tamper(
        &env,
        &format!("UPDATE plans SET status = 'Pending' WHERE id = '{id}'"),
    );
    integrity(&env, &["status"]);
    integrity(&env, &["preview", &id[..12]]);
    integrity(&env, &["apply", &id[..12]]);
    integrity(&env, &["log", &id[..12]]);
    // `verify` names the row.
    let out = env.output(&["verify"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
}

/// A run state this build never writes might hide a run that is running: every command
/// that checks for an interrupted run stops with exit 7.
#[test]
fn an_unknown_run_state_is_an_integrity_failure() {
    let env = open_env();
    let id = env.plan(TWO_FILES);
    env.apply_ok(&id);
    env.write("z.txt", "zed\n");
    let next = env.plan("title = \"z\"\n[[action]]\nkind = \"delete\"\npath = \"z.txt\"\n");
    tamper(&env, "UPDATE runs SET state = 'Running'");
    integrity(&env, &["status"]);
    integrity(&env, &["apply", &next[..12]]);
    integrity(&env, &["recover"]);
}

/// Make the workspace's journal what schema 3 wrote: no `reverse_paths` table (reverse
/// plans' coverage lived only in their `plan.created` events).
fn downgrade_to_schema_3(env: &Env) {
    tamper(
        env,
        "DROP TABLE reverse_paths; DROP TABLE sessions; PRAGMA user_version = 3;",
    );
    let v: i64 = env
        .journal()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, 3);
}

fn covered(env: &Env, rev: &str) -> Vec<String> {
    let db = env.journal();
    let mut stmt = db
        .prepare("SELECT path FROM reverse_paths WHERE plan = ?1 ORDER BY path")
        .expect("prepare");
    stmt.query_map([rev], |r| r.get(0))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
}

fn status_of(env: &Env, id: &str) -> String {
    env.journal()
        .query_row("SELECT status FROM plans WHERE id = ?1", [id], |r| r.get(0))
        .expect("status")
}

/// An old journal (schema 3) with a partial rollback migrates: `verify` still passes,
/// the reverse plan covers exactly the paths its event lists, and rolling back the rest
/// marks the plan rolled back.
#[test]
fn a_schema_3_journal_migrates_with_its_rollback_coverage() {
    let env = open_env();
    let id = env.plan(TWO_FILES);
    env.apply_ok(&id);
    let out = env.output(&["rollback", &id, "--path", "x/**"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rev: String = env
        .journal()
        .query_row("SELECT id FROM plans WHERE reverses = ?1", [&id], |r| {
            r.get(0)
        })
        .expect("reverse plan");
    assert_eq!(covered(&env, &rev), ["x/1.txt"]);
    let head = env.head();
    downgrade_to_schema_3(&env);

    // verify migrates (it is the first command to open the journal) and passes; the
    // chain is untouched by the migration.
    env.verify_ok();
    assert_eq!(env.head(), head);
    let v: i64 = env
        .journal()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, autonomy::store::journal::SCHEMA_VERSION);
    assert_eq!(covered(&env, &rev), ["x/1.txt"]);
    assert_eq!(status_of(&env, &id), "applied");

    // The rest: now every path is covered.
    let out = env.output(&["rollback", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(status_of(&env, &id), "rolled_back");
    assert_eq!(env.read_str("y.txt"), "why\n");
    env.verify_ok();
}

/// The pending reverse plan for the same paths is found again after the migration
/// (it is matched on its covered paths).
#[test]
fn a_pending_reverse_plan_is_reused_after_migration() {
    let env = open_env();
    let id = env.plan(TWO_FILES);
    env.apply_ok(&id);
    let out = env.output(&["rollback", &id, "--path", "y.txt", "--plan-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = String::from_utf8_lossy(&out.stdout).trim().to_string();
    downgrade_to_schema_3(&env);
    let out = env.output(&["rollback", &id, "--path", "y.txt", "--plan-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), first);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM plans WHERE reverses IS NOT NULL"),
        1
    );
    env.verify_ok();
}

/// At migration, a reverse plan whose event lists its paths in a form that does not
/// decode is an integrity failure: it must never read as "covers every path" (which
/// would mark the plan rolled back after a partial rollback).
#[test]
fn an_undecodable_covered_paths_payload_stops_the_migration() {
    let env = open_env();
    let id = env.plan(TWO_FILES);
    env.apply_ok(&id);
    let out = env.output(&["rollback", &id, "--path", "x/**", "--plan-only"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    downgrade_to_schema_3(&env);
    tamper(
        &env,
        &format!(
            "DROP TRIGGER events_no_update;
             UPDATE events SET data = json_set(data, '$.paths', 'x/1.txt')
               WHERE kind = 'plan.created' AND json_extract(data, '$.reverses') = '{id}';"
        ),
    );
    for args in [&["status"][..], &["verify"], &["rollback", &id]] {
        let out = env.output(args);
        assert_eq!(out.status.code(), Some(7), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("does not decode"),
            "{args:?}: {}",
            text(&out)
        );
    }
    // Nothing was migrated or changed.
    let v: i64 = env
        .journal()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, 3);
    assert_eq!(status_of(&env, &id), "applied");
}

/// `verify` compares the covered-paths table with the events: a row added behind
/// autonomy's back (which would let a partial rollback mark the plan rolled back) is
/// reported.
#[test]
fn verify_reports_an_edited_covered_paths_table() {
    let env = open_env();
    let id = env.plan(TWO_FILES);
    env.apply_ok(&id);
    let rev = env.rollback_plan(&id);
    env.verify_ok();
    tamper(
        &env,
        &format!("INSERT INTO reverse_paths (plan, path) VALUES ('{rev}', 'z.txt')"),
    );
    let out = env.output(&["verify"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("reverse_paths")
            || String::from_utf8_lossy(&out.stderr).contains("reverse_paths"),
        "{}",
        text(&out)
    );
}
