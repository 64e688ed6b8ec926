//! The workspace's policy, `autonomy.toml`: how many approvals a plan needs, which paths
//! need more (or signed ones), which are never to be touched, and resource limits.
//! Every event records the digest of the rules in force.

use crate::error::{Error, Result};
use crate::hash::sha256_hex;
use crate::plan::Plan;
use globset::{Glob, GlobBuilder, GlobMatcher};
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
    pub fn matches(&self, path: &str) -> bool {
        match &self.paths {
            None => true,
            Some(globs) => globs.iter().any(|(_, g)| g.is_match(path)),
        }
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
        }
    }
}

pub const DEFAULT_SIGNERS: &str = ".autonomy/allowed_signers";

/// Compile a glob with the design's semantics: `*`/`?` within a segment, `**` across, and
/// a pattern without `/` matching the name at any depth (as in `.gitignore`).
pub fn compile_glob(pattern: &str) -> Result<GlobMatcher> {
    let trimmed = pattern.trim_start_matches('/');
    let full = if pattern.contains('/') {
        trimmed.trim_end_matches('/').to_string()
    } else {
        format!("**/{trimmed}")
    };
    let glob: Glob = GlobBuilder::new(&full)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| Error::failed(format!("invalid glob {pattern:?}: {e}")))?;
    Ok(glob.compile_matcher())
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
        let path = root.join(crate::workspace::RULES_FILE);
        match crate::store::read_config_file(&path, MAX_RULES_FILE) {
            Ok(bytes) => Rules::parse(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Rules::default()),
            Err(e) => Err(Error::io("reading autonomy.toml", e)),
        }
    }

    /// The digest of the rules file as it is on disk, even when it does not parse.
    pub fn digest_on_disk(root: &Path) -> String {
        crate::store::read_config_file(&root.join(crate::workspace::RULES_FILE), MAX_RULES_FILE)
            .map(|b| sha256_hex(&b))
            .unwrap_or_else(|_| sha256_hex(b""))
    }

    pub fn parse(bytes: &[u8]) -> Result<Rules> {
        let bad = |msg: String| {
            Error::failed(format!("autonomy.toml: {msg}"))
                .hint("fix the rules file; see README.md, \"Rules\"")
        };
        let text = std::str::from_utf8(bytes).map_err(|_| bad("is not UTF-8".into()))?;
        let file: RulesFile = toml::from_str(text)
            .map_err(|e| bad(crate::error::clip_lines(e.to_string().trim_end(), 200)))?;
        let mut rules = Vec::new();
        for r in file.rule {
            let paths = match r.paths {
                None => None,
                Some(ps) => Some(
                    ps.iter()
                        .map(|p| compile_glob(p).map(|g| (p.clone(), g)))
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
            rules.push(Rule {
                name: r.name,
                paths,
                approvals: r.approvals.unwrap_or(0),
                signed: r.signed,
                deny: r.deny,
                risk: r.risk,
            });
        }
        let d = Limits::default();
        let size = |v: &Option<String>, dflt: u64| -> Result<u64> {
            v.as_deref()
                .map(parse_size)
                .transpose()
                .map(|o| o.unwrap_or(dflt))
                .map_err(|e| bad(e.message))
        };
        let limits = Limits {
            max_file_bytes: size(&file.limits.max_file_bytes, d.max_file_bytes)?,
            max_plan_bytes: size(&file.limits.max_plan_bytes, d.max_plan_bytes)?,
            max_changes: file.limits.max_changes.unwrap_or(d.max_changes),
        };
        for v in [&file.exec.timeout].into_iter().flatten() {
            parse_duration(v).map_err(|e| bad(e.message))?;
        }
        for v in [&file.exec.max_output_bytes, &file.exec.max_memory]
            .into_iter()
            .flatten()
        {
            parse_size(v).map_err(|e| bad(e.message))?;
        }
        if let Some(v) = &file.verify {
            if v.run.is_empty() {
                return Err(bad("[verify] run must name a command".into()));
            }
            if let Some(t) = &v.timeout {
                parse_duration(t).map_err(|e| bad(e.message))?;
            }
        }
        let signers = file
            .approval
            .allowed_signers
            .unwrap_or_else(|| DEFAULT_SIGNERS.to_string());
        // The signers file may live in .autonomy/ (the default) or anywhere in the workspace.
        let inside_state = signers
            .strip_prefix(".autonomy/")
            .map(crate::workspace::RelPath::parse);
        match inside_state {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(bad(format!("[approval] allowed_signers: {}", e.message))),
            None => {
                crate::workspace::RelPath::parse(&signers)
                    .map_err(|e| bad(format!("[approval] allowed_signers: {}", e.message)))?;
            }
        }
        Ok(Rules {
            digest: sha256_hex(bytes),
            required: file.approval.required,
            allowed_signers: signers,
            rules,
            limits,
            exec: file.exec,
            verify: file.verify,
        })
    }

    /// Refuse a plan that touches a path a `deny` rule covers.
    pub fn check_denied(&self, plan: &Plan) -> Result<()> {
        for rule in self.rules.iter().filter(|r| r.deny) {
            if let Some(c) = plan.changes.iter().find(|c| rule.matches(&c.path)) {
                return Err(Error::failed(format!("rule {:?} denies any change to {}", rule.name, c.path))
                    .hint("leave that path out of the plan; the rules file says it is never changed by autonomy"));
            }
        }
        Ok(())
    }

    /// What a plan needs: the base requirement, and each matching rule's own.
    pub fn requirements(&self, plan: &Plan, risk: Option<&str>) -> Vec<Requirement> {
        let mut out = vec![Requirement {
            name: "default".into(),
            approvals: self.required,
            signed: false,
            paths: Vec::new(),
        }];
        for rule in self.rules.iter().filter(|r| !r.deny) {
            if let Some(level) = &rule.risk
                && Some(level.as_str()) != risk
            {
                continue;
            }
            let paths: Vec<String> = plan
                .changes
                .iter()
                .filter(|c| rule.matches(&c.path))
                .map(|c| c.path.clone())
                .collect();
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
    fn sizes_and_durations() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_duration("10m").unwrap().as_secs(), 600);
        assert!(parse_size("lots").is_err());
    }
}
