//! A writer that makes a command's output safe to show on a terminal: control characters
//! other than tab, newline and carriage return (escape sequences that could move the
//! cursor, erase or rewrite lines, retitle the window, or answer queries into the
//! terminal's input) are written as visible `\u{1b}`-style escapes, and bytes that are not
//! UTF-8 as `\xNN`. Works on a stream: a character split across two writes is kept until
//! its end arrives.

use std::io::{self, Write};

/// Wraps `inner`; every `write` passes the safe form of its bytes on.
pub struct TerminalSafe<W: Write> {
    inner: W,
    /// An incomplete UTF-8 sequence from the end of the previous write (at most 3 bytes).
    carry: Vec<u8>,
}

impl<W: Write> TerminalSafe<W> {
    pub fn new(inner: W) -> Self {
        TerminalSafe {
            inner,
            carry: Vec::new(),
        }
    }
}

fn allowed(c: char) -> bool {
    !c.is_control() || matches!(c, '\t' | '\n' | '\r')
}

/// The safe form of `bytes`; returns the trailing bytes of an incomplete character.
fn escape(bytes: &[u8], out: &mut Vec<u8>) -> usize {
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_str(s, out);
                return 0;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // SAFETY-free: `good` is valid UTF-8 by construction.
                push_str(std::str::from_utf8(good).unwrap_or_default(), out);
                match e.error_len() {
                    Some(n) => {
                        for b in &bad[..n] {
                            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                        }
                        rest = &bad[n..];
                    }
                    // Incomplete at the end: keep it for the next write.
                    None => return bad.len(),
                }
            }
        }
    }
}

fn push_str(s: &str, out: &mut Vec<u8>) {
    for c in s.chars() {
        if allowed(c) {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        } else {
            out.extend_from_slice(c.escape_unicode().to_string().as_bytes());
        }
    }
}

impl<W: Write> Write for TerminalSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(buf);
        let mut out = Vec::with_capacity(data.len());
        let keep = escape(&data, &mut out);
        self.carry = data[data.len() - keep..].to_vec();
        self.inner.write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> Drop for TerminalSafe<W> {
    fn drop(&mut self) {
        // A character that never completed is shown as the bytes it was.
        if !self.carry.is_empty() {
            let mut out = Vec::new();
            for b in std::mem::take(&mut self.carry) {
                out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
            }
            let _ = self.inner.write_all(&out);
            let _ = self.inner.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        {
            let mut w = TerminalSafe::new(&mut out);
            for c in chunks {
                w.write_all(c).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escape_sequences_become_visible_text() {
        assert_eq!(
            safe(&[b"ok\x1b[2K\x1b]0;title\x07\r\n\ttab"]),
            "ok\\u{1b}[2K\\u{1b}]0;title\\u{7}\r\n\ttab"
        );
        // C1 controls (8-bit CSI) and invalid bytes.
        assert_eq!(safe(&["a\u{9b}1A".as_bytes(), b"\xff"]), "a\\u{9b}1A\\xff");
    }

    #[test]
    fn characters_split_across_writes_survive() {
        let s = "héllo ✓".as_bytes();
        for cut in 0..s.len() {
            assert_eq!(safe(&[&s[..cut], &s[cut..]]), "héllo ✓", "cut at {cut}");
        }
        assert_eq!(safe(&[b"x\xe2\x9c"]), "x\\xe2\\x9c");
    }
}
