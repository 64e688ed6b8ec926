//! What an exec step may be: a command the rules allow, named by the absolute path it
//! resolved to at plan time, with bounded arguments and an environment that cannot
//! choose another program or inject code into a loader, shell or interpreter. Checked
//! when the plan is made and again before it is applied (the stored plan is untrusted).

use crate::error::{Error, Result};
use crate::model::plan::ExecStep;
use crate::paths::{forbidden_char, shown};
use crate::policy::rules::Rules;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// At most this many arguments (`run`), each at most [`MAX_ARG_BYTES`].
pub const MAX_ARGS: usize = 4096;
pub const MAX_ARG_BYTES: usize = 128 << 10;
/// At most this many `env` variables; names and values bounded.
pub const MAX_ENV_VARS: usize = 256;
pub const MAX_ENV_NAME_BYTES: usize = 128;
pub const MAX_ENV_VALUE_BYTES: usize = 32 << 10;
/// Arguments and `env` of one step together (the kernel's own limit is about 2 MiB).
pub const MAX_COMMAND_BYTES: usize = 1 << 20;
/// At most this many `touches` globs per step.
pub const MAX_TOUCHES: usize = 1024;

/// Variables a step's `env` may not set, compared without case: the program search path,
/// the home and configuration folders programs read their start-up files from, and
/// hooks that make a loader, shell, interpreter or build tool run other code. SECURITY.md
/// lists them with the reasons.
const REFUSED_NAMES: &[&str] = &[
    // Which program runs, and where programs find their configuration.
    "PATH",
    "HOME",
    "SHELL",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "BROWSER",
    "ZDOTDIR",
    "INPUTRC",
    "CDPATH",
    // Shell start-up and tracing hooks.
    "ENV",
    "BASH_ENV",
    "IFS",
    "SHELLOPTS",
    "BASHOPTS",
    "GLOBIGNORE",
    "PS4",
    "PROMPT_COMMAND",
    // The C library's loader-adjacent variables (glibc's "unsecure" list).
    "GCONV_PATH",
    "GETCONF_DIR",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_TRACE",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TZDIR",
    // Interpreters and runtimes.
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_REPL_EXTERNAL_MODULE",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "JAVA_HOME",
    "CLASSPATH",
    "LUA_INIT",
    "LUA_PATH",
    "LUA_CPATH",
    "TCLLIBPATH",
    // Toolchains that run a program named by a variable.
    "RUSTC",
    "RUSTDOC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_HOME",
    "CC",
    "CXX",
    "CPP",
    "LD",
    "AR",
    "MAKEFLAGS",
    "MAKE",
    // The invoker's agents and servers (never handed to a plan's command).
    "SSH_AUTH_SOCK",
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "GPG_AGENT_INFO",
    "DBUS_SESSION_BUS_ADDRESS",
    "TMUX",
    "DISPLAY",
    "WAYLAND_DISPLAY",
];

/// Prefixes of refused variable names (compared without case).
const REFUSED_PREFIXES: &[&str] = &[
    "LD_",
    "DYLD_",
    "BASH_FUNC_",
    "PYTHON",
    "PERL",
    "RUBY",
    "GEM_",
    "BUNDLE_",
    "NPM_CONFIG_",
    "YARN_",
    "GIT_",
    "XDG_",
    "RUSTUP_",
    "CARGO_BUILD_",
    "CARGO_TARGET_",
    "CARGO_HOST_",
    "CARGO_ALIAS_",
    "CARGO_REGISTRIES_",
    "CARGO_REGISTRY_",
    "CARGO_CREDENTIAL_",
    "CARGO_UNSTABLE_",
];

/// Whether a step's `env` may not set `name`.
pub fn refused_env(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    REFUSED_NAMES.contains(&up.as_str())
        || REFUSED_PREFIXES.iter().any(|p| up.starts_with(p))
        || REFUSED_SHAPES.iter().any(|shape| shape.matches(&up))
}

/// The shapes of names through which tools find programs, libraries, configuration or
/// code to run, beyond the names listed: `COMPILER_PATH` and `GCC_EXEC_PREFIX` make gcc run
/// another assembler, `TCL_LIBRARY` another `init.tcl`, `LUA_INIT_5_4` runs code,
/// `GOFLAGS=-toolexec=` and `GNUMAKEFLAGS` add commands, `OPENSSL_CONF`, `PHPRC` and
/// `MAKEFILES` load configuration, `JAVA_OPTS` and `MAVEN_OPTS` add agents. A name of one
/// of these shapes is refused; a plain data variable (`GREETING`, `APP_MODE`) passes.
enum Shape {
    Suffix(&'static str),
    Contains(&'static str),
}

impl Shape {
    fn matches(&self, up: &str) -> bool {
        match self {
            Shape::Suffix(s) => up.ends_with(s),
            Shape::Contains(c) => up.contains(c),
        }
    }
}

const REFUSED_SHAPES: &[Shape] = &[
    Shape::Suffix("PATH"),
    Shape::Suffix("PREFIX"),
    Shape::Suffix("LIBRARY"),
    Shape::Suffix("LIB"),
    Shape::Suffix("LIBS"),
    Shape::Suffix("FLAGS"),
    Shape::Suffix("OPTS"),
    Shape::Suffix("OPTIONS"),
    Shape::Suffix("CONF"),
    Shape::Suffix("CONFIG"),
    Shape::Suffix("RC"),
    Shape::Suffix("FILES"),
    Shape::Suffix("HOME"),
    Shape::Suffix("DIR"),
    Shape::Suffix("EXEC"),
    Shape::Suffix("SHELL"),
    Shape::Suffix("EDITOR"),
    Shape::Suffix("WRAPPER"),
    Shape::Suffix("PRELOAD"),
    Shape::Contains("INIT"),
    Shape::Contains("PLUGIN"),
    Shape::Contains("HOOK"),
    Shape::Contains("STARTUP"),
    Shape::Contains("TOOLEXEC"),
];

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Arguments, environment and `touches` within their bounds, names well formed, no
/// refused variable.
pub fn check_inputs(
    run: &[String],
    env: &std::collections::BTreeMap<String, String>,
    touches: &[String],
) -> Result<()> {
    if run.is_empty() || run[0].is_empty() {
        return Err(Error::failed(
            "an exec action needs `run = [\"program\", \"args\"...]`",
        ));
    }
    if run.len() > MAX_ARGS {
        return Err(Error::failed(format!(
            "`run` has {} arguments; the limit is {MAX_ARGS}",
            run.len()
        )));
    }
    let mut total = 0usize;
    for a in run {
        if a.len() > MAX_ARG_BYTES {
            return Err(Error::failed(format!(
                "an argument of `run` is {} bytes; the limit is {MAX_ARG_BYTES}",
                a.len()
            )));
        }
        if a.contains('\0') {
            return Err(Error::failed("an argument of `run` contains a NUL byte"));
        }
        total += a.len() + 1;
    }
    if let Some((c, why)) = run[0]
        .chars()
        .find_map(|c| forbidden_char(c).map(|w| (c, w)))
    {
        return Err(Error::failed(format!(
            "the program {} contains {why} (U+{:04X})",
            shown(&run[0]),
            c as u32
        )));
    }
    if env.len() > MAX_ENV_VARS {
        return Err(Error::failed(format!(
            "`env` sets {} variables; the limit is {MAX_ENV_VARS}",
            env.len()
        )));
    }
    for (k, v) in env {
        if !valid_env_name(k) || k.len() > MAX_ENV_NAME_BYTES {
            return Err(Error::failed(format!(
                "`env` has an invalid variable name {} (letters, digits and `_`, at most {MAX_ENV_NAME_BYTES} bytes)",
                shown(k)
            )));
        }
        if refused_env(k) {
            return Err(Error::failed(format!(
                "`env` may not set {k}: it chooses which program runs or injects code or configuration into a loader, shell, interpreter or build tool"
            ))
            .hint("leave it out; the command runs with autonomy's own PATH and HOME (see SECURITY.md, \"Exec steps\")"));
        }
        if v.len() > MAX_ENV_VALUE_BYTES || v.contains('\0') {
            return Err(Error::failed(format!(
                "`env` {k} is longer than {MAX_ENV_VALUE_BYTES} bytes or holds a NUL byte"
            )));
        }
        total += k.len() + v.len() + 2;
    }
    if total > MAX_COMMAND_BYTES {
        return Err(Error::failed(format!(
            "`run` and `env` together are {total} bytes; the limit is {MAX_COMMAND_BYTES}"
        )));
    }
    if touches.len() > MAX_TOUCHES {
        return Err(Error::failed(format!(
            "`touches` has {} globs; the limit is {MAX_TOUCHES}",
            touches.len()
        )));
    }
    Ok(())
}

/// The `[exec]` allow-list: exec allowed at all, and `run[0]` listed exactly as written.
/// An entry without `/` is a program name found in the planner's `PATH`; an entry with
/// `/` must be an absolute path and allows exactly that file.
pub fn check_allowed(rules: &Rules, program: &str) -> Result<()> {
    if !rules.exec.allow {
        return Err(Error::failed(format!(
            "exec of {} is refused: the rules do not allow exec steps",
            shown(program)
        ))
        .hint(
            "set `[exec] allow = true` and list the command in `[exec] commands` in autonomy.toml",
        ));
    }
    if !rules.exec.commands.iter().any(|c| c == program) {
        return Err(Error::failed(format!(
            "exec of {} is refused: it is not in `[exec] commands` in autonomy.toml",
            shown(program)
        ))
        .hint(format!(
            "allowed commands: {}",
            if rules.exec.commands.is_empty() {
                "none".to_string()
            } else {
                rules.exec.commands.join(", ")
            }
        )));
    }
    if program.contains('/') && !Path::new(program).is_absolute() {
        return Err(Error::failed(format!(
            "exec of {} is refused: a program is a name looked up in PATH or an absolute path, never a path relative to the workspace",
            shown(program)
        ))
        .hint("run a workspace script through an allowed interpreter, e.g. run = [\"sh\", \"scripts/build.sh\"]"));
    }
    Ok(())
}

fn canonical_root(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

/// Whether `p` (followed through symlinks) lies in the workspace.
fn inside(p: &Path, root: &Path) -> bool {
    std::fs::canonicalize(p).is_ok_and(|c| c.starts_with(root))
}

fn is_executable_file(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The entries of `path_var` a program may be found in: absolute, and not inside the
/// workspace (a plan could have written a program there). Relative and empty entries,
/// which POSIX reads as the current folder, are skipped.
pub fn search_path(path_var: Option<&OsStr>, root: &Path) -> Vec<PathBuf> {
    let root = canonical_root(root);
    path_var
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.is_absolute() && !inside(d, &root))
        .collect()
}

/// `PATH` for a command run on a plan's behalf: the search path above, joined. Never
/// empty, since a shell reads an empty `PATH` as the current folder.
pub fn child_path(path_var: Option<&OsStr>, root: &Path) -> OsString {
    match std::env::join_paths(search_path(path_var, root)) {
        Ok(p) if !p.is_empty() => p,
        _ => OsString::from("/usr/local/bin:/usr/bin:/bin"),
    }
}

/// Resolve `run[0]` at plan time against `path_var` (the planner's `PATH`) to the
/// absolute path recorded in the plan. A name with `/` must already be absolute.
pub fn resolve_program(name: &str, path_var: Option<&OsStr>, root: &Path) -> Result<String> {
    let croot = canonical_root(root);
    let found = if name.contains('/') {
        Some(PathBuf::from(name)).filter(|p| is_executable_file(p) && !inside(p, &croot))
    } else {
        search_path(path_var, root)
            .into_iter()
            .map(|d| d.join(name))
            .find(|c| is_executable_file(c) && !inside(c, &croot))
    };
    let program = found.ok_or_else(|| {
        Error::failed(format!(
            "exec of {}: no executable of that name outside the workspace in PATH (relative PATH entries are skipped)",
            shown(name)
        ))
        .hint("install the program, or put its folder (an absolute path outside the workspace) in PATH when planning")
    })?;
    let text = program.to_str().ok_or_else(|| {
        Error::failed(format!(
            "exec of {}: the program's path {} is not UTF-8",
            shown(name),
            program.display()
        ))
    })?;
    check_program(text, root)?;
    Ok(text.to_string())
}

/// The recorded program, checked (at plan time and before it runs): an absolute, normal
/// path of visible characters to an executable file that is not in the workspace.
pub fn check_program(program: &str, root: &Path) -> Result<()> {
    let p = Path::new(program);
    let normal = p.is_absolute()
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
        && !program.contains("//")
        && !program.ends_with('/')
        && program.chars().all(|c| forbidden_char(c).is_none());
    if !normal {
        return Err(Error::failed(format!(
            "the recorded program {} is not an absolute, normal path",
            shown(program)
        )));
    }
    if inside(p, &canonical_root(root)) {
        return Err(Error::failed(format!(
            "the program {} is inside the workspace, where a plan could have written it",
            shown(program)
        )));
    }
    if !is_executable_file(p) {
        return Err(Error::failed(format!(
            "the program {} is not an executable file (any more)",
            shown(program)
        ))
        .hint("install it again, or plan the step again"));
    }
    Ok(())
}

/// Every check of a step that does not need the planner's `PATH`: the allow-list, the
/// bounds, the environment, the recorded program, and its paths (`cwd`, `touches`).
pub fn check_step(rules: &Rules, step: &ExecStep, root: &Path) -> Result<()> {
    check_inputs(&step.run, &step.env, &step.touches)?;
    check_allowed(rules, &step.run[0])?;
    let Some(program) = &step.program else {
        return Err(Error::failed(format!(
            "exec of {} has no recorded program: it was planned by an older autonomy",
            shown(&step.run[0])
        ))
        .hint("plan it again; the new plan records the absolute path of the program"));
    };
    if step.run[0].contains('/') && *program != step.run[0] {
        return Err(Error::failed(format!(
            "exec of {} records another program ({})",
            shown(&step.run[0]),
            shown(program)
        )));
    }
    check_program(program, root)?;
    step.check_paths()?;
    let max = rules.exec_timeout()?;
    if u128::from(step.timeout_ms) > max.as_millis() {
        return Err(Error::failed(format!(
            "exec timeout {}s is longer than the limit [exec] timeout ({}s) in autonomy.toml",
            step.timeout_ms / 1000,
            max.as_secs()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_and_interpreter_hooks_are_refused() {
        for n in [
            "PATH",
            "path",
            "LD_PRELOAD",
            "LD_LIBRARY_PATH",
            "DYLD_INSERT_LIBRARIES",
            "GCONV_PATH",
            "BASH_ENV",
            "ENV",
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "PERL5OPT",
            "RUBYOPT",
            "NODE_OPTIONS",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "GIT_SSH_COMMAND",
            "GIT_CONFIG_COUNT",
            "IFS",
            "PS4",
            "HOME",
            "RUSTC_WRAPPER",
            "npm_config_script_shell",
            // Found by attacking the deny list: each makes an allowed program run another.
            "COMPILER_PATH",
            "GCC_EXEC_PREFIX",
            "TCL_LIBRARY",
            "LUA_INIT_5_4",
            "GOFLAGS",
            "OPENSSL_CONF",
            "MAKEFILES",
            "GNUMAKEFLAGS",
            "MAKEFLAGS",
            "JAVA_OPTS",
            "MAVEN_OPTS",
            "PHPRC",
            "CFLAGS",
        ] {
            assert!(refused_env(n), "{n} allowed");
        }
        for n in [
            "RUST_BACKTRACE",
            "NODE_ENV",
            "LANG",
            "TZ",
            "CI",
            "MY_SETTING",
            "GREETING",
            "APP_MODE",
        ] {
            assert!(!refused_env(n), "{n} refused");
        }
        assert!(!valid_env_name("BASH_FUNC_ls%%"));
        assert!(!valid_env_name("1X"));
        assert!(valid_env_name("_X1"));
    }

    #[test]
    fn relative_and_workspace_path_entries_are_skipped() {
        let ws = tempfile::tempdir().unwrap();
        let bin = ws.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let path = std::env::join_paths([
            PathBuf::from("."),
            PathBuf::from(""),
            PathBuf::from("bin"),
            bin.clone(),
            PathBuf::from("/usr/bin"),
        ])
        .unwrap();
        assert_eq!(
            search_path(Some(&path), ws.path()),
            [PathBuf::from("/usr/bin")]
        );
        let only_relative = std::env::join_paths([".", "bin", ""]).unwrap();
        assert_eq!(
            child_path(Some(&only_relative), ws.path()),
            "/usr/local/bin:/usr/bin:/bin"
        );
    }
}
