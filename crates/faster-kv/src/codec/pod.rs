//! The plain-old-data codec: any [`bytemuck::Pod`] type is stored as its own bytes.
//!
//! Values of up to 8 bytes live in one atomic word and are updated in place atomically; larger
//! ones are updated in place under a per-record sequence lock. Bytes are in the machine's
//! order, and the crate refuses to build on big-endian targets, so stored bytes are always
//! little-endian.

use super::{Codec, CodecError, mix64};

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
}
