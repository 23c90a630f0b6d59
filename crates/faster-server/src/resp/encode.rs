//! Writing frames for RESP2 or RESP3.

use std::io::Write;

use super::{Frame, Protocol, one_line};

impl Frame {
    /// Appends the frame's bytes for `protocol` to `out`. In RESP2 the RESP3-only types are
    /// written as their RESP2 equivalents and attributes are left out.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Frame::Simple(text) => line(out, b'+', &one_line(text)),
            Frame::Error(text) => line(out, b'-', &one_line(text)),
            Frame::Integer(n) => header(out, b':', *n),
            Frame::Bulk(bytes) => blob(out, b'$', bytes),
            Frame::Null if resp3 => out.extend_from_slice(b"_\r\n"),
            Frame::NullArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Frame::Null => out.extend_from_slice(b"$-1\r\n"),
            Frame::NullArray => out.extend_from_slice(b"*-1\r\n"),
            Frame::Array(items) => list(out, b'*', items, protocol),
            Frame::Boolean(b) if resp3 => {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Frame::Boolean(b) => header(out, b':', i64::from(*b)),
            Frame::Double(d) => {
                let text = format_double(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    blob(out, b'$', text.as_bytes());
                }
            }
            Frame::BigNumber(digits) if resp3 => line(out, b'(', digits),
            Frame::BigNumber(digits) => blob(out, b'$', digits),
            Frame::BulkError(text) if resp3 => blob(out, b'!', text),
            Frame::BulkError(text) => line(out, b'-', &one_line(text)),
            Frame::Verbatim { format, text } if resp3 => {
                let mut bytes = Vec::with_capacity(text.len() + 4);
                bytes.extend_from_slice(format);
                bytes.push(b':');
                bytes.extend_from_slice(text);
                blob(out, b'=', &bytes);
            }
            Frame::Verbatim { text, .. } => blob(out, b'$', text),
            Frame::Map(pairs) => pairs_of(out, b'%', pairs, protocol),
            Frame::Attribute(pairs) if resp3 => pairs_of(out, b'|', pairs, protocol),
            Frame::Attribute(_) => {}
            Frame::Set(items) => list(out, if resp3 { b'~' } else { b'*' }, items, protocol),
            Frame::Push(items) => list(out, if resp3 { b'>' } else { b'*' }, items, protocol),
        }
    }

    /// The frame's bytes for `protocol`.
    pub fn to_bytes(&self, protocol: Protocol) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(protocol, &mut out);
        out
    }
}

fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

fn header(out: &mut Vec<u8>, kind: u8, n: i64) {
    out.push(kind);
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{n}");
    out.extend_from_slice(b"\r\n");
}

fn length(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

fn blob(out: &mut Vec<u8>, kind: u8, bytes: &[u8]) {
    header(out, kind, length(bytes.len()));
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn list(out: &mut Vec<u8>, kind: u8, items: &[Frame], protocol: Protocol) {
    header(out, kind, length(items.len()));
    for item in items {
        item.encode(protocol, out);
    }
}

/// A map in RESP3; in RESP2 a flat array of keys and values.
fn pairs_of(out: &mut Vec<u8>, kind: u8, pairs: &[(Frame, Frame)], protocol: Protocol) {
    if protocol == Protocol::Resp3 {
        header(out, kind, length(pairs.len()));
    } else {
        header(out, b'*', length(pairs.len().saturating_mul(2)));
    }
    for (key, value) in pairs {
        key.encode(protocol, out);
        value.encode(protocol, out);
    }
}

/// A double as RESP3 writes it: `inf`, `-inf`, `nan`, or the shortest decimal that reads back
/// as the same number.
fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".to_owned()
    } else if d.is_infinite() {
        if d > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        format!("{d}")
    }
}
