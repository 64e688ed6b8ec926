//! The use cases behind `autonomy mcp`'s tools, apart from the protocol (the CLI's
//! `mcp.rs` speaks MCP through `rmcp` and renders): who the client is, what a
//! `propose_plan` call's arguments mean, and the `agent.call` event each tool call leaves.
//!
//! Every plan an MCP client proposes is made by [`crate::ops::propose`] like any other:
//! a `toml` argument is a plan file's text (`Source::PlanFile` from bytes, with no folder
//! so no `content_file` can reach the disk), a `diff` a patch (`Source::Patch`), and
//! `actions` the action tables of a plan file, written out as one and read back through
//! the same parser (unknown keys and every check as for a file). The client's arguments
//! are untrusted input: the same path checks, size caps and rules as every front door.
//! Nothing here approves, applies or rolls back.

use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::model::event::AgentCall;
use crate::ops::propose::{self, Input, Proposal, Proposed, Source};
use crate::ops::session::Session;
use serde_json::{Map, Value};

/// How long a client's name may be in its actor (`mcp:NAME`).
pub const MAX_CLIENT_NAME: usize = 64;

/// The MCP client a server talks to, as named in its `initialize` (`clientInfo.name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The name, sanitized: lowercase ASCII letters, digits, `.`, `_` and `-`.
    pub name: String,
    /// This server process's session with it (random), grouping its calls in the journal.
    pub session: String,
}

impl Client {
    /// The client named `raw` (as it said in `initialize`; `None` when it said nothing).
    pub fn new(raw: Option<&str>, session: String) -> Client {
        Client {
            name: sanitize(raw.unwrap_or("")),
            session,
        }
    }

    /// The identity its plans and events carry: `mcp:NAME`.
    pub fn actor(&self) -> String {
        format!("mcp:{}", self.name)
    }
}

/// A client's name as an actor may carry it: letters lowercased, runs of anything but
/// ASCII letters, digits, `.`, `_` and `-` as one `-`, at most [`MAX_CLIENT_NAME`] bytes;
/// `unknown` when nothing is left. (`Claude Code` -> `claude-code`.)
pub fn sanitize(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= MAX_CLIENT_NAME {
            break;
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "unknown".into()
    } else {
        out.to_string()
    }
}

/// What a `propose_plan` call asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Form {
    /// A plan file's text.
    Toml(String),
    /// A unified diff.
    Diff(String),
    /// Action tables as in a plan file.
    Actions(Vec<Value>),
}

/// The arguments of `propose_plan`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposeArgs {
    pub form: Form,
    pub title: Option<String>,
}

/// The arguments of a tool call: an object whose keys are all in `known`.
pub fn check_keys(tool: &str, args: &Map<String, Value>, known: &[&str]) -> Result<()> {
    let unknown: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "{tool}: unknown argument{} {}; it takes {}",
        if unknown.len() == 1 { "" } else { "s" },
        unknown
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", "),
        known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// A string argument (absent or null: `None`).
pub fn string_arg(tool: &str, args: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::usage(format!(
            "{tool}: `{key}` must be a string, not {}",
            json_type(other)
        ))),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Read `propose_plan`'s arguments: exactly one of `toml`, `diff`, `actions`, and an
/// optional `title`.
pub fn propose_args(args: &Map<String, Value>) -> Result<ProposeArgs> {
    const TOOL: &str = "propose_plan";
    check_keys(TOOL, args, &["toml", "diff", "actions", "title"])?;
    let given: Vec<&str> = ["toml", "diff", "actions"]
        .into_iter()
        .filter(|k| args.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    if given.len() != 1 {
        return Err(Error::usage(format!(
            "propose_plan takes exactly one of `toml` (a plan file's text), `diff` (a unified \
             diff) or `actions` (a list of action tables as in a plan file); {}",
            if given.is_empty() {
                "none was given".to_string()
            } else {
                format!("got {}", given.join(" and "))
            }
        )));
    }
    let title = string_arg(TOOL, args, "title")?;
    let form = match given[0] {
        "toml" => Form::Toml(string_arg(TOOL, args, "toml")?.unwrap_or_default()),
        "diff" => Form::Diff(string_arg(TOOL, args, "diff")?.unwrap_or_default()),
        _ => match &args["actions"] {
            Value::Array(list) if !list.is_empty() => Form::Actions(list.clone()),
            Value::Array(_) => {
                return Err(Error::usage(
                    "propose_plan: `actions` is empty; give at least one action table",
                ));
            }
            other => {
                return Err(Error::usage(format!(
                    "propose_plan: `actions` must be a list of action tables, not {}",
                    json_type(other)
                )));
            }
        },
    };
    Ok(ProposeArgs { form, title })
}

/// The plan file text that `actions` (and `title`) stand for: the same keys, read back by
/// the plan file parser. A default title names the client.
pub fn actions_toml(actions: &[Value], title: Option<&str>, client: &Client) -> Result<String> {
    let mut list = Vec::with_capacity(actions.len());
    for (i, a) in actions.iter().enumerate() {
        let n = i + 1;
        if !a.is_object() {
            return Err(Error::usage(format!(
                "propose_plan: action {n} must be a table (a JSON object with `kind` and its \
                 keys, as in a plan file), not {}",
                json_type(a)
            )));
        }
        let t = toml::Value::try_from(a).map_err(|e| {
            Error::usage(format!(
                "propose_plan: action {n} cannot be a plan file action ({e}); leave out keys \
                 whose value is null"
            ))
        })?;
        list.push(t);
    }
    let title = match title {
        Some(t) => t.to_string(),
        None => format!(
            "{} proposed by {}",
            crate::util::text::count(actions.len() as u64, "action"),
            client.actor()
        ),
    };
    let mut doc = toml::Table::new();
    doc.insert("title".into(), toml::Value::String(title));
    doc.insert("action".into(), toml::Value::Array(list));
    toml::to_string(&doc).map_err(|e| {
        Error::usage(format!(
            "propose_plan: the actions cannot be written as TOML: {e}"
        ))
    })
}

/// A plan file's text with `title` given as an argument: put in when the text has none;
/// the same title is fine; another is an error (a plan file's own title is never
/// replaced). An `author` in the text other than the client's identity is refused: the
/// server names the author. Text that does not parse is left for the plan file parser to
/// report.
pub fn toml_with_title(text: String, title: Option<&str>, client: &Client) -> Result<String> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Ok(text);
    };
    if let Some(author) = table.get("author")
        && author.as_str() != Some(client.actor().as_str())
    {
        return Err(Error::usage(format!(
            "propose_plan: the plan's `author` is set by the server from the MCP client's name \
             ({}); leave `author` out",
            client.actor()
        )));
    }
    let Some(title) = title else {
        return Ok(text);
    };
    match table.get("title") {
        None => Ok(format!(
            "title = {}\n{text}",
            toml::Value::String(title.into())
        )),
        Some(t) if t.as_str() == Some(title) => Ok(text),
        Some(_) => Err(Error::usage(
            "propose_plan: the plan file has its own `title` and the `title` argument differs; \
             give the title in one place",
        )),
    }
}

/// Make the plan a `propose_plan` call asks for, through `ops::propose`, as `client`
/// (actor and default author `mcp:NAME`); the `agent.call` event of `call_id` is
/// journaled with it (in the same transaction when a plan is stored).
pub fn propose(
    s: &mut Session,
    client: &Client,
    call_id: &str,
    args: ProposeArgs,
) -> Result<Proposed> {
    let (source, title) = match args.form {
        Form::Toml(text) => {
            let text = toml_with_title(text, args.title.as_deref(), client)?;
            (Source::PlanFile(bytes("<toml>", text)), None)
        }
        Form::Diff(text) => (Source::Patch(bytes("<diff>", text)), args.title),
        Form::Actions(list) => {
            let text = actions_toml(&list, args.title.as_deref(), client)?;
            (Source::PlanFile(bytes("<actions>", text)), None)
        }
    };
    let mut p = Proposal::new(source).title(title);
    p.via = Some("mcp".into());
    p.record.insert("client".into(), client.name.clone().into());
    p.record
        .insert("session".into(), client.session.clone().into());
    p.record.insert("tool_call".into(), call_id.into());
    p.call = Some(call(client, call_id, "propose_plan", "planned"));
    let me = std::mem::replace(&mut s.actor, client.actor());
    let proposed = propose::propose(s, p);
    s.actor = me;
    proposed
}

fn bytes(name: &str, text: String) -> Input {
    Input::Bytes {
        name: name.into(),
        bytes: text.into_bytes(),
        folder: None,
    }
}

/// The `agent.call` data of one tool call (`plan` set by whoever knows it).
pub fn call(client: &Client, call_id: &str, tool: &str, outcome: &str) -> AgentCall {
    AgentCall {
        agent: format!("mcp:{}", client.name),
        session: client.session.clone(),
        tool_call: call_id.into(),
        tool: tool.into(),
        plan: None,
        outcome: outcome.into(),
    }
}

/// The longest outcome text an `agent.call` event keeps (an error's first line).
const MAX_OUTCOME: usize = 512;

/// Journal a tool call that stored no plan (a read, a refusal, nothing to plan) as
/// `agent.call`, with the client as actor.
pub fn journal(
    s: &mut Session,
    client: &Client,
    call_id: &str,
    tool: &str,
    plan: Option<&str>,
    outcome: &str,
) -> Result<()> {
    let mut outcome = outcome.lines().next().unwrap_or("").to_string();
    if outcome.len() > MAX_OUTCOME {
        let mut cut = MAX_OUTCOME;
        while !outcome.is_char_boundary(cut) {
            cut -= 1;
        }
        outcome.truncate(cut);
        outcome.push('…');
    }
    let mut data = call(client, call_id, tool, &outcome);
    data.plan = plan.map(str::to_string);
    let me = std::mem::replace(&mut s.actor, client.actor());
    let r = s.event(
        EventKind::AgentCall,
        plan,
        crate::model::event::encode(&data),
    );
    s.actor = me;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn client() -> Client {
        Client::new(Some("Claude Code"), "s".into())
    }

    #[test]
    fn client_names_are_sanitized() {
        assert_eq!(client().actor(), "mcp:claude-code");
        assert_eq!(sanitize("../../etc\n\u{202e}x"), "..-..-etc-x");
        assert_eq!(sanitize(""), "unknown");
        assert_eq!(sanitize("\u{0}\u{7f}"), "unknown");
        assert!(sanitize(&"a".repeat(1000)).len() <= MAX_CLIENT_NAME);
    }

    #[test]
    fn exactly_one_form() {
        let args = |v: Value| v.as_object().unwrap().clone();
        assert!(propose_args(&args(json!({}))).is_err());
        let e = propose_args(&args(json!({"toml": "x", "diff": "y"}))).unwrap_err();
        assert!(e.message.contains("toml and diff"), "{}", e.message);
        let e = propose_args(&args(json!({"toml": "x", "path": "y"}))).unwrap_err();
        assert!(e.message.contains("`path`"), "{}", e.message);
        assert!(propose_args(&args(json!({"actions": []}))).is_err());
        assert!(propose_args(&args(json!({"actions": "x"}))).is_err());
        assert!(propose_args(&args(json!({"toml": 3}))).is_err());
        let p = propose_args(&args(json!({"diff": "d", "title": "t", "toml": null}))).unwrap();
        assert_eq!(p.form, Form::Diff("d".into()));
        assert_eq!(p.title.as_deref(), Some("t"));
    }

    #[test]
    fn actions_become_a_plan_file() {
        let text = actions_toml(
            &[json!({"kind": "write", "path": "a.txt", "content": "x\n"})],
            None,
            &client(),
        )
        .unwrap();
        let pf = crate::plan::file::parse(&text, "<actions>").unwrap();
        assert_eq!(pf.title, "1 action proposed by mcp:claude-code");
        assert!(actions_toml(&[json!({"kind": null})], None, &client()).is_err());
        assert!(actions_toml(&[json!("write")], None, &client()).is_err());
    }

    #[test]
    fn a_title_argument_never_replaces_the_files_own() {
        let c = client();
        let t = toml_with_title(
            "[[action]]\nkind = \"mkdir\"\npath = \"d\"\n".into(),
            Some("T \"q\""),
            &c,
        )
        .unwrap();
        assert_eq!(crate::plan::file::parse(&t, "x").unwrap().title, "T \"q\"");
        let own = "title = \"A\"\n".to_string();
        assert_eq!(toml_with_title(own.clone(), Some("A"), &c).unwrap(), own);
        assert!(toml_with_title(own, Some("B"), &c).is_err());
        assert!(toml_with_title("title = \"A\"\nauthor = \"alice\"\n".into(), None, &c).is_err());
    }
}
