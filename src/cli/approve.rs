//! `autonomy approve`

use super::{Ctx, gate, prompt, ui};
use crate::error::{Error, Result};
use crate::model::Plan;
use crate::ops::approvals;
use crate::ops::approve::Approval;
use crate::ops::approve::Reply;
use crate::ops::session::{Default, Session, status_refusal};
use crate::policy::approval::outlook::Outlook;
use crate::policy::approval::{sshsig, statement::Statement};
use std::path::{Path, PathBuf};

/// Approve a plan at a terminal, or write a signed approval file
///
/// At a terminal (stdin and stderr both terminals) the full preview is shown (through the
/// pager; quit it to go on), then a short summary (files, lines, risk, what your approval
/// counts for and what the rules still need) and `Approve plan ID? [y/N]`. The answer is a
/// line ended by Enter: `y` or `yes` approves, anything else declines (`no: REASON` records
/// the reason, which goes back to the plan's author). Keys typed before the question
/// appeared are discarded. A high-risk plan asks for the first 4 hex digits of its id
/// instead of y. The decision is recorded either way; a declined plan can still be approved
/// later. Where your approval is not enough for the rules (they need signed approvals, or
/// more people), it says what is still needed instead of calling the plan approved. A plan
/// whose files changed since it was made is stale: it is not offered (exit 4). Without a
/// terminal this refuses (exit 3): use a signed approval instead.
///
/// Signed approvals (for pipelines) need no terminal and record nothing by themselves; the
/// file counts when presented with `autonomy apply --approval FILE`. Before signing, the
/// preview (only its diffstat with --quiet) and the statement are shown on stderr; at a
/// terminal you confirm as above. A stale plan is not signed (exit 4).
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
    /// Approve as this identity instead of the acting one. A terminal approval also
    /// records your OS user, and counts once per OS user for rules needing several.
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
    /// With --sign-with or --statement: show only the diffstat before signing, not the
    /// whole diff.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// What is being signed, and how to show it.
enum Target<'a> {
    Stored {
        s: &'a Session,
        plan: &'a Plan,
        status: crate::model::PlanStatus,
    },
    Bundle(&'a crate::ops::preview::Bundle),
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
        return sign_bundle(ctx, &args, path);
    }
    let mut s = Session::open(&ctx.dir)?;
    if signing {
        return sign_stored(ctx, &args, &s);
    }
    let mut terminal = gate::Terminal::here();
    let approval = crate::ops::approve::approve(
        &mut s,
        args.plan.as_deref(),
        args.as_id.as_deref(),
        args.reason.as_deref(),
        terminal.as_mut().map(|t| t as _),
    )?;
    match approval {
        Approval::NothingToAdd {
            plan,
            approver,
            outlook,
        } => nothing_to_add(ctx, short(&plan), &approver, &outlook),
        Approval::Decided {
            plan,
            approver,
            reply,
            outlook,
        } => report_decision(ctx, &plan, &approver, &reply, &outlook),
    }
}

/// `--bundle` with a signing flag: sign the plan a bundle carries (refused when stale).
fn sign_bundle(ctx: &Ctx, args: &ApproveArgs, path: &Path) -> Result<()> {
    let bundle = crate::ops::preview::read_bundle(&ctx.dir.join(path))?;
    let approver = crate::util::identity::clean(
        &args
            .as_id
            .clone()
            .unwrap_or_else(|| crate::util::identity::acting_identity(&ctx.dir)),
    );
    let stale = crate::ops::preview::bundle_stale(&ctx.dir, &bundle)?;
    if !stale.is_empty() {
        return Err(gate::stale_error(&bundle.id, &stale, "signed"));
    }
    sign(
        ctx,
        args,
        &bundle.id,
        &bundle.plan.workspace,
        &approver,
        Target::Bundle(&bundle),
    )
}

/// A signing flag without `--bundle`: sign a plan in this workspace's journal (refused
/// when its status or staleness rules signing out).
fn sign_stored(ctx: &Ctx, args: &ApproveArgs, s: &Session) -> Result<()> {
    let row = s.resolve(args.plan.as_deref(), Default::NewestPending)?;
    if let Some(e) = status_refusal(&row) {
        return Err(e);
    }
    let approver = crate::util::identity::clean(args.as_id.as_deref().unwrap_or(&s.actor));
    let plan = s.load_plan(&row.id)?;
    gate::refuse_if_stale(s, &row.id, &plan, row.status, "signed")?;
    let workspace = s.workspace_id()?;
    let target = Target::Stored {
        s,
        plan: &plan,
        status: row.status,
    };
    sign(ctx, args, &row.id, &workspace, &approver, target)
}

/// After a terminal answer: the JSON document, then a decline as an error, or what the
/// approval counts for and whether the plan can be applied now.
fn report_decision(
    ctx: &Ctx,
    plan_id: &str,
    approver: &str,
    reply: &Reply,
    outlook: &Outlook,
) -> Result<()> {
    let short = short(plan_id);
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "plan": plan_id, "approver": approver,
            "approved": reply.approve, "ready": reply.approve && outlook.ready_after,
            "counts_for": outlook.counts_for, "still_needed": outlook.still_needed,
        }));
    }
    if !reply.approve {
        return Err(gate::declined_error(short, &reply.typed, true));
    }
    let counts: Vec<String> = outlook
        .counts_for
        .iter()
        .map(|p| p.counted_sentence())
        .collect();
    if outlook.ready_after {
        ui::say(&format!(
            "Approved plan {short} as {approver}; every rule is met. Apply it with `autonomy apply {short}`."
        ));
        return Ok(());
    }
    let missing = outlook.still_needed_lines();
    ui::say(&format!(
        "Recorded {approver}'s approval of plan {short}; it counts for {}.\nPlan {short} cannot be applied yet; the rules still need:\n{}",
        counts.join(", "),
        missing
    ));
    ui::say(&format!("hint: {}", still_needed_hint(short, outlook)));
    Ok(())
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// `approve` when a terminal approval by this person would change nothing the rules count:
/// say why, record nothing, ask nothing.
fn nothing_to_add(ctx: &Ctx, short: &str, approver: &str, outlook: &Outlook) -> Result<()> {
    if outlook.ready_before {
        if ctx.json() {
            ui::json(&serde_json::json!({
                "format_version": crate::model::FORMAT_VERSION, "plan": short, "approver": approver,
                "approved": false, "ready": true, "counts_for": [], "still_needed": [],
            }));
        }
        ui::say(&format!(
            "Plan {short} is already approved and every rule is met; an approval by {approver} would add nothing, so none was recorded. Apply it with `autonomy apply {short}`."
        ));
        return Ok(());
    }
    let missing = outlook.still_needed_lines();
    Err(Error::not_approved(format!(
        "an approval by {approver} at this terminal would not count for plan {short}: the rules need signed approvals, or this OS user ({}) already counts (terminal approvals count once per OS user, whatever `--as` names); nothing was asked or recorded. The rules still need:\n{}",
        crate::util::identity::os_user().1.unwrap_or_else(|| format!("uid {}", crate::util::identity::os_user().0)),
        missing
    ))
    .hint(still_needed_hint(short, outlook)))
}

fn still_needed_hint(short: &str, outlook: &Outlook) -> String {
    if outlook.still_needed.iter().any(|p| p.signed) {
        format!(
            "have approvers sign it (`autonomy approve {short} --sign-with KEY`) and pass each file to `autonomy apply {short} --approval FILE`"
        )
    } else {
        format!("another person approves it with `autonomy approve {short}` at their terminal")
    }
}

/// The signing paths: print the statement, sign it here, or wrap an external signature.
/// Before a statement is printed or signed, the preview and the statement are shown on
/// stderr; at a terminal, the signer confirms.
fn sign(
    ctx: &Ctx,
    args: &ApproveArgs,
    plan_id: &str,
    workspace: &str,
    approver: &str,
    target: Target,
) -> Result<()> {
    let short = crate::model::id::short(plan_id);
    if args.statement || args.sign_with.is_some() {
        let st = new_statement(workspace, plan_id, approver, &args.expires)?;
        let text = st.render();
        let level = show_before_signing(ctx, args, plan_id, approver, &target)?;
        if args.statement {
            ui::print(&text);
            ui::say(&format!(
                "Sign it with: ssh-keygen -Y sign -n {} -f KEY FILE, then `autonomy approve {short} --signature FILE.sig`",
                sshsig::NAMESPACE
            ));
            return Ok(());
        }
        let key = args.sign_with.as_deref().unwrap_or(Path::new(""));
        ui::say(&format!(
            "Statement to sign with {}:\n{}",
            key.display(),
            text.lines()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
        if ui::interactive() {
            let (question, expect) = gate::question("Sign", plan_id, level);
            let answer = prompt::ask(&question, &expect)?;
            if !answer.approve {
                return Err(Error::not_approved(format!(
                    "plan {short} was not signed; no approval file was written"
                ))
                .hint(format!(
                    "sign it later with `autonomy approve {short} --sign-with KEY`"
                )));
            }
        }
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

/// Show what is about to be signed: the preview (the diffstat with --quiet) on stderr, or
/// paged when stdout is a terminal that carries nothing else, then a summary. Returns the
/// plan's risk level (for the confirmation).
fn show_before_signing(
    ctx: &Ctx,
    args: &ApproveArgs,
    plan_id: &str,
    approver: &str,
    target: &Target,
) -> Result<crate::policy::risk::Level> {
    use super::preview::{Dest, emit};
    let dest = if args.statement || ctx.json() || !ui::stdout_is_terminal() {
        Dest::Stderr
    } else {
        Dest::Paged
    };
    let (doc, outlook) = match target {
        Target::Stored { s, plan, status } => {
            let doc = super::preview::build_doc(s, plan_id, plan, *status, dest.styled())?;
            let held = approvals::recorded(s, plan_id)?;
            // The key's fingerprint is known only once it signs; any key distinct from the
            // ones held counts the same.
            let signed = crate::policy::approval::gate::Held {
                row: None,
                principal: approver.to_string(),
                method: "ssh".into(),
                key: Some("the signing key".into()),
                os_uid: None,
                os_user: None,
            };
            let outlook = gate::outlook_with(s, plan, &held, signed)?;
            (doc, Some(outlook))
        }
        Target::Bundle(b) => (super::preview::bundle_doc(ctx, b, dest.styled())?, None),
    };
    emit(&doc, args.quiet, dest, false)?;
    let mut summary = crate::render::preview::prompt_summary(
        &doc,
        approver,
        "signed; it counts once presented to `autonomy apply --approval FILE`, if the allowed signers list this key for you",
        outlook.as_ref(),
        &ui::err_style,
    );
    if outlook.is_none() {
        summary.push_str(
            "  Which rules it counts for is decided by the workspace's rules when it is presented to `autonomy apply`.\n",
        );
    }
    ui::say_raw(&summary);
    Ok(doc.risk_level)
}

fn new_statement(
    workspace: &str,
    plan_id: &str,
    approver: &str,
    expires: &str,
) -> Result<Statement> {
    let ttl = crate::policy::rules::parse_duration(expires)
        .map_err(|e| Error::usage(format!("--expires: {}", e.message)))?;
    // Statements carry whole seconds.
    let created = chrono::DateTime::from_timestamp(crate::util::ids::now().timestamp(), 0)
        .unwrap_or_default();
    let too_long = || Error::usage(format!("--expires {expires} is too long"));
    let ttl = chrono::TimeDelta::from_std(ttl).map_err(|_| too_long())?;
    // Statements carry four-digit years.
    let until = created
        .checked_add_signed(ttl)
        .filter(|t| chrono::Datelike::year(t) <= 9999)
        .ok_or_else(too_long)?;
    let st = Statement {
        approval: crate::util::ids::random_hex(16),
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
    let body = crate::policy::approval::file::assemble(text, pem);
    std::fs::write(ctx.dir.join(&out), body)
        .map_err(|e| Error::io(format!("writing approval file {}", out.display()), e))?;
    if ctx.json() {
        ui::json(&serde_json::json!({
            "format_version": crate::model::FORMAT_VERSION, "file": out, "approval": st.approval, "plan": st.plan,
            "approver": st.approver, "expires": crate::policy::approval::statement::format_timestamp(&st.expires),
        }));
    }
    ui::say(&format!(
        "Wrote {} (approval {} by {}, expires {}). It counts when presented: autonomy apply {short} --approval {}",
        out.display(),
        st.approval,
        st.approver,
        crate::policy::approval::statement::format_timestamp(&st.expires),
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
