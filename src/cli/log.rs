//! `autonomy log`

use super::{Ctx, Format, ui};
use crate::error::{Error, Result};
use crate::render::log::{event_json, render_text};
use crate::session::{Default, Session};
use crate::store::journal::{EVENT_COLUMNS, row_to_event};
use std::io::{IsTerminal, Write};

/// Show the journal, newest first
///
/// One line per event: sequence number, time, event, plan, actor, summary. Every decision and
/// effect is an event in an append-only, hash-chained table. `--head` prints exactly
/// `SEQ:HASH` of the chain head, to record outside this machine (a CI log) and check later
/// with `autonomy verify --expect-head SEQ:HASH`.
///
/// Examples:
///   autonomy log -n 5
///   autonomy log 3f9c
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
    /// Print `SEQ:HASH` of the chain head and nothing else.
    #[arg(long, conflicts_with_all = ["plan", "limit"])]
    pub head: bool,
}

pub fn run(args: LogArgs, ctx: &Ctx) -> Result<()> {
    let s = Session::open_read_only(&ctx.dir)?;
    if args.head {
        let (seq, hash) = s
            .journal
            .head()?
            .ok_or_else(|| Error::integrity("the journal has no events"))?;
        if ctx.json() {
            ui::json(&serde_json::json!({
                "format_version": crate::render::FORMAT_VERSION, "seq": seq, "hash": hash,
            }));
        } else {
            ui::println(&format!("{seq}:{hash}"));
        }
        return Ok(());
    }
    let plan = match &args.plan {
        Some(p) => Some(s.resolve(Some(p), Default::Newest)?.id),
        None => None,
    };
    let limit = args.limit.map_or(-1, |n| n as i64);
    // Two statements rather than `?1 IS NULL OR plan = ?1`, so that a plan's events come
    // from its index instead of a scan of the whole journal.
    let sql = match plan {
        Some(_) => {
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE plan = ?1 ORDER BY seq DESC LIMIT ?2")
        }
        None => format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?1"),
    };
    let mut stmt = s.journal.conn.prepare(&sql)?;
    let rows = match &plan {
        Some(p) => stmt.query_map(rusqlite::params![p, limit], row_to_event)?,
        None => stmt.query_map(rusqlite::params![limit], row_to_event)?,
    };
    let closed = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        Error::io("writing the log", e)
    };
    match ctx.format {
        Format::Text if std::io::stdout().is_terminal() => {
            let events = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let text = render_text(&events, &ui::out_style);
            crate::render::pager::page(&text).map_err(closed)?;
        }
        Format::Text => {
            // Not a terminal, so no pager: stream, a chunk of events at a time, so that a
            // journal of any length prints in bounded memory.
            let mut out = std::io::stdout().lock();
            let mut chunk = Vec::with_capacity(CHUNK);
            for e in rows {
                chunk.push(e?);
                if chunk.len() == CHUNK {
                    out.write_all(render_text(&chunk, &ui::out_style).as_bytes())
                        .map_err(closed)?;
                    chunk.clear();
                }
            }
            out.write_all(render_text(&chunk, &ui::out_style).as_bytes())
                .and_then(|()| out.flush())
                .map_err(closed)?;
        }
        Format::Json => {
            // One document, streamed event by event (the same bytes as building it whole).
            let doc = JsonDoc {
                rows: std::cell::RefCell::new(Some(rows)),
                error: std::cell::RefCell::new(None),
            };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush())
                .map_err(closed)?;
            if let Some(e) = doc.error.into_inner() {
                return Err(e.into());
            }
        }
        Format::Jsonl => {
            let mut buf = String::new();
            for e in rows {
                // Each line stands alone, so each carries the format version.
                let mut v = event_json(&e?);
                v["format_version"] = crate::render::FORMAT_VERSION.into();
                buf.push_str(&v.to_string());
                buf.push('\n');
                if buf.len() > 1 << 16 {
                    ui::print(&buf);
                    buf.clear();
                }
            }
            ui::print(&buf);
        }
    }
    Ok(())
}

/// Events per chunk of streamed text.
const CHUNK: usize = 4096;

/// `{"events": [...], "format_version": 1}` (serde_json's key order), the events
/// serialized as they are read.
struct JsonDoc<I> {
    rows: std::cell::RefCell<Option<I>>,
    error: std::cell::RefCell<Option<rusqlite::Error>>,
}

impl<I: Iterator<Item = rusqlite::Result<crate::store::journal::Event>>> serde::Serialize
    for JsonDoc<I>
{
    fn serialize<S: serde::Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        struct Events<'a, I>(&'a JsonDoc<I>);
        impl<I: Iterator<Item = rusqlite::Result<crate::store::journal::Event>>> serde::Serialize
            for Events<'_, I>
        {
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
        map.serialize_entry("events", &Events(self))?;
        map.serialize_entry("format_version", &crate::render::FORMAT_VERSION)?;
        map.end()
    }
}
