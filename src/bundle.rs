//! Plan bundles: a self-contained file with a plan's canonical encoding and its new
//! contents (the `before` side is hashes only; nothing else leaves the workspace), so a
//! reviewer can preview and sign on a machine that has only the bundle. A bundle is
//! untrusted input: its plan id is recomputed from its contents, and every blob must hash
//! to its name.

use crate::error::{Error, Result};
use crate::hash::{is_sha256_hex, sha256_hex};
use crate::plan::Plan;
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
}

/// A bundle read back and checked.
pub struct Bundle {
    pub id: String,
    pub plan: Plan,
    pub blobs: BTreeMap<String, Vec<u8>>,
}

/// Write a bundle for `plan` taking new contents from `fetch`.
pub fn write(path: &Path, plan: &Plan, fetch: &dyn Fn(&str) -> Result<Vec<u8>>) -> Result<u64> {
    let mut blobs = BTreeMap::new();
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
        id: Some(plan.id()),
        plan: plan.canonical(),
        blobs,
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
        && *claimed != id
    {
        return Err(Error::integrity(format!(
            "bundle {name}: its plan hashes to {}, not to the plan id {} it was exported with; the bundle was altered",
            &id[..12],
            claimed.get(..12).unwrap_or(claimed)
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
            .map_err(|e| bad(format!("blob {}: {e}", &hash[..12])))?;
        if sha256_hex(&bytes) != hash {
            return Err(Error::integrity(format!(
                "bundle {name}: blob {} does not match its hash; the bundle was altered",
                &hash[..12]
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
    Ok(Bundle { id, plan, blobs })
}
