//! A codec's identity: which encoding, of which type, with which size and alignment.
//!
//! The bytes of a record carry no type tag, so a store can only tell that it is read with the
//! codecs it was written with by comparing [`CodecDescriptor`]s. [`CodecKind`] has a stable
//! string form ([`CodecKind::as_str`], parsed back with [`str::parse`]) for the files that
//! record it.

use std::fmt;
use std::str::FromStr;

/// The encoding family of a [`Codec`](super::Codec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecKind {
    /// Plain-old-data stored as its own bytes ([`bytemuck::Pod`]).
    Pod,
    /// `[u8]`: the bytes themselves.
    Bytes,
    /// `str`: its UTF-8 bytes.
    Str,
    /// A serde type through postcard ([`Serde<T>`](super::Serde)).
    Postcard,
    /// A serde type through CBOR ([`Cbor<T>`](super::Cbor)).
    Cbor,
    /// A value with an expiry ([`Expiring<V>`](super::Expiring)); the inner codec is part of
    /// the type name.
    Expiring,
}

/// Every kind, in declaration order: what [`CodecKind::from_str`] accepts.
const KINDS: [CodecKind; 6] = [
    CodecKind::Pod,
    CodecKind::Bytes,
    CodecKind::Str,
    CodecKind::Postcard,
    CodecKind::Cbor,
    CodecKind::Expiring,
];

impl CodecKind {
    /// The kind's stable name: `"pod"`, `"bytes"`, `"str"`, `"serde-postcard"`,
    /// `"serde-cbor"` or `"expiring"`. Files record this name, so it never changes once released.
    pub const fn as_str(&self) -> &'static str {
        match self {
            CodecKind::Pod => "pod",
            CodecKind::Bytes => "bytes",
            CodecKind::Str => "str",
            CodecKind::Postcard => "serde-postcard",
            CodecKind::Cbor => "serde-cbor",
            CodecKind::Expiring => "expiring",
        }
    }
}

impl fmt::Display for CodecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not the [`CodecKind::as_str`] of any kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown codec kind {name:?} (known: pod, bytes, str, serde-postcard, serde-cbor, expiring)"
)]
pub struct ParseCodecKindError {
    name: String,
}

impl ParseCodecKindError {
    /// The name that was not recognised.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromStr for CodecKind {
    type Err = ParseCodecKindError;

    /// Parses the name written by [`CodecKind::as_str`] (exactly: case and spelling matter).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        KINDS
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| ParseCodecKindError {
                name: name.to_owned(),
            })
    }
}

/// What a [`Codec`](super::Codec) stores: its identity, compared when a store is reopened.
///
/// Displayed for error messages as `type (kind, size, align n)`, for example
/// `u64 (pod, 8 bytes, align 8)` or `str (str, variable size, align 1)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodecDescriptor {
    /// The encoding family.
    pub kind: CodecKind,
    /// [`std::any::type_name`] of the stored type: `Self` for plain-old-data, `[u8]` and
    /// `str`, `T` for [`Serde<T>`](super::Serde) and [`Cbor<T>`](super::Cbor).
    pub type_name: &'static str,
    /// The codec's [`FIXED_SIZE`](super::Codec::FIXED_SIZE).
    pub fixed_size: Option<usize>,
    /// The stored type's alignment for plain-old-data, 1 for the others.
    pub align: usize,
}

impl fmt::Display for CodecDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, ", self.type_name, self.kind)?;
        match self.fixed_size {
            Some(1) => f.write_str("1 byte")?,
            Some(n) => write!(f, "{n} bytes")?,
            None => f.write_str("variable size")?,
        }
        write!(f, ", align {})", self.align)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The position of `kind` in [`KINDS`]; the match fails to compile when a kind is added,
    /// as a reminder to list it there.
    fn position(kind: CodecKind) -> usize {
        match kind {
            CodecKind::Pod => 0,
            CodecKind::Bytes => 1,
            CodecKind::Str => 2,
            CodecKind::Postcard => 3,
            CodecKind::Cbor => 4,
            CodecKind::Expiring => 5,
        }
    }

    #[test]
    fn every_kind_parses_back_from_its_name() {
        for (i, kind) in KINDS.into_iter().enumerate() {
            assert_eq!(position(kind), i);
            assert_eq!(kind.as_str().parse::<CodecKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn the_names_are_the_released_ones() {
        let names: Vec<&str> = KINDS.iter().map(CodecKind::as_str).collect();
        assert_eq!(
            names,
            [
                "pod",
                "bytes",
                "str",
                "serde-postcard",
                "serde-cbor",
                "expiring"
            ]
        );
    }

    #[test]
    fn unknown_names_are_errors_that_name_them() {
        for name in ["", "Pod", "postcard", "cbor", "pod "] {
            let err = name.parse::<CodecKind>().unwrap_err();
            assert_eq!(err.name(), name);
        }
        assert_eq!(
            "json".parse::<CodecKind>().unwrap_err().to_string(),
            "unknown codec kind \"json\" (known: pod, bytes, str, serde-postcard, serde-cbor, expiring)"
        );
    }

    #[test]
    fn descriptors_display_for_error_messages() {
        let word = CodecDescriptor {
            kind: CodecKind::Pod,
            type_name: "u64",
            fixed_size: Some(8),
            align: 8,
        };
        assert_eq!(word.to_string(), "u64 (pod, 8 bytes, align 8)");
        let byte = CodecDescriptor {
            kind: CodecKind::Pod,
            type_name: "u8",
            fixed_size: Some(1),
            align: 1,
        };
        assert_eq!(byte.to_string(), "u8 (pod, 1 byte, align 1)");
        let text = CodecDescriptor {
            kind: CodecKind::Str,
            type_name: "str",
            fixed_size: None,
            align: 1,
        };
        assert_eq!(text.to_string(), "str (str, variable size, align 1)");
    }
}
