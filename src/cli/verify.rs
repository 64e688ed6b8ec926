//! `autonomy verify`

use super::{Ctx, ui};
use crate::error::{Error, Kind, Result};
use crate::ops::session::Session;

/// Check the journal's hash chain, the blob store and every signature
///
/// Runs SQLite's integrity check and checks the hash chain from the init event, every plan
/// against its id, every blob (re-hashed), every recorded signature, that every run
/// ended, and every derived table (plan status, approvals and which run consumed them,
/// run state, exec effects, kept output) against what the events say it must hold. Exit 7
/// naming each failure (for a table: the table, the row and the value the events give).
///
/// The chain detects edits, insertions, deletions and reordering. It cannot detect a rewrite
/// of the whole tail by someone with write access; record `autonomy log --head` elsewhere (a
/// CI log) and check against it with --expect-head.
///
/// Examples:
///   autonomy verify
///   autonomy verify --expect-head "$(cat recorded-head)"
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct VerifyArgs {
    /// Also check the chain against a head recorded earlier (`autonomy log --head`).
    #[arg(long, value_name = "SEQ:HASH")]
    pub expect_head: Option<String>,
}

pub fn run(args: VerifyArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("verify")?;
    let expect = match &args.expect_head {
        None => None,
        Some(h) => {
            let (seq, hash) = h
                .split_once(':')
                .and_then(|(s, h)| Some((s.parse::<i64>().ok()?, h)))
                .filter(|(_, h)| crate::util::hash::is_sha256_hex(h))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "--expect-head {h:?} is not SEQ:HASH (as `autonomy log --head` prints it)"
                    ))
                })?;
            Some((seq, hash.to_string()))
        }
    };
    let s = Session::open_read_only(&ctx.dir)?;
    let lock_free = s.lock_holder().is_none();
    let report = crate::ops::verify::verify(
        &s.journal,
        &s.blobs,
        expect.as_ref().map(|(n, h)| (*n, h.as_str())),
        lock_free,
    )?;
    if ctx.json() {
        ui::json(
            &serde_json::json!({ "format_version": crate::model::FORMAT_VERSION, "ok": report.ok(), "report": report }),
        );
    }
    if !report.ok() {
        let list: Vec<String> = report.problems.iter().map(|p| format!("  {p}")).collect();
        return Err(Error::new(
            Kind::Integrity,
            format!(
                "verify found {}:\n{}",
                crate::util::text::count(report.problems.len() as u64, "problem"),
                list.join("\n")
            ),
        )
        .hint("do not trust this journal; restore .autonomy/ from a backup and compare"));
    }
    ui::say(&format!(
        "ok: {} events (head {}), {} plans, {} blobs, {} signatures, {} runs verified",
        report.events,
        report.head.as_deref().unwrap_or("-"),
        report.plans,
        report.blobs,
        report.signatures,
        report.runs
    ));
    // A run that was running when the lock looked free may just have finished.
    if let Some(run) = report.interrupted
        && s.interrupted_run()?.is_some()
    {
        return Err(Error::new(
            Kind::Interrupted,
            format!("run {run} was interrupted; the workspace may be half-changed"),
        )
        .hint("run `autonomy recover`"));
    }
    Ok(())
}
