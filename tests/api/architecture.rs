//! The arrows between Loyal's modules go one way (docs/ARCHITECTURE.md, "Which module
//! may call which"): read from the sources, no module reaches back into one that
//! depends on it. A file that takes the shared `AppState` (an API or page handler, a
//! middleware) is its module's edge, above the domain code; the router (`app`) and the
//! commands (`cli`, `bench`, `demo`) sit on top of everything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ON_TOP: [&str; 6] = ["app", "cli", "bench", "demo", "main", "console"];

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

/// The code of a file without its tests and comments.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` the code names, as (a, b).
fn paths_named(code: &str) -> BTreeSet<(String, String)> {
    let mut named = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let ident = |s: &str| {
            s.chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        };
        let first = ident(rest);
        let after = &rest[first.len()..];
        let second = after.strip_prefix("::").map(ident).unwrap_or_default();
        named.insert((first, second));
    }
    named
}

/// Strongly connected groups of more than one node (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(w: &mut Walk<'g>, v: &'g str) {
        let n = w.index.len();
        w.index.insert(v, n);
        w.low.insert(v, n);
        w.stack.push(v);
        for t in w.graph.get(v).into_iter().flatten() {
            let t = t.as_str();
            if !w.index.contains_key(t) {
                visit(w, t);
                let l = w.low[t].min(w.low[v]);
                w.low.insert(v, l);
            } else if w.stack.contains(&t) {
                let l = w.index[t].min(w.low[v]);
                w.low.insert(v, l);
            }
        }
        if w.low[v] == w.index[v] {
            let mut group = Vec::new();
            while let Some(t) = w.stack.pop() {
                group.push(t.to_string());
                if t == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                w.found.push(group);
            }
        }
    }
    let mut w = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !w.index.contains_key(v.as_str()) {
            visit(&mut w, v);
        }
    }
    w.found
}

#[test]
fn no_module_reaches_back_into_one_that_depends_on_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let module_of = |p: &Path| {
        let rel = p.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    // A file's node: its module, or its module's edge when it takes the shared state.
    let mut node_of_file: BTreeMap<PathBuf, String> = BTreeMap::new();
    for f in &files {
        let m = module_of(f);
        let edge = m != "state" && code(f).contains("AppState");
        node_of_file.insert(f.clone(), if edge { format!("{m}::edge") } else { m });
    }
    let target = |first: &str, second: &str| -> Option<String> {
        let dir = src.join(first);
        let file = src.join(format!("{first}.rs"));
        if !dir.is_dir() && !file.is_file() {
            return None; // a macro or an item of lib.rs
        }
        let sub = [
            dir.join(format!("{second}.rs")),
            dir.join(second).join("mod.rs"),
        ];
        Some(
            sub.iter()
                .find_map(|p| node_of_file.get(p).cloned())
                .unwrap_or_else(|| first.to_string()),
        )
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut why: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let from = node_of_file[f].clone();
        for (first, second) in paths_named(&code(f)) {
            let Some(to) = target(&first, &second) else {
                continue;
            };
            if to == from {
                continue;
            }
            let top = |n: &str| ON_TOP.contains(&n.split("::").next().unwrap());
            assert!(
                top(&from) || !top(&to),
                "{} names crate::{first}: only the router and the commands may",
                f.display()
            );
            graph.entry(from.clone()).or_default().insert(to.clone());
            why.entry((from.clone(), to))
                .or_default()
                .insert(f.strip_prefix(&src).unwrap().display().to_string());
        }
    }
    let found = cycles(&graph);
    let explain: Vec<String> = found
        .iter()
        .map(|group| {
            let arrows: Vec<String> = why
                .iter()
                .filter(|((a, b), _)| group.contains(a) && group.contains(b))
                .map(|((a, b), files)| format!("  {a} -> {b} ({files:?})"))
                .collect();
            format!("{group:?}:\n{}", arrows.join("\n"))
        })
        .collect();
    assert!(
        found.is_empty(),
        "modules in a cycle:\n{}",
        explain.join("\n")
    );
}
