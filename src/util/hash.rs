//! SHA-256 helpers: hex digests of bytes and of streams, hashed while reading.

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The copy buffer size: large reads for large files.
const BUF: usize = 256 * 1024;

thread_local! {
    /// One copy buffer per thread, reused: allocating (and zeroing, and faulting in) 256 KiB
    /// for every small file cost more than reading it.
    static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hash everything `reader` yields, copying it into `sink` on the way.
pub fn copy_hashing(reader: impl Read, sink: impl Write) -> io::Result<(String, u64)> {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < BUF {
                buf.resize(BUF, 0);
            }
            copy_hashing_with(reader, sink, &mut buf)
        }
        // Re-entered (a reader that itself hashes): use a buffer of its own.
        Err(_) => copy_hashing_with(reader, sink, &mut vec![0u8; BUF]),
    })
}

fn copy_hashing_with(
    mut reader: impl Read,
    mut sink: impl Write,
    buf: &mut [u8],
) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n])?;
        total += n as u64;
        if total >= PIPELINE_AFTER && crate::util::par::cpus() > 1 {
            return pipelined(reader, sink, hasher, total);
        }
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Past this many bytes a stream is hashed on a second core while it is read and written.
const PIPELINE_AFTER: u64 = 8 << 20;
/// Chunks handed to the hashing thread.
const CHUNK: usize = 1 << 20;

/// The rest of a large copy, hashing on another thread: SHA-256 (about 1.5 GB/s) is slower
/// than reading and writing through the page cache, so those now overlap with it.
fn pipelined(
    mut reader: impl Read,
    mut sink: impl Write,
    hasher: Sha256,
    mut total: u64,
) -> io::Result<(String, u64)> {
    use std::sync::mpsc::sync_channel;
    let (to_hash, full) = sync_channel::<Vec<u8>>(2);
    let (to_fill, empty) = sync_channel::<Vec<u8>>(4);
    std::thread::scope(|s| {
        let worker = s.spawn(move || {
            let mut hasher = hasher;
            for chunk in full {
                hasher.update(&chunk);
                // The reader may have finished; a closed channel just drops the buffer.
                let _ = to_fill.send(chunk);
            }
            hasher
        });
        let res = (|| -> io::Result<()> {
            let mut spare = vec![vec![0u8; CHUNK]; 3];
            loop {
                let mut chunk = match spare.pop() {
                    Some(c) => c,
                    None => empty.recv().unwrap_or_else(|_| vec![0u8; CHUNK]),
                };
                chunk.resize(CHUNK, 0);
                let mut n = 0;
                while n < CHUNK {
                    match reader.read(&mut chunk[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                if n == 0 {
                    return Ok(());
                }
                chunk.truncate(n);
                sink.write_all(&chunk)?;
                total += n as u64;
                if to_hash.send(chunk).is_err() {
                    return Err(io::Error::other("the hashing thread stopped"));
                }
            }
        })();
        drop(to_hash);
        let hasher = match worker.join() {
            Ok(h) => h,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        res.map(|()| (hex::encode(hasher.finalize()), total))
    })
}

pub fn hash_reader(reader: impl Read) -> io::Result<(String, u64)> {
    copy_hashing(reader, io::sink())
}

/// A 64-digit lowercase hex string, as every hash we store must be.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_copies_hash_and_copy_exactly_like_small_ones() {
        let mut data = Vec::new();
        for i in 0u32..(5 << 20) {
            data.extend_from_slice(&i.to_le_bytes()[..3]);
        }
        // A reader that returns odd-sized pieces.
        struct Odd<'a>(&'a [u8], usize);
        impl Read for Odd<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.1 += 1;
                let n = buf
                    .len()
                    .min(self.0.len())
                    .min(1 + (self.1 * 7919) % 300_000);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        let (hash, n) = copy_hashing(Odd(&data, 0), &mut out).expect("copy");
        assert_eq!(n, data.len() as u64);
        assert!(out == data);
        assert_eq!(hash, sha256_hex(&data));
    }
}
