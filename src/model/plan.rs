//! The stored plan: every change as `path, before, after`, encoded canonically so that its
//! sha256 is the plan id. What is approved is this encoding, byte for byte.

use crate::error::{Error, Result};
use crate::model::PlanId;
use crate::paths::RelPath;
use crate::util::hash::{is_sha256_hex, sha256_hex};
use serde::{Deserialize, Serialize};

pub const PLAN_FORMAT: &str = "autonomy-plan-v1";

/// What a path holds: nothing, a directory, a file with its content hash and permission
/// bits, or a symbolic link with its target (recorded verbatim, never followed).
///
/// A new variant encodes as `{"kind":"symlink","target":...}`; the encodings of the
/// older variants are unchanged, so stored plans keep their ids.
///
/// A folder's mode is recorded when known (`{"kind":"dir","mode":448}`); a folder
/// recorded without one (plans made before modes were) encodes as before and compares
/// equal to a folder of any mode.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum State {
    Absent,
    Dir {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mode: Option<u32>,
    },
    File {
        sha256: String,
        mode: u32,
    },
    Symlink {
        target: String,
    },
}

impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        match (self, other) {
            (State::Absent, State::Absent) => true,
            (State::Dir { mode: a }, State::Dir { mode: b }) => {
                a.is_none() || b.is_none() || a == b
            }
            (State::File { sha256: a, mode: m }, State::File { sha256: b, mode: n }) => {
                a == b && m == n
            }
            (State::Symlink { target: a }, State::Symlink { target: b }) => a == b,
            _ => false,
        }
    }
}
impl Eq for State {}

/// The mode a folder gets when none is recorded (a new folder, or a plan from before
/// folder modes).
pub const DEFAULT_DIR_MODE: u32 = 0o755;

/// The longest symlink target a plan records (Linux's PATH_MAX less the NUL).
pub const MAX_LINK_TARGET: usize = 4095;

/// Whether `target` can be the target of a link a plan makes: not empty, no NUL, bounded.
/// Where it points is not checked here (a link is never followed); absolute or escaping
/// targets are risk notes (`policy::risk`).
pub fn valid_link_target(target: &str) -> bool {
    !target.is_empty() && target.len() <= MAX_LINK_TARGET && !target.contains('\0')
}

impl State {
    pub fn file_hash(&self) -> Option<&str> {
        match self {
            State::File { sha256, .. } => Some(sha256),
            _ => None,
        }
    }
    pub fn mode(&self) -> Option<u32> {
        match self {
            State::File { mode, .. } => Some(*mode),
            _ => None,
        }
    }
    /// The permission bits, of a file or of a folder whose mode is recorded.
    pub fn perm(&self) -> Option<u32> {
        match self {
            State::File { mode, .. } | State::Dir { mode: Some(mode) } => Some(*mode),
            _ => None,
        }
    }
    /// A folder of unknown mode (compares equal to any folder).
    pub fn dir() -> State {
        State::Dir { mode: None }
    }
    /// The mode to give this folder when it is made (or remade).
    pub fn dir_mode(&self) -> u32 {
        match self {
            State::Dir { mode: Some(m) } => *m,
            _ => DEFAULT_DIR_MODE,
        }
    }
    pub fn is_absent(&self) -> bool {
        matches!(self, State::Absent)
    }
    pub fn is_dir(&self) -> bool {
        matches!(self, State::Dir { .. })
    }
    pub fn link_target(&self) -> Option<&str> {
        match self {
            State::Symlink { target } => Some(target),
            _ => None,
        }
    }
    pub fn describe(&self) -> String {
        match self {
            State::Absent => "absent".into(),
            State::Dir { mode: None } => "a directory".into(),
            State::Dir { mode: Some(m) } => format!("a directory mode {m:04o}"),
            State::File { sha256, mode } => {
                format!("file {} mode {:04o}", &sha256[..12.min(sha256.len())], mode)
            }
            State::Symlink { target } => format!(
                "a symlink -> {}",
                crate::error::clip_lines(&format!("{target:?}"), 200)
            ),
        }
    }
}

/// One path's transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub path: String,
    pub before: State,
    pub after: State,
    /// For a moved file: where its content came from (shown in the preview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl Change {
    /// What this change does, in one word.
    pub fn verb(&self) -> &'static str {
        match (&self.before, &self.after) {
            (State::Absent, State::Dir { .. }) => "mkdir",
            (State::Dir { mode: Some(a) }, State::Dir { mode: Some(b) }) if a != b => "chmod",
            (State::Dir { .. }, State::Absent) => "rmdir",
            (State::Absent, State::File { .. }) if self.from.is_some() => "move",
            (State::Absent, State::File { .. }) => "create",
            (State::File { .. }, State::Absent) => "delete",
            (State::File { sha256: a, .. }, State::File { sha256: b, .. }) if a == b => "chmod",
            (State::File { .. }, State::File { .. }) => "modify",
            (State::Absent, State::Symlink { .. }) if self.from.is_some() => "move",
            (State::Absent, State::Symlink { .. }) => "link",
            (State::Symlink { .. }, State::Absent) => "unlink",
            (State::Symlink { .. }, State::Symlink { .. }) => "relink",
            (State::File { .. }, State::Symlink { .. }) => "to-link",
            (State::Symlink { .. }, State::File { .. }) => "to-file",
            _ => "change",
        }
    }
    pub fn rel(&self) -> Result<RelPath> {
        RelPath::from_stored(&self.path)
    }
}

/// A compiled plan. Its id is the sha256 of [`Plan::canonical`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub format: String,
    pub workspace: String,
    pub created: String,
    pub title: String,
    pub author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The plan this one reverses (a rollback plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverses: Option<PlanId>,
    pub changes: Vec<Change>,
    #[serde(default)]
    pub exec: Vec<ExecStep>,
}

/// A command run as a plan step, after the file changes. Everything that decides what it
/// does is part of the plan id: the exact argv, working folder, environment, timeout and the
/// paths it may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecStep {
    pub run: Vec<String>,
    /// The absolute path `run[0]` resolved to at plan time, against the planner's `PATH`
    /// (relative entries and entries inside the workspace skipped), so that the plan id
    /// names the binary that runs. Plans made before it was recorded have none; they can
    /// be read but not applied (plan them again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// Workspace-relative working folder ("" for the root).
    pub cwd: String,
    pub env: std::collections::BTreeMap<String, String>,
    pub timeout_ms: u64,
    /// Globs of the paths it may change.
    pub touches: Vec<String>,
}

impl Plan {
    /// The canonical encoding: compact JSON with fields in declaration order.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn id(&self) -> crate::model::PlanId {
        crate::model::PlanId::from_digest(sha256_hex(self.canonical().as_bytes()))
    }

    /// Decode a canonical encoding read back from the journal or a bundle (untrusted):
    /// the id is recomputed and every path and hash validated.
    pub fn from_canonical(text: &str) -> Result<Plan> {
        let plan: Plan = serde_json::from_str(text)
            .map_err(|e| Error::integrity(format!("a stored plan does not decode: {e}")))?;
        if plan.format != PLAN_FORMAT {
            return Err(Error::integrity(format!(
                "unknown plan format {:?}",
                plan.format
            )));
        }
        if plan.canonical() != text {
            return Err(Error::integrity("a stored plan is not in canonical form"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &plan.changes {
            // The compiler writes each path once, normalised; rules match the path as
            // written and the engine acts on the normalised one, so they must agree.
            let rel = RelPath::from_stored(&c.path)?;
            if rel.as_str() != c.path || !seen.insert(c.path.as_str()) {
                return Err(Error::integrity(format!(
                    "plan records the path {} {}",
                    crate::error::clip_lines(&format!("{:?}", c.path), 200),
                    if rel.as_str() != c.path {
                        format!("which is not in normal form ({rel})")
                    } else {
                        "twice".to_string()
                    }
                )));
            }
            for s in [&c.before, &c.after] {
                let bad = match s {
                    State::File { sha256, mode } => !is_sha256_hex(sha256) || *mode > 0o7777,
                    State::Symlink { target } => !valid_link_target(target),
                    State::Dir { mode: Some(m) } => *m > 0o7777,
                    _ => false,
                };
                if bad {
                    return Err(Error::integrity(format!(
                        "plan records an invalid state for {}",
                        c.path
                    )));
                }
            }
        }
        for step in &plan.exec {
            step.check_paths().map_err(|e| {
                Error::integrity(format!("a stored exec step is invalid: {}", e.message))
            })?;
        }
        Ok(plan)
    }

    /// The 12-digit id shown to people.
    pub fn short_id(&self) -> String {
        self.id().short().to_string()
    }

    /// Does this plan change the policy (rules or allowed signers)? The changes that do,
    /// compared without case (a case-insensitive file system has one such file per name).
    pub fn policy_paths(&self, signers_path: &str) -> Vec<&Change> {
        self.changes
            .iter()
            .filter(|c| is_policy_path(&c.path, signers_path))
            .collect()
    }

    /// The exec `touches` globs that might match the rules or the allowed-signers file:
    /// such a plan can change the policy too, and is judged and marked as a policy change.
    pub fn policy_globs(&self, signers_path: &str) -> Vec<&str> {
        // Globs never cover a state folder, so a signers file inside .autonomy/ is out of reach.
        let policy: Vec<&str> = [crate::paths::RULES_FILE, signers_path]
            .into_iter()
            .filter(|p| !crate::paths::names_state(p))
            .collect();
        self.exec
            .iter()
            .flat_map(|e| e.touches.iter())
            .filter(|g| {
                policy
                    .iter()
                    .any(|p| crate::paths::overlap::may_match(g, p, true))
            })
            .map(String::as_str)
            .collect()
    }
}

/// Whether `path` is the rules file or the allowed-signers file, in any case spelling
/// (folded as a case-insensitive file system folds names).
pub fn is_policy_path(path: &str, signers_path: &str) -> bool {
    use crate::paths::fold;
    let path = fold(path);
    path == fold(crate::paths::RULES_FILE) || path == fold(signers_path)
}

impl ExecStep {
    /// The path checks of a stored step (its `cwd` and `touches`), as at plan time.
    pub fn check_paths(&self) -> Result<()> {
        if !self.cwd.is_empty() {
            let rel = RelPath::parse(&self.cwd)?;
            if rel.as_str() != self.cwd {
                return Err(Error::failed(format!(
                    "exec cwd {} is not in normal form ({rel})",
                    crate::paths::shown(&self.cwd)
                )));
            }
        }
        crate::paths::Globs::new(&self.touches)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with(exec: &str) -> String {
        format!(
            r#"{{"format":"autonomy-plan-v1","workspace":"w","created":"t","title":"t","author":"a","changes":[],"exec":[{exec}]}}"#
        )
    }

    #[test]
    fn plans_made_before_the_program_was_recorded_still_read_with_their_id() {
        let old = plan_with(
            r#"{"run":["sh","-c","true"],"cwd":"","env":{},"timeout_ms":1000,"touches":["gen/**"]}"#,
        );
        let plan = Plan::from_canonical(&old).expect("an old plan reads");
        assert_eq!(plan.exec[0].program, None);
        assert_eq!(
            plan.canonical(),
            old,
            "its encoding, and so its id, is unchanged"
        );
        let new = plan_with(
            r#"{"run":["sh"],"program":"/bin/sh","cwd":"","env":{},"timeout_ms":1000,"touches":[]}"#,
        );
        let plan = Plan::from_canonical(&new).expect("a new plan reads");
        assert_eq!(plan.exec[0].program.as_deref(), Some("/bin/sh"));
    }

    #[test]
    fn stored_plans_keep_their_encoding_and_id_and_new_states_round_trip() {
        let changes = r#"[{"path":"d","before":{"kind":"absent"},"after":{"kind":"dir"}},{"path":"f","before":{"kind":"file","sha256":"0000000000000000000000000000000000000000000000000000000000000000","mode":420},"after":{"kind":"absent"}}]"#;
        let old = format!(
            r#"{{"format":"autonomy-plan-v1","workspace":"w","created":"t","title":"t","author":"a","changes":{changes},"exec":[]}}"#
        );
        let plan = Plan::from_canonical(&old).expect("an old plan reads");
        assert_eq!(
            plan.canonical(),
            old,
            "a folder without a mode encodes as before"
        );
        assert_eq!(plan.changes[0].after, State::Dir { mode: Some(0o700) });
        let new = old
            .replace(r#"{"kind":"dir"}"#, r#"{"kind":"dir","mode":448}"#)
            .replace(
                r#""after":{"kind":"absent"}"#,
                r#""after":{"kind":"symlink","target":"../x"}"#,
            );
        let plan = Plan::from_canonical(&new).expect("a new plan reads");
        assert_eq!(plan.canonical(), new);
        assert_eq!(plan.changes[0].after.dir_mode(), 0o700);
        assert_eq!(plan.changes[1].after.link_target(), Some("../x"));
        for bad in [
            r#"{"kind":"symlink","target":""}"#,
            r#"{"kind":"dir","mode":70000}"#,
        ] {
            let text = old.replace(r#"{"kind":"dir"}"#, bad);
            assert!(Plan::from_canonical(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_exec_paths_are_checked() {
        for bad in [
            r#"{"run":["sh"],"cwd":"../x","env":{},"timeout_ms":1,"touches":[]}"#,
            r#"{"run":["sh"],"cwd":"a/./b","env":{},"timeout_ms":1,"touches":[]}"#,
            r#"{"run":["sh"],"cwd":"","env":{},"timeout_ms":1,"touches":["x/../.autonomy/allowed_signers"]}"#,
            r#"{"run":["sh"],"cwd":"","env":{},"timeout_ms":1,"touches":["../elsewhere/**"]}"#,
        ] {
            assert!(Plan::from_canonical(&plan_with(bad)).is_err(), "{bad}");
        }
    }
}
