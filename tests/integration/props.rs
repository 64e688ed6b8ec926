//! Property tests: for random workspaces (nested files with random bytes and modes) and
//! random valid plans (mixes of write, edit, delete, chmod, mkdir and move, of files and
//! folders), `apply` produces exactly the tree the plan describes, `rollback` is the
//! identity on every byte and mode, `verify` passes; and a workspace that drifted after
//! planning is never written.

use crate::common::*;
use base64::Engine as _;
use proptest::prelude::*;
use std::collections::BTreeMap;

const DIRS: &[&str] = &["", "a", "a/b", "c", "a/b/deep"];
const NAMES: &[&str] = &["f0", "f1.txt", "f2.bin", "f3.sh", "f4"];
const MODES: &[u32] = &[0o644, 0o755, 0o600];

#[derive(Debug, Clone)]
struct WsFile {
    dir: usize,
    name: usize,
    bytes: Vec<u8>,
    mode: usize,
}

#[derive(Debug, Clone)]
struct OpSeed {
    kind: u8,
    a: u16,
    b: u16,
    bytes: Vec<u8>,
    mode: u8,
}

/// Random bytes without `#`, which only edit markers use.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_map(|b| if b == b'#' { b'$' } else { b }),
        0..40,
    )
}

fn ws_file() -> impl Strategy<Value = WsFile> {
    (0..DIRS.len(), 0..NAMES.len(), bytes(), 0..MODES.len()).prop_map(|(dir, name, bytes, mode)| {
        WsFile {
            dir,
            name,
            bytes,
            mode,
        }
    })
}

fn op_seed() -> impl Strategy<Value = OpSeed> {
    (0u8..9, any::<u16>(), any::<u16>(), bytes(), any::<u8>()).prop_map(
        |(kind, a, b, bytes, mode)| OpSeed {
            kind,
            a,
            b,
            bytes,
            mode,
        },
    )
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn is_under(p: &str, dir: &str) -> bool {
    p.len() > dir.len() && p.starts_with(dir) && p.as_bytes()[dir.len()] == b'/'
}

fn apply_mode(base: u32, exec: bool) -> u32 {
    if exec {
        base | ((base & 0o444) >> 2)
    } else {
        base & !0o111
    }
}

/// The initial workspace: files (with markers so that edits can find them), their
/// folders, and maybe an empty folder.
fn initial(files: &[WsFile], empty_dir: bool) -> (Tree, BTreeMap<String, String>) {
    let mut tree = Tree::new();
    let mut markers = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        let dir = DIRS[f.dir];
        let path = join(dir, NAMES[f.name]);
        // A folder and a file may not share a name: skip a file where a folder must be.
        if tree.contains_key(&path) || DIRS.iter().any(|d| is_under(d, &path) || *d == path) {
            continue;
        }
        let mut parts = String::new();
        for seg in dir.split('/').filter(|s| !s.is_empty()) {
            parts = join(&parts, seg);
            tree.insert(parts.clone(), None);
        }
        let marker = format!("#M{i}#");
        let mut bytes = f.bytes.clone();
        bytes.extend_from_slice(marker.as_bytes());
        tree.insert(path.clone(), Some((bytes, MODES[f.mode])));
        markers.insert(path, marker);
    }
    if empty_dir && !tree.contains_key("e") {
        tree.insert("e".into(), None);
    }
    (tree, markers)
}

fn pick<T: Clone>(v: &[T], seed: u16) -> Option<T> {
    if v.is_empty() {
        None
    } else {
        Some(v[seed as usize % v.len()].clone())
    }
}

/// Interpret the seeds as a valid plan against `tree`; returns the plan file and the
/// tree it must produce.
fn build_plan(start: &Tree, markers: &BTreeMap<String, String>, ops: &[OpSeed]) -> (String, Tree) {
    let mut t = start.clone();
    let mut markers = markers.clone();
    let mut toml = String::from("title = \"random plan\"\n");
    let mut k = 0usize;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let files = |t: &Tree| -> Vec<String> {
        t.iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.clone())
            .collect()
    };
    let dirs = |t: &Tree| -> Vec<String> {
        std::iter::once(String::new())
            .chain(
                t.iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| k.clone()),
            )
            .collect()
    };
    for op in ops {
        k += 1;
        match op.kind {
            // write over an existing file
            0 => {
                let Some(p) = pick(&files(&t), op.a) else {
                    continue;
                };
                let old_mode = t[&p].as_ref().unwrap().1;
                let (mode_line, mode) = match op.mode % 5 {
                    1..=3 => {
                        let m = [0o644, 0o755, 0o600][(op.mode % 5 - 1) as usize];
                        (format!("mode = \"{m:04o}\"\n"), m)
                    }
                    4 => {
                        let x = op.b % 2 == 0;
                        (format!("executable = {x}\n"), apply_mode(old_mode, x))
                    }
                    _ => (String::new(), old_mode),
                };
                toml += &format!(
                    "[[action]]\nkind = \"write\"\npath = \"{p}\"\ncontent_base64 = \"{}\"\n{mode_line}",
                    b64(&op.bytes)
                );
                t.insert(p.clone(), Some((op.bytes.clone(), mode)));
                markers.remove(&p);
            }
            // write a new file, maybe in new folders
            1 => {
                let parent = pick(&dirs(&t), op.a).unwrap();
                let parent = if op.b % 2 == 0 {
                    let d = join(&parent, &format!("nd{k}"));
                    t.insert(d.clone(), None);
                    d
                } else {
                    parent
                };
                let p = join(&parent, &format!("new{k}"));
                let marker = format!("#N{k}#");
                let mut bytes = op.bytes.clone();
                bytes.extend_from_slice(marker.as_bytes());
                let (mode_line, mode) = match op.mode % 3 {
                    1 => ("executable = true\n".to_string(), 0o755),
                    2 => ("mode = \"0600\"\n".to_string(), 0o600),
                    _ => (String::new(), 0o644),
                };
                toml += &format!(
                    "[[action]]\nkind = \"write\"\npath = \"{p}\"\ncontent_base64 = \"{}\"\n{mode_line}",
                    b64(&bytes)
                );
                t.insert(p.clone(), Some((bytes, mode)));
                markers.insert(p, marker);
            }
            // edit a file by its marker
            2 => {
                let editable: Vec<String> = markers.keys().cloned().collect();
                let Some(p) = pick(&editable, op.a) else {
                    continue;
                };
                let find = markers[&p].clone();
                let replace = format!("#E{k}#");
                toml += &format!(
                    "[[action]]\nkind = \"edit\"\npath = \"{p}\"\nfind = \"{find}\"\nreplace = \"{replace}\"\n"
                );
                let (bytes, mode) = t[&p].clone().unwrap();
                let s = bytes
                    .windows(find.len())
                    .position(|w| w == find.as_bytes())
                    .expect("marker");
                let mut new = bytes[..s].to_vec();
                new.extend_from_slice(replace.as_bytes());
                new.extend_from_slice(&bytes[s + find.len()..]);
                t.insert(p.clone(), Some((new, mode)));
                markers.insert(p, replace);
            }
            // delete a file
            3 => {
                let Some(p) = pick(&files(&t), op.a) else {
                    continue;
                };
                toml += &format!("[[action]]\nkind = \"delete\"\npath = \"{p}\"\n");
                t.remove(&p);
                markers.remove(&p);
            }
            // delete a folder with everything in it
            4 => {
                let ds: Vec<String> = dirs(&t).into_iter().filter(|d| !d.is_empty()).collect();
                let Some(d) = pick(&ds, op.a) else { continue };
                toml += &format!("[[action]]\nkind = \"delete\"\npath = \"{d}\"\n");
                t.retain(|p, _| p != &d && !is_under(p, &d));
                markers.retain(|p, _| !is_under(p, &d));
            }
            // chmod
            5 => {
                let Some(p) = pick(&files(&t), op.a) else {
                    continue;
                };
                let (bytes, old) = t[&p].clone().unwrap();
                let (line, mode) = match op.mode % 3 {
                    0 => ("executable = true".to_string(), apply_mode(old, true)),
                    1 => ("executable = false".to_string(), apply_mode(old, false)),
                    _ => {
                        let m = [0o600, 0o640, 0o755, 0o700][op.b as usize % 4];
                        (format!("mode = \"{m:o}\""), m)
                    }
                };
                toml += &format!("[[action]]\nkind = \"chmod\"\npath = \"{p}\"\n{line}\n");
                t.insert(p, Some((bytes, mode)));
            }
            // mkdir
            6 => {
                let parent = pick(&dirs(&t), op.a).unwrap();
                let d = join(&join(&parent, &format!("mk{k}")), &format!("sub{k}"));
                toml += &format!("[[action]]\nkind = \"mkdir\"\npath = \"{d}\"\n");
                t.insert(join(&parent, &format!("mk{k}")), None);
                t.insert(d, None);
            }
            // move a file
            7 => {
                let Some(from) = pick(&files(&t), op.a) else {
                    continue;
                };
                let parent = pick(&dirs(&t), op.b).unwrap();
                let to = join(&parent, &format!("mv{k}"));
                toml += &format!("[[action]]\nkind = \"move\"\nfrom = \"{from}\"\nto = \"{to}\"\n");
                let v = t.remove(&from).unwrap();
                t.insert(to.clone(), v);
                if let Some(m) = markers.remove(&from) {
                    markers.insert(to, m);
                }
            }
            // move a folder
            _ => {
                let ds: Vec<String> = dirs(&t).into_iter().filter(|d| !d.is_empty()).collect();
                let Some(from) = pick(&ds, op.a) else {
                    continue;
                };
                let targets: Vec<String> = dirs(&t)
                    .into_iter()
                    .filter(|d| d != &from && !is_under(d, &from))
                    .collect();
                let parent = pick(&targets, op.b).unwrap();
                let to = join(&parent, &format!("mvd{k}"));
                toml += &format!("[[action]]\nkind = \"move\"\nfrom = \"{from}\"\nto = \"{to}\"\n");
                let moved: Vec<(String, Entry)> = t
                    .iter()
                    .filter(|(p, _)| *p == &from || is_under(p, &from))
                    .map(|(p, v)| (p.clone(), v.clone()))
                    .collect();
                for (p, v) in moved {
                    t.remove(&p);
                    let np = format!("{to}{}", &p[from.len()..]);
                    if let Some(m) = markers.remove(&p) {
                        markers.insert(np.clone(), m);
                    }
                    t.insert(np, v);
                }
            }
        }
    }
    // A folder the plan emptied (it held an entry the plan removed) goes too, as git does
    // (issue 15), deepest first.
    let mut held: Vec<String> = start
        .iter()
        .filter(|(p, v)| v.is_none() && t.get(*p) == Some(&None))
        .map(|(p, _)| p.clone())
        .collect();
    held.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
    for d in held {
        let lost = start.keys().any(|p| is_under(p, &d) && !t.contains_key(p));
        let empty = !t.keys().any(|p| is_under(p, &d));
        if lost && empty {
            t.remove(&d);
        }
    }
    // Every plan changes something.
    k += 1;
    toml +=
        &format!("[[action]]\nkind = \"write\"\npath = \"zz{k}.txt\"\ncontent = \"always\\n\"\n");
    t.insert(format!("zz{k}.txt"), Some((b"always\n".to_vec(), 0o644)));
    (toml, t)
}

fn materialise(env: &Env, tree: &Tree) {
    for (p, v) in tree {
        match v {
            None => std::fs::create_dir_all(env.path(p)).unwrap(),
            Some((bytes, mode)) => {
                env.write(p, bytes);
                env.set_mode(p, *mode);
            }
        }
    }
}

fn check(files: Vec<WsFile>, empty_dir: bool, ops: Vec<OpSeed>, drift_pick: u16) {
    let (start, markers) = initial(&files, empty_dir);
    let (toml, expected) = build_plan(&start, &markers, &ops);
    let env = Env::new_fast();
    materialise(&env, &start);
    let before = env.tree();
    assert_eq!(before, start);

    let file = env.plan_file(&toml);
    let out = env.run(&["plan", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "a valid plan was refused:\n{toml}\n{out:?}");
    let id = out.stdout.trim().to_string();
    assert_eq!(env.tree(), before, "planning wrote to the workspace");
    env.approve(&id);

    // Drift one `before` file after planning: apply must refuse and write nothing.
    let preview = env.run(&["preview", &id, "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&preview.stdout).unwrap();
    let before_files: Vec<String> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["before"]["kind"] == "file")
        .map(|c| c["path"].as_str().unwrap().to_string())
        .collect();
    if let Some(victim) = pick(&before_files, drift_pick) {
        let original = env.read(&victim);
        let mut changed = original.clone();
        changed.push(b'!');
        env.write(&victim, &changed);
        let drifted = env.tree();
        let out = env.run(&["apply", &id]);
        assert_eq!(
            out.code, 4,
            "drift on {victim} not refused:\n{toml}\n{out:?}"
        );
        assert!(out.stderr.contains(&victim), "{victim} not named: {out:?}");
        assert_eq!(env.tree(), drifted, "{}", tree_diff(&env.tree(), &drifted));
        env.write(&victim, &original);
        assert_eq!(env.tree(), before);
    }

    let out = env.run(&["apply", &id]);
    assert_eq!(out.code, 0, "apply failed:\n{toml}\n{out:?}");
    let after = env.tree();
    assert_eq!(
        after,
        expected,
        "apply did not produce the planned tree:\n{toml}\n{}",
        tree_diff(&after, &expected)
    );

    let (out, code) = env.tty(&["rollback", &id], "y");
    assert_eq!(code, 0, "rollback failed:\n{toml}\n{out}");
    let back = env.tree();
    assert_eq!(
        back,
        before,
        "rollback is not the identity:\n{toml}\n{}",
        tree_diff(&back, &before)
    );
    env.verify_ok();
}

proptest! {
    #![proptest_config(ProptestConfig {
        // 24 in CI; AUTONOMY_PROP_CASES=500 for a longer hunt.
        cases: std::env::var("AUTONOMY_PROP_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
        max_shrink_iters: 64,
        failure_persistence: None,
        .. ProptestConfig::default()
    })]

    #[test]
    fn apply_then_rollback_is_the_identity_and_drift_is_never_written(
        files in prop::collection::vec(ws_file(), 1..8),
        empty_dir in any::<bool>(),
        ops in prop::collection::vec(op_seed(), 1..7),
        drift_pick in any::<u16>(),
    ) {
        check(files, empty_dir, ops, drift_pick);
    }
}

/// A fixed mix that covers every op kind at least once (a quick regression check that
/// does not depend on what the random cases happen to draw).
#[test]
fn every_op_kind_in_one_plan() {
    let files = (0..5)
        .map(|i| WsFile {
            dir: i % DIRS.len(),
            name: i % NAMES.len(),
            bytes: vec![i as u8; i * 3],
            mode: i % MODES.len(),
        })
        .collect();
    let ops = (0u8..9)
        .map(|kind| OpSeed {
            kind,
            a: kind as u16 * 7,
            b: kind as u16 * 3 + 1,
            bytes: vec![kind; 5],
            mode: kind,
        })
        .collect();
    check(files, true, ops, 1);
}
