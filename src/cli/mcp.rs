//! `autonomy mcp`: an MCP server on stdio (the `rmcp` crate) whose tools propose plans and
//! read them back. Each call opens the workspace afresh (as a CLI command does), goes
//! through one `ops` use case (`ops::mcp`, `ops::propose`, `ops::decision`) and is
//! journaled as `agent.call` with the client's name as actor. No tool approves, applies or
//! rolls back.

use super::Ctx;
use crate::error::{Error, Result};
use crate::model::PlanStatus;
use crate::ops::mcp::{self as tools, Client};
use crate::ops::propose::{Made, Proposed};
use crate::ops::session::{Default, Session};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt};
use serde_json::{Map, Value, json};
use std::path::PathBuf;

/// Serve MCP on stdio so agents propose plans as tools (never approve or apply)
///
/// An MCP server (JSON-RPC on stdin/stdout) for agents that call tools deliberately. Its
/// tools: `propose_plan` (exactly one of `toml`, a plan file's text; `diff`, a unified diff;
/// `actions`, a list of action tables as in a plan file; optional `title`) makes a pending
/// plan and returns its id, status and a summary; `preview_plan` returns the preview as
/// `autonomy preview` prints it; `plan_status` says what was decided; `list_plans` lists
/// the plans. No tool approves, applies or rolls back: a person does, with `autonomy
/// preview`, `approve` and `apply` (or `autonomy review`). Every tool call is journaled
/// with the client's name as actor (`mcp:claude-code`); plans carry it as author.
///
/// The agent starts this itself: `autonomy agent install claude` (or codex, gemini)
/// registers it in the agent's MCP configuration (.mcp.json, .codex/config.toml,
/// .gemini/settings.json). Logs go to stderr; stdout carries only the protocol.
///
/// Examples:
///   autonomy agent install claude     # registers `autonomy mcp` in .mcp.json
///   claude mcp add autonomy -- autonomy mcp
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct McpArgs {}

pub fn run(_args: McpArgs, ctx: &Ctx) -> Result<()> {
    let server = Server {
        dir: ctx.dir.clone(),
        session: crate::util::ids::random_hex(8),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the MCP server's runtime", e))?;
    let served = rt.block_on(async move {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Error::failed(format!("MCP: the client's initialize failed: {e}")))?;
        running
            .waiting()
            .await
            .map_err(|e| Error::failed(format!("MCP: the server stopped: {e}")))?;
        Ok::<(), Error>(())
    });
    // A read of stdin that never ends must not hold the exit.
    rt.shutdown_background();
    served
}

struct Server {
    dir: PathBuf,
    /// This server process's session id, in every `agent.call` it journals.
    session: String,
}

/// What the server says about itself in `initialize`.
const INSTRUCTIONS: &str = "autonomy makes changes to this workspace safe: propose a change \
with propose_plan (a plan file's TOML, a unified diff, or a list of actions); it becomes a \
pending plan that a person previews and approves outside this conversation, then applies. \
Nothing changes in the workspace until then, and no tool here can approve, apply or roll \
back. Use plan_status to see what was decided, preview_plan to see the exact diff, and \
list_plans to list plans.";

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("autonomy", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(tool_list()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tool_list().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        if !TOOLS.contains(&name.as_str()) {
            return Err(McpError::invalid_params(
                format!("unknown tool {name:?}; the tools are {}", TOOLS.join(", ")),
                None,
            ));
        }
        let client = Client::new(
            context
                .peer
                .peer_info()
                .map(|p| p.client_info.name.clone())
                .as_deref(),
            self.session.clone(),
        );
        let call_id = context.id.to_string();
        let args = request.arguments.unwrap_or_default();
        let dir = self.dir.clone();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            call(&dir, &client, &call_id, &name, &args)
        }));
        let result = match ran {
            Ok(r) => r,
            Err(_) => CallToolResult::error(vec![ContentBlock::text(
                "autonomy failed unexpectedly (a bug; please report it). Nothing was approved \
                 or applied; `autonomy status` shows any plan it made.",
            )]),
        };
        Ok(result.into())
    }
}

/// The tools, by name.
const TOOLS: [&str; 4] = ["propose_plan", "preview_plan", "plan_status", "list_plans"];

fn schema(v: Value) -> JsonObject {
    match v {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

fn plan_id_schema() -> Value {
    json!({"type": "string", "description": "The plan's id, or a unique prefix of it (4 to 64 hex digits; the 12-digit short id works)."})
}

fn tool_list() -> Vec<Tool> {
    let propose = Tool::new(
        "propose_plan",
        "Propose a change to the workspace as a plan. Give exactly one of `toml` (a plan \
         file's text: title, optional description, [[action]] tables), `diff` (a unified diff \
         as `git diff` writes it; context must match exactly) or `actions` (a list of action \
         tables as in a plan file, e.g. {\"kind\": \"write\", \"path\": \"VERSION\", \
         \"content\": \"1.2.0\\n\"}; kinds: write, edit (find/replace/count), delete, move \
         (from/to), mkdir, chmod (executable), symlink (target), exec). Paths are relative to \
         the workspace root. The plan is stored as pending: nothing in the workspace changes \
         until a person previews, approves and applies it, which no tool here can do. Returns \
         plan_id, status and a summary. Proposing the same plan again returns the pending one.",
        schema(json!({
            "type": "object",
            "properties": {
                "toml": {"type": "string", "description": "A plan file's text (TOML), as `autonomy help plan-file` describes it. `content_file` is not available: give `content` or `content_base64`."},
                "diff": {"type": "string", "description": "A unified diff (git diff --binary, diff -u)."},
                "actions": {"type": "array", "items": {"type": "object"}, "description": "Action tables as in a plan file's [[action]] list."},
                "title": {"type": "string", "description": "The plan's title (default: the diff's Subject, or a summary). A plan file's own title is kept."}
            },
            "additionalProperties": false
        })),
    )
    .with_title("Propose a plan")
    .with_annotations(
        ToolAnnotations::new()
            .read_only(false)
            .destructive(false)
            .idempotent(true)
            .open_world(false),
    );
    let read_only = || {
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false)
    };
    let preview = Tool::new(
        "preview_plan",
        "The preview of a plan as `autonomy preview` prints it (no colour): header, risk, \
         approvals held and needed, and every change as a unified diff.",
        schema(json!({
            "type": "object",
            "properties": {"plan_id": plan_id_schema()},
            "required": ["plan_id"],
            "additionalProperties": false
        })),
    )
    .with_title("Preview a plan")
    .with_annotations(read_only());
    let status = Tool::new(
        "plan_status",
        "What was decided about a plan: pending, approved (ready, or what is still needed), \
         declined (with the reason), rejected, applied or rolled back; and whether the files \
         it changes moved on since it was made (stale).",
        schema(json!({
            "type": "object",
            "properties": {"plan_id": plan_id_schema()},
            "required": ["plan_id"],
            "additionalProperties": false
        })),
    )
    .with_title("A plan's status")
    .with_annotations(read_only());
    let list = Tool::new(
        "list_plans",
        "The workspace's plans, newest first: id, status, title, author, created.",
        schema(json!({
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": PlanStatus::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(), "description": "Only plans with this status."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIST, "description": "At most this many (default 50)."}
            },
            "additionalProperties": false
        })),
    )
    .with_title("List plans")
    .with_annotations(read_only());
    vec![propose, preview, status, list]
}

/// The most plans `list_plans` returns.
const MAX_LIST: usize = 500;

/// Run one tool call: its result, or a tool error (isError) whose text says what to fix.
/// Every call that reaches the workspace is journaled (`agent.call`, the client as actor).
fn call(
    dir: &std::path::Path,
    client: &Client,
    call_id: &str,
    tool: &str,
    args: &Map<String, Value>,
) -> CallToolResult {
    let mut s = match Session::open(dir) {
        Ok(s) => s,
        Err(e) => return tool_error(&e),
    };
    let outcome = match tool {
        "propose_plan" => propose(&mut s, client, call_id, args),
        "preview_plan" => preview(&s, args).map(|(id, r)| (Some(id), Some("previewed"), r)),
        "plan_status" => status(&s, args).map(|(id, r)| (Some(id), Some("status"), r)),
        _ => list(&s, args).map(|r| (None, Some("listed"), r)),
    };
    match outcome {
        // Already journaled with the plan it stored.
        Ok((_, None, result)) => result,
        Ok((plan, Some(outcome), result)) => {
            match tools::journal(&mut s, client, call_id, tool, plan.as_deref(), outcome) {
                Ok(()) => result,
                Err(e) => tool_error(&e),
            }
        }
        Err(e) => {
            // The refusal is journaled too; should that fail, the refusal still stands.
            let _ = tools::journal(
                &mut s,
                client,
                call_id,
                tool,
                None,
                &format!("refused: {}", e.full_message()),
            );
            tool_error(&e)
        }
    }
}

/// A tool error: the message, its causes, and the hint, for the model to act on.
fn tool_error(e: &Error) -> CallToolResult {
    let mut text = format!("autonomy: {}", e.full_message());
    if let Some(h) = &e.hint {
        text.push_str(&format!("\nhint: {h}"));
    }
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// The plan a call concerns, what came of it for the journal (`None`: journaled already,
/// with the plan it stored), and the result.
type Outcome = (Option<String>, Option<&'static str>, CallToolResult);

fn propose(
    s: &mut Session,
    client: &Client,
    call_id: &str,
    args: &Map<String, Value>,
) -> Result<Outcome> {
    let args = tools::propose_args(args)?;
    let proposed = tools::propose(s, client, call_id, args)?;
    let doc = proposed_doc(&proposed);
    let id = proposed.id().map(str::to_string);
    let r = CallToolResult::structured(doc);
    match &proposed.made {
        // Stored with its `agent.call` in the same transaction (or, for the open plan
        // proposed again, right after): nothing more to journal.
        Made::New { .. } | Made::Same { .. } => Ok((id, None, r)),
        Made::Nothing { .. } => Ok((None, Some("nothing to plan"), r)),
    }
}

/// `propose_plan`'s result: plan_id, short, status, title, changes and a summary.
fn proposed_doc(p: &Proposed) -> Value {
    let notes: Vec<&str> = p.notes.iter().map(String::as_str).collect();
    match &p.made {
        Made::Nothing { why } => json!({
            "plan_id": null,
            "status": "nothing_to_plan",
            "summary": format!("Nothing to plan: {why}. No plan was made."),
            "notes": notes,
        }),
        Made::New { id, plan } | Made::Same { id, plan, .. } => {
            let status = match &p.made {
                Made::Same { status, .. } => *status,
                _ => PlanStatus::Pending,
            };
            let short = id.short();
            let head = match &p.made {
                Made::Same { .. } => format!(
                    "Same plan as the {status} plan {short}: it is already stored; nothing new was planned."
                ),
                _ => format!("Planned {short} {:?}: {}.", plan.title, counts(plan)),
            };
            json!({
                "plan_id": id.as_str(),
                "short": short,
                "status": status.as_str(),
                "title": plan.title,
                "author": plan.author,
                "changes": plan.changes.len(),
                "summary": format!(
                    "{head} Nothing in the workspace has changed: a person previews the plan \
                     (`autonomy preview {short}`), approves and applies it; no MCP tool can. \
                     Call plan_status with this plan_id to see what was decided."
                ),
                "notes": notes,
            })
        }
    }
}

/// "2 changes (1 new, 1 modified)", as `autonomy plan` says it.
fn counts(plan: &crate::model::Plan) -> String {
    let mut by = std::collections::BTreeMap::new();
    for c in &plan.changes {
        *by.entry(c.verb()).or_insert(0usize) += 1;
    }
    let parts = crate::render::change_counts(&by, plan.exec.len());
    format!(
        "{} ({})",
        crate::util::text::count(plan.changes.len() as u64, "change"),
        parts.join(", ")
    )
}

/// The plan a `plan_id` argument names (an id or unique prefix, as the CLI takes).
fn plan_arg(
    s: &Session,
    tool: &str,
    args: &Map<String, Value>,
) -> Result<crate::ops::session::PlanRow> {
    tools::check_keys(tool, args, &["plan_id"])?;
    let id = tools::string_arg(tool, args, "plan_id")?.ok_or_else(|| {
        Error::usage(format!(
            "{tool} needs `plan_id`: the id propose_plan returned (list_plans lists them)"
        ))
    })?;
    s.resolve(Some(&id), Default::Newest).map_err(|mut e| {
        e.hint = Some("list_plans lists the plans with their ids".into());
        e
    })
}

fn preview(s: &Session, args: &Map<String, Value>) -> Result<(String, CallToolResult)> {
    let row = plan_arg(s, "preview_plan", args)?;
    let plan = s.load_plan(&row.id)?;
    let plain = |_: &console::Style, t: &str| t.to_string();
    let doc = super::preview::build_doc(s, &row.id, &plan, row.status, &plain)?;
    let text = crate::render::preview::render_text(&doc, false, &plain);
    Ok((
        row.id.to_string(),
        CallToolResult::success(vec![ContentBlock::text(text)]),
    ))
}

fn status(s: &Session, args: &Map<String, Value>) -> Result<(String, CallToolResult)> {
    let row = plan_arg(s, "plan_status", args)?;
    let d = crate::ops::decision::decision(s, &row.id)?;
    let mut doc = serde_json::to_value(&d).unwrap_or(Value::Null);
    if let Some(o) = doc.as_object_mut() {
        o.insert("plan_id".into(), json!(row.id.as_str()));
        o.insert("short".into(), json!(row.id.short()));
        o.insert("title".into(), json!(row.title));
        o.insert("author".into(), json!(row.author));
        o.insert("created".into(), json!(row.created));
    }
    Ok((row.id.to_string(), CallToolResult::structured(doc)))
}

fn list(s: &Session, args: &Map<String, Value>) -> Result<CallToolResult> {
    const TOOL: &str = "list_plans";
    tools::check_keys(TOOL, args, &["status", "limit"])?;
    let statuses: Vec<PlanStatus> = match tools::string_arg(TOOL, args, "status")? {
        None => PlanStatus::ALL.to_vec(),
        Some(t) => vec![PlanStatus::parse(&t).ok_or_else(|| {
            Error::usage(format!(
                "{TOOL}: `status` {t:?} is not a status; use one of {}",
                PlanStatus::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?],
    };
    let limit = match args.get("limit") {
        None | Some(Value::Null) => 50,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_LIST as u64).contains(&n) => n as usize,
            _ => {
                return Err(Error::usage(format!(
                    "{TOOL}: `limit` must be a whole number from 1 to {MAX_LIST}, not {v}"
                )));
            }
        },
    };
    let rows = s.plans_with_status(&statuses, limit + 1)?;
    let more = rows.len() > limit;
    let plans: Vec<Value> = rows
        .iter()
        .take(limit)
        .map(|r| {
            json!({"plan_id": r.id.as_str(), "short": r.id.short(), "status": r.status.as_str(),
                   "title": r.title, "author": r.author, "created": r.created,
                   "reverses": r.reverses.as_ref().map(|p| p.as_str())})
        })
        .collect();
    Ok(CallToolResult::structured(
        json!({"plans": plans, "more": more}),
    ))
}
