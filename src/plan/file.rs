//! The plan file (TOML) that actors write. Unknown keys are errors; each kind accepts only
//! its own keys, so a typo never silently changes meaning.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    #[serde(deserialize_with = "bounded::title")]
    pub title: String,
    #[serde(default, deserialize_with = "bounded::author")]
    pub author: Option<String>,
    #[serde(default, deserialize_with = "bounded::description")]
    pub description: Option<String>,
    #[serde(default)]
    pub action: Vec<Action>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    #[serde(default, deserialize_with = "bounded::name")]
    pub id: Option<String>,
    #[serde(deserialize_with = "bounded::kind")]
    pub kind: String,
    #[serde(default, deserialize_with = "bounded::path")]
    pub path: Option<String>,
    #[serde(default, deserialize_with = "bounded::after")]
    pub after: Option<Vec<String>>,
    pub content: Option<String>,
    pub content_base64: Option<String>,
    #[serde(default, deserialize_with = "bounded::path")]
    pub content_file: Option<String>,
    #[serde(default, deserialize_with = "bounded::name")]
    pub mode: Option<String>,
    pub executable: Option<bool>,
    pub find: Option<String>,
    pub replace: Option<String>,
    pub count: Option<i64>,
    #[serde(default, deserialize_with = "bounded::path")]
    pub from: Option<String>,
    #[serde(default, deserialize_with = "bounded::path")]
    pub to: Option<String>,
    /// A symlink's target, recorded verbatim (never followed).
    #[serde(default, deserialize_with = "bounded::path")]
    pub target: Option<String>,
    #[serde(default, deserialize_with = "bounded::run")]
    pub run: Option<Vec<String>>,
    #[serde(default, deserialize_with = "bounded::touches")]
    pub touches: Option<Vec<String>>,
    #[serde(default, deserialize_with = "bounded::name")]
    pub timeout: Option<String>,
    #[serde(default, deserialize_with = "bounded::path")]
    pub cwd: Option<String>,
    #[serde(default, deserialize_with = "bounded::env")]
    pub env: Option<BTreeMap<String, String>>,
}

/// The size limits of a plan's text fields (SECURITY.md, "Input bounds"; docs/guide.md).
pub mod limits {
    /// A title: one line.
    pub const MAX_TITLE_BYTES: usize = 1024;
    /// An author (an identity).
    pub const MAX_AUTHOR_BYTES: usize = 256;
    /// A description.
    pub const MAX_DESCRIPTION_BYTES: usize = 64 << 10;
    /// An action's `id`, `kind`, `mode`, `timeout`, and each name in `after`.
    pub const MAX_NAME_BYTES: usize = 128;
    /// Names in one action's `after`.
    pub const MAX_AFTER: usize = 1024;
}

/// Deserializers that refuse an oversized field while the plan file is parsed, before
/// any copy of it is made (a 100 MB title costs the plan file's bytes and nothing more).
mod bounded {
    use super::limits::*;
    use crate::paths::MAX_PATH_BYTES;
    use crate::plan::exec_check::{
        MAX_ARG_BYTES, MAX_ARGS, MAX_ENV_NAME_BYTES, MAX_ENV_VALUE_BYTES, MAX_ENV_VARS, MAX_TOUCHES,
    };
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::collections::BTreeMap;
    use std::fmt;

    struct Str {
        max: usize,
        what: &'static str,
    }

    impl<'de> Visitor<'de> for Str {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a string of at most {} bytes", self.max)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            if v.len() > self.max {
                return Err(E::custom(format!(
                    "{} is {} bytes long; the limit is {}",
                    self.what,
                    v.len(),
                    self.max
                )));
            }
            Ok(v.to_string())
        }
    }

    struct List {
        max: usize,
        each: usize,
        what: &'static str,
    }

    impl<'de> Visitor<'de> for List {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {} strings", self.max)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element_seed(Seed(Str {
                max: self.each,
                what: self.what,
            }))? {
                if out.len() == self.max {
                    return Err(de::Error::custom(format!(
                        "{} has more than {} entries",
                        self.what, self.max
                    )));
                }
                out.push(v);
            }
            Ok(out)
        }
    }

    struct Seed(Str);

    impl<'de> de::DeserializeSeed<'de> for Seed {
        type Value = String;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
            d.deserialize_str(self.0)
        }
    }

    struct Env;

    impl<'de> Visitor<'de> for Env {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a table of at most {MAX_ENV_VARS} variables")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<BTreeMap<String, String>, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(k) = map.next_key_seed(Seed(Str {
                max: MAX_ENV_NAME_BYTES,
                what: "an `env` name",
            }))? {
                let v = map.next_value_seed(Seed(Str {
                    max: MAX_ENV_VALUE_BYTES,
                    what: "an `env` value",
                }))?;
                if out.len() == MAX_ENV_VARS {
                    return Err(de::Error::custom(format!(
                        "`env` has more than {MAX_ENV_VARS} variables"
                    )));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }

    fn string<'de, D: Deserializer<'de>>(
        d: D,
        max: usize,
        what: &'static str,
    ) -> Result<String, D::Error> {
        d.deserialize_str(Str { max, what })
    }

    pub fn title<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        string(d, MAX_TITLE_BYTES, "`title`")
    }
    pub fn kind<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        string(d, MAX_NAME_BYTES, "`kind`")
    }
    pub fn author<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        string(d, MAX_AUTHOR_BYTES, "`author`").map(Some)
    }
    pub fn description<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        string(d, MAX_DESCRIPTION_BYTES, "`description`").map(Some)
    }
    pub fn name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        string(d, MAX_NAME_BYTES, "the value").map(Some)
    }
    pub fn path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        string(d, MAX_PATH_BYTES, "a path").map(Some)
    }
    pub fn after<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let v = List {
            max: MAX_AFTER,
            each: MAX_NAME_BYTES,
            what: "`after`",
        };
        d.deserialize_seq(v).map(Some)
    }
    pub fn run<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let v = List {
            max: MAX_ARGS,
            each: MAX_ARG_BYTES,
            what: "`run`",
        };
        d.deserialize_seq(v).map(Some)
    }
    pub fn touches<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        let v = List {
            max: MAX_TOUCHES,
            each: MAX_PATH_BYTES,
            what: "`touches`",
        };
        d.deserialize_seq(v).map(Some)
    }
    pub fn env<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeMap<String, String>>, D::Error> {
        d.deserialize_map(Env).map(Some)
    }
}

/// The header of any plan, whatever door it came through (a plan file, a patch, a
/// capture): bounded in size. (What a terminal would hide or act on is escaped wherever
/// a title is shown: `render::diff::printable`.)
pub fn check_meta(title: &str, author: &str, description: Option<&str>) -> Result<()> {
    use limits::*;
    if title.trim().is_empty() {
        return Err(Error::failed("the plan's `title` must not be empty"));
    }
    // A title and an author are one line everywhere they are shown: a newline in one
    // could print a line that passes for a header, a risk line or a log event.
    for (what, text) in [("title", title), ("author", author)] {
        if let Some((at, c)) = text.char_indices().find(|(_, c)| c.is_control()) {
            return Err(Error::failed(format!(
                "the plan's `{what}` holds the control character {} at byte {at}; a {what} is one line of visible text",
                c.escape_unicode()
            ))
            .hint("put further lines in `description`"));
        }
    }
    for (what, text, max) in [
        ("title", title, MAX_TITLE_BYTES),
        ("author", author, MAX_AUTHOR_BYTES),
        (
            "description",
            description.unwrap_or(""),
            MAX_DESCRIPTION_BYTES,
        ),
    ] {
        if text.len() > max {
            return Err(Error::failed(format!(
                "the plan's {what} is {} bytes long; the limit is {max}",
                text.len()
            )));
        }
    }
    Ok(())
}

pub const KINDS: &[&str] = &[
    "write", "edit", "delete", "move", "mkdir", "chmod", "symlink", "exec",
];

/// The header keys of a plan file.
pub const HEADER_KEYS: &[&str] = &["title", "author", "description", "action"];
/// The keys every action takes, whatever its kind.
pub const COMMON_KEYS: &[&str] = &["kind", "id", "after"];
/// The keys each kind takes besides the common ones.
pub const KIND_KEYS: &[(&str, &[&str])] = &[
    (
        "write",
        &[
            "path",
            "content",
            "content_base64",
            "content_file",
            "mode",
            "executable",
        ],
    ),
    ("edit", &["path", "find", "replace", "count"]),
    ("delete", &["path"]),
    ("move", &["from", "to"]),
    ("mkdir", &["path"]),
    ("chmod", &["path", "mode", "executable"]),
    ("symlink", &["path", "target"]),
    ("exec", &["run", "touches", "timeout", "cwd", "env"]),
];

/// Where every error about a plan file sends the reader: the format's own page.
pub const FORMAT_HINT: &str =
    "see the plan file format: `autonomy help plan-file` (or `man 5 autonomy-plan`)";

fn kind_keys(kind: &str) -> Option<&'static [&'static str]> {
    KIND_KEYS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, keys)| *keys)
}

/// Every key an action may have, of any kind.
fn action_keys() -> Vec<&'static str> {
    let mut all: Vec<&str> = COMMON_KEYS.to_vec();
    for (_, keys) in KIND_KEYS {
        for k in *keys {
            if !all.contains(k) {
                all.push(k);
            }
        }
    }
    all
}

impl Action {
    /// A name for this action in error messages: `action 3 (write VERSION)`.
    pub fn label(&self, index: usize) -> String {
        let target = self
            .path
            .as_deref()
            .or(self.from.as_deref())
            .or(self
                .run
                .as_ref()
                .and_then(|r| r.first().map(String::as_str)))
            .unwrap_or("");
        // Never print a plan file's control characters (NUL, escapes) raw to a terminal,
        // nor megabytes of hostile input.
        let clip = |s: &str| {
            crate::error::clip_lines(
                &s.chars().flat_map(char::escape_debug).collect::<String>(),
                80,
            )
        };
        let (kind, target) = (clip(&self.kind), clip(target));
        match &self.id {
            Some(id) => format!(
                "action {} ({kind} {target}, id \"{}\")",
                index + 1,
                clip(id)
            ),
            None => format!("action {} ({kind} {target})", index + 1),
        }
    }

    /// Refuse keys that do not belong to this kind.
    pub fn check_keys(&self, index: usize) -> Result<()> {
        let present: Vec<(&str, bool)> = vec![
            ("path", self.path.is_some()),
            ("content", self.content.is_some()),
            ("content_base64", self.content_base64.is_some()),
            ("content_file", self.content_file.is_some()),
            ("mode", self.mode.is_some()),
            ("executable", self.executable.is_some()),
            ("find", self.find.is_some()),
            ("replace", self.replace.is_some()),
            ("count", self.count.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("run", self.run.is_some()),
            ("touches", self.touches.is_some()),
            ("timeout", self.timeout.is_some()),
            ("cwd", self.cwd.is_some()),
            ("env", self.env.is_some()),
        ];
        let Some(allowed) = kind_keys(&self.kind) else {
            return Err(Error::failed(format!(
                "action {}: unknown kind {}; expected one of {}",
                index + 1,
                crate::error::clip_lines(&format!("{:?}", self.kind), 80),
                KINDS.join(", ")
            ))
            .hint(FORMAT_HINT));
        };
        for (key, set) in present {
            if set && !allowed.contains(&key) {
                return Err(Error::failed(format!(
                    "{}: `{key}` is not a key of a {} action (it takes {}, and {})",
                    self.label(index),
                    self.kind,
                    allowed.join(", "),
                    COMMON_KEYS.join(", ")
                ))
                .hint(FORMAT_HINT));
            }
        }
        Ok(())
    }
}

pub fn parse(text: &str, name: &str) -> Result<PlanFile> {
    // Keys first, in the order they appear: serde reports unknown keys in its map's order
    // (alphabetical) and cuts the list of valid ones short.
    if let Some(bad) = first_bad_key(text) {
        return Err(Error::failed(format!(
            "plan file {name}, line {}: {}",
            bad.line, bad.message
        ))
        .hint(FORMAT_HINT));
    }
    let bad = |e: toml::de::Error| {
        Error::failed(format!(
            "plan file {name} is not a valid plan: {}",
            describe(&e, text)
        ))
        .hint(FORMAT_HINT)
    };
    // Parsed into a document that borrows from `text`, then deserialized without handing
    // the deserializer the input: its errors would otherwise copy the whole file (and
    // render the offending line whole, however long).
    let doc = toml::de::DeTable::parse(text).map_err(bad)?;
    PlanFile::deserialize(toml::de::Deserializer::from(doc)).map_err(bad)
}

/// `line L, column C: message`, then a short excerpt of that line around the column,
/// with hidden characters escaped.
fn describe(e: &toml::de::Error, text: &str) -> String {
    let msg = crate::error::clip_lines(e.message().trim_end(), 200);
    let Some(span) = e.span() else {
        return msg;
    };
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count() + 1;
    let skip = column.saturating_sub(41);
    let excerpt: String = text[line_start..]
        .chars()
        .take_while(|&c| c != '\n')
        .skip(skip)
        .take(80)
        .collect();
    let lead = if skip > 0 { "…" } else { "" };
    format!(
        "line {line}, column {column}: {msg}\n  {line} | {lead}{}",
        crate::paths::escape(&excerpt)
    )
}

/// A key that does not belong where it is, and where it is.
#[derive(Debug, PartialEq, Eq)]
pub struct BadKey {
    pub line: usize,
    pub message: String,
}

/// The first key (by position in the file) that the plan file format does not allow
/// where it stands: an unknown header key, a key no action takes, or a key the action's
/// kind does not take. `None` when every key is in its place, or when the text is not
/// TOML at all (the parser then says why).
pub fn first_bad_key(text: &str) -> Option<BadKey> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let clip = |s: &str| {
        crate::error::clip_lines(
            &s.chars().flat_map(char::escape_debug).collect::<String>(),
            80,
        )
    };
    let mut found: Vec<(usize, String)> = Vec::new();
    for (key, value) in doc.get_ref().iter() {
        let k: &str = key.get_ref();
        if !HEADER_KEYS.contains(&k) {
            found.push((
                key.span().start,
                format!(
                    "unknown key `{}` in the header; a plan file takes {}, then [[action]] tables",
                    clip(k),
                    HEADER_KEYS[..3].join(", ")
                ),
            ));
            continue;
        }
        if k != "action" {
            continue;
        }
        let Some(actions) = value.get_ref().as_array() else {
            continue;
        };
        let all = action_keys();
        for (i, item) in actions.iter().enumerate() {
            let Some(table) = item.get_ref().as_table() else {
                continue;
            };
            let text_of = |name: &str| match table.get(name).map(|v| v.get_ref()) {
                Some(DeValue::String(s)) => Some(s.to_string()),
                _ => None,
            };
            let kind = text_of("kind");
            let target = text_of("path")
                .or_else(|| text_of("from"))
                .unwrap_or_default();
            let label = match &kind {
                Some(kind) => format!("action {} ({} {})", i + 1, clip(kind), clip(&target))
                    .replace(" )", ")"),
                None => format!("action {}", i + 1),
            };
            let allowed = kind.as_deref().and_then(kind_keys);
            for (key, _) in table.iter() {
                let k: &str = key.get_ref();
                let message = if !all.contains(&k) {
                    match (&kind, allowed) {
                        (Some(kind), Some(keys)) => format!(
                            "{label}: unknown key `{}`; a {kind} action takes {}, and {}",
                            clip(k),
                            keys.join(", "),
                            COMMON_KEYS.join(", ")
                        ),
                        _ => format!(
                            "{label}: unknown key `{}`; an action takes {}",
                            clip(k),
                            all.join(", ")
                        ),
                    }
                } else if let (Some(kind), Some(keys)) = (&kind, allowed)
                    && !keys.contains(&k)
                    && !COMMON_KEYS.contains(&k)
                {
                    format!(
                        "{label}: `{k}` is not a key of a {kind} action; it takes {}, and {}",
                        keys.join(", "),
                        COMMON_KEYS.join(", ")
                    )
                } else {
                    continue;
                };
                found.push((key.span().start, message));
            }
        }
    }
    let (offset, message) = found.into_iter().min_by_key(|(at, _)| *at)?;
    let line = text
        .get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1);
    Some(BadKey { line, message })
}

/// Parse `0755`, `755` or `0o755` into permission bits.
pub fn parse_mode(raw: &str) -> Option<u32> {
    let digits = raw.trim_start_matches("0o");
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bad_key_in_the_file_is_reported() {
        let text = "title = \"x\"\n[[action]]\nkind = \"write\"\npaht = \"a\"\ncontnt = \"b\"\n";
        let bad = first_bad_key(text).expect("a bad key");
        assert_eq!(bad.line, 4);
        assert!(bad.message.contains("`paht`"), "{}", bad.message);
        assert!(
            bad.message.contains("content_file, mode, executable"),
            "{}",
            bad.message
        );
        let text = "title = \"x\"\ntitel = \"y\"\nautor = \"z\"\n";
        assert!(
            first_bad_key(text)
                .expect("bad")
                .message
                .contains("`titel`")
        );
    }

    #[test]
    fn a_key_of_another_kind_is_named_with_the_keys_this_kind_takes() {
        let text = "title = \"x\"\n[[action]]\nkind = \"delete\"\npath = \"a\"\nfind = \"b\"\n";
        let bad = first_bad_key(text).expect("a bad key");
        assert_eq!(bad.line, 5);
        assert_eq!(
            bad.message,
            "action 1 (delete a): `find` is not a key of a delete action; it takes path, and kind, id, after"
        );
        assert!(
            first_bad_key(
                "title = \"x\"\n[[action]]\nkind = \"write\"\npath = \"a\"\ncontent = \"b\"\n"
            )
            .is_none()
        );
    }
}
