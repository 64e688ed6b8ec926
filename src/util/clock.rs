//! The one time source. Records are stamped with `Clock::now`; whether an approval has
//! expired or a key is inside its validity window is decided by `Clock::deadline_now`,
//! which is always the real time. The test hook `AUTONOMY_NOW` (an RFC 3339 time, for
//! stable end-to-end snapshots) exists only in a build with the `test-hooks` feature
//! (`failpoints` turns it on); a release build has no code that reads it.

use chrono::{DateTime, Utc};

/// The time source of a process: the real clock, or (test builds only) a pinned time for
/// the stamps on what it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pinned: Option<DateTime<Utc>>,
}

impl Clock {
    /// The real clock, whatever the environment says.
    pub fn system() -> Clock {
        Clock { pinned: None }
    }

    /// The process's clock: the real one, or in a `test-hooks` build the time in
    /// `AUTONOMY_NOW` when it is set and parses.
    pub fn from_env() -> Clock {
        Clock {
            pinned: pinned_by_test_hook(),
        }
    }

    /// The time to stamp on records (events, plans, approval statements).
    pub fn now(&self) -> DateTime<Utc> {
        self.pinned.unwrap_or_else(Utc::now)
    }

    /// The time that decides expiry and validity windows: always the real time, so that no
    /// variable (test hook or not) can make an expired approval count.
    pub fn deadline_now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// Whether the stamps are pinned (only ever true in a `test-hooks` build).
    pub fn is_pinned(&self) -> bool {
        self.pinned.is_some()
    }
}

#[cfg(feature = "test-hooks")]
fn pinned_by_test_hook() -> Option<DateTime<Utc>> {
    let pinned = std::env::var("AUTONOMY_NOW").ok()?;
    DateTime::parse_from_rfc3339(&pinned)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(not(feature = "test-hooks"))]
fn pinned_by_test_hook() -> Option<DateTime<Utc>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the feature, AUTONOMY_NOW is not read at all: the hook is compiled out.
    #[test]
    #[cfg(not(feature = "test-hooks"))]
    fn autonomy_now_is_ignored_without_the_test_hooks_feature() {
        // SAFETY: this test binary sets no other variable and reads this one only here.
        unsafe { std::env::set_var("AUTONOMY_NOW", "2019-01-01T00:00:00Z") };
        let clock = Clock::from_env();
        assert!(!clock.is_pinned());
        assert!(clock.now().timestamp() > 1_700_000_000, "{}", clock.now());
    }

    #[test]
    #[cfg(feature = "test-hooks")]
    fn autonomy_now_pins_the_stamps_but_never_the_deadlines() {
        // SAFETY: as above.
        unsafe { std::env::set_var("AUTONOMY_NOW", "2019-01-01T00:00:00Z") };
        let clock = Clock::from_env();
        assert!(clock.is_pinned());
        assert_eq!(clock.now().timestamp(), 1_546_300_800);
        assert!(clock.deadline_now().timestamp() > 1_700_000_000);
    }

    #[test]
    fn the_system_clock_is_never_pinned() {
        assert!(!Clock::system().is_pinned());
        assert!(Clock::system().deadline_now() <= Utc::now());
    }
}
