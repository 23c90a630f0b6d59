//! The byte-string codecs: `[u8]` and `str` of any length, stored as their bytes and read
//! back as `Vec<u8>` and `String`.

use super::{Codec, CodecError};

impl Codec for [u8] {
    type Owned = Vec<u8>;
    const FIXED_SIZE: Option<usize> = None;

    #[inline]
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        Ok(f(self))
    }

    fn decode(bytes: &[u8]) -> Result<Vec<u8>, CodecError> {
        Ok(bytes.to_vec())
    }
}

impl Codec for str {
    type Owned = String;
    const FIXED_SIZE: Option<usize> = None;

    #[inline]
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        Ok(f(self.as_bytes()))
    }

    fn decode(bytes: &[u8]) -> Result<String, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| CodecError {
            what: "str",
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_reject_invalid_utf8() {
        assert_eq!(str::decode(b"abc").unwrap(), "abc");
        assert!(str::decode(&[0xff, 0xfe]).is_err());
    }
}
