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
        let allowed: &[&str] = match self.kind.as_str() {
            "write" => &[
                "path",
                "content",
                "content_base64",
                "content_file",
                "mode",
                "executable",
            ],
            "edit" => &["path", "find", "replace", "count"],
            "delete" => &["path"],
            "move" => &["from", "to"],
            "mkdir" => &["path"],
            "chmod" => &["path", "mode", "executable"],
            "exec" => &["run", "touches", "timeout", "cwd", "env"],
            other => {
                return Err(Error::failed(format!(
                    "action {}: unknown kind {}; expected one of {}",
                    index + 1,
                    crate::error::clip_lines(&format!("{other:?}"), 80),
                    KINDS.join(", ")
                )));
            }
        };
        for (key, set) in present {
            if set && !allowed.contains(&key) {
                return Err(Error::failed(format!(
                    "{}: `{key}` is not a key of a {} action (it takes {})",
                    self.label(index),
                    self.kind,
                    allowed.join(", ")
                )));
            }
        }
        Ok(())
    }
}

pub fn parse(text: &str, name: &str) -> Result<PlanFile> {
    toml::from_str(text).map_err(|e| {
        Error::failed(format!(
            "plan file {name} is not a valid plan: {}",
            crate::error::clip_lines(e.to_string().trim_end(), 200)
        ))
        .hint("see the plan file format in README.md (title, then [[action]] tables)")
    })
}

/// Parse `0755`, `755` or `0o755` into permission bits.
pub fn parse_mode(raw: &str) -> Option<u32> {
    let digits = raw.trim_start_matches("0o");
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    u32::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}
