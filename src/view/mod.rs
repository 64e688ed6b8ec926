//! Copy-on-write views of a workspace: where `plan --capture` (and, later, sessions and
//! agent shell capture) run commands without touching the workspace, at a cost that grows
//! with what the command changes, not with the size of the tree.
//!
//! A [`View`] is an overlay file system (see `exec/overlay.rs`) mounted inside the
//! command's private mount namespace at the workspace's own path: the workspace is the
//! read-only lower layer, `.autonomy/views/<id>/upper` collects every write. The command
//! sees the workspace under its real folder name, with its mtimes, symlinks and `.git/`
//! (bound read-only over the view); `.autonomy/` is covered by an empty read-only tmpfs.
//! Nothing is copied to set a view up, and [`View::changes`] walks only the upper layer:
//! regular files are new or changed content (copy-ups whose bytes and mode equal the
//! workspace's are dropped), char devices 0:0 are deletions ("whiteouts"), opaque folders
//! replace the workspace's folder of the same name.
//!
//! Where the kernel refuses the overlay (or `AUTONOMY_OVERLAY=off`), a view falls back to
//! a scratch copy of the workspace in `$TMPDIR` (`copy.rs`), which costs the whole tree;
//! [`View::fallback`] says why, for the caller to tell the user.
//!
//! One command at a time per view: an overlay's upper layer must not be mounted twice.
//! The process that has a view open holds an exclusive `flock` on its `owner.lock` for as
//! long as it does, so a view left by a crashed process is told from a live one:
//! [`collect_stale`] (`autonomy gc`) removes those, never a view someone holds or one
//! kept on purpose ([`View::keep`]).

mod beneath;
mod copy;
mod upper;

use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecError, ExecOutcome, ExecSpec, OverlayLayers};
use crate::paths::STATE_DIR;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

/// Where views live, under the workspace's `.autonomy/` (same file system as the
/// workspace, so it can hold an overlay upper layer; unreachable from inside a view).
pub const VIEWS_DIR: &str = "views";

/// The file in a view's folder whose `flock` its owner holds while the view is open.
const OWNER_LOCK: &str = "owner.lock";
/// The file in a view's folder that marks it kept on purpose (a session between commands).
const KEPT: &str = "kept";

/// Take the view's owner lock (exclusive, not waiting): `Ok(None)` when another process
/// holds it. The pid is written inside, for people.
fn take_owner_lock(dir: &Path) -> std::io::Result<Option<fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(OWNER_LOCK))?;
    match rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    f.set_len(0)?;
    let _ = writeln!(f, "{}", std::process::id());
    Ok(Some(f))
}

/// What a path holds, in the workspace (`before`) or in the view (`after`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Absent,
    Dir {
        mode: u32,
    },
    File {
        mode: u32,
        len: u64,
    },
    Symlink {
        target: PathBuf,
    },
    /// A FIFO, socket or device: never opened, never planned.
    Other,
}

/// One path the command changed. A deleted folder is one change (its contents are not
/// listed); a new folder is followed by its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Workspace-relative, `/`-separated (not yet checked by [`crate::paths::RelPath`]:
    /// a command may create names a plan cannot hold).
    pub path: String,
    pub before: Entry,
    pub after: Entry,
    /// For a file in both: whether its bytes differ (else only its mode does).
    pub content_changed: bool,
}

enum Backend {
    /// Not run yet: decided at the first run (the overlay is tried then).
    Undecided,
    Overlay,
    Copy(copy::Copy),
}

/// A copy-on-write view of one workspace. Dropping it discards it unless
/// [`View::keep`] was called.
pub struct View {
    root: PathBuf,
    id: String,
    dir: PathBuf,
    /// The command's `$TMPDIR` (outside the view, private to it).
    tmp: tempfile::TempDir,
    backend: Backend,
    fallback: Option<String>,
    keep: bool,
    /// The owner lock, held while this view is open (released when it is dropped).
    _owner: Option<fs::File>,
    /// Opened by [`View::inspect`]: read its changes, never run in it or remove it.
    inspect_only: bool,
}

/// Why the kernel refused an overlay earlier in this process (later views go straight
/// to the copy).
static REFUSED: OnceLock<String> = OnceLock::new();

impl View {
    /// A new, empty view of the workspace at `root` (nothing is copied or mounted yet).
    pub fn create(root: &Path) -> Result<View> {
        let root = root
            .canonicalize()
            .map_err(|e| Error::io(format!("opening the workspace {}", root.display()), e))?;
        let views = root.join(STATE_DIR).join(VIEWS_DIR);
        fs::create_dir_all(&views)
            .and_then(|()| fs::set_permissions(&views, fs::Permissions::from_mode(0o700)))
            .map_err(|e| Error::io(format!("creating {}", views.display()), e))?;
        let dir = tempfile::Builder::new()
            .prefix("v-")
            .tempdir_in(&views)
            .map_err(|e| Error::io(format!("creating a view in {}", views.display()), e))?
            .keep();
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let owner =
            take_owner_lock(&dir).map_err(|e| Error::io(format!("creating the view {id}"), e))?;
        for sub in ["upper", "work"] {
            fs::create_dir(dir.join(sub))
                .map_err(|e| Error::io(format!("creating the view {id}"), e))?;
        }
        let tmp = tempfile::Builder::new()
            .prefix("autonomy-view-tmp-")
            .tempdir()
            .map_err(|e| Error::io("creating the view's temporary folder", e))?;
        let fallback = crate::exec::overlay_disabled().or_else(|| REFUSED.get().cloned());
        let backend = if fallback.is_some() {
            Backend::Copy(copy::Copy::make(&root)?)
        } else {
            Backend::Undecided
        };
        Ok(View {
            root,
            id,
            dir,
            tmp,
            backend,
            fallback,
            keep: false,
            inspect_only: false,
            _owner: owner,
        })
    }

    /// Reattaches a view left on disk by [`View::keep`] (an overlay view; a fallback copy
    /// does not outlive its process). Its earlier changes are still there; the next
    /// [`View::run`] sees them. The caller makes sure no other command runs in it.
    pub fn open(root: &Path, id: &str) -> Result<View> {
        View::attach(root, id, true)
    }

    /// Reads a view another process may be running a command in (`session propose` from
    /// a second terminal): no owner lock is taken, and [`View::run`] refuses; only
    /// [`View::changes`] and [`View::read`] are meant for it. What a running command is
    /// writing at that moment may be read half-written; the next reading corrects it.
    pub fn inspect(root: &Path, id: &str) -> Result<View> {
        View::attach(root, id, false)
    }

    fn attach(root: &Path, id: &str, own: bool) -> Result<View> {
        let root = root
            .canonicalize()
            .map_err(|e| Error::io(format!("opening the workspace {}", root.display()), e))?;
        if id.is_empty() || id.contains('/') || id.starts_with('.') {
            return Err(Error::usage(format!("{id:?} is not a view id")));
        }
        let dir = root.join(STATE_DIR).join(VIEWS_DIR).join(id);
        for sub in ["upper", "work"] {
            if !fs::symlink_metadata(dir.join(sub)).is_ok_and(|m| m.is_dir()) {
                return Err(Error::failed(format!(
                    "no view {id} in {}",
                    root.join(STATE_DIR).join(VIEWS_DIR).display()
                )));
            }
        }
        let owner = match own.then(|| take_owner_lock(&dir)) {
            None => None,
            Some(Ok(Some(f))) => Some(f),
            Some(Ok(None)) => {
                return Err(Error::new(
                    crate::error::Kind::Busy,
                    format!("the view {id} is in use by another process"),
                ));
            }
            Some(Err(e)) => return Err(Error::io(format!("opening the view {id}"), e)),
        };
        let tmp = tempfile::Builder::new()
            .prefix("autonomy-view-tmp-")
            .tempdir()
            .map_err(|e| Error::io("creating the view's temporary folder", e))?;
        Ok(View {
            root,
            id: id.to_string(),
            dir,
            tmp,
            backend: Backend::Overlay,
            fallback: None,
            keep: false,
            inspect_only: !own,
            _owner: owner,
        })
    }

    /// The view's id (its folder name under `.autonomy/views/`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The workspace (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `Some(reason)` when this view is a scratch copy because the kernel (or
    /// `AUTONOMY_OVERLAY=off`) refused the overlay.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Where the workspace appears to the command: its own path in an overlay view, the
    /// scratch copy's path in the fallback.
    pub fn path(&self) -> &Path {
        match &self.backend {
            Backend::Copy(c) => c.path(),
            _ => &self.root,
        }
    }

    fn layers(&self) -> OverlayLayers {
        OverlayLayers {
            lower: self.root.clone(),
            upper: self.dir.join("upper"),
            work: self.dir.join("work"),
            read_only: vec![self.root.join(".git")],
            sealed: vec![self.root.join(STATE_DIR)],
        }
    }

    /// Runs one command in the view. `spec.cwd` is a path in the workspace (mapped into
    /// the copy in the fallback); confinement and isolation are the view's: writes only
    /// to the view and the view's `$TMPDIR` (set in the command's environment), private
    /// namespaces required. Output streams to `sink`.
    pub fn run(
        &mut self,
        spec: &ExecSpec,
        sink: &mut dyn Write,
        cancel: &AtomicBool,
    ) -> Result<ExecOutcome> {
        self.run_with(spec, Some(sink), cancel)
    }

    /// [`View::run`] with the command attached to this process's terminal (stdin,
    /// stdout, stderr: an interactive agent), in an overlay view only (a session's view
    /// must outlive this process; the scratch copy cannot).
    pub fn run_attached(&mut self, spec: &ExecSpec, cancel: &AtomicBool) -> Result<ExecOutcome> {
        self.run_with(spec, None, cancel)
    }

    /// `sink: None`: attached to the terminal, overlay only.
    fn run_with(
        &mut self,
        spec: &ExecSpec,
        sink: Option<&mut dyn Write>,
        cancel: &AtomicBool,
    ) -> Result<ExecOutcome> {
        if self.inspect_only {
            return Err(Error::new(
                crate::error::Kind::Busy,
                format!(
                    "the view {} is only being read here; a command cannot run in it",
                    self.id
                ),
            ));
        }
        let mut spec = spec.clone();
        spec.env.retain(|(k, _)| k != "TMPDIR");
        spec.env
            .push(("TMPDIR".into(), self.tmp.path().display().to_string()));
        spec.confinement_required = true;
        spec.isolation.mode = crate::exec::IsolationMode::Required;
        spec.isolation
            .masked
            .push(self.root.join(STATE_DIR).join("lock"));
        let shown = shell_words::join(&spec.argv);
        let fail = |e: ExecError| Error::failed(format!("running `{shown}` in the view: {e}"));
        // The caller's writable set (a session's home, --allow-write) plus the view's
        // TMPDIR.
        let mut read_write = match &spec.confinement {
            Confinement::ReadOnlyExcept { read_write } => read_write.clone(),
            Confinement::None => Vec::new(),
        };
        let Some(sink) = sink else {
            if let Backend::Copy(_) = self.backend {
                return Err(Error::failed(
                    "a session needs a copy-on-write view; this one is a scratch copy",
                ));
            }
            read_write.push(self.tmp.path().to_path_buf());
            spec.confinement = Confinement::ReadOnlyExcept { read_write };
            let out = crate::exec::run_in_view_attached(&spec, &self.layers(), cancel);
            let out = out.map_err(fail)?;
            self.backend = Backend::Overlay;
            return Ok(out);
        };
        if matches!(self.backend, Backend::Undecided | Backend::Overlay) {
            let mut rw = read_write.clone();
            rw.push(self.tmp.path().to_path_buf());
            spec.confinement = Confinement::ReadOnlyExcept { read_write: rw };
            match crate::exec::run_in_view(&spec, &self.layers(), sink, cancel) {
                Ok(out) => {
                    self.backend = Backend::Overlay;
                    return Ok(out);
                }
                Err(ExecError::OverlayUnavailable { reason })
                    if matches!(self.backend, Backend::Undecided) =>
                {
                    let _ = REFUSED.set(reason.clone());
                    self.fallback = Some(reason);
                    self.backend = Backend::Copy(copy::Copy::make(&self.root)?);
                }
                Err(e) => return Err(fail(e)),
            }
        }
        let Backend::Copy(c) = &self.backend else {
            return Err(Error::failed("internal: view without a backend"));
        };
        let rel = spec.cwd.strip_prefix(&self.root).unwrap_or(Path::new(""));
        spec.cwd = c.path().join(rel);
        // The real workspace shows read-only at its path; its `.autonomy/` (journal,
        // blobs, other views) is sealed as in an overlay view.
        spec.isolation.masked.push(self.root.join(STATE_DIR));
        read_write.extend([c.scratch().to_path_buf(), self.tmp.path().to_path_buf()]);
        spec.confinement = Confinement::ReadOnlyExcept { read_write };
        crate::exec::run_cancellable(&spec, sink, cancel).map_err(fail)
    }

    /// Everything the commands run so far changed, parents before children, sorted by
    /// path. Costs what changed (overlay) or the whole tree (fallback).
    pub fn changes(&self) -> Result<Vec<Change>> {
        match &self.backend {
            Backend::Undecided => Ok(Vec::new()),
            Backend::Overlay => upper::changes(&self.root, &self.dir.join("upper")),
            Backend::Copy(c) => c.changes(&self.root),
        }
    }

    /// The bytes of a file as the view holds it (for an `after` that is a file).
    pub fn read(&self, path: &str) -> Result<Vec<u8>> {
        // Guards that give the owner read and search on the way (not root: the command
        // may have made a folder or the file unreadable); modes are put back on drop.
        // The view's tree (upper layer or scratch copy) is read beneath its descriptor, no
        // symlink followed in any component (`beneath`): the command may still be running
        // and swapping folders for links.
        let mut access = Vec::new();
        let tree = match &self.backend {
            Backend::Copy(c) => beneath::Tree::open(c.path())?,
            _ => beneath::Tree::open(&self.dir.join("upper"))?,
        };
        let mut in_tree = true;
        let mut at = String::new();
        for part in path.split('/') {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            match tree.node(&at)? {
                Some(node) => access.push(beneath::FdAccess::grant(&node)),
                None => {
                    in_tree = false;
                    break;
                }
            }
        }
        let read_err = |e| Error::io(format!("reading {path} from the view"), e);
        let mut f = if in_tree || matches!(self.backend, Backend::Copy(_)) {
            tree.open_file(path).map_err(read_err)?
        } else {
            crate::util::inode::open_regular_path(&self.root.join(path)).map_err(read_err)?
        };
        let mut out = Vec::new();
        f.read_to_end(&mut out)
            .map_err(|e| Error::io(format!("reading {path} from the view"), e))?;
        // Innermost first, while the folders above are still searchable.
        while let Some(guard) = access.pop() {
            drop(guard);
        }
        Ok(out)
    }

    /// Leaves the view on disk when dropped (for a session that outlives this process);
    /// returns its id.
    pub fn keep(mut self) -> String {
        self.keep = true;
        // Kept on purpose: `gc` leaves it alone once this process lets go of it.
        let _ = fs::File::create(self.dir.join(KEPT));
        self.id.clone()
    }

    /// Leaves the view on disk when dropped, like [`View::keep`], while still using it
    /// (a session's view outlives an error, and this process).
    pub fn persist(&mut self) {
        self.keep = true;
    }

    /// Removes the view and everything it holds.
    pub fn discard(mut self) -> Result<()> {
        self.keep = true;
        if self.inspect_only {
            return Err(Error::new(
                crate::error::Kind::Busy,
                format!(
                    "the view {} is only being read here; it cannot be removed",
                    self.id
                ),
            ));
        }
        remove_tree(&self.dir)
            .map_err(|e| Error::io(format!("removing the view {}", self.dir.display()), e))
    }
}

/// Removes a view another process still holds (`session end --force` while its agent
/// runs): the agent's own mount keeps what it has open; nothing it does later is proposed.
pub fn discard_held(root: &Path, id: &str) -> Result<()> {
    let view = View::inspect(root, id)?;
    remove_tree(&view.dir)
        .map_err(|e| Error::io(format!("removing the view {}", view.dir.display()), e))
}

impl Drop for View {
    fn drop(&mut self) {
        if !self.keep && !self.inspect_only {
            let _ = remove_tree(&self.dir);
        }
    }
}

/// A view `autonomy gc` found left behind (or, with `dry_run`, would remove).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stale {
    pub id: String,
    pub bytes: u64,
}

/// Remove the views under `.autonomy/views/` of the workspace at `root` that nobody
/// holds: no process has its owner lock (its owner crashed or was killed), or, for a
/// view without a lock file (made before there were any, or by a process that died
/// between making the folder and locking it), it is older than `grace`. A view kept on
/// purpose (`View::keep`, a session between commands) is never removed here. With
/// `dry_run`, only list them.
pub fn collect_stale(root: &Path, grace: std::time::Duration, dry_run: bool) -> Result<Vec<Stale>> {
    let views = root.join(STATE_DIR).join(VIEWS_DIR);
    let rd = match fs::read_dir(&views) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("listing {}", views.display()), e)),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let dir = entry.path();
        let Ok(meta) = fs::symlink_metadata(&dir) else {
            continue;
        };
        if !name.starts_with("v-") || !meta.is_dir() || dir.join(KEPT).exists() {
            continue;
        }
        let unheld = if dir.join(OWNER_LOCK).exists() {
            // Taken (and let go at once) only when nobody holds it.
            matches!(take_owner_lock(&dir), Ok(Some(_)))
        } else {
            meta.modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age >= grace)
        };
        if !unheld {
            continue;
        }
        let bytes = tree_bytes(&dir);
        if !dry_run {
            remove_tree(&dir)
                .map_err(|e| Error::io(format!("removing the stale view {}", dir.display()), e))?;
        }
        out.push(Stale { id: name, bytes });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The bytes of the files below `p` (not following links; unreadable folders count 0).
fn tree_bytes(p: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(p) else { return 0 };
    rd.flatten()
        .map(|e| match fs::symlink_metadata(e.path()) {
            Ok(m) if m.is_dir() => tree_bytes(&e.path()),
            Ok(m) if m.is_file() => m.len(),
            _ => 0,
        })
        .sum()
}

/// `rm -rf`, also through folders without permissions (overlay's `work/work` is 0000,
/// and a command may leave such folders in its upper layer).
fn remove_tree(p: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(_) => {
            open_up(p);
            fs::remove_dir_all(p)
        }
    }
}

fn open_up(p: &Path) {
    let Ok(meta) = fs::symlink_metadata(p) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            open_up(&e.path());
        }
    }
}
