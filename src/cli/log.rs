//! `autonomy log`

use super::{Ctx, Format, ui};
use crate::error::{Error, Result};
use crate::ops::log::{AgentScope, Event, EventFilter};
use crate::ops::session::{Default, Session};
use crate::render::log::{Layout, event_json, render_text};
use std::io::Write;

/// Show the journal, newest first
///
/// One line per event: sequence number, time (UTC), event kind, plan, actor, and what
/// happened in words. On a terminal the lines fit its width (long kinds, actors and
/// summaries are shortened with `…`; COLUMNS sets the width elsewhere); `--oneline` leaves
/// out the actor. Every decision and effect is an event in an append-only, hash-chained
/// table. `--head` prints exactly `SEQ:HASH` of the chain head, to record outside this
/// machine (a CI log) and check later with `autonomy verify --expect-head SEQ:HASH`.
///
/// Filters combine: `--kind` takes an event kind (`run.committed`), a family (`run`
/// matches every `run.*`) or a glob (`approval.*`); `--actor` an identity or a glob;
/// `--since` a duration back from now (`30m`, `2h`, `7d`) or a date (`2026-11-01`);
/// `--agent` and `--session` a coding agent's tool calls (`agent.call`), with every event
/// of the plans they made and of those plans' rollbacks.
///
/// Examples:
///   autonomy log -n 5
///   autonomy log 3f9c
///   autonomy log --oneline --kind run --since 1d
///   autonomy log --actor 'agent:*'
///   autonomy log --agent claude --session 4f1c2e0a-...
///   autonomy log --format jsonl | ship-to-siem
///   autonomy log --head
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct LogArgs {
    /// Only events of this plan (id or unique prefix).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::all_plans))]
    pub plan: Option<String>,
    /// Show at most N events.
    #[arg(short = 'n', long, value_name = "N")]
    pub limit: Option<u64>,
    /// One short line per event: seq, time, kind, plan, summary.
    #[arg(long)]
    pub oneline: bool,
    /// Only events of this kind, family (`run`) or glob (`approval.*`); repeatable.
    #[arg(long, value_name = "KIND")]
    pub kind: Vec<String>,
    /// Only events by this actor (an identity, or a glob such as `agent:*`); repeatable.
    #[arg(long, value_name = "ACTOR")]
    pub actor: Vec<String>,
    /// Only events since WHEN: a duration back from now (`30m`, `2h`, `7d`) or a date.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only the tool calls of this coding agent (claude, codex, gemini, ...), the events of
    /// the plans they made, and of those plans' rollbacks.
    #[arg(long, value_name = "AGENT")]
    pub agent: Option<String>,
    /// Only the tool calls of this agent session (its session id, as `agent.call` records
    /// it), the events of the plans they made, and of those plans' rollbacks.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Print `SEQ:HASH` of the chain head and nothing else.
    #[arg(long, conflicts_with_all = ["plan", "limit", "oneline", "kind", "actor", "since", "agent", "session"])]
    pub head: bool,
}

pub fn run(args: LogArgs, ctx: &Ctx) -> Result<()> {
    let s = Session::open_read_only(&ctx.dir)?;
    if args.head {
        return print_head(&s, ctx);
    }
    if args.oneline && ctx.format != Format::Text {
        return Err(Error::usage(
            "--oneline is a text layout; leave out --format, or drop --oneline",
        ));
    }
    let filter = event_filter(&args, &s)?;
    let rows = crate::ops::log::events(&s, &filter)?;
    match ctx.format {
        Format::Text if ui::stdout_is_terminal() => page_text(rows, args.oneline),
        Format::Text => stream_text(rows, args.oneline),
        Format::Json => stream_json(rows),
        Format::Jsonl => stream_jsonl(rows),
    }
}

/// `--head`: `SEQ:HASH` of the chain head (or the same as a JSON document).
fn print_head(s: &Session, ctx: &Ctx) -> Result<()> {
    let (seq, hash) = s
        .journal
        .head()?
        .ok_or_else(|| Error::integrity("the journal has no events"))?;
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "seq": seq, "hash": hash,
        }));
    } else {
        ui::println(&format!("{seq}:{hash}"));
    }
    Ok(())
}

/// The journal query the filters ask for.
fn event_filter(args: &LogArgs, s: &Session) -> Result<EventFilter> {
    // A plan's events come from its index.
    let mut filter = EventFilter {
        kinds: args.kind.clone(),
        actors: args.actor.clone(),
        limit: args.limit.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        agents: AgentScope {
            agent: args.agent.clone(),
            session: args.session.clone(),
        },
        ..EventFilter::default()
    };
    if let Some(p) = &args.plan {
        filter.plan = Some(s.resolve(Some(p), Default::Newest)?.id.into_string());
    }
    if let Some(since) = &args.since {
        filter.since = Some(crate::ops::stats::parse_since(
            since,
            crate::util::ids::now(),
        )?);
    }
    Ok(filter)
}

/// A closed pipe (`autonomy log | head`) comes back as an error `main` ends on quietly.
fn closed(e: std::io::Error) -> Error {
    Error::io("writing the log", e)
}

/// Text on a terminal: every event, fitted to its width, through the pager.
fn page_text(rows: impl Iterator<Item = Result<Event>>, oneline: bool) -> Result<()> {
    let events = rows.collect::<Result<Vec<_>>>()?;
    let layout = Layout::new(&events, terminal_width(), oneline);
    let text = render_text(&events, &layout, &ui::out_style);
    ui::page(&text, "writing the log")
}

/// Text when stdout is not a terminal, so no pager: stream, a chunk of events at a time, so
/// that a journal of any length prints in bounded memory. The first chunk decides the
/// column widths.
fn stream_text(rows: impl Iterator<Item = Result<Event>>, oneline: bool) -> Result<()> {
    let mut out = ui::stdout();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut layout: Option<Layout> = None;
    let width = terminal_width();
    for e in rows {
        chunk.push(e?);
        if chunk.len() == CHUNK {
            let l = layout.get_or_insert_with(|| Layout::new(&chunk, width, oneline));
            out.write_all(render_text(&chunk, l, &ui::out_style).as_bytes())
                .map_err(closed)?;
            chunk.clear();
        }
    }
    let l = layout.unwrap_or_else(|| Layout::new(&chunk, width, oneline));
    out.write_all(render_text(&chunk, &l, &ui::out_style).as_bytes())
        .and_then(|()| out.flush())
        .map_err(closed)
}

/// One JSON document, streamed event by event (the same bytes as building it whole).
fn stream_json(rows: impl Iterator<Item = Result<Event>>) -> Result<()> {
    let doc = JsonDoc {
        rows: std::cell::RefCell::new(Some(rows)),
        error: std::cell::RefCell::new(None),
    };
    let mut out = std::io::BufWriter::new(ui::stdout());
    serde_json::to_writer_pretty(&mut out, &doc)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(closed)?;
    match doc.error.into_inner() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// One JSON object per line, printed a buffer at a time.
fn stream_jsonl(rows: impl Iterator<Item = Result<Event>>) -> Result<()> {
    let mut buf = String::new();
    for e in rows {
        // Each line stands alone, so each carries the format version.
        let mut v = event_json(&e?);
        v["format_version"] = crate::model::FORMAT_VERSION.into();
        let line = crate::render::json_document(&v, false)
            .map_err(|e| Error::failed(format!("encoding JSON: {e}")))?;
        buf.push_str(&line);
        buf.push('\n');
        if buf.len() > 1 << 16 {
            ui::print(&buf);
            buf.clear();
        }
    }
    ui::print(&buf);
    Ok(())
}

/// The width lines must fit: the terminal's when stdout is one, else `COLUMNS` if set;
/// otherwise lines are not cut (a pipe gets every word).
fn terminal_width() -> Option<usize> {
    if let Some(cols) = ui::stdout_columns() {
        return Some(cols);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
}

/// Events per chunk of streamed text.
const CHUNK: usize = 4096;

/// `{"format_version": 1, "events": [...]}` (the version first, as in every document), the
/// events serialized as they are read.
struct JsonDoc<I> {
    rows: std::cell::RefCell<Option<I>>,
    error: std::cell::RefCell<Option<Error>>,
}

impl<I: Iterator<Item = Result<Event>>> serde::Serialize for JsonDoc<I> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Events<'a, I>(&'a JsonDoc<I>);
        impl<I: Iterator<Item = Result<Event>>> serde::Serialize for Events<'_, I> {
            fn serialize<S: serde::Serializer>(
                &self,
                ser: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                let mut seq = ser.serialize_seq(None)?;
                let rows = self.0.rows.borrow_mut().take();
                for row in rows.into_iter().flatten() {
                    match row {
                        Ok(e) => seq.serialize_element(&event_json(&e))?,
                        Err(err) => {
                            *self.0.error.borrow_mut() = Some(err);
                            break;
                        }
                    }
                }
                seq.end()
            }
        }
        let mut map = ser.serialize_map(Some(2))?;
        map.serialize_entry("format_version", &crate::model::FORMAT_VERSION)?;
        map.serialize_entry("events", &Events(self))?;
        map.end()
    }
}
