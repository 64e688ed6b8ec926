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
    }
    Ok((hex::encode(hasher.finalize()), total))
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
