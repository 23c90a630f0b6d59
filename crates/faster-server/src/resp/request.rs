//! Reading a client's request: an array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`),
//! or an inline command (`GET k\r\n`), whose words may be quoted as a terminal user would.

use super::parse::{Cursor, Step};
use super::{Args, Limits, ProtocolError, parse_i64};

/// Reads one request from the start of `buf`: `Ok(Some((arguments, bytes consumed)))`, or
/// `Ok(None)` when `buf` holds only part of it. An empty argument list (an empty line, `*0`,
/// `*-1`) is a request to skip: consume its bytes and run nothing.
///
/// # Errors
/// [`ProtocolError`] for bytes that are no request or break `limits`; the connection cannot
/// continue after one.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<(Args, usize)>, ProtocolError> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => {
            let mut cursor = Cursor { buf, pos: 1 };
            let parsed = multibulk(&mut cursor, limits)?;
            if parsed.is_none() && buf.len() > limits.max_request_bytes {
                return Err(ProtocolError::TooBigRequest);
            }
            Ok(parsed.map(|args| (args, cursor.pos)))
        }
        Some(_) => inline(buf, limits),
    }
}

fn multibulk(cursor: &mut Cursor<'_>, limits: &Limits) -> Step<Vec<Vec<u8>>> {
    let Some(line) = cursor.line(limits.max_inline_len, ProtocolError::TooBigMultibulkCount)?
    else {
        return Ok(None);
    };
    let count = match parse_i64(line) {
        Some(n) if n <= 0 => return Ok(Some(Vec::new())),
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|&n| n <= limits.max_array_len)
            .ok_or(ProtocolError::InvalidMultibulkLength)?,
        None => return Err(ProtocolError::InvalidMultibulkLength),
    };
    let mut args = Vec::with_capacity(count.min(64));
    let mut bytes = 0usize;
    for _ in 0..count {
        let Some(kind) = cursor.byte() else {
            return Ok(None);
        };
        if kind != b'$' {
            return Err(ProtocolError::ExpectedBulk(kind));
        }
        let Some(line) = cursor.line(limits.max_inline_len, ProtocolError::TooBigBulkCount)? else {
            return Ok(None);
        };
        let len = parse_i64(line)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= limits.max_bulk_len)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        bytes = bytes.saturating_add(len);
        if bytes > limits.max_request_bytes {
            return Err(ProtocolError::TooBigRequest);
        }
        match cursor.payload(len)? {
            Some(arg) => args.push(arg.to_vec()),
            None => return Ok(None),
        }
    }
    Ok(Some(args))
}

/// A line ended by `\n` (a `\r` before it is dropped), split into words.
fn inline(buf: &[u8], limits: &Limits) -> Result<Option<(Args, usize)>, ProtocolError> {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > limits.max_inline_len {
            Err(ProtocolError::TooBigInline)
        } else {
            Ok(None)
        };
    };
    if end > limits.max_inline_len {
        return Err(ProtocolError::TooBigInline);
    }
    let line = buf.get(..end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let words = split_words(line).ok_or(ProtocolError::UnbalancedQuotes)?;
    if words.len() > limits.max_array_len {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    Ok(Some((words, end + 1)))
}

/// Splits a line into words at spaces; a word may be quoted: `"..."` with the escapes `\n`,
/// `\r`, `\t`, `\b`, `\a`, `\\`, `\"` and `\xHH`, or `'...'` with `\'`. A closing quote must be
/// followed by a space or the end. `None` when a quote does not close properly.
pub(crate) fn split_words(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut rest = line;
    loop {
        rest = trim_start(rest);
        let Some(&first) = rest.first() else {
            return Some(words);
        };
        let (word, after) = match first {
            b'"' => double_quoted(rest.get(1..).unwrap_or_default())?,
            b'\'' => single_quoted(rest.get(1..).unwrap_or_default())?,
            _ => {
                let end = rest
                    .iter()
                    .position(|b| b.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                let (word, after) = rest.split_at(end);
                (word.to_vec(), after)
            }
        };
        if after.first().is_some_and(|b| !b.is_ascii_whitespace()) {
            return None;
        }
        words.push(word);
        rest = after;
    }
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// The word inside `"..."` (the opening quote already read) and what follows the closing one.
fn double_quoted(mut rest: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut word = Vec::new();
    loop {
        match rest {
            [] => return None,
            [b'"', after @ ..] => return Some((word, after)),
            [b'\\', b'x', h, l, after @ ..] if hex(*h).is_some() && hex(*l).is_some() => {
                word.push(hex(*h)? * 16 + hex(*l)?);
                rest = after;
            }
            [b'\\', c, after @ ..] => {
                word.push(match c {
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'b' => 0x08,
                    b'a' => 0x07,
                    other => *other,
                });
                rest = after;
            }
            [c, after @ ..] => {
                word.push(*c);
                rest = after;
            }
        }
    }
}

/// The word inside `'...'` (the opening quote already read) and what follows the closing one.
fn single_quoted(mut rest: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let mut word = Vec::new();
    loop {
        match rest {
            [] => return None,
            [b'\'', after @ ..] => return Some((word, after)),
            [b'\\', b'\'', after @ ..] => {
                word.push(b'\'');
                rest = after;
            }
            [c, after @ ..] => {
                word.push(*c);
                rest = after;
            }
        }
    }
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}
