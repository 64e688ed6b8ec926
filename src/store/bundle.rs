//! Plan bundles: a self-contained file with a plan's canonical encoding, its new contents
//! and the old contents of every path it modifies or deletes (text up to the diff limit;
//! larger ones by size), so a reviewer on a machine that has only the bundle sees the same
//! diff, removed lines included, as in the workspace. Nothing else leaves the workspace. A
//! bundle is untrusted input: its plan id is recomputed from its contents, and every blob
//! must hash to its name (old contents included, so they are exactly the plan's `before`).

use crate::error::{Error, Result};
use crate::model::Plan;
use crate::util::hash::{is_sha256_hex, sha256_hex};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

pub const BUNDLE_FORMAT: &str = "autonomy-bundle-v1";
/// The largest bundle we read.
pub const MAX_BUNDLE_BYTES: u64 = 1 << 30;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleFile {
    format: String,
    /// The plan id at export. Optional so that bundles without it still read; when
    /// present, a plan that no longer hashes to it is refused as altered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    plan: String,
    blobs: BTreeMap<String, String>,
    /// Sizes of old contents too large to diff (left out of `blobs`), by hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sizes: BTreeMap<String, u64>,
}

/// A bundle read back and checked.
pub struct Bundle {
    pub id: crate::model::PlanId,
    pub plan: Plan,
    /// New contents and old contents, each checked against its hash.
    pub blobs: BTreeMap<String, Vec<u8>>,
    /// Old contents too large to diff: their sizes, by hash.
    pub large: BTreeMap<String, u64>,
}

/// An old content for the bundle.
pub enum Old {
    Bytes(Vec<u8>),
    /// Too large to diff: only its size travels.
    TooLarge(u64),
}

/// Write a bundle for `plan` taking new contents from `fetch` and the old contents of
/// modified and deleted files from `fetch_old(path, hash)`, which must return exactly the
/// bytes of that hash. A missing old content is an error naming the path.
pub fn write(
    path: &Path,
    plan: &Plan,
    fetch: &dyn Fn(&str) -> Result<Vec<u8>>,
    fetch_old: &dyn Fn(&str, &str) -> Option<Old>,
) -> Result<u64> {
    let mut blobs = BTreeMap::new();
    let mut sizes = BTreeMap::new();
    for c in &plan.changes {
        if let Some(h) = c.before.file_hash()
            && c.after.file_hash() != Some(h)
            && !blobs.contains_key(h)
        {
            match fetch_old(&c.path, h) {
                Some(Old::Bytes(bytes)) if sha256_hex(&bytes) == h => {
                    blobs.insert(
                        h.to_string(),
                        base64::engine::general_purpose::STANDARD.encode(bytes),
                    );
                }
                Some(Old::TooLarge(n)) => {
                    sizes.insert(h.to_string(), n);
                }
                _ => {
                    return Err(Error::stale(format!(
                        "cannot export: the content {} had when the plan was made (sha256 {}) is neither in the store nor in the workspace any more",
                        c.path,
                        crate::model::id::short(h)
                    ))
                    .hint("the plan is stale; make a new plan against the current files and export that"));
                }
            }
        }
    }
    for c in &plan.changes {
        if let Some(h) = c.after.file_hash()
            && c.before.file_hash() != Some(h)
            && !blobs.contains_key(h)
        {
            let bytes = fetch(h)?;
            blobs.insert(
                h.to_string(),
                base64::engine::general_purpose::STANDARD.encode(bytes),
            );
        }
    }
    let doc = BundleFile {
        format: BUNDLE_FORMAT.into(),
        id: Some(plan.id().into_string()),
        plan: plan.canonical(),
        blobs,
        sizes,
    };
    let text = serde_json::to_string(&doc)
        .map_err(|e| Error::failed(format!("encoding the bundle: {e}")))?;
    std::fs::write(path, &text)
        .map_err(|e| Error::io(format!("writing bundle {}", path.display()), e))?;
    Ok(text.len() as u64)
}

/// Read and check a bundle.
pub fn read(path: &Path) -> Result<Bundle> {
    let name = path.display();
    let bad = |why: String| {
        Error::failed(format!(
            "bundle {name} is not a valid autonomy bundle: {why}"
        ))
        .hint("ask for a new export (`autonomy export PLAN -o FILE`)")
    };
    let f =
        std::fs::File::open(path).map_err(|e| Error::io(format!("reading bundle {name}"), e))?;
    let mut text = String::new();
    f.take(MAX_BUNDLE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| bad(format!("cannot read it as UTF-8 text ({e})")))?;
    if text.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(bad("it is larger than 1 GiB".into()));
    }
    let doc: BundleFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if doc.format != BUNDLE_FORMAT {
        return Err(bad(format!("unknown format {:?}", doc.format)));
    }
    let plan = Plan::from_canonical(&doc.plan).map_err(|e| bad(e.message))?;
    let id = plan.id();
    if let Some(claimed) = &doc.id
        && id != *claimed
    {
        return Err(Error::integrity(format!(
            "bundle {name}: its plan hashes to {}, not to the plan id {} it was exported with; the bundle was altered",
            id.short(),
            crate::model::id::short(claimed)
        ))
        .hint("ask for a new export (`autonomy export PLAN -o FILE`)"));
    }
    let mut blobs = BTreeMap::new();
    for (hash, b64) in doc.blobs {
        if !is_sha256_hex(&hash) {
            return Err(bad(format!("blob name {hash:?} is not a sha256")));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| bad(format!("blob {}: {e}", crate::model::id::short(&hash))))?;
        if sha256_hex(&bytes) != hash {
            return Err(Error::integrity(format!(
                "bundle {name}: blob {} does not match its hash; the bundle was altered",
                crate::model::id::short(&hash)
            )));
        }
        blobs.insert(hash, bytes);
    }
    for c in &plan.changes {
        if let Some(h) = c.after.file_hash()
            && c.before.file_hash() != Some(h)
            && !blobs.contains_key(h)
        {
            return Err(bad(format!("the new content of {} is missing", c.path)));
        }
    }
    let mut large = BTreeMap::new();
    for (hash, size) in doc.sizes {
        if !is_sha256_hex(&hash) {
            return Err(bad(format!("size entry {hash:?} is not a sha256")));
        }
        large.insert(hash, size);
    }
    Ok(Bundle {
        id,
        plan,
        blobs,
        large,
    })
}
