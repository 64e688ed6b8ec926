//! How counts and sizes read in every message, so that each is written one way everywhere:
//! "1 plan", "2 files" (never "file(s)"), sizes in binary units ("1.5 KiB", "64 MiB").

/// `n` and the noun in the right number: `count(1, "file")` is "1 file", `count(2,
/// "file")` "2 files". Nouns whose plural is not `+s` go through [`count_as`].
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `n` and the singular or plural given: `count_as(2, "is", "are")`.
pub fn count_as(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A size in binary units, one decimal above bytes: `512 B`, `1.5 KiB`, `64.0 MiB`.
pub fn size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Milliseconds as people read them: `850 ms`, `1.2 s`, `3 min 5 s`.
pub fn duration_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_in_the_right_number() {
        assert_eq!(count(0u64, "file"), "0 files");
        assert_eq!(count(1u64, "plan"), "1 plan");
        assert_eq!(count(2u64, "change"), "2 changes");
        assert_eq!(count_as(1u64, "copy", "copies"), "1 copy");
        assert_eq!(count_as(3u64, "copy", "copies"), "3 copies");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(64 << 20), "64.0 MiB");
    }
}
