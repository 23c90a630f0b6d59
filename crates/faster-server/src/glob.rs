//! Glob patterns as `SCAN MATCH` and `CONFIG GET` take them: `*` any run of bytes, `?` any
//! one byte, `[abc]`, `[a-z]` and `[^...]` classes, and `\x` for a literal `x`.

/// Whether `text` matches `pattern`. Backtracks only to the last `*`, so the work is at most
/// the product of the two lengths.
pub(crate) fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The position after the last `*` seen, and the text position it is trying.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(_) => {
                if let Some(used) = one(pattern, p, text.get(t).copied().unwrap_or_default()) {
                    p += used;
                    t += 1;
                    continue;
                }
            }
            None => {}
        }
        match star {
            Some((after, tried)) => {
                p = after;
                t = tried + 1;
                star = Some((after, tried + 1));
            }
            None => return false,
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&b| b == b'*')
}

/// Whether the pattern element at `p` (not a `*`) matches `byte`: the element's length if so.
fn one(pattern: &[u8], p: usize, byte: u8) -> Option<usize> {
    match pattern.get(p)? {
        b'?' => Some(1),
        b'\\' => match pattern.get(p + 1) {
            Some(&escaped) => (escaped == byte).then_some(2),
            None => (byte == b'\\').then_some(1),
        },
        b'[' => class(pattern, p + 1, byte),
        &literal => (literal == byte).then_some(1),
    }
}

/// A class starting at `start` (after its `[`): its length with the brackets if it holds
/// `byte`. A class without its `]` runs to the end of the pattern.
fn class(pattern: &[u8], start: usize, byte: u8) -> Option<usize> {
    let mut i = start;
    let negate = pattern.get(i) == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut found = false;
    loop {
        match pattern.get(i) {
            None => break,
            Some(b']') => {
                i += 1;
                break;
            }
            Some(b'\\') => {
                if pattern.get(i + 1) == Some(&byte) {
                    found = true;
                }
                i += 2;
            }
            Some(&low) => {
                if pattern.get(i + 1) == Some(&b'-')
                    && pattern.get(i + 2).is_some_and(|&b| b != b']')
                {
                    let high = pattern.get(i + 2).copied().unwrap_or(low);
                    let (low, high) = if low <= high {
                        (low, high)
                    } else {
                        (high, low)
                    };
                    if (low..=high).contains(&byte) {
                        found = true;
                    }
                    i += 3;
                } else {
                    if low == byte {
                        found = true;
                    }
                    i += 1;
                }
            }
        }
    }
    (found != negate).then_some(i.min(pattern.len()) - (start - 1))
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs_match_like_redis() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "abc", true),
            ("a*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("?b?", "abc", true),
            ("?b?", "abcd", false),
            ("[ab]x", "bx", true),
            ("[^ab]x", "bx", false),
            ("[^ab]x", "cx", true),
            ("[a-c]*", "by", true),
            ("[a-c]*", "dy", false),
            ("a\\*", "a*", true),
            ("a\\*", "ab", false),
            ("*key:*:x", "my:key:12:x", true),
            ("user:*", "user", false),
        ];
        for &(pattern, text, expected) in cases {
            assert_eq!(
                matches(pattern.as_bytes(), text.as_bytes()),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }
}
