//! Exporting a plan as a bundle for review elsewhere: refused while the plan is stale,
//! journaled with the file as it was named.

use crate::error::Result;
use crate::model::{EventKind, Fetched, PlanId};
use crate::ops::session::{Default, Session};
use crate::store::bundle::Old;
use std::path::Path;

/// A written bundle.
#[derive(Debug)]
pub struct Exported {
    pub plan: PlanId,
    pub bytes: u64,
}

/// Write the bundle of `plan` (an id or unique prefix; none: the newest pending plan) to
/// `out`; `named` is the file as the person named it (journaled).
pub fn export(s: &mut Session, plan: Option<&str>, out: &Path, named: &Path) -> Result<Exported> {
    if s.place_of(out) == crate::ops::session::Inside::State {
        return Err(crate::error::Error::usage(format!(
            "{} is inside .autonomy/, autonomy's own state: a bundle is never written there",
            named.display()
        ))
        .hint("write it outside .autonomy/, e.g. `-o bump.autonomy`"));
    }
    let row = s.resolve(plan, Default::NewestPending)?;
    let loaded = s.load_plan(&row.id)?;
    let stale = crate::ops::preview::stale_paths(s, &loaded, row.status)?;
    if !stale.is_empty() {
        return Err(crate::engine::admit::stale_error(
            &row.id,
            &stale,
            "exported for review",
        ));
    }
    let fetch_old = |path: &str, hash: &str| match crate::ops::preview::fetch(s, path, hash)? {
        Fetched::Bytes(b) => Some(Old::Bytes(b)),
        Fetched::TooLarge(n) => Some(Old::TooLarge(n)),
    };
    let bytes = crate::store::bundle::write(out, &loaded, &|h| s.blobs.read(h), &fetch_old)?;
    s.event(
        EventKind::PlanExported,
        Some(&row.id),
        serde_json::json!({ "file": named, "bytes": bytes }),
    )?;
    Ok(Exported {
        plan: row.id,
        bytes,
    })
}
