//! The renames of a stored plan (`plan::renames`), with contents from the blob store, else
//! the workspace file where it still holds them: for the apply output and the journal's
//! `plan.created` (so that `autonomy log` names them).

use crate::model::Plan;
use crate::paths::RelPath;
use crate::plan::renames::{self, MAX_BYTES, Rename};
use crate::store::blobs::BlobStore;
use crate::workspace::Workspace;
use serde_json::{Value, json};

/// The most renames named in a `plan.created` event (the rest are counted).
pub const MAX_JOURNALED: usize = 100;

/// The plan's renames, as the preview shows them (contents from `blobs`, else `ws`).
pub fn detect(ws: &Workspace, blobs: &BlobStore, plan: &Plan) -> Vec<Rename> {
    renames::detect(&plan.changes, &|path, hash| content(ws, blobs, path, hash))
}

/// Content `hash` (of at most `MAX_BYTES`): from the store, else from `path` if it holds it.
pub fn content(ws: &Workspace, blobs: &BlobStore, path: &str, hash: &str) -> Option<Vec<u8>> {
    if let Some(size) = blobs.size(hash) {
        if size > MAX_BYTES as u64 {
            return None;
        }
        if let Ok(bytes) = blobs.read(hash) {
            return Some(bytes);
        }
    }
    let rel = RelPath::parse(path).ok()?;
    let meta = ws.lstat(&rel).ok()??;
    if !meta.is_file() || meta.len() > MAX_BYTES as u64 {
        return None;
    }
    let bytes = ws
        .open_dir(rel.parent().as_ref())
        .ok()?
        .read(rel.file_name())
        .ok()?;
    (crate::util::hash::sha256_hex(&bytes) == hash).then_some(bytes)
}

/// The fields `plan.created` gets for `renames` (none when there are none): the first
/// [`MAX_JOURNALED`] as `{from, to, similarity}`, and `renames_total` when there are more.
pub fn journal_fields(renames: &[Rename]) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    if renames.is_empty() {
        return out;
    }
    let listed: Vec<&Rename> = renames.iter().take(MAX_JOURNALED).collect();
    out.insert("renames".into(), json!(listed));
    if renames.len() > MAX_JOURNALED {
        out.insert("renames_total".into(), json!(renames.len()));
    }
    out
}
