//! Clock and random identifiers, with the test hooks that pin them: `AUTONOMY_NOW`
//! (an RFC 3339 time) fixes the clock and `AUTONOMY_TEST_SEED` makes ids deterministic,
//! so end-to-end snapshots are stable.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// The current time, or the pinned one.
pub fn now() -> DateTime<Utc> {
    if let Ok(pinned) = std::env::var("AUTONOMY_NOW")
        && let Ok(t) = DateTime::parse_from_rfc3339(&pinned)
    {
        return t.with_timezone(&Utc);
    }
    Utc::now()
}

/// RFC 3339 in UTC with whole seconds and a `Z`, the one time format we store.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn now_string() -> String {
    format_time(now())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `bytes` random bytes as lowercase hex (deterministic under `AUTONOMY_TEST_SEED`).
pub fn random_hex(bytes: usize) -> String {
    if let Ok(seed) = std::env::var("AUTONOMY_TEST_SEED") {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let digest = Sha256::digest(format!("{seed}:{n}").as_bytes());
        return hex::encode(&digest[..bytes.min(32)]);
    }
    let mut buf = vec![0u8; bytes];
    if getrandom::fill(&mut buf).is_err() {
        // The OS random source failing is not something a user can fix; fall back to a
        // hash of time and pid so ids stay unique rather than aborting.
        let fallback = format!("{:?}:{}", std::time::SystemTime::now(), std::process::id());
        let digest = Sha256::digest(fallback.as_bytes());
        return hex::encode(&digest[..bytes.min(32)]);
    }
    hex::encode(buf)
}
