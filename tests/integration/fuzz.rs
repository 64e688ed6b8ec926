//! Parsers never panic: property tests (proptest, stable Rust) over the library's parsers
//! with arbitrary bytes and strings and with mutations of valid inputs, plus the plan
//! compiler on random plans against a real temp workspace. Where a parser accepts, its
//! promises are checked too (canonical round trips, paths that stay inside).
//!
//! `PROPTEST_CASES` raises the case count (default 256 per property here).

use autonomy::model::{Change, Plan, State};
use autonomy::paths::RelPath;
use autonomy::plan::compile::{Meta, compile};
use autonomy::policy::approval::allowed_signers;
use autonomy::policy::approval::file::{assemble, parse_approval_file};
use autonomy::policy::approval::statement::Statement;
use autonomy::policy::rules::Rules;
use autonomy::store::blobs::BlobStore;
use autonomy::workspace::Workspace;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const PLAN_TOML: &str = r#"title = "Rename the config key"
author = "agent:refactor-bot"
description = "Why this change."

[[action]]
id = "write-version"
kind = "write"
path = "VERSION"
content = "1.2.0\n"
mode = "0644"

[[action]]
kind = "edit"
path = "config/app.toml"
find = "timeout_ms = 500"
replace = "timeout_ms = 750"
count = 1
after = ["write-version"]

[[action]]
kind = "delete"
path = "old/notes.txt"

[[action]]
kind = "move"
from = "docs/a.md"
to = "docs/b.md"

[[action]]
kind = "chmod"
path = "scripts/run.sh"
executable = true

[[action]]
kind = "write"
path = "bin.dat"
content_base64 = "AAEC/w=="
"#;

const STATEMENT: &str = "autonomy-approval v1\n\
approval = \"0123456789abcdef0123456789abcdef\"\n\
workspace = \"ws-1\"\n\
plan = \"aaaaaaaaaaaabbbbbbbbbbbbccccccccccccddddddddddddeeeeeeeeeeee0000\"\n\
approver = \"alice@example.com\"\n\
decision = \"approve\"\n\
created = \"2026-11-23T10:00:00Z\"\n\
expires = \"2026-11-24T10:00:00Z\"\n";

const SIGNATURE: &str = "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAg\n-----END SSH SIGNATURE-----\n";

const KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILrphDcB2RYq2QqNnpm8yxR3TI8Wrk0uO2oYza6ib3E2";

fn signers_text() -> String {
    format!(
        "# team\nalice@example.com {KEY} alice\n\
         \"bob@example.com,carol@*\" namespaces=\"autonomy-approval,git\" {KEY}\n\
         *@ops.example.com valid-after=\"20240101Z\",valid-before=\"20300101000000Z\" {KEY}\n\
         ca@example.com cert-authority {KEY}\n\n"
    )
}

const RULES: &str = r#"[approval]
required = 1
allowed_signers = ".autonomy/allowed_signers"

[[rule]]
name = "production config"
paths = ["deploy/**", "*.tf"]
approvals = 2
signed = true

[[rule]]
name = "never"
paths = ["secrets/**", ".env*"]
deny = true

[limits]
max_file_bytes = "64MiB"
max_plan_bytes = "1GiB"
max_changes = 100000

[exec]
allow = false
commands = ["cargo"]
timeout = "10m"
max_output_bytes = "1MiB"

[verify]
run = ["cargo", "check"]
timeout = "10m"
writes = ["target/**"]
"#;

fn sample_plan() -> Plan {
    let h = |c: char| c.to_string().repeat(64);
    Plan {
        format: "autonomy-plan-v1".into(),
        workspace: "0123456789abcdef0123456789abcdef".into(),
        created: "2026-11-23T10:00:00Z".into(),
        title: "t".into(),
        author: "a@example.com".into(),
        description: Some("d".into()),
        reverses: None,
        changes: vec![
            Change {
                path: "a.txt".into(),
                before: State::File {
                    sha256: h('a'),
                    mode: 0o644,
                },
                after: State::File {
                    sha256: h('b'),
                    mode: 0o755,
                },
                from: None,
            },
            Change {
                path: "d".into(),
                before: State::Absent,
                after: State::dir(),
                from: None,
            },
            Change {
                path: "d/n.txt".into(),
                before: State::Absent,
                after: State::File {
                    sha256: h('c'),
                    mode: 0o600,
                },
                from: Some("old.txt".into()),
            },
        ],
        exec: Vec::new(),
    }
}

/// One edit to a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
    Splice(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        Just(b"\"".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"[[action]]\n".to_vec()),
        Just(b"../".to_vec()),
        Just(b".autonomy/".to_vec()),
        Just(b"\\u0000".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just("[".repeat(64).into_bytes()),
        Just(b"=".to_vec()),
        Just(b",".to_vec()),
        Just(b"-----END SSH SIGNATURE-----\n".to_vec()),
        Just(b"999999999999999999999".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 0usize..32).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), interesting).prop_map(|(i, s)| Mutation::Splice(i, s)),
    ]
}

fn mutate(base: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut v = base.to_vec();
    for m in ms {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match m {
            Mutation::Flip(i, b) if !v.is_empty() => {
                let i = i % v.len();
                v[i] ^= b | 1;
            }
            Mutation::Flip(..) => {}
            Mutation::Insert(i, b) => {
                let i = at(*i, v.len());
                v.insert(i, *b);
            }
            Mutation::Delete(i, n) => {
                let i = at(*i, v.len());
                let end = (i + n).min(v.len());
                v.drain(i..end);
            }
            Mutation::Duplicate(i, n) => {
                let i = at(*i, v.len());
                let end = (i + n).min(v.len());
                let piece = v[i..end].to_vec();
                v.splice(i..i, piece);
            }
            Mutation::Truncate(i) => {
                let i = at(*i, v.len());
                v.truncate(i);
            }
            Mutation::Splice(i, s) => {
                let i = at(*i, v.len());
                v.splice(i..i, s.iter().copied());
            }
        }
    }
    v
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..8)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Text that looks like TOML: brackets, quotes, keys, dots, newlines.
fn tomlish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(
        "([\\[\\]{}=\",.#'\\n ]|title|action|kind|path|content|write|edit|after|count|[a-z0-9_-]{1,6}|\\\\u0000|\\.\\./|\\.autonomy){0,80}",
    )
    .expect("regex")
}

/// Checks a path the plan layer accepted.
fn assert_inside(p: &str) {
    let first = p.split('/').next().unwrap_or("");
    assert!(!p.is_empty() && !p.starts_with('/'), "{p:?}");
    assert!(
        !p.split('/').any(|c| c == ".." || c == "." || c.is_empty()),
        "{p:?}"
    );
    assert!(!p.contains('\0'), "{p:?}");
    assert!(
        !first
            .trim_end_matches(['.', ' '])
            .eq_ignore_ascii_case(".autonomy"),
        "{p:?} is inside .autonomy"
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn plan_file_parse_any_string(s in any::<String>()) {
        let _ = autonomy::plan::file::parse(&s, "fuzz.toml");
    }

    #[test]
    fn plan_file_parse_tomlish(s in tomlish()) {
        if let Ok(pf) = autonomy::plan::file::parse(&s, "fuzz.toml") {
            for (i, a) in pf.action.iter().enumerate() {
                let _ = a.check_keys(i);
                let _ = a.label(i);
            }
        }
    }

    #[test]
    fn plan_file_parse_mutated(ms in mutations()) {
        let text = lossy(&mutate(PLAN_TOML.as_bytes(), &ms));
        if let Ok(pf) = autonomy::plan::file::parse(&text, "fuzz.toml") {
            for (i, a) in pf.action.iter().enumerate() {
                let _ = a.check_keys(i);
                let _ = a.label(i);
            }
        }
    }

    #[test]
    fn statement_parse_any_string(s in any::<String>()) {
        if let Ok(st) = Statement::parse(&s) {
            prop_assert_eq!(st.render(), s);
        }
    }

    #[test]
    fn statement_parse_mutated(ms in mutations()) {
        let text = lossy(&mutate(STATEMENT.as_bytes(), &ms));
        if let Ok(st) = Statement::parse(&text) {
            // Only the canonical form is accepted: it renders back byte for byte.
            prop_assert_eq!(st.render(), text);
            prop_assert!(st.validate().is_ok());
        }
    }

    #[test]
    fn approval_file_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_approval_file(&b);
    }

    #[test]
    fn approval_file_mutated(ms in mutations()) {
        let file = assemble(STATEMENT, SIGNATURE);
        let bytes = mutate(file.as_bytes(), &ms);
        if let Ok(f) = parse_approval_file(&bytes) {
            // What was signed is exactly the statement text, and it re-assembles.
            prop_assert_eq!(f.statement.render(), f.statement_text.clone());
            let again = assemble(&f.statement_text, &f.signature_pem);
            prop_assert!(parse_approval_file(again.as_bytes()).is_ok());
        }
    }

    #[test]
    fn allowed_signers_any_string(s in any::<String>()) {
        let _ = allowed_signers::parse(&s);
    }

    #[test]
    fn allowed_signers_mutated(ms in mutations()) {
        let text = lossy(&mutate(signers_text().as_bytes(), &ms));
        if let Ok(parsed) = allowed_signers::parse(&text) {
            let lines = text.split('\n').count();
            prop_assert!(parsed.entries().iter().all(|e| e.line >= 1 && e.line <= lines));
        }
    }

    #[test]
    fn allowed_signers_patterns(text in "[a-z@.*?!,]{0,24}", pattern in "[a-z@.*?!,]{0,24}") {
        let _ = allowed_signers::match_pattern(&text, &pattern);
        let _ = allowed_signers::match_pattern_list(&text, &pattern);
    }

    #[test]
    fn plan_from_canonical_any_string(s in any::<String>()) {
        let _ = Plan::from_canonical(&s);
    }

    #[test]
    fn plan_from_canonical_mutated(ms in mutations()) {
        let canonical = sample_plan().canonical();
        let text = lossy(&mutate(canonical.as_bytes(), &ms));
        if let Ok(plan) = Plan::from_canonical(&text) {
            // Accepted only in canonical form, with every path inside the workspace.
            prop_assert_eq!(plan.canonical(), text);
            for c in &plan.changes {
                assert_inside(&c.path);
            }
        }
    }

    #[test]
    fn rules_parse_any_bytes(b in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = Rules::parse(&b);
    }

    #[test]
    fn rules_parse_mutated(ms in mutations()) {
        let bytes = mutate(RULES.as_bytes(), &ms);
        if let Ok(rules) = Rules::parse(&bytes) {
            let _ = rules.requirements(&sample_plan(), None);
            let _ = rules.check_denied(&sample_plan());
        }
    }

    #[test]
    fn rel_path_accepts_only_paths_inside(s in "([a-zA-Z.]{0,3}|\\.\\.|\\.autonomy|\\.AUTONOMY|\\.autonomy\\.|\\.autonomy |/|\\\\|\\x00| ){0,8}") {
        if let Ok(p) = RelPath::parse(&s) {
            assert_inside(p.as_str());
        }
    }

    #[test]
    fn rel_path_any_string(s in any::<String>()) {
        if let Ok(p) = RelPath::parse(&s) {
            assert_inside(p.as_str());
        }
    }
}

// ---------------------------------------------------------------------------------------
// The compiler, on random plans against a real workspace.

fn path_strategy() -> impl Strategy<Value = String> {
    let good = prop_oneof![
        Just("a.txt"),
        Just("b.txt"),
        Just("dir"),
        Just("dir/c.txt"),
        Just("dir/sub/d.txt"),
        Just("dir/sub"),
        Just("new/e.txt"),
        Just("new"),
        Just("dir/../a.txt"),
    ];
    let bad = prop_oneof![
        Just("link"),
        Just("link/x"),
        Just("../out.txt"),
        Just(".autonomy/journal.db"),
        Just(".Autonomy./x"),
        Just("a/../.autonomy/x"),
        Just("/abs"),
        Just(""),
    ];
    prop_oneof![12 => good, 1 => bad].prop_map(str::to_string)
}

fn action_strategy() -> impl Strategy<Value = String> {
    let kind = prop_oneof![
        4 => Just("write"),
        3 => Just("edit"),
        2 => Just("delete"),
        2 => Just("move"),
        2 => Just("mkdir"),
        2 => Just("chmod"),
        1 => Just("exec"),
        1 => Just("bogus"),
    ];
    (
        kind,
        path_strategy(),
        path_strategy(),
        "[a-c\\n]{0,6}",
        "[a-c\\n]{0,6}",
        prop_oneof![
            Just(None),
            Just(Some("0755")),
            Just(Some("0600")),
            Just(Some("9"))
        ],
        prop_oneof![Just(None), Just(Some(1i64)), Just(Some(2)), Just(Some(0))],
    )
        .prop_map(|(kind, p1, p2, t1, t2, mode, count)| {
            let mut s = format!("[[action]]\nkind = {kind:?}\n");
            match kind {
                "move" => s.push_str(&format!("from = {p1:?}\nto = {p2:?}\n")),
                "exec" => s.push_str("run = [\"true\"]\n"),
                _ => s.push_str(&format!("path = {p1:?}\n")),
            }
            match kind {
                "write" => s.push_str(&format!("content = {t1:?}\n")),
                "edit" => {
                    s.push_str(&format!("find = {t1:?}\nreplace = {t2:?}\n"));
                    if let Some(c) = count {
                        s.push_str(&format!("count = {c}\n"));
                    }
                }
                _ => {}
            }
            if let (Some(m), "write" | "chmod") = (mode, kind) {
                s.push_str(&format!("mode = {m:?}\n"));
            }
            if kind == "chmod" && mode.is_none() {
                s.push_str("executable = true\n");
            }
            s
        })
}

struct Scratch {
    _tmp: tempfile::TempDir,
    ws: Workspace,
    blobs: BlobStore,
    outside: std::path::PathBuf,
}

fn scratch() -> Scratch {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("ws");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(root.join("dir/sub")).expect("mkdir");
    std::fs::create_dir_all(root.join(".autonomy/objects")).expect("mkdir");
    std::fs::create_dir_all(&outside).expect("mkdir");
    std::fs::write(root.join("a.txt"), "abc\nabc\n").expect("write");
    std::fs::write(root.join("b.txt"), "b\n").expect("write");
    std::fs::write(root.join("dir/c.txt"), "c\n").expect("write");
    std::fs::write(root.join("dir/sub/d.txt"), "a\n").expect("write");
    std::fs::write(outside.join("x"), "outside\n").expect("write");
    std::os::unix::fs::symlink(&outside, root.join("link")).expect("symlink");
    let ws = Workspace::open(&root).expect("workspace");
    let blobs = BlobStore::new(root.join(".autonomy/objects"));
    Scratch {
        _tmp: tmp,
        ws,
        blobs,
        outside,
    }
}

fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .expect("read_dir")
            .map(|e| e.expect("e").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.ends_with(".autonomy") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).expect("stat");
            let rel = p
                .strip_prefix(dir)
                .expect("prefix")
                .to_string_lossy()
                .into_owned();
            if meta.is_dir() {
                out.push((rel, Vec::new()));
                stack.push(p);
            } else if meta.is_file() {
                out.push((rel, std::fs::read(&p).expect("read")));
            } else {
                out.push((rel, b"<link>".to_vec()));
            }
        }
    }
    out
}

#[test]
fn compile_random_plans_never_panics_nor_escapes() {
    let s = scratch();
    let before = snapshot(&s.ws.root);
    let outside_before = snapshot(&s.outside);
    let rules = Rules::default();
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let compiled = std::cell::Cell::new(0u32);
    let refused = std::cell::Cell::new(0u32);
    runner
        .run(
            &proptest::collection::vec(action_strategy(), 1..5),
            |actions| {
                let text = format!("title = \"fuzz\"\n{}", actions.concat());
                let pf = match autonomy::plan::file::parse(&text, "fuzz.toml") {
                    Ok(pf) => pf,
                    Err(_) => return Ok(()),
                };
                let meta = Meta {
                    workspace: "0123456789abcdef0123456789abcdef".into(),
                    title: pf.title.clone(),
                    author: "fuzz".into(),
                    description: None,
                };
                match compile(&s.ws, &pf, None, meta, &rules, &s.blobs) {
                    Ok(plan) => {
                        compiled.set(compiled.get() + 1);
                        for c in &plan.changes {
                            assert_inside(&c.path);
                            assert!(
                                !c.path.starts_with("link/"),
                                "a change through the symlink: {}",
                                c.path
                            );
                            if let Some(h) = c.after.file_hash()
                                && c.before.file_hash() != Some(h)
                            {
                                assert!(
                                    s.blobs.contains(h),
                                    "new content of {} not stored: {text}",
                                    c.path
                                );
                            }
                        }
                        let again = Plan::from_canonical(&plan.canonical()).expect("canonical");
                        assert_eq!(again.id(), plan.id());
                    }
                    Err(_) => refused.set(refused.get() + 1),
                }
                Ok(())
            },
        )
        .expect("property");
    // Compiling never touches the workspace (only the blob store) nor anything outside.
    assert_eq!(snapshot(&s.ws.root), before);
    assert_eq!(snapshot(&s.outside), outside_before);
    eprintln!(
        "compile fuzz: {} plans compiled, {} refused, none escaped",
        compiled.get(),
        refused.get()
    );
}
