//! The envelope around every metadata blob: magic, format version, length, checksum.
//!
//! The format and its checks live in [`faster_device::envelope`], shared with the segment
//! file headers; this module keeps checkpoint code speaking in [`FormatError`].
//!
//! ```text
//! 0        8         12        16          24
//! | magic  | version | length  | checksum  | payload (length bytes, postcard) |
//! | 8 B    | u32 LE  | u32 LE  | u64 LE    |
//! ```

use crate::error::FormatError;

pub use faster_device::envelope::{ENVELOPE_HEADER, seal};

/// Encodes `value` with postcard and seals it.
///
/// # Errors
/// [`FormatError::Decode`] if postcard cannot encode it.
pub fn seal_postcard<T: serde::Serialize>(
    magic: [u8; 8],
    version: u32,
    value: &T,
) -> Result<Vec<u8>, FormatError> {
    let payload = postcard::to_allocvec(value).map_err(|e| FormatError::Decode(e.to_string()))?;
    Ok(seal(magic, version, &payload))
}

/// Opens an envelope made by [`seal_postcard`] and decodes its payload.
///
/// # Errors
/// As [`open`], or [`FormatError::Decode`] for a payload that does not decode.
pub fn open_postcard<T: serde::de::DeserializeOwned>(
    magic: [u8; 8],
    supported: u32,
    bytes: &[u8],
) -> Result<T, FormatError> {
    let payload = open(magic, supported, bytes)?;
    postcard::from_bytes(payload).map_err(|e| FormatError::Decode(e.to_string()))
}

/// Checks an envelope made by [`seal`] and returns its payload.
///
/// # Errors
/// [`FormatError`] naming what is wrong: the magic, an unsupported version, a short buffer,
/// or a checksum mismatch.
pub fn open(magic: [u8; 8], supported: u32, bytes: &[u8]) -> Result<&[u8], FormatError> {
    Ok(faster_device::envelope::open(magic, supported, bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 8] = *b"TESTMAGC";

    #[test]
    fn envelope_errors_arrive_as_format_errors() {
        let sealed = seal(MAGIC, 3, b"hello, checkpoint");
        assert_eq!(open(MAGIC, 3, &sealed).unwrap(), b"hello, checkpoint");
        assert_eq!(
            open(MAGIC, 4, &sealed),
            Err(FormatError::UnsupportedVersion {
                found: 3,
                supported: 4
            })
        );
        assert_eq!(open(*b"OTHERMAG", 3, &sealed), Err(FormatError::BadMagic));
        assert_eq!(
            open(MAGIC, 3, &sealed[..3]),
            Err(FormatError::Truncated {
                needed: ENVELOPE_HEADER,
                got: 3
            })
        );
        let mut bad = sealed;
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(open(MAGIC, 3, &bad), Err(FormatError::ChecksumMismatch));
    }
}
