//! The preview of a plan: header, approvals needed and held, risk notes, then every change
//! as a diff (or a size/hash line). The same document renders as text or JSON.

use super::color;
use super::diff::{self, human_size, is_text};
use crate::model::{Change, Plan, State};
use crate::policy::approval::gate::{Held, Standing};
use crate::policy::risk::{Assessment, Level, Reason};
use console::Style;
use serde::Serialize;
use std::fmt::Write;

/// Where the preview finds file contents by path and hash (blob store, workspace,
/// bundle). Large contents are reported by size and never loaded.
pub type Contents<'a> = &'a dyn Fn(&str, &str) -> Option<Fetched>;

pub use crate::model::Fetched;

#[derive(Serialize)]
pub struct PreviewDoc {
    pub format_version: u32,
    pub plan: PlanHeader,
    pub approvals: ApprovalsDoc,
    /// Risk notes, one sentence each (the reasons below, in words).
    pub risk: Vec<String>,
    /// The risk level (`low`, `medium`, `high`), its score and every signal that fired
    /// (see docs/risk.md).
    pub risk_level: Level,
    pub risk_score: u32,
    pub risk_reasons: Vec<Reason>,
    pub policy_change: bool,
    /// Paths whose current state is no longer the plan's `before` (checked for pending and
    /// approved plans): the plan is stale, cannot be approved or applied, and its diff is
    /// against the files as they were when it was planned.
    pub stale: Vec<StaleDoc>,
    pub stat: StatDoc,
    pub changes: Vec<ChangeDoc>,
    /// Deletes and creates shown as renames (as git shows them: similar content, see
    /// `plan::renames`). The changes stay a delete and a create underneath; the created
    /// side carries `rename_from` and the content diff, the deleted side `renamed_to`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renames: Vec<crate::plan::renames::Rename>,
    /// Commands run after the file changes, exactly as they will run.
    pub exec: Vec<crate::model::ExecStep>,
}

#[derive(Serialize)]
pub struct PlanHeader {
    pub id: String,
    pub title: String,
    pub author: String,
    pub description: Option<String>,
    pub created: String,
    pub status: String,
    pub reverses: Option<String>,
    pub workspace: String,
}

#[derive(Serialize)]
pub struct ApprovalsDoc {
    pub satisfied: bool,
    pub requirements: Vec<RequirementDoc>,
    pub held: Vec<Held>,
}

#[derive(Serialize)]
pub struct RequirementDoc {
    pub name: String,
    pub needed: u32,
    pub held: u32,
    pub signed: bool,
    pub paths: Vec<String>,
}

#[derive(Serialize, Clone)]
pub struct StaleDoc {
    pub path: String,
    /// What the plan expects there (its `before`).
    pub planned: State,
    /// What is there now.
    pub now: State,
}

#[derive(Serialize, Default)]
pub struct StatDoc {
    /// Paths changed, a rename counting once (as in git's diffstat).
    pub files: usize,
    pub added_lines: usize,
    pub removed_lines: usize,
}

#[derive(Serialize)]
pub struct ChangeDoc {
    pub path: String,
    pub action: String,
    pub before: State,
    pub after: State,
    pub from: Option<String>,
    pub policy: bool,
    pub added_lines: usize,
    pub removed_lines: usize,
    /// Why no diff is shown (binary, too large, content unavailable).
    pub summary: Option<String>,
    /// The created side of a rename: the deleted path it continues. Its diff and line
    /// counts are against that path's old content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rename_from: Option<String>,
    /// The deleted side of a rename: the created path it continues as (shown there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_to: Option<String>,
    /// git's similarity index of a rename, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<u32>,
    /// The created side of a rename: the state it continues from (for the mode line).
    #[serde(skip)]
    pub renamed_before: Option<State>,
    /// The uncoloured unified diff hunks, when the contents are text.
    pub diff: Option<String>,
    /// The same hunks styled for the terminal, with word-level highlights.
    #[serde(skip)]
    pub styled_diff: Option<String>,
}

pub struct Input<'a> {
    pub id: &'a str,
    pub plan: &'a Plan,
    pub status: &'a str,
    pub standings: &'a [Standing],
    pub held: &'a [Held],
    pub risk: Assessment,
    pub policy_paths: &'a [&'a str],
    /// Paths that drifted from the plan's `before`, with what is there now.
    pub stale: &'a [(String, State)],
    pub contents: Contents<'a>,
    pub styled: &'a dyn Fn(&Style, &str) -> String,
}

pub fn build(input: &Input) -> PreviewDoc {
    let plan = input.plan;
    let bytes = |path: &str, hash: &str| match (input.contents)(path, hash) {
        Some(Fetched::Bytes(b)) => Some(b),
        _ => None,
    };
    let renames = crate::plan::renames::detect(&plan.changes, &bytes);
    let by_to: std::collections::HashMap<usize, &crate::plan::renames::Rename> =
        renames.iter().map(|r| (r.to_index, r)).collect();
    let by_from: std::collections::HashMap<usize, &crate::plan::renames::Rename> =
        renames.iter().map(|r| (r.from_index, r)).collect();
    let mut changes: Vec<ChangeDoc> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| match by_from.get(&i) {
            // The deleted side: its content is diffed on the created side; it counts no
            // lines itself.
            Some(r) => ChangeDoc {
                renamed_to: Some(r.to.clone()),
                ..bare_doc(c, input)
            },
            None => change_doc(
                c,
                by_to.get(&i).map(|r| (*r, &plan.changes[r.from_index])),
                input,
            ),
        })
        .collect();
    // A rename is as much a policy change as either of its sides.
    for r in &renames {
        if changes.iter().any(|c| c.path == r.from && c.policy)
            && let Some(c) = changes.iter_mut().find(|c| c.path == r.to)
        {
            c.policy = true;
        }
    }
    // A policy change is shown first.
    changes.sort_by_key(|c| !c.policy);
    let stat = StatDoc {
        files: changes.len() - renames.len(),
        added_lines: changes.iter().map(|c| c.added_lines).sum(),
        removed_lines: changes.iter().map(|c| c.removed_lines).sum(),
    };
    PreviewDoc {
        format_version: super::FORMAT_VERSION,
        plan: PlanHeader {
            id: input.id.to_string(),
            title: plan.title.clone(),
            author: plan.author.clone(),
            description: plan.description.clone(),
            created: plan.created.clone(),
            status: input.status.to_string(),
            reverses: plan.reverses.clone().map(crate::model::PlanId::into_string),
            workspace: plan.workspace.clone(),
        },
        approvals: ApprovalsDoc {
            satisfied: input.standings.iter().all(Standing::met),
            requirements: input
                .standings
                .iter()
                .map(|s| RequirementDoc {
                    name: s.requirement.name.clone(),
                    needed: s.requirement.approvals,
                    held: s.held,
                    signed: s.requirement.signed,
                    paths: s.requirement.paths.clone(),
                })
                .collect(),
            held: input.held.to_vec(),
        },
        risk: input.risk.notes(),
        risk_level: input.risk.level,
        risk_score: input.risk.score,
        risk_reasons: input.risk.reasons.clone(),
        // Exec `touches` that might reach the policy files count too (the risk signal).
        policy_change: changes.iter().any(|c| c.policy)
            || input.risk.reasons.iter().any(|r| r.signal == "policy"),
        stale: input
            .stale
            .iter()
            .map(|(path, now)| StaleDoc {
                path: path.clone(),
                planned: plan
                    .changes
                    .iter()
                    .find(|c| &c.path == path)
                    .map_or(State::Absent, |c| c.before.clone()),
                now: now.clone(),
            })
            .collect(),
        stat,
        changes,
        renames,
        exec: plan.exec.clone(),
    }
}

/// A change's document without its content (no diff, no line counts).
fn bare_doc(c: &Change, input: &Input) -> ChangeDoc {
    ChangeDoc {
        path: c.path.clone(),
        action: c.verb().to_string(),
        before: c.before.clone(),
        after: c.after.clone(),
        from: c.from.clone(),
        policy: input.policy_paths.contains(&c.path.as_str()),
        added_lines: 0,
        removed_lines: 0,
        summary: None,
        rename_from: None,
        renamed_to: None,
        similarity: None,
        renamed_before: None,
        diff: None,
        styled_diff: None,
    }
}

/// One change's document; `source` is the deleted side when `c` is the created side of a
/// rename (its diff is then against the source's old content).
fn change_doc(
    c: &Change,
    source: Option<(&crate::plan::renames::Rename, &Change)>,
    input: &Input,
) -> ChangeDoc {
    let mut doc = ChangeDoc {
        rename_from: source.map(|(r, _)| r.from.clone()),
        similarity: source.and_then(|(r, _)| r.similarity),
        renamed_before: source.map(|(_, s)| s.before.clone()),
        ..bare_doc(c, input)
    };
    let (old_path, old_state) = match source {
        Some((_, s)) => (s.path.as_str(), &s.before),
        None => (c.path.as_str(), &c.before),
    };
    let old_hash = old_state.file_hash();
    let new_hash = c.after.file_hash();
    if old_hash.is_none() && new_hash.is_none() || old_hash == new_hash {
        return doc;
    }
    let fetch = |h: Option<&str>, path: &str| -> Option<Fetched> {
        match h {
            None => Some(Fetched::Bytes(Vec::new())),
            Some(h) => (input.contents)(path, h),
        }
    };
    let mut old_unknown = false;
    let (old, new) = match (fetch(old_hash, old_path), fetch(new_hash, &c.path)) {
        // The old content is nowhere (a bundle from before bundles carried it, or a stale
        // plan): show the new content in full, and count no lines as changed.
        (None, Some(Fetched::Bytes(n))) if is_text(&n) => {
            old_unknown = true;
            doc.summary = Some(format!(
                "the old content (sha256 {}) is not available here; showing the new content in full",
                old_hash.map_or("-", |h| crate::model::id::short(h))
            ));
            (Some(Fetched::Bytes(Vec::new())), Some(Fetched::Bytes(n)))
        }
        other => other,
    };
    let (Some(old), Some(new)) = (old, new) else {
        doc.summary = Some(format!(
            "content not available here ({} -> {})",
            old_hash.map_or("none".into(), |h| format!(
                "sha256 {}",
                crate::model::id::short(h)
            )),
            new_hash.map_or("none".into(), |h| format!(
                "sha256 {}",
                crate::model::id::short(h)
            ))
        ));
        return doc;
    };
    let size = |f: &Fetched| match f {
        Fetched::Bytes(b) => b.len() as u64,
        Fetched::TooLarge(n) => *n,
    };
    let (old, new) = match (old, new) {
        (Fetched::Bytes(o), Fetched::Bytes(n)) if is_text(&o) && is_text(&n) => (o, n),
        (o, n) => {
            let large = matches!(o, Fetched::TooLarge(_)) || matches!(n, Fetched::TooLarge(_));
            let what = if large { "large file" } else { "binary file" };
            doc.summary = Some(format!(
                "{what}: {} -> {}",
                old_hash.map_or("absent".into(), |h| format!(
                    "{} (sha256 {})",
                    human_size(size(&o)),
                    crate::model::id::short(h)
                )),
                new_hash.map_or("absent".into(), |h| format!(
                    "{} (sha256 {})",
                    human_size(size(&n)),
                    crate::model::id::short(h)
                ))
            ));
            return doc;
        }
    };
    let old = String::from_utf8_lossy(&old);
    let new = String::from_utf8_lossy(&new);
    if !old_unknown {
        let (a, d) = diff::counts(&old, &new);
        doc.added_lines = a;
        doc.removed_lines = d;
    }
    doc.diff = Some(diff::hunks(&old, &new, &|_, s| s.to_string()));
    doc.styled_diff = Some(diff::hunks(&old, &new, input.styled));
    doc
}

/// How text is styled for the target stream (plain when colours are off).
type Styled<'a> = &'a dyn Fn(&Style, &str) -> String;

/// Render as text. `styled` applies a style if colours are enabled on the target stream.
pub fn render_text(
    doc: &PreviewDoc,
    stat_only: bool,
    styled: &dyn Fn(&Style, &str) -> String,
) -> String {
    let mut out = String::new();
    render_header(&mut out, &doc.plan, styled);
    render_approvals(&mut out, &doc.approvals);
    render_description(&mut out, &doc.plan);
    if !doc.stale.is_empty() {
        let _ = writeln!(out);
        let _ = write!(out, "{}", stale_banner(doc, styled));
    }
    if doc.policy_change {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{}",
            styled(
                &color::danger(),
                "POLICY CHANGE: this plan changes the rules or the allowed signers; it is judged by the rules in force before it"
            )
        );
    }
    let _ = writeln!(out);
    render_risk(&mut out, doc, styled);
    let _ = writeln!(out);
    if stat_only {
        render_stat(&mut out, doc, styled);
        return out;
    }
    for c in &doc.changes {
        // The deleted side of a rename is shown with its created side.
        if c.renamed_to.is_some() {
            continue;
        }
        render_change(&mut out, doc, c, styled);
    }
    render_exec(&mut out, doc, styled);
    let _ = writeln!(out, "{}", stat_line(&doc.stat));
    out
}

/// The plan's header lines: id, title, author, created, status, what it reverses.
fn render_header(out: &mut String, p: &PlanHeader, styled: Styled) {
    let _ = writeln!(
        out,
        "{} {}",
        styled(&color::header(), "plan"),
        styled(&color::id(), &p.id[..12.min(p.id.len())])
    );
    let _ = writeln!(
        out,
        "Title:     {}",
        styled(&color::header(), &crate::paths::printable(&p.title))
    );
    let _ = writeln!(out, "Author:    {}", crate::paths::printable(&p.author));
    let _ = writeln!(out, "Created:   {}", p.created);
    let _ = writeln!(out, "Status:    {}", p.status);
    if let Some(r) = &p.reverses {
        let _ = writeln!(out, "Reverses:  plan {}", &r[..12.min(r.len())]);
    }
}

/// The `Approvals:` line (each requirement, held of needed) and one line per approval held.
fn render_approvals(out: &mut String, a: &ApprovalsDoc) {
    let summary: Vec<String> = a.requirements.iter().map(requirement_summary).collect();
    if summary.is_empty() {
        let _ = writeln!(
            out,
            "Approvals: decided by the workspace's rules when the plan is applied"
        );
    } else {
        let _ = writeln!(out, "Approvals: {}", summary.join("; "));
    }
    for h in &a.held {
        let how = match &h.key {
            Some(k) => format!("signed, key {}", crate::paths::printable(k)),
            None => crate::paths::printable(&h.method).into_owned(),
        };
        let typed_by = match (&h.os_user, h.os_uid) {
            (Some(user), Some(uid)) => format!(
                ", typed by OS user {} (uid {uid})",
                crate::paths::printable(user)
            ),
            (None, Some(uid)) => format!(", typed by OS user uid {uid}"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "           approved by {} ({how}){typed_by}",
            crate::paths::printable(&h.principal)
        );
    }
}

/// One requirement as the `Approvals:` line lists it: `name: 1 of 2 approvals [missing]`.
fn requirement_summary(r: &RequirementDoc) -> String {
    let what = if r.signed {
        "signed approval"
    } else {
        "approval"
    };
    let scope = if r.paths.is_empty() {
        String::new()
    } else {
        format!(" for {}", short_list(&r.paths))
    };
    let mark = if r.held >= r.needed { "ok" } else { "missing" };
    format!(
        "{}: {} of {}{scope} [{mark}]",
        crate::paths::printable(&r.name),
        r.held,
        crate::util::text::count(r.needed, what)
    )
}

/// The plan's description, after a blank line.
fn render_description(out: &mut String, p: &PlanHeader) {
    if let Some(d) = &p.description {
        let _ = writeln!(out);
        // Indented, one escaped line at a time: no line of it can pass for a header line.
        for line in d.split('\n') {
            let _ = writeln!(out, "    {}", crate::paths::printable_block(line));
        }
    }
}

/// The risk level and score, then every signal that fired.
fn render_risk(out: &mut String, doc: &PreviewDoc, styled: Styled) {
    let level = format!(
        "Risk: {} (score {})",
        doc.risk_level.as_str(),
        doc.risk_score
    );
    let st = match doc.risk_level {
        Level::High => color::danger(),
        Level::Medium => color::warn(),
        Level::Low => Style::new(),
    };
    if doc.risk_reasons.is_empty() {
        let _ = writeln!(out, "{}, no risk signals", styled(&st, &level));
    } else {
        let _ = writeln!(out, "{}:", styled(&st, &level));
        for r in &doc.risk_reasons {
            let _ = writeln!(
                out,
                "  - {} [{} +{}]",
                crate::paths::printable(&r.reason),
                r.signal,
                r.weight
            );
        }
    }
}

/// The diffstat (`--stat`): one aligned line per path, then the summary line.
fn render_stat(out: &mut String, doc: &PreviewDoc, styled: Styled) {
    let shown: Vec<(&ChangeDoc, String)> = doc
        .changes
        .iter()
        .filter(|c| c.renamed_to.is_none())
        .map(|c| (c, stat_label(c)))
        .collect();
    let width = shown
        .iter()
        .map(|(_, l)| console::measure_text_width(l))
        .max()
        .unwrap_or(0);
    for (c, label) in &shown {
        let detail = match (&c.summary, c.added_lines + c.removed_lines) {
            (Some(_), _) if c.diff.is_some() => "new content only".to_string(),
            (Some(_), _) => "bin".to_string(),
            (None, 0) if c.rename_from.is_some() => "renamed".to_string(),
            (None, 0) => c.action.clone(),
            (None, _) => format!(
                "{} {}",
                styled(&color::added(), &format!("+{}", c.added_lines)),
                styled(&color::removed(), &format!("-{}", c.removed_lines))
            ),
        };
        let pad = width - console::measure_text_width(label);
        let _ = writeln!(out, " {label}{} | {}", " ".repeat(pad), detail);
    }
    let _ = writeln!(out, " {}", stat_line(&doc.stat));
}

/// One change in full: its head line, stale warnings, rename or move lines, link and mode
/// lines, why no diff is shown, and the diff; then a blank line.
fn render_change(out: &mut String, doc: &PreviewDoc, c: &ChangeDoc, styled: Styled) {
    let label = change_label(c);
    let head = match &c.rename_from {
        Some(from) => format!(
            "{label} {} -> {}",
            crate::paths::printable(from),
            crate::paths::printable(&c.path)
        ),
        None => format!("{} {}", label, crate::paths::printable(&c.path)),
    };
    let st = if c.policy {
        color::danger()
    } else {
        color::header()
    };
    let _ = writeln!(out, "{}", styled(&st, &head));
    render_change_stale(out, doc, c, styled);
    render_rename_or_move(out, c, styled);
    let before = c.renamed_before.as_ref().unwrap_or(&c.before);
    if let Some(line) = link_line(before, &c.after) {
        let _ = writeln!(out, "    {line}");
    }
    render_mode(out, before, &c.after, styled);
    if let Some(s) = &c.summary {
        let _ = writeln!(out, "    {s}");
    }
    if let Some(d) = c.styled_diff.as_ref().or(c.diff.as_ref()) {
        render_diff(out, c, before, d, styled);
    }
    let _ = writeln!(out);
}

/// A `STALE:` line under a change for each of its sides that drifted since planning.
fn render_change_stale(out: &mut String, doc: &PreviewDoc, c: &ChangeDoc, styled: Styled) {
    let sides = [Some(c.path.as_str()), c.rename_from.as_deref()];
    for d in doc
        .stale
        .iter()
        .filter(|d| sides.contains(&Some(d.path.as_str())))
    {
        let _ = writeln!(
            out,
            "{}",
            styled(
                &color::danger(),
                &format!(
                    "    STALE: {}changed since the plan was made (planned {}, now {}); the diff below is against the planned content",
                    if c.rename_from.is_some() {
                        format!("{} ", crate::paths::printable(&d.path))
                    } else {
                        String::new()
                    },
                    d.planned.describe(),
                    d.now.describe()
                )
            )
        );
    }
}

/// git's rename lines (similarity, from, to), or the `moved from` line of a move.
fn render_rename_or_move(out: &mut String, c: &ChangeDoc, styled: Styled) {
    if let Some(from) = &c.rename_from {
        if let Some(sim) = c.similarity {
            let _ = writeln!(out, "    similarity index {sim}%");
        }
        let _ = writeln!(out, "    rename from {}", crate::paths::printable(from));
        let _ = writeln!(out, "    rename to {}", crate::paths::printable(&c.path));
    } else if let Some(from) = &c.from {
        let _ = writeln!(
            out,
            "{}",
            styled(
                &color::dim(),
                &format!("    moved from {}", crate::paths::printable(from))
            )
        );
    }
}

/// The mode line: a changed mode, a new file's mode, or a new folder's non-default mode.
fn render_mode(out: &mut String, before: &State, after: &State, styled: Styled) {
    if let (Some(a), Some(b)) = (before.perm(), after.perm())
        && a != b
    {
        let _ = writeln!(out, "    mode {a:04o} -> {b:04o}");
    } else if let (None, Some(b)) = (before.mode(), after.mode()) {
        let _ = writeln!(
            out,
            "{}",
            styled(&color::dim(), &format!("    new file mode {b:04o}"))
        );
    } else if let (State::Absent, State::Dir { mode: Some(b) }) = (before, after)
        && *b != crate::model::plan::DEFAULT_DIR_MODE
    {
        let _ = writeln!(
            out,
            "{}",
            styled(&color::dim(), &format!("    new folder mode {b:04o}"))
        );
    }
}

/// The `---`/`+++` lines (`/dev/null` for an absent side) and the diff hunks `d`.
fn render_diff(out: &mut String, c: &ChangeDoc, before: &State, d: &str, styled: Styled) {
    let old = before
        .file_hash()
        .map(|_| {
            format!(
                "a/{}",
                crate::paths::printable(c.rename_from.as_deref().unwrap_or(&c.path))
            )
        })
        .unwrap_or_else(|| "/dev/null".into());
    let new = c
        .after
        .file_hash()
        .map(|_| format!("b/{}", crate::paths::printable(&c.path)))
        .unwrap_or_else(|| "/dev/null".into());
    let _ = writeln!(out, "{}", styled(&color::header(), &format!("--- {old}")));
    let _ = writeln!(out, "{}", styled(&color::header(), &format!("+++ {new}")));
    out.push_str(d);
}

/// The stale banner: which paths changed since planning, and what to do.
pub fn stale_banner(doc: &PreviewDoc, styled: &dyn Fn(&Style, &str) -> String) -> String {
    let mut out = String::new();
    let short = &doc.plan.id[..12.min(doc.plan.id.len())];
    let _ = writeln!(
        out,
        "{}",
        styled(
            &color::danger(),
            &format!(
                "STALE: {} changed since plan {short} was made; it can no longer be approved or applied:",
                crate::util::text::count(doc.stale.len() as u64, "path")
            )
        )
    );
    for d in doc.stale.iter().take(20) {
        let _ = writeln!(
            out,
            "  {}: planned {}, now {}",
            crate::paths::printable(&d.path),
            d.planned.describe(),
            d.now.describe()
        );
    }
    if doc.stale.len() > 20 {
        let _ = writeln!(out, "  … and {} more", doc.stale.len() - 20);
    }
    let _ = writeln!(
        out,
        "The diff shows the change against the files as they were when it was planned. Make a new plan against the current files (and `autonomy reject {short}` this one)."
    );
    out
}

/// The compact summary printed right above an approval prompt (after the pager closed):
/// what changes, the risk, and what this approval counts for and what stays missing.
pub fn prompt_summary(
    doc: &PreviewDoc,
    approver: &str,
    how: &str,
    outlook: Option<&crate::policy::approval::outlook::Outlook>,
    styled: &dyn Fn(&Style, &str) -> String,
) -> String {
    let mut out = String::new();
    let p = &doc.plan;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{} {} {:?} by {}",
        styled(&color::header(), "Plan"),
        styled(&color::id(), &p.id[..12.min(p.id.len())]),
        crate::paths::printable(&p.title).as_ref(),
        crate::paths::printable(&p.author)
    );
    let risk = format!(
        "risk {} (score {})",
        doc.risk_level.as_str(),
        doc.risk_score
    );
    let risk_style = match doc.risk_level {
        Level::High => color::danger(),
        Level::Medium => color::warn(),
        Level::Low => Style::new(),
    };
    let _ = writeln!(
        out,
        "  {} changed, {} {} lines; {}{}{}",
        crate::util::text::count(doc.stat.files as u64, "file"),
        styled(&color::added(), &format!("+{}", doc.stat.added_lines)),
        styled(&color::removed(), &format!("-{}", doc.stat.removed_lines)),
        styled(&risk_style, &risk),
        if doc.exec.is_empty() {
            String::new()
        } else {
            format!(
                "; runs {}",
                crate::util::text::count(doc.exec.len() as u64, "command")
            )
        },
        if doc.policy_change {
            "; POLICY CHANGE"
        } else {
            ""
        }
    );
    if let Some(o) = outlook {
        let counts: Vec<String> = o.counts_for.iter().map(|p| p.counted_sentence()).collect();
        let _ = writeln!(
            out,
            "  Your approval ({approver}, {how}) counts for: {}",
            if counts.is_empty() {
                "nothing the rules count".to_string()
            } else {
                counts.join(", ")
            }
        );
        if o.still_needed.is_empty() {
            let _ = writeln!(
                out,
                "  With it, every rule is met: the plan can be applied."
            );
        } else {
            let _ = writeln!(
                out,
                "  {}",
                styled(
                    &color::warn(),
                    "Still needed after it (the plan cannot be applied until then):"
                )
            );
            for m in &o.still_needed {
                let _ = writeln!(out, "    - {}", m.missing_sentence());
            }
        }
    }
    out
}

fn render_exec(out: &mut String, doc: &PreviewDoc, styled: &dyn Fn(&Style, &str) -> String) {
    if doc.exec.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        styled(&color::header(), "Commands, run after the file changes:")
    );
    for (i, e) in doc.exec.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}. exec {}",
            i + 1,
            styled(
                &color::warn(),
                &crate::paths::printable(&shell_words::join(&e.run))
            )
        );
        let _ = writeln!(out, "     argv:    {:?}", e.run);
        let _ = writeln!(
            out,
            "     program: {}",
            e.program
                .as_deref()
                .map(|p| crate::paths::escape(p).into_owned())
                .unwrap_or_else(|| {
                    "not resolved (planned by an older autonomy; plan it again to apply it)".into()
                })
        );
        let _ = writeln!(
            out,
            "     cwd:     {}",
            if e.cwd.is_empty() {
                ".".into()
            } else {
                crate::paths::printable(&e.cwd)
            }
        );
        let env: Vec<String> = e.env.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        let _ = writeln!(
            out,
            "     env:     PATH, HOME, LANG{}{}",
            if env.is_empty() { "" } else { ", " },
            env.join(", ")
        );
        let _ = writeln!(out, "     timeout: {}s", e.timeout_ms / 1000);
        let _ = writeln!(
            out,
            "     may change: {}",
            if e.touches.is_empty() {
                "nothing (read-only)".to_string()
            } else {
                crate::paths::printable(&e.touches.join(", ")).into_owned()
            }
        );
    }
    let _ = writeln!(
        out,
        "{}",
        styled(
            &color::warn(),
            "  Effects inside the declared paths are snapshotted and rolled back with the plan; effects outside them\n  and outside the file system (network, databases, other processes) cannot be rolled back."
        )
    );
    let _ = writeln!(out);
}

/// A link's side of a change, as `link -> target` (targets shown escaped, verbatim
/// otherwise: a link is never followed).
fn link_line(before: &State, after: &State) -> Option<String> {
    let shown = |t: &str| crate::paths::shown(t);
    match (before.link_target(), after.link_target()) {
        (None, Some(t)) => Some(format!("link -> {}", shown(t))),
        (Some(a), Some(b)) if a == b => Some(format!("link -> {}", shown(b))),
        (Some(a), Some(b)) => Some(format!("link -> {} (was -> {})", shown(b), shown(a))),
        (Some(a), None) => Some(format!("was link -> {}", shown(a))),
        (None, None) => None,
    }
}

/// A path as the diffstat lists it: a rename as git writes it (`src/{a => b}.rs`).
fn stat_label(c: &ChangeDoc) -> String {
    match &c.rename_from {
        Some(from) => {
            crate::paths::printable(&crate::plan::renames::label(from, &c.path)).into_owned()
        }
        None => crate::paths::printable(&c.path).into_owned(),
    }
}

fn change_label(c: &ChangeDoc) -> &'static str {
    if c.rename_from.is_some() {
        return "renamed";
    }
    match c.action.as_str() {
        "create" => "new file",
        "delete" => "deleted",
        "modify" => "modified",
        "chmod" => "mode changed",
        "move" => "moved",
        "mkdir" => "new folder",
        "rmdir" => "removed folder",
        "link" => "new link",
        "unlink" => "deleted link",
        "relink" => "link retargeted",
        "to-link" => "file to link",
        "to-file" => "link to file",
        _ => "changed",
    }
}

fn short_list(paths: &[String]) -> String {
    let shown = if paths.len() <= 3 {
        paths.join(", ")
    } else {
        format!("{}, … ({} paths)", paths[..3].join(", "), paths.len())
    };
    crate::paths::printable(&shown).into_owned()
}

/// git's diffstat summary: "1 file changed, 2 insertions(+), 1 deletion(-)".
fn stat_line(s: &StatDoc) -> String {
    use crate::util::text::count;
    format!(
        "{} changed, {}(+), {}(-)",
        count(s.files as u64, "file"),
        count(s.added_lines as u64, "insertion"),
        count(s.removed_lines as u64, "deletion")
    )
}
