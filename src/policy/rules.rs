//! The workspace's policy, `autonomy.toml`: how many approvals a plan needs, which paths
//! need more (or signed ones), which are never to be touched, and resource limits.
//! Every event records the digest of the rules in force.

use crate::error::{Error, Result};
use crate::model::Plan;
use crate::util::hash::sha256_hex;
use globset::GlobMatcher;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    approval: ApprovalSection,
    #[serde(default)]
    rule: Vec<RuleEntry>,
    #[serde(default)]
    limits: LimitsSection,
    #[serde(default)]
    exec: ExecSection,
    #[serde(default)]
    verify: Option<VerifySection>,
    #[serde(default)]
    agents: AgentsSection,
}

/// `[agents]`: how `autonomy hook` treats a coding agent's tool calls.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsSection {
    /// How long a hook waits for a person's decision (default 10m).
    pub wait: Option<String>,
    /// `capture` (the default) or `deny`: what a shell call that may change files gets.
    pub shell: Option<String>,
    /// `wait` (the default) or `defer`: in a headless Claude Code run (`claude -p`), a
    /// file change nobody has decided yet stops the run (`defer`) instead of waiting; the
    /// plan stays pending, and `claude -p --resume SESSION` picks the decision up.
    pub headless: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalSection {
    #[serde(default = "one")]
    required: u32,
    allowed_signers: Option<String>,
}

impl Default for ApprovalSection {
    fn default() -> Self {
        ApprovalSection {
            required: 1,
            allowed_signers: None,
        }
    }
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: String,
    paths: Option<Vec<String>>,
    approvals: Option<u32>,
    #[serde(default)]
    signed: bool,
    #[serde(default)]
    deny: bool,
    risk: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    max_file_bytes: Option<String>,
    max_plan_bytes: Option<String>,
    max_changes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecSection {
    #[serde(default)]
    pub allow: bool,
    #[serde(default)]
    pub commands: Vec<String>,
    pub timeout: Option<String>,
    pub max_output_bytes: Option<String>,
    pub max_memory: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySection {
    pub run: Vec<String>,
    pub timeout: Option<String>,
    #[serde(default)]
    pub writes: Vec<String>,
}

/// Resource bounds, enforced at plan and apply time.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_plan_bytes: u64,
    pub max_changes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 4 << 30,
            max_plan_bytes: 16 << 30,
            max_changes: 1_000_000,
        }
    }
}

/// One `[[rule]]`, with its globs compiled.
#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub paths: Option<Vec<(String, GlobMatcher)>>,
    pub approvals: u32,
    pub signed: bool,
    pub deny: bool,
    pub risk: Option<String>,
}

impl Rule {
    /// Whether the rule covers `path`. Letters match without case, also folded as a
    /// case-insensitive file system folds them: there `Secrets/x` and `ſecrets/x` are
    /// `secrets/x`, and a rule must never be dodged by spelling.
    pub fn matches(&self, path: &str) -> bool {
        match &self.paths {
            None => true,
            Some(globs) => {
                let folded = (!path.is_ascii()).then(|| crate::paths::fold(path));
                globs.iter().any(|(_, g)| {
                    g.is_match(path) || folded.as_deref().is_some_and(|f| g.is_match(f))
                })
            }
        }
    }

    /// Whether some path `glob` can match might be covered by the rule (conservative: when
    /// in doubt, it is).
    pub fn may_match_glob(&self, glob: &str) -> bool {
        match &self.paths {
            None => true,
            Some(globs) => globs
                .iter()
                .any(|(p, _)| crate::paths::overlap::may_overlap(p, glob, true)),
        }
    }

    /// Whether the rule falls on the plan: it has no paths, or one of the plan's changes
    /// or exec `touches` might be covered.
    pub fn applies_to(&self, plan: &Plan) -> bool {
        self.paths.is_none() || !self.covered(plan).is_empty()
    }

    /// The plan's paths and exec `touches` this rule covers, as shown to people.
    fn covered(&self, plan: &Plan) -> Vec<String> {
        let changes = plan
            .changes
            .iter()
            .filter(|c| self.matches(&c.path))
            .map(|c| c.path.clone());
        let touches = plan
            .exec
            .iter()
            .flat_map(|e| e.touches.iter())
            .filter(|t| self.may_match_glob(t))
            .map(|t| format!("exec touches {t}"));
        changes.chain(touches).collect()
    }
}

/// The parsed policy. `Rules::default()` is the policy of a workspace with no rules file.
#[derive(Debug)]
pub struct Rules {
    pub digest: String,
    pub required: u32,
    pub allowed_signers: String,
    pub rules: Vec<Rule>,
    pub limits: Limits,
    pub exec: ExecSection,
    pub verify: Option<VerifySection>,
    pub agents: AgentsSection,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            digest: sha256_hex(b""),
            required: 1,
            allowed_signers: DEFAULT_SIGNERS.to_string(),
            rules: Vec::new(),
            limits: Limits::default(),
            exec: ExecSection::default(),
            verify: None,
            agents: AgentsSection::default(),
        }
    }
}

pub const DEFAULT_SIGNERS: &str = ".autonomy/allowed_signers";

/// Compile a glob with the design's semantics: `*`/`?` within a segment, `**` across, and
/// a pattern without `/` matching the name at any depth (as in `.gitignore`).
pub fn compile_glob(pattern: &str) -> Result<GlobMatcher> {
    crate::paths::compile(pattern, false)
}

/// Parse a size such as `512KiB`, `64MiB`, `1GiB` (or plain bytes).
pub fn parse_size(raw: &str) -> Result<u64> {
    parse_size::Config::new()
        .with_binary()
        .parse_size(raw)
        .map_err(|e| {
            Error::failed(format!(
                "invalid size {raw:?}: {e} (write e.g. 512KiB, 64MiB, 1GiB)"
            ))
        })
}

/// Parse a duration such as `30s`, `10m`, `1h`.
pub fn parse_duration(raw: &str) -> Result<std::time::Duration> {
    humantime::parse_duration(raw).map_err(|e| {
        Error::failed(format!(
            "invalid duration {raw:?}: {e} (write e.g. 30s, 10m, 1h)"
        ))
    })
}

/// The largest rules file read (it is a short policy, never data).
const MAX_RULES_FILE: u64 = 16 << 20;

impl Rules {
    /// Read the rules file at the workspace root; absent means the defaults.
    pub fn load(root: &Path) -> Result<Rules> {
        let path = root.join(crate::paths::RULES_FILE);
        match crate::store::read_config_file(&path, MAX_RULES_FILE) {
            Ok(bytes) => Rules::parse(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Rules::default()),
            Err(e) => Err(Error::io("reading autonomy.toml", e)),
        }
    }

    /// The digest of the rules file as it is on disk, even when it does not parse.
    pub fn digest_on_disk(root: &Path) -> String {
        crate::store::read_config_file(&root.join(crate::paths::RULES_FILE), MAX_RULES_FILE)
            .map(|b| sha256_hex(&b))
            .unwrap_or_else(|_| sha256_hex(b""))
    }

    pub fn parse(bytes: &[u8]) -> Result<Rules> {
        let text = std::str::from_utf8(bytes).map_err(|_| bad("is not UTF-8".into()))?;
        let file: RulesFile = toml::from_str(text)
            .map_err(|e| bad(crate::error::clip_lines(e.to_string().trim_end(), 200)))?;
        let rules = file
            .rule
            .into_iter()
            .map(compile_rule)
            .collect::<Result<Vec<_>>>()?;
        let limits = compile_limits(&file.limits)?;
        check_exec(&file.exec)?;
        check_agents(&file.agents)?;
        if let Some(v) = &file.verify {
            check_verify(v)?;
        }
        let signers = normalise_signers(file.approval.allowed_signers)?;
        Ok(Rules {
            digest: sha256_hex(bytes),
            required: file.approval.required,
            allowed_signers: signers,
            rules,
            limits,
            exec: file.exec,
            verify: file.verify,
            agents: file.agents,
        })
    }

    /// The longest an exec step may run (`[exec] timeout`, default 10m).
    pub fn exec_timeout(&self) -> Result<std::time::Duration> {
        match &self.exec.timeout {
            Some(t) => parse_duration(t),
            None => Ok(std::time::Duration::from_secs(600)),
        }
    }

    /// How long `autonomy hook` waits for a decision (`[agents] wait`, default 10m).
    pub fn agents_wait(&self) -> std::time::Duration {
        self.agents
            .wait
            .as_deref()
            .and_then(|w| parse_duration(w).ok())
            .unwrap_or(std::time::Duration::from_secs(600))
    }

    /// `[agents] headless = "defer"`: a headless agent run stops on an undecided change
    /// (Claude Code's `defer`) instead of waiting for it.
    pub fn agents_defer(&self) -> bool {
        self.agents.headless.as_deref() == Some("defer")
    }

    /// Output kept in the journal per command (`[exec] max_output_bytes`, default 1MiB).
    pub fn exec_max_output(&self) -> Result<u64> {
        self.exec
            .max_output_bytes
            .as_deref()
            .map_or(Ok(1 << 20), parse_size)
    }

    /// `[exec] max_memory` in bytes, when set.
    pub fn exec_memory_limit(&self) -> Result<Option<u64>> {
        self.exec.max_memory.as_deref().map(parse_size).transpose()
    }

    /// Re-check a stored plan against the limits in force now (they may have tightened
    /// since it was planned). `size` gives a blob's size.
    pub fn check_limits(&self, plan: &Plan, size: &dyn Fn(&str) -> Option<u64>) -> Result<()> {
        let l = &self.limits;
        if plan.changes.len() as u64 > l.max_changes {
            return Err(Error::failed(format!(
                "the plan has {} changes, over the limit max_changes ({}) in autonomy.toml",
                plan.changes.len(),
                l.max_changes
            )));
        }
        let mut total = 0u64;
        for c in &plan.changes {
            if let Some(h) = c.after.file_hash()
                && c.before.file_hash() != Some(h)
            {
                let n = size(h).unwrap_or(0);
                if n > l.max_file_bytes {
                    return Err(Error::failed(format!(
                        "{} would be {n} bytes, over the limit max_file_bytes ({}) in autonomy.toml",
                        c.path, l.max_file_bytes
                    )));
                }
                total += n;
            }
        }
        if total > l.max_plan_bytes {
            return Err(Error::failed(format!(
                "the plan writes {total} bytes, over the limit max_plan_bytes ({}) in autonomy.toml",
                l.max_plan_bytes
            )));
        }
        Ok(())
    }

    /// Refuse a plan that changes a path a `deny` rule covers, or whose exec `touches`
    /// might (glob against glob, conservatively).
    pub fn check_denied(&self, plan: &Plan) -> Result<()> {
        for rule in self.rules.iter().filter(|r| r.deny) {
            if let Some(c) = plan.changes.iter().find(|c| rule.matches(&c.path)) {
                return Err(Error::failed(format!("rule {:?} denies any change to {}", rule.name, c.path))
                    .hint("leave that path out of the plan; the rules file says it is never changed by autonomy"));
            }
            if let Some(t) = plan
                .exec
                .iter()
                .flat_map(|e| e.touches.iter())
                .find(|t| rule.may_match_glob(t))
            {
                return Err(Error::failed(format!(
                    "rule {:?} denies any change to {}, and exec `touches` {t:?} might match such a path",
                    rule.name,
                    rule.paths.iter().flatten().map(|(p, _)| p.as_str()).collect::<Vec<_>>().join(", ")
                ))
                .hint("narrow `touches` so that it cannot match a denied path (for example \"gen/**\" instead of \"**\")"));
            }
        }
        Ok(())
    }

    /// What a plan needs: the base requirement, and each matching rule's own. `risk` is the
    /// plan's level (see `crate::policy::risk`); a rule with `risk = "X"` applies at level X *or
    /// above*, so a higher level only ever adds requirements and never drops one.
    pub fn requirements(&self, plan: &Plan, risk: Option<&str>) -> Vec<Requirement> {
        let mut out = vec![Requirement {
            name: "default".into(),
            approvals: self.required,
            signed: false,
            paths: Vec::new(),
        }];
        for rule in self.rules.iter().filter(|r| !r.deny) {
            if let Some(level) = &rule.risk
                && !at_least(risk, level)
            {
                continue;
            }
            // A rule without paths covers the whole plan; listing every path says nothing.
            // Exec `touches` count like changes: a glob that might reach a covered path
            // brings the rule in.
            let paths: Vec<String> = match &rule.paths {
                None => Vec::new(),
                Some(_) => rule.covered(plan),
            };
            if rule.paths.is_some() && paths.is_empty() {
                continue;
            }
            out.push(Requirement {
                name: rule.name.clone(),
                approvals: rule.approvals.max(1),
                signed: rule.signed,
                paths,
            });
        }
        out
    }
}

/// A rules file that cannot be used: `msg` and where to read its format.
fn bad(msg: String) -> Error {
    Error::failed(format!("autonomy.toml: {msg}"))
        .hint("fix the rules file; see its format: `autonomy help rules-file` (or `man 5 autonomy-rules`)")
}

/// One `[[rule]]`, its globs compiled and its risk level checked.
fn compile_rule(r: RuleEntry) -> Result<Rule> {
    let paths = match r.paths {
        None => None,
        Some(ps) => Some(
            ps.iter()
                .map(|p| crate::paths::compile(p, true).map(|g| (p.clone(), g)))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| bad(format!("rule {:?}: {}", r.name, e.message)))?,
        ),
    };
    if let Some(risk) = &r.risk
        && !["low", "medium", "high"].contains(&risk.as_str())
    {
        return Err(bad(format!(
            "rule {:?}: risk must be \"low\", \"medium\" or \"high\"",
            r.name
        )));
    }
    Ok(Rule {
        name: r.name,
        paths,
        approvals: r.approvals.unwrap_or(0),
        signed: r.signed,
        deny: r.deny,
        risk: r.risk,
    })
}

/// `[limits]`, each absent one at its default.
fn compile_limits(l: &LimitsSection) -> Result<Limits> {
    let d = Limits::default();
    let size = |v: &Option<String>, dflt: u64| -> Result<u64> {
        v.as_deref()
            .map(parse_size)
            .transpose()
            .map(|o| o.unwrap_or(dflt))
            .map_err(|e| bad(e.message))
    };
    Ok(Limits {
        max_file_bytes: size(&l.max_file_bytes, d.max_file_bytes)?,
        max_plan_bytes: size(&l.max_plan_bytes, d.max_plan_bytes)?,
        max_changes: l.max_changes.unwrap_or(d.max_changes),
    })
}

/// `[exec]`: its duration and sizes parse.
fn check_exec(e: &ExecSection) -> Result<()> {
    for v in [&e.timeout].into_iter().flatten() {
        parse_duration(v).map_err(|e| bad(e.message))?;
    }
    for v in [&e.max_output_bytes, &e.max_memory].into_iter().flatten() {
        parse_size(v).map_err(|e| bad(e.message))?;
    }
    Ok(())
}

/// `[agents]`: its wait parses, its shell and headless are known values.
fn check_agents(a: &AgentsSection) -> Result<()> {
    if let Some(w) = &a.wait {
        parse_duration(w).map_err(|e| bad(format!("[agents] wait: {}", e.message)))?;
    }
    if let Some(sh) = &a.shell
        && !["capture", "deny"].contains(&sh.as_str())
    {
        return Err(bad("[agents] shell must be \"capture\" or \"deny\"".into()));
    }
    if let Some(h) = &a.headless
        && !["wait", "defer"].contains(&h.as_str())
    {
        return Err(bad("[agents] headless must be \"wait\" or \"defer\"".into()));
    }
    Ok(())
}

/// `[verify]`: a command, a timeout that parses, write globs that compile.
fn check_verify(v: &VerifySection) -> Result<()> {
    if v.run.is_empty() {
        return Err(bad("[verify] run must name a command".into()));
    }
    if let Some(t) = &v.timeout {
        parse_duration(t).map_err(|e| bad(e.message))?;
    }
    crate::paths::Globs::new(&v.writes)
        .map_err(|e| bad(format!("[verify] writes: {}", e.message)))?;
    Ok(())
}

/// `[approval] allowed_signers` (default [`DEFAULT_SIGNERS`]), normalised.
fn normalise_signers(signers: Option<String>) -> Result<String> {
    let signers = signers.unwrap_or_else(|| DEFAULT_SIGNERS.to_string());
    // The signers file may live in .autonomy/ (the default) or anywhere in the workspace.
    // Keep it normalised, as plan paths are, so that a plan changing it is recognised
    // as a policy change however the rules spell it.
    let signers_bad = |e: Error| bad(format!("[approval] allowed_signers: {}", e.message));
    Ok(match signers.strip_prefix(".autonomy/") {
        Some(rest) => format!(
            ".autonomy/{}",
            crate::paths::RelPath::parse(rest).map_err(signers_bad)?
        ),
        None => crate::paths::RelPath::parse(&signers)
            .map_err(signers_bad)?
            .to_string(),
    })
}

/// Whether the plan's level `risk` (unknown counts as low) reaches the rule's `level`.
fn at_least(risk: Option<&str>, level: &str) -> bool {
    use crate::policy::risk::Level;
    let have = risk.and_then(Level::parse).unwrap_or(Level::Low);
    Level::parse(level).is_some_and(|want| have >= want)
}

/// One thing a plan needs before it may be applied.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Requirement {
    pub name: String,
    pub approvals: u32,
    pub signed: bool,
    /// The plan's paths this rule matched (empty for the default requirement).
    pub paths: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_gitignore() {
        let g = compile_glob("*.tf").unwrap();
        assert!(g.is_match("main.tf") && g.is_match("infra/prod/main.tf"));
        let g = compile_glob("deploy/**").unwrap();
        assert!(g.is_match("deploy/a/b.yml") && !g.is_match("x/deploy/a"));
        let g = compile_glob("src/*.rs").unwrap();
        assert!(g.is_match("src/a.rs") && !g.is_match("src/x/a.rs"));
        let g = compile_glob(".env*").unwrap();
        assert!(g.is_match(".env") && g.is_match("app/.env.local"));
    }

    #[test]
    fn risk_rules_apply_at_their_level_or_above() {
        let rules = Rules::parse(b"[[rule]]\nname = \"risky\"\nrisk = \"medium\"\napprovals = 2\n")
            .unwrap();
        let plan = Plan {
            format: crate::model::plan::PLAN_FORMAT.into(),
            workspace: "w".into(),
            created: "t".into(),
            title: "t".into(),
            author: "a".into(),
            description: None,
            reverses: None,
            changes: Vec::new(),
            exec: Vec::new(),
        };
        let names = |risk| {
            rules
                .requirements(&plan, risk)
                .into_iter()
                .map(|r| r.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(None), ["default"]);
        assert_eq!(names(Some("low")), ["default"]);
        assert_eq!(names(Some("medium")), ["default", "risky"]);
        assert_eq!(names(Some("high")), ["default", "risky"]);
    }

    #[test]
    fn signers_path_is_normalised() {
        for (raw, want) in [
            ("./config/allowed_signers", "config/allowed_signers"),
            ("config//x/../allowed_signers", "config/allowed_signers"),
            (".autonomy/./allowed_signers", ".autonomy/allowed_signers"),
        ] {
            let toml = format!("[approval]\nallowed_signers = {raw:?}\n");
            assert_eq!(Rules::parse(toml.as_bytes()).unwrap().allowed_signers, want);
        }
        assert_eq!(Rules::default().allowed_signers, DEFAULT_SIGNERS);
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_duration("10m").unwrap().as_secs(), 600);
        assert!(parse_size("lots").is_err());
    }
}
