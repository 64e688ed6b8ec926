//! The append-only, hash-chained `events` table: the chain's definition, appending, and
//! every read of events (the log, the chain walk of `verify`, payloads read back).

use super::{Journal, Tx};
use crate::error::{Error, Result};
use crate::model::EventKind;
use crate::model::event::{RunStarted, RunStep};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The `prev` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One row of the events table.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub plan: Option<String>,
    pub rules: String,
    pub data: String,
    pub prev: String,
    pub hash: String,
}

/// `sha256("autonomy-event-v1" || seq || prev || canonical(entry))`, where the canonical
/// entry is the JSON array `[at, actor, kind, plan, rules, data]` of the stored columns.
#[allow(clippy::too_many_arguments)] // one argument per stored column, by design
pub fn event_hash(
    seq: i64,
    prev: &str,
    at: &str,
    actor: &str,
    kind: &str,
    plan: Option<&str>,
    rules: &str,
    data: &str,
) -> String {
    let mut buf = Vec::new();
    let digest = event_digest(
        &mut buf,
        seq,
        prev.as_bytes(),
        at.as_bytes(),
        actor.as_bytes(),
        kind.as_bytes(),
        plan.map(str::as_bytes),
        rules.as_bytes(),
        data.as_bytes(),
    );
    hex::encode(digest)
}

/// [`event_hash`] as raw bytes, from the columns' UTF-8 bytes, building the canonical
/// entry in `buf` (reused between calls, so that checking a long chain allocates nothing
/// per event).
#[allow(clippy::too_many_arguments)]
pub fn event_digest(
    buf: &mut Vec<u8>,
    seq: i64,
    prev: &[u8],
    at: &[u8],
    actor: &[u8],
    kind: &[u8],
    plan: Option<&[u8]>,
    rules: &[u8],
    data: &[u8],
) -> [u8; 32] {
    buf.clear();
    buf.push(b'[');
    for (k, field) in [
        Some(at),
        Some(actor),
        Some(kind),
        plan,
        Some(rules),
        Some(data),
    ]
    .into_iter()
    .enumerate()
    {
        if k > 0 {
            buf.push(b',');
        }
        match field {
            Some(text) => json_string(buf, text),
            None => buf.extend_from_slice(b"null"),
        }
    }
    buf.push(b']');
    let mut h = Sha256::new();
    h.update(b"autonomy-event-v1\n");
    let mut digits = [0u8; 24];
    let mut cursor = std::io::Cursor::new(&mut digits[..]);
    let _ = std::io::Write::write_fmt(&mut cursor, format_args!("{seq}"));
    let n = cursor.position() as usize;
    h.update(&digits[..n]);
    h.update(b"\n");
    h.update(prev);
    h.update(b"\n");
    h.update(&buf[..]);
    h.finalize().into()
}

/// UTF-8 `text` as a JSON string exactly as serde_json writes it (the canonical form):
/// `"` and `\\` and control characters escaped (`\b \f \n \r \t`, else `\u00xx`),
/// everything else as is. A test holds this to serde_json's own output.
fn json_string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in text.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&text[start..i]);
        if escaped.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(escaped);
        }
        start = i + 1;
    }
    out.extend_from_slice(&text[start..]);
    out.push(b'"');
}

/// Append an event inside `tx`, linking it to the current head. When the rules digest
/// differs from the head's, a `rules.changed` event is written first.
pub(super) fn append_event(
    tx: &Transaction,
    rules: &str,
    actor: &str,
    kind: EventKind,
    plan: Option<&str>,
    data: &serde_json::Value,
) -> Result<Event> {
    // Cached statements: a run's commit appends one event per step.
    let head: Option<(i64, String, String)> = tx
        .prepare_cached("SELECT seq, hash, rules FROM events ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((_, _, head_rules)) = &head
        && head_rules != rules
        && kind != EventKind::RulesChanged
    {
        let change = crate::model::event::encode(&crate::model::event::RulesChanged {
            from: head_rules.clone(),
            to: rules.to_string(),
        });
        append_event(tx, rules, actor, EventKind::RulesChanged, None, &change)?;
        return append_event(tx, rules, actor, kind, plan, data);
    }
    let (seq, prev) = match head {
        Some((s, h, _)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let at = crate::util::ids::now_string();
    let data = data.to_string();
    let kind = kind.as_str();
    let hash = event_hash(seq, &prev, &at, actor, kind, plan, rules, &data);
    tx.prepare_cached(
        "INSERT INTO events (seq, at, actor, kind, plan, rules, data, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![seq, at, actor, kind, plan, rules, data, prev, hash])?;
    Ok(Event {
        seq,
        at,
        actor: actor.to_string(),
        kind: kind.to_string(),
        plan: plan.map(str::to_string),
        rules: rules.to_string(),
        data,
        prev,
        hash,
    })
}

fn row_to_event(r: &rusqlite::Row) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        kind: r.get(3)?,
        plan: r.get(4)?,
        rules: r.get(5)?,
        data: r.get(6)?,
        prev: r.get(7)?,
        hash: r.get(8)?,
    })
}

const EVENT_COLUMNS: &str = "seq, at, actor, kind, plan, rules, data, prev, hash";

impl Tx<'_> {
    /// Append an event in this transaction, linked to the head.
    pub fn event(
        &self,
        actor: &str,
        kind: EventKind,
        plan: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<Event> {
        append_event(&self.tx, &self.rules, actor, kind, plan, data)
    }
}

/// The `data` of `plan`'s first event of `kind`.
pub(super) fn first_event_data(
    conn: &Connection,
    plan: &str,
    kind: EventKind,
) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT data FROM events WHERE plan = ?1 AND kind = ?2 ORDER BY seq LIMIT 1",
        )?
        .query_row(params![plan, kind.as_str()], |r| r.get(0))
        .optional()?)
}

/// Which events `autonomy log` shows: each list is "any of" (kinds: exact, a family
/// `plan` for `plan.*`, or a glob; actors: globs); `since` is a stored time.
#[derive(Debug, Default)]
pub struct EventFilter {
    pub plan: Option<String>,
    pub kinds: Vec<String>,
    pub actors: Vec<String>,
    pub since: Option<String>,
    pub limit: Option<usize>,
    /// Only the tool calls of this coding agent and session (`agent.call`), the events of
    /// the plans they made, and of those plans' reverse plans.
    pub agents: AgentScope,
}

/// Which coding agents' tool calls: `agent.call` events whose `agent` and `session` are
/// these (each `None`: any).
#[derive(Debug, Default, Clone)]
pub struct AgentScope {
    pub agent: Option<String>,
    pub session: Option<String>,
}

impl AgentScope {
    pub fn is_empty(&self) -> bool {
        self.agent.is_none() && self.session.is_none()
    }

    /// The condition on an `agent.call` event (columns `kind`, `data`). The agent and
    /// session are bound parameters: each is pushed onto `params` and named by its number
    /// (`?N`, counting from 1), so no value is ever spliced into the SQL.
    pub fn call_condition(&self, params: &mut Vec<String>) -> String {
        let mut c = vec!["kind = 'agent.call'".to_string()];
        if let Some(a) = &self.agent {
            c.push(format!(
                "json_extract(data, '$.agent') = {}",
                bind(params, a)
            ));
        }
        if let Some(s) = &self.session {
            c.push(format!(
                "json_extract(data, '$.session') = {}",
                bind(params, s)
            ));
        }
        format!("(json_valid(data) AND {})", c.join(" AND "))
    }

    /// A query of the ids of the plans that the calls `call` (a
    /// [`call_condition`](Self::call_condition)) selects made.
    pub fn plans_query(call: &str) -> String {
        format!("SELECT plan FROM events WHERE plan IS NOT NULL AND {call}")
    }
}

/// Push `value` onto `params` and name it as the bound parameter it is (`?N`).
pub(super) fn bind(params: &mut Vec<String>, value: &str) -> String {
    params.push(value.to_string());
    format!("?{}", params.len())
}

/// The events a filter selects, newest first: see [`Journal::events`].
pub struct Events<'j> {
    journal: &'j Journal,
    sql: String,
    params: Vec<String>,
    /// Only events before this seq are still to come.
    before: i64,
    left: u64,
    page: std::collections::VecDeque<Event>,
    done: bool,
}

/// Events read per page.
const PAGE: u64 = 4096;

impl Events<'_> {
    fn fill(&mut self) -> Result<()> {
        let want = PAGE.min(self.left) as i64;
        let mut stmt = self.journal.conn.prepare_cached(&self.sql)?;
        let mut values: Vec<rusqlite::types::Value> = self
            .params
            .iter()
            .map(|p| rusqlite::types::Value::Text(p.clone()))
            .collect();
        values.push(self.before.into());
        values.push(want.into());
        let rows = stmt.query_map(rusqlite::params_from_iter(values), row_to_event)?;
        for row in rows {
            self.page.push_back(row?);
        }
        if (self.page.len() as i64) < want {
            self.done = true;
        }
        Ok(())
    }
}

impl Iterator for Events<'_> {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        if self.left == 0 {
            return None;
        }
        if self.page.is_empty()
            && !self.done
            && let Err(e) = self.fill()
        {
            self.done = true;
            return Some(Err(e));
        }
        let e = self.page.pop_front()?;
        self.before = e.seq;
        self.left -= 1;
        Some(Ok(e))
    }
}

/// One event's stored columns, borrowed from the row as bytes (hashing needs no UTF-8
/// check: a column that is not valid UTF-8 cannot match its hash anyway).
pub struct RawEvent<'a> {
    pub seq: i64,
    pub at: &'a [u8],
    pub actor: &'a [u8],
    pub kind: &'a [u8],
    pub plan: Option<&'a [u8]>,
    pub rules: &'a [u8],
    pub data: &'a [u8],
    pub prev: &'a [u8],
    pub hash: &'a [u8],
}

fn read_raw<'a>(row: &'a rusqlite::Row) -> rusqlite::Result<RawEvent<'a>> {
    let text = |i: usize| -> rusqlite::Result<&'a [u8]> {
        row.get_ref(i)?.as_bytes().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    Ok(RawEvent {
        seq: row.get(0)?,
        at: text(1)?,
        actor: text(2)?,
        kind: text(3)?,
        plan: match row.get_ref(4)? {
            rusqlite::types::ValueRef::Null => None,
            _ => Some(text(4)?),
        },
        rules: text(5)?,
        data: text(6)?,
        prev: text(7)?,
        hash: text(8)?,
    })
}

/// `*`, `?` and `[` taken literally in a GLOB pattern.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '[' => {
                out.push('[');
                out.push(c);
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

impl Journal {
    /// Append one event in its own transaction.
    pub fn event(
        &mut self,
        actor: &str,
        kind: EventKind,
        plan: Option<&str>,
        data: &serde_json::Value,
    ) -> Result<Event> {
        self.write(|tx| tx.event(actor, kind, plan, data))
    }

    /// The newest event's seq and hash.
    pub fn head(&self) -> Result<Option<(i64, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The events `filter` selects, newest first, read a page at a time (so that a
    /// journal of any length is shown in bounded memory, and `log | head` stops early).
    pub fn events(&self, filter: &EventFilter) -> Result<Events<'_>> {
        let mut params: Vec<String> = Vec::new();
        let mut param = |v: String| bind(&mut params, &v);
        let mut clauses: Vec<String> = Vec::new();
        if let Some(plan) = &filter.plan {
            clauses.push(format!("plan = {}", param(plan.clone())));
        }
        if !filter.kinds.is_empty() {
            let any: Vec<String> = filter
                .kinds
                .iter()
                .map(|k| {
                    if k.contains(['*', '?', '[']) {
                        format!("kind GLOB {}", param(k.clone()))
                    } else {
                        let exact = param(k.clone());
                        let family = param(format!("{}.*", glob_escape(k)));
                        format!("kind = {exact} OR kind GLOB {family}")
                    }
                })
                .collect();
            clauses.push(format!("({})", any.join(" OR ")));
        }
        if !filter.actors.is_empty() {
            let any: Vec<String> = filter
                .actors
                .iter()
                .map(|a| format!("actor GLOB {}", param(a.clone())))
                .collect();
            clauses.push(format!("({})", any.join(" OR ")));
        }
        if let Some(since) = &filter.since {
            clauses.push(format!("at >= {}", param(since.clone())));
        }
        if !filter.agents.is_empty() {
            // One condition (its parameters bound once), used three times.
            let call = filter.agents.call_condition(&mut params);
            let plans = AgentScope::plans_query(&call);
            clauses.push(format!(
                "({call} OR plan IN ({plans}) OR plan IN (SELECT id FROM plans WHERE reverses IN ({plans})))"
            ));
        }
        clauses.push(format!("seq < ?{}", params.len() + 1));
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY seq DESC LIMIT ?{}",
            clauses.join(" AND "),
            params.len() + 2
        );
        Ok(Events {
            journal: self,
            sql,
            params,
            before: i64::MAX,
            left: filter.limit.map_or(u64::MAX, |n| n as u64),
            page: std::collections::VecDeque::new(),
            done: false,
        })
    }

    /// Walk every event in chain order, borrowing each row's bytes; a row that cannot be
    /// read is passed as its error and ends the walk. `f` returns false to stop.
    pub fn walk_chain(
        &self,
        mut f: impl FnMut(std::result::Result<RawEvent<'_>, String>) -> bool,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq"))?;
        let mut rows = stmt.query([])?;
        loop {
            match rows.next() {
                Ok(Some(row)) => match read_raw(row) {
                    Ok(e) => {
                        if !f(Ok(e)) {
                            break;
                        }
                    }
                    Err(e) => {
                        f(Err(e.to_string()));
                        break;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    f(Err(e.to_string()));
                    break;
                }
            }
        }
        Ok(())
    }

    /// The `data` of `plan`'s first event of `kind`.
    pub fn first_event_data(&self, plan: &str, kind: EventKind) -> Result<Option<String>> {
        first_event_data(&self.conn, plan, kind)
    }

    /// The intent `run` journaled (its `run.started`), newest first; events whose payload
    /// does not decode are passed over, as is a run without one.
    pub fn run_started(&self, run: i64) -> Result<Option<RunStarted>> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM events WHERE kind = ?1 ORDER BY seq DESC")?;
        let rows = stmt.query_map([EventKind::RunStarted.as_str()], |r| r.get::<_, String>(0))?;
        for data in rows {
            let Ok(v) = serde_json::from_str::<RunStarted>(&data?) else {
                continue;
            };
            if v.run == run {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The `run.step` events of `plan`'s runs, in order; payloads that do not decode are
    /// passed over (they are hints, and `verify` reports a broken chain).
    pub fn run_steps(&self, plan: &str) -> Result<Vec<RunStep>> {
        let mut stmt = self
            .conn
            .prepare("SELECT data FROM events WHERE kind = ?2 AND plan = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![plan, EventKind::RunStep.as_str()], |r| {
            r.get::<_, String>(0)
        })?;
        let mut out = Vec::new();
        for data in rows {
            if let Ok(step) = serde_json::from_str::<RunStep>(&data?) {
                out.push(step);
            }
        }
        Ok(out)
    }

    /// `plan`'s newest event of `kind`.
    pub fn latest_event(&self, plan: &str, kind: EventKind) -> Result<Option<Event>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {EVENT_COLUMNS} FROM events WHERE plan = ?1 AND kind = ?2 ORDER BY seq DESC LIMIT 1"),
                params![plan, kind.as_str()],
                row_to_event,
            )
            .optional()?)
    }

    /// The plan that a coding agent's tool call (agent, session and tool-call ids, as its
    /// `agent.call` events record them) became, newest first: the call asked again (a
    /// resumed headless run) finds its plan and what was decided about it.
    pub fn plan_of_call(
        &self,
        agent: &str,
        session: &str,
        tool_call: &str,
    ) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT plan FROM events WHERE kind = 'agent.call' AND plan IS NOT NULL AND json_valid(data)
                   AND json_extract(data, '$.agent') = ?1 AND json_extract(data, '$.session') = ?2
                   AND json_extract(data, '$.tool_call') = ?3
                 ORDER BY seq DESC LIMIT 1",
                params![agent, session, tool_call],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The risk level recorded when `plan` was created (`plan.created`'s `risk.level`).
    pub fn recorded_risk_level(&self, plan: &str) -> Result<Option<String>> {
        let level: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT json_extract(data, '$.risk.level') FROM events WHERE plan = ?1 AND kind = ?2 ORDER BY seq LIMIT 1",
                params![plan, EventKind::PlanCreated.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        Ok(level.flatten())
    }
}

/// An event's `data` that this build wrote but cannot read back: the journal was edited.
pub fn undecodable(kind: EventKind, plan: &str, why: impl std::fmt::Display) -> Error {
    Error::integrity(format!(
        "the {kind} event of plan {} does not decode: {why}",
        crate::model::id::short(plan)
    ))
    .hint("run `autonomy verify`")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain's definition, as first written: serde_json's encoding of the array.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        seq: i64,
        prev: &str,
        at: &str,
        actor: &str,
        kind: &str,
        plan: Option<&str>,
        rules: &str,
        data: &str,
    ) -> String {
        let entry = serde_json::json!([at, actor, kind, plan, rules, data]).to_string();
        let mut h = Sha256::new();
        h.update(b"autonomy-event-v1\n");
        h.update(seq.to_string().as_bytes());
        h.update(b"\n");
        h.update(prev.as_bytes());
        h.update(b"\n");
        h.update(entry.as_bytes());
        hex::encode(h.finalize())
    }

    #[test]
    fn event_hash_matches_the_serde_json_encoding() {
        let controls: String = (0u8..0x20).map(char::from).collect();
        let texts = [
            controls.as_str(),
            "",
            "plain",
            "quote \" and backslash \\",
            "controls \n\t\r\u{1}\u{1f} and del \u{7f}",
            "unicode é ✓ 𝄞 and / slash",
            r#"{"run":3,"path":"a/b.txt","before":{"kind":"file"}}"#,
        ];
        for (i, t) in texts.iter().enumerate() {
            for plan in [None, Some(*t)] {
                let got = event_hash(i as i64 - 1, GENESIS, t, t, "kind", plan, t, t);
                let want = reference(i as i64 - 1, GENESIS, t, t, "kind", plan, t, t);
                assert_eq!(got, want, "text {t:?}, plan {plan:?}");
            }
        }
    }

    /// An agent name and a session id holding a single quote and the LIKE wildcards `%`
    /// and `_` select exactly the calls (and plans) that carry them: bound, never spliced.
    #[test]
    fn agent_scope_values_are_bound_and_match_exactly() {
        use crate::model::event::{AgentCall, encode};
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::create(&dir.path().join("journal.db"), "ws", "t", "r").unwrap();
        let (agent, session) = ("o'brien%_x", "it's 100%_");
        // (agent, session, plan): exact, what LIKE or a case-folding match would widen to,
        // and the exact agent in another session.
        let calls = [
            (agent, session, "p-exact"),
            ("o'brien--x", "it's 100%_", "p-like-agent"),
            ("o'brien%_x", "it's 100 percent", "p-like-session"),
            ("O'BRIEN%_X", "IT'S 100%_", "p-case"),
            ("o'brien%_x", "other", "p-other-session"),
        ];
        for (i, (a, s, plan)) in calls.iter().enumerate() {
            j.conn
                .execute(
                    "INSERT INTO plans (id, seq, created, title, author, status, canonical)
                     VALUES (?1, ?2, '2026-01-01T00:00:00Z', 't', 't', 'pending', '')",
                    params![plan, i as i64 + 1],
                )
                .unwrap();
            let call = AgentCall {
                agent: a.to_string(),
                session: s.to_string(),
                tool_call: format!("c{i}"),
                tool: "Write".into(),
                plan: Some(plan.to_string()),
                outcome: "planned".into(),
            };
            j.event("t", EventKind::AgentCall, Some(plan), &encode(&call))
                .unwrap();
            j.event(
                "t",
                EventKind::PlanRejected,
                Some(plan),
                &serde_json::json!({}),
            )
            .unwrap();
        }
        let plans_of = |scope: AgentScope| -> Vec<String> {
            let filter = EventFilter {
                agents: scope,
                ..EventFilter::default()
            };
            let mut plans: Vec<String> = j
                .events(&filter)
                .unwrap()
                .map(|e| e.unwrap().plan.unwrap())
                .collect();
            plans.dedup();
            plans
        };
        let scope = |a: Option<&str>, s: Option<&str>| AgentScope {
            agent: a.map(str::to_string),
            session: s.map(str::to_string),
        };
        assert_eq!(plans_of(scope(Some(agent), Some(session))), vec!["p-exact"]);
        assert_eq!(
            plans_of(scope(Some(agent), None)),
            vec!["p-other-session", "p-like-session", "p-exact"]
        );
        assert_eq!(
            plans_of(scope(None, Some(session))),
            vec!["p-like-agent", "p-exact"]
        );
        let stats = j
            .stats_of(None, 1, &scope(Some(agent), Some(session)))
            .unwrap();
        assert_eq!(stats.plans.proposed, 1);
        // The values are parameters, not text of the statement.
        let mut params = Vec::new();
        let sql = scope(Some(agent), Some(session)).call_condition(&mut params);
        assert_eq!(params, vec![agent.to_string(), session.to_string()]);
        assert!(!sql.contains("o'brien") && !sql.contains("100%"), "{sql}");
    }
}
