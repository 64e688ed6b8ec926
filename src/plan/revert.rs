//! Reverting an applied plan, as `git revert` does: per path, a three-way merge with the
//! plan's `after` as the base, the current content as ours and the plan's `before` as
//! theirs. Paths nobody touched since revert directly; clean merges become changes of the
//! reverse plan (their `before` is what is there now, their `after` the merged bytes);
//! anything else is a conflict, and a conflict anywhere means no reverse plan at all.
//!
//! Selective rollback (`--path GLOB`) reverts only some paths. Which paths a reverse plan
//! covers is recorded in its `plan.created` event (`"paths"`) and in the journal's
//! `reverse_paths` table, and the original plan is marked `rolled_back` only once reverse
//! plans have covered every one of its paths (`store::journal::plans`, `mark_reversed`).

use crate::error::{Error, Result};
use crate::model::plan::PLAN_FORMAT;
use crate::model::{Change, Plan, PlanId, State};
use crate::paths::RelPath;
use crate::policy::rules::compile_glob;
use crate::store::blobs::BlobStore;
use crate::util::hash::sha256_hex;
use crate::workspace::Workspace;

use std::collections::BTreeSet;
use std::fmt::Write;

/// Files larger than this are not merged line by line; a later change to one is a conflict.
pub const MAX_MERGE_BYTES: usize = 16 << 20;
/// Lines of context shown around each conflicted hunk.
const CONTEXT: usize = 3;

/// One path that cannot be reverted without losing later work.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Conflict {
    pub path: String,
    pub reason: String,
    /// Each conflicted hunk with a little context, in diff3 style (current / the plan's
    /// `after` / the plan's `before`). Empty when the conflict is not about lines.
    pub hunks: Vec<String>,
    /// For a line conflict: the whole file with diff3 conflict markers, and the hash of
    /// the current file it was merged from (`rollback --merge` writes it for a person to
    /// resolve).
    #[serde(skip)]
    pub marked: Option<(Vec<u8>, String)>,
}

/// A reverse plan ready to be stored, and how each selected path was handled.
#[derive(Debug)]
pub struct Revert {
    pub plan: Plan,
    /// The original plan's paths this revert covers (selected, whether or not they needed
    /// a change).
    pub paths: Vec<String>,
    /// Whether some of the original plan's paths were left out (`--path`).
    pub partial: bool,
    /// Paths merged with later changes (three-way).
    pub merged: Vec<String>,
    /// Selected paths that already hold their content from before the plan.
    pub unchanged: Vec<String>,
    /// New contents (merged bytes) to store before the plan is recorded.
    pub blobs: Vec<Vec<u8>>,
}

/// The original plan's paths matched by `globs` (all of them when `globs` is empty), in
/// plan order. A glob that matches none of them is a usage error naming the plan's paths.
pub fn select_paths(orig: &Plan, globs: &[String]) -> Result<Vec<String>> {
    if globs.is_empty() {
        return Ok(orig.changes.iter().map(|c| c.path.clone()).collect());
    }
    let mut matchers = Vec::new();
    for g in globs {
        matchers.push((g, compile_glob(g).map_err(|e| Error::usage(e.message))?));
    }
    for (g, m) in &matchers {
        if !orig.changes.iter().any(|c| m.is_match(&c.path)) {
            let list: Vec<String> = orig
                .changes
                .iter()
                .take(20)
                .map(|c| format!("  {}", c.path))
                .collect();
            return Err(Error::usage(format!(
                "--path {g:?} matches none of the plan's paths; it changed:\n{}",
                list.join("\n")
            ))
            .hint("give a glob that matches one of those paths (`*` stays within a folder, `**` crosses folders)"));
        }
    }
    let mut chosen: BTreeSet<&str> = orig
        .changes
        .iter()
        .filter(|c| matchers.iter().any(|(_, m)| m.is_match(&c.path)))
        .map(|c| c.path.as_str())
        .collect();
    close_over_folders(orig, &mut chosen);
    Ok(orig
        .changes
        .iter()
        .filter(|c| chosen.contains(c.path.as_str()))
        .map(|c| c.path.clone())
        .collect())
}

/// Make a selection revertible on its own: a folder the plan created goes with everything
/// the plan put inside it (and is chosen once all of that is); a folder the plan removed
/// comes back with any path chosen inside it.
fn close_over_folders<'a>(orig: &'a Plan, chosen: &mut BTreeSet<&'a str>) {
    let inside = |dir: &str, path: &str| {
        path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
    };
    loop {
        let before = chosen.len();
        for d in &orig.changes {
            let created = d.before.is_absent() && d.after.is_dir();
            let removed = d.before.is_dir() && d.after.is_absent();
            let mut kids = orig.changes.iter().filter(|c| inside(&d.path, &c.path));
            if created && chosen.contains(d.path.as_str()) {
                chosen.extend(kids.map(|c| c.path.as_str()));
            } else if created {
                let kids: Vec<&str> = kids.map(|c| c.path.as_str()).collect();
                if !kids.is_empty() && kids.iter().all(|k| chosen.contains(k)) {
                    chosen.insert(d.path.as_str());
                }
            } else if removed && kids.any(|c| chosen.contains(c.path.as_str())) {
                chosen.insert(d.path.as_str());
            }
        }
        if chosen.len() == before {
            break;
        }
    }
}

/// Build the reverse plan of `orig` for the `selected` paths against the workspace as it
/// is now. Conflicts are an exit-4 error naming every conflicted path and hunk.
pub fn build(
    ws: &Workspace,
    blobs: &BlobStore,
    orig_id: &PlanId,
    orig: &Plan,
    selected: &[String],
    globs: &[String],
    author: &str,
) -> Result<Revert> {
    let short = orig_id.short();
    build_resolved(
        ws,
        blobs,
        orig_id,
        orig,
        selected,
        globs,
        author,
        &Default::default(),
    )?
    .map_err(|conflicts| conflict_error(short, &conflicts))
}

/// The reverse plan's parts, gathered path by path.
#[derive(Default)]
struct Reversed {
    changes: Vec<Change>,
    conflicts: Vec<Conflict>,
    merged: Vec<String>,
    unchanged: Vec<String>,
    new_blobs: Vec<Vec<u8>>,
}

/// [`build`], with `resolved` contents (a person's resolution of a line conflict, by path)
/// taking the place of the merge for their paths, and the conflicts returned as they are
/// instead of as an error.
#[allow(clippy::too_many_arguments)]
pub fn build_resolved(
    ws: &Workspace,
    blobs: &BlobStore,
    orig_id: &PlanId,
    orig: &Plan,
    selected: &[String],
    globs: &[String],
    author: &str,
    resolved: &std::collections::BTreeMap<String, Vec<u8>>,
) -> Result<std::result::Result<Revert, Vec<Conflict>>> {
    let short = orig_id.short();
    let chosen: BTreeSet<&str> = selected.iter().map(String::as_str).collect();
    let partial = chosen.len() < orig.changes.len();
    let mut r = Reversed::default();
    for c in orig
        .changes
        .iter()
        .filter(|c| chosen.contains(c.path.as_str()))
    {
        reverse_path(ws, blobs, short, c, resolved, &mut r)?;
    }
    r.conflicts
        .extend(folders_with_new_contents(ws, &r.changes)?);
    if !r.conflicts.is_empty() {
        return Ok(Err(r.conflicts));
    }
    if r.changes.is_empty() {
        return Err(Error::failed(format!(
            "nothing to roll back: {} of plan {short} already {} their content from before it",
            if selected.len() == 1 {
                "the selected path"
            } else {
                "the selected paths"
            },
            if selected.len() == 1 { "holds" } else { "hold" }
        ))
        .hint("`autonomy preview` shows what the plan changed; nothing was changed"));
    }
    let (title, description) =
        title_and_description(orig_id, orig, partial, globs, selected, &r.merged);
    Ok(Ok(Revert {
        plan: Plan {
            format: PLAN_FORMAT.to_string(),
            workspace: orig.workspace.clone(),
            created: crate::util::ids::now_string(),
            title,
            author: author.to_string(),
            description: Some(description),
            reverses: Some(orig_id.clone()),
            changes: r.changes,
            exec: Vec::new(),
        },
        paths: selected.to_vec(),
        partial,
        merged: r.merged,
        unchanged: r.unchanged,
        blobs: r.new_blobs,
    }))
}

/// Reverse one change of the original plan, by what its path holds now: `after` goes
/// straight back to the snapshot, `before` needs nothing, anything else is merged three
/// ways (or taken from `resolved`), or is a conflict.
fn reverse_path(
    ws: &Workspace,
    blobs: &BlobStore,
    short: &str,
    c: &Change,
    resolved: &std::collections::BTreeMap<String, Vec<u8>>,
    r: &mut Reversed,
) -> Result<()> {
    let rel = c.rel()?;
    let now = ws.state(&rel)?;
    if now == c.after {
        // Untouched since the plan: revert directly to the snapshot.
        if let Some(h) = c.before.file_hash()
            && c.after.file_hash() != Some(h)
            && !blobs.contains(h)
        {
            return Err(Error::integrity(format!(
                "the snapshot of {} (blob {}) is missing; plan {short} cannot be rolled back",
                c.path,
                crate::model::id::short(h)
            ))
            .hint("run `autonomy verify`; restore .autonomy/ from a backup"));
        }
        r.changes.push(Change {
            path: c.path.clone(),
            before: c.after.clone(),
            after: c.before.clone(),
            from: None,
        });
        return Ok(());
    }
    if now == c.before {
        r.unchanged.push(c.path.clone());
        return Ok(());
    }
    let merge = match (resolved.get(&c.path), &now, &c.before, &c.after) {
        (
            Some(bytes),
            State::File { mode: n_mode, .. },
            State::File { mode: b_mode, .. },
            State::File { mode: a_mode, .. },
        ) => Merge::Clean {
            bytes: bytes.clone(),
            mode: merge_mode(*a_mode, *n_mode, *b_mode).unwrap_or(*n_mode),
        },
        _ => merge_path(ws, blobs, &rel, c, &now)?,
    };
    match merge {
        Merge::Clean { bytes, mode } => {
            let hash = sha256_hex(&bytes);
            let after = State::File { sha256: hash, mode };
            if after == now {
                r.unchanged.push(c.path.clone());
                return Ok(());
            }
            if after.file_hash() != now.file_hash() {
                r.new_blobs.push(bytes);
            }
            r.merged.push(c.path.clone());
            r.changes.push(Change {
                path: c.path.clone(),
                before: now,
                after,
                from: None,
            });
        }
        Merge::Conflict {
            reason,
            hunks,
            marked,
        } => r.conflicts.push(Conflict {
            path: c.path.clone(),
            reason,
            hunks,
            marked: marked.map(|m| (m, now.file_hash().unwrap_or_default().to_string())),
        }),
    }
    Ok(())
}

/// The reverse plan's title and description: which plan it reverses, which paths (for a
/// selective rollback) and which were merged with later changes.
fn title_and_description(
    orig_id: &PlanId,
    orig: &Plan,
    partial: bool,
    globs: &[String],
    selected: &[String],
    merged: &[String],
) -> (String, String) {
    let mut description = format!("Reverses plan {orig_id} ({:?}).", orig.title);
    if partial {
        let globs: Vec<String> = globs.iter().map(|g| format!("{g:?}")).collect();
        let _ = write!(
            description,
            "\nPaths reverted (--path {}): {}; the plan's other paths stay as they are.",
            globs.join(" --path "),
            selected.join(", ")
        );
    }
    if !merged.is_empty() {
        let _ = write!(
            description,
            "\nMerged with later changes (three-way, as git revert does): {}.",
            merged.join(", ")
        );
    }
    let title = if partial {
        format!("Roll back (in part): {}", orig.title)
    } else {
        format!("Roll back: {}", orig.title)
    };
    (title, description)
}

/// A folder the reverse plan removes must hold nothing but what the reverse plan removes
/// too; anything added since is later work, and a conflict.
fn folders_with_new_contents(ws: &Workspace, changes: &[Change]) -> Result<Vec<Conflict>> {
    let removed: BTreeSet<&str> = changes
        .iter()
        .filter(|c| c.after.is_absent())
        .map(|c| c.path.as_str())
        .collect();
    let mut out = Vec::new();
    for c in changes
        .iter()
        .filter(|c| c.before.is_dir() && c.after.is_absent())
    {
        let rel = c.rel()?;
        let dir = ws.open_dir(Some(&rel))?;
        let entries = dir
            .entries()
            .map_err(|e| Error::io(format!("listing folder {rel}"), e))?;
        let mut added = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io(format!("listing folder {rel}"), e))?;
            let path = format!("{}/{}", c.path, e.file_name().to_string_lossy());
            if !removed.contains(path.as_str()) {
                added.push(path);
            }
        }
        if !added.is_empty() {
            added.sort();
            out.push(Conflict {
                path: c.path.clone(),
                reason: format!(
                    "the plan created this folder and it holds new content since ({}); rolling back would have to delete it",
                    added.join(", ")
                ),
                hunks: Vec::new(),
                marked: None,
            });
        }
    }
    Ok(out)
}

enum Merge {
    Clean {
        bytes: Vec<u8>,
        mode: u32,
    },
    Conflict {
        reason: String,
        hunks: Vec<String>,
        /// The whole file with conflict markers (line conflicts only).
        marked: Option<Vec<u8>>,
    },
}

fn conflict(reason: impl Into<String>) -> Result<Merge> {
    Ok(Merge::Conflict {
        reason: reason.into(),
        hunks: Vec::new(),
        marked: None,
    })
}

/// Merge one path that changed since the plan: base = the plan's `after`, ours = `now`,
/// theirs = the plan's `before`. The caller has handled now == after and now == before.
fn merge_path(
    ws: &Workspace,
    blobs: &BlobStore,
    rel: &RelPath,
    c: &Change,
    now: &State,
) -> Result<Merge> {
    let (before, after) = (&c.before, &c.after);
    let (
        State::File {
            sha256: b_hash,
            mode: b_mode,
        },
        State::File {
            sha256: a_hash,
            mode: a_mode,
        },
        State::File {
            sha256: n_hash,
            mode: n_mode,
        },
    ) = (before, after, now)
    else {
        return conflict(shape_conflict(before, after, now));
    };
    let Some(mode) = merge_mode(*a_mode, *n_mode, *b_mode) else {
        return conflict(format!(
            "its mode was changed by the plan ({b_mode:04o} -> {a_mode:04o}) and again since ({n_mode:04o})"
        ));
    };
    let current = read_file(ws, rel)?;
    if sha256_hex(&current) != *n_hash {
        return Err(
            Error::stale(format!("{rel} changed while it was being read"))
                .hint("try again once nothing else is writing to it"),
        );
    }
    // Only one side changed the content: no line merge needed.
    if a_hash == b_hash || n_hash == a_hash {
        let bytes = if a_hash == b_hash {
            current
        } else {
            blobs.read(b_hash)?
        };
        return Ok(Merge::Clean { bytes, mode });
    }
    if n_hash == b_hash {
        return Ok(Merge::Clean {
            bytes: current,
            mode,
        });
    }
    let base = blobs.read(a_hash)?;
    let theirs = blobs.read(b_hash)?;
    if [&base, &current, &theirs].iter().any(|b| is_binary(b)) {
        return conflict(
            "it is a binary file and changed since the plan; binary files are not merged",
        );
    }
    if [&base, &current, &theirs]
        .iter()
        .any(|b| b.len() > MAX_MERGE_BYTES)
    {
        return conflict(format!(
            "it changed since the plan and is larger than {} MiB, too large to merge line by line",
            MAX_MERGE_BYTES >> 20
        ));
    }
    let mut opts = diffy::MergeOptions::new();
    opts.set_conflict_style(diffy::ConflictStyle::Diff3)
        .set_incomplete_hunk_style(diffy::IncompleteHunkStyle::Git);
    match opts.merge_bytes(&base, &current, &theirs) {
        Ok(bytes) => Ok(Merge::Clean { bytes, mode }),
        Err(marked) => Ok(Merge::Conflict {
            reason: "the plan's change and a later change touch the same lines".into(),
            hunks: conflict_hunks(&marked),
            marked: Some(relabel_all(&marked)),
        }),
    }
}

/// Three-way merge of permission bits: base = after, ours = now, theirs = before.
fn merge_mode(after: u32, now: u32, before: u32) -> Option<u32> {
    if now == after {
        Some(before)
    } else if before == after || now == before {
        Some(now)
    } else {
        None
    }
}

fn describe(s: &State) -> &'static str {
    match s {
        State::Absent => "absent",
        State::Dir { .. } => "a folder",
        State::File { .. } => "a file",
        State::Symlink { .. } => "a symlink",
    }
}

/// Why a path whose kind changed (created, deleted, file/folder) cannot be reverted.
fn shape_conflict(before: &State, after: &State, now: &State) -> String {
    match (before, after, now) {
        (State::Absent, State::File { .. }, State::File { .. }) => {
            "the plan created it and it changed since; rolling back would delete that later work"
                .into()
        }
        (State::File { .. }, State::Absent, State::File { .. }) => {
            "the plan deleted it and it was created again since, with other content".into()
        }
        (State::File { .. }, State::File { .. }, State::Absent) => {
            "the plan changed it and it was deleted since".into()
        }
        _ => format!(
            "the plan left it {} (it was {}), and it is {} now",
            describe(after),
            describe(before),
            describe(now)
        ),
    }
}

/// NUL in the first 8000 bytes, as git decides.
fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8000)].contains(&0)
}

fn read_file(ws: &Workspace, rel: &RelPath) -> Result<Vec<u8>> {
    ws.open_dir(rel.parent().as_ref())?
        .read(rel.file_name())
        .map_err(|e| Error::io(format!("reading {rel}"), e))
}

/// Cut diffy's marked-up output into one text per conflict: the conflict with up to
/// `CONTEXT` common lines around it, headed by the line number in the current file.
fn conflict_hunks(marked: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(marked);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = Vec::new();
    let mut current_line = 0usize; // lines of the current file seen so far
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with("<<<<<<<") {
            current_line += 1;
            i += 1;
            continue;
        }
        let start = i;
        let at = current_line + 1;
        let mut in_ours = true;
        while i < lines.len() && !lines[i].starts_with(">>>>>>>") {
            if lines[i].starts_with("|||||||") || lines[i].starts_with("=======") {
                in_ours = false;
            } else if in_ours && i != start {
                current_line += 1;
            }
            i += 1;
        }
        let end = (i + 1).min(lines.len());
        let ctx_start = start.saturating_sub(CONTEXT);
        // Context before must not reach into an earlier conflict.
        let ctx_start = (ctx_start..start)
            .rev()
            .find(|&k| lines[k].starts_with(">>>>>>>"))
            .map_or(ctx_start, |k| k + 1);
        let mut ctx_end = end;
        while ctx_end < lines.len() && ctx_end < end + CONTEXT {
            if lines[ctx_end].starts_with("<<<<<<<") {
                break;
            }
            ctx_end += 1;
        }
        let mut hunk = format!("@@ conflict at line {at} of the current file @@\n");
        for l in &lines[ctx_start..ctx_end] {
            let l = relabel(l);
            hunk.push_str(&l);
            if !l.ends_with('\n') {
                hunk.push('\n');
            }
        }
        out.push(hunk);
        i = end;
    }
    out
}

/// The whole marked-up file with the markers named for what each side is.
fn relabel_all(marked: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(marked);
    text.split_inclusive('\n')
        .map(|l| {
            if is_marker(l) {
                let mut r = relabel(l);
                if !l.ends_with('\n') {
                    r.pop();
                }
                r
            } else {
                l.to_string()
            }
        })
        .collect::<String>()
        .into_bytes()
}

fn is_marker(line: &str) -> bool {
    ["<<<<<<<", "|||||||", ">>>>>>>"]
        .iter()
        .any(|m| line.starts_with(m))
}

/// The line numbers (1-based) of conflict markers left in `bytes`: a resolution must have
/// none (`=======` alone is common in text, so the three distinctive markers count).
pub fn leftover_markers(bytes: &[u8]) -> Vec<usize> {
    String::from_utf8_lossy(bytes)
        .lines()
        .enumerate()
        .filter(|(_, l)| {
            ["<<<<<<< ", "||||||| ", ">>>>>>> "]
                .iter()
                .any(|m| l.starts_with(m))
        })
        .map(|(i, _)| i + 1)
        .collect()
}

fn relabel(line: &str) -> String {
    if line.starts_with("<<<<<<<") {
        "<<<<<<< current (later changes)\n".into()
    } else if line.starts_with("|||||||") {
        "||||||| as the plan left it\n".into()
    } else if line.starts_with(">>>>>>>") {
        ">>>>>>> before the plan (what rollback restores)\n".into()
    } else {
        line.to_string()
    }
}

/// The exit-4 error listing every conflicted path and hunk.
pub fn conflict_error(short: &str, conflicts: &[Conflict]) -> Error {
    let mut msg = format!(
        "cannot roll back plan {short}: {} changed since it was applied, and those changes conflict with undoing it:",
        crate::util::text::count(conflicts.len() as u64, "path")
    );
    for c in conflicts {
        let _ = write!(msg, "\n  {}: {}", c.path, c.reason);
        for h in &c.hunks {
            // File content: control characters shown escaped, never sent raw.
            for line in h.lines() {
                let _ = write!(msg, "\n    {}", crate::paths::printable_content(line));
            }
        }
    }
    Error::stale(msg).hint(
        "nothing was changed; resolve those paths by hand (or make a new plan), or roll back only the other paths with --path GLOB",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_merge_three_ways() {
        assert_eq!(merge_mode(0o755, 0o755, 0o644), Some(0o644));
        assert_eq!(merge_mode(0o644, 0o600, 0o644), Some(0o600));
        assert_eq!(merge_mode(0o755, 0o644, 0o644), Some(0o644));
        assert_eq!(merge_mode(0o755, 0o700, 0o644), None);
    }

    #[test]
    fn clean_revert_keeps_a_later_change() {
        let before = b"a\nb\nc\nd\ne\nf\ng\n";
        let after = b"a\nB\nc\nd\ne\nf\ng\n";
        let now = b"a\nB\nc\nd\ne\nf\nG\n";
        let merged = diffy::merge_bytes(after, now, before).unwrap();
        assert_eq!(merged, b"a\nb\nc\nd\ne\nf\nG\n");
    }

    #[test]
    fn conflicted_content_never_reaches_the_terminal_raw() {
        let e = conflict_error(
            "abc",
            &[Conflict {
                path: "f.txt".into(),
                reason: "r".into(),
                hunks: vec!["<<<<<<< current\nevil\u{1b}[2K\n".into()],
                marked: None,
            }],
        );
        assert!(!e.message.contains('\u{1b}'), "{}", e.message);
        assert!(e.message.contains("evil"));
    }

    #[test]
    fn conflict_hunks_are_cut_with_context() {
        let mut opts = diffy::MergeOptions::new();
        opts.set_conflict_style(diffy::ConflictStyle::Diff3);
        let marked = opts
            .merge_bytes(b"1\n2\n3\nX\n5\n", b"1\n2\n3\nY\n5\n", b"1\n2\n3\n4\n5\n")
            .unwrap_err();
        let hunks = conflict_hunks(&marked);
        assert_eq!(hunks.len(), 1);
        assert!(
            hunks[0].starts_with("@@ conflict at line 4 "),
            "{}",
            hunks[0]
        );
        assert!(hunks[0].contains("<<<<<<< current"));
        assert!(hunks[0].contains("Y\n") && hunks[0].contains("X\n") && hunks[0].contains("4\n"));
    }
}
