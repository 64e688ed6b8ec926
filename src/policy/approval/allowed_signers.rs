//! A strict parser for OpenSSH/git `allowed_signers` files and the decision
//! whether a principal's key may sign for a namespace at a given time.
//!
//! Line format (see `ssh-keygen(1)`, "ALLOWED SIGNERS"):
//!
//! ```text
//! principals [options] keytype base64key [comment]
//! ```
//!
//! Choices made where OpenSSH is loose or ambiguous:
//!
//! * `valid-after` / `valid-before` times must carry an explicit UTC suffix
//!   (`Z` or `UTC`, any case). OpenSSH reads a time without a suffix as local
//!   time, which would make the same file mean different things on different
//!   machines, so such times are refused with an error naming the line.
//! * Option values may be double-quoted (as OpenSSH requires) or, as an
//!   extension, left unquoted when they contain no comma, space or quote.
//! * Empty principal or namespace patterns and empty options are errors
//!   (OpenSSH silently tolerates some of them).
//! * `cert-authority` lines are parsed and kept, but since certificates are
//!   not verified here, such a line never authorizes a plain key — exactly as
//!   in OpenSSH, where a CA line only matches certificates.
//! * Wildcards match characters, not bytes (this differs from OpenSSH only
//!   for `?` against non-ASCII text).

use chrono::{DateTime, NaiveDate, Utc};
use ssh_key::{HashAlg, PublicKey};
use thiserror::Error;

use super::refusal::{Refusal, ValidityBound};

/// Key types accepted in an `allowed_signers` file.
pub const SUPPORTED_KEY_TYPES: [&str; 7] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "ssh-rsa",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// A parse error, naming the 1-based line it occurred on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

/// What was wrong with an `allowed_signers` line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseErrorKind {
    /// The line has principals but no key.
    #[error("missing key")]
    MissingKey,
    /// A double quote is never closed.
    #[error("unterminated quote")]
    UnterminatedQuote,
    /// The principals field is malformed.
    #[error("invalid principals: {0}")]
    BadPrincipals(String),
    /// An empty entry in the option list.
    #[error("empty option")]
    EmptyOption,
    /// An option this parser does not know.
    #[error("unknown option {0:?}")]
    UnknownOption(String),
    /// An option that needs a value has none.
    #[error("option {0:?} needs a value")]
    MissingValue(&'static str),
    /// A flag option was given a value.
    #[error("option {0:?} takes no value")]
    UnexpectedValue(&'static str),
    /// A value is malformed.
    #[error("invalid value for option {option:?}: {reason}")]
    BadValue {
        /// The option.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The same option appears twice.
    #[error("option {0:?} given more than once")]
    DuplicateOption(&'static str),
    /// A key type this parser does not accept.
    #[error("unsupported key type {0:?}")]
    UnsupportedKeyType(String),
    /// The key data does not decode.
    #[error("invalid {keytype} key: {reason}")]
    BadKey {
        /// The key type written on the line.
        keytype: String,
        /// What is wrong.
        reason: String,
    },
}

/// One non-comment line of an `allowed_signers` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSigner {
    /// 1-based line number in the file.
    pub line: usize,
    /// Comma-separated principal patterns (quotes removed).
    pub principals: String,
    /// Whether the line carries `cert-authority`.
    pub cert_authority: bool,
    /// Comma-separated namespace patterns, if restricted.
    pub namespaces: Option<String>,
    /// `valid-after` time, if any.
    pub valid_after: Option<DateTime<Utc>>,
    /// `valid-before` time, if any.
    pub valid_before: Option<DateTime<Utc>>,
    /// The key.
    pub key: PublicKey,
}

/// A parsed `allowed_signers` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedSigners {
    entries: Vec<AllowedSigner>,
}

/// Parse the text of an `allowed_signers` file.
pub fn parse(text: &str) -> Result<AllowedSigners, ParseError> {
    let mut entries = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(entry) = parse_line(raw, line).map_err(|kind| ParseError { line, kind })? {
            entries.push(entry);
        }
    }
    Ok(AllowedSigners { entries })
}

impl AllowedSigners {
    /// Parse the text of an `allowed_signers` file.
    pub fn parse(text: &str) -> Result<AllowedSigners, ParseError> {
        parse(text)
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[AllowedSigner] {
        &self.entries
    }

    /// Whether the file lists no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Decide whether `key` may sign as `principal` for `namespace` at `at`.
    ///
    /// Succeeds if any line lists a principal pattern matching `principal`
    /// with exactly this key (not as `cert-authority`), allows `namespace`
    /// and whose validity window contains `at` (bounds inclusive, as in
    /// OpenSSH). Otherwise the most specific refusal is returned: a validity
    /// window problem, then a namespace restriction, then unknown principal.
    pub fn authorize(
        &self,
        principal: &str,
        key: &PublicKey,
        namespace: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        let fingerprint = || key.fingerprint(HashAlg::Sha256).to_string();
        let mut window: Option<Refusal> = None;
        let mut ns: Option<Refusal> = None;
        for entry in &self.entries {
            if entry.cert_authority
                || entry.key.key_data() != key.key_data()
                || !match_pattern_list(principal, &entry.principals)
            {
                continue;
            }
            if let Some(patterns) = &entry.namespaces
                && !match_pattern_list(namespace, patterns)
            {
                ns.get_or_insert_with(|| Refusal::NamespaceNotAllowed {
                    principal: principal.to_owned(),
                    fingerprint: fingerprint(),
                    namespace: namespace.to_owned(),
                    line: entry.line,
                });
                continue;
            }
            let violated = match (entry.valid_after, entry.valid_before) {
                (Some(after), _) if at < after => Some((ValidityBound::ValidAfter, after)),
                (_, Some(before)) if at > before => Some((ValidityBound::ValidBefore, before)),
                _ => None,
            };
            if let Some((bound, limit)) = violated {
                window.get_or_insert_with(|| Refusal::OutsideValidityWindow {
                    principal: principal.to_owned(),
                    fingerprint: fingerprint(),
                    bound,
                    limit,
                    line: entry.line,
                });
                continue;
            }
            return Ok(());
        }
        Err(window.or(ns).unwrap_or_else(|| Refusal::UnknownPrincipal {
            principal: principal.to_owned(),
            fingerprint: fingerprint(),
            listed_as: self
                .entries
                .iter()
                .find(|e| !e.cert_authority && e.key.key_data() == key.key_data())
                .map(|e| e.principals.clone()),
        }))
    }
}

/// OpenSSH `match_pattern_list`: `list` is comma-separated patterns with `*`
/// and `?` wildcards, each optionally negated with a leading `!`. A matching
/// negated pattern anywhere rejects; otherwise at least one positive pattern
/// must match. Matching is case-sensitive.
pub fn match_pattern_list(text: &str, list: &str) -> bool {
    let mut positive = false;
    for item in list.split(',') {
        let (negated, pattern) = match item.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, item),
        };
        if match_pattern(text, pattern) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// Glob match of the whole `text` against `pattern` (`*` any run, `?` any
/// one character), in linear space and without recursion.
pub fn match_pattern(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut ti, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || t.get(ti) == Some(&c) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((spi, sti)) => {
                    pi = spi + 1;
                    ti = sti + 1;
                    star = Some((spi, sti + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn skip_space(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

/// Parse one line; `Ok(None)` for blank and comment lines.
fn parse_line(raw: &str, line: usize) -> Result<Option<AllowedSigner>, ParseErrorKind> {
    let rest = skip_space(raw);
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }

    let (principals, rest) = take_principals(rest)?;
    check_patterns(&principals).map_err(ParseErrorKind::BadPrincipals)?;
    let rest = skip_space(rest);

    let (first, after_first) = take_token(rest)?;
    if first.is_empty() {
        return Err(ParseErrorKind::MissingKey);
    }
    let (options, keytype, rest) = if looks_like_keytype(first) {
        (Options::default(), first, after_first)
    } else {
        let options = parse_options(first)?;
        let (keytype, rest) = take_token(skip_space(after_first))?;
        if keytype.is_empty() {
            return Err(ParseErrorKind::MissingKey);
        }
        (options, keytype, rest)
    };
    if !SUPPORTED_KEY_TYPES.contains(&keytype) {
        return Err(ParseErrorKind::UnsupportedKeyType(keytype.to_owned()));
    }
    let rest = skip_space(rest);
    let base64 = rest.split(is_space).next().unwrap_or_default();
    if base64.is_empty() {
        return Err(ParseErrorKind::MissingKey);
    }
    // Anything after the key data is a free-form comment.
    let key = PublicKey::from_openssh(&format!("{keytype} {base64}")).map_err(|e| {
        ParseErrorKind::BadKey {
            keytype: keytype.to_owned(),
            reason: e.to_string(),
        }
    })?;

    Ok(Some(AllowedSigner {
        line,
        principals,
        cert_authority: options.cert_authority,
        namespaces: options.namespaces,
        valid_after: options.valid_after,
        valid_before: options.valid_before,
        key,
    }))
}

/// Take the principals field: either a double-quoted string or a run of
/// non-blank characters without quotes. It must be followed by a blank.
fn take_principals(s: &str) -> Result<(String, &str), ParseErrorKind> {
    let (value, rest) = if let Some(inner) = s.strip_prefix('"') {
        let end = inner.find('"').ok_or(ParseErrorKind::UnterminatedQuote)?;
        let (value, rest) = inner.split_at(end);
        (value, rest.get(1..).unwrap_or_default())
    } else {
        let end = s.find(is_space).unwrap_or(s.len());
        let (value, rest) = s.split_at(end);
        if value.contains('"') {
            return Err(ParseErrorKind::BadPrincipals(
                "unexpected double quote".to_owned(),
            ));
        }
        (value, rest)
    };
    if rest.is_empty() {
        return Err(ParseErrorKind::MissingKey);
    }
    if !rest.starts_with(is_space) {
        return Err(ParseErrorKind::BadPrincipals(
            "closing quote must be followed by a blank".to_owned(),
        ));
    }
    Ok((value.to_owned(), rest))
}

/// Take a token that ends at the first blank outside double quotes. Inside
/// quotes, `\"` is an escaped quote (as in OpenSSH).
fn take_token(s: &str) -> Result<(&str, &str), ParseErrorKind> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && is_space(c) {
            return Ok(s.split_at(i));
        }
    }
    if quoted {
        return Err(ParseErrorKind::UnterminatedQuote);
    }
    Ok((s, ""))
}

fn looks_like_keytype(token: &str) -> bool {
    !token.contains(['=', '"', ','])
        && (["ssh-", "ecdsa-", "sk-", "rsa-"]
            .iter()
            .any(|p| token.starts_with(p))
            || token.ends_with("@openssh.com"))
}

/// Check a comma-separated pattern list has no empty pattern.
fn check_patterns(list: &str) -> Result<(), String> {
    if list.is_empty() {
        return Err("empty pattern list".to_owned());
    }
    for item in list.split(',') {
        let pattern = item.strip_prefix('!').unwrap_or(item);
        if pattern.is_empty() {
            return Err(format!("empty pattern in {list:?}"));
        }
        if let Some(c) = pattern.chars().find(|c| c.is_control() || *c == '"') {
            return Err(format!("forbidden character {c:?} in {list:?}"));
        }
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Options {
    cert_authority: bool,
    namespaces: Option<String>,
    valid_after: Option<DateTime<Utc>>,
    valid_before: Option<DateTime<Utc>>,
}

/// Split an option list at commas outside double quotes.
fn split_options(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && c == ',' {
            out.push(s.get(start..i).unwrap_or_default());
            start = i + 1;
        }
    }
    out.push(s.get(start..).unwrap_or_default());
    out
}

fn parse_options(token: &str) -> Result<Options, ParseErrorKind> {
    let mut options = Options::default();
    for item in split_options(token) {
        if item.is_empty() {
            return Err(ParseErrorKind::EmptyOption);
        }
        let (name, value) = match item.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (item, None),
        };
        match name.to_ascii_lowercase().as_str() {
            "cert-authority" => {
                if value.is_some() {
                    return Err(ParseErrorKind::UnexpectedValue("cert-authority"));
                }
                options.cert_authority = true;
            }
            "namespaces" => {
                let value = option_value("namespaces", value)?;
                check_patterns(&value).map_err(|reason| ParseErrorKind::BadValue {
                    option: "namespaces",
                    reason,
                })?;
                set_once(&mut options.namespaces, value, "namespaces")?;
            }
            "valid-after" => {
                let at = parse_time("valid-after", &option_value("valid-after", value)?)?;
                set_once(&mut options.valid_after, at, "valid-after")?;
            }
            "valid-before" => {
                let at = parse_time("valid-before", &option_value("valid-before", value)?)?;
                set_once(&mut options.valid_before, at, "valid-before")?;
            }
            _ => return Err(ParseErrorKind::UnknownOption(name.to_owned())),
        }
    }
    Ok(options)
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), ParseErrorKind> {
    if slot.is_some() {
        return Err(ParseErrorKind::DuplicateOption(name));
    }
    *slot = Some(value);
    Ok(())
}

/// Extract an option's value: `"..."` with `\"` escapes, or a bare word.
fn option_value(option: &'static str, value: Option<&str>) -> Result<String, ParseErrorKind> {
    let value = value.ok_or(ParseErrorKind::MissingValue(option))?;
    let text = match value.strip_prefix('"') {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' if chars.as_str().starts_with('"') => {
                        out.push('"');
                        chars.next();
                    }
                    c => out.push(c),
                }
            }
            if !closed {
                return Err(ParseErrorKind::UnterminatedQuote);
            }
            if !chars.as_str().is_empty() {
                return Err(ParseErrorKind::BadValue {
                    option,
                    reason: "text after closing quote".to_owned(),
                });
            }
            out
        }
        None if value.contains('"') => {
            return Err(ParseErrorKind::BadValue {
                option,
                reason: "unexpected double quote".to_owned(),
            });
        }
        None => value.to_owned(),
    };
    if text.is_empty() {
        return Err(ParseErrorKind::MissingValue(option));
    }
    Ok(text)
}

/// Parse `YYYYMMDD[HHMM[SS]]` followed by `Z` or `UTC` (any case).
fn parse_time(option: &'static str, value: &str) -> Result<DateTime<Utc>, ParseErrorKind> {
    let bad = |reason: &str| ParseErrorKind::BadValue {
        option,
        reason: format!("{value:?}: {reason}"),
    };
    let upper = value.to_ascii_uppercase();
    let digits = upper
        .strip_suffix("UTC")
        .or_else(|| upper.strip_suffix('Z'))
        .ok_or_else(|| {
            bad("time has no Z suffix; local times are not accepted, append Z to mean UTC")
        })?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![8, 12, 14].contains(&digits.len()) {
        return Err(bad("expected YYYYMMDD[HHMM[SS]]Z"));
    }
    let field = |range: std::ops::Range<usize>| -> u32 {
        digits.get(range).and_then(|s| s.parse().ok()).unwrap_or(0)
    };
    let year = i32::try_from(field(0..4)).map_err(|_| bad("invalid year"))?;
    let at = NaiveDate::from_ymd_opt(year, field(4..6), field(6..8))
        .and_then(|d| d.and_hms_opt(field(8..10), field(10..12), field(12..14)))
        .ok_or_else(|| bad("no such date or time"))?
        .and_utc();
    if at.timestamp() <= 0 {
        return Err(bad("time must be after 1970-01-01"));
    }
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFMtZB3Ywov3yvgEVgTgZF62xSDyipohkEcmWqB03lKb";
    const ED_FP: &str = "SHA256:YD4/G93uBQJJlwpMcyyveFlJdUR/2JxaJ8+5RqzztVU";
    const P256: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPs0jjVqDDdr8Xjyi+xxcNW95OLtl63aQ3REuM2bk3k+x+oL81W/82t+Z+QgyhzZaYTST1hHeyLxQDXhx4nQIX8=";
    const P384: &str = "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBHQ1+8iWNZdSa6h08BQm51ypUpiZScBrixYUk1qX9CVSXRPdZmy7NpLILtO7i5yn3EL6sxLv7QN02/u+qWAImwrxhI5Wv6t5OuypWx7tiyHKzmKVaoDAwdTQoVhJUJ0kSQ==";
    const P521: &str = "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAHMkzvOZS7BSjim2ZuGXA2U7QyxHQ4kPoXlfr0tBP20c1gwiNzh3jRBphoL3jdVeVezfzSqBuFsjBZocbrLI5B+DQDpZ/dK7EjamDbgeXbbTyU+8E/hZzQJzBItwIFX5go5RAMYKPdFBOTysJq0q9dDAuDlhQ4jjPW29wjE/7t/V9fUIg==";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCp1PJgnJ/wTiaaBQk0SBlMCz5gRoDRr2QDclTOoLRcEAAE0KQ8+WMJ/08sdKqboTZT5U7P7uaj1Ngekg5dWWnO84kG80xcTJPCGZOyPgSqOmTexYgfqA5wBPGn0Fo2CoeP968UQm2tN9p/QjuqYRRoEanaY5WtkXMYm/YPO2zeR84oTdekL82RZKHTlQeFOW553Sy8rI4iy4ItPhovizGi6jLkCg5nPP8Ow78OaU4CBEHFX0Y9mB2qXiwhJ9VC3+HAGJZNv+fQ88tb8nOXyOOZ5agwbTz4WoYa8Kd7P6BTbH68kCeKd/Rn1IYMuUEy8pHyuY1yTPidVXOeSrKn+Jnd";

    fn sk_lines() -> (String, String) {
        use ssh_key::public::{
            EcdsaPublicKey, Ed25519PublicKey, KeyData, SkEcdsaSha2NistP256, SkEd25519,
        };
        let ed = PublicKey::from(KeyData::SkEd25519(SkEd25519::new(
            Ed25519PublicKey([9; 32]),
            "ssh:",
        )));
        let p256 = PublicKey::from_openssh(P256).expect("p256");
        let Some(EcdsaPublicKey::NistP256(point)) = p256.key_data().ecdsa().cloned() else {
            panic!("not p256");
        };
        let ec = PublicKey::from(KeyData::SkEcdsaSha2NistP256(SkEcdsaSha2NistP256::new(
            point, "ssh:",
        )));
        (
            ed.to_openssh().expect("encode"),
            ec.to_openssh().expect("encode"),
        )
    }

    fn key(text: &str) -> PublicKey {
        PublicKey::from_openssh(text).expect("key")
    }

    fn one(line: &str) -> AllowedSigner {
        let parsed = parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(parsed.entries().len(), 1, "{line:?}");
        parsed.entries()[0].clone()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .expect("time")
    }

    #[test]
    fn valid_lines() {
        let (sk_ed, sk_ec) = sk_lines();
        let cases: Vec<String> = vec![
            format!("alice@example.com {ED}"),
            format!("alice@example.com {ED} a comment with spaces"),
            format!("  \talice@example.com\t {ED}\r"),
            format!("alice@example.com,bob@example.com {P256}"),
            format!("\"alice@example.com,bob@example.com\" {P384}"),
            format!("\"alice smith\" {P521}"),
            format!("*@example.com,!mallory@example.com {RSA}"),
            format!("alice@example.com namespaces=\"git,autonomy-approval\" {ED}"),
            format!("alice@example.com NAMESPACES=\"autonomy-*\" {ED}"),
            format!("alice@example.com namespaces=autonomy-approval {ED}"),
            format!("alice@example.com cert-authority {ED}"),
            format!("alice@example.com cert-authority,namespaces=\"a b,c\" {ED}"),
            format!("alice@example.com valid-after=\"20260101Z\",valid-before=\"20270101Z\" {ED}"),
            format!("alice@example.com valid-after=20260101Z {ED}"),
            format!("alice@example.com valid-after=\"202601011230UTC\" {ED}"),
            format!("alice@example.com valid-before=\"20260101123059z\" {ED}"),
            format!("a {sk_ed}"),
            format!("a {sk_ec}"),
        ];
        for line in cases {
            one(&line);
        }
    }

    #[test]
    fn parsed_fields() {
        let e = one(&format!(
            "\"a,b\" Cert-Authority,namespaces=\"git, x\",valid-after=\"20260102Z\",valid-before=\"202601031200Z\" {ED} c"
        ));
        assert_eq!(e.line, 1);
        assert_eq!(e.principals, "a,b");
        assert!(e.cert_authority);
        assert_eq!(e.namespaces.as_deref(), Some("git, x"));
        assert_eq!(e.valid_after, Some(utc(2026, 1, 2, 0, 0, 0)));
        assert_eq!(e.valid_before, Some(utc(2026, 1, 3, 12, 0, 0)));
        assert_eq!(e.key.fingerprint(HashAlg::Sha256).to_string(), ED_FP);
    }

    #[test]
    fn comments_and_blank_lines() {
        let text = format!("# comment\n\n   \n  # indented\nalice {ED}\n\nbob {P256}\n");
        let parsed = parse(&text).expect("parses");
        let lines: Vec<usize> = parsed.entries().iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![5, 7]);
        assert!(parse("").expect("empty").is_empty());
    }

    /// Each text is refused with a message that starts with its line and contains `expect`.
    fn assert_refused(cases: Vec<(String, &str)>) {
        for (text, expect) in cases {
            let err = parse(&text).expect_err(&text);
            let msg = err.to_string();
            assert!(
                msg.contains(expect),
                "{text:?}: got {msg:?}, want {expect:?}"
            );
            assert!(msg.starts_with("line "), "{msg}");
        }
    }

    #[test]
    fn invalid_lines() {
        assert_refused(vec![
            ("alice".to_owned(), "line 1: missing key"),
            ("alice ".to_owned(), "line 1: missing key"),
            ("alice namespaces=\"git\"".to_owned(), "line 1: missing key"),
            (
                format!("# ok\nalice {ED}\nbob bogus {ED}"),
                "line 3: unknown option \"bogus\"",
            ),
        ]);
    }

    #[test]
    fn invalid_options() {
        assert_refused(vec![
            (format!("alice foo {ED}"), "line 1: unknown option \"foo\""),
            (
                format!("alice foo=\"bar\" {ED}"),
                "line 1: unknown option \"foo\"",
            ),
            (
                format!("alice cert-authority,no-touch-required {ED}"),
                "unknown option \"no-touch-required\"",
            ),
            (format!("alice namespaces=\"\" {ED}"), "needs a value"),
            (format!("alice namespaces {ED}"), "needs a value"),
            (format!("alice cert-authority=yes {ED}"), "takes no value"),
            (
                format!("alice namespaces=\"a\",namespaces=\"b\" {ED}"),
                "more than once",
            ),
            (
                format!("alice cert-authority,,namespaces=\"a\" {ED}"),
                "empty option",
            ),
        ]);
    }

    #[test]
    fn invalid_quotes_and_patterns() {
        assert_refused(vec![
            (format!("alice namespaces=\"git {ED}"), "unterminated quote"),
            (format!("\"alice {ED}"), "unterminated quote"),
            (format!("\"alice\"bob {ED}"), "followed by a blank"),
            (format!("al\"ice {ED}"), "unexpected double quote"),
            (format!("alice,,bob {ED}"), "empty pattern"),
            (format!("alice,! {ED}"), "empty pattern"),
            (format!("\"\" {ED}"), "empty pattern list"),
            (format!("alice namespaces=\"git,\" {ED}"), "empty pattern"),
            (
                format!("alice namespaces=\"x\\\"y\" {ED}"),
                "forbidden character '\"'",
            ),
            (
                format!("alice namespaces=\"x\\\"y {ED}"),
                "unterminated quote",
            ),
        ]);
    }

    #[test]
    fn invalid_times() {
        assert_refused(vec![
            (
                format!("alice valid-after=\"20260101\" {ED}"),
                "local times are not accepted",
            ),
            (
                format!("alice valid-after=\"2026010Z\" {ED}"),
                "expected YYYYMMDD",
            ),
            (
                format!("alice valid-after=\"2026-01-01Z\" {ED}"),
                "expected YYYYMMDD",
            ),
            (
                format!("alice valid-after=\"20261301Z\" {ED}"),
                "no such date",
            ),
            (
                format!("alice valid-before=\"202601012460Z\" {ED}"),
                "no such date",
            ),
            (
                format!("alice valid-after=\"19700101Z\" {ED}"),
                "after 1970",
            ),
            (
                format!("alice valid-after=\"20260101Z\"x {ED}"),
                "after closing quote",
            ),
        ]);
    }

    #[test]
    fn invalid_keys() {
        assert_refused(vec![
            (
                "alice ssh-dss AAAAB3NzaC1kc3MAAACBAP".to_owned(),
                "unsupported key type \"ssh-dss\"",
            ),
            (
                "alice ssh-ed25519-cert-v01@openssh.com AAAA".to_owned(),
                "unsupported key type",
            ),
            ("alice ssh-ed25519".to_owned(), "missing key"),
            (
                "alice ssh-ed25519 AAAA!!".to_owned(),
                "invalid ssh-ed25519 key",
            ),
            (
                format!("alice ssh-rsa {}", &ED[12..]),
                "invalid ssh-rsa key",
            ),
        ]);
    }

    #[test]
    fn patterns() {
        let cases = [
            ("alice", "alice", true),
            ("alice", "bob", false),
            ("alice", "ALICE", false),
            ("alice", "bob,alice", true),
            ("alice@example.com", "*@example.com", true),
            ("alice@example.org", "*@example.com", false),
            ("alice", "al?ce", true),
            ("alce", "al?ce", false),
            ("alice", "*", true),
            ("", "*", true),
            ("alice", "a*e", true),
            ("alice", "a**", true),
            ("aaab", "*a*b", true),
            (
                "mallory@example.com",
                "*@example.com,!mallory@example.com",
                false,
            ),
            (
                "mallory@example.com",
                "!mallory@example.com,*@example.com",
                false,
            ),
            (
                "alice@example.com",
                "!mallory@example.com,*@example.com",
                true,
            ),
            ("alice", "!bob", false),
            ("zoë", "zo?", true),
        ];
        for (text, list, want) in cases {
            assert_eq!(match_pattern_list(text, list), want, "{text:?} vs {list:?}");
        }
    }

    #[test]
    fn authorize_decisions() {
        let text = format!(
            "alice@example.com namespaces=\"git,autonomy-approval\" {ED}\n\
             *@example.com,!mallory@example.com namespaces=\"autonomy-*\" {P256}\n\
             carol@example.com namespaces=\"git\" {ED}\n\
             dave@example.com valid-after=\"20260101Z\",valid-before=\"20261231Z\" {ED}\n\
             erin@example.com cert-authority {ED}\n\
             frank@example.com {RSA}\n"
        );
        let signers = parse(&text).expect("parses");
        let ed = key(ED);
        let p256 = key(P256);
        let rsa = key(RSA);
        let now = utc(2026, 6, 1, 0, 0, 0);
        let ns = "autonomy-approval";

        assert_eq!(signers.authorize("alice@example.com", &ed, ns, now), Ok(()));
        assert_eq!(
            signers.authorize("alice@example.com", &p256, ns, now),
            Ok(())
        );
        assert_eq!(signers.authorize("bob@example.com", &p256, ns, now), Ok(()));
        assert_eq!(
            signers.authorize("frank@example.com", &rsa, ns, now),
            Ok(())
        );
        // Comment on the presented key does not matter.
        assert_eq!(
            signers.authorize("frank@example.com", &key(&format!("{RSA} other")), ns, now),
            Ok(())
        );

        let refused =
            |p: &str, k: &PublicKey, n: &str, at| signers.authorize(p, k, n, at).expect_err(p);
        assert!(matches!(
            refused("mallory@example.com", &p256, ns, now),
            Refusal::UnknownPrincipal { .. }
        ));
        assert!(matches!(
            refused("bob@example.com", &ed, ns, now),
            Refusal::UnknownPrincipal { .. }
        ));
        assert!(matches!(
            refused("erin@example.com", &ed, ns, now),
            Refusal::UnknownPrincipal { .. }
        ));
        assert_eq!(
            refused("carol@example.com", &ed, ns, now),
            Refusal::NamespaceNotAllowed {
                principal: "carol@example.com".to_owned(),
                fingerprint: ED_FP.to_owned(),
                namespace: ns.to_owned(),
                line: 3,
            }
        );
        assert!(matches!(
            refused("bob@example.com", &p256, "git", now),
            Refusal::NamespaceNotAllowed { line: 2, .. }
        ));
        assert_eq!(signers.authorize("dave@example.com", &ed, ns, now), Ok(()));
        // Bounds are inclusive.
        assert_eq!(
            signers.authorize("dave@example.com", &ed, ns, utc(2026, 1, 1, 0, 0, 0)),
            Ok(())
        );
        assert_eq!(
            signers.authorize("dave@example.com", &ed, ns, utc(2026, 12, 31, 0, 0, 0)),
            Ok(())
        );
        let early = refused("dave@example.com", &ed, ns, utc(2025, 12, 31, 23, 59, 59));
        assert!(matches!(
            early,
            Refusal::OutsideValidityWindow {
                bound: ValidityBound::ValidAfter,
                line: 4,
                ..
            }
        ));
        assert!(
            early
                .to_string()
                .contains("valid-after 2026-01-01T00:00:00Z"),
            "{early}"
        );
        let late = refused("dave@example.com", &ed, ns, utc(2026, 12, 31, 0, 0, 1));
        assert!(matches!(
            late,
            Refusal::OutsideValidityWindow {
                bound: ValidityBound::ValidBefore,
                ..
            }
        ));
        assert!(late.to_string().contains("valid-before"), "{late}");
        assert_eq!(
            refused("nobody", &ed, ns, now).to_string(),
            format!(
                "unknown principal: no allowed_signers entry lists \"nobody\" with key {ED_FP}; that key is listed for \"alice@example.com\": the approval must be made as that identity (`autonomy approve --as ID --sign-with KEY`)"
            )
        );
    }
}
