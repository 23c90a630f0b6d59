//! The dependencies between workspace crates, against the graph in `docs/ARCHITECTURE.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Crates at the bottom of the graph: the epoch, the device and the address know nothing of
/// records, pages or checkpoints, so they name no other workspace crate.
const LEAVES: [&str; 3] = ["faster-epoch", "faster-device", "faster-address"];

/// crate name -> workspace crates it depends on (normal and build dependencies).
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Compares the documented graph with `cargo metadata`'s.
pub(crate) fn check_crate_graph(root: &Path) -> Result<(), String> {
    let path = root.join("docs/ARCHITECTURE.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let documented = documented_graph(&text)?;
    let actual = actual_graph(root)?;
    compare(&documented, &actual)
}

fn compare(documented: &Graph, actual: &Graph) -> Result<(), String> {
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
fn documented_graph(text: &str) -> Result<Graph, String> {
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
    use super::*;

    const DOC: &str = "# Crates\n<!-- crate-graph -->\n```text\nfaster-epoch ->\n\
                       faster-device ->\nfaster-hlog -> faster-epoch, faster-device\n```\n";

    #[test]
    fn the_documented_graph_is_read_from_the_marked_block() {
        let graph = documented_graph(DOC).unwrap();
        assert_eq!(graph.len(), 3);
        assert_eq!(graph["faster-hlog"].len(), 2);
        assert!(documented_graph("no marker").is_err());
        assert!(documented_graph("<!-- crate-graph -->\n```\nfaster-kv\n```\n").is_err());
    }

    #[test]
    fn a_graph_that_differs_or_a_leaf_with_dependencies_fails() {
        let documented = documented_graph(DOC).unwrap();
        assert_eq!(compare(&documented, &documented), Ok(()));
        let mut actual = documented.clone();
        actual
            .get_mut("faster-hlog")
            .unwrap()
            .remove("faster-device");
        let err = compare(&documented, &actual).unwrap_err();
        assert!(err.contains("faster-hlog: documented"), "{err}");
        let mut leafy = documented.clone();
        leafy
            .get_mut("faster-device")
            .unwrap()
            .insert("faster-epoch".into());
        let err = compare(&leafy, &leafy).unwrap_err();
        assert!(err.contains("faster-device must stay a leaf"), "{err}");
    }
}
