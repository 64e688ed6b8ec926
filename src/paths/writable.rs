//! Which folders and files a confined command (an exec step, the verify command) may be
//! given write access to, from its globs: the literal prefix of each glob, walked through
//! real folders only. A folder that is the root, holds a state folder or a nested
//! workspace, or holds a kept-out path (the policy files, paths the rules protect) is
//! never opened whole: its entries are opened one by one instead, skipping state folders,
//! nested workspaces, kept-out paths, symlinks and special files, and files no glob
//! covers. So the kernel keeps every `.autonomy/` out of reach however wide the glob.

use super::{Globs, in_nested, is_state_name, names_state};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// How deep the opening-up descends towards a kept-out path before giving up on that
/// branch (giving up means: not writable).
const MAX_DESCENT: usize = 64;

/// The paths to open for writing under `root`. `nested` are the nested workspaces (from
/// a scan), `keep_out` workspace-relative paths never to open (compared without case).
pub fn writable_roots(
    root: &Path,
    globs: &Globs,
    nested: &[String],
    keep_out: &[String],
) -> Vec<PathBuf> {
    let mut out = BTreeSet::new();
    let w = Walk {
        root,
        globs,
        nested,
        keep_out,
    };
    for spec in globs.specs() {
        let mut dir = String::new();
        for c in &spec.prefix {
            let next = join(&dir, c);
            match std::fs::symlink_metadata(root.join(&next)) {
                Ok(m) if m.is_dir() => dir = next,
                _ => break,
            }
        }
        w.open(&dir, 0, &mut out);
    }
    out.into_iter().collect()
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `a` equals `b` or lies inside it, without case (folded, see [`super::fold`]).
fn within(a: &str, b: &str) -> bool {
    let (a, b) = (super::fold(a), super::fold(b));
    a.len() >= b.len()
        && a.is_char_boundary(b.len())
        && a[..b.len()] == b[..]
        && (a.len() == b.len() || a.as_bytes()[b.len()] == b'/')
}

struct Walk<'a> {
    root: &'a Path,
    globs: &'a Globs,
    nested: &'a [String],
    keep_out: &'a [String],
}

impl Walk<'_> {
    fn blocked(&self, rel: &str) -> bool {
        names_state(rel)
            || in_nested(rel, self.nested)
            || self.keep_out.iter().any(|k| within(rel, k))
    }

    /// Something blocked lies strictly below `dir`.
    fn holds_blocked(&self, dir: &str) -> bool {
        self.nested.iter().any(|n| within(n, dir))
            || self.keep_out.iter().any(|k| within(k, dir))
            || std::fs::symlink_metadata(self.root.join(dir).join(crate::paths::STATE_DIR)).is_ok()
    }

    fn open(&self, dir: &str, depth: usize, out: &mut BTreeSet<PathBuf>) {
        if depth > MAX_DESCENT || (!dir.is_empty() && self.blocked(dir)) {
            return;
        }
        if !dir.is_empty() && !self.holds_blocked(dir) {
            out.insert(self.root.join(dir));
            return;
        }
        let Ok(entries) = std::fs::read_dir(self.root.join(dir)) else {
            return;
        };
        for e in entries.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if is_state_name(&name) {
                continue;
            }
            let rel = join(dir, &name);
            let Ok(ft) = e.file_type() else { continue };
            if self.blocked(&rel) {
                continue;
            }
            if ft.is_file() {
                if self.globs.covers(&rel) {
                    out.insert(self.root.join(&rel));
                }
            } else if ft.is_dir() && (self.globs.covers(&rel) || self.globs.might_cover_under(&rel))
            {
                self.open(&rel, depth + 1, out);
            }
            // Symlinks (Landlock would follow them) and special files are never opened.
        }
    }
}

/// The literal part of a rule's glob as a path to keep out: the components before the
/// first wildcard (all of them for a literal pattern). Patterns without `/` match at any
/// depth and have none; those are enforced by the scan after the command instead.
pub fn literal_prefix(pattern: &str) -> Option<String> {
    if !pattern.contains('/') {
        return None;
    }
    let body = pattern.trim_start_matches('/').trim_end_matches('/');
    let parts: Vec<&str> = body
        .split('/')
        .take_while(|p| {
            !p.is_empty()
                && !p.contains(['*', '?', '[', ']', '{', '}', '\\'])
                && *p != "."
                && *p != ".."
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_nested_and_kept_out_paths_are_never_opened() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for d in [
            ".autonomy",
            "gen",
            "src/deep",
            "sub/.autonomy",
            "deploy",
            "mixed/inner/.autonomy",
            "mixed/ok",
        ] {
            std::fs::create_dir_all(r.join(d)).unwrap();
        }
        for f in ["autonomy.toml", "a.txt", "mixed/x.txt"] {
            std::fs::write(r.join(f), "x").unwrap();
        }
        std::os::unix::fs::symlink("/etc", r.join("link")).unwrap();
        let g = Globs::new(&["**".to_string()]).unwrap();
        let nested = vec!["sub".to_string(), "mixed/inner".to_string()];
        let keep = vec!["autonomy.toml".to_string(), "deploy".to_string()];
        let got: Vec<String> = writable_roots(r, &g, &nested, &keep)
            .into_iter()
            .map(|p| p.strip_prefix(r).unwrap().display().to_string())
            .collect();
        assert_eq!(got, ["a.txt", "gen", "mixed/ok", "mixed/x.txt", "src"]);
        let g = Globs::new(&["gen/**".to_string()]).unwrap();
        let got = writable_roots(r, &g, &nested, &keep);
        assert_eq!(got, [r.join("gen")]);
        assert_eq!(literal_prefix("deploy/**").as_deref(), Some("deploy"));
        assert_eq!(
            literal_prefix("/autonomy.toml").as_deref(),
            Some("autonomy.toml")
        );
        assert_eq!(literal_prefix("*.tf"), None);
    }
}
