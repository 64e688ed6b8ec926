//! The hash cache, `.autonomy/hashes`: like git's index, the content hash of workspace
//! files together with the stat signature each had when it was hashed, so that a file
//! whose signature is unchanged need not be read again.
//!
//! An entry is only ever made for a file whose ctime was, by a safe margin, older than the
//! moment its hashing began. Every change to a file's content sets its ctime to the time of
//! the change (no system call sets it back), so any change after that moment gives a
//! signature that differs from the entry, and the file is hashed again. A file changed in
//! the same clock tick as it was hashed (git's "racy" case) is simply never entered.
//! `docs/performance.md` lists what a stat signature cannot see.
//!
//! The cache is an optimisation only: it is written without fsync by a rename, a lost or
//! unreadable cache just means hashing again, and a stale entry never matches.

use crate::model::State;
use crate::paths::RelPath;
use std::collections::HashMap;
use std::io;
use std::path::Path;

const HEADER: &str = "autonomy-hashes-v1\n";
/// Entries kept at most (about 150 bytes each).
const MAX_ENTRIES: usize = 100_000;

/// What a stat check compares: device, inode, type and permission bits, size, and mtime
/// and ctime to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatSig {
    dev: u64,
    ino: u64,
    mode: u32,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl StatSig {
    pub fn of(st: &rustix::fs::Stat) -> StatSig {
        StatSig {
            dev: st.st_dev,
            ino: st.st_ino,
            mode: st.st_mode,
            size: st.st_size,
            mtime: (st.st_mtime, st.st_mtime_nsec as i64),
            ctime: (st.st_ctime, st.st_ctime_nsec as i64),
        }
    }

    /// Whether the last change to the file certainly happened before `started` (a reading
    /// of [`coarse_now`]), also on file systems that keep coarse timestamps: a ctime
    /// showing no sub-millisecond digits may have been rounded down by up to 2 s (FAT), so
    /// it must be that much older; otherwise (1 ns to 100 µs granularity) 1 ms will do.
    pub fn changed_before(&self, started: (i64, i64)) -> bool {
        let (sec, nsec) = self.ctime;
        let margin_ns: i128 = if nsec % 1_000_000 == 0 {
            2_000_000_000
        } else {
            1_000_000
        };
        let at = sec as i128 * 1_000_000_000 + nsec as i128;
        let now = started.0 as i128 * 1_000_000_000 + started.1 as i128;
        at + margin_ns <= now
    }
}

/// The coarse real-time clock: the one the kernel stamps inode times from (a fine-grained
/// stamp is never earlier than it).
pub fn coarse_now() -> (i64, i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    let ret = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
    if ret != 0 {
        // No usable clock: claim "now" is long ago, so that nothing is ever entered.
        return (i64::MIN / 2_000_000_000, 0);
    }
    (ts.tv_sec, ts.tv_nsec)
}

/// The cache in memory: loaded on first use, saved when changed.
#[derive(Default)]
pub struct HashCache {
    entries: HashMap<RelPath, (StatSig, State)>,
    loaded: bool,
    dirty: bool,
}

impl HashCache {
    /// The entry for `rel`, loading `.autonomy/hashes` from `state_dir` the first time.
    pub fn get(&mut self, state_dir: &Path, rel: &RelPath) -> Option<(StatSig, State)> {
        if !self.loaded {
            self.loaded = true;
            if let Ok(text) = std::fs::read(state_dir.join("hashes")) {
                self.parse(&text);
            }
        }
        self.entries.get(rel).cloned()
    }

    pub fn insert(&mut self, rel: &RelPath, sig: StatSig, state: State) {
        if self
            .entries
            .get(rel)
            .is_none_or(|(s, st)| *s != sig || *st != state)
        {
            self.entries.insert(rel.clone(), (sig, state));
            self.dirty = true;
        }
    }

    pub fn remove(&mut self, rel: &RelPath) {
        if self.entries.remove(rel).is_some() {
            self.dirty = true;
        }
    }

    /// Write the cache back when it changed (merged over what is on disk now, so that
    /// another process's entries are kept where this one has none).
    pub fn save(&mut self, state_dir: &Path) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let path = state_dir.join("hashes");
        let mut on_disk = HashCache::default();
        if let Ok(text) = std::fs::read(&path) {
            on_disk.parse(&text);
        }
        for (rel, entry) in on_disk.entries {
            self.entries.entry(rel).or_insert(entry);
        }
        let mut out = String::from(HEADER);
        for (rel, (sig, state)) in self.entries.iter().take(MAX_ENTRIES) {
            let State::File { sha256, mode } = state else {
                continue;
            };
            out.push_str(&format!(
                "{sha256} {mode:o} {} {} {:o} {} {} {} {} {} {}\0",
                sig.dev,
                sig.ino,
                sig.mode,
                sig.size,
                sig.mtime.0,
                sig.mtime.1,
                sig.ctime.0,
                sig.ctime.1,
                rel.as_str()
            ));
        }
        let tmp = state_dir.join(format!("hashes.tmp-{}", crate::util::ids::random_hex(6)));
        let res = std::fs::write(&tmp, out).and_then(|()| std::fs::rename(&tmp, &path));
        if res.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        self.dirty = false;
        res
    }

    /// Read entries; anything malformed is skipped (the cache is only a hint).
    fn parse(&mut self, bytes: &[u8]) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return;
        };
        let Some(body) = text.strip_prefix(HEADER) else {
            return;
        };
        for record in body.split('\0').filter(|r| !r.is_empty()) {
            if let Some((rel, sig, state)) = parse_record(record) {
                self.entries.entry(rel).or_insert((sig, state));
            }
        }
    }
}

fn parse_record(record: &str) -> Option<(RelPath, StatSig, State)> {
    let f: Vec<&str> = record.splitn(11, ' ').collect();
    let [
        sha256,
        mode,
        dev,
        ino,
        st_mode,
        size,
        ms,
        mns,
        cs,
        cns,
        path,
    ] = f.as_slice()
    else {
        return None;
    };
    if !crate::util::hash::is_sha256_hex(sha256) {
        return None;
    }
    let rel = RelPath::parse(path).ok()?;
    if rel.as_str() != *path {
        return None;
    }
    let sig = StatSig {
        dev: dev.parse().ok()?,
        ino: ino.parse().ok()?,
        mode: u32::from_str_radix(st_mode, 8).ok()?,
        size: size.parse().ok()?,
        mtime: (ms.parse().ok()?, mns.parse().ok()?),
        ctime: (cs.parse().ok()?, cns.parse().ok()?),
    };
    let mode = u32::from_str_radix(mode, 8).ok().filter(|m| *m <= 0o7777)?;
    Some((
        rel,
        sig,
        State::File {
            sha256: sha256.to_string(),
            mode,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(ctime: (i64, i64)) -> StatSig {
        StatSig {
            dev: 1,
            ino: 2,
            mode: 0o100644,
            size: 3,
            mtime: ctime,
            ctime,
        }
    }

    #[test]
    fn only_changes_older_than_the_margin_count_as_before() {
        let now = (100, 500_000_000);
        assert!(sig((100, 498_000_001)).changed_before(now));
        assert!(!sig((100, 499_500_001)).changed_before(now));
        // Whole-second (or millisecond) stamps may be rounded down by up to 2 s.
        assert!(!sig((99, 0)).changed_before(now));
        assert!(!sig((100, 0)).changed_before(now));
        assert!(sig((98, 0)).changed_before(now));
        assert!(!sig((99, 1_000_000)).changed_before(now));
    }

    #[test]
    fn saved_entries_load_back_and_junk_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut c = HashCache::default();
        let rel = RelPath::parse("a dir/file name.txt").expect("path");
        let state = State::File {
            sha256: "ab".repeat(32),
            mode: 0o755,
        };
        c.get(dir.path(), &rel);
        c.insert(&rel, sig((5, 6)), state.clone());
        c.save(dir.path()).expect("save");
        let mut text = std::fs::read(dir.path().join("hashes")).expect("read");
        text.extend_from_slice(b"junk record\0../escape 1 2\0");
        std::fs::write(dir.path().join("hashes"), text).expect("write");
        let mut again = HashCache::default();
        assert_eq!(again.get(dir.path(), &rel), Some((sig((5, 6)), state)));
        assert_eq!(again.entries.len(), 1);
    }
}
