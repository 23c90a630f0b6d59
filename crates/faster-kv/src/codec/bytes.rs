//! The byte-string codecs: `[u8]` and `str` of any length, stored as their bytes and read
//! back as `Vec<u8>` and `String`.

use super::{Codec, CodecDescriptor, CodecError, CodecKind};

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

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Bytes,
            type_name: std::any::type_name::<[u8]>(),
            fixed_size: None,
            align: 1,
        }
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

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Str,
            type_name: std::any::type_name::<str>(),
            fixed_size: None,
            align: 1,
        }
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

    #[test]
    fn byte_and_string_descriptors_differ_and_have_no_fixed_size() {
        assert_eq!(
            <[u8]>::descriptor().to_string(),
            "[u8] (bytes, variable size, align 1)"
        );
        assert_eq!(
            str::descriptor().to_string(),
            "str (str, variable size, align 1)"
        );
    }
}
