//! `autonomy stats`: what the journal says about how plans fare. The figures are
//! computed by the journal (`store::journal::history`); this reads the window.

use crate::error::{Error, Result};
pub use crate::store::journal::AgentScope;
use crate::store::journal::Journal;

pub use crate::store::journal::history::{
    DirStats, ExecUse, PathHistory, Percentiles, PlanCounts, Stats, dir_at,
};

/// The figures since `since` (stored time format; `None`: the whole history), per
/// directory at `depth`.
pub fn compute(journal: &Journal, since: Option<&str>, depth: usize) -> Result<Stats> {
    journal.stats(since, depth)
}

/// [`compute`] for the plans that one coding agent's (and/or one session's) tool calls
/// made, as `agent.call` records them.
pub fn compute_for(
    journal: &Journal,
    since: Option<&str>,
    depth: usize,
    agents: &AgentScope,
) -> Result<Stats> {
    journal.stats_of(since, depth, agents)
}

/// Parse `--since`: a duration back from now (`30d`, `12h`, `2w`), a date (`2026-01-31`,
/// midnight UTC) or an RFC 3339 time. Returns the stored time format.
pub fn parse_since(raw: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String> {
    use chrono::{DateTime, NaiveDate, Utc};
    if let Ok(d) = humantime::parse_duration(raw) {
        let d = chrono::Duration::from_std(d)
            .map_err(|_| Error::usage(format!("--since {raw}: too long ago")))?;
        return Ok(crate::util::ids::format_time(now - d));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(crate::util::ids::format_time(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(crate::util::ids::format_time(t.and_utc()));
    }
    Err(
        Error::usage(format!("--since {raw:?} is neither a duration nor a date")).hint(
            "write a duration back from now (30d, 12h, 2w) or a date (2026-01-31 or RFC 3339)",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_durations_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_since("1d", now).unwrap(), "2026-03-09T12:00:00Z");
        assert_eq!(
            parse_since("2026-03-01", now).unwrap(),
            "2026-03-01T00:00:00Z"
        );
        assert!(parse_since("last tuesday", now).is_err());
    }
}
