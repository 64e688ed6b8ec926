//! The workspace-wide writer lock: an flock on `.autonomy/lock`, with the holder's pid
//! and command written inside so that a busy error can name who holds it.

use crate::error::{Error, Kind, Result};
use rustix::fs::{FlockOperation, flock};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Held until dropped (the kernel releases an flock when its process dies, too).
pub struct Lock {
    _file: File,
}

/// Take the lock, failing at once (exit 5) or after waiting up to `wait`.
pub fn acquire(state_dir: &Path, command: &str, wait: Option<Duration>) -> Result<Lock> {
    let path = state_dir.join("lock");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io("opening .autonomy/lock", e))?;
    // `status` and other readers probe the lock with a brief shared flock; a writer that
    // meets such a probe must not report "busy". A short grace covers it; a real holder
    // (a run) holds the lock far longer.
    const PROBE_GRACE: Duration = Duration::from_millis(250);
    let deadline = Some(Instant::now() + wait.unwrap_or(Duration::ZERO).max(PROBE_GRACE));
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(rustix::io::Errno::WOULDBLOCK) => {
                if let Some(d) = deadline
                    && Instant::now() < d
                {
                    std::thread::sleep(Duration::from_millis(25));
                    continue;
                }
                let holder = read_holder(&mut file);
                // After a --wait, repeating "pass --wait" would not help: say how long we
                // waited and suggest a longer wait instead.
                let hint = match wait {
                    Some(w) if !w.is_zero() => format!(
                        "waited {}s for it; wait for it to finish, or pass a longer --wait",
                        w.as_secs()
                    ),
                    _ => "wait for it to finish, or pass --wait SECS to wait for the lock".into(),
                };
                return Err(Error::new(
                    Kind::Busy,
                    format!("the workspace is busy: {holder} holds .autonomy/lock"),
                )
                .hint(hint));
            }
            Err(e) => return Err(Error::io("locking .autonomy/lock", e.into())),
        }
    }
    let info = format!("pid {} ({})\n", std::process::id(), command);
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(info.as_bytes());
    Ok(Lock { _file: file })
}

/// Who holds the lock now, or `None` when it is free.
pub fn holder(state_dir: &Path) -> Option<String> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(state_dir.join("lock"))
        .ok()?;
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = flock(&file, FlockOperation::Unlock);
            None
        }
        Err(_) => Some(read_holder(&mut file)),
    }
}

fn read_holder(file: &mut File) -> String {
    let mut s = String::new();
    let _ = file.rewind();
    let _ = file.take(256).read_to_string(&mut s);
    let s = s.trim();
    if s.is_empty() {
        "another process".to_string()
    } else {
        s.to_string()
    }
}
