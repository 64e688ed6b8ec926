//! What the derived tables must hold, recomputed from the hash-chained events alone.
//!
//! Every row of `plans` (status, order, reverses), `runs` (plan, kind, state), `approvals`
//! (who, how, and which run consumed a signed one), `run_exec` (an exec step's recorded
//! effects) and `blobs_extra` (command output kept for a run) is written in the same
//! transaction as the event that justifies it, so the events decide what each must be.
//! [`Replay`] folds the events into those facts: `verify` replays the whole chain and
//! compares every row (any difference is exit 7, naming the table, the row and the value
//! the events give), and the commands that act on one plan or run compare the rows they
//! rely on first ([`check_plan_row`], [`check_running_row`]), or read the events
//! themselves ([`consumed_for_plan`], and the approval gate's terminal approvals), so an
//! edited table can neither pass `verify` nor fool `apply`.

use super::{Journal, RawEvent};
use crate::error::{Error, Result};
use crate::model::{Plan, PlanStatus, RunState};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A plan as its events leave it.
#[derive(Debug, Clone)]
struct PlanFact {
    status: PlanStatus,
    reverses: Option<String>,
    /// The paths a reverse plan covers (`None`: every path of the plan it reverses).
    paths: Option<Vec<String>>,
}

/// A run as its events leave it.
#[derive(Debug, Clone)]
struct RunFact {
    plan: String,
    kind: String,
    state: RunState,
}

/// What identifies an approval row: terminal decisions one row per event; a signed
/// approval one row per (plan, approval id), re-presented files adding events only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ApprovalKey {
    Terminal {
        plan: String,
        principal: String,
        decision: String,
        reason: Option<String>,
    },
    Signed {
        plan: String,
        principal: String,
        approval_id: String,
        key: String,
    },
}

impl ApprovalKey {
    fn describe(&self) -> String {
        match self {
            ApprovalKey::Terminal {
                plan,
                principal,
                decision,
                ..
            } => format!("terminal {decision} of plan {} by {principal}", short(plan)),
            ApprovalKey::Signed {
                plan,
                principal,
                approval_id,
                ..
            } => format!(
                "signed approval {approval_id} of plan {} by {principal}",
                short(plan)
            ),
        }
    }
}

fn short(id: &str) -> &str {
    crate::model::id::short(id)
}

/// The facts the events give, folded event by event in chain order.
#[derive(Default)]
pub struct Replay {
    plans: HashMap<String, PlanFact>,
    /// Plan ids in the order of their `plan.created` events.
    order: Vec<String>,
    /// Reverse plans of each plan, in creation order.
    reversed_by: HashMap<String, Vec<String>>,
    runs: BTreeMap<i64, RunFact>,
    approvals: BTreeMap<ApprovalKey, u32>,
    /// Signed approval ids granted for each plan so far (for legacy commits).
    signed_ids: HashMap<String, BTreeSet<String>>,
    /// (approval id, run) consumed by that run's commit.
    consumed: BTreeSet<(String, i64)>,
    /// Runs committed before commits listed what they consumed: the signed approvals
    /// granted for their plan before the commit are the candidates.
    legacy: HashMap<i64, BTreeSet<String>>,
    /// (run, step, path) -> (before, after) from exec `run.step` events.
    exec: BTreeMap<(i64, i64, String), (Value, Value)>,
    /// (hash, owner) of kept command output.
    outputs: BTreeMap<(String, String), u32>,
    /// Each plan's changed paths, from its stored plan (for rollback coverage).
    change_paths: HashMap<String, Option<BTreeSet<String>>>,
    /// Events that contradict the ones before them.
    pub problems: Vec<String>,
}

const KINDS: &[&[u8]] = &[
    b"plan.created",
    b"approval.granted",
    b"approval.declined",
    b"plan.rejected",
    b"run.started",
    b"run.committed",
    b"run.failed",
    b"run.recovered",
    b"run.step",
];

impl Replay {
    /// Fold one event of the chain, in order. The journal is read for stored plans when a
    /// rollback commits (which paths the plan it reverses changed).
    pub fn feed(&mut self, j: &Journal, e: &RawEvent) {
        self.feed_with(&j.conn, e.seq, e.actor, e.kind, e.plan, e.data);
    }

    /// Fold one event. `conn` is read for stored plans when a rollback commits (which
    /// paths the plan it reverses changed). Events of other kinds cost one comparison.
    fn feed_with(
        &mut self,
        conn: &Connection,
        seq: i64,
        actor: &[u8],
        kind: &[u8],
        plan: Option<&[u8]>,
        data: &[u8],
    ) {
        if !KINDS.contains(&kind) {
            return;
        }
        // Only exec steps matter among run steps (a run has one per change).
        if kind == b"run.step" && !contains(data, b"\"action\":\"exec:") {
            return;
        }
        let plan = plan.map(|p| String::from_utf8_lossy(p).into_owned());
        let Ok(d) = serde_json::from_slice::<Value>(data) else {
            self.problems
                .push(format!("event {seq} has data that is not JSON"));
            return;
        };
        let kind = String::from_utf8_lossy(kind);
        let Some(plan) = plan else {
            self.problems
                .push(format!("event {seq} ({kind}) names no plan"));
            return;
        };
        let run = d.get("run").and_then(Value::as_i64);
        match kind.as_ref() {
            "plan.created" => self.plan_created(seq, plan, &d),
            "approval.granted" | "approval.declined" => {
                self.approval(actor, kind == "approval.granted", plan, &d);
            }
            "plan.rejected" => self.set_status(seq, &plan, PlanStatus::Rejected),
            "run.started" => self.run_started(seq, run, plan, &d),
            "run.committed" | "run.failed" | "run.recovered" => {
                self.run_ended(conn, seq, &kind, run, &plan, &d);
            }
            "run.step" => self.exec_step(seq, run, &d),
            _ => {}
        }
    }

    /// A `plan.created` event: a new pending plan (a reverse plan with the paths it covers).
    fn plan_created(&mut self, seq: i64, plan: String, d: &Value) {
        if self.plans.contains_key(&plan) {
            self.problems
                .push(format!("event {seq} creates plan {} again", short(&plan)));
            return;
        }
        let reverses = text(d, "reverses");
        if let Some(o) = &reverses {
            self.reversed_by
                .entry(o.clone())
                .or_default()
                .push(plan.clone());
        }
        // A list that does not decode covers nothing, and is reported: it must
        // never read as "every path".
        let paths = match d.get("paths") {
            None => None,
            Some(p) => match serde_json::from_value::<Vec<String>>(p.clone()) {
                Ok(ps) => Some(ps),
                Err(_) => {
                    self.problems.push(format!(
                        "event {seq} (plan.created of {}) lists its covered paths in a form that does not decode",
                        short(&plan)
                    ));
                    Some(Vec::new())
                }
            },
        };
        self.plans.insert(
            plan.clone(),
            PlanFact {
                status: PlanStatus::Pending,
                reverses,
                paths,
            },
        );
        self.order.push(plan);
    }

    /// An `approval.granted` or `approval.declined` event: one more approval row is due
    /// (a terminal approval also approves a pending plan).
    fn approval(&mut self, actor: &[u8], granted: bool, plan: String, d: &Value) {
        let principal =
            text(d, "principal").unwrap_or_else(|| String::from_utf8_lossy(actor).into());
        let key = match text(d, "method").as_deref() {
            Some("ssh") => {
                let id = text(d, "approval_id").unwrap_or_default();
                self.signed_ids
                    .entry(plan.clone())
                    .or_default()
                    .insert(id.clone());
                ApprovalKey::Signed {
                    plan,
                    principal,
                    approval_id: id,
                    key: text(d, "key_fingerprint").unwrap_or_default(),
                }
            }
            _ => {
                if granted
                    && let Some(p) = self.plans.get_mut(&plan)
                    && p.status == PlanStatus::Pending
                {
                    p.status = PlanStatus::Approved;
                }
                ApprovalKey::Terminal {
                    plan,
                    principal,
                    decision: if granted { "approve" } else { "decline" }.into(),
                    reason: text(d, "reason"),
                }
            }
        };
        *self.approvals.entry(key).or_default() += 1;
    }

    /// A `run.started` event: a new running run of `plan`.
    fn run_started(&mut self, seq: i64, run: Option<i64>, plan: String, d: &Value) {
        let Some(run) = run else {
            return self
                .problems
                .push(format!("event {seq} (run.started) names no run"));
        };
        if self.runs.contains_key(&run) {
            return self
                .problems
                .push(format!("event {seq} starts run {run} again"));
        }
        self.runs.insert(
            run,
            RunFact {
                plan,
                kind: text(d, "kind").unwrap_or_default(),
                state: RunState::Running,
            },
        );
    }

    /// A `run.committed`, `run.failed` or `run.recovered` event: the running run ends; a
    /// commit also applies the plan (and may roll back the plan it reverses).
    fn run_ended(
        &mut self,
        conn: &Connection,
        seq: i64,
        kind: &str,
        run: Option<i64>,
        plan: &str,
        d: &Value,
    ) {
        // Contents a forced recovery overwrote are kept (gc keeps them).
        if kind == "run.recovered"
            && let Some(run) = run
        {
            self.keep_overwritten(run, d);
        }
        let Some(run) = run else {
            return self
                .problems
                .push(format!("event {seq} ({kind}) names no run"));
        };
        let state = match kind {
            "run.committed" => RunState::Committed,
            "run.failed" => RunState::Failed,
            _ => RunState::Recovered,
        };
        match self.runs.get_mut(&run) {
            Some(r) if r.state == RunState::Running && r.plan == plan => r.state = state,
            _ => {
                return self.problems.push(format!(
                    "event {seq} ({kind}) ends run {run}, which is not a running run of plan {}",
                    short(plan)
                ));
            }
        }
        if state == RunState::Committed {
            self.run_committed(conn, seq, run, plan, d);
        }
    }

    /// The contents a forced recovery of `run` overwrote and kept.
    fn keep_overwritten(&mut self, run: i64, d: &Value) {
        for o in d
            .get("overwritten")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(h) = o.get("kept").and_then(Value::as_str) {
                *self
                    .outputs
                    .entry((h.to_string(), format!("recover:{run}")))
                    .or_default() += 1;
            }
        }
    }

    /// What a commit of `run` records: the approvals it consumed, the command output it
    /// kept, the plan applied (and the plan it reverses perhaps rolled back).
    fn run_committed(&mut self, conn: &Connection, seq: i64, run: i64, plan: &str, d: &Value) {
        match d.get("consumed").and_then(Value::as_array) {
            Some(ids) => {
                for id in ids.iter().filter_map(Value::as_str) {
                    self.consumed.insert((id.to_string(), run));
                }
            }
            None => {
                let candidates = self.signed_ids.get(plan).cloned().unwrap_or_default();
                self.legacy.insert(run, candidates);
            }
        }
        let metrics = d
            .get("exec")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(d.get("verify"));
        for m in metrics {
            if let Some(h) = m.get("output_blob").and_then(Value::as_str) {
                *self
                    .outputs
                    .entry((h.to_string(), format!("run:{run}")))
                    .or_default() += 1;
            }
        }
        self.set_status(seq, plan, PlanStatus::Applied);
        let reverses = self.plans.get(plan).and_then(|p| p.reverses.clone());
        if let Some(orig) = reverses {
            self.mark_reversed(conn, &orig);
        }
    }

    /// An exec `run.step` event: the effect the step had on one path.
    fn exec_step(&mut self, seq: i64, run: Option<i64>, d: &Value) {
        let (Some(run), Some(step), Some(path)) =
            (run, d.get("step").and_then(Value::as_i64), text(d, "path"))
        else {
            return self.problems.push(format!(
                "event {seq} (an exec run.step) lacks its run, step or path"
            ));
        };
        let state = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
        self.exec
            .insert((run, step, path), (state("before"), state("after")));
    }

    fn set_status(&mut self, seq: i64, plan: &str, status: PlanStatus) {
        match self.plans.get_mut(plan) {
            Some(p) => p.status = status,
            None => self.problems.push(format!(
                "event {seq} makes plan {} {status}, but no event created it",
                short(plan)
            )),
        }
    }

    /// As `revert::mark_reversed` does when a reverse plan of `orig` commits: `orig` is
    /// rolled back once its applied reverse plans together cover every path it changed.
    fn mark_reversed(&mut self, conn: &Connection, orig: &str) {
        let paths = self
            .change_paths
            .entry(orig.to_string())
            .or_insert_with(|| stored_paths(conn, orig))
            .clone();
        let Some(paths) = paths else { return };
        let mut covered: BTreeSet<String> = BTreeSet::new();
        for r in self.reversed_by.get(orig).into_iter().flatten() {
            match self.plans.get(r) {
                Some(PlanFact {
                    status: PlanStatus::Applied,
                    paths: None,
                    ..
                }) => {
                    covered.clone_from(&paths);
                    break;
                }
                Some(PlanFact {
                    status: PlanStatus::Applied,
                    paths: Some(ps),
                    ..
                }) => covered.extend(ps.iter().cloned()),
                _ => {}
            }
        }
        if paths.is_subset(&covered)
            && let Some(p) = self.plans.get_mut(orig)
        {
            p.status = PlanStatus::RolledBack;
        }
    }

    /// Compare every derived table with the facts; each difference is one problem.
    pub fn compare(&self, j: &Journal, out: &mut Vec<String>) -> Result<()> {
        let conn = &j.conn;
        out.extend(self.problems.iter().cloned());
        self.compare_covered(conn, out)?;
        self.compare_plans(conn, out)?;
        self.compare_runs(conn, out)?;
        self.compare_approvals(conn, out)?;
        self.compare_exec(conn, out)?;
        self.compare_outputs(conn, out)?;
        Ok(())
    }

    /// Each reverse plan's `reverse_paths` rows hold the paths its `plan.created` event
    /// lists (or, without a list, every path of the plan it reverses).
    fn compare_covered(&self, conn: &Connection, out: &mut Vec<String>) -> Result<()> {
        let mut stmt = conn.prepare("SELECT plan, path FROM reverse_paths")?;
        let mut have: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (plan, path) = row?;
            have.entry(plan).or_default().insert(path);
        }
        for id in &self.order {
            let Some(fact) = self.plans.get(id) else {
                continue;
            };
            let Some(orig) = &fact.reverses else { continue };
            let want: BTreeSet<String> = match &fact.paths {
                Some(ps) => ps.iter().cloned().collect(),
                None => match stored_paths(conn, orig) {
                    Some(ps) => ps,
                    None => continue, // the plan it reverses is reported on its own
                },
            };
            let got = have.remove(id).unwrap_or_default();
            if got != want {
                out.push(format!(
                    "reverse_paths of plan {}: {} rows where its events say {} paths",
                    short(id),
                    got.len(),
                    want.len()
                ));
            }
        }
        for plan in have.keys() {
            out.push(format!(
                "reverse_paths rows of plan {}, which no event made a reverse plan",
                short(plan)
            ));
        }
        Ok(())
    }

    fn compare_plans(&self, conn: &Connection, out: &mut Vec<String>) -> Result<()> {
        let mut stmt = conn.prepare("SELECT id, status, reverses FROM plans ORDER BY seq")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut seen = BTreeSet::new();
        let mut order_reported = false;
        for (i, row) in rows.enumerate() {
            let (id, status, reverses) = row?;
            let Some(fact) = self.plans.get(&id) else {
                out.push(format!(
                    "plans row {}: no plan.created event created it",
                    short(&id)
                ));
                continue;
            };
            seen.insert(id.clone());
            if status != fact.status.as_str() {
                out.push(format!(
                    "plans row {}: status is {status:?}, but the events say {:?}",
                    short(&id),
                    fact.status.as_str()
                ));
            }
            if reverses != fact.reverses {
                out.push(format!(
                    "plans row {}: reverses {:?}, but its plan.created event says {:?}",
                    short(&id),
                    reverses.as_deref().map(short),
                    fact.reverses.as_deref().map(short)
                ));
            }
            if !order_reported && self.order.get(i) != Some(&id) {
                order_reported = true;
                out.push(format!(
                    "plans row {}: its seq puts it at position {} of the plans, but the events created it at position {}",
                    short(&id),
                    i + 1,
                    self.order
                        .iter()
                        .position(|p| *p == id)
                        .map_or("-".to_string(), |p| (p + 1).to_string())
                ));
            }
        }
        for id in &self.order {
            if !seen.contains(id) {
                out.push(format!(
                    "plans: plan {} has a plan.created event but no row",
                    short(id)
                ));
            }
        }
        Ok(())
    }

    fn compare_runs(&self, conn: &Connection, out: &mut Vec<String>) -> Result<()> {
        let mut stmt = conn.prepare("SELECT id, plan, kind, state FROM runs ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        let mut seen = BTreeSet::new();
        for row in rows {
            let (id, plan, kind, state) = row?;
            seen.insert(id);
            let Some(fact) = self.runs.get(&id) else {
                out.push(format!("runs row {id}: no run.started event started it"));
                continue;
            };
            if state != fact.state.as_str() {
                out.push(format!(
                    "runs row {id}: state is {state:?}, but the events say {:?}",
                    fact.state.as_str()
                ));
            }
            if plan != fact.plan || kind != fact.kind {
                out.push(format!(
                    "runs row {id}: a {kind} of plan {}, but the events say a {} of plan {}",
                    short(&plan),
                    fact.kind,
                    short(&fact.plan)
                ));
            }
        }
        for id in self.runs.keys() {
            if !seen.contains(id) {
                out.push(format!("runs: run {id} has a run.started event but no row"));
            }
        }
        Ok(())
    }

    fn compare_approvals(&self, conn: &Connection, out: &mut Vec<String>) -> Result<()> {
        let mut stmt = conn.prepare(
            "SELECT id, plan, principal, method, decision, reason, approval_id, key_fingerprint, consumed_by FROM approvals ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                ApprovalRow {
                    plan: r.get(1)?,
                    principal: r.get(2)?,
                    method: r.get(3)?,
                    decision: r.get(4)?,
                    reason: r.get(5)?,
                    approval_id: r.get(6)?,
                    key: r.get(7)?,
                    consumed_by: r.get(8)?,
                },
            ))
        })?;
        let mut seen = ApprovalsSeen {
            left: self.approvals.iter().map(|(k, n)| (k, *n)).collect(),
            ..ApprovalsSeen::default()
        };
        for row in rows {
            let (id, a) = row?;
            self.compare_approval_row(id, &a, &mut seen, out);
        }
        self.missing_approval_rows(&seen, out);
        Ok(())
    }

    /// One `approvals` row: something autonomy records, justified by an event, and
    /// consumed only by a run whose commit says so.
    fn compare_approval_row<'a>(
        &'a self,
        id: i64,
        a: &ApprovalRow,
        seen: &mut ApprovalsSeen<'a>,
        out: &mut Vec<String>,
    ) {
        let Some(key) = approval_key(id, a, out) else {
            return;
        };
        let journaled = match &key {
            // One row per terminal decision event.
            ApprovalKey::Terminal { .. } => match seen.left.get_mut(&key) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            },
            // One row per signed approval, however often it was presented.
            ApprovalKey::Signed { .. } => {
                let n = seen.rows_of.entry(key.clone()).or_default();
                *n += 1;
                self.approvals.get(&key).is_some_and(|events| *n <= *events)
            }
        };
        if !journaled {
            out.push(format!(
                "approvals row {id} ({}) has no event in the journal: it was added outside autonomy (or edited)",
                key.describe()
            ));
            return;
        }
        match (&key, a.consumed_by) {
            (_, None) => {}
            (ApprovalKey::Terminal { .. }, Some(run)) => out.push(format!(
                "approvals row {id}: a terminal approval marked consumed by run {run}, which autonomy never does"
            )),
            (ApprovalKey::Signed { approval_id, .. }, Some(run)) => {
                let by_events = self.consumed.contains(&(approval_id.clone(), run))
                    || self
                        .legacy
                        .get(&run)
                        .is_some_and(|c| c.contains(approval_id));
                let same_plan = self.runs.get(&run).is_some_and(|r| r.plan == a.plan);
                if !by_events || !same_plan {
                    out.push(format!(
                        "approvals row {id}: consumed_by is run {run}, but the events say run {run} did not consume approval {approval_id}"
                    ));
                }
                seen.consumed_rows.insert((approval_id.clone(), run));
            }
        }
    }

    /// The approval events and consumptions that no `approvals` row holds.
    fn missing_approval_rows(&self, seen: &ApprovalsSeen, out: &mut Vec<String>) {
        for (key, n) in &seen.left {
            if *n > 0 && matches!(key, ApprovalKey::Terminal { .. }) {
                out.push(format!(
                    "approvals: the event of a {} has no row (it was deleted)",
                    key.describe()
                ));
            }
        }
        for key in self.approvals.keys() {
            if matches!(key, ApprovalKey::Signed { .. }) && !seen.rows_of.contains_key(key) {
                out.push(format!(
                    "approvals: the event of a {} has no row (it was deleted)",
                    key.describe()
                ));
            }
        }
        for (approval_id, run) in &self.consumed {
            if !seen.consumed_rows.contains(&(approval_id.clone(), *run)) {
                out.push(format!(
                    "approvals: run {run} consumed approval {approval_id} (its run.committed event says so), but no approvals row has consumed_by = {run} for it"
                ));
            }
        }
    }

    fn compare_exec(&self, conn: &Connection, out: &mut Vec<String>) -> Result<()> {
        let mut stmt = conn.prepare(
            // Only committed runs' rows are effects a rollback replays; a failed or recovered
            // run keeps the changes its commands were observed to make (for undo and
            // recovery), which no run.step event records. The run's state is itself checked
            // against its events.
            "SELECT e.run, e.step, e.path, e.before, e.after FROM run_exec e JOIN runs r ON r.id = e.run
             WHERE e.after IS NOT NULL AND r.state = 'committed' ORDER BY e.run, e.step, e.path",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut seen = BTreeSet::new();
        for row in rows {
            let (run, step, path, before, after) = row?;
            let json = |t: &str| serde_json::from_str::<Value>(t).unwrap_or(Value::Null);
            let key = (run, step, path);
            match self.exec.get(&key) {
                Some((b, a)) if *b == json(&before) && *a == json(&after) => {}
                Some((_, a)) => out.push(format!(
                    "run_exec row (run {run}, step {step}, {}): records {after}, but its run.step event says {a}",
                    key.2
                )),
                None => out.push(format!(
                    "run_exec row (run {run}, step {step}, {}): no run.step event records this exec effect",
                    key.2
                )),
            }
            seen.insert(key);
        }
        for (run, step, path) in self.exec.keys() {
            if !seen.contains(&(*run, *step, path.clone())) {
                out.push(format!(
                    "run_exec: the run.step event of run {run}, step {step}, {path} has no row (rollback would miss it)"
                ));
            }
        }
        Ok(())
    }

    fn compare_outputs(&self, conn: &Connection, out: &mut Vec<String>) -> Result<()> {
        let mut rows: BTreeMap<(String, String), u32> = BTreeMap::new();
        let mut stmt = conn.prepare("SELECT hash, owner FROM blobs_extra")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            *rows.entry(row?).or_default() += 1;
        }
        for ((hash, owner), n) in &rows {
            if self.outputs.get(&(hash.clone(), owner.clone())) != Some(n) {
                out.push(format!(
                    "blobs_extra row ({}, {owner}): the events record {} such output blobs, the table {n}",
                    short(hash),
                    self.outputs.get(&(hash.clone(), owner.clone())).unwrap_or(&0)
                ));
            }
        }
        for ((hash, owner), n) in &self.outputs {
            if !rows.contains_key(&(hash.clone(), owner.clone())) {
                out.push(format!(
                    "blobs_extra: {owner} kept output blob {} ({n}x in its run.committed event) but has no row (gc would delete it)",
                    short(hash)
                ));
            }
        }
        Ok(())
    }
}

/// What [`Replay::compare_approvals`] has matched so far.
#[derive(Default)]
struct ApprovalsSeen<'a> {
    /// Terminal decision events not yet matched by a row.
    left: BTreeMap<&'a ApprovalKey, u32>,
    /// Rows of each signed approval.
    rows_of: BTreeMap<ApprovalKey, u32>,
    /// (approval id, run) of the rows marked consumed.
    consumed_rows: BTreeSet<(String, i64)>,
}

/// What identifies approvals row `id`, or `None` (reported) for a method and decision
/// autonomy never records.
fn approval_key(id: i64, a: &ApprovalRow, out: &mut Vec<String>) -> Option<ApprovalKey> {
    match a.method.as_str() {
        "terminal" => Some(ApprovalKey::Terminal {
            plan: a.plan.clone(),
            principal: a.principal.clone(),
            decision: a.decision.clone(),
            reason: a.reason.clone(),
        }),
        "ssh" if a.decision == "approve" => Some(ApprovalKey::Signed {
            plan: a.plan.clone(),
            principal: a.principal.clone(),
            approval_id: a.approval_id.clone().unwrap_or_default(),
            key: a.key.clone().unwrap_or_default(),
        }),
        other => {
            out.push(format!(
                "approvals row {id}: method {other:?} with decision {:?} is nothing autonomy records",
                a.decision
            ));
            None
        }
    }
}

struct ApprovalRow {
    plan: String,
    principal: String,
    method: String,
    decision: String,
    reason: Option<String>,
    approval_id: Option<String>,
    key: Option<String>,
    consumed_by: Option<i64>,
}

/// The paths plan `id` changes, from its stored encoding (checked against its id).
fn stored_paths(conn: &Connection, id: &str) -> Option<BTreeSet<String>> {
    let canonical: String = conn
        .prepare_cached("SELECT canonical FROM plans WHERE id = ?1")
        .and_then(|mut st| st.query_row([id], |r| r.get(0)))
        .ok()?;
    let plan = Plan::from_canonical(&canonical).ok()?;
    (plan.id() == id).then(|| plan.changes.into_iter().map(|c| c.path).collect())
}

/// The string `d` holds under `k`.
fn text(d: &Value, k: &str) -> Option<String> {
    d.get(k).and_then(Value::as_str).map(str::to_string)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The facts of one plan's own events (through the `events_plan` index). Rollback
/// coverage needs other plans' events, so `applied` here also stands for `rolled_back`.
fn replay_plan(conn: &Connection, plan: &str) -> Result<Replay> {
    let mut r = Replay::default();
    let mut stmt = conn
        .prepare_cached("SELECT seq, actor, kind, data FROM events WHERE plan = ?1 ORDER BY seq")?;
    let mut rows = stmt.query([plan])?;
    while let Some(row) = rows.next()? {
        let kind = row.get_ref(2)?.as_bytes().unwrap_or_default();
        if !KINDS.contains(&kind) {
            continue;
        }
        r.feed_with(
            conn,
            row.get(0)?,
            row.get_ref(1)?.as_bytes().unwrap_or_default(),
            kind,
            Some(plan.as_bytes()),
            row.get_ref(3)?.as_bytes().unwrap_or_default(),
        );
    }
    Ok(r)
}

fn tampered(what: String) -> Error {
    Error::integrity(format!(
        "{what}: the table was changed outside autonomy"
    ))
    .hint("nothing was changed; do not trust this journal: run `autonomy verify`, and restore .autonomy/ from a backup")
}

/// Refuse (exit 7) when the `plans` row of `id` disagrees with the plan's events about
/// whether it may still be applied (pending, approved, rejected, applied). The row and
/// the events are read in one transaction, so a concurrent writer cannot split them.
pub fn check_plan_row(j: &Journal, id: &str) -> Result<()> {
    let tx = j.conn.unchecked_transaction()?;
    let status: Option<String> = tx
        .query_row("SELECT status FROM plans WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    let facts = replay_plan(&tx, id)?;
    drop(tx);
    let Some(status) = status else { return Ok(()) };
    let derived = facts.plans.get(id).map(|p| p.status);
    let agrees = match (PlanStatus::parse(&status), derived) {
        (Some(have), Some(want)) => {
            have == want || (have == PlanStatus::RolledBack && want == PlanStatus::Applied)
        }
        _ => false,
    };
    let derived = derived.map_or("(never created)", PlanStatus::as_str);
    if !agrees {
        return Err(tampered(format!(
            "plan {} is {status:?} in the plans table, but its events say {derived:?}",
            short(id)
        )));
    }
    Ok(())
}

/// Refuse (exit 7) when run `run` of `plan`, marked running in the `runs` table, is not
/// running by its events (a committed run marked running would be undone by `recover`).
pub fn check_running_row(j: &Journal, run: i64, plan: &str) -> Result<()> {
    let tx = j.conn.unchecked_transaction()?;
    let state: Option<String> = tx
        .query_row("SELECT state FROM runs WHERE id = ?1", [run], |r| r.get(0))
        .optional()?;
    let facts = replay_plan(&tx, plan)?;
    drop(tx);
    if state.as_deref() != Some(RunState::Running.as_str()) {
        return Ok(()); // it ended meanwhile
    }
    match facts.runs.get(&run) {
        Some(r) if r.state == RunState::Running => Ok(()),
        Some(r) => Err(tampered(format!(
            "run {run} is \"running\" in the runs table, but its events say {:?}",
            r.state.as_str()
        ))),
        None => Err(tampered(format!(
            "run {run} is \"running\" in the runs table, but no event of plan {} started it",
            short(plan)
        ))),
    }
}

/// The signed approval ids that committed runs of `plan` consumed, by its events. For a
/// run committed before commits listed them, every signed approval granted for the plan
/// before it counts as consumed (the plan cannot be applied again anyway).
pub fn consumed_for_plan(j: &Journal, plan: &str) -> Result<BTreeSet<String>> {
    let facts = replay_plan(&j.conn, plan)?;
    let mut out: BTreeSet<String> = facts.consumed.into_iter().map(|(id, _)| id).collect();
    out.extend(facts.legacy.into_values().flatten());
    Ok(out)
}

/// One terminal approval, read from its `approval.granted` event.
#[derive(Debug, Clone)]
pub struct TerminalApproval {
    pub seq: i64,
    pub principal: String,
    /// The OS user who typed it (absent in events written before it was recorded).
    pub os_uid: Option<u32>,
    pub os_user: Option<String>,
}

/// The terminal approvals of `plan`, from its events (not the approvals table, which
/// anyone who can write the journal file could add rows to without touching the chain).
pub fn terminal_approvals(j: &Journal, plan: &str) -> Result<Vec<TerminalApproval>> {
    let mut stmt = j.conn.prepare_cached(
        "SELECT seq, actor, data FROM events WHERE plan = ?1 AND kind = 'approval.granted' ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![plan], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, actor, data) = row?;
        let Ok(d) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        if d.get("method").and_then(Value::as_str) == Some("ssh") {
            continue;
        }
        out.push(TerminalApproval {
            seq,
            principal: d
                .get("principal")
                .and_then(Value::as_str)
                .map_or(actor, str::to_string),
            os_uid: d
                .get("os_uid")
                .and_then(Value::as_u64)
                .and_then(|u| u32::try_from(u).ok()),
            os_user: d.get("os_user").and_then(Value::as_str).map(str::to_string),
        });
    }
    Ok(out)
}
