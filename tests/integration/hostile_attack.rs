//! Issue 12, attacked again after the path and state fixes: hostile plans, exec steps and
//! verify commands trying to get around them. Each test names the bypass it pins; each
//! failed on the code before its fix.

use crate::common::*;

fn exec_env(rules: &str) -> Env {
    let env = Env::new();
    env.write("autonomy.toml", rules);
    env.write("gen/old.txt", "old\n");
    env
}

fn exec_plan(program: &str, args: &[&str], touches: &str, extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "title = \"exec\"\n[[action]]\nkind = \"exec\"\nrun = [{program:?}, {}]\ntouches = [{touches:?}]\n{extra}",
        args.join(", ")
    )
}

// ---------------------------------------------------------------------------------------
// Rules match "without case, as a case-insensitive file system would see it", but only
// ASCII case was folded: on such a file system (ext4 casefold folders, exFAT, SMB)
// `ſecrets/key.pem` (long s) and `\u{212A}ube/x` (Kelvin sign) are `secrets/key.pem` and
// `kube/x`, yet a write there and touches `ſecrets/**` passed a deny rule, and
// `keys/allowed_ſigners` was not a policy change.

fn write_plan(path: &str) -> String {
    format!("title = \"t\"\n[[action]]\nkind = \"write\"\npath = {path:?}\ncontent = \"x\\n\"\n")
}

#[test]
fn rules_fold_case_as_a_case_insensitive_file_system_does() {
    let env = exec_env(
        "[approval]\nallowed_signers = \"keys/allowed_signers\"\n\n[exec]\nallow = true\ncommands = [\"sh\"]\n\n[[rule]]\nname = \"never\"\npaths = [\"secrets/**\", \"kube/**\"]\ndeny = true\n",
    );
    for path in ["ſecrets/key.pem", "SECRETſ/key.pem", "\u{212A}ube/x"] {
        let file = env.plan_file(write_plan(path));
        let out = env.run(&["plan", file.to_str().expect("utf8")]);
        assert_eq!(out.code, 1, "{path}: {out:?}");
        assert!(out.stderr.contains("never"), "{path}: {}", out.stderr);
    }
    for touches in ["ſecrets/**", "\u{212A}ube/*", "ſ*/**"] {
        let file = env.plan_file(exec_plan("sh", &["-c", "true"], touches, ""));
        let out = env.run(&["plan", file.to_str().expect("utf8")]);
        assert_eq!(out.code, 1, "{touches}: {out:?}");
        assert!(out.stderr.contains("never"), "{touches}: {}", out.stderr);
    }
    assert!(env.plan_ids().is_empty());
    for path in ["keys/allowed_ſigners", "keyſ/allowed_signers"] {
        let id = env.plan(&write_plan(path));
        let out = env.run(&["preview", &id, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
        assert_eq!(v["policy_change"], true, "{path}");
    }
    let id = env.plan(&exec_plan("sh", &["-c", "true"], "keyſ/*", ""));
    let out = env.run(&["preview", &id, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["policy_change"], true, "touches keyſ/*");
}

// ---------------------------------------------------------------------------------------
// The `env` deny list missed hooks that make an allowed program run code the plan wrote:
// gcc's `COMPILER_PATH` (another `as`), `GCC_EXEC_PREFIX`, tclsh's `TCL_LIBRARY`,
// `LUA_INIT_5_4`, `GOFLAGS=-toolexec=...`, `OPENSSL_CONF`, `MAKEFILES`, `JAVA_OPTS`. Names
// of those shapes are refused at plan time; a plain data variable still passes.

#[test]
fn env_hooks_of_every_known_shape_are_refused_and_data_passes() {
    let env = exec_env("[exec]\nallow = true\ncommands = [\"sh\"]\n");
    for name in [
        "COMPILER_PATH",
        "GCC_EXEC_PREFIX",
        "TCL_LIBRARY",
        "LUA_INIT_5_4",
        "GOFLAGS",
        "OPENSSL_CONF",
        "MAKEFILES",
        "JAVA_OPTS",
        "PHPRC",
    ] {
        let plan = exec_plan(
            "sh",
            &["-c", "echo x > gen/new.txt"],
            "gen/**",
            &format!("env = {{ {name} = \"gen/bin\" }}\n"),
        );
        let out = env.run_stdin(&["plan", "-"], &plan);
        assert_eq!(out.code, 1, "{name}: {out:?}");
        assert!(out.stderr.contains(name), "{name}: {}", out.stderr);
    }
    let plan = exec_plan(
        "sh",
        &["-c", "echo \"$GREETING\" > gen/new.txt"],
        "gen/**",
        "env = { GREETING = \"hello\" }\n",
    );
    let out = env.run_stdin(&["plan", "-"], &plan);
    assert_eq!(out.code, 0, "{out:?}");
    let id = env.full_id(out.stdout.trim());
    env.approve(&id);
    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.read_str("gen/new.txt"), "hello\n");
}
