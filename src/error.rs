//! The library's one error type. Each error knows its kind, and each kind maps to one of
//! the exit codes the design promises; a hint says what to do next.

use std::fmt;

/// What sort of failure this is; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// I/O, failed run, bad plan file, a path the rules deny (exit 1).
    Failed,
    /// Bad command-line usage (exit 2).
    Usage,
    /// Missing, declined, invalid, expired or insufficient approval (exit 3).
    NotApproved,
    /// The workspace differs from what the plan expects (exit 4).
    Stale,
    /// The workspace lock is held by another process (exit 5).
    Busy,
    /// An interrupted run must be recovered first (exit 6).
    Interrupted,
    /// The journal or the blob store failed an integrity check (exit 7).
    Integrity,
}

impl Kind {
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Failed => 1,
            Kind::Usage => 2,
            Kind::NotApproved => 3,
            Kind::Stale => 4,
            Kind::Busy => 5,
            Kind::Interrupted => 6,
            Kind::Integrity => 7,
        }
    }
}

/// An error with a kind, a message naming what is at fault, and an optional next step.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(Kind::Failed, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(Kind::Integrity, message)
    }
    pub fn not_approved(message: impl Into<String>) -> Self {
        Self::new(Kind::NotApproved, message)
    }
    pub fn stale(message: impl Into<String>) -> Self {
        Self::new(Kind::Stale, message)
    }
    /// Attach the next step the user should take.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// An I/O error on a named thing ("reading plan file x.toml").
    pub fn io(action: impl fmt::Display, err: std::io::Error) -> Self {
        let kind = if is_disk_full(&err) {
            return Error::failed(format!("{action}: the disk is full ({err})"))
                .hint("free some space, then run the command again");
        } else {
            Kind::Failed
        };
        Error::new(kind, format!("{action}: {err}"))
    }
}

/// Shorten each line of `text` to at most `max` characters. Parsers quote the offending
/// input in their errors, and hostile input can be one line of many megabytes.
pub fn clip_lines(text: &str, max: usize) -> String {
    text.split('\n')
        .map(|line| match line.char_indices().nth(max) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// ENOSPC and EDQUOT both mean "no room left" to a user.
pub fn is_disk_full(err: &std::io::Error) -> bool {
    matches!(err.raw_os_error(), Some(28) | Some(122))
        || err.kind() == std::io::ErrorKind::StorageFull
        || err.kind() == std::io::ErrorKind::QuotaExceeded
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        // SQLite reports a full disk as SQLITE_FULL, or, when growing the WAL index or a
        // file fails, as a generic SQLITE_IOERR whose cause is only in errno (ENOSPC).
        let disk_full = matches!(
            &err,
            rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DiskFull
                || (e.code == rusqlite::ErrorCode::SystemIoFailure
                    && is_disk_full(&std::io::Error::last_os_error()))
        );
        if disk_full {
            return Error::failed(format!(
                "journal .autonomy/journal.db: the disk is full ({err})"
            ))
            .hint("free some space, then run the command again");
        }
        let corrupt = matches!(
            &err,
            rusqlite::Error::SqliteFailure(e, _)
                if matches!(e.code, rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        );
        if corrupt {
            return Error::integrity(format!("journal .autonomy/journal.db is damaged: {err}"))
                .hint("run `autonomy verify` for details; restore .autonomy/ from a backup");
        }
        Error::failed(format!("journal .autonomy/journal.db: {err}"))
    }
}
