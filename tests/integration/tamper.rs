//! Tampering after the fact, each detected by `verify` with exit 7 naming what is wrong
//! (or, for a wrecked journal file, a clear error), never a panic: a flipped byte in a blob
//! (and apply/rollback refuse to write from it), edited, deleted, reordered and inserted
//! events, a truncated or rewritten tail against a head recorded with `log --head`, a
//! truncated or overwritten journal.db, a dropped trigger, an altered stored plan, a forged
//! approval row and a damaged recorded signature.

use crate::common::*;
use autonomy::store::journal::event_hash;
use std::io::Write;

const TRIGGERS: &str = "
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;";

/// Run `sql` on the journal with the append-only triggers out of the way, then put them
/// back, as an attacker with write access would (so that only the chain can tell).
fn tamper(env: &Env, sql: &str) {
    let c = env.journal();
    c.execute_batch(&format!(
        "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; {sql}; {TRIGGERS}"
    ))
    .expect("tamper");
}

/// A workspace with some history: plans, approvals, an applied and a rolled-back run.
fn history() -> (Env, String) {
    let env = Env::new();
    env.write("a.txt", "alpha\n");
    env.write("b.txt", "beta\n");
    let p1 = env.plan(
        "title = \"one\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"ALPHA\\n\"\n",
    );
    env.approve(&p1);
    env.apply_ok(&p1);
    let rev = env.rollback_plan(&p1);
    env.approve(&rev);
    let o = env.output(&["rollback", &rev]);
    assert_exit_in(&o, &[0], "rollback");
    let p2 = env.plan(
        "title = \"two\"\n[[action]]\nkind = \"write\"\npath = \"b.txt\"\ncontent = \"BETA\\n\"\n",
    );
    env.approve(&p2);
    env.apply_ok(&p2);
    env.verify_ok();
    (env, p2)
}

/// `verify` exits 7 and names the problem; the other commands do not panic.
fn detected(env: &Env, what: &str, needle: &str) {
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[7], &format!("{what}: verify"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(needle),
        "{what}: verify does not say {needle:?}: {}",
        text(&o)
    );
    let o = env.output(&["verify", "--format", "json"]);
    assert_exit_in(&o, &[7], &format!("{what}: verify --format json"));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["ok"], false, "{what}");
    no_panics(env, what);
}

/// Whatever state the journal is in, no command panics or dies of a signal.
fn no_panics(env: &Env, what: &str) {
    for args in [
        vec!["status"],
        vec!["log"],
        vec!["log", "--format", "json"],
        vec!["log", "--head"],
        vec!["preview"],
        vec!["rollback", "--plan-only"],
        vec!["gc", "--dry-run"],
    ] {
        let o = env.output(&args);
        assert_exit_in(&o, &[0, 1, 2, 3, 4, 5, 6, 7], &format!("{what}: {args:?}"));
    }
}

fn blob_path(env: &Env, hash: &str) -> std::path::PathBuf {
    env.path(&format!(".autonomy/objects/{}/{}", &hash[..2], &hash[2..]))
}

fn sha256(bytes: &[u8]) -> String {
    autonomy::util::hash::sha256_hex(bytes)
}

fn flip_byte(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut bytes = std::fs::read(path).expect("read blob");
    bytes[0] ^= 0x20;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::fs::write(path, bytes).expect("write blob");
}

#[test]
fn tamper_blob_byte_flipped_is_detected_and_never_written() {
    let env = Env::new();
    env.write("a.txt", "alpha\n");
    let id = env.plan("title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"new content\\n\"\n");
    env.approve(&id);
    let hash = sha256(b"new content\n");
    flip_byte(&blob_path(&env, &hash));
    detected(&env, "flipped blob byte", &hash[..12]);
    // apply would write from it: it refuses, the file keeps its old bytes.
    let before = env.tree();
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[7], "apply from a corrupt blob");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&hash[..12]),
        "{}",
        text(&o)
    );
    assert_eq!(env.tree(), before, "corrupt data written");
    assert!(env.status_json()["interrupted_run"].is_null());
}

#[test]
fn tamper_snapshot_blob_flipped_rollback_refuses() {
    let env = Env::new();
    env.write("a.txt", "the original\n");
    let id = env.plan(
        "title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"changed\\n\"\n",
    );
    env.approve(&id);
    env.apply_ok(&id);
    let rev = env.rollback_plan(&id);
    env.approve(&rev);
    let snapshot = sha256(b"the original\n");
    flip_byte(&blob_path(&env, &snapshot));
    detected(&env, "flipped snapshot byte", &snapshot[..12]);
    let before = env.tree();
    let o = env.output(&["rollback", &rev]);
    assert_exit_in(&o, &[7], "rollback from a corrupt snapshot");
    assert_eq!(env.tree(), before, "corrupt data written by rollback");
    assert_eq!(env.read_str("a.txt"), "changed\n");
}

#[test]
fn tamper_blob_deleted_is_detected_and_apply_refuses() {
    let env = Env::new();
    env.write("a.txt", "alpha\n");
    let id = env.plan("title = \"t\"\n[[action]]\nkind = \"write\"\npath = \"a.txt\"\ncontent = \"gone blob\\n\"\n");
    env.approve(&id);
    let hash = sha256(b"gone blob\n");
    std::fs::remove_file(blob_path(&env, &hash)).expect("rm blob");
    detected(&env, "deleted blob", "missing");
    let before = env.tree();
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[7], "apply with a missing blob");
    assert_eq!(env.tree(), before);
}

#[test]
fn tamper_stray_file_in_the_blob_store_is_detected() {
    let (env, _) = history();
    let dir = env.path(".autonomy/objects/zz");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("not-a-hash"), "planted\n").expect("write");
    detected(&env, "stray object", "invalid blob name");
}

#[test]
fn tamper_edited_events_are_detected() {
    let cases = [
        (
            "data",
            "UPDATE events SET data = '{\"forged\":true}' WHERE seq = 3",
        ),
        (
            "actor",
            "UPDATE events SET actor = 'someone-else@example.com' WHERE seq = 3",
        ),
        (
            "kind",
            "UPDATE events SET kind = 'approval.granted' WHERE seq = 3",
        ),
        (
            "at",
            "UPDATE events SET at = '2000-01-01T00:00:00Z' WHERE seq = 3",
        ),
        ("plan", "UPDATE events SET plan = NULL WHERE seq = 3"),
        (
            "rules",
            "UPDATE events SET rules = 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff' WHERE seq = 3",
        ),
        ("prev", "UPDATE events SET prev = hash WHERE seq = 3"),
        ("hash", "UPDATE events SET hash = prev WHERE seq = 3"),
        (
            "init",
            "UPDATE events SET data = '{\"workspace\":\"00000000000000000000000000000000\"}' WHERE seq = 1",
        ),
        (
            "head",
            "UPDATE events SET data = '{}' WHERE seq = (SELECT MAX(seq) FROM events)",
        ),
    ];
    for (column, sql) in cases {
        let (env, _) = history();
        tamper(&env, sql);
        detected(&env, &format!("edited event {column}"), "event");
    }
}

#[test]
fn tamper_deleted_event_is_detected() {
    let (env, _) = history();
    tamper(&env, "DELETE FROM events WHERE seq = 4");
    detected(&env, "deleted event", "jumps from 3 to 5");
}

#[test]
fn tamper_reordered_events_are_detected() {
    let (env, _) = history();
    tamper(
        &env,
        "UPDATE events SET seq = -1 WHERE seq = 4; UPDATE events SET seq = 4 WHERE seq = 5; UPDATE events SET seq = 5 WHERE seq = -1",
    );
    detected(&env, "swapped events 4 and 5", "does not link");
}

#[test]
fn tamper_inserted_event_is_detected() {
    let (env, _) = history();
    // A forged approval squeezed in after event 3: every later seq moves up by one.
    tamper(
        &env,
        "UPDATE events SET seq = seq + 1000 WHERE seq > 3; UPDATE events SET seq = seq - 999 WHERE seq > 1000;
         INSERT INTO events (seq, at, actor, kind, plan, rules, data, prev, hash)
             SELECT 4, at, 'mallory@example.com', 'approval.granted', plan, rules, '{}', hash, hash FROM events WHERE seq = 3",
    );
    detected(&env, "inserted event", "event 4");
}

/// Events that no table derives from (previews) at the tail, so that cutting or rewriting
/// them leaves the tables consistent and only the chain head can tell.
fn neutral_tail(env: &Env, plan: &str) {
    for _ in 0..3 {
        assert_exit_in(&env.output(&["preview", plan, "--stat"]), &[0], "preview");
    }
}

/// A truncated tail leaves a valid chain: only a head recorded elsewhere exposes it.
/// (Cutting events that tables were derived from is caught without one: see
/// `hostile_state.rs`.)
#[test]
fn tamper_truncated_tail_is_detected_with_expect_head() {
    let (env, p2) = history();
    neutral_tail(&env, &p2);
    let head = env.head();
    let (seq, _) = head.split_once(':').expect("SEQ:HASH");
    let seq: i64 = seq.parse().expect("seq");
    let o = env.output(&["verify", "--expect-head", &head]);
    assert_exit_in(&o, &[0], "verify against the true head");
    tamper(&env, &format!("DELETE FROM events WHERE seq > {}", seq - 3));
    // The chain itself still verifies (this is the documented limit) ...
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[0], "truncated chain without a recorded head");
    // ... the recorded head does not.
    let o = env.output(&["verify", "--expect-head", &head]);
    assert_exit_in(&o, &[7], "verify --expect-head after truncation");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("truncated"),
        "{}",
        text(&o)
    );
}

/// A rewritten tail (events replaced by new ones with valid hashes) is caught the same way.
#[test]
fn tamper_rewritten_tail_is_detected_with_expect_head() {
    let (env, p2) = history();
    neutral_tail(&env, &p2);
    let head = env.head();
    let c = env.journal();
    let (seq, prev_hash): (i64, String) = c
        .query_row(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1 OFFSET 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    let rules: String = c
        .query_row("SELECT rules FROM events WHERE seq = ?1", [seq], |r| {
            r.get(0)
        })
        .expect("rules");
    drop(c);
    // Replace the last two events by one forged event with a valid hash, then a second.
    let mut sql = format!("DELETE FROM events WHERE seq > {seq};");
    let mut prev = prev_hash;
    for (i, kind) in ["plan.previewed", "gc"].iter().enumerate() {
        let s = seq + 1 + i as i64;
        let at = "2026-01-01T00:00:00Z";
        let data = "{\"forged\":true}";
        let hash = event_hash(
            s,
            &prev,
            at,
            "mallory@example.com",
            kind,
            None,
            &rules,
            data,
        );
        sql.push_str(&format!(
            "INSERT INTO events (seq, at, actor, kind, plan, rules, data, prev, hash) VALUES ({s}, '{at}', 'mallory@example.com', '{kind}', NULL, '{rules}', '{data}', '{prev}', '{hash}');"
        ));
        prev = hash;
    }
    tamper(&env, &sql);
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[0], "a rewritten tail is a valid chain on its own");
    let o = env.output(&["verify", "--expect-head", &head]);
    assert_exit_in(&o, &[7], "verify --expect-head after a rewrite");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rewritten"),
        "{}",
        text(&o)
    );
}

#[test]
fn tamper_expect_head_rejects_malformed_heads() {
    let (env, _) = history();
    for bad in ["", "12", "x:y", "3:abc", "-1:00", "99999999999999999999:00"] {
        let o = env.output(&["verify", "--expect-head", bad]);
        assert_exit_in(&o, &[2], &format!("--expect-head {bad:?}"));
    }
}

#[test]
fn tamper_dropped_trigger_is_detected() {
    for trigger in ["events_no_update", "events_no_delete"] {
        let (env, _) = history();
        env.journal()
            .execute_batch(&format!("DROP TRIGGER {trigger}"))
            .expect("drop trigger");
        detected(&env, &format!("dropped {trigger}"), trigger);
    }
}

#[test]
fn tamper_altered_plan_row_is_detected_and_not_applied() {
    // The title of a pending plan.
    let (env, _) = history();
    env.write("c.txt", "c\n");
    let id = env.plan(
        "title = \"honest\"\n[[action]]\nkind = \"write\"\npath = \"c.txt\"\ncontent = \"C\\n\"\n",
    );
    env.approve(&id);
    env.journal()
        .execute(
            "UPDATE plans SET canonical = replace(canonical, '\"title\":\"honest\"', '\"title\":\"forged\"') WHERE id = ?1",
            [&id],
        )
        .expect("update");
    detected(&env, "altered plan title", &id[..12]);
    let before = env.tree();
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[7], "apply of an altered plan");
    assert_eq!(env.tree(), before);

    // The content an approved plan writes, pointed at another (existing, valid) blob.
    let (env, _) = history();
    env.write("c.txt", "c\n");
    let id = env.plan("title = \"swap\"\n[[action]]\nkind = \"write\"\npath = \"c.txt\"\ncontent = \"harmless\\n\"\n");
    env.approve(&id);
    let evil = env.plan(
        "title = \"evil\"\n[[action]]\nkind = \"write\"\npath = \"d.txt\"\ncontent = \"evil\\n\"\n",
    );
    let _ = evil;
    env.journal()
        .execute(
            "UPDATE plans SET canonical = replace(canonical, ?2, ?3) WHERE id = ?1",
            [&id, &sha256(b"harmless\n"), &sha256(b"evil\n")],
        )
        .expect("update");
    detected(&env, "plan pointed at other content", &id[..12]);
    let before = env.tree();
    let o = env.output(&["apply", &id]);
    assert_exit_in(&o, &[7], "apply of a plan pointed at other content");
    assert_eq!(env.tree(), before);
}

/// An approval row written straight into the table, with no event for it in the chain.
#[test]
fn tamper_forged_approval_row_is_detected() {
    let (env, _) = history();
    env.write("c.txt", "c\n");
    let id = env.plan("title = \"unapproved\"\n[[action]]\nkind = \"write\"\npath = \"c.txt\"\ncontent = \"C\\n\"\n");
    env.journal()
        .execute(
            "INSERT INTO approvals (plan, at, principal, method, decision) VALUES (?1, '2026-01-01T00:00:00Z', 'boss@example.com', 'terminal', 'approve')",
            [&id],
        )
        .expect("forge");
    detected(&env, "forged approval row", "approval");
}

#[test]
fn tamper_recorded_signature_damaged_is_detected() {
    let (env, _) = history();
    let Some((key, public)) = ssh_key(env.tmp.path(), "signer") else {
        return;
    };
    env.allow_signer(ACTOR, &public);
    env.write("c.txt", "c\n");
    let id = env.plan(
        "title = \"signed\"\n[[action]]\nkind = \"write\"\npath = \"c.txt\"\ncontent = \"C\\n\"\n",
    );
    let file = env.sign(&id, &key);
    let o = env.output(&["apply", &id, "--approval", file.to_str().expect("utf8")]);
    assert_exit_in(&o, &[0], "apply with a signed approval");
    env.verify_ok();
    env.journal()
        .execute(
            "UPDATE approvals SET signature = replace(signature, 'approver = \"', 'approver = \"x') WHERE method = 'ssh'",
            [],
        )
        .expect("update");
    detected(&env, "damaged recorded signature", "signed approval");
}

fn checkpoint(env: &Env) {
    let c = env.journal();
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
}

#[test]
fn tamper_truncated_journal_file_is_detected() {
    let (env, _) = history();
    checkpoint(&env);
    let db = env.path(".autonomy/journal.db");
    let len = std::fs::metadata(&db).expect("stat").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .expect("open");
    f.set_len(len / 2).expect("truncate");
    drop(f);
    let _ = std::fs::remove_file(env.path(".autonomy/journal.db-wal"));
    let _ = std::fs::remove_file(env.path(".autonomy/journal.db-shm"));
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[7], "verify of a truncated journal.db");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("journal"),
        "{}",
        text(&o)
    );
    no_panics(&env, "truncated journal.db");
}

#[test]
fn tamper_overwritten_journal_file_is_detected() {
    for (what, pos) in [("header", 0u64), ("a middle page", 8192)] {
        let (env, _) = history();
        checkpoint(&env);
        let db = env.path(".autonomy/journal.db");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&db)
            .expect("open");
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(pos)).expect("seek");
        f.write_all(&[0xA5; 4096]).expect("write");
        drop(f);
        let o = env.output(&["verify"]);
        assert_exit_in(&o, &[7], &format!("verify after overwriting {what}"));
        no_panics(&env, &format!("overwritten {what}"));
    }
}

#[test]
fn tamper_emptied_or_deleted_journal_file_is_detected() {
    let (env, _) = history();
    checkpoint(&env);
    let db = env.path(".autonomy/journal.db");
    std::fs::write(&db, b"").expect("empty it");
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[7], "verify of an emptied journal.db");
    no_panics(&env, "emptied journal.db");

    let (env, _) = history();
    std::fs::remove_file(env.path(".autonomy/journal.db")).expect("rm");
    let _ = std::fs::remove_file(env.path(".autonomy/journal.db-wal"));
    let _ = std::fs::remove_file(env.path(".autonomy/journal.db-shm"));
    let o = env.output(&["verify"]);
    assert_exit_in(&o, &[7], "verify without journal.db");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("missing"),
        "{}",
        text(&o)
    );
    no_panics(&env, "deleted journal.db");
}
