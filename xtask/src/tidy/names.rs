//! Public type names: two crates of the workspace must not both export a type (struct, enum,
//! union, trait or type alias) of the same name, or a user of both has to rename one.

use std::collections::{BTreeMap, BTreeSet};

use super::SourceFile;
use super::source::mask;

/// Reports every `pub` type name declared in the `src/` of more than one crate.
pub(crate) fn shared_type_names(files: &[SourceFile]) -> Vec<String> {
    let mut owners: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for file in files {
        let Some(krate) = file.library_crate() else {
            continue;
        };
        for (line, name) in pub_type_names(&file.text) {
            owners
                .entry(name)
                .or_default()
                .entry(krate.to_string())
                .or_insert_with(|| format!("{}:{line}", file.shown));
        }
    }
    owners
        .into_iter()
        .filter(|(_, crates)| crates.len() > 1)
        .map(|(name, crates)| {
            let places: Vec<String> = crates.into_values().collect();
            format!(
                "pub type `{name}` is declared by more than one crate: {}",
                places.join(", ")
            )
        })
        .collect()
}

/// `(line, name)` of every `pub struct|enum|union|trait|type Name` in the code of `text`
/// (not in comments or literals; `pub(crate)` and narrower are not public).
fn pub_type_names(text: &str) -> Vec<(usize, String)> {
    const KINDS: [&str; 5] = ["struct", "enum", "union", "trait", "type"];
    let code: String = mask(text).into_iter().collect();
    let mut found = BTreeSet::new();
    for (index, line) in code.lines().enumerate() {
        let mut words = line.split_whitespace();
        if words.next() != Some("pub") {
            continue;
        }
        let mut kind = words.next();
        if kind == Some("unsafe") {
            kind = words.next();
        }
        if !kind.is_some_and(|k| KINDS.contains(&k)) {
            continue;
        }
        let Some(word) = words.next() else {
            continue;
        };
        let name: String = word
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert((index + 1, name));
        }
    }
    found.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(shown: &str, text: &str) -> SourceFile {
        SourceFile::new(shown, text)
    }

    #[test]
    fn public_type_names_are_found_in_code_only() {
        let text = "pub struct A;\npub(crate) struct B;\n/// pub struct C;\npub enum D<T> {}\n\
                    pub unsafe trait E {}\n    pub type F = u8;\nlet s = \"pub struct G\";\n";
        let names: Vec<String> = pub_type_names(text).into_iter().map(|(_, n)| n).collect();
        assert_eq!(names, ["A", "D", "E", "F"]);
    }

    #[test]
    fn a_name_declared_by_two_crates_is_reported() {
        let files = [
            file("crates/faster-log/src/error.rs", "pub enum OpenError {}\n"),
            file(
                "crates/faster-kv/src/error.rs",
                "\npub struct OpenError;\npub struct Kv;\n",
            ),
            file("crates/faster-kv/tests/t.rs", "pub struct Kv;\n"),
        ];
        let shared = shared_type_names(&files);
        assert_eq!(
            shared,
            ["pub type `OpenError` is declared by more than one crate: \
              crates/faster-kv/src/error.rs:2, crates/faster-log/src/error.rs:1"]
        );
    }
}
