//! Where a planned link's target leads: a link may not lead into a `.autonomy` folder
//! (this workspace's or a nested one's), by any spelling (case, trailing dots, `sub/..`,
//! `./`), through an absolute path naming the workspace, or through another link, planned
//! or already in the workspace. The target is resolved lexically from the link's folder,
//! following links the plan makes and links the workspace holds (read with `lstat`, never
//! through a link), at most [`MAX_HOPS`] of them. A target that leaves the workspace (or is
//! absolute elsewhere) is not followed further: that stays a risk note
//! (`policy::risk::link_leaves`). Called from `plan::check::check_plan`, so it holds for
//! every door (plan file, patch, capture, spool, agents, MCP) at plan and apply time.

use crate::error::{Error, Result};
use crate::model::{Plan, State};
use crate::paths::is_state_name;
use std::collections::HashMap;
use std::path::Path;

/// Links followed while resolving one target (the kernel's own limit).
pub const MAX_HOPS: usize = 40;

/// Refuse (exit 1) a plan with a link whose target leads into a state folder.
pub fn check_links(root: &Path, plan: &Plan) -> Result<()> {
    let planned: HashMap<&str, &State> = plan
        .changes
        .iter()
        .map(|c| (c.path.as_str(), &c.after))
        .collect();
    let link_at = |path: &str| -> Option<String> {
        match planned.get(path) {
            Some(State::Symlink { target }) => Some(target.clone()),
            Some(_) => None,
            None => {
                let full = root.join(path);
                let meta = std::fs::symlink_metadata(&full).ok()?;
                if !meta.file_type().is_symlink() {
                    return None;
                }
                let t = std::fs::read_link(&full).ok()?;
                Some(t.to_string_lossy().into_owned())
            }
        }
    };
    for c in &plan.changes {
        let Some(target) = c.after.link_target() else {
            continue;
        };
        if let Some(into) = leads_into_state(root, &c.path, target, &link_at) {
            return Err(Error::failed(format!(
                "the link {} -> {} leads into a state folder ({}); a link may not point into `.autonomy/`, this workspace's or a nested one's",
                crate::paths::shown(&c.path),
                crate::paths::shown(target),
                crate::paths::shown(&into)
            ))
            .hint("point the link somewhere else, or leave it out of the plan"));
        }
    }
    Ok(())
}

/// The workspace-relative spelling of the state folder `target` (of the link at
/// `link_path`) reaches, if it reaches one.
pub fn leads_into_state(
    root: &Path,
    link_path: &str,
    target: &str,
    link_at: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut parts: Vec<String> = link_path.split('/').map(str::to_string).collect();
    parts.pop();
    let mut hops = 0;
    // Pending components, last first.
    let mut todo: Vec<String> = Vec::new();
    let push_target = |todo: &mut Vec<String>, parts: &mut Vec<String>, t: &str| -> bool {
        let rel = if t.starts_with('/') {
            match Path::new(t).strip_prefix(root) {
                Ok(rest) => {
                    parts.clear();
                    rest.to_string_lossy().into_owned()
                }
                // Absolute elsewhere: a risk note, not followed (unless it names a state
                // folder on the way, which is refused whatever it is).
                Err(_) => return t.split('/').any(is_state_name),
            }
        } else {
            t.to_string()
        };
        todo.extend(rel.split('/').rev().map(str::to_string));
        false
    };
    if push_target(&mut todo, &mut parts, target) {
        return Some(target.to_string());
    }
    while let Some(seg) = todo.pop() {
        match seg.as_str() {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    // Leaves the workspace: a risk note; a state name further on is
                    // refused anyway (`../ws/.autonomy`).
                    return todo
                        .iter()
                        .any(|s| is_state_name(s))
                        .then(|| target.to_string());
                }
            }
            name => {
                parts.push(name.to_string());
                if is_state_name(name) {
                    return Some(parts.join("/"));
                }
                if let Some(next) = link_at(&parts.join("/")) {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return None;
                    }
                    parts.pop();
                    if push_target(&mut todo, &mut parts, &next) {
                        return Some(next);
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn into(path: &str, target: &str, links: &[(&str, &str)]) -> Option<String> {
        let links: HashMap<String, String> = links
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        leads_into_state(Path::new("/w/ws"), path, target, &|p| links.get(p).cloned())
    }

    #[test]
    fn every_spelling_and_route_into_a_state_folder_is_found() {
        assert!(into("lnk", ".autonomy", &[]).is_some());
        assert!(into("lnk", "sub/../.autonomy", &[]).is_some());
        assert!(into("lnk", "./.AUTONOMY/x", &[]).is_some());
        assert!(into("lnk", ".autonomy. ", &[]).is_some());
        assert!(into("d/lnk", "../nested/.autonomy/journal.db", &[]).is_some());
        assert!(into("lnk", "/w/ws/.autonomy", &[]).is_some());
        assert!(into("lnk", "/elsewhere/.autonomy", &[]).is_some());
        assert!(into("lnk", "../ws/.autonomy", &[]).is_some());
        // Through another link: `up -> ..` from `d/`, then `d/up/.autonomy`… spelled as
        // `d/up` + a name the second link adds.
        assert!(
            into(
                "lnk",
                "a/journal.db",
                &[("a", "b/c"), ("b", ".autonomy/..")]
            )
            .is_some()
        );
        assert!(into("lnk", "st/journal.db", &[("st", "x/../.Autonomy")]).is_some());
        assert!(into("lnk", "s", &[("s", "t"), ("t", "/w/ws/.autonomy")]).is_some());
        // Not into a state folder.
        assert!(into("lnk", "releases/1.2", &[]).is_none());
        assert!(into("d/lnk", "../x", &[("x", "y")]).is_none());
        assert!(into("lnk", "/etc/passwd", &[]).is_none());
        assert!(into("lnk", "../../outside", &[]).is_none());
        assert!(into("lnk", ".autonomy-notes", &[]).is_none());
        // A loop ends.
        assert!(into("lnk", "a", &[("a", "b"), ("b", "a")]).is_none());
    }
}
