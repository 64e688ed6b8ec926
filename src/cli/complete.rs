//! Dynamic completion candidates: plan ids that fit the command, newest first, each with
//! its title and status, read from the journal read-only. Any error yields nothing.

use clap_complete::CompletionCandidate;
use std::ffi::OsStr;
use std::path::Path;

const CAP: usize = 100;

fn candidates(current: &OsStr, statuses: &[&str]) -> Vec<CompletionCandidate> {
    // The prefix typed so far narrows the query itself, so a plan older than the newest
    // CAP is still found once a few digits of its id are typed.
    let Some(prefix) = current.to_str().map(str::to_ascii_lowercase) else {
        return Vec::new();
    };
    if prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Vec::new();
    }
    let Ok(cwd) = std::env::current_dir() else {
        return Vec::new();
    };
    let mut dir = Some(cwd.as_path());
    while let Some(d) = dir {
        let db = d.join(crate::workspace::STATE_DIR).join("journal.db");
        if db.is_file() {
            return query(&db, statuses, &prefix).unwrap_or_default();
        }
        dir = d.parent();
    }
    Vec::new()
}

fn query(db: &Path, statuses: &[&str], prefix: &str) -> crate::Result<Vec<CompletionCandidate>> {
    let j = crate::store::journal::Journal::open_read_only(db)?;
    let mut filter = vec!["id >= ?1 AND id < ?2".to_string()];
    if !statuses.is_empty() {
        filter.push(format!(
            "status IN ({})",
            statuses
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    let sql = format!(
        "SELECT id, title, status FROM plans WHERE {} ORDER BY seq DESC LIMIT {CAP}",
        filter.join(" AND ")
    );
    let mut stmt = j.conn.prepare(&sql)?;
    // Every id is lowercase hex, so [prefix, prefix + "g") is exactly the ids it starts.
    let rows = stmt.query_map([prefix.to_string(), format!("{prefix}g")], |r| {
        let id: String = r.get(0)?;
        let title: String = r.get(1)?;
        let status: String = r.get(2)?;
        Ok((id, title, status))
    })?;
    let mut out = Vec::new();
    for (n, row) in rows.enumerate() {
        let (id, title, status) = row?;
        let help: String = format!("{title} ({})", status.replace('_', " "))
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(80)
            .collect();
        out.push(
            CompletionCandidate::new(id.get(..12).unwrap_or(&id).to_string())
                .help(Some(help.into()))
                .display_order(Some(n)),
        );
    }
    Ok(out)
}

/// Plans awaiting a decision or a run: pending and approved.
pub fn pending_plans(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, &["pending", "approved"])
}

pub fn applied_plans(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, &["applied"])
}

pub fn all_plans(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(current, &[])
}
