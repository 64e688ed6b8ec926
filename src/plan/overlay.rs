//! The fold: ops applied in order over an overlay of the workspace (each path read from
//! disk the first time it is looked at), edits resolved to full contents, and the result
//! turned into one change per path with its `before`, every new content stored as a blob
//! and checked against the rules' limits.

use super::op::{ModeSpec, Op};
use crate::error::{Error, Result};
use crate::model::plan::{Change, State};
use crate::paths::RelPath;
use crate::policy::rules::Rules;
use crate::store::blobs::BlobBatch;
use crate::util::hash::sha256_hex;
use crate::workspace::Workspace;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const DEFAULT_FILE_MODE: u32 = 0o644;

/// The error a plan that changes nothing fails with; `autonomy plan` reports it as a no-op
/// (exit 0, no id), not as a failure.
pub const CHANGES_NOTHING: &str =
    "the plan changes nothing: every action leaves the workspace as it is";

/// A node of the overlay: what a path holds once the ops so far are applied.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Absent,
    Dir,
    File { hash: String, mode: u32 },
    Link { target: String },
}

/// The workspace as the plan sees it while folding: every path touched, with what it held
/// before (read from disk the first time it is looked at) and what it holds now.
pub struct Overlay<'a> {
    ws: &'a Workspace,
    before: BTreeMap<RelPath, State>,
    now: BTreeMap<RelPath, Node>,
    from: HashMap<RelPath, RelPath>,
    /// Folders an op made or named (`mkdir`): never removed for being emptied.
    kept: BTreeSet<RelPath>,
    /// Folders whose mode an op set (`chmod`) or carried (a moved folder keeps its mode).
    dir_modes: HashMap<RelPath, u32>,
    /// New contents by hash, not yet in the blob store.
    contents: HashMap<String, Vec<u8>>,
    /// Large new contents, streamed to temp files in the store (committed by `finish`).
    staged: BlobBatch<'a>,
}

impl<'a> Overlay<'a> {
    pub fn new(ws: &'a Workspace, staged: BlobBatch<'a>) -> Self {
        Overlay {
            ws,
            before: BTreeMap::new(),
            now: BTreeMap::new(),
            from: HashMap::new(),
            kept: BTreeSet::new(),
            dir_modes: HashMap::new(),
            contents: HashMap::new(),
            staged,
        }
    }

    /// The size of content `hash` when the plan has it (in memory, staged or stored).
    fn content_size(&self, hash: &str) -> Option<u64> {
        match self.contents.get(hash) {
            Some(b) => Some(b.len() as u64),
            None => self.staged.size(hash),
        }
    }

    /// Stream the unchanged content `hash` of a file on disk into the staging batch (for a
    /// move), checking on the way that the file still holds it.
    fn stage_from_disk(&mut self, p: &RelPath, hash: &str) -> Result<()> {
        let source = self.disk_source(p, hash);
        let dir = self.ws.open_dir(source.parent().as_ref())?;
        let file = dir
            .open(source.file_name())
            .map_err(|e| Error::io(format!("reading {source}"), e))?;
        let (got, _) = self.staged.put_reader(file)?;
        if got != hash {
            self.staged.discard(&got);
            return Err(changed_while_compiling(&source));
        }
        Ok(())
    }

    /// Unchanged content is still on disk at some path we looked at.
    fn disk_source(&self, p: &RelPath, hash: &str) -> RelPath {
        self.before
            .iter()
            .find(|(_, s)| s.file_hash() == Some(hash))
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| p.clone())
    }

    fn disk_state(&self, p: &RelPath) -> Result<State> {
        self.ws.recheck(p)
    }

    fn get(&mut self, p: &RelPath) -> Result<Node> {
        if let Some(n) = self.now.get(p) {
            return Ok(n.clone());
        }
        // A path under a parent this plan removed or replaced by a file holds nothing.
        for anc in p.ancestors() {
            if matches!(
                self.now.get(&anc),
                Some(Node::Absent) | Some(Node::File { .. })
            ) {
                return Ok(Node::Absent);
            }
        }
        let st = self.disk_state(p)?;
        let node = match &st {
            State::Absent => Node::Absent,
            State::Dir { .. } => Node::Dir,
            State::File { sha256, mode } => Node::File {
                hash: sha256.clone(),
                mode: *mode,
            },
            State::Symlink { target } => Node::Link {
                target: target.clone(),
            },
        };
        self.before.insert(p.clone(), st);
        self.now.insert(p.clone(), node.clone());
        Ok(node)
    }

    fn set(&mut self, p: &RelPath, n: Node) -> Result<()> {
        self.get(p)?;
        self.now.insert(p.clone(), n);
        Ok(())
    }

    fn ensure_parents(&mut self, p: &RelPath) -> Result<()> {
        for anc in p.ancestors() {
            match self.get(&anc)? {
                Node::Dir => {}
                Node::Absent => self.set(&anc, Node::Dir)?,
                Node::File { .. } => {
                    return Err(Error::failed(format!(
                        "cannot create {p}: its parent {anc} is a file"
                    )));
                }
                Node::Link { .. } => return Err(crate::workspace::symlink_refused(p)),
            }
        }
        Ok(())
    }

    /// Children of a directory as the overlay sees it: on disk, plus created by the plan.
    fn children(&mut self, dir: &RelPath) -> Result<Vec<RelPath>> {
        let mut names = BTreeSet::new();
        if self.before.get(dir).is_some_and(State::is_dir) {
            let d = self.ws.open_dir(Some(dir))?;
            for entry in d
                .entries()
                .map_err(|e| Error::io(format!("listing {dir}"), e))?
            {
                let entry = entry.map_err(|e| Error::io(format!("listing {dir}"), e))?;
                let name = entry.file_name();
                let name = name.to_str().ok_or_else(|| {
                    Error::failed(format!("{dir} holds a file whose name is not UTF-8; autonomy cannot name it in a plan"))
                })?;
                names.insert(dir.join(name)?);
            }
        }
        for p in self.now.keys() {
            if p.parent().as_ref() == Some(dir) {
                names.insert(p.clone());
            }
        }
        Ok(names.into_iter().collect())
    }

    fn current_bytes(&mut self, p: &RelPath, hash: &str) -> Result<Vec<u8>> {
        if let Some(b) = self.contents.get(hash) {
            return Ok(b.clone());
        }
        let on_disk = self.before.values().any(|s| s.file_hash() == Some(hash));
        if !on_disk && self.staged.size(hash).is_some() {
            // Staged by this plan, or already in the store.
            return self.staged.read(hash);
        }
        // Unchanged content: it is still on disk at some path we looked at.
        let source = self.disk_source(p, hash);
        let dir = self.ws.open_dir(source.parent().as_ref())?;
        let bytes = dir
            .read(source.file_name())
            .map_err(|e| Error::io(format!("reading {source}"), e))?;
        if sha256_hex(&bytes) != hash {
            return Err(changed_while_compiling(&source));
        }
        Ok(bytes)
    }

    fn put_content(&mut self, bytes: Vec<u8>) -> String {
        let hash = sha256_hex(&bytes);
        self.contents.entry(hash.clone()).or_insert(bytes);
        hash
    }

    /// Fold one op into the overlay; its errors are labelled with `label` (the action or
    /// patch file it came from).
    pub fn apply(&mut self, label: &str, op: Op) -> Result<()> {
        self.apply_op(op).map_err(|e| e.about(label))
    }

    fn apply_op(&mut self, op: Op) -> Result<()> {
        match op {
            Op::Write { path, bytes, mode } => {
                let mode = self.write_mode(&path, mode)?;
                let hash = self.put_content(bytes);
                self.set(&path, Node::File { hash, mode })
            }
            Op::WriteStaged { path, hash, mode } => {
                let mode = self.write_mode(&path, mode)?;
                self.set(&path, Node::File { hash, mode })
            }
            Op::Edit {
                path,
                find,
                replace,
                count,
            } => self.edit(&path, &find, &replace, count),
            Op::Delete { path } => self.delete(&path),
            Op::Mkdir { path } => self.mkdir(path),
            Op::Chmod { path, mode } => self.chmod(path, mode),
            Op::Symlink { path, target } => self.symlink(&path, target),
            Op::Move { from, to } => self.move_tree(&from, &to),
            Op::Exec(_) => Err(Error::failed(
                "internal: exec steps are not folded over files",
            )),
        }
    }

    /// The mode a file written at `path` gets (its parents made first): `spec` applied to
    /// the mode of the file it replaces, or to the default. A folder there is refused.
    fn write_mode(&mut self, path: &RelPath, spec: Option<ModeSpec>) -> Result<u32> {
        self.ensure_parents(path)?;
        let existing = match self.get(path)? {
            Node::Dir => {
                return Err(Error::failed(format!(
                    "{path} is a directory; delete it first to write a file there"
                )));
            }
            Node::File { mode, .. } => Some(mode),
            Node::Absent | Node::Link { .. } => None,
        };
        Ok(apply_mode(existing.unwrap_or(DEFAULT_FILE_MODE), spec))
    }

    /// Replace exactly `count` occurrences of `find` in the file at `path`.
    fn edit(&mut self, path: &RelPath, find: &[u8], replace: &[u8], count: usize) -> Result<()> {
        let (hash, mode) = self.edited_file(path)?;
        let bytes = self.current_bytes(path, &hash)?;
        let found = count_matches(&bytes, find);
        if found != count {
            return Err(find_mismatch(path, find, found, count));
        }
        let new = replace_all(&bytes, find, replace);
        let hash = self.put_content(new);
        self.set(path, Node::File { hash, mode })
    }

    /// The content hash and mode of the file an edit changes (anything else refused).
    fn edited_file(&mut self, path: &RelPath) -> Result<(String, u32)> {
        match self.get(path)? {
            Node::File { hash, mode } => Ok((hash, mode)),
            Node::Absent => Err(Error::failed(format!(
                "cannot edit {path}: it does not exist"
            ))),
            Node::Dir => Err(Error::failed(format!(
                "cannot edit {path}: it is a directory"
            ))),
            Node::Link { .. } => Err(Error::failed(format!(
                "cannot edit {path}: it is a symbolic link (links are never followed)"
            ))
            .hint("write the file the link points to by its own path")),
        }
    }

    fn delete(&mut self, path: &RelPath) -> Result<()> {
        match self.get(path)? {
            Node::Absent => Err(Error::failed(format!(
                "cannot delete {path}: it does not exist"
            ))),
            Node::File { .. } | Node::Link { .. } => self.set(path, Node::Absent),
            Node::Dir => self.delete_tree(path),
        }
    }

    fn mkdir(&mut self, path: RelPath) -> Result<()> {
        self.ensure_parents(&path)?;
        self.kept.insert(path.clone());
        match self.get(&path)? {
            Node::Dir => Ok(()),
            Node::Absent => self.set(&path, Node::Dir),
            Node::File { .. } | Node::Link { .. } => Err(Error::failed(format!(
                "cannot mkdir {path}: a file or link is there"
            ))),
        }
    }

    fn chmod(&mut self, path: RelPath, mode: ModeSpec) -> Result<()> {
        match self.get(&path)? {
            Node::File { hash, mode: old } => self.set(
                &path,
                Node::File {
                    hash,
                    mode: apply_mode(old, Some(mode)),
                },
            ),
            Node::Absent => Err(Error::failed(format!(
                "cannot chmod {path}: it does not exist"
            ))),
            Node::Dir => {
                let old = self.dir_mode_now(&path);
                self.dir_modes.insert(path, apply_mode(old, Some(mode)));
                Ok(())
            }
            Node::Link { .. } => Err(Error::failed(format!(
                "cannot chmod {path}: it is a symbolic link (links have no mode of their own)"
            ))),
        }
    }

    fn symlink(&mut self, path: &RelPath, target: String) -> Result<()> {
        self.ensure_parents(path)?;
        match self.get(path)? {
            Node::Dir => Err(Error::failed(format!(
                "cannot make the link {path}: it is a directory"
            ))
            .hint("delete the folder first in the plan")),
            _ => self.set(path, Node::Link { target }),
        }
    }
    /// The mode folder `dir` has at this point of the plan: set by an op, else on disk,
    /// else the default of a new folder.
    fn dir_mode_now(&self, dir: &RelPath) -> u32 {
        match self.dir_modes.get(dir) {
            Some(m) => *m,
            None => match self.before.get(dir) {
                Some(st @ State::Dir { .. }) => st.dir_mode(),
                _ => crate::model::plan::DEFAULT_DIR_MODE,
            },
        }
    }

    fn delete_tree(&mut self, dir: &RelPath) -> Result<()> {
        self.dir_modes.remove(dir);
        for child in self.children(dir)? {
            match self.get(&child)? {
                Node::Absent => {}
                Node::File { .. } | Node::Link { .. } => self.set(&child, Node::Absent)?,
                Node::Dir => self.delete_tree(&child)?,
            }
        }
        self.set(dir, Node::Absent)
    }

    fn move_tree(&mut self, from: &RelPath, to: &RelPath) -> Result<()> {
        let node = self.get(from)?;
        if node == Node::Absent {
            return Err(Error::failed(format!(
                "cannot move {from}: it does not exist"
            )));
        }
        if self.get(to)? != Node::Absent {
            return Err(
                Error::failed(format!("cannot move {from} to {to}: {to} already exists"))
                    .hint("delete the target first in the plan, or choose another name"),
            );
        }
        self.ensure_parents(to)?;
        match node {
            Node::File { hash, mode } => {
                if self.content_size(&hash).is_none() {
                    self.stage_from_disk(from, &hash)?;
                }
                self.set(to, Node::File { hash, mode })?;
                let origin = self.from.remove(from).unwrap_or_else(|| from.clone());
                self.from.insert(to.clone(), origin);
                self.set(from, Node::Absent)
            }
            Node::Link { target } => {
                self.set(to, Node::Link { target })?;
                let origin = self.from.remove(from).unwrap_or_else(|| from.clone());
                self.from.insert(to.clone(), origin);
                self.set(from, Node::Absent)
            }
            Node::Dir => {
                // The folder moves with its mode.
                let mode = self.dir_mode_now(from);
                self.set(to, Node::Dir)?;
                self.dir_modes.insert(to.clone(), mode);
                self.dir_modes.remove(from);
                for child in self.children(from)? {
                    if self.get(&child)? == Node::Absent {
                        continue;
                    }
                    let target = to.join(child.file_name())?;
                    self.move_tree(&child, &target)?;
                }
                self.set(from, Node::Absent)
            }
            Node::Absent => Ok(()),
        }
    }

    /// A folder the plan empties (its last entry deleted or moved away) is removed too, as
    /// git does, as a change of its own (so rollback brings it back). Only folders that
    /// exist now and held an entry the plan removed; innermost first, up to the root.
    fn remove_emptied(&mut self) -> Result<()> {
        let removed: Vec<RelPath> = self
            .now
            .iter()
            .filter(|(p, n)| {
                **n == Node::Absent && self.before.get(*p).is_some_and(|b| !b.is_absent())
            })
            .map(|(p, _)| p.clone())
            .collect();
        // Every folder holding a removed entry, deepest first: each is decided after
        // every folder below it.
        let mut dirs: Vec<RelPath> = removed
            .iter()
            .flat_map(|p| p.ancestors())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.as_str().matches('/').count()));
        for dir in dirs {
            if self.kept.contains(&dir)
                || self.get(&dir)? != Node::Dir
                || !self.before.get(&dir).is_some_and(State::is_dir)
            {
                continue;
            }
            let mut empty = true;
            for child in self.children(&dir)? {
                if self.get(&child)? != Node::Absent {
                    empty = false;
                    break;
                }
            }
            if empty {
                self.now.insert(dir, Node::Absent);
            }
        }
        Ok(())
    }

    /// The changes, with every new content stored as a blob, checked against the limits.
    pub fn finish(mut self, rules: &Rules, allow_empty: bool) -> Result<Vec<Change>> {
        self.remove_emptied()?;
        let mut changes = Vec::new();
        let mut budget = Budget::default();
        for (path, node) in &self.now {
            let before = self.before.get(path).cloned().unwrap_or(State::Absent);
            let after = self.after_state(path, node, &before);
            if before == after {
                continue;
            }
            refuse_kind_change(path, &before, &after)?;
            if let State::File { sha256, .. } = &after
                && before.file_hash() != Some(sha256.as_str())
            {
                budget.add(path, sha256, || self.content_size(sha256), rules)?;
            }
            let from = self
                .from
                .get(path)
                .map(|f| f.to_string())
                .filter(|_| before.is_absent());
            changes.push(Change {
                path: path.to_string(),
                before,
                after,
                from,
            });
        }
        check_count(&changes, rules, allow_empty)?;
        // Every new content durable in the store, all at once; staged leftovers (content a
        // later action replaced) are dropped.
        for hash in &budget.stored {
            if let Some(bytes) = self.contents.get(hash) {
                self.staged.put(bytes)?;
            }
        }
        self.staged.commit(&|h| budget.stored.contains(h))?;
        Ok(changes)
    }

    /// What `path` holds once the plan is applied, as a plan state.
    fn after_state(&self, path: &RelPath, node: &Node, before: &State) -> State {
        match node {
            Node::Absent => State::Absent,
            // A folder an op gave a mode (chmod, or moved here) has it; an existing
            // folder keeps its mode; a new one gets the default.
            Node::Dir if self.dir_modes.contains_key(path) => State::Dir {
                mode: self.dir_modes.get(path).copied(),
            },
            Node::Dir if before.is_dir() => before.clone(),
            Node::Dir => State::Dir {
                mode: Some(crate::model::plan::DEFAULT_DIR_MODE),
            },
            Node::File { hash, mode } => State::File {
                sha256: hash.clone(),
                mode: *mode,
            },
            Node::Link { target } => State::Symlink {
                target: target.clone(),
            },
        }
    }
}

/// The new contents a plan stores, counted against the limits as they are added.
#[derive(Default)]
struct Budget {
    stored: BTreeSet<String>,
    plan_bytes: u64,
}

impl Budget {
    /// Count content `hash` that `path` gets (its `size` when the plan has it), once per
    /// distinct content: over `max_file_bytes` or, in all, `max_plan_bytes` is refused.
    fn add(
        &mut self,
        path: &RelPath,
        hash: &str,
        size: impl FnOnce() -> Option<u64>,
        rules: &Rules,
    ) -> Result<()> {
        if !self.stored.insert(hash.to_string()) {
            return Ok(());
        }
        let len = size().ok_or_else(|| {
            Error::failed(format!("internal: content of {path} was not resolved"))
        })?;
        if len > rules.limits.max_file_bytes {
            return Err(Error::failed(format!(
                "{path} would be {}, over the limit max_file_bytes ({}) in autonomy.toml",
                crate::util::text::size(len),
                crate::util::text::size(rules.limits.max_file_bytes)
            )));
        }
        self.plan_bytes += len;
        if self.plan_bytes > rules.limits.max_plan_bytes {
            return Err(Error::failed(format!(
                "the plan's new content exceeds max_plan_bytes ({}) in autonomy.toml",
                crate::util::text::size(rules.limits.max_plan_bytes)
            ))
            .hint("split the work into smaller plans"));
        }
        Ok(())
    }
}

/// A file or link becoming a folder, or back, in one plan is refused.
fn refuse_kind_change(path: &RelPath, before: &State, after: &State) -> Result<()> {
    if matches!(
        (before, after),
        (
            State::File { .. } | State::Symlink { .. },
            State::Dir { .. }
        ) | (
            State::Dir { .. },
            State::File { .. } | State::Symlink { .. }
        )
    ) {
        return Err(Error::failed(format!(
            "{path} would change from {} to {} in one plan; autonomy does not replace a file by a folder or back",
            kind_word(before),
            kind_word(after)
        ))
        .hint("split it into two plans: first the delete, then the new content"));
    }
    Ok(())
}

/// No changes (unless the plan has exec steps), or more than `max_changes`, is refused.
fn check_count(changes: &[Change], rules: &Rules, allow_empty: bool) -> Result<()> {
    if changes.is_empty() && !allow_empty {
        return Err(Error::failed(CHANGES_NOTHING));
    }
    if changes.len() as u64 > rules.limits.max_changes {
        return Err(Error::failed(format!(
            "the plan has {} changes, over the limit max_changes ({}) in autonomy.toml",
            changes.len(),
            rules.limits.max_changes
        )));
    }
    Ok(())
}

/// An edit whose `find` text occurs `found` times, not the `count` it expects.
fn find_mismatch(path: &RelPath, find: &[u8], found: usize, count: usize) -> Error {
    let shown = String::from_utf8_lossy(find);
    let shown: String = shown.chars().take(60).collect();
    if found == 0 {
        Error::failed(format!(
            "edit of {path}: `find` text {shown:?} does not occur in the file"
        ))
        .hint("check the text against the file's current content (whitespace and case must match)")
    } else {
        Error::failed(format!(
            "edit of {path}: `find` text {shown:?} occurs {found} times, expected {count}"
        ))
        .hint(format!(
            "make `find` unique, or set `count = {found}` to replace every occurrence"
        ))
    }
}

fn changed_while_compiling(source: &RelPath) -> Error {
    Error::stale(format!(
        "{source} changed while the plan was being compiled"
    ))
    .hint("run `autonomy plan` again")
}

fn kind_word(s: &State) -> &'static str {
    match s {
        State::Absent => "nothing",
        State::Dir { .. } => "a folder",
        State::File { .. } => "a file",
        State::Symlink { .. } => "a symlink",
    }
}

fn apply_mode(base: u32, spec: Option<ModeSpec>) -> u32 {
    match spec {
        None => base,
        Some(ModeSpec::Exact(m)) => m,
        // Like git: executable means x wherever r is set.
        Some(ModeSpec::Executable(true)) => base | ((base & 0o444) >> 2),
        Some(ModeSpec::Executable(false)) => base & !0o111,
    }
}

fn count_matches(hay: &[u8], needle: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        if &hay[i..i + needle.len()] == needle {
            n += 1;
            i += needle.len();
        } else {
            i += 1;
        }
    }
    n
}

fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_git() {
        assert_eq!(apply_mode(0o644, Some(ModeSpec::Executable(true))), 0o755);
        assert_eq!(apply_mode(0o600, Some(ModeSpec::Executable(true))), 0o700);
        assert_eq!(apply_mode(0o755, Some(ModeSpec::Executable(false))), 0o644);
    }

    #[test]
    fn matches_do_not_overlap() {
        assert_eq!(count_matches(b"aaaa", b"aa"), 2);
        assert_eq!(replace_all(b"a-a-a", b"a", b"bb"), b"bb-bb-bb");
    }

    /// An error whose own text starts with "action " (here a folder named `action d`)
    /// still gets its label: the old check read the label back out of the message and
    /// left this one unlabelled.
    #[test]
    fn an_error_naming_a_path_that_starts_with_action_is_still_labelled() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("action d")).unwrap();
        let ws = Workspace::open(dir.path()).unwrap();
        let blobs = crate::store::blobs::BlobStore::new(dir.path().join("objects"));
        let mut overlay = Overlay::new(&ws, blobs.batch());
        let op = Op::Write {
            path: RelPath::parse("action d").unwrap(),
            bytes: b"x".to_vec(),
            mode: None,
        };
        let e = overlay.apply("action 1 (write action d)", op).unwrap_err();
        assert_eq!(
            e.message,
            "action 1 (write action d): action d is a directory; delete it first to write a file there"
        );
        assert_eq!(e.labels(), ["action 1 (write action d)"]);
    }
}
