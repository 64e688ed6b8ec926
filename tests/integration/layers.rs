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
