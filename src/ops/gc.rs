//! Garbage collection: blobs no plan or snapshot needs, temp files of crashed writes, and
//! views nobody holds, removed under the workspace lock and journaled.

use crate::error::Result;
use crate::model::EventKind;
use crate::ops::session::Session;
use crate::view::Stale as StaleView;
use std::time::Duration;

/// What `gc` found (and removed, unless it was a dry run).
#[derive(Debug)]
pub struct Collected {
    /// Unreferenced blobs: hash and size.
    pub blobs: Vec<(String, u64)>,
    pub bytes: u64,
    pub views: Vec<StaleView>,
    pub view_bytes: u64,
}

/// Collect garbage older than `grace`; with `dry_run`, only find it.
pub fn gc(
    s: &mut Session,
    wait: Option<Duration>,
    grace: Duration,
    dry_run: bool,
) -> Result<Collected> {
    let _lock = s.lock("gc", wait)?;
    // We hold the lock, so any run still marked running was interrupted. (Asking who holds
    // the lock would find ourselves and wrongly conclude the run is in progress.)
    if let Some((run, plan)) = crate::engine::admit::interrupted(&s.journal)? {
        return Err(crate::engine::admit::interrupted_error(run, &plan));
    }
    let blobs = crate::ops::verify::unreferenced(&s.journal, &s.blobs, grace)?;
    let bytes: u64 = blobs.iter().map(|(_, n)| n).sum();
    let views = crate::view::collect_stale(&s.ws.root, grace, dry_run)?;
    let view_bytes: u64 = views.iter().map(|v| v.bytes).sum();
    let found = Collected {
        blobs,
        bytes,
        views,
        view_bytes,
    };
    if dry_run {
        return Ok(found);
    }
    for (h, _) in &found.blobs {
        s.blobs.remove(h)?;
    }
    let (_, temps) = s.blobs.list()?;
    for t in temps {
        let _ = std::fs::remove_file(t);
    }
    let removed = found.blobs.len();
    s.event(
        EventKind::Gc,
        None,
        if found.views.is_empty() {
            serde_json::json!({ "removed": removed, "bytes": bytes })
        } else {
            serde_json::json!({ "removed": removed, "bytes": bytes, "views": found.views.len() })
        },
    )?;
    Ok(found)
}
