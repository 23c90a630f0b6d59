//! Lexical helpers of the metrics: code with comments and literals blanked, functions and
//! their lengths, `// SAFETY:` comments, rule ids.

use std::collections::BTreeSet;
use std::path::Path;

/// `text` with every comment and the contents of every string and char literal replaced by
/// spaces (line breaks kept), so that braces and keywords left are code.
pub(crate) fn blank(text: &str) -> String {
    let mut b = Blanker {
        chars: text.chars().collect(),
        i: 0,
        out: String::with_capacity(text.len()),
    };
    while let Some(&c) = b.chars.get(b.i) {
        let next = b.chars.get(b.i + 1).copied();
        match (c, next) {
            ('/', Some('/')) => b.line_comment(),
            ('/', Some('*')) => b.block_comment(),
            ('r', Some('"' | '#')) if !ident_before(&b.chars, b.i) && b.raw_string() => {}
            ('"', _) => b.quoted('"'),
            ('\'', _) if is_char_literal(&b.chars, b.i) => b.quoted('\''),
            _ => b.copy(),
        }
    }
    b.out
}

struct Blanker {
    chars: Vec<char>,
    i: usize,
    out: String,
}

impl Blanker {
    fn copy(&mut self) {
        self.out.push(self.chars[self.i]);
        self.i += 1;
    }

    /// Blanks `n` characters (line breaks kept).
    fn skip(&mut self, n: usize) {
        for _ in 0..n {
            let Some(&c) = self.chars.get(self.i) else {
                return;
            };
            self.out.push(if c == '\n' { '\n' } else { ' ' });
            self.i += 1;
        }
    }

    fn at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.i + offset).copied()
    }

    fn line_comment(&mut self) {
        while self.at(0).is_some_and(|c| c != '\n') {
            self.skip(1);
        }
    }

    fn block_comment(&mut self) {
        let mut depth = 0;
        while let Some(c) = self.at(0) {
            if c == '/' && self.at(1) == Some('*') {
                depth += 1;
                self.skip(2);
            } else if c == '*' && self.at(1) == Some('/') {
                depth -= 1;
                self.skip(2);
                if depth == 0 {
                    return;
                }
            } else {
                self.skip(1);
            }
        }
    }

    /// `r"..."` or `r#"..."#`; false (nothing consumed) when the `r` opens no raw string.
    fn raw_string(&mut self) -> bool {
        let mut hashes = 0;
        while self.at(1 + hashes) == Some('#') {
            hashes += 1;
        }
        if self.at(1 + hashes) != Some('"') {
            return false;
        }
        self.skip(2 + hashes);
        while self.at(0).is_some() {
            if self.at(0) == Some('"') && (1..=hashes).all(|h| self.at(h) == Some('#')) {
                self.skip(1 + hashes);
                return true;
            }
            self.skip(1);
        }
        true
    }

    /// A string or char literal closed by `quote`, escapes included.
    fn quoted(&mut self, quote: char) {
        self.skip(1);
        while let Some(c) = self.at(0) {
            if c == quote {
                self.skip(1);
                return;
            }
            self.skip(if c == '\\' { 2 } else { 1 });
        }
    }
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

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// Whether the `'` at `i` opens a char literal (not a lifetime or a label).
fn is_char_literal(chars: &[char], i: usize) -> bool {
    match chars.get(i + 1) {
        Some('\\') => true,
        Some(_) => chars.get(i + 2) == Some(&'\''),
        None => false,
    }
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

/// A `// SAFETY:` comment with the `//` lines that continue it.
pub(crate) struct SafetyComment {
    pub(crate) text: String,
}

/// Every `// SAFETY:` comment of `text`.
pub(crate) fn safety_comments(text: &str) -> Vec<SafetyComment> {
    let mut comments = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(at) = line.find("// SAFETY:") else {
            continue;
        };
        let mut body = line[at..].to_string();
        while let Some(next) = lines.peek() {
            let t = next.trim_start();
            if t.starts_with("//") && !t.starts_with("///") && !t.contains("SAFETY:") {
                body.push(' ');
                body.push_str(t);
                lines.next();
            } else {
                break;
            }
        }
        comments.push(SafetyComment { text: body });
    }
    comments
}

/// Rule ids (`R8`, `H4`, `D12`: one or two capitals and one or two digits, a word of its
/// own) named in `text`.
pub(crate) fn cited_rules(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| is_rule_id(w))
        .map(str::to_string)
        .collect()
}

fn is_rule_id(word: &str) -> bool {
    let letters = word.chars().take_while(char::is_ascii_uppercase).count();
    let digits = word.len() - letters;
    (1..=2).contains(&letters)
        && (1..=2).contains(&digits)
        && word[letters..].chars().all(|c| c.is_ascii_digit())
}

/// Rule ids that some crate defines: a bold `**ID` opening a line of a `//!` list in a
/// crate's `lib.rs` or `protocol.rs`.
pub(crate) fn defined_rules(root: &Path) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let Ok(crates) = std::fs::read_dir(root.join("crates")) else {
        return ids;
    };
    for krate in crates.flatten() {
        for file in ["lib.rs", "protocol.rs"] {
            let Ok(text) = std::fs::read_to_string(krate.path().join("src").join(file)) else {
                continue;
            };
            for line in text.lines().filter(|l| l.trim_start().starts_with("//!")) {
                for (at, _) in line.match_indices("**") {
                    let word: String = line[at + 2..]
                        .chars()
                        .take_while(char::is_ascii_alphanumeric)
                        .collect();
                    if is_rule_id(&word) {
                        ids.insert(word);
                    }
                }
            }
        }
    }
    ids
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
    fn raw_strings_are_blanked() {
        let code = blank("let s = r#\"{ \"}\" \"#; let t = 1;");
        assert!(!code.contains('{') && !code.contains('}'), "{code}");
        assert!(code.contains("let t = 1;"), "{code}");
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

    #[test]
    fn rule_ids_are_whole_words() {
        assert_eq!(
            cited_rules("rule R8 (hybrid log H4), SSE2, x86_64, R120"),
            ["R8", "H4"]
        );
    }

    #[test]
    fn safety_comments_join_their_continuations() {
        let text = "// SAFETY: first\n// second R1\nlet x = 1;\n// SAFETY: other\n";
        let comments = safety_comments(text);
        assert_eq!(comments.len(), 2);
        assert_eq!(comments[0].text, "// SAFETY: first // second R1");
    }
}
