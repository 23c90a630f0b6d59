//! Which files of a crate import each other: module paths named in one file (`crate::a::b`,
//! `super::x`, a `use` of a child module) resolved to the files that define the modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::lex;

/// The files of the largest set that import each other, directly or in a circle, with the
/// imports between them (`(from, to)`).
pub(crate) fn largest_cycle(
    src: &Path,
    files: &[PathBuf],
    texts: &[String],
) -> (Vec<PathBuf>, Vec<(PathBuf, PathBuf)>) {
    let modules: BTreeMap<Vec<String>, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (module_path(src, f), i))
        .collect();
    let edges: Vec<BTreeSet<usize>> = files
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(i, (f, text))| {
            let here = module_path(src, f);
            references(&here, text)
                .into_iter()
                .filter_map(|path| resolve(&modules, &path))
                .filter(|&j| j != i)
                .collect()
        })
        .collect();
    let mut best: Vec<usize> = Vec::new();
    for component in components(&edges) {
        if component.len() > best.len() {
            best = component;
        }
    }
    let members: BTreeSet<usize> = best.iter().copied().collect();
    let inner = members
        .iter()
        .flat_map(|&i| {
            edges[i]
                .iter()
                .filter(|j| members.contains(j))
                .map(move |&j| (files[i].clone(), files[j].clone()))
        })
        .collect();
    let mut cycle: Vec<PathBuf> = best.into_iter().map(|i| files[i].clone()).collect();
    cycle.sort();
    (cycle, inner)
}

/// `src/a/b.rs` and `src/a/b/mod.rs` → `["a", "b"]`; `src/lib.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The longest known module that `path` starts with.
fn resolve(modules: &BTreeMap<Vec<String>, usize>, path: &[String]) -> Option<usize> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]).copied())
}

/// Absolute module paths that the code of module `here` names.
fn references(here: &[String], text: &str) -> Vec<Vec<String>> {
    let code = lex::without_test_modules(&lex::blank(text));
    let tokens = tokenize(&code);
    let mut paths = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        // `pub(crate)`, `pub(super)`: a visibility, not a path.
        if i >= 2 && tokens[i - 1] == "(" && tokens[i - 2] == "pub" {
            continue;
        }
        let base: Vec<String> = match token.as_str() {
            "crate" => Vec::new(),
            "super" if i == 0 || tokens[i - 1] != "::" => {
                let mut base = here.to_vec();
                let mut j = i;
                base.pop();
                while tokens.get(j + 1).map(String::as_str) == Some("::")
                    && tokens.get(j + 2).map(String::as_str) == Some("super")
                {
                    base.pop();
                    j += 2;
                }
                let mut tail = Vec::new();
                path_tree(&tokens, j + 1, &base, &mut tail);
                paths.extend(tail);
                continue;
            }
            "use" => {
                // `use child::X` inside a module names its child module.
                let mut tail = Vec::new();
                if let Some(first) = tokens.get(i + 1)
                    && !matches!(first.as_str(), "crate" | "super" | "self" | "std" | "core")
                {
                    path_tree(&tokens, i + 1, here, &mut tail);
                }
                paths.extend(tail);
                continue;
            }
            _ => continue,
        };
        if i > 0 && tokens[i - 1] == "::" {
            continue;
        }
        path_tree(&tokens, i + 1, &base, &mut paths);
    }
    paths
}

/// Reads `::seg::seg::{tree, tree}` after position `at`, appending the full paths.
fn path_tree(tokens: &[String], at: usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    let mut i = at;
    loop {
        if tokens.get(i).map(String::as_str) != Some("::") && i != at {
            break;
        }
        if tokens.get(i).map(String::as_str) == Some("::") {
            i += 1;
        }
        match tokens.get(i).map(String::as_str) {
            Some("{") => {
                let mut depth = 0;
                let mut start = i + 1;
                let mut j = i;
                while let Some(t) = tokens.get(j) {
                    match t.as_str() {
                        "{" => depth += 1,
                        "}" => {
                            depth -= 1;
                            if depth == 0 {
                                path_tree_item(tokens, start, j, &path, out);
                                return;
                            }
                        }
                        "," if depth == 1 => {
                            path_tree_item(tokens, start, j, &path, out);
                            start = j + 1;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                return;
            }
            Some(t) if t.chars().all(|c| c.is_alphanumeric() || c == '_') => {
                if t != "self" {
                    path.push(t.to_string());
                }
                i += 1;
            }
            _ => break,
        }
    }
    out.push(path);
}

/// One item `tokens[start..end]` of a `{...}` group.
fn path_tree_item(
    tokens: &[String],
    start: usize,
    end: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) {
    if start >= end {
        return;
    }
    let Some(first) = tokens.get(start) else {
        return;
    };
    if first == "{" {
        return;
    }
    let mut path = prefix.to_vec();
    if first != "self" {
        path.push(first.clone());
    }
    let mut nested = Vec::new();
    path_tree(&tokens[..end], start + 1, &path, &mut nested);
    out.extend(nested);
}

/// Identifiers, `::`, and single punctuation characters.
fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".to_string());
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(c.to_string());
            }
            i += 1;
        }
    }
    tokens
}

/// Strongly connected components with more than one node (Tarjan, iterative enough for a
/// crate's few dozen files).
fn components(edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.edges[v].iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let n = edges.len();
    let mut s = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(here: &[&str], text: &str) -> Vec<Vec<String>> {
        let here: Vec<String> = here.iter().map(|s| s.to_string()).collect();
        references(&here, text)
    }

    #[test]
    fn paths_of_crate_super_and_groups() {
        let found = refs(
            &["ops", "read"],
            "use super::{KeyRef, Step};\nuse crate::chain::{Append, Lookup};\nlet x = crate::record::word_of(v);\npub(crate) use child::Thing;\npub(super) struct S;\n",
        );
        let found: Vec<String> = found.iter().map(|p| p.join("::")).collect();
        assert!(found.contains(&"ops::KeyRef".to_string()), "{found:?}");
        assert!(found.contains(&"chain::Lookup".to_string()), "{found:?}");
        assert!(found.contains(&"record::word_of".to_string()), "{found:?}");
        assert!(
            found.contains(&"ops::read::child::Thing".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn circles_are_found() {
        let edges = vec![
            BTreeSet::from([1]),
            BTreeSet::from([2]),
            BTreeSet::from([0]),
            BTreeSet::from([0]),
        ];
        let mut c = components(&edges);
        assert_eq!(c.len(), 1);
        c[0].sort();
        assert_eq!(c[0], vec![0, 1, 2]);
    }
}
