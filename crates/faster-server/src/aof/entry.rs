//! The payload of one append-only log entry: the state of one key after a write (its
//! post-image), or the mark of a checkpoint. The byte diagram is in `docs/formats.md`
//! ("faster-server append-only log"); faster-log frames each payload with its length and a
//! checksum, so this layer only names what the bytes mean.
//!
//! ```text
//! 0      1      2
//! | fmt  | kind | body ...
//! Put:        key_len: u32 LE | key | value (the rest)
//! Del:        key_len: u32 LE | key           (nothing after the key)
//! Checkpoint: version: u32 LE | start: u64 LE (14 bytes in all)
//! ```

/// The format byte every entry starts with.
pub const ENTRY_FORMAT: u8 = 1;

const KIND_PUT: u8 = 1;
const KIND_DEL: u8 = 2;
const KIND_CHECKPOINT: u8 = 3;

/// Bytes before a `Put`'s or `Del`'s key: format, kind, key length.
pub const KEY_ENTRY_OVERHEAD: usize = 6;

/// One decoded entry, borrowing the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AofEntry<'a> {
    /// After the write, `key` holds `value` (the bytes the store holds).
    Put {
        /// The key.
        key: &'a [u8],
        /// Its value.
        value: &'a [u8],
    },
    /// After the write, `key` is absent.
    Del {
        /// The key.
        key: &'a [u8],
    },
    /// A checkpoint of store version `version` completed, and every write whose entry lies
    /// below log address `start` is in it.
    Checkpoint {
        /// The version the checkpoint captured.
        version: u32,
        /// The log's tail when the checkpoint began.
        start: u64,
    },
}

/// Why a payload is not an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AofEntryError {
    /// The payload is empty.
    #[error("empty entry")]
    Empty,
    /// Written by another format of the log: a newer server, or not this log at all.
    #[error("unknown entry format {0} (this server reads format {ENTRY_FORMAT})")]
    UnknownFormat(u8),
    /// A kind this format does not have.
    #[error("unknown entry kind {0}")]
    UnknownKind(u8),
    /// The lengths inside the entry do not match its size.
    #[error("entry of kind {kind} has a bad length ({len} bytes)")]
    BadLength {
        /// The entry's kind byte.
        kind: u8,
        /// The payload's length.
        len: usize,
    },
}

impl<'a> AofEntry<'a> {
    /// Appends the entry's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match *self {
            AofEntry::Put { key, value } => {
                out.reserve(KEY_ENTRY_OVERHEAD + key.len() + value.len());
                key_head(out, KIND_PUT, key);
                out.extend_from_slice(value);
            }
            AofEntry::Del { key } => key_head(out, KIND_DEL, key),
            AofEntry::Checkpoint { version, start } => {
                out.extend_from_slice(&[ENTRY_FORMAT, KIND_CHECKPOINT]);
                out.extend_from_slice(&version.to_le_bytes());
                out.extend_from_slice(&start.to_le_bytes());
            }
        }
    }

    /// The entry's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Reads an entry; never panics, whatever the bytes.
    ///
    /// # Errors
    /// [`AofEntryError`] when the bytes are not an entry of format [`ENTRY_FORMAT`].
    pub fn decode(bytes: &'a [u8]) -> Result<Self, AofEntryError> {
        let (&format, rest) = bytes.split_first().ok_or(AofEntryError::Empty)?;
        if format != ENTRY_FORMAT {
            return Err(AofEntryError::UnknownFormat(format));
        }
        let (&kind, body) = rest.split_first().ok_or(AofEntryError::BadLength {
            kind: 0,
            len: bytes.len(),
        })?;
        let bad = AofEntryError::BadLength {
            kind,
            len: bytes.len(),
        };
        match kind {
            KIND_PUT | KIND_DEL => {
                let (len, rest) = split_u32(body).ok_or(bad.clone())?;
                let len = usize::try_from(len).map_err(|_| bad.clone())?;
                if rest.len() < len || (kind == KIND_DEL && rest.len() != len) {
                    return Err(bad);
                }
                let (key, value) = rest.split_at(len);
                Ok(if kind == KIND_PUT {
                    AofEntry::Put { key, value }
                } else {
                    AofEntry::Del { key }
                })
            }
            KIND_CHECKPOINT => {
                let (version, rest) = split_u32(body).ok_or(bad.clone())?;
                let start: [u8; 8] = rest.try_into().map_err(|_| bad)?;
                Ok(AofEntry::Checkpoint {
                    version,
                    start: u64::from_le_bytes(start),
                })
            }
            other => Err(AofEntryError::UnknownKind(other)),
        }
    }
}

/// Format, kind, key length and key.
fn key_head(out: &mut Vec<u8>, kind: u8, key: &[u8]) {
    // Keys are bounded by the request limits (512 MiB), far below u32::MAX.
    let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&[ENTRY_FORMAT, kind]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(key);
}

fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<4>()?;
    Some((u32::from_le_bytes(*head), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written() {
        let entries = [
            AofEntry::Put {
                key: b"k",
                value: b"value",
            },
            AofEntry::Put {
                key: b"",
                value: b"",
            },
            AofEntry::Del { key: b"gone" },
            AofEntry::Checkpoint {
                version: 7,
                start: 1 << 40,
            },
        ];
        for entry in entries {
            assert_eq!(AofEntry::decode(&entry.encode()), Ok(entry));
        }
    }

    #[test]
    fn unknown_formats_kinds_and_lengths_are_refused() {
        let mut put = AofEntry::Put {
            key: b"key",
            value: b"v",
        }
        .encode();
        assert_eq!(AofEntry::decode(&[]), Err(AofEntryError::Empty));
        put[0] = 2;
        assert_eq!(AofEntry::decode(&put), Err(AofEntryError::UnknownFormat(2)));
        put[0] = ENTRY_FORMAT;
        put[1] = 9;
        assert_eq!(AofEntry::decode(&put), Err(AofEntryError::UnknownKind(9)));
        put[1] = KIND_PUT;
        put[2] = 200; // a key longer than the entry
        assert!(matches!(
            AofEntry::decode(&put),
            Err(AofEntryError::BadLength { .. })
        ));
        let mut del = AofEntry::Del { key: b"k" }.encode();
        del.push(0); // bytes after a deleted key
        assert!(matches!(
            AofEntry::decode(&del),
            Err(AofEntryError::BadLength { .. })
        ));
        let mark = AofEntry::Checkpoint {
            version: 1,
            start: 2,
        }
        .encode();
        assert!(matches!(
            AofEntry::decode(&mark[..mark.len() - 1]),
            Err(AofEntryError::BadLength { .. })
        ));
    }
}
