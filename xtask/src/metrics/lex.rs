//! Lexical helpers of the metrics: code without comments, literals or test modules, and the
//! functions in it with their lengths.

use crate::tidy::source;

/// `text` with comments and the contents of literals blanked out (line breaks kept), as tidy
/// sees code.
pub(crate) fn blank(text: &str) -> String {
    source::mask(text).into_iter().collect()
}

/// `code` (already [`blank`]ed) without its `#[cfg(test)] mod ... { ... }` blocks: test
/// code imports what it tests, which says nothing of the library's structure.
pub(crate) fn without_test_modules(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = &rest[at + "#[cfg(test)]".len()..];
        let is_module = after.trim_start().starts_with("mod ");
        let open = after.find('{');
        let (true, Some(open)) = (is_module, open) else {
            out.push_str(&rest[..at + "#[cfg(test)]".len()]);
            rest = after;
            continue;
        };
        out.push_str(&rest[..at]);
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A function item: where it starts and how many lines it spans.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Function {
    pub(crate) name: String,
    /// 1-based line of its `fn`.
    pub(crate) line: usize,
    /// Lines from its `fn` to its closing brace, both included.
    pub(crate) lines: usize,
}

/// Every function with a body in `text` (nested ones too).
pub(crate) fn functions(text: &str) -> Vec<Function> {
    let code = blank(text);
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else {
            continue;
        };
        let mut depth = 0usize;
        let mut opened = false;
        'scan: for (offset, l) in lines[start..].iter().enumerate() {
            for ch in l.chars() {
                match ch {
                    ';' if !opened && depth == 0 => break 'scan,
                    '{' => {
                        opened = true;
                        depth += 1;
                    }
                    '}' => {
                        depth = depth.saturating_sub(1);
                        if opened && depth == 0 {
                            found.push(Function {
                                name,
                                line: start + 1,
                                lines: offset + 1,
                            });
                            break 'scan;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    found
}

/// The name of the function whose `fn` keyword is on this line, if any.
fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split(|c: char| !(c.is_alphanumeric() || c == '_'));
    while let Some(word) = words.next() {
        if word == "fn" {
            let name = words.find(|w| !w.is_empty())?;
            return Some(name.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_in_literals_and_comments_do_not_count() {
        let text = "fn a() {\n    let s = \"}\"; // }\n    let c = '}';\n    /* } */\n}\nfn b<'x>(v: &'x u8) -> u8 { *v }\n";
        let fns = functions(text);
        assert_eq!(fns.len(), 2);
        assert_eq!(fns[0].name, "a");
        assert_eq!(fns[0].lines, 5);
        assert_eq!(fns[1].name, "b");
        assert_eq!(fns[1].lines, 1);
    }

    #[test]
    fn test_modules_are_left_out() {
        let code = "use crate::a;\n#[cfg(test)]\nmod tests {\n    use super::*;\n    fn f() {}\n}\nfn g() {}\n";
        let kept = without_test_modules(code);
        assert!(
            kept.contains("use crate::a;") && kept.contains("fn g()"),
            "{kept}"
        );
        assert!(!kept.contains("super"), "{kept}");
    }

    #[test]
    fn declarations_without_body_are_not_functions() {
        assert!(functions("trait T {\n    fn f(&self);\n}\n").is_empty());
    }
}
