//! The plan file (TOML) that actors write. Unknown keys are errors; each kind accepts only
//! its own keys, so a typo never silently changes meaning.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub title: String,
    pub author: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub action: Vec<Action>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub id: Option<String>,
    pub kind: String,
    pub path: Option<String>,
    pub after: Option<Vec<String>>,
    pub content: Option<String>,
    pub content_base64: Option<String>,
    pub content_file: Option<String>,
    pub mode: Option<String>,
    pub executable: Option<bool>,
    pub find: Option<String>,
    pub replace: Option<String>,
    pub count: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub run: Option<Vec<String>>,
    pub touches: Option<Vec<String>>,
    pub timeout: Option<String>,
    pub cwd: Option<String>,
    pub env: Option<BTreeMap<String, String>>,
}

pub const KINDS: &[&str] = &["write", "edit", "delete", "move", "mkdir", "chmod", "exec"];

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
    toml::from_str(text).map_err(|e| {
        Error::failed(format!(
            "plan file {name} is not a valid plan: {}",
            crate::error::clip_lines(e.to_string().trim_end(), 200)
        ))
        .hint(FORMAT_HINT)
    })
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
