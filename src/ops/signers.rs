//! Changing who may sign approvals: the allowed-signers file named by the rules. In
//! `.autonomy/` it is rewritten in place under the workspace lock and journaled
//! (`signers.changed`); in the workspace tree it changes like any file, by a plan (a policy
//! change, judged by the rules in force before it).

use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::ops::propose::{Proposal, Proposed, Source, propose};
use crate::ops::session::Session;
use crate::plan::compile::Op;
pub use crate::policy::approval::signers_edit::Edit;
use std::path::Path;

/// The largest allowed-signers file read.
const MAX_SIGNERS_FILE: u64 = 16 << 20;

/// What a change to the signers file did.
#[derive(Debug)]
pub enum Changed {
    /// The file already said so.
    Unchanged,
    /// Rewritten in `.autonomy/` and journaled: the file's sha256 before and after.
    Written { from: String, to: String },
    /// The file is in the workspace tree: a plan was proposed (or an identical one found).
    Proposed(Box<Proposed>),
}

/// The signers file's path relative to the workspace root, and its text (empty when absent).
pub fn current(s: &Session) -> Result<(String, String)> {
    let rel = s.rules()?.allowed_signers.clone();
    let text = match crate::store::read_config_file(&s.ws.root.join(&rel), MAX_SIGNERS_FILE) {
        Ok(b) => String::from_utf8(b)
            .map_err(|_| Error::failed(format!("allowed signers file {rel} is not UTF-8")))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(format!("reading allowed signers file {rel}"), e)),
    };
    Ok((rel, text))
}

/// Read a public key file (bounded, not through a link at its name).
pub fn read_key_file(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    crate::store::read_config_file(path, max)
}

/// Apply `edit` to the signers file (`action` is `add` or `remove`, as journaled). Returns
/// the file's path relative to the workspace root and what happened.
pub fn change(
    s: &mut Session,
    action: &str,
    principal: &str,
    key: Option<&str>,
    edit: &dyn Fn(&str) -> Result<Edit>,
) -> Result<(String, Changed)> {
    s.refuse_if_interrupted()?;
    let rel = s.rules()?.allowed_signers.clone();
    let in_state_dir = Path::new(rel.trim_start_matches("./")).starts_with(crate::paths::STATE_DIR);
    if !in_state_dir {
        let changed = change_by_plan(s, &rel, action, principal, edit)?;
        return Ok((rel, changed));
    }
    // Under the lock, so two changes never lose one another and no run reads half a file.
    let _lock = s.lock(&format!("autonomy signers {action}"), None)?;
    let (_, old) = current(s)?;
    let new = match edit(&old)? {
        Edit::Unchanged => return Ok((rel, Changed::Unchanged)),
        Edit::Changed(new) => new,
    };
    write_atomically(&s.ws.root.join(&rel), new.as_bytes())?;
    let from = crate::util::hash::sha256_hex(old.as_bytes());
    let to = crate::util::hash::sha256_hex(new.as_bytes());
    s.event(
        EventKind::SignersChanged,
        None,
        serde_json::json!({
            "action": action, "principal": principal, "key_fingerprint": key,
            "file": rel, "from": from, "to": to,
        }),
    )?;
    Ok((rel, Changed::Written { from, to }))
}

/// Write `bytes` to `path` whole or not at all: a temp file beside it, synced, renamed
/// over it (keeping the old file's permissions).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    let mut tmp = tempfile::Builder::new()
        .prefix(".allowed_signers.")
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    tmp.write_all(bytes)
        .and_then(|()| {
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))
        })
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e.error))?;
    let _ = crate::store::sync_dir(dir);
    Ok(())
}

/// A signers file inside the workspace tree changes like any file: by a plan.
fn change_by_plan(
    s: &mut Session,
    rel: &str,
    action: &str,
    principal: &str,
    edit: &dyn Fn(&str) -> Result<Edit>,
) -> Result<Changed> {
    let (_, old) = current(s)?;
    let new = match edit(&old)? {
        Edit::Unchanged => return Ok(Changed::Unchanged),
        Edit::Changed(new) => new,
    };
    let title = if action == "add" {
        format!("Trust {principal} to sign approvals")
    } else {
        format!("Stop trusting {principal} to sign approvals")
    };
    let write = Op::Write {
        path: crate::paths::RelPath::parse(rel)?,
        bytes: new.into_bytes(),
        mode: None,
    };
    let mut proposal = Proposal::new(Source::Ops(vec![write])).title(Some(title));
    proposal.description = Some(format!(
        "`autonomy signers {action} {principal}`: a change to the allowed-signers file {rel}."
    ));
    proposal.via = Some("signers".into());
    Ok(Changed::Proposed(Box::new(propose(s, proposal)?)))
}
