//! The one check for every path anything names: a change's path, an exec step's `cwd`
//! and `touches`, `[verify] writes`, spool files, link locations. Paths are normalised
//! (`/`-separated, no `.`/`..`/empty component), bounded in size, free of characters a
//! terminal would hide or reorder, and never reach a `.autonomy` state folder (this
//! workspace's or a nested one's, in any case spelling). Globs pass the same checks on
//! their literal parts and are bounded when matched: a [`Globs`] never covers a path
//! with a `.autonomy` component or inside a nested workspace, however wide the pattern.
//!
//! SECURITY.md ("Paths and globs") is the contract; the tests are in
//! tests/integration/hostile_paths.rs.

pub mod chars;
pub mod overlap;
pub mod writable;

use crate::error::{Error, Result};
use globset::{GlobBuilder, GlobMatcher};
use std::fmt;

pub use chars::{escape, forbidden_char, printable, printable_block, printable_content};

/// The longest path (or glob) accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// The longest single component, in bytes (what Linux file systems allow).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// The most components a path may have.
pub const MAX_DEPTH: usize = 255;

/// The state folder's name.
const STATE: &str = STATE_DIR;

/// Full case folding, as a case-insensitive file system compares names (ext4 casefold
/// directories, exFAT, SMB): every character through its uppercase and back, so `ſ`
/// (long s) is `s`, `K` (Kelvin sign) is `k`, `ß` is `ss` and `ﬁ` is `fi`. ASCII case
/// alone misses those: `ſecrets/key.pem` named `secrets/key.pem` on such a file system.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    s.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a single name is a state folder's: `.autonomy` in any case, also with the
/// trailing dots and spaces that Windows-style file systems (SMB, vfat) drop.
pub fn is_state_name(name: &str) -> bool {
    let trimmed = name.trim_end_matches(['.', ' ']);
    trimmed.eq_ignore_ascii_case(STATE) || (!trimmed.is_ascii() && fold(trimmed) == STATE)
}

/// Whether any component of a (normalised) path is a state folder's name.
pub fn names_state(path: &str) -> bool {
    path.split('/').any(is_state_name)
}

/// Quote a raw input for an error message: escaped, clipped, never megabytes long.
pub fn shown(raw: &str) -> String {
    let head: String = raw.chars().take(200).collect();
    let more = if head.len() < raw.len() { "…" } else { "" };
    format!("\"{}{more}\"", escape(&head).replace('"', "\\\""))
}

fn refuse(raw: &str, why: impl std::fmt::Display) -> Error {
    Error::failed(format!("path {} {why}", shown(raw)))
        .hint("plan paths are relative to the workspace root and must stay inside it")
}

/// Check the characters and size of a raw path or glob before anything else looks at it.
fn check_text(raw: &str, what: &str) -> Result<()> {
    if raw.len() > MAX_PATH_BYTES {
        return Err(Error::failed(format!(
            "{what} {} is too long ({} bytes; the limit is {MAX_PATH_BYTES})",
            shown(raw),
            raw.len()
        )));
    }
    if raw.is_empty() {
        return Err(Error::failed(format!("{what} is empty")));
    }
    if let Some((c, why)) = raw.chars().find_map(|c| forbidden_char(c).map(|w| (c, w))) {
        return Err(Error::failed(format!(
            "{what} {} contains {why} (U+{:04X}); autonomy names paths only with visible characters",
            shown(raw),
            c as u32
        ))
        .hint("rename the file, or leave it out of the plan"));
    }
    Ok(())
}

fn check_component(raw: &str, part: &str) -> Result<()> {
    if part.len() > MAX_COMPONENT_BYTES {
        return Err(refuse(
            raw,
            format!("has a component longer than {MAX_COMPONENT_BYTES} bytes"),
        ));
    }
    if is_state_name(part) {
        return Err(refuse(
            raw,
            "points into .autonomy/ (this workspace's or a nested workspace's state), which only autonomy itself may change",
        ));
    }
    Ok(())
}

/// Validate and normalise a workspace-relative path (the rules of [`crate::paths::RelPath`]).
pub fn normalise(raw: &str) -> Result<String> {
    check_text(raw, "path")?;
    if raw.starts_with('/') || raw.starts_with('\\') || std::path::Path::new(raw).is_absolute() {
        return Err(refuse(raw, "is absolute"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(refuse(raw, "escapes the workspace through `..`"));
                }
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(refuse(raw, "names the workspace root itself"));
    }
    // `\x` reads as absolute on some systems; refused wherever it ends up first, so
    // that normalising is idempotent (`./\x` is refused as `\x` is).
    if parts[0].starts_with('\\') {
        return Err(refuse(raw, "is absolute"));
    }
    if parts.len() > MAX_DEPTH {
        return Err(refuse(
            raw,
            format!("is too deep (more than {MAX_DEPTH} components)"),
        ));
    }
    for p in &parts {
        check_component(raw, p)?;
    }
    Ok(parts.join("/"))
}

/// A glob that passed [`check_glob`]: the pattern as written, and its literal folder
/// prefix (the components before the first one with a wildcard; for a pattern that is
/// all literal, its parent folder). A pattern without `/` matches at any depth (as in
/// `.gitignore`), so its prefix is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobSpec {
    pub pattern: String,
    pub prefix: Vec<String>,
}

fn has_wildcard(part: &str) -> bool {
    part.contains(['*', '?', '[', ']', '{', '}'])
}

/// Check a glob written by a plan (`touches`) or the rules (`[verify] writes`): the same
/// character and size rules as a path; no `.`, `..` or empty component; no `\` escapes
/// (they would hide a literal name from these checks); brackets and braces that never
/// span a `/`; and no literal component naming a state folder. One leading `/` anchors
/// the pattern at the root, and one trailing `/` is allowed.
pub fn check_glob(raw: &str) -> Result<GlobSpec> {
    let bad = |why: &str| {
        Error::failed(format!("glob {} {why}", shown(raw))).hint(
            "globs are relative to the workspace root, e.g. \"gen/**\" or \"*.pyc\"; they cannot leave it or reach .autonomy/",
        )
    };
    check_text(raw, "glob")?;
    if raw.contains('\\') {
        return Err(bad("contains `\\`; escapes are not accepted in plan globs"));
    }
    let body = raw.strip_prefix('/').unwrap_or(raw);
    let body = body.strip_suffix('/').unwrap_or(body);
    if body.is_empty() {
        return Err(bad("names the workspace root itself"));
    }
    // Brackets and braces must close within one component.
    let (mut square, mut curly) = (false, 0usize);
    for c in body.chars() {
        match c {
            '[' if !square => square = true,
            ']' if square => square = false,
            '{' if !square => curly += 1,
            '}' if !square && curly > 0 => curly -= 1,
            '/' if square || curly > 0 => {
                return Err(bad("has a `[...]` or `{...}` that spans a `/`"));
            }
            _ => {}
        }
    }
    if square || curly > 0 {
        return Err(bad("has an unclosed `[` or `{`"));
    }
    let parts: Vec<&str> = body.split('/').collect();
    if parts.len() > MAX_DEPTH {
        return Err(bad("is too deep"));
    }
    for p in &parts {
        match *p {
            "" => return Err(bad("has an empty component (`//`)")),
            "." | ".." => {
                return Err(bad(
                    "has a `.` or `..` component; write the pattern from the workspace root",
                ));
            }
            p if p.len() > MAX_COMPONENT_BYTES => {
                return Err(bad("has a component longer than 255 bytes"));
            }
            p if !has_wildcard(p) && is_state_name(p) => {
                return Err(bad(
                    "names .autonomy/ (this workspace's or a nested workspace's state), which nothing but autonomy may change",
                ));
            }
            _ => {}
        }
    }
    let anchored = raw.starts_with('/') || parts.len() > 1;
    let mut prefix: Vec<String> = Vec::new();
    if anchored {
        for p in &parts {
            if has_wildcard(p) {
                break;
            }
            prefix.push(p.to_string());
        }
        if prefix.len() == parts.len() {
            prefix.pop();
        }
    }
    compile(raw, false)?;
    Ok(GlobSpec {
        pattern: raw.to_string(),
        prefix,
    })
}

/// Compile a glob with the design's semantics: `*`/`?` within a segment, `**` across, and
/// a pattern without `/` matching the name at any depth (as in `.gitignore`).
/// `case_insensitive` is for the rules, which must also catch `Secrets/x` for `secrets/**`.
pub fn compile(pattern: &str, case_insensitive: bool) -> Result<GlobMatcher> {
    let trimmed = pattern.trim_start_matches('/');
    let full = if pattern.contains('/') {
        trimmed.trim_end_matches('/').to_string()
    } else {
        format!("**/{trimmed}")
    };
    let glob = GlobBuilder::new(&full)
        .literal_separator(true)
        .backslash_escape(true)
        .case_insensitive(case_insensitive)
        .build()
        .map_err(|e| Error::failed(format!("invalid glob {}: {e}", shown(pattern))))?;
    Ok(glob.compile_matcher())
}

/// A set of checked globs that is bounded when matched: it never covers a path with a
/// `.autonomy` component, nor a path inside a nested workspace it was told about.
#[derive(Debug, Clone)]
pub struct Globs {
    specs: Vec<GlobSpec>,
    matchers: Vec<GlobMatcher>,
    nested: Vec<String>,
}

impl Globs {
    /// Check and compile every pattern (at plan time, and again wherever a stored plan
    /// or the rules are used).
    pub fn new(patterns: &[String]) -> Result<Globs> {
        let mut specs = Vec::with_capacity(patterns.len());
        let mut matchers = Vec::with_capacity(patterns.len());
        for p in patterns {
            specs.push(check_glob(p)?);
            matchers.push(compile(p, false)?);
        }
        Ok(Globs {
            specs,
            matchers,
            nested: Vec::new(),
        })
    }

    /// Also leave out everything inside these nested workspaces (folders holding their
    /// own `.autonomy/`), as found by a scan.
    pub fn excluding(mut self, nested: Vec<String>) -> Globs {
        self.nested = nested;
        self
    }

    pub fn specs(&self) -> &[GlobSpec] {
        &self.specs
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Whether `path` (normalised, workspace-relative) is covered.
    pub fn covers(&self, path: &str) -> bool {
        !names_state(path)
            && !in_nested(path, &self.nested)
            && self.matchers.iter().any(|g| g.is_match(path))
    }

    /// Whether some path at or below the folder `dir` might be covered (conservative).
    pub fn might_cover_under(&self, dir: &str) -> bool {
        if names_state(dir) || in_nested(dir, &self.nested) {
            return false;
        }
        let under = format!("{dir}/**");
        self.specs
            .iter()
            .any(|s| overlap::may_overlap(&s.pattern, &under, false))
    }
}

/// Whether `path` is a nested workspace root in `nested` or inside one.
pub fn in_nested(path: &str, nested: &[String]) -> bool {
    nested.iter().any(|n| {
        path == n
            || (path.len() > n.len()
                && path.starts_with(n.as_str())
                && path.as_bytes()[n.len()] == b'/')
    })
}

/// The nested workspaces among scanned paths: the folder of every entry whose name is a
/// state folder's, other than the root's own `.autonomy`.
pub fn nested_workspaces<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = paths
        .into_iter()
        .filter_map(|p| {
            let (dir, name) = p.rsplit_once('/')?;
            is_state_name(name).then(|| dir.to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The name of the state directory at the workspace root.
pub const STATE_DIR: &str = ".autonomy";
/// The rules file at the workspace root.
pub const RULES_FILE: &str = "autonomy.toml";

/// A normalised workspace-relative path: `/`-separated, no `.` or `..`, no empty
/// component, not absolute, only visible characters, and no component named `.autonomy`
/// in any spelling (this workspace's state or a nested workspace's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct RelPath(String);

impl RelPath {
    /// Validate and normalise a path written by a plan, a patch or a user: the one path
    /// check of [`crate::paths`] (inside the workspace, never into any `.autonomy`, only
    /// visible characters, bounded in size).
    pub fn parse(raw: &str) -> Result<RelPath> {
        normalise(raw).map(RelPath)
    }

    /// For values read back from our own journal; still validated.
    pub fn from_stored(raw: &str) -> Result<RelPath> {
        RelPath::parse(raw)
            .map_err(|e| Error::integrity(format!("journal holds an invalid path: {}", e.message)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent path, or `None` at the top level.
    pub fn parent(&self) -> Option<RelPath> {
        self.0.rsplit_once('/').map(|(p, _)| RelPath(p.to_string()))
    }

    pub fn file_name(&self) -> &str {
        self.0.rsplit_once('/').map_or(self.0.as_str(), |(_, n)| n)
    }

    pub fn join(&self, name: &str) -> Result<RelPath> {
        RelPath::parse(&format!("{}/{}", self.0, name))
    }

    pub fn depth(&self) -> usize {
        self.0.matches('/').count() + 1
    }

    /// Every proper ancestor, outermost first (`a`, `a/b` for `a/b/c`).
    pub fn ancestors(&self) -> Vec<RelPath> {
        let mut out = Vec::new();
        let mut end = 0;
        while let Some(i) = self.0[end..].find('/') {
            out.push(RelPath(self.0[..end + i].to_string()));
            end += i + 1;
        }
        out
    }

    pub fn is_within(&self, dir: &RelPath) -> bool {
        self.0.len() > dir.0.len()
            && self.0.starts_with(&dir.0)
            && self.0.as_bytes()[dir.0.len()] == b'/'
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_or_refused() {
        assert_eq!(normalise("a//b/./c").unwrap(), "a/b/c");
        assert_eq!(normalise("a/x/../b").unwrap(), "a/b");
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "/etc/passwd",
            "x/../../y",
            "x/../.autonomy/allowed_signers",
            "sub/.autonomy/allowed_signers",
            "sub/.AUTONOMY/journal.db",
            "sub/.autonomy./x",
            "autonomy\u{200B}.toml",
            "readme\u{202E}gnp.sh",
            "a\u{0}b",
            "a\u{2028}b",
            "a\u{00A0}b",
            "./\\",
            ".//\\x/y",
        ] {
            assert!(normalise(bad).is_err(), "{bad:?} accepted");
        }
        assert!(normalise(&"a".repeat(MAX_PATH_BYTES + 1)).is_err());
        assert!(normalise(&"a".repeat(256)).is_err());
        assert!(normalise("Ünïcödé/名前.txt").is_ok());
    }

    #[test]
    fn globs_are_checked_on_their_literal_parts() {
        assert_eq!(check_glob("gen/**").unwrap().prefix, ["gen"]);
        assert_eq!(
            check_glob("gen/sub/out.txt").unwrap().prefix,
            ["gen", "sub"]
        );
        assert!(check_glob("*.pyc").unwrap().prefix.is_empty());
        assert!(check_glob("**/__pycache__/**").unwrap().prefix.is_empty());
        for bad in [
            "x/../.autonomy/allowed_signers",
            "../elsewhere/**",
            ".autonomy/**",
            "**/.Autonomy/**",
            "sub/.autonomy/allowed_signers",
            "a//b",
            "./gen/**",
            "\\.autonomy/x",
            "a[/]b",
            "{a/b,c}",
            "gen\u{200B}/**",
            "",
            "/",
        ] {
            assert!(check_glob(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn globs_never_cover_state() {
        let g = Globs::new(&["**".to_string(), "*/allowed_signers".to_string()]).unwrap();
        assert!(g.covers("src/a.rs"));
        assert!(!g.covers(".autonomy/allowed_signers"));
        assert!(!g.covers("sub/.autonomy/journal.db"));
        assert!(!g.covers("sub/.AUTONOMY/journal.db"));
        let g = g.excluding(vec!["sub".into()]);
        assert!(!g.covers("sub/autonomy.toml"));
        assert!(!g.covers("sub"));
        assert!(g.covers("subway/x"));
        assert_eq!(
            nested_workspaces(["a", "sub/.autonomy", "sub/.autonomy/x", "b/c/.Autonomy"]),
            ["b/c", "sub"]
        );
    }
}
