//! `cargo xtask tidy`: source hygiene and the crate graph, checked without building anything.
//!
//! Checks:
//! 1. every Rust source file opens with a `//!` comment saying what it is for;
//! 2. library code (`crates/*/src`) holds no stub or debug macros;
//! 3. no source file is longer than [`MAX_LINES`] lines;
//! 4. the dependencies between workspace crates are exactly the graph written in
//!    `docs/ARCHITECTURE.md` (the block after the `<!-- crate-graph -->` marker), and the
//!    crates in [`LEAVES`] depend on no other workspace crate whatever the block says.
//!
//! The same checks run as a `#[test]`, so plain `cargo test` catches them too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest allowed source file.
const MAX_LINES: usize = 1000;

/// Crates at the bottom of the graph: the epoch, the device and the address know nothing of
/// records, pages or checkpoints, so they name no other workspace crate.
const LEAVES: [&str; 3] = ["faster-epoch", "faster-device", "faster-address"];

/// Runs every check and reports all problems at once.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "fuzz"] {
        collect_rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    for file in &files {
        check_file(root, file, &mut problems);
    }
    if let Err(e) = check_crate_graph(root) {
        problems.push(e);
    }
    if problems.is_empty() {
        println!("tidy: {} files checked, crate graph matches", files.len());
        Ok(())
    } else {
        Err(format!("tidy found problems:\n  {}", problems.join("\n  ")))
    }
}

pub(crate) fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != "corpus" && name != "artifacts" {
                collect_rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn check_file(root: &Path, file: &Path, problems: &mut Vec<String>) {
    let shown = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let Ok(text) = std::fs::read_to_string(file) else {
        problems.push(format!("{shown}: not readable as UTF-8"));
        return;
    };
    if !text.starts_with("//!") {
        problems.push(format!("{shown}: must open with a `//!` comment"));
    }
    let lines = text.lines().count();
    if lines > MAX_LINES {
        problems.push(format!(
            "{shown}: {lines} lines (limit {MAX_LINES}): split it by concept"
        ));
    }
    let is_library = shown.starts_with("crates/") && shown.contains("/src/");
    if is_library {
        // Spelled in pieces so that this file does not trip its own check.
        let banned = [
            concat!("todo", "!("),
            concat!("dbg", "!("),
            concat!("unimplemented", "!("),
        ];
        for (number, line) in text.lines().enumerate() {
            for macro_call in banned {
                if line.contains(macro_call) {
                    problems.push(format!(
                        "{shown}:{}: `{macro_call}` in library code",
                        number + 1
                    ));
                }
            }
        }
    }
}

/// crate name -> workspace crates it depends on (normal and build dependencies).
type Graph = BTreeMap<String, BTreeSet<String>>;

fn check_crate_graph(root: &Path) -> Result<(), String> {
    let documented = documented_graph(root)?;
    let actual = actual_graph(root)?;
    let mut diff = Vec::new();
    for leaf in LEAVES {
        if let Some(deps) = actual.get(leaf).filter(|d| !d.is_empty()) {
            diff.push(format!(
                "{leaf} must stay a leaf, but Cargo.toml has {:?}",
                deps.iter().collect::<Vec<_>>()
            ));
        }
    }
    if documented == actual && diff.is_empty() {
        return Ok(());
    }
    let names: BTreeSet<_> = documented.keys().chain(actual.keys()).collect();
    for name in names {
        let doc = documented.get(name);
        let act = actual.get(name);
        if doc != act {
            diff.push(format!(
                "{name}: documented {:?}, Cargo.toml has {:?}",
                doc.map(|d| d.iter().collect::<Vec<_>>()),
                act.map(|a| a.iter().collect::<Vec<_>>())
            ));
        }
    }
    Err(format!(
        "crate graph differs from docs/ARCHITECTURE.md or breaks a leaf:\n    {}",
        diff.join("\n    ")
    ))
}

/// Parses lines `crate -> dep, dep` from the fenced block after `<!-- crate-graph -->`.
fn documented_graph(root: &Path) -> Result<Graph, String> {
    let path = root.join("docs/ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let after = text
        .split_once("<!-- crate-graph -->")
        .ok_or("docs/ARCHITECTURE.md has no `<!-- crate-graph -->` marker")?
        .1;
    let mut lines = after.lines().skip_while(|l| !l.starts_with("```"));
    lines.next();
    let mut graph = Graph::new();
    for line in lines.take_while(|l| !l.starts_with("```")) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (name, deps) = line
            .split_once("->")
            .ok_or_else(|| format!("crate graph line without `->`: {line}"))?;
        let deps = deps
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(String::from)
            .collect();
        graph.insert(name.trim().to_string(), deps);
    }
    Ok(graph)
}

/// The graph of `crates/*` from `cargo metadata`.
fn actual_graph(root: &Path) -> Result<Graph, String> {
    let output = crate::cmd::cargo(&["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages = metadata["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let crates_dir = root.join("crates");
    let members: BTreeSet<String> = packages
        .iter()
        .filter(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| Path::new(m).starts_with(&crates_dir))
        })
        .filter_map(|p| p["name"].as_str().map(String::from))
        .collect();
    let mut graph = Graph::new();
    for package in packages {
        let Some(name) = package["name"].as_str() else {
            continue;
        };
        if !members.contains(name) {
            continue;
        }
        let deps = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["kind"].as_str() != Some("dev"))
            .filter_map(|d| d["name"].as_str())
            .filter(|d| members.contains(*d))
            .map(String::from)
            .collect();
        graph.insert(name.to_string(), deps);
    }
    Ok(graph)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_workspace_is_tidy() {
        super::run(&crate::cmd::workspace_root()).unwrap();
    }
}
