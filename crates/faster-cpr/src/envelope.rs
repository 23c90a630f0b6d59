//! The envelope around every metadata blob: magic, format version, length, checksum.
//!
//! ```text
//! 0        8         12        16          24
//! | magic  | version | length  | checksum  | payload (length bytes, postcard) |
//! | 8 B    | u32 LE  | u32 LE  | u64 LE    |
//! ```
//! The checksum is xxh3-64 of the version, the length and the payload, so a flipped byte
//! anywhere after the magic is caught.

use crate::error::FormatError;

/// Bytes before the payload.
pub const ENVELOPE_HEADER: usize = 24;

fn checksum(version: u32, payload: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = twox_hash::XxHash3_64::new();
    hasher.write(&version.to_le_bytes());
    hasher.write(&(payload.len() as u32).to_le_bytes());
    hasher.write(payload);
    hasher.finish()
}

/// Wraps `payload` with `magic` and `version`.
pub fn seal(magic: [u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENVELOPE_HEADER + payload.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum(version, payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Checks an envelope made by [`seal`] and returns its payload.
///
/// # Errors
/// [`FormatError`] naming what is wrong: the magic, an unsupported version, a short buffer,
/// or a checksum mismatch.
pub fn open(magic: [u8; 8], supported: u32, bytes: &[u8]) -> Result<&[u8], FormatError> {
    let header = bytes.get(..ENVELOPE_HEADER).ok_or(FormatError::Truncated {
        needed: ENVELOPE_HEADER,
        got: bytes.len(),
    })?;
    if header[..8] != magic {
        return Err(FormatError::BadMagic);
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let version = word(8);
    if version != supported {
        return Err(FormatError::UnsupportedVersion {
            found: version,
            supported,
        });
    }
    let len = word(12) as usize;
    let mut sum = [0u8; 8];
    sum.copy_from_slice(&header[16..24]);
    let payload =
        bytes
            .get(ENVELOPE_HEADER..ENVELOPE_HEADER + len)
            .ok_or(FormatError::Truncated {
                needed: ENVELOPE_HEADER + len,
                got: bytes.len(),
            })?;
    if checksum(version, payload) != u64::from_le_bytes(sum) {
        return Err(FormatError::ChecksumMismatch);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 8] = *b"TESTMAGC";

    #[test]
    fn a_sealed_payload_opens_and_every_flipped_byte_is_caught() {
        let sealed = seal(MAGIC, 3, b"hello, checkpoint");
        assert_eq!(open(MAGIC, 3, &sealed).unwrap(), b"hello, checkpoint");
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
        assert_eq!(
            open(MAGIC, 4, &sealed),
            Err(FormatError::UnsupportedVersion {
                found: 3,
                supported: 4
            })
        );
    }
}
