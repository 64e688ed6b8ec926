//! Compiling a plan file against the workspace: actions are ordered by their `after`
//! dependencies, folded per path over an overlay of the workspace, edits resolved to
//! full contents, and the result turned into one change per path with its `before`.

use super::file::{Action, PlanFile, parse_mode};
use crate::error::{Error, Result};
use crate::model::plan::{Change, ExecStep, PLAN_FORMAT, Plan, State};
use crate::paths::RelPath;
use crate::policy::rules::Rules;
use crate::store::blobs::{BlobBatch, BlobStore};
use crate::util::hash::sha256_hex;
use crate::workspace::Workspace;
use base64::Engine as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

/// How a chmod or write sets permission bits.
#[derive(Debug, Clone, Copy)]
pub enum ModeSpec {
    Exact(u32),
    Executable(bool),
}

/// One primitive operation, after the plan file's convenience has been resolved.
#[derive(Debug)]
pub enum Op {
    Write {
        path: RelPath,
        bytes: Vec<u8>,
        mode: Option<ModeSpec>,
    },
    /// A write whose content was streamed into the plan's blob batch (a `content_file`).
    WriteStaged {
        path: RelPath,
        hash: String,
        mode: Option<ModeSpec>,
    },
    Edit {
        path: RelPath,
        find: Vec<u8>,
        replace: Vec<u8>,
        count: usize,
    },
    Delete {
        path: RelPath,
    },
    Move {
        from: RelPath,
        to: RelPath,
    },
    Mkdir {
        path: RelPath,
    },
    Chmod {
        path: RelPath,
        mode: ModeSpec,
    },
    /// Create or retarget a symbolic link (its target recorded verbatim, never followed).
    Symlink {
        path: RelPath,
        target: String,
    },
    /// A command step (runs after every file change of the plan).
    Exec(ExecStep),
}

/// What the plan header says, besides its changes.
pub struct Meta {
    pub workspace: String,
    pub title: String,
    pub author: String,
    pub description: Option<String>,
}

const DEFAULT_FILE_MODE: u32 = 0o644;

/// Turn a parsed plan file into ordered ops (ids and cycles checked; content files
/// streamed into `staging`, hashed on the way, never held in memory).
pub fn ops_from_file(
    pf: &PlanFile,
    root: &Path,
    plan_dir: Option<&Path>,
    rules: &Rules,
    staging: &mut BlobBatch,
) -> Result<Vec<(String, Op)>> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, a) in pf.action.iter().enumerate() {
        a.check_keys(i)?;
        if let Some(id) = &a.id {
            if id.is_empty() {
                return Err(Error::failed(format!(
                    "{}: `id` must not be empty",
                    a.label(i)
                )));
            }
            if let Some(first) = ids.insert(id, i) {
                return Err(Error::failed(format!(
                    "{}: duplicate id \"{}\" (first used by action {})",
                    a.label(i),
                    crate::error::clip_lines(&id.escape_debug().to_string(), 80),
                    first + 1
                )));
            }
        }
    }
    let order = dependency_order(&pf.action, &ids)?;
    let mut ops = Vec::with_capacity(order.len());
    for i in order {
        let a = &pf.action[i];
        let label = a.label(i);
        let op = to_op(a, root, plan_dir, rules, staging).map_err(|e| prefix(e, &label))?;
        ops.push((label, op));
    }
    Ok(ops)
}

fn prefix(mut e: Error, label: &str) -> Error {
    if !e.message.starts_with("action ") {
        e.message = format!("{label}: {}", e.message);
    }
    e
}

/// Stable topological order: an action runs after everything it names in `after`, and
/// otherwise in file order. A cycle is an error naming its members.
fn dependency_order(actions: &[Action], ids: &HashMap<&str, usize>) -> Result<Vec<usize>> {
    let n = actions.len();
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (i, a) in actions.iter().enumerate() {
        for name in a.after.iter().flatten() {
            match ids.get(name.as_str()) {
                Some(&j) if j == i => {
                    return Err(Error::failed(format!(
                        "{}: lists itself in `after`",
                        a.label(i)
                    )));
                }
                Some(&j) => {
                    deps[i].insert(j);
                }
                None => {
                    return Err(Error::failed(format!(
                        "{}: `after` names {}, but no action has that id",
                        a.label(i),
                        crate::error::clip_lines(&format!("{name:?}"), 80)
                    )));
                }
            }
        }
    }
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d]));
        match next {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => {
                let stuck: Vec<String> = (0..n)
                    .filter(|&i| !done[i])
                    .map(|i| {
                        actions[i].id.as_deref().map_or_else(
                            || format!("#{}", i + 1),
                            |id| crate::error::clip_lines(id, 80),
                        )
                    })
                    .collect();
                return Err(Error::failed(format!(
                    "the actions' `after` lists form a cycle among: {}",
                    stuck.join(", ")
                ))
                .hint("remove one of the `after` entries to break the cycle"));
            }
        }
    }
    Ok(order)
}

fn need<'a>(v: &'a Option<String>, key: &str, kind: &str) -> Result<&'a str> {
    v.as_deref()
        .ok_or_else(|| Error::failed(format!("a {kind} action needs `{key}`")))
}

fn mode_spec(a: &Action) -> Result<Option<ModeSpec>> {
    match (&a.mode, a.executable) {
        (Some(_), Some(_)) => Err(Error::failed(
            "give either `mode` or `executable`, not both",
        )),
        (Some(m), None) => parse_mode(m)
            .map(|m| Some(ModeSpec::Exact(m)))
            .ok_or_else(|| {
                Error::failed(format!(
                    "`mode` {m:?} is not an octal permission like \"0755\""
                ))
            }),
        (None, Some(x)) => Ok(Some(ModeSpec::Executable(x))),
        (None, None) => Ok(None),
    }
}

fn to_op(
    a: &Action,
    root: &Path,
    plan_dir: Option<&Path>,
    rules: &Rules,
    staging: &mut BlobBatch,
) -> Result<Op> {
    let path = || RelPath::parse(need(&a.path, "path", &a.kind)?);
    Ok(match a.kind.as_str() {
        "write" => {
            let sources = [
                a.content.is_some(),
                a.content_base64.is_some(),
                a.content_file.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                return Err(Error::failed(
                    "a write action needs exactly one of `content`, `content_base64`, `content_file`",
                ));
            }
            let bytes = if let Some(c) = &a.content {
                c.clone().into_bytes()
            } else if let Some(b) = &a.content_base64 {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .map_err(|e| {
                        Error::failed(format!("`content_base64` is not valid base64: {e}"))
                    })?
            } else {
                let hash = stage_content_file(
                    a.content_file.as_deref().unwrap_or(""),
                    plan_dir,
                    rules.limits.max_file_bytes,
                    staging,
                )?;
                return Ok(Op::WriteStaged {
                    path: path()?,
                    hash,
                    mode: mode_spec(a)?,
                });
            };
            Op::Write {
                path: path()?,
                bytes,
                mode: mode_spec(a)?,
            }
        }
        "edit" => {
            let find = need(&a.find, "find", "edit")?;
            if find.is_empty() {
                return Err(Error::failed("`find` must not be empty"));
            }
            let replace = a
                .replace
                .as_deref()
                .ok_or_else(|| Error::failed("an edit action needs `replace`"))?;
            let count = match a.count {
                None => 1,
                Some(c) if (1..=1_000_000).contains(&c) => c as usize,
                Some(c) => {
                    return Err(Error::failed(format!(
                        "`count` must be between 1 and 1000000, not {c}"
                    )));
                }
            };
            Op::Edit {
                path: path()?,
                find: find.as_bytes().to_vec(),
                replace: replace.as_bytes().to_vec(),
                count,
            }
        }
        "delete" => Op::Delete { path: path()? },
        "mkdir" => Op::Mkdir { path: path()? },
        "move" => {
            let from = RelPath::parse(need(&a.from, "from", "move")?)?;
            let to = RelPath::parse(need(&a.to, "to", "move")?)?;
            if from == to || to.is_within(&from) {
                return Err(Error::failed(format!(
                    "cannot move {from} into itself ({to})"
                )));
            }
            Op::Move { from, to }
        }
        "chmod" => {
            let mode = mode_spec(a)?
                .ok_or_else(|| Error::failed("a chmod action needs `mode` or `executable`"))?;
            Op::Chmod {
                path: path()?,
                mode,
            }
        }
        "symlink" => {
            let target = need(&a.target, "target", "symlink")?;
            if !crate::model::plan::valid_link_target(target) {
                return Err(Error::failed(format!(
                    "the link target of {} must be 1 to {} bytes without NUL",
                    crate::paths::shown(a.path.as_deref().unwrap_or("")),
                    crate::model::plan::MAX_LINK_TARGET
                )));
            }
            Op::Symlink {
                path: path()?,
                target: target.to_string(),
            }
        }
        "exec" => Op::Exec(exec_step(a, rules, root)?),
        other => return Err(Error::failed(format!("unknown kind {other:?}"))),
    })
}

/// `content_file` is relative to the plan file's folder and must stay inside it. Its bytes
/// are streamed into `staging`; returns their hash.
fn stage_content_file(
    raw: &str,
    plan_dir: Option<&Path>,
    max: u64,
    staging: &mut BlobBatch,
) -> Result<String> {
    let dir = plan_dir.ok_or_else(|| {
        Error::failed("`content_file` needs a plan file on disk (not stdin) to be relative to")
    })?;
    let rel =
        RelPath::parse(raw).map_err(|e| Error::failed(format!("`content_file`: {}", e.message)))?;
    // The one reader (`plan::read`): inside the plan file's folder, never through a
    // symlink at the end, never a FIFO or device (a spool plan's content_file is the
    // agent's to choose), refused before reading when over the cap.
    let (file, _) = super::read::open_below(super::read::What::ContentFile, dir, &rel, max)?;
    let (hash, size) = staging
        .put_reader(file.take(max + 1))
        .map_err(|e| Error::failed(format!("reading content_file {raw}: {}", e.message)))?;
    if size > max {
        staging.discard(&hash);
        return Err(super::read::refusal(
            super::read::What::ContentFile,
            raw,
            crate::util::inode::too_large_io(size, max),
        ));
    }
    Ok(hash)
}

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

    pub fn apply(&mut self, label: &str, op: Op) -> Result<()> {
        self.apply_inner(op).map_err(|e| prefix(e, label))
    }

    fn apply_inner(&mut self, op: Op) -> Result<()> {
        match op {
            Op::Write { path, bytes, mode } => {
                self.ensure_parents(&path)?;
                let existing = match self.get(&path)? {
                    Node::Dir => {
                        return Err(Error::failed(format!(
                            "{path} is a directory; delete it first to write a file there"
                        )));
                    }
                    Node::File { mode, .. } => Some(mode),
                    Node::Absent | Node::Link { .. } => None,
                };
                let base = existing.unwrap_or(DEFAULT_FILE_MODE);
                let mode = apply_mode(base, mode);
                let hash = self.put_content(bytes);
                self.set(&path, Node::File { hash, mode })
            }
            Op::WriteStaged { path, hash, mode } => {
                self.ensure_parents(&path)?;
                let existing = match self.get(&path)? {
                    Node::Dir => {
                        return Err(Error::failed(format!(
                            "{path} is a directory; delete it first to write a file there"
                        )));
                    }
                    Node::File { mode, .. } => Some(mode),
                    Node::Absent | Node::Link { .. } => None,
                };
                let mode = apply_mode(existing.unwrap_or(DEFAULT_FILE_MODE), mode);
                self.set(&path, Node::File { hash, mode })
            }
            Op::Edit {
                path,
                find,
                replace,
                count,
            } => {
                let (hash, mode) = match self.get(&path)? {
                    Node::File { hash, mode } => (hash, mode),
                    Node::Absent => {
                        return Err(Error::failed(format!(
                            "cannot edit {path}: it does not exist"
                        )));
                    }
                    Node::Dir => {
                        return Err(Error::failed(format!(
                            "cannot edit {path}: it is a directory"
                        )));
                    }
                    Node::Link { .. } => {
                        return Err(Error::failed(format!(
                            "cannot edit {path}: it is a symbolic link (links are never followed)"
                        ))
                        .hint("write the file the link points to by its own path"));
                    }
                };
                let bytes = self.current_bytes(&path, &hash)?;
                let found = count_matches(&bytes, &find);
                if found != count {
                    let shown = String::from_utf8_lossy(&find);
                    let shown: String = shown.chars().take(60).collect();
                    return Err(Error::failed(if found == 0 {
                        format!("edit of {path}: `find` text {shown:?} does not occur in the file")
                    } else {
                        format!("edit of {path}: `find` text {shown:?} occurs {found} times, expected {count}")
                    })
                    .hint(if found == 0 {
                        "check the text against the file's current content (whitespace and case must match)".to_string()
                    } else {
                        format!("make `find` unique, or set `count = {found}` to replace every occurrence")
                    }));
                }
                let new = replace_all(&bytes, &find, &replace);
                let hash = self.put_content(new);
                self.set(&path, Node::File { hash, mode })
            }
            Op::Delete { path } => match self.get(&path)? {
                Node::Absent => Err(Error::failed(format!(
                    "cannot delete {path}: it does not exist"
                ))),
                Node::File { .. } | Node::Link { .. } => self.set(&path, Node::Absent),
                Node::Dir => self.delete_tree(&path),
            },
            Op::Mkdir { path } => {
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
            Op::Chmod { path, mode } => match self.get(&path)? {
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
            },
            Op::Symlink { path, target } => {
                self.ensure_parents(&path)?;
                match self.get(&path)? {
                    Node::Dir => Err(Error::failed(format!(
                        "cannot make the link {path}: it is a directory"
                    ))
                    .hint("delete the folder first in the plan")),
                    _ => self.set(&path, Node::Link { target }),
                }
            }
            Op::Move { from, to } => self.move_tree(&from, &to),
            Op::Exec(_) => Err(Error::failed(
                "internal: exec steps are not folded over files",
            )),
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
    pub fn finish(mut self, meta: Meta, rules: &Rules, allow_empty: bool) -> Result<Plan> {
        self.remove_emptied()?;
        let mut changes = Vec::new();
        let mut plan_bytes = 0u64;
        let mut stored: BTreeSet<String> = BTreeSet::new();
        for (path, node) in &self.now {
            let before = self.before.get(path).cloned().unwrap_or(State::Absent);
            let after = match node {
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
            };
            if before == after {
                continue;
            }
            if matches!(
                (&before, &after),
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
                    kind_word(&before),
                    kind_word(&after)
                ))
                .hint("split it into two plans: first the delete, then the new content"));
            }
            if let State::File { sha256, .. } = &after {
                let changed_content = before.file_hash() != Some(sha256.as_str());
                if changed_content && stored.insert(sha256.clone()) {
                    let len = self.content_size(sha256).ok_or_else(|| {
                        Error::failed(format!("internal: content of {path} was not resolved"))
                    })?;
                    if len > rules.limits.max_file_bytes {
                        return Err(Error::failed(format!(
                            "{path} would be {}, over the limit max_file_bytes ({}) in autonomy.toml",
                            crate::util::text::size(len),
                            crate::util::text::size(rules.limits.max_file_bytes)
                        )));
                    }
                    plan_bytes += len;
                    if plan_bytes > rules.limits.max_plan_bytes {
                        return Err(Error::failed(format!(
                            "the plan's new content exceeds max_plan_bytes ({}) in autonomy.toml",
                            crate::util::text::size(rules.limits.max_plan_bytes)
                        ))
                        .hint("split the work into smaller plans"));
                    }
                }
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
        // Every new content durable in the store, all at once; staged leftovers (content a
        // later action replaced) are dropped.
        for hash in &stored {
            if let Some(bytes) = self.contents.get(hash) {
                self.staged.put(bytes)?;
            }
        }
        self.staged.commit(&|h| stored.contains(h))?;
        Ok(Plan {
            format: PLAN_FORMAT.to_string(),
            workspace: meta.workspace,
            created: crate::util::ids::now_string(),
            title: meta.title,
            author: meta.author,
            description: meta.description,
            reverses: None,
            changes,
            exec: Vec::new(),
        })
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

/// Validate an exec action (see `exec_check`) and record the absolute path its program
/// resolves to in the planner's `PATH`.
fn exec_step(a: &Action, rules: &Rules, root: &Path) -> Result<ExecStep> {
    let run = a.run.clone().unwrap_or_default();
    let env = a.env.clone().unwrap_or_default();
    let touches = a.touches.clone().unwrap_or_default();
    super::exec_check::check_inputs(&run, &env, &touches)?;
    let name = &run[0];
    super::exec_check::check_allowed(rules, name)?;
    let program =
        super::exec_check::resolve_program(name, std::env::var_os("PATH").as_deref(), root)?;
    let cwd = match a.cwd.as_deref() {
        None | Some("") | Some(".") => String::new(),
        Some(c) => RelPath::parse(c)
            .map_err(|e| Error::failed(format!("`cwd`: {}", e.message)))?
            .to_string(),
    };
    let max = rules.exec_timeout()?;
    let timeout = match &a.timeout {
        Some(t) => crate::policy::rules::parse_duration(t)?,
        None => max,
    };
    if timeout > max {
        return Err(Error::failed(format!(
            "exec timeout {} is longer than the limit [exec] timeout ({}s) in autonomy.toml",
            crate::paths::shown(a.timeout.as_deref().unwrap_or("")),
            max.as_secs()
        )));
    }
    crate::paths::Globs::new(&touches)
        .map_err(|e| Error::failed(format!("`touches`: {}", e.message)))?;
    Ok(ExecStep {
        run,
        program: Some(program),
        cwd,
        env,
        timeout_ms: timeout.as_millis() as u64,
        touches,
    })
}

/// The error a plan that changes nothing fails with; `autonomy plan` reports it as a no-op
/// (exit 0, no id), not as a failure.
pub const CHANGES_NOTHING: &str =
    "the plan changes nothing: every action leaves the workspace as it is";

/// Compile a plan file end to end.
pub fn compile(
    ws: &Workspace,
    pf: &PlanFile,
    plan_dir: Option<&Path>,
    meta: Meta,
    rules: &Rules,
    blobs: &BlobStore,
) -> Result<Plan> {
    let mut staging = blobs.batch();
    // While the content files are read and hashed, hash the files the plan changes on the
    // other cores; the fold then finds them remembered (Workspace::recheck).
    let targets: Vec<RelPath> = pf
        .action
        .iter()
        .flat_map(|a| [&a.path, &a.from])
        .flatten()
        .filter_map(|p| RelPath::parse(p).ok())
        .collect();
    let ops = std::thread::scope(|s| {
        s.spawn(|| ws.rechecks(&targets));
        ops_from_file(pf, &ws.root, plan_dir, rules, &mut staging)
    })?;
    compile_staged(ws, ops, meta, rules, staging)
}

pub fn compile_ops(
    ws: &Workspace,
    ops: Vec<(String, Op)>,
    meta: Meta,
    rules: &Rules,
    blobs: &BlobStore,
) -> Result<Plan> {
    compile_staged(ws, ops, meta, rules, blobs.batch())
}

fn compile_staged<'a>(
    ws: &'a Workspace,
    ops: Vec<(String, Op)>,
    meta: Meta,
    rules: &Rules,
    staging: BlobBatch<'a>,
) -> Result<Plan> {
    super::file::check_meta(&meta.title, &meta.author, meta.description.as_deref())?;
    let mut overlay = Overlay::new(ws, staging);
    let mut exec: Vec<(String, ExecStep)> = Vec::new();
    for (label, op) in ops {
        match op {
            Op::Exec(step) => exec.push((label, step)),
            op => {
                if let Some((first, _)) = exec.first() {
                    return Err(Error::failed(format!(
                        "{label} comes after {first}, but file actions run before exec steps"
                    ))
                    .hint("put the file change first, or split the work into two plans"));
                }
                overlay.apply(&label, op)?;
            }
        }
    }
    let mut plan = overlay.finish(meta, rules, !exec.is_empty())?;
    ws.save_hashes();
    for (label, step) in &exec {
        let globs = crate::paths::Globs::new(&step.touches)?;
        if let Some(c) = plan.changes.iter().find(|c| globs.covers(&c.path)) {
            return Err(Error::failed(format!(
                "{label}: its `touches` covers {}, which the plan also changes directly",
                c.path
            ))
            .hint("a path is either written by the plan or by a command; split the work into two plans"));
        }
    }
    plan.exec = exec.into_iter().map(|(_, s)| s).collect();
    super::check::check_plan(ws, rules, &plan)?;
    Ok(plan)
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
}
