//! Named rules and the `// SAFETY:` comments that cite them.
//!
//! A rule is *defined* by a line of a `//!` module comment in a crate's `src/` that starts a
//! list item with the rule's name in bold, followed by an em dash:
//!
//! ```text
//! //! - **H4 — read-only.** A thread updates a record in place only after …
//! //! 1. **D1 — alignment.** Offsets, lengths and buffer addresses are …
//! ```
//!
//! A name is one or two capital letters and a number. The letters are the crate's: each
//! crate's `lib.rs` (faster-kv's `protocol.rs`) holds most of its rules, and a module with a
//! protocol of its own may define more at its top; but no name is defined twice, and no two
//! crates use the same letters.
//!
//! A `// SAFETY:` comment — with the `//` lines that continue it — must open by citing the
//! rules it relies on, `// SAFETY: rule H6 — …` or `// SAFETY: rules H4, D9 — …`, and every
//! rule name anywhere in it must be defined.

use std::collections::{BTreeMap, BTreeSet};

use super::SourceFile;

/// Rule name -> where it is defined (`path:line`).
pub(crate) type Rules = BTreeMap<String, String>;

/// Collects the rules defined in the `//!` comments of `crates/*/src`; reports a name
/// defined twice, and letters used by two crates.
pub(crate) fn definitions(files: &[SourceFile], problems: &mut Vec<String>) -> Rules {
    let mut rules = Rules::new();
    let mut letters: BTreeMap<String, (String, String)> = BTreeMap::new();
    for file in files {
        let Some(krate) = file.library_crate() else {
            continue;
        };
        for (index, line) in file.text.lines().enumerate() {
            let Some(name) = defined_name(line) else {
                continue;
            };
            let at = format!("{}:{}", file.shown, index + 1);
            let prefix: String = name.chars().take_while(char::is_ascii_uppercase).collect();
            match letters.get(&prefix) {
                Some((other, other_at)) if *other != krate => problems.push(format!(
                    "{at}: rule {name} uses the letters `{prefix}` of {other} ({other_at})"
                )),
                Some(_) => {}
                None => {
                    letters.insert(prefix, (krate.to_string(), at.clone()));
                }
            }
            if let Some(first) = rules.get(&name) {
                problems.push(format!("{at}: rule {name} is already defined at {first}"));
                continue;
            }
            rules.insert(name, at);
        }
    }
    rules
}

/// The rule a line defines: `//! - **X1 — …` or `//! 3. **X1 — …`.
fn defined_name(line: &str) -> Option<String> {
    let item = line.trim_start().strip_prefix("//!")?.trim_start();
    let item = match item.strip_prefix("- ") {
        Some(rest) => rest,
        None => {
            let digits = item.chars().take_while(char::is_ascii_digit).count();
            item[digits..].strip_prefix(". ").filter(|_| digits > 0)?
        }
    };
    let (name, _) = item.strip_prefix("**")?.split_once(" — ")?;
    is_rule_name(name).then(|| name.to_string())
}

/// One or two capital letters, then a number without leading zeros.
pub(crate) fn is_rule_name(word: &str) -> bool {
    let letters = word.chars().take_while(char::is_ascii_uppercase).count();
    let digits = &word[letters..];
    (1..=2).contains(&letters)
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Checks every `// SAFETY:` comment of `file` against `rules`.
pub(crate) fn check_safety_comments(file: &SourceFile, rules: &Rules, problems: &mut Vec<String>) {
    for (line, comment) in safety_comments(&file.text) {
        let at = format!("{}:{line}", file.shown);
        let Some(cited) = citation(&comment) else {
            problems.push(format!(
                "{at}: a SAFETY comment must open by citing its rules \
                 (`// SAFETY: rule H6 — …` or `// SAFETY: rules H4, D9 — …`)"
            ));
            continue;
        };
        let mentioned = comment
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|word| is_rule_name(word));
        let unknown: BTreeSet<&str> = cited
            .into_iter()
            .chain(mentioned)
            .filter(|name| !rules.contains_key(*name))
            .collect();
        for name in unknown {
            problems.push(format!(
                "{at}: SAFETY comment cites rule {name}, defined nowhere"
            ));
        }
    }
}

/// Each `// SAFETY:` comment of `text` with the `//` lines that continue it, joined into one
/// line (without the `//`), and the line it starts on.
pub(crate) fn safety_comments(text: &str) -> Vec<(usize, String)> {
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut open = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if let Some(rest) = line.strip_prefix("// SAFETY:") {
            found.push((index + 1, rest.trim().to_string()));
            open = true;
        } else if let Some(rest) = line
            .strip_prefix("//")
            .filter(|r| !r.starts_with(['/', '!']))
        {
            if open && let Some((_, comment)) = found.last_mut() {
                comment.push(' ');
                comment.push_str(rest.trim());
            }
        } else {
            open = false;
        }
    }
    found
}

/// The rules a SAFETY comment's text opens by citing: `rule X1 — ` or `rules X1, Y2 — `.
pub(crate) fn citation(comment: &str) -> Option<Vec<&str>> {
    let names = comment
        .strip_prefix("rules ")
        .or_else(|| comment.strip_prefix("rule "))?;
    let (names, _) = names.split_once(" — ")?;
    let names: Vec<&str> = names.split(", ").collect();
    let single = comment.starts_with("rule ");
    let well_formed = names.iter().all(|n| is_rule_name(n)) && (names.len() == 1) == single;
    well_formed.then_some(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(shown: &str, text: &str) -> SourceFile {
        SourceFile::new(shown, text)
    }

    fn rules_of(files: &[SourceFile]) -> (Rules, Vec<String>) {
        let mut problems = Vec::new();
        let rules = definitions(files, &mut problems);
        (rules, problems)
    }

    fn safety_problems(text: &str) -> Vec<String> {
        let lib = "//! - **H4 — read-only.** Text.\n//! 2. **H6 — head.** Text.\n";
        let (rules, _) = rules_of(&[file("crates/faster-hlog/src/lib.rs", lib)]);
        let mut problems = Vec::new();
        check_safety_comments(&file("crates/x/src/a.rs", text), &rules, &mut problems);
        problems
    }

    #[test]
    fn definitions_are_list_items_with_a_bold_name_and_a_dash() {
        let lib = [
            "//! - **H4 — read-only.** A.",
            "//! 12. **H12 — twelve.** B.",
            "//! - **Rest.** C.",
            "/// - **H5 — not module docs.**",
            "//! - **h7 — lower.**",
        ]
        .join("\n");
        let (rules, problems) = rules_of(&[file("crates/faster-hlog/src/lib.rs", &lib)]);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(rules.keys().collect::<Vec<_>>(), ["H12", "H4"]);
        assert_eq!(rules["H12"], "crates/faster-hlog/src/lib.rs:2");
    }

    #[test]
    fn a_name_defined_twice_fails() {
        let lib = "//! - **H4 — one.**\n//! - **H4 — two.**\n";
        let (_, problems) = rules_of(&[file("crates/faster-hlog/src/lib.rs", lib)]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("rule H4 is already defined"),
            "{problems:?}"
        );
    }

    #[test]
    fn letters_used_by_two_crates_fail() {
        let (_, problems) = rules_of(&[
            file("crates/faster-hlog/src/lib.rs", "//! - **H1 — one.**\n"),
            file("crates/faster-kv/src/ring.rs", "//! - **H2 — two.**\n"),
        ]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("letters `H` of faster-hlog"),
            "{problems:?}"
        );
    }

    #[test]
    fn a_safety_comment_citing_no_rule_fails() {
        for text in [
            "    // SAFETY: the caller owns it.\n    unsafe { f() }\n",
            "    // SAFETY: the caller owns it (rule H4).\n",
            "    // SAFETY: rule H4: the caller owns it.\n",
            "    // SAFETY: rules H4 — one rule needs `rule`.\n",
            "    // SAFETY: rule H4, H6 — two need `rules`.\n",
        ] {
            let problems = safety_problems(text);
            assert_eq!(problems.len(), 1, "{text:?}: {problems:?}");
            assert!(problems[0].contains("must open by citing"), "{problems:?}");
        }
    }

    #[test]
    fn a_safety_comment_citing_an_undefined_rule_fails() {
        let cited = safety_problems("// SAFETY: rules H4, H9 — both.\n");
        assert_eq!(
            cited,
            ["crates/x/src/a.rs:1: SAFETY comment cites rule H9, defined nowhere"]
        );
        let continued = "    // SAFETY: rule H4 — the owner writes,\n    // and H7 keeps it.\n";
        let problems = safety_problems(continued);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("rule H7"), "{problems:?}");
    }

    #[test]
    fn safety_comments_citing_defined_rules_pass() {
        let text = [
            "// SAFETY: rule H4 — the owner writes",
            "// (H6 keeps the frame).",
            "unsafe {}",
            "// SAFETY: rules H4, H6 — both.",
            "/// SAFETY: a doc line is not one.",
        ]
        .join("\n");
        assert_eq!(safety_problems(&text), Vec::<String>::new());
        let comments = safety_comments(&text);
        assert_eq!(
            comments[0],
            (1, "rule H4 — the owner writes (H6 keeps the frame).".into())
        );
        assert_eq!(comments.len(), 2);
    }
}
