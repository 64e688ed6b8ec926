//! A hostile state directory, journal or terminal (issue 12, findings 6, 12 and 14):
//! another user's `.autonomy/` is refused (also by root) unless `AUTONOMY_SAFE_DIRECTORIES`
//! lists it; edited derived tables (plan status, approval use, run state, ...) are found by
//! `verify` (exit 7) and never fool `apply`; and one OS user approving at a terminal under
//! several `--as` names counts as one person.

use crate::common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// `nobody`, the other user of these tests.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `chown -R uid:uid path` (without following symlinks).
fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("chown");
    if std::fs::symlink_metadata(path).expect("stat").is_dir() {
        for e in std::fs::read_dir(path).expect("read_dir") {
            chown_tree(&e.expect("entry").path(), uid);
        }
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The binary run as `uid` (gid the same; std drops supplementary groups) in `dir`.
fn as_user(uid: u32, dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .current_dir(dir)
        .uid(uid)
        .gid(uid)
        .env("AUTONOMY_ACTOR", "nobody@example.com")
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .env_remove("AUTONOMY_SAFE_DIRECTORIES")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run autonomy as another user")
}

/// The binary run as root in `dir` with extra environment.
fn in_dir(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(bin());
    c.args(args)
        .current_dir(dir)
        .env("AUTONOMY_ACTOR", ACTOR)
        .env("NO_COLOR", "1")
        .env("PAGER", "cat")
        .env_remove("AUTONOMY_SAFE_DIRECTORIES")
        .stdin(std::process::Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("run autonomy")
}

/// Exit 1, naming `owner` and the way out.
fn refused(o: &std::process::Output, what: &str, needles: &[&str]) {
    assert_exit_in(o, &[1], what);
    let err = String::from_utf8_lossy(&o.stderr);
    for n in needles.iter().chain(&["AUTONOMY_SAFE_DIRECTORIES"]) {
        assert!(err.contains(n), "{what}: does not say {n:?}: {}", text(o));
    }
}

const WRITE_MINE: &str = "title = \"touch root's file\"\n[[action]]\nkind = \"write\"\npath = \"sub/mine.txt\"\ncontent = \"changed by nobody's plan\\n\"\n";

/// Finding 6, for real: `nobody` makes a workspace, plans a change to a file root keeps in
/// it and signs the approval with its own key, listed in its own signers file. Root,
/// working in a subfolder, must not apply it (before the fix it did); with the workspace
/// listed in AUTONOMY_SAFE_DIRECTORIES it may.
#[test]
fn root_refuses_a_workspace_another_user_made() {
    if !is_root() {
        return skip("needs root to act as another user (nobody)");
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    chmod(tmp.path(), 0o755);
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(ws.join("sub")).expect("mkdir");
    std::fs::write(ws.join("sub/mine.txt"), "root's file\n").expect("write");
    std::os::unix::fs::lchown(&ws, Some(NOBODY), Some(NOBODY)).expect("chown");
    let o = as_user(NOBODY, &ws, &["init"]);
    assert_exit_in(&o, &[0], "init as nobody");
    assert_eq!(
        std::fs::metadata(ws.join(".autonomy"))
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .ok(),
        Some(NOBODY)
    );
    let plan = ws.join("plan.toml");
    std::fs::write(&plan, WRITE_MINE).expect("write plan");
    chown_tree(&plan, NOBODY);
    let o = as_user(NOBODY, &ws, &["plan", "plan.toml"]);
    assert_exit_in(&o, &[0], "plan as nobody");
    let short = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let Some((key, public)) = ssh_key(tmp.path(), "nobody-key") else {
        return;
    };
    chown_tree(&key, NOBODY);
    std::fs::write(
        ws.join(".autonomy/allowed_signers"),
        format!("nobody@example.com {public}\n"),
    )
    .expect("write signers");
    chown_tree(&ws.join(".autonomy/allowed_signers"), NOBODY);
    let o = as_user(
        NOBODY,
        &ws,
        &[
            "approve",
            &short,
            "--sign-with",
            key.to_str().expect("utf8"),
            "-o",
            "nobody.approval",
        ],
    );
    assert_exit_in(&o, &[0], "sign as nobody");
    let approval = ws.join("nobody.approval");
    let approval = approval.to_str().expect("utf8");

    // Root, in a subfolder: discovery finds nobody's .autonomy and refuses it.
    let sub = ws.join("sub");
    let o = in_dir(&sub, &["apply", &short, "--approval", approval], &[]);
    refused(
        &o,
        "root applying nobody's plan",
        &["nobody", "uid 65534", "ws"],
    );
    assert_eq!(
        std::fs::read_to_string(sub.join("mine.txt")).expect("read"),
        "root's file\n"
    );
    for args in [
        vec!["status"],
        vec!["log"],
        vec!["verify"],
        vec!["preview", &short],
    ] {
        refused(
            &in_dir(&sub, &args, &[]),
            &format!("root: {args:?}"),
            &["nobody"],
        );
    }
    // A list that names other folders is no way out; a relative entry names nothing.
    for list in ["/elsewhere:/srv", "", "ws", &format!("{}/", sub.display())] {
        let o = in_dir(&sub, &["status"], &[("AUTONOMY_SAFE_DIRECTORIES", list)]);
        refused(&o, &format!("safe list {list:?}"), &["nobody"]);
    }
    // Nobody still uses its own workspace.
    assert_exit_in(&as_user(NOBODY, &ws, &["status"]), &[0], "nobody's status");

    // The way out: the workspace listed (among others), or `*`.
    let list = format!("/elsewhere:{}/", ws.display());
    let o = in_dir(&sub, &["status"], &[("AUTONOMY_SAFE_DIRECTORIES", "*")]);
    assert_exit_in(&o, &[0], "status with *");
    let o = in_dir(
        &sub,
        &["apply", &short, "--approval", approval],
        &[("AUTONOMY_SAFE_DIRECTORIES", &list)],
    );
    assert_exit_in(&o, &[0], "apply with the workspace listed");
    assert_eq!(
        std::fs::read_to_string(sub.join("mine.txt")).expect("read"),
        "changed by nobody's plan\n"
    );
}

/// Root's own workspace above another user's nested one: discovery stops at the nearest
/// (as git does) and refuses it; it neither uses it nor skips past it to root's.
#[test]
fn discovery_never_silently_picks_or_skips_another_users_workspace() {
    if !is_root() {
        return skip("needs root to chown to nobody");
    }
    let env = Env::new();
    let inner = env.path("inner");
    std::fs::create_dir_all(inner.join("deep")).expect("mkdir");
    assert_exit_in(&in_dir(&inner, &["init"], &[]), &[0], "init inner");
    chown_tree(&inner.join(".autonomy"), NOBODY);
    let o = in_dir(&inner.join("deep"), &["status"], &[]);
    refused(&o, "nested nobody's workspace", &["nobody", "inner"]);
    // -C to the outer workspace is still fine.
    assert_exit_in(&env.output(&["status"]), &[0], "outer status");
}

/// A file of another user inside root's own `.autonomy/` (the journal, the signers file,
/// or a symlink there leading to one) is refused, naming the file.
#[test]
fn another_users_file_inside_the_state_folder_is_refused() {
    if !is_root() {
        return skip("needs root to chown to nobody");
    }
    let env = Env::new();
    let state = env.path(".autonomy");
    for name in ["journal.db", "lock", "objects"] {
        chown_tree(&state.join(name), NOBODY);
        refused(&env.output(&["status"]), name, &[name, "nobody"]);
        chown_tree(&state.join(name), 0);
        assert_exit_in(
            &env.output(&["status"]),
            &[0],
            &format!("{name} back to root"),
        );
    }
    // A signers file that is a link to nobody's file.
    let theirs = env.tmp.path().join("their_signers");
    std::fs::write(&theirs, "").expect("write");
    chown_tree(&theirs, NOBODY);
    std::os::unix::fs::symlink(&theirs, state.join("allowed_signers")).expect("symlink");
    refused(
        &env.output(&["status"]),
        "signers symlink",
        &["allowed_signers", "nobody", "symbolic link"],
    );
    let o = env.output_env(
        &["status"],
        &[(
            "AUTONOMY_SAFE_DIRECTORIES",
            env.root.to_str().expect("utf8"),
        )],
    );
    assert_exit_in(&o, &[0], "listed");
}

/// Permissions that let another user swap the state: a group- or world-writable
/// `.autonomy/`, a world-writable workspace folder without the sticky bit, a `.autonomy`
/// that is a symlink. The sticky bit (as on /tmp) is enough for the workspace folder.
#[test]
fn state_that_another_user_could_swap_is_refused() {
    let env = Env::new();
    let state = env.path(".autonomy");
    chmod(&state, 0o770);
    refused(
        &env.output(&["status"]),
        "0770 state",
        &["writable by its group", "0770"],
    );
    chmod(&state, 0o702);
    refused(
        &env.output(&["status"]),
        "0702 state",
        &["every other user"],
    );
    chmod(&state, 0o700);
    assert_exit_in(&env.output(&["status"]), &[0], "0700 state");
    chmod(&env.root, 0o777);
    refused(
        &env.output(&["status"]),
        "0777 root",
        &["writable by every user", "sticky"],
    );
    chmod(&env.root, 0o1777);
    assert_exit_in(&env.output(&["status"]), &[0], "1777 root");
    chmod(&env.root, 0o755);
    let moved = env.tmp.path().join("elsewhere");
    std::fs::rename(&state, &moved).expect("move");
    std::os::unix::fs::symlink(&moved, &state).expect("symlink");
    refused(
        &env.output(&["status"]),
        "symlinked .autonomy",
        &["symbolic link"],
    );
}
