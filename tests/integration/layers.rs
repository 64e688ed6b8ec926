//! The library's layers point only down. `src/lib.rs` lists the top-level modules bottom to
//! top; a module may name (`crate::x`) only modules listed before it. A `crate::` path that
//! points up, or a cycle between files, fails this test with the file and the edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The layer order (`autonomy::LAYERS`), checked against the modules src/lib.rs declares.
fn layers() -> Vec<String> {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let listed: BTreeSet<String> = autonomy::LAYERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        declared, listed,
        "src/lib.rs: every top-level module is in LAYERS, once"
    );
    autonomy::LAYERS.iter().map(|s| s.to_string()).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's module path (`engine/run.rs` → `engine::run`, `ops/mod.rs` → `ops`).
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Code without comments (doc links are not dependencies), strings kept (they hold no
/// `crate::` paths that matter; a false edge would only make the test stricter).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b…` path in the code, grouped imports (`crate::a::{b, c::d}`) expanded
/// one level.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i;
        at = start + 7;
        if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
            continue;
        }
        let mut path = Vec::new();
        let mut j = at;
        loop {
            let seg: String = code[j..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if seg.is_empty() {
                break;
            }
            j += seg.len();
            path.push(seg);
            if code[j..].starts_with("::") {
                j += 2;
            } else {
                break;
            }
        }
        if code[j..].starts_with('{') {
            let end = code[j..].find('}').map_or(code.len(), |e| j + e);
            for item in code[j + 1..end].split(',') {
                let first: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !first.is_empty() {
                    let mut p = path.clone();
                    p.push(first);
                    out.push(p);
                }
            }
        } else if !path.is_empty() {
            out.push(path);
        }
    }
    out
}

struct Graph {
    /// file module path → the file modules it names
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
    /// up-pointing edges: (file, target, why)
    up: Vec<String>,
}

fn graph() -> Graph {
    let order = layers();
    assert!(
        order.len() >= 10,
        "src/lib.rs lists too few layers: {order:?}"
    );
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<Vec<String>> = files
        .iter()
        .map(|f| module_of(&f.strip_prefix(src()).unwrap().to_string_lossy()))
        .collect();
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains(p))
    };
    let mut edges = BTreeMap::new();
    let mut up = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src()).unwrap().to_string_lossy().to_string();
        let me = module_of(&rel);
        if me == ["lib"] || me == ["main"] {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let mine = rank(&me[0]).unwrap_or_else(|| {
            panic!(
                "src/{rel}: its module {} is not listed in src/lib.rs",
                me[0]
            )
        });
        let targets: &mut BTreeSet<Vec<String>> = edges.entry(me.clone()).or_default();
        for path in crate_paths(&code(text)) {
            let Some(theirs) = rank(&path[0]) else {
                continue;
            };
            if theirs > mine {
                up.push(format!(
                    "src/{rel} ({}) uses crate::{} ({}), which is above it",
                    me[0],
                    path.join("::"),
                    path[0]
                ));
            }
            if let Some(t) = resolve(&path).filter(|t| *t != me) {
                targets.insert(t);
            }
        }
    }
    Graph { edges, up }
}

#[test]
fn every_use_points_down_the_layers() {
    let g = graph();
    assert!(
        g.up.is_empty(),
        "layering broken (order in src/lib.rs):\n{}",
        g.up.join("\n")
    );
}

#[test]
fn no_two_files_depend_on_each_other() {
    // Tarjan's strongly connected components over the file graph.
    let g = graph();
    let nodes: Vec<&Vec<String>> = g.edges.keys().collect();
    let idx: BTreeMap<&Vec<String>, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let adj: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            g.edges[*n]
                .iter()
                .filter_map(|t| idx.get(t).copied())
                .collect()
        })
        .collect();
    struct T {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(v: usize, adj: &[Vec<usize>], t: &mut T) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on[v] = true;
        for &w in &adj[v] {
            match t.index[w] {
                None => {
                    visit(w, adj, t);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                t.out.push(comp);
            }
        }
    }
    let n = nodes.len();
    let mut t = T {
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(v, &adj, &mut t);
        }
    }
    let cycles: Vec<String> = t
        .out
        .iter()
        .map(|c| {
            c.iter()
                .map(|&i| nodes[i].join("::"))
                .collect::<Vec<_>>()
                .join(" <-> ")
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "files that depend on each other:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_layer_check_sees_an_upward_edge() {
    // The check itself must be able to fail: a path naming a higher layer is found.
    let paths = crate_paths(&code(
        "use crate::ops::session::Session; // crate::cli::x\nlet a = crate::render::{diff, color::Palette};",
    ));
    let firsts: Vec<&str> = paths.iter().map(|p| p[0].as_str()).collect();
    assert_eq!(firsts, ["ops", "render", "render"]);
    assert_eq!(paths[2], ["render", "color"]);
    let order = layers();
    let pos = |m: &str| order.iter().position(|o| o == m).unwrap();
    assert!(pos("util") < pos("model") && pos("model") < pos("store") && pos("ops") < pos("cli"));
}

/// Front ends parse, call one `ops` use case and render: they name no engine or store item
/// (the ops layer re-exports the few types a front end needs, such as `Reporter`), so no
/// front door can start a run or write the journal around the checks in `ops`.
#[test]
fn front_ends_reach_the_engine_and_the_store_only_through_ops() {
    let mut files = Vec::new();
    rust_files(&src().join("cli"), &mut files);
    rust_files(&src().join("render"), &mut files);
    assert!(
        files.len() > 20,
        "src/cli and src/render hold the front ends"
    );
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for path in crate_paths(&code(&text)) {
            if path[0] == "engine" || path[0] == "store" {
                let rel = f.strip_prefix(src()).unwrap().display().to_string();
                found.push(format!("src/{rel} names crate::{}", path.join("::")));
            }
        }
    }
    assert!(
        found.is_empty(),
        "front ends reach the engine and the store only through ops:\n{}",
        found.join("\n")
    );
}

/// `text` with comments, string and character literals blanked (newlines kept), so braces
/// and `fn` inside them are not code.
fn blank_literals(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let word_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if b[i..].starts_with(b"//") {
            let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |n| i + n + 4);
            blank(&mut out, i, end);
            i = end;
        } else if !word_before
            && (b[i..].starts_with(b"r#")
                || b[i..].starts_with(b"r\"")
                || b[i..].starts_with(b"br"))
        {
            let start = if b[i] == b'b' { i + 2 } else { i + 1 };
            let hashes = b[start..].iter().take_while(|&&c| c == b'#').count();
            if b.get(start + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let body = start + hashes + 1;
            let end = text[body..]
                .find(&close)
                .map_or(b.len(), |n| body + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            // A character literal ('x', '\n', '\u{..}'); a lifetime ('a) has no closing quote.
            let end = if b.get(i + 1) == Some(&b'\\') {
                text[i + 2..].find('\'').map(|n| i + 2 + n + 1)
            } else {
                let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + ch) == Some(&b'\'')).then_some(i + 2 + ch)
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Each function in `text`: its name, the line its `fn` is on (0-based) and how many lines
/// it spans, from that line to its closing brace.
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let code = blank_literals(text);
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(n) = code[at..].find("fn ") {
        let i = at + n;
        at = i + 3;
        if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
            continue;
        }
        let name: String = code[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            continue;
        }
        let (Some(open), semi) = (code[at..].find('{'), code[at..].find(';')) else {
            continue;
        };
        if semi.is_some_and(|s| s < open) {
            continue;
        }
        let mut depth = 0usize;
        let mut end = at + open;
        for (k, c) in code[at + open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = at + open + k;
                        break;
                    }
                }
                _ => {}
            }
        }
        let first = code[..i].matches('\n').count();
        let last = code[..end].matches('\n').count();
        out.push((name, first, last - first + 1));
    }
    out
}

/// Issue 13: no function over about 100 lines without a reason written next to it: a
/// comment line saying `Long because` in the comments and attributes right above its `fn`.
#[test]
fn no_function_over_100_lines_without_a_reason() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (name, line, count) in functions(&text) {
            if count <= 100 {
                continue;
            }
            let reason = lines[..line]
                .iter()
                .rev()
                .map(|l| l.trim())
                .take_while(|l| l.starts_with("//") || l.starts_with("#[") || l.starts_with(")]"))
                .any(|l| l.contains("Long because"));
            if !reason {
                let rel = f.strip_prefix(src()).unwrap().display().to_string();
                long.push(format!("src/{rel}:{} fn {name}: {count} lines", line + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over 100 lines with no `// Long because: ...` above them (split them, or say why not):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_length_check_measures_functions_and_skips_literals() {
    let body: String = (0..101)
        .map(|i| format!("    let x{i} = '{{';\n"))
        .collect();
    let text = format!(
        "fn short() {{ let s = \"fn fake() {{\"; }}\n/// doc\nfn long() {{\n{body}}}\nfn after<'a>(x: &'a str) -> &'a str {{ x }}\n"
    );
    let found = functions(&text);
    let names: Vec<(&str, usize, usize)> =
        found.iter().map(|(n, l, c)| (n.as_str(), *l, *c)).collect();
    assert_eq!(
        names,
        [("short", 0, 1), ("long", 2, 103), ("after", 105, 1)]
    );
}

/// Issue 13: one output owner. All terminal output goes through `cli::ui` (colours decided
/// once, closed pipes handled once in `main`); nothing else names the process's streams.
/// Test code is exempt, and so is the re-exec'd confinement child, which has no `Ui` (it
/// reports a bad spec on its own stderr, which its parent relays, and exits).
#[test]
fn all_terminal_output_goes_through_the_output_owner() {
    const OWNER: &str = "cli/ui.rs";
    const CHILD: &str = "exec/isolate.rs";
    let streams = [
        "io::stdout()",
        "io::stderr()",
        "Term::stdout()",
        "Term::stderr()",
        "println!",
        "eprintln!",
        "print!(",
        "eprint!(",
        "dbg!(",
    ];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(src()).unwrap().display().to_string();
        let test_file = rel.ends_with("tests.rs");
        if rel == OWNER || test_file {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let code = code(text);
        let uses: Vec<&str> = streams
            .iter()
            .copied()
            .filter(|s| code.contains(s))
            .collect();
        let allowed = rel == CHILD && uses == ["io::stderr()"];
        if !uses.is_empty() && !allowed {
            found.push(format!("src/{rel}: {}", uses.join(", ")));
        }
    }
    assert!(
        found.is_empty(),
        "terminal output outside the output owner (use cli::ui):\n{}",
        found.join("\n")
    );
}
