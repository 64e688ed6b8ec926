//! `plan --capture`: run a command in a scratch copy of the workspace (never in it),
//! confined by Landlock to that copy, and turn what it changed into plan operations.
//!
//! The copy skips `.autonomy/` (never the command's business) and `.git/` (history is not
//! planned, and it can be large); ignored files such as build output are copied like any
//! other file, since commands often read them. Copies use `std::fs::copy`, which on Linux
//! uses `copy_file_range` (reflinks on btrfs/XFS); never hard links, which would let the
//! command write through into the workspace. Symlinks are not copied.

use crate::error::{Error, Result};
use crate::exec::{Confinement, ExecOutcome, ExecSpec, ExitKind, Isolation, IsolationMode};
use crate::paths::{RelPath, STATE_DIR};
use crate::plan::compile::{ModeSpec, Op};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// What a path holds in one of the two trees.
#[derive(Debug, PartialEq)]
enum Entry {
    Dir,
    File { len: u64, mode: u32 },
}

pub struct Captured {
    pub ops: Vec<(String, Op)>,
    pub outcome: ExecOutcome,
    pub skipped_symlinks: Vec<String>,
}

fn skip_top(name: &str) -> bool {
    name == STATE_DIR || name == ".git"
}

/// Collect `rel` (a file or folder) of `root` into `out`, relative paths as keys.
fn collect(
    root: &Path,
    rel: &str,
    out: &mut BTreeMap<String, Entry>,
    links: &mut Vec<String>,
) -> Result<()> {
    let p = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let meta = match fs::symlink_metadata(&p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("reading {}", p.display()), e)),
    };
    if meta.is_symlink() {
        links.push(rel.to_string());
        return Ok(());
    }
    if meta.is_file() {
        out.insert(
            rel.to_string(),
            Entry::File {
                len: meta.len(),
                mode: meta.permissions().mode() & 0o7777,
            },
        );
        return Ok(());
    }
    if !meta.is_dir() {
        return Ok(());
    }
    if !rel.is_empty() {
        out.insert(rel.to_string(), Entry::Dir);
    }
    for entry in fs::read_dir(&p).map_err(|e| Error::io(format!("listing {}", p.display()), e))? {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", p.display()), e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            return Err(Error::failed(format!(
                "{} holds a file name that is not UTF-8",
                p.display()
            )));
        };
        if rel.is_empty() && skip_top(&name) {
            continue;
        }
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        collect(root, &child, out, links)?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path, entries: &BTreeMap<String, Entry>) -> Result<()> {
    for (rel, e) in entries {
        let dst = to.join(rel);
        match e {
            Entry::Dir => {
                fs::create_dir_all(&dst).map_err(|er| Error::io(format!("copying {rel}"), er))?
            }
            Entry::File { mode, .. } => {
                if let Some(parent) = dst.parent() {
                    fs::create_dir_all(parent)
                        .map_err(|er| Error::io(format!("copying {rel}"), er))?;
                }
                fs::copy(from.join(rel), &dst)
                    .map_err(|er| Error::io(format!("copying {rel} to the scratch copy"), er))?;
                fs::set_permissions(&dst, fs::Permissions::from_mode(*mode))
                    .map_err(|er| Error::io(format!("copying {rel}"), er))?;
            }
        }
    }
    Ok(())
}

/// Run `argv` in a scratch copy of `root` (or of `scopes` within it) and return the ops
/// that reproduce its changes in the workspace.
pub fn capture(
    root: &Path,
    argv: &[String],
    scopes: &[RelPath],
    timeout: Duration,
    sink: &mut dyn Write,
) -> Result<Captured> {
    let scratch = tempfile::Builder::new()
        .prefix("autonomy-capture-")
        .tempdir()
        .map_err(|e| Error::io("creating a scratch folder", e))?;
    let copy = scratch.path().join("ws");
    let tmp = scratch.path().join("tmp");
    fs::create_dir_all(&copy)
        .and_then(|_| fs::create_dir_all(&tmp))
        .map_err(|e| Error::io("creating a scratch folder", e))?;
    let roots: Vec<String> = if scopes.is_empty() {
        vec![String::new()]
    } else {
        scopes.iter().map(|s| s.to_string()).collect()
    };
    let mut before = BTreeMap::new();
    let mut links = Vec::new();
    for r in &roots {
        collect(root, r, &mut before, &mut links)?;
        // A scope's parents must exist in the copy for the command to find it.
        if let Some(parent) = Path::new(r).parent() {
            fs::create_dir_all(copy.join(parent))
                .map_err(|e| Error::io("creating a scratch folder", e))?;
        }
    }
    copy_tree(root, &copy, &before)?;
    let spec = ExecSpec {
        argv: argv.to_vec(),
        cwd: copy.clone(),
        env: vec![("TMPDIR".into(), tmp.display().to_string())],
        timeout,
        max_output_bytes: 1 << 20,
        memory_limit: None,
        confinement: Confinement::ReadOnlyExcept {
            read_write: vec![scratch.path().to_path_buf()],
        },
        confinement_required: true,
        isolation: Isolation {
            mode: IsolationMode::Required,
            visible: Vec::new(),
            masked: vec![root.join(STATE_DIR).join("lock")],
        },
    };
    let outcome = crate::exec::run(&spec, sink).map_err(|e| {
        Error::failed(format!(
            "running `{}` in the scratch copy: {e}",
            shell_words::join(argv)
        ))
        .hint("nothing was planned and the workspace was not touched")
    })?;
    match outcome.status {
        ExitKind::Exited(0) => {}
        other => {
            return Err(Error::failed(format!(
                "`{}` failed in the scratch copy ({}); nothing was planned",
                shell_words::join(argv),
                crate::exec::describe(other)
            ))
            .hint("the workspace was not touched; fix the command and capture again"));
        }
    }
    let mut after = BTreeMap::new();
    let mut after_links = Vec::new();
    for r in &roots {
        collect(&copy, r, &mut after, &mut after_links)?;
    }
    let mut ops = Vec::new();
    let label = |p: &str| format!("capture: {p}");
    // Removed paths (outermost first; a folder delete covers its contents).
    let mut removed_dirs: Vec<String> = Vec::new();
    for (rel, e) in &before {
        if after.contains_key(rel)
            || removed_dirs
                .iter()
                .any(|d| rel.starts_with(&format!("{d}/")))
        {
            continue;
        }
        if *e == Entry::Dir {
            removed_dirs.push(rel.clone());
        }
        ops.push((
            label(rel),
            Op::Delete {
                path: RelPath::parse(rel)?,
            },
        ));
    }
    for (rel, e) in &after {
        let path = RelPath::parse(rel)?;
        match (before.get(rel), e) {
            (None, Entry::Dir) => ops.push((label(rel), Op::Mkdir { path })),
            (Some(Entry::Dir), Entry::Dir) => {}
            (old, Entry::File { len, mode }) => {
                let new = fs::read(copy.join(rel))
                    .map_err(|er| Error::io(format!("reading the captured {rel}"), er))?;
                let same_content = match old {
                    Some(Entry::File { len: ol, .. }) if ol == len => {
                        fs::read(root.join(rel)).is_ok_and(|b| b == new)
                    }
                    _ => false,
                };
                let same_mode = matches!(old, Some(Entry::File { mode: om, .. }) if om == mode);
                if old == Some(&Entry::Dir) {
                    ops.push((label(rel), Op::Delete { path: path.clone() }));
                }
                if !same_content {
                    ops.push((
                        label(rel),
                        Op::Write {
                            path,
                            bytes: new,
                            mode: Some(ModeSpec::Exact(*mode)),
                        },
                    ));
                } else if !same_mode {
                    ops.push((
                        label(rel),
                        Op::Chmod {
                            path,
                            mode: ModeSpec::Exact(*mode),
                        },
                    ));
                }
            }
            (Some(Entry::File { .. }), Entry::Dir) => {
                ops.push((label(rel), Op::Delete { path: path.clone() }));
                ops.push((label(rel), Op::Mkdir { path }));
            }
        }
    }
    links.extend(after_links);
    links.sort();
    links.dedup();
    Ok(Captured {
        ops,
        outcome,
        skipped_symlinks: links,
    })
}
