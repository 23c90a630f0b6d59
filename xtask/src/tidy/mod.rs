//! `cargo xtask tidy`: source hygiene, named rules and the crate graph, checked without
//! building anything.
//!
//! Checks (each fails tidy unless marked *warns*):
//! 1. every Rust source file opens with a `//!` comment saying what it is for;
//! 2. library code (`crates/*/src`) holds no stub or debug macros;
//! 3. no source file is longer than [`MAX_LINES`] lines, and one longer than [`WARN_LINES`]
//!    *warns*: split it by concept before it reaches the limit;
//! 4. the dependencies between workspace crates are exactly the graph written in
//!    `docs/ARCHITECTURE.md` (the block after the `<!-- crate-graph -->` marker), and the
//!    crates in `LEAVES` depend on no other workspace crate whatever the block says
//!    ([`graph`]);
//! 5. rules are defined once, and no two crates name theirs with the same letters; every
//!    `// SAFETY:` comment opens by citing the rules it relies on, and every rule it names is
//!    defined ([`rules`] says how definitions and citations are written);
//! 6. every `#[test]` function asserts something ([`assertions`] says what counts);
//! 7. no two crates declare a `pub` type of the same name ([`names`]);
//! 8. no files of a crate's library import each other in a circle of more than
//!    [`MAX_CIRCLE`] files, for the crates in [`CIRCLE_FREE`] (`cargo xtask metrics --edges`
//!    shows a circle's imports).
//!
//! Files are those of `crates/`, `xtask/` and `fuzz/`; rules are defined in `crates/*/src`,
//! tests are checked in `crates/*/src`, `crates/*/tests` and `xtask`, and type names are
//! compared across `crates/*/src`. The same checks run as a `#[test]`, so plain `cargo test`
//! catches them too.

mod assertions;
mod graph;
mod names;
pub(crate) mod rules;
pub(crate) mod source;

use std::path::{Path, PathBuf};

/// Longest allowed source file.
const MAX_LINES: usize = 1000;

/// Largest allowed circle of files importing each other: a `mod.rs` and a child that uses a
/// type it defines.
const MAX_CIRCLE: usize = 2;

/// The crates check 8 holds for. faster-device (`file/`), faster-log and faster-cli still
/// have circles of three to five files.
const CIRCLE_FREE: [&str; 5] = [
    "faster-epoch",
    "faster-hlog",
    "faster-index",
    "faster-cpr",
    "faster-kv",
];

/// Source files longer than this are reported (but pass).
const WARN_LINES: usize = 600;

/// One Rust source file: its path from the workspace root, and its text.
pub(crate) struct SourceFile {
    pub(crate) shown: String,
    pub(crate) text: String,
}

impl SourceFile {
    /// A file of `text` shown as `shown` (for the checks' tests).
    #[cfg(test)]
    pub(crate) fn new(shown: &str, text: &str) -> Self {
        Self {
            shown: shown.to_string(),
            text: text.to_string(),
        }
    }

    /// The crate whose library or binary code this is (`crates/<name>/src/…`), if it is.
    pub(crate) fn library_crate(&self) -> Option<&str> {
        let rest = self.shown.strip_prefix("crates/")?;
        let (name, rest) = rest.split_once('/')?;
        rest.starts_with("src/").then_some(name)
    }

    /// Whether test functions here are checked: crate tests, crate sources and xtask.
    fn holds_checked_tests(&self) -> bool {
        let in_crate_tests = self
            .shown
            .strip_prefix("crates/")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, rest)| rest.starts_with("tests/"));
        in_crate_tests || self.library_crate().is_some() || self.shown.starts_with("xtask/")
    }
}

/// Runs every check and reports all problems at once; prints warnings without failing.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut paths = Vec::new();
    for dir in ["crates", "xtask", "fuzz"] {
        collect_rust_files(&root.join(dir), &mut paths);
    }
    paths.sort();
    let mut files = Vec::new();
    for path in &paths {
        let shown = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => files.push(SourceFile { shown, text }),
            Err(_) => problems.push(format!("{shown}: not readable as UTF-8")),
        }
    }
    let rules = rules::definitions(&files, &mut problems);
    for file in &files {
        check_file(file, &mut problems, &mut warnings);
        rules::check_safety_comments(file, &rules, &mut problems);
        if file.holds_checked_tests() {
            assertions::check_tests_assert(file, &mut problems);
        }
    }
    problems.extend(names::shared_type_names(&files));
    if let Err(e) = graph::check_crate_graph(root) {
        problems.push(e);
    }
    check_import_circles(root, &mut problems);
    for warning in &warnings {
        println!("tidy: warning: {warning}");
    }
    if problems.is_empty() {
        println!(
            "tidy: {} files checked, {} rules defined, crate graph matches",
            files.len(),
            rules.len()
        );
        Ok(())
    } else {
        Err(format!("tidy found problems:\n  {}", problems.join("\n  ")))
    }
}

/// Check 8, crate by crate.
fn check_import_circles(root: &Path, problems: &mut Vec<String>) {
    for krate in CIRCLE_FREE {
        let src = root.join("crates").join(krate).join("src");
        let mut paths = Vec::new();
        collect_rust_files(&src, &mut paths);
        paths.sort();
        let texts: Vec<String> = paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect();
        let (circle, _) = crate::metrics::graph::largest_cycle(&src, &paths, &texts);
        if circle.len() > MAX_CIRCLE {
            let shown: Vec<String> = circle
                .iter()
                .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
                .collect();
            problems.push(format!(
                "{} files import each other in a circle (at most {MAX_CIRCLE}): {}",
                circle.len(),
                shown.join(", ")
            ));
        }
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

/// Checks 1–3, which look at one file on its own.
fn check_file(file: &SourceFile, problems: &mut Vec<String>, warnings: &mut Vec<String>) {
    let shown = &file.shown;
    let text = &file.text;
    if !text.starts_with("//!") {
        problems.push(format!("{shown}: must open with a `//!` comment"));
    }
    let lines = text.lines().count();
    if lines > MAX_LINES {
        problems.push(format!(
            "{shown}: {lines} lines (limit {MAX_LINES}): split it by concept"
        ));
    } else if lines > WARN_LINES {
        warnings.push(format!(
            "{shown}: {lines} lines (limit {MAX_LINES}, warned from {WARN_LINES})"
        ));
    }
    if file.library_crate().is_some() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(shown: &str, text: &str) -> (Vec<String>, Vec<String>) {
        let (mut problems, mut warnings) = (Vec::new(), Vec::new());
        let file = SourceFile {
            shown: shown.into(),
            text: text.into(),
        };
        check_file(&file, &mut problems, &mut warnings);
        (problems, warnings)
    }

    #[test]
    fn the_workspace_is_tidy() {
        assert_eq!(run(&crate::cmd::workspace_root()), Ok(()));
    }

    #[test]
    fn three_files_importing_each_other_in_a_circle_fail() {
        let root = std::env::temp_dir().join(format!("tidy-circle-{}", std::process::id()));
        let src = root.join("crates/faster-kv/src");
        std::fs::create_dir_all(&src).unwrap_or_else(|e| panic!("{e}"));
        for (file, text) in [
            ("lib.rs", "mod a;\nmod b;\nmod c;\n"),
            ("a.rs", "use crate::b::B;\npub(crate) struct A;\n"),
            ("b.rs", "use crate::c::C;\npub(crate) struct B;\n"),
            ("c.rs", "use crate::a::A;\npub(crate) struct C;\n"),
        ] {
            std::fs::write(src.join(file), text).unwrap_or_else(|e| panic!("{e}"));
        }
        let mut problems = Vec::new();
        check_import_circles(&root, &mut problems);
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("3 files import each other"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_file_without_an_opening_doc_comment_fails() {
        let (problems, _) = checked("xtask/src/a.rs", "use std::io;\n");
        assert_eq!(problems, ["xtask/src/a.rs: must open with a `//!` comment"]);
    }

    #[test]
    fn a_debug_macro_in_library_code_fails() {
        let text = concat!("//! A.\nfn f() { ", "dbg", "!(1); }\n");
        let (problems, _) = checked("crates/x/src/a.rs", text);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("crates/x/src/a.rs:2: `dbg"));
        let (in_tests, _) = checked("crates/x/tests/a.rs", text);
        assert_eq!(in_tests, Vec::<String>::new());
    }

    #[test]
    fn a_long_file_warns_and_a_too_long_one_fails() {
        let long = format!("//! A.\n{}", "\n".repeat(WARN_LINES));
        let (problems, warnings) = checked("xtask/src/a.rs", &long);
        assert_eq!(
            (problems.len(), warnings.len()),
            (0, 1),
            "{problems:?} {warnings:?}"
        );
        let too_long = format!("//! A.\n{}", "\n".repeat(MAX_LINES));
        let (problems, warnings) = checked("xtask/src/a.rs", &too_long);
        assert_eq!(
            (problems.len(), warnings.len()),
            (1, 0),
            "{problems:?} {warnings:?}"
        );
    }

    #[test]
    fn library_crates_and_test_directories_are_told_apart() {
        let file = |shown: &str| SourceFile {
            shown: shown.into(),
            text: String::new(),
        };
        assert_eq!(
            file("crates/faster-kv/src/a/b.rs").library_crate(),
            Some("faster-kv")
        );
        assert_eq!(file("crates/faster-kv/tests/a.rs").library_crate(), None);
        assert!(file("crates/faster-kv/tests/common/mod.rs").holds_checked_tests());
        assert!(!file("crates/faster-kv/benches/a.rs").holds_checked_tests());
        assert!(!file("fuzz/fuzz_targets/a.rs").holds_checked_tests());
    }
}
