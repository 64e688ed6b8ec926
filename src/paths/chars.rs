//! Characters a path may not hold because a terminal would hide them, reorder the text
//! around them, or show them as something they are not: control characters, Unicode
//! format characters (zero-width and bidirectional controls among them), line and
//! paragraph separators, spaces other than U+0020, invisible fillers and variation
//! selectors, private-use and non-characters, and look-alikes of `/`.
//!
//! The list of format characters (general category Cf) is Unicode 15.1's, written out
//! here so that no table crate is needed; a test pins the well-known ones.

/// Why `c` is refused in a path, or `None` when it is fine.
pub fn forbidden_char(c: char) -> Option<&'static str> {
    let u = c as u32;
    if c == '\0' {
        return Some("a NUL byte");
    }
    if c.is_control() {
        return Some("a control character");
    }
    if is_format(u) {
        return Some("an invisible or bidirectional-control character");
    }
    if u == 0x2028 || u == 0x2029 {
        return Some("a line or paragraph separator");
    }
    if (c.is_whitespace() && c != ' ') || matches!(u, 0x2800 | 0x3164 | 0xFFA0 | 0x115F | 0x1160) {
        return Some("a blank character other than the ASCII space");
    }
    if matches!(u, 0x034F | 0x17B4 | 0x17B5 | 0xFE00..=0xFE0F | 0xE0100..=0xE01EF) {
        return Some("an invisible character");
    }
    if matches!(u, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF) {
        return Some("a private-use character");
    }
    if matches!(u, 0xFDD0..=0xFDEF) || u & 0xFFFE == 0xFFFE {
        return Some("a Unicode non-character");
    }
    if matches!(
        u,
        0x2044 | 0x2215 | 0x2571 | 0x29F8 | 0xFF0F | 0x1735 | 0x2CC6 | 0x3033
    ) {
        return Some("a character that looks like `/`");
    }
    None
}

/// Unicode general category Cf (format characters).
fn is_format(u: u32) -> bool {
    matches!(
        u,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// `text` with every character [`forbidden_char`] refuses written as `\u{XXXX}`, so that
/// anything shown on a terminal shows what is really there.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| forbidden_char(c).is_some()) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if forbidden_char(c).is_some() {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Text safe to put in a one-line slot on a terminal (a title, an actor, an id, a
/// reason, a path): every character [`forbidden_char`] refuses is shown as a
/// `\u{1b}`-style escape, control characters included: a newline, a carriage return or a
/// tab from the journal cannot start a line of its own that impersonates another event,
/// header or risk line, and escape sequences cannot move the cursor or erase lines. The
/// one escaping function for everything render and cli print from untrusted text.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    escape(text)
}

/// Text shown as a block of lines (a plan's description): newlines are kept, every other
/// hidden character is escaped as in [`printable`], tabs too. Callers indent every line so
/// that no line of it can pass for one of the lines around it.
pub fn printable_block(text: &str) -> std::borrow::Cow<'_, str> {
    escape_but(text, |c| c == '\n')
}

/// One line of a file's content in a diff (its line ending already taken off): tabs are
/// kept, every other hidden character (a carriage return included) is escaped.
pub fn printable_content(text: &str) -> std::borrow::Cow<'_, str> {
    escape_but(text, |c| c == '\t')
}

fn escape_but(text: &str, keep: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    let hidden = |c: char| !keep(c) && forbidden_char(c).is_some();
    if !text.chars().any(hidden) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if hidden(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_refused_and_escaped() {
        for c in [
            '\u{0}',
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{ad}',
            '\u{200b}',
            '\u{200d}',
            '\u{200e}',
            '\u{202a}',
            '\u{202e}',
            '\u{2066}',
            '\u{2069}',
            '\u{2060}',
            '\u{feff}',
            '\u{2028}',
            '\u{2029}',
            '\u{a0}',
            '\u{3000}',
            '\u{3164}',
            '\u{fe0f}',
            '\u{e0041}',
            '\u{e000}',
            '\u{fffe}',
            '\u{2215}',
            '\u{ff0f}',
        ] {
            assert!(forbidden_char(c).is_some(), "U+{:04X} accepted", c as u32);
        }
        for c in ['a', 'Z', '0', ' ', '-', '.', 'é', 'ß', '名', 'Ω', 'ж', '😀'] {
            assert!(forbidden_char(c).is_none(), "{c:?} refused");
        }
        assert_eq!(escape("readme\u{202e}gnp.sh"), "readme\\u{202e}gnp.sh");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn one_line_slots_escape_every_control_character() {
        assert_eq!(
            printable("ok\nRisk: low\r\tx"),
            "ok\\u{a}Risk: low\\u{d}\\u{9}x"
        );
        assert_eq!(printable("a\u{1b}[2K\u{202e}b"), "a\\u{1b}[2K\\u{202e}b");
        assert_eq!(printable_block("l1\nl2\r\t"), "l1\nl2\\u{d}\\u{9}");
        assert_eq!(printable_content("\tx\r"), "\tx\\u{d}");
    }
}
