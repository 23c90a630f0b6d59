//! The envelope around small on-disk blobs: magic, format version, length, checksum.
//!
//! ```text
//! 0        8         12        16          24
//! | magic  | version | length  | checksum  | payload (length bytes) |
//! | 8 B    | u32 LE  | u32 LE  | u64 LE    |
//! ```
//! The checksum is xxh3-64 (seed 0) of the version, the length and the payload, so a flipped
//! byte anywhere after the magic is caught, and a wrong magic is reported as such. Segment
//! file headers and checkpoint metadata use it; `docs/formats.md` describes each use.

/// Bytes before the payload.
pub const ENVELOPE_HEADER: usize = 24;

/// What is wrong with bytes that should hold an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Fewer bytes than the header, or than the header says.
    #[error("truncated: {got} bytes where {needed} are needed")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The bytes do not start with the expected magic.
    #[error("bad magic")]
    BadMagic,
    /// Written by a format version this build does not read.
    #[error("format version {found} is not supported (this build reads {supported})")]
    UnsupportedVersion {
        /// The version in the bytes.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// The checksum does not match the bytes.
    #[error("checksum mismatch")]
    ChecksumMismatch,
}

fn checksum(version: u32, len: u32, payload: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = twox_hash::XxHash3_64::new();
    hasher.write(&version.to_le_bytes());
    hasher.write(&len.to_le_bytes());
    hasher.write(payload);
    hasher.finish()
}

/// Wraps `payload` with `magic` and `version`.
///
/// # Panics
/// If `payload` is longer than `u32::MAX` bytes: the length field could not hold it, and
/// writing such an envelope would produce bytes that never open.
pub fn seal(magic: [u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let Ok(len) = u32::try_from(payload.len()) else {
        panic!(
            "an envelope payload of {} bytes exceeds u32::MAX",
            payload.len()
        );
    };
    let mut out = Vec::with_capacity(ENVELOPE_HEADER + payload.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&checksum(version, len, payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks an envelope made by [`seal`] and returns its payload. Bytes after the payload are
/// not looked at (a caller that expects none checks that itself).
///
/// # Errors
/// [`EnvelopeError`] naming what is wrong, checked in this order: a buffer shorter than the
/// header, the magic, an unsupported version, a buffer shorter than the length says, the
/// checksum.
pub fn open(magic: [u8; 8], supported: u32, bytes: &[u8]) -> Result<&[u8], EnvelopeError> {
    let header = bytes
        .get(..ENVELOPE_HEADER)
        .ok_or(EnvelopeError::Truncated {
            needed: ENVELOPE_HEADER,
            got: bytes.len(),
        })?;
    if header[..8] != magic {
        return Err(EnvelopeError::BadMagic);
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let version = word(8);
    if version != supported {
        return Err(EnvelopeError::UnsupportedVersion {
            found: version,
            supported,
        });
    }
    let len = word(12);
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&header[16..24]);
    let needed = ENVELOPE_HEADER.saturating_add(len as usize);
    let payload = bytes
        .get(ENVELOPE_HEADER..needed)
        .ok_or(EnvelopeError::Truncated {
            needed,
            got: bytes.len(),
        })?;
    if checksum(version, len, payload) != u64::from_le_bytes(sum) {
        return Err(EnvelopeError::ChecksumMismatch);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 8] = *b"TESTMAGC";

    #[test]
    fn a_sealed_payload_opens_and_every_flipped_byte_is_caught() {
        let sealed = seal(MAGIC, 3, b"hello, envelope");
        assert_eq!(open(MAGIC, 3, &sealed).unwrap(), b"hello, envelope");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            assert!(
                open(MAGIC, 3, &bad).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
        for len in 0..sealed.len() {
            assert!(
                open(MAGIC, 3, &sealed[..len]).is_err(),
                "truncation to {len}"
            );
        }
    }

    #[test]
    fn each_failure_is_named() {
        let sealed = seal(MAGIC, 3, b"payload");
        assert_eq!(
            open(MAGIC, 4, &sealed),
            Err(EnvelopeError::UnsupportedVersion {
                found: 3,
                supported: 4
            })
        );
        assert_eq!(open(*b"OTHERMAG", 3, &sealed), Err(EnvelopeError::BadMagic));
        assert_eq!(
            open(MAGIC, 3, &sealed[..10]),
            Err(EnvelopeError::Truncated {
                needed: ENVELOPE_HEADER,
                got: 10
            })
        );
        assert_eq!(
            open(MAGIC, 3, &sealed[..sealed.len() - 1]),
            Err(EnvelopeError::Truncated {
                needed: sealed.len(),
                got: sealed.len() - 1
            })
        );
        let mut bad = sealed.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(open(MAGIC, 3, &bad), Err(EnvelopeError::ChecksumMismatch));
        // Trailing bytes are the caller's business.
        let mut longer = sealed;
        longer.extend_from_slice(&[9; 5]);
        assert_eq!(open(MAGIC, 3, &longer).unwrap(), b"payload");
    }
}
