//! The README's shell examples run for real, so the README can never rot: the quick start
//! (in a pseudo-terminal, answering "y" where it asks) and the pipeline example with
//! signed approvals.

use crate::common::*;
use std::path::{Path, PathBuf};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The lines of the first ```sh block after the line `heading`.
fn block_after(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let lines: Vec<&str> = readme
        .lines()
        .skip_while(|l| l.trim() != heading)
        .skip_while(|l| l.trim() != "```sh")
        .skip(1)
        .take_while(|l| l.trim() != "```")
        .collect();
    assert!(
        !lines.is_empty(),
        "README.md has no ```sh block after {heading:?}"
    );
    lines.iter().map(|l| l.to_string()).collect()
}

/// PATH with the freshly built binary first, so the README's `autonomy` is this one.
fn path_with_bin() -> String {
    let dir = bin().parent().expect("bin dir").to_path_buf();
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", dir.display())
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn readme_quick_start_runs_as_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let demo = tmp.path().join("autonomy-demo");
    let cwd_file = tmp.path().join("cwd");
    let mut cwd: PathBuf = repo().to_path_buf();
    let mut prompts = 0;
    // The one substitution: the demo folder goes in a temp folder of this test.
    let lines = block_after("## Quick start");
    for line in &lines {
        let line = line.replace("/tmp/autonomy-demo", &quote(&demo));
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        // Each line runs in its own shell, in the folder the previous line left.
        let script = format!(
            "cd {} && {line}\nrc=$?\npwd > {}\nexit $rc",
            quote(&cwd),
            quote(&cwd_file)
        );
        let mut c = std::process::Command::new("sh");
        c.arg("-c")
            .arg(&script)
            .env("PATH", path_with_bin())
            .env("AUTONOMY_ACTOR", ACTOR)
            .env("NO_COLOR", "1")
            .env("PAGER", "cat")
            .env_remove("AUTONOMY_PAGER")
            .env_remove("CI");
        let mut p = rexpect::session::spawn_command(c, Some(30_000)).expect("spawn in pty");
        let (mut out, found) = p
            .exp_any(vec![
                rexpect::ReadUntil::String("[y/N]".into()),
                rexpect::ReadUntil::EOF,
            ])
            .unwrap_or_else(|e| panic!("README line {line:?}: {e}"));
        if found == "[y/N]" {
            prompts += 1;
            p.send_line("y").expect("answer");
            out.push_str(&p.exp_eof().unwrap_or_default());
        }
        let code = match p.process().wait() {
            Ok(rexpect::process::WaitStatus::Exited(_, c)) => c,
            other => panic!("README line {line:?}: {other:?}"),
        };
        assert_eq!(code, 0, "README line {line:?} failed:\n{out}");
        cwd = PathBuf::from(std::fs::read_to_string(&cwd_file).expect("cwd").trim());
    }
    assert_eq!(prompts, 2, "approve and rollback should each ask once");
    assert_eq!(cwd, demo.canonicalize().expect("demo"));

    // The rollback restored every byte of the fixture.
    let fixture = repo().join("fixtures/quickstart");
    for entry in ["config/app.toml", "notes.txt", "rename-timeout.toml"] {
        assert_eq!(
            std::fs::read(demo.join(entry)).expect("demo file"),
            std::fs::read(fixture.join(entry)).expect("fixture file"),
            "{entry}"
        );
    }
    assert!(!demo.join("VERSION").exists());
    assert_cmd::Command::new(bin())
        .current_dir(&demo)
        .arg("verify")
        .assert()
        .success();
}

#[test]
fn readme_pipeline_example_runs_as_written() {
    if std::process::Command::new("ssh-keygen")
        .arg("-?")
        .output()
        .is_err()
    {
        return skip("ssh-keygen is not installed");
    }
    let env = Env::bare();
    for f in ["config/app.toml", "notes.txt", "rename-timeout.toml"] {
        env.write(
            f,
            std::fs::read(repo().join("fixtures/quickstart").join(f)).expect("fixture"),
        );
    }
    env.cmd().arg("init").assert().success();
    let key = env.tmp.path().join("id_ed25519");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    // The one substitution: the reviewer's key is a fresh one.
    let script = block_after("## In a pipeline: signed approvals")
        .join("\n")
        .replace("~/.ssh/id_ed25519", &quote(&key));
    let out = std::process::Command::new("sh")
        .arg("-ec")
        .arg(&script)
        .current_dir(&env.root)
        .env("PATH", path_with_bin())
        .env("AUTONOMY_ACTOR", "ci@example.com")
        .env("NO_COLOR", "1")
        .env_remove("AUTONOMY_PAGER")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "the pipeline example failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.read_str("VERSION"), "1.2.0\n");
    let events = env.events();
    assert!(events.iter().any(|e| e["kind"] == "approval.granted"
        && e["data"]["method"] == "ssh"
        && e["data"]["principal"] == "alice@example.com"));
    env.verify_ok();
}

#[test]
fn readme_links_every_man_page_and_every_link_resolves() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let linked: Vec<&str> = readme
        .split("](")
        .skip(1)
        .filter_map(|s| s.split(')').next())
        .filter(|l| !l.starts_with("http"))
        .collect();
    for link in &linked {
        assert!(
            repo().join(link).exists(),
            "README.md links to missing {link}"
        );
    }
    for page in std::fs::read_dir(repo().join("man")).expect("man/") {
        let name = format!("man/{}", page.expect("entry").file_name().to_string_lossy());
        assert!(
            linked.contains(&name.as_str()),
            "README.md does not link {name}"
        );
    }
}
