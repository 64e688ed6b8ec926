//! A scripted model on 127.0.0.1 speaking the three APIs the real agent CLIs use (see
//! ../shared/AGENTS.md): Anthropic messages (server-sent events), OpenAI responses (Codex)
//! and Gemini generateContent. Each model request is answered with the next step of the
//! script, chosen by counting the tool calls already in the conversation it carries, so
//! retries and side requests do not advance it. Every request is recorded, so tests can
//! assert what the model was told (a refusal's reason and plan id in a tool result).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One step of the script.
#[derive(Debug, Clone)]
pub enum Step {
    /// A tool call: the tool's name and its input (for Codex's `apply_patch`, a string).
    Tool(&'static str, Value),
    /// A final answer.
    Text(&'static str),
}

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Request {
    #[allow(dead_code)]
    pub path: String,
    pub body: Value,
}

pub struct MockModel {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl MockModel {
    pub fn start(script: Vec<Step>) -> MockModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        {
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { break };
                    let requests = Arc::clone(&requests);
                    let script = Arc::clone(&script);
                    std::thread::spawn(move || {
                        let _ = serve(conn, &script, &requests);
                    });
                }
            });
        }
        MockModel { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The model requests received (not HEAD probes or side calls without a body).
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    /// Every model request body, as text, joined: to look for what the model was told.
    pub fn transcript(&self) -> String {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.path, r.body))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn serve(conn: TcpStream, script: &[Step], requests: &Mutex<Vec<Request>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let body = if chunked {
            read_chunked(&mut reader)?
        } else {
            let mut b = vec![0; length];
            reader.read_exact(&mut b)?;
            b
        };
        if method == "HEAD" || method == "GET" {
            let ok = if path.contains("/models") {
                "{\"data\":[],\"models\":[]}"
            } else {
                "{}"
            };
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                ok.len()
            )?;
            if method == "GET" {
                conn.write_all(ok.as_bytes())?;
            }
            continue;
        }
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        requests.lock().expect("lock").push(Request {
            path: path.clone(),
            body: body.clone(),
        });
        let (content_type, payload) = if path.contains("/v1/messages") {
            ("text/event-stream", anthropic(script, &body))
        } else if path.contains("/responses") {
            ("text/event-stream", openai(script, &body))
        } else if path.contains(":streamGenerateContent") {
            ("text/event-stream", gemini_stream(script, &body))
        } else if path.contains(":generateContent") {
            ("application/json", gemini_router())
        } else {
            ("application/json", "{}".to_string())
        };
        write!(
            conn,
            "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n{payload}"
        )?;
        conn.flush()?;
        return Ok(());
    }
}

fn read_chunked(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size)?;
        let n =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        let mut chunk = vec![0; n + 2];
        r.read_exact(&mut chunk)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

fn step(script: &[Step], done: usize) -> Step {
    script.get(done).cloned().unwrap_or(Step::Text("Done."))
}

fn count(v: &Value, pred: &dyn Fn(&Value) -> bool) -> usize {
    match v {
        Value::Array(a) => a.iter().map(|x| count(x, pred)).sum(),
        Value::Object(o) => {
            usize::from(pred(v)) + o.values().map(|x| count(x, pred)).sum::<usize>()
        }
        _ => 0,
    }
}

fn sse(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect()
}

fn anthropic(script: &[Step], body: &Value) -> String {
    // A side request without tools (titles, summaries) gets a plain answer.
    let done = count(&body["messages"], &|v| v["type"] == "tool_use");
    let s = if body.get("tools").is_none() {
        Step::Text("ok")
    } else {
        step(script, done)
    };
    let model = body["model"]
        .as_str()
        .unwrap_or("claude-sonnet-4-5")
        .to_string();
    let start = json!({"type": "message_start", "message": {"id": format!("msg_{done}"), "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 1}}});
    let (block, delta, stop) = match s {
        Step::Tool(name, input) => (
            json!({"type": "tool_use", "id": format!("toolu_{done:04}"), "name": name, "input": {}}),
            json!({"type": "input_json_delta", "partial_json": input.to_string()}),
            "tool_use",
        ),
        Step::Text(t) => (
            json!({"type": "text", "text": ""}),
            json!({"type": "text_delta", "text": t}),
            "end_turn",
        ),
    };
    sse(&[
        ("message_start", start),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": block}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 1}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ])
}

fn openai(script: &[Step], body: &Value) -> String {
    let done = count(&body["input"], &|v| {
        v["type"] == "function_call" || v["type"] == "custom_tool_call"
    });
    let id = format!("resp_{done}");
    let item = match step(script, done) {
        Step::Tool(name, input) => match input {
            Value::String(text) => {
                json!({"type": "custom_tool_call", "id": format!("ctc_{done}"), "call_id": format!("call_{done}"), "name": name, "input": text, "status": "completed"})
            }
            other => {
                json!({"type": "function_call", "id": format!("fc_{done}"), "call_id": format!("call_{done}"), "name": name, "arguments": other.to_string(), "status": "completed"})
            }
        },
        Step::Text(t) => {
            json!({"type": "message", "id": format!("msg_{done}"), "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": t, "annotations": []}]})
        }
    };
    let mut out = String::new();
    for (name, data) in [
        (
            "response.created",
            json!({"type": "response.created", "response": {"id": id}}),
        ),
        (
            "response.output_item.done",
            json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
        ),
        (
            "response.completed",
            json!({"type": "response.completed", "response": {"id": id, "usage": {"input_tokens": 1, "input_tokens_details": null, "output_tokens": 1, "output_tokens_details": null, "total_tokens": 2}}}),
        ),
    ] {
        out.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    }
    out
}

fn gemini_router() -> String {
    let text = json!({"complexity_reasoning": "simple", "complexity_score": 1}).to_string();
    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}}).to_string()
}

fn gemini_stream(script: &[Step], body: &Value) -> String {
    let done = count(&body["contents"], &|v| v.get("functionCall").is_some());
    let part = match step(script, done) {
        Step::Tool(name, args) => json!({"functionCall": {"name": name, "args": args}}),
        Step::Text(t) => json!({"text": t}),
    };
    let data = json!({"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}});
    format!("data: {data}\n\n")
}
