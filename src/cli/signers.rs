//! `autonomy signers add|list|remove`

use super::{Ctx, ui};
use crate::error::{Error, Result};
use crate::ops::session::Session;
use crate::ops::signers::{Changed, Edit};
use crate::policy::approval::allowed_signers::AllowedSigners;
use crate::policy::approval::signers_edit::{self, fingerprint};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Manage who may sign approvals: the allowed-signers file
///
/// Signed approvals count only when their key is listed for the approver in the
/// allowed-signers file (git's format; `.autonomy/allowed_signers` unless autonomy.toml
/// names another). `signers add` lists a public key for a principal (for the
/// autonomy-approval namespace only), `signers remove` takes a principal out, `signers
/// list` shows who is trusted with which key. Every change is checked with the same strict
/// parser that reads the file for approvals.
///
/// Changing who may sign is a policy change. The file under .autonomy/ is outside every
/// plan's reach (plans never touch .autonomy/), so the change is written directly, under
/// the workspace lock, and journaled as a `signers.changed` event with the principal, the
/// key's fingerprint and the file's digest before and after (`autonomy log --kind
/// signers`). A file the rules place inside the workspace tree is changed by a plan
/// instead, previewed and approved under the rules in force before it, like any policy
/// change: the command prints the plan's id.
///
/// Examples:
///   autonomy signers add alice@example.com ~/.ssh/id_ed25519.pub
///   ssh-add -L | head -1 | autonomy signers add bob@example.com -
///   autonomy signers list
///   autonomy signers remove alice@example.com
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct SignersArgs {
    #[command(subcommand)]
    pub command: SignersCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SignersCommand {
    /// Trust a public key to sign approvals as PRINCIPAL
    Add {
        /// The identity approvals are made as (e.g. alice@example.com).
        #[arg(value_name = "PRINCIPAL")]
        principal: String,
        /// The public key file (`.pub`), or `-` for stdin.
        #[arg(value_name = "KEY", value_hint = clap::ValueHint::FilePath)]
        key: PathBuf,
    },
    /// List the allowed signers, with each key's fingerprint
    List,
    /// Stop trusting PRINCIPAL's keys (or one of them, with --key)
    Remove {
        /// The identity to remove.
        #[arg(value_name = "PRINCIPAL")]
        principal: String,
        /// Only the key with this fingerprint (SHA256:…, as `signers list` shows it).
        #[arg(long, value_name = "FINGERPRINT")]
        key: Option<String>,
    },
}

/// The largest public key file read.
const MAX_KEY_FILE: u64 = 64 * 1024;

pub fn run(args: SignersArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("signers")?;
    match args.command {
        SignersCommand::List => list(ctx),
        SignersCommand::Add { principal, key } => {
            let (text, name) = read_key(&key, &ctx.dir)?;
            let key = signers_edit::parse_public_key(&text, &name)?;
            let fp = fingerprint(&key);
            change(ctx, "add", &principal, Some(&fp), &|old| {
                signers_edit::add(old, &principal, &key)
            })
        }
        SignersCommand::Remove { principal, key } => {
            change(ctx, "remove", &principal, key.as_deref(), &|old| {
                signers_edit::remove(old, &principal, key.as_deref()).map(Edit::Changed)
            })
        }
    }
}

fn read_key(path: &Path, base: &Path) -> Result<(String, String)> {
    let mut bytes = Vec::new();
    let name = if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_KEY_FILE)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading the key from stdin", e))?;
        "<stdin>".to_string()
    } else {
        bytes = crate::ops::signers::read_key_file(&base.join(path), MAX_KEY_FILE)
            .map_err(|e| Error::io(format!("reading key {}", path.display()), e))?;
        path.display().to_string()
    };
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::failed(format!("{name} is not a text public key")))?;
    Ok((text, name))
}

fn list(ctx: &Ctx) -> Result<()> {
    let s = Session::open_read_only(&ctx.dir)?;
    let (rel, text) = crate::ops::signers::current(&s)?;
    let signers = AllowedSigners::parse(&text).map_err(|e| {
        Error::failed(format!("allowed signers file {rel}: {e}"))
            .hint("fix the file (git's allowed_signers format)")
    })?;
    let rows: Vec<serde_json::Value> = signers
        .entries()
        .iter()
        .map(|e| {
            serde_json::json!({
                "principals": e.principals, "key_type": e.key.algorithm().as_str(),
                "fingerprint": fingerprint(&e.key), "namespaces": e.namespaces,
                "valid_after": e.valid_after.map(crate::util::ids::format_time),
                "valid_before": e.valid_before.map(crate::util::ids::format_time),
                "cert_authority": e.cert_authority, "line": e.line,
            })
        })
        .collect();
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "file": rel, "signers": rows,
        }));
        return Ok(());
    }
    if rows.is_empty() {
        ui::say(&format!(
            "No allowed signers in {rel}: no signed approval counts yet. Add one with `autonomy signers add PRINCIPAL KEY.pub`."
        ));
        return Ok(());
    }
    let width = signers
        .entries()
        .iter()
        .map(|e| console::measure_text_width(&e.principals))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for e in signers.entries() {
        let mut extra = Vec::new();
        if let Some(n) = &e.namespaces {
            extra.push(format!("namespaces {n}"));
        }
        if let Some(t) = e.valid_after {
            extra.push(format!("valid after {}", crate::util::ids::format_time(t)));
        }
        if let Some(t) = e.valid_before {
            extra.push(format!("valid before {}", crate::util::ids::format_time(t)));
        }
        if e.cert_authority {
            extra.push("cert-authority".into());
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!("  ({})", extra.join(", "))
        };
        out.push_str(&format!(
            "{:<width$}  {:<11}  {}{extra}\n",
            crate::paths::printable(&e.principals),
            e.key.algorithm().as_str(),
            fingerprint(&e.key)
        ));
    }
    ui::print(&out);
    ui::say(&format!(
        "{} in {rel}.",
        crate::util::text::count(signers.entries().len() as u64, "allowed signer")
    ));
    Ok(())
}

/// Apply `edit` to the signers file: directly and journaled when it lives in .autonomy/,
/// as a pending plan when it lives in the workspace tree.
fn change(
    ctx: &Ctx,
    action: &str,
    principal: &str,
    key: Option<&str>,
    edit: &dyn Fn(&str) -> Result<Edit>,
) -> Result<()> {
    let mut s = Session::open(&ctx.dir)?;
    let (rel, changed) = crate::ops::signers::change(&mut s, action, principal, key, edit)?;
    let (from, to) = match changed {
        Changed::Unchanged => {
            ui::say(&format!(
                "{principal} is already an allowed signer with that key in {rel}; nothing changed."
            ));
            return Ok(());
        }
        Changed::Proposed(proposed) => {
            super::plan::render(ctx, &proposed);
            if proposed.id().is_some() {
                ui::say(&format!(
                    "{rel} is in the workspace tree, so the change is a plan (a policy change): preview and approve it like any other."
                ));
            }
            return Ok(());
        }
        Changed::Written { from, to } => (from, to),
    };
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "action": action,
            "principal": principal, "key_fingerprint": key, "file": rel, "from": from, "to": to,
        }));
    }
    let what = match (action, key) {
        ("add", Some(k)) => format!("Added {principal} (key {k}) to {rel}"),
        (_, Some(k)) => format!("Removed {principal}'s key {k} from {rel}"),
        _ => format!("Removed {principal} from {rel}"),
    };
    ui::say(&format!(
        "{what}; journaled as signers.changed (`autonomy log --kind signers`)."
    ));
    Ok(())
}
