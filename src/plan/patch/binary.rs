//! Payload decoding for `GIT binary patch`: git's base85 lines, zlib data and git's delta format.
//!
//! Git's base85 alphabet and line format (a length character, then groups of five
//! characters) differ from Ascii85 and Z85, and no crate implements git's variant, so the
//! few lines needed are written here.

use flate2::{Decompress, FlushDecompress, Status};

/// Git's base85 alphabet (`base85.c`).
const ALPHABET: &[u8; 85] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";

fn digit(c: u8) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&a| a == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// Decodes one data line of a binary patch (without its newline) and appends the bytes.
pub(super) fn decode_line(line: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let Some((&len_char, data)) = line.split_first() else {
        return Err("empty line inside binary data".to_owned());
    };
    let len = match len_char {
        b'A'..=b'Z' => usize::from(len_char - b'A') + 1,
        b'a'..=b'z' => usize::from(len_char - b'a') + 27,
        _ => {
            return Err(format!(
                "binary data line starts with {:?} instead of a length character (A-Z, a-z)",
                char::from(len_char)
            ));
        }
    };
    let groups = len.div_ceil(4);
    if data.len() != groups * 5 {
        return Err(format!(
            "binary data line holds {} base85 characters, but its length character needs {}",
            data.len(),
            groups * 5
        ));
    }
    let mut decoded = Vec::with_capacity(groups * 4);
    for group in data.chunks_exact(5) {
        let mut acc: u32 = 0;
        for &c in group {
            let d = digit(c).ok_or_else(|| {
                format!(
                    "binary data contains {:?}, which is not a base85 character",
                    char::from(c)
                )
            })?;
            acc = acc
                .checked_mul(85)
                .and_then(|a| a.checked_add(d))
                .ok_or("binary data contains a base85 group larger than 32 bits")?;
        }
        decoded.extend_from_slice(&acc.to_be_bytes());
    }
    decoded.truncate(len);
    out.extend_from_slice(&decoded);
    Ok(())
}

/// Inflates zlib `data`, which must decompress to exactly `expected` bytes.
pub(super) fn inflate(data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    const STEP: usize = 64 * 1024;
    let mut z = Decompress::new(true);
    let mut out: Vec<u8> = Vec::new();
    loop {
        let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or_default();
        // Room for one byte more than expected, so that too much data is noticed.
        let room = expected
            .saturating_add(1)
            .saturating_sub(out.len())
            .clamp(1, STEP);
        out.reserve_exact(room);
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|e| format!("the compressed binary data is corrupt ({e})"))?;
        if out.len() > expected {
            return Err(format!(
                "the binary data inflates to more than the {expected} bytes its header declares"
            ));
        }
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                if z.total_in() == in_before && z.total_out() == out_before {
                    return Err("the compressed binary data is truncated".to_owned());
                }
            }
        }
    }
    if usize::try_from(z.total_in()).ok() != Some(data.len()) {
        return Err("the binary data has bytes after the end of its compressed stream".to_owned());
    }
    if out.len() != expected {
        return Err(format!(
            "the binary data inflates to {} bytes, but its header declares {expected}",
            out.len()
        ));
    }
    Ok(out)
}

/// Reads one size of a delta header: little-endian groups of 7 bits, high bit = more.
fn read_size(delta: &[u8], pos: &mut usize) -> Result<usize, String> {
    let mut value: u64 = 0;
    let mut shift = 0u32;
    loop {
        let &byte = delta.get(*pos).ok_or("the delta header is truncated")?;
        *pos += 1;
        let bits = u64::from(byte & 0x7f);
        if shift > 63 || (shift == 63 && bits > 1) {
            return Err("the delta header declares an impossibly large size".to_owned());
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return usize::try_from(value)
                .map_err(|_| "the delta header declares an impossibly large size".to_owned());
        }
        shift += 7;
    }
}

fn next_byte(delta: &[u8], pos: &mut usize) -> Result<u8, String> {
    let &byte = delta
        .get(*pos)
        .ok_or("the delta ends inside a copy instruction")?;
    *pos += 1;
    Ok(byte)
}

/// Applies a git delta (the format of packfiles and `delta N` blocks) to `base`.
pub(super) fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, String> {
    let mut pos = 0;
    let source_size = read_size(delta, &mut pos)?;
    let target_size = read_size(delta, &mut pos)?;
    if source_size != base.len() {
        return Err(format!(
            "the patch was made against a {source_size}-byte file, but this file has {} bytes",
            base.len()
        ));
    }
    let mut out = Vec::with_capacity(target_size.min(base.len().saturating_add(delta.len())));
    while let Some(&cmd) = delta.get(pos) {
        pos += 1;
        let chunk = if cmd & 0x80 != 0 {
            let mut offset = 0usize;
            for (bit, shift) in [(0x01u8, 0u32), (0x02, 8), (0x04, 16), (0x08, 24)] {
                if cmd & bit != 0 {
                    offset |= usize::from(next_byte(delta, &mut pos)?) << shift;
                }
            }
            let mut size = 0usize;
            for (bit, shift) in [(0x10u8, 0u32), (0x20, 8), (0x40, 16)] {
                if cmd & bit != 0 {
                    size |= usize::from(next_byte(delta, &mut pos)?) << shift;
                }
            }
            if size == 0 {
                size = 0x10000;
            }
            offset
                .checked_add(size)
                .and_then(|end| base.get(offset..end))
                .ok_or_else(|| {
                    format!(
                        "the delta copies {size} bytes at offset {offset} from a {}-byte file",
                        base.len()
                    )
                })?
        } else if cmd != 0 {
            let end = pos.saturating_add(usize::from(cmd));
            let chunk = delta
                .get(pos..end)
                .ok_or("the delta ends inside an insert instruction")?;
            pos = end;
            chunk
        } else {
            return Err("the delta contains the reserved instruction 0".to_owned());
        };
        if chunk.len() > target_size.saturating_sub(out.len()) {
            return Err(format!(
                "the delta produces more than the {target_size} bytes it declares"
            ));
        }
        out.extend_from_slice(chunk);
    }
    if out.len() != target_size {
        return Err(format!(
            "the delta produces {} bytes, but declares {target_size}",
            out.len()
        ));
    }
    Ok(out)
}

/// Encodes one data line (at most 52 bytes) the way git does; for building test patches.
#[cfg(test)]
pub(super) fn encode_line(chunk: &[u8]) -> String {
    let len = chunk.len();
    let len_char = if len <= 26 {
        b'A' + u8::try_from(len).unwrap_or(1) - 1
    } else {
        b'a' + u8::try_from(len - 27).unwrap_or(0)
    };
    let mut line = vec![len_char];
    for group in chunk.chunks(4) {
        let mut word = [0u8; 4];
        for (w, b) in word.iter_mut().zip(group) {
            *w = *b;
        }
        let mut acc = u32::from_be_bytes(word);
        let mut chars = [0u8; 5];
        for c in chars.iter_mut().rev() {
            *c = ALPHABET.get((acc % 85) as usize).copied().unwrap_or(b'0');
            acc /= 85;
        }
        line.extend_from_slice(&chars);
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// Builds a `literal N` / `delta N` block (with its closing empty line) for tests.
#[cfg(test)]
pub(super) fn encode_block(kind: &str, data: &[u8]) -> String {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = match encoder.write_all(data) {
        Ok(()) => encoder.finish().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let mut block = format!("{kind} {}\n", data.len());
    for chunk in compressed.chunks(52) {
        block.push_str(&encode_line(chunk));
        block.push('\n');
    }
    block.push('\n');
    block
}
