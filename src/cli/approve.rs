//! `autonomy approve`

use super::{Ctx, gate, ui};
use crate::approval::{record, sshsig, statement::Statement};
use crate::error::{Error, Result};
use crate::session::{Default, Session, status_refusal};
use std::path::{Path, PathBuf};

/// Approve a plan at a terminal, or write a signed approval file
///
/// At a terminal (stdin and stderr both terminals) the full preview is shown, then
/// `Approve plan ID? [y/N]` (default no). The decision is recorded either way; a declined
/// plan can still be approved later. Without a terminal this refuses (exit 3): use a signed
/// approval instead.
///
/// Signed approvals (for pipelines) need no terminal and record nothing by themselves; the
/// file counts when presented with `autonomy apply --approval FILE`.
///
/// Without PLAN, the newest pending plan.
///
/// Examples:
///   autonomy approve
///   autonomy approve 3f9c --reason "reviewed with the on-call"
///   autonomy approve 3f9c --sign-with ~/.ssh/id_ed25519 -o alice.approval
///   autonomy approve 3f9c --statement > stmt
///   ssh-keygen -Y sign -n autonomy-approval -f ~/.ssh/id_ed25519 stmt   # writes stmt.sig
///   autonomy approve 3f9c --signature stmt.sig -o alice.approval
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ApproveArgs {
    /// Plan id or unique prefix (default: the newest pending plan).
    #[arg(value_name = "PLAN", add = clap_complete::ArgValueCompleter::new(super::complete::pending_plans))]
    pub plan: Option<String>,
    /// Why you approve; recorded in the journal.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Approve as this identity instead of the acting one.
    #[arg(long = "as", value_name = "ID")]
    pub as_id: Option<String>,
    /// Print the approval statement to sign with any SSH tool, and nothing else.
    #[arg(long, conflicts_with_all = ["sign_with", "signature"])]
    pub statement: bool,
    /// Sign the statement with this SSH private key and write an approval file.
    #[arg(long, value_name = "KEY", value_hint = clap::ValueHint::FilePath, conflicts_with = "signature")]
    pub sign_with: Option<PathBuf>,
    /// Turn `ssh-keygen -Y sign` output (STATEMENT.sig next to STATEMENT) into an approval file.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub signature: Option<PathBuf>,
    /// The statement that --signature signed (default: the signature's path without `.sig`).
    #[arg(long, value_name = "FILE", requires = "signature", value_hint = clap::ValueHint::FilePath)]
    pub statement_file: Option<PathBuf>,
    /// Where to write the approval file (default: .autonomy/approvals/<plan12>.approval in a
    /// workspace, else <plan12>.approval here).
    #[arg(short = 'o', long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// How long a signed approval stays valid.
    #[arg(long, value_name = "DURATION", default_value = "24h")]
    pub expires: String,
    /// Approve the plan in this bundle (from `autonomy export`); needs no workspace. Use
    /// with --statement, --sign-with or --signature.
    #[arg(long, value_name = "FILE", conflicts_with = "plan", value_hint = clap::ValueHint::FilePath)]
    pub bundle: Option<PathBuf>,
}

pub fn run(args: ApproveArgs, ctx: &Ctx) -> Result<()> {
    ctx.no_jsonl("approve")?;
    let signing = args.statement || args.sign_with.is_some() || args.signature.is_some();
    if let Some(path) = &args.bundle {
        if !signing {
            return Err(Error::usage(
                "a bundle is approved by signing it: add --sign-with KEY, --statement or --signature FILE",
            ));
        }
        let bundle = crate::bundle::read(&ctx.dir.join(path))?;
        let approver = crate::identity::clean(
            &args
                .as_id
                .clone()
                .unwrap_or_else(|| crate::identity::acting_identity(&ctx.dir)),
        );
        return sign(ctx, &args, &bundle.id, &bundle.plan.workspace, &approver);
    }
    let mut s = Session::open(&ctx.dir)?;
    let row = s.resolve(args.plan.as_deref(), Default::NewestPending)?;
    if let Some(e) = status_refusal(&row) {
        return Err(e);
    }
    let short = row.id[..12].to_string();
    let approver = crate::identity::clean(args.as_id.as_deref().unwrap_or(&s.actor));
    if signing {
        return sign(ctx, &args, &row.id, &s.workspace_id()?, &approver);
    }
    // Interactive.
    s.refuse_if_interrupted()?;
    if !ui::interactive() {
        return Err(Error::not_approved(format!("approving plan {short} needs a terminal (stdin and stderr), and there is none"))
            .hint(format!(
                "approve it at a terminal with `autonomy approve {short}`, or sign it: `autonomy approve {short} --sign-with KEY` and pass --approval FILE to apply"
            )));
    }
    let plan = s.load_plan(&row.id)?;
    super::preview::show(&s, &row.id, &plan, &row.status, false, true)?;
    let yes = gate::ask(&short)?;
    record::record_decision(&mut s, &row.id, &approver, yes, args.reason.as_deref())?;
    if yes {
        ui::say(&format!(
            "Approved plan {short} as {approver}. Apply it with `autonomy apply {short}`."
        ));
        Ok(())
    } else {
        Err(Error::not_approved(format!("plan {short} was declined by {approver}; nothing was approved"))
            .hint(format!("it stays pending; approve it later with `autonomy approve {short}`, or `autonomy reject {short}`")))
    }
}

/// The signing paths: print the statement, sign it here, or wrap an external signature.
fn sign(
    ctx: &Ctx,
    args: &ApproveArgs,
    plan_id: &str,
    workspace: &str,
    approver: &str,
) -> Result<()> {
    let short = &plan_id[..12];
    if args.statement || args.sign_with.is_some() {
        let st = new_statement(workspace, plan_id, approver, &args.expires)?;
        let text = st.render();
        if args.statement {
            ui::print(&text);
            ui::say(&format!(
                "Sign it with: ssh-keygen -Y sign -n {} -f KEY FILE, then `autonomy approve {short} --signature FILE.sig`",
                sshsig::NAMESPACE
            ));
            return Ok(());
        }
        let key = args.sign_with.as_deref().unwrap_or(Path::new(""));
        let pem = sshsig::sign(&ctx.dir.join(key), text.as_bytes())
            .map_err(|e| Error::failed(format!("signing with {}: {e}", key.display())))?;
        return write_approval(ctx, args, short, &text, &pem, &st);
    }
    let sig = args.signature.as_deref().unwrap_or(Path::new(""));
    let stmt_path = match &args.statement_file {
        Some(p) => p.clone(),
        None => strip_sig(sig)?,
    };
    let text = std::fs::read_to_string(ctx.dir.join(&stmt_path))
        .map_err(|e| Error::io(format!("reading statement {}", stmt_path.display()), e))?;
    let pem = std::fs::read_to_string(ctx.dir.join(sig))
        .map_err(|e| Error::io(format!("reading signature {}", sig.display()), e))?;
    let st = Statement::parse(&text)
        .map_err(|e| Error::failed(format!("statement {}: {e}", stmt_path.display())))?;
    if st.plan != plan_id {
        return Err(Error::failed(format!(
            "statement {} is for plan {}, not {short}",
            stmt_path.display(),
            &st.plan[..12.min(st.plan.len())]
        )));
    }
    sshsig::verify_signature(text.as_bytes(), &pem).map_err(|e| {
        Error::failed(format!(
            "signature {} does not verify over {}: {e}",
            sig.display(),
            stmt_path.display()
        ))
    })?;
    write_approval(ctx, args, short, &text, &pem, &st)
}

fn new_statement(
    workspace: &str,
    plan_id: &str,
    approver: &str,
    expires: &str,
) -> Result<Statement> {
    let ttl = crate::rules::parse_duration(expires)
        .map_err(|e| Error::usage(format!("--expires: {}", e.message)))?;
    // Statements carry whole seconds.
    let created =
        chrono::DateTime::from_timestamp(crate::ids::now().timestamp(), 0).unwrap_or_default();
    let too_long = || Error::usage(format!("--expires {expires} is too long"));
    let ttl = chrono::TimeDelta::from_std(ttl).map_err(|_| too_long())?;
    // Statements carry four-digit years.
    let until = created
        .checked_add_signed(ttl)
        .filter(|t| chrono::Datelike::year(t) <= 9999)
        .ok_or_else(too_long)?;
    let st = Statement {
        approval: crate::ids::random_hex(16),
        workspace: workspace.to_string(),
        plan: plan_id.to_string(),
        approver: approver.to_string(),
        decision: "approve".into(),
        created,
        expires: until,
    };
    st.validate()
        .map_err(|e| Error::usage(format!("cannot make an approval statement: {e}")))?;
    Ok(st)
}

fn strip_sig(sig: &Path) -> Result<PathBuf> {
    let s = sig.to_string_lossy();
    s.strip_suffix(".sig").map(PathBuf::from).ok_or_else(|| {
        Error::usage(format!(
            "{} does not end in .sig; name the statement with --statement-file",
            sig.display()
        ))
    })
}

fn write_approval(
    ctx: &Ctx,
    args: &ApproveArgs,
    short: &str,
    text: &str,
    pem: &str,
    st: &Statement,
) -> Result<()> {
    let out = match &args.output {
        Some(p) => p.clone(),
        None => default_output(ctx, short)?,
    };
    let body = crate::approval::file::assemble(text, pem);
    std::fs::write(ctx.dir.join(&out), body)
        .map_err(|e| Error::io(format!("writing approval file {}", out.display()), e))?;
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::render::FORMAT_VERSION, "file": out, "approval": st.approval, "plan": st.plan,
            "approver": st.approver, "expires": crate::approval::statement::format_timestamp(&st.expires),
        }));
    }
    ui::say(&format!(
        "Wrote {} (approval {} by {}, expires {}). It counts when presented: autonomy apply {short} --approval {}",
        out.display(),
        st.approval,
        st.approver,
        crate::approval::statement::format_timestamp(&st.expires),
        out.display()
    ));
    Ok(())
}

/// Where an approval file goes when `-o` is not given. Never the workspace itself, where
/// the next capture, patch or `git add -A` would pick it up: inside a workspace it goes to
/// `.autonomy/approvals/` (kept out of git and of every plan); elsewhere (a reviewer's
/// machine with a bundle) to the current folder. Returned relative to the current folder
/// where it lies below it, as people type it.
fn default_output(ctx: &Ctx, short: &str) -> Result<PathBuf> {
    let name = format!("{short}.approval");
    let Ok(ws) = crate::workspace::Workspace::discover(&ctx.dir) else {
        return Ok(PathBuf::from(name));
    };
    let dir = ws.state_path().join("approvals");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let here = std::path::absolute(&ctx.dir).unwrap_or_else(|_| ctx.dir.clone());
    let full = dir.join(name);
    Ok(full
        .strip_prefix(&here)
        .map(Path::to_path_buf)
        .unwrap_or(full))
}
