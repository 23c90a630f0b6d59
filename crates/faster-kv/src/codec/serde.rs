//! The serde codecs: [`Serde<T>`] stores any serde type through postcard.

use super::{Codec, CodecDescriptor, CodecError, CodecKind};

/// A serde type stored through postcard: `FasterKv<str, Serde<MyValue>>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(transparent)]
pub struct Serde<T>(pub T);

impl<T> Codec for Serde<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Owned = Serde<T>;
    const FIXED_SIZE: Option<usize> = None;

    fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R, CodecError> {
        let bytes = postcard::to_allocvec(&self.0).map_err(|e| CodecError {
            what: std::any::type_name::<T>(),
            reason: e.to_string(),
        })?;
        Ok(f(&bytes))
    }

    fn decode(bytes: &[u8]) -> Result<Serde<T>, CodecError> {
        postcard::from_bytes(bytes)
            .map(Serde)
            .map_err(|e| CodecError {
                what: std::any::type_name::<T>(),
                reason: e.to_string(),
            })
    }

    fn descriptor() -> CodecDescriptor {
        CodecDescriptor {
            kind: CodecKind::Postcard,
            type_name: std::any::type_name::<T>(),
            fixed_size: None,
            align: 1,
        }
    }
}

impl<T> From<T> for Serde<T> {
    fn from(value: T) -> Self {
        Serde(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_values_round_trip_and_reject_garbage() {
        let v = Serde((String::from("x"), 7u32, vec![1u8, 2]));
        let back = v
            .with_bytes(Serde::<(String, u32, Vec<u8>)>::decode)
            .unwrap()
            .unwrap();
        assert_eq!(back, v);
        assert!(Serde::<(String, u32)>::decode(&[0xff; 3]).is_err());
    }

    #[test]
    fn serde_descriptors_name_the_wrapped_type() {
        let d = Serde::<Vec<u32>>::descriptor();
        assert_eq!(d.kind, CodecKind::Postcard);
        assert_eq!(d.type_name, std::any::type_name::<Vec<u32>>());
        assert_eq!((d.fixed_size, d.align), (None, 1));
        assert_ne!(d, Serde::<Vec<u64>>::descriptor());
    }
}
