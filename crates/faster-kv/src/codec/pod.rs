//! The plain-old-data codec: any [`bytemuck::Pod`] type is stored as its own bytes.
//!
//! Values of up to 8 bytes live in one atomic word and are updated in place atomically; larger
//! ones are updated in place under a per-record sequence lock. Bytes are in the machine's
//! order, and the crate refuses to build on big-endian targets, so stored bytes are always
//! little-endian.

use super::{Codec, CodecDescriptor, CodecError, CodecKind, mix64};

impl<T: bytemuck::Pod + Send + Sync> Codec for T {
    type Owned = T;
    const FIXED_SIZE: Option<usize> = Some(std::mem::size_of::<T>());

    #[inline]
    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        Ok(f(bytemuck::bytes_of(self)))
    }

    #[inline]
    fn decode(bytes: &[u8]) -> Result<T, CodecError> {
        bytemuck::try_pod_read_unaligned(bytes).map_err(|e| CodecError {
            what: std::any::type_name::<T>(),
            reason: format!("{e:?} ({} bytes)", bytes.len()),
        })
    }

    #[inline]
    fn hash64(&self) -> Result<u64, CodecError> {
        let bytes = bytemuck::bytes_of(self);
        Ok(if let Ok(word) = <[u8; 8]>::try_from(bytes) {
            mix64(u64::from_le_bytes(word))
        } else {
            twox_hash::XxHash3_64::oneshot(bytes)
        })
    }

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Pod,
            type_name: std::any::type_name::<T>(),
            fixed_size: Self::FIXED_SIZE,
            align: std::mem::align_of::<T>(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_values_round_trip() {
        let v: [u32; 3] = [1, 2, 3];
        let back = v.with_bytes(<[u32; 3]>::decode).unwrap().unwrap();
        assert_eq!(back, v);
        assert!(u64::decode(&[1, 2, 3]).is_err(), "wrong length is an error");
    }

    #[test]
    fn pod_descriptors_carry_the_type_size_and_alignment() {
        let word = u64::descriptor();
        assert_eq!(word.kind, CodecKind::Pod);
        assert_eq!(word.type_name, "u64");
        assert_eq!((word.fixed_size, word.align), (Some(8), 8));
        assert_eq!(word.to_string(), "u64 (pod, 8 bytes, align 8)");

        let triple = <[u32; 3]>::descriptor();
        assert_eq!(triple.type_name, "[u32; 3]");
        assert_eq!((triple.fixed_size, triple.align), (Some(12), 4));
        assert_ne!(triple, <[u8; 12]>::descriptor(), "same size, other type");
        assert_ne!(u64::descriptor(), i64::descriptor());
    }
}
