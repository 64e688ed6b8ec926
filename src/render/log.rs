//! The journal as people and machines read it: one line per event (text), one document
//! (json), or one object per line (jsonl).

use super::color;
use crate::store::journal::Event;
use console::Style;
use serde_json::{Value, json};
use std::fmt::Write;

/// An event as printed in JSON: its stored columns, `data` decoded, and `duration_ms`
/// lifted up for run events.
pub fn event_json(e: &Event) -> Value {
    let data: Value = serde_json::from_str(&e.data).unwrap_or(Value::String(e.data.clone()));
    let mut v = json!({
        "seq": e.seq, "at": e.at, "actor": e.actor, "kind": e.kind, "plan": e.plan,
        "rules": e.rules, "data": data, "prev": e.prev, "hash": e.hash,
    });
    if let Some(d) = v["data"].get("duration_ms").cloned() {
        v["duration_ms"] = d;
    }
    v
}

/// One line summarising an event.
pub fn summary(e: &Event) -> String {
    let d: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
    let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let n = |k: &str| d.get(k).and_then(Value::as_u64).unwrap_or(0);
    match e.kind.as_str() {
        "init" => format!("workspace {}", s("workspace")),
        "plan.created" => match d.get("reverses").and_then(Value::as_str) {
            Some(r) => {
                let only = match d.get("partial").and_then(Value::as_bool) {
                    Some(true) => {
                        let paths: Vec<&str> = d
                            .get("paths")
                            .and_then(Value::as_array)
                            .map(|a| a.iter().filter_map(Value::as_str).collect())
                            .unwrap_or_default();
                        format!(" (only {})", paths.join(", "))
                    }
                    _ => String::new(),
                };
                format!(
                    "{:?}, {} change(s), reverses {}{only}",
                    s("title"),
                    n("changes"),
                    &r[..12.min(r.len())]
                )
            }
            None => format!(
                "{:?}, {} change(s) by {}",
                s("title"),
                n("changes"),
                s("author")
            ),
        },
        "plan.previewed" => "previewed".into(),
        "approval.granted" => {
            let key = d
                .get("key_fingerprint")
                .and_then(Value::as_str)
                .map(|k| format!(", key {k}"))
                .unwrap_or_default();
            format!("approved by {} ({}{key})", s("principal"), s("method"))
        }
        "approval.declined" => format!("declined by {}", s("principal")),
        "approval.refused" if d.get("valid").and_then(Value::as_bool) == Some(true) => format!(
            "approval by {} not counted: {}",
            s("principal"),
            s("reason")
        ),
        "approval.refused" => format!("approval refused: {}", s("reason")),
        "plan.rejected" => format!("rejected by {}", s("principal")),
        "run.started" => format!(
            "run {} started ({}, {} change(s))",
            n("run"),
            s("kind"),
            n("changes")
        ),
        "run.step" => format!("{} {}", s("action"), s("path")),
        "run.committed" => format!(
            "run {} committed: {} file(s), {} byte(s) in {} ms",
            n("run"),
            n("files_changed"),
            n("bytes_written"),
            n("duration_ms")
        ),
        "run.failed" => format!(
            "run {} failed: {}",
            n("run"),
            s("error").lines().next().unwrap_or("")
        ),
        "run.rolled_back" => format!("run {} rolled back", n("run")),
        "run.recovered" => format!(
            "run {} recovered: {} path(s) restored",
            n("run"),
            d.get("restored")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        ),
        "run.recovery_stopped" => format!(
            "recovery of run {} stopped after restoring {} path(s): {}",
            n("run"),
            d.get("restored")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
            s("error").lines().next().unwrap_or("")
        ),
        "sandbox.proposal_refused" => format!(
            "{} from {} refused: {}{}",
            s("file"),
            s("agent"),
            s("reason").lines().next().unwrap_or(""),
            d.get("kept")
                .and_then(Value::as_str)
                .map(|k| format!(" (kept as {k})"))
                .unwrap_or_default()
        ),
        "sandbox.finished" if d.get("error").is_some_and(|e| !e.is_null()) => {
            format!("{} did not run: {}", s("agent"), s("error"))
        }
        "sandbox.finished" => format!("{} exited with status {}", s("agent"), n("exit")),
        "rules.changed" => format!(
            "rules changed ({} -> {})",
            short(&s("from")),
            short(&s("to"))
        ),
        "gc" => format!(
            "gc removed {} blob(s), {} byte(s)",
            n("removed"),
            n("bytes")
        ),
        _ => {
            let mut t = e.data.clone();
            t.truncate(100);
            t
        }
    }
}

fn short(h: &str) -> &str {
    &h[..12.min(h.len())]
}

pub fn render_text(events: &[Event], styled: &dyn Fn(&Style, &str) -> String) -> String {
    let mut out = String::new();
    for e in events {
        let plan = e.plan.as_deref().map(short).unwrap_or("-");
        let kind_style = match e.kind.as_str() {
            k if k.ends_with("failed")
                || k.ends_with("refused")
                || k.ends_with("declined")
                || k.ends_with("rejected") =>
            {
                color::removed()
            }
            k if k.ends_with("committed") || k.ends_with("granted") => color::added(),
            _ => Style::new(),
        };
        let _ = writeln!(
            out,
            "{}  {}  {:<16}  {:<12}  {}  {}",
            styled(&color::dim(), &format!("{:>5}", e.seq)),
            e.at,
            styled(&kind_style, &e.kind),
            styled(&color::id(), plan),
            super::diff::printable(&e.actor),
            super::diff::printable(&summary(e))
        );
    }
    out
}
