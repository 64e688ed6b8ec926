//! The journal as people and machines read it: aligned lines that fit the terminal (text),
//! one short line per event (`--oneline`), one document (json), or one object per line
//! (jsonl). Every event kind reads as a sentence, never as raw JSON.

use super::color;
use crate::ops::log::Event;
use crate::paths::printable;
use crate::util::text::{count, duration_ms, size};
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

fn short(h: &str) -> &str {
    h.get(..12).unwrap_or(h)
}

/// One sentence summarising an event, for every kind (an unknown kind lists its fields
/// as `key: value`).
pub fn summary(e: &Event) -> String {
    let d: Value = serde_json::from_str(&e.data).unwrap_or(Value::Null);
    let kind = e.kind.as_str();
    let sentence = match kind.split_once('.').map_or(kind, |(group, _)| group) {
        "plan" => plan_summary(kind, &d),
        "approval" => approval_summary(kind, &d),
        "run" => run_summary(kind, &d),
        "sandbox" => sandbox_summary(kind, &d),
        _ => workspace_summary(kind, &d),
    };
    sentence.unwrap_or_else(|| fields(&d))
}

/// A string field of an event's data (empty when missing).
fn str_field(d: &Value, k: &str) -> String {
    d.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A number field of an event's data (0 when missing).
fn num_field(d: &Value, k: &str) -> u64 {
    d.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// The quoted reason a person gave (`: "why"`), or nothing.
fn reason_field(d: &Value) -> String {
    match d.get("reason").and_then(Value::as_str) {
        Some(r) if !r.is_empty() => format!(": {r:?}"),
        _ => String::new(),
    }
}

/// `plan.*` events.
fn plan_summary(kind: &str, d: &Value) -> Option<String> {
    let s = |k: &str| str_field(d, k);
    let n = |k: &str| num_field(d, k);
    let reason = || reason_field(d);
    Some(match kind {
        "plan.created" => plan_created(d),
        "plan.previewed" => match d.get("stat").and_then(Value::as_bool) {
            Some(true) => "previewed (diffstat)".into(),
            _ => "previewed".into(),
        },
        "plan.exported" => format!("exported to {} ({})", s("file"), size(n("bytes"))),
        "plan.rejected" => format!("rejected by {}{}", s("principal"), reason()),
        _ => return None,
    })
}

/// `plan.created`: a new plan, or the reverse of an applied one.
fn plan_created(d: &Value) -> String {
    let s = |k: &str| str_field(d, k);
    let n = |k: &str| num_field(d, k);
    let risk = d
        .pointer("/risk/level")
        .and_then(Value::as_str)
        .filter(|l| *l != "low")
        .map(|l| format!(", {l} risk"))
        .unwrap_or_default();
    match d.get("reverses").and_then(Value::as_str) {
        Some(r) => {
            let only = match d.get("partial").and_then(Value::as_bool) {
                Some(true) => format!(" (only {})", strings(&d["paths"]).join(", ")),
                _ => String::new(),
            };
            format!(
                "{:?} reverses {}{only}: {}{}{risk}",
                s("title"),
                short(r),
                count(n("changes"), "change"),
                renames(d)
            )
        }
        None => {
            let source = match s("source").as_str() {
                "" | "file" => String::new(),
                other => format!(" from a {other}"),
            };
            format!(
                "{:?} by {}: {}{}{source}{risk}",
                s("title"),
                s("author"),
                count(n("changes"), "change"),
                renames(d)
            )
        }
    }
}

/// `approval.*` events.
fn approval_summary(kind: &str, d: &Value) -> Option<String> {
    let s = |k: &str| str_field(d, k);
    let reason = || reason_field(d);
    Some(match kind {
        "approval.granted" => {
            let how = match (
                s("method").as_str(),
                d.get("key_fingerprint").and_then(Value::as_str),
            ) {
                ("terminal", _) => "at a terminal".to_string(),
                (_, Some(key)) => match d.get("file").and_then(Value::as_str) {
                    Some(f) => format!("signed, key {key}, file {f}"),
                    None => format!("signed, key {key}"),
                },
                (m, None) => m.to_string(),
            };
            format!("approved by {} ({how}){}", s("principal"), reason())
        }
        "approval.declined" => format!("declined by {}{}", s("principal"), reason()),
        "approval.refused" if d.get("valid").and_then(Value::as_bool) == Some(true) => format!(
            "approval by {} not counted: {}",
            s("principal"),
            s("reason")
        ),
        "approval.refused" => match d.get("file").and_then(Value::as_str) {
            Some(f) => format!("approval file {f} refused: {}", s("reason")),
            None => format!("approval refused: {}", s("reason")),
        },
        _ => return None,
    })
}

/// `run.*` events.
fn run_summary(kind: &str, d: &Value) -> Option<String> {
    let s = |k: &str| str_field(d, k);
    let n = |k: &str| num_field(d, k);
    Some(match kind {
        "run.started" => format!(
            "run {} started: {}, {}",
            n("run"),
            run_kind(&s("kind")),
            count(n("changes"), "change")
        ),
        "run.step" => {
            let step = s("action");
            match step.strip_prefix("exec:") {
                Some(verb) => format!("{verb} {} (by a command)", s("path")),
                None => format!("{step} {}", s("path")),
            }
        }
        "run.committed" => {
            let verify = match d.get("verify") {
                Some(v) if v.is_object() => ", verify passed",
                _ => "",
            };
            format!(
                "run {} committed: {}, {} written in {}{verify}",
                n("run"),
                count(n("files_changed"), "change"),
                size(n("bytes_written")),
                duration_ms(n("duration_ms"))
            )
        }
        "run.failed" => {
            let undone = match d.get("undone").and_then(Value::as_array) {
                Some(a) if !a.is_empty() => format!("; {} put back", count(a.len() as u64, "path")),
                _ => String::new(),
            };
            format!(
                "run {} failed: {}{undone}",
                n("run"),
                s("error").lines().next().unwrap_or("")
            )
        }
        "run.rolled_back" => format!("run {} rolled back", n("run")),
        "run.recovered" => format!(
            "run {} recovered: {} put back",
            n("run"),
            count(
                d.get("restored")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len) as u64,
                "path"
            )
        ),
        "run.recovery_stopped" => format!(
            "recovery of run {} stopped after putting back {}: {}",
            n("run"),
            count(
                d.get("restored")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len) as u64,
                "path"
            ),
            s("error").lines().next().unwrap_or("")
        ),
        _ => return None,
    })
}

/// `sandbox.*` events.
fn sandbox_summary(kind: &str, d: &Value) -> Option<String> {
    let s = |k: &str| str_field(d, k);
    let n = |k: &str| num_field(d, k);
    Some(match kind {
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
        "sandbox.started" => {
            let argv = strings(&d["argv"]);
            format!(
                "sandbox started: {} (proposals to {})",
                shell_words::join(&argv),
                s("spool")
            )
        }
        "sandbox.finished" => {
            let meta = match d.get("metadata_changes").and_then(Value::as_array) {
                Some(a) if !a.is_empty() => {
                    format!(", {}", count(a.len() as u64, "metadata change"))
                }
                _ => String::new(),
            };
            format!(
                "{} exited with status {} after {}{meta}",
                s("agent"),
                d.get("exit").map(Value::to_string).unwrap_or_default(),
                duration_ms(n("duration_ms"))
            )
        }
        _ => return None,
    })
}

/// Events of the workspace itself: init, rules and signers changes, gc.
fn workspace_summary(kind: &str, d: &Value) -> Option<String> {
    let s = |k: &str| str_field(d, k);
    let n = |k: &str| num_field(d, k);
    Some(match kind {
        "init" => format!("workspace {} created", s("workspace")),
        "rules.changed" => match (s("from").as_str(), s("to").as_str()) {
            ("", to) => format!("rules in force: {}", short(to)),
            (from, to) => format!("rules changed: {} -> {}", short(from), short(to)),
        },
        "signers.changed" => {
            let key = d
                .get("key_fingerprint")
                .and_then(Value::as_str)
                .map(|k| format!(" (key {k})"))
                .unwrap_or_default();
            format!(
                "allowed signer {} {}{key}; signers file {} -> {}",
                s("principal"),
                if s("action") == "remove" {
                    "removed"
                } else {
                    "added"
                },
                short(&s("from")),
                short(&s("to"))
            )
        }
        "gc" => format!(
            "removed {}, {}",
            count(n("removed"), "unused blob"),
            size(n("bytes"))
        ),
        _ => return None,
    })
}

/// The renames a `plan.created` names: ` (renamed a => b)` for one or two, else
/// ` (N renames)`; nothing when there are none.
fn renames(d: &Value) -> String {
    let Some(list) = d.get("renames").and_then(Value::as_array) else {
        return String::new();
    };
    let total = d
        .get("renames_total")
        .and_then(Value::as_u64)
        .unwrap_or(list.len() as u64);
    if total == 0 {
        return String::new();
    }
    if total > 2 {
        return format!(" ({total} renames)");
    }
    let named: Vec<String> = list
        .iter()
        .map(|r| {
            let side = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("?");
            let sim = r
                .get("similarity")
                .and_then(Value::as_u64)
                .filter(|s| *s < 100)
                .map(|s| format!(" {s}%"))
                .unwrap_or_default();
            format!(
                "{}{sim}",
                crate::plan::renames::label(side("from"), side("to"))
            )
        })
        .collect();
    format!(" (renamed {})", named.join(", "))
}

fn run_kind(kind: &str) -> &str {
    match kind {
        "rollback" => "rollback",
        "apply" => "apply",
        other => other,
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Any event's data as `key: value, ...`: strings bare, lists comma-separated, nested
/// objects as `{…}`, so that even a kind this version does not know reads as words.
fn fields(d: &Value) -> String {
    let Some(map) = d.as_object() else {
        return match d {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    };
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Array(a) => strings(&Value::Array(a.clone())).join(" "),
                Value::Object(_) => "{…}".into(),
                other => other.to_string(),
            };
            format!("{k}: {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// How wide each column is; fixed for a whole listing (the first chunk decides), so that
/// streamed chunks stay aligned.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The terminal's width, if the lines must fit one.
    pub width: Option<usize>,
    pub oneline: bool,
    /// Whether the actor column is shown (not with --oneline, nor where there is no room).
    actor_shown: bool,
    seq: usize,
    time: usize,
    kind: usize,
    actor: usize,
}

/// The widest a kind or actor column gets before its values are shortened with `…` (17:
/// `approval.declined`, the longest kind the journal writes, stays whole).
const MAX_KIND: usize = 17;
const MAX_ACTOR: usize = 20;
/// A summary never gets narrower than this while other columns can still give way.
const MIN_SUMMARY: usize = 20;

impl Layout {
    /// Widths for `events` (newest first) on a terminal `width` columns wide (or none).
    pub fn new(events: &[Event], width: Option<usize>, oneline: bool) -> Layout {
        let widest = |f: &dyn Fn(&Event) -> usize| events.iter().map(f).max().unwrap_or(0);
        let mut l = Layout {
            width,
            oneline,
            actor_shown: !oneline,
            seq: widest(&|e| e.seq.to_string().len()).max(3),
            time: 20,
            kind: widest(&|e| console::measure_text_width(&e.kind)).min(MAX_KIND),
            actor: if oneline {
                0
            } else {
                widest(&|e| console::measure_text_width(&printable(&e.actor))).min(MAX_ACTOR)
            },
        };
        if let Some(w) = width {
            // Give way in order: the actor down to 12, the time to `MM-DD HH:MM`, the
            // actor to 8, no actor column at all (the summaries name the principal where
            // it matters), the kind to 12.
            let steps: [&dyn Fn(&mut Layout); 5] = [
                &|l| l.actor = l.actor.min(12),
                &|l| l.time = 11,
                &|l| l.actor = l.actor.min(8),
                &|l| l.actor_shown = false,
                &|l| l.kind = l.kind.min(12),
            ];
            for step in steps {
                if l.fixed() + MIN_SUMMARY <= w {
                    break;
                }
                step(&mut l);
            }
        }
        l
    }

    /// Columns before the summary, separators included.
    fn fixed(&self) -> usize {
        let actor = if self.actor_shown { self.actor + 2 } else { 0 };
        self.seq + 2 + self.time + 2 + self.kind + 2 + 12 + 2 + actor
    }
}

/// `text` cut to `width` display columns (with `…`) and padded to exactly that width.
fn cell(text: &str, width: usize) -> String {
    let cut = console::truncate_str(text, width, "…");
    console::pad_str(&cut, width, console::Alignment::Left, None).into_owned()
}

fn time(at: &str, width: usize) -> String {
    // `2026-11-23T10:00:00Z`, or `11-23 10:00` where room is short.
    if width >= 20 {
        cell(at, width)
    } else {
        let t = at.replacen('T', " ", 1);
        t.get(5..16).unwrap_or(&t).to_string()
    }
}

/// The text lines for `events`. Columns are padded before they are coloured, so escapes
/// never shift them.
pub fn render_text(
    events: &[Event],
    layout: &Layout,
    styled: &dyn Fn(&Style, &str) -> String,
) -> String {
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
        let mut line = format!(
            "{}  {}  {}  {}  ",
            styled(&color::dim(), &format!("{:>w$}", e.seq, w = layout.seq)),
            time(&e.at, layout.time),
            styled(&kind_style, &cell(&printable(&e.kind), layout.kind)),
            styled(&color::id(), &cell(&printable(plan), 12)),
        );
        if layout.actor_shown {
            line.push_str(&cell(&printable(&e.actor), layout.actor));
            line.push_str("  ");
        }
        let text = printable(&summary(e)).into_owned();
        line.push_str(&text);
        // Whatever the width, the line fits it (cut with `…`; escapes are not counted).
        let line = match layout.width {
            Some(w) => console::truncate_str(line.trim_end(), w, "…").into_owned(),
            None => line.trim_end().to_string(),
        };
        let _ = writeln!(out, "{line}");
    }
    out
}
