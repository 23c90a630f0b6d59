//! Reading any RESP2 or RESP3 frame from the start of a buffer.

use super::{Frame, Limits, ProtocolError, parse_i64};

/// What a step of parsing answers: `Ok(None)` when the buffer ends before the frame does.
pub(super) type Step<T> = Result<Option<T>, ProtocolError>;

/// A position in the buffer being parsed.
pub(super) struct Cursor<'a> {
    pub(super) buf: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cursor<'a> {
    /// The bytes up to the next `\r\n` (which is consumed); `too_long` when no line end
    /// comes within `max` bytes.
    pub(super) fn line(&mut self, max: usize, too_long: ProtocolError) -> Step<&'a [u8]> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(end) if end > max => Err(too_long),
            Some(end) => {
                self.pos += end + 2;
                Ok(rest.get(..end))
            }
            None if rest.len() > max.saturating_add(1) => Err(too_long),
            None => Ok(None),
        }
    }

    /// The next `len` bytes and the `\r\n` after them.
    pub(super) fn payload(&mut self, len: usize) -> Step<&'a [u8]> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let Some(end) = len.checked_add(2) else {
            return Err(ProtocolError::InvalidBulkLength);
        };
        if rest.len() < end {
            return Ok(None);
        }
        if rest.get(len..end) != Some(b"\r\n") {
            return Err(ProtocolError::MissingCrlf);
        }
        self.pos += end;
        Ok(rest.get(..len))
    }

    /// The type byte of the next frame.
    pub(super) fn byte(&mut self) -> Option<u8> {
        let byte = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(byte)
    }
}

/// Reads one frame from the start of `buf`: `Ok(Some((frame, bytes consumed)))`, `Ok(None)`
/// when `buf` holds only part of it, or the error that makes it no frame at all.
///
/// # Errors
/// [`ProtocolError`] for bytes that are not RESP or break `limits`.
pub fn parse_frame(buf: &[u8], limits: &Limits) -> Result<Option<(Frame, usize)>, ProtocolError> {
    let mut cursor = Cursor { buf, pos: 0 };
    let parsed = frame(&mut cursor, limits, 0);
    if cursor.pos > limits.max_request_bytes
        || (matches!(parsed, Ok(None)) && buf.len() > limits.max_request_bytes)
    {
        return Err(ProtocolError::TooBigRequest);
    }
    Ok(parsed?.map(|frame| (frame, cursor.pos)))
}

/// A length line: `-1` is `None` (a null), other negatives and non-integers are `bad`.
fn length(
    cursor: &mut Cursor<'_>,
    limits: &Limits,
    max: usize,
    bad: ProtocolError,
) -> Step<Option<usize>> {
    let Some(line) = cursor.line(limits.max_inline_len, bad.clone())? else {
        return Ok(None);
    };
    match parse_i64(line) {
        Some(-1) => Ok(Some(None)),
        Some(n) => match usize::try_from(n) {
            Ok(n) if n <= max => Ok(Some(Some(n))),
            _ => Err(bad),
        },
        None => Err(bad),
    }
}

/// The next line, `Invalid(what)` when it is too long.
fn line<'a>(cursor: &mut Cursor<'a>, limits: &Limits, what: &'static str) -> Step<&'a [u8]> {
    cursor.line(limits.max_inline_len, ProtocolError::Invalid(what))
}

/// A line of text, which may hold neither `\r` nor `\n`.
fn text_line(cursor: &mut Cursor<'_>, limits: &Limits, what: &'static str) -> Step<Vec<u8>> {
    match line(cursor, limits, what)? {
        None => Ok(None),
        Some(l) if l.iter().any(|&b| b == b'\r' || b == b'\n') => Err(ProtocolError::Invalid(what)),
        Some(l) => Ok(Some(l.to_vec())),
    }
}

fn frame(cursor: &mut Cursor<'_>, limits: &Limits, depth: usize) -> Step<Frame> {
    if depth > limits.max_depth {
        return Err(ProtocolError::TooDeep);
    }
    let Some(kind) = cursor.byte() else {
        return Ok(None);
    };
    let frame = match kind {
        b'+' => text_line(cursor, limits, "simple string")?.map(Frame::Simple),
        b'-' => text_line(cursor, limits, "error")?.map(Frame::Error),
        b':' => match line(cursor, limits, "integer")? {
            None => None,
            Some(l) => Some(Frame::Integer(
                parse_i64(l).ok_or(ProtocolError::Invalid("integer"))?,
            )),
        },
        b'_' => match line(cursor, limits, "null")? {
            None => None,
            Some([]) => Some(Frame::Null),
            Some(_) => return Err(ProtocolError::Invalid("null")),
        },
        b'#' => match line(cursor, limits, "boolean")? {
            None => None,
            Some(b"t") => Some(Frame::Boolean(true)),
            Some(b"f") => Some(Frame::Boolean(false)),
            Some(_) => return Err(ProtocolError::Invalid("boolean")),
        },
        b',' => match line(cursor, limits, "double")? {
            None => None,
            Some(l) => Some(Frame::Double(parse_double(l)?)),
        },
        b'(' => match line(cursor, limits, "big number")? {
            None => None,
            Some(l) if is_big_number(l) => Some(Frame::BigNumber(l.to_vec())),
            Some(_) => return Err(ProtocolError::Invalid("big number")),
        },
        b'$' | b'!' | b'=' => {
            let bad = ProtocolError::InvalidBulkLength;
            match length(cursor, limits, limits.max_bulk_len, bad)? {
                None => None,
                Some(None) if kind == b'$' => Some(Frame::Null),
                Some(None) => return Err(ProtocolError::InvalidBulkLength),
                Some(Some(len)) => match cursor.payload(len)? {
                    None => None,
                    Some(bytes) => Some(blob(kind, bytes)?),
                },
            }
        }
        b'*' | b'~' | b'>' => {
            let bad = ProtocolError::InvalidMultibulkLength;
            match length(cursor, limits, limits.max_array_len, bad)? {
                None => None,
                Some(None) if kind == b'*' => Some(Frame::NullArray),
                Some(None) => return Err(ProtocolError::InvalidMultibulkLength),
                Some(Some(count)) => {
                    elements(cursor, limits, depth, count)?.map(|items| match kind {
                        b'*' => Frame::Array(items),
                        b'~' => Frame::Set(items),
                        _ => Frame::Push(items),
                    })
                }
            }
        }
        b'%' | b'|' => {
            let bad = ProtocolError::InvalidMultibulkLength;
            match length(cursor, limits, limits.max_array_len / 2, bad)? {
                None => None,
                Some(None) => return Err(ProtocolError::InvalidMultibulkLength),
                Some(Some(count)) => elements(cursor, limits, depth, count * 2)?.map(|items| {
                    let pairs = pairs(items);
                    if kind == b'%' {
                        Frame::Map(pairs)
                    } else {
                        Frame::Attribute(pairs)
                    }
                }),
            }
        }
        other => return Err(ProtocolError::UnknownType(other)),
    };
    Ok(frame)
}

/// The frame of a length-prefixed string of type `kind`.
fn blob(kind: u8, bytes: &[u8]) -> Result<Frame, ProtocolError> {
    Ok(match kind {
        b'$' => Frame::Bulk(bytes.to_vec()),
        b'!' => Frame::BulkError(bytes.to_vec()),
        _ => match bytes {
            [a, b, c, b':', text @ ..] => Frame::Verbatim {
                format: [*a, *b, *c],
                text: text.to_vec(),
            },
            _ => return Err(ProtocolError::Invalid("verbatim string")),
        },
    })
}

/// `count` frames, one after the other.
fn elements(
    cursor: &mut Cursor<'_>,
    limits: &Limits,
    depth: usize,
    count: usize,
) -> Step<Vec<Frame>> {
    // The count is the peer's word: reserve only what a small frame needs.
    let mut items = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        match frame(cursor, limits, depth + 1)? {
            Some(item) => items.push(item),
            None => return Ok(None),
        }
    }
    Ok(Some(items))
}

/// Consecutive frames as key-value pairs (`items` has an even length).
fn pairs(items: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(key), Some(value)) = (items.next(), items.next()) {
        pairs.push((key, value));
    }
    pairs
}

fn parse_double(line: &[u8]) -> Result<f64, ProtocolError> {
    let bad = ProtocolError::Invalid("double");
    let text = std::str::from_utf8(line).map_err(|_| bad.clone())?;
    match text {
        "inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" => Ok(f64::NAN),
        _ if text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
        {
            text.parse().map_err(|_| bad)
        }
        _ => Err(bad),
    }
}

fn is_big_number(line: &[u8]) -> bool {
    let digits = match line.split_first() {
        Some((b'-' | b'+', rest)) => rest,
        _ => line,
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}
