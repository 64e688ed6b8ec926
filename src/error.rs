//! The library's one error type. Each error knows its kind, and each kind maps to one of
//! the exit codes the design promises; a hint says what to do next. An error can carry the
//! error that caused it (`std::error::Error::source`), and `context` wraps an error in a
//! sentence saying what was being done, so callers add context without editing messages;
//! `main` prints the chain as a cause list (`error: ...`, `  caused by: ...`, hint last).

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

/// The cause of an error: another of ours, or any error from below (I/O, SQLite, ...).
type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error with a kind, a message naming what is at fault, the error that caused it (if
/// any) and an optional next step.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    /// What went wrong, without the causes (those are `source`'s).
    pub message: String,
    pub hint: Option<String>,
    source: Option<Source>,
    /// Set when this is an I/O error of that kind (a closed pipe ends the program quietly).
    io_kind: Option<std::io::ErrorKind>,
    /// What the error is about (`Error::about`), outermost first.
    labels: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hint: None,
            source: None,
            io_kind: None,
            labels: Vec::new(),
        }
    }
    /// Whether this is a write to a closed pipe (`autonomy log | head`): not a failure of
    /// ours, so `main` ends quietly with exit 0, as ripgrep does.
    pub fn is_closed_pipe(&self) -> bool {
        self.io_kind == Some(std::io::ErrorKind::BrokenPipe)
    }
    /// Record what caused this error (printed as `caused by:` under it).
    pub fn caused_by(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }
    /// Wrap this error in `context` (what was being done). The kind, and so the exit code,
    /// stays the inner one, and so does the hint: the next step belongs to the cause.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        let hint = self.hint.take();
        Error {
            kind: self.kind,
            message: context.to_string(),
            hint,
            io_kind: self.io_kind,
            source: Some(Box::new(self)),
            labels: Vec::new(),
        }
    }
    /// Name what the error is about (an action of a plan file, an exec step, a plan file) in
    /// front of its message, on the same line: `action 2 (edit a.txt): cannot edit a.txt:
    /// ...`. Unlike `context`, which adds a `caused by:` line, a label is part of the one
    /// line every front door shows (stderr, a JSON `error`, a spool refusal). Labels nest,
    /// outermost first, and are kept apart in [`Error::labels`], so that no caller reads
    /// them back out of the text.
    pub fn about(mut self, label: impl fmt::Display) -> Self {
        let label = label.to_string();
        self.message = format!("{label}: {}", self.message);
        self.labels.insert(0, label);
        self
    }
    /// The labels `about` put in front of the message, outermost first.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }
    /// The messages of this error and every cause, outermost first.
    pub fn chain(&self) -> impl Iterator<Item = String> + '_ {
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(self);
        std::iter::from_fn(move || {
            let e = next?;
            next = e.source();
            Some(match e.downcast_ref::<Error>() {
                Some(ours) => ours.message.clone(),
                None => e.to_string(),
            })
        })
    }
    /// The whole chain on one line (`outer: cause: root cause`), for the journal and for
    /// places that show one line.
    pub fn full_message(&self) -> String {
        self.chain().collect::<Vec<_>>().join(": ")
    }
    /// A copy of this error (its causes as text), for an error kept and reported twice.
    pub fn duplicate(&self) -> Error {
        let mut copy = Error::new(self.kind, self.message.clone());
        copy.hint = self.hint.clone();
        copy.io_kind = self.io_kind;
        copy.labels = self.labels.clone();
        let causes: Vec<String> = self.chain().skip(1).collect();
        let mut source: Option<Source> = None;
        for cause in causes.into_iter().rev() {
            let mut e = Error::new(self.kind, cause);
            e.source = source.take();
            source = Some(Box::new(e));
        }
        copy.source = source;
        copy
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
        let mut e = if is_disk_full(&err) {
            Error::failed(format!("{action}: the disk is full ({err})"))
                .hint("free some space, then run the command again")
        } else {
            Error::failed(format!("{action}: {err}"))
        };
        e.io_kind = Some(err.kind());
        e
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

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// `.context("...")` and `.with_context(|| ...)` on results whose error converts into ours.
pub trait Context<T> {
    /// Wrap the error in `context`: what was being done.
    fn context(self, context: impl fmt::Display) -> Result<T>;
    /// Like `context`, with the sentence built only on failure.
    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }
    fn with_context<C: fmt::Display>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(context()))
    }
}

/// An I/O error with no sentence of ours yet: its text, exit 1 (disk full gets its hint).
/// Add what was being done with `.context(...)`.
impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        let disk_full = is_disk_full(&err);
        let mut e = Error::failed(err.to_string());
        e.io_kind = Some(err.kind());
        if disk_full {
            e.hint("free some space, then run the command again")
        } else {
            e
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind_and_hint_and_chains_the_cause() {
        let inner = Error::stale("a.txt changed").hint("make a new plan");
        let e = inner.context("applying plan 0123abcd");
        assert_eq!(e.kind, Kind::Stale);
        assert_eq!(e.message, "applying plan 0123abcd");
        assert_eq!(e.hint.as_deref(), Some("make a new plan"));
        let chain: Vec<String> = e.chain().collect();
        assert_eq!(chain, ["applying plan 0123abcd", "a.txt changed"]);
        assert_eq!(e.full_message(), "applying plan 0123abcd: a.txt changed");
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.to_string(), "a.txt changed");
    }

    #[test]
    fn labels_join_the_message_and_nest_outermost_first() {
        let e = Error::stale("action d is a directory")
            .hint("delete it first")
            .about("action 1 (write action d)")
            .about("plan file p.toml");
        assert_eq!(
            e.message,
            "plan file p.toml: action 1 (write action d): action d is a directory"
        );
        assert_eq!(
            e.labels(),
            ["plan file p.toml", "action 1 (write action d)"]
        );
        assert_eq!(e.kind, Kind::Stale);
        assert_eq!(e.hint.as_deref(), Some("delete it first"));
        assert_eq!(e.chain().count(), 1);
        assert_eq!(e.duplicate().labels(), e.labels());
    }

    #[test]
    fn io_errors_take_context_through_the_trait() {
        let r: std::result::Result<(), std::io::Error> = Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        let e = r.with_context(|| "reading x.toml").unwrap_err();
        assert_eq!(e.kind, Kind::Failed);
        assert_eq!(e.full_message(), "reading x.toml: no such file");
        let copy = e.duplicate();
        assert_eq!(copy.full_message(), e.full_message());
    }
}
