//! Compiling a plan end to end: a plan file's actions turned into ordered ops
//! (`actions`), folded per path over an overlay of the workspace (`overlay`), and the
//! resulting changes checked with the plan's exec steps (`check`). The ops themselves are
//! in `op`; they are re-exported here for every source that makes them.

pub use super::actions::ops_from_file;
use super::file::PlanFile;
pub use super::op::{ModeSpec, Op};
pub use super::overlay::{CHANGES_NOTHING, Overlay};
use crate::error::{Error, Result};
use crate::model::plan::{ExecStep, PLAN_FORMAT, Plan};
use crate::paths::RelPath;
use crate::policy::rules::Rules;
use crate::store::blobs::{BlobBatch, BlobStore};
use crate::workspace::Workspace;
use std::path::Path;

/// What the plan header says, besides its changes.
pub struct Meta {
    pub workspace: String,
    pub title: String,
    pub author: String,
    pub description: Option<String>,
}

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
    let (overlay, exec) = fold(Overlay::new(ws, staging), ops)?;
    let changes = overlay.finish(rules, !exec.is_empty())?;
    let mut plan = Plan {
        format: PLAN_FORMAT.to_string(),
        workspace: meta.workspace,
        created: crate::util::ids::now_string(),
        title: meta.title,
        author: meta.author,
        description: meta.description,
        reverses: None,
        changes,
        exec: Vec::new(),
    };
    ws.save_hashes();
    refuse_touched_changes(&exec, &plan)?;
    plan.exec = exec.into_iter().map(|(_, s)| s).collect();
    super::check::check_plan(ws, rules, &plan)?;
    Ok(plan)
}

/// Fold the file ops over `overlay`, in order; the exec steps, which must come after
/// every file op, are set aside with their labels.
fn fold<'a>(
    mut overlay: Overlay<'a>,
    ops: Vec<(String, Op)>,
) -> Result<(Overlay<'a>, Vec<(String, ExecStep)>)> {
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
    Ok((overlay, exec))
}

/// A path is either written by the plan or by a command: an exec step whose `touches`
/// covers a change of the plan is refused.
fn refuse_touched_changes(exec: &[(String, ExecStep)], plan: &Plan) -> Result<()> {
    for (label, step) in exec {
        let globs = crate::paths::Globs::new(&step.touches)?;
        if let Some(c) = plan.changes.iter().find(|c| globs.covers(&c.path)) {
            return Err(Error::failed(format!(
                "its `touches` covers {}, which the plan also changes directly",
                c.path
            ))
            .about(label)
            .hint("a path is either written by the plan or by a command; split the work into two plans"));
        }
    }
    Ok(())
}
