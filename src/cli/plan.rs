//! `autonomy plan`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::plan::compile::{self, Meta};
use crate::session::Session;
use std::io::Read;
use std::path::PathBuf;

/// Compile a plan file, a patch or a captured command into a pending plan
///
/// The plan file (TOML) has a title and a list of actions, each of one kind: write, edit,
/// delete, move, mkdir, chmod, symlink, exec. `autonomy help plan-file` (or `man 5
/// autonomy-plan`) describes every key. Edits are resolved to full contents now, so the
/// preview shows and the approval covers exactly the bytes that `apply` will write. Prints
/// the plan id (12 hex digits) on stdout and a summary on stderr. A plan that would change
/// nothing is no error: it prints no id, says so, and exits 0; an identical pending plan
/// already stored is reported by its id.
///
/// Example plan file:
///   title = "Bump the version"
///   [[action]]
///   kind = "write"
///   path = "VERSION"
///   content = "1.2.0\n"
///
/// Examples:
///   id=$(autonomy plan change.toml) && autonomy preview "$id"
///   git diff --binary | autonomy plan --patch -
///   autonomy plan --capture --scope src -- cargo fmt
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "patch", "capture"])))]
pub struct PlanArgs {
    /// The plan file, or `-` for stdin.
    #[arg(value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub file: Option<PathBuf>,
    /// Make the plan from a unified diff (`git diff --binary`, `git format-patch`, `diff -u`),
    /// or `-` for stdin. Context must match exactly; line offsets are fine, fuzz is not.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub patch: Option<PathBuf>,
    /// Run CMD in a copy-on-write view of the workspace (never in it) and plan what it
    /// changed.
    #[arg(long, requires = "command")]
    pub capture: bool,
    /// With --capture: plan only changes to these paths (repeatable); the command's
    /// changes elsewhere are listed and not planned.
    #[arg(long, value_name = "PATH", requires = "capture")]
    pub scope: Vec<String>,
    /// With --capture: plan the command's changes even when it exits with a non-zero
    /// status (a signal or the timeout still plans nothing).
    #[arg(long, requires = "capture")]
    pub allow_failure: bool,
    /// The plan's title (default: the patch's Subject, or the captured command).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// The command for --capture, after `--`.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Plan files larger than this are refused (use `content_file` for big contents).
const MAX_PLAN_FILE: u64 = 256 << 20;

pub fn run(args: PlanArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("plan")?;
    let mut s = Session::open(&ctx.dir)?;
    s.refuse_if_interrupted()?;
    if let Some(patch) = &args.patch {
        return plan_patch(&mut s, ctx, patch, args.title.as_deref());
    }
    if args.capture {
        return super::capture::plan_capture(
            &mut s,
            ctx,
            &args.command,
            &args.scope,
            args.allow_failure,
            args.title.as_deref(),
        );
    }
    let file = args.file.clone().unwrap_or_default();
    let (text, name, plan_dir) = read_plan_file(&file, &ctx.dir)?;
    let pf = crate::plan::file::parse(&text, &name)?;
    if pf.title.trim().is_empty() {
        return Err(Error::failed(format!(
            "plan file {name}: `title` must not be empty"
        )));
    }
    let meta = Meta {
        workspace: s.workspace_id()?,
        title: pf.title.clone(),
        author: pf.author.clone().unwrap_or_else(|| s.actor.clone()),
        description: pf.description.clone(),
    };
    let rules = s.rules()?;
    let plan = match compile::compile(&s.ws, &pf, plan_dir.as_deref(), meta, rules, &s.blobs) {
        Err(e) if e.message == compile::CHANGES_NOTHING => {
            return nothing_to_plan(
                ctx,
                &format!(
                    "plan file {name} changes nothing: every action leaves the workspace as it is"
                ),
            );
        }
        Err(mut e) => {
            e.message = format!("plan file {name}: {}", e.message);
            return Err(e);
        }
        Ok(plan) => plan,
    };
    // The same plan file compiled twice within one second against the same workspace is
    // the same plan (same bytes, same id): report the stored one instead of failing.
    let existing = plan.id();
    if let Ok(row) = s.resolve(Some(&existing), crate::session::Default::Newest)
        && matches!(row.status.as_str(), "pending" | "approved")
    {
        ui::say(&format!(
            "An identical plan {} is already stored ({}); nothing new was planned.",
            &existing[..12],
            row.status
        ));
        report(ctx, &existing, &plan);
        return Ok(());
    }
    let id = s.insert_plan(&plan, "file")?;
    report(ctx, &id, &plan);
    Ok(())
}

fn plan_patch(
    s: &mut Session,
    ctx: &Ctx,
    path: &std::path::Path,
    title: Option<&str>,
) -> Result<()> {
    let bytes = read_bytes(path, &ctx.dir)?;
    let name = if path.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let ops = crate::plan::from_patch::ops(&s.ws, &bytes, &name)?;
    let title = title
        .map(str::to_string)
        .or_else(|| crate::plan::from_patch::suggested_title(&bytes))
        .unwrap_or_else(|| format!("Apply patch {name}"));
    let meta = Meta {
        workspace: s.workspace_id()?,
        title,
        author: s.actor.clone(),
        description: None,
    };
    let plan = match compile::compile_ops(&s.ws, ops, meta, s.rules()?, &s.blobs) {
        Err(e) if e.message == compile::CHANGES_NOTHING => {
            return nothing_to_plan(
                ctx,
                &format!("patch {name} changes nothing: the workspace already holds its result"),
            );
        }
        other => other?,
    };
    let id = s.insert_plan(&plan, "patch")?;
    report(ctx, &id, &plan);
    Ok(())
}

fn read_bytes(path: &std::path::Path, base: &std::path::Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_PLAN_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading stdin", e))?;
    } else {
        let f = std::fs::File::open(base.join(path))
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        f.take(MAX_PLAN_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    }
    if bytes.len() as u64 > MAX_PLAN_FILE {
        return Err(Error::failed(format!(
            "{} is larger than 256 MiB",
            path.display()
        )));
    }
    Ok(bytes)
}

/// A no-op is not a failure (exit 0), and no plan is made: stdout stays empty (`plan`
/// is null in JSON), so `id=$(autonomy plan ...)` is empty, and stderr says why.
pub fn nothing_to_plan(ctx: &Ctx, why: &str) -> Result<()> {
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::render::FORMAT_VERSION, "plan": null, "nothing_to_plan": why,
        }));
    }
    ui::say(&format!("Nothing to plan: {why}. No plan was made."));
    Ok(())
}

/// Print the id (stdout) and a one-line summary (stderr).
pub fn report(ctx: &Ctx, id: &str, plan: &crate::plan::Plan) {
    let mut counts = std::collections::BTreeMap::new();
    for c in &plan.changes {
        *counts.entry(c.verb()).or_insert(0usize) += 1;
    }
    let mut parts: Vec<String> = counts
        .iter()
        .map(|(k, v)| {
            let what = match *k {
                "create" => "new",
                "modify" => "modified",
                "delete" => "deleted",
                "move" => "moved",
                "chmod" => "mode changed",
                "mkdir" => "new folder",
                "rmdir" => "removed folder",
                other => other,
            };
            format!("{v} {what}")
        })
        .collect();
    if !plan.exec.is_empty() {
        parts.push(crate::text::count(plan.exec.len() as u64, "exec step"));
    }
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::render::FORMAT_VERSION,
            "plan": { "id": id, "short": &id[..12], "title": plan.title, "author": plan.author,
                      "created": plan.created, "changes": plan.changes.len(), "reverses": plan.reverses }
        }));
    } else {
        ui::println(&id[..12]);
    }
    ui::say(&format!(
        "Planned {} {:?}: {} ({}). Review it with `autonomy preview {}`.",
        &id[..12],
        plan.title,
        crate::text::count(plan.changes.len() as u64, "change"),
        parts.join(", "),
        &id[..12]
    ));
}

fn read_plan_file(
    path: &std::path::Path,
    base: &std::path::Path,
) -> Result<(String, String, Option<PathBuf>)> {
    let mut bytes = Vec::new();
    let (name, dir) = if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_PLAN_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading the plan from stdin", e))?;
        ("<stdin>".to_string(), None)
    } else {
        let full = base.join(path);
        let f = std::fs::File::open(&full)
            .map_err(|e| Error::io(format!("reading plan file {}", path.display()), e))?;
        // Read into a buffer of the file's size: one copy of it in memory, not two.
        let size = f.metadata().map_or(0, |m| m.len()).min(MAX_PLAN_FILE + 1);
        bytes.reserve_exact(size as usize + 1);
        f.take(MAX_PLAN_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading plan file {}", path.display()), e))?;
        let dir = full.parent().map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        });
        (path.display().to_string(), dir)
    };
    if bytes.len() as u64 > MAX_PLAN_FILE {
        return Err(
            Error::failed(format!("plan file {name} is larger than 256 MiB"))
                .hint("put large contents in files and reference them with `content_file`"),
        );
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::failed(format!(
            "plan file {name} is not valid UTF-8 (byte {})",
            e.utf8_error().valid_up_to()
        ))
        .hint("use `content_base64` or `content_file` for binary content")
    })?;
    Ok((text, name, dir))
}
