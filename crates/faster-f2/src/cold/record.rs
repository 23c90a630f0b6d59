//! A cold record: the payload of one entry of the cold log (`docs/formats.md`, "F2 cold
//! record"). The cold log's own entry header carries the length and a checksum; the payload
//! says which key, which value, and where the previous record of its chunk slot is.
//!
//! ```text
//! offset size field
//!      0    1 format version: 1
//!      1    1 flags: bit 0 = tombstone, other bits 0
//!      2    2 reserved: 0
//!      4    4 key length k: u32 LE
//!      8    8 previous address in the cold log: u64 LE, 0 = none (always below this entry)
//!     16    8 the key's hash: u64 LE (the key codec's `hash64`), for compaction
//!     24    k key bytes (as the key codec encodes them)
//!   24+k    … value bytes (empty for a tombstone)
//! ```

/// The format version of cold records.
pub const FORMAT: u8 = 1;
const TOMBSTONE: u8 = 1;
const HEADER: usize = 24;

/// A parsed cold record, borrowing the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColdRecord<'a> {
    /// The previous record of its chunk slot (0: none).
    pub previous: u64,
    /// The key's hash.
    pub hash: u64,
    /// The key's encoded bytes.
    pub key: &'a [u8],
    /// The value's encoded bytes; `None`: a tombstone.
    pub value: Option<&'a [u8]>,
}

/// Why a payload is not a cold record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Shorter than its header or its key length says.
    #[error("cold record of {len} bytes is shorter than its lengths say")]
    Short {
        /// The payload's length.
        len: usize,
    },
    /// A format version this build does not read.
    #[error("cold record format {0} is not 1 (a newer faster-f2 wrote it?)")]
    Format(u8),
    /// Reserved bits set, or a tombstone with a value.
    #[error("cold record has reserved bits set")]
    Reserved,
}

/// Encodes a record into `out` (cleared first).
pub fn encode(previous: u64, hash: u64, key: &[u8], value: Option<&[u8]>, out: &mut Vec<u8>) {
    out.clear();
    out.push(FORMAT);
    out.push(if value.is_none() { TOMBSTONE } else { 0 });
    out.extend_from_slice(&[0, 0]);
    // Keys longer than u32::MAX cannot reach here: the hot store refuses records larger than
    // a page.
    out.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&previous.to_le_bytes());
    out.extend_from_slice(&hash.to_le_bytes());
    out.extend_from_slice(key);
    if let Some(value) = value {
        out.extend_from_slice(value);
    }
}

/// Parses a payload read back from the cold log (rule HC5: checked before use).
///
/// # Errors
/// [`RecordError`] for anything that is not a record of format 1.
pub fn parse(bytes: &[u8]) -> Result<ColdRecord<'_>, RecordError> {
    let short = RecordError::Short { len: bytes.len() };
    let header = bytes.get(..HEADER).ok_or(short)?;
    if header[0] != FORMAT {
        return Err(RecordError::Format(header[0]));
    }
    let flags = header[1];
    if flags & !TOMBSTONE != 0 || header[2] != 0 || header[3] != 0 {
        return Err(RecordError::Reserved);
    }
    let key_len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let mut previous = [0u8; 8];
    previous.copy_from_slice(&header[8..16]);
    let mut hash = [0u8; 8];
    hash.copy_from_slice(&header[16..24]);
    let rest = &bytes[HEADER..];
    let key = rest.get(..key_len).ok_or(short)?;
    let value = &rest[key_len..];
    let value = if flags & TOMBSTONE != 0 {
        if !value.is_empty() {
            return Err(RecordError::Reserved);
        }
        None
    } else {
        Some(value)
    };
    Ok(ColdRecord {
        previous: u64::from_le_bytes(previous),
        hash: u64::from_le_bytes(hash),
        key,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_refused() {
        let mut out = Vec::new();
        encode(4096, 77, b"key", Some(b"value"), &mut out);
        let r = parse(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (r.previous, r.hash, r.key, r.value),
            (4096, 77, &b"key"[..], Some(&b"value"[..]))
        );
        encode(0, 5, b"gone", None, &mut out);
        let r = parse(&out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.value, None);
        for cut in 0..HEADER + 4 {
            assert!(parse(&out[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = out.clone();
        bad[0] = 2;
        assert_eq!(parse(&bad), Err(RecordError::Format(2)));
        let mut bad = out.clone();
        bad[1] = 0x81;
        assert_eq!(parse(&bad), Err(RecordError::Reserved));
        let mut bad = out;
        bad.push(7); // a tombstone with a value
        assert_eq!(parse(&bad), Err(RecordError::Reserved));
    }
}
