//! `autonomy mcp`: a JSON-RPC conversation over stdio with the real server process (every
//! tool, the three propose forms, bad arguments and bad JSON-RPC, a plan that escapes the
//! workspace), the journal naming the client as actor; and the real Claude Code (pinned in
//! .ci/agents.txt), wired by `autonomy agent install claude`, calling
//! `mcp__autonomy__propose_plan` as a scripted mock model tells it to.

use crate::common::{self, Env};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

// The scripted model of agents.rs, compiled here too (that module keeps it private).
use super::agents::mock_model::{MockModel, Step};
use super::agents::{agent_calls, cli as agent_cli, path_with_autonomy};

/// A running `autonomy mcp`, its stdout read line by line on a thread.
struct Server {
    child: Child,
    lines: Receiver<String>,
    next_id: i64,
}

impl Server {
    fn start(env: &Env) -> Server {
        let mut child = env
            .std_cmd()
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start autonomy mcp");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            lines,
            next_id: 1,
        }
    }

    fn send(&mut self, msg: &Value) {
        self.send_raw(&msg.to_string());
    }

    fn send_raw(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    }

    /// The next message on stdout; every line must be one JSON-RPC message.
    fn next(&mut self) -> Value {
        match self.lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout carried a line that is not JSON ({e}): {line}")),
            Err(RecvTimeoutError::Timeout) => panic!("no answer from autonomy mcp in 30 s"),
            Err(RecvTimeoutError::Disconnected) => panic!("autonomy mcp closed its stdout"),
        }
    }

    /// Send a request and wait for the response with its id.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self.next();
            assert_eq!(msg["jsonrpc"], "2.0", "{msg}");
            if msg["id"] == json!(id) {
                return msg;
            }
            assert!(
                msg.get("id").is_none() || msg.get("method").is_some(),
                "a response to another request: {msg}"
            );
        }
    }

    /// `tools/call`: the result (`isError` false or true).
    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert!(r.get("error").is_none(), "a protocol error for {tool}: {r}");
        r["result"].clone()
    }

    /// A tool call that must succeed: its structured content (or its text).
    fn ok(&mut self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args.clone());
        assert_eq!(r["isError"], json!(false), "{tool} {args} failed: {r}");
        r.get("structuredContent")
            .cloned()
            .unwrap_or_else(|| r["content"][0]["text"].clone())
    }

    /// A tool call that must fail as a tool error: its text.
    fn refused(&mut self, tool: &str, args: Value) -> String {
        let r = self.call(tool, args.clone());
        assert_eq!(r["isError"], json!(true), "{tool} {args} did not fail: {r}");
        r["content"][0]["text"].as_str().expect("text").to_string()
    }

    fn initialize(&mut self, client: &str) -> Value {
        let r = self.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": client, "version": "1.0"}}),
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        r
    }

    /// Close stdin: the server must exit 0 by itself.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "autonomy mcp ended with {status}");
                return;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                panic!("autonomy mcp did not exit after its stdin closed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

const PLAN_TOML: &str = "title = \"Bump the version\"\n\n[[action]]\nkind = \"write\"\npath = \"VERSION\"\ncontent = \"1.2.0\\n\"\n";

/// The whole conversation: initialize, list, each tool and each propose form; refusals
/// as tool errors naming what to fix; nothing in the workspace changes through MCP; every
/// call journaled with the client as actor.
#[test]
fn mcp_conversation_over_stdio() {
    let env = Env::new();
    env.write("README.md", "hello\n");
    env.write("src/app.txt", "timeout = 500\n");
    let tree = env.tree();
    let mut mcp = Server::start(&env);

    let init = mcp.initialize("Claude Code");
    assert_eq!(init["result"]["serverInfo"]["name"], "autonomy", "{init}");
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );

    let tools = mcp.request("tools/list", json!({}));
    let mut names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["list_plans", "plan_status", "preview_plan", "propose_plan"]
    );

    // The three forms of propose_plan.
    let by_toml = mcp.ok("propose_plan", json!({"toml": PLAN_TOML}));
    assert_eq!(by_toml["status"], "pending", "{by_toml}");
    assert_eq!(by_toml["author"], "mcp:claude-code", "{by_toml}");
    let toml_id = by_toml["plan_id"].as_str().expect("id").to_string();
    assert!(
        by_toml["summary"]
            .as_str()
            .unwrap()
            .contains("no MCP tool can"),
        "{by_toml}"
    );
    let diff =
        "--- a/src/app.txt\n+++ b/src/app.txt\n@@ -1 +1 @@\n-timeout = 500\n+timeout = 750\n";
    let by_diff = mcp.ok(
        "propose_plan",
        json!({"diff": diff, "title": "Raise the timeout"}),
    );
    assert_eq!(by_diff["status"], "pending", "{by_diff}");
    assert_eq!(by_diff["title"], "Raise the timeout", "{by_diff}");
    let diff_id = by_diff["plan_id"].as_str().expect("id").to_string();
    let by_actions = mcp.ok(
        "propose_plan",
        json!({"actions": [
            {"kind": "edit", "path": "README.md", "find": "hello", "replace": "hello, world"},
            {"kind": "mkdir", "path": "docs"}
        ], "title": "Greet the world"}),
    );
    assert_eq!(by_actions["status"], "pending", "{by_actions}");
    assert_eq!(by_actions["changes"], 2, "{by_actions}");
    let actions_id = by_actions["plan_id"].as_str().expect("id").to_string();
    // The same plan again is the pending one, not a second copy.
    let again = mcp.ok("propose_plan", json!({"toml": PLAN_TOML}));
    assert_eq!(again["plan_id"], by_toml["plan_id"], "{again}");
    assert_eq!(env.plan_ids().len(), 3);

    // preview_plan: the preview as `autonomy preview` prints it, without colour, by short id.
    let short = &toml_id[..12];
    let preview = mcp.ok("preview_plan", json!({"plan_id": short}));
    let preview = preview.as_str().expect("text");
    assert!(preview.contains("+1.2.0"), "{preview}");
    assert!(preview.contains("Bump the version"), "{preview}");
    assert!(!preview.contains('\u{1b}'), "no colour: {preview:?}");
    let cli = env.run(&["preview", short]);
    assert_eq!(cli.code, 0, "{cli:?}");
    assert_eq!(preview, cli.stdout, "the same text as `autonomy preview`");

    // plan_status follows a person's decisions, made outside MCP.
    let st = mcp.ok("plan_status", json!({"plan_id": diff_id}));
    assert_eq!(st["decision"], "pending", "{st}");
    assert_eq!(st["title"], "Raise the timeout", "{st}");
    let out = env.run(&["reject", &diff_id[..12], "--reason", "keep 500"]);
    assert_eq!(out.code, 0, "{out:?}");
    let st = mcp.ok("plan_status", json!({"plan_id": &diff_id[..12]}));
    assert_eq!(
        (st["decision"].as_str(), st["reason"].as_str()),
        (Some("rejected"), Some("keep 500")),
        "{st}"
    );

    // list_plans: every plan, newest first; a status filter.
    let list = mcp.ok("list_plans", json!({}));
    let ids: Vec<&str> = list["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .map(|p| p["plan_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [&actions_id, &diff_id, &toml_id], "{list}");
    let pending = mcp.ok("list_plans", json!({"status": "rejected"}));
    assert_eq!(pending["plans"].as_array().expect("plans").len(), 1);

    // Nothing landed through MCP.
    assert_eq!(env.tree(), tree, "the workspace changed through MCP");

    // Refusals are tool errors that say what to fix; nothing is planned by them.
    let refusals: Vec<(&str, Value, &str)> = vec![
        (
            "propose_plan",
            json!({"toml": PLAN_TOML, "diff": diff}),
            "exactly one of",
        ),
        ("propose_plan", json!({}), "exactly one of"),
        (
            "propose_plan",
            json!({"toml": 7}),
            "`toml` must be a string",
        ),
        (
            "propose_plan",
            json!({"toml": PLAN_TOML, "path": "x"}),
            "unknown argument `path`",
        ),
        (
            "propose_plan",
            json!({"actions": [{"kind": "write", "path": "a", "content": "x", "mode": "0644", "colour": 1}]}),
            "colour",
        ),
        (
            "propose_plan",
            json!({"toml": "title = \"x\"\n[[action]]\nkind = \"write\"\npath = \"../outside.txt\"\ncontent = \"x\"\n"}),
            "escapes the workspace",
        ),
        (
            "propose_plan",
            json!({"actions": [{"kind": "write", "path": "/etc/cron.d/x", "content": "x"}]}),
            "/etc/cron.d/x",
        ),
        (
            "propose_plan",
            json!({"actions": [{"kind": "write", "path": ".autonomy/journal.db", "content": "x"}]}),
            ".autonomy",
        ),
        (
            "propose_plan",
            json!({"toml": "title = \"x\"\n[[action]]\nkind = \"write\"\npath = \"p\"\ncontent_file = \"/etc/passwd\"\n"}),
            "content_file",
        ),
        (
            "propose_plan",
            json!({"toml": "title = \"x\"\nauthor = \"alice\"\n[[action]]\nkind = \"mkdir\"\npath = \"d\"\n"}),
            "author",
        ),
        (
            "propose_plan",
            json!({"diff": "--- a/README.md\n+++ b/README.md\n@@ -1 +1 @@\n-not there\n+x\n"}),
            "README.md",
        ),
        ("propose_plan", json!({"toml": "title = "}), "<toml>"),
        ("preview_plan", json!({}), "needs `plan_id`"),
        (
            "preview_plan",
            json!({"plan_id": "abcdef123456"}),
            "no plan has an id starting with abcdef123456",
        ),
        ("plan_status", json!({"plan_id": "zz"}), "not a plan id"),
        ("plan_status", json!({"plan_id": 12}), "must be a string"),
        ("list_plans", json!({"status": "done"}), "not a status"),
        ("list_plans", json!({"limit": 0}), "`limit`"),
    ];
    for (tool, args, want) in &refusals {
        let text = mcp.refused(tool, args.clone());
        assert!(
            text.contains(want),
            "{tool} {args}: the error does not say {want:?}: {text}"
        );
        assert!(!text.contains("panicked"), "{text}");
    }
    assert_eq!(
        env.plan_ids().len(),
        3,
        "a refused proposal planned something"
    );
    assert_eq!(env.tree(), tree, "a refused proposal changed the workspace");

    // Protocol errors: an unknown tool, an unknown method, a request of the wrong shape.
    let r = mcp.request("tools/call", json!({"name": "apply_plan", "arguments": {}}));
    assert_eq!(r["error"]["code"], -32602, "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("propose_plan"),
        "{r}"
    );
    let r = mcp.request("no/such_method", json!({}));
    assert_eq!(r["error"]["code"], -32601, "{r}");
    mcp.send_raw(r#"{"jsonrpc":"2.0","id":{"not":"an id"},"method":"tools/list"}"#);
    let r = mcp.next();
    assert_eq!(r["error"]["code"], -32600, "{r}");
    // The server still answers after all of that.
    let list = mcp.ok("list_plans", json!({"limit": 1}));
    assert_eq!(list["more"], true, "{list}");
    mcp.finish();

    // The journal: each tool call that reached the workspace is an `agent.call` with the
    // client as actor; the plans were created by it.
    let calls = agent_calls(&env);
    // propose 4, preview 1, status 2, list 2, the refusals, list 1.
    let tool_calls = 4 + 1 + 2 + 2 + refusals.len() + 1;
    assert_eq!(calls.len(), tool_calls, "{calls:#?}");
    for c in &calls {
        assert_eq!(c["actor"], "mcp:claude-code", "{c}");
        assert_eq!(c["data"]["agent"], "mcp:claude-code", "{c}");
    }
    let outcomes: Vec<&str> = calls
        .iter()
        .map(|c| c["data"]["outcome"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "planned").count(), 4);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| o.starts_with("refused: "))
            .count(),
        refusals.len()
    );
    let created: Vec<Value> = env
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "plan.created")
        .collect();
    assert_eq!(created.len(), 3);
    for e in &created {
        assert_eq!(e["actor"], "mcp:claude-code", "{e}");
        assert_eq!(e["data"]["source"], "mcp", "{e}");
    }

    // A person approves and applies through the CLI: the exact bytes land.
    env.approve(&toml_id);
    env.apply_ok(&toml_id);
    assert_eq!(env.read_str("VERSION"), "1.2.0\n");
    env.verify_ok();
}

/// Without a workspace the server still speaks MCP; its tools say how to make one.
#[test]
fn mcp_outside_a_workspace_says_what_to_do() {
    let env = Env::bare();
    let mut mcp = Server::start(&env);
    mcp.initialize("some client");
    let text = mcp.refused("list_plans", json!({}));
    assert!(text.contains("autonomy init"), "{text}");
    mcp.finish();
}

/// `autonomy agent install claude` registers the server in .mcp.json next to the hook
/// (one plan), `uninstall` takes both out again; Codex and Gemini get theirs merged into
/// the files that are there.
#[test]
fn agent_install_registers_the_mcp_server() {
    let env = Env::new();
    env.write(
        ".mcp.json",
        json!({"mcpServers": {"docs": {"command": "docs-server"}}}).to_string(),
    );
    env.write(".codex/config.toml", "# my settings\nmodel = \"o3\"\n");
    for agent in ["claude", "codex", "gemini"] {
        let out = env.run(&["agent", "install", agent]);
        assert_eq!(out.code, 0, "{out:?}");
        let id = env.full_id(out.stdout.trim());
        env.approve(&id);
        env.apply_ok(&id);
    }
    let mcp: Value = serde_json::from_str(&env.read_str(".mcp.json")).expect("json");
    assert_eq!(
        mcp["mcpServers"]["autonomy"],
        json!({"command": "autonomy", "args": ["mcp"]})
    );
    assert_eq!(mcp["mcpServers"]["docs"]["command"], "docs-server");
    let codex = env.read_str(".codex/config.toml");
    assert!(
        codex.starts_with("# my settings\nmodel = \"o3\"\n"),
        "{codex}"
    );
    assert!(
        codex.contains("[mcp_servers.autonomy]\ncommand = \"autonomy\"\nargs = [\"mcp\"]\n"),
        "{codex}"
    );
    let gemini: Value = serde_json::from_str(&env.read_str(".gemini/settings.json")).expect("json");
    assert_eq!(gemini["mcpServers"]["autonomy"]["args"], json!(["mcp"]));
    assert!(gemini["hooks"]["BeforeTool"].is_array(), "{gemini}");
    let list: Value = serde_json::from_str(&env.run(&["agent", "list", "--format", "json"]).stdout)
        .expect("json");
    for a in list["agents"].as_array().expect("agents") {
        let want = match a["agent"].as_str() {
            Some("claude" | "codex" | "gemini") => json!(true),
            _ => json!(null),
        };
        assert_eq!(a["mcp_registered"], want, "{a}");
    }
    for agent in ["claude", "codex", "gemini"] {
        let out = env.run(&["agent", "uninstall", agent]);
        assert_eq!(out.code, 0, "{out:?}");
        let id = env.full_id(out.stdout.trim());
        env.approve(&id);
        env.apply_ok(&id);
    }
    assert_eq!(
        serde_json::from_str::<Value>(&env.read_str(".mcp.json")).expect("json"),
        json!({"mcpServers": {"docs": {"command": "docs-server"}}})
    );
    assert_eq!(
        env.read_str(".codex/config.toml"),
        "# my settings\nmodel = \"o3\"\n"
    );
    assert!(!env.exists(".gemini/settings.json"));
    assert!(!env.exists(".claude/settings.json"));
    env.verify_ok();
}

/// Wait for an agent (at most two minutes): what it printed.
fn finish(mut child: Child) -> String {
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `agent install AGENT`, approved and applied.
fn install(env: &Env, agent: &str) {
    let out = env.run(&["agent", "install", agent]);
    assert_eq!(out.code, 0, "{out:?}");
    let id = env.full_id(out.stdout.trim());
    env.approve(&id);
    env.apply_ok(&id);
}

/// After an agent called propose_plan once: one pending plan with `title`, by the agent's
/// MCP identity, the workspace as it was, the model told the plan id, one `agent.call`;
/// approved and applied, `path` holds exactly `content`.
fn check_proposed(
    env: &Env,
    tree: &common::Tree,
    mock: &MockModel,
    said: &str,
    title: &str,
    path: &str,
    content: &str,
) -> String {
    let st = env.status_json();
    let pending = st["pending"].as_array().expect("pending");
    assert_eq!(pending.len(), 1, "{st}\n{said}\n{}", mock.transcript());
    let plan = &pending[0];
    assert_eq!(plan["title"], title, "{plan}");
    let author = plan["author"].as_str().expect("author").to_string();
    assert!(author.starts_with("mcp:"), "{plan}");
    assert_eq!(&env.tree(), tree, "the workspace changed before approval");
    let id = plan["id"].as_str().expect("id").to_string();
    assert!(
        mock.transcript().contains(&id),
        "the model was not told the plan id: {}",
        mock.transcript()
    );
    let calls = agent_calls(env);
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0]["actor"], author.as_str(), "{calls:#?}");
    assert_eq!(calls[0]["data"]["tool"], "propose_plan");
    env.approve(&id);
    env.apply_ok(&id);
    assert_eq!(env.read_str(path), content);
    author
}

/// The real Claude Code, wired by `autonomy agent install claude`, starts `autonomy mcp`
/// from .mcp.json and calls `mcp__autonomy__propose_plan` as the mock model says: a
/// pending plan with exactly that content, author the client, nothing in the workspace
/// changed; the model is told the plan id.
#[test]
fn real_claude_code_proposes_through_mcp() {
    let Some(claude) = agent_cli("claude") else {
        return;
    };
    let env = Env::new();
    install(&env, "claude");
    let tree = env.tree();
    let content = "from claude, through MCP\n\u{e9}t\u{e9}\n";
    let mock = MockModel::start(vec![
        Step::Tool(
            "mcp__autonomy__propose_plan",
            json!({"actions": [{"kind": "write", "path": "notes/mcp.txt", "content": content}],
                   "title": "Notes from Claude"}),
        ),
        Step::Text("Proposed."),
    ]);
    let home = tempfile::tempdir().expect("home");
    // The folder trusted, as after the person accepted Claude Code's trust dialog once:
    // only then does it honour the project's `permissions.allow` that `agent install`
    // wrote (checked: untrusted, `claude -p` refuses the call unless given
    // `--allowedTools mcp__autonomy__propose_plan`).
    let root = env.root.canonicalize().expect("root");
    std::fs::write(
        home.path().join(".claude.json"),
        json!({"projects": {root.to_str().expect("utf-8"): {"hasTrustDialogAccepted": true}}})
            .to_string(),
    )
    .expect("trust");
    let child = Command::new(claude)
        .args([
            "-p",
            "Do the task.",
            "--output-format",
            "stream-json",
            "--verbose",
        ])
        .current_dir(&env.root)
        .env("HOME", home.path())
        .env("ANTHROPIC_BASE_URL", mock.url())
        .env("ANTHROPIC_API_KEY", "dummy")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("PATH", path_with_autonomy())
        .env("AUTONOMY_ACTOR", common::ACTOR)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start claude");
    let said = finish(child);
    let author = check_proposed(
        &env,
        &tree,
        &mock,
        &said,
        "Notes from Claude",
        "notes/mcp.txt",
        content,
    );
    assert_eq!(author, "mcp:claude-code");
}

/// The real Gemini CLI, wired by `autonomy agent install gemini` (hook and `mcpServers` in
/// one settings file), calls the server's `propose_plan` (its name for it:
/// `mcp_autonomy_propose_plan`) with a TOML plan: pending, exact, nothing changed first.
#[test]
fn real_gemini_cli_proposes_through_mcp() {
    let env = Env::new();
    install(&env, "gemini");
    let tree = env.tree();
    let mock = MockModel::start(vec![
        Step::Tool(
            "mcp_autonomy_propose_plan",
            json!({"toml": "title = \"Notes from Gemini\"\n[[action]]\nkind = \"write\"\npath = \"g.txt\"\ncontent = \"gemini\\n\"\n"}),
        ),
        Step::Text("Proposed."),
    ]);
    let Some(run) = super::agents::gemini_as_configured(&env, &mock) else {
        return;
    };
    let (out, err) = run.finish(120);
    let said = format!("{out}\n{err}");
    check_proposed(
        &env,
        &tree,
        &mock,
        &said,
        "Notes from Gemini",
        "g.txt",
        "gemini\n",
    );
}
