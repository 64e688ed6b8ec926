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
    let _lock = s.lock("gc", args.wait.map(Duration::from_secs))?;
    // We hold the lock, so any run still marked running was interrupted. (Asking who holds
    // the lock would find ourselves and wrongly conclude the run is in progress.)
    if let Some((run, plan)) = crate::engine::admit::interrupted(&s.journal)? {
        return Err(crate::engine::admit::interrupted_error(run, &plan));
    }
    let grace = std::env::var("AUTONOMY_GC_GRACE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3600);
    let garbage =
        crate::ops::verify::unreferenced(&s.journal, &s.blobs, Duration::from_secs(grace))?;
    let bytes: u64 = garbage.iter().map(|(_, n)| n).sum();
    let views = crate::view::collect_stale(&s.ws.root, Duration::from_secs(grace), args.dry_run)?;
    let view_bytes: u64 = views.iter().map(|v| v.bytes).sum();
    let report = || {
        if ctx.json() {
            let blobs: Vec<_> = garbage
                .iter()
                .map(|(h, n)| serde_json::json!({ "hash": h, "bytes": n }))
                .collect();
            ui::json(&serde_json::json!({
                "format_version": crate::model::FORMAT_VERSION, "dry_run": args.dry_run,
                "blobs": blobs, "removed": garbage.len(), "bytes": bytes, "views": views,
            }));
        } else if args.dry_run {
            for (h, n) in &garbage {
                ui::println(&format!("{h} {n}"));
            }
            for v in &views {
                ui::println(&format!("view {} {}", v.id, v.bytes));
            }
        }
    };
    let views_said = |verb: &str| {
        if !views.is_empty() {
            ui::say(&format!(
                "{verb} {} left by a crashed or killed command, {}.",
                crate::util::text::count(views.len() as u64, "stale view"),
                human_size(view_bytes)
            ));
        }
    };
    if args.dry_run {
        report();
        ui::say(&format!(
            "Would remove {}, {}.",
            crate::util::text::count(garbage.len() as u64, "blob"),
            human_size(bytes)
        ));
        views_said("Would remove");
        return Ok(());
    }
    for (h, _) in &garbage {
        s.blobs.remove(h)?;
    }
    let (_, temps) = s.blobs.list()?;
    for t in temps {
        let _ = std::fs::remove_file(t);
    }
    s.event(
        crate::model::EventKind::Gc,
        None,
        if views.is_empty() {
            serde_json::json!({ "removed": garbage.len(), "bytes": bytes })
        } else {
            serde_json::json!({ "removed": garbage.len(), "bytes": bytes, "views": views.len() })
        },
    )?;
    report();
    ui::say(&format!(
        "Removed {}, {}.",
        crate::util::text::count(garbage.len() as u64, "blob"),
        human_size(bytes)
    ));
    views_said("Removed");
    Ok(())
}
