//! `plan --capture` in a copy-on-write view (an overlay mounted at the workspace's own path
//! in the command's private mount namespace): what the command sees (fidelity), how its
//! changes are read back (whiteouts, opaque folders, copy-ups), `--scope` and
//! `--allow-failure`, that it cannot reach the real tree or `.autonomy/` by any route, and
//! the scratch-copy fallback where the kernel refuses the overlay.

use crate::common::{Env, skip};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const FALLBACK_NOTE: &str = "cannot mount a copy-on-write view here";

/// A folder outside every place the confinement hides (`/tmp`, `/run`...), so that the
/// real workspace would be in plain sight if the view did not cover it.
fn visible_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("overlay-view-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir in CARGO_TARGET_TMPDIR")
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Captures `script` (run by `sh -c`) with extra arguments before `--`. `None` (after a
/// printed skip) where this machine cannot run commands in an overlay view.
fn capture(env: &Env, extra: &[&str], script: &str) -> Option<crate::common::Out> {
    let mut args = vec!["plan", "--capture"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "sh", "-c", script]);
    let out = env.run(&args);
    if out
        .stderr
        .contains("private namespaces required but unavailable")
    {
        skip(&format!("no private namespaces here: {}", out.stderr));
        return None;
    }
    if out.stderr.contains(FALLBACK_NOTE) {
        skip(&format!(
            "the kernel refuses overlay views here: {}",
            out.stderr
        ));
        return None;
    }
    Some(out)
}

/// `action path` for every change of a plan, sorted.
fn actions(env: &Env, id: &str) -> Vec<String> {
    let doc: serde_json::Value =
        serde_json::from_str(&env.run(&["preview", id, "--format", "json"]).stdout).unwrap();
    let mut v: Vec<String> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap(),
                c["path"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

fn views_left(env: &Env) -> Vec<String> {
    match std::fs::read_dir(env.path(".autonomy/views")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn the_command_sees_the_workspace_as_it_is_folder_name_mtimes_links_and_read_only_git() {
    let dir = visible_dir();
    let env = Env::new_in(dir.path());
    env.write("a.txt", "old\n");
    env.write("src/lib.rs", "fn main() {}\n");
    std::os::unix::fs::symlink("a.txt", env.path("link")).unwrap();
    std::fs::write(env.path(".gitignore"), ".autonomy/\n").unwrap();
    git(&env.root, &["init", "-q"]);
    git(&env.root, &["add", "-A"]);
    git(&env.root, &["commit", "-qm", "init"]);
    let head = git(&env.root, &["rev-parse", "HEAD"]);
    // A known, old mtime.
    let status = Command::new("touch")
        .args(["-d", "2001-02-03 04:05:06 UTC"])
        .arg(env.path("a.txt"))
        .status()
        .unwrap();
    assert!(status.success());
    let git_before = tree_of(&env.root.join(".git"));
    let before = env.tree();
    let real = env.root.canonicalize().unwrap();
    let script = r#"
        echo "PWD=$(pwd)"
        echo "MTIME=$(stat -c %Y a.txt)"
        echo "LINK=$(readlink link)"
        echo "HEAD=$(git rev-parse HEAD)"
        git status --porcelain >/dev/null && echo "STATUS=ok"
        touch .git/pwned 2>/dev/null && echo "GITWRITE=yes" || echo "GITWRITE=refused"
        git -c user.name=t -c user.email=t@e commit -qam x 2>/dev/null && echo "COMMIT=yes" || echo "COMMIT=refused"
        echo new > a.txt
        echo "READBACK=$(cat a.txt)"
        echo "DIRTY=$(git status --porcelain a.txt)"
    "#;
    let Some(out) = capture(&env, &[], script) else {
        return;
    };
    assert_eq!(out.code, 0, "{out:?}");
    let o = &out.stderr;
    assert!(o.contains(&format!("PWD={}\n", real.display())), "{o}");
    assert!(o.contains("MTIME=981173106\n"), "{o}");
    assert!(o.contains("LINK=a.txt\n"), "{o}");
    assert!(o.contains(&format!("HEAD={head}")), "{o}");
    assert!(o.contains("STATUS=ok\n"), "{o}");
    assert!(o.contains("GITWRITE=refused\n"), "{o}");
    assert!(o.contains("COMMIT=refused\n"), "{o}");
    assert!(o.contains("READBACK=new\n"), "{o}");
    assert!(o.contains("DIRTY= M a.txt\n"), "{o}");
    assert_eq!(env.tree(), before, "the workspace is never touched");
    assert_eq!(tree_of(&env.root.join(".git")), git_before);
    let id = out.stdout.trim();
    assert_eq!(actions(&env, id), ["modify a.txt"]);
    assert!(views_left(&env).is_empty(), "{:?}", views_left(&env));
}

#[test]
fn deletions_new_folders_replaced_folders_and_modes_are_read_back_from_the_upper_layer() {
    let env = Env::new();
    env.write("keep.txt", "same\n");
    env.write("touched.txt", "same\n");
    env.write("rewritten.txt", "same\n");
    env.write("gone.txt", "x\n");
    env.write("run.sh", "#!/bin/sh\n");
    env.write("tree/a/one", "1\n");
    env.write("tree/a/two", "2\n");
    env.write("tree/b", "b\n");
    env.write("swap/old", "o\n");
    env.write("swap/both", "before\n");
    env.write("swap/sub/deep", "d\n");
    let before = env.tree();
    let script = "
        touch touched.txt
        echo same > rewritten.txt
        rm gone.txt
        chmod 755 run.sh
        rm -rf tree
        rm -rf swap && mkdir -p swap/sub && echo after > swap/both && echo n > swap/new
        mkdir -p fresh/deeper && echo f > fresh/deeper/file
    ";
    let Some(out) = capture(&env, &[], script) else {
        return;
    };
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.tree(), before);
    let id = out.stdout.trim().to_string();
    assert_eq!(
        actions(&env, &id),
        [
            "chmod run.sh",
            "create fresh/deeper/file",
            "create swap/new",
            "delete gone.txt",
            "delete swap/old",
            "delete swap/sub/deep",
            "delete tree/a/one",
            "delete tree/a/two",
            "delete tree/b",
            "mkdir fresh",
            "mkdir fresh/deeper",
            "modify swap/both",
            "rmdir tree",
            "rmdir tree/a",
        ]
    );
    env.approve(&id);
    env.cmd().args(["apply", &id]).assert().success();
    assert_eq!(env.read_str("swap/both"), "after\n");
    assert!(!env.exists("tree") && !env.exists("gone.txt") && !env.exists("swap/old"));
    assert!(env.path("swap/sub").is_dir());
    assert_eq!(env.mode("run.sh"), 0o755);
    assert_eq!(env.read_str("fresh/deeper/file"), "f\n");
}

#[test]
fn writes_outside_scope_are_listed_and_not_planned() {
    let env = Env::new();
    env.write("src/a.rs", "a\n");
    env.write("docs/x.md", "x\n");
    let Some(out) = capture(
        &env,
        &["--scope", "src"],
        "echo b > src/a.rs; echo y > docs/x.md; echo z > stray.txt; rm docs/x.md",
    ) else {
        return;
    };
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("outside --scope; not planned")
            && out.stderr.contains("  docs/x.md\n")
            && out.stderr.contains("  stray.txt\n"),
        "{}",
        out.stderr
    );
    assert_eq!(actions(&env, out.stdout.trim()), ["modify src/a.rs"]);
}

#[test]
fn allow_failure_plans_the_changes_of_a_command_that_exits_non_zero() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let Some(refused) = capture(&env, &[], "echo half > a.txt; exit 3") else {
        return;
    };
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("exit status 3") && refused.stderr.contains("--allow-failure"),
        "{}",
        refused.stderr
    );
    let out = capture(&env, &["--allow-failure"], "echo half > a.txt; exit 3").unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("exit status 3") && out.stderr.contains("planned anyway"),
        "{}",
        out.stderr
    );
    let id = out.stdout.trim();
    assert_eq!(actions(&env, id), ["modify a.txt"]);
    let show = env.run(&["show", id]);
    assert!(show.all().contains("--allow-failure"), "{}", show.all());
    // A command killed by a signal did not finish: nothing is planned, flag or not.
    let killed = capture(&env, &["--allow-failure"], "echo x > a.txt; kill -9 $$").unwrap();
    assert_eq!(killed.code, 1, "{killed:?}");
    assert!(killed.stderr.contains("signal 9"), "{}", killed.stderr);
}

#[test]
fn a_symlink_the_command_creates_is_planned_as_a_link() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    let Some(out) = capture(&env, &[], "ln -s a.txt l; echo b > b.txt") else {
        return;
    };
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("cannot be planned"), "{}", out.stderr);
    assert_eq!(actions(&env, out.stdout.trim()), ["create b.txt", "link l"]);
    let id = out.stdout.trim().to_string();
    env.approve(&id);
    env.apply_ok(&id);
    assert_eq!(
        std::fs::read_link(env.path("l")).expect("a link"),
        std::path::Path::new("a.txt")
    );
}

/// Every route to the real tree or `.autonomy/` that a command might try: absolute paths,
/// `..`, `/proc/self/cwd`, `/proc/1/root`, a symlink made in the view, a bind mount of the
/// workspace's file system elsewhere, `umount` in a fresh user namespace, mounting.
#[test]
fn the_command_cannot_reach_the_real_tree_or_autonomy_by_any_route() {
    if Command::new("unshare").arg("--version").output().is_err() {
        skip("unshare(1) is not installed");
        return;
    }
    let dir = visible_dir();
    let env = Env::new_in(dir.path());
    env.write("a.txt", "a\n");
    let before = env.tree();
    let real = env.root.canonicalize().unwrap();
    // Another mount showing the workspace's folder (made in a private mount namespace
    // around autonomy, so the test leaves no mount behind).
    let alias = dir.path().join("alias");
    std::fs::create_dir(&alias).unwrap();
    let state_alias = dir.path().join("state-alias");
    std::fs::create_dir(&state_alias).unwrap();
    let r = real.display().to_string();
    let probe = format!(
        r#"
        leak() {{ echo "LE""AK $1"; }}
        for p in "{r}/.autonomy/journal.db" "/proc/self/cwd/.autonomy/journal.db" \
                 "/proc/1/root{r}/.autonomy/journal.db" "/proc/1/cwd/.autonomy/journal.db" \
                 "../ws/.autonomy/journal.db" "{alias}/.autonomy/journal.db" \
                 "{alias}/a.txt" "{state_alias}/journal.db"; do
            head -c1 "$p" >/dev/null 2>&1 && leak "read $p"
        done
        ls -A "{r}/.autonomy" | grep -q . && leak "listed .autonomy"
        ln -s "{r}/.autonomy" state && head -c1 state/journal.db >/dev/null 2>&1 && leak "symlink read"
        rm -f state  # a link into .autonomy is refused at plan time (harden_plan finding 4)
        for p in "{r}/.autonomy/pwned" "/proc/1/root{r}/.autonomy/pwned" "{alias}/pwned" \
                 "/proc/self/cwd/.autonomy/pwned" "{state_alias}/pwned"; do
            (echo x > "$p") 2>/dev/null && leak "write $p"
        done
        mount --bind / /mnt 2>/dev/null && leak "mount"
        umount -l "{r}" 2>/dev/null && leak "umount"
        unshare -Urm sh -c 'umount -l "{r}" && head -c1 "{r}/.autonomy/journal.db"' >/dev/null 2>&1 \
            && leak "umount in a user namespace"
        cd .. && (echo x > ws/escaped) 2>/dev/null
        echo done
        "#,
        alias = alias.display(),
        state_alias = state_alias.display(),
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            r#"mount --bind "$1" "$2" && mount --bind "$1/.autonomy" "$3" && shift 3 && exec "$@""#,
        )
        .arg("sh")
        .arg(&real)
        .arg(&alias)
        .arg(&state_alias)
        .arg(crate::common::bin())
        .args([
            "plan",
            "--capture",
            "--title",
            "routes",
            "--",
            "sh",
            "-c",
            &probe,
        ])
        .current_dir(&env.root)
        .env("AUTONOMY_ACTOR", crate::common::ACTOR)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("mount: ") && !out.status.success() && !stderr.contains("Running") {
        skip(&format!("cannot make a bind mount here: {stderr}"));
        return;
    }
    if stderr.contains(FALLBACK_NOTE) || stderr.contains("namespaces required but unavailable") {
        skip(&format!("no overlay view here: {stderr}"));
        return;
    }
    assert!(out.status.success(), "{out:?}");
    assert!(stderr.contains("done"), "{stderr}");
    assert!(!stderr.contains("LEAK"), "{stderr}");
    assert_eq!(env.tree(), before, "the real tree is untouched");
    assert!(!env.exists(".autonomy/pwned") && !alias.join("pwned").exists());
    // What it wrote through `..` landed in the view, so it is planned, not applied.
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let acts = actions(&env, &id);
    assert!(acts.contains(&"create escaped".to_string()), "{acts:?}");
    env.verify_ok();
}

#[test]
fn without_overlay_the_capture_falls_back_to_a_scratch_copy_and_says_so() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    env.write("d/x", "x\n");
    let out = env
        .cmd()
        .env("AUTONOMY_OVERLAY", "off")
        .args([
            "plan",
            "--capture",
            "--",
            "sh",
            "-c",
            "echo \"PWD=$(pwd)\"; echo b > a.txt; rm -r d",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("namespaces required but unavailable") {
        skip(&format!("no private namespaces here: {stderr}"));
        return;
    }
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{FALLBACK_NOTE} (disabled by AUTONOMY_OVERLAY=off)"
        )) && stderr.contains("scratch copy"),
        "{stderr}"
    );
    // The copy is somewhere else.
    let real = env.root.canonicalize().unwrap();
    assert!(
        !stderr.contains(&format!("PWD={}\n", real.display())),
        "{stderr}"
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(
        actions(&env, &id),
        ["delete d/x", "modify a.txt", "rmdir d"]
    );
    // With the overlay, no such note.
    let Some(plain) = capture(&env, &[], "echo c > a.txt") else {
        return;
    };
    assert!(!plain.stderr.contains(FALLBACK_NOTE), "{}", plain.stderr);
}

/// Not root: the view is mounted in a user namespace (overlay with `userxattr`), and
/// replaced folders are read back from `user.overlay.opaque`.
#[test]
fn an_unprivileged_user_gets_an_overlay_view_in_a_user_namespace() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip("needs root to run the capture as another user");
        return;
    }
    let dir = visible_dir();
    let root = dir.path().join("ws");
    std::fs::create_dir(&root).unwrap();
    let bin = dir.path().join("autonomy");
    std::fs::copy(crate::common::bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The build's temp folder may sit below folders `nobody` cannot enter.
    if Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "test",
            "-x",
        ])
        .arg(&bin)
        .status()
        .map_or(true, |s| !s.success())
    {
        skip("user nobody cannot reach the build's temp folder (or no setpriv)");
        return;
    }
    std::fs::write(root.join("a.txt"), "a\n").unwrap();
    std::fs::create_dir(root.join("d")).unwrap();
    std::fs::write(root.join("d/old"), "o\n").unwrap();
    chown_r(&root, 65534);
    use std::os::unix::process::CommandExt;
    let run = |args: &[&str]| {
        Command::new(&bin)
            .args(args)
            .current_dir(&root)
            .uid(65534)
            .gid(65534)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &root)
            .env("AUTONOMY_ACTOR", crate::common::ACTOR)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let init = run(&["init"]);
    assert!(init.status.success(), "{init:?}");
    let out = run(&[
        "plan",
        "--capture",
        "--",
        "sh",
        "-c",
        "echo \"ID=$(id -u) PWD=$(pwd)\"; rm -rf d && mkdir d && echo n > d/new; \
         echo s > secret && chmod 000 secret; mkdir locked && echo l > locked/f && chmod 000 locked",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains(FALLBACK_NOTE) || stderr.contains("namespaces required but unavailable") {
        skip(&format!("no unprivileged overlay view here: {stderr}"));
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let real = root.canonicalize().unwrap();
    assert!(
        stderr.contains(&format!("ID=65534 PWD={}\n", real.display())),
        "{stderr}"
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let preview = run(&["preview", &id, "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&preview.stdout).unwrap();
    let mut acts: Vec<String> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap(),
                c["path"].as_str().unwrap()
            )
        })
        .collect();
    acts.sort();
    // What the command made unreadable to its owner is read back all the same.
    assert_eq!(
        acts,
        [
            "create d/new",
            "create locked/f",
            "create secret",
            "delete d/old",
            "mkdir locked"
        ]
    );
    assert_eq!(std::fs::read_to_string(root.join("d/old")).unwrap(), "o\n");
}

fn chown_r(p: &Path, uid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(uid)).unwrap();
    if p.symlink_metadata().unwrap().is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_r(&e.unwrap().path(), uid);
        }
    }
}

/// Every path below `dir` with its bytes (a link's target) and mode, links not followed.
fn tree_of(dir: &Path) -> std::collections::BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = p.symlink_metadata().unwrap();
            let bytes = if m.is_dir() {
                stack.push(p.clone());
                Vec::new()
            } else if m.is_symlink() {
                std::fs::read_link(&p)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                std::fs::read(&p).unwrap()
            };
            out.insert(p, (bytes, m.permissions().mode()));
        }
    }
    out
}

/// The overlay view and the scratch-copy fallback plan the same changes for the same
/// command (deletions, replaced folders, same-length rewrites, touches, modes).
#[test]
fn the_fallback_copy_plans_what_the_overlay_view_plans() {
    let script = "
        touch same.txt; echo b > ab.txt; chmod 700 run.sh; rm -rf tree
        rm -rf swap && mkdir swap && echo n > swap/new; mkdir -p fresh && echo f > fresh/f
    ";
    let mut plans = Vec::new();
    for overlay in ["on", "off"] {
        let env = Env::new();
        env.write("same.txt", "s\n");
        env.write("ab.txt", "a\n");
        env.write("run.sh", "#!/bin/sh\n");
        env.write("tree/a/one", "1\n");
        env.write("swap/old", "o\n");
        let out = env
            .cmd()
            .env("AUTONOMY_OVERLAY", overlay)
            .args(["plan", "--capture", "--", "sh", "-c", script])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("namespaces required but unavailable")
            || (overlay == "on" && stderr.contains(FALLBACK_NOTE))
        {
            skip(&format!("no overlay view here: {stderr}"));
            return;
        }
        assert!(out.status.success(), "{stderr}");
        assert_eq!(stderr.contains(FALLBACK_NOTE), overlay == "off", "{stderr}");
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        plans.push(actions(&env, &id));
    }
    assert_eq!(
        plans[0],
        [
            "chmod run.sh",
            "create fresh/f",
            "create swap/new",
            "delete swap/old",
            "delete tree/a/one",
            "mkdir fresh",
            "modify ab.txt",
            "rmdir tree",
            "rmdir tree/a",
        ]
    );
    assert_eq!(plans[0], plans[1]);
}
