//! Integrity checks behind `autonomy verify`: SQLite's own check, the events' hash chain
//! from the `init` event, every stored plan against its id (and the plans and changes
//! rows against the plan), every blob a plan or snapshot needs (re-hashed), every recorded
//! signature, and every derived table (plan status, approvals and their use, run state,
//! exec effects, kept output) against what the events say it must hold
//! ([`crate::store::journal::derived`]).

use crate::error::Result;
use crate::model::Plan;
use crate::model::id::short;
use crate::store::blobs::BlobStore;
use crate::store::journal::audit::{ChangeRow, SignedRow, StoredPlan};
use crate::store::journal::derived::Replay;
use crate::store::journal::{GENESIS, Journal, event_digest};
use std::collections::BTreeSet;
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
    j.read(|j| {
        for trigger in ["events_no_update", "events_no_delete"] {
            if !j.has_trigger(trigger) {
                r.problems.push(format!(
                    "the append-only guard {trigger} on the events table was removed"
                ));
            }
        }
        let replay = check_chain(j, &mut r, expect_head)?;
        check_plans_and_blobs(j, blobs, &mut r)?;
        check_signatures(j, &mut r)?;
        replay.compare(j, &mut r.problems)?;
        for (id, state) in j.run_states_as_stored()? {
            r.runs += 1;
            match crate::model::RunState::parse(&state) {
                Some(crate::model::RunState::Running) if lock_free => r.interrupted = Some(id),
                Some(_) => {}
                None => r
                    .problems
                    .push(format!("run {id} has an unknown state {state:?}")),
            }
        }
        Ok(())
    })?;
    let integrity = match integrity {
        Some(h) => h
            .join()
            .unwrap_or_else(|_| "integrity_check failed".to_string()),
        None => j.integrity_check(),
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
    let path = j.path()?.to_string();
    Some(std::thread::spawn(move || {
        match Journal::open_read_only(Path::new(&path)) {
            Ok(other) => other.integrity_check(),
            Err(e) => format!("integrity_check failed: {}", e.message),
        }
    }))
}

/// Walk the chain, and fold every event into the facts the derived tables must hold.
fn check_chain(j: &Journal, r: &mut Report, expect_head: Option<(i64, &str)>) -> Result<Replay> {
    let mut replay = Replay::default();
    let workspace = j.workspace_id().unwrap_or_default();
    let mut prev = GENESIS.as_bytes().to_vec();
    let mut expected_seq = 1i64;
    let mut seen_expected = false;
    let mut buf = Vec::new();
    let mut hex = [0u8; 64];
    j.walk_chain(|e| {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                r.problems.push(format!(
                    "event after seq {} cannot be read: {err}",
                    expected_seq - 1
                ));
                return false;
            }
        };
        if r.problems.len() > 50 {
            r.problems
                .push("too many problems; stopping the chain check".into());
            return false;
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
        replay.feed(j, &e);
        prev.clear();
        prev.extend_from_slice(e.hash);
        expected_seq = e.seq + 1;
        r.events += 1;
        true
    })?;
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
    let mut changes = j.changes_by_plan()?;
    j.for_each_stored_plan(|row| {
        let StoredPlan {
            id,
            status,
            canonical,
            created,
            title,
            author,
            reverses,
        } = row;
        let columns = [created, title, author];
        r.plans += 1;
        let plan = match Plan::from_canonical(&canonical) {
            Ok(p) if p.id() == id => p,
            Ok(_) => {
                r.problems.push(format!(
                    "plan {} does not hash to its id: it was altered",
                    short(&id)
                ));
                return Ok(());
            }
            Err(e) => {
                r.problems
                    .push(format!("plan {}: {}", short(&id), e.message));
                return Ok(());
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
            if matches!(
                crate::model::PlanStatus::parse(&status),
                Some(crate::model::PlanStatus::Applied | crate::model::PlanStatus::RolledBack)
            ) && let Some(h) = c.before.file_hash()
                && c.after.file_hash() != Some(h)
            {
                needed.insert(h.to_string());
            }
        }
        Ok(())
    })?;
    let mut orphans: Vec<&String> = changes.keys().collect();
    orphans.sort();
    for plan in orphans {
        r.problems.push(format!(
            "changes rows of plan {}, which has no plans row",
            short(plan)
        ));
    }
    let (stored, _) = blobs.list()?;
    let stored: BTreeSet<String> = stored.into_iter().collect();
    for h in &needed {
        if !stored.contains(h) {
            r.problems.push(format!(
                "blob {} needed by a plan or snapshot is missing",
                short(h)
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
            Ok(false) => r
                .problems
                .push(format!("blob {} vanished while being checked", short(h))),
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
    let short = short(id);
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
    if reverses.as_deref() != plan.reverses.as_deref() {
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

fn check_signatures(j: &Journal, r: &mut Report) -> Result<()> {
    for row in j.signed_approvals()? {
        let SignedRow {
            id,
            plan,
            statement,
            file,
            approval_id,
            principal,
            key,
        } = row;
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
    let referenced = j.referenced_blobs()?;
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
