//! Dynamic completion candidates: plan ids that fit the command, newest first, each with
//! its title and status, read from the journal read-only. Any error yields nothing.

use clap_complete::CompletionCandidate;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

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
    let Some(start) = start_dir() else {
        return Vec::new();
    };
    // Only a workspace the user may use (another user's journal is not even read).
    let Ok(root) = crate::workspace::find_root(&start) else {
        return Vec::new();
    };
    let db = root.join(crate::workspace::STATE_DIR).join("journal.db");
    query(&db, statuses, &prefix).unwrap_or_default()
}

/// Where the command being completed will run: the current directory, or the `-C DIR` on
/// the command line being completed (the shell passes its words after `--`).
fn start_dir() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    Some(match dash_c(&args) {
        // The shell passes the word as typed, before tilde expansion.
        Some(d) => match (d.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
            _ => cwd.join(d),
        },
        None => cwd,
    })
}

/// The last `-C DIR` (or `-CDIR`) among the words after `--`, ignoring the word being
/// completed (the last one).
fn dash_c(args: &[String]) -> Option<&str> {
    let escape = args.iter().position(|a| a == "--")?;
    let words = args.get(escape + 1..)?;
    let words = &words[..words.len().saturating_sub(1)];
    let mut found = None;
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if w == "--" {
            break;
        }
        if w == "-C" {
            if let Some(next) = words.get(i + 1) {
                found = Some(next.as_str());
            }
            i += 2;
            continue;
        }
        if let Some(d) = w.strip_prefix("-C")
            && !d.is_empty()
        {
            found = Some(d);
        }
        i += 1;
    }
    found
}

fn query(db: &Path, statuses: &[&str], prefix: &str) -> crate::Result<Vec<CompletionCandidate>> {
    let j = crate::store::journal::Journal::open_read_only(db)?;
    // Every id is lowercase hex, so [prefix, prefix + "g") is exactly the ids it starts.
    // Without a prefix, leave ids out so the query walks the seq index instead.
    let (mut filter, bounds) = if prefix.is_empty() {
        (vec!["1 = 1".to_string()], vec![])
    } else {
        (
            vec!["id >= ?1 AND id < ?2".to_string()],
            vec![prefix.to_string(), format!("{prefix}g")],
        )
    };
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
    let rows = stmt.query_map(rusqlite::params_from_iter(bounds), |r| {
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

#[cfg(test)]
mod tests {
    use super::dash_c;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn dash_c_is_read_from_the_words_being_completed() {
        assert_eq!(
            dash_c(&words("autonomy -- autonomy -C ws preview ")),
            Some("ws")
        );
        assert_eq!(
            dash_c(&words("autonomy -- autonomy -Cws preview 3f")),
            Some("ws")
        );
        assert_eq!(dash_c(&words("autonomy -- autonomy preview ")), None);
        // The word being completed is not a finished -C value.
        assert_eq!(dash_c(&words("autonomy -- autonomy -C")), None);
        assert_eq!(dash_c(&words("autonomy -C x")), None);
    }
}
