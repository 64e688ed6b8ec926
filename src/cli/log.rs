//! `autonomy log`

use super::{Ctx, Format, ui};
use crate::error::{Error, Result};
use crate::render::log::{event_json, render_text};
use crate::session::{Default, Session};
use crate::store::journal::{EVENT_COLUMNS, row_to_event};

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
    let s = Session::open(&ctx.dir)?;
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
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE (?1 IS NULL OR plan = ?1) ORDER BY seq DESC LIMIT ?2"
    );
    let mut stmt = s.journal.conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params![plan, limit], row_to_event)?;
    match ctx.format {
        Format::Text => {
            let events = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            let text = render_text(&events, &ui::out_style);
            if let Err(e) = crate::render::pager::page(&text) {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    std::process::exit(0);
                }
                return Err(Error::io("writing the log", e));
            }
        }
        Format::Json => {
            let events = rows
                .map(|r| r.map(|e| event_json(&e)))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            ui::json(
                &serde_json::json!({ "format_version": crate::render::FORMAT_VERSION, "events": events }),
            );
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
