//! The checks every plan passes when it is made and again just before it is applied (a
//! plan read back from the journal is untrusted, and the workspace and rules may have
//! changed since): the rules' `deny` over changes and exec `touches`, every exec step
//! (see `exec_check`), and that no path, `cwd` or glob prefix lies in a nested workspace.

use super::exec_check;
use crate::error::{Error, Result};
use crate::model::Plan;
use crate::paths::Globs;
use crate::paths::{RelPath, STATE_DIR};
use crate::policy::rules::Rules;
use crate::workspace::Workspace;
use std::collections::HashMap;

/// Refuse the plan (exit 1) when any check fails, naming the path or step at fault.
pub fn check_plan(ws: &Workspace, rules: &Rules, plan: &Plan) -> Result<()> {
    rules.check_denied(plan)?;
    super::links::check_links(&ws.root, plan)?;
    let mut nested = Nested::new(ws);
    for c in &plan.changes {
        nested.refuse(&c.rel()?, false, &c.path)?;
    }
    for (k, step) in plan.exec.iter().enumerate() {
        // Every refusal names the step it is about.
        let label = |e: Error| {
            e.about(format_args!(
                "exec step {} ({})",
                k + 1,
                crate::paths::shown(step.run.first().map_or("", String::as_str))
            ))
        };
        exec_check::check_step(rules, step, &ws.root).map_err(label)?;
        if !step.cwd.is_empty() {
            let cwd = RelPath::parse(&step.cwd).map_err(label)?;
            nested
                .refuse(&cwd, true, &format!("cwd {}", step.cwd))
                .map_err(label)?;
        }
        for spec in Globs::new(&step.touches).map_err(label)?.specs() {
            if spec.prefix.is_empty() {
                continue;
            }
            let dir = RelPath::parse(&spec.prefix.join("/")).map_err(label)?;
            nested
                .refuse(&dir, true, &format!("touches {}", spec.pattern))
                .map_err(label)?;
        }
    }
    Ok(())
}

/// Finds nested workspaces on the way to paths, looking at each folder once.
pub struct Nested<'a> {
    ws: &'a Workspace,
    seen: HashMap<String, bool>,
}

impl<'a> Nested<'a> {
    pub fn new(ws: &'a Workspace) -> Self {
        Nested {
            ws,
            seen: HashMap::new(),
        }
    }

    /// Whether the existing folder `dir` holds its own `.autonomy` (is a workspace).
    fn holds_state(&mut self, dir: &RelPath) -> bool {
        if let Some(&b) = self.seen.get(dir.as_str()) {
            return b;
        }
        let b = self
            .ws
            .open_dir(Some(dir))
            .is_ok_and(|d| d.symlink_metadata(STATE_DIR).is_ok());
        self.seen.insert(dir.as_str().to_string(), b);
        b
    }

    /// The nested workspace `rel` lies in (its ancestors, and itself with `include_self`).
    pub fn find(&mut self, rel: &RelPath, include_self: bool) -> Option<RelPath> {
        let mut dirs = rel.ancestors();
        if include_self {
            dirs.push(rel.clone());
        }
        dirs.into_iter().find(|d| self.holds_state(d))
    }

    fn refuse(&mut self, rel: &RelPath, include_self: bool, what: &str) -> Result<()> {
        match self.find(rel, include_self) {
            None => Ok(()),
            Some(n) => Err(Error::failed(format!(
                "{what} is inside {n}, another workspace (it has its own .autonomy/); a plan of this workspace may not change it"
            ))
            .hint(format!("plan that change in the nested workspace: `autonomy -C {n} plan FILE`"))),
        }
    }
}
