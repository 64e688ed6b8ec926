//! SHA-256 helpers: hex digests of bytes and of streams, hashed while reading.

use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hash everything `reader` yields, copying it into `sink` on the way.
pub fn copy_hashing(mut reader: impl Read, mut sink: impl Write) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
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
