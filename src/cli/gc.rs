//! `autonomy gc`

use super::{Ctx, ui};
use crate::error::Result;
use crate::ops::session::Session;
use crate::render::diff::human_size;
use std::time::Duration;

/// Remove blobs that no plan or snapshot needs
///
/// Never removes a blob an applied plan needs for its rollback, nor one younger than an hour
/// (a `plan` in another process may be about to use it). Leftover temp files from crashed
/// writes are removed too, and views (.autonomy/views/v-*) that a crashed or killed
/// capture left behind: only those no live process holds (each owner holds a lock on its
/// view), never one a session keeps. Journaled.
///
/// Examples:
///   autonomy gc --dry-run
///   autonomy gc
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct GcArgs {
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Wait up to SECS for the workspace lock instead of failing at once.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<u64>,
}

pub fn run(args: GcArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("gc")?;
    let mut s = Session::open(&ctx.dir)?;
    let grace = std::env::var("AUTONOMY_GC_GRACE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3600);
    let found = crate::ops::gc::gc(
        &mut s,
        args.wait.map(Duration::from_secs),
        Duration::from_secs(grace),
        args.dry_run,
    )?;
    if ctx.json() {
        let blobs: Vec<_> = found
            .blobs
            .iter()
            .map(|(h, n)| serde_json::json!({ "hash": h, "bytes": n }))
            .collect();
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "dry_run": args.dry_run,
            "blobs": blobs, "removed": found.blobs.len(), "bytes": found.bytes, "views": found.views,
        }));
    } else if args.dry_run {
        for (h, n) in &found.blobs {
            ui::println(&format!("{h} {n}"));
        }
        for v in &found.views {
            ui::println(&format!("view {} {}", v.id, v.bytes));
        }
    }
    let verb = if args.dry_run {
        "Would remove"
    } else {
        "Removed"
    };
    ui::say(&format!(
        "{verb} {}, {}.",
        crate::util::text::count(found.blobs.len() as u64, "blob"),
        human_size(found.bytes)
    ));
    if !found.views.is_empty() {
        ui::say(&format!(
            "{verb} {} left by a crashed or killed command, {}.",
            crate::util::text::count(found.views.len() as u64, "stale view"),
            human_size(found.view_bytes)
        ));
    }
    Ok(())
}
