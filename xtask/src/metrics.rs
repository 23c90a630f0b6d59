//! `cargo xtask metrics`: numbers about the shape of the code, read from the sources alone.
//!
//! - lines per library file of faster-kv (median, largest, files over [`FILE_GOAL`]);
//! - the largest circle of faster-kv files that import each other (a strongly connected
//!   component of the graph "file A names a path into file B's module");
//! - functions longer than [`FN_GOAL`] lines, in every crate's `src/` and in `xtask/`;
//! - `// SAFETY:` comments, and how many cite rules that a crate defines (as tidy reads
//!   them).
//!
//! The parsing is lexical (comments and string literals are skipped when braces are
//! counted), which is exact enough for code that rustfmt has formatted.

pub(crate) mod graph;
mod lex;

use std::path::{Path, PathBuf};

use crate::tidy::{self, rules};

/// A library file of faster-kv longer than this is reported.
const FILE_GOAL: usize = 450;
/// A function longer than this is reported.
const FN_GOAL: usize = 70;

/// Prints every measure; with `--edges`, also the imports inside the largest circle.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let show_edges = args.iter().any(|a| a == "--edges");
    // `--root DIR` measures another checkout (an older commit, for a before-and-after).
    let other = args
        .iter()
        .position(|a| a == "--root")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let root = other.as_deref().unwrap_or(root);
    let kv_src = root.join("crates/faster-kv/src");
    let mut kv_files = Vec::new();
    tidy::collect_rust_files(&kv_src, &mut kv_files);
    kv_files.sort();
    if kv_files.is_empty() {
        return Err(format!("no Rust files under {}", kv_src.display()));
    }
    let texts = read_all(&kv_files)?;
    file_lengths(root, &kv_files, &texts);
    let (cycle, edges) = graph::largest_cycle(&kv_src, &kv_files, &texts);
    println!(
        "faster-kv: largest circle of files importing each other: {}{}",
        if cycle.is_empty() {
            "none".to_string()
        } else {
            format!("{} files", cycle.len())
        },
        if cycle.len() > 1 {
            format!(
                ": {}",
                cycle
                    .iter()
                    .map(|p| shown(&kv_src, p))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        }
    );
    if show_edges {
        for (from, to) in &edges {
            println!("  {} -> {}", shown(&kv_src, from), shown(&kv_src, to));
        }
    }
    long_functions(root)?;
    safety_comments(root)?;
    Ok(())
}

fn read_all(files: &[PathBuf]) -> Result<Vec<String>, String> {
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display())))
        .collect()
}

fn shown(base: &Path, file: &Path) -> String {
    file.strip_prefix(base)
        .unwrap_or(file)
        .display()
        .to_string()
}

fn file_lengths(root: &Path, files: &[PathBuf], texts: &[String]) {
    let mut lengths: Vec<(usize, String)> = files
        .iter()
        .zip(texts)
        .map(|(f, t)| (t.lines().count(), shown(root, f)))
        .collect();
    lengths.sort();
    let median = match lengths.len() {
        0 => 0,
        n if n % 2 == 1 => lengths[n / 2].0,
        n => (lengths[n / 2 - 1].0 + lengths[n / 2].0) / 2,
    };
    let largest = lengths.last().map_or(0, |l| l.0);
    println!(
        "faster-kv: {} library files, median {median} lines, largest {largest}",
        lengths.len()
    );
    for (lines, file) in lengths.iter().filter(|(l, _)| *l > FILE_GOAL) {
        println!("  over {FILE_GOAL}: {file} ({lines} lines)");
    }
}

/// Every file whose functions are measured: the crates' `src/` and `xtask/src`.
fn source_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(crates) = std::fs::read_dir(root.join("crates")) {
        for krate in crates.flatten() {
            tidy::collect_rust_files(&krate.path().join("src"), &mut files);
        }
    }
    tidy::collect_rust_files(&root.join("xtask/src"), &mut files);
    files.sort();
    files
}

fn long_functions(root: &Path) -> Result<(), String> {
    let files = source_files(root);
    let mut long = Vec::new();
    for (file, text) in files.iter().zip(read_all(&files)?) {
        for f in lex::functions(&text) {
            if f.lines > FN_GOAL {
                long.push((
                    f.lines,
                    format!("{}:{} {}", shown(root, file), f.line, f.name),
                ));
            }
        }
    }
    long.sort_by(|a, b| b.cmp(a));
    let in_kv = long
        .iter()
        .filter(|(_, at)| at.starts_with("crates/faster-kv/"))
        .count();
    println!(
        "functions over {FN_GOAL} lines: {} in the workspace, {in_kv} in faster-kv",
        long.len()
    );
    for (lines, at) in &long {
        println!("  {lines:4} {at}");
    }
    Ok(())
}

/// SAFETY comments, those that open with a citation of defined rules (what tidy demands),
/// and those that name a defined rule anywhere.
fn safety_comments(root: &Path) -> Result<(), String> {
    let mut paths = Vec::new();
    for dir in ["crates", "xtask", "fuzz"] {
        tidy::collect_rust_files(&root.join(dir), &mut paths);
    }
    let files: Vec<tidy::SourceFile> = paths
        .iter()
        .zip(read_all(&paths)?)
        .map(|(path, text)| tidy::SourceFile {
            shown: shown(root, path),
            text,
        })
        .collect();
    let rules = rules::definitions(&files, &mut Vec::new());
    let (mut total, mut citing, mut naming) = (0, 0, 0);
    for file in &files {
        for (_, comment) in rules::safety_comments(&file.text) {
            total += 1;
            if rules::citation(&comment).is_some_and(|c| c.iter().all(|n| rules.contains_key(*n))) {
                citing += 1;
            }
            let mut words = comment.split(|c: char| !c.is_ascii_alphanumeric());
            if words.any(|w| rules::is_rule_name(w) && rules.contains_key(w)) {
                naming += 1;
            }
        }
    }
    println!(
        "SAFETY comments: {total}; opening with a citation of defined rules: {citing}; naming a \
         defined rule: {naming} ({} rules defined)",
        rules.len()
    );
    Ok(())
}
