//! Just enough of Rust's lexical grammar to look at code without being fooled by comments
//! and literals: [`mask`] blanks them out, and [`body_after`] finds the braces of an item.

/// `text` with the contents of comments, string literals and character literals replaced by
/// spaces (line breaks kept), so that searching the result finds only code. Byte offsets are
/// not kept; char offsets are.
pub(crate) fn mask(text: &str) -> Vec<char> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(chars.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            let end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if c == '/' && next == Some('*') {
            let end = block_comment_end(&chars, i);
            blank(&mut out, i, end);
            i = end;
        } else if let Some(end) = raw_string_end(&chars, i) {
            blank(&mut out, i, end);
            i = end;
        } else if c == '"' {
            let end = quoted_end(&chars, i + 1, '"');
            blank(&mut out, i, end);
            i = end;
        } else if c == '\'' {
            match char_literal_end(&chars, i) {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1, // a lifetime or a label
            }
        } else if is_ident(c) {
            // Skip whole identifiers, so that the `r` or `b` ending one is not a literal prefix.
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            if i < chars.len() && chars[i] == '"' && matches!(chars[i - 1], 'b' | 'c') {
                let start = i;
                let end = quoted_end(&chars, i + 1, '"');
                blank(&mut out, start, end);
                i = end;
            }
        } else {
            i += 1;
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The end (exclusive) of the possibly nested block comment starting at `start`.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i + 1 < chars.len() {
        match (chars[i], chars[i + 1]) {
            ('/', '*') => {
                depth += 1;
                i += 2;
            }
            ('*', '/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// The end of a raw string literal (`r"…"`, `r#"…"#`, `br"…"`) starting at `start`, if one does.
fn raw_string_end(chars: &[char], start: usize) -> Option<usize> {
    let preceded_by_ident = start > 0 && is_ident(chars[start - 1]);
    let mut i = start;
    if chars.get(i) == Some(&'b') || chars.get(i) == Some(&'c') {
        i += 1;
    }
    if preceded_by_ident || chars.get(i) != Some(&'r') {
        return None;
    }
    i += 1;
    let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
    i += hashes;
    if chars.get(i) != Some(&'"') {
        return None;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"'
            && chars[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&c| c == '#')
                .count()
                == hashes
        {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(chars.len())
}

/// The end of a literal closed by `quote`, whose contents start at `from` (escapes honoured).
fn quoted_end(chars: &[char], from: usize, quote: char) -> usize {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The end of the character literal at `start`, or `None` when the quote opens a lifetime.
fn char_literal_end(chars: &[char], start: usize) -> Option<usize> {
    match chars.get(start + 1) {
        Some('\\') => Some(quoted_end(chars, start + 1, '\'')),
        Some(_) if chars.get(start + 2) == Some(&'\'') => Some(start + 3),
        _ => None,
    }
}

/// The char range of the `{ … }` block that follows `from` in masked text: from the first
/// `{` at or after `from` to just past its matching `}`.
pub(crate) fn body_after(masked: &[char], from: usize) -> Option<(usize, usize)> {
    let open = from + masked[from..].iter().position(|&c| c == '{')?;
    let mut depth = 0usize;
    for (offset, &c) in masked[open..].iter().enumerate() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((open, open + offset + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// The 1-based line of char offset `at` in `chars`.
pub(crate) fn line_of(chars: &[char], at: usize) -> usize {
    1 + chars[..at].iter().filter(|&&c| c == '\n').count()
}

#[cfg(test)]
mod tests {
    use super::mask;

    fn masked(text: &str) -> String {
        mask(text).into_iter().collect()
    }

    #[test]
    fn comments_and_literals_are_blanked_and_code_is_kept() {
        let text = "a(\"x{\") // b{\n/* c /* d */ { */ 'e' '\\'' 'f: r#\"g\"# br\"h\" s.r(\"i\")";
        let out = masked(text);
        assert_eq!(out.chars().count(), text.chars().count());
        for kept in ["a(", "'f:", "s.r("] {
            assert!(out.contains(kept), "{kept:?} was blanked: {out:?}");
        }
        for gone in ['x', 'b', 'c', 'd', '{', 'e', 'g', 'h', 'i'] {
            assert!(!out.contains(gone), "{gone:?} survived: {out:?}");
        }
        assert_eq!(out.lines().count(), 2);
    }
}
