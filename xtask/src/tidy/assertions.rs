//! Every test asserts something.
//!
//! A `#[test]` (or `#[tokio::test]`) function passes when its body contains an assertion: an
//! `assert…!` or `prop_assert…!` macro, a call of an `assert…` function, `panic!` or
//! `unreachable!`, `.unwrap_err()` or `.expect_err(`, or a call of one of the
//! [`ASSERTING_HELPERS`], which check and panic on the test's behalf; or when it is
//! `#[should_panic]`. `?` and `.unwrap()` alone do not count: a test that only runs code checks
//! only that it does not fail, and should say what it expects.

use super::SourceFile;
use super::source::{body_after, line_of, mask};

/// Helpers that assert on behalf of the tests that call them: each panics (or, in a proptest,
/// fails the case) when what it checks does not hold. An entry is `(path, call)`: the helper
/// counts in files whose path from the workspace root starts with `path`, called as `name(`
/// (`name::<…>(`, `name!(`) when `call` is `name`, or as a method when `call` is `.name`.
pub(crate) const ASSERTING_HELPERS: &[(&str, &str)] = &[
    // Compile-time checks: the call compiles only if the type is `Send` / `Sync`.
    ("crates/faster-epoch/tests/auto_traits.rs", "is_send"),
    ("crates/faster-epoch/tests/auto_traits.rs", "is_sync"),
    ("crates/faster-log/tests/basics.rs", "send"),
    ("crates/faster-log/tests/basics.rs", "send_sync"),
    ("crates/faster-log/tests/basics.rs", "send_future"),
    // Checks of a whole run against an oracle or an expectation.
    ("crates/faster-device/tests/devices/", "hammer"),
    ("crates/faster-device/tests/devices/model.rs", "check"),
    (
        "crates/faster-device/tests/devices/round_trip.rs",
        "reopen_reads_back",
    ),
    (
        "crates/faster-hlog/tests/larger_than_memory.rs",
        "check_every_record",
    ),
    (
        "crates/faster-hlog/tests/larger_than_memory.rs",
        "check_scan",
    ),
    ("crates/faster-index/tests/model.rs", "run"),
    ("crates/faster-kv/tests/compaction.rs", "beside_two_writers"),
    (
        "crates/faster-kv/tests/checkpoint.rs",
        "checkpoint_under_load",
    ),
    (
        "crates/faster-kv/tests/checkpoint.rs",
        "updates_during_snapshots_leave_exact_sums",
    ),
    ("crates/faster-kv/tests/crash.rs", "check_seed"),
    (
        "crates/faster-kv/tests/crash_compaction.rs",
        "check_killed_life",
    ),
    ("crates/faster-kv/tests/fuzz_corpus.rs", "expect"),
    ("crates/faster-log/tests/faults.rs", ".check"),
];

/// Reports every test function in `file` whose body asserts nothing.
pub(crate) fn check_tests_assert(file: &SourceFile, problems: &mut Vec<String>) {
    let helpers: Vec<&str> = ASSERTING_HELPERS
        .iter()
        .filter(|(path, _)| file.shown.starts_with(path))
        .map(|&(_, call)| call)
        .collect();
    for (line, name) in tests_without_assertions(&file.text, &helpers) {
        problems.push(format!(
            "{}:{line}: test `{name}` asserts nothing (assert what it checks, or add the helper \
             that asserts for it to tidy's ASSERTING_HELPERS)",
            file.shown
        ));
    }
}

/// `(line, name)` of each test function in `text` without an assertion, given the asserting
/// helpers that count there.
fn tests_without_assertions(text: &str, helpers: &[&str]) -> Vec<(usize, String)> {
    let code = mask(text);
    let mut found = Vec::new();
    let mut from = 0;
    while let Some((attr, after)) = next_test_attribute(&code, from) {
        from = after;
        let Some((name, name_end, should_panic)) = test_function(&code, after) else {
            continue;
        };
        let Some((open, close)) = body_after(&code, name_end) else {
            continue;
        };
        from = close;
        let body: String = code[open..close].iter().collect();
        if !should_panic && !asserts(&body, helpers) {
            found.push((line_of(&code, attr), name));
        }
    }
    found
}

/// The next `#[test]` or `#[…::test…]` attribute at or after char `from`: its start and end.
fn next_test_attribute(code: &[char], from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    loop {
        let start = at + find(code, at, "#[")?;
        let end = start + find(code, start, "]")? + 1;
        let inner: String = code[start + 2..end - 1].iter().collect();
        let path = inner.split('(').next().unwrap_or("").trim();
        if path == "test" || path.ends_with("::test") {
            return Some((start, end));
        }
        at = start + 2;
    }
}

/// After a test attribute: the function's name, where the name ends, and whether another
/// attribute before it is `#[should_panic…]`.
fn test_function(code: &[char], from: usize) -> Option<(String, usize, bool)> {
    let fn_at = from + find(code, from, "fn ")?;
    let between: String = code[from..fn_at].iter().collect();
    let should_panic = between.contains("#[should_panic");
    let start = fn_at + 3;
    let name: String = code[start..]
        .iter()
        .take_while(|c| c.is_alphanumeric() || **c == '_')
        .collect();
    Some((name.clone(), start + name.chars().count(), should_panic))
}

/// The char offset of `needle` in `code[from..]`, relative to `from`.
fn find(code: &[char], from: usize, needle: &str) -> Option<usize> {
    let needle: Vec<char> = needle.chars().collect();
    code[from..]
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
}

/// Whether masked code `body` holds an assertion.
fn asserts(body: &str, helpers: &[&str]) -> bool {
    if body.contains(".unwrap_err()") || body.contains(".expect_err(") {
        return true;
    }
    identifiers(body).into_iter().any(|(before, word, after)| {
        let macro_call = after == '!';
        let call = macro_call || after == '(' || after == ':';
        let method = before == '.' && after == '(';
        (call && (word.starts_with("assert") || word.starts_with("prop_assert")))
            || (macro_call && (word == "panic" || word == "unreachable"))
            || helpers.iter().any(|helper| match helper.strip_prefix('.') {
                Some(name) => method && word == name,
                None => call && before != '.' && word == *helper,
            })
    })
}

/// Every identifier of `code`, with the characters just before and after it (spaces skipped).
fn identifiers(code: &str) -> Vec<(char, &str, char)> {
    let mut out = Vec::new();
    let mut rest = code;
    let mut before = ' ';
    while let Some(start) = rest.find(|c: char| c.is_alphabetic() || c == '_') {
        if let Some(c) = rest[..start].trim_end().chars().next_back() {
            before = c;
        }
        let tail = &rest[start..];
        let len = tail
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let after = tail[len..].trim_start().chars().next().unwrap_or(' ');
        out.push((before, &tail[..len], after));
        before = ' ';
        rest = &tail[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(text: &str) -> Vec<String> {
        tests_without_assertions(text, &["check_all", ".verify"])
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    }

    #[test]
    fn a_test_without_an_assertion_fails() {
        let text = concat!(
            "#[test]\nfn runs_only() {\n    let x = f(\"assert!(true)\");\n    x.unwrap();\n}\n",
            "#[test]\nfn only_question_marks() -> Result<(), E> {\n    f()?;\n    Ok(())\n}\n",
            "#[tokio::test(flavor = \"multi_thread\")]\nasync fn async_too() {\n    f().await;\n}\n",
        );
        assert_eq!(
            flagged(text),
            ["runs_only", "only_question_marks", "async_too"]
        );
        let mut problems = Vec::new();
        let file = SourceFile {
            shown: "crates/x/tests/t.rs".into(),
            text: text.into(),
        };
        check_tests_assert(&file, &mut problems);
        assert_eq!(problems.len(), 3);
        assert!(problems[0].starts_with("crates/x/tests/t.rs:1: test `runs_only`"));
    }

    #[test]
    fn tests_that_assert_pass() {
        let text = concat!(
            "#[test]\nfn a() { assert_eq!(1, 1); }\n",
            "#[test]\n#[should_panic(expected = \"x\")]\nfn b() { f(); }\n",
            "#[test]\nfn c() { f().unwrap_err(); }\n",
            "#[test]\nfn d() { if g() { panic!(\"no\") } }\n",
            "#[test]\nfn e() { loom::model(|| { assert!(h()) }); }\n",
            "proptest! {\n    #[test]\n    fn f(x in 0..9u8) { prop_assert!(x < 9); }\n}\n",
            "#[cfg_attr(miri, ignore)]\n#[test]\nfn g() { assert!(matches!(f(), Ok(_))) }\n",
            "#[test]\nfn h() { check_all(&log); }\n",
            "#[test]\nfn i() { model.verify(&log); }\n",
            "#[test]\nfn j() { assert_send_sync::<Log>(); }\n",
            "fn helper() {}\n#[derive(Debug)]\nstruct NotATest;\n",
        );
        assert_eq!(flagged(text), Vec::<String>::new());
    }

    #[test]
    fn helpers_count_only_in_the_form_they_are_listed() {
        let text = concat!(
            "#[test]\nfn method_not_function() { model.check_all(&log); }\n",
            "#[test]\nfn function_not_method() { verify(&log); }\n",
            "#[test]\nfn not_listed() { check(&log); }\n",
        );
        assert_eq!(
            flagged(text),
            ["method_not_function", "function_not_method", "not_listed"]
        );
    }
}
