//! RESP, the Redis serialization protocol: frames of RESP2 and RESP3, read incrementally from
//! a byte buffer and written for either protocol version.
//!
//! - [`parse_frame`] reads any frame (what a client reads from a server, and what the tests
//!   use); [`parse_request`] reads what a server reads from a client: an array of bulk strings,
//!   or an *inline* command (a plain line of words, as typed into a terminal).
//! - Both answer `Ok(None)` when the buffer holds only the start of a frame (read more and
//!   call again with the whole buffer), `Ok(Some((value, consumed)))` for a complete one, and
//!   a [`ProtocolError`] — whose [`ProtocolError::reply`] is the error text a Redis server
//!   sends before closing the connection — for bytes that can never become a frame.
//! - Neither ever panics, whatever the bytes: lengths are checked against [`Limits`] before
//!   anything is allocated for them, nesting is bounded, and integers are parsed strictly.
//! - [`Frame::encode`] writes a frame for RESP2 or RESP3; RESP3-only types are written as
//!   their RESP2 equivalents (a map as a flat array, null as a null bulk string, a boolean as
//!   an integer, a double as a bulk string).

mod encode;
mod parse;
mod request;

pub use parse::parse_frame;
pub use request::parse_request;

/// A request's arguments: the command's name, then its arguments.
pub type Args = Vec<Vec<u8>>;

/// The protocol version a connection speaks (`HELLO 2`, `HELLO 3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2, what every connection starts with.
    Resp2,
    /// RESP3: maps, sets, null, booleans, doubles.
    Resp3,
}

/// One RESP value.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+text`: a status reply such as `OK`.
    Simple(Vec<u8>),
    /// `-ERR text`: an error reply.
    Error(Vec<u8>),
    /// `:n`.
    Integer(i64),
    /// `$len` then the bytes.
    Bulk(Vec<u8>),
    /// The absent value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// The absent array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// `*count` then the elements.
    Array(Vec<Frame>),
    /// RESP3 `#t` / `#f`.
    Boolean(bool),
    /// RESP3 `,` a floating-point number.
    Double(f64),
    /// RESP3 `(` an integer of any size, as its decimal digits.
    BigNumber(Vec<u8>),
    /// RESP3 `!len`: an error with binary-safe text.
    BulkError(Vec<u8>),
    /// RESP3 `=len`: text with a three-letter format (`txt`, `mkd`).
    Verbatim {
        /// The format, such as `txt`.
        format: [u8; 3],
        /// The text.
        text: Vec<u8>,
    },
    /// RESP3 `%count`: key-value pairs.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~count`.
    Set(Vec<Frame>),
    /// RESP3 `>count`: out-of-band data.
    Push(Vec<Frame>),
    /// RESP3 `|count`: attributes of the frame that follows (returned as a frame of its own).
    Attribute(Vec<(Frame, Frame)>),
}

impl Frame {
    /// `+OK`.
    pub fn ok() -> Self {
        Frame::Simple(b"OK".to_vec())
    }

    /// A status reply.
    pub fn simple(text: &str) -> Self {
        Frame::Simple(text.as_bytes().to_vec())
    }

    /// An error reply; `text` starts with its code (`ERR ...`). Line breaks become spaces, so
    /// the reply stays one line whatever text it quotes.
    pub fn error(text: impl AsRef<[u8]>) -> Self {
        Frame::Error(one_line(text.as_ref()))
    }

    /// A bulk string.
    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Self {
        Frame::Bulk(bytes.into())
    }
}

/// `text` with `\r` and `\n` replaced by spaces.
pub(crate) fn one_line(text: &[u8]) -> Vec<u8> {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

/// Bounds on what a peer may send; beyond them a frame is a [`ProtocolError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string. Default: 512 MiB (Redis's `proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// Most elements of one array, map, set or command. Default: 1 Mi.
    pub max_array_len: usize,
    /// Most bytes of one request (a frame with everything inside it). Default: 1 GiB.
    pub max_request_bytes: usize,
    /// Longest inline command, and longest length line. Default: 64 KiB.
    pub max_inline_len: usize,
    /// Deepest nesting of arrays, maps and sets. Default: 64.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: 512 << 20,
            max_array_len: 1 << 20,
            max_request_bytes: 1 << 30,
            max_inline_len: 64 << 10,
            max_depth: 64,
        }
    }
}

/// Bytes that can never become a frame. After one, a server answers
/// [`ProtocolError::reply`] and closes the connection (the stream has lost its framing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An array count that is not an integer, or above [`Limits::max_array_len`].
    #[error("invalid multibulk length")]
    InvalidMultibulkLength,
    /// A bulk length that is not an integer, negative (other than a null), or above
    /// [`Limits::max_bulk_len`].
    #[error("invalid bulk length")]
    InvalidBulkLength,
    /// A command element that is not a bulk string.
    #[error("expected '$', got '{}'", char::from(*.0))]
    ExpectedBulk(u8),
    /// An array count line without its end within [`Limits::max_inline_len`].
    #[error("too big mbulk count string")]
    TooBigMultibulkCount,
    /// A bulk length line without its end within [`Limits::max_inline_len`].
    #[error("too big bulk count string")]
    TooBigBulkCount,
    /// An inline command without its end within [`Limits::max_inline_len`].
    #[error("too big inline request")]
    TooBigInline,
    /// An inline command with a quote that does not close.
    #[error("unbalanced quotes in request")]
    UnbalancedQuotes,
    /// A request larger than [`Limits::max_request_bytes`].
    #[error("too big request")]
    TooBigRequest,
    /// A frame whose first byte names no type.
    #[error("invalid frame type '{}'", char::from(*.0))]
    UnknownType(u8),
    /// A line that does not hold what its type needs (an integer, a double, `t` or `f`).
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A bulk string whose bytes are not followed by `\r\n`.
    #[error("bulk string not terminated by CRLF")]
    MissingCrlf,
    /// Arrays nested deeper than [`Limits::max_depth`].
    #[error("too deeply nested")]
    TooDeep,
}

impl ProtocolError {
    /// The error reply a server sends for it, such as `ERR Protocol error: invalid bulk
    /// length`.
    pub fn reply(&self) -> Frame {
        Frame::error(format!("ERR Protocol error: {self}"))
    }
}

/// Parses a signed decimal integer the way Redis does: an optional `-`, then digits with no
/// leading zero (except `0` itself), no sign on zero, no spaces, within `i64`.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    match digits {
        [] => return None,
        [b'0'] => return (!negative).then_some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let digit = i64::from(d - b'0');
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_strictly() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn protocol_errors_read_like_redis() {
        assert_eq!(
            ProtocolError::InvalidBulkLength.reply(),
            Frame::Error(b"ERR Protocol error: invalid bulk length".to_vec())
        );
        assert_eq!(
            ProtocolError::ExpectedBulk(b'x').reply(),
            Frame::Error(b"ERR Protocol error: expected '$', got 'x'".to_vec())
        );
    }
}
