//! `autonomy show`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::model::State;
use crate::ops::session::{Default, Session};
use crate::paths::RelPath;

/// Print a plan's canonical JSON, or a path's content after (or before) it
///
/// `autonomy show PLAN` prints the plan's canonical encoding, the exact bytes its id is the
/// sha256 of (`autonomy show PLAN | sha256sum` prints the id). `autonomy show PLAN:PATH`
/// prints the content the plan gives PATH, byte for byte, from the blob store (every read
/// is verified against its hash); with --before, the content PATH had before the plan
/// (its snapshot once applied, or the workspace file while it still matches). Use it to
/// resolve a conflict by hand, or to compare with a later version.
///
/// Examples:
///   autonomy show 3f9c
///   autonomy show 3f9c:config/app.toml
///   autonomy show 3f9c:config/app.toml --before > app.toml.orig
///   diff <(autonomy show 3f9c:src/a.rs --before) src/a.rs
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ShowArgs {
    /// A plan id or unique prefix, optionally with `:PATH` (a path the plan changes).
    #[arg(value_name = "PLAN[:PATH]", add = clap_complete::ArgValueCompleter::new(super::complete::all_plans))]
    pub what: String,
    /// The content before the plan instead of after it (needs `:PATH`).
    #[arg(long)]
    pub before: bool,
}

pub fn run(args: ShowArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("show")?;
    let (plan_ref, path) = match args.what.split_once(':') {
        Some((p, path)) => (p, Some(path)),
        None => (args.what.as_str(), None),
    };
    let s = Session::open_read_only(&ctx.dir)?;
    let row = s.resolve(Some(plan_ref), Default::Newest)?;
    let short = row.id.short();
    let plan = s.load_plan(&row.id)?;
    let Some(path) = path else {
        if args.before {
            return Err(Error::usage(
                "--before shows a path's earlier content: name the path as PLAN:PATH",
            ));
        }
        let mut text = plan.canonical();
        if ui::stdout_is_terminal() {
            text.push('\n');
        }
        ui::print(&text);
        return Ok(());
    };
    let rel = RelPath::parse(path).map_err(|e| Error::usage(format!("{path}: {}", e.message)))?;
    let Some(change) = plan.changes.iter().find(|c| c.path == rel.as_str()) else {
        let listed: Vec<String> = plan
            .changes
            .iter()
            .take(20)
            .map(|c| format!("  {}", c.path))
            .collect();
        let more = if plan.changes.len() > 20 {
            format!("\n  … and {} more", plan.changes.len() - 20)
        } else {
            String::new()
        };
        return Err(Error::usage(format!(
            "plan {short} does not change {rel}; it changes:\n{}{more}",
            listed.join("\n")
        )));
    };
    let (state, when) = if args.before {
        (&change.before, "before")
    } else {
        (&change.after, "after")
    };
    let hash = match state {
        State::File { sha256, .. } => sha256,
        State::Absent => {
            return Err(Error::failed(format!(
                "{rel} does not exist {when} plan {short} ({})",
                if args.before {
                    "the plan creates it"
                } else {
                    "the plan removes it"
                }
            )));
        }
        other => {
            return Err(Error::failed(format!(
                "{rel} is not a file {when} plan {short} (it is {})",
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
                    .unwrap_or_else(|| "not a file".into())
            )));
        }
    };
    let bytes = if s.blobs.contains(hash) {
        s.blobs.read(hash)?
    } else {
        from_workspace(&s, &rel, hash).ok_or_else(|| {
            Error::failed(format!(
                "the content of {rel} {when} plan {short} (sha256 {}) is not in the blob store, and the workspace file no longer matches it",
                crate::model::id::short(hash)
            ))
            .hint("contents before a plan are kept once it is applied; `autonomy gc` may have removed an unused one")
        })?
    };
    // Through the output owner: a closed pipe ends quietly in `main`, like every command.
    super::ui::print_bytes(&bytes);
    Ok(())
}

/// The workspace file at `rel`, if it still hashes to `hash`.
fn from_workspace(s: &Session, rel: &RelPath, hash: &str) -> Option<Vec<u8>> {
    let meta = s.ws.lstat(rel).ok()??;
    if !meta.is_file() {
        return None;
    }
    let bytes =
        s.ws.open_dir(rel.parent().as_ref())
            .ok()?
            .read(rel.file_name())
            .ok()?;
    (crate::util::hash::sha256_hex(&bytes) == hash).then_some(bytes)
}
