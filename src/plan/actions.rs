//! A plan file's actions turned into ordered operations: ids and `after` lists checked and
//! ordered, each action's keys resolved into one [`Op`] (content decoded, `content_file`s
//! streamed into the plan's blob batch, exec steps validated).

use super::file::{Action, PlanFile, parse_mode};
use super::op::{ModeSpec, Op};
use crate::error::{Error, Result};
use crate::model::plan::ExecStep;
use crate::paths::RelPath;
use crate::policy::rules::Rules;
use crate::store::blobs::BlobBatch;
use base64::Engine as _;
use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;

/// Turn a parsed plan file into ordered ops (ids and cycles checked; content files
/// streamed into `staging`, hashed on the way, never held in memory).
pub fn ops_from_file(
    pf: &PlanFile,
    root: &Path,
    plan_dir: Option<&Path>,
    rules: &Rules,
    staging: &mut BlobBatch,
) -> Result<Vec<(String, Op)>> {
    let ids = action_ids(&pf.action)?;
    let order = dependency_order(&pf.action, &ids)?;
    let mut ops = Vec::with_capacity(order.len());
    for i in order {
        let a = &pf.action[i];
        let label = a.label(i);
        let op = to_op(a, root, plan_dir, rules, staging).map_err(|e| e.about(&label))?;
        ops.push((label, op));
    }
    Ok(ops)
}

/// Each action's keys checked, and the index of every `id` (not empty, not used twice).
fn action_ids(actions: &[Action]) -> Result<HashMap<&str, usize>> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (i, a) in actions.iter().enumerate() {
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
    Ok(ids)
}

/// Stable topological order: an action runs after everything it names in `after`, and
/// otherwise in file order. A cycle is an error naming its members.
fn dependency_order(actions: &[Action], ids: &HashMap<&str, usize>) -> Result<Vec<usize>> {
    let deps = dependencies(actions, ids)?;
    let n = actions.len();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        match (0..n).find(|&i| !done[i] && deps[i].iter().all(|&d| done[d])) {
            Some(i) => {
                done[i] = true;
                order.push(i);
            }
            None => return Err(cycle(actions, &done)),
        }
    }
    Ok(order)
}

/// What each action must come after, by index (an unknown or own id refused).
fn dependencies(actions: &[Action], ids: &HashMap<&str, usize>) -> Result<Vec<BTreeSet<usize>>> {
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); actions.len()];
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
    Ok(deps)
}

/// The error for `after` lists that form a cycle, naming the actions not yet ordered.
fn cycle(actions: &[Action], done: &[bool]) -> Error {
    let stuck: Vec<String> = (0..actions.len())
        .filter(|&i| !done[i])
        .map(|i| {
            actions[i].id.as_deref().map_or_else(
                || format!("#{}", i + 1),
                |id| crate::error::clip_lines(id, 80),
            )
        })
        .collect();
    Error::failed(format!(
        "the actions' `after` lists form a cycle among: {}",
        stuck.join(", ")
    ))
    .hint("remove one of the `after` entries to break the cycle")
}

fn need<'a>(v: &'a Option<String>, key: &str, kind: &str) -> Result<&'a str> {
    v.as_deref()
        .ok_or_else(|| Error::failed(format!("a {kind} action needs `{key}`")))
}

/// The action's `path`, which its kind needs.
fn path_of(a: &Action) -> Result<RelPath> {
    RelPath::parse(need(&a.path, "path", &a.kind)?)
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

/// One action as an op, by its kind.
fn to_op(
    a: &Action,
    root: &Path,
    plan_dir: Option<&Path>,
    rules: &Rules,
    staging: &mut BlobBatch,
) -> Result<Op> {
    match a.kind.as_str() {
        "write" => write_op(a, plan_dir, rules, staging),
        "edit" => edit_op(a),
        "delete" => Ok(Op::Delete { path: path_of(a)? }),
        "mkdir" => Ok(Op::Mkdir { path: path_of(a)? }),
        "move" => move_op(a),
        "chmod" => chmod_op(a),
        "symlink" => symlink_op(a),
        "exec" => Ok(Op::Exec(exec_step(a, rules, root)?)),
        other => Err(Error::failed(format!("unknown kind {other:?}"))),
    }
}

/// A write: exactly one content source; a `content_file` is streamed into `staging`.
fn write_op(
    a: &Action,
    plan_dir: Option<&Path>,
    rules: &Rules,
    staging: &mut BlobBatch,
) -> Result<Op> {
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
            .map_err(|e| Error::failed(format!("`content_base64` is not valid base64: {e}")))?
    } else {
        let hash = stage_content_file(
            a.content_file.as_deref().unwrap_or(""),
            plan_dir,
            rules.limits.max_file_bytes,
            staging,
        )?;
        return Ok(Op::WriteStaged {
            path: path_of(a)?,
            hash,
            mode: mode_spec(a)?,
        });
    };
    Ok(Op::Write {
        path: path_of(a)?,
        bytes,
        mode: mode_spec(a)?,
    })
}

fn edit_op(a: &Action) -> Result<Op> {
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
    Ok(Op::Edit {
        path: path_of(a)?,
        find: find.as_bytes().to_vec(),
        replace: replace.as_bytes().to_vec(),
        count,
    })
}

fn move_op(a: &Action) -> Result<Op> {
    let from = RelPath::parse(need(&a.from, "from", "move")?)?;
    let to = RelPath::parse(need(&a.to, "to", "move")?)?;
    if from == to || to.is_within(&from) {
        return Err(Error::failed(format!(
            "cannot move {from} into itself ({to})"
        )));
    }
    Ok(Op::Move { from, to })
}

fn chmod_op(a: &Action) -> Result<Op> {
    let mode = mode_spec(a)?
        .ok_or_else(|| Error::failed("a chmod action needs `mode` or `executable`"))?;
    Ok(Op::Chmod {
        path: path_of(a)?,
        mode,
    })
}

fn symlink_op(a: &Action) -> Result<Op> {
    let target = need(&a.target, "target", "symlink")?;
    if !crate::model::plan::valid_link_target(target) {
        return Err(Error::failed(format!(
            "the link target of {} must be 1 to {} bytes without NUL",
            crate::paths::shown(a.path.as_deref().unwrap_or("")),
            crate::model::plan::MAX_LINK_TARGET
        )));
    }
    Ok(Op::Symlink {
        path: path_of(a)?,
        target: target.to_string(),
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
