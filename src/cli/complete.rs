//! Dynamic completion candidates: plan ids that fit the command, newest first, each with
//! its title and status, read from the journal read-only. Any error yields nothing.

use clap_complete::CompletionCandidate;

const CAP: usize = 100;

fn candidates(statuses: &[&str]) -> Vec<CompletionCandidate> {
    let Ok(cwd) = std::env::current_dir() else {
        return Vec::new();
    };
    let mut dir = Some(cwd.as_path());
    while let Some(d) = dir {
        let db = d.join(crate::workspace::STATE_DIR).join("journal.db");
        if db.is_file() {
            return query(&db, statuses).unwrap_or_default();
        }
        dir = d.parent();
    }
    Vec::new()
}

fn query(db: &std::path::Path, statuses: &[&str]) -> crate::Result<Vec<CompletionCandidate>> {
    let j = crate::store::journal::Journal::open_read_only(db)?;
    let filter = if statuses.is_empty() {
        String::new()
    } else {
        format!(
            "WHERE status IN ({})",
            statuses
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let sql = format!("SELECT id, title, status FROM plans {filter} ORDER BY seq DESC LIMIT {CAP}");
    let mut stmt = j.conn.prepare(&sql)?;
    let rows = stmt.query_map([], |r| {
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
pub fn pending_plans() -> Vec<CompletionCandidate> {
    candidates(&["pending", "approved"])
}

pub fn applied_plans() -> Vec<CompletionCandidate> {
    candidates(&["applied"])
}

pub fn all_plans() -> Vec<CompletionCandidate> {
    candidates(&[])
}
