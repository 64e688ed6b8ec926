//! Everything that reaches the terminal: colours, diffs, previews, logs, tables, the pager.
//! Data goes to stdout, human messages to stderr; JSON documents carry a format version.

pub mod color;
pub mod diff;
pub mod log;
pub mod pager;
pub mod preview;
pub mod stats;
pub mod status;
pub mod termsafe;

pub use crate::model::FORMAT_VERSION;

/// One JSON document as every command prints it: `format_version` first, then every key in
/// alphabetical order at every depth. One order for every command, so that documents diff
/// cleanly and read alike (docs/json.md).
pub fn json_document(value: &impl serde::Serialize, pretty: bool) -> serde_json::Result<String> {
    let v = serde_json::to_value(value)?;
    if pretty {
        serde_json::to_string_pretty(&VersionFirst(&v))
    } else {
        serde_json::to_string(&VersionFirst(&v))
    }
}

/// A value whose top-level `format_version` is written first; everything else keeps
/// serde_json's map order, which is alphabetical.
pub struct VersionFirst<'a>(pub &'a serde_json::Value);

impl serde::Serialize for VersionFirst<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let serde_json::Value::Object(map) = self.0 else {
            return self.0.serialize(ser);
        };
        let mut out = ser.serialize_map(Some(map.len()))?;
        if let Some(v) = map.get("format_version") {
            out.serialize_entry("format_version", v)?;
        }
        for (k, v) in map.iter().filter(|(k, _)| *k != "format_version") {
            out.serialize_entry(k, v)?;
        }
        out.end()
    }
}

/// A plan's changes counted by kind as `autonomy plan` says them ("1 new", "2 modified",
/// "1 renamed", ...), in the order of the kinds' names, then its exec steps.
pub fn change_counts(
    by_kind: &std::collections::BTreeMap<&str, usize>,
    exec_steps: usize,
) -> Vec<String> {
    let mut parts: Vec<String> = by_kind
        .iter()
        .map(|(k, v)| {
            let what = match *k {
                "create" => "new",
                "modify" => "modified",
                "delete" => "deleted",
                "move" => "moved",
                "chmod" => "mode changed",
                "mkdir" => "new folder",
                "rmdir" => "removed folder",
                other => other,
            };
            format!("{v} {what}")
        })
        .collect();
    if exec_steps > 0 {
        parts.push(crate::util::text::count(exec_steps as u64, "exec step"));
    }
    parts
}
