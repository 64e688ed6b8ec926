//! Benchmark fixture generator (not part of the product): fills an initialised workspace's
//! journal with many plans or events quickly, through the library's own encodings, so
//! that `verify` accepts the result.
//!
//!   bench-gen plans WORKSPACE N     N plans (pending, approved, rejected, applied, rolled back)
//!   bench-gen events WORKSPACE N    N `plan.previewed` events on one plan
//!
//! Everything goes in one transaction. The hash chain is computed with
//! `autonomy::store::journal::event_hash`, exactly as `append_event` does.

use autonomy::model::plan::PLAN_FORMAT;
use autonomy::model::{Change, Plan, PlanId, State};
use autonomy::store::journal::{GENESIS, event_hash};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

const ACTOR: &str = "bench@example.com";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        return Err("usage: bench-gen plans|events WORKSPACE N".into());
    }
    let n: u64 = args[3].parse()?;
    let db = Path::new(&args[2]).join(".autonomy").join("journal.db");
    let mut conn = Connection::open(&db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // A generator, not the product: no need to wait for the disk on every page.
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    let workspace: String =
        tx.query_row("SELECT value FROM meta WHERE key = 'workspace'", [], |r| {
            r.get(0)
        })?;
    let (mut seq, mut prev, rules): (i64, String, String) = tx
        .query_row(
            "SELECT seq, hash, rules FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?
        .unwrap_or((0, GENESIS.to_string(), String::new()));
    let at = autonomy::util::ids::now_string();
    {
        let mut ins = tx.prepare(
            "INSERT INTO events (seq, at, actor, kind, plan, rules, data, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut event = |kind: &str, plan: Option<&str>, data: &str| -> rusqlite::Result<()> {
            seq += 1;
            let hash = event_hash(seq, &prev, &at, ACTOR, kind, plan, &rules, data);
            ins.execute(params![seq, at, ACTOR, kind, plan, rules, data, prev, hash])?;
            prev = hash;
            Ok(())
        };
        match args[1].as_str() {
            "plans" => {
                let mut plan_seq: i64 =
                    tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM plans", [], |r| r.get(0))?;
                let mut run_id: i64 =
                    tx.query_row("SELECT COALESCE(MAX(id), 0) FROM runs", [], |r| r.get(0))?;
                let mut ins_plan = tx.prepare(
                    "INSERT INTO plans (id, seq, created, title, author, status, reverses, canonical) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                let mut set_status = tx.prepare("UPDATE plans SET status = ?2 WHERE id = ?1")?;
                let mut ins_change = tx.prepare(
                    "INSERT INTO changes (plan, idx, path, before_hash, after_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                let mut ins_approval = tx.prepare(
                    "INSERT INTO approvals (plan, at, principal, method, decision) VALUES (?1, ?2, ?3, 'terminal', 'approve')",
                )?;
                // A reverse plan covers every path of the plan it reverses (its one path).
                let mut ins_covered =
                    tx.prepare("INSERT INTO reverse_paths (plan, path) VALUES (?1, ?2)")?;
                let mut ins_run = tx.prepare(
                    "INSERT INTO runs (id, plan, kind, state, started, finished, duration_ms) VALUES (?1, ?2, ?3, 'committed', ?4, ?4, 0)",
                )?;
                let mut orig: Option<String> = None;
                for i in 0..n {
                    // Old plans are mostly settled; a few are still open. Every status comes
                    // with the events that justify it (verify checks the tables against
                    // them): 10% pending, 10% approved, 10% rejected, 50% applied, and 20%
                    // rolled back by a reverse plan (the next one, itself applied).
                    let slot = i % 10;
                    let reverses = if slot == 7 || slot == 9 {
                        orig.take()
                    } else {
                        None
                    };
                    let dir = State::dir();
                    let (before, after) = match &reverses {
                        Some(_) => (dir, State::Absent),
                        None => (State::Absent, dir),
                    };
                    let plan = Plan {
                        format: PLAN_FORMAT.to_string(),
                        workspace: workspace.clone(),
                        created: at.clone(),
                        title: format!("Synthetic plan {i}"),
                        author: ACTOR.to_string(),
                        description: None,
                        reverses: reverses.as_deref().and_then(PlanId::parse),
                        // A folder: no blob needed, so `verify` stays clean.
                        changes: vec![Change {
                            path: format!("gen/dir{}", if reverses.is_some() { i - 1 } else { i }),
                            before,
                            after,
                            from: None,
                        }],
                        exec: Vec::new(),
                    };
                    let id = plan.id().into_string();
                    plan_seq += 1;
                    ins_plan.execute(params![
                        id,
                        plan_seq,
                        plan.created,
                        plan.title,
                        plan.author,
                        "pending",
                        plan.reverses.as_deref(),
                        plan.canonical()
                    ])?;
                    let c = &plan.changes[0];
                    if reverses.is_some() {
                        ins_covered.execute(params![id, c.path])?;
                    }
                    ins_change.execute(params![
                        id,
                        0,
                        c.path,
                        c.before.file_hash(),
                        c.after.file_hash()
                    ])?;
                    let data = serde_json::json!({
                        "title": plan.title, "author": plan.author, "changes": 1,
                        "source": if reverses.is_some() { "rollback" } else { "file" },
                        "reverses": reverses
                    });
                    event("plan.created", Some(&id), &data.to_string())?;
                    if slot == 2 {
                        set_status.execute(params![id, "rejected"])?;
                        event(
                            "plan.rejected",
                            Some(&id),
                            &serde_json::json!({ "principal": ACTOR, "reason": null }).to_string(),
                        )?;
                        continue;
                    }
                    if slot == 0 {
                        continue;
                    }
                    ins_approval.execute(params![id, at, ACTOR])?;
                    set_status.execute(params![id, "approved"])?;
                    event("approval.granted", Some(&id), &serde_json::json!({ "method": "terminal", "principal": ACTOR, "reason": null, "os_uid": 0, "os_user": "bench" }).to_string())?;
                    if slot == 1 {
                        continue;
                    }
                    run_id += 1;
                    let kind = if reverses.is_some() {
                        "rollback"
                    } else {
                        "apply"
                    };
                    ins_run.execute(params![run_id, id, kind, at])?;
                    set_status.execute(params![id, "applied"])?;
                    event(
                        "run.started",
                        Some(&id),
                        &serde_json::json!({ "run": run_id, "kind": kind, "changes": 1 })
                            .to_string(),
                    )?;
                    event(
                        "run.committed",
                        Some(&id),
                        &serde_json::json!({
                            "run": run_id, "kind": kind, "duration_ms": 0, "files_changed": 1,
                            "bytes_written": 0, "reverses": reverses, "exec": [], "verify": null,
                            "verify_ms": null, "consumed": [],
                        })
                        .to_string(),
                    )?;
                    match reverses {
                        Some(o) => {
                            set_status.execute(params![o, "rolled_back"])?;
                        }
                        None if slot == 6 || slot == 8 => orig = Some(id),
                        None => {}
                    }
                }
            }
            "events" => {
                let plan: Option<String> = tx
                    .query_row("SELECT id FROM plans ORDER BY seq LIMIT 1", [], |r| {
                        r.get(0)
                    })
                    .optional()?;
                for _ in 0..n {
                    event(
                        "plan.previewed",
                        plan.as_deref(),
                        r#"{"stat":false,"note":"synthetic event for the journal benchmark"}"#,
                    )?;
                }
            }
            other => return Err(format!("unknown fixture {other:?}").into()),
        }
    }
    tx.commit()?;
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    Ok(())
}
