//! Integrity checks behind `autonomy verify`: SQLite's own check, the events' hash chain
//! from the `init` event, every stored plan against its id (and the plans and changes
//! rows against the plan), every blob a plan or snapshot needs (re-hashed), every recorded
//! signature, and every derived table (plan status, approvals and their use, run state,
//! exec effects, kept output) against what the events say it must hold
//! ([`crate::store::derived`]).

use crate::error::Result;
use crate::model::Plan;
use crate::store::blobs::BlobStore;
use crate::store::derived::Replay;
use crate::store::journal::{EVENT_COLUMNS, GENESIS, Journal, event_digest};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    pub problems: Vec<String>,
    pub events: u64,
    pub head: Option<String>,
    pub plans: u64,
    pub blobs: u64,
    pub signatures: u64,
    pub runs: u64,
    /// A run left running with no process holding the lock.
    pub interrupted: Option<i64>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check everything. `lock_free` says no process holds the workspace lock (a running run
/// is then interrupted, not in progress).
pub fn verify(
    j: &Journal,
    blobs: &BlobStore,
    expect_head: Option<(i64, &str)>,
    lock_free: bool,
) -> Result<Report> {
    let mut r = Report::default();
    // SQLite's own check reads the whole file: it runs on a second connection, on the
    // other core, while this one walks the chain. Its finding is listed first, as always.
    let integrity = spawn_integrity_check(j);
    // One read transaction: the events and the tables derived from them are compared as
    // of one moment, whatever another process commits meanwhile.
    let snapshot = j.conn.unchecked_transaction()?;
    for trigger in ["events_no_update", "events_no_delete"] {
        let present: bool = j
            .conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                [trigger],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n == 1)
            .unwrap_or(false);
        if !present {
            r.problems.push(format!(
                "the append-only guard {trigger} on the events table was removed"
            ));
        }
    }
    let replay = check_chain(j, &mut r, expect_head)?;
    check_plans_and_blobs(j, blobs, &mut r)?;
    check_signatures(j, &mut r)?;
    replay.compare(&j.conn, &mut r.problems)?;
    let mut stmt = j.conn.prepare("SELECT id, state FROM runs ORDER BY id")?;
    let runs = stmt.query_map([], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    for run in runs {
        let (id, state) = run?;
        r.runs += 1;
        match state.as_str() {
            "committed" | "failed" | "recovered" => {}
            "running" if lock_free => r.interrupted = Some(id),
            "running" => {}
            other => r
                .problems
                .push(format!("run {id} has an unknown state {other:?}")),
        }
    }
    drop(snapshot);
    let integrity = match integrity {
        Some(h) => h
            .join()
            .unwrap_or_else(|_| "integrity_check failed".to_string()),
        None => integrity_check(&j.conn),
    };
    if integrity != "ok" {
        r.problems
            .insert(0, format!("SQLite integrity check: {integrity}"));
    }
    Ok(r)
}

/// `PRAGMA integrity_check` on its own read-only connection in another thread, when the
/// journal is a file; `None` for the caller to run it on `j`.
fn spawn_integrity_check(j: &Journal) -> Option<std::thread::JoinHandle<String>> {
    let path = j.conn.path().filter(|p| !p.is_empty())?.to_string();
    Some(std::thread::spawn(move || {
        match Journal::open_read_only(Path::new(&path)) {
            Ok(other) => integrity_check(&other.conn),
            Err(e) => format!("integrity_check failed: {}", e.message),
        }
    }))
}

/// `PRAGMA integrity_check`: "ok" or what it found.
fn integrity_check(conn: &rusqlite::Connection) -> String {
    conn.query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
        .unwrap_or_else(|e| format!("integrity_check failed: {e}"))
}

/// One event's stored columns, borrowed from the row as bytes (hashing needs no UTF-8
/// check: a column that is not valid UTF-8 cannot match its hash anyway).
struct Row<'a> {
    seq: i64,
    at: &'a [u8],
    actor: &'a [u8],
    kind: &'a [u8],
    plan: Option<&'a [u8]>,
    rules: &'a [u8],
    data: &'a [u8],
    prev: &'a [u8],
    hash: &'a [u8],
}

fn read_row<'a>(row: &'a rusqlite::Row) -> rusqlite::Result<Row<'a>> {
    let text = |i: usize| -> rusqlite::Result<&'a [u8]> {
        row.get_ref(i)?.as_bytes().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    Ok(Row {
        seq: row.get(0)?,
        at: text(1)?,
        actor: text(2)?,
        kind: text(3)?,
        plan: match row.get_ref(4)? {
            rusqlite::types::ValueRef::Null => None,
            _ => Some(text(4)?),
        },
        rules: text(5)?,
        data: text(6)?,
        prev: text(7)?,
        hash: text(8)?,
    })
}

/// Walk the chain, and fold every event into the facts the derived tables must hold.
fn check_chain(j: &Journal, r: &mut Report, expect_head: Option<(i64, &str)>) -> Result<Replay> {
    let mut replay = Replay::default();
    let workspace = j.workspace_id().unwrap_or_default();
    let mut stmt = j
        .conn
        .prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq"))?;
    let mut rows = stmt.query([])?;
    let mut prev = GENESIS.as_bytes().to_vec();
    let mut expected_seq = 1i64;
    let mut seen_expected = false;
    let mut buf = Vec::new();
    let mut hex = [0u8; 64];
    loop {
        let e = match rows.next().and_then(|row| row.map(read_row).transpose()) {
            Ok(Some(e)) => e,
            Ok(None) => break,
            Err(err) => {
                r.problems.push(format!(
                    "event after seq {} cannot be read: {err}",
                    expected_seq - 1
                ));
                break;
            }
        };
        if r.problems.len() > 50 {
            r.problems
                .push("too many problems; stopping the chain check".into());
            break;
        }
        if e.seq != expected_seq {
            r.problems.push(format!(
                "event sequence jumps from {} to {} (events deleted or reordered)",
                expected_seq - 1,
                e.seq
            ));
        }
        if e.prev != prev.as_slice() {
            r.problems.push(format!("event {} does not link to the event before it (chain broken: edited, inserted or reordered)", e.seq));
        }
        let digest = event_digest(
            &mut buf, e.seq, e.prev, e.at, e.actor, e.kind, e.plan, e.rules, e.data,
        );
        // Encoding 32 bytes into a 64-byte buffer cannot fail.
        let _ = hex::encode_to_slice(digest, &mut hex);
        if hex[..] != *e.hash {
            r.problems.push(format!(
                "event {} ({}) does not match its hash: it was altered after it was written",
                e.seq,
                String::from_utf8_lossy(e.kind)
            ));
        }
        if e.seq == 1 {
            let bound = serde_json::from_slice::<serde_json::Value>(e.data)
                .ok()
                .and_then(|d| {
                    d.get("workspace")
                        .and_then(|w| w.as_str())
                        .map(str::to_string)
                });
            if e.kind != b"init" || bound.as_deref() != Some(workspace.as_str()) {
                r.problems.push(
                    "the first event is not the init event binding this workspace's id".into(),
                );
            }
        }
        if let Some((seq, hash)) = expect_head
            && e.seq == seq
        {
            seen_expected = true;
            if e.hash != hash.as_bytes() {
                r.problems.push(format!("event {seq} has hash {} but the recorded head says {hash}: the journal was rewritten", String::from_utf8_lossy(e.hash)));
            }
        }
        replay.feed(&j.conn, e.seq, e.actor, e.kind, e.plan, e.data);
        prev.clear();
        prev.extend_from_slice(e.hash);
        expected_seq = e.seq + 1;
        r.events += 1;
    }
    if r.events > 0 {
        r.head = Some(format!(
            "{}:{}",
            expected_seq - 1,
            String::from_utf8_lossy(&prev)
        ));
    }
    if r.events == 0 {
        r.problems.push("the journal has no events".into());
    }
    if let Some((seq, _)) = expect_head
        && !seen_expected
    {
        r.problems.push(format!(
            "the recorded head is event {seq}, but the journal ends at {}: its tail was truncated",
            expected_seq - 1
        ));
    }
    Ok(replay)
}

fn check_plans_and_blobs(j: &Journal, blobs: &BlobStore, r: &mut Report) -> Result<()> {
    let mut needed: BTreeSet<String> = BTreeSet::new();
    let mut stmt = j.conn.prepare(
        "SELECT id, status, canonical, created, title, author, reverses FROM plans ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            [
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
            ],
            row.get::<_, Option<String>>(6)?,
        ))
    })?;
    // Every changes row, read in one scan (a lookup per plan costs more), by plan.
    let mut changes: HashMap<String, Vec<ChangeRow>> = HashMap::new();
    let mut scan = j
        .conn
        .prepare("SELECT plan, idx, path, before_hash, after_hash FROM changes")?;
    for row in scan.query_map([], |row| {
        Ok((
            row.get::<_, String>(0)?,
            (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?),
        ))
    })? {
        let (plan, change) = row?;
        changes.entry(plan).or_default().push(change);
    }
    for row in rows {
        let (id, status, canonical, columns, reverses) = row?;
        r.plans += 1;
        let plan = match Plan::from_canonical(&canonical) {
            Ok(p) if p.id() == id => p,
            Ok(_) => {
                r.problems.push(format!(
                    "plan {} does not hash to its id: it was altered",
                    &id[..12.min(id.len())]
                ));
                continue;
            }
            Err(e) => {
                r.problems
                    .push(format!("plan {}: {}", &id[..12.min(id.len())], e.message));
                continue;
            }
        };
        let mut rows = changes.remove(&id).unwrap_or_default();
        rows.sort();
        check_plan_columns(&plan, &id, &columns, &reverses, &rows, r);
        for c in &plan.changes {
            if let Some(h) = c.after.file_hash()
                && c.before.file_hash() != Some(h)
            {
                needed.insert(h.to_string());
            }
            // The snapshot of an applied plan is what rollback needs.
            if matches!(status.as_str(), "applied" | "rolled_back")
                && let Some(h) = c.before.file_hash()
                && c.after.file_hash() != Some(h)
            {
                needed.insert(h.to_string());
            }
        }
    }
    let mut orphans: Vec<&String> = changes.keys().collect();
    orphans.sort();
    for plan in orphans {
        r.problems.push(format!(
            "changes rows of plan {}, which has no plans row",
            &plan[..12.min(plan.len())]
        ));
    }
    let (stored, _) = blobs.list()?;
    let stored: BTreeSet<String> = stored.into_iter().collect();
    for h in &needed {
        if !stored.contains(h) {
            r.problems.push(format!(
                "blob {} needed by a plan or snapshot is missing",
                &h[..12]
            ));
        }
    }
    // Every blob re-hashed, on every core.
    let stored: Vec<&String> = stored.iter().collect();
    let checked = crate::util::par::map(&stored, crate::util::par::cpus(), |h| blobs.check(h));
    for (h, res) in stored.iter().zip(checked) {
        r.blobs += 1;
        match res {
            Ok(true) => {}
            Ok(false) => r.problems.push(format!(
                "blob {} vanished while being checked",
                &h[..12.min(h.len())]
            )),
            Err(e) => r.problems.push(e.message),
        }
    }
    Ok(())
}

/// The plans row's columns and the plan's changes rows hold what the stored plan (which
/// hashes to its id) says: titles and authors are shown from them, rollback coverage, risk
/// and gc read the changes index.
fn check_plan_columns(
    plan: &Plan,
    id: &str,
    columns: &[String; 3],
    reverses: &Option<String>,
    rows: &[ChangeRow],
    r: &mut Report,
) {
    let short = &id[..12.min(id.len())];
    let want = [&plan.created, &plan.title, &plan.author];
    for ((name, have), want) in ["created", "title", "author"].iter().zip(columns).zip(want) {
        if have != want {
            r.problems.push(format!(
                "plans row {short}: {name} is {:?}, but the stored plan says {:?}",
                crate::error::clip_lines(have, 100),
                crate::error::clip_lines(want, 100)
            ));
        }
    }
    if *reverses != plan.reverses {
        r.problems.push(format!(
            "plans row {short}: reverses {:?}, but the stored plan says {:?}",
            reverses, plan.reverses
        ));
    }
    let want: Vec<ChangeRow> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                i as i64,
                c.path.clone(),
                c.before.file_hash().map(str::to_string),
                c.after.file_hash().map(str::to_string),
            )
        })
        .collect();
    if rows != want {
        let at = rows
            .iter()
            .zip(&want)
            .position(|(a, b)| a != b)
            .unwrap_or(rows.len().min(want.len()));
        r.problems.push(format!(
            "changes rows of plan {short}: {} where the stored plan has {}; first difference at index {at} ({})",
            crate::util::text::count(rows.len() as u64, "row"),
            crate::util::text::count(want.len() as u64, "change"),
            want.get(at).map_or("no such change", |w| w.1.as_str())
        ));
    }
}

/// One row of the changes table: index, path, before and after hashes.
type ChangeRow = (i64, String, Option<String>, Option<String>);

fn check_signatures(j: &Journal, r: &mut Report) -> Result<()> {
    let mut stmt = j.conn.prepare(
        "SELECT id, plan, statement, signature, approval_id, principal, key_fingerprint FROM approvals WHERE method = 'ssh'",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, Option<String>>(2)?,
            row.get::<_, Option<String>>(3)?,
            [
                row.get::<_, Option<String>>(4)?,
                row.get::<_, Option<String>>(5)?,
                row.get::<_, Option<String>>(6)?,
            ],
        ))
    })?;
    for row in rows {
        let (id, plan, statement, file, [approval_id, principal, key]) = row?;
        r.signatures += 1;
        // The signature, and that the row's plan, approval id, approver and key are the
        // ones it signs (the gate counts principals and keys).
        let ok = (|| {
            let file = crate::policy::approval::file::parse_approval_file(file?.as_bytes()).ok()?;
            let signer = crate::policy::approval::sshsig::verify_signature(
                file.statement_text.as_bytes(),
                &file.signature_pem,
            )
            .ok()?;
            let st = &file.statement;
            (st.plan == plan
                && Some(&st.approval) == approval_id.as_ref()
                && Some(&st.approver) == principal.as_ref()
                && Some(&signer.fingerprint) == key.as_ref()
                && Some(&file.statement_text) == statement.as_ref())
            .then_some(())
        })();
        if ok.is_none() {
            r.problems.push(format!(
                "recorded signed approval {id} no longer verifies against its statement and plan"
            ));
        }
    }
    Ok(())
}

/// Blobs nothing references: not a plan's new content, not a snapshot. Blobs younger than
/// `grace` are kept, since a `plan` in another process may be about to reference them.
pub fn unreferenced(
    j: &Journal,
    blobs: &BlobStore,
    grace: std::time::Duration,
) -> Result<Vec<(String, u64)>> {
    let mut referenced: BTreeSet<String> = BTreeSet::new();
    let mut stmt = j
        .conn
        .prepare("SELECT before_hash, after_hash FROM changes")?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, Option<String>>(0)?,
            row.get::<_, Option<String>>(1)?,
        ))
    })?;
    for row in rows {
        let (a, b) = row?;
        referenced.extend(a);
        referenced.extend(b);
    }
    let mut stmt = j
        .conn
        .prepare("SELECT before, COALESCE(after, 'null') FROM run_exec")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    for row in rows {
        let (a, b) = row?;
        for t in [a, b] {
            if let Ok(crate::model::State::File { sha256, .. }) =
                serde_json::from_str::<crate::model::State>(&t)
            {
                referenced.insert(sha256);
            }
        }
    }
    let mut stmt = j.conn.prepare("SELECT hash FROM blobs_extra")?;
    for h in stmt.query_map([], |row| row.get::<_, String>(0))? {
        referenced.insert(h?);
    }
    let (stored, _) = blobs.list()?;
    let now = std::time::SystemTime::now();
    let mut out = Vec::new();
    for h in stored {
        if referenced.contains(&h) {
            continue;
        }
        let Ok(path) = blobs.path(&h) else { continue };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let young = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_none_or(|age| age < grace);
        if !young {
            out.push((h, meta.len()));
        }
    }
    Ok(out)
}
