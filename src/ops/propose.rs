//! Making a plan, whatever the front door: a plan file, a patch, a captured command, a
//! file an agent left in a sandbox spool, or operations an agent's tool call names. Every
//! source goes through the same steps, in this order, so a check written here holds for
//! every door:
//!
//! 1. read the source with the one bounded, no-follow reader (`plan::read`);
//! 2. turn it into ordered operations (`plan::file` + `compile::ops_from_file`,
//!    `plan::from_patch`, `plan::capture`, or given);
//! 3. check the header (title, author, description: `plan::file::check_meta`), then fold
//!    the operations into changes with the rules' limits and the path checks
//!    (`compile`);
//! 4. a plan that changes nothing is no plan ([`Made::Nothing`]);
//! 5. an identical plan already pending (see [`same_as_open`]) is returned instead of a
//!    second copy ([`Made::Same`]);
//! 6. otherwise the plan is stored and `plan.created` journaled with the session's actor
//!    and how it came ([`Made::New`]).

use crate::error::{Error, Result};
use crate::model::{Plan, PlanId, PlanStatus};
use crate::ops::session::Session;
use crate::paths::RelPath;
use crate::plan::compile::{self, Meta, Op};
use crate::plan::read::{self, MAX_PROPOSAL_BYTES, What};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a plan file's or patch's bytes come from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file on disk; `shown` is how the user named it (for messages).
    File { path: PathBuf, shown: String },
    /// Standard input (`-`).
    Stdin,
    /// Bytes already read (with `plan::read`, as the sandbox reads its spool) or handed
    /// over whole (an MCP `toml` or `diff` argument). `folder` is what a plan file's
    /// `content_file`s are relative to; without one it cannot name any.
    Bytes {
        name: String,
        bytes: Vec<u8>,
        folder: Option<PathBuf>,
    },
}

impl Input {
    /// A path as given on a command line (`-` is stdin), relative to `base`.
    pub fn from_arg(arg: &Path, base: &Path) -> Input {
        if arg.as_os_str() == "-" {
            Input::Stdin
        } else {
            Input::File {
                path: base.join(arg),
                shown: arg.display().to_string(),
            }
        }
    }

    fn name(&self) -> String {
        match self {
            Input::File { shown, .. } => shown.clone(),
            Input::Stdin => "<stdin>".to_string(),
            Input::Bytes { name, .. } => name.clone(),
        }
    }

    /// The folder a plan file's `content_file`s are relative to.
    fn folder(&self) -> Option<PathBuf> {
        match self {
            Input::File { path, .. } => Some(match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            }),
            Input::Bytes { folder, .. } => folder.clone(),
            Input::Stdin => None,
        }
    }

    fn read(self, what: What) -> Result<Vec<u8>> {
        match self {
            Input::File { path, shown } => read::read_path(what, &path, &shown, MAX_PROPOSAL_BYTES),
            Input::Stdin => read::read_stdin(what, MAX_PROPOSAL_BYTES),
            Input::Bytes { name, bytes, .. } => {
                if bytes.len() as u64 > MAX_PROPOSAL_BYTES {
                    return Err(read::refusal(
                        what,
                        &name,
                        crate::util::inode::too_large_io(bytes.len() as u64, MAX_PROPOSAL_BYTES),
                    ));
                }
                Ok(bytes)
            }
        }
    }
}

/// A command to run in an isolated view of the workspace; what it changes is the plan.
pub struct Capture<'a> {
    pub argv: Vec<String>,
    /// Workspace paths to look at (all of it when empty).
    pub scopes: Vec<String>,
    /// Where the command's output goes (the front door makes it safe for its terminal).
    pub output: &'a mut dyn Write,
    /// Plan the changes even when the command exits non-zero (`--allow-failure`).
    pub allow_failure: bool,
}

/// What a plan is made from.
pub enum Source<'a> {
    /// A plan file (TOML).
    PlanFile(Input),
    /// A unified diff (`git diff --binary`, `diff -u`, `git format-patch`).
    Patch(Input),
    /// A file an agent left in a sandbox spool: `*.toml` is a plan file, anything else a
    /// patch (by the input's name). Read as untrusted input, as every source is.
    Spool(Input),
    /// A command whose changes (in an isolated view) become the plan.
    Capture(Capture<'a>),
    /// Operations given directly: an agent's file tool call (write these exact bytes to
    /// this path, replace this text), in order.
    Ops(Vec<Op>),
}

impl Source<'_> {
    /// How the plan came, as journaled in `plan.created` (`source`).
    fn via(&self) -> &'static str {
        match self {
            Source::PlanFile(_) => "file",
            Source::Patch(_) => "patch",
            Source::Spool(_) => "sandbox",
            Source::Capture(_) => "capture",
            Source::Ops(_) => "ops",
        }
    }
}

/// A request to make a plan: the source and what the front door adds.
pub struct Proposal<'a> {
    pub source: Source<'a>,
    /// The title, replacing the one the source suggests (a patch's Subject, the captured
    /// command); required for [`Source::Ops`]. A plan file's own title is never replaced.
    pub title: Option<String>,
    pub description: Option<String>,
    /// How the plan came, journaled in `plan.created` as `source` (default: from the
    /// source: file, patch, sandbox, capture, ops; an agent front door says `agent`).
    pub via: Option<String>,
    /// More fields for `plan.created` (an agent's session and tool-call ids).
    pub record: serde_json::Map<String, serde_json::Value>,
    /// The contents the operations were computed from (path, sha256 of the bytes read):
    /// an agent's edit is applied to the text it was read as, so the plan's `before` of
    /// each such path must be exactly that, else the proposal is stale (exit 4).
    pub based_on: Vec<(RelPath, String)>,
    /// The coding agent's tool call this plan answers: journaled as `agent.call` with the
    /// plan's id, in the same transaction as `plan.created` (right after it when the plan
    /// is already open); nothing is journaled when the call changes nothing.
    pub call: Option<crate::model::event::AgentCall>,
}

impl<'a> Proposal<'a> {
    pub fn new(source: Source<'a>) -> Self {
        Proposal {
            source,
            title: None,
            description: None,
            via: None,
            record: serde_json::Map::new(),
            based_on: Vec::new(),
            call: None,
        }
    }
    pub fn title(mut self, title: Option<String>) -> Self {
        self.title = title;
        self
    }
}

/// What `propose` made.
#[derive(Debug)]
pub enum Made {
    /// A new pending plan.
    New { id: PlanId, plan: Plan },
    /// The same plan is already stored and open (pending or approved): its id and status;
    /// nothing new was stored or journaled.
    Same {
        id: PlanId,
        plan: Plan,
        status: PlanStatus,
    },
    /// The source changes nothing: no plan was made. `why` names the source.
    Nothing { why: String },
}

/// The result of [`propose`]: what was made, and notes for the person (things the source
/// held that the plan leaves out).
#[derive(Debug)]
pub struct Proposed {
    pub made: Made,
    pub notes: Vec<String>,
}

impl Proposed {
    /// The plan's id, new or existing (`None` when nothing was planned).
    pub fn id(&self) -> Option<&str> {
        match &self.made {
            Made::New { id, .. } | Made::Same { id, .. } => Some(id),
            Made::Nothing { .. } => None,
        }
    }
    pub fn plan(&self) -> Option<&Plan> {
        match &self.made {
            Made::New { plan, .. } | Made::Same { plan, .. } => Some(plan),
            Made::Nothing { .. } => None,
        }
    }
}

/// Make a plan from `p` in `s` (the acting identity is `s.actor`): see the module doc.
pub fn propose(s: &mut Session, mut p: Proposal) -> Result<Proposed> {
    s.refuse_if_interrupted()?;
    let via = p.via.clone().unwrap_or_else(|| p.source.via().to_string());
    let record = p.record.clone();
    let based_on = std::mem::take(&mut p.based_on);
    let call = p.call.take();
    let mut notes = Vec::new();
    let mut plan = match compile_proposal(s, p, &mut notes)? {
        Compiled::Plan(plan) => plan,
        Compiled::Nothing(why) => {
            return Ok(Proposed {
                made: Made::Nothing { why },
                notes,
            });
        }
    };
    check_based_on(&plan, &based_on)?;
    if let Some((id, status)) = same_as_open(s, &plan)? {
        let plan = s.load_plan(&id)?;
        note_call(s, call.as_ref(), &id)?;
        return Ok(Proposed {
            made: Made::Same { id, plan, status },
            notes,
        });
    }
    restamp_if_taken(s, &mut plan)?;
    match s.insert_plan_noting(&plan, &via, record, None, call.as_ref()) {
        Ok(id) => Ok(Proposed {
            made: Made::New { id, plan },
            notes,
        }),
        // Another process stored the same plan since the look above (two identical
        // proposals at once): that one is the pending plan.
        Err(e) => match same_as_open(s, &plan)? {
            Some((id, status)) => {
                note_call(s, call.as_ref(), &id)?;
                Ok(Proposed {
                    made: Made::Same {
                        plan: s.load_plan(&id)?,
                        id,
                        status,
                    },
                    notes,
                })
            }
            None => Err(e),
        },
    }
}

/// The plan's `before` of each path an agent's edit was computed from must be the content
/// it was computed from: otherwise the file changed in between, and the plan would
/// overwrite that change.
fn check_based_on(plan: &Plan, based_on: &[(RelPath, String)]) -> Result<()> {
    for (path, hash) in based_on {
        if let Some(c) = plan.changes.iter().find(|c| c.path == path.as_str())
            && c.before.file_hash() != Some(hash.as_str())
        {
            return Err(
                Error::stale(format!("{path} changed while the plan was being made"))
                    .hint("read the file again and retry"),
            );
        }
    }
    Ok(())
}

/// Journal the tool call a plan that was already open answers (`agent.call`).
fn note_call(
    s: &mut Session,
    call: Option<&crate::model::event::AgentCall>,
    id: &PlanId,
) -> Result<()> {
    let Some(call) = call else {
        return Ok(());
    };
    let mut call = call.clone();
    call.plan = Some(id.to_string());
    s.event(
        crate::model::EventKind::AgentCall,
        Some(id),
        crate::model::event::encode(&call),
    )
}

enum Compiled {
    Plan(Plan),
    Nothing(String),
}

/// Steps 1 to 4: read, parse, check and fold the source; nothing is stored but blobs.
fn compile_proposal(s: &Session, p: Proposal, notes: &mut Vec<String>) -> Result<Compiled> {
    let rules = s.rules()?;
    let workspace = s.workspace_id()?;
    let meta = |title: String, author: Option<String>, description: Option<String>| Meta {
        workspace: workspace.clone(),
        title,
        author: author.unwrap_or_else(|| s.actor.clone()),
        description,
    };
    // The source's own words for a plan that changes nothing.
    let (result, nothing) = match p.source {
        Source::PlanFile(input) => {
            let label = format!("plan file {}", input.name());
            let result = plan_file(s, input, What::PlanFile, &meta);
            let nothing =
                format!("{label} changes nothing: every action leaves the workspace as it is");
            (result, nothing)
        }
        Source::Spool(input) => spool(s, input, &meta),
        Source::Patch(input) => {
            let name = input.name();
            let default = format!("Apply patch {name}");
            let m =
                |t: String, a: Option<String>, _: Option<String>| meta(t, a, p.description.clone());
            let result = patch(s, input, What::Patch, p.title.clone(), default, &m);
            let nothing =
                format!("patch {name} changes nothing: the workspace already holds its result");
            (result, nothing)
        }
        Source::Capture(c) => captured(s, c, p.title, p.description, notes, &meta)?,
        Source::Ops(ops) => {
            let title = p
                .title
                .clone()
                .ok_or_else(|| Error::usage("a proposal of operations needs a title"))?;
            let ops = ops
                .into_iter()
                .enumerate()
                .map(|(i, op)| (op_label(i, &op), op))
                .collect();
            let result = compile::compile_ops(
                &s.ws,
                ops,
                meta(title, None, p.description.clone()),
                rules,
                &s.blobs,
            );
            let nothing = "the proposal changes nothing: the workspace already holds its result";
            (result, nothing.to_string())
        }
    };
    match result {
        Ok(plan) => Ok(Compiled::Plan(plan)),
        Err(e) if e.message == compile::CHANGES_NOTHING => Ok(Compiled::Nothing(nothing)),
        Err(e) => Err(e),
    }
}

type MetaFn<'m> = dyn Fn(String, Option<String>, Option<String>) -> Meta + 'm;

/// A spool file: a plan file when named `*.toml`, else a patch; the words for a no-op.
fn spool(s: &Session, input: Input, meta: &MetaFn) -> (Result<Plan>, String) {
    let name = PathBuf::from(input.name());
    let file_name = name
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.extension().is_some_and(|e| e == "toml") {
        let result = plan_file(s, input, What::SpoolFile, meta);
        let nothing = format!(
            "spool file {file_name} changes nothing: every action leaves the workspace as it is"
        );
        (result, nothing)
    } else {
        let default = format!("Apply patch {file_name}");
        let result = patch(s, input, What::SpoolFile, None, default, meta);
        let nothing = format!(
            "spool file {file_name} changes nothing: the workspace already holds its result"
        );
        (result, nothing)
    }
}

/// A capture: the header checked before the command runs (a bad title costs no run),
/// then what it changed folded; the words for a no-op.
fn captured(
    s: &Session,
    c: Capture,
    title: Option<String>,
    description: Option<String>,
    notes: &mut Vec<String>,
    meta: &MetaFn,
) -> Result<(Result<Plan>, String)> {
    let shown = shell_words::join(&c.argv);
    // A title is one line: a multi-line script shows escaped.
    let title = title.unwrap_or_else(|| format!("Captured: {}", crate::paths::printable(&shown)));
    let given = description.clone();
    let description = description
        .unwrap_or_else(|| format!("Changes made by `{shown}` in a view of the workspace."));
    let mut meta = meta(title, None, Some(description));
    check_header(&meta)?;
    let result = capture(s, c, notes).and_then(|ran| match ran {
        (_, None) => Err(Error::failed(compile::CHANGES_NOTHING)),
        (status, Some(ops)) => {
            if given.is_none() && status != crate::exec::ExitKind::Exited(0) {
                meta.description = Some(format!(
                    "Changes made by `{shown}` in a view of the workspace; it ended with {} \
                     (planned with --allow-failure).",
                    crate::exec::describe(status)
                ));
            }
            compile::compile_ops(&s.ws, ops, meta, s.rules()?, &s.blobs)
        }
    });
    Ok((
        result,
        format!("`{shown}` changed nothing that can be planned"),
    ))
}

/// A plan file (or a spool `*.toml`): read, parsed (sizes bounded while parsing), title
/// checked, compiled with its `content_file`s relative to its folder.
fn plan_file(s: &Session, input: Input, what: What, meta: &MetaFn) -> Result<Plan> {
    let name = input.name();
    let folder = input.folder();
    let bytes = input.read(what)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::failed(format!(
            "{} {name} is not valid UTF-8 (byte {})",
            if what == What::SpoolFile {
                "spool file"
            } else {
                "plan file"
            },
            e.utf8_error().valid_up_to()
        ))
        .hint("use `content_base64` or `content_file` for binary content")
    })?;
    let pf = crate::plan::file::parse(&text, &name)?;
    drop(text);
    let meta = meta(pf.title.clone(), pf.author.clone(), pf.description.clone());
    let compiled = (|| {
        // The header first: a bad title is refused before any content file is read.
        check_header(&meta)?;
        compile::compile(&s.ws, &pf, folder.as_deref(), meta, s.rules()?, &s.blobs)
    })();
    // Parse errors name the file already; what comes after is labelled with it (a spool
    // file's refusal is labelled by the sandbox).
    compiled.map_err(|e| {
        if what == What::PlanFile && e.message != compile::CHANGES_NOTHING {
            e.about(format_args!("plan file {name}"))
        } else {
            e
        }
    })
}

/// A patch (or a spool patch): read, applied in memory to the workspace's files.
fn patch(
    s: &Session,
    input: Input,
    what: What,
    title: Option<String>,
    default_title: String,
    meta: &MetaFn,
) -> Result<Plan> {
    let name = input.name();
    let bytes = input.read(what)?;
    let ops = crate::plan::from_patch::ops(&s.ws, &bytes, &name)?;
    let title = title
        .or_else(|| crate::plan::from_patch::suggested_title(&bytes))
        .unwrap_or(default_title);
    drop(bytes);
    let meta = meta(title, None, None);
    check_header(&meta)?;
    compile::compile_ops(&s.ws, ops, meta, s.rules()?, &s.blobs)
}

/// The header bounds (title, author, description), the same for every source.
fn check_header(meta: &Meta) -> Result<()> {
    crate::plan::file::check_meta(&meta.title, &meta.author, meta.description.as_deref())
}

/// Operations read back from a capture, each with its path.
type CapturedOps = Vec<(String, Op)>;

/// Run a capture: how the command ended, and its operations (`None` when it changed
/// nothing that can be planned). What it changed and the plan leaves out is a note.
fn capture(
    s: &Session,
    c: Capture,
    notes: &mut Vec<String>,
) -> Result<(crate::exec::ExitKind, Option<CapturedOps>)> {
    if c.argv.is_empty() {
        return Err(Error::usage(
            "--capture needs a command after `--`, e.g. autonomy plan --capture -- cargo fmt",
        ));
    }
    let scopes = c
        .scopes
        .iter()
        .map(|p| RelPath::parse(p))
        .collect::<Result<Vec<_>>>()?;
    let timeout = match &s.rules()?.exec.timeout {
        Some(t) => crate::policy::rules::parse_duration(t)?,
        None => std::time::Duration::from_secs(600),
    };
    let on_failure = if c.allow_failure {
        crate::plan::capture::OnFailure::Plan
    } else {
        crate::plan::capture::OnFailure::Refuse
    };
    let captured =
        crate::plan::capture::capture(&s.ws.root, &c.argv, &scopes, timeout, on_failure, c.output)?;
    capture_notes(&shell_words::join(&c.argv), &captured, notes);
    let status = captured.outcome.status;
    Ok((status, (!captured.ops.is_empty()).then_some(captured.ops)))
}

/// What a capture leaves out, never silently: the copy it fell back to, a failure planned
/// anyway, changes outside `--scope`, and changes a plan cannot hold yet.
fn capture_notes(shown: &str, captured: &crate::plan::capture::Captured, notes: &mut Vec<String>) {
    const SHOWN: usize = 20;
    if let Some(why) = &captured.fallback {
        notes.push(format!(
            "the kernel cannot mount a copy-on-write view here ({why}); the command ran in a \
             scratch copy of the workspace instead, which costs a copy of the whole tree"
        ));
    }
    let status = captured.outcome.status;
    if status != crate::exec::ExitKind::Exited(0) {
        notes.push(format!(
            "`{shown}` ended with {}; its changes are planned anyway (--allow-failure)",
            crate::exec::describe(status)
        ));
    }
    let list = |head: String, lines: Vec<String>| {
        let mut text = head;
        for l in lines.iter().take(SHOWN) {
            text.push_str(&format!("\n  {l}"));
        }
        if lines.len() > SHOWN {
            text.push_str(&format!("\n  ... and {} more", lines.len() - SHOWN));
        }
        text
    };
    let out = &captured.outside_scope;
    if !out.is_empty() {
        notes.push(list(
            format!(
                "`{shown}` also changed {} outside --scope; not planned:",
                crate::util::text::count(out.len() as u64, "path")
            ),
            out.clone(),
        ));
    }
    let un = &captured.unplannable;
    if !un.is_empty() {
        notes.push(list(
            format!(
                "`{shown}` made {} that cannot be planned; not planned:",
                crate::util::text::count(un.len() as u64, "change")
            ),
            un.iter().map(|(p, why)| format!("{p}: {why}")).collect(),
        ));
    }
}

/// "action 1 (write src/a.rs)": the label an operation's errors carry.
fn op_label(i: usize, op: &Op) -> String {
    let (verb, path) = match op {
        Op::Write { path, .. } | Op::WriteStaged { path, .. } => ("write", path.to_string()),
        Op::Edit { path, .. } => ("edit", path.to_string()),
        Op::Delete { path } => ("delete", path.to_string()),
        Op::Move { from, .. } => ("move", from.to_string()),
        Op::Mkdir { path } => ("mkdir", path.to_string()),
        Op::Chmod { path, .. } => ("chmod", path.to_string()),
        Op::Symlink { path, .. } => ("symlink", path.to_string()),
        Op::Exec(step) => ("exec", step.run.first().cloned().unwrap_or_default()),
    };
    format!("action {} ({verb} {})", i + 1, crate::paths::shown(&path))
}

/// An open plan identical to `plan`: the same workspace, title, author, description,
/// changes (every `before` and `after`) and exec steps (everything in its canonical form
/// but the creation time), proposed by the same actor, and still pending or approved.
/// Returns its id and status. Plans that were applied, rejected or rolled back are never
/// reused: proposing the same change again after them is a new plan.
pub fn same_as_open(s: &Session, plan: &Plan) -> Result<Option<(PlanId, PlanStatus)>> {
    let key = |p: &Plan| {
        let mut p = p.clone();
        p.created = String::new();
        p.canonical()
    };
    let wanted = key(plan);
    for (row, actor) in s.open_plans_like(&plan.title, &plan.author)? {
        if actor != s.actor || row.reverses.is_some() {
            continue;
        }
        let stored = s.load_plan(&row.id)?;
        if key(&stored) == wanted {
            return Ok(Some((row.id, row.status)));
        }
    }
    Ok(None)
}

/// A plan's id includes its creation time (whole seconds): the same plan made again within
/// the second after an identical one was applied, rejected or rolled back (or proposed by
/// another actor) would get that plan's id. Its creation time moves to the next second
/// whose id is free instead, so it is a plan of its own (no waiting; the clock may be
/// pinned in tests).
fn restamp_if_taken(s: &Session, plan: &mut Plan) -> Result<()> {
    for _ in 0..60 {
        let id = plan.id();
        if s.resolve(Some(&id), crate::ops::session::Default::Newest)
            .is_err()
        {
            return Ok(());
        }
        let Ok(t) = chrono::DateTime::parse_from_rfc3339(&plan.created) else {
            return Ok(());
        };
        plan.created = crate::util::ids::format_time(
            t.with_timezone(&chrono::Utc) + chrono::Duration::seconds(1),
        );
    }
    // Sixty plans with these bytes in a row: the store refuses the next by name.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Change, State};

    fn plan_with(path: &str, before: State) -> Plan {
        Plan {
            format: "1".into(),
            workspace: "w".into(),
            created: "2026-01-01T00:00:00Z".into(),
            title: "t".into(),
            author: "agent:claude".into(),
            description: None,
            reverses: None,
            changes: vec![Change {
                path: path.into(),
                before,
                after: State::Absent,
                from: None,
            }],
            exec: Vec::new(),
        }
    }

    /// An agent's edit computed from one content does not plan over another (exit 4).
    #[test]
    fn a_before_other_than_the_text_read_is_stale() {
        let read = "ab".repeat(32);
        let file = |h: &str| State::File {
            sha256: h.to_string(),
            mode: 0o644,
        };
        let based_on = vec![(RelPath::parse("a.txt").unwrap(), read.clone())];
        assert!(check_based_on(&plan_with("a.txt", file(&read)), &based_on).is_ok());
        assert!(check_based_on(&plan_with("b.txt", State::Absent), &based_on).is_ok());
        let e = check_based_on(&plan_with("a.txt", file(&"cd".repeat(32))), &based_on).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Stale);
        assert!(e.message.contains("a.txt changed"), "{}", e.message);
        let e = check_based_on(&plan_with("a.txt", State::Absent), &based_on).unwrap_err();
        assert_eq!(e.kind, crate::error::Kind::Stale);
    }
}
