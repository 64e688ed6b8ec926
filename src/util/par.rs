//! Small parallel helpers on scoped threads: hash files on every core, and fsync many
//! files or folders at once so that the file system commits them together (one journal
//! commit for many fsyncs) instead of one after another.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Threads for CPU-bound work (hashing): the cores we may use.
pub fn cpus() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Threads for waiting on the disk (fsync): many, since they only wait, and concurrent
/// fsyncs share one file-system journal commit.
pub const IO_THREADS: usize = 16;

/// `f` over every item on up to `threads` threads (the caller's included), results in
/// input order. Runs inline for a single item or thread.
pub fn map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut out = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            out.push((i, f(item)));
        }
        out
    };
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut parts = vec![work()];
        for h in helpers {
            match h.join() {
                Ok(part) => parts.push(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        for (i, r) in parts.into_iter().flatten() {
            slots[i] = Some(r);
        }
    });
    slots.into_iter().flatten().collect()
}

/// Like [`map`] for fallible work: the first error in input order, else `Ok`.
pub fn try_each<T: Sync, E: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<(), E> + Sync,
) -> Result<(), E> {
    map(items, threads, f).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_order_and_covers_every_item() {
        let items: Vec<u32> = (0..1000).collect();
        let out = map(&items, 4, |x| x * 2);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert_eq!(map(&[] as &[u32], 4, |x| *x), Vec::<u32>::new());
    }

    #[test]
    fn try_each_reports_the_first_error_in_order() {
        let items: Vec<u32> = (0..100).collect();
        let r = try_each(&items, 3, |x| if *x % 30 == 29 { Err(*x) } else { Ok(()) });
        assert_eq!(r, Err(29));
    }
}
