//! Time stamps and random identifiers. In a build with the `test-hooks` feature (which
//! `failpoints` turns on) `AUTONOMY_NOW` pins the stamps (see `util::clock`) and
//! `AUTONOMY_TEST_SEED` makes ids deterministic, so end-to-end snapshots are stable; a
//! release build has no code that reads either variable.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// The time to stamp on a record: the process clock's `now` (pinned only by the test
/// hook). Expiry and validity windows use `Clock::deadline_now` instead.
pub fn now() -> DateTime<Utc> {
    crate::util::clock::Clock::from_env().now()
}

/// RFC 3339 in UTC with whole seconds and a `Z`, the one time format we store.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn now_string() -> String {
    format_time(now())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

#[cfg(feature = "test-hooks")]
fn test_seed() -> Option<String> {
    std::env::var("AUTONOMY_TEST_SEED").ok()
}

/// Without the `test-hooks` feature the seed hook does not exist: ids are always random.
#[cfg(not(feature = "test-hooks"))]
fn test_seed() -> Option<String> {
    None
}

/// `bytes` random bytes as lowercase hex (deterministic under `AUTONOMY_TEST_SEED` in a
/// `test-hooks` build).
pub fn random_hex(bytes: usize) -> String {
    if let Some(seed) = test_seed() {
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
